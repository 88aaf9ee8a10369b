//! The cluster model every evaluator runs on: namespaces, pods, external addresses and
//! flows between them, plus the verdict type all evaluators return.
//!
//! The model is shared by the intended-meaning evaluator ([`crate::eval`]) and by each
//! back end's evaluator of its *emitted manifests*, so that their verdicts can be compared
//! flow by flow.

use crate::sorted::{SortedMap, SortedSet};
use crate::{Direction, Protocol};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// A pod in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Name (unique within the namespace).
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Pod IP (inside the profile's pod CIDRs).
    pub ip: IpAddr,
    /// Named container ports: name → (protocol, number).
    pub named_ports: BTreeMap<String, (Protocol, u16)>,
}

/// A cluster: namespaces with labels, pods, and external addresses of interest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterModel {
    /// Namespace name → labels (always including `kubernetes.io/metadata.name`).
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// Pods, sorted by (namespace, name).
    pub pods: Vec<Pod>,
    /// External (non-cluster) addresses, sorted.
    pub externals: Vec<IpAddr>,
    /// Addresses of the Kubernetes API server endpoints (a subset of `externals`).
    pub api_server: Vec<IpAddr>,
    /// Node addresses (a subset of `externals`, inside the profile's node networks):
    /// remote nodes, which Calico and Kubernetes match by address and Cilium only by the
    /// `remote-node`, `cluster` and `all` entities.
    pub nodes: Vec<IpAddr>,
    /// Ports worth probing, per protocol, sorted.
    pub ports: Vec<(Protocol, u16)>,
}

impl ClusterModel {
    /// The labels of a pod's namespace (empty if the namespace is unknown).
    pub fn namespace_labels(&self, pod: &Pod) -> BTreeMap<String, String> {
        self.namespaces
            .get(&pod.namespace)
            .cloned()
            .unwrap_or_default()
    }

    /// Every flow of the model: each ordered pair of distinct pods, each pod to each
    /// external address and back, on each probed port; in the order of [`Self::flow_at`].
    pub fn flows(&self) -> Vec<Flow> {
        (0..self.flow_count())
            .filter_map(|i| self.flow_at(i))
            .collect()
    }

    /// How many flows [`Self::flows`] has, computed without building them.
    pub fn flow_count(&self) -> usize {
        let p = self.pods.len();
        let e = self.externals.len();
        (p * p.saturating_sub(1) + 2 * p * e) * self.ports.len()
    }

    /// The `i`-th flow: pod→pod pairs first, then pod→address, then address→pod, each on
    /// every port. Lets callers sample huge models without building every flow.
    pub fn flow_at(&self, i: usize) -> Option<Flow> {
        let ports = self.ports.len();
        if ports == 0 {
            return None;
        }
        let (pair, port) = (i / ports, i % ports);
        let (protocol, port) = self.ports[port];
        let p = self.pods.len();
        let e = self.externals.len();
        let pod_pairs = p * p.saturating_sub(1);
        let (src, dst) = if pair < pod_pairs {
            let s = pair / (p - 1);
            let mut d = pair % (p - 1);
            if d >= s {
                d += 1;
            }
            (Endpoint::Pod(s), Endpoint::Pod(d))
        } else if pair < pod_pairs + p * e {
            let k = pair - pod_pairs;
            (
                Endpoint::Pod(k / e),
                Endpoint::External(self.externals[k % e]),
            )
        } else if pair < pod_pairs + 2 * p * e {
            let k = pair - pod_pairs - p * e;
            (
                Endpoint::External(self.externals[k / p]),
                Endpoint::Pod(k % p),
            )
        } else {
            return None;
        };
        Some(Flow {
            src,
            dst,
            protocol,
            port,
        })
    }

    /// Human name of an endpoint: `ns/pod` or the address.
    pub fn endpoint_name(&self, e: &Endpoint) -> String {
        match e {
            Endpoint::Pod(i) => format!("{}/{}", self.pods[*i].namespace, self.pods[*i].name),
            Endpoint::External(ip) => ip.to_string(),
        }
    }

    /// `src -> dst port/proto`.
    pub fn flow_name(&self, f: &Flow) -> String {
        format!(
            "{} -> {} {}/{}",
            self.endpoint_name(&f.src),
            self.endpoint_name(&f.dst),
            f.port,
            f.protocol
        )
    }
}

/// One end of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// Index into [`ClusterModel::pods`].
    Pod(usize),
    /// An address outside the cluster.
    External(IpAddr),
}

impl Endpoint {
    /// Whether this is a pod.
    pub fn is_pod(&self) -> bool {
        matches!(self, Endpoint::Pod(_))
    }
}

/// A connection attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Flow {
    /// Who connects.
    pub src: Endpoint,
    /// To whom.
    pub dst: Endpoint,
    /// Protocol.
    pub protocol: Protocol,
    /// Destination port.
    pub port: u16,
}

/// What decided one side of a flow.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decision {
    /// The emitted object (`Kind namespace/name`) or, for the intended meaning, the
    /// intent set.
    pub object: String,
    /// The rule within it (e.g. `spec.egress[0]`) or the intent name.
    pub rule: String,
    /// The intent the object names in its provenance annotation, if any.
    pub intent: Option<String>,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.object, self.rule)?;
        if let Some(i) = &self.intent {
            write!(f, " (intent {i})")?;
        }
        Ok(())
    }
}

/// The verdict of one side (egress of the source, ingress of the destination).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// No pod on this side (an external address): nothing to enforce.
    NotApplicable,
    /// The pod is not isolated in this direction and nothing denies.
    Open,
    /// Allowed by a rule.
    Allowed(Decision),
    /// Denied by an explicit deny rule.
    Denied(Decision),
    /// Isolated and no rule allows (the isolating objects are named).
    DefaultDeny(Vec<String>),
}

impl Side {
    /// Whether this side lets the flow through.
    pub fn allows(&self) -> bool {
        matches!(self, Side::NotApplicable | Side::Open | Side::Allowed(_))
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Side::NotApplicable => f.write_str("n/a"),
            Side::Open => f.write_str("open (not isolated)"),
            Side::Allowed(d) => write!(f, "allowed by {d}"),
            Side::Denied(d) => write!(f, "denied by {d}"),
            Side::DefaultDeny(objs) if objs.is_empty() => f.write_str("default deny"),
            Side::DefaultDeny(objs) => write!(f, "default deny (isolated by {})", objs.join(", ")),
        }
    }
}

/// Both sides of a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The source's egress side.
    pub egress: Side,
    /// The destination's ingress side.
    pub ingress: Side,
}

impl Verdict {
    /// Whether the connection is allowed: both sides must allow.
    pub fn allowed(&self) -> bool {
        self.egress.allows() && self.ingress.allows()
    }
}

/// Something that decides flows on a model: the intended meaning or a back end's
/// evaluator of its emitted manifests.
///
/// The exact proof ([`crate::proof`]) relies on one property of every evaluator, which
/// each implementation must keep: the verdict of one side (a pod `me`, one direction)
/// depends on the other endpoint only through what [`Self::mentions_into`] reports for
/// `(me, direction)`: the other pod's labels mentioned and its named ports, whether its
/// namespace is one of the namespaces or carries one of the labels mentioned, whether an
/// address lies in one of the networks mentioned, and on the port only through the port
/// boundaries mentioned. Reporting more than needed is always safe (only slower);
/// [`Mentions::everything`], the default, is always correct.
pub trait Evaluator: Send + Sync {
    /// A short name (`intended`, `kubernetes`, `calico`, `cilium`).
    fn name(&self) -> &'static str;
    /// The verdict of one side of a flow: the source's egress side or the destination's
    /// ingress side ([`Side::NotApplicable`] when that end is an address).
    fn side(&self, model: &ClusterModel, flow: &Flow, direction: Direction) -> Side;
    /// The verdict for one flow: both sides.
    fn verdict(&self, model: &ClusterModel, flow: &Flow) -> Verdict {
        Verdict {
            egress: self.side(model, flow, Direction::Egress),
            ingress: self.side(model, flow, Direction::Ingress),
        }
    }
    /// One side of the pod `me` (an index into `model.pods`) in `direction`, prepared
    /// for many other ends: what depends on `me` alone (which rules apply) is computed
    /// once. The returned function appends to `out`, for each of `ports`, whether the side
    /// allows the flow between `me` and `other` (from `me` for egress, to `me` for
    /// ingress) on that port. `numbering` is `model`'s ([`Numbering::of`], made once per
    /// model by the caller): an evaluator may read by a pod's position what it would
    /// otherwise look up by name. The default calls [`Self::side`] for every port.
    fn prepare_side<'a>(
        &'a self,
        model: &'a ClusterModel,
        numbering: &'a Numbering,
        me: usize,
        direction: Direction,
    ) -> PreparedSide<'a> {
        let _ = numbering;
        Box::new(move |other, ports, out| {
            let me = Endpoint::Pod(me);
            let (src, dst) = match direction {
                Direction::Egress => (me, other),
                Direction::Ingress => (other, me),
            };
            for &(protocol, port) in ports {
                let flow = Flow {
                    src,
                    dst,
                    protocol,
                    port,
                };
                out.push(self.side(model, &flow, direction).allows());
            }
        })
    }
    /// Adds to `into` what the rules that apply to the pod `pod` (an index into
    /// `model.pods`) in `direction` can tell apart about the other end of a flow and its
    /// port (see the trait docs). The proof gathers every evaluator's mentions of one
    /// side into one [`Mentions`], for every side: their strings are borrowed from the
    /// evaluator and the model (or owned, where the evaluator has them only for the
    /// call), not copied. The default adds [`Mentions::everything`] (always correct,
    /// never fast).
    fn mentions_into<'a>(
        &'a self,
        model: &'a ClusterModel,
        pod: usize,
        direction: Direction,
        into: &mut Mentions<std::borrow::Cow<'a, str>>,
    ) {
        let _ = (model, pod, direction);
        into.merge(Mentions::everything());
    }
    /// What makes the side of the pod `me` in `direction` what it is, as a key: two pods
    /// of one namespace, with the same named ports and address family, whose keys are
    /// equal (and `Some`) must have the same side, answering alike for every other end
    /// and port (which rules apply to them, and nothing else of them, decides it). The
    /// proof checks one side per key ([`crate::proof`]). `None`, the default, promises
    /// nothing: the side is checked on its own.
    fn side_key(&self, model: &ClusterModel, me: usize, direction: Direction) -> Option<SideKey> {
        let _ = (model, me, direction);
        None
    }
    /// Says that `model`, where it lies now, is about to be asked about many times (every
    /// pod's sides, prepared again and again): an evaluator may keep what it works out
    /// per pod of it from now on, until asked about another model. The default keeps
    /// nothing. Answers must not depend on it.
    fn expect_model(&self, model: &ClusterModel) {
        let _ = model;
    }
}

/// What decides one side of a pod, for [`Evaluator::side_key`]: typically the positions
/// of the policies or rules that apply to it, in order.
pub type SideKey = Vec<usize>;

/// The strings a [`Mentions`] holds: owned ([`String`], the default, for mentions kept
/// beyond what they were read from: [`Mentions::into_owned`]), or borrowed from the
/// evaluator and the model it was asked about for as long as `'a` (what
/// [`Evaluator::mentions_into`] adds to: a side's mentions are made and dropped for
/// every side of the proof, and copying their strings cost more than the rest).
pub trait MentionText<'a>: Ord + std::borrow::Borrow<str> + From<&'a str> {
    /// Made from a `&'a str` without copying it: a set may be given one that is there
    /// already (one search, not a search and then an insertion).
    const LENT: bool;
}

impl MentionText<'_> for String {
    const LENT: bool = false;
}

impl<'a> MentionText<'a> for std::borrow::Cow<'a, str> {
    const LENT: bool = true;
}

/// Records a label test: `In`/`NotIn` mention the pairs, `Exists`/`DoesNotExist` the key.
fn label_test<'a, S: MentionText<'a>>(
    pairs: &mut SortedSet<(S, S)>,
    keys: &mut SortedSet<S>,
    key: &'a str,
    op: crate::Op,
    values: impl Iterator<Item = &'a String>,
) {
    use crate::Op;
    match op {
        Op::In | Op::NotIn => add_pairs(pairs, key, values),
        Op::Exists | Op::DoesNotExist => add_once(keys, key),
    }
}

/// Adds the pairs `(key, value)`, each made (copied, for owned strings) only when not
/// there yet: every evaluator of a side, and many rules, mention the same pairs.
fn add_pairs<'a, S: MentionText<'a>>(
    pairs: &mut SortedSet<(S, S)>,
    key: &'a str,
    values: impl Iterator<Item = &'a String>,
) {
    for v in values {
        if S::LENT || !pairs.contains(&(key, v.as_str()) as &dyn PairRef) {
            pairs.insert((S::from(key), S::from(v.as_str())));
        }
    }
}

/// Adds `name` (a label key, a namespace), made only when not there yet.
fn add_once<'a, S: MentionText<'a>>(set: &mut SortedSet<S>, name: &'a str) {
    if S::LENT || !set.contains(name) {
        set.insert(S::from(name));
    }
}

/// A label pair, owned or borrowed, so that a set of pairs can be searched for a
/// borrowed one ([`std::borrow::Borrow`]); all order as `(key, value)`.
trait PairRef {
    fn pair(&self) -> (&str, &str);
}

impl<S: std::borrow::Borrow<str>> PairRef for (S, S) {
    fn pair(&self) -> (&str, &str) {
        (self.0.borrow(), self.1.borrow())
    }
}

impl<'a, S: std::borrow::Borrow<str> + 'a> std::borrow::Borrow<dyn PairRef + 'a> for (S, S) {
    fn borrow(&self) -> &(dyn PairRef + 'a) {
        self
    }
}

impl PartialEq for dyn PairRef + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.pair() == other.pair()
    }
}

impl Eq for dyn PairRef + '_ {}

impl PartialOrd for dyn PairRef + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn PairRef + '_ {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.pair().cmp(&other.pair())
    }
}

/// `add` applied to the value of `key` in `map`, inserted empty when missing (the key
/// made only then); one lookup when it is there, as it mostly is.
fn in_slot<'a, S: MentionText<'a>, V: Default>(
    map: &mut SortedMap<S, V>,
    key: &'a str,
    add: impl FnOnce(&mut V),
) {
    add(map.slot(key, || S::from(key), V::default));
}

/// One side of one pod, prepared by [`Evaluator::prepare_side`]: given the other end and
/// the ports, appends whether the side allows each port.
pub type PreparedSide<'a> = Box<dyn Fn(Endpoint, &[(Protocol, u16)], &mut Vec<bool>) + 'a>;

/// Port samples as bits, for the evaluators' prepared sides: bit `k` stands for sample
/// `k` of the slice a [`PreparedSide`] is called with. A side asked about at most
/// [`SampleBits::MAX`] samples (the proof asks about a few dozen) finds the samples each
/// rule matches in one pass over them, and combines rules with bit operations, instead
/// of asking every rule about every sample in turn.
pub struct SampleBits;

impl SampleBits {
    /// The most samples a `u64` holds.
    pub const MAX: usize = 64;

    /// The first `n` samples (at most [`Self::MAX`]).
    pub fn all(n: usize) -> u64 {
        debug_assert!(n <= Self::MAX);
        match n {
            0 => 0,
            n => u64::MAX >> (u64::BITS as usize - n),
        }
    }

    /// The samples of `ports` (at most [`Self::MAX`]) for which `test` holds.
    #[inline]
    pub fn of(ports: &[(Protocol, u16)], test: impl Fn(Protocol, u16) -> bool) -> u64 {
        debug_assert!(ports.len() <= Self::MAX);
        ports
            .iter()
            .enumerate()
            .fold(0, |m, (k, &(protocol, port))| {
                m | u64::from(test(protocol, port)) << k
            })
    }

    /// Appends the verdicts of the first `n` samples: bit `k` of `bits` for sample `k`.
    pub fn push(bits: u64, n: usize, out: &mut Vec<bool>) {
        out.extend((0..n).map(|k| bits >> k & 1 == 1));
    }
}

/// What of a model [`Evaluator::prepare_side`] finds by a pod's position instead of by
/// its namespace's name (a search among the model's namespaces, with a string
/// comparison at each step, for every namespace every side meets). It holds its own
/// copy of each namespace's labels, so that whoever holds a model can hold its
/// numbering beside it.
#[derive(Clone, Debug, Default)]
pub struct Numbering {
    /// The labels of each namespace of the model that has pods.
    labels: Vec<BTreeMap<String, String>>,
    /// Per pod of the model, its namespace's place in `labels` (`None`: the model lacks
    /// the namespace).
    of_pod: Vec<Option<u32>>,
}

impl Numbering {
    /// The numbering of `model`.
    pub fn of(model: &ClusterModel) -> Numbering {
        let mut labels = Vec::new();
        // Pods come sorted by namespace: one search per run of pods of a namespace.
        let mut last: Option<(&str, Option<u32>)> = None;
        let of_pod = model
            .pods
            .iter()
            .map(|pod| match last {
                Some((name, at)) if name == pod.namespace => at,
                _ => {
                    let at = model.namespaces.get(&pod.namespace).map(|l| {
                        labels.push(l.clone());
                        u32::try_from(labels.len() - 1).expect("fewer than 2^32 namespaces")
                    });
                    last = Some((pod.namespace.as_str(), at));
                    at
                }
            })
            .collect();
        Numbering { labels, of_pod }
    }

    /// The labels of the namespace of the pod `pod` of the model (`None` when the model
    /// lacks the namespace): what `model.namespaces.get(&model.pods[pod].namespace)`
    /// finds.
    pub fn namespace_labels(&self, pod: usize) -> Option<&BTreeMap<String, String>> {
        let at = (*self.of_pod.get(pod)?)?;
        self.labels.get(at as usize)
    }
}

/// What the rules of one side can tell apart: the vocabulary of their peers and ports.
///
/// A namespace is *told apart* (from an unnamed, unlabelled namespace) when a selector
/// names it, or when it carries a mentioned label pair or key. An address is told apart
/// by the networks mentioned; a port by the boundaries mentioned.
///
/// Its strings are owned by default; the proof has them borrowed ([`MentionText`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mentions<S = String> {
    /// Every namespace may be told apart (the evaluator cannot say which).
    pub all_namespaces: bool,
    /// Namespaces named by a selector (`In` or `NotIn` on the namespace's name).
    pub namespaces: SortedSet<S>,
    /// Namespace label pairs tested by `In`/`NotIn`/equality.
    pub namespace_labels: SortedSet<(S, S)>,
    /// Namespace label keys tested for existence (any value tells apart).
    pub namespace_keys: SortedSet<S>,
    /// Networks whose membership is tested (peers, holes, entities with addresses).
    pub nets: SortedSet<IpNet>,
    /// Ports may matter anywhere (use every port boundary of the model).
    pub all_ports: bool,
    /// The first port of every interval that a port match starts or ends: for a range
    /// `a-b` of a protocol, `a` and `b + 1`.
    pub ports: SortedSet<(Protocol, u32)>,
    /// A named port is matched (the destination pod's named ports become boundaries).
    pub named_ports: bool,
    /// Any pod label may matter (no projection of pod labels).
    pub all_pod_labels: bool,
    /// Pod label pairs tested by `In`/`NotIn`/equality (on the other end's pod). Such a
    /// test must answer alike for a pod without the key and for one whose value it does
    /// not name (`In` and `=` false, `NotIn` and `!=` true): the proof takes those pods
    /// as one other end when the key is mentioned by pairs only.
    pub pod_labels: SortedSet<(S, S)>,
    /// Pod label keys tested for existence (their absence tells pods apart), or with
    /// tests other than equality.
    pub pod_keys: SortedSet<S>,
    /// Pod label pairs tested only on the pods of one namespace (a peer whose namespace
    /// part can match that namespace alone, such as a rule's own namespace), by
    /// namespace. Such a test tells apart pods of that namespace only; each of these
    /// namespaces must also be in [`Self::namespaces`]. The same promise as
    /// [`Self::pod_labels`]: absence and an unnamed value answer alike.
    pub pod_labels_in: SortedMap<S, SortedSet<(S, S)>>,
    /// Pod label keys tested only on the pods of one namespace, by namespace (as
    /// [`Self::pod_labels_in`]).
    pub pod_keys_in: SortedMap<S, SortedSet<S>>,
}

impl<S> Default for Mentions<S> {
    fn default() -> Self {
        Mentions {
            all_namespaces: false,
            namespaces: SortedSet::new(),
            namespace_labels: SortedSet::new(),
            namespace_keys: SortedSet::new(),
            nets: SortedSet::new(),
            all_ports: false,
            ports: SortedSet::new(),
            named_ports: false,
            all_pod_labels: false,
            pod_labels: SortedSet::new(),
            pod_keys: SortedSet::new(),
            pod_labels_in: SortedMap::new(),
            pod_keys_in: SortedMap::new(),
        }
    }
}

impl<S: Ord> Mentions<S> {
    /// Everything may matter: always correct, never fast.
    pub fn everything() -> Mentions<S> {
        Mentions {
            all_namespaces: true,
            all_ports: true,
            named_ports: true,
            all_pod_labels: true,
            ..Mentions::default()
        }
    }

    /// Adds a port range `start..=end` of a protocol.
    pub fn add_range(&mut self, protocol: Protocol, start: u16, end: u16) {
        self.ports.insert((protocol, u32::from(start)));
        self.ports.insert((protocol, u32::from(end) + 1));
    }

    /// Adds a namespace told apart by name (made only when not there yet).
    pub fn add_namespace<'a>(&mut self, name: &'a str)
    where
        S: MentionText<'a>,
    {
        add_once(&mut self.namespaces, name);
    }

    /// Adds one requirement of a selector over *namespace* labels (with the namespace's
    /// name as [`crate::NAMESPACE_NAME_LABEL`]).
    pub fn add_namespace_requirement<'a>(&mut self, r: &'a crate::Requirement)
    where
        S: MentionText<'a>,
    {
        use crate::Op;
        if r.key == crate::NAMESPACE_NAME_LABEL {
            match r.op {
                Op::In | Op::NotIn => r.values.iter().for_each(|n| self.add_namespace(n)),
                // Every namespace has a name: existence tells none apart.
                Op::Exists | Op::DoesNotExist => {}
            }
            return;
        }
        self.add_namespace_label_test(&r.key, r.op, r.values.iter());
    }

    /// Adds a test on a namespace label other than the name: `In`/`NotIn` mention the
    /// pairs, `Exists`/`DoesNotExist` the key.
    pub fn add_namespace_label_test<'a>(
        &mut self,
        key: &'a str,
        op: crate::Op,
        values: impl Iterator<Item = &'a String>,
    ) where
        S: MentionText<'a>,
    {
        label_test(
            &mut self.namespace_labels,
            &mut self.namespace_keys,
            key,
            op,
            values,
        );
    }

    /// Adds one requirement of a selector over the other end's *pod* labels.
    pub fn add_pod_requirement<'a>(&mut self, r: &'a crate::Requirement)
    where
        S: MentionText<'a>,
    {
        self.add_pod_label_test(&r.key, r.op, r.values.iter());
    }

    /// Adds a test on a pod label: `In`/`NotIn` mention the pairs, `Exists`/
    /// `DoesNotExist` the key.
    pub fn add_pod_label_test<'a>(
        &mut self,
        key: &'a str,
        op: crate::Op,
        values: impl Iterator<Item = &'a String>,
    ) where
        S: MentionText<'a>,
    {
        label_test(&mut self.pod_labels, &mut self.pod_keys, key, op, values);
    }

    /// Adds a test on a pod label that can only meet pods of the namespaces `scope`
    /// (a peer whose namespace part matches those namespaces alone), or any pod when
    /// `scope` is `None`. The namespaces of `scope` are mentioned by name too.
    pub fn add_pod_label_test_in<'a>(
        &mut self,
        scope: Option<impl IntoIterator<Item = &'a str>>,
        key: &'a str,
        op: crate::Op,
        values: impl Iterator<Item = &'a String> + Clone,
    ) where
        S: MentionText<'a>,
    {
        self.label_test_in(scope, key, op, values, true);
    }

    /// [`Self::add_pod_label_test_in`], adding the namespaces of `scope` by name only
    /// when `name_them`: a caller that has just mentioned them (the names of a peer's
    /// namespace test, a policy's own namespace) saves a search per namespace and test.
    fn label_test_in<'a>(
        &mut self,
        scope: Option<impl IntoIterator<Item = &'a str>>,
        key: &'a str,
        op: crate::Op,
        values: impl Iterator<Item = &'a String> + Clone,
        name_them: bool,
    ) where
        S: MentionText<'a>,
    {
        let Some(scope) = scope else {
            return self.add_pod_label_test(key, op, values);
        };
        for ns in scope {
            // Made only where not there yet: every evaluator of a side mentions the
            // same namespaces (`mentions_into`). Only the map the test goes to gets the
            // namespace (a namespace missing from one reads as empty there).
            if name_them {
                self.add_namespace(ns);
            }
            debug_assert!(self.namespaces.contains(ns), "{ns} is mentioned by name");
            match op {
                crate::Op::In | crate::Op::NotIn => {
                    in_slot(&mut self.pod_labels_in, ns, |pairs| {
                        add_pairs(pairs, key, values.clone());
                    });
                }
                crate::Op::Exists | crate::Op::DoesNotExist => {
                    in_slot(&mut self.pod_keys_in, ns, |keys| add_once(keys, key));
                }
            }
        }
    }

    /// [`Self::add_pod_label_test_in`] of one requirement, for a scope whose every
    /// namespace this already mentions by name ([`Self::add_namespace`]; debug builds
    /// check it): the namespaces are not searched for again.
    pub fn add_pod_requirement_in_named<'a>(
        &mut self,
        scope: Option<impl IntoIterator<Item = &'a str>>,
        r: &'a crate::Requirement,
    ) where
        S: MentionText<'a>,
    {
        self.label_test_in(scope, &r.key, r.op, r.values.iter(), false);
    }

    /// Adds a peer's tests: those `namespaces()` yields, over namespace labels (the name
    /// as [`crate::NAMESPACE_NAME_LABEL`]), and `pods`, over the labels of the pods of the
    /// namespaces those tests name ([`name_scope`]: the pod tests are confined there), or
    /// of any namespace when they name none.
    pub fn add_peer_requirements<'r, N: Iterator<Item = &'r crate::Requirement>>(
        &mut self,
        namespaces: impl Fn() -> N,
        pods: impl Iterator<Item = &'r crate::Requirement>,
    ) where
        S: MentionText<'r>,
    {
        for r in namespaces() {
            self.add_namespace_requirement(r);
        }
        let on_name =
            |r: &&crate::Requirement| r.key == crate::NAMESPACE_NAME_LABEL && r.op == crate::Op::In;
        let mut named = namespaces().filter(on_name);
        match (named.next(), named.next()) {
            (None, _) => pods.for_each(|r| self.add_pod_requirement(r)),
            // The usual peer, in one namespace: the values of its one test as they are
            // (what `name_scope` would collect), without building a set of them.
            (Some(one), None) => {
                // The names `one` tests were mentioned above.
                pods.for_each(|r| {
                    self.add_pod_requirement_in_named(
                        Some(one.values.iter().map(String::as_str)),
                        r,
                    );
                });
            }
            (Some(_), Some(_)) => {
                let scope = name_scope(
                    namespaces().map(|r| (r.key == crate::NAMESPACE_NAME_LABEL, r.op, &r.values)),
                );
                // The scope is among the names tested, mentioned above.
                pods.for_each(|r| {
                    self.add_pod_requirement_in_named(scope.as_ref().map(|s| s.iter().copied()), r);
                });
            }
        }
    }

    /// Adds everything `other` mentions (its strings are moved, not copied).
    pub fn merge(&mut self, mut other: Mentions<S>) {
        self.all_namespaces |= other.all_namespaces;
        self.all_ports |= other.all_ports;
        self.named_ports |= other.named_ports;
        self.all_pod_labels |= other.all_pod_labels;
        self.namespaces.append(&mut other.namespaces);
        self.namespace_labels.append(&mut other.namespace_labels);
        self.namespace_keys.append(&mut other.namespace_keys);
        self.nets.append(&mut other.nets);
        self.ports.append(&mut other.ports);
        self.pod_labels.append(&mut other.pod_labels);
        self.pod_keys.append(&mut other.pod_keys);
        for (ns, mut pairs) in other.pod_labels_in {
            match self.pod_labels_in.get_mut(&ns) {
                Some(slot) => slot.append(&mut pairs),
                None => {
                    self.pod_labels_in.insert(ns, pairs);
                }
            }
        }
        for (ns, mut keys) in other.pod_keys_in {
            match self.pod_keys_in.get_mut(&ns) {
                Some(slot) => slot.append(&mut keys),
                None => {
                    self.pod_keys_in.insert(ns, keys);
                }
            }
        }
    }
}

impl Mentions<std::borrow::Cow<'_, str>> {
    /// The same mentions with their strings owned, to be kept beyond the evaluators and
    /// the model they borrow from (the connectivity map keeps every class's).
    pub fn into_owned(self) -> Mentions {
        fn set(s: SortedSet<std::borrow::Cow<'_, str>>) -> SortedSet<String> {
            s.into_iter().map(std::borrow::Cow::into_owned).collect()
        }
        fn pairs(
            s: SortedSet<(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)>,
        ) -> SortedSet<(String, String)> {
            s.into_iter()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        }
        Mentions {
            all_namespaces: self.all_namespaces,
            namespaces: set(self.namespaces),
            namespace_labels: pairs(self.namespace_labels),
            namespace_keys: set(self.namespace_keys),
            nets: self.nets,
            all_ports: self.all_ports,
            ports: self.ports,
            named_ports: self.named_ports,
            all_pod_labels: self.all_pod_labels,
            pod_labels: pairs(self.pod_labels),
            pod_keys: set(self.pod_keys),
            pod_labels_in: self
                .pod_labels_in
                .into_iter()
                .map(|(n, p)| (n.into_owned(), pairs(p)))
                .collect(),
            pod_keys_in: self
                .pod_keys_in
                .into_iter()
                .map(|(n, k)| (n.into_owned(), set(k)))
                .collect(),
        }
    }
}

/// The namespaces a namespace selector can match when it names them (the values of its
/// `In` requirements on the namespace's name, intersected), or `None` when it does not
/// restrict the name. `tests` yields `(is a test on the name, op, values)`.
pub fn name_scope<'a, V>(
    tests: impl IntoIterator<Item = (bool, crate::Op, V)>,
) -> Option<SortedSet<&'a str>>
where
    V: IntoIterator<Item = &'a String>,
{
    // Borrowed: a side's mentions look it up for every rule, and copy a name only the
    // first time (`add_namespace`).
    let mut scope: Option<SortedSet<&'a str>> = None;
    for (on_name, op, values) in tests {
        if on_name && op == crate::Op::In {
            let these: SortedSet<&'a str> = values.into_iter().map(String::as_str).collect();
            scope = Some(match scope {
                None => these,
                Some(s) => s.intersection(&these),
            });
        }
    }
    scope
}

/// The namespace names a selector over namespace labels is confined to, for a
/// [`NearIndex`]: the values of its first `In` test on [`crate::NAMESPACE_NAME_LABEL`]
/// (a namespace it matches carries one of them there), or `None` when it tests the name
/// with no `In`. Unlike [`name_scope`], builds nothing: the other tests on the name only
/// narrow what the index's caller tests anyway.
pub fn named_namespaces<'a>(
    requirements: impl IntoIterator<Item = &'a crate::Requirement>,
) -> Option<impl Iterator<Item = &'a str>> {
    requirements
        .into_iter()
        .find(|r| r.key == crate::NAMESPACE_NAME_LABEL && r.op == crate::Op::In)
        .map(|r| r.values.iter().map(String::as_str))
}

/// What a prepared side ([`Evaluator::prepare_side`]) keeps for the namespace of the last
/// other end it was asked about: typically that namespace's labels and the rules whose
/// peer can match an end there. The proof asks about the other ends namespace by
/// namespace, so a namespace's labels are looked up (among the model's thousands) and
/// its tests run once for all its pods; an end in another namespace, or an address,
/// refills it.
#[derive(Debug)]
pub struct NamespaceMemo<'m, T> {
    /// The namespace the value is for (`None`: addresses), once filled.
    kept: Option<(Option<&'m str>, T)>,
}

impl<T> Default for NamespaceMemo<'_, T> {
    fn default() -> Self {
        NamespaceMemo { kept: None }
    }
}

impl<'m, T> NamespaceMemo<'m, T> {
    /// The value for the namespace of `other` (a pod of `model`), or for addresses: the
    /// one kept, or, when the last end asked about was elsewhere, the value refilled in
    /// place by `refill(namespace, value)`, which gets the value kept for the last
    /// namespace (or a new one) and may keep its room (a prepared side refills its lists
    /// for every namespace it meets).
    pub fn for_end(
        &mut self,
        model: &'m ClusterModel,
        other: &Endpoint,
        refill: impl FnOnce(Option<&'m str>, &mut T),
    ) -> &T
    where
        T: Default,
    {
        let at = match other {
            Endpoint::Pod(i) => model.pods.get(*i).map(|p| p.namespace.as_str()),
            Endpoint::External(_) => None,
        };
        let mut refill = Some(refill);
        let (kept, value) = self.kept.get_or_insert_with(|| {
            let mut value = T::default();
            if let Some(refill) = refill.take() {
                refill(at, &mut value);
            }
            (at, value)
        });
        if *kept != at {
            if let Some(refill) = refill.take() {
                refill(at, value);
            }
            *kept = at;
        }
        value
    }
}

/// The rules of one prepared side ([`Evaluator::prepare_side`]) that may have an other
/// end in a given namespace, found without testing every rule: a rule whose peer names
/// the namespaces it can reach (a test `kubernetes.io/metadata.name In [...]`, a
/// policy's own namespace) is listed under those names, every other rule is a candidate
/// everywhere. [`Self::keep_into`] then tests only the candidates of each namespace the proof
/// asks about (once per namespace, with a [`NamespaceMemo`]).
///
/// Without it, a side whose rules name many namespaces one by one (an intent from a
/// group of namespaces selected by a label, written in every namespace the group
/// selects) tests all its rules for every namespace: rules × namespaces per side, cubic
/// in the namespaces over the whole proof. The candidates are a superset of the rules
/// that can match there (the caller still tests each), in the rules' order.
#[derive(Debug)]
pub struct NearIndex<'k> {
    /// How many rules the side has.
    rules: usize,
    /// Whether the rules are indexed (too few are not: every rule is a candidate).
    indexed: bool,
    /// The rules that may match anywhere.
    open: Vec<usize>,
    /// The other rules, by the namespaces they are confined to: `(hash of the name,
    /// rule, name)` sorted, so each name's rules are ascending (one list, not a list per
    /// name: most sides are prepared for a handful of namespaces, and some for one end
    /// only). Sorted and searched by the names' hashes ([`name_hash`]), integers, not by
    /// the names: an index is made for every side of the proof, and searched for every
    /// namespace a side meets; the names are compared for equality only, to set apart
    /// names whose hashes collide.
    by_namespace: Vec<(u64, usize, &'k str)>,
}

/// The hash [`NearIndex`] sorts names by ([`crate::naming::fnv1a`]): any function of the
/// bytes would do, one that spreads names apart keeps the runs of equal hashes short.
fn name_hash(name: &str) -> u64 {
    crate::naming::fnv1a(name.as_bytes())
}

impl<'k> NearIndex<'k> {
    /// Below this many rules, testing each for every namespace costs less than the index.
    const MIN_RULES: usize = 16;

    /// The index of `rules` rules: `confined(i)` gives the namespaces the other end of
    /// rule `i` must be in for the rule to match (it then matches no address), or `None`
    /// when it may match anywhere.
    pub fn new<I>(rules: usize, mut confined: impl FnMut(usize) -> Option<I>) -> Self
    where
        I: IntoIterator<Item = &'k str>,
    {
        if rules < Self::MIN_RULES {
            return NearIndex {
                rules,
                indexed: false,
                open: Vec::new(),
                by_namespace: Vec::new(),
            };
        }
        let mut open = Vec::new();
        let mut by_namespace: Vec<(u64, usize, &'k str)> = Vec::new();
        for i in 0..rules {
            match confined(i) {
                None => open.push(i),
                Some(names) => {
                    by_namespace.extend(names.into_iter().map(|name| (name_hash(name), i, name)));
                }
            }
        }
        // A name listed twice by one rule lists the rule once (the names are compared
        // only where hash and rule are equal: such a repeat, or a collision).
        by_namespace.sort_unstable();
        by_namespace.dedup();
        NearIndex {
            rules,
            indexed: true,
            open,
            by_namespace,
        }
    }

    /// Whether the rules are looked up by namespace; `false` for too few rules
    /// ([`Self::keep_into`] then offers every rule as a candidate), which a caller that
    /// tests each rule anyway can take as "test them all".
    pub fn indexed(&self) -> bool {
        self.indexed
    }

    /// The rules of `rules` (the side's rules, in the order they were indexed) that
    /// `may` keeps for an end in the namespace known by `names` (its name, the value of
    /// its name label: a back end may confine by either), or for an address when `names`
    /// is empty; `may` is asked about the candidates only. Debug builds check that this
    /// is what asking `may` about every rule keeps. Into `out` (emptied first), whose room
    /// is kept from call to call: a prepared side asks once per namespace, and the proof
    /// asks about thousands.
    ///
    /// A namespace known by one name (or by its name twice, the usual name label) merges
    /// the open rules with that name's without listing the candidates first.
    pub fn keep_into<'n, T: Copy>(
        &self,
        rules: &[T],
        names: impl IntoIterator<Item = &'n str>,
        may: impl Fn(&T) -> bool,
        out: &mut Vec<T>,
    ) {
        debug_assert_eq!(rules.len(), self.rules);
        out.clear();
        if !self.indexed {
            // Every rule is a candidate: kept without listing them first (most sides have
            // too few rules to be indexed, and this runs for every namespace of every
            // side).
            out.extend(rules.iter().copied().filter(|r| may(r)));
            return;
        }
        let mut names = names.into_iter();
        let first = names.next();
        let mut others: Vec<&str> = names.filter(|n| Some(*n) != first).collect();
        if let (Some(first), false) = (first, others.is_empty()) {
            // Several names: rare; listed, sorted and deduplicated.
            others.push(first);
            out.extend(
                self.candidates(&others)
                    .into_iter()
                    .filter(|&i| may(&rules[i]))
                    .map(|i| rules[i]),
            );
        } else {
            // An address (no name) or one name: the open rules and that name's, both
            // ascending and apart (a rule is open or confined), merged in order.
            let listed = first.map_or(&[][..], |name| self.listed(name));
            let (mut open, mut listed) = (
                self.open.iter().copied().peekable(),
                Self::of_name(listed, first.unwrap_or_default()).peekable(),
            );
            loop {
                let i = match (open.peek(), listed.peek()) {
                    (Some(&o), Some(&l)) if o < l => open.next(),
                    (_, Some(_)) => listed.next(),
                    (Some(_), None) => open.next(),
                    (None, None) => break,
                };
                let i = i.expect("peeked");
                if may(&rules[i]) {
                    out.push(rules[i]);
                }
            }
        }
        // What is kept is among the rules `may` keeps, each once: the same count is the
        // same rules.
        debug_assert_eq!(
            out.len(),
            (0..rules.len()).filter(|&i| may(&rules[i])).count(),
            "the index left out a rule that may match in {first:?}, {others:?}"
        );
    }

    /// The entries of the names with the hash of `name`: those of `name`
    /// ([`Self::of_name`]), and of any name whose hash collides with it.
    fn listed(&self, name: &str) -> &[(u64, usize, &'k str)] {
        let hash = name_hash(name);
        let from = self.by_namespace.partition_point(|(h, _, _)| *h < hash);
        let len = self.by_namespace[from..]
            .iter()
            .take_while(|(h, _, _)| *h == hash)
            .count();
        &self.by_namespace[from..from + len]
    }

    /// The rules of `listed` ([`Self::listed`]) listed under `name`, ascending.
    fn of_name<'l>(
        listed: &'l [(u64, usize, &'k str)],
        name: &'l str,
    ) -> impl Iterator<Item = usize> + 'l {
        listed
            .iter()
            .filter(move |(_, _, n)| *n == name)
            .map(|(_, i, _)| *i)
    }

    /// The positions, in order, of the rules that may match an end in a namespace known
    /// by any of `names`, or an address when `names` is empty.
    fn candidates(&self, names: &[&str]) -> Vec<usize> {
        if !self.indexed {
            return (0..self.rules).collect();
        }
        let mut out = self.open.clone();
        let mut extra = false;
        for name in names {
            let before = out.len();
            out.extend(Self::of_name(self.listed(name), name));
            extra |= out.len() > before;
        }
        if extra {
            out.sort_unstable();
            out.dedup();
        }
        out
    }
}

/// Per-pod values of one model (an evaluator's view of each pod's labels), computed once
/// for the proof, which asks about the same pods many times; shared by the threads.
///
/// A value depends on the pod's namespace and labels only: pods alike in both share one
/// value (a namespace's replicas hold one copy, not one each).
///
/// The model is told by its address and pod count: callers ask about the model they
/// hold for as long as they ask (the proof's own copy), and a model asked about after
/// another replaces the whole cache. One thread fills it for a model (making the values
/// on every core) while the others asking wait (`value` must not ask the cache). A caller asking many times (a prepared
/// side) may hold the values ([`PodCache::held`]) and take no lock per question.
pub struct PodCache<T> {
    cached: std::sync::RwLock<Option<std::sync::Arc<Held<T>>>>,
}

/// The values a [`PodCache`] holds for one model, by pod.
pub struct Held<T> {
    /// The model's address and pod count.
    key: (usize, usize),
    values: Vec<std::sync::Arc<T>>,
}

impl<T> Held<T> {
    /// The values, indexed as the model's pods.
    pub fn values(&self) -> &[std::sync::Arc<T>] {
        &self.values
    }
}

impl<T> Default for PodCache<T> {
    fn default() -> Self {
        PodCache {
            cached: std::sync::RwLock::new(None),
        }
    }
}

impl<T> Clone for PodCache<T> {
    fn clone(&self) -> Self {
        PodCache {
            cached: std::sync::RwLock::new(self.read().clone()),
        }
    }
}

impl<T> std::fmt::Debug for PodCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pods = self.read().as_ref().map_or(0, |h| h.values.len());
        write!(f, "PodCache({pods} pods)")
    }
}

impl<T> PodCache<T> {
    /// What tells one model from another.
    fn key(model: &ClusterModel) -> (usize, usize) {
        (std::ptr::from_ref(model) as usize, model.pods.len())
    }

    /// The cache, read; a poisoned lock still holds a whole cache (it is replaced whole).
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<std::sync::Arc<Held<T>>>> {
        self.cached
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fills the cache with `value` of every pod (by index) of `model` unless it holds
    /// them already: `value` of the first pod of each namespace and labels, shared by
    /// the pods alike in both (`value` must read nothing else of the pod, nor ask this
    /// cache: it runs under the cache's lock, on every core).
    pub fn fill(&self, model: &ClusterModel, value: impl Fn(&ClusterModel, usize) -> T + Sync)
    where
        T: Send + Sync,
    {
        if self.held(model).is_some() {
            return;
        }
        // Filled under the lock: threads asking at once (the proof's, from its first
        // question) wait for one to fill it instead of each filling it.
        let mut cached = self
            .cached
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = Self::key(model);
        if cached.as_ref().is_some_and(|h| h.key == key) {
            return;
        }
        // The first pod of each namespace and labels, and each pod's; sized once
        // (growing rehashes every label map met so far).
        let mut alike: std::collections::HashMap<
            (&str, &BTreeMap<String, String>),
            usize,
            crate::derive::SeededWords,
        > = std::collections::HashMap::with_capacity_and_hasher(
            model.pods.len(),
            crate::derive::SeededWords::new(),
        );
        let mut firsts = Vec::new();
        let slots: Vec<usize> = model
            .pods
            .iter()
            .enumerate()
            .map(|(i, pod)| {
                *alike
                    .entry((pod.namespace.as_str(), &pod.labels))
                    .or_insert_with(|| {
                        firsts.push(i);
                        firsts.len() - 1
                    })
            })
            .collect();
        drop(alike);
        // The values on every core (the other threads asking wait on the lock).
        let distinct = crate::par::map(crate::par::threads(), firsts.len(), 256, |k| {
            std::sync::Arc::new(value(model, firsts[k]))
        });
        let values = slots
            .into_iter()
            .map(|k| std::sync::Arc::clone(&distinct[k]))
            .collect();
        *cached = Some(std::sync::Arc::new(Held { key, values }));
    }

    /// `f` of the cached values of `model`'s pods (indexed as its pods), or of `None` when
    /// the cache holds another model's (or none).
    pub fn with<R>(
        &self,
        model: &ClusterModel,
        f: impl FnOnce(Option<&[std::sync::Arc<T>]>) -> R,
    ) -> R {
        let cached = self.read();
        let key = Self::key(model);
        f(cached
            .as_deref()
            .filter(|h| h.key == key)
            .map(|h| h.values.as_slice()))
    }

    /// The cached values of `model`'s pods, held (read without the cache's lock), or
    /// `None` when the cache holds another model's (or none).
    pub fn held(&self, model: &ClusterModel) -> Option<std::sync::Arc<Held<T>>> {
        let key = Self::key(model);
        self.read()
            .as_ref()
            .filter(|h| h.key == key)
            .map(std::sync::Arc::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A namespace's value is reused for the next end in that namespace only: an end
    /// elsewhere, or an address, gets its own.
    #[test]
    fn a_namespace_memo_is_reused_for_its_own_ends_only() {
        let pod = |namespace: &str, name: &str| Pod {
            namespace: namespace.into(),
            name: name.into(),
            labels: BTreeMap::new(),
            ip: IpAddr::from([10, 0, 0, 1]),
            named_ports: BTreeMap::new(),
        };
        let model = ClusterModel {
            pods: vec![pod("a", "1"), pod("a", "2"), pod("b", "1")],
            ..ClusterModel::default()
        };
        let mut memo = NamespaceMemo::default();
        let fills = std::cell::Cell::new(0);
        let mut ask = |e: Endpoint| {
            memo.for_end(&model, &e, |at, kept: &mut String| {
                fills.set(fills.get() + 1);
                at.unwrap_or("addresses").clone_into(kept);
            })
            .clone()
        };
        let external = Endpoint::External(IpAddr::from([192, 0, 2, 1]));
        assert_eq!(ask(Endpoint::Pod(0)), "a");
        assert_eq!(ask(Endpoint::Pod(1)), "a");
        assert_eq!(ask(external), "addresses");
        assert_eq!(ask(external), "addresses");
        assert_eq!(ask(Endpoint::Pod(2)), "b");
        assert_eq!(ask(Endpoint::Pod(0)), "a");
        assert_eq!(fills.get(), 4);
    }

    /// A pod's numbered namespace labels are what a search by its namespace's name finds,
    /// for runs of pods of one namespace, a namespace the model lacks, and past the end.
    #[test]
    fn numbered_namespace_labels_are_the_ones_found_by_name() {
        let pod = |namespace: &str| Pod {
            namespace: namespace.into(),
            name: "p".into(),
            labels: BTreeMap::new(),
            ip: IpAddr::from([10, 0, 0, 1]),
            named_ports: BTreeMap::new(),
        };
        let labels = |team: &str| BTreeMap::from([("team".to_string(), team.to_string())]);
        let model = ClusterModel {
            namespaces: BTreeMap::from([
                ("a".to_string(), labels("x")),
                ("c".to_string(), labels("y")),
            ]),
            pods: vec![pod("a"), pod("a"), pod("b"), pod("c"), pod("c")],
            ..ClusterModel::default()
        };
        let numbering = Numbering::of(&model);
        for (i, p) in model.pods.iter().enumerate() {
            assert_eq!(
                numbering.namespace_labels(i),
                model.namespaces.get(&p.namespace),
                "pod {i}"
            );
        }
        assert_eq!(numbering.namespace_labels(5), None);
    }

    #[test]
    fn label_pairs_are_found_borrowed_and_kept_once() {
        let s = |x: &str| x.to_string();
        let mut m: Mentions = Mentions::default();
        let scope = BTreeSet::from(["shop"]);
        let values = [s("web"), s("api"), s("web")];
        for _ in 0..2 {
            m.add_pod_label_test_in(
                Some(scope.iter().copied()),
                "app",
                crate::Op::In,
                values.iter(),
            );
            m.add_pod_label_test("tier", crate::Op::NotIn, [s("b"), s("a")].iter());
        }
        m.add_pod_label_test_in(
            Some(scope.iter().copied()),
            "canary",
            crate::Op::Exists,
            [].iter(),
        );
        let in_shop: Vec<_> = m.pod_labels_in["shop"].iter().cloned().collect();
        assert_eq!(in_shop, [(s("app"), s("api")), (s("app"), s("web"))]);
        let pairs: Vec<_> = m.pod_labels.iter().cloned().collect();
        assert_eq!(pairs, [(s("tier"), s("a")), (s("tier"), s("b"))]);
        // An existence test goes to the keys only; a namespace missing from one map
        // reads as empty there.
        assert_eq!(m.pod_keys_in["shop"], SortedSet::from([s("canary")]));
        assert!(m.namespaces.contains("shop"));
        // The borrowed search orders as the owned pairs do.
        for (k, v) in [("app", "api"), ("app", "web"), ("tier", "a"), ("tier", "b")] {
            let all: SortedSet<(String, String)> = m
                .pod_labels
                .iter()
                .chain(&m.pod_labels_in["shop"])
                .cloned()
                .collect();
            assert!(all.contains(&(k, v) as &dyn PairRef), "{k}={v}");
        }
        for (k, v) in [("app", "db"), ("ap", "web"), ("tier", "c"), ("", "")] {
            assert!(!m.pod_labels.contains(&(k, v) as &dyn PairRef), "{k}={v}");
        }
    }

    #[test]
    fn flow_at_enumerates_every_flow_once() {
        let pod = |ns: &str, name: &str, ip: &str| Pod {
            namespace: ns.into(),
            name: name.into(),
            labels: BTreeMap::new(),
            ip: ip.parse().unwrap(),
            named_ports: BTreeMap::new(),
        };
        let m = ClusterModel {
            pods: vec![
                pod("a", "p", "10.0.0.1"),
                pod("a", "q", "10.0.0.2"),
                pod("b", "r", "10.0.0.3"),
            ],
            externals: vec!["8.8.8.8".parse().unwrap(), "1.1.1.1".parse().unwrap()],
            ports: vec![(Protocol::Tcp, 80), (Protocol::Udp, 53)],
            ..ClusterModel::default()
        };
        assert_eq!(m.flow_count(), (3 * 2 + 2 * 3 * 2) * 2);
        let flows = m.flows();
        assert_eq!(flows.len(), m.flow_count());
        let unique: BTreeSet<Flow> = flows.iter().copied().collect();
        assert_eq!(unique.len(), flows.len());
        assert!(flows
            .iter()
            .all(|f| f.src != f.dst && (f.src.is_pod() || f.dst.is_pod())));
        assert_eq!(m.flow_at(m.flow_count()), None);
    }

    #[test]
    fn a_pod_cache_answers_for_the_model_it_holds_only() {
        let pod = |ns: &str, name: &str, app: &str| Pod {
            namespace: ns.into(),
            name: name.into(),
            labels: BTreeMap::from([("app".to_string(), app.to_string())]),
            ip: "10.0.0.1".parse().unwrap(),
            named_ports: BTreeMap::new(),
        };
        let model = ClusterModel {
            pods: vec![pod("a", "p", "web")],
            ..ClusterModel::default()
        };
        let other = model.clone();
        let cache: PodCache<String> = PodCache::default();
        let values = |c: Option<&[std::sync::Arc<String>]>| {
            c.map(|c| c.iter().map(|v| v.to_string()).collect::<Vec<_>>())
        };
        let of = |m: &ClusterModel, i: usize| {
            format!("{}/{}", m.pods[i].namespace, m.pods[i].labels["app"])
        };
        assert_eq!(cache.with(&model, values), None);
        cache.fill(&model, of);
        assert_eq!(cache.with(&model, values), Some(vec!["a/web".to_string()]));
        assert_eq!(cache.with(&other, values), None);
        cache.fill(&other, |m, i| format!("{}!", of(m, i)));
        assert_eq!(cache.with(&model, values), None);
        assert_eq!(cache.with(&other, values), Some(vec!["a/web!".to_string()]));
        // Pods alike in namespace and labels share one value; others have their own.
        let replicas = ClusterModel {
            pods: vec![
                pod("a", "p", "web"),
                pod("a", "q", "web"),
                pod("b", "r", "web"),
                pod("a", "s", "db"),
            ],
            ..ClusterModel::default()
        };
        cache.fill(&replicas, of);
        cache.with(&replicas, |c| {
            let c = c.unwrap();
            assert!(std::sync::Arc::ptr_eq(&c[0], &c[1]));
            assert!(!std::sync::Arc::ptr_eq(&c[0], &c[2]));
            assert!(!std::sync::Arc::ptr_eq(&c[0], &c[3]));
            assert_eq!(
                c.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
                ["a/web", "a/web", "b/web", "a/db"]
            );
        });
        // Enough distinct pods for the values to be made on several threads: each pod
        // still gets its own value, shared with its replica only.
        let many = ClusterModel {
            pods: (0..1200)
                .map(|i| pod("a", &format!("p{i}"), &format!("app{}", i % 600)))
                .collect(),
            ..ClusterModel::default()
        };
        cache.fill(&many, of);
        cache.with(&many, |c| {
            let c = c.unwrap();
            for (i, v) in c.iter().enumerate() {
                assert_eq!(**v, format!("a/app{}", i % 600));
            }
            for i in 0..600 {
                assert!(std::sync::Arc::ptr_eq(&c[i], &c[i + 600]));
                assert!(!std::sync::Arc::ptr_eq(&c[i], &c[i + 1]));
            }
        });
    }

    /// The candidates of a namespace are the open rules and the rules listed under any
    /// of its names, each once and in order; an address gets the open rules; below
    /// `MIN_RULES` every rule is a candidate.
    #[test]
    fn a_near_index_lists_the_rules_each_namespace_may_meet() {
        // Rule i: every third is open, the others confined to `n{i % 5}` (rule 4 also to
        // `n0` twice, rule 8 to no namespace at all).
        let n = NearIndex::<'static>::MIN_RULES + 4;
        let names = ["n0", "n1", "n2", "n3", "n4"];
        let index = NearIndex::new(n, |i| match i {
            _ if i % 3 == 0 => None,
            4 => Some(vec![names[4], names[0], names[0]]),
            8 => Some(vec![]),
            _ => Some(vec![names[i % 5]]),
        });
        let open: Vec<usize> = (0..n).filter(|i| i % 3 == 0).collect();
        assert_eq!(index.candidates(&[]), open);
        assert_eq!(index.candidates(&["elsewhere"]), open);
        let expect = |ns: &[usize]| -> Vec<usize> {
            (0..n)
                .filter(|i| {
                    i % 3 == 0 || (*i != 8 && ns.contains(&(i % 5))) || (*i == 4 && ns.contains(&0))
                })
                .collect()
        };
        assert_eq!(index.candidates(&["n1"]), expect(&[1]));
        assert_eq!(index.candidates(&["n0"]), expect(&[0]));
        // Known by two names (its name and its name label): both, each rule once.
        assert_eq!(index.candidates(&["n0", "n4"]), expect(&[0, 4]));
        assert_eq!(index.candidates(&["n4", "n4"]), expect(&[4]));
        // Too few rules to index: all of them, whatever the names.
        let small = NearIndex::new(3, |_| Some(vec!["n0"]));
        assert_eq!(small.candidates(&[]), [0, 1, 2]);
        // `keep_into` (and `keep`, which calls it) keeps what asking `may` about every
        // rule keeps, in a buffer used again.
        let rules: Vec<usize> = (0..n).collect();
        let mut out = vec![99];
        for names in [
            &[][..],
            &["elsewhere"],
            &["n1"],
            &["n0", "n0"],
            &["n0", "n4"],
            &["n4", "n0", "n4"],
            &["elsewhere", "n2"],
        ] {
            // What may match there: the candidates (as the callers' tests are), or some.
            let here = index.candidates(names);
            for even in [false, true] {
                let may = |r: &usize| here.contains(r) && (!even || r % 2 == 0);
                let all: Vec<usize> = rules.iter().copied().filter(may).collect();
                index.keep_into(&rules, names.iter().copied(), may, &mut out);
                assert_eq!(out, all, "{names:?}");
            }
        }
        small.keep_into(&[0, 1, 2], ["n0"], |r| *r != 1, &mut out);
        assert_eq!(out, [0, 2]);
    }

    #[test]
    fn a_near_index_sets_apart_names_whose_hashes_collide() {
        // Two names under one hash, as a collision would list them: each keeps its own
        // rules, in order.
        let listed = [(7, 1, "a"), (7, 2, "b"), (7, 4, "a"), (7, 5, "b")];
        let of = |name| NearIndex::of_name(&listed, name).collect::<Vec<_>>();
        assert_eq!(of("a"), [1, 4]);
        assert_eq!(of("b"), [2, 5]);
        assert_eq!(of("c"), Vec::<usize>::new());
        let names: Vec<String> = (0..2000).map(|i| format!("ns-{i:04}")).collect();
        let hashes: BTreeSet<u64> = names.iter().map(|n| name_hash(n)).collect();
        assert_eq!(hashes.len(), names.len());
    }

    /// A selector confines to the values of its first `In` on the name label; `NotIn`,
    /// existence and other keys confine nothing.
    #[test]
    fn named_namespaces_are_the_values_of_an_in_test_on_the_name() {
        use crate::{Op, Requirement, NAMESPACE_NAME_LABEL};
        let req = |key: &str, op: Op, values: &[&str]| Requirement {
            key: key.into(),
            op,
            values: values.iter().map(|v| (*v).to_string()).collect(),
        };
        fn names(rs: &[Requirement]) -> Option<Vec<&str>> {
            named_namespaces(rs).map(Iterator::collect)
        }
        let team = req("team", Op::In, &["a"]);
        let shop = req(NAMESPACE_NAME_LABEL, Op::In, &["shop", "cart"]);
        assert_eq!(
            names(&[team.clone(), shop.clone()]),
            Some(vec!["cart", "shop"])
        );
        assert_eq!(names(std::slice::from_ref(&team)), None);
        assert_eq!(
            names(&[req(NAMESPACE_NAME_LABEL, Op::NotIn, &["shop"])]),
            None
        );
        assert_eq!(names(&[req(NAMESPACE_NAME_LABEL, Op::Exists, &[])]), None);
        assert_eq!(names(&[]), None);
    }
}
