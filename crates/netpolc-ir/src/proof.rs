//! The exact proof: every flow of a model decided alike by the intended meaning and by each
//! back end's evaluator, without enumerating the flows.
//!
//! A flow is allowed iff its egress side (the source pod) and its ingress side (the
//! destination pod) both allow it. The proof first compares the two readings **side by
//! side**, then falls back to whole flows only where a side differs:
//!
//! 1. **Sides.** For every pod `s` of the model and each direction, the other endpoints are
//!    partitioned by what the rules of that side can tell apart ([`Mentions`], reported
//!    by every evaluator for `(namespace, direction)`): the pods of every namespace those
//!    rules name or select by label are taken one per group of pods the rules cannot tell
//!    apart (a label test confined to one namespace, such as a peer in the rule's own
//!    namespace, tells apart the pods of that namespace only:
//!    [`Mentions::pod_labels_in`]); namespaces the rules select by label only, and whose
//!    mentioned labels agree, count as one (their pods are taken one per group across
//!    them: ten namespaces of one team cost what one does); every other namespace is
//!    represented by one *unnamed namespace* holding one pod of each pod class of the
//!    model (its labels are none and the side does not name it — a side that does tells
//!    every namespace apart — so each evaluator answers for it exactly as for any
//!    namespace it cannot tell apart); addresses by one address
//!    per interval the mentioned networks (and the cluster's networks) cut the address
//!    space into, plus one public address per family; ports by one port per interval the
//!    mentioned port boundaries cut each protocol into. Each representative's side
//!    verdict is compared between the intended meaning and each back end.
//! 2. **Flows.** A side that differs for an address is a disagreement (an address has no
//!    other side). A side that differs for a pod is checked as whole flows: against that
//!    pod, or, when the pod stood for a group of namespaces or for the unnamed namespace,
//!    against the pods it stood for in every namespace of the group, or in every
//!    namespace the side's rules do not tell apart. Only a whole flow that
//!    differs is a disagreement: a back end may enforce a deny on the other side of the
//!    flow (Kubernetes does, for sides that are not isolated).
//!
//! 3. **Pods with one side.** Pods of one namespace (with the same named ports and address
//!    family) to which every evaluator gives the same [`Evaluator::side_key`] (the same
//!    rules apply to them) have the same side: it is compared once, for the first of
//!    them (the *leader*), and each other pod's side is compared against the leader only
//!    (the one end the leader's own comparison leaves out). A difference found for the
//!    leader is checked as whole flows for each of them.
//!
//! Every flow of the model is covered: a flow that differs overall differs on one of its
//! sides, and that side's representative differs too (the evaluators' contract,
//! [`Evaluator`]). Pod addresses are assumed to be told apart by no network: when a
//! network a side mentions contains some of the model's pod addresses but not all, that
//! side counts every namespace as told apart (exact, slower).
//!
//! Cost: pods × (representatives of one side) × (ports of one side) side verdicts, plus
//! whole flows where sides differ; linear in the namespaces when each namespace's rules
//! name a bounded number of others. [`ProofStats`] counts the work. Sides are resolved
//! one at a time (memory stays in proportion to the model, not to pods × namespaces)
//! and checked on every core, in blocks of pods; the findings of the threads are merged
//! in the order one thread would have found them, so the outcome does not depend on the
//! number of threads.

use crate::derive::Words;
use crate::model::{
    ClusterModel, Endpoint, Evaluator, Flow, Mentions, Numbering, Pod, PreparedSide, SideKey,
    Verdict,
};
use crate::sorted::{SortedMap, SortedSet};
use crate::{Direction, Protocol, NAMESPACE_NAME_LABEL};
use ipnet::IpNet;
use std::borrow::{Borrow, Cow};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One flow on which a back end's evaluator and the intended meaning disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Index of the evaluator in the `targets` given to [`prove`].
    pub target: usize,
    /// The flow (its pods index the model given to [`prove`]).
    pub flow: Flow,
    /// `ns/pod -> ns/pod 80/tcp`.
    pub flow_name: String,
    /// The intended verdict.
    pub intended: Verdict,
    /// The back end's verdict.
    pub actual: Verdict,
}

/// How much work a proof did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProofStats {
    /// Namespaces of the model.
    pub namespaces: usize,
    /// Pods of the model.
    pub pods: usize,
    /// Sides compared (a pod's ingress or egress; pods whose side another pod's stands
    /// for are not counted).
    pub sides: u64,
    /// Other ends those sides were compared against, summed over the sides.
    pub other_ends: u64,
    /// Side verdicts compared (per evaluator pair).
    pub side_checks: u64,
    /// Whole-flow verdicts compared (per evaluator pair).
    pub flow_checks: u64,
}

/// The outcome of a proof.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proof {
    /// Disagreements, at most `limit` per target, sorted by target then flow.
    pub findings: Vec<Finding>,
    /// The work done.
    pub stats: ProofStats,
}

/// Proves that each of `targets` decides every flow of `model` as `intended` does.
///
/// `networks` are the cluster's own networks (pods, services, nodes): no representative
/// address is taken inside them. Returns at most `limit` findings per target.
pub fn prove(
    model: &ClusterModel,
    networks: &[IpNet],
    intended: &dyn Evaluator,
    targets: &[&dyn Evaluator],
    limit: usize,
) -> Proof {
    prove_on(
        crate::par::threads(),
        model,
        networks,
        intended,
        targets,
        limit,
    )
}

/// [`prove`] on `threads` threads (the outcome is the same on any number).
pub fn prove_on(
    threads: usize,
    model: &ClusterModel,
    networks: &[IpNet],
    intended: &dyn Evaluator,
    targets: &[&dyn Evaluator],
    limit: usize,
) -> Proof {
    Prover::new(model.clone(), networks, threads.max(1))
        .with(Evals {
            intended,
            targets,
            limit,
        })
        .run()
}

/// The unnamed namespace's name: not in the model. A side whose rules name it tells
/// every namespace apart ([`Prover::side_local`]), so no scan of every side is needed to
/// find a name nobody mentions.
fn unnamed_namespace(model: &ClusterModel) -> String {
    (0u32..)
        .map(|i| match i {
            0 => "netpolc-unnamed".to_string(),
            _ => format!("netpolc-unnamed-{i}"),
        })
        .find(|n| !model.namespaces.contains_key(n))
        .unwrap_or_default()
}

/// A pod's labels as one side sees them (see [`Projection::key`]).
pub type Seen<'a> = Vec<(Option<&'a str>, bool)>;

/// One side's mentions as the proof gathers them ([`Prover::mentions`]).
type Said<'a> = Mentions<Cow<'a, str>>;

/// A pod's named ports: name → (protocol, port).
type NamedPorts = BTreeMap<String, (Protocol, u16)>;

/// A pod class: what of a pod the evaluators can see besides its namespace.
type Class = (BTreeMap<String, String>, BTreeMap<String, (Protocol, u16)>);

/// Namespace name → (number, whether the model has the namespace) ([`Prover::namespace_of`]):
/// looked up for each namespace a side's mentions name, hashed rather than compared.
type NameNumbers = HashMap<String, (u32, bool), crate::derive::SeededWords>;

/// A namespace's number from its position (a model has far fewer than 2^32).
fn number(position: usize) -> u32 {
    u32::try_from(position).expect("fewer than 2^32 namespaces")
}

/// The merged vocabulary of one side, resolved against the model. Namespaces are
/// [`Prover::namespace_of`]'s numbers (in the order of their names: sorting numbers sorts
/// names), so that the per-namespace and per-pod steps compare integers, not strings.
#[derive(Debug, Default)]
struct Local {
    /// Namespaces told apart (their pods are taken as they are); sorted, without repeats.
    namespaces: Vec<u32>,
    /// Of those, the namespaces the side tells apart by their labels only (not by name,
    /// not by tests confined to them), with their group, sorted by namespace: the
    /// namespaces of one group carry the same mentioned labels, so the side treats them
    /// alike and one namespace's pods stand for the group's ([`Prover::members`] expands
    /// them back).
    grouped: Vec<(u32, usize)>,
    /// The groups, each a list of namespaces (the first names the group).
    groups: Vec<Vec<u32>>,
    /// Every namespace is told apart.
    all: bool,
    /// The networks the side mentions (its representative addresses are those of these
    /// and the fixed networks: [`Prover::addresses`]).
    nets: SortedSet<IpNet>,
    /// Port interval starts, per protocol.
    ports: SortedSet<(Protocol, u32)>,
    /// The destination's named ports matter.
    named_ports: bool,
    /// What of the other pod's labels matters: first in namespaces no test is confined
    /// to, then in namespaces some tests are confined to, one per distinct set of such
    /// tests (the namespaces of a group of namespaces that one rule names alike share
    /// one: [`Prover::check_sides`] keys each pod class once per projection).
    projections: Vec<Projection>,
    /// Namespaces some tests are confined to, with their projection's position; sorted
    /// by namespace.
    within: Vec<(u32, usize)>,
}

impl Local {
    /// The position, in [`Local::projections`], of what of a pod's labels matters when
    /// the pod is in `namespace`.
    fn projection(&self, namespace: u32) -> usize {
        match self.within.binary_search_by_key(&namespace, |(n, _)| *n) {
            Ok(i) => self.within[i].1,
            Err(_) => 0,
        }
    }

    /// The group of `namespace`, if the side tells it apart by its labels only.
    fn group(&self, namespace: u32) -> Option<usize> {
        self.grouped
            .binary_search_by_key(&namespace, |(n, _)| *n)
            .ok()
            .map(|i| self.grouped[i].1)
    }
}

/// The part of a pod's labels one side's rules can see: the value of each mentioned key
/// when that value is mentioned, "another value" otherwise, or absence when the key is
/// tested for existence; or every label.
///
/// A key tested only by `In`/`NotIn`/equality ([`Mentions::pod_labels`]) does not tell
/// absence from a value no test names: every evaluator's such test answers alike for
/// both (`In` and `=` false, `NotIn` and `!=` true), so pods differing only there are
/// one other end, not two.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Projection {
    /// Every label matters.
    pub all: bool,
    /// Mentioned key → (mentioned values, whether the key is tested for existence:
    /// [`Mentions::pod_keys`]).
    pub keys: SortedMap<String, (SortedSet<String>, bool)>,
}

impl Projection {
    /// What the pod-label part of `m` can tell apart in any namespace: every test,
    /// including those [`Mentions::pod_labels_in`] confines to one namespace.
    pub fn of<S: Borrow<str>>(m: &Mentions<S>) -> Projection {
        let mut p = Projection::outside(m);
        p.add(
            m.pod_labels_in.values().flatten(),
            m.pod_keys_in.values().flatten(),
        );
        p
    }

    /// What the pod-label part of `m` can tell apart about pods of a namespace that
    /// no test is confined to.
    pub fn outside<S: Borrow<str>>(m: &Mentions<S>) -> Projection {
        let mut p = Projection {
            all: m.all_pod_labels,
            keys: SortedMap::new(),
        };
        p.add(&m.pod_labels, &m.pod_keys);
        p
    }

    /// What the pod-label part of `m` can tell apart about pods of `namespace`.
    pub fn within<S: Borrow<str> + Ord>(m: &Mentions<S>, namespace: &str) -> Projection {
        let mut p = Projection::outside(m);
        p.add(
            m.pod_labels_in.get(namespace).into_iter().flatten(),
            m.pod_keys_in.get(namespace).into_iter().flatten(),
        );
        p
    }

    fn add<'a, S: Borrow<str> + 'a>(
        &mut self,
        pairs: impl IntoIterator<Item = &'a (S, S)>,
        keys: impl IntoIterator<Item = &'a S>,
    ) {
        let none = || (SortedSet::new(), false);
        for (k, v) in pairs {
            let k: &str = k.borrow();
            let (values, _) = self.keys.slot(k, || k.to_string(), none);
            let v: &str = v.borrow();
            if !values.contains(v) {
                values.insert(v.to_string());
            }
        }
        for k in keys {
            let k: &str = k.borrow();
            self.keys.slot(k, || k.to_string(), none).1 = true;
        }
    }

    /// The key of a pod under this projection: per mentioned key, the value when it is
    /// mentioned (`(Some(v), false)`), another value (`(None, true)`), or absence
    /// (`(None, false)`) when the key is tested for existence (else absence is another
    /// value).
    pub fn key<'a>(&self, labels: &'a BTreeMap<String, String>) -> Seen<'a> {
        if self.all {
            return labels
                .iter()
                .flat_map(|(k, v)| [(Some(k.as_str()), false), (Some(v.as_str()), false)])
                .collect();
        }
        self.keys
            .iter()
            .map(|(k, (values, presence))| match labels.get(k) {
                None => (None, !presence),
                Some(v) if values.contains(v) => (Some(v.as_str()), false),
                Some(_) => (None, true),
            })
            .collect()
    }
}

/// Appends to `out` the key of a pod with `labels` (whose label set is numbered
/// `label_set`) under the projection `p`, as numbers ([`Prover::check_sides`] tells pods
/// apart by comparing numbers, not strings): per mentioned key, `0` for absence when the
/// key is tested for existence, `1` for another value (or absence otherwise), or the
/// address of the mentioned value in `p` (each value is kept once there); or the label
/// set's number when every label matters. Two pods get the same numbers iff
/// [`Projection::key`] gives them the same key.
fn key_into(
    p: &Projection,
    labels: &BTreeMap<String, String>,
    label_set: usize,
    out: &mut Vec<usize>,
) {
    if p.all {
        out.push(label_set);
        return;
    }
    // Both sorted by key: one walk through the pod's labels.
    let mut pod = labels.iter().peekable();
    for (k, (values, presence)) in &p.keys {
        let mut code = usize::from(!presence);
        while let Some((l, v)) = pod.peek() {
            match l.as_str().cmp(k.as_str()) {
                std::cmp::Ordering::Less => {
                    pod.next();
                }
                std::cmp::Ordering::Equal => {
                    code = values.get(*v).map_or(1, |v| std::ptr::from_ref(v) as usize);
                    break;
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        out.push(code);
    }
}

fn direction_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// What resolves one side's [`Mentions`] against the model.
#[derive(Debug, Default)]
struct Vocabulary {
    /// Namespaces (numbers) by label key, then value.
    by_pair: BTreeMap<String, BTreeMap<String, Vec<u32>>>,
    /// Namespaces (numbers) by label key.
    by_key: BTreeMap<String, Vec<u32>>,
    /// Networks that always cut the address space (the cluster's, the API server's).
    fixed: BTreeSet<IpNet>,
    /// The real pods' IPv4 addresses, sorted (as numbers: compared for every network of
    /// every side).
    pod_v4: Vec<u32>,
    /// The real pods' IPv6 addresses, sorted.
    pod_v6: Vec<u128>,
    /// The cluster's own networks.
    networks: Vec<IpNet>,
}

impl Vocabulary {
    /// Whether `net` contains some of the pods' addresses but not all (it tells pods
    /// apart by address).
    fn splits(&self, net: &IpNet) -> bool {
        fn inside<T: Ord>(ips: &[T], first: T, last: T) -> usize {
            ips.partition_point(|ip| *ip <= last) - ips.partition_point(|ip| *ip < first)
        }
        let n = match net {
            IpNet::V4(n) => inside(&self.pod_v4, n.network().into(), n.broadcast().into()),
            IpNet::V6(n) => inside(&self.pod_v6, n.network().into(), n.broadcast().into()),
        };
        n > 0 && n < self.pod_v4.len() + self.pod_v6.len()
    }
}

/// The proof: its own copy of the model, what it makes of the model before any
/// evaluator is asked ([`Prover::new`]: `E` is `()`; [`Prepared`]), and then the
/// evaluators it compares ([`Prover::with`]: `E` is [`Evals`]).
struct Prover<E> {
    /// The evaluators, once given.
    evals: E,
    /// The model plus the unnamed namespace and its pods (after the real pods).
    model: ClusterModel,
    real_pods: usize,
    /// What the evaluators' prepared sides find by a pod's position.
    numbering: Numbering,
    /// Threads to run on.
    threads: usize,
    /// What resolves a side's mentions against the model.
    vocabulary: Vocabulary,
    /// Real pods per namespace (by number: [`Prover::namespace_of`]).
    pods_by_namespace: Vec<Vec<usize>>,
    /// Per pod of the model (unnamed ones included), the number of its namespace: its
    /// position among the model's namespaces (the unnamed one included), in the order of
    /// their names. A side's namespaces are told apart by these numbers.
    namespace_of: Vec<u32>,
    /// Namespace name → number.
    namespace_numbers: NameNumbers,
    /// Per namespace number, its labels.
    namespace_labels: Vec<BTreeMap<String, String>>,
    /// Class of each real pod.
    class_of: Vec<usize>,
    /// Per pod of the model (unnamed ones included), a number for its named ports: two
    /// pods have the same number when they have the same named ports. Compared instead
    /// of the maps, for every pod of every side.
    ports_id: Vec<usize>,
    /// Real pods of each class.
    pods_of_class: Vec<Vec<usize>>,
    /// Per class, a number for its labels: classes with the same labels (and other named
    /// ports) have the same number.
    label_set_of_class: Vec<usize>,
    /// The unnamed namespace's pod of each class.
    unnamed_pods: Vec<usize>,
    /// The unnamed namespace's name.
    unnamed: String,
    /// Its number ([`Prover::namespace_of`]).
    unnamed_number: u32,
    /// Per real pod and direction index, the pod whose side is checked for it: itself,
    /// or the first pod of its namespace that every evaluator says has the same side
    /// ([`Evaluator::side_key`]).
    leaders: Vec<[usize; 2]>,
    /// Per `(leader, direction index)`, the other pods it is checked for.
    followers: BTreeMap<(usize, usize), Vec<usize>>,
    stats: ProofStats,
}

/// The evaluators a [`Prover`] compares, and how many findings per target it reports.
struct Evals<'a> {
    intended: &'a dyn Evaluator,
    targets: &'a [&'a dyn Evaluator],
    limit: usize,
}

/// A model made ready for the proof before any evaluator is asked about it: the proof's
/// own copy (with the unnamed namespace and its pods), pods grouped in classes and by
/// namespace, namespaces numbered, the vocabulary of labels and addresses. Whoever has
/// the model before the evaluators prepares it meanwhile (the pipeline, on the thread
/// that derives the model while the back ends compile): tens of thousands of pods' label
/// maps are walked there, not while every core waits. [`prove_prepared`] proves on it.
pub struct Prepared(Prover<()>);

impl Prepared {
    /// `model` made ready, with the cluster's own `networks` (as [`prove`] takes them).
    pub fn new(model: ClusterModel, networks: &[IpNet]) -> Prepared {
        Prepared(Prover::new(model, networks, crate::par::threads()))
    }
}

/// [`prove`] on a model prepared beforehand ([`Prepared`]).
pub fn prove_prepared(
    prepared: Prepared,
    intended: &dyn Evaluator,
    targets: &[&dyn Evaluator],
    limit: usize,
) -> Proof {
    prepared
        .0
        .with(Evals {
            intended,
            targets,
            limit,
        })
        .run()
}

/// What one thread of the proof found: findings (each with the position of the side
/// that found it, so that threads merge in the order one thread would have found them),
/// suspects, and the work done.
struct Tally {
    /// Per target, how many findings.
    found: Vec<usize>,
    /// `(target, pod, direction index, sequence)` and the finding.
    findings: Vec<((usize, usize, usize, usize), Finding)>,
    /// `(target, pod, direction index, other pod)` whose side differs.
    suspects: BTreeSet<(usize, usize, usize, usize)>,
    sides: u64,
    other_ends: u64,
    side_checks: u64,
    flow_checks: u64,
    /// The thread's memory of keys, kept from side to side.
    scratch: Scratch,
}

/// What [`Prover::check_sides`] remembers of the pod classes it keyed, per thread: per
/// (projection of the side, class), the stamp of the side it was keyed for and the
/// number of its key there. A stamp that is not the current side's reads as not keyed
/// yet: nothing is cleared from side to side.
#[derive(Default)]
struct Scratch {
    /// The last side stamp.
    side: u64,
    /// Per `projection * classes + class`, `(side stamp, key number)`.
    class_key: Vec<(u64, u32)>,
    /// Per direction index, the networks the last side of that direction mentioned and
    /// its representative addresses: the pods of a namespace mostly mention the same
    /// networks in one direction, and cutting the address space anew for each costs
    /// more than comparing the networks.
    addresses: [Option<(SortedSet<IpNet>, Vec<IpAddr>)>; 2],
}

impl Tally {
    fn new(targets: usize, classes: usize) -> Tally {
        Tally {
            found: vec![0; targets],
            findings: Vec::new(),
            suspects: BTreeSet::new(),
            sides: 0,
            other_ends: 0,
            side_checks: 0,
            flow_checks: 0,
            scratch: Scratch {
                class_key: vec![(0, 0); classes],
                ..Scratch::default()
            },
        }
    }

    fn done(&self, limit: usize) -> bool {
        self.found.iter().all(|n| *n >= limit)
    }
}

/// Pods per unit of work a thread takes.
const BLOCK: usize = 32;

impl Prover<()> {
    /// The model made ready on `threads` threads, before any evaluator is asked.
    fn new(model: ClusterModel, networks: &[IpNet], threads: usize) -> Prover<()> {
        let (real_pods, namespaces) = (model.pods.len(), model.namespaces.len());
        let mut p = Prover {
            evals: (),
            model,
            real_pods,
            numbering: Numbering::default(),
            threads,
            vocabulary: Vocabulary::default(),
            pods_by_namespace: Vec::new(),
            namespace_of: Vec::new(),
            namespace_numbers: NameNumbers::default(),
            namespace_labels: Vec::new(),
            class_of: Vec::new(),
            ports_id: Vec::new(),
            pods_of_class: Vec::new(),
            label_set_of_class: Vec::new(),
            unnamed_pods: Vec::new(),
            unnamed: String::new(),
            unnamed_number: 0,
            leaders: Vec::new(),
            followers: BTreeMap::new(),
            stats: ProofStats::default(),
        };
        let classes = p.classes();
        p.add_unnamed(&classes);
        p.number_namespaces();
        let mut ids: HashMap<&NamedPorts, usize, crate::derive::SeededWords> = HashMap::default();
        let ports_id = p
            .model
            .pods
            .iter()
            .map(|pod| {
                let next = ids.len();
                *ids.entry(&pod.named_ports).or_insert(next)
            })
            .collect();
        p.ports_id = ports_id;
        p.vocabulary = p.vocabulary(networks);
        p.numbering = Numbering::of(&p.model);
        p.stats.namespaces = namespaces;
        p.stats.pods = p.real_pods;
        p
    }

    /// The proof of `evals` on this model.
    fn with(self, evals: Evals<'_>) -> Prover<Evals<'_>> {
        let Prover {
            evals: (),
            model,
            real_pods,
            numbering,
            threads,
            vocabulary,
            pods_by_namespace,
            namespace_of,
            namespace_numbers,
            namespace_labels,
            class_of,
            ports_id,
            pods_of_class,
            label_set_of_class,
            unnamed_pods,
            unnamed,
            unnamed_number,
            leaders,
            followers,
            stats,
        } = self;
        Prover {
            evals,
            model,
            real_pods,
            numbering,
            threads,
            vocabulary,
            pods_by_namespace,
            namespace_of,
            namespace_numbers,
            namespace_labels,
            class_of,
            ports_id,
            pods_of_class,
            label_set_of_class,
            unnamed_pods,
            unnamed,
            unnamed_number,
            leaders,
            followers,
            stats,
        }
    }
}

impl<E> Prover<E> {
    /// Groups the real pods into classes; returns one representative per class.
    fn classes(&mut self) -> Vec<Class> {
        // Classes are looked up by reference: a pod's labels are copied only for the
        // first pod of its class, not for each of tens of thousands of pods. Numbered in
        // the order of their first pods.
        let pods = &self.model.pods;
        let mut index: HashMap<
            (&BTreeMap<String, String>, &NamedPorts),
            usize,
            crate::derive::SeededWords,
        > = HashMap::default();
        let mut firsts = Vec::new();
        let mut class_of = Vec::with_capacity(pods.len());
        let mut pods_of_class: Vec<Vec<usize>> = Vec::new();
        for (i, pod) in pods.iter().enumerate() {
            let c = *index
                .entry((&pod.labels, &pod.named_ports))
                .or_insert_with(|| {
                    firsts.push(i);
                    pods_of_class.push(Vec::new());
                    firsts.len() - 1
                });
            pods_of_class[c].push(i);
            class_of.push(c);
        }
        let classes: Vec<Class> = firsts
            .iter()
            .map(|&i| (pods[i].labels.clone(), pods[i].named_ports.clone()))
            .collect();
        let mut sets: HashMap<&BTreeMap<String, String>, usize, crate::derive::SeededWords> =
            HashMap::default();
        self.label_set_of_class = classes
            .iter()
            .map(|(labels, _)| {
                let next = sets.len();
                *sets.entry(labels).or_insert(next)
            })
            .collect();
        self.class_of = class_of;
        self.pods_of_class = pods_of_class;
        classes
    }

    /// Numbers the namespaces of the model (the unnamed one included, and any a pod is
    /// in that the model lacks) in the order of their names, and each pod's namespace;
    /// groups the real pods by namespace.
    fn number_namespaces(&mut self) {
        let model = &self.model;
        let mut names: BTreeSet<&str> = model.namespaces.keys().map(String::as_str).collect();
        names.extend(model.pods.iter().map(|p| p.namespace.as_str()));
        let mut numbers = NameNumbers::default();
        numbers.reserve(names.len());
        let mut labels = Vec::with_capacity(names.len());
        for (n, name) in names.into_iter().enumerate() {
            let known = model.namespaces.get(name);
            numbers.insert(name.to_string(), (number(n), known.is_some()));
            labels.push(known.cloned().unwrap_or_default());
        }
        self.namespace_of = model
            .pods
            .iter()
            .map(|pod| numbers.get(pod.namespace.as_str()).map_or(0, |(n, _)| *n))
            .collect();
        let mut by_namespace: Vec<Vec<usize>> = vec![Vec::new(); numbers.len()];
        for (i, n) in self.namespace_of[..self.real_pods].iter().enumerate() {
            by_namespace[*n as usize].push(i);
        }
        self.pods_by_namespace = by_namespace;
        self.namespace_labels = labels;
        self.unnamed_number = numbers.get(self.unnamed.as_str()).map_or(0, |(n, _)| *n);
        self.namespace_numbers = numbers;
    }

    /// The number of a namespace the model has ([`Self::namespace_of`]).
    fn known(&self, name: &str) -> Option<u32> {
        match self.namespace_numbers.get(name) {
            Some((n, true)) => Some(*n),
            _ => None,
        }
    }

    /// The number of a namespace the model has or a pod is in.
    fn numbered(&self, name: &str) -> Option<u32> {
        self.namespace_numbers.get(name).map(|(n, _)| *n)
    }

    /// Adds the unnamed namespace and one pod of each class to the model.
    fn add_unnamed(&mut self, classes: &[Class]) {
        let name = unnamed_namespace(&self.model);
        self.unnamed = name.clone();
        self.model.namespaces.insert(
            name.clone(),
            BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), name.clone())]),
        );
        for (c, (labels, named_ports)) in classes.iter().enumerate() {
            // The address of a real pod of the class: no network tells pod addresses
            // apart (checked in `resolve`), so any pod address will do.
            let ip = self.model.pods[self.pods_of_class[c][0]].ip;
            self.unnamed_pods.push(self.model.pods.len());
            self.model.pods.push(Pod {
                namespace: name.clone(),
                name: format!("class-{c}"),
                labels: labels.clone(),
                ip,
                named_ports: named_ports.clone(),
            });
        }
    }

    /// What resolves mentions against the model's namespaces and addresses.
    fn vocabulary(&self, networks: &[IpNet]) -> Vocabulary {
        let mut v = Vocabulary {
            networks: networks.to_vec(),
            ..Vocabulary::default()
        };
        for (ns, labels) in &self.model.namespaces {
            let n = self.known(ns).expect("numbered");
            for (k, val) in labels {
                v.by_pair
                    .entry(k.clone())
                    .or_default()
                    .entry(val.clone())
                    .or_default()
                    .push(n);
                v.by_key.entry(k.clone()).or_default().push(n);
            }
        }
        for p in &self.model.pods[..self.real_pods] {
            match p.ip {
                IpAddr::V4(ip) => v.pod_v4.push(ip.into()),
                IpAddr::V6(ip) => v.pod_v6.push(ip.into()),
            }
        }
        v.pod_v4.sort_unstable();
        v.pod_v6.sort_unstable();
        v.fixed = networks.iter().copied().collect();
        for ip in &self.model.api_server {
            v.fixed.insert(IpNet::from(*ip));
        }
        v
    }
}

impl<'a> Prover<Evals<'a>> {
    /// Per real pod and direction index, the pod whose side stands for its side: the
    /// first pod of the same namespace, named ports and address family to which every
    /// evaluator gives the same [`SideKey`]. Each namespace's pods are keyed and compared
    /// on one thread (their keys are made and freed there), the namespaces on every core.
    fn leaders(&self) -> Vec<[usize; 2]> {
        let namespaces: Vec<&[usize]> = self
            .pods_by_namespace
            .iter()
            .filter(|pods| !pods.is_empty())
            .map(Vec::as_slice)
            .collect();
        let found = crate::par::map(self.threads, namespaces.len(), 16, |n| {
            let key = |s: usize, d: Direction| {
                std::iter::once(self.evals.intended)
                    .chain(self.evals.targets.iter().copied())
                    .map(|e| e.side_key(&self.model, s, d))
                    .collect::<Option<Vec<SideKey>>>()
            };
            // Named ports by their number (`ports_id`: equal numbers, equal ports), not
            // compared map by map.
            type Alike = (usize, usize, bool, Vec<SideKey>);
            let mut first: BTreeMap<Alike, usize> = BTreeMap::new();
            let mut leaders = Vec::with_capacity(namespaces[n].len());
            for &s in namespaces[n] {
                let pod = &self.model.pods[s];
                let mut l = [s, s];
                for (di, d) in [Direction::Ingress, Direction::Egress]
                    .into_iter()
                    .enumerate()
                {
                    if let Some(key) = key(s, d) {
                        let alike = (di, self.ports_id[s], pod.ip.is_ipv6(), key);
                        l[di] = *first.entry(alike).or_insert(s);
                    }
                }
                leaders.push(l);
            }
            leaders
        });
        let mut leaders: Vec<[usize; 2]> = (0..self.real_pods).map(|s| [s, s]).collect();
        for (pods, found) in namespaces.iter().zip(found) {
            for (&s, l) in pods.iter().zip(found) {
                leaders[s] = l;
            }
        }
        leaders
    }

    /// The class of a pod of the model: a real pod's, or the one an unnamed pod stands for.
    fn class(&self, pod: usize) -> usize {
        match self.class_of.get(pod) {
            Some(c) => *c,
            None => pod - self.real_pods,
        }
    }

    /// Every evaluator's mentions, merged per side, for every real pod: borrowed from
    /// the evaluators and the model where they can lend them (a side's mentions live
    /// only while it is checked).
    fn mentions(&self, pod: usize, d: Direction) -> Said<'_> {
        let mut m = Mentions::default();
        self.evals
            .intended
            .mentions_into(&self.model, pod, d, &mut m);
        for t in self.evals.targets {
            t.mentions_into(&self.model, pod, d, &mut m);
        }
        m
    }

    /// One side's mentions, resolved against the model's namespaces and addresses.
    fn side_local(&self, pod: usize, d: Direction) -> Local {
        let mut m = self.mentions(pod, d);
        let v = &self.vocabulary;
        // Told apart one by one: the side's own namespace, those it names, and those
        // with tests confined to them.
        let mut names: Vec<u32> = Vec::with_capacity(m.namespaces.len() + 1);
        names.push(self.namespace_of[pod]);
        names.extend(m.namespaces.iter().filter_map(|n| self.known(n)));
        names.sort_unstable();
        names.dedup();
        // Namespaces with the same confined tests (a rule naming each namespace of a
        // group alike) share one projection.
        let mut projections = vec![Projection::outside(&m)];
        // The distinct confined tests met, with their projection's position: a handful
        // per side, compared for equality (sets of another size at once).
        type Tests<'t, 's> = (
            Option<&'t SortedSet<(Cow<'s, str>, Cow<'s, str>)>>,
            Option<&'t SortedSet<Cow<'s, str>>>,
        );
        let mut by_tests: Vec<(Tests<'_, '_>, usize)> = Vec::new();
        let mut within: Vec<(u32, usize)> = Vec::new();
        // The namespaces of both maps in order, each with its tests of both.
        let (mut pairs, mut keys) = (
            m.pod_labels_in.iter().peekable(),
            m.pod_keys_in.iter().peekable(),
        );
        loop {
            let (n, tests): (&str, Tests<'_, '_>) = match (pairs.peek(), keys.peek()) {
                (None, None) => break,
                (Some((a, _)), Some((b, _))) if a == b => {
                    let (n, p) = pairs.next().expect("peeked");
                    let (_, k) = keys.next().expect("peeked");
                    (n, (Some(p), Some(k)))
                }
                (Some((a, _)), Some((b, _))) if a > b => {
                    let (n, k) = keys.next().expect("peeked");
                    (n, (None, Some(k)))
                }
                (None, Some(_)) => {
                    let (n, k) = keys.next().expect("peeked");
                    (n, (None, Some(k)))
                }
                (Some(_), _) => {
                    let (n, p) = pairs.next().expect("peeked");
                    (n, (Some(p), None))
                }
            };
            // Named too, as a rule (the pod's own namespace, which the model may lack), or
            // a namespace of the model.
            let named = self.numbered(n).filter(|k| names.binary_search(k).is_ok());
            let Some(k) = named.or_else(|| self.known(n)) else {
                continue;
            };
            let p = match by_tests.iter().find(|(t, _)| *t == tests) {
                Some((_, p)) => *p,
                None => {
                    projections.push(Projection::within(&m, n));
                    by_tests.push((tests, projections.len() - 1));
                    projections.len() - 1
                }
            };
            // In the maps' order: sorted by name, hence by number.
            within.push((k, p));
        }
        names.extend(within.iter().map(|(n, _)| *n));
        names.sort_unstable();
        names.dedup();
        // Told apart by their labels: grouped by what the side's tests see of them.
        let mut labelled: Vec<u32> = Vec::new();
        for (k, val) in &m.namespace_labels {
            if let Some(list) = v
                .by_pair
                .get(k.as_ref())
                .and_then(|by_value| by_value.get(val.as_ref()))
            {
                labelled.extend_from_slice(list);
            }
        }
        for k in &m.namespace_keys {
            if let Some(list) = v.by_key.get(k.as_ref()) {
                labelled.extend_from_slice(list);
            }
        }
        labelled.sort_unstable();
        labelled.dedup();
        let (grouped, groups) = self.namespace_groups(&m, &names, &labelled);
        if !labelled.is_empty() {
            names.extend(labelled);
            names.sort_unstable();
            names.dedup();
        }
        let mut ports = m.ports.clone();
        if m.all_ports {
            ports.extend(self.model_ports());
        }
        for p in Protocol::PORTED {
            ports.insert((p, 1));
        }
        ports.retain(|(_, n)| (1..=65535).contains(n));
        // Pods told apart by address, or the unnamed namespace named (its pods would not
        // stand for the namespaces the side cannot tell apart): every namespace counts as
        // told apart (exact, slower).
        let all = m.all_namespaces
            || m.nets.iter().any(|n| v.splits(n))
            || m.namespaces.contains(self.unnamed.as_str())
            || m.pod_labels_in.contains_key(self.unnamed.as_str())
            || m.pod_keys_in.contains_key(self.unnamed.as_str())
            || m.namespace_labels.iter().any(|(_, v)| *v == self.unnamed);
        Local {
            namespaces: names,
            grouped,
            groups,
            all,
            nets: std::mem::take(&mut m.nets),
            ports,
            named_ports: m.named_ports || m.all_ports,
            projections,
            within,
        }
    }

    /// Groups the namespaces of `labelled` that are not in `named` by what `m`'s
    /// namespace tests see of their labels: per mentioned key, the value (for a key
    /// tested for existence, or a value a test names), another value, or absence.
    /// Namespaces alike under every test, and named by none, are decided alike by every
    /// evaluator (the same contract that lets the unnamed namespace stand for those the
    /// side does not mention at all).
    fn namespace_groups(
        &self,
        m: &Said<'_>,
        named: &[u32],
        labelled: &[u32],
    ) -> (Vec<(u32, usize)>, Vec<Vec<u32>>) {
        let mut keys: SortedMap<&str, Option<SortedSet<&str>>> = SortedMap::new();
        for (k, val) in &m.namespace_labels {
            let k: &str = k.borrow();
            if let Some(values) = keys.slot(k, || k, || Some(SortedSet::new())) {
                values.insert(val.borrow());
            }
        }
        for k in &m.namespace_keys {
            // Any value tells apart.
            keys.insert(k.borrow(), None);
        }
        let mut index: BTreeMap<Seen<'_>, usize> = BTreeMap::new();
        // In the order of `labelled`: sorted by namespace.
        let mut grouped = Vec::new();
        let mut groups: Vec<Vec<u32>> = Vec::new();
        for &n in labelled {
            if named.binary_search(&n).is_ok() {
                continue;
            }
            // Every namespace of `labelled` is one of the model's (its vocabulary's).
            let labels = &self.namespace_labels[n as usize];
            let seen: Seen<'_> = keys
                .iter()
                .map(|(k, values)| match (labels.get(*k), values) {
                    (None, _) => (None, false),
                    (Some(v), None) => (Some(v.as_str()), false),
                    (Some(v), Some(values)) if values.contains(v.as_str()) => {
                        (Some(v.as_str()), false)
                    }
                    (Some(_), Some(_)) => (None, true),
                })
                .collect();
            let g = *index.entry(seen).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(n);
            grouped.push((n, g));
        }
        (grouped, groups)
    }

    fn model_ports(&self) -> SortedSet<(Protocol, u32)> {
        let mut out = SortedSet::new();
        for (p, n) in &self.model.ports {
            out.insert((*p, u32::from(*n)));
            out.insert((*p, u32::from(*n) + 1));
        }
        out
    }

    fn run(mut self) -> Proof {
        // Evaluators are first asked about the model here, where it stays until the proof
        // ends: an evaluator's per-pod cache ([`crate::model::PodCache`], the intended
        // meaning's attached rules: [`Evaluator::expect_model`]), told by the model's
        // address, is filled once.
        for e in std::iter::once(self.evals.intended).chain(self.evals.targets.iter().copied()) {
            e.expect_model(&self.model);
        }
        self.leaders = self.leaders();
        for (s, leaders) in self.leaders.iter().enumerate() {
            for (di, &l) in leaders.iter().enumerate() {
                if l != s {
                    self.followers.entry((l, di)).or_default().push(s);
                }
            }
        }
        let limit = self.evals.limit;
        let targets = self.evals.targets.len();
        let classes = self.unnamed_pods.len();
        // Sides, in blocks of pods taken by the threads in turn.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let blocks = self.real_pods.div_ceil(BLOCK);
        let threads = self.threads.min(blocks).max(1);
        let numbering = &self.numbering;
        let this = &self;
        let work = || {
            let mut tally = Tally::new(targets, classes);
            'blocks: loop {
                let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if b >= blocks {
                    break;
                }
                for s in b * BLOCK..((b + 1) * BLOCK).min(this.real_pods) {
                    for d in Direction::BOTH {
                        if tally.done(limit) {
                            break 'blocks;
                        }
                        // A side another pod's stands for is checked with that side.
                        if this.leaders[s][direction_index(d)] == s {
                            this.check_sides(s, d, numbering, &mut tally);
                        }
                    }
                }
            }
            tally
        };
        let tallies: Vec<Tally> = if threads == 1 {
            vec![work()]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            })
        };
        // Merge as one thread going through the pods in order would have found them.
        let mut tally = Tally::new(targets, 0);
        let mut keyed = Vec::new();
        for t in tallies {
            keyed.extend(t.findings);
            tally.suspects.extend(t.suspects);
            tally.sides += t.sides;
            tally.other_ends += t.other_ends;
            tally.side_checks += t.side_checks;
            tally.flow_checks += t.flow_checks;
        }
        keyed.sort_by_key(|(key, _)| (key.0, key.1, key.2, key.3));
        for (key, f) in keyed {
            if tally.found[key.0] < limit {
                tally.found[key.0] += 1;
                tally.findings.push((key, f));
            }
        }
        // A leader's side that differs for a pod differs alike for its followers.
        let mut suspects = std::mem::take(&mut tally.suspects);
        let followed: Vec<(usize, usize, usize, usize)> = suspects
            .iter()
            .flat_map(|&(t, l, di, o)| {
                self.followers
                    .get(&(l, di))
                    .into_iter()
                    .flatten()
                    .map(move |&f| (t, f, di, o))
            })
            .collect();
        suspects.extend(followed);
        // Whole flows where a side differs for a pod.
        let mut checked: BTreeSet<(usize, usize, usize)> = BTreeSet::new();
        for (t, s, di, o) in suspects {
            if tally.found[t] >= limit {
                continue;
            }
            let d = Direction::BOTH[di];
            // What `o` stood for where it was compared: in the side of `s`'s leader.
            for q in self.members(self.leaders[s][di], d, o) {
                if q == s {
                    continue;
                }
                let (src, dst) = match d {
                    Direction::Egress => (s, q),
                    Direction::Ingress => (q, s),
                };
                if checked.insert((t, src, dst)) {
                    self.check_flow(t, src, dst, &mut tally);
                }
            }
        }
        let mut findings: Vec<Finding> = tally.findings.into_iter().map(|(_, f)| f).collect();
        findings.sort_by_key(|f| f.target);
        self.stats.sides = tally.sides;
        self.stats.other_ends = tally.other_ends;
        self.stats.side_checks = tally.side_checks;
        self.stats.flow_checks = tally.flow_checks;
        // The model and the proof's indexes (tens of thousands of pods and their label
        // maps at scale) are freed beside the caller's next steps, or at the exit, not
        // before it returns.
        let Prover {
            model,
            numbering,
            vocabulary,
            pods_by_namespace,
            namespace_numbers,
            namespace_labels,
            followers,
            stats,
            ..
        } = self;
        crate::par::drop_last((
            (model, numbering),
            vocabulary,
            pods_by_namespace,
            (namespace_numbers, namespace_labels),
            followers,
        ));
        Proof { findings, stats }
    }

    /// The real pods a representative `o` of one side of `s` stands for: the pods of its
    /// namespace (or, for the unnamed namespace, of every namespace the side does not
    /// tell apart) that the side's rules cannot tell from it.
    fn members(&self, s: usize, d: Direction, o: usize) -> Vec<usize> {
        let local = &self.side_local(s, d);
        // The key `check_sides` told other ends apart by.
        let key_of = |q: usize| {
            let pod = &self.model.pods[q];
            (
                local.projections[local.projection(self.namespace_of[q])].key(&pod.labels),
                local.named_ports.then(|| self.ports_id[q]),
            )
        };
        let key = key_of(o);
        let same = |q: &usize| key_of(*q) == key;
        if o >= self.real_pods {
            (0..self.real_pods)
                .filter(|q| {
                    local
                        .namespaces
                        .binary_search(&self.namespace_of[*q])
                        .is_err()
                })
                .filter(same)
                .collect()
        } else if local.all {
            vec![o]
        } else {
            let own = [self.namespace_of[o]];
            let group = match local.group(own[0]) {
                Some(g) => local.groups[g].as_slice(),
                None => own.as_slice(),
            };
            group
                .iter()
                .filter_map(|ns| self.pods_by_namespace.get(*ns as usize))
                .flatten()
                .copied()
                .filter(same)
                .collect()
        }
    }

    /// The representative addresses of a side that mentions the networks `nets`: one
    /// per interval that they and the fixed networks cut the address space into
    /// ([`representatives`]), and the model's node addresses. Kept in `scratch` for the
    /// next side of direction index `di` that mentions the same networks.
    fn addresses<'s>(
        &self,
        nets: &SortedSet<IpNet>,
        di: usize,
        scratch: &'s mut Scratch,
    ) -> &'s [IpAddr] {
        let kept = &mut scratch.addresses[di];
        if !matches!(kept, Some((kept, _)) if kept == nets) {
            let v = &self.vocabulary;
            let mut all = v.fixed.clone();
            all.extend(nets.iter().copied());
            let mut a = representatives(&all, &v.networks);
            a.extend(self.model.nodes.iter().copied());
            *kept = Some((nets.clone(), a));
        }
        kept.as_ref().map_or(&[], |(_, a)| a.as_slice())
    }

    /// The port samples of a side (plus the destination's named ports).
    fn samples(
        &self,
        ports: &SortedSet<(Protocol, u32)>,
        named: Option<usize>,
    ) -> Vec<(Protocol, u16)> {
        let mut all = ports.clone();
        if let Some(dst) = named {
            for (p, n) in self.model.pods[dst].named_ports.values() {
                all.insert((*p, u32::from(*n)));
                all.insert((*p, u32::from(*n) + 1));
            }
        }
        all.into_iter()
            .filter_map(|(p, n)| u16::try_from(n).ok().filter(|n| *n >= 1).map(|n| (p, n)))
            .collect()
    }

    /// Compares one side of pod `s` against every representative of the other end.
    fn check_sides<'n>(
        &'n self,
        s: usize,
        d: Direction,
        numbering: &'n Numbering,
        tally: &mut Tally,
    ) {
        let local = &self.side_local(s, d);
        let mut others: Vec<Endpoint> = Vec::new();
        if local.all {
            others.extend((0..self.real_pods).map(Endpoint::Pod));
        } else {
            // One pod per (namespace, what the side's rules see of its labels): the keys
            // seen are kept per namespace, or per group for the namespaces of a group.
            // A key is a function of the pod's class under one projection, so each class
            // is keyed once per projection of the side (`Scratch::class_key`), and pods
            // are told apart by the number of their key: most pods repeat a class.
            let classes = self.unnamed_pods.len();
            let scratch = &mut tally.scratch;
            scratch.side += 1;
            let side = scratch.side;
            let slots = local.projections.len() * classes;
            if scratch.class_key.len() < slots {
                scratch.class_key.resize(slots, (0, 0));
            }
            // Key numbers: keys of two projections are never compared (a namespace has
            // one projection, and every namespace of a group the first), so one
            // numbering serves them all (each key still starts with its projection).
            // A key is written as numbers ([`key_into`]) into one buffer, and copied only
            // when it is new.
            let mut keys: Words<Vec<usize>, u32> = Words::default();
            let mut written: Vec<usize> = Vec::new();
            let mut in_group: Vec<Vec<u32>> = vec![Vec::new(); local.groups.len()];
            // Per key number, the last namespace (by its position here) it was seen in.
            let mut seen_in: Vec<usize> = Vec::new();
            // Namespace by namespace (what the side sees of a namespace is looked up once
            // for all its pods), the unnamed namespace last.
            let unnamed = self.unnamed_number;
            let told_apart = local
                .namespaces
                .iter()
                .filter_map(|ns| {
                    let pods = self.pods_by_namespace.get(*ns as usize)?;
                    (!pods.is_empty()).then_some((*ns, pods.as_slice()))
                })
                .chain(std::iter::once((unnamed, self.unnamed_pods.as_slice())));
            for (at, (namespace, pods)) in told_apart.enumerate() {
                let p = local.projection(namespace);
                let projection = &local.projections[p];
                let mut group = local.group(namespace).map(|g| &mut in_group[g]);
                for &i in pods {
                    if i == s {
                        // A pod is never the other end of its own flow: its group needs
                        // another representative.
                        continue;
                    }
                    let pod = &self.model.pods[i];
                    debug_assert_eq!(self.namespace_of[i], namespace);
                    let slot = &mut scratch.class_key[p * classes + self.class(i)];
                    let key = if slot.0 == side {
                        slot.1
                    } else {
                        written.clear();
                        written.push(p);
                        if local.named_ports {
                            written.push(self.ports_id[i]);
                        }
                        let label_set = self.label_set_of_class[self.class(i)];
                        key_into(projection, &pod.labels, label_set, &mut written);
                        let k = match keys.get(written.as_slice()) {
                            Some(k) => *k,
                            None => {
                                let next = u32::try_from(keys.len()).unwrap_or(u32::MAX);
                                keys.insert(written.clone(), next);
                                next
                            }
                        };
                        *slot = (side, k);
                        k
                    };
                    let new = match group.as_mut() {
                        Some(seen) if seen.contains(&key) => false,
                        Some(seen) => {
                            seen.push(key);
                            true
                        }
                        None => {
                            let k = key as usize;
                            if seen_in.len() <= k {
                                seen_in.resize(k + 1, usize::MAX);
                            }
                            std::mem::replace(&mut seen_in[k], at) != at
                        }
                    };
                    if new {
                        others.push(Endpoint::Pod(i));
                    }
                }
            }
        }
        let addresses = self.addresses(&local.nets, direction_index(d), &mut tally.scratch);
        others.extend(addresses.iter().map(|ip| Endpoint::External(*ip)));
        tally.sides += 1;
        tally.other_ends += others.len() as u64;
        let named = local.named_ports;
        let base = &local.ports;
        let plain = self.samples(base, None);
        let me = Endpoint::Pod(s);
        // (target, other end, port) where the side differs.
        let mut differ: Vec<(usize, Endpoint, Protocol, u16)> = Vec::new();
        let mut side_checks = 0u64;
        {
            let model = &self.model;
            let intended = self.evals.intended.prepare_side(model, numbering, s, d);
            let targets: Vec<Option<PreparedSide<'_>>> = self
                .evals
                .targets
                .iter()
                .zip(&tally.found)
                .map(|(t, found)| {
                    (*found < self.evals.limit).then(|| t.prepare_side(model, numbering, s, d))
                })
                .collect();
            let (mut want, mut got) = (Vec::new(), Vec::new());
            let mut with_named: Vec<(usize, Vec<(Protocol, u16)>)> = Vec::new();
            for o in others {
                if o == me {
                    continue;
                }
                let dst = match (d, o) {
                    (Direction::Egress, Endpoint::Pod(i)) => Some(i),
                    (Direction::Egress, Endpoint::External(_)) => None,
                    (Direction::Ingress, _) => Some(s),
                };
                let samples: &[(Protocol, u16)] = match dst.filter(|_| named) {
                    Some(dst) if !self.model.pods[dst].named_ports.is_empty() => {
                        // Pods of one class (hence with the same named ports) share their
                        // samples.
                        let class = self.class(dst);
                        let k = match with_named.iter().position(|(c, _)| *c == class) {
                            Some(k) => k,
                            None => {
                                with_named.push((class, self.samples(base, Some(dst))));
                                with_named.len() - 1
                            }
                        };
                        &with_named[k].1
                    }
                    _ => &plain,
                };
                want.clear();
                intended(o, samples, &mut want);
                for (t, side) in targets.iter().enumerate() {
                    let Some(side) = side else {
                        continue;
                    };
                    side_checks += samples.len() as u64;
                    got.clear();
                    side(o, samples, &mut got);
                    if got == want {
                        // The usual answer, compared at once.
                        continue;
                    }
                    for (k, &(protocol, port)) in samples.iter().enumerate() {
                        if got[k] != want[k] {
                            differ.push((t, o, protocol, port));
                            if o.is_pod() {
                                break;
                            }
                        }
                    }
                }
            }
            // The pods whose side this one stands for: every other end they have is
            // covered above (their side is this side), but for this pod itself. Their
            // side is this side, so this side asked about this pod answers for each of
            // them: one call per evaluator, not a side prepared per follower.
            if let Some(followers) = self.followers.get(&(s, direction_index(d))) {
                // Every follower has the named ports of `s`: one set of samples for all.
                let own = named.then(|| self.samples(base, Some(s)));
                let samples: &[(Protocol, u16)] = own.as_deref().unwrap_or(&plain);
                want.clear();
                intended(me, samples, &mut want);
                #[cfg(debug_assertions)]
                for &f in followers {
                    let mut theirs = Vec::new();
                    self.evals.intended.prepare_side(model, numbering, f, d)(
                        me,
                        samples,
                        &mut theirs,
                    );
                    debug_assert_eq!(theirs, want, "a follower's side is its leader's");
                }
                for (t, side) in targets.iter().enumerate() {
                    let Some(side) = side else {
                        continue;
                    };
                    got.clear();
                    side(me, samples, &mut got);
                    for &f in followers {
                        #[cfg(debug_assertions)]
                        {
                            let mut theirs = Vec::new();
                            self.evals.targets[t].prepare_side(model, numbering, f, d)(
                                me,
                                samples,
                                &mut theirs,
                            );
                            debug_assert_eq!(theirs, got, "a follower's side is its leader's");
                        }
                        side_checks += samples.len() as u64;
                        if got != want {
                            tally.suspects.insert((t, f, direction_index(d), s));
                        }
                    }
                }
            }
        }
        tally.side_checks += side_checks;
        for (seq, (t, o, protocol, port)) in differ.into_iter().enumerate() {
            match o {
                Endpoint::External(_) => {
                    if tally.found[t] >= self.evals.limit {
                        continue;
                    }
                    let (src, dst) = match d {
                        Direction::Egress => (me, o),
                        Direction::Ingress => (o, me),
                    };
                    let flow = Flow {
                        src,
                        dst,
                        protocol,
                        port,
                    };
                    self.compare(t, &flow, (s, direction_index(d), seq), tally);
                }
                Endpoint::Pod(i) => {
                    tally.suspects.insert((t, s, direction_index(d), i));
                }
            }
        }
    }

    /// Compares every port of the whole flows `src -> dst` for one target.
    fn check_flow(&self, t: usize, src: usize, dst: usize, tally: &mut Tally) {
        let e = &self.side_local(src, Direction::Egress);
        let i = &self.side_local(dst, Direction::Ingress);
        let mut ports = e.ports.clone();
        ports.extend(i.ports.iter().copied());
        let samples = self.samples(&ports, Some(dst));
        for (protocol, port) in samples {
            if tally.found[t] >= self.evals.limit {
                return;
            }
            let flow = Flow {
                src: Endpoint::Pod(src),
                dst: Endpoint::Pod(dst),
                protocol,
                port,
            };
            self.compare(t, &flow, (usize::MAX, 0, 0), tally);
        }
    }

    /// Compares whole verdicts of one flow; records a finding when they differ.
    /// `at`: where the proof found it (pod, direction index, sequence), to merge threads
    /// in order.
    fn compare(&self, t: usize, flow: &Flow, at: (usize, usize, usize), tally: &mut Tally) {
        tally.flow_checks += 1;
        let want = self.evals.intended.verdict(&self.model, flow);
        let got = self.evals.targets[t].verdict(&self.model, flow);
        if want.allowed() != got.allowed() {
            tally.found[t] += 1;
            tally.findings.push((
                (t, at.0, at.1, at.2),
                Finding {
                    target: t,
                    flow: *flow,
                    flow_name: self.model.flow_name(flow),
                    intended: want,
                    actual: got,
                },
            ));
        }
    }
}

/// One address per interval that `nets` and `networks` cut the address space into,
/// outside `networks`: every address of an interval lies in the same mentioned networks,
/// so one stands for all. The interval's first address is taken (its last for the
/// interval that starts at the unspecified address), or the family's public address
/// (8.8.8.8, 2001:4860:4860::8888) in the interval that holds it.
fn representatives(nets: &BTreeSet<IpNet>, networks: &[IpNet]) -> Vec<IpAddr> {
    let public = [
        IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888)),
    ];
    // Interval starts: each family's first address, and each network's first address
    // and the one after its last.
    let mut starts: BTreeSet<IpAddr> = BTreeSet::from([
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    ]);
    for n in nets.iter().chain(networks) {
        starts.insert(n.network());
        if let Some(ip) = adjacent(n.broadcast(), true) {
            starts.insert(ip);
        }
    }
    let starts: Vec<IpAddr> = starts.into_iter().collect();
    let mut out = Vec::with_capacity(starts.len());
    for (k, &first) in starts.iter().enumerate() {
        // The interval's last address: before the next start of the same family, or
        // the family's last.
        let last = match starts.get(k + 1) {
            Some(next) if next.is_ipv4() == first.is_ipv4() => adjacent(*next, false),
            _ => Some(match first {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::BROADCAST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(u128::MAX)),
            }),
        };
        let Some(last) = last else { continue };
        let pick = match public.iter().find(|p| first <= **p && **p <= last) {
            Some(p) => *p,
            None if first.is_unspecified() => last,
            None => first,
        };
        if !pick.is_unspecified() && !networks.iter().any(|n| n.contains(&pick)) {
            out.push(pick);
        }
    }
    out.sort();
    out
}

/// The address just above (`up`) or just below `ip`, if any.
pub fn adjacent(ip: IpAddr, up: bool) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v) => {
            let n = u32::from(v);
            let n = if up {
                n.checked_add(1)
            } else {
                n.checked_sub(1)
            }?;
            Some(IpAddr::V4(n.into()))
        }
        IpAddr::V6(v) => {
            let n = u128::from(v);
            let n = if up {
                n.checked_add(1)
            } else {
                n.checked_sub(1)
            }?;
            Some(IpAddr::V6(n.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Side;

    #[test]
    fn numbered_keys_tell_pods_apart_as_label_keys_do() {
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let pods = [
            labels(&[]),
            labels(&[("app", "web")]),
            labels(&[("app", "db")]),
            labels(&[("app", "api")]),
            labels(&[("app", "web"), ("tier", "front")]),
            labels(&[("app", "web"), ("tier", "back")]),
            labels(&[("app", "db"), ("zone", "a")]),
            labels(&[("a", "1"), ("app", "web"), ("zz", "2")]),
            labels(&[("tier", "front")]),
        ];
        // A label set's number, as the proof numbers them: equal maps, equal numbers.
        let set_of = |l: &BTreeMap<String, String>| pods.iter().position(|p| p == l).unwrap();
        let mut some = Mentions::<String>::default();
        some.pod_labels
            .extend([("app".into(), "web".into()), ("app".into(), "db".into())]);
        some.pod_keys.insert("tier".into());
        let every = Mentions::<String> {
            all_pod_labels: true,
            ..Mentions::default()
        };
        // `app` is tested by pairs only: a pod without it is one with a value no test
        // names. `tier` is tested for existence: its absence tells pods apart.
        let of_some = Projection::of(&some);
        assert_eq!(of_some.key(&pods[0]), of_some.key(&pods[3]));
        assert_ne!(of_some.key(&pods[0]), of_some.key(&pods[1]));
        assert_ne!(of_some.key(&pods[3]), of_some.key(&pods[8]));
        assert_ne!(of_some.key(&pods[4]), of_some.key(&pods[1]));
        for projection in [of_some, Projection::of(&every), Projection::default()] {
            let numbered = |l: &BTreeMap<String, String>| {
                let mut out = Vec::new();
                key_into(&projection, l, set_of(l), &mut out);
                out
            };
            for a in &pods {
                for b in &pods {
                    assert_eq!(
                        numbered(a) == numbered(b),
                        projection.key(a) == projection.key(b),
                        "{a:?} and {b:?} under {projection:?}"
                    );
                }
            }
        }
    }

    /// Allows every flow.
    struct Open;

    impl Evaluator for Open {
        fn name(&self) -> &'static str {
            "open"
        }
        fn side(&self, _: &ClusterModel, _: &Flow, _: Direction) -> Side {
            Side::Open
        }
    }

    /// Allows every flow and tells nothing apart; when `keyed`, gives every pod the same
    /// side key.
    struct Quiet {
        keyed: bool,
    }

    impl Evaluator for Quiet {
        fn name(&self) -> &'static str {
            "quiet"
        }
        fn side(&self, _: &ClusterModel, _: &Flow, _: Direction) -> Side {
            Side::Open
        }
        fn mentions_into<'a>(
            &'a self,
            _: &'a ClusterModel,
            _: usize,
            _: Direction,
            _: &mut Mentions<Cow<'a, str>>,
        ) {
        }
        fn side_key(&self, _: &ClusterModel, _: usize, _: Direction) -> Option<SideKey> {
            self.keyed.then(Vec::new)
        }
    }

    /// Denies the egress of every third pod on port 80 and more.
    struct Broken;

    impl Evaluator for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        fn side(&self, _: &ClusterModel, flow: &Flow, d: Direction) -> Side {
            match (d, flow.src) {
                (Direction::Egress, Endpoint::Pod(i)) if i % 3 == 0 && flow.port >= 80 => {
                    Side::DefaultDeny(Vec::new())
                }
                _ => Side::Open,
            }
        }
    }

    #[test]
    fn namespace_numbers_order_and_group_as_names_do() {
        // `ns-10` sorts before `ns-2`; a pod in `zz` lacks a namespace of the model; `ns-3`
        // has no pod.
        let mut m = model(12, 2);
        m.namespaces.insert("ns-3-empty".into(), BTreeMap::new());
        let mut stray = m.pods[0].clone();
        stray.namespace = "zz".into();
        m.pods.push(stray);
        let p = Prover::new(m.clone(), &[], 1);
        let name = |n: u32| {
            p.namespace_numbers
                .iter()
                .find(|(_, (k, _))| *k == n)
                .map(|(name, _)| name.as_str())
                .expect("numbered")
        };
        for a in 0..p.model.pods.len() {
            let (na, pa) = (p.namespace_of[a], &p.model.pods[a].namespace);
            assert_eq!(name(na), pa);
            assert_eq!(
                p.known(pa),
                p.model.namespaces.contains_key(pa).then_some(na)
            );
            assert_eq!(p.numbered(pa), Some(na));
            for b in 0..p.model.pods.len() {
                let (nb, pb) = (p.namespace_of[b], &p.model.pods[b].namespace);
                assert_eq!(na.cmp(&nb), pa.cmp(pb), "{pa} and {pb}");
            }
        }
        assert_eq!(p.known("zz"), None);
        assert_eq!(p.numbered("elsewhere"), None);
        assert!(p.known("ns-3-empty").is_some());
        assert_eq!(name(p.unnamed_number), p.unnamed);
        for (n, pods) in p.pods_by_namespace.iter().enumerate() {
            let by_name: Vec<usize> = (0..p.real_pods)
                .filter(|&i| m.pods[i].namespace == name(number(n)))
                .collect();
            assert_eq!(*pods, by_name);
            assert_eq!(
                p.namespace_labels[n],
                p.model
                    .namespaces
                    .get(name(number(n)))
                    .cloned()
                    .unwrap_or_default()
            );
        }
    }

    fn model(namespaces: usize, pods: usize) -> ClusterModel {
        let mut m = ClusterModel::default();
        for n in 0..namespaces {
            let ns = format!("ns-{n}");
            m.namespaces.insert(
                ns.clone(),
                BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), ns.clone())]),
            );
            for p in 0..pods {
                m.pods.push(Pod {
                    namespace: ns.clone(),
                    name: format!("p{p}"),
                    labels: BTreeMap::from([("app".to_string(), format!("a{p}"))]),
                    ip: IpAddr::V4(Ipv4Addr::new(10, 0, n as u8, p as u8 + 1)),
                    named_ports: BTreeMap::new(),
                });
            }
        }
        m.ports = vec![(Protocol::Tcp, 80)];
        m
    }

    /// Names `ns-0` and `netpolc-unnamed` (a namespace the model lacks) and denies the
    /// pods of every other namespace but the pod's own: real namespaces it cannot tell
    /// apart behave unlike either.
    struct NamesTheUnnamed;

    impl Evaluator for NamesTheUnnamed {
        fn name(&self) -> &'static str {
            "names-the-unnamed"
        }
        fn side(&self, m: &ClusterModel, flow: &Flow, d: Direction) -> Side {
            let (me, other) = match d {
                Direction::Egress => (flow.src, flow.dst),
                Direction::Ingress => (flow.dst, flow.src),
            };
            match (me, other) {
                (Endpoint::Pod(me), Endpoint::Pod(i))
                    if m.pods[i].namespace != m.pods[me].namespace
                        && !matches!(m.pods[i].namespace.as_str(), "ns-0" | "netpolc-unnamed") =>
                {
                    Side::DefaultDeny(Vec::new())
                }
                _ => Side::Open,
            }
        }
        fn mentions_into<'a>(
            &'a self,
            _: &'a ClusterModel,
            _: usize,
            _: Direction,
            into: &mut Mentions<Cow<'a, str>>,
        ) {
            into.merge(Mentions {
                namespaces: ["ns-0".into(), "netpolc-unnamed".into()].into(),
                ..Mentions::default()
            });
        }
    }

    #[test]
    fn a_side_naming_the_unnamed_namespace_tells_every_namespace_apart() {
        // Were the unnamed namespace called `netpolc-unnamed`, its pods would be allowed
        // and stand for ns-1 and ns-2, whose pods are denied: the difference would be lost.
        let m = model(3, 2);
        let proof = prove_on(
            1,
            &m,
            &[],
            &Quiet { keyed: false },
            &[&NamesTheUnnamed],
            1000,
        );
        assert!(
            proof
                .findings
                .iter()
                .any(|f| f.flow_name.starts_with("ns-1/") && f.flow_name.contains("-> ns-2/")),
            "{:?}",
            proof.findings
        );
    }

    /// Denies ingress into `ns-0` from the namespaces labelled `team: t1`, and tells
    /// them apart by that label only.
    struct ShutsTeamOne;

    impl Evaluator for ShutsTeamOne {
        fn name(&self) -> &'static str {
            "shuts-team-one"
        }
        fn side(&self, m: &ClusterModel, flow: &Flow, d: Direction) -> Side {
            match (d, flow.src, flow.dst) {
                (Direction::Ingress, Endpoint::Pod(src), Endpoint::Pod(dst))
                    if m.pods[dst].namespace == "ns-0"
                        && m.namespaces[&m.pods[src].namespace].get("team")
                            == Some(&"t1".to_string()) =>
                {
                    Side::DefaultDeny(Vec::new())
                }
                _ => Side::Open,
            }
        }
        fn mentions_into<'a>(
            &'a self,
            _: &'a ClusterModel,
            _: usize,
            _: Direction,
            into: &mut Mentions<Cow<'a, str>>,
        ) {
            into.merge(Mentions {
                namespace_labels: [("team".into(), "t1".into())].into(),
                ..Mentions::default()
            });
        }
    }

    #[test]
    fn namespaces_alike_under_the_side_s_labels_are_proved_as_one_and_reported_each() {
        // ns-1..ns-3 carry team t1 (and labels no rule tests), ns-4 carries t2: the side
        // of an ns-0 pod takes one namespace for ns-1..ns-3, and a difference found there
        // is checked as whole flows in each of the three.
        let mut m = model(5, 2);
        for (n, team) in [(1, "t1"), (2, "t1"), (3, "t1"), (4, "t2")] {
            let labels = m.namespaces.get_mut(&format!("ns-{n}")).unwrap();
            labels.insert("team".to_string(), team.to_string());
            labels.insert("zone".to_string(), format!("z{n}"));
        }
        let proof = prove_on(1, &m, &[], &Quiet { keyed: false }, &[&ShutsTeamOne], 1000);
        let sources: BTreeSet<&str> = proof
            .findings
            .iter()
            .filter_map(|f| match f.flow.src {
                Endpoint::Pod(i) => Some(m.pods[i].namespace.as_str()),
                Endpoint::External(_) => None,
            })
            .collect();
        assert_eq!(
            sources,
            BTreeSet::from(["ns-1", "ns-2", "ns-3"]),
            "{:?}",
            proof.findings
        );
        // Every pod of the three namespaces, into each pod of ns-0.
        let pairs: BTreeSet<(Endpoint, Endpoint)> = proof
            .findings
            .iter()
            .map(|f| (f.flow.src, f.flow.dst))
            .collect();
        assert_eq!(pairs.len(), 3 * 2 * 2, "{pairs:?}");
    }

    /// [`model`] with a pod without labels added to each namespace (`p-bare`).
    fn model_with_bare_pods(namespaces: usize, pods: usize) -> ClusterModel {
        let mut m = model(namespaces, pods);
        for n in 0..namespaces {
            m.pods.push(Pod {
                namespace: format!("ns-{n}"),
                name: "p-bare".into(),
                labels: BTreeMap::new(),
                ip: IpAddr::V4(Ipv4Addr::new(10, 1, n as u8, 1)),
                named_ports: BTreeMap::new(),
            });
        }
        m
    }

    /// Denies ingress from the pods whose labels `shut` picks, the same for every pod
    /// (its side key says so when `keyed`); mentions what `said` gives.
    struct ShutsIngress {
        shut: fn(Option<&str>) -> bool,
        said: fn() -> Mentions<Cow<'static, str>>,
        keyed: bool,
    }

    impl ShutsIngress {
        /// Shuts the pods labelled `app: a0`, mentioning that pair.
        fn a0(keyed: bool) -> ShutsIngress {
            ShutsIngress {
                shut: |app| app == Some("a0"),
                said: || Mentions {
                    pod_labels: [("app".into(), "a0".into())].into(),
                    ..Mentions::default()
                },
                keyed,
            }
        }

        /// Shuts the pods whose `app` is not `a0` (`NotIn`: those without it too), a test
        /// of pairs only.
        fn not_a0() -> ShutsIngress {
            ShutsIngress {
                shut: |app| app != Some("a0"),
                ..ShutsIngress::a0(false)
            }
        }

        /// Shuts the pods without an `app` label, a test of its existence.
        fn unlabelled() -> ShutsIngress {
            ShutsIngress {
                shut: |app| app.is_none(),
                said: || Mentions {
                    pod_keys: ["app".into()].into(),
                    ..Mentions::default()
                },
                keyed: false,
            }
        }
    }

    impl Evaluator for ShutsIngress {
        fn name(&self) -> &'static str {
            "shuts-ingress"
        }
        fn side(&self, m: &ClusterModel, flow: &Flow, d: Direction) -> Side {
            match (d, flow.src) {
                (Direction::Ingress, Endpoint::Pod(src))
                    if (self.shut)(m.pods[src].labels.get("app").map(String::as_str)) =>
                {
                    Side::DefaultDeny(Vec::new())
                }
                _ => Side::Open,
            }
        }
        fn mentions_into<'a>(
            &'a self,
            _: &'a ClusterModel,
            _: usize,
            _: Direction,
            into: &mut Mentions<Cow<'a, str>>,
        ) {
            into.merge((self.said)());
        }
        fn side_key(&self, _: &ClusterModel, _: usize, _: Direction) -> Option<SideKey> {
            self.keyed.then(Vec::new)
        }
    }

    #[test]
    fn a_label_tested_by_pairs_only_does_not_tell_its_absence_apart() {
        // Pods without `app` and pods with a value no test names are one other end for
        // a side whose tests of `app` are pairs; every flow from either is still found.
        let m = model_with_bare_pods(2, 3);
        let sources = |proof: &Proof| -> BTreeSet<String> {
            proof
                .findings
                .iter()
                .filter_map(|f| match f.flow.src {
                    Endpoint::Pod(i) => Some(format!("{}/{}", m.pods[i].namespace, m.pods[i].name)),
                    Endpoint::External(_) => None,
                })
                .collect()
        };
        let prove = |target: &ShutsIngress| {
            prove_on(1, &m, &[], &Quiet { keyed: false }, &[target], 10_000)
        };
        let not_in = prove(&ShutsIngress::not_a0());
        let want: BTreeSet<String> = ["p1", "p2", "p-bare"]
            .iter()
            .flat_map(|p| (0..2).map(move |n| format!("ns-{n}/{p}")))
            .collect();
        assert_eq!(sources(&not_in), want);
        // Every flow from each of them to every other pod (of 2 × 4), on every port.
        let pairs = |proof: &Proof| -> BTreeSet<(Endpoint, Endpoint)> {
            proof
                .findings
                .iter()
                .map(|f| (f.flow.src, f.flow.dst))
                .collect()
        };
        assert_eq!(pairs(&not_in).len(), 6 * 7);
        // A test of the key's existence tells absence apart: the bare pods alone.
        let exists = prove(&ShutsIngress::unlabelled());
        let bare: BTreeSet<String> = (0..2).map(|n| format!("ns-{n}/p-bare")).collect();
        assert_eq!(sources(&exists), bare);
        assert_eq!(pairs(&exists).len(), 2 * 7);
    }

    #[test]
    fn pods_with_one_side_are_proved_once_and_reported_each() {
        // Every pod of a namespace has the same side: only the first (p0, itself labelled
        // a0) is compared against every other end, and the others against p0 (the one
        // end p0's own comparison leaves out). Every flow from an a0 pod must be found,
        // as when every side is compared on its own.
        let m = model(3, 3);
        let pairs = |keyed: bool| {
            let proof = prove_on(
                1,
                &m,
                &[],
                &Quiet { keyed: true },
                &[&ShutsIngress::a0(keyed)],
                10_000,
            );
            let pairs: BTreeSet<(Endpoint, Endpoint)> = proof
                .findings
                .iter()
                .map(|f| (f.flow.src, f.flow.dst))
                .collect();
            (pairs, proof.stats.side_checks)
        };
        let (grouped, grouped_checks) = pairs(true);
        let (alone, alone_checks) = pairs(false);
        assert_eq!(grouped.len(), 3 * 8, "{grouped:?}");
        assert_eq!(grouped, alone);
        assert!(
            grouped_checks < alone_checks,
            "{grouped_checks} {alone_checks}"
        );
    }

    #[test]
    fn every_address_has_a_representative_in_the_same_networks() {
        let nets: BTreeSet<IpNet> = [
            "0.0.0.0/1",
            "192.168.0.0/16",
            "192.168.1.0/24",
            "169.254.169.254/32",
            "255.255.255.255/32",
            "fd00:ec2::254/128",
            "2001:db8::/32",
        ]
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
        let networks: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let reps = representatives(&nets, &networks);
        assert!(reps
            .iter()
            .all(|ip| !ip.is_unspecified() && !networks[0].contains(ip)));
        assert!(reps.contains(&"8.8.8.8".parse().unwrap()), "{reps:?}");
        let seen = |ip: &IpAddr| nets.iter().map(|n| n.contains(ip)).collect::<Vec<_>>();
        let mut probes: Vec<IpAddr> = Vec::new();
        let mut x: u128 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..4096 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            probes.push(IpAddr::V4(Ipv4Addr::from((x >> 64) as u32)));
            probes.push(IpAddr::V6(Ipv6Addr::from(x.rotate_left(17))));
        }
        for n in &nets {
            for ip in [n.network(), n.broadcast()] {
                probes.extend(
                    [Some(ip), adjacent(ip, true), adjacent(ip, false)]
                        .into_iter()
                        .flatten(),
                );
            }
        }
        for ip in probes {
            if ip.is_unspecified() || networks[0].contains(&ip) {
                continue;
            }
            assert!(
                reps.iter()
                    .any(|r| r.is_ipv4() == ip.is_ipv4() && seen(r) == seen(&ip)),
                "{ip} has no representative in {reps:?}"
            );
        }
    }

    #[test]
    fn the_outcome_does_not_depend_on_the_threads() {
        let m = model(20, 7);
        let nets: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        for limit in [1, 5, 1000] {
            let one = prove_on(1, &m, &nets, &Open, &[&Broken, &Open], limit);
            assert!(!one.findings.is_empty());
            assert!(one.findings.iter().all(|f| f.target == 0));
            for threads in [2, 3, 8] {
                let many = prove_on(threads, &m, &nets, &Open, &[&Broken, &Open], limit);
                assert_eq!(
                    many.findings, one.findings,
                    "{threads} threads, limit {limit}"
                );
            }
        }
    }
}
