//! Plain `networking.k8s.io/v1` NetworkPolicy, converted into Cilium rules the way the
//! agent converts it (semantics.md §1.5 [CI-KNP]):
//!
//! - subject: the pod selector (`k8s:` keys) plus `k8s:io.kubernetes.pod.namespace=<ns>`;
//! - a peer with a namespace selector: its keys become `io.cilium.k8s.namespace.labels.*`,
//!   ANDed with the pod selector, with no namespace pin (an empty namespace selector
//!   becomes `io.kubernetes.pod.namespace Exists`);
//! - a pod-only peer: pinned to the policy's namespace;
//! - an `ipBlock`: a CIDR rule (which never matches pods);
//! - a rule without peers: every identity; a port without number: port 0 (all ports);
//!   protocol defaults to TCP;
//! - default deny: an ingress rule list that ends up empty becomes `[{}]` when
//!   `policyTypes` has `Ingress` or lacks `Egress`; an empty egress list becomes `[{}]`
//!   when `policyTypes` has `Egress`. Every direction with rules is default deny.
//!
//! A policy the agent would reject (a peer mixing selectors and `ipBlock`, a bad CIDR or
//! port) is not enforced, like on a real cluster.

use crate::eval::{cidr_rule, CPolicy, CRule, PortC, Sel, L3};
use crate::labels::{NAMESPACE_KEY, NAMESPACE_LABELS_PREFIX, SOURCE_K8S};
use crate::types::{CidrRule, EndpointSelector, L4Protocol, ObjectMeta};
use crate::validate::{parse_port, PortValue};
use netpolc_ir::provenance::RuleIntents;
use netpolc_ir::Direction;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// The fields of a NetworkPolicy that decide what it enforces.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct NetworkPolicy {
    #[serde(rename = "apiVersion")]
    _api_version: IgnoredAny,
    #[serde(rename = "kind")]
    _kind: IgnoredAny,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Spec,
    #[serde(rename = "status", default)]
    _status: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    pod_selector: EndpointSelector,
    #[serde(default)]
    policy_types: Option<Vec<String>>,
    #[serde(default)]
    ingress: Option<Vec<IngressRule>>,
    #[serde(default)]
    egress: Option<Vec<EgressRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IngressRule {
    #[serde(default)]
    from: Option<Vec<Peer>>,
    #[serde(default)]
    ports: Option<Vec<Port>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EgressRule {
    #[serde(default)]
    to: Option<Vec<Peer>>,
    #[serde(default)]
    ports: Option<Vec<Port>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Peer {
    #[serde(default)]
    pod_selector: Option<EndpointSelector>,
    #[serde(default)]
    namespace_selector: Option<EndpointSelector>,
    #[serde(default)]
    ip_block: Option<CidrRule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Port {
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    port: Option<IntOrString>,
    #[serde(default)]
    end_port: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IntOrString {
    Int(i64),
    Str(String),
}

/// Converts a NetworkPolicy; `None` when the agent would reject it.
pub(crate) fn convert(np: &NetworkPolicy) -> Option<CPolicy> {
    let ns = np.metadata.namespace.as_deref().unwrap_or("default");
    let spec = &np.spec;
    let mut rules = Vec::new();
    let mut counts = [0usize; 2];
    let sides = spec
        .ingress
        .iter()
        .flatten()
        .map(|r| (Direction::Ingress, &r.from, &r.ports))
        .chain(
            spec.egress
                .iter()
                .flatten()
                .map(|r| (Direction::Egress, &r.to, &r.ports)),
        );
    let mut index = [0usize; 2];
    for (direction, peers, ports) in sides {
        let d = usize::from(direction == Direction::Egress);
        let path = format!(
            "spec.{}[{}]",
            if d == 0 { "ingress" } else { "egress" },
            index[d]
        );
        index[d] += 1;
        let ports = ports
            .iter()
            .flatten()
            .map(port)
            .collect::<Option<Vec<PortC>>>()?;
        let has_l4 = !ports.is_empty();
        let rule = |l3: L3| CRule {
            path: path.clone(),
            direction,
            deny: false,
            l3,
            has_l4,
            ports: ports.clone(),
            icmps: Vec::new(),
        };
        match peers.as_deref() {
            Some(peers) if !peers.is_empty() => {
                for p in peers {
                    rules.push(rule(peer(ns, p)?));
                    counts[d] += 1;
                }
            }
            // No peers: every identity.
            _ => {
                rules.push(rule(L3::Selectors(vec![Sel::default()])));
                counts[d] += 1;
            }
        }
    }
    let has_type = |t: &str| spec.policy_types.iter().flatten().any(|x| x == t);
    let empty = |direction| CRule {
        path: "spec.policyTypes".to_string(),
        direction,
        deny: false,
        l3: L3::Absent,
        has_l4: false,
        ports: Vec::new(),
        icmps: Vec::new(),
    };
    if counts[0] == 0 && (has_type("Ingress") || !has_type("Egress")) {
        rules.push(empty(Direction::Ingress));
        counts[0] = 1;
    }
    if counts[1] == 0 && has_type("Egress") {
        rules.push(empty(Direction::Egress));
        counts[1] = 1;
    }
    let mut subject = Sel::k8s(&spec.pod_selector, "");
    subject.add_match(SOURCE_K8S, NAMESPACE_KEY, ns);
    Some(CPolicy {
        object: format!("NetworkPolicy {ns}/{}", np.metadata.name),
        intents: RuleIntents::from_annotations(&np.metadata.annotations),
        subject: Some(subject),
        default_deny: [counts[0] > 0, counts[1] > 0],
        rules,
    })
}

/// One peer's L3; `None` when the agent rejects it.
fn peer(ns: &str, p: &Peer) -> Option<L3> {
    let selector = match (&p.namespace_selector, &p.pod_selector) {
        (Some(nss), pods) => {
            let mut sel = Sel::k8s(nss, NAMESPACE_LABELS_PREFIX);
            if nss.match_labels.is_empty() && nss.match_expressions.is_empty() {
                sel.add_exists(SOURCE_K8S, NAMESPACE_KEY);
            }
            if let Some(pods) = pods {
                sel.reqs.extend(Sel::k8s(pods, "").reqs);
            }
            Some(sel)
        }
        (None, Some(pods)) => {
            let mut sel = Sel::k8s(pods, "");
            sel.add_match(SOURCE_K8S, NAMESPACE_KEY, ns);
            Some(sel)
        }
        (None, None) => None,
    };
    match (selector, &p.ip_block) {
        // "Combining FromEndpoints and FromCIDRSet is not supported".
        (Some(_), Some(_)) => None,
        (Some(sel), None) => Some(L3::Selectors(vec![sel])),
        (None, Some(block)) => Some(L3::Cidrs(vec![cidr_rule(block)?])),
        (None, None) => Some(L3::Absent),
    }
}

/// One port; `None` when the agent rejects it.
fn port(p: &Port) -> Option<PortC> {
    let protocol = match p.protocol.as_deref().unwrap_or("TCP") {
        "TCP" => L4Protocol::Tcp,
        "UDP" => L4Protocol::Udp,
        "SCTP" => L4Protocol::Sctp,
        _ => return None,
    };
    let port = match &p.port {
        None => PortValue::Number(0),
        Some(IntOrString::Int(n)) => PortValue::Number(u16::try_from(*n).ok()?),
        Some(IntOrString::Str(s)) => parse_port(s).ok()?,
    };
    Some(PortC {
        protocol: Some(protocol),
        port,
        end: p.end_port.and_then(|e| u16::try_from(e).ok()),
    })
}
