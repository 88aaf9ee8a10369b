//! Calico's admission rules that the CRD schema does not express: the server-side
//! validator (`libcalico-go/lib/validator/v3`), the CRDs' CEL rules
//! (`x-kubernetes-validations`) and the naming rules of Calico v3.29–v3.31, checked on
//! one object at a time (semantics.md §8.2).
//!
//! Rules that concern fields the [`types`](crate::types) do not have (`http`, `services`,
//! `serviceAccounts`) cannot be violated by an object that deserialises: such objects are
//! refused with the deserialisation error instead. That covers these CEL rules of the
//! policy CRDs, on every ingress and egress rule:
//!
//! - "rules with HTTP match must have protocol TCP or unset":
//!   `!has(self.http) || !has(self.protocol) || self.protocol == 'TCP' || self.protocol == 6`;
//! - "HTTP match is only valid on Allow rules": `self.action == 'Allow' || !has(self.http)`;
//! - "ports and notPorts cannot be specified with services":
//!   `!has(self.destination) || !has(self.destination.services) || (...ports empty...)`.
//!
//! The other CEL rules (ICMP code without type, the GlobalNetworkPolicy `preDNAT`,
//! `doNotTrack` and `applyOnForward` rules, and the Tier default actions) are checked
//! below, each next to its rule text.

use crate::selector::{self, Selector, Token};
use crate::types::{
    EntityRule, GlobalNetworkPolicy, IcmpFields, NetworkPolicy, ObjectMeta, PolicyType, Port,
    PortValue, Protocol, Rule, Tier, TierAction, API_VERSION,
};
use crate::DEFAULT_TIER;
use ipnet::IpNet;
use netpolc_ir::backend::{At, Item};
use netpolc_ir::derive::SeededWords;
use serde::Deserialize as _;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

/// Calico's limit on one selector.
const MAX_SELECTOR: usize = 1024;
/// Calico's limit on the rules of one direction.
const MAX_RULES: usize = 1024;
/// Kubernetes' limit on the total size of an object's annotations.
const MAX_ANNOTATIONS: usize = 256 * 1024;

/// Validates one object; see [`crate::validate`].
pub(crate) fn validate(object: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let api = object.get("apiVersion").and_then(Value::as_str);
    if api != Some(API_VERSION) {
        out.push(format!(
            "apiVersion: expected `{API_VERSION}`, found `{}`",
            api.unwrap_or_default()
        ));
        return out;
    }
    // The CRDs require `metadata` and `spec`.
    for field in ["metadata", "spec"] {
        if !object.get(field).is_some_and(Value::is_object) {
            out.push(format!("{field}: required"));
        }
    }
    if !out.is_empty() {
        return out;
    }
    match object.get("kind").and_then(Value::as_str) {
        Some("Tier") => match Tier::deserialize(object) {
            Ok(t) => tier(&t, &mut out),
            Err(e) => out.push(format!("Tier: {e}")),
        },
        Some("GlobalNetworkPolicy") => match GlobalNetworkPolicy::deserialize(object) {
            Ok(p) => global_policy(&p, &mut out),
            Err(e) => out.push(format!("GlobalNetworkPolicy: {e}")),
        },
        Some("NetworkPolicy") => match NetworkPolicy::deserialize(object) {
            Ok(p) => namespaced_policy(&p, &mut out),
            Err(e) => out.push(format!("NetworkPolicy: {e}")),
        },
        other => out.push(format!(
            "kind: expected `Tier`, `GlobalNetworkPolicy` or `NetworkPolicy`, found `{}`",
            other.unwrap_or_default()
        )),
    }
    out
}

// ---------------------------------------------------------------------------------------
// Names (Kubernetes apimachinery rules, as Calico's validator uses them).

fn is_alnum_lower(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

pub(crate) use netpolc_ir::names::is_dns_label;
use netpolc_ir::names::{is_dns_subdomain, is_label_form, is_label_value, is_qualified_name};

/// An IANA service name, as Kubernetes requires for named ports: 1–15 characters of
/// `[-a-z0-9]`, at least one letter, no leading, trailing or double `-`.
pub(crate) fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes().all(|c| is_alnum_lower(c) || c == b'-')
        && s.bytes().any(|c| c.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// The label and annotation keys netpolc writes on every object it renders, all
/// qualified names in lower case (`the_keys_netpolc_writes_are_qualified_names`): the
/// checks of a key below know these without looking at their characters.
const KEYS_WRITTEN: [&str; 5] = [
    crate::MANAGED_BY_LABEL,
    crate::SOURCE_ANNOTATION,
    crate::INTENT_ANNOTATION,
    netpolc_ir::provenance::RULES_ANNOTATION,
    crate::SYNC_WAVE,
];

/// Whether `key` is a qualified name ([`KEYS_WRITTEN`] are).
fn is_qualified_key(key: &str) -> bool {
    KEYS_WRITTEN.contains(&key) || is_qualified_name(key)
}

fn metadata(meta: &ObjectMeta, out: &mut Vec<String>) {
    for (k, v) in &meta.labels {
        if !is_qualified_key(k) {
            out.push(format!(
                "metadata.labels: key `{k}` is not a qualified name"
            ));
        }
        if !is_label_value(v) {
            out.push(format!(
                "metadata.labels[{k}]: `{v}` is not a valid label value"
            ));
        }
    }
    let mut size = 0;
    for (k, v) in &meta.annotations {
        // Lower-cased only when that changes it (rarely: the keys netpolc writes are
        // lower-case ASCII).
        let lower = if k.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
            std::borrow::Cow::Owned(k.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(k.as_str())
        };
        if !is_qualified_key(&lower) {
            out.push(format!(
                "metadata.annotations: key `{k}` is not a qualified name"
            ));
        }
        size += k.len() + v.len();
    }
    if size > MAX_ANNOTATIONS {
        out.push(format!(
            "metadata.annotations: total size {size} bytes is larger than {MAX_ANNOTATIONS}"
        ));
    }
}

// ---------------------------------------------------------------------------------------
// Tier.

/// Calico's rules for a Tier, its problems appended to `out`.
pub(crate) fn tier(t: &Tier, out: &mut Vec<String>) {
    let name = t.metadata.name.as_str();
    // Tier names appear inside policy names, so they are DNS labels without dots, at
    // most 63 characters (validateTier).
    if !is_dns_label(name) {
        out.push(format!(
            "metadata.name: tier name `{name}` must be a DNS label (lower-case alphanumerics and `-`, at most 63 characters)"
        ));
    }
    metadata(&t.metadata, out);
    // The CRD defaults `defaultAction` to `Deny` before the CEL rules run.
    let action = t.spec.default_action.unwrap_or(TierAction::Deny);
    let order = t.spec.order.map(|o| o.0);
    // CEL: "self.metadata.name == 'kube-admin' ? (has(self.spec.defaultAction) &&
    // self.spec.defaultAction == 'Pass') : true", and the same for 'kube-baseline'.
    if (name == "kube-admin" || name == "kube-baseline") && action != TierAction::Pass {
        out.push(format!(
            "spec.defaultAction: The '{name}' tier must have default action 'Pass'"
        ));
    }
    // CEL: "self.metadata.name == 'default' ? (has(self.spec.defaultAction) &&
    // self.spec.defaultAction == 'Deny') : true".
    if name == DEFAULT_TIER {
        if action != TierAction::Deny {
            out.push(
                "spec.defaultAction: The 'default' tier must have default action 'Deny'".into(),
            );
        }
        if order != Some(1_000_000.0) {
            out.push("spec.order: default tier order must be 1000000".into());
        }
    }
    if name == "adminnetworkpolicy" && order != Some(1_000.0) {
        out.push("spec.order: adminnetworkpolicy tier order must be 1000".into());
    }
    if name == "baselineadminnetworkpolicy" && order != Some(10_000_000.0) {
        out.push("spec.order: baselineadminnetworkpolicy tier order must be 10000000".into());
    }
    if let Some(o) = order {
        if !o.is_finite() {
            out.push(format!("spec.order: `{o}` is not a finite number"));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Policies.

/// The parts of a policy spec both kinds share.
struct Spec<'a> {
    tier: Option<&'a str>,
    order: Option<f64>,
    selector: Option<&'a str>,
    types: Option<&'a [PolicyType]>,
    ingress: &'a [Rule],
    egress: &'a [Rule],
}

/// Calico's rules for a GlobalNetworkPolicy, its problems appended to `out`.
pub(crate) fn global_policy(p: &GlobalNetworkPolicy, out: &mut Vec<String>) {
    let name = p.metadata.name.as_str();
    // GlobalNetworkPolicy names: a DNS label, or two joined by one dot.
    let well_formed = match name.split_once('.') {
        Some((a, b)) => is_label_form(a) && is_label_form(b),
        None => is_label_form(name),
    };
    if !well_formed || name.len() > 253 {
        out.push(format!(
            "metadata.name: `{name}` must be a DNS label or two DNS labels joined by one dot (at most 253 characters)"
        ));
    }
    metadata(&p.metadata, out);
    let s = &p.spec;
    spec(
        name,
        &Spec {
            tier: s.tier.as_deref(),
            order: s.order.map(|o| o.0),
            selector: s.selector.as_deref(),
            types: s.types.as_deref(),
            ingress: &s.ingress,
            egress: &s.egress,
        },
        out,
    );
    if let Some(ns) = &s.namespace_selector {
        policy_selector("spec.namespaceSelector", ns, out);
    }
    let pre_dnat = s.pre_dnat == Some(true);
    let do_not_track = s.do_not_track == Some(true);
    // CEL: "!((has(self.doNotTrack) && self.doNotTrack) && (has(self.preDNAT) &&
    // self.preDNAT))".
    if pre_dnat && do_not_track {
        out.push("spec: preDNAT and doNotTrack cannot both be true".into());
    }
    // CEL: "(!has(self.preDNAT) || !self.preDNAT) || !has(self.egress) ||
    // size(self.egress) == 0".
    if pre_dnat && !s.egress.is_empty() {
        out.push("spec.egress: preDNAT policy cannot have any egress rules".into());
    }
    // CEL: "(!has(self.preDNAT) || !self.preDNAT) || !has(self.types) ||
    // !self.types.exists(t, t == 'Egress')".
    if pre_dnat
        && s.types
            .as_ref()
            .is_some_and(|t| t.contains(&PolicyType::Egress))
    {
        out.push("spec.types: preDNAT policy cannot have 'Egress' type".into());
    }
    // CEL: "(has(self.applyOnForward) && self.applyOnForward) || ((!has(self.doNotTrack)
    // || !self.doNotTrack) && (!has(self.preDNAT) || !self.preDNAT))".
    if s.apply_on_forward != Some(true) && (pre_dnat || do_not_track) {
        out.push(
            "spec.applyOnForward: applyOnForward must be true if either preDNAT or doNotTrack is true"
                .into(),
        );
    }
}

/// Calico's rules for a namespaced NetworkPolicy, its problems appended to `out`.
pub(crate) fn namespaced_policy(p: &NetworkPolicy, out: &mut Vec<String>) {
    let name = p.metadata.name.as_str();
    // NetworkPolicy names: a DNS label, two joined by one dot, or the prefixes Calico
    // gives converted Kubernetes policies.
    let converted = ["knp.default.", "ossg.default."]
        .iter()
        .any(|prefix| name.strip_prefix(prefix).is_some_and(is_dns_subdomain));
    let well_formed = converted
        || match name.split_once('.') {
            Some((a, b)) => is_label_form(a) && is_label_form(b),
            None => is_label_form(name),
        };
    if !well_formed || name.len() > 253 {
        out.push(format!(
            "metadata.name: `{name}` must be a DNS label or two DNS labels joined by one dot (at most 253 characters)"
        ));
    }
    if let Some(ns) = &p.metadata.namespace {
        if !is_dns_label(ns) {
            out.push(format!("metadata.namespace: `{ns}` is not a DNS label"));
        }
    }
    metadata(&p.metadata, out);
    let s = &p.spec;
    spec(
        name,
        &Spec {
            tier: s.tier.as_deref(),
            order: s.order.map(|o| o.0),
            selector: s.selector.as_deref(),
            types: s.types.as_deref(),
            ingress: &s.ingress,
            egress: &s.egress,
        },
        out,
    );
}

fn spec(name: &str, s: &Spec<'_>, out: &mut Vec<String>) {
    let tier = s.tier.unwrap_or(DEFAULT_TIER);
    if !is_dns_label(tier) {
        out.push(format!("spec.tier: `{tier}` is not a valid tier name"));
    } else if tier == DEFAULT_TIER {
        // v3.29-v3.31 read the part before the first dot as the tier, so a dotted name
        // in the default tier was rejected there (converted Kubernetes policies aside).
        if name.contains('.')
            && !name.starts_with("knp.default.")
            && !name.starts_with("ossg.default.")
        {
            out.push(format!(
                "metadata.name: `{name}` contains a dot, which Calico v3.29-v3.31 reject for policies in the `default` tier"
            ));
        }
    } else if !name.starts_with(&format!("{tier}.")) {
        // v3.29-v3.31 required `<tier>.<name>` in non-default tiers.
        out.push(format!(
            "metadata.name: policies in tier `{tier}` must be named `{tier}.<name>` for Calico v3.29-v3.31"
        ));
    }
    if let Some(o) = s.order {
        if !o.is_finite() {
            out.push(format!("spec.order: `{o}` is not a finite number"));
        }
    }
    if let Some(sel) = s.selector {
        policy_selector("spec.selector", sel, out);
    }
    if let Some(types) = s.types {
        // The CRD: 1 to 2 items; the validator: no type twice.
        if types.is_empty() || types.len() > 2 {
            out.push(format!(
                "spec.types: must list 1 or 2 types, found {}",
                types.len()
            ));
        }
        let mut first = first_of_value(types);
        for (i, t) in types.iter().enumerate() {
            if !first(i) {
                out.push(format!("spec.types: '{t:?}' type specified more than once"));
            }
        }
    }
    for (field, rules) in [("ingress", s.ingress), ("egress", s.egress)] {
        if rules.len() > MAX_RULES {
            out.push(format!(
                "spec.{field}: {} rules, more than the {MAX_RULES} allowed",
                rules.len()
            ));
        }
        for (i, r) in rules.iter().enumerate() {
            rule(Item(At("spec", field), i), r, out);
        }
    }
}

thread_local! {
    /// Selector texts this thread found plain (valid in syntax, length and label names,
    /// and without `global(`; see `selector_syntax`): one text recurs in many policies
    /// and rules (a peer in every policy of a namespace), and whether a text is plain
    /// depends on the text alone.
    static VALID_SELECTORS: std::cell::RefCell<HashSet<Box<str>, SeededWords>> =
        std::cell::RefCell::default();
}

/// Checks a selector's syntax, length and label names; whether the text is also *plain*:
/// valid and without `global(`, which the checks of where `global()` may stand need not
/// look for then (only plain texts are remembered).
fn selector_syntax(path: impl std::fmt::Display + Copy, text: &str, out: &mut Vec<String>) -> bool {
    if VALID_SELECTORS.with_borrow(|valid| valid.contains(text)) {
        return true;
    }
    let before = out.len();
    if text.len() > MAX_SELECTOR {
        out.push(format!(
            "{path}: {} characters, more than the {MAX_SELECTOR} allowed",
            text.len()
        ));
    }
    match Selector::parse(text) {
        Ok(sel) => {
            for key in sel.keys() {
                if key.len() > 512 {
                    out.push(format!("{path}: label name longer than 512 characters"));
                }
            }
        }
        Err(e) => out.push(format!("{path}: invalid selector `{text}`: {e}")),
    }
    let plain = out.len() == before && !calls(text, "global(");
    if plain {
        VALID_SELECTORS.with_borrow_mut(|valid| valid.insert(text.into()));
    }
    plain
}

/// Whether `text` holds `call`, which has a `(`: most selectors have none, and a byte is
/// found for less than a text search costs to start.
fn calls(text: &str, call: &str) -> bool {
    debug_assert!(call.contains('('));
    text.as_bytes().contains(&b'(') && text.contains(call)
}

/// A policy-level selector: `global()` is not allowed there.
fn policy_selector(path: impl std::fmt::Display + Copy, text: &str, out: &mut Vec<String>) {
    let plain = selector_syntax(path, text, out);
    if !plain && calls(text, "global()") {
        out.push(format!(
            "{path}: global() can only be used in an EntityRule namespaceSelector"
        ));
    }
}

fn protocol(path: impl std::fmt::Display + Copy, p: &Protocol, out: &mut Vec<String>) {
    match p {
        Protocol::Number(n) if !(1..=255).contains(n) => {
            out.push(format!(
                "{path}: protocol number `{n}` is not between 1 and 255"
            ));
        }
        Protocol::Name(name) if p.number().is_none() => out.push(format!(
            "{path}: protocol `{name}` is not one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite"
        )),
        _ => {}
    }
}

fn icmp(path: impl std::fmt::Display + Copy, f: &IcmpFields, out: &mut Vec<String>) {
    // CEL: "!has(self.code) || has(self.type)".
    if f.code.is_some() && f.icmp_type.is_none() {
        out.push(format!("{path}: ICMP code specified without an ICMP type"));
    }
    if let Some(t) = f.icmp_type {
        if !(0..=254).contains(&t) {
            out.push(format!("{path}.type: `{t}` is not between 0 and 254"));
        }
    }
    if let Some(c) = f.code {
        if !(0..=255).contains(&c) {
            out.push(format!("{path}.code: `{c}` is not between 0 and 255"));
        }
    }
}

fn ports(
    path: impl std::fmt::Display + Copy,
    list: &[Port],
    supports_ports: bool,
    out: &mut Vec<String>,
) {
    if list.is_empty() {
        return;
    }
    if !supports_ports {
        out.push(format!(
            "{path}: rules that specify ports must set protocol to TCP or UDP or SCTP"
        ));
    }
    for (i, p) in list.iter().enumerate() {
        match p.value() {
            Ok(PortValue::Named(n)) if !is_port_name(&n) => {
                out.push(format!("{path}[{i}]: `{n}` is not a valid port name"))
            }
            Ok(_) => {}
            Err(e) => out.push(format!("{path}[{i}]: {e}")),
        }
    }
}

/// Parses a CIDR the way Calico's rule validator does (`a.b.c.d/n`, host bits allowed).
pub(crate) fn parse_cidr(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>().ok()
}

/// Parses a CIDR or a bare address (a full-length prefix), as Calico's dataplane does.
pub(crate) fn parse_cidr_or_ip(s: &str) -> Option<IpNet> {
    parse_cidr(s).or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

fn entity(
    path: impl std::fmt::Display + Copy,
    e: &EntityRule,
    supports_ports: bool,
    out: &mut Vec<String>,
) {
    if let Some(sel) = &e.selector {
        let plain = selector_syntax(At(path, "selector"), sel, out);
        if !plain && calls(sel, "global()") {
            out.push(format!(
                "{path}.selector: global() can only be used in an EntityRule namespaceSelector"
            ));
        }
    }
    if let Some(sel) = &e.not_selector {
        selector_syntax(At(path, "notSelector"), sel, out);
    }
    if let Some(sel) = &e.namespace_selector {
        let plain = selector_syntax(At(path, "namespaceSelector"), sel, out);
        if !plain && calls(sel, "global(") && sel != "global()" {
            // global() must be the whole namespace selector.
            let alone = selector::tokenize(sel)
                .is_ok_and(|t| t.len() <= 2 && t.first() == Some(&Token::Global));
            if !alone {
                out.push(format!(
                    "{path}.namespaceSelector: global() cannot be combined with other selectors"
                ));
            }
        }
    }
    ports(At(path, "ports"), &e.ports, supports_ports, out);
    ports(At(path, "notPorts"), &e.not_ports, supports_ports, out);
}

/// Tells whether `list[i]` is the first of its value in `list`, asked for each `i` in
/// order: by a look at the ones before it in a short list (every list a rule has, and
/// the policy types; a set cost more than the rest of a rule's checks), with a set of
/// the ones seen in a long one.
fn first_of_value<T: Ord>(list: &[T]) -> impl FnMut(usize) -> bool + '_ {
    const SHORT: usize = 16;
    let mut seen = (list.len() > SHORT).then(BTreeSet::new);
    move |i| match &mut seen {
        None => !list[..i].contains(&list[i]),
        Some(seen) => seen.insert(&list[i]),
    }
}

fn rule(path: impl std::fmt::Display + Copy, r: &Rule, out: &mut Vec<String>) {
    if let Some(p) = &r.protocol {
        protocol(At(path, "protocol"), p, out);
    }
    if let Some(p) = &r.not_protocol {
        protocol(At(path, "notProtocol"), p, out);
    }
    let supports_ports = r.protocol.as_ref().is_some_and(Protocol::supports_ports);
    entity(At(path, "source"), &r.source, supports_ports, out);
    entity(At(path, "destination"), &r.destination, supports_ports, out);

    let is = |p: &Option<Protocol>, n: u8| p.as_ref().and_then(Protocol::number) == Some(n);
    if let Some(f) = &r.icmp {
        icmp(At(path, "icmp"), f, out);
        if !(is(&r.protocol, 1) || is(&r.protocol, 58)) {
            out.push(format!(
                "{path}.icmp: rules that specify ICMP fields must set protocol to ICMP"
            ));
        }
    }
    if let Some(f) = &r.not_icmp {
        icmp(At(path, "notICMP"), f, out);
    }
    if let Some(v) = r.ip_version {
        if v != 4 && v != 6 {
            out.push(format!("{path}.ipVersion: `{v}` is not 4 or 6"));
        }
    }
    if (is(&r.protocol, 1) || is(&r.not_protocol, 1)) && r.ip_version.is_some_and(|v| v != 4) {
        out.push(format!(
            "{path}.ipVersion: must set ipversion to '4' with protocol icmp"
        ));
    }
    if (is(&r.protocol, 58) || is(&r.not_protocol, 58)) && r.ip_version.is_some_and(|v| v != 6) {
        out.push(format!(
            "{path}.ipVersion: must set ipversion to '6' with protocol icmpv6"
        ));
    }

    // CIDRs: valid, matching ipVersion, one family per rule, no catch-all notNets, no
    // duplicates (the CRD declares `nets` a set).
    let (mut seen_v4, mut seen_v6) = (false, false);
    for (field, nets, negated) in [
        ("source.nets", &r.source.nets, false),
        ("source.notNets", &r.source.not_nets, true),
        ("destination.nets", &r.destination.nets, false),
        ("destination.notNets", &r.destination.not_nets, true),
    ] {
        let (mut v4, mut v6) = (false, false);
        let mut first = first_of_value(nets);
        for (i, n) in nets.iter().enumerate() {
            if !first(i) {
                out.push(format!("{path}.{field}: duplicate entry `{n}`"));
            }
            match parse_cidr(n) {
                None => out.push(format!("{path}.{field}: `{n}` is not a valid CIDR")),
                Some(net) => {
                    v4 |= matches!(net, IpNet::V4(_));
                    v6 |= matches!(net, IpNet::V6(_));
                    if negated && net.prefix_len() == 0 {
                        out.push(format!(
                            "{path}.{field}: `{n}` is a catch-all, which notNets rejects"
                        ));
                    }
                }
            }
        }
        if let Some(v) = r.ip_version {
            if (v4 && v != 4) || (v6 && v != 6) {
                out.push(format!(
                    "{path}.{field}: rule IP version doesn't match CIDR version"
                ));
            }
        }
        if (v4 && seen_v6) || (v6 && seen_v4) || (v4 && v6) {
            out.push(format!(
                "{path}.{field}: rule contains both IPv4 and IPv6 CIDRs"
            ));
        }
        seen_v4 |= v4;
        seen_v6 |= v6;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gnp(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
               "metadata": {"name": name}, "spec": spec})
    }

    fn one(v: &Value, needle: &str) {
        let msgs = validate(v);
        assert!(
            msgs.iter().any(|m| m.contains(needle)),
            "expected `{needle}` in {msgs:?}"
        );
    }

    #[test]
    fn clean_policy() {
        let v = gnp(
            "a-b",
            json!({"tier": "default", "order": 1000, "selector": "app == 'x'", "types": ["Ingress"],
                   "ingress": [{"action": "Allow", "protocol": "TCP",
                                "source": {"selector": "projectcalico.org/orchestrator == 'k8s'",
                                           "namespaceSelector": "all()"},
                                "destination": {"ports": [80, "8000:8080", "http"]}}]}),
        );
        assert_eq!(validate(&v), Vec::<String>::new());
    }

    #[test]
    fn a_selector_is_judged_by_its_text_every_time() {
        // Valid texts are remembered per thread; invalid ones are reported each time, at
        // each place, also after a valid text was remembered.
        let with = |selector: &str| gnp("p", json!({"selector": selector}));
        assert!(validate(&with("app == 'x'")).is_empty());
        assert!(validate(&with("app == 'x'")).is_empty());
        for _ in 0..2 {
            one(
                &with("app = 'x'"),
                "spec.selector: invalid selector `app = 'x'`",
            );
        }
        let long = format!("{} == 'x'", "k".repeat(513));
        for _ in 0..2 {
            one(&with(&long), "label name longer than 512 characters");
        }
        let rule = json!({"action": "Allow", "source": {"selector": "app = 'x'"}});
        one(
            &gnp("p", json!({"types": ["Ingress"], "ingress": [rule]})),
            "spec.ingress[0].source.selector: invalid selector",
        );
        // Texts with `global()` are valid but not plain: where it may not stand, it is
        // reported each time; where it may, it passes each time.
        let rule = |source: Value| {
            gnp(
                "p",
                json!({"types": ["Ingress"], "ingress": [{"action": "Allow", "source": source}]}),
            )
        };
        for _ in 0..2 {
            one(
                &with("global()"),
                "spec.selector: global() can only be used",
            );
            one(
                &rule(json!({"selector": "global()"})),
                "source.selector: global() can only be used",
            );
            one(
                &rule(json!({"namespaceSelector": "global() && a == 'b'"})),
                "cannot be combined",
            );
            assert!(validate(&rule(json!({"namespaceSelector": "global()"}))).is_empty());
        }
    }

    #[test]
    fn the_keys_netpolc_writes_are_qualified_names() {
        // What lets `is_qualified_key` skip their characters.
        for key in KEYS_WRITTEN {
            assert!(is_qualified_name(key), "{key}");
            assert_eq!(key.to_lowercase(), key);
        }
        assert!(is_qualified_key("a.b/c"));
        assert!(!is_qualified_key("a/b/c"));
    }

    #[test]
    fn duplicates_are_found_in_short_and_long_lists() {
        for len in [3, 40] {
            let mut list: Vec<u32> = (0..len).collect();
            list.push(1);
            list.push(len - 1);
            list.push(1);
            let mut first = first_of_value(&list);
            let repeated: Vec<usize> = (0..list.len()).filter(|&i| !first(i)).collect();
            let n = len as usize;
            assert_eq!(repeated, [n, n + 1, n + 2], "{len}");
        }
    }

    #[test]
    fn names() {
        one(&gnp("A", json!({})), "metadata.name");
        one(&gnp("a.b.c", json!({"tier": "a"})), "metadata.name");
        one(&gnp("x.y", json!({})), "v3.29-v3.31");
        one(&gnp("y", json!({"tier": "netpolc"})), "`netpolc.<name>`");
        one(&gnp("y", json!({"tier": "Bad.Tier"})), "spec.tier");
        assert!(validate(&gnp("netpolc.y", json!({"tier": "netpolc"}))).is_empty());
        let tier = json!({"apiVersion": "projectcalico.org/v3", "kind": "Tier",
                          "metadata": {"name": "default"}, "spec": {"order": 1000000, "defaultAction": "Pass"}});
        one(&tier, "must have default action 'Deny'");
        let tier = json!({"apiVersion": "projectcalico.org/v3", "kind": "Tier",
                          "metadata": {"name": "kube-admin"}, "spec": {"order": 1000}});
        one(&tier, "must have default action 'Pass'");
        let tier = json!({"apiVersion": "projectcalico.org/v3", "kind": "Tier",
                          "metadata": {"name": "a.b"}, "spec": {}});
        one(&tier, "DNS label");
        assert!(is_port_name("http-alt"));
        assert!(!is_port_name("8080"));
        assert!(!is_port_name("a--b"));
        assert!(!is_port_name("sixteen-letters-"));
        assert!(is_qualified_name("app.kubernetes.io/managed-by"));
        assert!(!is_qualified_name("/x"));
        assert!(!is_qualified_name("a/b/c"));
    }

    #[test]
    fn rules() {
        let r = |rule: Value| gnp("p", json!({"types": ["Egress"], "egress": [rule]}));
        one(
            &r(json!({"action": "Allow", "destination": {"ports": [80]}})),
            "must set protocol to TCP or UDP or SCTP",
        );
        one(
            &r(json!({"action": "Allow", "protocol": "ICMP", "destination": {"ports": [80]}})),
            "must set protocol to TCP or UDP or SCTP",
        );
        one(
            &r(json!({"action": "Allow", "protocol": "ICMP", "icmp": {"code": 1}})),
            "ICMP code specified without an ICMP type",
        );
        one(
            &r(json!({"action": "Allow", "protocol": "TCP", "icmp": {"type": 8}})),
            "must set protocol to ICMP",
        );
        one(
            &r(json!({"action": "Allow", "protocol": "ICMP", "icmp": {"type": 255}})),
            "between 0 and 254",
        );
        one(
            &r(json!({"action": "Allow", "protocol": "ICMP", "ipVersion": 6})),
            "ipversion to '4'",
        );
        one(
            &r(json!({"action": "Allow", "destination": {"nets": ["10.0.0.0/8", "fd00::/8"]}})),
            "both IPv4 and IPv6",
        );
        one(
            &r(
                json!({"action": "Allow", "source": {"nets": ["10.0.0.0/8"]},
                      "destination": {"nets": ["fd00::/8"]}}),
            ),
            "both IPv4 and IPv6",
        );
        one(
            &r(json!({"action": "Allow", "destination": {"notNets": ["0.0.0.0/0"]}})),
            "catch-all",
        );
        one(
            &r(json!({"action": "Allow", "destination": {"nets": ["10.0.0.0/8", "10.0.0.0/8"]}})),
            "duplicate",
        );
        one(
            &r(json!({"action": "Allow", "destination": {"selector": "a = 'b'"}})),
            "invalid selector",
        );
        one(
            &r(json!({"action": "Allow", "destination": {"selector": "global()"}})),
            "only be used in an EntityRule namespaceSelector",
        );
        one(
            &r(
                json!({"action": "Allow", "destination": {"namespaceSelector": "global() && a == 'b'"}}),
            ),
            "cannot be combined",
        );
        assert!(validate(&r(
            json!({"action": "Allow", "destination": {"namespaceSelector": " global() "}})
        ))
        .is_empty());
        one(
            &r(
                json!({"action": "Allow", "protocol": "TCP", "destination": {"ports": ["Bad_Name"]}}),
            ),
            "not a valid port name",
        );
        one(
            &r(json!({"action": "Allow", "protocol": "TCP", "destination": {"ports": [0]}})),
            "between 1 and 65535",
        );
        one(
            &r(json!({"action": "Allow", "protocol": "TCP", "http": {"methods": ["GET"]}})),
            "unknown field `http`",
        );
        one(
            &gnp("p", json!({"types": ["Ingress", "Ingress"]})),
            "specified more than once",
        );
        one(&gnp("p", json!({"selector": "x == 'y"})), "spec.selector");
        one(
            &gnp("p", json!({"selector": "global()"})),
            "EntityRule namespaceSelector",
        );
        let long = format!("a in {{{}}}", vec!["'v'"; 400].join(", "));
        one(&gnp("p", json!({"selector": long})), "more than the 1024");
    }

    #[test]
    fn cel_rules_of_the_gnp_crd() {
        one(
            &gnp(
                "p",
                json!({"preDNAT": true, "doNotTrack": true, "applyOnForward": true}),
            ),
            "preDNAT and doNotTrack cannot both be true",
        );
        one(
            &gnp(
                "p",
                json!({"preDNAT": true, "applyOnForward": true, "types": ["Egress"]}),
            ),
            "cannot have 'Egress' type",
        );
        one(
            &gnp(
                "p",
                json!({"preDNAT": true, "applyOnForward": true,
                             "egress": [{"action": "Allow"}]}),
            ),
            "cannot have any egress rules",
        );
        one(
            &gnp("p", json!({"doNotTrack": true})),
            "applyOnForward must be true",
        );
        assert!(validate(&gnp(
            "p",
            json!({"doNotTrack": true, "applyOnForward": true})
        ))
        .is_empty());
    }

    #[test]
    fn shape() {
        one(&json!({"apiVersion": "v1", "kind": "Pod"}), "apiVersion");
        one(
            &json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy"}),
            "spec: required",
        );
        one(
            &json!({"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
                    "metadata": {}, "spec": {}}),
            "kind",
        );
        one(
            &json!({"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
                    "metadata": {"name": "p", "namespace": "ns", "labels": {"bad key": "v"}},
                    "spec": {}}),
            "metadata.labels",
        );
    }
}
