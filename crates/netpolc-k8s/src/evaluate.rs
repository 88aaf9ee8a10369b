//! An evaluator of `networking.k8s.io/v1` NetworkPolicy manifests on a [`ClusterModel`],
//! with the semantics of Kubernetes (semantics.md §2.1, §3.1, §4.1, §4.2, §5).
//!
//! - A pod is isolated for a direction iff a policy of its namespace selects it and has
//!   that direction in its (defaulted) `policyTypes`; an unisolated side is
//!   [`Side::Open`]. When `policyTypes` is absent or empty, it defaults to `Ingress`, plus
//!   `Egress` iff `spec.egress` has at least one rule (the API server's defaulting).
//! - An isolated side allows a flow iff some rule of some selecting policy, for that
//!   direction, matches it (a union; order does not matter). The decision names the first
//!   matching rule in (namespace, name, rule index) order.
//! - A rule matches iff one of its peers matches (absent or empty `from`/`to`: every
//!   peer) and one of its ports matches (absent or empty `ports`: every port and
//!   protocol). In one peer, `podSelector` and `namespaceSelector` are ANDed; a
//!   `podSelector` alone means the policy's namespace; a `namespaceSelector` alone means
//!   every pod of the matching namespaces. Port protocol defaults to TCP; `endPort` makes
//!   a range; a named port is resolved on the destination pod (name and protocol).
//! - `ipBlock` matches an address in `cidr` and in none of the `except` holes, *whatever
//!   the address is*: external addresses and pod IPs alike. Kubernetes leaves matching of
//!   pod IPs undefined; this is what common implementations such as Calico do (Cilium
//!   does not match pod IPs with `ipBlock`).
//! - External endpoints have no side to enforce: [`Side::NotApplicable`].
//!
//! Traffic from a pod's own node and a pod's traffic to itself are not modelled.

use ipnet::IpNet;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netpolc_ir::model::{
    name_scope, ClusterModel, Decision, Endpoint, Evaluator, Flow, Mentions, Pod, PreparedSide,
    Side,
};
use netpolc_ir::provenance::RuleIntents;
use netpolc_ir::{Direction, Protocol, Requirement, NAMESPACE_NAME_LABEL};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Parses manifests into an evaluator of Kubernetes NetworkPolicy semantics.
///
/// Accepts `networking.k8s.io/v1` `NetworkPolicy` objects, and `List` /
/// `NetworkPolicyList` objects holding them (as `kubectl get -o yaml` prints). Every
/// object needs `metadata.name` and `metadata.namespace`.
///
/// # Errors
/// A message naming the object and field when an object is of another kind, does not
/// deserialise into `k8s_openapi`'s `NetworkPolicy`, is duplicated, or holds something
/// whose meaning is undefined (an unknown protocol or selector operator, a peer with no
/// selector, an unparsable CIDR, a port out of range, `endPort` without a numeric port).
pub fn evaluator(objects: &[Value]) -> Result<impl Evaluator + std::fmt::Debug, String> {
    let mut flat = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        flatten(object, &format!("object {i}"), &mut flat)?;
    }
    let mut by_namespace: BTreeMap<String, BTreeMap<String, Policy>> = BTreeMap::new();
    for (what, object) in flat {
        let policy = Policy::parse(&what, object)?;
        let slot = by_namespace.entry(policy.namespace.clone()).or_default();
        if slot.contains_key(&policy.name) {
            return Err(format!(
                "{what}: duplicate NetworkPolicy `{}/{}`",
                policy.namespace, policy.name
            ));
        }
        slot.insert(policy.name.clone(), policy);
    }
    Ok(K8sEvaluator {
        policies: by_namespace
            .into_iter()
            .map(|(ns, by_name)| (ns, by_name.into_values().collect()))
            .collect(),
    })
}

/// Expands lists; checks the kind of everything else.
fn flatten<'v>(
    object: &'v Value,
    what: &str,
    out: &mut Vec<(String, &'v Value)>,
) -> Result<(), String> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    match (api_version, kind) {
        ("networking.k8s.io/v1", "NetworkPolicy") => {
            out.push((what.to_string(), object));
            Ok(())
        }
        ("v1", "List") | ("networking.k8s.io/v1", "NetworkPolicyList") => {
            let items = object
                .get("items")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("{what}: `{kind}` without an `items` list"))?;
            for (i, item) in items.iter().enumerate() {
                flatten(item, &format!("{what} items[{i}]"), out)?;
            }
            Ok(())
        }
        _ => Err(format!(
            "{what}: expected a `networking.k8s.io/v1` `NetworkPolicy`, found apiVersion \
             `{api_version}` kind `{kind}`"
        )),
    }
}

/// The evaluator: policies by namespace, each list sorted by name.
#[derive(Debug)]
struct K8sEvaluator {
    policies: BTreeMap<String, Vec<Policy>>,
}

/// A parsed NetworkPolicy.
#[derive(Debug)]
struct Policy {
    namespace: String,
    name: String,
    /// Which intent each rule comes from (`netpolc.dev/intent`, `netpolc.dev/rules`).
    intents: RuleIntents,
    subject: Selector,
    /// Rules per direction; `None` when the direction is not in the effective
    /// `policyTypes` (the policy neither isolates nor allows in that direction).
    ingress: Option<Vec<RuleM>>,
    egress: Option<Vec<RuleM>>,
}

/// A conjunction of label requirements.
#[derive(Debug, Default)]
struct Selector(Vec<Requirement>);

impl Selector {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| r.matches(labels))
    }
}

#[derive(Debug)]
struct RuleM {
    /// `None`: every peer.
    peers: Option<Vec<PeerM>>,
    /// `None`: every port of every protocol.
    ports: Option<Vec<PortM>>,
}

#[derive(Debug)]
enum PeerM {
    Pods {
        /// `None`: the policy's namespace.
        namespaces: Option<Selector>,
        /// `None`: every pod.
        pods: Option<Selector>,
    },
    Block {
        net: IpNet,
        except: Vec<IpNet>,
    },
}

#[derive(Debug)]
struct PortM {
    protocol: Protocol,
    port: PortSel,
}

#[derive(Debug)]
enum PortSel {
    All,
    Range(u16, u16),
    Named(String),
}

impl Policy {
    fn parse(what: &str, object: &Value) -> Result<Policy, String> {
        if let Some(spec) = object.get("spec") {
            known_fields(what, "spec", spec, &SPEC)?;
        }
        let np: NetworkPolicy = serde_json::from_value(object.clone())
            .map_err(|e| format!("{what}: not a valid NetworkPolicy: {e}"))?;
        let name = np
            .metadata
            .name
            .clone()
            .ok_or_else(|| format!("{what}: metadata.name is required"))?;
        let what = format!("NetworkPolicy `{name}`");
        let namespace = np
            .metadata
            .namespace
            .clone()
            .ok_or_else(|| format!("{what}: metadata.namespace is required to evaluate it"))?;
        let what = format!("NetworkPolicy `{namespace}/{name}`");
        let intents = np
            .metadata
            .annotations
            .as_ref()
            .map(RuleIntents::from_annotations)
            .unwrap_or_default();
        let spec = np.spec.unwrap_or_default();
        let subject = selector(&what, "spec.podSelector", spec.pod_selector.as_ref())?;
        let egress_rules = spec.egress.as_deref().unwrap_or_default();
        let types: BTreeSet<String> = match spec.policy_types.as_deref() {
            Some(t) if !t.is_empty() => {
                for (i, t) in t.iter().enumerate() {
                    if t != "Ingress" && t != "Egress" {
                        return Err(format!(
                            "{what}: spec.policyTypes[{i}]: unknown policy type `{t}`"
                        ));
                    }
                }
                t.iter().cloned().collect()
            }
            // The API server's defaulting: Ingress always, Egress iff there are egress rules.
            _ => {
                let mut d = BTreeSet::from(["Ingress".to_string()]);
                if !egress_rules.is_empty() {
                    d.insert("Egress".to_string());
                }
                d
            }
        };
        let ingress = if types.contains("Ingress") {
            let rules = spec.ingress.as_deref().unwrap_or_default();
            let mut out = Vec::new();
            for (i, r) in rules.iter().enumerate() {
                let path = format!("spec.ingress[{i}]");
                out.push(rule(
                    &what,
                    &path,
                    "from",
                    r.from.as_deref(),
                    r.ports.as_deref(),
                )?);
            }
            Some(out)
        } else {
            None
        };
        let egress = if types.contains("Egress") {
            let mut out = Vec::new();
            for (i, r) in egress_rules.iter().enumerate() {
                let path = format!("spec.egress[{i}]");
                out.push(rule(
                    &what,
                    &path,
                    "to",
                    r.to.as_deref(),
                    r.ports.as_deref(),
                )?);
            }
            Some(out)
        } else {
            None
        };
        Ok(Policy {
            namespace,
            name,
            intents,
            subject,
            ingress,
            egress,
        })
    }

    fn rules(&self, direction: Direction) -> Option<&[RuleM]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }
}

fn rule(
    what: &str,
    path: &str,
    peer_field: &str,
    peers: Option<&[NetworkPolicyPeer]>,
    ports: Option<&[NetworkPolicyPort]>,
) -> Result<RuleM, String> {
    let peers = match peers {
        None | Some([]) => None,
        Some(list) => {
            let mut out = Vec::new();
            for (i, p) in list.iter().enumerate() {
                out.push(peer(what, &format!("{path}.{peer_field}[{i}]"), p)?);
            }
            Some(out)
        }
    };
    let ports = match ports {
        None | Some([]) => None,
        Some(list) => {
            let mut out = Vec::new();
            for (i, p) in list.iter().enumerate() {
                out.push(port(what, &format!("{path}.ports[{i}]"), p)?);
            }
            Some(out)
        }
    };
    Ok(RuleM { peers, ports })
}

fn peer(what: &str, path: &str, p: &NetworkPolicyPeer) -> Result<PeerM, String> {
    match (&p.ip_block, &p.pod_selector, &p.namespace_selector) {
        (Some(block), None, None) => {
            let net = parse_net(what, &format!("{path}.ipBlock.cidr"), &block.cidr)?;
            let mut except = Vec::new();
            for (i, e) in block
                .except
                .as_deref()
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                except.push(parse_net(what, &format!("{path}.ipBlock.except[{i}]"), e)?);
            }
            Ok(PeerM::Block { net, except })
        }
        (Some(_), _, _) => Err(format!(
            "{what}: {path}: `ipBlock` cannot be combined with a selector"
        )),
        (None, None, None) => Err(format!(
            "{what}: {path}: a peer needs a selector or an ipBlock"
        )),
        (None, pods, namespaces) => Ok(PeerM::Pods {
            namespaces: namespaces
                .as_ref()
                .map(|s| selector(what, &format!("{path}.namespaceSelector"), Some(s)))
                .transpose()?,
            pods: pods
                .as_ref()
                .map(|s| selector(what, &format!("{path}.podSelector"), Some(s)))
                .transpose()?,
        }),
    }
}

/// The fields of a NetworkPolicy's spec, as `(field, what it holds)`: a typo (`ingres`)
/// is an error rather than silently nothing, as on the API server with strict field
/// validation (and in the Calico and Cilium readings).
#[derive(Clone, Copy)]
enum Shape {
    /// An object with these fields.
    Object(&'static [(&'static str, Shape)]),
    /// A list of one shape.
    List(&'static Shape),
    /// A scalar, or a map of free keys (`matchLabels`).
    Leaf,
}

const SELECTOR: Shape = Shape::Object(&[
    ("matchLabels", Shape::Leaf),
    (
        "matchExpressions",
        Shape::List(&Shape::Object(&[
            ("key", Shape::Leaf),
            ("operator", Shape::Leaf),
            ("values", Shape::Leaf),
        ])),
    ),
]);
const PEER: Shape = Shape::Object(&[
    ("podSelector", SELECTOR),
    ("namespaceSelector", SELECTOR),
    (
        "ipBlock",
        Shape::Object(&[("cidr", Shape::Leaf), ("except", Shape::Leaf)]),
    ),
]);
const PORT: Shape = Shape::Object(&[
    ("protocol", Shape::Leaf),
    ("port", Shape::Leaf),
    ("endPort", Shape::Leaf),
]);
const SPEC: Shape = Shape::Object(&[
    ("podSelector", SELECTOR),
    ("policyTypes", Shape::Leaf),
    (
        "ingress",
        Shape::List(&Shape::Object(&[
            ("from", Shape::List(&PEER)),
            ("ports", Shape::List(&PORT)),
        ])),
    ),
    (
        "egress",
        Shape::List(&Shape::Object(&[
            ("to", Shape::List(&PEER)),
            ("ports", Shape::List(&PORT)),
        ])),
    ),
]);

/// An error naming the first field of `value` (at `path`) that `shape` does not have.
fn known_fields(what: &str, path: &str, value: &Value, shape: &Shape) -> Result<(), String> {
    match (shape, value) {
        (Shape::Object(fields), Value::Object(map)) => {
            for (key, v) in map {
                match fields.iter().find(|(name, _)| name == key) {
                    Some((_, inner)) => known_fields(what, &format!("{path}.{key}"), v, inner)?,
                    None => {
                        let known: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                        return Err(format!(
                            "{what}: {path}: unknown field `{key}` (expected one of {})",
                            known.join(", ")
                        ));
                    }
                }
            }
            Ok(())
        }
        (Shape::List(inner), Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                known_fields(what, &format!("{path}[{i}]"), v, inner)?;
            }
            Ok(())
        }
        // Wrong types are reported by the typed reading that follows.
        _ => Ok(()),
    }
}

fn parse_net(what: &str, path: &str, text: &str) -> Result<IpNet, String> {
    // Kubernetes masks host bits when it parses a CIDR; so does matching here.
    text.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| format!("{what}: {path}: invalid CIDR `{text}`"))
}

fn port(what: &str, path: &str, p: &NetworkPolicyPort) -> Result<PortM, String> {
    let protocol = match p.protocol.as_deref() {
        None | Some("TCP") => Protocol::Tcp,
        Some("UDP") => Protocol::Udp,
        Some("SCTP") => Protocol::Sctp,
        Some(other) => {
            return Err(format!(
                "{what}: {path}.protocol: unsupported protocol `{other}` (TCP, UDP or SCTP)"
            ))
        }
    };
    let number = |field: &str, n: i32| {
        u16::try_from(n)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("{what}: {path}.{field}: port `{n}` is not in 1-65535"))
    };
    let port = match (&p.port, p.end_port) {
        (None, None) => PortSel::All,
        (None, Some(_)) => {
            return Err(format!("{what}: {path}.endPort: needs a numeric `port`"));
        }
        (Some(IntOrString::Int(n)), None) => {
            let n = number("port", *n)?;
            PortSel::Range(n, n)
        }
        (Some(IntOrString::Int(n)), Some(e)) => {
            let (n, e) = (number("port", *n)?, number("endPort", e)?);
            if e < n {
                return Err(format!(
                    "{what}: {path}.endPort: `{e}` is below `port` `{n}`"
                ));
            }
            PortSel::Range(n, e)
        }
        (Some(IntOrString::String(name)), None) => PortSel::Named(name.clone()),
        (Some(IntOrString::String(_)), Some(_)) => {
            return Err(format!(
                "{what}: {path}.endPort: not allowed with a named port"
            ));
        }
    };
    Ok(PortM { protocol, port })
}

fn selector(what: &str, path: &str, s: Option<&LabelSelector>) -> Result<Selector, String> {
    let Some(s) = s else {
        return Ok(Selector::default());
    };
    let mut reqs: Vec<Requirement> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| Requirement::is_in(k.clone(), [v.clone()]))
        .collect();
    for (i, e) in s.match_expressions.iter().flatten().enumerate() {
        let values = e.values.iter().flatten().cloned();
        reqs.push(match e.operator.as_str() {
            "In" => Requirement::is_in(e.key.clone(), values),
            "NotIn" => Requirement::not_in(e.key.clone(), values),
            "Exists" => Requirement::exists(e.key.clone()),
            "DoesNotExist" => Requirement::does_not_exist(e.key.clone()),
            other => {
                return Err(format!(
                    "{what}: {path}.matchExpressions[{i}].operator: unknown operator `{other}`"
                ))
            }
        });
    }
    Ok(Selector(reqs))
}

impl K8sEvaluator {
    fn side(&self, model: &ClusterModel, flow: &Flow, direction: Direction) -> Side {
        let (me, other) = match direction {
            Direction::Egress => (flow.src, flow.dst),
            Direction::Ingress => (flow.dst, flow.src),
        };
        let Endpoint::Pod(i) = me else {
            return Side::NotApplicable;
        };
        let Some(pod) = model.pods.get(i) else {
            return Side::NotApplicable;
        };
        let selecting: Vec<&Policy> = self
            .policies
            .get(&pod.namespace)
            .into_iter()
            .flatten()
            .filter(|p| p.rules(direction).is_some() && p.subject.matches(&pod.labels))
            .collect();
        if selecting.is_empty() {
            return Side::Open;
        }
        let field = match direction {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        };
        for p in &selecting {
            for (index, r) in p.rules(direction).unwrap_or_default().iter().enumerate() {
                if rule_matches(model, p, r, &other, flow) {
                    let rule = format!("spec.{field}[{index}]");
                    return Side::Allowed(Decision {
                        object: format!("NetworkPolicy {}/{}", p.namespace, p.name),
                        intent: p.intents.intent(&rule),
                        rule,
                    });
                }
            }
        }
        Side::DefaultDeny(
            selecting
                .iter()
                .map(|p| format!("NetworkPolicy {}/{}", p.namespace, p.name))
                .collect(),
        )
    }
}

fn rule_matches(
    model: &ClusterModel,
    policy: &Policy,
    rule: &RuleM,
    other: &Endpoint,
    flow: &Flow,
) -> bool {
    let peer_ok = rule
        .peers
        .as_ref()
        .is_none_or(|peers| peers.iter().any(|p| peer_matches(model, policy, p, other)));
    let port_ok = rule
        .ports
        .as_ref()
        .is_none_or(|ports| ports.iter().any(|p| port_matches(model, p, flow)));
    peer_ok && port_ok
}

fn namespace_labels(model: &ClusterModel, pod: &Pod) -> BTreeMap<String, String> {
    let mut labels = model.namespace_labels(pod);
    // The control plane sets this label on every namespace.
    labels
        .entry(NAMESPACE_NAME_LABEL.to_string())
        .or_insert_with(|| pod.namespace.clone());
    labels
}

fn address(model: &ClusterModel, e: &Endpoint) -> Option<IpAddr> {
    match e {
        Endpoint::Pod(i) => model.pods.get(*i).map(|p| p.ip),
        Endpoint::External(ip) => Some(*ip),
    }
}

fn peer_matches(model: &ClusterModel, policy: &Policy, peer: &PeerM, e: &Endpoint) -> bool {
    match peer {
        PeerM::Block { net, except } => address(model, e)
            .is_some_and(|ip| net.contains(&ip) && !except.iter().any(|x| x.contains(&ip))),
        PeerM::Pods { namespaces, pods } => {
            let Endpoint::Pod(i) = e else {
                return false;
            };
            let Some(pod) = model.pods.get(*i) else {
                return false;
            };
            let ns_ok = match namespaces {
                None => pod.namespace == policy.namespace,
                Some(s) => match model.namespaces.get(&pod.namespace) {
                    // The model's labels already carry the name (no copy needed).
                    Some(l) if l.contains_key(NAMESPACE_NAME_LABEL) => s.matches(l),
                    _ => s.matches(&namespace_labels(model, pod)),
                },
            };
            ns_ok && pods.as_ref().is_none_or(|s| s.matches(&pod.labels))
        }
    }
}

fn port_matches(model: &ClusterModel, p: &PortM, flow: &Flow) -> bool {
    if p.protocol != flow.protocol {
        return false;
    }
    match &p.port {
        PortSel::All => true,
        PortSel::Range(a, b) => (*a..=*b).contains(&flow.port),
        PortSel::Named(name) => match flow.dst {
            Endpoint::Pod(i) => model
                .pods
                .get(i)
                .and_then(|pod| pod.named_ports.get(name))
                .is_some_and(|&(proto, number)| proto == flow.protocol && number == flow.port),
            Endpoint::External(_) => false,
        },
    }
}

impl Evaluator for K8sEvaluator {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn side(&self, model: &ClusterModel, flow: &Flow, direction: Direction) -> Side {
        K8sEvaluator::side(self, model, flow, direction)
    }

    fn prepare_side<'a>(
        &'a self,
        model: &'a ClusterModel,
        me: usize,
        direction: Direction,
    ) -> PreparedSide<'a> {
        let pod = &model.pods[me];
        let selecting: Vec<&Policy> = self
            .policies
            .get(&pod.namespace)
            .into_iter()
            .flatten()
            .filter(|p| p.rules(direction).is_some() && p.subject.matches(&pod.labels))
            .collect();
        let rules: Vec<(&Policy, &RuleM)> = selecting
            .iter()
            .flat_map(|p| {
                p.rules(direction)
                    .unwrap_or_default()
                    .iter()
                    .map(move |r| (*p, r))
            })
            .collect();
        let open = selecting.is_empty();
        Box::new(move |other, ports, out| {
            if open {
                out.extend(ports.iter().map(|_| true));
                return;
            }
            let matching: Vec<&RuleM> = rules
                .iter()
                .filter(|(p, r)| {
                    r.peers
                        .as_ref()
                        .is_none_or(|peers| peers.iter().any(|x| peer_matches(model, p, x, &other)))
                })
                .map(|(_, r)| *r)
                .collect();
            let (src, dst) = match direction {
                Direction::Egress => (Endpoint::Pod(me), other),
                Direction::Ingress => (other, Endpoint::Pod(me)),
            };
            for &(protocol, port) in ports {
                let flow = Flow {
                    src,
                    dst,
                    protocol,
                    port,
                };
                out.push(matching.iter().any(|r| {
                    r.ports
                        .as_ref()
                        .is_none_or(|ps| ps.iter().any(|p| port_matches(model, p, &flow)))
                }));
            }
        })
    }

    /// Only the policies of the pod's own namespace apply to it.
    fn mentions(&self, model: &ClusterModel, pod: usize, direction: Direction) -> Mentions {
        let mut m = Mentions::default();
        let pod = &model.pods[pod];
        m.namespaces.insert(pod.namespace.clone());
        let policies = self.policies.get(&pod.namespace).into_iter().flatten();
        let selecting = policies.filter(|p| p.subject.matches(&pod.labels));
        for rule in selecting.filter_map(|p| p.rules(direction)).flatten() {
            for peer in rule.peers.iter().flatten() {
                match peer {
                    PeerM::Pods { namespaces, pods } => {
                        for r in namespaces.iter().flat_map(|s| s.0.iter()) {
                            m.add_namespace_requirement(r);
                        }
                        // Without a namespaceSelector, the policy's own namespace.
                        let scope = match namespaces {
                            None => Some(BTreeSet::from([pod.namespace.clone()])),
                            Some(s) => name_scope(
                                s.0.iter()
                                    .map(|r| (r.key == NAMESPACE_NAME_LABEL, r.op, &r.values)),
                            ),
                        };
                        for r in pods.iter().flat_map(|s| s.0.iter()) {
                            m.add_pod_requirement_in(scope.as_ref(), r);
                        }
                    }
                    PeerM::Block { net, except } => {
                        m.nets.insert(*net);
                        m.nets.extend(except.iter().copied());
                    }
                }
            }
            for port in rule.ports.iter().flatten() {
                match &port.port {
                    PortSel::All => {}
                    PortSel::Range(a, b) => m.add_range(port.protocol, *a, *b),
                    PortSel::Named(_) => m.named_ports = true,
                }
            }
        }
        m
    }
}
