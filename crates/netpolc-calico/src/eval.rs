//! The evaluator of Calico manifests: Calico's policy semantics on netpolc's cluster
//! model (semantics.md §1.2–1.5, §2.2, §3.2, §4, §5).
//!
//! Objects are parsed (never taken from the IR) and compiled into tiers of policies with
//! parsed selectors, CIDRs and ports; a verdict then walks them the way Felix does for
//! one endpoint and direction:
//!
//! 1. tiers in ascending `order` (absent = last, ties by name); a tier none of whose
//!    policies applies to the endpoint in this direction is skipped;
//! 2. inside a tier, the applicable policies by `order` (absent = last), ties by name
//!    (`namespace/name` for namespaced policies); their rules in order: the first `Allow`
//!    or `Deny` is final, `Log` continues, `Pass` ends the tier;
//! 3. a tier that ends without a decision applies its `defaultAction` (`Deny`, or `Pass`
//!    to the next tier);
//! 4. after the last tier the namespace profile allows (Kubernetes pods are open unless
//!    a policy says otherwise).
//!
//! The built-in tiers exist even when the objects do not define them: `default` (order
//! 1,000,000, `Deny`), `kube-admin` (1,000, `Pass`) and `kube-baseline` (10,000,000,
//! `Pass`), as in Calico v3.32. A policy naming any other tier that the objects do not
//! define is an error.
//!
//! Workload endpoints carry the pod's labels plus `projectcalico.org/namespace`,
//! `projectcalico.org/orchestrator: k8s` and the namespace labels prefixed `pcns.`;
//! namespace selectors see the namespace's labels plus `projectcalico.org/name`. `nets`
//! match any address, pods included. Named ports resolve on the destination pod.
//!
//! Network sets (`GlobalNetworkSet`, namespaced `NetworkSet`) are labelled lists of
//! networks: an entity rule's `selector`/`notSelector` (with its namespace restriction)
//! matches an address, pod or not, when some network set whose `nets` contain it
//! matches, exactly as Felix puts the sets' CIDRs into the selector's IP set. A
//! namespaced set carries its own labels plus `projectcalico.org/namespace` and the
//! `pcns.` namespace labels (it inherits its namespace's profile), so a namespaced
//! policy's bare `selector` matches the sets of its own namespace and a
//! `namespaceSelector` the sets of the namespaces it selects (`all()`: every namespaced
//! set). A global set has only its own labels: a GlobalNetworkPolicy rule without
//! `namespaceSelector` and any rule with `namespaceSelector: global()` match it, and no
//! other namespace restriction does (`all()` means `has(projectcalico.org/namespace)`).
//!
//! Objects in Calico's storage form (`crd.projectcalico.org/v1`, as a cluster dump shows
//! them without the Calico API server) are read like their `projectcalico.org/v3`
//! counterparts: they store the same spec.

use crate::knp;
use crate::selector::{Expr, Selector};
use crate::types::{
    Action, EntityRule, GlobalNetworkPolicy, NetworkPolicy, NetworkSet, PolicyType, PortValue,
    Protocol, Rule, Tier, TierAction, API_VERSION,
};
use crate::validate::parse_cidr_or_ip;
use crate::{DEFAULT_TIER, NAMESPACE_LABEL, NAME_LABEL, ORCHESTRATOR_LABEL};
use ipnet::IpNet;
use netpolc_ir::backend::At;
use netpolc_ir::backend::{Doc, Tree};
use netpolc_ir::model::{
    ClusterModel, Decision, Endpoint, Evaluator, Flow, Held, MentionText, Mentions, NamespaceMemo,
    NearIndex, Numbering, Pod, PodCache, PreparedSide, SampleBits, Side, SideKey,
};
use netpolc_ir::provenance::RuleIntents;
use netpolc_ir::sorted::SortedSet;
use netpolc_ir::{Direction, Protocol as IrProtocol};
use serde::Deserialize as _;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The storage form of the same kinds (what `kubectl get` shows without Calico's API
/// server); the spec is the `projectcalico.org/v3` spec.
const CRD_V1: &str = "crd.projectcalico.org/v1";

/// The prefix Calico gives namespace labels inherited by workload endpoints.
const NAMESPACE_LABEL_PREFIX: &str = "pcns.";

/// Where a positive entity selector looks for endpoints.
#[derive(Clone, Debug)]
pub(crate) enum Namespaces {
    /// Any namespace (a GlobalNetworkPolicy rule without `namespaceSelector`).
    Any,
    /// The policy's own namespace (a namespaced policy without `namespaceSelector`).
    Own(String),
    /// Namespaces whose labels match.
    Matching(Selector),
}

/// The endpoint part of an entity rule, as Calico combines `selector`,
/// `namespaceSelector` and the policy's namespace.
#[derive(Clone, Debug)]
pub(crate) struct Endpoints {
    pub(crate) namespaces: Namespaces,
    pub(crate) selector: Option<Selector>,
}

/// One compiled side of a rule.
#[derive(Clone, Debug, Default)]
pub(crate) struct Entity {
    /// Must be a workload endpoint matching this; `None`: any address.
    pub(crate) endpoints: Option<Endpoints>,
    /// Must not be a workload endpoint matching this (not namespace-scoped).
    pub(crate) not_selector: Option<Selector>,
    pub(crate) nets: Vec<IpNet>,
    pub(crate) not_nets: Vec<IpNet>,
    pub(crate) ports: Vec<PortValue>,
    pub(crate) not_ports: Vec<PortValue>,
}

impl Entity {
    /// Matches every endpoint and port (an absent `source` or `destination`).
    const ANY: Entity = Entity {
        endpoints: None,
        not_selector: None,
        nets: Vec::new(),
        not_nets: Vec::new(),
        ports: Vec::new(),
        not_ports: Vec::new(),
    };

    fn is_any(&self) -> bool {
        self.endpoints.is_none()
            && self.not_selector.is_none()
            && self.nets.is_empty()
            && self.not_nets.is_empty()
            && self.ports.is_empty()
            && self.not_ports.is_empty()
    }
}

/// One end of a compiled rule, read as an [`Entity`]: boxed, or nothing when it matches
/// everything (most rules test one side only; an entity inline in every rule cost the
/// evaluator more memory than the rest of the rule).
#[derive(Clone, Debug, Default)]
pub(crate) struct RuleEnd(Option<Box<Entity>>);

/// What [`RuleEnd`] reads as when it holds nothing.
static ANY_ENTITY: Entity = Entity::ANY;

impl RuleEnd {
    pub(crate) fn new(e: Entity) -> RuleEnd {
        RuleEnd((!e.is_any()).then(|| Box::new(e)))
    }
}

impl std::ops::Deref for RuleEnd {
    type Target = Entity;

    fn deref(&self) -> &Entity {
        self.0.as_deref().unwrap_or(&ANY_ENTITY)
    }
}

/// One compiled rule.
#[derive(Clone, Debug)]
pub(crate) struct CompiledRule {
    pub(crate) action: Action,
    pub(crate) protocol: Option<u8>,
    pub(crate) not_protocol: Option<u8>,
    pub(crate) icmp: bool,
    pub(crate) ip_version: Option<u8>,
    pub(crate) source: RuleEnd,
    pub(crate) destination: RuleEnd,
    /// The field path reported in decisions, e.g. `spec.egress[0]`.
    pub(crate) path: String,
}

/// One compiled policy.
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    /// `GlobalNetworkPolicy name` or `NetworkPolicy namespace/name`.
    pub(crate) display: String,
    /// The name policies of equal order are sorted by.
    pub(crate) sort_name: String,
    pub(crate) tier: String,
    pub(crate) order: Option<f64>,
    /// Namespaced policies apply to their namespace only.
    pub(crate) namespace: Option<String>,
    pub(crate) selector: Selector,
    /// A GlobalNetworkPolicy's `namespaceSelector`.
    pub(crate) namespace_selector: Option<Selector>,
    pub(crate) ingress_type: bool,
    pub(crate) egress_type: bool,
    pub(crate) ingress: Vec<CompiledRule>,
    pub(crate) egress: Vec<CompiledRule>,
    /// Which intent each rule comes from (`netpolc.dev/intent`, `netpolc.dev/rules`).
    pub(crate) intents: RuleIntents,
    /// `preDNAT`/`doNotTrack` policies apply to host endpoints only.
    pub(crate) hosts_only: bool,
}

#[derive(Clone, Debug)]
struct CompiledTier {
    name: String,
    order: Option<f64>,
    default_action: TierAction,
    policies: Vec<Policy>,
    /// Indices (into `policies`, ascending) of the policies that can only apply to pods
    /// of one namespace, by namespace: hashed (every pod's side looks its namespace up
    /// in every tier; never iterated).
    by_namespace: std::collections::HashMap<String, Vec<usize>, netpolc_ir::derive::SeededWords>,
    /// Indices of the policies that may apply in any namespace.
    anywhere: Vec<usize>,
}

impl CompiledTier {
    /// The policies of this tier that apply to the pod in `direction`, in evaluation
    /// order: what the pod's sides are made of (one selection for every reading of a
    /// side, for its mentions and for its key).
    fn applying<'t: 'p, 'p>(
        &'t self,
        pod: &'p PodView<'p>,
        direction: Direction,
    ) -> impl Iterator<Item = &'t Policy> + 'p {
        self.candidates(&pod.pod.namespace)
            .filter(move |p| p.applies(pod, direction))
    }

    /// The policies that may apply to a pod of `namespace`, in evaluation order.
    fn candidates<'t>(&'t self, namespace: &str) -> impl Iterator<Item = &'t Policy> + 't {
        let local = self
            .by_namespace
            .get(namespace)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let (mut a, mut b) = (local.iter().peekable(), self.anywhere.iter().peekable());
        std::iter::from_fn(move || {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x < y => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => None,
            };
            next.map(|i| &self.policies[*i])
        })
    }

    fn index(&mut self) {
        for (i, p) in self.policies.iter().enumerate() {
            match p.only_namespace() {
                Some(ns) => self.by_namespace.entry(ns).or_default().push(i),
                None => self.anywhere.push(i),
            }
        }
    }
}

/// One network set: labelled networks matched by rule selectors.
#[derive(Clone, Debug)]
pub(crate) struct NetSet {
    /// A `NetworkSet`'s namespace; `None` for a `GlobalNetworkSet`.
    pub(crate) namespace: Option<String>,
    /// `metadata.labels`.
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) nets: Vec<IpNet>,
}

/// The Calico evaluator of a set of manifests.
#[derive(Clone, Debug)]
pub(crate) struct CalicoEvaluator {
    tiers: Vec<CompiledTier>,
    sets: Vec<NetSet>,
    /// Every pod's label maps, for the proof.
    cache: PodCache<Labels>,
}

fn order_key(o: Option<f64>) -> f64 {
    o.unwrap_or(f64::INFINITY)
}

/// An order compared by [`f64::total_cmp`].
#[derive(Clone, Copy, Debug)]
struct TotalOrder(f64);

impl PartialEq for TotalOrder {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for TotalOrder {}

impl PartialOrd for TotalOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TotalOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Compiles the objects; see [`crate::evaluator`].
pub(crate) fn compile(objects: &[Value]) -> Result<CalicoEvaluator, String> {
    let mut flat = Vec::new();
    flatten(objects, &mut flat, 0)?;
    // Objects are read on every core; checked and collected in order, so the first
    // problem in the objects' order is the one reported.
    let selectors = Selectors::default();
    let read = netpolc_ir::par::map(netpolc_ir::par::threads(), flat.len(), 256, |i| {
        (identity(flat[i]), read_object(i, flat[i], &selectors))
    });
    assemble(read)
}

/// The reader of the pipeline's objects ([`netpolc_ir::backend::Reader`]): each object
/// is read as [`compile`] reads it, as it comes, and freed by the caller; lists are
/// expanded as there.
#[derive(Default)]
pub(crate) struct ValidReader {
    selectors: Selectors,
}

/// The selectors read so far, by text, each parsed once: one selector text recurs in
/// many policies and rules (a peer in every policy of a namespace, a subject in both
/// directions), and each parse would keep its own expression. Hashed by the IR's seeded
/// word hasher, not SipHash (every selector of every object is looked up; the map is
/// never iterated).
#[derive(Default)]
pub(crate) struct Selectors(
    std::sync::Mutex<std::collections::HashMap<String, Selector, netpolc_ir::derive::SeededWords>>,
);

impl Selectors {
    /// The selector of `text` (at `path`, for an error).
    fn parse(&self, path: impl std::fmt::Display, text: &str) -> Result<Selector, String> {
        let seen = || {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(s) = seen().get(text) {
            return Ok(s.clone());
        }
        let s =
            Selector::parse(text).map_err(|e| format!("{path}: invalid selector `{text}`: {e}"))?;
        seen().insert(text.to_string(), s.clone());
        Ok(s)
    }
}

/// What [`ValidReader`] makes of one object (several for a list).
type Read = Vec<(ObjectId, Result<Item, String>)>;

impl netpolc_ir::backend::Reader for ValidReader {
    fn read(&self, index: usize, object: &Doc<'_>) -> netpolc_ir::backend::Piece {
        netpolc_ir::backend::Piece::new(self.read_tree(index, object))
    }

    fn read_value(&self, index: usize, object: &Value) -> netpolc_ir::backend::Piece {
        netpolc_ir::backend::Piece::new(self.read_tree(index, object))
    }

    /// As the back end: a `Tier` is a prerequisite; a cluster-scoped policy's home
    /// namespace is the one its selector confines it to ([`crate::home_namespace`]).
    fn placement(&self, object: &Doc<'_>) -> Option<(bool, Option<String>)> {
        let kind = object.field("kind").and_then(Tree::as_str);
        let selector = object
            .field("spec")
            .and_then(|s| s.field("selector"))
            .and_then(Tree::as_str);
        Some((
            kind == Some("Tier"),
            selector.and_then(crate::home_namespace_of),
        ))
    }

    fn assemble(
        &self,
        pieces: Vec<netpolc_ir::backend::Piece>,
    ) -> Result<Box<dyn Evaluator>, String> {
        let read = netpolc_ir::backend::Piece::take_each::<Read>(pieces)?;
        Ok(Box::new(assemble(netpolc_ir::backend::concat(read))?))
    }
}

impl ValidReader {
    /// What [`netpolc_ir::backend::Reader::read`] reads of either tree.
    fn read_tree<T: Tree>(&self, index: usize, object: &T) -> Read {
        let mut flat = Vec::new();
        match flatten(std::slice::from_ref(object), &mut flat, 0) {
            Ok(()) => flat
                .into_iter()
                .map(|o| (identity(o), read_object(index, o, &self.selectors)))
                .collect(),
            Err(e) => vec![(identity(object), Err(e))],
        }
    }
}

/// What tells two objects apart: apiVersion, kind, namespace, name.
type ObjectId = (String, String, Option<String>, String);

/// An object's [`ObjectId`].
fn identity<T: Tree>(object: &T) -> ObjectId {
    let (api, kind, name) = head(object);
    // By key, in order (`Tree::field`): a JSON pointer parses its path and hashes each key.
    let namespace = object
        .field("metadata")
        .and_then(|m| m.field("namespace"))
        .and_then(T::as_str);
    (
        api.to_string(),
        kind.to_string(),
        namespace.map(str::to_string),
        name.to_string(),
    )
}

/// The evaluator of the objects read, in order, each with its identity.
fn assemble(read: Vec<(ObjectId, Result<Item, String>)>) -> Result<CalicoEvaluator, String> {
    let mut tiers: BTreeMap<String, (Option<f64>, TierAction)> = BTreeMap::new();
    tiers.insert(DEFAULT_TIER.into(), (Some(1_000_000.0), TierAction::Deny));
    tiers.insert("kube-admin".into(), (Some(1_000.0), TierAction::Pass));
    tiers.insert(
        "kube-baseline".into(),
        (Some(10_000_000.0), TierAction::Pass),
    );
    // The first problem in order is reported; for one object, a missing name, then a
    // second definition, then what its reading found. Second definitions are found by
    // sorting the identities on every core (not by a map: tens of thousands of
    // four-string keys whose strings lie all over the heap cost one core a tenth of a
    // second): each one after the first in a run of one identity is a repeat.
    let fail = |i: usize, id: &ObjectId, e: &str| format!("object {i} ({} `{}`): {e}", id.1, id.3);
    let mut ids: Vec<ObjectId> = Vec::with_capacity(read.len());
    let mut items = Vec::with_capacity(read.len());
    let mut stop = None;
    for (i, (id, item)) in read.into_iter().enumerate() {
        if id.3.is_empty() {
            stop = Some(fail(i, &id, "metadata.name is required"));
            break;
        }
        ids.push(id);
        match item {
            Ok(item) => items.push(item),
            Err(e) => {
                stop = Some(e);
                break;
            }
        }
    }
    let order = netpolc_ir::par::order(netpolc_ir::par::threads(), ids.iter());
    let repeat = netpolc_ir::par::first_repeat(&order, |a, b| ids[a] == ids[b]);
    if let Some(i) = repeat {
        return Err(fail(i, &ids[i], "defined more than once"));
    }
    if let Some(e) = stop {
        return Err(e);
    }
    // Sized once: a vector of policies grown one at a time copies them at each step.
    let mut policies = Vec::with_capacity(items.len());
    let mut sets = Vec::new();
    for (id, item) in ids.into_iter().zip(items) {
        match item {
            Item::Tier(order, action) => {
                tiers.insert(id.3, (order, action));
            }
            Item::Policy(p) => policies.push(*p),
            Item::Set(n) => sets.push(n),
        }
    }
    let mut compiled: BTreeMap<String, CompiledTier> = tiers
        .into_iter()
        .map(|(name, (order, default_action))| {
            (
                name.clone(),
                CompiledTier {
                    name,
                    order,
                    default_action,
                    policies: Vec::new(),
                    by_namespace: Default::default(),
                    anywhere: Vec::new(),
                },
            )
        })
        .collect();
    for p in policies {
        match compiled.get_mut(&p.tier) {
            Some(t) => t.policies.push(p),
            None => {
                return Err(format!(
                    "{}: tier `{}` is not defined (add its Tier object)",
                    p.display, p.tier
                ))
            }
        }
    }
    let mut tiers: Vec<CompiledTier> = compiled.into_values().collect();
    tiers.sort_by(|a, b| {
        order_key(a.order)
            .total_cmp(&order_key(b.order))
            .then_with(|| a.name.cmp(&b.name))
    });
    for t in &mut tiers {
        // By order, then name; on every core (a tier may hold tens of thousands).
        let order = netpolc_ir::par::order(
            netpolc_ir::par::threads(),
            t.policies
                .iter()
                .map(|p| (TotalOrder(order_key(p.order)), p.sort_name.as_str())),
        );
        netpolc_ir::par::permute(&mut t.policies, &order);
        t.index();
    }
    Ok(CalicoEvaluator {
        tiers,
        sets,
        cache: Default::default(),
    })
}

/// One object read by [`compile`].
#[derive(Debug)]
enum Item {
    /// A tier's order and default action.
    Tier(Option<f64>, TierAction),
    Policy(Box<Policy>),
    Set(NetSet),
}

/// An object's apiVersion, kind and name (empty when missing).
fn head<T: Tree>(object: &T) -> (&str, &str, &str) {
    fn text<T: Tree>(v: Option<&T>) -> &str {
        v.and_then(T::as_str).unwrap_or_default()
    }
    (
        text(object.field("apiVersion")),
        text(object.field("kind")),
        text(object.field("metadata").and_then(|m| m.field("name"))),
    )
}

/// Reads object `i` of the flattened list (deserialised from the value in place).
fn read_object<T: Tree>(i: usize, object: &T, selectors: &Selectors) -> Result<Item, String> {
    let (api, kind, name) = head(object);
    let fail = |e: String| format!("object {i} ({kind} `{name}`): {e}");
    match (api, kind) {
        (API_VERSION | CRD_V1, "Tier") => {
            let t = Tier::deserialize(&*object.value()).map_err(|e| fail(e.to_string()))?;
            Ok(Item::Tier(
                t.spec.order.map(|o| o.0),
                t.spec.default_action.unwrap_or(TierAction::Deny),
            ))
        }
        (API_VERSION | CRD_V1, "GlobalNetworkPolicy") => {
            let p = match plain::global_policy(object) {
                Some(p) => p,
                None => GlobalNetworkPolicy::deserialize(&*object.value())
                    .map_err(|e| fail(e.to_string()))?,
            };
            global_policy(&p, selectors)
                .map(|p| Item::Policy(Box::new(p)))
                .map_err(fail)
        }
        (API_VERSION | CRD_V1, "NetworkPolicy") => {
            let p = match plain::namespaced_policy(object) {
                Some(p) => p,
                None => {
                    NetworkPolicy::deserialize(&*object.value()).map_err(|e| fail(e.to_string()))?
                }
            };
            namespaced_policy(&p, selectors)
                .map(|p| Item::Policy(Box::new(p)))
                .map_err(fail)
        }
        // The shared reader's message names the object itself.
        (knp::API_VERSION, "NetworkPolicy") => knp::compile(&object.value())
            .map(|p| Item::Policy(Box::new(p)))
            .map_err(|e| format!("object {i}: {e}")),
        (API_VERSION | CRD_V1, "GlobalNetworkSet" | "NetworkSet") => {
            let n = NetworkSet::deserialize(&*object.value()).map_err(|e| fail(e.to_string()))?;
            network_set(&n).map(Item::Set).map_err(fail)
        }
        _ => Err(fail(format!(
            "unsupported object `{api}` `{kind}` (expected a projectcalico.org/v3 Tier, \
             GlobalNetworkPolicy, NetworkPolicy, GlobalNetworkSet or NetworkSet, or a \
             networking.k8s.io/v1 NetworkPolicy)"
        ))),
    }
}

/// Compiles a `GlobalNetworkSet` or `NetworkSet`.
fn network_set(n: &NetworkSet) -> Result<NetSet, String> {
    let namespace = match (n.kind.as_str(), &n.metadata.namespace) {
        ("NetworkSet", None) => {
            return Err("metadata.namespace is required to evaluate a NetworkSet".into())
        }
        ("NetworkSet", Some(ns)) => Some(ns.clone()),
        _ => None,
    };
    Ok(NetSet {
        namespace,
        labels: n.metadata.labels.clone(),
        nets: nets("spec.nets", &n.spec.nets)?,
    })
}

/// Expands `List` objects (as `kubectl get -o yaml` writes them).
fn flatten<'v, T: Tree>(
    objects: &'v [T],
    out: &mut Vec<&'v T>,
    depth: usize,
) -> Result<(), String> {
    if depth > 8 {
        return Err("`List` objects nested too deeply".into());
    }
    for o in objects {
        if o.field("kind").and_then(T::as_str) == Some("List") {
            match o.field("items").and_then(T::as_array) {
                Some(items) => flatten(items, out, depth + 1)?,
                None => return Err("a `List` object without `items`".into()),
            }
        } else {
            out.push(o);
        }
    }
    Ok(())
}

/// The policies [`read_object`] reads, straight from the tree: the objects netpolc writes,
/// and most others.
///
/// Deserialising with serde from the tree cost more than the reading of the policy
/// after it (an untagged `protocol` or port first fails as a number, with its message
/// written out, before it is read as a name). These walk the tree into the same types
/// and give `None` for anything they are not sure serde reads the same way (a field
/// they do not list, a `null`, a number that is not an integer, ...): then serde
/// deserialises, and its message is the one given. When they give `Some`, serde gives
/// that same value (the tests compare both readings of an object with every field and
/// of edits of it).
mod plain {
    use crate::types::{
        Action, EntityRule, GlobalNetworkPolicy, GlobalNetworkPolicySpec, IcmpFields,
        NetworkPolicy, NetworkPolicySpec, ObjectMeta, Order, PolicyType, Port, Protocol, Rule,
        RuleMetadata,
    };
    use netpolc_ir::backend::Tree;
    use std::collections::BTreeMap;

    /// A `GlobalNetworkPolicy`, as `GlobalNetworkPolicy::deserialize` reads it.
    pub(super) fn global_policy<T: Tree>(object: &T) -> Option<GlobalNetworkPolicy> {
        let (api_version, kind, metadata, spec) = head(object)?;
        let mut s = GlobalNetworkPolicySpec::default();
        for (k, v) in spec {
            match k {
                "tier" => s.tier = Some(string(v)?),
                "order" => s.order = Some(Order(v.as_number()?.as_f64()?)),
                "selector" => s.selector = Some(string(v)?),
                "namespaceSelector" => s.namespace_selector = Some(string(v)?),
                "types" => s.types = Some(types(v)?),
                "ingress" => s.ingress = rules(v)?,
                "egress" => s.egress = rules(v)?,
                "applyOnForward" => s.apply_on_forward = Some(v.as_bool()?),
                "preDNAT" => s.pre_dnat = Some(v.as_bool()?),
                "doNotTrack" => s.do_not_track = Some(v.as_bool()?),
                "performanceHints" => s.performance_hints = strings(v)?,
                _ => return None,
            }
        }
        Some(GlobalNetworkPolicy {
            api_version,
            kind,
            metadata,
            spec: s,
        })
    }

    /// A namespaced `NetworkPolicy`, as `NetworkPolicy::deserialize` reads it.
    pub(super) fn namespaced_policy<T: Tree>(object: &T) -> Option<NetworkPolicy> {
        let (api_version, kind, metadata, spec) = head(object)?;
        let mut s = NetworkPolicySpec::default();
        for (k, v) in spec {
            match k {
                "tier" => s.tier = Some(string(v)?),
                "order" => s.order = Some(Order(v.as_number()?.as_f64()?)),
                "selector" => s.selector = Some(string(v)?),
                "types" => s.types = Some(types(v)?),
                "ingress" => s.ingress = rules(v)?,
                "egress" => s.egress = rules(v)?,
                "performanceHints" => s.performance_hints = strings(v)?,
                _ => return None,
            }
        }
        Some(NetworkPolicy {
            api_version,
            kind,
            metadata,
            spec: s,
        })
    }

    /// `apiVersion`, `kind`, `metadata` and the `spec` map, each required, and no other
    /// field.
    fn head<T: Tree>(object: &T) -> Option<(String, String, ObjectMeta, T::Entries<'_>)> {
        let mut api_version = None;
        let mut kind = None;
        let mut metadata = None;
        let mut spec = None;
        for (k, v) in object.entries()? {
            match k {
                "apiVersion" => api_version = Some(string(v)?),
                "kind" => kind = Some(string(v)?),
                "metadata" => metadata = Some(meta(v)?),
                "spec" => spec = Some(v.entries()?),
                _ => return None,
            }
        }
        Some((api_version?, kind?, metadata?, spec?))
    }

    fn meta<T: Tree>(v: &T) -> Option<ObjectMeta> {
        let mut m = ObjectMeta::default();
        for (k, v) in v.entries()? {
            match k {
                "name" => m.name = string(v)?,
                "namespace" => m.namespace = Some(string(v)?),
                "labels" => m.labels = string_map(v)?,
                "annotations" => m.annotations = string_map(v)?,
                // Serde ignores the others; left to it.
                _ => return None,
            }
        }
        Some(m)
    }

    fn string<T: Tree>(v: &T) -> Option<String> {
        v.as_str().map(str::to_string)
    }

    fn strings<T: Tree>(v: &T) -> Option<Vec<String>> {
        v.as_array()?.iter().map(string).collect()
    }

    fn string_map<T: Tree>(v: &T) -> Option<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (k, v) in v.entries()? {
            out.insert(k.to_string(), string(v)?);
        }
        Some(out)
    }

    /// An integer (`i64`): what serde reads an `i64` from.
    fn integer<T: Tree>(v: &T) -> Option<i64> {
        v.as_number()?.as_i64()
    }

    fn types<T: Tree>(v: &T) -> Option<Vec<PolicyType>> {
        v.as_array()?
            .iter()
            .map(|t| match t.as_str()? {
                "Ingress" => Some(PolicyType::Ingress),
                "Egress" => Some(PolicyType::Egress),
                _ => None,
            })
            .collect()
    }

    fn rules<T: Tree>(v: &T) -> Option<Vec<Rule>> {
        v.as_array()?.iter().map(rule).collect()
    }

    fn rule<T: Tree>(v: &T) -> Option<Rule> {
        let mut action = None;
        let mut r = Rule::new(Action::Allow);
        for (k, v) in v.entries()? {
            match k {
                "action" => {
                    action = Some(match v.as_str()? {
                        "Allow" => Action::Allow,
                        "Deny" => Action::Deny,
                        "Log" => Action::Log,
                        "Pass" => Action::Pass,
                        _ => return None,
                    })
                }
                "protocol" => r.protocol = Some(protocol(v)?),
                "notProtocol" => r.not_protocol = Some(protocol(v)?),
                "icmp" => r.icmp = Some(icmp(v)?),
                "notICMP" => r.not_icmp = Some(icmp(v)?),
                "ipVersion" => r.ip_version = Some(integer(v)?),
                "source" => r.source = entity(v)?,
                "destination" => r.destination = entity(v)?,
                "metadata" => r.metadata = Some(rule_metadata(v)?),
                _ => return None,
            }
        }
        r.action = action?;
        Some(r)
    }

    /// A number (as an `i64`) or a name, as the untagged `Protocol` reads them.
    fn protocol<T: Tree>(v: &T) -> Option<Protocol> {
        match v.as_str() {
            Some(s) => Some(Protocol::Name(s.to_string())),
            None => integer(v).map(Protocol::Number),
        }
    }

    fn icmp<T: Tree>(v: &T) -> Option<IcmpFields> {
        let mut f = IcmpFields::default();
        for (k, v) in v.entries()? {
            match k {
                "type" => f.icmp_type = Some(integer(v)?),
                "code" => f.code = Some(integer(v)?),
                _ => return None,
            }
        }
        Some(f)
    }

    fn rule_metadata<T: Tree>(v: &T) -> Option<RuleMetadata> {
        let mut m = RuleMetadata::default();
        for (k, v) in v.entries()? {
            match k {
                "annotations" => m.annotations = string_map(v)?,
                _ => return None,
            }
        }
        Some(m)
    }

    fn entity<T: Tree>(v: &T) -> Option<EntityRule> {
        let mut e = EntityRule::default();
        for (k, v) in v.entries()? {
            match k {
                "selector" => e.selector = Some(string(v)?),
                "namespaceSelector" => e.namespace_selector = Some(string(v)?),
                "notSelector" => e.not_selector = Some(string(v)?),
                "nets" => e.nets = strings(v)?,
                "notNets" => e.not_nets = strings(v)?,
                "ports" => e.ports = ports(v)?,
                "notPorts" => e.not_ports = ports(v)?,
                _ => return None,
            }
        }
        Some(e)
    }

    /// Numbers (as `i64`) or strings, as the untagged `Port` reads them.
    fn ports<T: Tree>(v: &T) -> Option<Vec<Port>> {
        v.as_array()?
            .iter()
            .map(|p| match p.as_str() {
                Some(s) => Some(Port::Text(s.to_string())),
                None => integer(p).map(Port::Number),
            })
            .collect()
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref()
        .filter(|s| !s.trim_matches([' ', '\t']).is_empty())
}

/// Calico's `types` defaulting: from the rules present, `Ingress` when there are none.
/// Returns whether the policy enforces (ingress, egress).
pub fn types_of(
    types: &Option<Vec<PolicyType>>,
    ingress: &[Rule],
    egress: &[Rule],
) -> (bool, bool) {
    match types {
        Some(t) => (
            t.contains(&PolicyType::Ingress),
            t.contains(&PolicyType::Egress),
        ),
        None => match (ingress.is_empty(), egress.is_empty()) {
            (_, true) => (true, false),
            (true, false) => (false, true),
            (false, false) => (true, true),
        },
    }
}

fn global_policy(p: &GlobalNetworkPolicy, selectors: &Selectors) -> Result<Policy, String> {
    let s = &p.spec;
    let (ingress_type, egress_type) = types_of(&s.types, &s.ingress, &s.egress);
    Ok(Policy {
        display: format!("GlobalNetworkPolicy {}", p.metadata.name),
        sort_name: p.metadata.name.clone(),
        tier: s.tier.clone().unwrap_or_else(|| DEFAULT_TIER.into()),
        order: s.order.map(|o| o.0),
        namespace: None,
        selector: match non_empty(&s.selector) {
            Some(t) => selectors.parse("spec.selector", t)?,
            None => Selector::all(),
        },
        namespace_selector: non_empty(&s.namespace_selector)
            .map(|t| selectors.parse("spec.namespaceSelector", t))
            .transpose()?,
        ingress_type,
        egress_type,
        ingress: rules("spec.ingress", &s.ingress, None, selectors)?,
        egress: rules("spec.egress", &s.egress, None, selectors)?,
        intents: RuleIntents::from_annotations(&p.metadata.annotations),
        hosts_only: s.pre_dnat == Some(true) || s.do_not_track == Some(true),
    })
}

fn namespaced_policy(p: &NetworkPolicy, selectors: &Selectors) -> Result<Policy, String> {
    let s = &p.spec;
    let Some(ns) = p.metadata.namespace.clone() else {
        return Err("metadata.namespace is required to evaluate a namespaced policy".into());
    };
    let (ingress_type, egress_type) = types_of(&s.types, &s.ingress, &s.egress);
    Ok(Policy {
        display: format!("NetworkPolicy {ns}/{}", p.metadata.name),
        sort_name: format!("{ns}/{}", p.metadata.name),
        tier: s.tier.clone().unwrap_or_else(|| DEFAULT_TIER.into()),
        order: s.order.map(|o| o.0),
        namespace: Some(ns.clone()),
        selector: match non_empty(&s.selector) {
            Some(t) => selectors.parse("spec.selector", t)?,
            None => Selector::all(),
        },
        namespace_selector: None,
        ingress_type,
        egress_type,
        ingress: rules("spec.ingress", &s.ingress, Some(&ns), selectors)?,
        egress: rules("spec.egress", &s.egress, Some(&ns), selectors)?,
        intents: RuleIntents::from_annotations(&p.metadata.annotations),
        hosts_only: false,
    })
}

fn rules(
    field: &str,
    rules: &[Rule],
    ns: Option<&str>,
    selectors: &Selectors,
) -> Result<Vec<CompiledRule>, String> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            // `field[i]`, written without the formatting machinery (every rule of every
            // object read back has one), and kept by the compiled rule.
            let mut path = String::with_capacity(field.len() + 8);
            path.push_str(field);
            path.push('[');
            netpolc_ir::yaml::push_decimal(&mut path, i as u64);
            path.push(']');
            rule(path, r, ns, selectors)
        })
        .collect()
}

fn protocol_number(
    path: impl std::fmt::Display,
    p: &Option<Protocol>,
) -> Result<Option<u8>, String> {
    match p {
        None => Ok(None),
        Some(p) => p
            .number()
            .map(Some)
            .ok_or_else(|| format!("{path}: unknown protocol `{p}`")),
    }
}

fn rule(
    path: String,
    r: &Rule,
    ns: Option<&str>,
    selectors: &Selectors,
) -> Result<CompiledRule, String> {
    let path_text = path.as_str();
    if !r.source.ports.is_empty() || !r.source.not_ports.is_empty() {
        return Err(format!(
            "{path}.source: source ports are not supported (the cluster model has no source ports)"
        ));
    }
    let ip_version = match r.ip_version {
        None => None,
        Some(4) => Some(4),
        Some(6) => Some(6),
        Some(v) => return Err(format!("{path}.ipVersion: `{v}` is not 4 or 6")),
    };
    let protocol = protocol_number(At(path_text, "protocol"), &r.protocol)?;
    let not_protocol = protocol_number(At(path_text, "notProtocol"), &r.not_protocol)?;
    let source = RuleEnd::new(entity(At(path_text, "source"), &r.source, ns, selectors)?);
    let destination = RuleEnd::new(entity(
        At(path_text, "destination"),
        &r.destination,
        ns,
        selectors,
    )?);
    Ok(CompiledRule {
        action: r.action,
        protocol,
        not_protocol,
        icmp: r.icmp.as_ref().is_some_and(|f| f.icmp_type.is_some()),
        ip_version,
        source,
        destination,
        path,
    })
}

fn nets(path: impl std::fmt::Display, list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|n| match parse_cidr_or_ip(n) {
            // Not an error of Calico's: netpolc cannot say which addresses it matches.
            Some(net) if netpolc_ir::addr::is_v4_mapped(&net.addr()) => {
                Err(format!("{path}: {}", netpolc_ir::addr::refusal(n)))
            }
            Some(net) => Ok(net),
            None => Err(format!("{path}: `{n}` is not a CIDR")),
        })
        .collect()
}

fn ports(
    path: impl std::fmt::Display,
    list: &[crate::types::Port],
) -> Result<Vec<PortValue>, String> {
    list.iter()
        .map(|p| p.value().map_err(|e| format!("{path}: {e}")))
        .collect()
}

/// Compiles an entity rule the way Calico's update processor combines its selectors:
/// the namespace restriction (the `namespaceSelector`, else the policy's own namespace)
/// applies as soon as `selector`, `notSelector` or `namespaceSelector` is present;
/// `notSelector` itself is never namespace-scoped.
fn entity(
    path: impl std::fmt::Display + Copy,
    e: &EntityRule,
    ns: Option<&str>,
    selectors: &Selectors,
) -> Result<Entity, String> {
    let selector = non_empty(&e.selector)
        .map(|t| selectors.parse(At(path, "selector"), t))
        .transpose()?;
    let not_selector = non_empty(&e.not_selector)
        .map(|t| selectors.parse(At(path, "notSelector"), t))
        .transpose()?;
    let namespace_selector = non_empty(&e.namespace_selector)
        .map(|t| selectors.parse(At(path, "namespaceSelector"), t))
        .transpose()?;
    let given_ns = namespace_selector.is_some();
    let namespaces = match (namespace_selector, ns) {
        (Some(s), _) => Some(Namespaces::Matching(s)),
        (None, Some(ns)) => Some(Namespaces::Own(ns.to_string())),
        (None, None) => None,
    };
    let endpoints = match namespaces {
        Some(namespaces) if selector.is_some() || not_selector.is_some() || given_ns => {
            Some(Endpoints {
                namespaces,
                selector,
            })
        }
        _ => selector.map(|selector| Endpoints {
            namespaces: Namespaces::Any,
            selector: Some(selector),
        }),
    };
    Ok(Entity {
        endpoints,
        not_selector,
        nets: nets(At(path, "nets"), &e.nets)?,
        not_nets: nets(At(path, "notNets"), &e.not_nets)?,
        ports: ports(At(path, "ports"), &e.ports)?,
        not_ports: ports(At(path, "notPorts"), &e.not_ports)?,
    })
}

/// An endpoint of a flow as Calico sees it.
struct Ep<'m> {
    ip: IpAddr,
    pod: Option<PodView<'m>>,
    /// The network sets whose `nets` contain the address, with their labels as
    /// selectors see them.
    sets: Vec<SetView>,
}

/// A network set as selectors see it.
struct SetView {
    /// Whether it is a namespaced `NetworkSet`.
    namespaced: bool,
    namespace: Option<String>,
    /// Its labels; for a namespaced set plus `projectcalico.org/namespace` and the
    /// `pcns.` namespace labels.
    labels: BTreeMap<String, String>,
    /// What a `namespaceSelector` is evaluated on: the namespace's labels plus
    /// `projectcalico.org/name` (namespaced); the `pcns.` labels of the set, unprefixed
    /// (global: normally none).
    namespace_labels: BTreeMap<String, String>,
}

/// The network sets containing `ip`, as selectors see them.
fn set_views(model: &ClusterModel, sets: &[NetSet], ip: IpAddr) -> Vec<SetView> {
    sets.iter()
        .filter(|s| s.nets.iter().any(|n| n.contains(&ip)))
        .map(|s| match &s.namespace {
            Some(ns) => {
                let mut namespace_labels = model.namespaces.get(ns).cloned().unwrap_or_default();
                namespace_labels.insert(NAME_LABEL.into(), ns.clone());
                let mut labels = s.labels.clone();
                for (k, v) in &namespace_labels {
                    labels.insert(format!("{NAMESPACE_LABEL_PREFIX}{k}"), v.clone());
                }
                labels.insert(NAMESPACE_LABEL.into(), ns.clone());
                SetView {
                    namespaced: true,
                    namespace: Some(ns.clone()),
                    labels,
                    namespace_labels,
                }
            }
            None => SetView {
                namespaced: false,
                namespace: None,
                labels: s.labels.clone(),
                namespace_labels: s
                    .labels
                    .iter()
                    .filter_map(|(k, v)| {
                        k.strip_prefix(NAMESPACE_LABEL_PREFIX)
                            .map(|k| (k.to_string(), v.clone()))
                    })
                    .collect(),
            },
        })
        .collect()
}

struct PodView<'m> {
    pod: &'m Pod,
    /// Workload-endpoint labels: pod labels plus Calico's own and the `pcns.` ones.
    labels: WorkloadLabels<'m>,
}

impl PodView<'_> {
    /// What a `namespaceSelector` sees: the namespace's labels plus
    /// `projectcalico.org/name`.
    fn namespace_labels(&self) -> &BTreeMap<String, String> {
        &self.labels.namespace
    }
}

/// A workload endpoint's labels as Calico gives them, answered without building the
/// map: Calico's own (`projectcalico.org/namespace`, `projectcalico.org/orchestrator`)
/// first, then the namespace's labels prefixed `pcns.`, then the pod's.
struct WorkloadLabels<'m> {
    pod: &'m Pod,
    /// The namespace's labels plus `projectcalico.org/name` ([`namespace_labels_of`]).
    namespace: NamespaceLabels<'m>,
    /// The pod's labels as a list in the map's order ([`Labels::pod_labels`]), when the
    /// cache holds them: scanned without the map's iterator.
    flat: Option<&'m [(Box<str>, Box<str>)]>,
}

/// A namespace's labels as selectors see them ([`namespace_labels_of`]): borrowed from
/// the evaluator's cache, shared with it, or built for one view.
enum NamespaceLabels<'m> {
    Borrowed(&'m BTreeMap<String, String>),
    Shared(std::sync::Arc<BTreeMap<String, String>>),
    Owned(BTreeMap<String, String>),
}

impl std::ops::Deref for NamespaceLabels<'_> {
    type Target = BTreeMap<String, String>;

    fn deref(&self) -> &BTreeMap<String, String> {
        match self {
            NamespaceLabels::Borrowed(l) => l,
            NamespaceLabels::Shared(l) => l,
            NamespaceLabels::Owned(l) => l,
        }
    }
}

impl crate::selector::Labels for WorkloadLabels<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        if key == NAMESPACE_LABEL {
            return Some(&self.pod.namespace);
        }
        if key == ORCHESTRATOR_LABEL {
            return Some("k8s");
        }
        // The prefix tested by its bytes, inline: every label test of a pod asks.
        let prefixed = key
            .as_bytes()
            .starts_with(NAMESPACE_LABEL_PREFIX.as_bytes())
            .then(|| &key[NAMESPACE_LABEL_PREFIX.len()..]);
        prefixed
            .and_then(|k| crate::selector::label_of(&self.namespace, k))
            .or_else(|| match self.flat {
                Some(flat) => flat
                    .iter()
                    .find(|(k, _)| k.len() == key.len() && k.as_bytes() == key.as_bytes())
                    .map(|(_, v)| &**v),
                None => crate::selector::label_of(&self.pod.labels, key),
            })
    }
}

/// What one pod's view needs that depends on its namespace (see [`view`]), and the
/// policies that apply to it.
#[derive(Clone, Debug, Default)]
struct Labels {
    /// Shared by the pods of a namespace ([`CalicoEvaluator::cache_views`]).
    namespace_labels: std::sync::Arc<BTreeMap<String, String>>,
    /// The pod's labels, in the map's order: a label test scans them (a list of a few
    /// entries costs less to walk than the map; every rule's peer is tested on every
    /// other end).
    pod_labels: Box<[(Box<str>, Box<str>)]>,
    /// Per direction (ingress, egress), the policies that apply to the pod, in
    /// evaluation order, as (tier position, policy position in the tier), selected the
    /// first time they are asked for: the proof reads a side's key, mentions and
    /// prepared side off one selection.
    applying: [std::sync::OnceLock<Vec<(usize, usize)>>; 2],
}

/// What a `namespaceSelector` sees of the namespace of `pod`: its labels plus
/// `projectcalico.org/name`.
fn namespace_labels_of(model: &ClusterModel, pod: &Pod) -> BTreeMap<String, String> {
    let mut namespace_labels = model.namespace_labels(pod);
    namespace_labels.insert(NAME_LABEL.into(), pod.namespace.clone());
    namespace_labels
}

/// Each tier of `tiers` (its default action and rules in order) with only the rules
/// `keep` keeps.
fn keep_in_tiers<'r>(
    tiers: &[(TierAction, Vec<&'r CompiledRule>)],
    keep: impl Fn(&CompiledRule) -> bool,
) -> Vec<(TierAction, Vec<&'r CompiledRule>)> {
    tiers
        .iter()
        .map(|(default, rules)| {
            (
                *default,
                rules.iter().copied().filter(|r| keep(r)).collect(),
            )
        })
        .collect()
}

/// A rule of a prepared side, with its position among the side's rules (every tier
/// counted): the slot of its samples in [`PortMasks`].
type Ranked<'r> = (usize, &'r CompiledRule);

/// Per tier with an applicable policy, its default action and the rules of a prepared
/// side that may match there (an end's namespace, or addresses).
type Near<'r> = Vec<(TierAction, Vec<Ranked<'r>>)>;

/// What a prepared side knows of its rules' ports: the port samples it was last asked
/// about, and per rule (by position, [`Ranked`]) the samples its protocol and ports match
/// there ([`CompiledRule::l4_mask`]). The proof asks a side about dozens of other ends
/// with the same samples, and a rule's ports match the same samples for each of them,
/// unless they name the destination's ports and the destination is the other end.
#[derive(Debug, Default)]
struct PortMasks {
    ports: Vec<(IrProtocol, u16)>,
    /// Per protocol number among `ports`, the samples of that protocol.
    protocols: Vec<(u8, u64)>,
    slots: Vec<PortSlot>,
}

/// One rule's entry in [`PortMasks`].
#[derive(Clone, Copy, Debug)]
enum PortSlot {
    /// Not asked yet for these samples.
    Unknown,
    /// The samples it matches (bit `k`: sample `k`), whichever the other end.
    Fixed(u64),
    /// Named ports of an egress rule: the other end's own, found for each.
    PerEnd,
}

impl PortMasks {
    /// The verdicts of the rules of `matching` (per tier, in order, those that match
    /// both ends) for the samples `ports` to `dst` (the other end when `egress`), each
    /// rule's samples found once per list of samples: bit `k` is the verdict of sample
    /// `k`, as [`sample_verdict`] finds it. `rules` is the side's number of rules.
    fn verdicts(
        &mut self,
        matching: &[(TierAction, Vec<Ranked<'_>>)],
        rules: usize,
        ports: &[(IrProtocol, u16)],
        dst: &Ep<'_>,
        egress: bool,
    ) -> u64 {
        debug_assert!(ports.len() <= SampleBits::MAX);
        if self.ports != ports {
            self.ports.clear();
            self.ports.extend_from_slice(ports);
            self.slots.clear();
            self.protocols.clear();
            for (k, &(protocol, _)) in ports.iter().enumerate() {
                let number = flow_protocol(protocol);
                match self.protocols.iter_mut().find(|(p, _)| *p == number) {
                    Some((_, m)) => *m |= 1 << k,
                    None => self.protocols.push((number, 1 << k)),
                }
            }
        }
        self.slots.resize(rules, PortSlot::Unknown);
        // Per sample: not decided yet (allowed if no tier decides), allowed, or denied.
        let (mut undecided, mut allowed) = (SampleBits::all(ports.len()), 0u64);
        for (default, rules) in matching {
            // Samples still asked about in this tier (a `Pass` sends one to the next).
            let mut open = undecided;
            for &(i, r) in rules {
                if open == 0 {
                    break;
                }
                let mask = match self.slots[i] {
                    PortSlot::Fixed(m) => m,
                    PortSlot::PerEnd => r.l4_mask(ports, &self.protocols, dst),
                    PortSlot::Unknown => {
                        let m = r.l4_mask(ports, &self.protocols, dst);
                        self.slots[i] = if egress && r.l4_reads_dst() {
                            PortSlot::PerEnd
                        } else {
                            PortSlot::Fixed(m)
                        };
                        m
                    }
                };
                let hit = mask & open;
                match r.action {
                    Action::Allow => {
                        allowed |= hit;
                        undecided &= !hit;
                        open &= !hit;
                    }
                    Action::Deny => {
                        undecided &= !hit;
                        open &= !hit;
                    }
                    Action::Log => {}
                    Action::Pass => open &= !hit,
                }
            }
            if *default == TierAction::Deny {
                undecided &= !open;
            }
            if undecided == 0 {
                break;
            }
        }
        allowed | undecided
    }
}

/// The verdict of one sample for the rules of `matching` (per tier, in order, those that
/// match both ends), from the first tier that decides it.
fn sample_verdict(
    matching: &[(TierAction, Vec<Ranked<'_>>)],
    protocol: IrProtocol,
    port: u16,
    dst: &Ep<'_>,
) -> bool {
    for (default, rules) in matching {
        let mut passed = false;
        for (_, r) in rules {
            if !r.matches_l4(protocol, port, dst) {
                continue;
            }
            match r.action {
                Action::Allow => return true,
                Action::Deny => return false,
                Action::Log => {}
                Action::Pass => {
                    passed = true;
                    break;
                }
            }
        }
        if !passed && *default == TierAction::Deny {
            return false;
        }
    }
    true
}

/// A view borrowing the cached label maps of `model`'s pods (the values a [`PodCache`] holds).
fn cached_view<'m>(
    model: &'m ClusterModel,
    sets: &[NetSet],
    cached: Option<&'m [std::sync::Arc<Labels>]>,
    e: &Endpoint,
) -> Ep<'m> {
    match (e, cached) {
        (Endpoint::Pod(i), Some(cached)) => {
            let l = &cached[*i];
            let namespace = NamespaceLabels::Borrowed(l.namespace_labels.as_ref());
            pod_view(model, sets, *i, namespace, Some(&l.pod_labels))
        }
        _ => view(model, sets, e),
    }
}

/// The view of pod `me` of `model` with its namespace's labels shared with the cache
/// ([`PodCache::with`]) when it holds them, else built.
fn shared_view<'m>(
    model: &'m ClusterModel,
    sets: &[NetSet],
    cache: &PodCache<Labels>,
    me: usize,
) -> Ep<'m> {
    let shared = cache.with(model, |cached| {
        cached.map(|c| std::sync::Arc::clone(&c[me].namespace_labels))
    });
    match shared {
        Some(namespace) => pod_view(model, sets, me, NamespaceLabels::Shared(namespace), None),
        None => view(model, sets, &Endpoint::Pod(me)),
    }
}

/// The view of pod `i` of `model` with its namespace's labels `namespace` and, when the
/// cache holds them, its own labels as a list (`flat`).
fn pod_view<'m>(
    model: &'m ClusterModel,
    sets: &[NetSet],
    i: usize,
    namespace: NamespaceLabels<'m>,
    flat: Option<&'m [(Box<str>, Box<str>)]>,
) -> Ep<'m> {
    let pod = &model.pods[i];
    Ep {
        ip: pod.ip,
        sets: set_views(model, sets, pod.ip),
        pod: Some(PodView {
            pod,
            labels: WorkloadLabels {
                pod,
                namespace,
                flat,
            },
        }),
    }
}

fn view<'m>(model: &'m ClusterModel, sets: &[NetSet], e: &Endpoint) -> Ep<'m> {
    match e {
        Endpoint::External(ip) => Ep {
            ip: *ip,
            pod: None,
            sets: set_views(model, sets, *ip),
        },
        Endpoint::Pod(i) => {
            let namespace = NamespaceLabels::Owned(namespace_labels_of(model, &model.pods[*i]));
            pod_view(model, sets, *i, namespace, None)
        }
    }
}

/// Whether `net` contains `ip` (as [`IpNet::contains`]: an address of the other family
/// never), by comparing the bits the prefix fixes: the evaluator tests every network
/// of a rule against every end it meets.
fn net_contains(net: &IpNet, ip: IpAddr) -> bool {
    let fixed = |bits: u32, prefix: u8| {
        // The prefix's bits of `bits` ones: none for `/0`.
        bits.checked_sub(u32::from(prefix))
            .filter(|&free| free < bits)
            .map_or(0, |free| u128::MAX << free)
    };
    let contains = match (net, ip) {
        (IpNet::V4(n), IpAddr::V4(a)) => {
            let mask = fixed(32, n.prefix_len()) & u128::from(u32::MAX);
            (u128::from(u32::from(a)) ^ u128::from(u32::from(n.addr()))) & mask == 0
        }
        (IpNet::V6(n), IpAddr::V6(a)) => {
            let mask = fixed(128, n.prefix_len());
            (u128::from(a) ^ u128::from(n.addr())) & mask == 0
        }
        _ => false,
    };
    debug_assert_eq!(contains, net.contains(&ip));
    contains
}

fn flow_protocol(p: IrProtocol) -> u8 {
    match p {
        IrProtocol::Tcp => 6,
        IrProtocol::Udp => 17,
        IrProtocol::Sctp => 132,
        IrProtocol::Icmp => 1,
        IrProtocol::IcmpV6 => 58,
    }
}

/// The samples of `ports` (at most [`SampleBits::MAX`]) that port `p` matches to `dst`
/// ([`port_matches`] of each, in one pass).
fn port_mask(p: &PortValue, ports: &[(IrProtocol, u16)], dst: &Ep<'_>) -> u64 {
    SampleBits::of(ports, |protocol, port| port_matches(p, protocol, port, dst))
}

/// Whether port `p` matches a flow of `protocol` to `port` of `dst`.
fn port_matches(p: &PortValue, protocol: IrProtocol, port: u16, dst: &Ep<'_>) -> bool {
    match p {
        PortValue::Range(a, b) => (*a..=*b).contains(&port),
        PortValue::Named(name) => dst
            .pod
            .as_ref()
            .and_then(|v| v.pod.named_ports.get(name))
            .is_some_and(|&(proto, named)| proto == protocol && named == port),
    }
}

impl Entity {
    /// Whether this side of a rule tests the endpoint (its address, labels or
    /// namespace), not only ports.
    fn tests_endpoint(&self) -> bool {
        self.endpoints.is_some()
            || self.not_selector.is_some()
            || !self.nets.is_empty()
            || !self.not_nets.is_empty()
    }

    /// Everything but the ports.
    fn matches_l3(&self, ep: &Ep<'_>) -> bool {
        self.matches_l3_near(ep, false)
    }

    /// The namespaces an end must be in to match, by name or by the name label its
    /// namespace selector tests (`projectcalico.org/name == 'a'`, `... in {'a', 'b'}`,
    /// alone or in a conjunction), or `None` when the entity does not name them: outside
    /// these, [`Self::may_match_in`] is `false` when there are no network sets.
    fn confined_namespaces(&self) -> Option<Vec<&str>> {
        fn named(e: &Expr) -> Option<Vec<&str>> {
            match e {
                Expr::Eq(k, v) if k == NAME_LABEL => Some(vec![v.as_str()]),
                Expr::In(k, values) if k == NAME_LABEL => {
                    Some(values.iter().map(String::as_str).collect())
                }
                Expr::And(es) => es.iter().find_map(named),
                _ => None,
            }
        }
        match &self.endpoints.as_ref()?.namespaces {
            Namespaces::Any => None,
            Namespaces::Own(ns) => Some(vec![ns.as_str()]),
            Namespaces::Matching(s) => named(s.expr()),
        }
    }

    /// [`Self::matches_l3`] where, when `namespace_passed`, the end's namespace is known
    /// to pass the namespace part of the selector ([`Self::may_match_in`] there).
    fn matches_l3_near(&self, ep: &Ep<'_>, namespace_passed: bool) -> bool {
        if !self.nets.is_empty() && !self.nets.iter().any(|n| net_contains(n, ep.ip)) {
            return false;
        }
        if self.not_nets.iter().any(|n| net_contains(n, ep.ip)) {
            return false;
        }
        if let Some(e) = &self.endpoints {
            let pod_matches = ep.pod.as_ref().is_some_and(|pod| {
                let in_namespace = namespace_passed
                    || match &e.namespaces {
                        Namespaces::Any => true,
                        Namespaces::Own(ns) => pod.pod.namespace == *ns,
                        Namespaces::Matching(s) => s.matches(pod.namespace_labels()),
                    };
                in_namespace && e.selector.as_ref().is_none_or(|s| s.matches(&pod.labels))
            });
            if !pod_matches && !ep.sets.iter().any(|set| e.matches_set(set)) {
                return false;
            }
        }
        if let Some(s) = &self.not_selector {
            if ep.pod.as_ref().is_some_and(|pod| s.matches(&pod.labels))
                || ep.sets.iter().any(|set| s.matches(&set.labels))
            {
                return false;
            }
        }
        true
    }

    /// Whether this end can match some pod of the namespace `at` (whose namespace selector
    /// view is `namespace`), or, for `at` `None`, some address: `false` only where
    /// [`Self::matches_l3`] is `false` for every such end. Decided by the namespace part
    /// alone when there are no network sets (`sets`: an end then matches a selector only
    /// as a pod).
    fn may_match_in(
        &self,
        at: Option<&str>,
        namespace: Option<&BTreeMap<String, String>>,
        sets: bool,
    ) -> bool {
        let Some(e) = &self.endpoints else {
            return true;
        };
        if sets {
            return true;
        }
        match at {
            None => false,
            Some(at) => match &e.namespaces {
                Namespaces::Any => true,
                Namespaces::Own(ns) => at == ns,
                // The namespace's name label is its name (`namespace_labels_of`): a
                // test of that label alone is a test of `at`, without a lookup.
                Namespaces::Matching(s) => namespace.is_some_and(|l| match s.expr() {
                    Expr::Eq(k, v) if k == NAME_LABEL => {
                        debug_assert_eq!(l.get(NAME_LABEL).map(String::as_str), Some(at));
                        at == v
                    }
                    _ => s.matches(l),
                }),
            },
        }
    }

    /// Whether a flow of `protocol` to `port` of `dst` passes the ports (an end without
    /// ports, nearly every one, is decided without a call).
    #[inline]
    fn matches_ports(&self, protocol: IrProtocol, port: u16, dst: &Ep<'_>) -> bool {
        (self.ports.is_empty()
            || self
                .ports
                .iter()
                .any(|p| port_matches(p, protocol, port, dst)))
            && !self
                .not_ports
                .iter()
                .any(|p| port_matches(p, protocol, port, dst))
    }
}

impl Endpoints {
    /// Whether a network set is in this selector's IP set.
    fn matches_set(&self, set: &SetView) -> bool {
        let in_namespace = match &self.namespaces {
            Namespaces::Any => true,
            Namespaces::Own(ns) => set.namespace.as_deref() == Some(ns),
            // `global()` becomes `!has(projectcalico.org/namespace)`, `all()` becomes
            // `has(projectcalico.org/namespace)`; any other namespace selector is
            // evaluated on the `pcns.` labels.
            Namespaces::Matching(s) => match s.expr() {
                Expr::Global => !set.namespaced,
                Expr::All => set.namespaced,
                _ => s.matches(&set.namespace_labels),
            },
        };
        in_namespace
            && self
                .selector
                .as_ref()
                .is_none_or(|s| s.matches(&set.labels))
    }
}

impl CompiledRule {
    fn matches(&self, flow: &Flow, src: &Ep<'_>, dst: &Ep<'_>) -> bool {
        self.matches_l3(src, dst) && self.matches_l4(flow.protocol, flow.port, dst)
    }

    /// Everything that does not depend on the protocol or port.
    fn matches_l3(&self, src: &Ep<'_>, dst: &Ep<'_>) -> bool {
        // The model's flows carry no ICMP type, so a rule that needs one never matches.
        if self.icmp {
            return false;
        }
        self.ip_version_ok(dst) && self.source.matches_l3(src) && self.destination.matches_l3(dst)
    }

    /// The part of [`Self::matches_l3`] that reads only the prepared side's own end
    /// (`local`: the source for egress, the destination for ingress).
    fn matches_local(&self, local: &Ep<'_>, direction: Direction) -> bool {
        if self.icmp {
            return false;
        }
        match direction {
            Direction::Egress => self.source.matches_l3(local),
            Direction::Ingress => self.ip_version_ok(local) && self.destination.matches_l3(local),
        }
    }

    /// The rest of [`Self::matches_l3`]: what reads the other end.
    fn matches_other(&self, other: &Ep<'_>, direction: Direction) -> bool {
        match direction {
            Direction::Egress => self.ip_version_ok(other) && self.destination.matches_l3(other),
            Direction::Ingress => self.source.matches_l3(other),
        }
    }

    /// The namespaces the other end must be in for this rule to match it, when its
    /// entity names them ([`Entity::confined_namespaces`]): it then matches no address without
    /// network sets.
    fn other_namespaces(&self, direction: Direction) -> Option<Vec<&str>> {
        match direction {
            Direction::Egress => self.destination.confined_namespaces(),
            Direction::Ingress => self.source.confined_namespaces(),
        }
    }

    /// The other end's [`Entity::may_match_in`].
    fn may_match_other_in(
        &self,
        direction: Direction,
        at: Option<&str>,
        namespace: Option<&BTreeMap<String, String>>,
        sets: bool,
    ) -> bool {
        match direction {
            Direction::Egress => self.destination.may_match_in(at, namespace, sets),
            Direction::Ingress => self.source.may_match_in(at, namespace, sets),
        }
    }

    /// [`Self::matches_other`] for a rule that [`Self::may_match_other_in`] the
    /// namespace of `other` without network sets (a prepared side's rules near `other`):
    /// the namespace part of its selector passed there, so only the rest is tested.
    fn matches_other_near(&self, other: &Ep<'_>, direction: Direction, sets: bool) -> bool {
        let near = match direction {
            Direction::Egress => {
                self.ip_version_ok(other) && self.destination.matches_l3_near(other, !sets)
            }
            Direction::Ingress => self.source.matches_l3_near(other, !sets),
        };
        debug_assert_eq!(near, self.matches_other(other, direction));
        near
    }

    /// Whether the destination's address family is the rule's (`ipVersion`).
    fn ip_version_ok(&self, dst: &Ep<'_>) -> bool {
        self.ip_version.is_none_or(|v| (v == 6) == dst.ip.is_ipv6())
    }

    /// Everything that depends on the flow's protocol and port (to `dst`).
    #[inline]
    fn matches_l4(&self, protocol: IrProtocol, port: u16, dst: &Ep<'_>) -> bool {
        let proto = flow_protocol(protocol);
        if self.protocol.is_some_and(|p| p != proto) || self.not_protocol == Some(proto) {
            return false;
        }
        self.source.matches_ports(protocol, port, dst)
            && self.destination.matches_ports(protocol, port, dst)
    }

    /// The samples of `ports` (at most [`SampleBits::MAX`]) that [`Self::matches_l4`]
    /// matches to `dst`: bit `k` for `ports[k]`. `protocols` holds, per protocol number
    /// of the samples, the samples of that protocol ([`PortMasks`]). Each of the rule's
    /// protocol and port tests is one pass over the samples, not one call per sample.
    fn l4_mask(&self, ports: &[(IrProtocol, u16)], protocols: &[(u8, u64)], dst: &Ep<'_>) -> u64 {
        let of_protocol = |p: u8| {
            protocols
                .iter()
                .find(|(q, _)| *q == p)
                .map_or(0, |(_, m)| *m)
        };
        let mut mask = SampleBits::all(ports.len());
        if let Some(p) = self.protocol {
            mask &= of_protocol(p);
        }
        if let Some(p) = self.not_protocol {
            mask &= !of_protocol(p);
        }
        for end in [&self.source, &self.destination] {
            if mask == 0 {
                break;
            }
            if !end.ports.is_empty() {
                mask &= end
                    .ports
                    .iter()
                    .fold(0, |m, p| m | port_mask(p, ports, dst));
            }
            for p in &end.not_ports {
                mask &= !port_mask(p, ports, dst);
            }
        }
        debug_assert_eq!(
            mask,
            ports
                .iter()
                .enumerate()
                .filter(|(_, &(protocol, port))| self.matches_l4(protocol, port, dst))
                .fold(0, |m, (k, _)| m | 1 << k)
        );
        mask
    }

    /// Whether [`Self::matches_l4`] reads the destination (a named port of either end).
    fn l4_reads_dst(&self) -> bool {
        [&self.source, &self.destination].iter().any(|e| {
            e.ports
                .iter()
                .chain(&e.not_ports)
                .any(|p| matches!(p, PortValue::Named(_)))
        })
    }
}

impl Policy {
    fn applies(&self, pod: &PodView<'_>, direction: Direction) -> bool {
        let typed = match direction {
            Direction::Ingress => self.ingress_type,
            Direction::Egress => self.egress_type,
        };
        typed
            && !self.hosts_only
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| *ns == pod.pod.namespace)
            && self.selector.matches(&pod.labels)
            && self
                .namespace_selector
                .as_ref()
                .is_none_or(|s| s.matches(pod.namespace_labels()))
    }
}

impl Policy {
    /// The one namespace this policy can apply in, when its namespace or its selector
    /// (a conjunction with `projectcalico.org/namespace == 'ns'`) fixes one.
    fn only_namespace(&self) -> Option<String> {
        if let Some(ns) = &self.namespace {
            return Some(ns.clone());
        }
        fn fixed(e: &Expr) -> Option<String> {
            match e {
                Expr::Eq(k, v) if k == NAMESPACE_LABEL => Some(v.clone()),
                Expr::And(es) => es.iter().find_map(fixed),
                _ => None,
            }
        }
        fixed(self.selector.expr())
    }

    fn rules(&self, direction: Direction) -> &[CompiledRule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

/// Adds what a selector over *workload endpoint* labels tells apart about namespaces
/// and pods.
fn endpoint_mentions<'a, S: MentionText<'a>>(
    e: &'a Expr,
    m: &mut Mentions<S>,
    scope: Option<&[&'a str]>,
) {
    expr_mentions(e, m, scope, &|key| {
        if key == NAMESPACE_LABEL {
            Some(NsKey::Name)
        } else if key == ORCHESTRATOR_LABEL {
            // The same on every pod.
            None
        } else if let Some(k) = key.strip_prefix(NAMESPACE_LABEL_PREFIX) {
            Some(if k == NAME_LABEL {
                NsKey::Name
            } else {
                NsKey::Label(k)
            })
        } else {
            Some(NsKey::Pod(key))
        }
    });
}

/// Adds what a selector over *namespace* labels tells apart.
fn namespace_mentions<'a, S: MentionText<'a>>(e: &'a Expr, m: &mut Mentions<S>) {
    expr_mentions(e, m, None, &|key| {
        Some(if key == NAME_LABEL {
            NsKey::Name
        } else {
            NsKey::Label(key)
        })
    });
}

/// What a selector key is about (borrowed from the key: no copy per test, for every
/// rule of every side).
enum NsKey<'k> {
    /// The namespace's name.
    Name,
    /// One of its labels.
    Label(&'k str),
    /// One of the pod's own labels.
    Pod(&'k str),
}

/// `scope`: the namespaces whose pods alone the expression's pod tests can meet (see
/// [`Mentions::pod_labels_in`]), or `None` for any namespace.
fn expr_mentions<'a, S: MentionText<'a>>(
    e: &'a Expr,
    m: &mut Mentions<S>,
    scope: Option<&[&'a str]>,
    classify: &dyn for<'k> Fn(&'k str) -> Option<NsKey<'k>>,
) {
    use netpolc_ir::Op;
    let scoped = || scope.map(|s| s.iter().copied());
    let values = |m: &mut Mentions<S>, key: &'a str, vs: &[&'a String]| match classify(key) {
        None => {}
        Some(NsKey::Name) => vs.iter().for_each(|v| m.add_namespace(v)),
        Some(NsKey::Label(k)) => m.add_namespace_label_test(k, Op::In, vs.iter().copied()),
        Some(NsKey::Pod(k)) => m.add_pod_label_test_in(scoped(), k, Op::In, vs.iter().copied()),
    };
    match e {
        Expr::All | Expr::Global => {}
        Expr::Eq(k, v) | Expr::Ne(k, v) => values(m, k, &[v]),
        Expr::In(k, vs) | Expr::NotIn(k, vs) => values(m, k, &vs.iter().collect::<Vec<_>>()),
        Expr::Has(k) | Expr::Contains(k, _) | Expr::StartsWith(k, _) | Expr::EndsWith(k, _) => {
            match classify(k) {
                None => {}
                // Every namespace has a name: only a test on its text tells them apart.
                Some(NsKey::Name) if matches!(e, Expr::Has(_)) => {}
                Some(NsKey::Name) => m.all_namespaces = true,
                Some(NsKey::Label(k)) if matches!(e, Expr::Has(_)) => {
                    m.add_namespace_label_test(k, Op::Exists, std::iter::empty())
                }
                Some(NsKey::Pod(k)) if matches!(e, Expr::Has(_)) => {
                    m.add_pod_label_test_in(scoped(), k, Op::Exists, std::iter::empty())
                }
                // A test on a value's text tells apart values nobody lists.
                Some(NsKey::Label(_)) => m.all_namespaces = true,
                Some(NsKey::Pod(_)) => m.all_pod_labels = true,
            }
        }
        Expr::Not(inner) => expr_mentions(inner, m, scope, classify),
        Expr::And(es) | Expr::Or(es) => {
            es.iter().for_each(|x| expr_mentions(x, m, scope, classify))
        }
    }
}

/// Namespace names, sorted and distinct: one without a set of its own (a peer's
/// namespace named by `== 'n'`, nearly every scope), or a set.
enum Names<'e> {
    One([&'e str; 1]),
    Set(SortedSet<&'e str>),
}

impl<'e> Names<'e> {
    /// The names, in order.
    fn as_slice(&self) -> &[&'e str] {
        match self {
            Names::One(one) => one,
            Names::Set(set) => set.iter().as_slice(),
        }
    }

    /// The names in both.
    fn intersection(self, other: Names<'e>) -> Names<'e> {
        match (self, other) {
            (Names::One([a]), b) | (b, Names::One([a])) => {
                if b.as_slice().contains(&a) {
                    Names::One([a])
                } else {
                    Names::Set(SortedSet::default())
                }
            }
            (Names::Set(a), Names::Set(b)) => Names::Set(a.intersection(&b)),
        }
    }
}

/// The namespaces an expression can match, when it names them (`key == 'n'` or
/// `key in {...}` on a key `is_name` accepts, at the top or under `&&`); `None` otherwise.
/// The names are borrowed from the expression.
fn expr_name_scope<'e>(e: &'e Expr, is_name: &dyn Fn(&str) -> bool) -> Option<Names<'e>> {
    match e {
        Expr::Eq(k, v) if is_name(k) => Some(Names::One([v.as_str()])),
        Expr::In(k, vs) if is_name(k) => Some(Names::Set(vs.iter().map(String::as_str).collect())),
        Expr::And(es) => es
            .iter()
            .filter_map(|x| expr_name_scope(x, is_name))
            .reduce(Names::intersection),
        _ => None,
    }
}

/// The namespaces the workload endpoints of `eps` can be in, when they are named
/// (borrowed from `eps`).
fn endpoints_scope(eps: &Endpoints) -> Option<Names<'_>> {
    let by_namespace = match &eps.namespaces {
        Namespaces::Any => None,
        Namespaces::Own(ns) => Some(Names::One([ns.as_str()])),
        Namespaces::Matching(sel) => expr_name_scope(sel.expr(), &|k| k == NAME_LABEL),
    };
    let by_selector = eps.selector.as_ref().and_then(|sel| {
        expr_name_scope(sel.expr(), &|k| {
            k == NAMESPACE_LABEL || k.strip_prefix(NAMESPACE_LABEL_PREFIX) == Some(NAME_LABEL)
        })
    });
    match (by_namespace, by_selector) {
        (Some(a), Some(b)) => Some(a.intersection(b)),
        (a, b) => a.or(b),
    }
}

fn entity_mentions<'a, S: MentionText<'a>>(
    e: &'a Entity,
    protocol: Option<u8>,
    m: &mut Mentions<S>,
) {
    if let Some(eps) = &e.endpoints {
        match &eps.namespaces {
            Namespaces::Any => {}
            Namespaces::Own(ns) => m.add_namespace(ns),
            Namespaces::Matching(sel) => namespace_mentions(sel.expr(), m),
        }
        if let Some(sel) = &eps.selector {
            let scope = endpoints_scope(eps);
            endpoint_mentions(sel.expr(), m, scope.as_ref().map(Names::as_slice));
        }
    }
    if let Some(sel) = &e.not_selector {
        endpoint_mentions(sel.expr(), m, None);
    }
    // Most ends list no networks: the set is not asked to merge nothing.
    if !e.nets.is_empty() || !e.not_nets.is_empty() {
        m.nets.extend(e.nets.iter().chain(&e.not_nets).copied());
    }
    let protocols: &[IrProtocol] = match protocol {
        Some(6) => &[IrProtocol::Tcp],
        Some(17) => &[IrProtocol::Udp],
        Some(132) => &[IrProtocol::Sctp],
        _ => &IrProtocol::PORTED,
    };
    for p in e.ports.iter().chain(&e.not_ports) {
        match p {
            PortValue::Range(a, b) => {
                for proto in protocols {
                    m.add_range(*proto, *a, *b);
                }
            }
            PortValue::Named(_) => m.named_ports = true,
        }
    }
}

impl CalicoEvaluator {
    /// Fills the label-map cache for `model` unless it holds it already.
    fn cache_views(&self, model: &ClusterModel) {
        // One map of namespace labels per namespace, shared by its pods; looked up by the
        // name the model holds (`fill` asks about the model it is given), not a copy;
        // hashed, never iterated.
        let by_namespace = std::sync::Mutex::new(std::collections::HashMap::<
            &str,
            std::sync::Arc<BTreeMap<String, String>>,
            netpolc_ir::derive::SeededWords,
        >::default());
        self.cache.fill(model, |_, i| {
            let pod = &model.pods[i];
            let shared = std::sync::Arc::clone(
                by_namespace
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(pod.namespace.as_str())
                    .or_insert_with(|| std::sync::Arc::new(namespace_labels_of(model, pod))),
            );
            Labels {
                namespace_labels: shared,
                // The pod's labels may be read: the cache shares a value between pods
                // alike in namespace and labels.
                pod_labels: pod
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                    .collect(),
                applying: Default::default(),
            }
        });
    }

    /// The policies that apply to `pod` in `direction`, tier by tier in evaluation
    /// order, as (tier position, policy position in the tier).
    fn applying_positions(&self, pod: &PodView<'_>, direction: Direction) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (t, tier) in self.tiers.iter().enumerate() {
            for p in tier.applying(pod, direction) {
                // `p` is an element of the tier's list: its position is its offset there.
                let i = (std::ptr::from_ref(p) as usize - tier.policies.as_ptr() as usize)
                    / std::mem::size_of::<Policy>();
                debug_assert!(std::ptr::eq(&tier.policies[i], p));
                out.push((t, i));
            }
        }
        out
    }

    /// The policies that apply to the pod `me` of `model` in `direction`, with their
    /// tiers' positions, in evaluation order: read from the cache (filled first).
    fn applying_of(
        &self,
        model: &ClusterModel,
        me: usize,
        direction: Direction,
    ) -> Vec<(usize, &Policy)> {
        self.cache_views(model);
        // Which policies apply reads the pod's labels only (no network sets).
        let positions = self.cache.with(model, |cached| {
            let ep = cached_view(model, &[], cached, &Endpoint::Pod(me));
            let select = || {
                ep.pod
                    .as_ref()
                    .map(|pod| self.applying_positions(pod, direction))
                    .unwrap_or_default()
            };
            match cached {
                Some(cached) => cached[me].applying[direction_index(direction)]
                    .get_or_init(select)
                    .clone(),
                None => select(),
            }
        });
        positions
            .into_iter()
            .map(|(t, i)| (t, &self.tiers[t].policies[i]))
            .collect()
    }

    fn side(&self, model: &ClusterModel, flow: &Flow, direction: Direction) -> Side {
        let src = view(model, &self.sets, &flow.src);
        let dst = view(model, &self.sets, &flow.dst);
        let local = match direction {
            Direction::Egress => &src,
            Direction::Ingress => &dst,
        };
        let Some(pod) = &local.pod else {
            return Side::NotApplicable;
        };
        'tiers: for tier in &self.tiers {
            let applicable: Vec<&Policy> = tier.applying(pod, direction).collect();
            if applicable.is_empty() {
                continue;
            }
            for policy in &applicable {
                let rules = match direction {
                    Direction::Ingress => &policy.ingress,
                    Direction::Egress => &policy.egress,
                };
                for rule in rules {
                    if !rule.matches(flow, &src, &dst) {
                        continue;
                    }
                    let decision = || Decision {
                        object: policy.display.clone(),
                        rule: rule.path.clone(),
                        intent: policy.intents.intent(&rule.path),
                    };
                    match rule.action {
                        Action::Allow => return Side::Allowed(decision()),
                        Action::Deny => return Side::Denied(decision()),
                        Action::Log => {}
                        Action::Pass => continue 'tiers,
                    }
                }
            }
            match tier.default_action {
                TierAction::Pass => {}
                TierAction::Deny => {
                    return Side::DefaultDeny(
                        applicable.iter().map(|p| p.display.clone()).collect(),
                    )
                }
            }
        }
        Side::Open
    }
}

impl Evaluator for CalicoEvaluator {
    fn name(&self) -> &'static str {
        "calico"
    }

    fn side(&self, model: &ClusterModel, flow: &Flow, direction: Direction) -> Side {
        CalicoEvaluator::side(self, model, flow, direction)
    }

    fn prepare_side<'a>(
        &'a self,
        model: &'a ClusterModel,
        _numbering: &'a Numbering,
        me: usize,
        direction: Direction,
    ) -> PreparedSide<'a> {
        self.cache_views(model);
        let local = shared_view(model, &self.sets, &self.cache, me);
        // Per tier with an applicable policy: its default action and the policies' rules
        // in order.
        let mut applying: Vec<(TierAction, Vec<&CompiledRule>)> = Vec::new();
        let mut last = None;
        for (t, p) in self.applying_of(model, me, direction) {
            if last != Some(t) {
                last = Some(t);
                applying.push((self.tiers[t].default_action, Vec::new()));
            }
            if let Some((_, rules)) = applying.last_mut() {
                rules.extend(p.rules(direction));
            }
        }
        // Of those, the rules whose own end (this pod's) matches; the other end is tested
        // per call.
        let tiers = keep_in_tiers(&applying, |r| r.matches_local(&local, direction));
        // Each with its position among the side's rules (`PortMasks`).
        let mut rule_count = 0;
        let tiers: Vec<(TierAction, Vec<Ranked<'_>>)> = tiers
            .into_iter()
            .map(|(default, rules)| {
                let ranked = rules
                    .into_iter()
                    .map(|r| {
                        rule_count += 1;
                        (rule_count - 1, r)
                    })
                    .collect();
                (default, ranked)
            })
            .collect();
        let sets = !self.sets.is_empty();
        self.cache_views(model);
        // Per tier, the rules whose other end names the namespaces it is in, listed under
        // those names (none with network sets: a selector may then match an address).
        let indexes: Vec<NearIndex<'_>> = tiers
            .iter()
            .map(|(_, rules)| {
                NearIndex::new(rules.len(), |i| {
                    let rule: &'a CompiledRule = rules[i].1;
                    (!sets).then(|| rule.other_namespaces(direction)).flatten()
                })
            })
            .collect();
        // Per tier, the rules whose other end can match an end in the other end's
        // namespace (or an address).
        let near: std::cell::RefCell<NamespaceMemo<'_, Near<'_>>> =
            std::cell::RefCell::new(NamespaceMemo::default());
        // Per tier, the rules matching the other end, in buffers kept from call to call.
        let matching: std::cell::RefCell<Near<'_>> = std::cell::RefCell::new(Vec::new());
        // The samples each rule's ports match, found once for the samples asked about.
        let masks = std::cell::RefCell::new(PortMasks::default());
        // The views of the other ends (filled by `cache_views`), held by the side.
        let held = self.cache.held(model);
        Box::new(move |other_end, ports, out| {
            {
                let cached = held.as_deref().map(Held::values);
                let other = cached_view(model, &self.sets, cached, &other_end);
                // The destination (named ports are its own); the source is read by the
                // debug check only.
                let (_src, dst) = match direction {
                    Direction::Egress => (&local, &other),
                    Direction::Ingress => (&other, &local),
                };
                let mut near = near.borrow_mut();
                let near = near.for_end(model, &other_end, |at, kept: &mut Near<'_>| {
                    let namespace = other.pod.as_ref().map(PodView::namespace_labels);
                    let may =
                        |r: &CompiledRule| r.may_match_other_in(direction, at, namespace, sets);
                    // Known by its name and by its name label, which is its name
                    // (`namespace_labels_of`): the name alone.
                    debug_assert_eq!(
                        namespace
                            .and_then(|l| l.get(NAME_LABEL))
                            .map(String::as_str),
                        at
                    );
                    // The lists of the last namespace refilled, their room kept.
                    kept.resize_with(tiers.len(), || (TierAction::Pass, Vec::new()));
                    for (((default, rules), index), (kept_default, kept)) in
                        tiers.iter().zip(&indexes).zip(kept.iter_mut())
                    {
                        *kept_default = *default;
                        index.keep_into(rules, at, |(_, r)| may(r), kept);
                    }
                });
                let mut matching = matching.borrow_mut();
                matching.resize_with(near.len(), || (TierAction::Pass, Vec::new()));
                for ((default, rules), (kept_default, kept)) in near.iter().zip(matching.iter_mut())
                {
                    *kept_default = *default;
                    kept.clear();
                    kept.extend(
                        rules
                            .iter()
                            .copied()
                            .filter(|(_, r)| r.matches_other_near(&other, direction, sets)),
                    );
                }
                let matching: &[(TierAction, Vec<Ranked<'_>>)] = &matching;
                #[cfg(debug_assertions)]
                {
                    let full = keep_in_tiers(&applying, |r| r.matches_l3(_src, dst));
                    // The same rules (by address), tier by tier.
                    let addresses = |t: Vec<(TierAction, Vec<&CompiledRule>)>| {
                        t.into_iter()
                            .map(|(d, rs)| {
                                let rs: Vec<usize> = rs
                                    .into_iter()
                                    .map(|r| std::ptr::from_ref(r) as usize)
                                    .collect();
                                (d, rs)
                            })
                            .collect::<Vec<_>>()
                    };
                    let unranked = matching
                        .iter()
                        .map(|(d, rs)| (*d, rs.iter().map(|(_, r)| *r).collect()))
                        .collect();
                    debug_assert_eq!(addresses(unranked), addresses(full));
                }
                // The ends are `src` and `dst`; only the protocol and port vary.
                if ports.len() <= SampleBits::MAX {
                    let egress = direction == Direction::Egress;
                    let bits = masks
                        .borrow_mut()
                        .verdicts(matching, rule_count, ports, dst, egress);
                    SampleBits::push(bits, ports.len(), out);
                    debug_assert!(ports.iter().enumerate().all(|(k, &(protocol, port))| {
                        (bits >> k & 1 == 1) == sample_verdict(matching, protocol, port, dst)
                    }));
                } else {
                    out.extend(
                        ports
                            .iter()
                            .map(|&(protocol, port)| sample_verdict(matching, protocol, port, dst)),
                    );
                }
            }
        })
    }

    fn mentions_into<'a>(
        &'a self,
        model: &'a ClusterModel,
        pod: usize,
        direction: Direction,
        m: &mut Mentions<std::borrow::Cow<'a, str>>,
    ) {
        let mut sets_mentioned = false;
        for (_, p) in self.applying_of(model, pod, direction) {
            if let Some(s) = &p.namespace_selector {
                namespace_mentions(s.expr(), m);
            }
            for r in p.rules(direction) {
                let protocol = r.protocol;
                entity_mentions(&r.source, protocol, m);
                entity_mentions(&r.destination, protocol, m);
                if !sets_mentioned
                    && [&r.source, &r.destination]
                        .iter()
                        .any(|e| e.endpoints.is_some() || e.not_selector.is_some())
                {
                    // A selector may match any network set: their networks tell
                    // addresses apart.
                    sets_mentioned = true;
                    m.nets
                        .extend(self.sets.iter().flat_map(|s| s.nets.iter().copied()));
                }
            }
        }
    }

    /// The policies that apply to the pod, in order (their tiers with them; named ports
    /// and address family are the pod's). `None` when a rule tests the pod's own end
    /// (an egress rule's `source`, an ingress rule's `destination`): the side then
    /// depends on more of the pod than which policies apply.
    fn side_key(&self, model: &ClusterModel, me: usize, direction: Direction) -> Option<SideKey> {
        let mut key = Vec::new();
        for (_, p) in self.applying_of(model, me, direction) {
            let own_end_tested = p.rules(direction).iter().any(|r| {
                match direction {
                    Direction::Egress => &r.source,
                    Direction::Ingress => &r.destination,
                }
                .tests_endpoint()
            });
            if own_end_tested {
                return None;
            }
            key.push(std::ptr::from_ref(p) as usize);
        }
        Some(key)
    }
}

fn direction_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// An expression for `key == value`.
pub(crate) fn eq(key: &str, value: &str) -> Expr {
    Expr::Eq(key.to_string(), value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::{Labels as _, Selector};
    use netpolc_ir::backend::{Backend as _, Reader as _};

    /// The reader places an object (read as a document) where the back end's
    /// `is_prerequisite` and `home_namespace` (of its tree) place it.
    #[test]
    fn the_reader_places_objects_as_the_back_end_does() {
        let reader = ValidReader::default();
        let selectors = [
            "",
            "app == 'web'",
            "projectcalico.org/namespace == 'shop'",
            "projectcalico.org/namespace == 'shop' && app == 'web'",
            "projectcalico.org/namespace == 'shop'&& app == 'web'",
            "projectcalico.org/namespace == 'shop",
            "projectcalico.org/namespace != 'shop'",
            "app == 'web' && projectcalico.org/namespace == 'shop'",
        ];
        for kind in ["Tier", "GlobalNetworkPolicy", "NetworkPolicy"] {
            for selector in selectors {
                let o = serde_json::json!({
                    "apiVersion": API_VERSION,
                    "kind": kind,
                    "metadata": {"name": "p"},
                    "spec": {"selector": selector}
                });
                let placed = reader.placement(&Doc::of_value(&o));
                let backend = crate::Calico;
                let expected = (backend.is_prerequisite(&o), backend.home_namespace(&o));
                assert_eq!(placed, Some(expected), "{o}");
            }
        }
        let bare = serde_json::json!({"kind": "GlobalNetworkPolicy"});
        assert_eq!(reader.placement(&Doc::of_value(&bare)), Some((false, None)));
    }

    /// The map the workload-endpoint labels stand for, built as Calico builds it: the
    /// pod's labels, overwritten by the namespace's prefixed `pcns.`, overwritten by
    /// Calico's own.
    fn built(pod: &Pod, namespace: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut labels = pod.labels.clone();
        for (k, v) in namespace {
            labels.insert(format!("{NAMESPACE_LABEL_PREFIX}{k}"), v.clone());
        }
        labels.insert(NAMESPACE_LABEL.into(), pod.namespace.clone());
        labels.insert(ORCHESTRATOR_LABEL.into(), "k8s".into());
        labels
    }

    /// Networks contain what `IpNet::contains` says they contain, for every prefix
    /// length and both families.
    #[test]
    fn networks_contain_as_ipnet_says() {
        let addrs: Vec<IpAddr> = [
            "0.0.0.0",
            "10.1.2.3",
            "10.1.255.255",
            "169.254.169.254",
            "255.255.255.255",
            "::",
            "::ffff:10.1.2.3",
            "fd00:ec2::254",
            "fd00:ec2::ffff:254",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ]
        .iter()
        .map(|a| a.parse().expect("an address"))
        .collect();
        for base in ["10.1.2.3", "169.254.169.254", "fd00:ec2::254", "::"] {
            let base: IpAddr = base.parse().expect("an address");
            let most = if base.is_ipv4() { 32 } else { 128 };
            for prefix in 0..=most {
                let net = IpNet::new(base, prefix).expect("a network");
                for &a in &addrs {
                    assert_eq!(net_contains(&net, a), net.contains(&a), "{net} {a}");
                }
            }
        }
    }

    #[test]
    fn a_selector_text_is_parsed_once_per_reader() {
        let selectors = Selectors::default();
        let a = selectors
            .parse("spec.selector", "app == 'web'")
            .expect("parses");
        let b = selectors
            .parse("spec.ingress[0].source.selector", "app == 'web'")
            .expect("parses");
        let c = selectors
            .parse("spec.selector", "app == 'api'")
            .expect("parses");
        assert!(a.is_shared_with(&b));
        assert!(!a.is_shared_with(&c));
        assert_eq!(a, Selector::parse("app == 'web'").expect("parses"));
        // Errors are reported with the path of each use, and never cached.
        for path in ["spec.selector", "spec.egress[1].destination.selector"] {
            let e = selectors.parse(path, "app ==").expect_err("does not parse");
            assert!(
                e.starts_with(&format!("{path}: invalid selector `app ==`")),
                "{e}"
            );
        }
        // A separate reader parses on its own.
        let other = Selectors::default();
        let d = other
            .parse("spec.selector", "app == 'web'")
            .expect("parses");
        assert!(!a.is_shared_with(&d));
    }

    #[test]
    fn workload_labels_answer_as_the_built_map() {
        let pairs = |l: &[(&str, &str)]| -> BTreeMap<String, String> {
            l.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let pod = Pod {
            namespace: "shop".into(),
            name: "web-0".into(),
            // A pod may carry keys Calico sets itself: Calico's win.
            labels: pairs(&[
                ("app", "web"),
                ("pcns.team", "mine"),
                ("pcns.tier", "front"),
                ("projectcalico.org/namespace", "other"),
                ("projectcalico.org/orchestrator", "none"),
            ]),
            ip: "10.0.0.1".parse().expect("an address"),
            named_ports: BTreeMap::new(),
        };
        let namespace = pairs(&[("team", "shop"), ("projectcalico.org/name", "shop")]);
        let flat: Vec<(Box<str>, Box<str>)> = pod
            .labels
            .iter()
            .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
            .collect();
        let view = WorkloadLabels {
            pod: &pod,
            namespace: NamespaceLabels::Borrowed(&namespace),
            flat: None,
        };
        // The same labels answered from the cached list.
        let listed = WorkloadLabels {
            pod: &pod,
            namespace: NamespaceLabels::Borrowed(&namespace),
            flat: Some(&flat),
        };
        let want = built(&pod, &namespace);
        let keys = [
            "app",
            "pcns.team",
            "pcns.tier",
            "pcns.projectcalico.org/name",
            "pcns.absent",
            "projectcalico.org/namespace",
            "projectcalico.org/orchestrator",
            "team",
            "absent",
        ];
        for key in keys {
            assert_eq!(
                view.label(key),
                want.get(key).map(String::as_str),
                "label `{key}`"
            );
            assert_eq!(listed.label(key), view.label(key), "label `{key}`");
        }
        for text in [
            "app == 'web' && pcns.team == 'shop'",
            "pcns.tier == 'front'",
            "projectcalico.org/namespace == 'shop'",
            "has(pcns.projectcalico.org/name) && !has(team)",
            "projectcalico.org/orchestrator == 'none'",
        ] {
            let s = Selector::parse(text).expect("a selector");
            assert_eq!(s.matches(&view), s.matches(&want), "`{text}`");
            assert_eq!(s.matches(&listed), s.matches(&want), "`{text}`");
        }
    }

    /// The plain readings give what serde gives, or nothing (then serde reads): on
    /// policies with every field and on every edit of one, of types, values and keys.
    #[test]
    fn the_plain_readings_agree_with_serde() {
        use serde_json::json;
        let rule = json!({
            "action": "Deny",
            "protocol": "TCP",
            "notProtocol": 17,
            "icmp": {"type": 8, "code": 0},
            "notICMP": {"type": 3},
            "ipVersion": 4,
            "source": {
                "selector": "app == 'web'",
                "namespaceSelector": "projectcalico.org/name == 'shop'",
                "notSelector": "has(x)",
                "nets": ["10.0.0.0/8"],
                "notNets": ["10.1.0.0/16"],
                "ports": [80, "8080:8090", "http"],
                "notPorts": ["81"]
            },
            "destination": {"ports": [5432]},
            "metadata": {"annotations": {"a": "b"}}
        });
        let spec = json!({
            "tier": "netpolc",
            "order": 1000,
            "selector": "projectcalico.org/namespace == 'shop'",
            "types": ["Ingress", "Egress"],
            "ingress": [rule, {"action": "Allow"}],
            "egress": [{"action": "Pass", "protocol": "UDP", "destination": {"nets": ["8.8.8.8/32"]}}],
            "performanceHints": ["AssumeNeededOnEveryNode"]
        });
        let metadata = json!({
            "name": "netpolc.shop-web",
            "namespace": "shop",
            "labels": {"app.kubernetes.io/managed-by": "netpolc"},
            "annotations": {"netpolc.dev/intent": "shop/a"}
        });
        let mut global_spec = spec.clone();
        global_spec["namespaceSelector"] = json!("team == 'a'");
        global_spec["applyOnForward"] = json!(true);
        global_spec["preDNAT"] = json!(false);
        global_spec["doNotTrack"] = json!(false);
        let global = json!({
            "apiVersion": API_VERSION, "kind": "GlobalNetworkPolicy",
            "metadata": metadata, "spec": global_spec
        });
        let namespaced = json!({
            "apiVersion": API_VERSION, "kind": "NetworkPolicy",
            "metadata": metadata, "spec": spec
        });
        let others = [
            Value::Null,
            json!(true),
            json!(0),
            json!(-1),
            json!(9223372036854775808u64),
            json!(1.5),
            json!(""),
            json!("x"),
            // Every word of the enums, in every place.
            json!("Ingress"),
            json!("Egress"),
            json!("Allow"),
            json!("Deny"),
            json!("Log"),
            json!("Pass"),
            json!({}),
            json!([]),
            json!(["x"]),
            json!([1]),
            json!({"a": "b"}),
            json!({"Ingress": null}),
        ];
        let mut read_plainly = 0;
        let shared = Selectors::default();
        for (object, plain, serde) in [
            (
                &global,
                (|o: &Value| plain::global_policy(o).map(|p| format!("{p:?}")))
                    as fn(&Value) -> Option<String>,
                (|o: &Value| {
                    GlobalNetworkPolicy::deserialize(o)
                        .map(|p| format!("{p:?}"))
                        .ok()
                }) as fn(&Value) -> Option<String>,
            ),
            (
                &namespaced,
                |o: &Value| plain::namespaced_policy(o).map(|p| format!("{p:?}")),
                |o: &Value| NetworkPolicy::deserialize(o).map(|p| format!("{p:?}")).ok(),
            ),
        ] {
            assert!(plain(object).is_some(), "{object}");
            let mut all = Vec::new();
            netpolc_kube::edits::edits(object, &others, &mut all);
            for o in &all {
                // The document the pipeline reads is read as its tree is.
                let doc = Doc::of_value(o);
                let (d, v) = (read_object(0, &doc, &shared), read_object(0, o, &shared));
                assert_eq!(format!("{d:?}"), format!("{v:?}"), "{o}");
                if let Some(p) = plain(o) {
                    assert_eq!(Some(p), serde(o), "{o}");
                    read_plainly += 1;
                }
            }
        }
        assert!(read_plainly > 200, "{read_plainly}");
    }
}
