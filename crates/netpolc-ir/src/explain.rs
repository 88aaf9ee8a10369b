//! A human-readable dump of a [`Program`]: what netpolc understood, rule by rule. Used in
//! snapshot tests and by `netpolc ir`.

use crate::{Action, LabelSelector, Op, Peer, Program, Rule, Scope, NAMESPACE_NAME_LABEL};
use std::fmt::Write as _;

/// Renders a selector as `app=web,tier in (a,b),!legacy`; the all-selector is `*`.
pub fn selector(s: &LabelSelector) -> String {
    if s.is_all() {
        return "*".to_string();
    }
    s.requirements()
        .map(|r| {
            let values = || r.values.iter().cloned().collect::<Vec<_>>().join(",");
            match r.op {
                Op::In if r.values.len() == 1 => format!("{}={}", r.key, values()),
                Op::In => format!("{} in ({})", r.key, values()),
                Op::NotIn => format!("{} notin ({})", r.key, values()),
                Op::Exists => r.key.clone(),
                Op::DoesNotExist => format!("!{}", r.key),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn namespaces(s: &LabelSelector) -> String {
    if let Some(n) = Peer::single_namespace(s) {
        return n.to_string();
    }
    let text = selector(s).replace(NAMESPACE_NAME_LABEL, "name");
    format!("ns[{text}]")
}

/// Renders a peer.
pub fn peer(p: &Peer) -> String {
    match p {
        Peer::Pods {
            namespaces: n,
            pods,
        } => format!("{}/pods[{}]", namespaces(n), selector(pods)),
        Peer::Cidr(b) => format!("cidr {b}"),
        Peer::Entity(e) => format!("entity {}", e.as_str()),
        Peer::Fqdn(f) => format!("fqdn {f}"),
        Peer::Any => "anything".to_string(),
    }
}

fn scope(s: &Scope) -> String {
    match s {
        Scope::Namespace(n) => n.clone(),
        Scope::Cluster(set) => format!(
            "cluster({})",
            set.iter().cloned().collect::<Vec<_>>().join(",")
        ),
    }
}

/// One line for a rule: `production/pods[app=web] egress allow -> db/pods[*] 5432/tcp`.
pub fn rule(r: &Rule) -> String {
    let action = match r.action {
        Action::Allow => "allow",
        Action::Deny => "deny",
    };
    let arrow = match r.direction {
        crate::Direction::Egress => "->",
        crate::Direction::Ingress => "<-",
    };
    let mut s = format!(
        "{}/pods[{}] {} {action} {arrow} {} {}",
        scope(&r.subject.scope),
        selector(&r.subject.pods),
        r.direction.as_str().to_ascii_lowercase(),
        peer(&r.peer),
        r.ports
    );
    for h in &r.http {
        let _ = write!(
            s,
            " http({} {})",
            h.method.as_deref().unwrap_or("*"),
            h.path.as_deref().unwrap_or("*")
        );
    }
    let _ = write!(s, "  [{}]", r.origin.qualified());
    s
}

/// The whole program.
pub fn program(p: &Program) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "namespaces:");
    for n in p.namespaces.values() {
        let iso: Vec<&str> = n.isolated.iter().map(|d| d.as_str()).collect();
        let labels: Vec<String> = n
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() != NAMESPACE_NAME_LABEL)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "  {} isolated=[{}] labels=[{}]",
            n.name,
            iso.join(","),
            labels.join(",")
        );
    }
    let _ = writeln!(out, "rules:");
    for r in &p.rules {
        let _ = writeln!(out, "  {}", rule(r));
    }
    if !p.tests.is_empty() {
        let _ = writeln!(out, "tests:");
        for t in &p.tests {
            let _ = writeln!(out, "  {}: {} expectation(s)", t.name, t.cases.len());
        }
    }
    out
}
