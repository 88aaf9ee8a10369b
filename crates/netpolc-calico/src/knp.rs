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
//! Decisions name the Kubernetes object (`NetworkPolicy namespace/name`) and its rule
//! (`spec.ingress[0]`); ties in order are broken by Calico's converted name
//! `knp.default.<name>`.

use crate::eval::{eq, CompiledRule, Endpoints, Entity, Namespaces, Policy};
use crate::selector::{Expr, Selector};
use crate::types::{Action, ObjectMeta, PolicyType, Port, PortValue};
use crate::validate::parse_cidr;
use crate::{DEFAULT_TIER, ORCHESTRATOR_LABEL};
use netpolc_ir::provenance::RuleIntents;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// `networking.k8s.io/v1`.
pub(crate) const API_VERSION: &str = "networking.k8s.io/v1";

/// `null` reads as the default (Kubernetes dumps write `ingress: null`).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KubeNetworkPolicy {
    #[serde(rename = "apiVersion")]
    _api_version: String,
    #[serde(rename = "kind")]
    _kind: String,
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Spec,
    #[serde(default, rename = "status")]
    _status: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Spec {
    #[serde(default, deserialize_with = "nullable")]
    pod_selector: LabelSelector,
    #[serde(default)]
    policy_types: Option<Vec<PolicyType>>,
    #[serde(default, deserialize_with = "nullable")]
    ingress: Vec<IngressRule>,
    #[serde(default, deserialize_with = "nullable")]
    egress: Vec<EgressRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IngressRule {
    #[serde(default, deserialize_with = "nullable")]
    from: Vec<Peer>,
    #[serde(default, deserialize_with = "nullable")]
    ports: Vec<KubePort>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EgressRule {
    #[serde(default, deserialize_with = "nullable")]
    to: Vec<Peer>,
    #[serde(default, deserialize_with = "nullable")]
    ports: Vec<KubePort>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Peer {
    #[serde(default)]
    pod_selector: Option<LabelSelector>,
    #[serde(default)]
    namespace_selector: Option<LabelSelector>,
    #[serde(default)]
    ip_block: Option<IpBlock>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IpBlock {
    cidr: String,
    #[serde(default, deserialize_with = "nullable")]
    except: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KubePort {
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    port: Option<Port>,
    #[serde(default)]
    end_port: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LabelSelector {
    #[serde(default, deserialize_with = "nullable")]
    match_labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nullable")]
    match_expressions: Vec<Requirement>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Requirement {
    key: String,
    operator: String,
    #[serde(default, deserialize_with = "nullable")]
    values: Vec<String>,
}

impl LabelSelector {
    fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// The Calico terms of the selector (matchLabels sorted, then matchExpressions).
    fn terms(&self, path: &str) -> Result<Vec<Expr>, String> {
        let mut out: Vec<Expr> = self.match_labels.iter().map(|(k, v)| eq(k, v)).collect();
        for (i, r) in self.match_expressions.iter().enumerate() {
            let values: BTreeSet<String> = r.values.iter().cloned().collect();
            let needs_values = |values: BTreeSet<String>| {
                if values.is_empty() {
                    Err(format!(
                        "{path}.matchExpressions[{i}]: `{}` needs values",
                        r.operator
                    ))
                } else {
                    Ok(values)
                }
            };
            out.push(match r.operator.as_str() {
                "In" => Expr::In(r.key.clone(), needs_values(values)?),
                "NotIn" => Expr::NotIn(r.key.clone(), needs_values(values)?),
                "Exists" => Expr::Has(r.key.clone()),
                "DoesNotExist" => Expr::Not(Box::new(Expr::Has(r.key.clone()))),
                other => {
                    return Err(format!(
                        "{path}.matchExpressions[{i}]: unknown operator `{other}`"
                    ))
                }
            });
        }
        Ok(out)
    }
}

fn and(mut terms: Vec<Expr>) -> Selector {
    Selector::from_expr(match terms.len() {
        0 => Expr::All,
        1 => terms.remove(0),
        _ => Expr::And(terms),
    })
}

/// A pod selector: the orchestrator term first.
fn pod_selector(sel: Option<&LabelSelector>, path: &str) -> Result<Selector, String> {
    let mut terms = vec![eq(ORCHESTRATOR_LABEL, "k8s")];
    if let Some(sel) = sel {
        terms.extend(sel.terms(path)?);
    }
    Ok(and(terms))
}

fn entity(peer: &Peer, path: &str, namespace: &str) -> Result<Entity, String> {
    if let Some(block) = &peer.ip_block {
        let net = |s: &str, p: &str| {
            parse_cidr(s)
                .map(|n| n.trunc())
                .ok_or_else(|| format!("{p}: `{s}` is not a CIDR"))
        };
        return Ok(Entity {
            nets: vec![net(&block.cidr, &format!("{path}.ipBlock.cidr"))?],
            not_nets: block
                .except
                .iter()
                .enumerate()
                .map(|(i, e)| net(e, &format!("{path}.ipBlock.except[{i}]")))
                .collect::<Result<_, _>>()?,
            ..Entity::default()
        });
    }
    let selector = pod_selector(peer.pod_selector.as_ref(), &format!("{path}.podSelector"))?;
    let namespaces = match &peer.namespace_selector {
        None => Namespaces::Own(namespace.to_string()),
        Some(s) if s.is_empty() => Namespaces::Matching(Selector::all()),
        Some(s) => Namespaces::Matching(and(s.terms(&format!("{path}.namespaceSelector"))?)),
    };
    Ok(Entity {
        endpoints: Some(Endpoints {
            namespaces,
            selector: Some(selector),
        }),
        ..Entity::default()
    })
}

/// Protocol name → `None` for every port, or the listed ports; the key `""` is "every
/// protocol" (no ports at all).
fn protocol_ports(
    ports: &[KubePort],
    path: &str,
) -> Result<BTreeMap<String, Option<Vec<PortValue>>>, String> {
    let mut out: BTreeMap<String, Option<Vec<PortValue>>> = BTreeMap::new();
    if ports.is_empty() {
        out.insert(String::new(), None);
        return Ok(out);
    }
    for (i, p) in ports.iter().enumerate() {
        let at = format!("{path}.ports[{i}]");
        let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
        if !matches!(protocol.as_str(), "TCP" | "UDP" | "SCTP") {
            return Err(format!(
                "{at}.protocol: `{protocol}` is not TCP, UDP or SCTP"
            ));
        }
        let value = match (&p.port, p.end_port) {
            (None, None) => None,
            (None, Some(_)) => return Err(format!("{at}.endPort: needs a numeric `port`")),
            (Some(port), None) => Some(port.value().map_err(|e| format!("{at}.port: {e}"))?),
            (Some(port), Some(end)) => match port.value() {
                Ok(PortValue::Range(a, a2)) if a == a2 => {
                    let end = u16::try_from(end).ok().filter(|e| *e >= a).ok_or_else(|| {
                        format!("{at}.endPort: `{end}` is not between `port` and 65535")
                    })?;
                    Some(PortValue::Range(a, end))
                }
                Ok(_) => return Err(format!("{at}.endPort: needs a numeric `port`")),
                Err(e) => return Err(format!("{at}.port: {e}")),
            },
        };
        match value {
            // A port entry without a number: every port of the protocol.
            None => {
                out.insert(protocol, None);
            }
            // An earlier entry without a number already allows every port.
            Some(v) => {
                if let Some(list) = out.entry(protocol).or_insert_with(|| Some(Vec::new())) {
                    list.push(v);
                }
            }
        }
    }
    Ok(out)
}

/// Converts and compiles one Kubernetes NetworkPolicy.
pub(crate) fn compile(object: &Value) -> Result<Policy, String> {
    let np: KubeNetworkPolicy =
        serde_json::from_value(object.clone()).map_err(|e| e.to_string())?;
    let name = np.metadata.name.clone();
    let Some(namespace) = np.metadata.namespace.clone() else {
        return Err("metadata.namespace is required to evaluate a NetworkPolicy".into());
    };
    let spec = &np.spec;
    let (ingress_type, egress_type) = match &spec.policy_types {
        Some(t) if !t.is_empty() => (
            t.contains(&PolicyType::Ingress),
            t.contains(&PolicyType::Egress),
        ),
        _ => (true, !spec.egress.is_empty()),
    };
    let mut ingress = Vec::new();
    for (i, r) in spec.ingress.iter().enumerate() {
        let path = format!("spec.ingress[{i}]");
        ingress.extend(rules(&r.from, &r.ports, &path, &namespace, true)?);
    }
    let mut egress = Vec::new();
    for (i, r) in spec.egress.iter().enumerate() {
        let path = format!("spec.egress[{i}]");
        egress.extend(rules(&r.to, &r.ports, &path, &namespace, false)?);
    }
    Ok(Policy {
        display: format!("NetworkPolicy {namespace}/{name}"),
        sort_name: format!("{namespace}/knp.default.{name}"),
        tier: DEFAULT_TIER.to_string(),
        order: Some(1000.0),
        namespace: Some(namespace),
        selector: pod_selector(Some(&spec.pod_selector), "spec.podSelector")?,
        namespace_selector: None,
        ingress_type,
        egress_type,
        ingress,
        egress,
        intents: RuleIntents::from_annotations(&np.metadata.annotations),
        hosts_only: false,
    })
}

/// One Calico rule per protocol and peer, in that order, as the converter emits them.
fn rules(
    peers: &[Peer],
    ports: &[KubePort],
    path: &str,
    namespace: &str,
    ingress: bool,
) -> Result<Vec<CompiledRule>, String> {
    let by_protocol = protocol_ports(ports, path)?;
    let field = if ingress { "from" } else { "to" };
    let peers: Vec<Option<(usize, &Peer)>> = if peers.is_empty() {
        vec![None]
    } else {
        peers.iter().enumerate().map(Some).collect()
    };
    let mut out = Vec::new();
    for (protocol, list) in &by_protocol {
        for peer in &peers {
            let remote = match peer {
                Some((j, p)) => entity(p, &format!("{path}.{field}[{j}]"), namespace)?,
                None => Entity::default(),
            };
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
                protocol: match protocol.as_str() {
                    "" => None,
                    "TCP" => Some(6),
                    "UDP" => Some(17),
                    _ => Some(132),
                },
                not_protocol: None,
                icmp: false,
                ip_version: None,
                source,
                destination,
                path: path.to_string(),
            });
        }
    }
    Ok(out)
}
