//! Validation of Cilium manifests beyond what the API server checks (semantics.md §8.3).
//!
//! The API server checks only the CRD schema, and invalid policies are accepted and then
//! skipped by every agent, so these checks are the only place such mistakes surface
//! before traffic breaks. Each message starts with the field path.
//!
//! Problems are of two kinds: *invalid* (the API server or the agent rejects the object,
//! so nothing of it is enforced) and *unknown field* (the API server drops the field, or
//! refuses the object under strict field validation). The evaluator skips objects with
//! invalid problems, as the agents do.

use crate::render::MAX_PORTS;
use crate::types::{KIND_CCNP, KIND_CNP};
use ipnet::IpNet;
use netpolc_ir::backend::{At, Item, Tree};
use std::net::IpAddr;

/// Validates one `cilium.io/v2` CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy
/// against the API server's schema limits and the agent's rules; returns one message per
/// problem, each starting with the field path. An empty result means the object is valid.
/// The object may be any [`Tree`]: a JSON tree, or the document an emitted text reads
/// back as (which the pipeline validates without making a tree).
///
/// ```
/// let cnp = serde_json::json!({
///     "apiVersion": "cilium.io/v2",
///     "kind": "CiliumNetworkPolicy",
///     "metadata": {"name": "x", "namespace": "ns"},
///     "spec": {"endpointSelector": {}, "egress": [
///         {"toEndpoints": [{}], "toCIDR": ["10.0.0.0/8"]}
///     ]}
/// });
/// let problems = netpolc_cilium::validate(&cnp);
/// assert_eq!(problems.len(), 1);
/// assert!(problems[0].starts_with("spec.egress[0]: "));
/// ```
pub fn validate<T: Tree>(object: &T) -> Vec<String> {
    problems(object).into_iter().map(|p| p.message).collect()
}

/// One problem found by [`problems`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Whether the object is rejected (by the API server or the agents) because of it.
    pub(crate) invalid: bool,
    /// `path: what is wrong`.
    pub(crate) message: String,
}

/// Every problem of an object, in document order.
pub(crate) fn problems<T: Tree>(object: &T) -> Vec<Problem> {
    let mut v = Validator::default();
    v.object(object);
    v.out
}

#[derive(Default)]
struct Validator {
    out: Vec<Problem>,
}

/// Where a rule item sits (also read by `plain`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Ingress,
    IngressDeny,
    Egress,
    EgressDeny,
}

impl Section {
    pub(crate) fn is_ingress(self) -> bool {
        matches!(self, Section::Ingress | Section::IngressDeny)
    }

    pub(crate) fn is_deny(self) -> bool {
        matches!(self, Section::IngressDeny | Section::EgressDeny)
    }

    /// The rule's field that lists the items of this section.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Section::Ingress => "ingress",
            Section::IngressDeny => "ingressDeny",
            Section::Egress => "egress",
            Section::EgressDeny => "egressDeny",
        }
    }

    /// The CRD's properties of a rule item in this section.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Section::Ingress => &[
                "authentication",
                "fromCIDR",
                "fromCIDRSet",
                "fromEndpoints",
                "fromEntities",
                "fromGroups",
                "fromNodes",
                "fromRequires",
                "icmps",
                "toPorts",
            ],
            Section::IngressDeny => &[
                "fromCIDR",
                "fromCIDRSet",
                "fromEndpoints",
                "fromEntities",
                "fromGroups",
                "fromNodes",
                "fromRequires",
                "icmps",
                "toPorts",
            ],
            Section::Egress => &[
                "authentication",
                "icmps",
                "toCIDR",
                "toCIDRSet",
                "toEndpoints",
                "toEntities",
                "toFQDNs",
                "toGroups",
                "toNodes",
                "toPorts",
                "toRequires",
                "toServices",
            ],
            Section::EgressDeny => &[
                "icmps",
                "toCIDR",
                "toCIDRSet",
                "toEndpoints",
                "toEntities",
                "toGroups",
                "toNodes",
                "toPorts",
                "toRequires",
                "toServices",
            ],
        }
    }

    /// The peer (L3) fields of this section; a rule item may use at most one.
    fn l3_fields(self) -> &'static [&'static str] {
        if self.is_ingress() {
            &[
                "fromEndpoints",
                "fromCIDR",
                "fromCIDRSet",
                "fromEntities",
                "fromNodes",
                "fromGroups",
            ]
        } else {
            &[
                "toEndpoints",
                "toCIDR",
                "toCIDRSet",
                "toEntities",
                "toServices",
                "toFQDNs",
                "toGroups",
                "toNodes",
            ]
        }
    }
}

/// The entities of the CRD enum.
pub(crate) const ENTITIES: &[&str] = &[
    "all",
    "world",
    "cluster",
    "host",
    "init",
    "ingress",
    "unmanaged",
    "remote-node",
    "health",
    "none",
    "kube-apiserver",
];

impl Validator {
    fn invalid(&mut self, path: impl std::fmt::Display + Copy, message: impl std::fmt::Display) {
        self.out.push(Problem {
            invalid: true,
            message: format!("{path}: {message}"),
        });
    }

    /// Every key of `map` (a mapping, as [`Self::map`] found it) not among `known`.
    fn known_fields<T: Tree>(
        &mut self,
        path: impl std::fmt::Display + Copy,
        map: &T,
        known: &[&str],
    ) {
        for (key, _) in map.entries().into_iter().flatten() {
            if !known.contains(&key) {
                self.out.push(Problem {
                    invalid: false,
                    message: format!(
                        "{path}: unknown field `{key}` (the API server drops it, or refuses \
                         the object under strict field validation)"
                    ),
                });
            }
        }
    }

    /// `v` when it is a mapping; else a problem.
    fn map<'v, T: Tree>(&mut self, path: impl std::fmt::Display + Copy, v: &'v T) -> Option<&'v T> {
        if v.is_object() {
            Some(v)
        } else {
            self.invalid(path, "expected a mapping");
            None
        }
    }

    /// A list field; absent is fine, anything else must be a list.
    fn list<'v, T: Tree>(
        &mut self,
        path: impl std::fmt::Display + Copy,
        map: &'v T,
        key: &str,
    ) -> &'v [T] {
        match map.field(key) {
            None => &[],
            Some(v) if v.is_null() => &[],
            Some(v) => match v.as_array() {
                Some(items) => items,
                None => {
                    self.invalid(At(path, key), "expected a list");
                    &[]
                }
            },
        }
    }

    fn object<T: Tree>(&mut self, object: &T) {
        let Some(obj) = self.map("object", object) else {
            return;
        };
        self.known_fields(
            "object",
            obj,
            &["apiVersion", "kind", "metadata", "spec", "specs", "status"],
        );
        if obj.field("apiVersion").and_then(Tree::as_str) != Some("cilium.io/v2") {
            self.invalid("apiVersion", "expected `cilium.io/v2`");
        }
        let kind = obj.field("kind").and_then(Tree::as_str).unwrap_or("");
        if kind != KIND_CNP && kind != KIND_CCNP {
            self.invalid(
                "kind",
                format!("expected `{KIND_CNP}` or `{KIND_CCNP}`, found `{kind}`"),
            );
            return;
        }
        let is_cnp = kind == KIND_CNP;
        match obj.field("metadata") {
            Some(m) => {
                if let Some(m) = self.map("metadata", m) {
                    match m.field("name").and_then(Tree::as_str) {
                        Some(name) if is_dns_subdomain(name) => {}
                        Some(name) => self.invalid(
                            "metadata.name",
                            format!("`{name}` is not a DNS-1123 subdomain"),
                        ),
                        None => self.invalid("metadata.name", "required"),
                    }
                }
            }
            None => self.invalid("metadata", "required"),
        }
        let spec = obj.field("spec").filter(|v| !v.is_null());
        let specs = obj.field("specs").filter(|v| !v.is_null());
        if spec.is_none() && specs.is_none() {
            self.invalid("spec", "a policy needs `spec` or `specs`");
        }
        if let Some(spec) = spec {
            self.rule("spec", spec, is_cnp);
        }
        if let Some(specs) = specs {
            match specs.as_array() {
                Some(items) => {
                    if items.is_empty() && spec.is_none() {
                        self.invalid("specs", "a policy needs at least one rule");
                    }
                    for (i, r) in items.iter().enumerate() {
                        self.rule(Item("specs", i), r, is_cnp);
                    }
                }
                None => self.invalid("specs", "expected a list"),
            }
        }
    }

    fn rule<T: Tree>(&mut self, path: impl std::fmt::Display + Copy, rule: &T, is_cnp: bool) {
        let Some(r) = self.map(path, rule) else {
            return;
        };
        self.known_fields(
            path,
            r,
            &[
                "egress",
                "egressDeny",
                "enableDefaultDeny",
                "endpointSelector",
                "ingress",
                "ingressDeny",
                "labels",
                "log",
                "nodeSelector",
            ],
        );
        let endpoints = r.field("endpointSelector").filter(|v| !v.is_null());
        let nodes = r.field("nodeSelector").filter(|v| !v.is_null());
        match (endpoints, nodes) {
            (None, None) => self.invalid(
                path,
                "exactly one of `endpointSelector` and `nodeSelector` is required",
            ),
            (Some(_), Some(_)) => self.invalid(
                path,
                "`endpointSelector` and `nodeSelector` cannot both be set",
            ),
            _ => {}
        }
        if let Some(s) = endpoints {
            self.selector(At(path, "endpointSelector"), s);
        }
        if let Some(s) = nodes {
            if is_cnp {
                self.invalid(
                    At(path, "nodeSelector"),
                    "a CiliumNetworkPolicy cannot select nodes",
                );
            }
            self.selector(At(path, "nodeSelector"), s);
        }
        if let Some(dd) = r.field("enableDefaultDeny") {
            let p = At(path, "enableDefaultDeny");
            if let Some(m) = self.map(p, dd) {
                self.known_fields(p, m, &["ingress", "egress"]);
                for (k, v) in m.entries().into_iter().flatten() {
                    if v.as_bool().is_none() {
                        self.invalid(At(p, k), "expected true or false");
                    }
                }
            }
        }
        if !["ingress", "ingressDeny", "egress", "egressDeny"]
            .iter()
            .any(|k| r.field(k).is_some())
        {
            self.invalid(
                path,
                "a rule needs at least one of `ingress`, `ingressDeny`, `egress`, `egressDeny`",
            );
        } else if ["ingress", "ingressDeny", "egress", "egressDeny"]
            .iter()
            .all(|k| {
                r.field(k)
                    .and_then(Tree::as_array)
                    .is_none_or(<[T]>::is_empty)
            })
        {
            self.invalid(
                path,
                "every rule list is empty: the agent rejects a rule with nothing in \
                 `ingress`, `ingressDeny`, `egress` and `egressDeny`",
            );
        }
        let host = nodes.is_some();
        for (key, section) in [
            ("ingress", Section::Ingress),
            ("ingressDeny", Section::IngressDeny),
            ("egress", Section::Egress),
            ("egressDeny", Section::EgressDeny),
        ] {
            for (i, item) in self.list(path, r, key).iter().enumerate() {
                self.item(Item(At(path, key), i), item, section, host);
            }
        }
    }

    fn selector<T: Tree>(&mut self, path: impl std::fmt::Display + Copy, sel: &T) {
        let Some(m) = self.map(path, sel) else {
            return;
        };
        self.known_fields(path, m, &["matchLabels", "matchExpressions"]);
        if let Some(labels) = m.field("matchLabels") {
            let p = At(path, "matchLabels");
            if let Some(labels) = self.map(p, labels) {
                for (k, v) in labels.entries().into_iter().flatten() {
                    if k.is_empty() {
                        self.invalid(p, "empty label key");
                    }
                    match v.as_str() {
                        Some(v) if is_label_value(v) => {}
                        Some(v) => {
                            self.invalid(At(p, k), format!("`{v}` is not a valid label value"))
                        }
                        None => self.invalid(At(p, k), "expected a string"),
                    }
                }
            }
        }
        for (i, e) in self.list(path, m, "matchExpressions").iter().enumerate() {
            let p = Item(At(path, "matchExpressions"), i);
            let Some(e) = self.map(p, e) else { continue };
            self.known_fields(p, e, &["key", "operator", "values"]);
            if e.field("key")
                .and_then(Tree::as_str)
                .is_none_or(str::is_empty)
            {
                self.invalid(At(p, "key"), "required");
            }
            let values = e.field("values").and_then(Tree::as_array);
            let n = values.map_or(0, <[T]>::len);
            if values.is_some_and(|vs| vs.iter().any(|v| !v.is_string())) {
                self.invalid(At(p, "values"), "expected strings");
            }
            match e.field("operator").and_then(Tree::as_str) {
                Some("In" | "NotIn") if n == 0 => {
                    self.invalid(At(p, "values"), "`In` and `NotIn` need values")
                }
                Some("Exists" | "DoesNotExist") if n > 0 => self.invalid(
                    At(p, "values"),
                    "`Exists` and `DoesNotExist` take no values",
                ),
                Some("In" | "NotIn" | "Exists" | "DoesNotExist") => {}
                _ => self.invalid(
                    At(p, "operator"),
                    "expected `In`, `NotIn`, `Exists` or `DoesNotExist`",
                ),
            }
        }
    }

    fn item<T: Tree>(
        &mut self,
        path: impl std::fmt::Display + Copy,
        item: &T,
        section: Section,
        host: bool,
    ) {
        let Some(m) = self.map(path, item) else {
            return;
        };
        self.known_fields(path, m, section.fields());
        let non_empty = |k: &str| {
            m.field(k)
                .and_then(Tree::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        let l3 = || section.l3_fields().iter().copied().filter(|k| non_empty(k));
        // Listed only when there are several (nearly every item has one).
        if l3().nth(1).is_some() {
            let l3: Vec<&str> = l3().collect();
            self.invalid(
                path,
                format!(
                    "combining `{}` is not supported: use one peer kind per rule",
                    l3.join("` and `")
                ),
            );
        }
        for k in ["fromRequires", "toRequires"] {
            if non_empty(k) {
                self.invalid(
                    At(path, k),
                    "must be empty (the schema allows no items; removed in Cilium 1.19)",
                );
            }
        }
        for k in ["fromNodes", "toNodes"] {
            if non_empty(k) {
                self.invalid(
                    At(path, k),
                    "needs the agent option `enable-node-selector-labels` (off by default)",
                );
            }
        }
        if non_empty("icmps") && non_empty("toPorts") {
            self.invalid(
                path,
                "`icmps` cannot be combined with `toPorts`: use a separate rule",
            );
        }
        if non_empty("toServices") && non_empty("toPorts") {
            self.invalid(
                path,
                "combining `toServices` and `toPorts` is not supported",
            );
        }
        for key in ["fromEndpoints", "toEndpoints"] {
            for (i, s) in self.list(path, m, key).iter().enumerate() {
                self.selector(Item(At(path, key), i), s);
            }
        }
        for key in ["fromCIDR", "toCIDR"] {
            for (i, c) in self.list(path, m, key).iter().enumerate() {
                let p = Item(At(path, key), i);
                match c.as_str() {
                    Some(s) if parse_cidr_or_ip(s).is_some() => {}
                    _ => self.invalid(p, "expected a CIDR or an IP address"),
                }
            }
        }
        for key in ["fromCIDRSet", "toCIDRSet"] {
            for (i, c) in self.list(path, m, key).iter().enumerate() {
                self.cidr_rule(Item(At(path, key), i), c);
            }
        }
        for key in ["fromEntities", "toEntities"] {
            for (i, e) in self.list(path, m, key).iter().enumerate() {
                if !e.as_str().is_some_and(|e| ENTITIES.contains(&e)) {
                    self.invalid(
                        Item(At(path, key), i),
                        format!("unknown entity {}", e.value()),
                    );
                }
            }
        }
        for (i, f) in self.list(path, m, "toFQDNs").iter().enumerate() {
            self.fqdn(Item(At(path, "toFQDNs"), i), f);
        }
        for (i, pr) in self.list(path, m, "toPorts").iter().enumerate() {
            self.port_rule(Item(At(path, "toPorts"), i), pr, section, host);
        }
        for (i, icmp) in self.list(path, m, "icmps").iter().enumerate() {
            self.icmp_rule(Item(At(path, "icmps"), i), icmp);
        }
    }

    fn cidr_rule<T: Tree>(&mut self, path: impl std::fmt::Display + Copy, v: &T) {
        let Some(m) = self.map(path, v) else { return };
        self.known_fields(
            path,
            m,
            &["cidr", "cidrGroupRef", "cidrGroupSelector", "except"],
        );
        let kinds = ["cidr", "cidrGroupRef", "cidrGroupSelector"]
            .iter()
            .filter(|k| m.field(k).is_some_and(|v| !v.is_null()))
            .count();
        if kinds != 1 {
            self.invalid(
                path,
                "exactly one of `cidr`, `cidrGroupRef` and `cidrGroupSelector` is required",
            );
        }
        let Some(cidr) = m.field("cidr").filter(|v| !v.is_null()) else {
            return;
        };
        let Some(net) = cidr.as_str().and_then(parse_prefix) else {
            self.invalid(At(path, "cidr"), "expected a CIDR such as `192.0.2.0/24`");
            return;
        };
        for (i, e) in self.list(path, m, "except").iter().enumerate() {
            let p = Item(At(path, "except"), i);
            match e.as_str().and_then(parse_prefix) {
                Some(ex) if net.contains(&ex.addr()) => {}
                Some(ex) => self.invalid(p, format!("`{ex}` is not inside `{net}`")),
                None => self.invalid(p, "expected a CIDR"),
            }
        }
    }

    fn fqdn<T: Tree>(&mut self, path: impl std::fmt::Display + Copy, v: &T) {
        let Some(m) = self.map(path, v) else { return };
        self.known_fields(path, m, &["matchName", "matchPattern"]);
        let name = m.field("matchName").and_then(Tree::as_str);
        let pattern = m.field("matchPattern").and_then(Tree::as_str);
        match (name, pattern) {
            (Some(n), None) if fqdn_valid(n, false) => {}
            (None, Some(p)) if fqdn_valid(p, true) => {}
            (Some(n), None) => self.invalid(
                At(path, "matchName"),
                format!("`{n}` is not a valid DNS name"),
            ),
            (None, Some(p)) => self.invalid(
                At(path, "matchPattern"),
                format!("`{p}` is not a valid DNS pattern"),
            ),
            _ => self.invalid(
                path,
                "exactly one of `matchName` and `matchPattern` is required",
            ),
        }
    }

    fn port_rule<T: Tree>(
        &mut self,
        path: impl std::fmt::Display + Copy,
        v: &T,
        section: Section,
        host: bool,
    ) {
        let Some(m) = self.map(path, v) else { return };
        if section.is_deny() {
            self.known_fields(path, m, &["ports"]);
        } else {
            self.known_fields(
                path,
                m,
                &[
                    "listener",
                    "originatingTLS",
                    "ports",
                    "rules",
                    "serverNames",
                    "terminatingTLS",
                ],
            );
        }
        let ports = self.list(path, m, "ports");
        if ports.len() > MAX_PORTS {
            self.invalid(
                At(path, "ports"),
                format!(
                    "{} ports, at most {MAX_PORTS} per `toPorts` item",
                    ports.len()
                ),
            );
        }
        // The L7 rule kinds present.
        let rules = if section.is_deny() {
            None
        } else {
            m.field("rules").filter(|v| !v.is_null())
        };
        let mut l7: Vec<&str> = Vec::new();
        if let Some(rules) = rules {
            let p = At(path, "rules");
            if let Some(r) = self.map(p, rules) {
                self.known_fields(p, r, &["dns", "http", "kafka", "l7", "l7proto"]);
                for k in ["http", "kafka", "dns", "l7proto"] {
                    if r.field(k).is_some_and(|v| !v.is_null()) {
                        l7.push(k);
                    }
                }
                if l7.len() > 1 {
                    self.invalid(p, "only one L7 protocol per `toPorts` item");
                }
                if r.field("l7").is_some() && r.field("l7proto").is_none() {
                    self.invalid(At(p, "l7"), "needs `l7proto`");
                }
                for (i, h) in self.list(p, r, "http").iter().enumerate() {
                    let hp = Item(At(p, "http"), i);
                    if let Some(h) = self.map(hp, h) {
                        self.known_fields(
                            hp,
                            h,
                            &["headerMatches", "headers", "host", "method", "path"],
                        );
                    }
                }
                for (i, f) in self.list(p, r, "dns").iter().enumerate() {
                    self.fqdn(Item(At(p, "dns"), i), f);
                }
            }
        }
        let dns = l7.contains(&"dns");
        if dns && section.is_ingress() {
            self.invalid(At(At(path, "rules"), "dns"), "DNS rules are egress only");
        }
        if !l7.is_empty() && host {
            self.invalid(At(path, "rules"), "host policies take no L7 rules");
        }
        if dns && ports.is_empty() {
            self.invalid(At(path, "ports"), "DNS rules need port 53");
        }
        for (i, port) in ports.iter().enumerate() {
            let p = Item(At(path, "ports"), i);
            let Some(pp) = self.map(p, port) else {
                continue;
            };
            self.known_fields(p, pp, &["port", "endPort", "protocol"]);
            let value = match pp.field("port").and_then(Tree::as_str) {
                None | Some("") => {
                    self.invalid(At(p, "port"), "required");
                    None
                }
                Some(s) => match parse_port(s) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        self.invalid(At(p, "port"), e);
                        None
                    }
                },
            };
            let end = match pp.field("endPort").filter(|v| !v.is_null()) {
                None => None,
                Some(e) => match e.as_i64().filter(|e| (0..=65535).contains(e)) {
                    Some(e) => Some(e),
                    None => {
                        self.invalid(At(p, "endPort"), "expected a number 0–65535");
                        None
                    }
                },
            };
            let protocol = match pp.field("protocol").filter(|v| !v.is_null()) {
                None => "ANY",
                Some(v) => match v.as_str() {
                    Some(s @ ("TCP" | "UDP" | "SCTP" | "VRRP" | "IGMP" | "ANY")) => s,
                    _ => {
                        self.invalid(
                            At(p, "protocol"),
                            "expected `TCP`, `UDP`, `SCTP`, `VRRP`, `IGMP` or `ANY`",
                        );
                        "ANY"
                    }
                },
            };
            if l7.is_empty() {
                continue;
            }
            if value == Some(PortValue::Number(0)) {
                self.invalid(At(p, "port"), "L7 rules cannot apply to port 0");
            }
            if dns {
                if value != Some(PortValue::Number(53)) {
                    self.invalid(At(p, "port"), "DNS rules need port 53");
                }
                if end.is_some_and(|e| e > 53) {
                    self.invalid(At(p, "endPort"), "DNS rules take no port ranges");
                }
            } else if protocol != "TCP" {
                self.invalid(
                    At(p, "protocol"),
                    format!("L7 rules apply to TCP only, not `{protocol}`"),
                );
            }
        }
    }

    fn icmp_rule<T: Tree>(&mut self, path: impl std::fmt::Display + Copy, v: &T) {
        let Some(m) = self.map(path, v) else { return };
        self.known_fields(path, m, &["fields"]);
        let fields = self.list(path, m, "fields");
        if fields.len() > MAX_PORTS {
            self.invalid(
                At(path, "fields"),
                format!(
                    "{} types, at most {MAX_PORTS} per `icmps` item",
                    fields.len()
                ),
            );
        }
        for (i, f) in fields.iter().enumerate() {
            let p = Item(At(path, "fields"), i);
            let Some(f) = self.map(p, f) else { continue };
            self.known_fields(p, f, &["family", "type"]);
            match f.field("family") {
                None => {}
                Some(v) if v.is_null() => {}
                Some(v) if matches!(v.as_str(), Some("IPv4" | "IPv6")) => {}
                Some(_) => self.invalid(At(p, "family"), "expected `IPv4` or `IPv6`"),
            }
            let ty = f.field("type");
            let number = ty.and_then(Tree::as_number);
            let name = ty.and_then(Tree::as_str);
            match (number, name) {
                (Some(n), _) if n.as_u64().is_some_and(|n| n <= 255) => {}
                (_, Some(s)) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()) => {}
                _ => self.invalid(At(p, "type"), "expected an ICMP type 0–255 or name"),
            }
        }
    }
}

/// A port of a `toPorts` entry, as the agent reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PortValue {
    /// A number; 0 means every port.
    Number(u16),
    /// A port name, lower-cased.
    Name(String),
}

/// Whether a string is an IANA service name (Cilium's test for a port name): 1–15
/// letters, digits and single inner hyphens, with at least one letter.
fn is_svc_name(s: &str) -> bool {
    (1..=15).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Parses a port the way the agent does: a service name (lower-cased), else an
/// unsigned 16-bit number (a leading `0` means octal, as in Go's base-0 parsing).
pub(crate) fn parse_port(s: &str) -> Result<PortValue, String> {
    if is_svc_name(s) {
        return Ok(PortValue::Name(s.to_ascii_lowercase()));
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{s}` is neither a port number nor a port name"));
    }
    let radix = if s.len() > 1 && s.starts_with('0') {
        8
    } else {
        10
    };
    u16::from_str_radix(s, radix)
        .map(PortValue::Number)
        .map_err(|_| format!("`{s}` is not a port number 0–65535"))
}

/// A CIDR in `address/length` form.
pub(crate) fn parse_prefix(s: &str) -> Option<IpNet> {
    s.parse().ok()
}

/// A CIDR, or a bare address meaning a single host.
pub(crate) fn parse_cidr_or_ip(s: &str) -> Option<IpNet> {
    parse_prefix(s).or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Whether a DNS name (or, with `pattern`, a pattern with `*`) fits Cilium's schema:
/// `^([-a-zA-Z0-9_]+[.]?)+$` (patterns also allow `*`), at most 255 characters.
pub(crate) fn fqdn_valid(s: &str, pattern: bool) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || (pattern && c == '*');
    !s.is_empty()
        && s.len() <= 255
        && !s.starts_with('.')
        && !s.contains("..")
        && s.chars().all(|c| c == '.' || ok(c))
}

use netpolc_ir::names::{is_dns_subdomain, is_label_value};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn cnp(spec: Value) -> Value {
        json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNetworkPolicy",
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": spec,
        })
    }

    /// The messages of `v`, which its document's validation gives too (every case of
    /// these tests holds the two readings of one validation alike).
    fn messages(v: &Value) -> Vec<String> {
        let found = validate(v);
        let doc = netpolc_ir::backend::Doc::of_value(v);
        assert_eq!(validate(&doc), found, "{v}");
        assert_eq!(problems(&doc), problems(v), "{v}");
        found
    }

    #[test]
    fn valid_policies_are_clean() {
        let v = cnp(json!({
            "endpointSelector": {"matchLabels": {"k8s:app": "a"}},
            "egress": [
                {"toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system"}}],
                 "toPorts": [{"ports": [{"port": "53", "protocol": "UDP"}],
                              "rules": {"dns": [{"matchPattern": "*"}]}}]},
                {"toFQDNs": [{"matchName": "example.com"}],
                 "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]},
                {"toCIDRSet": [{"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}]},
                {"icmps": [{"fields": [{"type": 8, "family": "IPv4"}]}]},
            ],
            "ingress": [{"fromEntities": ["kube-apiserver"],
                         "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}],
                                      "rules": {"http": [{"method": "GET", "path": "/"}]}}]}],
        }));
        assert_eq!(messages(&v), Vec::<String>::new());
    }

    #[test]
    fn agent_rules_are_checked() {
        let cases = [
            (
                json!({"endpointSelector": {}, "egress": []}),
                "spec: every rule list is empty",
            ),
            (
                json!({"endpointSelector": {}}),
                "spec: a rule needs at least one",
            ),
            (
                json!({"egress": [{}]}),
                "spec: exactly one of `endpointSelector`",
            ),
            (
                json!({"nodeSelector": {}, "egress": [{}]}),
                "spec.nodeSelector: a CiliumNetworkPolicy",
            ),
            (
                json!({"endpointSelector": {}, "egress": [{"toEndpoints": [{}], "toEntities": ["world"]}]}),
                "spec.egress[0]: combining `toEndpoints` and `toEntities`",
            ),
            (
                json!({"endpointSelector": {}, "egress": [{"icmps": [{"fields": [{"type": 8}]}],
                    "toPorts": [{"ports": [{"port": "80"}]}]}]}),
                "spec.egress[0]: `icmps` cannot be combined",
            ),
            (
                json!({"endpointSelector": {}, "ingress": [{"toPorts": [{"ports": [{"port": "53", "protocol": "UDP"}],
                    "rules": {"dns": [{"matchPattern": "*"}]}}]}]}),
                "spec.ingress[0].toPorts[0].rules.dns: DNS rules are egress only",
            ),
            (
                json!({"endpointSelector": {}, "egress": [{"toPorts": [{"ports": [{"port": "54", "protocol": "UDP"}],
                    "rules": {"dns": [{"matchPattern": "*"}]}}]}]}),
                "spec.egress[0].toPorts[0].ports[0].port: DNS rules need port 53",
            ),
            (
                json!({"endpointSelector": {}, "egress": [{"toPorts": [{"ports": [{"port": "53", "endPort": 60, "protocol": "UDP"}],
                    "rules": {"dns": [{"matchPattern": "*"}]}}]}]}),
                "spec.egress[0].toPorts[0].ports[0].endPort: DNS rules take no port ranges",
            ),
            (
                json!({"endpointSelector": {}, "egress": [{"toPorts": [{"ports": [{"port": "80", "protocol": "UDP"}],
                    "rules": {"http": [{}]}}]}]}),
                "spec.egress[0].toPorts[0].ports[0].protocol: L7 rules apply to TCP only",
            ),
            (
                json!({"endpointSelector": {}, "egress": [{"toPorts": [{"ports": [{"port": "0", "protocol": "TCP"}],
                    "rules": {"http": [{}]}}]}]}),
                "spec.egress[0].toPorts[0].ports[0].port: L7 rules cannot apply to port 0",
            ),
            (
                json!({"endpointSelector": {}, "egress": [{"toCIDRSet": [{"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}]}]}),
                "spec.egress[0].toCIDRSet[0].except[0]: `11.0.0.0/16` is not inside",
            ),
            (
                json!({"endpointSelector": {}, "egress": [{"toCIDRSet": [{"cidr": "10.0.0.0/8", "cidrGroupRef": "x"}]}]}),
                "spec.egress[0].toCIDRSet[0]: exactly one of `cidr`",
            ),
            (
                json!({"endpointSelector": {}, "egress": [{"toPorts": [{"ports": [{"port": "http--x"}]}]}]}),
                "spec.egress[0].toPorts[0].ports[0].port: `http--x` is neither",
            ),
            (
                json!({"endpointSelector": {}, "egress": [{"toPorts": [{"ports": [{"port": "70000"}]}]}]}),
                "spec.egress[0].toPorts[0].ports[0].port: `70000` is not a port number",
            ),
            (
                json!({"endpointSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}, "egress": [{}]}),
                "spec.endpointSelector.matchExpressions[0].values: `In` and `NotIn` need values",
            ),
            (
                json!({"endpointSelector": {}, "egressDeny": [{"toFQDNs": [{"matchName": "a.com"}]}]}),
                "spec.egressDeny[0]: unknown field `toFQDNs`",
            ),
            (
                json!({"endpointSelector": {}, "egress": [{"toEntities": ["everything"]}]}),
                "spec.egress[0].toEntities[0]: unknown entity",
            ),
        ];
        for (spec, expected) in cases {
            let m = messages(&cnp(spec.clone()));
            assert!(
                m.iter().any(|m| m.starts_with(expected)),
                "{spec}: expected `{expected}`, got {m:?}"
            );
        }
        let ports: Vec<Value> = (1..=41).map(|p| json!({"port": p.to_string()})).collect();
        let m = messages(&cnp(
            json!({"endpointSelector": {}, "egress": [{"toPorts": [{"ports": ports}]}]}),
        ));
        assert!(
            m.iter()
                .any(|m| m.starts_with("spec.egress[0].toPorts[0].ports: 41 ports")),
            "{m:?}"
        );
    }

    #[test]
    fn ports_parse_like_the_agent() {
        assert_eq!(parse_port("80"), Ok(PortValue::Number(80)));
        assert_eq!(parse_port("0"), Ok(PortValue::Number(0)));
        assert_eq!(parse_port("010"), Ok(PortValue::Number(8)));
        assert_eq!(parse_port("HTTP"), Ok(PortValue::Name("http".into())));
        assert!(parse_port("65536").is_err());
        assert!(parse_port("-http").is_err());
    }

    #[test]
    fn kinds_and_names() {
        let m =
            messages(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}));
        assert_eq!(m.len(), 2, "{m:?}");
        let mut v = cnp(json!({"endpointSelector": {}, "egress": [{}]}));
        v["metadata"]["name"] = json!("Bad_Name");
        assert!(messages(&v)[0].starts_with("metadata.name: "));
    }
}
