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
//! The object is read and checked by the shared reader (`netpolc_kube::networkpolicy`),
//! like on the other back ends: what the API server refuses (a peer mixing selectors and
//! `ipBlock`, a bad CIDR or port, an unknown field) never reaches an agent, and is
//! refused here too.

use crate::eval::{CPolicy, CRule, CidrC, PortC, Sel, L3};
use crate::labels::{NAMESPACE_KEY, NAMESPACE_LABELS_PREFIX, SOURCE_K8S};
use crate::types::{EndpointSelector, L4Protocol, SelectorOperator, SelectorRequirement};
use crate::validate::PortValue;
use netpolc_ir::provenance::RuleIntents;
use netpolc_ir::Direction;
use netpolc_kube::networkpolicy::{self as kube, NetworkPolicy, Operator, PortMatch, Protocol};
use std::sync::Arc;

/// Reads one NetworkPolicy with the shared reader (`netpolc_kube::networkpolicy`): what
/// the API server refuses never reaches an agent, and is refused here too.
pub(crate) fn read<T: netpolc_ir::backend::Tree>(object: &T) -> Result<NetworkPolicy, String> {
    kube::read(object)
}

/// Converts a NetworkPolicy.
pub(crate) fn convert(np: &NetworkPolicy) -> CPolicy {
    let ns = np.namespace.as_str();
    let mut rules = Vec::new();
    let mut counts = [0usize; 2];
    let sides = np
        .ingress
        .iter()
        .map(|r| (Direction::Ingress, r))
        .chain(np.egress.iter().map(|r| (Direction::Egress, r)));
    let mut index = [0usize; 2];
    for (direction, r) in sides {
        let d = usize::from(direction == Direction::Egress);
        let path = format!(
            "spec.{}[{}]",
            if d == 0 { "ingress" } else { "egress" },
            index[d]
        );
        index[d] += 1;
        let ports: Vec<PortC> = r.ports.iter().map(port).collect();
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
        if r.peers.is_empty() {
            // No peers: every identity.
            rules.push(rule(L3::Selectors(vec![Arc::new(Sel::default())])));
            counts[d] += 1;
        } else {
            for p in &r.peers {
                rules.push(rule(peer(ns, p)));
                counts[d] += 1;
            }
        }
    }
    let types = np.policy_types;
    let empty = |direction| CRule {
        path: "spec.policyTypes".to_string(),
        direction,
        deny: false,
        l3: L3::Absent,
        has_l4: false,
        ports: Vec::new(),
        icmps: Vec::new(),
    };
    if counts[0] == 0 && (types.ingress || !types.egress) {
        rules.push(empty(Direction::Ingress));
        counts[0] = 1;
    }
    if counts[1] == 0 && types.egress {
        rules.push(empty(Direction::Egress));
        counts[1] = 1;
    }
    let mut subject = Sel::k8s(&endpoint_selector(&np.pod_selector), "");
    subject.add_match(SOURCE_K8S, NAMESPACE_KEY, ns);
    CPolicy {
        object: format!("NetworkPolicy {ns}/{}", np.name),
        intents: RuleIntents::from_annotations(&np.annotations),
        subject: Some(Arc::new(subject)),
        default_deny: [counts[0] > 0, counts[1] > 0],
        rules,
    }
}

/// A label selector as Cilium's endpoint selector (keys still without source).
fn endpoint_selector(s: &kube::LabelSelector) -> EndpointSelector {
    EndpointSelector {
        match_labels: s.match_labels.clone(),
        match_expressions: s
            .match_expressions
            .iter()
            .map(|e| SelectorRequirement {
                key: e.key.clone(),
                operator: match e.operator {
                    Operator::In => SelectorOperator::In,
                    Operator::NotIn => SelectorOperator::NotIn,
                    Operator::Exists => SelectorOperator::Exists,
                    Operator::DoesNotExist => SelectorOperator::DoesNotExist,
                },
                values: e.values.clone(),
            })
            .collect(),
    }
}

/// One peer's L3 (the reader refused a peer mixing selectors and `ipBlock`, which the
/// agent does not support either).
fn peer(ns: &str, p: &kube::Peer) -> L3 {
    match p {
        kube::Peer::IpBlock { cidr, except } => L3::Cidrs(vec![CidrC {
            net: *cidr,
            except: except.clone(),
        }]),
        kube::Peer::Pods {
            namespace_selector: Some(nss),
            pod_selector: pods,
        } => {
            let mut sel = Sel::k8s(&endpoint_selector(nss), NAMESPACE_LABELS_PREFIX);
            if nss.is_empty() {
                sel.add_exists(SOURCE_K8S, NAMESPACE_KEY);
            }
            if let Some(pods) = pods {
                sel.reqs.extend(Sel::k8s(&endpoint_selector(pods), "").reqs);
            }
            L3::Selectors(vec![Arc::new(sel)])
        }
        kube::Peer::Pods {
            namespace_selector: None,
            pod_selector,
        } => {
            let mut sel = Sel::k8s(
                &endpoint_selector(
                    pod_selector
                        .as_ref()
                        .unwrap_or(&kube::LabelSelector::default()),
                ),
                "",
            );
            sel.add_match(SOURCE_K8S, NAMESPACE_KEY, ns);
            L3::Selectors(vec![Arc::new(sel)])
        }
    }
}

/// One port: a port without number is port 0 (every port of the protocol).
fn port(p: &kube::Port) -> PortC {
    let (port, end) = match &p.port {
        PortMatch::All => (PortValue::Number(0), None),
        PortMatch::Range(a, b) => (PortValue::Number(*a), (b > a).then_some(*b)),
        PortMatch::Named(name) => (PortValue::Name(name.clone()), None),
    };
    let protocol = match p.protocol {
        Protocol::Tcp => L4Protocol::Tcp,
        Protocol::Udp => L4Protocol::Udp,
        Protocol::Sctp => L4Protocol::Sctp,
    };
    PortC::new(Some(protocol), port, end)
}
