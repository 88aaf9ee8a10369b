//! Rendering an allow-only [`Program`] into typed `k8s_openapi` NetworkPolicies, each
//! validated and packed ([`Packed`]) as soon as it is built.
//!
//! Layout (see `docs/backend-conventions.md`):
//! - one isolation object per (namespace, intent set isolation): `podSelector: {}`,
//!   `policyTypes` = the isolated directions, no rules;
//! - one object per (namespace, object set, direction, subject selector), merging the
//!   allows of every intent with that subject: one NetworkPolicy rule per IR rule,
//!   grouped by intent (the object set's intents first, then other sets', each in name
//!   order; rules in IR order), with the provenance annotations of
//!   [`netpolc_ir::provenance`]. The object set is the namespace's own IntentSet, which
//!   also takes the rules other sets write in its namespace ([`Program::object_set`]);
//!   `Scope::Cluster` subjects keep their ClusterIntentSet's objects, one per namespace
//!   in scope.
//!
//! Rendering is *fail closed*: a construct the back end cannot express (reported by
//! [`crate::check`]) is left out, which only ever removes allows, never adds them.

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netpolc_ir::backend::Form;
use netpolc_ir::provenance::{
    numbered_object_name, split_at_intents, subject_words, Provenance, MAX_OBJECT_RULES,
};
use netpolc_ir::{
    CidrBlock, Direction, Entity, IntentKey, Op, Origin, Peer, PortSpec, Ports, Program, Rule,
    Scope,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub(crate) use netpolc_ir::metadata::INTENT_ANNOTATION;
use netpolc_ir::metadata::{MANAGED_BY, MANAGED_BY_LABEL, SOURCE_ANNOTATION};
pub(crate) use netpolc_ir::provenance::RULES_ANNOTATION;

/// One rendered object with what it came from.
#[derive(Clone, Debug)]
pub(crate) struct Rendered {
    /// `metadata.namespace`.
    pub(crate) namespace: String,
    /// `metadata.name`.
    pub(crate) name: String,
    /// The intent (or isolation) it implements; its span is the first one seen.
    pub(crate) origin: Origin,
    /// The object, packed.
    pub(crate) object: Packed,
    /// What the API server's validation would refuse in it ([`crate::validate::policy`]),
    /// found while the typed object was at hand.
    pub(crate) problems: Vec<String>,
}

impl Rendered {
    /// The rendered `policy`, validated and packed.
    fn new(
        namespace: String,
        name: String,
        origin: Origin,
        policy: &NetworkPolicy,
        form: Form,
    ) -> Rendered {
        Rendered {
            namespace,
            name,
            origin,
            problems: crate::validate::policy(policy),
            object: Packed::new(policy, form),
        }
    }
}

/// What identifies an intent for grouping: its origin without the span (file, set,
/// intent, preset), borrowed.
type OriginRef<'p> = (&'p str, &'p str, &'p str, Option<&'p str>);

/// The [`OriginRef`] of `origin`.
fn origin_ref(origin: &Origin) -> OriginRef<'_> {
    (
        &origin.file,
        &origin.set,
        &origin.intent,
        origin.preset.as_deref(),
    )
}

/// One NetworkPolicy rule, direction-neutral until it is placed in an object.
#[derive(Clone, Debug)]
struct K8sRule {
    peers: Option<Vec<NetworkPolicyPeer>>,
    ports: Option<Vec<NetworkPolicyPort>>,
}

/// Renders every object of an allow-only program, sorted by (namespace, name).
/// Deny rules, if any are left, are ignored (the caller lowers the program first).
pub(crate) fn objects(program: &Program, form: Form) -> Vec<Rendered> {
    let mut out = isolation_objects(program, form);
    out.extend(rule_objects(program, form));
    // By (namespace, name), ties in order: sorted on every core, each object moved once.
    let order = netpolc_ir::par::order(
        netpolc_ir::par::threads(),
        out.iter().map(|r| (r.namespace.as_str(), r.name.as_str())),
    );
    netpolc_ir::par::permute(&mut out, &order);
    out
}

fn isolation_objects(program: &Program, form: Form) -> Vec<Rendered> {
    // (namespace, origin key) → (origin with span, directions)
    let mut groups: BTreeMap<(&str, OriginRef<'_>), (&Origin, BTreeSet<Direction>)> =
        BTreeMap::new();
    for iso in &program.isolations {
        for ns in iso.scope.namespaces() {
            // The meaning follows the namespace's isolation flags: never isolate a side the
            // program leaves open.
            if !program.is_isolated(ns, iso.direction) {
                continue;
            }
            groups
                .entry((ns, origin_ref(&iso.origin)))
                .or_insert_with(|| (&iso.origin, BTreeSet::new()))
                .1
                .insert(iso.direction);
        }
    }
    groups
        .into_iter()
        .map(|((namespace, _), (origin, directions))| {
            let name = netpolc_ir::naming::object_name(&origin.set, &["isolate"], 63);
            let spec = NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(directions.iter().map(|d| d.as_str().to_string()).collect()),
                ingress: None,
                egress: None,
            };
            let policy = policy(namespace, &name, origin, origin.qualified(), spec);
            Rendered::new(namespace.to_string(), name, origin.clone(), &policy, form)
        })
        .collect()
}

/// Rules of one object: (namespace, object set's file, object set, direction) → subject
/// selector → intent ([`IntentKey`]: the object set's intents first) → (origin with span,
/// rules). The object set is the namespace's own ([`Program::object_set`]), or a cluster
/// set's. Only references: each
/// group's typed rules are made when the group is rendered, so that the typed rules of
/// the whole program are never held at once.
type RuleGroups<'p> = BTreeMap<
    (&'p str, &'p str, &'p str, Direction),
    BTreeMap<&'p netpolc_ir::LabelSelector, BTreeMap<IntentKey<'p>, (&'p Origin, Vec<&'p Rule>)>>,
>;

/// The rules of consecutive allows with one group key and subject selector, by intent
/// (as in [`RuleGroups`]), put in the groups at once.
struct Run<'p> {
    key: (&'p str, &'p str, &'p str, Direction),
    selector: &'p netpolc_ir::LabelSelector,
    by_intent: BTreeMap<IntentKey<'p>, (&'p Origin, Vec<&'p Rule>)>,
}

impl<'p> Run<'p> {
    /// Adds the run's rules to `groups`, after those of its keys there already (as
    /// adding each rule in turn would).
    fn add_to(self, groups: &mut RuleGroups<'p>) {
        let by_intent = groups
            .entry(self.key)
            .or_default()
            .entry(self.selector)
            .or_default();
        if by_intent.is_empty() {
            *by_intent = self.by_intent;
            return;
        }
        for (intent, (origin, rules)) in self.by_intent {
            by_intent
                .entry(intent)
                .or_insert_with(|| (origin, Vec::new()))
                .1
                .extend(rules);
        }
    }
}

/// Whether two subject selectors are equal: at once for one shared copy.
fn same_selector(a: &netpolc_ir::LabelSelector, b: &netpolc_ir::LabelSelector) -> bool {
    a.shared_address() == b.shared_address() || a == b
}

/// One intent's typed rules in one object, with its origin.
type IntentRules<'p> = (&'p Origin, Vec<K8sRule>);

fn rule_objects(program: &Program, form: Form) -> Vec<Rendered> {
    // Grouped on every core: each thread takes the namespaces of its share (by a hash of
    // the name) and the rules in order, so a group is the same whichever thread made it;
    // the groups of all shares are then put in key order.
    let groups = netpolc_ir::par::by_share(netpolc_ir::par::threads(), |share, shares| {
        let mut groups: RuleGroups<'_> = BTreeMap::new();
        // The rules are sorted by subject (scope, pods, direction first): neighbours
        // mostly share their namespace and the group of their subject. So a namespace is
        // looked up (its share, isolation and own set) only when it changes, and the
        // rules of a run of one group and subject are put in the map at once when the
        // run ends (`Run`), not each by three searches of string keys.
        let mut namespace: Option<(&str, bool, Option<&netpolc_ir::ManagedNamespace>)> = None;
        let mut run: Option<Run<'_>> = None;
        for rule in &program.rules {
            if rule.action != netpolc_ir::Action::Allow {
                continue;
            }
            let (one, many) = match &rule.subject.scope {
                Scope::Namespace(ns) => (Some(ns.as_str()), None),
                Scope::Cluster(set) => (None, Some(set)),
            };
            for ns in one
                .into_iter()
                .chain(many.into_iter().flatten().map(String::as_str))
            {
                let (mine, home) = match namespace {
                    Some((at, mine, home)) if at == ns => (mine, home),
                    _ => {
                        let mine = netpolc_ir::par::share_of(ns, shares) == share;
                        let home = program.namespaces.get(ns);
                        namespace = Some((ns, mine, home));
                        (mine, home)
                    }
                };
                // An allow rule on an open side means nothing; rendering it would isolate
                // (`Program::is_isolated`).
                if !mine || !home.is_some_and(|n| n.isolated.contains(&rule.direction)) {
                    continue;
                }
                // The rules every set writes for this namespace go to the objects of
                // the namespace's own set (`Program::object_set`); a cluster set keeps
                // its own objects.
                let (file, set) = Program::object_set_at(&rule.subject.scope, &rule.origin, home);
                let key = (ns, file, set, rule.direction);
                let ended = run.as_ref().is_some_and(|r| {
                    r.key != key || !same_selector(r.selector, &rule.subject.pods)
                });
                if ended {
                    if let Some(r) = run.take() {
                        r.add_to(&mut groups);
                    }
                }
                run.get_or_insert_with(|| Run {
                    key,
                    selector: &rule.subject.pods,
                    by_intent: BTreeMap::new(),
                })
                .by_intent
                .entry(IntentKey::new(&rule.origin, set))
                .or_insert_with(|| (&rule.origin, Vec::new()))
                .1
                .push(rule);
            }
        }
        if let Some(r) = run {
            r.add_to(&mut groups);
        }
        groups
    });
    // Each (namespace, set, direction) on every core, in order.
    netpolc_ir::par::flat_map_into(netpolc_ir::par::threads(), groups, 64, |group, out| {
        let ((namespace, _, set, direction), by_selector) = group;
        // The group's typed rules; a rule that cannot be expressed is left out (fail
        // closed), and so are an intent and a subject left with none: neither names
        // an object nor tells subjects apart.
        let by_selector: Vec<(&netpolc_ir::LabelSelector, Vec<IntentRules<'_>>)> = by_selector
            .into_iter()
            .map(|(selector, by_intent)| {
                let intents: Vec<IntentRules<'_>> = by_intent
                    .into_values()
                    .map(|(origin, rules)| {
                        // Sized once, not grown: nearly every rule can be expressed.
                        let mut typed: Vec<K8sRule> = Vec::with_capacity(rules.len());
                        typed.extend(
                            rules
                                .into_iter()
                                .filter_map(|rule| k8s_rule(program, rule, namespace)),
                        );
                        (origin, typed)
                    })
                    .filter(|(_, rules)| !rules.is_empty())
                    .collect();
                (selector, intents)
            })
            .filter(|(_, intents)| !intents.is_empty())
            .collect();
        let words = subject_words(by_selector.iter().map(|(selector, _)| *selector));
        for ((selector, by_intent), word) in by_selector.into_iter().zip(words) {
            // At most MAX_OBJECT_RULES rules an object: continuations `-2`, `-3`, … at
            // intent boundaries.
            let runs = split_at_intents(by_intent.iter().map(|(_, r)| r.len()), MAX_OBJECT_RULES);
            let mut by_intent = by_intent.into_iter();
            for (n, intents) in runs.into_iter().enumerate() {
                let run: Vec<IntentRules<'_>> = by_intent.by_ref().take(intents).collect();
                let name = numbered_object_name(set, &word, direction, false, n + 1);
                out.extend(rule_object(namespace, name, selector, direction, run, form));
            }
        }
    })
}

/// The object `name` in `namespace` for the pods of `selector`: the rules of `intents`
/// in `direction`, in order, with their provenance (none without intents).
fn rule_object(
    namespace: &str,
    name: String,
    selector: &netpolc_ir::LabelSelector,
    direction: Direction,
    intents: Vec<IntentRules<'_>>,
    form: Form,
) -> Option<Rendered> {
    let field = match direction {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    };
    // The object's origin is its first intent's.
    let origin = intents.first().map(|(origin, _)| (*origin).clone())?;
    let mut provenance = Provenance::default();
    let mut rules: Vec<K8sRule> = Vec::new();
    for (origin, intent_rules) in intents {
        let q = origin.qualified();
        for r in intent_rules {
            provenance.push_rule(field, rules.len(), q.clone());
            rules.push(r);
        }
    }
    let mut spec = NetworkPolicySpec {
        pod_selector: Some(label_selector(selector)),
        policy_types: Some(vec![direction.as_str().to_string()]),
        ingress: None,
        egress: None,
    };
    match direction {
        Direction::Ingress => {
            spec.ingress = Some(
                rules
                    .into_iter()
                    .map(|r| NetworkPolicyIngressRule {
                        from: r.peers,
                        ports: r.ports,
                    })
                    .collect(),
            );
        }
        Direction::Egress => {
            spec.egress = Some(
                rules
                    .into_iter()
                    .map(|r| NetworkPolicyEgressRule {
                        to: r.peers,
                        ports: r.ports,
                    })
                    .collect(),
            );
        }
    }
    let mut policy = policy(
        namespace,
        &name,
        &origin,
        provenance.intent_annotation(),
        spec,
    );
    if let Some(annotations) = policy.metadata.annotations.as_mut() {
        if let Some(rules) = provenance.rules_annotation() {
            annotations.insert(RULES_ANNOTATION.to_string(), rules);
        }
    }
    Some(Rendered::new(
        namespace.to_string(),
        name,
        origin,
        &policy,
        form,
    ))
}

/// The NetworkPolicy `name` of `origin`'s file, `intent` its intent annotation.
fn policy(
    namespace: &str,
    name: &str,
    origin: &Origin,
    intent: String,
    spec: NetworkPolicySpec,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY_LABEL.to_string(),
                MANAGED_BY.to_string(),
            )])),
            annotations: Some(BTreeMap::from([
                (INTENT_ANNOTATION.to_string(), intent),
                (SOURCE_ANNOTATION.to_string(), origin.file.clone()),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
    }
}

/// The NetworkPolicy rule for one IR rule placed in namespace `ns`, or `None` when the
/// rule cannot be expressed (then nothing is allowed instead: fail closed).
fn k8s_rule(program: &Program, rule: &Rule, ns: &str) -> Option<K8sRule> {
    if !rule.http.is_empty() {
        return None;
    }
    let peers = match &rule.peer {
        Peer::Any => None,
        Peer::Pods { namespaces, pods } => Some(vec![pod_peer(ns, namespaces, pods)]),
        Peer::Cidr(block) => Some(vec![ip_block_peer(block)]),
        Peer::Entity(Entity::KubeApiserver) => {
            let nets: BTreeSet<ipnet::IpNet> = program
                .profile
                .api_server_cidrs
                .iter()
                .map(ipnet::IpNet::trunc)
                .collect();
            if nets.is_empty() {
                // `to: []` would mean "everywhere": leave the rule out instead.
                return None;
            }
            Some(
                nets.into_iter()
                    .map(|net| {
                        ip_block_peer(&CidrBlock {
                            net,
                            except: Vec::new(),
                        })
                    })
                    .collect(),
            )
        }
        Peer::Entity(Entity::Host) | Peer::Fqdn(_) => return None,
    };
    let ports = match &rule.ports {
        Ports::Any => None,
        Ports::Only(set) => {
            let items: Vec<NetworkPolicyPort> = set
                .iter()
                .filter(|m| m.protocol.has_ports())
                .filter_map(|m| {
                    let (port, end_port) = match &m.port {
                        PortSpec::All => (None, None),
                        PortSpec::Range { start, end } if start == end => {
                            (Some(IntOrString::Int(i32::from(*start))), None)
                        }
                        PortSpec::Range { start, end } => (
                            Some(IntOrString::Int(i32::from(*start))),
                            Some(i32::from(*end)),
                        ),
                        PortSpec::Named(name) => (Some(IntOrString::String(name.clone())), None),
                        PortSpec::Icmp { .. } => return None,
                    };
                    Some(NetworkPolicyPort {
                        protocol: Some(m.protocol.as_str().to_string()),
                        port,
                        end_port,
                    })
                })
                .collect();
            if items.is_empty() {
                // An empty `ports` list would mean "every port": leave the rule out.
                return None;
            }
            Some(items)
        }
    };
    Some(K8sRule { peers, ports })
}

/// A pod peer seen from a policy in namespace `ns`.
fn pod_peer(
    ns: &str,
    namespaces: &netpolc_ir::LabelSelector,
    pods: &netpolc_ir::LabelSelector,
) -> NetworkPolicyPeer {
    if Peer::single_namespace(namespaces) == Some(ns) {
        // A pod selector alone means "in the policy's namespace".
        return NetworkPolicyPeer {
            pod_selector: Some(label_selector(pods)),
            ..NetworkPolicyPeer::default()
        };
    }
    NetworkPolicyPeer {
        namespace_selector: Some(label_selector(namespaces)),
        // A namespace selector alone already means "every pod there".
        pod_selector: (!pods.is_all()).then(|| label_selector(pods)),
        ip_block: None,
    }
}

fn ip_block_peer(block: &CidrBlock) -> NetworkPolicyPeer {
    let except: BTreeSet<String> = block.except.iter().map(|e| e.trunc().to_string()).collect();
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: block.net.trunc().to_string(),
            except: (!except.is_empty()).then(|| except.into_iter().collect()),
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// `matchLabels` for single-value `In` requirements, `matchExpressions` for the rest.
pub(crate) fn label_selector(selector: &netpolc_ir::LabelSelector) -> LabelSelector {
    let mut labels = BTreeMap::new();
    let mut expressions = Vec::new();
    for r in selector.requirements() {
        if let Some((k, v)) = r.as_match_label() {
            if !labels.contains_key(k) {
                labels.insert(k.to_string(), v.to_string());
                continue;
            }
        }
        expressions.push(LabelSelectorRequirement {
            key: r.key.clone(),
            operator: r.op.as_str().to_string(),
            values: matches!(r.op, Op::In | Op::NotIn).then(|| r.values.iter().cloned().collect()),
        });
    }
    LabelSelector {
        match_labels: (!labels.is_empty()).then_some(labels),
        match_expressions: (!expressions.is_empty()).then_some(expressions),
    }
}

/// A rendered NetworkPolicy as it is kept until taken, keys in reading order (identity
/// first, then the subject, the directions and the rules): the tree the typed object
/// serialises to, tidied ([`tidy`]), or that tree written (as soon as the typed object is
/// built: a tree costs several times its text, and a large repository renders tens of
/// thousands of objects before the first is taken).
#[derive(Clone, Debug)]
pub(crate) enum Packed {
    Text(Box<str>),
    Tree(Value),
}

impl Packed {
    fn new(policy: &NetworkPolicy, form: Form) -> Packed {
        if form == Form::Tree {
            return Packed::Tree(to_json(policy));
        }
        let tree_written = || netpolc_ir::yaml::to_string(&to_json(policy)).unwrap_or_default();
        // Written straight (`text`), or by the emitter where it must decide; metadata
        // netpolc never sets is written from the tree.
        let text = crate::text::to_text(policy).unwrap_or_else(|| {
            netpolc_ir::yaml::to_string(&crate::ranked::Ranked(policy))
                .unwrap_or_else(|_| tree_written())
        });
        // Written as its tidied tree would be: every debug run checks every object.
        debug_assert_eq!(text, tree_written());
        Packed::Text(text.into_boxed_str())
    }
}

/// The JSON form of `policy`, keys in reading order: the tree the typed object
/// serialises to, tidied.
fn to_json(policy: &NetworkPolicy) -> Value {
    // A typed NetworkPolicy has string keys only: serialising cannot fail (were it to,
    // the object would read back as `null`, which the pipeline refuses).
    let mut value = serde_json::to_value(policy).unwrap_or_default();
    tidy(&mut value);
    value
}

impl netpolc_ir::backend::Manifest for Packed {
    fn take(self: Box<Self>) -> netpolc_ir::backend::Taken {
        match *self {
            Packed::Text(text) => netpolc_ir::backend::Taken::Text(text.into_string()),
            Packed::Tree(tree) => netpolc_ir::backend::Taken::Tree(tree),
        }
    }
}

/// Where a key is written: keys not listed keep their place after the listed ones. A
/// `match` (a switch on the length, then one comparison): it runs for every key of every
/// object.
fn rank(key: &str) -> usize {
    match key {
        "apiVersion" => 0,
        "kind" => 1,
        "metadata" => 2,
        "spec" => 3,
        "name" => 4,
        "namespace" => 5,
        "labels" => 6,
        "annotations" => 7,
        "namespaceSelector" => 8,
        "podSelector" => 9,
        "policyTypes" => 10,
        "ingress" => 11,
        "egress" => 12,
        "from" => 13,
        "to" => 14,
        "ports" => 15,
        "ipBlock" => 16,
        "cidr" => 17,
        "except" => 18,
        "protocol" => 19,
        "port" => 20,
        "endPort" => 21,
        "matchLabels" => 22,
        "matchExpressions" => 23,
        "key" => 24,
        "operator" => 25,
        "values" => 26,
        _ => usize::MAX,
    }
}

/// Maps whose keys are data (label keys), never reordered.
const DATA_MAPS: &[&str] = &["labels", "annotations", "matchLabels"];

fn tidy(value: &mut Value) {
    match value {
        Value::Object(map) => {
            // Each key ranked once (a sort by key ranks on every comparison).
            let ranks: Vec<usize> = map.keys().map(|k| rank(k)).collect();
            if !ranks.is_sorted() {
                let mut entries: Vec<(usize, (String, Value))> =
                    ranks.into_iter().zip(std::mem::take(map)).collect();
                // Stable sort: unknown keys keep their relative order.
                entries.sort_by_key(|(r, _)| *r);
                // Sized once: a map grown entry by entry keeps up to twice the room.
                let mut sorted = serde_json::Map::with_capacity(entries.len());
                sorted.extend(entries.into_iter().map(|(_, entry)| entry));
                *map = sorted;
            }
            for (k, v) in map.iter_mut() {
                if !DATA_MAPS.contains(&k.as_str()) {
                    tidy(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_object_is_its_tidied_tree_written() {
        let spec = NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                match_expressions: None,
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: None,
                ports: Some(vec![NetworkPolicyPort {
                    protocol: Some("TCP".into()),
                    port: Some(IntOrString::Int(8080)),
                    end_port: Some(8090),
                }]),
            }]),
            egress: None,
        };
        let origin = Origin {
            file: "policies/shop.yaml".into(),
            set: "shop".into(),
            intent: "web".into(),
            preset: None,
            span: None,
        };
        let policy = policy("shop", "shop-web", &origin, origin.qualified(), spec);
        let mut want = serde_json::to_value(&policy).expect("serialises");
        tidy(&mut want);
        let got = to_json(&policy);
        assert_eq!(got, want);
        let Packed::Text(text) = Packed::new(&policy, Form::Text) else {
            panic!("asked for the text");
        };
        assert_eq!(
            *text,
            netpolc_ir::yaml::to_string(&want).expect("a tree is written")
        );
        // Keys in reading order, identity first.
        let keys: Vec<&String> = got.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"]);
        let meta: Vec<&String> = got["metadata"]
            .as_object()
            .expect("an object")
            .keys()
            .collect();
        assert_eq!(meta, ["name", "namespace", "labels", "annotations"]);
        assert_eq!(got["spec"]["ingress"][0]["ports"][0]["endPort"], 8090);
        // Metadata netpolc never sets is written from the tree (`ranked` refuses it).
        let mut with_uid = policy.clone();
        with_uid.metadata.uid = Some("u".into());
        assert!(netpolc_ir::yaml::to_string(&crate::ranked::Ranked(&with_uid)).is_err());
        let Packed::Text(text) = Packed::new(&with_uid, Form::Text) else {
            panic!("asked for the text");
        };
        assert_eq!(
            *text,
            netpolc_ir::yaml::to_string(&to_json(&with_uid)).expect("a tree is written")
        );
        assert!(text.contains("\n  uid: u\n"), "{text}");
    }
}
