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
use netpolc_ir::backend::{Doc, Tree};
use netpolc_ir::model::{
    named_namespaces, ClusterModel, Decision, Endpoint, Evaluator, Flow, Mentions, NearIndex,
    Numbering, Pod, PreparedSide, SampleBits, Side, SideKey,
};
use netpolc_ir::provenance::RuleIntents;
use netpolc_ir::{Direction, Op, Protocol, Requirement, NAMESPACE_NAME_LABEL};
use netpolc_kube::networkpolicy as kube;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Parses manifests into an evaluator of Kubernetes NetworkPolicy semantics.
///
/// Accepts `networking.k8s.io/v1` `NetworkPolicy` objects, and `List` /
/// `NetworkPolicyList` objects holding them (as `kubectl get -o yaml` prints). Every
/// object needs `metadata.name` and `metadata.namespace`.
///
/// # Errors
/// A message naming the object and field when an object is of another kind, is
/// duplicated, or is refused by the shared reader (`netpolc_kube::networkpolicy::read`:
/// unknown fields, wrong types, anything the API server's validation refuses).
pub fn evaluator(objects: &[Value]) -> Result<impl Evaluator + std::fmt::Debug, String> {
    evaluator_of(objects)
}

/// [`evaluator`], its type named.
fn evaluator_of(objects: &[Value]) -> Result<K8sEvaluator, String> {
    let mut flat = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        flatten(object, &format!("object {i}"), &mut flat)?;
    }
    // Read on every core; the first error in the objects' order is the one reported.
    let selectors = Selectors::default();
    let parsed = netpolc_ir::par::map(netpolc_ir::par::threads(), flat.len(), 256, |i| {
        Policy::parse(&flat[i].0, flat[i].1, &selectors)
    });
    assemble(flat.iter().map(|(what, _)| what.clone()).zip(parsed))
}

/// The reader of the pipeline's objects ([`netpolc_ir::backend::Reader`]): each object
/// is parsed as it comes and freed by the caller. Plain NetworkPolicies are read as
/// [`evaluator`] reads them; lists are expanded as there.
#[derive(Default)]
pub(crate) struct ValidReader {
    selectors: Selectors,
}

impl netpolc_ir::backend::Reader for ValidReader {
    fn read(&self, index: usize, object: &Doc<'_>) -> netpolc_ir::backend::Piece {
        self.read_tree(index, object)
    }

    fn read_value(&self, index: usize, object: &Value) -> netpolc_ir::backend::Piece {
        self.read_tree(index, object)
    }

    /// A NetworkPolicy is filed in its namespace's file, as the back end's defaults say
    /// (not a prerequisite, no home namespace of its own).
    fn placement(&self, _: &Doc<'_>) -> Option<(bool, Option<String>)> {
        Some((false, None))
    }

    fn assemble(
        &self,
        pieces: Vec<netpolc_ir::backend::Piece>,
    ) -> Result<Box<dyn Evaluator>, String> {
        let parsed = netpolc_ir::backend::Piece::take_each::<Vec<Named>>(pieces)?;
        Ok(Box::new(assemble(netpolc_ir::backend::concat(parsed))?))
    }
}

impl ValidReader {
    /// [`netpolc_ir::backend::Reader::read`] of either tree.
    fn read_tree<T: Tree>(&self, index: usize, object: &T) -> netpolc_ir::backend::Piece {
        let what = format!("object {index}");
        let mut flat = Vec::new();
        let parsed: Vec<Named> = match flatten(object, &what, &mut flat) {
            Ok(()) => flat
                .into_iter()
                .map(|(w, o)| {
                    let policy = Policy::parse(&w, o, &self.selectors);
                    (w, policy)
                })
                .collect(),
            Err(e) => vec![(what, Err(e))],
        };
        netpolc_ir::backend::Piece::new(parsed)
    }
}

/// A policy read, named as an error names it (`object 3`, `object 3 item 1`).
type Named = (String, Result<Policy, String>);

/// The evaluator of the policies read, in order.
///
/// The first error in order wins: a policy that cannot be read, or a second policy with
/// the name of an earlier one. The policies are put in (namespace, name) order by a sort
/// on every core, not by inserting each into a map: tens of thousands of keys whose
/// strings lie all over the heap cost a tenth of a second of one core that way.
fn assemble(parsed: impl IntoIterator<Item = Named>) -> Result<K8sEvaluator, String> {
    let parsed = parsed.into_iter();
    let mut named: Vec<(String, Policy)> = Vec::with_capacity(parsed.size_hint().0);
    let mut unreadable = None;
    for (what, policy) in parsed {
        match policy {
            Ok(p) => named.push((what, p)),
            Err(e) => {
                unreadable = Some(e);
                break;
            }
        }
    }
    let order = netpolc_ir::par::order(
        netpolc_ir::par::threads(),
        named
            .iter()
            .map(|(_, p)| (p.namespace.as_str(), p.name.as_str())),
    );
    // Ties are in read order, so the second of each run of one name is a duplicate; the
    // earliest of those (in read order) is the one reported.
    let duplicate = netpolc_ir::par::first_repeat(&order, |a, b| {
        let (a, b) = (&named[a].1, &named[b].1);
        a.namespace == b.namespace && a.name == b.name
    });
    if let Some(i) = duplicate {
        let (what, p) = &named[i];
        return Err(format!(
            "{what}: duplicate NetworkPolicy `{}/{}`",
            p.namespace, p.name
        ));
    }
    if let Some(e) = unreadable {
        return Err(e);
    }
    netpolc_ir::par::permute(&mut named, &order);
    let mut policies: Vec<(String, Vec<Policy>)> = Vec::new();
    for (_, p) in named {
        match policies.last_mut() {
            Some((ns, list)) if *ns == p.namespace => list.push(p),
            _ => policies.push((p.namespace.clone(), vec![p])),
        }
    }
    Ok(K8sEvaluator {
        policies: policies.into_iter().collect(),
    })
}

/// Expands lists; checks the kind of everything else.
fn flatten<'v, T: Tree>(
    object: &'v T,
    what: &str,
    out: &mut Vec<(String, &'v T)>,
) -> Result<(), String> {
    let api_version = object.field("apiVersion").and_then(T::as_str).unwrap_or("");
    let kind = object.field("kind").and_then(T::as_str).unwrap_or("");
    match (api_version, kind) {
        (kube::API_VERSION, kube::KIND) => {
            out.push((what.to_string(), object));
            Ok(())
        }
        ("v1", "List") | (kube::API_VERSION, "NetworkPolicyList") => {
            let items = object
                .field("items")
                .and_then(T::as_array)
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
pub(crate) struct K8sEvaluator {
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

/// A conjunction of label requirements, shared by every policy that has the same one
/// ([`Selectors`]).
#[derive(Debug, Default)]
struct Selector(Arc<[Requirement]>);

/// The selectors read so far, each kept once: the same selector recurs in many policies
/// (a subject such as `app: web` in every namespace, a peer namespace in every policy of
/// a namespace), and each copy would cost its own label sets. Safe to use from every
/// thread reading.
///
/// Looked up by the selector as read ([`Selectors::intern`]): a selector seen before is
/// found, compared and shared without its requirements being built (their label sets),
/// hashed or freed. Kept by a hash of what was read, from a random seed
/// ([`netpolc_ir::derive::SeededWords`]; the texts are the policies'), each hash with the
/// selectors that have it. Which copy is kept (the first) does not depend on the map's
/// order, which is never iterated.
#[derive(Debug, Default)]
struct Selectors(Mutex<KeptSelectors>);

/// The selectors [`Selectors`] keeps, by the hash of each as read.
type KeptSelectors = HashMap<u64, Vec<Arc<[Requirement]>>, netpolc_ir::derive::SeededWords>;

impl Selectors {
    /// The shared requirements of `s`: those of an equal selector read before, else its
    /// own (`matchLabels` as single-value `In` tests, then `matchExpressions`), now kept.
    fn intern(&self, s: kube::LabelSelector) -> Arc<[Requirement]> {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut h = kept.hasher().build_hasher();
        for (k, v) in &s.match_labels {
            k.hash(&mut h);
            v.hash(&mut h);
        }
        h.write_usize(s.match_labels.len());
        for e in &s.match_expressions {
            e.key.hash(&mut h);
            h.write_u32(operator(e.operator) as u32);
            e.values.hash(&mut h);
        }
        let hash = h.finish();
        let same = kept.entry(hash).or_default();
        if let Some(found) = same.iter().find(|r| equal(r, &s)) {
            return Arc::clone(found);
        }
        let shared: Arc<[Requirement]> = requirements(s).into();
        same.push(Arc::clone(&shared));
        shared
    }
}

/// The requirements a selector is read as.
fn requirements(s: kube::LabelSelector) -> Vec<Requirement> {
    let mut reqs: Vec<Requirement> =
        Vec::with_capacity(s.match_labels.len() + s.match_expressions.len());
    reqs.extend(
        s.match_labels
            .into_iter()
            .map(|(k, v)| Requirement::is_in(k, [v])),
    );
    for e in s.match_expressions {
        let (key, values) = (e.key, e.values);
        reqs.push(match e.operator {
            kube::Operator::In => Requirement::is_in(key, values),
            kube::Operator::NotIn => Requirement::not_in(key, values),
            kube::Operator::Exists => Requirement::exists(key),
            kube::Operator::DoesNotExist => Requirement::does_not_exist(key),
        });
    }
    reqs
}

/// The operator of a requirement read from `op`.
fn operator(op: kube::Operator) -> Op {
    match op {
        kube::Operator::In => Op::In,
        kube::Operator::NotIn => Op::NotIn,
        kube::Operator::Exists => Op::Exists,
        kube::Operator::DoesNotExist => Op::DoesNotExist,
    }
}

/// Whether `reqs` are the [`requirements`] of `s`, told without building them. Values
/// listed out of order or twice are not compared (they would be sorted and kept once):
/// such a selector is built and kept apart, which costs a copy, never a wrong answer.
fn equal(reqs: &[Requirement], s: &kube::LabelSelector) -> bool {
    let (labels, expressions) = reqs.split_at(s.match_labels.len().min(reqs.len()));
    labels.len() == s.match_labels.len()
        && expressions.len() == s.match_expressions.len()
        && labels.iter().zip(&s.match_labels).all(|(r, (k, v))| {
            r.op == Op::In
                && r.key == *k
                && r.values.len() == 1
                && r.values.first().is_some_and(|only| only == v)
        })
        && expressions.iter().zip(&s.match_expressions).all(|(r, e)| {
            r.op == operator(e.operator)
                && r.key == e.key
                && r.values.len() == e.values.len()
                && r.values.iter().eq(e.values.iter())
        })
}

impl Selector {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| r.matches(labels))
    }

    /// The one value of the name label this selector asks for when it is exactly that
    /// test (`kubernetes.io/metadata.name In [value]`, as a peer in a named namespace
    /// is written): it matches the labels whose name label has that value, and no others.
    fn name(&self) -> Option<&str> {
        match &*self.0 {
            [r] if r.op == Op::In && r.values.len() == 1 && r.key == NAMESPACE_NAME_LABEL => {
                r.values.first().map(String::as_str)
            }
            _ => None,
        }
    }

    /// [`Self::matches`] of namespace labels whose name label is `label`: `by_name` says
    /// that the selector is its [`Self::name`], which is then compared with `label`.
    fn matches_namespace(
        &self,
        by_name: bool,
        labels: &BTreeMap<String, String>,
        label: Option<&str>,
    ) -> bool {
        if by_name {
            // The one value of the one test (the shape `by_name` was set for).
            let value = self.0.first().and_then(|r| r.values.first());
            label.is_some_and(|label| value.is_some_and(|v| v == label))
        } else {
            self.matches(labels)
        }
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
        /// Whether `namespaces` is one test, the name label `In` one value: then it
        /// matches the namespaces whose name label has that value ([`Selector::name`]),
        /// compared without a search of their labels.
        by_name: bool,
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
    /// Reads one object with the shared reader (`netpolc_kube::networkpolicy`). Its
    /// strings are moved into the policy, not copied.
    fn parse<T: Tree>(what: &str, object: &T, selectors: &Selectors) -> Result<Policy, String> {
        let np = kube::read(object).map_err(|e| format!("{what}: {e}"))?;
        let rules = |list: Vec<kube::Rule>| exact(list, |r| rule(r, selectors));
        Ok(Policy {
            intents: RuleIntents::from_annotations(&np.annotations),
            subject: selector(np.pod_selector, selectors),
            ingress: np.policy_types.ingress.then(|| rules(np.ingress)),
            egress: np.policy_types.egress.then(|| rules(np.egress)),
            namespace: np.namespace,
            name: np.name,
        })
    }

    fn rules(&self, direction: Direction) -> Option<&[RuleM]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }
}

/// `list` mapped by `f` into a vector of its length. Kept for the whole proof: collected
/// from the list's own iterator, the new vector would reuse the list's larger buffer.
fn exact<T, U>(list: Vec<T>, f: impl FnMut(T) -> U) -> Vec<U> {
    let mut out = Vec::with_capacity(list.len());
    out.extend(list.into_iter().map(f));
    out
}

fn rule(r: kube::Rule, selectors: &Selectors) -> RuleM {
    let peers = (!r.peers.is_empty()).then(|| exact(r.peers, |p| peer(p, selectors)));
    let ports = (!r.ports.is_empty()).then(|| exact(r.ports, port));
    RuleM { peers, ports }
}

fn peer(p: kube::Peer, selectors: &Selectors) -> PeerM {
    match p {
        kube::Peer::IpBlock { cidr, except } => PeerM::Block { net: cidr, except },
        kube::Peer::Pods {
            namespace_selector,
            pod_selector,
        } => {
            let namespaces = namespace_selector.map(|s| selector(s, selectors));
            PeerM::Pods {
                by_name: namespaces.as_ref().is_some_and(|s| s.name().is_some()),
                namespaces,
                pods: pod_selector.map(|s| selector(s, selectors)),
            }
        }
    }
}

fn port(p: kube::Port) -> PortM {
    PortM {
        protocol: match p.protocol {
            kube::Protocol::Tcp => Protocol::Tcp,
            kube::Protocol::Udp => Protocol::Udp,
            kube::Protocol::Sctp => Protocol::Sctp,
        },
        port: match p.port {
            kube::PortMatch::All => PortSel::All,
            kube::PortMatch::Range(a, b) => PortSel::Range(a, b),
            kube::PortMatch::Named(name) => PortSel::Named(name),
        },
    }
}

fn selector(s: kube::LabelSelector, selectors: &Selectors) -> Selector {
    Selector(selectors.intern(s))
}

impl K8sEvaluator {
    /// The policies of the pod's namespace that select it and have rules for
    /// `direction`, with their positions in that namespace's list: what the pod's side is
    /// made of (one selection for every reading of a side, and for its key).
    fn selecting<'s>(
        &'s self,
        pod: &'s Pod,
        direction: Direction,
    ) -> impl Iterator<Item = (usize, &'s Policy)> + 's {
        let policies = self.policies.get(&pod.namespace).into_iter().flatten();
        // The objects of one subject (its directions, its continuations) are neighbours
        // by name and share their selector ([`Selectors`]): it is tested once for them.
        let mut last: Option<(*const [Requirement], bool)> = None;
        policies.enumerate().filter(move |(_, p)| {
            if p.rules(direction).is_none() {
                return false;
            }
            let subject = Arc::as_ptr(&p.subject.0);
            match last {
                Some((seen, matches)) if std::ptr::eq(seen, subject) => matches,
                _ => {
                    let matches = p.subject.matches(&pod.labels);
                    last = Some((subject, matches));
                    matches
                }
            }
        })
    }

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
        let selecting: Vec<&Policy> = self.selecting(pod, direction).map(|(_, p)| p).collect();
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
    peer_matches_in(model, policy, peer, e, other_namespace(model, e).as_deref())
}

/// The labels of the namespace of `e` (with the name label the control plane sets) when
/// it is a pod: looked up once per other end, not once per peer.
fn other_namespace<'m>(
    model: &'m ClusterModel,
    e: &Endpoint,
) -> Option<std::borrow::Cow<'m, BTreeMap<String, String>>> {
    other_namespace_in(model, e, |i| model.namespaces.get(&model.pods[i].namespace))
}

/// [`other_namespace`], where `labels_of(i)` gives the model's labels of the namespace
/// of the pod `i` (`model.namespaces` by name, or a [`Numbering`] by position).
fn other_namespace_in<'m>(
    model: &'m ClusterModel,
    e: &Endpoint,
    labels_of: impl Fn(usize) -> Option<&'m BTreeMap<String, String>>,
) -> Option<std::borrow::Cow<'m, BTreeMap<String, String>>> {
    let Endpoint::Pod(i) = e else {
        return None;
    };
    let pod = model.pods.get(*i)?;
    Some(match labels_of(*i) {
        // The model's labels already carry the name (no copy needed).
        Some(l) if l.contains_key(NAMESPACE_NAME_LABEL) => std::borrow::Cow::Borrowed(l),
        _ => std::borrow::Cow::Owned(namespace_labels(model, pod)),
    })
}

/// [`peer_matches`] with the other end's namespace labels from [`other_namespace`].
fn peer_matches_in(
    model: &ClusterModel,
    policy: &Policy,
    peer: &PeerM,
    e: &Endpoint,
    namespace: Option<&BTreeMap<String, String>>,
) -> bool {
    match peer {
        PeerM::Block { net, except } => {
            address(model, e).is_some_and(|ip| block_contains(net, except, ip))
        }
        PeerM::Pods {
            namespaces, pods, ..
        } => {
            let Endpoint::Pod(i) = e else {
                return false;
            };
            let Some(pod) = model.pods.get(*i) else {
                return false;
            };
            let ns_ok = match (namespaces, namespace) {
                (None, _) => pod.namespace == policy.namespace,
                (Some(s), Some(l)) => s.matches(l),
                (Some(_), None) => false,
            };
            ns_ok && pods.as_ref().is_none_or(|s| s.matches(&pod.labels))
        }
    }
}

/// Whether `peer` of `policy` can match some pod of the namespace `at` (with labels
/// `namespace`), or, for `at` `None`, some address: `false` only where
/// [`peer_matches_in`] is `false` for every such end.
///
/// `label` is the value of the name label in `namespace` (what a peer's test on the name
/// alone is compared with).
fn peer_may_match_in(
    policy: &Policy,
    peer: &PeerM,
    at: Option<&str>,
    namespace: Option<&BTreeMap<String, String>>,
    label: Option<&str>,
) -> bool {
    match (peer, at) {
        // A block matches pods by their addresses too.
        (PeerM::Block { .. }, _) => true,
        (PeerM::Pods { .. }, None) => false,
        (
            PeerM::Pods {
                namespaces,
                by_name,
                ..
            },
            Some(at),
        ) => match (namespaces, namespace) {
            (None, _) => at == policy.namespace,
            (Some(s), Some(l)) => s.matches_namespace(*by_name, l, label),
            (Some(_), None) => false,
        },
    }
}

/// What a prepared side keeps for the namespace of the last other end it was asked about
/// (the proof asks about the other ends namespace by namespace, as for a
/// [`netpolc_ir::model::NamespaceMemo`]): the side's rules that may match an end there
/// and, of each, the tests left of its peers once the namespace is known. An end in
/// another namespace, or an address, refills it; its buffers are kept.
#[derive(Default)]
struct Near<'a> {
    /// The namespace it is for (`None`: addresses), once filled.
    at: Option<Option<&'a str>>,
    /// The rules that may match an end there ([`NearIndex::keep_into`]).
    kept: Vec<(&'a Policy, &'a RuleM)>,
    /// Each of `kept`, with the range of `tests` left of its peers (`None`: no peers,
    /// every end).
    rules: Vec<(&'a RuleM, Option<std::ops::Range<usize>>)>,
    /// The peers that may match there, each reduced to what still tells its ends apart.
    tests: Vec<Test<'a>>,
}

/// A peer whose namespace test passed ([`Near`]): what an end there must still meet.
enum Test<'a> {
    /// A pod the selector matches (`None`: every pod).
    Pods(Option<&'a Selector>),
    /// An address in `net` and in none of the holes.
    Block(&'a IpNet, &'a [IpNet]),
}

impl<'a> Near<'a> {
    /// Fills it for the namespace `at` (`None`: addresses), whose labels `namespace`
    /// gives (with the name label; `None` for addresses).
    fn fill(
        &mut self,
        index: &NearIndex<'_>,
        rules: &[(&'a Policy, &'a RuleM)],
        at: Option<&'a str>,
        namespace: impl FnOnce() -> Option<std::borrow::Cow<'a, BTreeMap<String, String>>>,
    ) {
        let namespace = namespace();
        let namespace = namespace.as_deref();
        // Known by its name and by its name label.
        let label = namespace
            .and_then(|l| l.get(NAMESPACE_NAME_LABEL))
            .map(String::as_str);
        let may = |p: &Policy, x: &PeerM| peer_may_match_in(p, x, at, namespace, label);
        let Near {
            kept,
            rules: near,
            tests,
            ..
        } = self;
        near.clear();
        tests.clear();
        // The tests left of the peers of rule `r` of `p` that may match there; whether
        // some are (or `r` has no peers: it matches every end).
        let mut add = |p: &'a Policy, r: &'a RuleM| match &r.peers {
            None => {
                near.push((r, None));
                true
            }
            Some(peers) => {
                let start = tests.len();
                for x in peers.iter().filter(|x| may(p, x)) {
                    tests.push(match x {
                        PeerM::Pods { pods, .. } => Test::Pods(pods.as_ref()),
                        PeerM::Block { net, except } => Test::Block(net, except),
                    });
                }
                let some = tests.len() > start;
                if some {
                    near.push((r, Some(start..tests.len())));
                }
                some
            }
        };
        if !index.indexed() {
            // Every rule tested once, as the index would test each (its candidates are
            // every rule of so few).
            kept.clear();
            for &(p, r) in rules {
                if add(p, r) {
                    kept.push((p, r));
                }
            }
        } else {
            index.keep_into(
                rules,
                label.into_iter().chain(at),
                |(p, r)| {
                    r.peers
                        .as_ref()
                        .is_none_or(|peers| peers.iter().any(|x| may(p, x)))
                },
                kept,
            );
            for &(p, r) in kept.iter() {
                add(p, r);
            }
        }
        self.at = Some(at);
    }
}

/// Whether an `ipBlock` of `net` with the holes `except` holds `ip`.
fn block_contains(net: &IpNet, except: &[IpNet], ip: IpAddr) -> bool {
    net.contains(&ip) && !except.iter().any(|x| x.contains(&ip))
}

fn port_matches(model: &ClusterModel, p: &PortM, flow: &Flow) -> bool {
    port_allows(p, flow.protocol, flow.port, named_ports(model, &flow.dst))
}

/// The named ports of the destination `dst` (`None`: an address).
fn named_ports<'m>(
    model: &'m ClusterModel,
    dst: &Endpoint,
) -> Option<&'m BTreeMap<String, (Protocol, u16)>> {
    match dst {
        Endpoint::Pod(i) => model.pods.get(*i).map(|pod| &pod.named_ports),
        Endpoint::External(_) => None,
    }
}

/// Whether `p` allows `port` of `protocol` to a destination with the named ports
/// `named` ([`named_ports`]): [`port_matches`] with the destination looked up once for
/// every port of a prepared side's call.
fn port_allows(
    p: &PortM,
    protocol: Protocol,
    port: u16,
    named: Option<&BTreeMap<String, (Protocol, u16)>>,
) -> bool {
    if p.protocol != protocol {
        return false;
    }
    match &p.port {
        PortSel::All => true,
        PortSel::Range(a, b) => (*a..=*b).contains(&port),
        PortSel::Named(name) => named
            .and_then(|named| named.get(name))
            .is_some_and(|&(proto, number)| proto == protocol && number == port),
    }
}

/// The samples of `ports` (at most [`SampleBits::MAX`]) that `p` allows to a destination
/// with the named ports `named` ([`port_allows`] of each, in one pass).
fn port_mask(
    p: &PortM,
    ports: &[(Protocol, u16)],
    named: Option<&BTreeMap<String, (Protocol, u16)>>,
) -> u64 {
    SampleBits::of(ports, |protocol, port| {
        port_allows(p, protocol, port, named)
    })
}

impl Evaluator for K8sEvaluator {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn side(&self, model: &ClusterModel, flow: &Flow, direction: Direction) -> Side {
        K8sEvaluator::side(self, model, flow, direction)
    }

    /// The other end's namespace labels are found by position (`numbering`), not by name
    /// ([`other_namespace`]).
    fn prepare_side<'a>(
        &'a self,
        model: &'a ClusterModel,
        numbering: &'a Numbering,
        me: usize,
        direction: Direction,
    ) -> PreparedSide<'a> {
        let labels_of = move |i| numbering.namespace_labels(i);
        let pod = &model.pods[me];

        let selecting: Vec<&Policy> = self.selecting(pod, direction).map(|(_, p)| p).collect();
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
        // Rules whose every peer names the namespaces it is in (a test on the name label,
        // or the policy's own namespace), listed under those names.
        let index = NearIndex::new(rules.len(), |i| {
            let (p, r): (&'a Policy, &'a RuleM) = rules[i];
            let mut names: Vec<&'a str> = Vec::new();
            for peer in r.peers.as_deref()? {
                match peer {
                    PeerM::Pods {
                        namespaces: None, ..
                    } => names.push(&p.namespace),
                    PeerM::Pods {
                        namespaces: Some(s),
                        ..
                    } => names.extend(named_namespaces(s.0.iter())?),
                    PeerM::Block { .. } => return None,
                }
            }
            Some(names)
        });
        // The rules with a peer that can match an end in the namespace of the last other
        // end, and the rules matching the other end: buffers kept from call to call.
        let near = std::cell::RefCell::new(Near::default());
        let matching = std::cell::RefCell::new(Vec::new());
        Box::new(move |other, ports, out| {
            if open {
                out.extend(ports.iter().map(|_| true));
                return;
            }
            let mut near = near.borrow_mut();
            let mut matching = matching.borrow_mut();
            let (pod, at) = match other {
                Endpoint::Pod(i) => {
                    let pod = model.pods.get(i);
                    (pod, pod.map(|p| p.namespace.as_str()))
                }
                Endpoint::External(_) => (None, None),
            };
            if near.at != Some(at) {
                near.fill(&index, &rules, at, || {
                    let namespace = other_namespace_in(model, &other, labels_of);
                    debug_assert_eq!(namespace, other_namespace(model, &other));
                    namespace
                });
            }
            let ip = address(model, &other);
            let tests = &near.tests;
            matching.clear();
            matching.extend(
                near.rules
                    .iter()
                    .filter(|(_, peers)| {
                        peers.as_ref().is_none_or(|r| {
                            tests[r.clone()].iter().any(|t| match t {
                                Test::Pods(pods) => pod
                                    .is_some_and(|pod| pods.is_none_or(|s| s.matches(&pod.labels))),
                                Test::Block(net, except) => {
                                    ip.is_some_and(|ip| block_contains(net, except, ip))
                                }
                            })
                        })
                    })
                    .map(|(r, _)| *r),
            );
            // What the whole tests of every rule that may match there keep.
            debug_assert_eq!(
                matching.len(),
                near.kept
                    .iter()
                    .filter(|(p, r)| {
                        let namespace = other_namespace(model, &other);
                        r.peers.as_ref().is_none_or(|peers| {
                            peers
                                .iter()
                                .any(|x| peer_matches_in(model, p, x, &other, namespace.as_deref()))
                        })
                    })
                    .count()
            );
            let matching: &[&RuleM] = &matching;
            let dst = match direction {
                Direction::Egress => other,
                Direction::Ingress => Endpoint::Pod(me),
            };
            let named = named_ports(model, &dst);
            let sample = |protocol: Protocol, port: u16| {
                matching.iter().any(|r| {
                    r.ports
                        .as_ref()
                        .is_none_or(|ps| ps.iter().any(|p| port_allows(p, protocol, port, named)))
                })
            };
            if ports.len() > SampleBits::MAX {
                out.extend(ports.iter().map(|&(protocol, port)| sample(protocol, port)));
                return;
            }
            // Rule by rule, each port of a rule one pass over the samples.
            let all = SampleBits::all(ports.len());
            let mut allowed = 0;
            for r in matching {
                allowed |= r.ports.as_ref().map_or(all, |ps| {
                    ps.iter().fold(0, |m, p| m | port_mask(p, ports, named))
                });
                if allowed == all {
                    break;
                }
            }
            debug_assert!(ports
                .iter()
                .enumerate()
                .all(|(k, &(protocol, port))| (allowed >> k & 1 == 1) == sample(protocol, port)));
            SampleBits::push(allowed, ports.len(), out);
        })
    }

    /// The policies of the pod's namespace that select it for `direction` (named ports
    /// are the pod's): all that [`Evaluator::prepare_side`] reads of it.
    fn side_key(&self, model: &ClusterModel, me: usize, direction: Direction) -> Option<SideKey> {
        let pod = &model.pods[me];
        Some(self.selecting(pod, direction).map(|(i, _)| i).collect())
    }

    /// Only the policies of the pod's own namespace apply to it.
    fn mentions_into<'a>(
        &'a self,
        model: &'a ClusterModel,
        pod: usize,
        direction: Direction,
        m: &mut Mentions<std::borrow::Cow<'a, str>>,
    ) {
        let pod = &model.pods[pod];
        m.add_namespace(&pod.namespace);
        // Without a namespaceSelector, a peer is in the policy's own namespace.
        let own = [pod.namespace.as_str()];
        let selecting = self.selecting(pod, direction).map(|(_, p)| p);
        // What is mentioned is a set: a peer (its selectors are shared, `Selectors`) or a
        // port range of several rules is added once.
        let address = |s: &Option<Selector>| s.as_ref().map_or(0, |s| Arc::as_ptr(&s.0).addr());
        let mut peers_seen: Vec<(usize, usize)> = Vec::new();
        let mut ranges_seen: Vec<(Protocol, u16, u16)> = Vec::new();
        for rule in selecting.filter_map(|p| p.rules(direction)).flatten() {
            for peer in rule.peers.iter().flatten() {
                match peer {
                    PeerM::Pods {
                        namespaces, pods, ..
                    } => {
                        let seen = (address(namespaces), address(pods));
                        if peers_seen.contains(&seen) {
                            continue;
                        }
                        peers_seen.push(seen);
                        let pods = pods.iter().flat_map(|s| s.0.iter());
                        match namespaces {
                            Some(s) => m.add_peer_requirements(|| s.0.iter(), pods),
                            None => pods.for_each(|r| m.add_pod_requirement_in_named(Some(own), r)),
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
                    PortSel::Range(a, b) => {
                        let seen = (port.protocol, *a, *b);
                        if !ranges_seen.contains(&seen) {
                            ranges_seen.push(seen);
                            m.add_range(port.protocol, *a, *b);
                        }
                    }
                    PortSel::Named(_) => m.named_ports = true,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netpolc_ir::backend::Reader;
    use serde_json::json;

    fn np(namespace: &str, name: &str, app: &str, peer: &str) -> Value {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "podSelector": {"matchLabels": {"app": app}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": peer}}}]}]
            }
        })
    }

    /// The subject of the first policy and the pod selector of its first peer, per
    /// namespace.
    fn selectors(e: &K8sEvaluator) -> Vec<[Arc<[Requirement]>; 2]> {
        e.policies
            .values()
            .flatten()
            .map(|p| {
                let peer = match p.ingress.as_deref().and_then(|r| r[0].peers.as_deref()) {
                    Some(
                        [PeerM::Pods {
                            pods: Some(pods), ..
                        }],
                    ) => Arc::clone(&pods.0),
                    other => panic!("unexpected peers {other:?}"),
                };
                [Arc::clone(&p.subject.0), peer]
            })
            .collect()
    }

    /// Each object read by `reader`, as the pipeline reads them (by position).
    fn read_each(reader: &ValidReader, objects: &[Value]) -> Vec<netpolc_ir::backend::Piece> {
        objects
            .iter()
            .enumerate()
            .map(|(i, o)| reader.read(i, &Doc::of_value(o)))
            .collect()
    }

    /// The reader places an object (read as a document) where the back end's
    /// `is_prerequisite` and `home_namespace` (of its tree) place it.
    #[test]
    fn the_reader_places_objects_as_the_back_end_does() {
        use netpolc_ir::backend::Backend as _;
        let reader = ValidReader::default();
        let mut unnamed = np("a", "p", "web", "api");
        unnamed["metadata"]
            .as_object_mut()
            .map(|m| m.remove("namespace"));
        for o in [np("a", "p", "web", "api"), unnamed, json!({"kind": "x"})] {
            let backend = crate::Kubernetes;
            let expected = (backend.is_prerequisite(&o), backend.home_namespace(&o));
            assert_eq!(reader.placement(&Doc::of_value(&o)), Some(expected), "{o}");
        }
    }

    #[test]
    fn a_selector_read_twice_is_kept_once() {
        let objects = [
            np("a", "p", "web", "api"),
            np("b", "p", "web", "web"),
            np("c", "p", "db", "api"),
        ];
        let reader = ValidReader::default();
        let pieces = read_each(&reader, &objects);
        let pieces = netpolc_ir::backend::Piece::take_each::<Vec<Named>>(pieces)
            .expect("pieces of this reader");
        let e = assemble(pieces.into_iter().flatten()).expect("valid policies");
        let s = selectors(&e);
        // `app: web` is one selector for both subjects and for b's peer.
        assert!(Arc::ptr_eq(&s[0][0], &s[1][0]));
        assert!(Arc::ptr_eq(&s[0][0], &s[1][1]));
        // `app: api` is one selector for both peers; `app: db` is another.
        assert!(Arc::ptr_eq(&s[0][1], &s[2][1]));
        assert!(!Arc::ptr_eq(&s[0][0], &s[2][0]));
        assert_eq!(s[2][0].len(), 1);
        // The shared selectors still tell pods apart.
        let web = BTreeMap::from([("app".to_string(), "web".to_string())]);
        assert!(e.policies["a"][0].subject.matches(&web));
        assert!(!e.policies["c"][0].subject.matches(&web));
    }

    #[test]
    fn a_duplicate_read_by_the_reader_is_named_by_its_object_and_item() {
        let list = json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": [np("a", "p", "web", "api"), np("a", "q", "web", "api")]
        });
        let objects = [list, np("b", "p", "web", "api"), np("a", "q", "db", "api")];
        let reader = ValidReader::default();
        let pieces = read_each(&reader, &objects);
        let e = reader.assemble(pieces).err().expect("a duplicate");
        assert_eq!(e, "object 2: duplicate NetworkPolicy `a/q`");
        // The evaluator of the same objects names it alike.
        let e = evaluator_of(&objects).expect_err("a duplicate");
        assert_eq!(e, "object 2: duplicate NetworkPolicy `a/q`");
        // An item of a list is named with its position.
        let twice = json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": [np("a", "p", "web", "api"), np("a", "p", "db", "api")]
        });
        let pieces = vec![reader.read(0, &Doc::of_value(&twice))];
        let e = reader.assemble(pieces).err().expect("a duplicate");
        assert_eq!(e, "object 0 items[1]: duplicate NetworkPolicy `a/p`");
    }

    #[test]
    fn the_first_problem_in_order_is_reported() {
        let mut bad = np("a", "x", "web", "api");
        bad["spec"]["bogus"] = json!(1);
        let reader = ValidReader::default();
        let first = |objects: &[Value]| {
            reader
                .assemble(read_each(&reader, objects))
                .err()
                .expect("a problem")
        };
        let p = np("a", "p", "web", "api");
        // A duplicate before a policy that cannot be read, and after.
        let e = first(&[p.clone(), p.clone(), bad.clone()]);
        assert_eq!(e, "object 1: duplicate NetworkPolicy `a/p`");
        let e = first(&[p.clone(), bad.clone(), p.clone()]);
        assert!(e.starts_with("object 1"), "{e}");
        assert!(!e.contains("duplicate"), "{e}");
        // Of two names repeated, the earlier repeat; of three alike, the second.
        let q = np("b", "q", "web", "api");
        let e = first(&[q.clone(), p.clone(), p.clone(), q.clone()]);
        assert_eq!(e, "object 2: duplicate NetworkPolicy `a/p`");
        let e = first(&[q.clone(), p.clone(), q.clone(), p.clone(), q]);
        assert_eq!(e, "object 2: duplicate NetworkPolicy `b/q`");
    }
}
