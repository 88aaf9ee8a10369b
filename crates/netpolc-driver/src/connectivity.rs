//! The connectivity map of `netpolc eval`: which pod classes and address ranges may
//! connect to which, on which ports, grouped so that a cluster of thousands of pods reads
//! in a few dozen rows — without enumerating pod pairs × ports flow by flow.
//!
//! How it is computed (the same ideas as the exact proof, [`netpolc_ir::proof`]):
//!
//! 1. **Classes.** Pods are grouped by (namespace, labels, named ports): pods of one
//!    Deployment are one class. Every evaluator decides a pod's sides only from those
//!    (and from its address, which no network mentioned tells apart; when one does, every
//!    pod is its own class).
//! 2. **Sides.** For each class, each direction and each backend, the evaluator's
//!    [`Evaluator::mentions_into`] adds what the side can tell apart about the other end
//!    to one set per side, for every backend: the namespaces it names or selects by
//!    label (their pods are taken as they are), the labels it tests (the other pods are
//!    seen through that projection), the networks and the port boundaries. Other
//!    namespaces all look like one *unnamed namespace*.
//!    A side verdict is computed once per (what the side can see of the other end), on
//!    one port per interval of the ports every side mentions, and cached. What every
//!    side mentions is read up front (the networks, ports and label keys of the whole
//!    map come from it); a side itself is resolved (its namespaces, its projection) and
//!    its verdicts computed only when a pair needs it, so that a [`compare`] with a
//!    [`Focus`] prepares the sides its pairs meet, not the cluster's.
//! 3. **Pairs.** A connection is allowed when the source's egress and the destination's
//!    ingress both allow it: the port sets of both sides are intersected, per pair of
//!    classes and per address range.
//! 4. **Rows.** Pairs with the same destination, ports and backends are merged into one
//!    row with several sources, then rows with the same sources, ports and backends into
//!    one row with several destinations; a namespace whose every class is listed reads
//!    `ns/*`, every pod of the cluster `*`, an address range outside every network the
//!    policies name `world`.

use ipnet::IpNet;
use netpolc_ir::model::{ClusterModel, Endpoint, Evaluator, Mentions, Numbering, Pod};
use netpolc_ir::proof::{adjacent, Projection, Seen};
use netpolc_ir::{Direction, Protocol, NAMESPACE_NAME_LABEL};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One row of the map: every source may connect to every destination on the ports, on
/// the backends named.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    /// Sources: `ns/app=web`, `ns/*`, `*`, `world`, `10.0.0.0/8`.
    pub from: Vec<String>,
    /// Destinations, named the same way.
    pub to: Vec<String>,
    /// Ports: `8080/tcp`, `8000-8099/tcp`, `all/udp`.
    pub ports: Vec<String>,
    /// The backends on which the row holds (all of them when they agree).
    pub targets: Vec<String>,
    /// When set, the row is a pattern holding inside each namespace of this group on its
    /// own: `{NS1}/app=web` stands for `ns/app=web` of the same namespace `ns`.
    pub group: Option<String>,
}

/// The pods a rule is attached to, as `ns/app=web` (`ns/*` for every pod; namespaces
/// joined with `,` for a cluster-wide set).
pub fn subject_text(r: &netpolc_ir::Rule) -> String {
    format!(
        "{}/{}",
        r.subject.scope.namespaces().join(","),
        netpolc_ir::explain::selector(&r.subject.pods)
    )
}

/// The other end of a rule, named like [`subject_text`]: `ns/app=web` (namespaces by
/// their labels as `{team=a}/app=web`, any namespace as `*/app=web`), a CIDR, an entity,
/// `dns:NAME`, or `*` for everything.
pub fn peer_text(p: &netpolc_ir::Peer) -> String {
    use netpolc_ir::{Op, Peer, NAMESPACE_NAME_LABEL};
    match p {
        Peer::Pods { namespaces, pods } => {
            let reqs: Vec<_> = namespaces.requirements().collect();
            let ns = match reqs.as_slice() {
                [] => "*".to_string(),
                [q] if q.key == NAMESPACE_NAME_LABEL && q.op == Op::In => {
                    q.values.iter().cloned().collect::<Vec<_>>().join(",")
                }
                _ => format!("{{{}}}", netpolc_ir::explain::selector(namespaces)),
            };
            format!("{ns}/{}", netpolc_ir::explain::selector(pods))
        }
        Peer::Cidr(block) => block.to_string(),
        Peer::Entity(e) => e.as_str().to_string(),
        Peer::Fqdn(name) => format!("dns:{name}"),
        Peer::Any => "*".to_string(),
    }
}

/// The allows to DNS names (`fqdns` groups) of `program`, as rows of the map (`to` is
/// `dns:NAME`): the model has no endpoint a DNS name matches, so they are taken from
/// the rules, one row per subject and name with the ports of all its rules.
pub fn dns_rows(program: &netpolc_ir::Program) -> Vec<Row> {
    let mut by: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for r in &program.rules {
        if let (netpolc_ir::Peer::Fqdn(_), netpolc_ir::Action::Allow) = (&r.peer, r.action) {
            by.entry((subject_text(r), peer_text(&r.peer)))
                .or_default()
                .insert(r.ports.to_string());
        }
    }
    by.into_iter()
        .map(|((from, to), ports)| Row {
            from: vec![from],
            to: vec![to],
            ports: ports.into_iter().collect(),
            targets: Vec::new(),
            group: None,
        })
        .collect()
}

/// The connectivity map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Map {
    /// Rows, sorted.
    pub rows: Vec<Row>,
    /// Pods of the model.
    pub pods: usize,
    /// Pod classes.
    pub classes: usize,
    /// Namespaces with pods.
    pub namespaces: usize,
    /// The backends.
    pub targets: Vec<String>,
    /// Groups of namespaces that behave alike inside themselves (`NS1` → names).
    pub groups: Vec<(String, Vec<String>)>,
}

impl Map {
    /// The map as text: a header, then one row per line.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "# connectivity map: {} pods in {} classes, {} namespaces; backends: {}\n\
             # every connection not listed is denied on every backend (TCP, UDP, SCTP)\n",
            self.pods,
            self.classes,
            self.namespaces,
            self.targets.join(" ")
        );
        for (g, names) in &self.groups {
            s.push_str(&format!(
                "# {{{g}}}: each of {} namespaces on its own: {}\n",
                names.len(),
                names.join(", ")
            ));
        }
        let all = self.targets.len();
        for r in &self.rows {
            let on = if r.targets.len() == all {
                String::new()
            } else {
                format!("  [{} only]", r.targets.join(", "))
            };
            s.push_str(&format!(
                "{} -> {} {}{on}\n",
                r.from.join(", "),
                r.to.join(", "),
                r.ports.join(", ")
            ));
        }
        s
    }

    /// The map as one JSON document.
    pub fn to_json(&self) -> Value {
        json!({
            "pods": self.pods,
            "classes": self.classes,
            "namespaces": self.namespaces,
            "targets": self.targets,
            "namespace_groups": self.groups.iter().map(|(g, n)| (g.clone(), json!(n))).collect::<serde_json::Map<String, Value>>(),
            "rows": self.rows.iter().map(|r| json!({
                "from": r.from,
                "to": r.to,
                "ports": r.ports,
                "targets": r.targets,
                "namespace_group": r.group,
            })).collect::<Vec<_>>(),
        })
    }
}

/// A set of port intervals: one bit per global port sample.
type Mask = Vec<u64>;

fn is_empty(m: &Mask) -> bool {
    m.iter().all(|w| *w == 0)
}

/// One side (class, direction) as resolved against the model.
struct Side {
    /// Namespaces told apart (ids); `None`: every namespace.
    namespaces: Option<BTreeSet<usize>>,
    /// Index into the interned projections.
    projection: usize,
    named_ports: bool,
    /// Cache: (namespace id or UNNAMED, projected key id, the id of the other end's
    /// named ports when they matter), or (the class itself, 0, 0) when every namespace
    /// is told apart → mask per target.
    cache: HashMap<(usize, usize, usize), usize>,
}

const UNNAMED: usize = usize::MAX;

/// What every evaluator decides a pod's sides from: namespace, labels, named ports.
type RoughKey<'m> = (&'m str, &'m BTreeMap<String, String>, &'m NamedPorts);

type NamedPorts = BTreeMap<String, (Protocol, u16)>;

/// What the unnamed namespace's pods differ by: labels, named ports, and the address
/// when networks tell pod addresses apart.
type UnnamedKey<'m> = (&'m BTreeMap<String, String>, &'m NamedPorts, Option<IpAddr>);

/// Computes the connectivity map of `model` under each evaluator.
///
/// `secondary` are the pods' other addresses (dual stack): no address range shown is
/// taken among them.
pub fn map(model: &ClusterModel, secondary: &[IpAddr], evals: &[&dyn Evaluator]) -> Map {
    Builder::new(model.clone(), secondary, evals, None).run()
}

/// Which sides a [`compare`] looks at: pairs whose source is in one of the `egress`
/// namespaces, or whose destination is in one of the `ingress` namespaces. Every other
/// pair is left out (the caller knows that nothing about it changed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Focus {
    /// Namespaces whose pods' egress sides matter.
    pub egress: BTreeSet<String>,
    /// Namespaces whose pods' ingress sides matter.
    pub ingress: BTreeSet<String>,
    /// Pairs `(a, b)` of evaluators (indices into the evaluators compared) such that,
    /// outside the focus, `a` decides every side as `b` does (the base and the new
    /// version of one reading, where the rules did not change): there, what the sides
    /// mention is read from `b` alone.
    pub alike: Vec<(usize, usize)>,
}

/// [`Focus`] resolved to namespace ids.
struct ClassFocus {
    /// Per namespace id, whether its egress (ingress) sides are in focus.
    egress: Vec<bool>,
    ingress: Vec<bool>,
}

/// A set of ports: one bit per port interval of the comparison (see [`Pair`]).
pub type PortSet = Vec<u64>;

/// One pair of ends of a [`compare`]: a pod class or an address range on each end, with
/// what each evaluator allows between them (source's egress and destination's ingress
/// both).
pub struct Pair<'a> {
    /// The source: a pod of the source class (an index into `model`) or an address.
    pub from: Endpoint,
    /// The destination, likewise.
    pub to: Endpoint,
    /// The model the pods index (the input model plus internal pods).
    pub model: &'a ClusterModel,
    /// Per evaluator (in the order given), the ports allowed.
    pub allowed: &'a [PortSet],
    samples: &'a [(Protocol, u16, u16)],
}

impl Pair<'_> {
    /// The first port of a set (a concrete witness), if any.
    pub fn first_port(&self, set: &PortSet) -> Option<(Protocol, u16)> {
        (0..self.samples.len())
            .find(|i| set[i / 64] & (1 << (i % 64)) != 0)
            .map(|i| (self.samples[i].0, self.samples[i].1))
    }
}

/// `a & !b`.
pub fn minus(a: &PortSet, b: &PortSet) -> PortSet {
    a.iter().zip(b).map(|(x, y)| x & !y).collect()
}

/// Whether a port set is empty.
pub fn none(a: &PortSet) -> bool {
    is_empty(a)
}

/// Rows of a comparison, each with the key its classifier gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compared<K> {
    /// Rows (their `targets` are empty) with their keys, sorted.
    pub rows: Vec<(Row, K)>,
    /// Namespace groups of pattern rows (`NS1` → names), as in [`Map::groups`].
    pub groups: Vec<(String, Vec<String>)>,
    /// What the comparison prepared.
    pub stats: Stats,
}

/// The connectivity map's machinery, with the caller deciding what a row is: for each
/// pair of ends that some evaluator allows, `classify` turns the ports allowed per
/// evaluator into keyed port sets (e.g. "added on these readings"); entries with the same
/// key and ports are merged into rows as in [`map`]. With a `focus`, only pairs it names
/// are computed, and only the sides those pairs meet are prepared, so the cost follows
/// the focus, not the cluster ([`Compared::stats`] says how much was prepared).
///
/// The model is taken as it is when owned (`Cow::Owned`), copied otherwise: the
/// comparison adds internal pods to it.
pub fn compare<K: Ord + Clone>(
    model: Cow<'_, ClusterModel>,
    secondary: &[IpAddr],
    evals: &[&dyn Evaluator],
    focus: Option<&Focus>,
    mut classify: impl FnMut(&Pair<'_>) -> Vec<(K, PortSet)>,
) -> Compared<K> {
    let mut b = Builder::new(model.into_owned(), secondary, evals, focus);
    b.describe = true;
    let focus = focus.map(|f| {
        let id = |names: &BTreeSet<String>| -> Vec<bool> {
            b.ns_names.iter().map(|n| names.contains(n)).collect()
        };
        ClassFocus {
            egress: id(&f.egress),
            ingress: id(&f.ingress),
        }
    });
    let pairs = b.pairs(focus.as_ref());
    let n = b.classes.len();
    let mut entries = Vec::new();
    for ((from, to), masks) in pairs {
        let end = |e: usize, other: Option<usize>| -> Endpoint {
            if e >= n {
                return Endpoint::External(b.atoms[e - n].0);
            }
            let avoid = other.map(|o| b.classes[o][0]);
            Endpoint::Pod(
                b.classes[e]
                    .iter()
                    .copied()
                    .find(|p| Some(*p) != avoid)
                    .unwrap_or(b.classes[e][0]),
            )
        };
        let src = end(from, None);
        let dst = end(to, (from < n).then_some(from));
        let pair = Pair {
            from: src,
            to: dst,
            model: &b.model,
            allowed: &masks,
            samples: &b.samples,
        };
        for (k, m) in classify(&pair) {
            if !is_empty(&m) {
                entries.push(((from, to), m, k));
            }
        }
    }
    let (mut rows, groups) = b.keyed_rows(entries);
    rows.sort();
    Compared {
        rows,
        groups,
        stats: b.stats(),
    }
}

/// What a [`compare`] (or [`map`]) prepared: the classes and sides it looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Pod classes of the model.
    pub classes: usize,
    /// Sides (class, direction) resolved against the model, out of `2 × classes`.
    pub sides: usize,
    /// Side verdicts computed (per side, one per group of other ends it tells apart).
    pub verdicts: usize,
    /// The namespaces with a side prepared, sorted.
    pub namespaces: Vec<String>,
}

struct Builder<'a> {
    /// The input model, the unnamed namespace's pods after its pods.
    model: ClusterModel,
    /// Its numbering, for the evaluators' prepared sides.
    numbering: Numbering,
    evals: &'a [&'a dyn Evaluator],
    /// The pods of each class.
    classes: Vec<Vec<usize>>,
    class_ns: Vec<usize>,
    /// The classes of each namespace id, in order.
    ns_classes: Vec<Vec<usize>>,
    /// Namespaces with pods or labels (ids index it; sorted).
    ns_names: Vec<String>,
    /// Namespace ids per namespace label pair and per label key.
    ns_by_pair: HashMap<(String, String), Vec<usize>>,
    ns_by_key: HashMap<String, Vec<usize>>,
    /// Per class, the id of its label set; per label set, a pod that has it.
    label_set: Vec<usize>,
    label_sets: Vec<usize>,
    /// Per class, an id of its named ports (classes with the same named ports share it).
    named_id: Vec<usize>,
    /// Per class, its mentions (merged over evaluators; an index into `mentions`).
    class_mentions: Vec<usize>,
    /// Per class of (namespace, labels, named ports), per direction.
    mentions: Vec<[Mentions; 2]>,
    /// The pod label keys any side tests (`true`: every label), for class names.
    label_keys: (bool, BTreeSet<String>),
    /// Per class, the unnamed namespace's pod with its labels and named ports.
    unnamed_pod: Vec<usize>,
    /// Per class and direction, resolved on first use.
    sides: Vec<[Option<Side>; 2]>,
    /// Projections (of the sides resolved), interned.
    proj_index: HashMap<Projection, usize>,
    /// Per projection, the projected key id of each class.
    projected: Vec<Vec<usize>>,
    /// Per projection, the classes of each projected key (made on first use).
    by_key: Vec<Option<Vec<Vec<usize>>>>,
    /// Global port samples: (protocol, first, last), and their first ports.
    samples: Vec<(Protocol, u16, u16)>,
    ports: Vec<(Protocol, u16)>,
    /// Address atoms: representative and name.
    atoms: Vec<(IpAddr, String)>,
    /// Side verdicts computed (masks per target), and whether each allows nothing.
    masks: Vec<Vec<Mask>>,
    empty: Vec<bool>,
    /// Namespaces (ids) with a side prepared.
    prepared: Vec<bool>,
    sides_prepared: usize,
    /// Name a namespace's classes by the label pairs that cover them exactly
    /// (`ns/app=web` for every class with `app=web`), not class by class.
    describe: bool,
}

fn dir(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

impl<'a> Builder<'a> {
    fn new(
        mut model: ClusterModel,
        secondary: &[IpAddr],
        evals: &'a [&'a dyn Evaluator],
        focus: Option<&Focus>,
    ) -> Self {
        let real = model.pods.len();
        // Mentions of one pod per (namespace, labels, named ports): every evaluator
        // decides a pod's sides from those alone. What every side mentions is needed
        // up front (the networks, ports and label keys of the whole map); the sides
        // themselves are resolved on first use.
        let mut first: BTreeMap<RoughKey<'_>, usize> = BTreeMap::new();
        let mut rough = vec![0usize; real];
        let mut reps = Vec::new();
        for (i, p) in model.pods.iter().enumerate() {
            let n = first.len();
            let c = *first
                .entry((p.namespace.as_str(), &p.labels, &p.named_ports))
                .or_insert(n);
            if c == reps.len() {
                reps.push(i);
            }
            rough[i] = c;
        }
        drop(first);
        // Outside the focus, an evaluator that decides every side as another does is
        // not asked.
        let mut skip = vec![false; evals.len()];
        for (a, b) in focus.map(|f| f.alike.as_slice()).unwrap_or_default() {
            if *a < skip.len() && *b < skip.len() && a != b && !skip[*b] {
                skip[*a] = true;
            }
        }
        let outside = |ns: &str, d: Direction| {
            focus.is_some_and(|f| match d {
                Direction::Egress => !f.egress.contains(ns),
                Direction::Ingress => !f.ingress.contains(ns),
            })
        };
        let mentions: Vec<[Mentions; 2]> = reps
            .iter()
            .map(|&pod| {
                [Direction::Ingress, Direction::Egress].map(|d| {
                    let out = outside(&model.pods[pod].namespace, d);
                    let mut m = Mentions::default();
                    for (e, _) in evals.iter().zip(&skip).filter(|(_, s)| !(out && **s)) {
                        e.mentions_into(&model, pod, d, &mut m);
                    }
                    m.into_owned()
                })
            })
            .collect();
        // Do the networks mentioned tell pod addresses apart?
        let mut pod_ips: Vec<IpAddr> = model.pods.iter().map(|p| p.ip).collect();
        pod_ips.extend(secondary.iter().copied());
        pod_ips.sort();
        pod_ips.dedup();
        let nets: BTreeSet<IpNet> = mentions
            .iter()
            .flatten()
            .flat_map(|m| m.nets.iter().copied())
            .collect();
        let v4 = pod_ips.iter().filter(|ip| ip.is_ipv4()).count();
        let splits = nets.iter().any(|n| {
            let lo = pod_ips.partition_point(|ip| *ip < n.network());
            let hi = pod_ips.partition_point(|ip| *ip <= n.broadcast());
            let fam = if n.network().is_ipv4() {
                v4
            } else {
                pod_ips.len() - v4
            };
            hi > lo && hi - lo < fam
        });
        // Classes: the rough classes, or every pod alone when addresses matter.
        let class_of: Vec<usize> = if splits {
            (0..real).collect()
        } else {
            rough.clone()
        };
        let count = if splits { real } else { reps.len() };
        let mut classes: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (i, c) in class_of.iter().enumerate() {
            classes[*c].push(i);
        }
        drop(class_of);
        let class_mentions: Vec<usize> = classes.iter().map(|pods| rough[pods[0]]).collect();
        let mut label_sets = Vec::new();
        let label_set: Vec<usize> = {
            let mut ids: BTreeMap<&BTreeMap<String, String>, usize> = BTreeMap::new();
            classes
                .iter()
                .map(|pods| {
                    let n = ids.len();
                    *ids.entry(&model.pods[pods[0]].labels).or_insert_with(|| {
                        label_sets.push(pods[0]);
                        n
                    })
                })
                .collect()
        };
        let named_id: Vec<usize> = {
            let mut ids: BTreeMap<&NamedPorts, usize> = BTreeMap::new();
            classes
                .iter()
                .map(|pods| {
                    let n = ids.len();
                    *ids.entry(&model.pods[pods[0]].named_ports).or_insert(n)
                })
                .collect()
        };
        // Namespaces.
        let ns_names: Vec<String> = model.namespaces.keys().cloned().collect();
        let ns_id = |name: &str| ns_names.binary_search_by(|n| n.as_str().cmp(name)).ok();
        let class_ns: Vec<usize> = classes
            .iter()
            .map(|pods| ns_id(model.pods[pods[0]].namespace.as_str()).unwrap_or_default())
            .collect();
        let mut ns_by_pair: HashMap<(String, String), Vec<usize>> = HashMap::new();
        let mut ns_by_key: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, labels) in model.namespaces.values().enumerate() {
            for (k, v) in labels {
                ns_by_pair
                    .entry((k.clone(), v.clone()))
                    .or_default()
                    .push(i);
                ns_by_key.entry(k.clone()).or_default().push(i);
            }
        }
        // What the whole map needs from every side: ports, label keys, names.
        let mut all_ports = BTreeSet::new();
        let mut any_all_ports = false;
        let mut label_keys = (false, BTreeSet::new());
        let mut mentioned: BTreeSet<&String> = BTreeSet::new();
        for m in mentions.iter().flatten() {
            any_all_ports |= m.all_ports;
            all_ports.extend(m.ports.iter().copied());
            // Every key any test sees, confined to a namespace or not.
            let seen = Projection::of(m);
            label_keys.0 |= seen.all;
            label_keys.1.extend(seen.keys.into_keys());
            mentioned.extend(m.namespaces.iter());
        }
        // The unnamed namespace and its pods: one per (labels, named ports) of a class,
        // and address when addresses matter (classes of different namespaces with the
        // same labels share it). Made up front: evaluators cache views of the model's
        // pods, which a pod added later would invalidate.
        let unnamed = (0u32..)
            .map(|i| format!("netpolc-unnamed-{i}"))
            .find(|n| !model.namespaces.contains_key(n) && !mentioned.contains(n))
            .unwrap_or_default();
        drop(mentioned);
        model.namespaces.insert(
            unnamed.clone(),
            BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), unnamed.clone())]),
        );
        let mut made: BTreeMap<UnnamedKey<'_>, usize> = BTreeMap::new();
        let mut extra = Vec::new();
        let unnamed_pod: Vec<usize> = classes
            .iter()
            .map(|pods| {
                let p = &model.pods[pods[0]];
                let n = real + made.len();
                *made
                    .entry((&p.labels, &p.named_ports, splits.then_some(p.ip)))
                    .or_insert_with(|| {
                        extra.push(Pod {
                            namespace: unnamed.clone(),
                            name: format!("class-{}", n - real),
                            labels: p.labels.clone(),
                            ip: p.ip,
                            named_ports: p.named_ports.clone(),
                        });
                        n
                    })
            })
            .collect();
        drop(made);
        model.pods.extend(extra);
        // Port samples.
        if any_all_ports {
            for (p, n) in &model.ports {
                all_ports.insert((*p, u32::from(*n)));
                all_ports.insert((*p, u32::from(*n) + 1));
            }
        }
        for p in model.pods.iter().take(real) {
            for (proto, n) in p.named_ports.values() {
                all_ports.insert((*proto, u32::from(*n)));
                all_ports.insert((*proto, u32::from(*n) + 1));
            }
        }
        for p in Protocol::PORTED {
            all_ports.insert((p, 1));
        }
        let starts: Vec<(Protocol, u32)> = all_ports
            .into_iter()
            .filter(|(p, n)| Protocol::PORTED.contains(p) && (1..=65535).contains(n))
            .collect();
        let samples: Vec<(Protocol, u16, u16)> = starts
            .iter()
            .enumerate()
            .map(|(i, (p, n))| {
                let last = match starts.get(i + 1) {
                    Some((q, m)) if q == p => m - 1,
                    _ => 65535,
                };
                (*p, *n as u16, last as u16)
            })
            .collect();
        let atoms = atoms(&nets, &pod_ips);
        let n = classes.len();
        Builder {
            numbering: Numbering::of(&model),
            model,
            evals,
            ns_classes: {
                let mut v = vec![Vec::new(); ns_names.len()];
                for (c, ns) in class_ns.iter().enumerate() {
                    v[*ns].push(c);
                }
                v
            },
            classes,
            class_ns,
            prepared: vec![false; ns_names.len()],
            ns_names,
            ns_by_pair,
            ns_by_key,
            label_set,
            label_sets,
            named_id,
            class_mentions,
            mentions,
            label_keys,
            unnamed_pod,
            sides: (0..n).map(|_| [None, None]).collect(),
            proj_index: HashMap::new(),
            projected: Vec::new(),
            by_key: Vec::new(),
            ports: samples.iter().map(|(p, n, _)| (*p, *n)).collect(),
            samples,
            atoms,
            masks: Vec::new(),
            empty: Vec::new(),
            sides_prepared: 0,
            describe: false,
        }
    }

    fn words(&self) -> usize {
        self.samples.len().div_ceil(64)
    }

    fn stats(&self) -> Stats {
        Stats {
            classes: self.classes.len(),
            sides: self.sides_prepared,
            verdicts: self.masks.len(),
            namespaces: self
                .prepared
                .iter()
                .zip(&self.ns_names)
                .filter(|(p, _)| **p)
                .map(|(_, n)| n.clone())
                .collect(),
        }
    }

    /// The side of class `c` in direction `d`, resolved on first use: the namespaces it
    /// tells apart and the projection through which it sees the other end's labels.
    fn side(&mut self, c: usize, d: Direction) -> &mut Side {
        if self.sides[c][dir(d)].is_none() {
            let m = &self.mentions[self.class_mentions[c]][dir(d)];
            let namespaces = if m.all_namespaces {
                None
            } else {
                let mut s = BTreeSet::from([self.class_ns[c]]);
                s.extend(m.namespaces.iter().filter_map(|n| {
                    self.ns_names
                        .binary_search_by(|x| x.as_str().cmp(n.as_str()))
                        .ok()
                }));
                for kv in &m.namespace_labels {
                    s.extend(self.ns_by_pair.get(kv).into_iter().flatten());
                }
                for k in &m.namespace_keys {
                    s.extend(self.ns_by_key.get(k).into_iter().flatten());
                }
                Some(s)
            };
            let named_ports = m.named_ports || m.all_ports;
            let projection = self.intern(Projection::of(m));
            self.sides[c][dir(d)] = Some(Side {
                namespaces,
                projection,
                named_ports,
                cache: HashMap::new(),
            });
            self.sides_prepared += 1;
            self.prepared[self.class_ns[c]] = true;
        }
        self.sides[c][dir(d)]
            .as_mut()
            .expect("the side was just resolved")
    }

    /// The id of a projection, with the projected key of every class.
    fn intern(&mut self, p: Projection) -> usize {
        if let Some(id) = self.proj_index.get(&p) {
            return *id;
        }
        // Once per label set, not per class.
        let mut ids: HashMap<Seen<'_>, usize> = HashMap::new();
        let of_set: Vec<usize> = self
            .label_sets
            .iter()
            .map(|&pod| {
                let n = ids.len();
                *ids.entry(p.key(&self.model.pods[pod].labels)).or_insert(n)
            })
            .collect();
        drop(ids);
        let keys: Vec<usize> = self.label_set.iter().map(|l| of_set[*l]).collect();
        self.projected.push(keys);
        self.by_key.push(None);
        let id = self.projected.len() - 1;
        self.proj_index.insert(p, id);
        id
    }

    /// The classes of each projected key of a projection.
    fn by_key(&mut self, p: usize) -> &[Vec<usize>] {
        if self.by_key[p].is_none() {
            let mut out: Vec<Vec<usize>> = Vec::new();
            for (c, k) in self.projected[p].iter().enumerate() {
                if out.len() <= *k {
                    out.resize(k + 1, Vec::new());
                }
                out[*k].push(c);
            }
            self.by_key[p] = Some(out);
        }
        self.by_key[p].as_deref().unwrap_or_default()
    }

    /// Side verdicts of the pod `me` in `d` against each of `others`, as masks per
    /// target: the side is prepared once per target for all of them.
    fn side_masks(&self, me: usize, d: Direction, others: &[Endpoint]) -> Vec<Vec<Mask>> {
        let mut out = Vec::new();
        let mut per: Vec<Vec<Mask>> = vec![Vec::with_capacity(self.evals.len()); others.len()];
        for e in self.evals {
            let prepared = e.prepare_side(&self.model, &self.numbering, me, d);
            for (k, other) in others.iter().enumerate() {
                out.clear();
                prepared(*other, &self.ports, &mut out);
                let mut m = vec![0u64; self.words()];
                for (i, ok) in out.iter().enumerate() {
                    if *ok {
                        m[i / 64] |= 1 << (i % 64);
                    }
                }
                per[k].push(m);
            }
        }
        per
    }

    /// The side of class `c` in direction `d`, against the class `o` (a pod of it other
    /// than `c`'s representative). `None` when there is no such pod.
    fn pod_side(&mut self, c: usize, d: Direction, o: usize) -> Option<usize> {
        let me = self.classes[c][0];
        let o_ns = self.class_ns[o];
        let side = self.side(c, d);
        let told = side.namespaces.as_ref().is_none_or(|s| s.contains(&o_ns));
        let (told_apart, projection, named_ports) =
            (side.namespaces.is_some(), side.projection, side.named_ports);
        let key = if told_apart {
            let ns = if told { o_ns } else { UNNAMED };
            let named = if named_ports { self.named_id[o] } else { 0 };
            (ns, self.projected[projection][o], named)
        } else {
            (o, 0, 0)
        };
        if let Some(m) = self.sides[c][dir(d)]
            .as_ref()
            .and_then(|s| s.cache.get(&key))
        {
            if !(o == c && self.classes[c].len() < 2) {
                return Some(*m);
            }
        }
        let other = if told {
            *self.classes[o].iter().find(|p| **p != me)?
        } else {
            self.unnamed_pod[o]
        };
        let m = self
            .side_masks(me, d, &[Endpoint::Pod(other)])
            .pop()
            .unwrap_or_default();
        self.empty.push(m.iter().all(is_empty));
        self.masks.push(m);
        let id = self.masks.len() - 1;
        self.side(c, d).cache.insert(key, id);
        Some(id)
    }

    fn run(mut self) -> Map {
        let pairs = self.pairs(None);
        let targets: Vec<String> = self.evals.iter().map(|e| e.name().to_string()).collect();
        // Per pair, one entry per distinct mask with the targets that have it.
        let mut entries = Vec::new();
        for ((from, to), masks) in pairs {
            let mut groups: BTreeMap<&Mask, Vec<usize>> = BTreeMap::new();
            for (k, m) in masks.iter().enumerate() {
                if !is_empty(m) {
                    groups.entry(m).or_default().push(k);
                }
            }
            for (m, ts) in groups {
                entries.push(((from, to), m.clone(), ts));
            }
        }
        let (rows, groups) = self.keyed_rows(entries);
        let mut rows: Vec<Row> = rows
            .into_iter()
            .map(|(mut r, ts)| {
                r.targets = ts.iter().map(|k| targets[*k].clone()).collect();
                r
            })
            .collect();
        rows.sort();
        let namespaces: BTreeSet<usize> = self.class_ns.iter().copied().collect();
        Map {
            groups,
            rows,
            pods: self.classes.iter().map(Vec::len).sum(),
            classes: self.classes.len(),
            namespaces: namespaces.len(),
            targets,
        }
    }

    /// The ports (per evaluator) on which class `s` reaches class `d`: both sides' masks
    /// intersected; `None` when a side is missing or allows nothing. `ingress_first`
    /// computes the ingress side first (cheaper when it tells apart few sources).
    fn pair_masks(&mut self, s: usize, d: usize, ingress_first: bool) -> Option<Vec<Mask>> {
        let mut side = |c: usize, dir: Direction, o: usize| {
            self.pod_side(c, dir, o).filter(|&x| !self.empty[x])
        };
        let (e, i) = if ingress_first {
            let i = side(d, Direction::Ingress, s)?;
            (side(s, Direction::Egress, d)?, i)
        } else {
            let e = side(s, Direction::Egress, d)?;
            (e, side(d, Direction::Ingress, s)?)
        };
        let (e, i) = (&self.masks[e], &self.masks[i]);
        let both: Vec<Mask> = (0..self.evals.len())
            .map(|k| e[k].iter().zip(&i[k]).map(|(a, b)| a & b).collect())
            .collect();
        (!both.iter().all(is_empty)).then_some(both)
    }

    /// The pairs of ends (classes `0..n`, address atoms `n..`) that some evaluator
    /// allows on some port, with the masks per evaluator. With a focus, only pairs whose
    /// source's egress side or destination's ingress side is in focus; a side is
    /// prepared only when such a pair meets it.
    fn pairs(&mut self, focus: Option<&ClassFocus>) -> Vec<((usize, usize), Vec<Mask>)> {
        // Sides are prepared again for each other end that misses the cache: the
        // evaluators may keep what they work out per pod (the intended meaning, which
        // rules attach to it) while the model stays where it is.
        for e in self.evals {
            e.expect_model(&self.model);
        }
        let n = self.classes.len();
        let egress_in = |f: Option<&ClassFocus>, ns: usize| f.is_none_or(|f| f.egress[ns]);
        let ingress_in = |f: Option<&ClassFocus>, ns: usize| f.is_none_or(|f| f.ingress[ns]);
        // (from, to) endpoints: classes are 0..n, atoms n.. ; masks per target.
        let mut pairs: Vec<((usize, usize), Vec<Mask>)> = Vec::new();
        let mut by_ns: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (c, ns) in self.class_ns.iter().enumerate() {
            by_ns.entry(*ns).or_default().push(c);
        }
        let mut candidates: Vec<usize> = Vec::new();
        for s in 0..n {
            if !egress_in(focus, self.class_ns[s]) {
                continue;
            }
            // The destinations worth a look: every class of the namespaces the egress side
            // tells apart, and of the others only those whose group (all alike to the
            // side) it allows somewhere.
            candidates.clear();
            let side = self.side(s, Direction::Egress);
            match (&side.namespaces, side.named_ports) {
                (Some(told), false) => {
                    let told = told.clone();
                    let projection = side.projection;
                    for ns in &told {
                        candidates.extend(by_ns.get(ns).into_iter().flatten());
                    }
                    let groups = self.by_key(projection).to_vec();
                    for group in &groups {
                        let outside: Vec<usize> = group
                            .iter()
                            .copied()
                            .filter(|c| !told.contains(&self.class_ns[*c]))
                            .collect();
                        let Some(&first) = outside.first() else {
                            continue;
                        };
                        if let Some(e) = self.pod_side(s, Direction::Egress, first) {
                            if !self.empty[e] {
                                candidates.extend(outside);
                            }
                        }
                    }
                    candidates.sort_unstable();
                }
                _ => candidates.extend(0..n),
            }
            for &dcls in &candidates {
                if let Some(both) = self.pair_masks(s, dcls, false) {
                    pairs.push(((s, dcls), both));
                }
            }
        }
        // Destinations in focus, from sources out of it: the ingress side first (it
        // tells apart few sources), then the source's egress.
        if let Some(f) = focus {
            for dcls in 0..n {
                if !f.ingress[self.class_ns[dcls]] {
                    continue;
                }
                for s in 0..n {
                    if f.egress[self.class_ns[s]] {
                        continue;
                    }
                    if let Some(both) = self.pair_masks(s, dcls, true) {
                        pairs.push(((s, dcls), both));
                    }
                }
            }
        }
        // Address ranges: each side in focus prepared once for all of them.
        let others: Vec<Endpoint> = self
            .atoms
            .iter()
            .map(|(ip, _)| Endpoint::External(*ip))
            .collect();
        for c in 0..n {
            let ns = self.class_ns[c];
            let me = self.classes[c][0];
            for (d, wanted) in [
                (Direction::Egress, egress_in(focus, ns)),
                (Direction::Ingress, ingress_in(focus, ns)),
            ] {
                if !wanted || others.is_empty() {
                    continue;
                }
                let masks = self.side_masks(me, d, &others);
                for (a, m) in masks.into_iter().enumerate() {
                    if !m.iter().all(is_empty) {
                        pairs.push(match d {
                            Direction::Egress => ((c, n + a), m),
                            Direction::Ingress => ((n + a, c), m),
                        });
                    }
                }
            }
        }
        pairs
    }

    /// Rows from (pair, ports, key) entries: pairs with the same destination, ports and
    /// key merged by source, then by destination, then grouped by namespace patterns.
    #[allow(clippy::type_complexity)]
    fn keyed_rows<K: Ord + Clone>(
        &self,
        entries: Vec<((usize, usize), Mask, K)>,
    ) -> (Vec<(Row, K)>, Vec<(String, Vec<String>)>) {
        let mut by_to: BTreeMap<(usize, Mask, K), BTreeSet<usize>> = BTreeMap::new();
        for ((from, to), m, k) in entries {
            by_to.entry((to, m, k)).or_default().insert(from);
        }
        let mut by_from: BTreeMap<(BTreeSet<usize>, Mask, K), BTreeSet<usize>> = BTreeMap::new();
        for ((to, m, k), froms) in by_to {
            by_from.entry((froms, m, k)).or_default().insert(to);
        }
        let names = self.class_names();
        let rows: Vec<(Row, K)> = by_from
            .into_iter()
            .map(|((froms, m, k), tos)| {
                (
                    Row {
                        from: self.render_set(&froms, &names),
                        to: self.render_set(&tos, &names),
                        ports: self.render_ports(&m),
                        targets: Vec::new(),
                        group: None,
                    },
                    k,
                )
            })
            .collect();
        self.group_namespaces(rows)
    }

    /// Rows that stay inside one namespace and read the same in several namespaces
    /// (but for the namespace's name) become one pattern row over a group of them.
    #[allow(clippy::type_complexity)]
    fn group_namespaces<K: Ord + Clone>(
        &self,
        rows: Vec<(Row, K)>,
    ) -> (Vec<(Row, K)>, Vec<(String, Vec<String>)>) {
        let with_pods: BTreeSet<&str> = self
            .class_ns
            .iter()
            .map(|n| self.ns_names[*n].as_str())
            .collect();
        // Pattern (with `\0` for the namespace) → namespaces.
        let mut patterns: BTreeMap<(Row, K), Vec<String>> = BTreeMap::new();
        let mut out = Vec::new();
        for (r, k) in rows {
            let first = r
                .from
                .first()
                .and_then(|e| e.split_once('/'))
                .map(|(n, _)| n);
            let ns = first.filter(|n| {
                with_pods.contains(n)
                    && r.from
                        .iter()
                        .chain(&r.to)
                        .all(|e| e.split_once('/').is_some_and(|(m, _)| m == *n))
            });
            match ns {
                Some(ns) => {
                    let ns = ns.to_string();
                    let strip = |v: &[String]| -> Vec<String> {
                        v.iter().map(|e| format!("\0{}", &e[ns.len()..])).collect()
                    };
                    let key = Row {
                        from: strip(&r.from),
                        to: strip(&r.to),
                        ports: r.ports.clone(),
                        targets: r.targets.clone(),
                        group: None,
                    };
                    patterns.entry((key, k)).or_default().push(ns);
                }
                None => out.push((r, k)),
            }
        }
        let mut groups: BTreeMap<Vec<String>, String> = BTreeMap::new();
        let mut order: Vec<(String, Vec<String>)> = Vec::new();
        for ((pattern, k), names) in patterns {
            if names.len() == 1 {
                let put = |v: &[String]| -> Vec<String> {
                    v.iter().map(|e| e.replacen('\0', &names[0], 1)).collect()
                };
                out.push((
                    Row {
                        from: put(&pattern.from),
                        to: put(&pattern.to),
                        ..pattern
                    },
                    k,
                ));
                continue;
            }
            let g = groups
                .entry(names.clone())
                .or_insert_with(|| {
                    let g = format!("NS{}", order.len() + 1);
                    order.push((g.clone(), names.clone()));
                    g
                })
                .clone();
            let put = |v: &[String]| -> Vec<String> {
                v.iter()
                    .map(|e| e.replacen('\0', &format!("{{{g}}}"), 1))
                    .collect()
            };
            out.push((
                Row {
                    from: put(&pattern.from),
                    to: put(&pattern.to),
                    group: Some(g.clone()),
                    ..pattern
                },
                k,
            ));
        }
        (out, order)
    }

    /// `app=web` for each class: its labels on the keys any rule tests, made unique
    /// within the namespace (all labels, then a number, when that is not enough).
    fn class_names(&self) -> Vec<String> {
        let all = self.label_keys.0;
        let keys: BTreeSet<&String> = self.label_keys.1.iter().collect();
        let label_text = |labels: &BTreeMap<String, String>, only: Option<&BTreeSet<&String>>| {
            let parts: Vec<String> = labels
                .iter()
                .filter(|(k, _)| only.is_none_or(|o| o.contains(k)))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if parts.is_empty() {
                "(no labels)".to_string()
            } else {
                parts.join(",")
            }
        };
        let n = self.classes.len();
        let rep = |c: usize| &self.model.pods[self.classes[c][0]];
        let mut names: Vec<String> = (0..n)
            .map(|c| label_text(&rep(c).labels, (!all).then_some(&keys)))
            .collect();
        for round in 0..2 {
            let mut seen: BTreeMap<(usize, &String), Vec<usize>> = BTreeMap::new();
            for (c, name) in names.iter().enumerate() {
                seen.entry((self.class_ns[c], name)).or_default().push(c);
            }
            let clashes: Vec<Vec<usize>> = seen.into_values().filter(|v| v.len() > 1).collect();
            for group in clashes {
                for (k, c) in group.into_iter().enumerate() {
                    names[c] = if round == 0 {
                        label_text(&rep(c).labels, None)
                    } else {
                        format!("{}#{}", names[c], k + 1)
                    };
                }
            }
        }
        names
    }

    fn render_set(&self, set: &BTreeSet<usize>, names: &[String]) -> Vec<String> {
        let n = self.classes.len();
        let mut out = Vec::new();
        let pods: Vec<usize> = set.iter().copied().filter(|e| *e < n).collect();
        if pods.len() == n {
            out.push("*".to_string());
        } else {
            let direct = self.render_pods(&pods, names);
            let inverse = (pods.len() > n / 2).then(|| {
                let rest: Vec<usize> = (0..n).filter(|c| !set.contains(c)).collect();
                self.render_pods(&rest, names)
            });
            match inverse {
                Some(inverse) if inverse.len() < direct.len() => {
                    out.push(format!("* except [{}]", inverse.join(", ")));
                }
                _ => out.extend(direct),
            }
        }
        let atoms: Vec<&String> = set
            .iter()
            .filter(|e| **e >= n)
            .map(|e| &self.atoms[e - n].1)
            .collect();
        if atoms.len() == self.atoms.len() && !atoms.is_empty() {
            out.push("any address".to_string());
        } else {
            out.extend(atoms.into_iter().cloned());
        }
        out
    }

    fn render_pods(&self, pods: &[usize], names: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        let mut by_ns: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for c in pods {
            by_ns.entry(self.class_ns[*c]).or_default().push(*c);
        }
        for (ns, cs) in by_ns {
            let name = &self.ns_names[ns];
            if cs.len() == self.ns_classes[ns].len() {
                out.push(format!("{name}/*"));
            } else if self.describe {
                out.extend(
                    self.cover(ns, &cs, names)
                        .iter()
                        .map(|d| format!("{name}/{d}")),
                );
            } else {
                out.extend(cs.iter().map(|c| format!("{name}/{}", names[*c])));
            }
        }
        out
    }

    /// Names a set of classes of one namespace by label pairs whose classes (in that
    /// namespace) all belong to the set, largest first; the rest by class names.
    fn cover(&self, ns: usize, set: &[usize], names: &[String]) -> Vec<String> {
        // The namespace's classes, listed once (a scan of every class of the model for
        // each namespace drawn made `graph` quadratic in the namespaces).
        let all = &self.ns_classes[ns];
        let labels = |c: usize| &self.model.pods[self.classes[c][0]].labels;
        let wanted: BTreeSet<usize> = set.iter().copied().collect();
        let mut candidates: BTreeMap<(&String, &String), BTreeSet<usize>> = BTreeMap::new();
        for &c in all {
            for (k, v) in labels(c) {
                candidates.entry((k, v)).or_default().insert(c);
            }
        }
        candidates.retain(|_, cs| cs.is_subset(&wanted));
        let mut left = wanted.clone();
        let mut out = Vec::new();
        while !left.is_empty() {
            let best = candidates
                .iter()
                .map(|(kv, cs)| (cs.intersection(&left).count(), std::cmp::Reverse(*kv), cs))
                .filter(|(n, _, _)| *n > 1)
                .max_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
            let Some((_, std::cmp::Reverse((k, v)), cs)) = best else {
                break;
            };
            out.push(format!("{k}={v}"));
            for c in cs {
                left.remove(c);
            }
        }
        out.extend(left.iter().map(|c| names[*c].clone()));
        out.sort();
        out
    }

    fn render_ports(&self, m: &Mask) -> Vec<String> {
        let mut runs: Vec<(Protocol, u16, u16)> = Vec::new();
        for (i, (p, first, last)) in self.samples.iter().enumerate() {
            if m[i / 64] & (1 << (i % 64)) == 0 {
                continue;
            }
            match runs.last_mut() {
                Some((q, _, end)) if q == p && u32::from(*end) + 1 == u32::from(*first) => {
                    *end = *last;
                }
                _ => runs.push((*p, *first, *last)),
            }
        }
        runs.into_iter()
            .map(|(p, a, b)| {
                let proto = p.as_str().to_ascii_lowercase();
                match (a, b) {
                    (1, 65535) => format!("all/{proto}"),
                    (a, b) if a == b => format!("{a}/{proto}"),
                    (a, b) => format!("{a}-{b}/{proto}"),
                }
            })
            .collect()
    }
}

/// One address per range that the networks cut the address space into (outside the
/// pods' addresses), named by the smallest network holding it (`world` when none does,
/// with `except` for the networks inside it).
fn atoms(nets: &BTreeSet<IpNet>, pods: &[IpAddr]) -> Vec<(IpAddr, String)> {
    let nets: BTreeSet<IpNet> = nets.iter().map(IpNet::trunc).collect();
    let nets = &nets;
    let mut cands: BTreeSet<IpAddr> = BTreeSet::new();
    cands.insert(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)));
    cands.insert(IpAddr::V6(Ipv6Addr::new(
        0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888,
    )));
    for n in nets {
        cands.insert(n.network());
        cands.insert(n.broadcast());
        for ip in [adjacent(n.network(), false), adjacent(n.broadcast(), true)]
            .into_iter()
            .flatten()
        {
            cands.insert(ip);
        }
    }
    let mut by_name: BTreeMap<String, IpAddr> = BTreeMap::new();
    for ip in cands {
        if ip.is_unspecified() || pods.binary_search(&ip).is_ok() {
            continue;
        }
        let holding: Vec<&IpNet> = nets.iter().filter(|n| n.contains(&ip)).collect();
        let name = match holding.iter().max_by_key(|n| n.prefix_len()) {
            None if ip.is_ipv4() => with_except("world".into(), nets, |n| {
                n.network().is_ipv4() && n.prefix_len() > 0
            }),
            None => with_except("world (IPv6)".into(), nets, |n| {
                !n.network().is_ipv4() && n.prefix_len() > 0
            }),
            Some(net) => {
                let net = **net;
                with_except(net.to_string(), nets, |n| *n != net && net.contains(n))
            }
        };
        by_name.entry(name).or_insert(ip);
    }
    by_name.into_iter().map(|(n, ip)| (ip, n)).collect()
}

/// `name except a, b` for the outermost networks selected by `inside`.
fn with_except(name: String, nets: &BTreeSet<IpNet>, inside: impl Fn(&IpNet) -> bool) -> String {
    let inner: Vec<&IpNet> = nets.iter().filter(|n| inside(n)).collect();
    let outer: Vec<String> = inner
        .iter()
        .filter(|n| !inner.iter().any(|m| m != *n && m.contains(**n)))
        .map(|n| n.to_string())
        .collect();
    if outer.is_empty() {
        name
    } else {
        format!("{name} except [{}]", outer.join(", "))
    }
}
