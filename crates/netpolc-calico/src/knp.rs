//! Plain Kubernetes `networking.k8s.io/v1` NetworkPolicies, evaluated the way Calico
//! enforces them: converted as libcalico-go's Kubernetes converter does (semantics.md
//! §1.5) into a Calico NetworkPolicy in tier `default` at order 1000.
//!
//! - The subject selector is `projectcalico.org/orchestrator == 'k8s'` ANDed with the
//!   pod selector's terms (`matchLabels` as `==`, `In`/`NotIn` as `in`/`not in`,
//!   `Exists`/`DoesNotExist` as `has`/`!has`).
//! - Each peer becomes its own Allow rule; pod selectors carry the orchestrator term,
//!   namespace selectors do not; an empty namespace selector is `all()`; a peer without
//!   a namespace selector stays in the policy's namespace; `ipBlock` becomes
//!   `nets`/`notNets`, which match pod addresses too.
//! - Ports are grouped into one rule per protocol (TCP when unset); a port entry without
//!   a number means every port of its protocol; no ports means every protocol; `endPort`
//!   makes a range.
//! - `policyTypes`, when absent, is first defaulted as the Kubernetes API server does
//!   (`Ingress`, plus `Egress` when there are egress rules), because Calico only ever
//!   sees stored objects.
//!
//! The object is read and checked by the shared reader (`netpolc_kube::networkpolicy`),
//! like on the other back ends: what the API server refuses is refused here too.
//!
//! Decisions name the Kubernetes object (`NetworkPolicy namespace/name`) and its rule
//! (`spec.ingress[0]`); ties in order are broken by Calico's converted name
//! `knp.default.<name>`.

use crate::eval::{eq, CompiledRule, Endpoints, Entity, Namespaces, Policy, RuleEnd};
use crate::selector::{Expr, Selector};
use crate::types::{Action, PortValue};
use crate::{DEFAULT_TIER, ORCHESTRATOR_LABEL};
use netpolc_ir::provenance::RuleIntents;
use netpolc_kube::networkpolicy::{self as kube, LabelSelector, Operator, PortMatch, Protocol};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// `networking.k8s.io/v1`.
pub(crate) const API_VERSION: &str = kube::API_VERSION;

/// The Calico terms of a selector (matchLabels sorted, then matchExpressions).
fn terms(sel: &LabelSelector) -> Vec<Expr> {
    let mut out: Vec<Expr> = sel.match_labels.iter().map(|(k, v)| eq(k, v)).collect();
    for r in &sel.match_expressions {
        let values = || r.values.iter().cloned().collect::<BTreeSet<String>>();
        out.push(match r.operator {
            Operator::In => Expr::In(r.key.clone(), values()),
            Operator::NotIn => Expr::NotIn(r.key.clone(), values()),
            Operator::Exists => Expr::Has(r.key.clone()),
            Operator::DoesNotExist => Expr::Not(Box::new(Expr::Has(r.key.clone()))),
        });
    }
    out
}

fn and(mut terms: Vec<Expr>) -> Selector {
    Selector::from_expr(match terms.len() {
        0 => Expr::All,
        1 => terms.remove(0),
        _ => Expr::And(terms),
    })
}

/// A pod selector: the orchestrator term first.
fn pod_selector(sel: Option<&LabelSelector>) -> Selector {
    let mut out = vec![eq(ORCHESTRATOR_LABEL, "k8s")];
    if let Some(sel) = sel {
        out.extend(terms(sel));
    }
    and(out)
}

fn entity(peer: &kube::Peer, namespace: &str) -> Entity {
    match peer {
        kube::Peer::IpBlock { cidr, except } => Entity {
            nets: vec![*cidr],
            not_nets: except.clone(),
            ..Entity::default()
        },
        kube::Peer::Pods {
            namespace_selector,
            pod_selector: pods,
        } => {
            let namespaces = match namespace_selector {
                None => Namespaces::Own(namespace.to_string()),
                Some(s) if s.is_empty() => Namespaces::Matching(Selector::all()),
                Some(s) => Namespaces::Matching(and(terms(s))),
            };
            Entity {
                endpoints: Some(Endpoints {
                    namespaces,
                    selector: Some(pod_selector(pods.as_ref())),
                }),
                ..Entity::default()
            }
        }
    }
}

/// Protocol → `None` for every port, or the listed ports; the key `None` is "every
/// protocol" (no ports at all).
fn protocol_ports(ports: &[kube::Port]) -> BTreeMap<Option<Protocol>, Option<Vec<PortValue>>> {
    let mut out: BTreeMap<Option<Protocol>, Option<Vec<PortValue>>> = BTreeMap::new();
    if ports.is_empty() {
        out.insert(None, None);
        return out;
    }
    for p in ports {
        let value = match &p.port {
            PortMatch::All => None,
            PortMatch::Range(a, b) => Some(PortValue::Range(*a, *b)),
            PortMatch::Named(name) => Some(PortValue::Named(name.clone())),
        };
        match value {
            // A port entry without a number: every port of the protocol.
            None => {
                out.insert(Some(p.protocol), None);
            }
            // An earlier entry without a number already allows every port.
            Some(v) => {
                if let Some(list) = out
                    .entry(Some(p.protocol))
                    .or_insert_with(|| Some(Vec::new()))
                {
                    list.push(v);
                }
            }
        }
    }
    out
}

/// Reads (with the shared reader, `netpolc_kube::networkpolicy`), converts and compiles
/// one Kubernetes NetworkPolicy.
pub(crate) fn compile(object: &Value) -> Result<Policy, String> {
    let np = kube::read(object)?;
    let namespace = &np.namespace;
    let mut ingress = Vec::new();
    for (i, r) in np.ingress.iter().enumerate() {
        let path = format!("spec.ingress[{i}]");
        ingress.extend(rules(r, &path, namespace, true));
    }
    let mut egress = Vec::new();
    for (i, r) in np.egress.iter().enumerate() {
        let path = format!("spec.egress[{i}]");
        egress.extend(rules(r, &path, namespace, false));
    }
    Ok(Policy {
        display: format!("NetworkPolicy {namespace}/{}", np.name),
        sort_name: format!("{namespace}/knp.default.{}", np.name),
        tier: DEFAULT_TIER.to_string(),
        order: Some(1000.0),
        namespace: Some(namespace.clone()),
        selector: pod_selector(Some(&np.pod_selector)),
        namespace_selector: None,
        ingress_type: np.policy_types.ingress,
        egress_type: np.policy_types.egress,
        ingress,
        egress,
        intents: RuleIntents::from_annotations(&np.annotations),
        hosts_only: false,
    })
}

/// One Calico rule per protocol and peer, in that order, as the converter emits them.
fn rules(rule: &kube::Rule, path: &str, namespace: &str, ingress: bool) -> Vec<CompiledRule> {
    let by_protocol = protocol_ports(&rule.ports);
    let peers: Vec<Option<&kube::Peer>> = if rule.peers.is_empty() {
        vec![None]
    } else {
        rule.peers.iter().map(Some).collect()
    };
    let mut out = Vec::new();
    for (protocol, list) in &by_protocol {
        for peer in &peers {
            let remote = peer.map_or_else(Entity::default, |p| entity(p, namespace));
            let port_list = list.clone().unwrap_or_default();
            // Ports are always on the destination; the remote side is the source of an
            // ingress rule and the destination of an egress rule.
            let (source, destination) = if ingress {
                (
                    remote,
                    Entity {
                        ports: port_list,
                        ..Entity::default()
                    },
                )
            } else {
                (
                    Entity::default(),
                    Entity {
                        ports: port_list,
                        ..remote
                    },
                )
            };
            out.push(CompiledRule {
                action: Action::Allow,
                protocol: protocol.map(|p| match p {
                    Protocol::Tcp => 6,
                    Protocol::Udp => 17,
                    Protocol::Sctp => 132,
                }),
                not_protocol: None,
                icmp: false,
                ip_version: None,
                source: RuleEnd::new(source),
                destination: RuleEnd::new(destination),
                path: path.to_string(),
            });
        }
    }
    out
}
