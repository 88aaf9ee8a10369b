//! The IR's data types: the program, its rules, subjects, peers and tests.

use crate::{LabelSelector, PortMatch, Ports, NAMESPACE_NAME_LABEL};
use ipnet::IpNet;
use netpolc_source::Span;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

/// A traffic direction, seen from the pod a rule is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// Traffic into the pod.
    Ingress,
    /// Traffic out of the pod.
    Egress,
}

impl Direction {
    /// `Ingress` or `Egress`, as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }

    /// Both directions, ingress first.
    pub const BOTH: [Direction; 2] = [Direction::Ingress, Direction::Egress];
}

/// What a rule does with the flows it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Allow (only on isolated sides).
    Allow,
    /// Deny; beats every allow.
    Deny,
}

/// Where a rule or isolation came from: shown in provenance annotations and diagnostics.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// The source file, relative to the project root, `/`-separated.
    pub file: String,
    /// The intent set's `metadata.name`.
    pub set: String,
    /// The intent's name (for isolation: `isolate`).
    pub intent: String,
    /// The preset that expanded into this intent, if any.
    pub preset: Option<String>,
    /// Where the intent is written (never rendered into output).
    pub span: Option<Span>,
}

impl Origin {
    /// `set/intent`, or `set/preset:intent` for preset expansions; built at its length
    /// (every rule a back end writes names its intent).
    pub fn qualified(&self) -> String {
        let preset = self.preset.as_deref().filter(|p| *p != self.intent);
        let mut out = String::with_capacity(
            self.set.len() + 2 + preset.map_or(0, str::len) + self.intent.len(),
        );
        out.push_str(&self.set);
        out.push('/');
        if let Some(p) = preset {
            out.push_str(p);
            out.push(':');
        }
        out.push_str(&self.intent);
        out
    }
}

/// Where a subject's pods live.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// One namespace (an `IntentSet`).
    Namespace(String),
    /// The listed managed namespaces (a `ClusterIntentSet`); never empty.
    Cluster(BTreeSet<String>),
}

impl Scope {
    /// Whether a namespace is in scope.
    pub fn contains(&self, namespace: &str) -> bool {
        match self {
            Scope::Namespace(n) => n == namespace,
            Scope::Cluster(set) => set.contains(namespace),
        }
    }

    /// The namespaces in scope, sorted.
    pub fn namespaces(&self) -> Vec<&str> {
        match self {
            Scope::Namespace(n) => vec![n.as_str()],
            Scope::Cluster(set) => set.iter().map(String::as_str).collect(),
        }
    }
}

/// The pods a rule is attached to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject {
    /// Where they live.
    pub scope: Scope,
    /// Pod labels.
    pub pods: LabelSelector,
}

impl Subject {
    /// Whether a pod is selected.
    pub fn selects(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        self.scope.contains(namespace) && self.pods.matches(labels)
    }
}

/// An address block with holes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CidrBlock {
    /// The block, canonical (host bits zero).
    pub net: IpNet,
    /// Holes, each strictly inside `net`, canonical, sorted, none inside another.
    pub except: Vec<IpNet>,
}

impl CidrBlock {
    /// Whether an address is in the block and in none of its holes.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.net.contains(ip) && !self.except.iter().any(|e| e.contains(ip))
    }
}

impl fmt::Display for CidrBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.net)?;
        if !self.except.is_empty() {
            let e: Vec<String> = self.except.iter().map(|n| n.to_string()).collect();
            write!(f, " except {}", e.join(", "))?;
        }
        Ok(())
    }
}

/// Non-pod peers that only some back ends can name directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    /// The Kubernetes API server (Cilium `kube-apiserver`; elsewhere the profile's
    /// `apiServer.cidrs`).
    KubeApiserver,
    /// The node the pod runs on (Cilium `host`); not expressible on Kubernetes or Calico.
    Host,
}

impl Entity {
    /// The intent-language spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::KubeApiserver => "kube-apiserver",
            Entity::Host => "host",
        }
    }
}

/// The other end of a rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Peer {
    /// Pods matching `pods` in namespaces matching `namespaces` (namespace labels, with
    /// the name as [`NAMESPACE_NAME_LABEL`]).
    Pods {
        /// Namespace labels.
        namespaces: LabelSelector,
        /// Pod labels.
        pods: LabelSelector,
    },
    /// External addresses (never pods, nodes or services: see the crate invariants).
    Cidr(CidrBlock),
    /// An entity.
    Entity(Entity),
    /// A DNS name or pattern (`*` within a label); egress only; Cilium only.
    Fqdn(String),
    /// Everything: every pod and every address.
    Any,
}

impl Peer {
    /// Pods in exactly one namespace.
    pub fn pods_in(namespace: &str, pods: LabelSelector) -> Peer {
        Peer::Pods {
            namespaces: LabelSelector::from_labels([(NAMESPACE_NAME_LABEL, namespace)]),
            pods,
        }
    }

    /// If the namespace selector names exactly one namespace, that name.
    pub fn single_namespace(namespaces: &LabelSelector) -> Option<&str> {
        let mut reqs = namespaces.requirements();
        let first = reqs.next()?;
        if reqs.next().is_some() || first.key != NAMESPACE_NAME_LABEL {
            return None;
        }
        first.as_match_label().map(|(_, v)| v)
    }
}

/// An L7 HTTP match (Cilium only): both fields are POSIX extended regular expressions,
/// as Cilium takes them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HttpRule {
    /// Method regex, e.g. `GET`.
    pub method: Option<String>,
    /// Path regex, e.g. `/api/.*`.
    pub path: Option<String>,
}

/// One directional rule attached to a subject.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    /// Which pods carry it.
    pub subject: Subject,
    /// Which side of the flow it is.
    pub direction: Direction,
    /// Allow or deny.
    pub action: Action,
    /// The other end.
    pub peer: Peer,
    /// The ports, always of the destination.
    pub ports: Ports,
    /// L7 HTTP constraints; empty means none (plain L4).
    pub http: Vec<HttpRule>,
    /// Provenance, one copy shared by the rules an intent makes (a rule is cloned and
    /// moved many times, and its `Origin` is half its size).
    pub origin: std::sync::Arc<Origin>,
}

/// Default deny for one direction on every pod of the scope.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Isolation {
    /// Where.
    pub scope: Scope,
    /// Which direction.
    pub direction: Direction,
    /// Provenance.
    pub origin: Origin,
}

/// A namespace that has an `IntentSet`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedNamespace {
    /// Its name.
    pub name: String,
    /// Its labels as declared (always including [`NAMESPACE_NAME_LABEL`]).
    pub labels: BTreeMap<String, String>,
    /// The directions it is isolated in (from its own set or a cluster set).
    pub isolated: BTreeSet<Direction>,
    /// The file and set that declared it.
    pub origin: Origin,
}

/// Cluster facts the intents depend on (`ClusterProfile` document, or defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterProfile {
    /// Pod networks.
    pub pod_cidrs: Vec<IpNet>,
    /// Service networks.
    pub service_cidrs: Vec<IpNet>,
    /// Node networks.
    pub node_cidrs: Vec<IpNet>,
    /// Whether the profile declares the node networks (`nodeCIDRs`, possibly empty).
    /// Without them, back ends whose address rules also match node addresses (Calico
    /// `nets`, Kubernetes `ipBlock`) cannot express CIDR peers and `world` exactly: see
    /// [`Program::address_rules_without_nodes`].
    pub nodes_declared: bool,
    /// Kubernetes API server endpoint addresses (post-DNAT), if known.
    pub api_server_cidrs: Vec<IpNet>,
    /// Kubernetes API server endpoint port (usually 6443).
    pub api_server_port: u16,
    /// Namespace of the cluster DNS pods.
    pub dns_namespace: String,
    /// Labels of the cluster DNS pods.
    pub dns_pods: LabelSelector,
    /// Labels of namespaces without an IntentSet, as the ClusterProfile declares them
    /// (each includes `kubernetes.io/metadata.name`). A namespace not listed here and not
    /// managed is assumed to carry only `kubernetes.io/metadata.name`.
    pub unmanaged_namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// The back ends the project builds (`kubernetes`, `calico`, `cilium`), sorted;
    /// `None`: all of them.
    pub targets: Option<Vec<String>>,
}

impl ClusterProfile {
    /// Every cluster-internal network (pods, services, nodes), sorted.
    pub fn cluster_cidrs(&self) -> Vec<IpNet> {
        let mut all: Vec<IpNet> = self
            .pod_cidrs
            .iter()
            .chain(&self.service_cidrs)
            .chain(&self.node_cidrs)
            .copied()
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

impl Default for ClusterProfile {
    fn default() -> Self {
        ClusterProfile {
            pod_cidrs: vec!["10.244.0.0/16".parse().expect("valid")],
            service_cidrs: vec!["10.96.0.0/12".parse().expect("valid")],
            node_cidrs: Vec::new(),
            nodes_declared: false,
            api_server_cidrs: Vec::new(),
            api_server_port: 6443,
            dns_namespace: "kube-system".to_string(),
            dns_pods: LabelSelector::from_labels([("k8s-app", "kube-dns")]),
            unmanaged_namespaces: BTreeMap::new(),
            targets: None,
        }
    }
}

/// An expected verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Expect {
    /// The flow must be allowed.
    Allow,
    /// The flow must be denied.
    Deny,
}

/// A concrete endpoint of a test flow.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TestEndpoint {
    /// A pod with these labels in this namespace.
    Pod {
        /// Namespace.
        namespace: String,
        /// Labels.
        labels: BTreeMap<String, String>,
    },
    /// An external address.
    Address(IpAddr),
}

/// One expectation of a `ConnectivityTest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCase {
    /// Source.
    pub from: TestEndpoint,
    /// Destination.
    pub to: TestEndpoint,
    /// Protocol and a single port.
    pub port: PortMatch,
    /// The expected verdict.
    pub expect: Expect,
    /// Where the expectation is written.
    pub span: Option<Span>,
    /// How the expectation reads in the source, e.g. `frontend -> backend 8080/tcp`.
    pub label: String,
}

/// A `ConnectivityTest` document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectivityTest {
    /// `metadata.name`.
    pub name: String,
    /// Source file.
    pub file: String,
    /// Expectations, in source order.
    pub cases: Vec<TestCase>,
}

/// The whole lowered program.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Program {
    /// Cluster facts.
    pub profile: ClusterProfile,
    /// Managed namespaces by name.
    pub namespaces: BTreeMap<String, ManagedNamespace>,
    /// Isolations, sorted.
    pub isolations: Vec<Isolation>,
    /// Rules, sorted.
    pub rules: Vec<Rule>,
    /// Connectivity tests, sorted by name.
    pub tests: Vec<ConnectivityTest>,
}

/// The rules of one object set, direction and action ([`Program::object_set`]), by
/// subject (scope, pod selector), then by intent ([`IntentKey`]): indices into
/// [`Program::rules`], in IR order ([`Program::rules_by_object`]).
pub type RuleGroup<'p> = (
    (&'p str, Direction, Action),
    BTreeMap<(&'p Scope, &'p LabelSelector), BTreeMap<IntentKey<'p>, Vec<usize>>>,
);

/// An intent without its span, as objects order them: the object set's own intents
/// first (`foreign` false), then those of other sets, each by file, set, intent, preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct IntentKey<'p> {
    /// Whether the intent belongs to another set than the object's.
    pub foreign: bool,
    /// Its set's file.
    pub file: &'p str,
    /// Its set.
    pub set: &'p str,
    /// Its name.
    pub intent: &'p str,
    /// The preset it was expanded from, if any.
    pub preset: &'p Option<String>,
}

/// Neighbouring rules with one group key and subject, by intent (as in [`RuleGroup`]),
/// put in the groups at once when the run ends ([`Program::rules_by_object`]).
struct GroupRun<'p> {
    key: (&'p str, Direction, Action),
    subject: (&'p Scope, &'p LabelSelector),
    by_intent: BTreeMap<IntentKey<'p>, Vec<usize>>,
    /// The origin of the last rule added and its intent's key: the rules of one intent
    /// are often neighbours, and share one origin.
    last: Option<(*const Origin, IntentKey<'p>)>,
}

/// The groups of [`Program::rules_by_object`] being made.
type Groups<'p> = BTreeMap<
    (&'p str, Direction, Action),
    BTreeMap<(&'p Scope, &'p LabelSelector), BTreeMap<IntentKey<'p>, Vec<usize>>>,
>;

impl<'p> GroupRun<'p> {
    /// Whether a rule of group `key` and subject (`scope`, `pods`) continues the run:
    /// at once for the same copies, else by comparing them.
    fn holds(&self, key: (&str, Direction, Action), scope: &Scope, pods: &LabelSelector) -> bool {
        let (set, direction, action) = key;
        let same_set = std::ptr::eq(self.key.0, set) || self.key.0 == set;
        same_set
            && self.key.1 == direction
            && self.key.2 == action
            && (std::ptr::eq(self.subject.0, scope) || self.subject.0 == scope)
            && (self.subject.1.shared_address() == pods.shared_address() || self.subject.1 == pods)
    }

    /// Adds rule `i`, of `origin`, in object set `set`.
    fn push(&mut self, origin: &'p Origin, set: &'p str, i: usize) {
        let address: *const Origin = origin;
        let intent = match self.last {
            Some((at, intent)) if std::ptr::eq(at, address) => intent,
            _ => {
                let intent = IntentKey::new(origin, set);
                self.last = Some((address, intent));
                intent
            }
        };
        self.by_intent.entry(intent).or_default().push(i);
    }

    /// Adds the run's rules to `groups`, after those of its keys there already (as
    /// adding each rule in turn would).
    fn add_to(self, groups: &mut Groups<'p>) {
        let by_intent = groups
            .entry(self.key)
            .or_default()
            .entry(self.subject)
            .or_default();
        if by_intent.is_empty() {
            *by_intent = self.by_intent;
            return;
        }
        for (intent, rules) in self.by_intent {
            by_intent.entry(intent).or_default().extend(rules);
        }
    }
}

impl<'p> IntentKey<'p> {
    /// The key of `origin` in an object of intent set `object_set`.
    pub fn new(origin: &'p Origin, object_set: &str) -> IntentKey<'p> {
        IntentKey {
            foreign: origin.set != object_set,
            file: &origin.file,
            set: &origin.set,
            intent: &origin.intent,
            preset: &origin.preset,
        }
    }
}

impl Program {
    /// The (file, intent set) whose objects hold a rule of `origin` whose subject lies in
    /// `scope`: for one namespace, the namespace's own IntentSet, so that the rules every
    /// set writes for one (namespace, subject, direction) are one object (an intent of
    /// another set whose subject lies in this namespace, such as the egress side of
    /// `from: {namespaces: ...}`, would otherwise add one object per set and namespace:
    /// a group of N namespaces named by N sets gave N² objects); for a cluster scope (a
    /// ClusterIntentSet) or a namespace without a set of its own, the rule's own set.
    pub fn object_set<'p>(&'p self, scope: &Scope, origin: &'p Origin) -> (&'p str, &'p str) {
        let home = match scope {
            Scope::Namespace(ns) => self.namespaces.get(ns),
            Scope::Cluster(_) => None,
        };
        Program::object_set_at(scope, origin, home)
    }

    /// [`Program::object_set`], for a caller that has looked the scope's namespace up
    /// already: `home` is its entry in [`Program::namespaces`] (read for a namespace
    /// scope only).
    pub fn object_set_at<'p>(
        scope: &Scope,
        origin: &'p Origin,
        home: Option<&'p ManagedNamespace>,
    ) -> (&'p str, &'p str) {
        match (scope, home) {
            (Scope::Namespace(_), Some(home)) => (&home.origin.file, &home.origin.set),
            _ => (&origin.file, &origin.set),
        }
    }

    /// The rules grouped as the back ends that write one object per (object set,
    /// direction, action, subject) group them (Calico, Cilium), in key order; the object
    /// set is [`Program::object_set`].
    ///
    /// Grouped on every core: each thread takes the object sets of its share
    /// ([`crate::par::share_of`]) and the rules in order, so a group is the same whichever
    /// thread made it (a map of the whole program's rules, keyed by strings all over the
    /// heap, took a fifth of a second of one core at 2,000 namespaces).
    pub fn rules_by_object(&self) -> Vec<RuleGroup<'_>> {
        crate::par::by_share(crate::par::threads(), |share, shares| {
            let mut groups: BTreeMap<_, BTreeMap<_, BTreeMap<_, Vec<usize>>>> = BTreeMap::new();
            // The rules are sorted by scope, so neighbours mostly share their namespace
            // and set: the object set and its share are found again only when the
            // namespace or the rule's own set changes (the object set depends on those
            // two alone for a namespace scope).
            let mut last: Option<(&str, &str, &str, bool)> = None;
            // The rules are sorted by subject, direction and action first: a run of
            // neighbours with one group key and subject is gathered apart and put in the
            // map at once when it ends (`GroupRun`), not each rule by three searches of
            // string keys.
            let mut run: Option<GroupRun<'_>> = None;
            for (i, rule) in self.rules.iter().enumerate() {
                let o = &rule.origin;
                let (set, mine) = match (&rule.subject.scope, last) {
                    (Scope::Namespace(ns), Some((n, own, set, mine)))
                        if n == ns.as_str() && own == o.set.as_str() =>
                    {
                        (set, mine)
                    }
                    (scope, _) => {
                        let (_, set) = self.object_set(scope, o);
                        let mine = crate::par::share_of(set, shares) == share;
                        if let Scope::Namespace(ns) = scope {
                            last = Some((ns, &o.set, set, mine));
                        }
                        (set, mine)
                    }
                };
                if !mine {
                    continue;
                }
                let key = (set, rule.direction, rule.action);
                let ended = run
                    .as_ref()
                    .is_some_and(|r| !r.holds(key, &rule.subject.scope, &rule.subject.pods));
                if ended {
                    if let Some(r) = run.take() {
                        r.add_to(&mut groups);
                    }
                }
                run.get_or_insert_with(|| GroupRun {
                    key,
                    subject: (&rule.subject.scope, &rule.subject.pods),
                    by_intent: BTreeMap::new(),
                    last: None,
                })
                .push(o, set, i);
            }
            if let Some(r) = run {
                r.add_to(&mut groups);
            }
            groups
        })
    }

    /// Whether `namespace` is managed and isolated in `direction`.
    pub fn is_isolated(&self, namespace: &str, direction: Direction) -> bool {
        self.namespaces
            .get(namespace)
            .is_some_and(|n| n.isolated.contains(&direction))
    }

    /// The rules whose peer is an address block (a CIDR peer or `world`) when the profile
    /// does not declare the node networks; empty when it does. The intent language says
    /// such peers mean addresses outside the cluster, nodes excluded (Cilium's CIDR rules
    /// and `world` never match nodes). Calico `nets` and Kubernetes `ipBlock` do match
    /// node addresses, so those back ends can carve the nodes out only when they know
    /// where the nodes are, and refuse these rules otherwise.
    pub fn address_rules_without_nodes(&self) -> Vec<&Rule> {
        if self.profile.nodes_declared {
            return Vec::new();
        }
        self.rules
            .iter()
            .filter(|r| matches!(r.peer, Peer::Cidr(_)))
            .collect()
    }

    /// Sorts and deduplicates every vector, establishing the ordering invariant.
    pub fn canonicalise(&mut self) {
        self.isolations.sort();
        self.isolations.dedup();
        // Equal rules are alike in every field, so any order among them will do.
        crate::par::sort(crate::par::threads(), &mut self.rules);
        self.rules.dedup();
        self.tests.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intent_is_named_by_its_set_and_preset() {
        let origin = |preset: Option<&str>| Origin {
            file: "policies/shop.yaml".into(),
            set: "shop".into(),
            intent: "allow-dns".into(),
            preset: preset.map(String::from),
            span: None,
        };
        assert_eq!(origin(None).qualified(), "shop/allow-dns");
        assert_eq!(origin(Some("allow-dns")).qualified(), "shop/allow-dns");
        assert_eq!(origin(Some("base")).qualified(), "shop/base:allow-dns");
    }

    fn rule(set: &str, intent: &str, direction: Direction, action: Action, app: &str) -> Rule {
        Rule {
            subject: Subject {
                scope: Scope::Namespace(set.into()),
                pods: LabelSelector::from_labels([("app", app)]),
            },
            direction,
            action,
            peer: Peer::Any,
            ports: Ports::Any,
            http: Vec::new(),
            origin: std::sync::Arc::new(Origin {
                file: format!("policies/{set}.yaml"),
                set: set.into(),
                intent: intent.into(),
                preset: None,
                span: None,
            }),
        }
    }

    #[test]
    fn a_namespaces_own_set_holds_the_rules_every_set_writes_there() {
        let mut program = Program::default();
        let home = rule("shop", "isolate", Direction::Ingress, Action::Allow, "x");
        program.namespaces.insert(
            "shop".into(),
            ManagedNamespace {
                name: "shop".into(),
                labels: BTreeMap::new(),
                isolated: BTreeSet::new(),
                origin: (*home.origin).clone(),
            },
        );
        // A rule of set `web` whose subject lies in `shop`: shop's objects.
        let mut foreign = rule("web", "to-shop", Direction::Egress, Action::Allow, "a");
        foreign.subject.scope = Scope::Namespace("shop".into());
        assert_eq!(
            program.object_set(&foreign.subject.scope, &foreign.origin),
            ("policies/shop.yaml", "shop")
        );
        // A namespace without a set of its own, and a cluster scope: the rule's own set.
        let unmanaged = Scope::Namespace("other".into());
        assert_eq!(
            program.object_set(&unmanaged, &foreign.origin),
            ("policies/web.yaml", "web")
        );
        let cluster = Scope::Cluster(BTreeSet::from(["shop".to_string()]));
        assert_eq!(
            program.object_set(&cluster, &foreign.origin),
            ("policies/web.yaml", "web")
        );
        // Grouped with shop's own rule, shop's intents first.
        let mut own = rule("shop", "z-own", Direction::Egress, Action::Allow, "a");
        own.subject.scope = Scope::Namespace("shop".into());
        program.rules = vec![foreign, own];
        let groups = program.rules_by_object();
        assert_eq!(groups.len(), 1);
        let ((set, _, _), subjects) = &groups[0];
        assert_eq!(*set, "shop");
        let intents: Vec<(bool, &str)> = subjects
            .values()
            .flat_map(|by_intent| by_intent.keys().map(|k| (k.foreign, k.intent)))
            .collect();
        assert_eq!(intents, [(false, "z-own"), (true, "to-shop")]);
    }

    #[test]
    fn rules_are_grouped_alike_on_any_number_of_threads() {
        let mut program = Program::default();
        for n in 0..40 {
            let set = format!("ns-{:02}", n % 13);
            let direction = if n % 3 == 0 {
                Direction::Ingress
            } else {
                Direction::Egress
            };
            let action = if n % 7 == 0 {
                Action::Deny
            } else {
                Action::Allow
            };
            let app = ["web", "db"][n % 2];
            program
                .rules
                .push(rule(&set, &format!("i{}", n % 5), direction, action, app));
        }
        let one = crate::par::with_threads(1, || program.rules_by_object());
        for threads in 2..5 {
            let many = crate::par::with_threads(threads, || program.rules_by_object());
            assert_eq!(many, one, "{threads} threads");
        }
        // In key order; every rule once, in IR order within its intent.
        assert!(one.windows(2).all(|w| w[0].0 < w[1].0));
        let mut seen: Vec<usize> = Vec::new();
        for (key, subjects) in &one {
            for ((scope, pods), by_intent) in subjects {
                for (intent, indices) in by_intent {
                    assert!(indices.windows(2).all(|w| w[0] < w[1]));
                    for &i in indices {
                        let r = &program.rules[i];
                        assert_eq!((r.origin.set.as_str(), r.direction, r.action), *key);
                        assert_eq!((&r.subject.scope, &r.subject.pods), (*scope, *pods));
                        assert_eq!(*intent, IntentKey::new(&r.origin, key.0));
                    }
                    seen.extend(indices);
                }
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
    }
}
