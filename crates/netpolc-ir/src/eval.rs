//! The intended meaning of a [`Program`] (see the crate docs), evaluated on a
//! [`ClusterModel`]. Every back end's evaluator is compared against this one.

use crate::model::{
    named_namespaces, ClusterModel, Decision, Endpoint, Evaluator, Flow, MentionText, Mentions,
    NearIndex, Numbering, Pod, PreparedSide, Side, SideKey, Verdict,
};
use crate::{
    Action, Direction, Entity, Peer, PortSpec, Ports, Program, Rule, NAMESPACE_NAME_LABEL,
};
use std::collections::BTreeMap;

/// Evaluates the intended meaning of a program.
///
/// Rules are indexed by (direction, namespace in the subject's scope), so one side of a
/// flow meets only the rules that can apply to its pod.
#[derive(Debug)]
pub struct Intended<'p> {
    program: &'p Program,
    /// Ingress rules, then egress rules, by namespace: every managed namespace and every
    /// namespace a rule is scoped to. Hashed, not ordered: the proof looks a pod's
    /// namespace up among thousands for every side, and never walks the lists in order.
    by_side: [Sides<'p>; 2],
    /// The rules attached to each pod of the model the proof asks about: the proof asks
    /// for a side's key, its mentions and its prepared side, each made of the same
    /// selection ([`Intended::positions`]).
    cache: AttachedCache,
}

/// A model's key (its address and pod count) and, per pod, what [`AttachedCache`] holds.
type AttachedSlots = ((usize, usize), Vec<std::sync::OnceLock<Attached>>);

/// Per pod of one model (told by its address and pod count), the rules attached to it,
/// selected the first time the pod is asked about. [`Evaluator::expect_model`] (which
/// the proof and the connectivity map call first) makes the cache the model's; every
/// other call only reads it.
#[derive(Debug, Default)]
struct AttachedCache {
    cached: std::sync::RwLock<AttachedSlots>,
}

/// The rules attached to a pod ([`Intended::positions`]), ingress then egress; with
/// the namespace and labels they were selected for, so that the values of another
/// model at the same address are never read for a pod they do not fit.
#[derive(Debug)]
struct Attached {
    namespace: String,
    labels: BTreeMap<String, String>,
    positions: [Vec<usize>; 2],
}

impl Drop for AttachedCache {
    /// A model's worth of selections (one per pod, each with copies of its namespace and
    /// labels) is freed on a thread of its own, or left to the exit, as the proof's other
    /// structures are ([`crate::par::drop_last`]): the caller goes on to write its output
    /// meanwhile.
    fn drop(&mut self) {
        let cached = self
            .cached
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cached.1.len() >= 1024 {
            crate::par::drop_last(std::mem::take(&mut cached.1));
        }
    }
}

impl AttachedCache {
    fn key(model: &ClusterModel) -> (usize, usize) {
        (std::ptr::from_ref(model) as usize, model.pods.len())
    }

    /// The cache, read; a poisoned lock still holds a whole cache (it is replaced whole,
    /// and a slot is filled whole or not at all).
    fn read(&self) -> std::sync::RwLockReadGuard<'_, AttachedSlots> {
        self.cached
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes the cache `model`'s (emptied) unless it is already.
    fn take(&self, model: &ClusterModel) {
        let key = Self::key(model);
        if self.read().0 == key {
            return;
        }
        let mut cached = self
            .cached
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cached.0 != key {
            *cached = (
                key,
                (0..model.pods.len())
                    .map(|_| std::sync::OnceLock::new())
                    .collect(),
            );
        }
    }
}

/// The rules of one direction, by namespace ([`Intended::by_side`]).
type Sides<'p> = std::collections::HashMap<&'p str, Listed<'p>, crate::derive::SeededWords>;

/// The rules of one direction in one namespace.
#[derive(Debug, Default)]
struct Listed<'p> {
    /// Whether the namespace is isolated in this direction ([`Program::is_isolated`]).
    isolated: bool,
    /// In program order.
    rules: Vec<&'p Rule>,
    /// The same rules by subject: each distinct pod selector (one shared copy,
    /// [`crate::LabelSelector::is_same`]) with the positions of its rules in
    /// [`Self::rules`], ascending. A pod's rules are found by testing each selector once
    /// (a namespace's dozens of rules share a handful of subjects).
    subjects: Vec<(&'p crate::LabelSelector, Vec<usize>)>,
}

/// The intended-meaning evaluator of a program.
pub fn intended(program: &Program) -> Intended<'_> {
    let mut by_side: [Sides<'_>; 2] = Default::default();
    // Every managed namespace, with its isolation; another namespace a rule is scoped
    // to is isolated in neither direction.
    for (name, ns) in &program.namespaces {
        for (d, side) in [Direction::Ingress, Direction::Egress]
            .into_iter()
            .zip(&mut by_side)
        {
            side.entry(name.as_str()).or_default().isolated = ns.isolated.contains(&d);
        }
    }
    for r in &program.rules {
        for ns in r.subject.scope.namespaces() {
            let listed = by_side[direction_index(r.direction)].entry(ns).or_default();
            let position = listed.rules.len();
            listed.rules.push(r);
            match listed
                .subjects
                .iter_mut()
                .find(|(s, _)| s.is_same(&r.subject.pods))
            {
                Some((_, positions)) => positions.push(position),
                None => listed.subjects.push((&r.subject.pods, vec![position])),
            }
        }
    }
    Intended {
        program,
        by_side,
        cache: AttachedCache::default(),
    }
}

impl<'p> Intended<'p> {
    /// The positions, in the pod's namespace's list of `direction`, of the rules that
    /// attach to the pod: what the pod's side is made of (one selection for
    /// [`Evaluator::side`], [`Evaluator::prepare_side`], [`Evaluator::side_key`] and
    /// [`Evaluator::mentions_into`]).
    ///
    /// Each distinct subject selector of the namespace's list is tested once
    /// ([`Listed::subjects`]); every rule of the list is scoped to the namespace (the
    /// list is built from the rules' scopes), so a rule attaches iff its selector matches.
    fn positions(&self, pod: &Pod, direction: Direction) -> Vec<usize> {
        let listed = self.by_side[direction_index(direction)].get(pod.namespace.as_str());
        let mut positions: Vec<usize> = listed
            .into_iter()
            .flat_map(|l| &l.subjects)
            .filter(|(selector, _)| selector.matches(&pod.labels))
            .flat_map(|(_, positions)| positions.iter().copied())
            .collect();
        positions.sort_unstable();
        debug_assert!(positions.iter().copied().eq(self
            .rules(pod, direction)
            .iter()
            .enumerate()
            .filter(|(_, r)| r.subject.selects(&pod.namespace, &pod.labels))
            .map(|(i, _)| i)));
        positions
    }

    /// The rules of `direction` in the pod's namespace, in order.
    fn rules(&self, pod: &Pod, direction: Direction) -> &[&'p Rule] {
        self.by_side[direction_index(direction)]
            .get(pod.namespace.as_str())
            .map(|l| l.rules.as_slice())
            .unwrap_or_default()
    }

    /// Whether the pod's namespace is isolated in `direction` ([`Program::is_isolated`],
    /// found by hash).
    fn isolated(&self, pod: &Pod, direction: Direction) -> bool {
        let isolated = self.by_side[direction_index(direction)]
            .get(pod.namespace.as_str())
            .is_some_and(|l| l.isolated);
        debug_assert_eq!(
            isolated,
            self.program.is_isolated(&pod.namespace, direction)
        );
        isolated
    }

    /// `f` of the rules of `direction` that attach to the pod `me` of `model`, with
    /// their positions in that namespace's list ([`Self::positions`]): read from the
    /// cache when it holds them for this model and pod.
    fn with_attached<R>(
        &self,
        model: &ClusterModel,
        me: usize,
        direction: Direction,
        f: impl FnOnce(&mut dyn Iterator<Item = (usize, &'p Rule)>) -> R,
    ) -> R {
        let pod = &model.pods[me];
        let rules = self.rules(pod, direction);
        let cached = self.cache.read();
        let hit = (cached.0 == AttachedCache::key(model))
            .then(|| {
                cached.1[me].get_or_init(|| Attached {
                    namespace: pod.namespace.clone(),
                    labels: pod.labels.clone(),
                    positions: [Direction::Ingress, Direction::Egress]
                        .map(|d| self.positions(pod, d)),
                })
            })
            // The values of another model at this address fit no pod but by chance.
            .filter(|a| a.namespace == pod.namespace && a.labels == pod.labels);
        match hit {
            Some(a) => f(&mut a.positions[direction_index(direction)]
                .iter()
                .map(|&i| (i, rules[i]))),
            None => f(&mut self
                .positions(pod, direction)
                .into_iter()
                .map(|i| (i, rules[i]))),
        }
    }

    /// The rules of `direction` in the pod's namespace that attach to the pod, with their
    /// positions in that namespace's list ([`Self::positions`]).
    fn attached<'s>(
        &'s self,
        pod: &'s Pod,
        direction: Direction,
    ) -> impl Iterator<Item = (usize, &'s Rule)> + 's {
        let rules = self.rules(pod, direction);
        self.positions(pod, direction)
            .into_iter()
            .map(move |i| (i, rules[i]))
    }

    fn side_of(&self, model: &ClusterModel, flow: &Flow, direction: Direction) -> Side {
        let (me, other) = match direction {
            Direction::Egress => (flow.src, flow.dst),
            Direction::Ingress => (flow.dst, flow.src),
        };
        let Endpoint::Pod(i) = me else {
            return Side::NotApplicable;
        };
        let pod = &model.pods[i];
        let matching = |action: Action| {
            self.attached(pod, direction).map(|(_, r)| r).find(|r| {
                r.action == action
                    && peer_matches(self.program, model, &r.peer, &other)
                    && ports_match(model, r, flow)
            })
        };
        if let Some(r) = matching(Action::Deny) {
            return Side::Denied(decision(r));
        }
        if !self.isolated(pod, direction) {
            return Side::Open;
        }
        match matching(Action::Allow) {
            Some(r) => Side::Allowed(decision(r)),
            None => Side::DefaultDeny(
                self.program
                    .isolations
                    .iter()
                    .filter(|iso| iso.direction == direction && iso.scope.contains(&pod.namespace))
                    .map(|iso| iso.origin.qualified())
                    .collect(),
            ),
        }
    }
}

impl Evaluator for Intended<'_> {
    fn name(&self) -> &'static str {
        "intended"
    }

    fn side(&self, model: &ClusterModel, flow: &Flow, direction: Direction) -> Side {
        self.side_of(model, flow, direction)
    }

    /// The other end's namespace labels are found by position (`numbering`), not by name
    /// ([`namespace_of`]).
    fn prepare_side<'a>(
        &'a self,
        model: &'a ClusterModel,
        numbering: &'a Numbering,
        me: usize,
        direction: Direction,
    ) -> PreparedSide<'a> {
        let pod = &model.pods[me];
        let attached: Vec<&Rule> =
            self.with_attached(model, me, direction, |a| a.map(|(_, r)| r).collect());
        let isolated = self.isolated(pod, direction);
        // Rules whose peer names the namespaces it is in, listed under those names.
        let index = NearIndex::new(attached.len(), |i| {
            let rule: &'a Rule = attached[i];
            match &rule.peer {
                Peer::Pods { namespaces, .. } => named_namespaces(namespaces.requirements()),
                _ => None,
            }
        });
        // What is kept for the namespace of the last other end (as a `NamespaceMemo`
        // keeps it, the proof asking namespace by namespace), in buffers kept from call
        // to call: the namespace (`None`: addresses; `None` outside: nothing kept yet),
        // its labels, and the rules whose peer can match an end there.
        type Kept<'a> = (
            Option<Option<&'a str>>,
            Option<&'a BTreeMap<String, String>>,
            Vec<&'a Rule>,
        );
        let near: std::cell::RefCell<Kept<'a>> = std::cell::RefCell::new((None, None, Vec::new()));
        // The rules matching the other end, in a buffer kept from call to call.
        let matching = std::cell::RefCell::new(Vec::new());
        Box::new(move |other, ports, out| {
            let mut near = near.borrow_mut();
            let mut matching = matching.borrow_mut();
            let (kept, namespace, near) = &mut *near;
            let at = match other {
                Endpoint::Pod(i) => model.pods.get(i).map(|p| p.namespace.as_str()),
                Endpoint::External(_) => None,
            };
            if *kept != Some(at) {
                *namespace = match other {
                    Endpoint::Pod(i) => numbering.namespace_labels(i),
                    Endpoint::External(_) => None,
                };
                debug_assert_eq!(*namespace, namespace_of(model, &other));
                let namespace = *namespace;
                // A pod peer's namespace test reads the namespace's labels (its name label).
                let label = namespace.and_then(|l| l.get(NAMESPACE_NAME_LABEL));
                index.keep_into(
                    &attached,
                    label.map(String::as_str).into_iter().chain(at),
                    |r| peer_may_match_in(&r.peer, at.is_some(), namespace),
                    near,
                );
                *kept = Some(at);
            }
            let namespace = *namespace;
            matching.clear();
            matching.extend(near.iter().copied().filter(|r| {
                let near = peer_matches_near(self.program, model, &r.peer, &other);
                debug_assert_eq!(
                    near,
                    peer_matches_in(self.program, model, &r.peer, &other, namespace)
                );
                near
            }));
            let matching: &[&Rule] = &matching;
            let dst = match direction {
                Direction::Egress => other,
                Direction::Ingress => Endpoint::Pod(me),
            };
            let named = |name: &str| match dst {
                Endpoint::Pod(d) => model.pods[d].named_ports.get(name).copied(),
                Endpoint::External(_) => None,
            };
            // A sample is allowed unless a deny rule matches it, and, when the side is
            // isolated, only if an allow rule does: the verdicts start as if no rule
            // matched, the allow rules then the deny rules (which win) mark theirs. Each
            // rule's ports are walked once for all the samples.
            let start = out.len();
            out.resize(start + ports.len(), !isolated);
            let verdicts = &mut out[start..];
            if isolated {
                for r in matching.iter().filter(|r| r.action == Action::Allow) {
                    r.ports.each_match(ports, &named, |k| verdicts[k] = true);
                }
            }
            for r in matching.iter().filter(|r| r.action == Action::Deny) {
                r.ports.each_match(ports, &named, |k| verdicts[k] = false);
            }
            debug_assert!(ports.iter().zip(&*verdicts).all(|(&(protocol, port), &v)| {
                let hit = |action: Action| {
                    matching
                        .iter()
                        .any(|r| r.action == action && r.ports.matches(protocol, port, &named))
                };
                v == (!hit(Action::Deny) && (!isolated || hit(Action::Allow)))
            }));
        })
    }

    /// The rules attached to the pod (isolation is the namespace's; named ports are the
    /// pod's): all that [`Evaluator::prepare_side`] reads of it.
    fn side_key(&self, model: &ClusterModel, me: usize, direction: Direction) -> Option<SideKey> {
        Some(self.with_attached(model, me, direction, |a| a.map(|(i, _)| i).collect()))
    }

    /// The rules attached to a pod of `model` are selected once from now on, for its
    /// key, its mentions and every side prepared for it.
    fn expect_model(&self, model: &ClusterModel) {
        self.cache.take(model);
    }

    fn mentions_into<'a>(
        &'a self,
        model: &'a ClusterModel,
        pod: usize,
        direction: Direction,
        m: &mut Mentions<std::borrow::Cow<'a, str>>,
    ) {
        self.with_attached(model, pod, direction, |attached| {
            for (_, r) in attached {
                Self::rule_mentions(self.program, r, m);
            }
        });
    }
}

impl Intended<'_> {
    /// What one rule attached to a side can tell apart ([`Evaluator::mentions_into`]),
    /// its strings borrowed from the rule or copied ([`MentionText`]).
    fn rule_mentions<'a, S: MentionText<'a>>(program: &Program, r: &'a Rule, m: &mut Mentions<S>) {
        match &r.peer {
            Peer::Pods { namespaces, pods } => {
                m.add_peer_requirements(|| namespaces.requirements(), pods.requirements());
            }
            Peer::Cidr(block) => {
                m.nets.insert(block.net);
                m.nets.extend(block.except.iter().copied());
            }
            Peer::Entity(Entity::KubeApiserver) => {
                m.nets
                    .extend(program.profile.api_server_cidrs.iter().copied());
            }
            Peer::Entity(Entity::Host) | Peer::Fqdn(_) | Peer::Any => {}
        }
        if let Ports::Only(set) = &r.ports {
            for p in set.iter() {
                match &p.port {
                    PortSpec::Range { start, end } => m.add_range(p.protocol, *start, *end),
                    PortSpec::Named(_) => m.named_ports = true,
                    PortSpec::All | PortSpec::Icmp { .. } => {}
                }
            }
        }
    }
}

fn direction_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

fn decision(r: &Rule) -> Decision {
    Decision {
        object: format!("intent set {}", r.origin.set),
        rule: r.origin.intent.clone(),
        intent: Some(r.origin.qualified()),
    }
}

/// Whether a rule's ports match a flow; named ports resolve on the destination pod.
pub fn ports_match(model: &ClusterModel, rule: &Rule, flow: &Flow) -> bool {
    let named = |name: &str| match flow.dst {
        Endpoint::Pod(i) => model.pods[i].named_ports.get(name).copied(),
        Endpoint::External(_) => None,
    };
    rule.ports.matches(flow.protocol, flow.port, &named)
}

/// Whether a peer matches an endpoint under the IR's meaning.
pub fn peer_matches(program: &Program, model: &ClusterModel, peer: &Peer, e: &Endpoint) -> bool {
    peer_matches_in(program, model, peer, e, namespace_of(model, e))
}

/// The labels of the namespace of `e` when it is a pod of a namespace the model has.
fn namespace_of<'m>(model: &'m ClusterModel, e: &Endpoint) -> Option<&'m BTreeMap<String, String>> {
    match e {
        Endpoint::Pod(i) => model.namespaces.get(&model.pods[*i].namespace),
        Endpoint::External(_) => None,
    }
}

/// Whether `peer` can match some end of one namespace with labels `namespace` (`pod`),
/// or some address (`!pod`): `false` only where [`peer_matches_in`] is `false` for every
/// such end.
fn peer_may_match_in(peer: &Peer, pod: bool, namespace: Option<&BTreeMap<String, String>>) -> bool {
    const NONE: &BTreeMap<String, String> = &BTreeMap::new();
    match peer {
        Peer::Any => true,
        Peer::Pods { namespaces, .. } => pod && namespaces.matches(namespace.unwrap_or(NONE)),
        Peer::Cidr(_) | Peer::Entity(_) | Peer::Fqdn(_) => !pod,
    }
}

/// [`peer_matches`] with the labels of the other end's namespace looked up once for every
/// rule ([`namespace_of`]; a namespace the model lacks has no labels).
fn peer_matches_in(
    program: &Program,
    model: &ClusterModel,
    peer: &Peer,
    e: &Endpoint,
    namespace: Option<&BTreeMap<String, String>>,
) -> bool {
    const NONE: &BTreeMap<String, String> = &BTreeMap::new();
    match (peer, e) {
        (Peer::Any, _) => true,
        (Peer::Pods { namespaces, pods }, Endpoint::Pod(i)) => {
            let pod = &model.pods[*i];
            namespaces.matches(namespace.unwrap_or(NONE)) && pods.matches(&pod.labels)
        }
        (Peer::Pods { .. }, Endpoint::External(_)) => false,
        (Peer::Cidr(block), Endpoint::External(ip)) => block.contains(ip),
        (Peer::Cidr(_), Endpoint::Pod(_)) => false,
        // The API server is what the profile says it is: back ends can render nothing else.
        (Peer::Entity(Entity::KubeApiserver), Endpoint::External(ip)) => program
            .profile
            .api_server_cidrs
            .iter()
            .any(|n| n.contains(ip)),
        (Peer::Entity(_), _) => false,
        // FQDN peers are not part of the address model: they match no modelled endpoint.
        (Peer::Fqdn(_), _) => false,
    }
}

/// [`peer_matches_in`] for a peer that [`peer_may_match_in`] the namespace of `e` (what a
/// prepared side's rules near `e` are): a pod peer's namespace test passed there, so only
/// its pod test is left; no other peer reads the namespace's labels.
fn peer_matches_near(program: &Program, model: &ClusterModel, peer: &Peer, e: &Endpoint) -> bool {
    match (peer, e) {
        (Peer::Pods { pods, .. }, Endpoint::Pod(i)) => pods.matches(&model.pods[*i].labels),
        _ => peer_matches_in(program, model, peer, e, None),
    }
}

/// A flow on which a prepared side ([`Evaluator::prepare_side`]) answers otherwise than
/// [`Evaluator::side`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SideMismatch {
    /// The flow (its pods index the model).
    pub flow: Flow,
    /// Whether the prepared side allows it (`None`: it gave no answer for it).
    pub prepared: Option<bool>,
    /// Whether [`Evaluator::side`] allows it.
    pub side: bool,
}

/// Compares the prepared side of the pod `me` (an index into `model.pods`) in `direction`
/// with [`Evaluator::side`], for every end of `ends`, asked in that order (an evaluator
/// that keeps what it found for the last namespace must answer alike in any order; `me`
/// itself is skipped), and every port of `ports`: the number of verdicts compared, or
/// the first flow on which they differ (the side is prepared with the model's
/// [`Numbering`], as the proof prepares it). Back ends' unit tests and the property tests
/// use it.
///
/// # Errors
/// The first flow on which the two differ.
pub fn prepared_side_agrees<E>(
    evaluator: &E,
    model: &ClusterModel,
    me: usize,
    direction: Direction,
    ends: &[Endpoint],
    ports: &[(crate::Protocol, u16)],
) -> Result<usize, SideMismatch>
where
    E: Evaluator + ?Sized,
{
    let numbering = Numbering::of(model);
    let side = evaluator.prepare_side(model, &numbering, me, direction);
    let mut got = Vec::new();
    let mut compared = 0;
    for &other in ends {
        if other == Endpoint::Pod(me) {
            continue;
        }
        got.clear();
        side(other, ports, &mut got);
        let (src, dst) = match direction {
            Direction::Egress => (Endpoint::Pod(me), other),
            Direction::Ingress => (other, Endpoint::Pod(me)),
        };
        for (k, &(protocol, port)) in ports.iter().enumerate() {
            let flow = Flow {
                src,
                dst,
                protocol,
                port,
            };
            let want = evaluator.side(model, &flow, direction).allows();
            let prepared = got.get(k).copied();
            if prepared != Some(want) {
                return Err(SideMismatch {
                    flow,
                    prepared,
                    side: want,
                });
            }
            compared += 1;
        }
    }
    Ok(compared)
}

/// [`prepared_side_agrees`] for every pod of `model` and both directions, asked about
/// every pod and address of the model in order, once per list of port samples in
/// `port_lists` (a back end's tests pass lists longer than [`crate::model::SampleBits::MAX`]
/// and lists with the named ports' numbers): the number of verdicts compared, or the
/// first flow on which a prepared side and [`Evaluator::side`] differ, named.
///
/// # Errors
/// The first flow on which they differ, as [`ClusterModel::flow_name`] writes it.
pub fn every_prepared_side_agrees<E>(
    evaluator: &E,
    model: &ClusterModel,
    port_lists: &[Vec<(crate::Protocol, u16)>],
) -> Result<usize, String>
where
    E: Evaluator + ?Sized,
{
    let mut ends: Vec<Endpoint> = (0..model.pods.len()).map(Endpoint::Pod).collect();
    ends.extend(model.externals.iter().map(|ip| Endpoint::External(*ip)));
    let mut compared = 0;
    for ports in port_lists {
        for me in 0..model.pods.len() {
            for direction in Direction::BOTH {
                compared += prepared_side_agrees(evaluator, model, me, direction, &ends, ports)
                    .map_err(|x| model.flow_name(&x.flow))?;
            }
        }
    }
    Ok(compared)
}

/// The first `limit` flows of `model` (in [`ClusterModel::flows`] order) on which
/// `evaluator` and the intended meaning of `program` disagree about whether the
/// connection is allowed, one line each; empty when they agree on every flow.
///
/// Only the overall verdict is compared (both sides must allow), not which rule decided.
/// Back ends' unit tests and the property tests use it; `build` and friends run the
/// exact proof ([`crate::proof`]) instead, which needs no enumeration.
pub fn first_disagreements<E>(
    program: &Program,
    model: &ClusterModel,
    evaluator: &E,
    limit: usize,
) -> Vec<String>
where
    E: Evaluator + ?Sized,
{
    let want = intended(program);
    let mut out = Vec::new();
    if limit == 0 {
        return out;
    }
    for flow in model.flows() {
        let expected = want.verdict(model, &flow);
        let actual = evaluator.verdict(model, &flow);
        if expected.allowed() != actual.allowed() {
            out.push(format!(
                "{}: intended {} ({}), {} {} ({})",
                model.flow_name(&flow),
                word(&expected),
                sides(&expected),
                evaluator.name(),
                word(&actual),
                sides(&actual),
            ));
            if out.len() >= limit {
                break;
            }
        }
    }
    out
}

fn word(v: &Verdict) -> &'static str {
    if v.allowed() {
        "allowed"
    } else {
        "denied"
    }
}

fn sides(v: &Verdict) -> String {
    format!("egress: {}; ingress: {}", v.egress, v.ingress)
}
