//! DNS proxy planning for FQDN peers, shared by the capability check and the renderer.
//!
//! Cilium learns the addresses behind a `toFQDNs` peer only from DNS answers its DNS
//! proxy sees, so the pods of an FQDN allow must send their DNS queries through an egress
//! allow toward the cluster DNS pods whose port-53 `toPorts` item carries
//! `rules: {dns: [{matchPattern: "*"}]}`. netpolc never invents that allow: it marks the
//! DNS allows the intents already contain ("carriers") and the check refuses an FQDN
//! allow whose pods have none.

use netpolc_ir::{
    Action, Direction, Peer, PortMatch, PortSpec, Program, Protocol, Rule, Subject,
    NAMESPACE_NAME_LABEL,
};
use std::collections::BTreeMap;

/// Whether a port entry is exactly TCP or UDP port 53, the only form a Cilium DNS rule
/// accepts (no ranges, no port 0).
pub(crate) fn is_dns_port(pm: &PortMatch) -> bool {
    matches!(pm.protocol, Protocol::Tcp | Protocol::Udp)
        && pm.port == PortSpec::Range { start: 53, end: 53 }
}

/// Whether a rule is an egress allow toward every cluster DNS pod of the profile that
/// names port 53 on its own.
pub(crate) fn is_dns_allow(program: &Program, rule: &Rule) -> bool {
    if rule.action != Action::Allow || rule.direction != Direction::Egress || !rule.http.is_empty()
    {
        return false;
    }
    let Peer::Pods { namespaces, pods } = &rule.peer else {
        return false;
    };
    let profile = &program.profile;
    let dns_namespace_labels = program
        .namespaces
        .get(&profile.dns_namespace)
        .map(|n| n.labels.clone())
        .unwrap_or_else(|| {
            BTreeMap::from([(
                NAMESPACE_NAME_LABEL.to_string(),
                profile.dns_namespace.clone(),
            )])
        });
    namespaces.matches(&dns_namespace_labels)
        && profile.dns_pods.subset_of(pods)
        && rule
            .ports
            .as_set()
            .is_some_and(|set| set.iter().any(is_dns_port))
}

/// Whether every pod `inner` selects is also selected by `outer`.
pub(crate) fn covers(outer: &Subject, inner: &Subject) -> bool {
    inner
        .scope
        .namespaces()
        .iter()
        .all(|ns| outer.scope.contains(ns))
        && inner.pods.subset_of(&outer.pods)
}

/// Whether some pod may be selected by both subjects.
pub(crate) fn overlaps(a: &Subject, b: &Subject) -> bool {
    a.scope.namespaces().iter().any(|ns| b.scope.contains(ns)) && !a.pods.disjoint(&b.pods)
}

/// Whether a rule is an FQDN egress allow.
fn is_fqdn_allow(rule: &Rule) -> bool {
    rule.action == Action::Allow
        && rule.direction == Direction::Egress
        && matches!(rule.peer, Peer::Fqdn(_))
}

/// Whether the pods of an FQDN allow have a DNS allow that can carry the DNS proxy rule.
pub(crate) fn fqdn_has_dns(program: &Program, fqdn_rule: &Rule) -> bool {
    program
        .rules
        .iter()
        .any(|r| is_dns_allow(program, r) && covers(&r.subject, &fqdn_rule.subject))
}

/// For each rule of the program (same order), whether its port-53 entries must carry
/// the DNS proxy rule: it is a DNS allow whose pods overlap those of an FQDN allow.
pub(crate) fn dns_carriers(program: &Program) -> Vec<bool> {
    let fqdn_subjects: Vec<&Subject> = program
        .rules
        .iter()
        .filter(|r| is_fqdn_allow(r))
        .map(|r| &r.subject)
        .collect();
    program
        .rules
        .iter()
        .map(|r| {
            !fqdn_subjects.is_empty()
                && is_dns_allow(program, r)
                && fqdn_subjects.iter().any(|s| overlaps(&r.subject, s))
        })
        .collect()
}
