//! The capability check: every construct Cilium cannot express exactly is an error with
//! a stable `NP5xxx` code pointing at the intent; meaning that differs without widening
//! is a warning.

use crate::labels::{identity_label_kept, namespace_label_kept};
use crate::validate::fqdn_valid;
use crate::{codes, dns, Options};
use ipnet::IpNet;
use netpolc_ir::{
    Action, CidrBlock, Direction, LabelSelector, Origin, Peer, PortSpec, Ports, Program, Protocol,
    Rule, NAMESPACE_NAME_LABEL,
};
use netpolc_source::Diagnostic;

/// Checks a program against what Cilium can express; see [`crate::codes`].
pub fn check(program: &Program, options: &Options) -> Vec<Diagnostic> {
    // Each rule on every core, problems in the order of the rules.
    let mut out: Vec<Diagnostic> = netpolc_ir::par::flat_map(
        netpolc_ir::par::threads(),
        program.rules.len(),
        1024,
        |i, out| {
            let rule = &program.rules[i];
            check_labels(rule, out);
            if let Peer::Cidr(block) = &rule.peer {
                check_cidr(program, rule, block, out);
            }
            check_ports(rule, options, out);
            check_http(rule, out);
            if let Peer::Fqdn(name) = &rule.peer {
                check_fqdn(program, rule, name, out);
            }
        },
    );
    // One intent yields several rules (both sides, several subjects): report each
    // problem once, in first-seen order.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|d| seen.insert((d.code, d.message.clone())));
    out
}

/// An error or warning about one intent, with the Cilium reason as a note.
fn diagnostic(
    error: bool,
    code: &'static str,
    origin: &Origin,
    message: String,
    label: String,
    why: &str,
    help: Option<String>,
) -> Diagnostic {
    let d = if error {
        Diagnostic::error(code, message)
    } else {
        Diagnostic::warning(code, message)
    };
    let d = d
        .with_opt_label(origin.span, label)
        .with_note(format!("backend `cilium`: {why}"));
    match help {
        Some(h) => d.with_help(h),
        None => d,
    }
}

fn check_labels(rule: &Rule, out: &mut Vec<Diagnostic>) {
    let mut keys: Vec<(String, &'static str)> = Vec::new();
    let mut pod_keys = |sel: &LabelSelector| {
        for r in sel.requirements() {
            if !identity_label_kept(&r.key) {
                keys.push((r.key.clone(), "pods"));
            }
        }
    };
    pod_keys(&rule.subject.pods);
    if let Peer::Pods { namespaces, pods } = &rule.peer {
        pod_keys(pods);
        for r in namespaces.requirements() {
            if r.key != NAMESPACE_NAME_LABEL && !namespace_label_kept(&r.key) {
                keys.push((r.key.clone(), "namespaces"));
            }
        }
    }
    for (key, what) in keys {
        let q = rule.origin.qualified();
        out.push(diagnostic(
            true,
            codes::EXCLUDED_LABEL,
            &rule.origin,
            format!(
                "intent `{q}` selects {what} by label `{key}`, which cilium leaves out of security identities"
            ),
            format!("selects {what} by `{key}`"),
            "the default identity label filter drops this key, so a selector on it never \
             matches: an allow would never apply and a deny would never block",
            Some("select these pods by a label Cilium keeps, such as `app` or `app.kubernetes.io/name`".into()),
        ));
    }
}

/// Whether a block still covers part of a cluster network after its holes.
fn overlaps_cluster(block: &CidrBlock, cluster: &IpNet) -> bool {
    if block.net.contains(cluster) {
        !block.except.iter().any(|e| e.contains(cluster))
    } else {
        cluster.contains(&block.net)
    }
}

fn check_cidr(program: &Program, rule: &Rule, block: &CidrBlock, out: &mut Vec<Diagnostic>) {
    let profile = &program.profile;
    for cluster in profile.pod_cidrs.iter().chain(&profile.node_cidrs) {
        if overlaps_cluster(block, cluster) {
            let q = rule.origin.qualified();
            out.push(diagnostic(
                false,
                codes::CIDR_OVERLAPS_CLUSTER,
                &rule.origin,
                format!(
                    "intent `{q}` names `{}`, which overlaps the cluster network `{cluster}`",
                    block.net
                ),
                format!("overlaps `{cluster}`"),
                "CIDR rules never match pods (nor, by default, nodes), so the overlapping \
                 addresses are not matched on cilium",
                Some("select in-cluster peers by labels, or by an entity such as `host`".into()),
            ));
        }
    }
}

fn check_ports(rule: &Rule, options: &Options, out: &mut Vec<Diagnostic>) {
    let Some(set) = rule.ports.as_set() else {
        return;
    };
    let q = rule.origin.qualified();
    for pm in set {
        if pm.protocol == Protocol::Sctp && !options.sctp {
            out.push(diagnostic(
                true,
                codes::SCTP_DISABLED,
                &rule.origin,
                format!("intent `{q}` uses SCTP port `{pm}`, which cilium enforces only with `enable-sctp`"),
                "SCTP".into(),
                "the agent option `enable-sctp` is off by default, and without it SCTP rules \
                 have no effect",
                Some("enable SCTP on the Cilium agents (`enable-sctp`) and pass `--cilium-sctp` (`cilium-sctp: true` in the KRM functionConfig)".into()),
            ));
        }
        if let PortSpec::Icmp { code: Some(c), .. } = pm.port {
            out.push(diagnostic(
                true,
                codes::ICMP_CODE,
                &rule.origin,
                format!("intent `{q}` matches ICMP code {c}, but cilium matches ICMP types only"),
                format!("ICMP code {c}"),
                "`icmps` fields have a type and an address family, no code",
                Some("match the ICMP type without a code".into()),
            ));
        }
    }
}

fn check_http(rule: &Rule, out: &mut Vec<Diagnostic>) {
    if rule.http.is_empty() {
        return;
    }
    let q = rule.origin.qualified();
    if rule.action == Action::Deny {
        out.push(diagnostic(
            true,
            codes::L7_ON_DENY,
            &rule.origin,
            format!("deny intent `{q}` has HTTP rules, which cilium deny rules cannot carry"),
            "HTTP rules on a deny".into(),
            "`ingressDeny`/`egressDeny` have no L7 rules",
            Some("deny the whole port, or allow only the wanted requests".into()),
        ));
        return;
    }
    let bad: Vec<String> = match &rule.ports {
        Ports::Any => vec!["any port".to_string()],
        Ports::Only(set) => set
            .iter()
            .filter(|pm| pm.protocol != Protocol::Tcp || pm.port == PortSpec::All)
            .map(|pm| format!("`{pm}`"))
            .collect(),
    };
    if !bad.is_empty() {
        out.push(diagnostic(
            true,
            codes::HTTP_NEEDS_TCP_PORTS,
            &rule.origin,
            format!(
                "intent `{q}` has HTTP rules on {}, but cilium applies L7 rules to specific TCP ports only",
                bad.join(", ")
            ),
            "HTTP rules".into(),
            "L7 rules apply only to TCP ports and never to port 0 (all ports)",
            Some("list the TCP ports the HTTP rules apply to".into()),
        ));
    }
}

fn check_fqdn(program: &Program, rule: &Rule, name: &str, out: &mut Vec<Diagnostic>) {
    let q = rule.origin.qualified();
    if rule.action == Action::Deny {
        out.push(diagnostic(
            true,
            codes::L7_ON_DENY,
            &rule.origin,
            format!("deny intent `{q}` names the DNS name `{name}`, which cilium deny rules cannot carry"),
            "DNS name on a deny".into(),
            "`egressDeny` has no `toFQDNs`",
            Some("deny the addresses as CIDRs instead".into()),
        ));
        return;
    }
    if rule.direction == Direction::Ingress {
        out.push(diagnostic(
            true,
            codes::FQDN_ON_INGRESS,
            &rule.origin,
            format!("intent `{q}` allows ingress from the DNS name `{name}`, which cilium cannot express"),
            "DNS name as a source".into(),
            "cilium matches DNS names on egress only (`toFQDNs`)",
            Some("allow the source addresses as CIDRs instead".into()),
        ));
        return;
    }
    let pattern = name.contains('*');
    if !fqdn_valid(name, pattern) {
        out.push(diagnostic(
            true,
            codes::INVALID_FQDN,
            &rule.origin,
            format!("intent `{q}` names `{name}`, which is not a valid cilium DNS name or pattern"),
            "invalid DNS name".into(),
            "`matchName` takes letters, digits, `-`, `_` and dots, `matchPattern` also `*`, \
             at most 255 characters",
            None,
        ));
    }
    if !dns::fqdn_has_dns(program, rule) {
        let profile = &program.profile;
        out.push(diagnostic(
            true,
            codes::FQDN_WITHOUT_DNS,
            &rule.origin,
            format!(
                "intent `{q}` allows egress to `{name}`, but its pods have no DNS allow toward namespace `{}` on port 53",
                profile.dns_namespace
            ),
            "needs a DNS allow".into(),
            "cilium learns the addresses of DNS names only from answers its DNS proxy sees, \
             which needs an egress allow toward the cluster DNS pods naming port 53; netpolc \
             never adds an allow the intents did not ask for",
            Some("allow DNS for the same pods (for example the `allow-dns` preset), listing port 53/udp and 53/tcp".into()),
        ));
    }
}
