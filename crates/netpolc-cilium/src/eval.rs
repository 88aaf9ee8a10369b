//! The evaluator of manifests under Cilium's semantics (semantics.md §1.2–1.5, §2.3,
//! §3.3, §4, §5): CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and plain
//! Kubernetes NetworkPolicy (converted the way the agent converts it).
//!
//! Every object becomes one or more normalised [`CPolicy`]s: a subject selector, the
//! per-direction default-deny request, and rules whose peer selectors already carry the
//! namespace scoping Cilium applies when it imports the policy. A flow side is then
//! decided like the agent does: a matching deny from any policy wins; otherwise, if some
//! policy selecting the pod requests default deny for the direction, a matching allow
//! is needed; otherwise the side is open.
//!
//! Identities: a pod carries `k8s:` labels for its own labels (after the default identity
//! label filter), `k8s:io.kubernetes.pod.namespace`, `k8s:io.cilium.k8s.namespace.labels.*`
//! for its namespace's labels and `k8s:io.cilium.k8s.policy.cluster=default`. An external
//! address is `reserved:world` and is matched by CIDR rules; an API server address also
//! carries `reserved:kube-apiserver`. CIDR rules never match pods.

use crate::knp;
use crate::labels::{
    identity_label_kept, parse_selector_key, CLUSTER_KEY, DEFAULT_CLUSTER_NAME, NAMESPACE_KEY,
    NAMESPACE_LABELS_PREFIX, SOURCE_ANY, SOURCE_K8S, SOURCE_RESERVED,
};
use crate::types::{
    self, CidrRule, CiliumPolicy, EndpointSelector, Entity, IcmpFamily, IcmpRule, IcmpType,
    L4Protocol, PortProtocol, SelectorOperator,
};
use crate::validate::{parse_cidr_or_ip, parse_port, problems, PortValue};
use ipnet::IpNet;
use netpolc_ir::backend::{Doc, Tree};
use netpolc_ir::derive::SeededWords;
use netpolc_ir::model::{
    name_scope, ClusterModel, Decision, Endpoint, Evaluator, Flow, Held, MentionText, Mentions,
    NamespaceMemo, NearIndex, Numbering, PodCache, PreparedSide, SampleBits, Side, SideKey,
};
use netpolc_ir::provenance::RuleIntents;
use netpolc_ir::{Direction, Protocol};
use serde::Deserialize;
use serde_json::Value;
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Builds an evaluator of manifests under Cilium's semantics.
///
/// Accepts `cilium.io/v2` CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy and
/// `networking.k8s.io/v1` NetworkPolicy. A Cilium object that [`crate::validate`] finds
/// invalid is not enforced, as on a real cluster (the API server or every agent rejects
/// it); run `validate` to learn why.
///
/// # Errors
/// An object of another kind, or one using a field this evaluator does not model (for
/// example `toServices`, `fromRequires`, CIDR groups, Kafka rules), is refused with a
/// message naming the object; so is a NetworkPolicy the shared reader
/// (`netpolc_kube::networkpolicy::read`) refuses, with the same message as on every back
/// end.
pub fn evaluator(objects: &[Value]) -> Result<impl Evaluator, String> {
    read_all(objects, true)
}

/// The reader of objects [`crate::validate`] accepts with no problem (the pipeline's:
/// they were validated when compiled; [`netpolc_ir::backend::Reader`]): as [`evaluator`],
/// without validating them again: none is invalid, so every one is enforced. Each object
/// is read as it comes and freed by the caller.
#[derive(Default)]
pub(crate) struct ValidReader {
    selectors: Selectors,
}

impl netpolc_ir::backend::Reader for ValidReader {
    fn read(&self, index: usize, object: &Doc<'_>) -> netpolc_ir::backend::Piece {
        netpolc_ir::backend::Piece::new(read_object(index, object, false, &self.selectors))
    }

    fn read_value(&self, index: usize, object: &Value) -> netpolc_ir::backend::Piece {
        netpolc_ir::backend::Piece::new(read_object(index, object, false, &self.selectors))
    }

    /// A policy is filed by its namespace, as the back end's defaults say (not a
    /// prerequisite, no home namespace of its own).
    fn placement(&self, _: &Doc<'_>) -> Option<(bool, Option<String>)> {
        Some((false, None))
    }

    fn assemble(
        &self,
        pieces: Vec<netpolc_ir::backend::Piece>,
    ) -> Result<Box<dyn Evaluator>, String> {
        let read = netpolc_ir::backend::Piece::take_each::<Result<Vec<CPolicy>, String>>(pieces)?;
        Ok(Box::new(assemble(read)?))
    }
}

/// Reads every object (validating each when `validate`) into the evaluator.
fn read_all(objects: &[Value], validate: bool) -> Result<CiliumEvaluator, String> {
    // Objects are read on every core, collected in order (the first error in the
    // objects' order is the one reported).
    let selectors = Selectors::default();
    let read = netpolc_ir::par::map(netpolc_ir::par::threads(), objects.len(), 256, |i| {
        read_object(i, &objects[i], validate, &selectors)
    });
    assemble(read)
}

/// The evaluator of the objects read, in order (the first error is the one reported).
fn assemble(read: Vec<Result<Vec<CPolicy>, String>>) -> Result<CiliumEvaluator, String> {
    let read = read.into_iter().collect::<Result<Vec<_>, String>>()?;
    Ok(CiliumEvaluator::new(netpolc_ir::backend::concat(read)))
}

/// The policies of object `i` as the agent holds them (none when it is never enforced:
/// checked when `validate`).
pub(crate) fn read_object<T: Tree>(
    i: usize,
    obj: &T,
    validate: bool,
    selectors: &Selectors,
) -> Result<Vec<CPolicy>, String> {
    // By key, in order (`Tree::field`): a JSON pointer parses its path and hashes each key.
    fn text<T: Tree>(v: Option<&T>) -> &str {
        v.and_then(T::as_str).unwrap_or("")
    }
    let api = text(obj.field("apiVersion"));
    let kind = text(obj.field("kind"));
    let name = text(obj.field("metadata").and_then(|m| m.field("name")));
    let refuse = |e: serde_json::Error| format!("object {i} (`{kind}` `{name}`): {e}");
    match (api, kind) {
        (types::API_VERSION, types::KIND_CNP | types::KIND_CCNP) => {
            // Rejected by the API server or by every agent: never enforced.
            if validate && problems(obj).iter().any(|p| p.invalid) {
                return Ok(Vec::new());
            }
            if let Some((at, c)) = mapped_cidr(obj) {
                // Not an error of Cilium's: netpolc cannot say which addresses it matches.
                return Err(format!(
                    "object {i} (`{kind}` `{name}`): {at}: {}",
                    netpolc_ir::addr::refusal(c)
                ));
            }
            // Straight from the tree when it can; serde otherwise, for its messages.
            if let Some(policies) = crate::plain::policies(obj, selectors) {
                return Ok(policies);
            }
            let p = CiliumPolicy::deserialize(&*obj.value()).map_err(refuse)?;
            Ok(from_cilium(&p, selectors))
        }
        (netpolc_kube::networkpolicy::API_VERSION, netpolc_kube::networkpolicy::KIND) => {
            // The shared reader's message names the object itself.
            let np = knp::read(obj).map_err(|e| format!("object {i}: {e}"))?;
            Ok(vec![knp::convert(&np)])
        }
        _ => Err(format!(
            "object {i} (`{kind}` `{name}`): not a network policy this evaluator knows (`{api}`)"
        )),
    }
}

/// The first IPv4-mapped IPv6 block (`netpolc_ir::addr`) of a policy's rules, with its
/// field path (`spec.egress[0].toCIDRSet[1].cidr`): the `toCIDR`, `fromCIDR`, `toCIDRSet`
/// and `fromCIDRSet` (`cidr`, `except`) of every rule of `spec` and `specs`, the only
/// places Cilium takes address blocks.
fn mapped_cidr<T: Tree>(obj: &T) -> Option<(String, &str)> {
    fn mapped<T: Tree>(v: Option<&T>) -> Option<&str> {
        let s = v?.as_str()?;
        let net = parse_cidr_or_ip(s)?;
        netpolc_ir::addr::is_v4_mapped(&net.addr()).then_some(s)
    }
    fn list<T: Tree>(v: Option<&T>) -> &[T] {
        v.and_then(T::as_array).unwrap_or_default()
    }
    // `field` of a value that is no map, or lacks the key: none (`null` in a tree).
    fn field<'t, T: Tree>(v: Option<&'t T>, key: &str) -> Option<&'t T> {
        v?.field(key)
    }
    let obj = Some(obj);
    let specs = std::iter::once(("spec".to_string(), field(obj, "spec"))).chain(
        list(field(obj, "specs"))
            .iter()
            .enumerate()
            .map(|(n, s)| (format!("specs[{n}]"), Some(s))),
    );
    for (at, spec) in specs {
        for section in ["ingress", "egress", "ingressDeny", "egressDeny"] {
            for (j, rule) in list(field(spec, section)).iter().enumerate() {
                let at = || format!("{at}.{section}[{j}]");
                for key in ["toCIDR", "fromCIDR"] {
                    for (k, c) in list(field(Some(rule), key)).iter().enumerate() {
                        if let Some(s) = mapped(Some(c)) {
                            return Some((format!("{}.{key}[{k}]", at()), s));
                        }
                    }
                }
                for key in ["toCIDRSet", "fromCIDRSet"] {
                    for (k, set) in list(field(Some(rule), key)).iter().enumerate() {
                        if let Some(s) = mapped(field(Some(set), "cidr")) {
                            return Some((format!("{}.{key}[{k}].cidr", at()), s));
                        }
                        for (e, c) in list(field(Some(set), "except")).iter().enumerate() {
                            if let Some(s) = mapped(Some(c)) {
                                return Some((format!("{}.{key}[{k}].except[{e}]", at()), s));
                            }
                        }
                    }
                }
            }
        }
    }
    None
}

/// One label requirement with its key split into source and key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Req {
    pub(crate) source: String,
    pub(crate) key: String,
    pub(crate) op: SelectorOperator,
    pub(crate) values: Vec<String>,
    /// Whether it came from `matchLabels` (Cilium's namespace injection replaces those).
    pub(crate) from_labels: bool,
    /// How the label is looked up in an identity (made of `source` and `key`).
    lookup: Lookup,
}

/// How a requirement looks its label up in an identity ([`Identity::find`]), told once
/// from its source and key instead of comparing them for every identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Lookup {
    /// Among the `reserved` labels (source `reserved` or `any`).
    reserved: bool,
    /// Among the `k8s` labels (source `k8s` or `any`).
    k8s: bool,
    /// The key is the namespace's name ([`NAMESPACE_KEY`]).
    namespace: bool,
    /// A pod's identity takes the key from its namespace ([`from_namespace`]).
    from_namespace: bool,
}

impl Lookup {
    fn new(source: &str, key: &str) -> Lookup {
        let any = source == SOURCE_ANY;
        Lookup {
            reserved: any || source == SOURCE_RESERVED,
            k8s: any || source == SOURCE_K8S,
            namespace: key == NAMESPACE_KEY,
            from_namespace: from_namespace(key),
        }
    }
}

impl Req {
    fn new(
        source: String,
        key: String,
        op: SelectorOperator,
        values: Vec<String>,
        from_labels: bool,
    ) -> Req {
        Req {
            lookup: Lookup::new(&source, &key),
            source,
            key,
            op,
            values,
            from_labels,
        }
    }
}

/// An endpoint selector as the agent holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Sel {
    pub(crate) reqs: Vec<Req>,
    /// `reserved:all` in `matchLabels`: matches every identity.
    pub(crate) all: bool,
}

impl Sel {
    /// A selector as written in a Cilium policy: keys may carry a source.
    pub(crate) fn parse(es: &EndpointSelector) -> Sel {
        Self::build(es, parse_selector_key)
    }

    /// A selector of a Kubernetes NetworkPolicy: every key becomes `k8s:<prefix><key>`.
    pub(crate) fn k8s(es: &EndpointSelector, key_prefix: &str) -> Sel {
        Self::build(es, |k| (SOURCE_K8S.to_string(), format!("{key_prefix}{k}")))
    }

    fn build(es: &EndpointSelector, split: impl Fn(&str) -> (String, String)) -> Sel {
        Self::from_parts(
            es.match_labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
            es.match_expressions
                .iter()
                .map(|e| (e.key.as_str(), e.operator, e.values.clone())),
            split,
        )
    }

    /// A selector of `matchLabels` entries (in key order, as a map holds them) and
    /// `matchExpressions` items (key, operator, values), each key split by `split`.
    pub(crate) fn from_parts<'k>(
        labels: impl ExactSizeIterator<Item = (&'k str, &'k str)>,
        expressions: impl ExactSizeIterator<Item = (&'k str, SelectorOperator, Vec<String>)>,
        split: impl Fn(&str) -> (String, String),
    ) -> Sel {
        // Room for the requirements and the one namespace scoping adds (`scope_peer`):
        // grown by doubling, most selectors would keep room for four.
        let mut sel = Sel {
            reqs: Vec::with_capacity(labels.len() + expressions.len() + 1),
            all: false,
        };
        for (k, v) in labels {
            let (source, key) = split(k);
            if source == SOURCE_RESERVED && key == "all" {
                sel.all = true;
            }
            sel.reqs.push(Req::new(
                source,
                key,
                SelectorOperator::In,
                vec![v.to_string()],
                true,
            ));
        }
        for (k, op, values) in expressions {
            let (source, key) = split(k);
            sel.reqs.push(Req::new(source, key, op, values, false));
        }
        sel
    }

    pub(crate) fn has_key(&self, source: &str, key: &str) -> bool {
        self.reqs.iter().any(|r| r.source == source && r.key == key)
    }

    fn has_source(&self, source: &str) -> bool {
        self.reqs.iter().any(|r| r.source == source)
    }

    fn has_key_prefix(&self, source: &str, prefix: &str) -> bool {
        self.reqs
            .iter()
            .any(|r| r.source == source && r.key.starts_with(prefix))
    }

    /// Cilium's `AddMatch`: sets a `matchLabels` entry, replacing one of the same key.
    pub(crate) fn add_match(&mut self, source: &str, key: &str, value: &str) {
        self.reqs
            .retain(|r| !(r.from_labels && r.source == source && r.key == key));
        self.reqs.push(Req::new(
            source.to_string(),
            key.to_string(),
            SelectorOperator::In,
            vec![value.to_string()],
            true,
        ));
    }

    /// A policy's subject in `namespace` (a CiliumNetworkPolicy's; none for a
    /// clusterwide policy): the agent adds a match on the namespace label.
    pub(crate) fn scoped_to(mut self, namespace: Option<&str>) -> Sel {
        if let Some(ns) = namespace {
            self.add_match(SOURCE_K8S, NAMESPACE_KEY, ns);
        }
        self
    }

    /// Adds `key Exists`.
    pub(crate) fn add_exists(&mut self, source: &str, key: &str) {
        self.reqs.push(Req::new(
            source.to_string(),
            key.to_string(),
            SelectorOperator::Exists,
            Vec::new(),
            false,
        ));
    }

    /// Whether some pod of the namespace of `id` can match, `id` being a pod with no label
    /// of its own under a key its namespace gives ([`from_namespace`]): requirements on
    /// those keys are decided by `id` (every such pod of the namespace answers alike),
    /// the others read the pod's own labels and are left open. `false` only where
    /// [`Self::matches`] is `false` for every such pod of the namespace.
    fn may_match_in(&self, id: &Identity) -> bool {
        self.all
            || self.reqs.iter().all(|r| {
                // (Told once from the key, not compared for every identity.)
                if !r.lookup.from_namespace {
                    return true;
                }
                r.matches(id)
            })
    }

    fn matches(&self, id: &Identity) -> bool {
        self.all || self.reqs.iter().all(|r| r.matches(id))
    }

    /// Whether some address can match: an address's identity has `reserved` labels only,
    /// so a requirement that a `k8s` label be there fails for every address. `false`
    /// only where [`Self::matches`] is `false` for every address.
    fn may_match_address(&self) -> bool {
        self.all
            || self.reqs.iter().all(|r| {
                !(r.source == SOURCE_K8S
                    && matches!(r.op, SelectorOperator::In | SelectorOperator::Exists))
            })
    }
}

/// By key and values only: what tells the selectors of a repository apart (the source is
/// nearly always `k8s`, the operator `In`), so interning a selector ([`Selectors`])
/// hashes less. Equal requirements still hash alike.
impl std::hash::Hash for Req {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state);
        self.values.hash(state);
    }
}

impl Req {
    fn matches(&self, id: &Identity) -> bool {
        let v = id.find(self.lookup, &self.key);
        match self.op {
            SelectorOperator::In => v.is_some_and(|v| self.values.iter().any(|x| x == v)),
            SelectorOperator::NotIn => v.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            SelectorOperator::Exists => v.is_some(),
            SelectorOperator::DoesNotExist => v.is_none(),
        }
    }
}

/// The selectors read so far, each kept once: one selector recurs in many rules and
/// policies (a peer in every policy of a namespace), and each copy would keep its own
/// requirements.
#[derive(Default)]
pub(crate) struct Selectors {
    set: netpolc_ir::backend::Interner<Sel>,
    /// The selectors read straight from the tree ([`crate::plain`]), by a text that
    /// determines each (its labels, expressions and scoping): most recur, and finding the
    /// text costs less than making the selector, interning it and dropping the copy.
    /// Hashed as `set` is; never iterated.
    by_text: Mutex<HashMap<Box<[u8]>, Arc<Sel>, SeededWords>>,
}

impl Selectors {
    /// The shared copy of `sel`: the one kept already when an equal selector was
    /// interned, else `sel`, now kept.
    pub(crate) fn intern(&self, sel: Sel) -> Arc<Sel> {
        self.set.intern(sel)
    }

    /// The shared copy of the selector `text` determines, made by `make` when the text
    /// is new (so every text is made once, or twice by racing threads: the same value).
    pub(crate) fn by_text(&self, text: &[u8], make: impl FnOnce() -> Sel) -> Arc<Sel> {
        let by_text = || self.by_text.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sel) = by_text().get(text) {
            return Arc::clone(sel);
        }
        let sel = self.intern(make());
        Arc::clone(by_text().entry(text.into()).or_insert(sel))
    }
}

/// The namespace scoping Cilium applies to a `fromEndpoints`/`toEndpoints` selector when
/// it imports a CNP (`namespace` set) or CCNP (`None`).
pub(crate) fn scope_peer(mut sel: Sel, namespace: Option<&str>, subject_matches_init: bool) -> Sel {
    if sel.has_source(SOURCE_RESERVED) {
        return sel;
    }
    if sel.has_key(SOURCE_K8S, NAMESPACE_KEY) || sel.has_key(SOURCE_ANY, NAMESPACE_KEY) {
        return sel;
    }
    match namespace {
        None => {
            if !subject_matches_init {
                sel.add_exists(SOURCE_K8S, NAMESPACE_KEY);
            }
        }
        Some(ns) => {
            // Since Cilium 1.16 a selector on namespace labels crosses namespaces.
            if !sel.has_key_prefix(SOURCE_K8S, NAMESPACE_LABELS_PREFIX)
                && !sel.has_key_prefix(SOURCE_ANY, NAMESPACE_LABELS_PREFIX)
            {
                sel.add_match(SOURCE_K8S, NAMESPACE_KEY, ns);
            }
        }
    }
    sel
}

/// The labels of an identity, plus its address when CIDR rules can match it.
///
/// A pod's labels are all of source `k8s`: its own (after the identity label filter),
/// then those from its namespace; an address's are all `reserved` (no value). A label is
/// looked up in that order ([`Self::get`]), the first of a key winning.
#[derive(Debug)]
struct Identity {
    /// `reserved` labels (an address's).
    reserved: &'static [&'static str],
    /// The pod's own `k8s` labels, (key, value).
    own: Vec<(String, String)>,
    /// Whether `own` has a label under [`NAMESPACE_KEY`].
    own_namespace_key: bool,
    /// The `k8s` labels from the pod's namespace ([`namespace_labels`]), shared by the
    /// identities of its pods: built once per namespace.
    namespace: Option<NamespaceLabels>,
    cidr_address: Option<IpAddr>,
}

impl Identity {
    fn get(&self, source: &str, key: &str) -> Option<&str> {
        self.find(Lookup::new(source, key), key)
    }

    /// The value of the label `key` looked up as `lookup` says (`Lookup::new` of its
    /// source and `key`).
    fn find(&self, lookup: Lookup, key: &str) -> Option<&str> {
        if lookup.reserved && self.reserved.contains(&key) {
            return Some("");
        }
        if !lookup.k8s {
            return None;
        }
        if lookup.namespace && !self.own_namespace_key {
            // The pod has no label of its own under the key: its namespace's name, the
            // first label from its namespace (an address has none).
            return self.namespace.as_deref()?.first().map(|(_, v)| v.as_str());
        }
        let namespace = self.namespace.as_deref().unwrap_or_default();
        for labels in [self.own.as_slice(), namespace] {
            if let Some((_, v)) = labels.iter().find(|(k, _)| k == key) {
                return Some(v);
            }
        }
        None
    }

    fn reserved(&self, name: &str) -> bool {
        self.reserved.contains(&name)
    }
}

/// The `k8s` labels of a pod's identity from its namespace, (key, value)
/// ([`namespace_labels`]).
type NamespaceLabels = Arc<[(String, String)]>;

/// The identity of a pod of `model` whose namespace's labels are `namespace`
/// ([`namespace_labels`]).
fn pod_identity(model: &ClusterModel, pod: usize, namespace: NamespaceLabels) -> Identity {
    let own: Vec<_> = model.pods[pod]
        .labels
        .iter()
        .filter(|(k, _)| identity_label_kept(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Identity {
        reserved: &[],
        own_namespace_key: own.iter().any(|(k, _)| k == NAMESPACE_KEY),
        own,
        namespace: Some(namespace),
        cidr_address: None,
    }
}

fn identity(model: &ClusterModel, e: &Endpoint) -> Identity {
    match e {
        Endpoint::Pod(i) => {
            let namespace = namespace_labels(model, &model.pods[*i].namespace);
            pod_identity(model, *i, namespace)
        }
        Endpoint::External(ip) => {
            // A node is `remote-node`, never `world`, and CIDR rules do not select it
            // (the default `policy-cidr-match-mode`).
            let node = model.nodes.contains(ip);
            let reserved: &'static [&'static str] = match (node, model.api_server.contains(ip)) {
                (false, false) => &["world"],
                (false, true) => &["world", "kube-apiserver"],
                (true, false) => &["remote-node"],
                (true, true) => &["remote-node", "kube-apiserver"],
            };
            Identity {
                reserved,
                own: Vec::new(),
                own_namespace_key: false,
                namespace: None,
                cidr_address: (!node).then_some(*ip),
            }
        }
    }
}

/// The labels a pod's identity has from its namespace `namespace` (the same for every
/// pod there), as (key, value) of source `k8s`: its name, its labels (prefixed) and the
/// cluster's name.
fn namespace_labels(model: &ClusterModel, namespace: &str) -> NamespaceLabels {
    let mut labels = vec![(NAMESPACE_KEY.to_string(), namespace.to_string())];
    for (k, v) in model.namespaces.get(namespace).into_iter().flatten() {
        let key = format!("{NAMESPACE_LABELS_PREFIX}{k}");
        if identity_label_kept(&key) {
            labels.push((key, v.clone()));
        }
    }
    labels.push((CLUSTER_KEY.to_string(), DEFAULT_CLUSTER_NAME.to_string()));
    labels.into()
}

/// Whether a pod's identity takes the label `key` from its namespace
/// ([`namespace_labels`]); a pod label with such a key would come first.
fn from_namespace(key: &str) -> bool {
    key == NAMESPACE_KEY || key == CLUSTER_KEY || key.starts_with(NAMESPACE_LABELS_PREFIX)
}

/// A CIDR with holes.
#[derive(Clone, Debug)]
pub(crate) struct CidrC {
    pub(crate) net: IpNet,
    pub(crate) except: Vec<IpNet>,
}

/// The peer part of a rule.
#[derive(Clone, Debug)]
pub(crate) enum L3 {
    /// No peer field: every peer (when the rule has ports or ICMP types).
    Absent,
    /// Endpoint selectors, already namespace-scoped.
    Selectors(Vec<Arc<Sel>>),
    /// CIDRs (external addresses only).
    Cidrs(Vec<CidrC>),
    /// Entities.
    Entities(Vec<Entity>),
    /// DNS names: their addresses are not part of the model.
    Fqdns,
}

/// One `toPorts` port ([`PortC::new`]).
#[derive(Clone, Debug)]
pub(crate) struct PortC {
    /// `None` is `ANY`.
    pub(crate) protocol: Option<L4Protocol>,
    pub(crate) port: PortValue,
    pub(crate) end: Option<u16>,
    /// The flows' protocols it can match, one bit each ([`protocol_bit`]), told once
    /// from `protocol`: a proof tests each port against a million flows.
    protocols: u8,
    /// The numbers it matches (port 0: all), told once from `port` and `end`; `None`
    /// for a named port.
    range: Option<(u16, u16)>,
}

impl PortC {
    pub(crate) fn new(protocol: Option<L4Protocol>, port: PortValue, end: Option<u16>) -> PortC {
        let tcp = protocol_bit(Protocol::Tcp);
        let udp = protocol_bit(Protocol::Udp);
        let sctp = protocol_bit(Protocol::Sctp);
        let protocols = match protocol {
            None | Some(L4Protocol::Any) => tcp | udp | sctp,
            Some(L4Protocol::Tcp) => tcp,
            Some(L4Protocol::Udp) => udp,
            Some(L4Protocol::Sctp) => sctp,
            Some(L4Protocol::Vrrp | L4Protocol::Igmp) => 0,
        };
        let range = match &port {
            PortValue::Number(0) => Some((0, u16::MAX)),
            PortValue::Number(n) => Some((*n, end.filter(|e| e > n).unwrap_or(*n))),
            PortValue::Name(_) => None,
        };
        PortC {
            protocol,
            port,
            end,
            protocols,
            range,
        }
    }
}

/// A flow's protocol as one bit ([`PortC`]'s `protocols`).
fn protocol_bit(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 1,
        Protocol::Udp => 2,
        Protocol::Sctp => 4,
        Protocol::Icmp => 8,
        Protocol::IcmpV6 => 16,
    }
}

/// One ICMP type of one family; `None` for a symbolic type this evaluator does not map.
#[derive(Clone, Debug)]
pub(crate) struct IcmpC {
    pub(crate) v6: bool,
    pub(crate) icmp_type: Option<u8>,
}

/// One rule item.
#[derive(Clone, Debug)]
pub(crate) struct CRule {
    /// Field path, e.g. `spec.egress[0]`.
    pub(crate) path: String,
    pub(crate) direction: Direction,
    pub(crate) deny: bool,
    pub(crate) l3: L3,
    /// Whether the rule has `toPorts` or `icmps` at all.
    pub(crate) has_l4: bool,
    pub(crate) ports: Vec<PortC>,
    pub(crate) icmps: Vec<IcmpC>,
}

/// A rule (`spec` or a `specs` item, or a converted NetworkPolicy) as the agent holds it.
#[derive(Clone, Debug)]
pub(crate) struct CPolicy {
    /// `Kind namespace/name` or `Kind name`.
    pub(crate) object: String,
    /// Which intent each rule comes from (`netpolc.dev/intent`, `netpolc.dev/rules`).
    pub(crate) intents: RuleIntents,
    /// `None` for node selectors (no node is part of the model).
    pub(crate) subject: Option<Arc<Sel>>,
    /// Default deny requested for ingress, egress.
    pub(crate) default_deny: [bool; 2],
    pub(crate) rules: Vec<CRule>,
}

fn direction_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// A pod's named ports: name → (protocol, port).
type NamedPorts = BTreeMap<String, (Protocol, u16)>;

/// What the ports of a rule read of a flow: its protocol and port, and the named ports
/// of its destination (`None` for an address).
#[derive(Clone, Copy)]
struct L4<'a> {
    protocol: Protocol,
    port: u16,
    named: Option<&'a NamedPorts>,
}

impl<'a> L4<'a> {
    fn of(model: &'a ClusterModel, flow: &Flow) -> L4<'a> {
        L4 {
            protocol: flow.protocol,
            port: flow.port,
            named: match flow.dst {
                Endpoint::Pod(i) => Some(&model.pods[i].named_ports),
                Endpoint::External(_) => None,
            },
        }
    }
}

impl CRule {
    fn matches(&self, other: &Identity, l4: &L4<'_>) -> bool {
        self.l3_matches(other) && (!self.has_l4 || self.l4_matches(l4))
    }

    /// The namespaces a pod must be in for this rule to match it, when every selector
    /// of the rule tests `io.kubernetes.pod.namespace In [...]` (a pod's identity carries
    /// its namespace there): outside these, [`Self::may_match_pod_in`] is `false`.
    /// `None` when the rule does not name them.
    fn pod_namespaces(&self) -> Option<impl Iterator<Item = &str>> {
        let sels: &[Arc<Sel>] = match &self.l3 {
            L3::Selectors(sels) => sels,
            // A pod's identity has no CIDR address.
            L3::Cidrs(_) | L3::Fqdns => &[],
            L3::Absent | L3::Entities(_) => return None,
        };
        fn on_name(sel: &Arc<Sel>) -> Option<&Req> {
            if sel.all {
                return None;
            }
            sel.reqs
                .iter()
                .find(|r| r.key == NAMESPACE_KEY && r.op == SelectorOperator::In)
        }
        // Listed without collecting them: every selector must name its namespaces.
        if !sels.iter().all(|s| on_name(s).is_some()) {
            return None;
        }
        Some(
            sels.iter()
                .filter_map(on_name)
                .flat_map(|r| r.values.iter().map(String::as_str)),
        )
    }

    /// Whether the peer can match some address (whose identity has `reserved` labels
    /// only, and an address for CIDR rules): `false` only where [`Self::l3_matches`] is
    /// `false` for every address.
    fn may_match_address(&self) -> bool {
        match &self.l3 {
            L3::Absent => self.has_l4,
            L3::Selectors(sels) => sels.iter().any(|s| s.may_match_address()),
            L3::Cidrs(_) | L3::Entities(_) => true,
            L3::Fqdns => false,
        }
    }

    /// Whether some pod of the namespace of the pod `id` can match the peer (see
    /// [`Sel::may_match_in`]): `false` only where [`Self::l3_matches`] is `false` for each
    /// of them.
    fn may_match_pod_in(&self, id: &Identity) -> bool {
        match &self.l3 {
            L3::Absent => self.has_l4,
            L3::Selectors(sels) => sels.iter().any(|s| s.may_match_in(id)),
            // A pod's identity has no CIDR address.
            L3::Cidrs(_) | L3::Fqdns => false,
            L3::Entities(_) => true,
        }
    }

    /// Everything but the ports.
    fn l3_matches(&self, other: &Identity) -> bool {
        // `ingress: [{}]`: no peer and no ports allows nothing.
        if matches!(self.l3, L3::Absent) && !self.has_l4 {
            return false;
        }
        match &self.l3 {
            L3::Absent => true,
            L3::Selectors(sels) => sels.iter().any(|s| s.matches(other)),
            L3::Cidrs(cidrs) => other.cidr_address.is_some_and(|ip| {
                cidrs
                    .iter()
                    .any(|c| c.net.contains(&ip) && !c.except.iter().any(|e| e.contains(&ip)))
            }),
            L3::Entities(es) => es.iter().any(|e| entity_matches(*e, other)),
            L3::Fqdns => false,
        }
    }

    /// The samples of `ports` (at most [`SampleBits::MAX`]) that [`Self::l4_matches`]
    /// matches to a destination with the named ports `named`: each port and ICMP type of
    /// the rule one pass over the samples.
    fn l4_mask(&self, ports: &[(Protocol, u16)], named: Option<&NamedPorts>) -> u64 {
        let by_port = self
            .ports
            .iter()
            .map(|p| SampleBits::of(ports, |protocol, port| p.matches(protocol, port, named)));
        let by_icmp = (self.icmps.iter())
            .map(|c| SampleBits::of(ports, |protocol, port| c.matches(protocol, port)));
        by_port.chain(by_icmp).fold(0, |mask, m| mask | m)
    }

    fn l4_matches(&self, flow: &L4<'_>) -> bool {
        let (protocol, port) = (flow.protocol, flow.port);
        self.ports
            .iter()
            .any(|p| p.matches(protocol, port, flow.named))
            || self.icmps.iter().any(|c| c.matches(protocol, port))
    }
}

impl PortC {
    /// Whether it matches `port` of `protocol` to a destination with the named ports
    /// `named`: protocol and numbers as [`PortC::new`] told them (`ANY` is the ported
    /// protocols, port 0 every number, a range its numbers up to an end above its start),
    /// a name by the destination's port of that name, its case ignored.
    fn matches(&self, protocol: Protocol, port: u16, named: Option<&NamedPorts>) -> bool {
        self.protocols & protocol_bit(protocol) != 0
            && match (self.range, &self.port) {
                (Some((start, end)), _) => (start..=end).contains(&port),
                (None, PortValue::Name(name)) => {
                    named.and_then(|named| {
                        named
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .map(|(_, v)| *v)
                    }) == Some((protocol, port))
                }
                (None, PortValue::Number(_)) => false,
            }
    }
}

impl IcmpC {
    /// Whether it matches ICMP type `port` of `protocol` (its own family only).
    fn matches(&self, protocol: Protocol, port: u16) -> bool {
        let family_ok = match protocol {
            Protocol::Icmp => !self.v6,
            Protocol::IcmpV6 => self.v6,
            _ => false,
        };
        family_ok && self.icmp_type.is_some_and(|t| u16::from(t) == port)
    }
}

fn entity_matches(e: Entity, id: &Identity) -> bool {
    match e {
        Entity::All => true,
        Entity::World => ["world", "world-ipv4", "world-ipv6"]
            .iter()
            .any(|n| id.reserved(n)),
        Entity::Cluster => {
            [
                "host",
                "remote-node",
                "init",
                "ingress",
                "health",
                "unmanaged",
                "kube-apiserver",
            ]
            .iter()
            .any(|n| id.reserved(n))
                || id.get(SOURCE_K8S, CLUSTER_KEY) == Some(DEFAULT_CLUSTER_NAME)
        }
        Entity::None => false,
        other => id.reserved(other.as_str()),
    }
}

/// The evaluator over normalised policies.
#[derive(Debug)]
struct CiliumEvaluator {
    /// Every pod's view, for the proof.
    /// The views of the pods of the model the proof asks about ([`PodView`]).
    views: PodCache<PodView>,
    policies: Vec<CPolicy>,
    /// Indices (ascending) of the policies whose subject fixes one namespace.
    by_namespace: BTreeMap<String, Vec<usize>>,
    /// Indices of the policies that may select pods of any namespace.
    anywhere: Vec<usize>,
}

/// What the evaluator keeps of a pod of the model the proof asks about, shared by the
/// pods of one namespace with the same labels ([`CiliumEvaluator::fill`]): nothing here
/// reads more of a pod.
#[derive(Debug)]
struct PodView {
    identity: Identity,
    /// Whether the pod has a label of its own under a key its namespace gives
    /// ([`from_namespace`]).
    own_namespace_key: bool,
    /// The positions of the policies whose subject selects the pod, in order
    /// ([`CiliumEvaluator::select`]), selected the first time they are asked for: the
    /// proof reads a side's key, its mentions and its prepared side (in both
    /// directions) off one selection.
    applicable: OnceLock<Vec<usize>>,
}

impl PodView {
    fn new(model: &ClusterModel, pod: usize, identity: Identity) -> PodView {
        PodView {
            identity,
            own_namespace_key: model.pods[pod].labels.keys().any(|k| from_namespace(k)),
            applicable: OnceLock::new(),
        }
    }
}

impl CPolicy {
    /// The one namespace whose pods the subject can select, if it fixes one.
    fn only_namespace(&self) -> Option<&str> {
        let subject = self.subject.as_ref()?;
        if subject.all {
            return None;
        }
        subject.reqs.iter().find_map(|r| {
            (r.key == NAMESPACE_KEY
                && (r.source == SOURCE_K8S || r.source == SOURCE_ANY)
                && r.op == SelectorOperator::In
                && r.values.len() == 1)
                .then(|| r.values[0].as_str())
        })
    }
}

impl CiliumEvaluator {
    fn new(policies: Vec<CPolicy>) -> CiliumEvaluator {
        let mut by_namespace: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut anywhere = Vec::new();
        for (i, p) in policies.iter().enumerate() {
            match p.only_namespace() {
                // The name copied once per namespace, not once per policy.
                Some(ns) => match by_namespace.get_mut(ns) {
                    Some(at) => at.push(i),
                    None => {
                        by_namespace.insert(ns.to_string(), vec![i]);
                    }
                },
                None => anywhere.push(i),
            }
        }
        CiliumEvaluator {
            views: PodCache::default(),
            policies,
            by_namespace,
            anywhere,
        }
    }

    /// `f` of the view of pod `pod` of `model`, taken from the cache (filled first).
    fn with_view<R>(&self, model: &ClusterModel, pod: usize, f: impl FnOnce(&PodView) -> R) -> R {
        self.fill(model);
        self.views.with(model, |cached| match cached {
            Some(views) => f(&views[pod]),
            // Another model's views were cached meanwhile.
            None => f(&PodView::new(
                model,
                pod,
                identity(model, &Endpoint::Pod(pod)),
            )),
        })
    }

    /// Fills the cache with the views of `model`'s pods unless it holds them already:
    /// one view for the pods of one namespace with the same labels ([`PodCache`]), the
    /// labels from a namespace built once for its pods.
    fn fill(&self, model: &ClusterModel) {
        // Filled under the cache's lock, on every core.
        let namespaces: std::sync::Mutex<HashMap<&str, NamespaceLabels>> = Default::default();
        self.views.fill(model, |_, i| {
            let at = model.pods[i].namespace.as_str();
            let labels = Arc::clone(
                namespaces
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(at)
                    .or_insert_with(|| namespace_labels(model, at)),
            );
            PodView::new(model, i, pod_identity(model, i, labels))
        });
    }

    /// The positions of the policies whose subject selects the pod `pod` of `model`
    /// (whose view is `view`), in order: selected once per view.
    fn applicable_of<'v>(
        &self,
        model: &ClusterModel,
        pod: usize,
        view: &'v PodView,
    ) -> &'v [usize] {
        view.applicable
            .get_or_init(|| self.select(&model.pods[pod].namespace, &view.identity))
    }

    /// The positions of the policies whose subject selects the endpoint `me` of
    /// `namespace`, in order: what its sides are made of (one selection for every
    /// reading of a side, for its mentions and for its key).
    fn select(&self, namespace: &str, me: &Identity) -> Vec<usize> {
        // The policies that may select a pod of `namespace`, in their original order.
        let mut all: Vec<usize> = self
            .by_namespace
            .get(namespace)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .to_vec();
        all.extend(&self.anywhere);
        all.sort_unstable();
        // The policies of a namespace share subjects (interned: a group's ingress and
        // egress policies select alike): each is tested once.
        let mut tested: Vec<(*const Sel, bool)> = Vec::new();
        all.retain(|&i| {
            let Some(s) = &self.policies[i].subject else {
                return false;
            };
            let at = Arc::as_ptr(s);
            if let Some(&(_, m)) = tested.iter().find(|(t, _)| *t == at) {
                return m;
            }
            let m = s.matches(me);
            tested.push((at, m));
            m
        });
        all
    }

    fn side(&self, model: &ClusterModel, flow: &Flow, direction: Direction) -> Side {
        let (me, other) = match direction {
            Direction::Egress => (flow.src, flow.dst),
            Direction::Ingress => (flow.dst, flow.src),
        };
        if !me.is_pod() {
            return Side::NotApplicable;
        }
        let me = identity(model, &me);
        let other = identity(model, &other);
        let l4 = L4::of(model, flow);
        let Endpoint::Pod(index) = flow_side(flow, direction) else {
            return Side::NotApplicable;
        };
        let applicable: Vec<&CPolicy> = self
            .select(&model.pods[index].namespace, &me)
            .into_iter()
            .map(|i| &self.policies[i])
            .collect();
        let decide = |deny: bool| {
            applicable.iter().find_map(|p| {
                p.rules
                    .iter()
                    .find(|r| r.direction == direction && r.deny == deny && r.matches(&other, &l4))
                    .map(|r| Decision {
                        object: p.object.clone(),
                        rule: r.path.clone(),
                        intent: p.intents.intent(&r.path),
                    })
            })
        };
        if let Some(d) = decide(true) {
            return Side::Denied(d);
        }
        let mut isolating: Vec<String> = Vec::new();
        for p in &applicable {
            if p.default_deny[direction_index(direction)] && !isolating.contains(&p.object) {
                isolating.push(p.object.clone());
            }
        }
        if isolating.is_empty() {
            return Side::Open;
        }
        match decide(false) {
            Some(d) => Side::Allowed(d),
            None => Side::DefaultDeny(isolating),
        }
    }
}

impl Evaluator for CiliumEvaluator {
    fn name(&self) -> &'static str {
        "cilium"
    }

    fn side(&self, model: &ClusterModel, flow: &Flow, direction: Direction) -> Side {
        CiliumEvaluator::side(self, model, flow, direction)
    }

    fn prepare_side<'a>(
        &'a self,
        model: &'a ClusterModel,
        _numbering: &'a Numbering,
        me: usize,
        direction: Direction,
    ) -> PreparedSide<'a> {
        let (isolated, rules) = self.with_view(model, me, |view| {
            let applicable = self.applicable_of(model, me, view);
            let policies = applicable.iter().map(|&i| &self.policies[i]);
            let isolated = policies
                .clone()
                .any(|p| p.default_deny[direction_index(direction)]);
            let rules: Vec<&'a CRule> = policies
                .flat_map(|p| p.rules.iter())
                .filter(|r| r.direction == direction)
                .collect();
            (isolated, rules)
        });
        // Rules whose every selector names the namespaces it is in, listed under those
        // names; built for the second namespace asked about (a follower's side, in the
        // proof, is asked about one end).
        let index: OnceCell<NearIndex<'a>> = OnceCell::new();
        let asked = Cell::new(false);
        // The rules whose peer can match a pod of the other end's namespace.
        let near = RefCell::new(NamespaceMemo::default());
        // The rules whose peer can match an address, listed when first asked for.
        let near_addresses: OnceCell<Vec<&'a CRule>> = OnceCell::new();
        // The rules matching the other end, in a buffer kept from call to call.
        let matching = RefCell::new(Vec::new());
        // The views of the other ends (filled by `with_view`), held by the side.
        let views = self.views.held(model);
        Box::new(move |other_end, ports, out| {
            // The destination's named ports (`None` for an address).
            let named = match (direction, other_end) {
                (Direction::Ingress, _) => Some(&model.pods[me].named_ports),
                (Direction::Egress, Endpoint::Pod(i)) => Some(&model.pods[i].named_ports),
                (Direction::Egress, Endpoint::External(_)) => None,
            };
            {
                let cached = views.as_deref().map(Held::values);
                let owned;
                let (other, own_namespace_key): (&Identity, bool) = match (other_end, cached) {
                    (Endpoint::Pod(i), Some(views)) => {
                        (&views[i].identity, views[i].own_namespace_key)
                    }
                    (Endpoint::Pod(i), None) => {
                        owned = identity(model, &other_end);
                        let own = model.pods[i].labels.keys().any(|k| from_namespace(k));
                        (&owned, own)
                    }
                    (Endpoint::External(_), _) => {
                        owned = identity(model, &other_end);
                        (&owned, false)
                    }
                };
                let mut near = near.borrow_mut();
                let candidates: &[&CRule] = match other_end {
                    Endpoint::External(_) => near_addresses.get_or_init(|| {
                        rules
                            .iter()
                            .copied()
                            .filter(|r| r.may_match_address())
                            .collect()
                    }),
                    // A pod with a label of its own under a key its namespace gives is
                    // tested against every rule.
                    Endpoint::Pod(_) if own_namespace_key => &rules,
                    // The other end's labels from its namespace are those of every pod
                    // there (its own labels take none of those keys).
                    Endpoint::Pod(_) => {
                        near.for_end(model, &other_end, |at, kept: &mut Vec<&CRule>| {
                            let may = |r: &&CRule| r.may_match_pod_in(other);
                            if index.get().is_none() && !asked.replace(true) {
                                // What the index keeps, without building it.
                                kept.clear();
                                kept.extend(rules.iter().copied().filter(may));
                                return;
                            }
                            let index = index.get_or_init(|| {
                                NearIndex::new(rules.len(), |i| {
                                    let rule: &'a CRule = rules[i];
                                    rule.pod_namespaces()
                                })
                            });
                            // The identity's namespace label is the pod's namespace; the
                            // list of the last namespace refilled, its room kept.
                            index.keep_into(&rules, at, may, kept);
                        })
                    }
                };
                let mut matching = matching.borrow_mut();
                matching.clear();
                matching.extend(candidates.iter().copied().filter(|r| r.l3_matches(other)));
                let matching: &[&CRule] = &matching;
                debug_assert_eq!(
                    matching
                        .iter()
                        .map(|r| std::ptr::from_ref(*r) as usize)
                        .collect::<Vec<_>>(),
                    rules
                        .iter()
                        .filter(|r| r.l3_matches(other))
                        .map(|r| std::ptr::from_ref(*r) as usize)
                        .collect::<Vec<_>>()
                );
                if matching.is_empty() {
                    // No deny, no allow: the side is what isolation makes it.
                    out.extend(std::iter::repeat_n(!isolated, ports.len()));
                    return;
                }
                let sample = |protocol: Protocol, port: u16| {
                    let l4 = L4 {
                        protocol,
                        port,
                        named,
                    };
                    let hit = |deny: bool| {
                        matching
                            .iter()
                            .any(|r| r.deny == deny && (!r.has_l4 || r.l4_matches(&l4)))
                    };
                    !hit(true) && (!isolated || hit(false))
                };
                if ports.len() > SampleBits::MAX {
                    out.extend(ports.iter().map(|&(protocol, port)| sample(protocol, port)));
                    return;
                }
                // Rule by rule, each port of a rule one pass over the samples.
                let all = SampleBits::all(ports.len());
                let (mut denied, mut allowed) = (0, 0);
                for r in matching {
                    let m = if r.has_l4 {
                        r.l4_mask(ports, named)
                    } else {
                        all
                    };
                    if r.deny {
                        denied |= m;
                    } else {
                        allowed |= m;
                    }
                }
                let bits = all & !denied & if isolated { allowed } else { all };
                debug_assert!(ports
                    .iter()
                    .enumerate()
                    .all(|(k, &(protocol, port))| (bits >> k & 1 == 1) == sample(protocol, port)));
                SampleBits::push(bits, ports.len(), out);
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
        self.with_view(model, pod, |view| {
            let applicable = self.applicable_of(model, pod, view);
            let rules = applicable
                .iter()
                .flat_map(|&i| self.policies[i].rules.iter())
                .filter(|r| r.direction == direction);
            // A selector shared by rules of the side (they are interned) mentions the
            // same each time: it is read once.
            let mut read: Vec<*const Sel> = Vec::new();
            for r in rules {
                rule_mentions(r, &mut read, m);
            }
        });
    }

    /// The policies whose subject selects the pod, in order (their rules and default
    /// deny with them; named ports are the pod's): all that [`Evaluator::prepare_side`]
    /// reads of it.
    fn side_key(&self, model: &ClusterModel, me: usize, direction: Direction) -> Option<SideKey> {
        let _ = direction;
        Some(self.with_view(model, me, |view| {
            self.applicable_of(model, me, view).to_vec()
        }))
    }
}

/// The namespaces the pods `sel` matches can be in, when it names them: `name_scope` of
/// its tests on the namespace.
fn scope(sel: &Sel) -> Option<netpolc_ir::sorted::SortedSet<&str>> {
    name_scope(sel.reqs.iter().map(|r| {
        (
            r.key == NAMESPACE_KEY && r.op == SelectorOperator::In,
            netpolc_ir::Op::In,
            &r.values,
        )
    }))
}

/// Adds what one rule of a side can tell apart ([`Evaluator::mentions_into`]), but for
/// its selectors in `read` (read already for this side; those it reads are added).
fn rule_mentions<'a, S: MentionText<'a>>(
    r: &'a CRule,
    read: &mut Vec<*const Sel>,
    m: &mut Mentions<S>,
) {
    use netpolc_ir::Op;
    match &r.l3 {
        L3::Selectors(sels) => {
            let op = |req: &Req| match req.op {
                SelectorOperator::In => Op::In,
                SelectorOperator::NotIn => Op::NotIn,
                SelectorOperator::Exists => Op::Exists,
                SelectorOperator::DoesNotExist => Op::DoesNotExist,
            };
            for sel in sels {
                if read.contains(&Arc::as_ptr(sel)) {
                    continue;
                }
                read.push(Arc::as_ptr(sel));
                // The namespaces the selector can match, when it names them.
                let scope = (!sel.all).then(|| scope(sel)).flatten();
                for req in &sel.reqs {
                    let op = op(req);
                    if req.key == NAMESPACE_KEY {
                        if matches!(op, Op::In | Op::NotIn) {
                            req.values.iter().for_each(|n| m.add_namespace(n));
                        }
                    } else if let Some(k) = req.key.strip_prefix(NAMESPACE_LABELS_PREFIX) {
                        m.add_namespace_label_test(k, op, req.values.iter());
                    } else if req.key != CLUSTER_KEY {
                        let scope = scope.as_ref().map(|s| s.iter().copied());
                        m.add_pod_label_test_in(scope, &req.key, op, req.values.iter());
                    }
                }
            }
        }
        L3::Cidrs(cidrs) => {
            for c in cidrs {
                m.nets.insert(c.net);
                m.nets.extend(c.except.iter().copied());
            }
        }
        L3::Absent | L3::Entities(_) | L3::Fqdns => {}
    }
    for p in &r.ports {
        let protocols: &[Protocol] = match p.protocol {
            Some(L4Protocol::Tcp) => &[Protocol::Tcp],
            Some(L4Protocol::Udp) => &[Protocol::Udp],
            Some(L4Protocol::Sctp) => &[Protocol::Sctp],
            Some(L4Protocol::Vrrp | L4Protocol::Igmp) => &[],
            None | Some(L4Protocol::Any) => &Protocol::PORTED,
        };
        match &p.port {
            PortValue::Number(0) => {}
            PortValue::Number(n) => {
                let end = p.end.filter(|e| e > n).unwrap_or(*n);
                for proto in protocols {
                    m.add_range(*proto, *n, end);
                }
            }
            PortValue::Name(_) => m.named_ports = true,
        }
    }
}

/// The endpoint whose side `direction` is: the source for egress, the destination for
/// ingress.
fn flow_side(flow: &Flow, direction: Direction) -> Endpoint {
    match direction {
        Direction::Egress => flow.src,
        Direction::Ingress => flow.dst,
    }
}

/// The parts of a rule item every section shares.
struct RawItem<'a> {
    endpoints: &'a [EndpointSelector],
    cidr: &'a [String],
    cidr_set: &'a [CidrRule],
    entities: &'a [Entity],
    fqdns: bool,
    ports: Vec<&'a [PortProtocol]>,
    icmps: &'a [IcmpRule],
}

impl<'a> From<&'a types::IngressRule> for RawItem<'a> {
    fn from(it: &'a types::IngressRule) -> Self {
        RawItem {
            endpoints: &it.from_endpoints,
            cidr: &it.from_cidr,
            cidr_set: &it.from_cidr_set,
            entities: &it.from_entities,
            fqdns: false,
            ports: it.to_ports.iter().map(|p| p.ports.as_slice()).collect(),
            icmps: &it.icmps,
        }
    }
}

impl<'a> From<&'a types::IngressDenyRule> for RawItem<'a> {
    fn from(it: &'a types::IngressDenyRule) -> Self {
        RawItem {
            endpoints: &it.from_endpoints,
            cidr: &it.from_cidr,
            cidr_set: &it.from_cidr_set,
            entities: &it.from_entities,
            fqdns: false,
            ports: it.to_ports.iter().map(|p| p.ports.as_slice()).collect(),
            icmps: &it.icmps,
        }
    }
}

impl<'a> From<&'a types::EgressRule> for RawItem<'a> {
    fn from(it: &'a types::EgressRule) -> Self {
        RawItem {
            endpoints: &it.to_endpoints,
            cidr: &it.to_cidr,
            cidr_set: &it.to_cidr_set,
            entities: &it.to_entities,
            fqdns: !it.to_fqdns.is_empty(),
            ports: it.to_ports.iter().map(|p| p.ports.as_slice()).collect(),
            icmps: &it.icmps,
        }
    }
}

impl<'a> From<&'a types::EgressDenyRule> for RawItem<'a> {
    fn from(it: &'a types::EgressDenyRule) -> Self {
        RawItem {
            endpoints: &it.to_endpoints,
            cidr: &it.to_cidr,
            cidr_set: &it.to_cidr_set,
            entities: &it.to_entities,
            fqdns: false,
            ports: it.to_ports.iter().map(|p| p.ports.as_slice()).collect(),
            icmps: &it.icmps,
        }
    }
}

/// The rule items of one section.
fn raws<'a, T>(items: &'a [T]) -> Vec<RawItem<'a>>
where
    RawItem<'a>: From<&'a T>,
{
    items.iter().map(RawItem::from).collect()
}

/// How to scope the peers of one imported rule.
#[derive(Clone, Copy)]
pub(crate) struct Scoping<'a> {
    pub(crate) namespace: Option<&'a str>,
    pub(crate) subject_matches_init: bool,
}

impl<'a> Scoping<'a> {
    /// The scoping of the rules of a policy in `namespace` (none for a clusterwide
    /// policy) whose subject is `subject` (already [`Sel::scoped_to`] the namespace).
    pub(crate) fn of(namespace: Option<&'a str>, subject: Option<&Sel>) -> Scoping<'a> {
        Scoping {
            namespace,
            subject_matches_init: subject.is_some_and(|s| s.has_key(SOURCE_RESERVED, "init")),
        }
    }
}

fn convert_item(
    raw: RawItem<'_>,
    scoping: Scoping<'_>,
    path: String,
    direction: Direction,
    deny: bool,
    selectors: &Selectors,
) -> CRule {
    let l3 = if !raw.endpoints.is_empty() {
        L3::Selectors(
            raw.endpoints
                .iter()
                .map(|es| {
                    selectors.intern(scope_peer(
                        Sel::parse(es),
                        scoping.namespace,
                        scoping.subject_matches_init,
                    ))
                })
                .collect(),
        )
    } else if !raw.cidr.is_empty() || !raw.cidr_set.is_empty() {
        cidrs(raw.cidr.iter().map(String::as_str), raw.cidr_set)
    } else if !raw.entities.is_empty() {
        L3::Entities(raw.entities.to_vec())
    } else if raw.fqdns {
        L3::Fqdns
    } else {
        L3::Absent
    };
    let has_l4 = !raw.ports.is_empty() || !raw.icmps.is_empty();
    CRule {
        path,
        direction,
        deny,
        l3,
        has_l4,
        ports: raw
            .ports
            .iter()
            .flat_map(|ps| ps.iter())
            .filter_map(port)
            .collect(),
        icmps: raw.icmps.iter().flat_map(|r| &r.fields).map(icmp).collect(),
    }
}

/// The peer of a rule item's `toCIDR`/`fromCIDR` blocks and `toCIDRSet`/`fromCIDRSet`
/// rules (a block the agent cannot parse matches nothing).
pub(crate) fn cidrs<'c>(cidr: impl Iterator<Item = &'c str>, cidr_set: &[CidrRule]) -> L3 {
    let plain = cidr.filter_map(parse_cidr_or_ip).map(|net| CidrC {
        net,
        except: Vec::new(),
    });
    L3::Cidrs(plain.chain(cidr_set.iter().filter_map(cidr_rule)).collect())
}

pub(crate) fn cidr_rule(c: &CidrRule) -> Option<CidrC> {
    Some(CidrC {
        net: parse_cidr_or_ip(&c.cidr)?,
        except: c
            .except
            .iter()
            .filter_map(|e| parse_cidr_or_ip(e))
            .collect(),
    })
}

fn port(p: &PortProtocol) -> Option<PortC> {
    port_of(&p.port, p.end_port, p.protocol)
}

/// A `toPorts` port as the agent holds it; `None` (left out) when the port reads as
/// neither a number nor a name.
pub(crate) fn port_of(
    port: &str,
    end_port: Option<i32>,
    protocol: Option<L4Protocol>,
) -> Option<PortC> {
    Some(PortC::new(
        protocol,
        parse_port(port).ok()?,
        end_port.and_then(|e| u16::try_from(e).ok()),
    ))
}

pub(crate) fn icmp(f: &types::IcmpField) -> IcmpC {
    IcmpC {
        v6: f.family == Some(IcmpFamily::IPv6),
        icmp_type: match f.icmp_type {
            IcmpType::Number(n) => Some(n),
            IcmpType::Name(_) => None,
        },
    }
}

/// `{base}.{field}[{j}]`, the path of a rule item (`spec.egress[0]`), written without
/// the formatting machinery: one for each of tens of thousands of items.
pub(crate) fn item_path(base: &str, field: &str, j: usize) -> String {
    let mut path = String::with_capacity(base.len() + field.len() + 23);
    path.push_str(base);
    path.push('.');
    path.push_str(field);
    path.push('[');
    netpolc_ir::yaml::push_decimal(&mut path, j as u64);
    path.push(']');
    path
}

pub(crate) fn from_cilium(p: &CiliumPolicy, selectors: &Selectors) -> Vec<CPolicy> {
    let namespaced = p.kind == types::KIND_CNP;
    let namespace = namespaced.then(|| p.metadata.namespace.as_deref().unwrap_or("default"));
    let object = match namespace {
        Some(ns) => format!("{} {ns}/{}", p.kind, p.metadata.name),
        None => format!("{} {}", p.kind, p.metadata.name),
    };
    let intents = RuleIntents::from_annotations(&p.metadata.annotations);
    let mut rules: Vec<(String, &types::Rule)> = Vec::new();
    if let Some(spec) = &p.spec {
        rules.push(("spec".to_string(), spec));
    }
    for (i, spec) in p.specs.iter().flatten().enumerate() {
        rules.push((format!("specs[{i}]"), spec));
    }
    // The last rule takes the name and intents, the others a copy (nearly always there
    // is one rule).
    let last = rules.len().saturating_sub(1);
    let mut object = Some(object);
    let mut intents = Some(intents);
    rules
        .into_iter()
        .enumerate()
        .map(|(k, (base, r))| {
            let subject = r
                .endpoint_selector
                .as_ref()
                .map(|es| Sel::parse(es).scoped_to(namespace));
            let scoping = Scoping::of(namespace, subject.as_ref());
            let ingress = r.ingress.as_deref().unwrap_or_default();
            let ingress_deny = r.ingress_deny.as_deref().unwrap_or_default();
            let egress = r.egress.as_deref().unwrap_or_default();
            let egress_deny = r.egress_deny.as_deref().unwrap_or_default();
            let dd = r.enable_default_deny.unwrap_or_default();
            // An unset direction defaults to "this rule has rules for it".
            let default_deny = [
                dd.ingress
                    .unwrap_or(!ingress.is_empty() || !ingress_deny.is_empty()),
                dd.egress
                    .unwrap_or(!egress.is_empty() || !egress_deny.is_empty()),
            ];
            let mut out = Vec::new();
            let mut section = |field: &str, raws: Vec<RawItem<'_>>, direction, deny| {
                for (j, raw) in raws.into_iter().enumerate() {
                    let path = item_path(&base, field, j);
                    out.push(convert_item(raw, scoping, path, direction, deny, selectors));
                }
            };
            section("ingress", raws(ingress), Direction::Ingress, false);
            section("ingressDeny", raws(ingress_deny), Direction::Ingress, true);
            section("egress", raws(egress), Direction::Egress, false);
            section("egressDeny", raws(egress_deny), Direction::Egress, true);
            // Kept for the whole proof: no room beyond the rules.
            out.shrink_to_fit();
            let (object, intents) = if k == last {
                (object.take(), intents.take())
            } else {
                (object.clone(), intents.clone())
            };
            CPolicy {
                object: object.unwrap_or_default(),
                intents: intents.unwrap_or_default(),
                subject: subject.map(|s| selectors.intern(s)),
                default_deny,
                rules: out,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The reader places an object (read as a document) where the back end's
    /// `is_prerequisite` and `home_namespace` (of its tree) place it.
    #[test]
    fn the_reader_places_objects_as_the_back_end_does() {
        use netpolc_ir::backend::{Backend as _, Reader as _};
        let reader = ValidReader::default();
        let mut clusterwide = cnp("shop", "p", "web");
        clusterwide["kind"] = json!(types::KIND_CCNP);
        clusterwide["metadata"]
            .as_object_mut()
            .map(|m| m.remove("namespace"));
        for o in [cnp("shop", "p", "web"), clusterwide, json!({"kind": "x"})] {
            let backend = crate::Cilium;
            let expected = (backend.is_prerequisite(&o), backend.home_namespace(&o));
            assert_eq!(reader.placement(&Doc::of_value(&o)), Some(expected), "{o}");
        }
    }

    fn cnp(namespace: &str, name: &str, peer: &str) -> Value {
        json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "endpointSelector": {"matchLabels": {"app": "web"}},
                "ingress": [{"fromEndpoints": [{"matchLabels": {"app": peer}}]}]
            }
        })
    }

    /// The subject and the first peer of each policy read.
    fn selectors(objects: &[Value]) -> Vec<[Arc<Sel>; 2]> {
        let reader = Selectors::default();
        objects
            .iter()
            .enumerate()
            .flat_map(|(i, o)| read_object(i, o, false, &reader).expect("reads"))
            .map(|p| {
                let peer = match &p.rules[0].l3 {
                    L3::Selectors(s) => Arc::clone(&s[0]),
                    other => panic!("unexpected peers {other:?}"),
                };
                [Arc::clone(p.subject.as_ref().expect("a subject")), peer]
            })
            .collect()
    }

    #[test]
    fn item_paths_are_written_as_formatted() {
        for (base, field, j) in [
            ("spec", "ingress", 0),
            ("specs[3]", "egressDeny", 10),
            ("spec", "egress", 255),
            ("spec", "ingressDeny", usize::MAX),
        ] {
            assert_eq!(item_path(base, field, j), format!("{base}.{field}[{j}]"));
        }
    }

    #[test]
    fn a_selector_read_twice_is_kept_once() {
        let s = selectors(&[
            cnp("shop", "a", "api"),
            cnp("shop", "b", "api"),
            cnp("bank", "c", "api"),
        ]);
        // Scoped to their namespace: one subject and one peer for the two in `shop`.
        assert!(Arc::ptr_eq(&s[0][0], &s[1][0]));
        assert!(Arc::ptr_eq(&s[0][1], &s[1][1]));
        // Another namespace is another selector.
        assert!(!Arc::ptr_eq(&s[0][1], &s[2][1]));
        assert_ne!(s[0][1], s[2][1]);
        // The shared selector still holds the namespace it was scoped to.
        assert!(s[0][1].has_key(SOURCE_K8S, NAMESPACE_KEY));
    }
}
