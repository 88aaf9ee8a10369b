//! The Kubernetes API server's validation of a NetworkPolicy (semantics.md §8.1): the
//! rules the OpenAPI schema cannot express.
//!
//! CIDRs are checked the strict way (KEP-4858): besides being parsable, they must have no
//! leading zeros, no IPv4-mapped IPv6 address and no bits set beyond the prefix length.
//! Older API servers only warn about the last three, but netpolc always emits canonical
//! CIDRs, so it holds itself to the strict rules.

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netpolc_ir::backend::{At, Item};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Validates one object the way the API server validates a NetworkPolicy on create.
/// Returns one message per problem, each starting with the field path; empty when valid.
///
/// ```
/// let ok = serde_json::json!({
///     "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
///     "metadata": {"name": "web", "namespace": "shop"},
///     "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
///              "ingress": [{"ports": [{"protocol": "TCP", "port": 80, "endPort": 90}]}]}
/// });
/// assert!(netpolc_k8s::validate(&ok).is_empty());
/// let mut bad = ok.clone();
/// bad["spec"]["ingress"][0]["ports"][0]["endPort"] = 70.into();
/// assert_eq!(netpolc_k8s::validate(&bad),
///            ["spec.ingress[0].ports[0].endPort: must be greater than or equal to `port` (80)"]);
/// ```
pub fn validate(object: &Value) -> Vec<String> {
    let api_version = object.get("apiVersion").and_then(Value::as_str);
    let kind = object.get("kind").and_then(Value::as_str);
    if api_version != Some("networking.k8s.io/v1") || kind != Some("NetworkPolicy") {
        return vec![format!(
            "apiVersion, kind: expected `networking.k8s.io/v1` `NetworkPolicy`, found `{}` `{}`",
            api_version.unwrap_or(""),
            kind.unwrap_or("")
        )];
    }
    let np: NetworkPolicy = match k8s_openapi::serde::Deserialize::deserialize(object) {
        Ok(np) => np,
        Err(e) => {
            return vec![format!(
                "<object>: does not match the NetworkPolicy schema: {e}"
            )]
        }
    };
    policy(&np)
}

/// The API server's rules for a NetworkPolicy that matches the schema (what [`validate`]
/// checks once the object deserialises): the compile checks its typed objects with it,
/// without a trip through JSON.
pub(crate) fn policy(np: &NetworkPolicy) -> Vec<String> {
    let mut v = Errors::default();
    match &np.metadata.name {
        None => v.push("metadata.name", "is required"),
        Some(name) => v.extend("metadata.name", dns1123_subdomain(name)),
    }
    if let Some(ns) = &np.metadata.namespace {
        v.extend("metadata.namespace", dns1123_label(ns));
    }
    if let Some(labels) = &np.metadata.labels {
        labels_map(&mut v, "metadata.labels", labels);
    }
    if let Some(annotations) = &np.metadata.annotations {
        let mut total = 0usize;
        for (k, val) in annotations {
            total += k.len() + val.len();
            v.extend(
                Item("metadata.annotations", k),
                once_valid(&ANNOTATION_KEYS, k, |k| {
                    qualified_name(&k.to_ascii_lowercase())
                }),
            );
        }
        if total > 256 * 1024 {
            v.push(
                "metadata.annotations",
                &format!("total size {total} is more than 262144 bytes"),
            );
        }
    }
    let no_spec = Default::default();
    let spec = np.spec.as_ref().unwrap_or(&no_spec);
    if let Some(s) = &spec.pod_selector {
        selector(&mut v, "spec.podSelector", s);
    }
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        let path = Item("spec.ingress", i);
        for (j, p) in rule.ports.iter().flatten().enumerate() {
            port(&mut v, Item(At(path, "ports"), j), p);
        }
        for (j, p) in rule.from.iter().flatten().enumerate() {
            peer(&mut v, Item(At(path, "from"), j), p);
        }
    }
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        let path = Item("spec.egress", i);
        for (j, p) in rule.ports.iter().flatten().enumerate() {
            port(&mut v, Item(At(path, "ports"), j), p);
        }
        for (j, p) in rule.to.iter().flatten().enumerate() {
            peer(&mut v, Item(At(path, "to"), j), p);
        }
    }
    if let Some(types) = &spec.policy_types {
        if types.len() > 2 {
            v.push(
                "spec.policyTypes",
                "may not specify more than two policyTypes",
            );
        } else {
            for (i, t) in types.iter().enumerate() {
                if t != "Ingress" && t != "Egress" {
                    v.push(
                        Item("spec.policyTypes", i),
                        &format!("unsupported value `{t}`: must be `Ingress` or `Egress`"),
                    );
                }
            }
        }
    }
    v.0
}

/// Collected messages.
#[derive(Default)]
struct Errors(Vec<String>);

impl Errors {
    fn push(&mut self, path: impl std::fmt::Display + Copy, message: &str) {
        self.0.push(format!("{path}: {message}"));
    }

    fn extend(&mut self, path: impl std::fmt::Display + Copy, messages: Vec<String>) {
        for m in messages {
            self.push(path, &m);
        }
    }
}

fn port(v: &mut Errors, path: impl std::fmt::Display + Copy, p: &NetworkPolicyPort) {
    if let Some(proto) = &p.protocol {
        if !matches!(proto.as_str(), "TCP" | "UDP" | "SCTP") {
            v.push(
                At(path, "protocol"),
                &format!("unsupported value `{proto}`: must be `TCP`, `UDP` or `SCTP`"),
            );
        }
    }
    match (&p.port, p.end_port) {
        (Some(IntOrString::Int(n)), end) => {
            v.extend(At(path, "port"), port_number(i64::from(*n)));
            if let Some(e) = end {
                if e < *n {
                    v.push(
                        At(path, "endPort"),
                        &format!("must be greater than or equal to `port` ({n})"),
                    );
                }
                v.extend(At(path, "endPort"), port_number(i64::from(e)));
            }
        }
        (Some(IntOrString::String(name)), end) => {
            if end.is_some() {
                v.push(
                    At(path, "endPort"),
                    "may not be specified when `port` is non-numeric",
                );
            }
            v.extend(At(path, "port"), port_name(name));
        }
        (None, Some(_)) => {
            v.push(
                At(path, "endPort"),
                "may not be specified when `port` is not specified",
            );
        }
        (None, None) => {}
    }
}

fn peer(v: &mut Errors, path: impl std::fmt::Display + Copy, p: &NetworkPolicyPeer) {
    let mut count = 0;
    if let Some(s) = &p.pod_selector {
        count += 1;
        selector(v, At(path, "podSelector"), s);
    }
    if let Some(s) = &p.namespace_selector {
        count += 1;
        selector(v, At(path, "namespaceSelector"), s);
    }
    if let Some(block) = &p.ip_block {
        count += 1;
        let cidr_path = At(At(path, "ipBlock"), "cidr");
        if block.cidr.is_empty() {
            v.push(cidr_path, "is required");
        } else {
            match strict_cidr(&block.cidr) {
                Err(m) => v.push(cidr_path, &m),
                Ok(net) => {
                    for (i, e) in block.except.iter().flatten().enumerate() {
                        let e_path = Item(At(At(path, "ipBlock"), "except"), i);
                        match strict_cidr(e) {
                            Err(m) => v.push(e_path, &m),
                            Ok(hole) => {
                                if !net.contains(&hole.network())
                                    || hole.prefix_len() <= net.prefix_len()
                                {
                                    v.push(
                                        e_path,
                                        &format!(
                                            "`{e}` must be a strict subset of `cidr` (`{}`)",
                                            block.cidr
                                        ),
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    if count == 0 {
        v.push(
            path,
            "must specify a peer (`podSelector`, `namespaceSelector` or `ipBlock`)",
        );
    } else if count > 1 && p.ip_block.is_some() {
        v.push(path, "may not specify both `ipBlock` and another peer");
    }
}

fn selector(v: &mut Errors, path: impl std::fmt::Display + Copy, s: &LabelSelector) {
    if let Some(labels) = &s.match_labels {
        labels_map(v, At(path, "matchLabels"), labels);
    }
    for (i, e) in s.match_expressions.iter().flatten().enumerate() {
        let e_path = Item(At(path, "matchExpressions"), i);
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    v.push(
                        At(e_path, "values"),
                        "must be specified when `operator` is `In` or `NotIn`",
                    );
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    v.push(
                        At(e_path, "values"),
                        "may not be specified when `operator` is `Exists` or `DoesNotExist`",
                    );
                }
            }
            other => v.push(
                At(e_path, "operator"),
                &format!("unsupported value `{other}`: must be `In`, `NotIn`, `Exists` or `DoesNotExist`"),
            ),
        }
        v.extend(
            At(e_path, "key"),
            once_valid(&LABEL_KEYS, &e.key, qualified_name),
        );
        for (j, value) in values.iter().enumerate() {
            v.extend(
                Item(At(e_path, "values"), j),
                once_valid(&LABEL_VALUES, value, label_value),
            );
        }
    }
}

fn labels_map(
    v: &mut Errors,
    path: impl std::fmt::Display + Copy,
    labels: &BTreeMap<String, String>,
) {
    for (k, value) in labels {
        let p = Item(path, k);
        v.extend(p, once_valid(&LABEL_KEYS, k, qualified_name));
        v.extend(p, once_valid(&LABEL_VALUES, value, label_value));
    }
}

/// Strings found valid on this thread, by what they were checked as: the same label
/// keys, label values and annotation keys recur in every object (a namespace's name in
/// every selector of its peers), and a lookup costs less than a check. Only valid ones
/// are kept, so a problem is found (and worded) every time.
type Valid =
    std::cell::RefCell<std::collections::HashSet<Box<str>, netpolc_ir::derive::SeededWords>>;

thread_local! {
    static LABEL_KEYS: Valid = Valid::default();
    static LABEL_VALUES: Valid = Valid::default();
    static ANNOTATION_KEYS: Valid = Valid::default();
}

/// `check(s)`, the problems of `s`, or none at once when `s` was found valid by `check`
/// on this thread before (`valid` is kept for that one check).
fn once_valid(
    valid: &'static std::thread::LocalKey<Valid>,
    s: &str,
    check: impl FnOnce(&str) -> Vec<String>,
) -> Vec<String> {
    valid.with(|valid| {
        if valid.borrow().contains(s) {
            return Vec::new();
        }
        let problems = check(s);
        if problems.is_empty() {
            valid.borrow_mut().insert(s.into());
        }
        problems
    })
}

use netpolc_ir::names::{is_label_form, is_qualified_name_part};

/// A label key or annotation key: `[prefix/]name`.
pub(crate) fn qualified_name(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    // At most one `/` (no list of parts: this runs for every label key of every object).
    let name = match key.split_once('/') {
        None => key,
        Some((prefix, name)) if !name.contains('/') => {
            if prefix.is_empty() {
                out.push(format!("`{key}`: prefix part must be non-empty"));
            } else {
                for m in dns1123_subdomain(prefix) {
                    out.push(format!("`{key}`: prefix part {m}"));
                }
            }
            name
        }
        _ => {
            out.push(format!(
                "`{key}`: a qualified name has at most one `/` (an optional DNS subdomain prefix and a name)"
            ));
            return out;
        }
    };
    if name.is_empty() {
        out.push(format!("`{key}`: name part must be non-empty"));
    } else {
        if name.len() > 63 {
            out.push(format!(
                "`{key}`: name part must be no more than 63 characters"
            ));
        }
        if !is_qualified_name_part(name) {
            out.push(format!(
                "`{key}`: name part must consist of alphanumeric characters, `-`, `_` or `.`, \
                 and must start and end with an alphanumeric character"
            ));
        }
    }
    out
}

/// A label value: empty, or at most 63 characters of the qualified-name charset.
pub(crate) fn label_value(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > 63 {
        out.push(format!(
            "label value `{value}` must be no more than 63 characters"
        ));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        out.push(format!(
            "label value `{value}` must be empty or consist of alphanumeric characters, `-`, `_` \
             or `.`, and must start and end with an alphanumeric character"
        ));
    }
    out
}

/// A DNS-1123 label: at most 63 characters of `[a-z0-9-]`, alphanumeric at both ends.
pub(crate) fn dns1123_label(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push(format!("`{s}` must be no more than 63 characters"));
    }
    if !is_label_form(s) {
        out.push(format!(
            "`{s}` must be a DNS-1123 label: lower-case alphanumeric characters or `-`, \
             starting and ending with an alphanumeric character"
        ));
    }
    out
}

/// A DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels.
pub(crate) fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 253 {
        out.push(format!("`{s}` must be no more than 253 characters"));
    }
    if !s.split('.').all(is_label_form) {
        out.push(format!(
            "`{s}` must be a DNS-1123 subdomain: lower-case alphanumeric characters, `-` or `.`, \
             starting and ending with an alphanumeric character"
        ));
    }
    out
}

fn port_number(n: i64) -> Vec<String> {
    if (1..=65535).contains(&n) {
        Vec::new()
    } else {
        vec![format!("`{n}` must be between 1 and 65535, inclusive")]
    }
}

/// An IANA service name (a named container port).
pub(crate) fn port_name(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if name.len() > 15 {
        out.push(format!(
            "port name `{name}` must be no more than 15 characters"
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        out.push(format!(
            "port name `{name}` must contain only alphanumeric characters (a-z, 0-9) and `-`"
        ));
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        out.push(format!(
            "port name `{name}` must contain at least one letter (a-z)"
        ));
    }
    if name.contains("--") {
        out.push(format!(
            "port name `{name}` must not contain consecutive hyphens"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        out.push(format!(
            "port name `{name}` must not begin or end with a hyphen"
        ));
    }
    out
}

/// Parses a CIDR the strict way, or says why it is not acceptable.
pub(crate) fn strict_cidr(text: &str) -> Result<ipnet::IpNet, String> {
    let invalid = || format!("invalid CIDR `{text}`");
    let (addr, bits) = text.split_once('/').ok_or_else(invalid)?;
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    if bits.len() > 1 && bits.starts_with('0') {
        return Err(format!(
            "CIDR `{text}`: the prefix length must not have leading zeros"
        ));
    }
    if !addr.contains(':')
        && addr
            .split('.')
            .any(|octet| octet.len() > 1 && octet.starts_with('0'))
    {
        return Err(format!(
            "CIDR `{text}`: IPv4 octets must not have leading zeros"
        ));
    }
    let ip: IpAddr = addr.parse().map_err(|_| invalid())?;
    let len: u8 = bits.parse().map_err(|_| invalid())?;
    if let IpAddr::V6(v6) = ip {
        if netpolc_ir::addr::v4_mapped(&v6) {
            return Err(format!(
                "CIDR `{text}` must not be an IPv4-mapped IPv6 address"
            ));
        }
    }
    let net = ipnet::IpNet::new(ip, len).map_err(|_| invalid())?;
    if net.trunc() != net {
        return Err(format!(
            "CIDR `{text}` must not have bits set beyond the prefix length (use `{}`)",
            net.trunc()
        ));
    }
    Ok(net)
}
