//! Property tests of translation validation: random intent repositories, written as YAML
//! text and compiled through `netpolc_driver` like `netpolc build` does, rendered by every
//! back end that accepts them and read back from the emitted YAML, evaluated on every
//! flow of the model derived from the program (`netpolc_ir::derive`).
//!
//! - `every_backend_means_what_the_intents_say`: each back end's verdict equals the
//!   intended one on every flow (4,000 cases).
//! - `no_backend_allows_what_the_intents_do_not`: no back end allows a flow the intents
//!   deny or do not allow, with random back-end options (3,000 cases, larger models).
//! - `emitted_objects_are_valid_and_deterministic`: every emitted object passes its back
//!   end's server- or agent-side validation, reads back unchanged, and renders the same
//!   twice (3,000 cases).
//!
//! The generator stays inside what every back end can express in principle (no ICMP,
//! FQDN, L7, `host` or `kube-apiserver`) but is otherwise free: 1–3 namespaces with
//! intent sets and sometimes a ClusterIntentSet, random isolation and presets, pod groups
//! with `matchLabels`/`matchExpressions` over a small alphabet, namespace groups by name or
//! label, external CIDRs with holes (some containing the cluster networks, which the front
//! end carves out), single ports, ranges, named ports and whole protocols over TCP, UDP
//! and SCTP, allows and denies. A back end that refuses a program with a diagnostic is
//! fine, but refusals are counted and must stay under half of the programs, so that the
//! properties are not vacuous.
//!
//! Cost: the derived model grows quickly (flows are pods² × ports, and every namespace
//! and label multiplies pods), and in debug builds a Calico or Cilium verdict costs about
//! 10 µs, so the alphabet is small, most repositories have one namespace, and a program
//! whose model exceeds [`Demand::max_flows`] is regenerated (counted, at most a quarter).
//! The three properties take about 1.5 minutes of CPU each on this machine in debug mode.
//!
//! The runs are deterministic (a fixed seed, no persistence file);
//! `NETPOLC_PROPTEST_SEED` and `NETPOLC_PROPTEST_CASES` change seed and case count for
//! local bug hunts. No disagreement has been found so far; one that is should be kept as a
//! named regression test with its minimal YAML (see `the_checks_can_fail` for the shape
//! of a failure report).

use netpolc_driver::load::{File, Loaded};
use netpolc_driver::{verify, Options, Target};
use netpolc_ir::model::{ClusterModel, Evaluator};
use netpolc_ir::Program;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::Instant;

const NAMESPACES: [&str; 3] = ["alpha", "beta", "gamma"];
/// Namespaces a group may name: the possibly managed ones and the DNS namespace.
const NAMED_NAMESPACES: [&str; 4] = ["alpha", "beta", "gamma", "kube-system"];
/// Pod label keys and the values each may take (kept small: every key and value
/// multiplies the pods of the derived model).
const POD_LABELS: [(&str, &[&str]); 2] = [("app", &["a", "b"]), ("role", &["x"])];
const NS_LABELS: [(&str, &[&str]); 2] = [("tier", &["x", "y"]), ("env", &["prod"])];
/// External blocks: outside the cluster networks, or containing them (carved out).
const CIDRS: [&str; 7] = [
    "203.0.113.0/24",
    "{cidr: 198.51.100.0/24, except: [198.51.100.128/25]}",
    "192.0.2.0/25",
    "0.0.0.0/0",
    "{cidr: 10.0.0.0/8, except: [10.1.0.0/16, 10.96.0.0/11]}",
    "{cidr: '2001:db8::/32', except: ['2001:db8:1::/48']}",
    "169.254.169.254/32",
];
/// Ports around 80 and 81 (neighbouring numbers share the model's probe ports), a named
/// port, and whole protocols.
const PORTS: [&str; 11] = [
    "80/tcp",
    "81/tcp",
    "80-81/tcp",
    "80/udp",
    "80-81/udp",
    "http/tcp",
    "dns/udp",
    "tcp",
    "udp",
    "80/sctp",
    "sctp",
];
const PRESETS: [&str; 4] = [
    "allow-dns",
    "block-cloud-metadata",
    "allow-same-namespace",
    "default-deny",
];

/// One label requirement of a generated selector.
#[derive(Clone, Debug)]
enum Req {
    Absent,
    Eq(usize),
    In(Vec<usize>),
    NotIn(Vec<usize>),
    Exists,
    DoesNotExist,
}

/// A selector with at most one requirement per key, so it can never contradict itself.
#[derive(Clone, Debug)]
struct Selector {
    reqs: Vec<Req>,
    long_form: bool,
}

impl Selector {
    fn yaml(&self, alphabet: &[(&str, &[&str])]) -> String {
        let mut labels = Vec::new();
        let mut exprs = Vec::new();
        for ((k, values), r) in alphabet.iter().zip(&self.reqs) {
            let list = |vs: &[usize]| vs.iter().map(|v| values[*v]).collect::<Vec<_>>().join(", ");
            match r {
                Req::Absent => {}
                Req::Eq(v) => labels.push(format!("{k}: {}", values[*v])),
                Req::In(vs) => exprs.push(format!(
                    "{{key: {k}, operator: In, values: [{}]}}",
                    list(vs)
                )),
                Req::NotIn(vs) => exprs.push(format!(
                    "{{key: {k}, operator: NotIn, values: [{}]}}",
                    list(vs)
                )),
                Req::Exists => exprs.push(format!("{{key: {k}, operator: Exists}}")),
                Req::DoesNotExist => exprs.push(format!("{{key: {k}, operator: DoesNotExist}}")),
            }
        }
        if exprs.is_empty() && !self.long_form {
            return format!("{{{}}}", labels.join(", "));
        }
        let mut parts = Vec::new();
        if !labels.is_empty() {
            parts.push(format!("matchLabels: {{{}}}", labels.join(", ")));
        }
        if !exprs.is_empty() {
            parts.push(format!("matchExpressions: [{}]", exprs.join(", ")));
        }
        format!("{{{}}}", parts.join(", "))
    }
}

#[derive(Clone, Debug)]
enum Namespaces {
    Names(Vec<usize>),
    Labels(Selector),
}

#[derive(Clone, Debug)]
enum Group {
    Pods {
        selector: Option<Selector>,
        namespaces: Option<Namespaces>,
    },
    Cidrs(Vec<usize>),
    World,
    KubeDns,
}

impl Group {
    fn is_pods(&self) -> bool {
        matches!(self, Group::Pods { .. } | Group::KubeDns)
    }
}

#[derive(Clone, Debug)]
enum Ref {
    Group(usize),
    All,
    Anywhere,
    World,
    KubeDns,
}

#[derive(Clone, Debug)]
struct Intent {
    from: Ref,
    to: Ref,
    ports: Option<Vec<usize>>,
    deny: bool,
}

#[derive(Clone, Debug)]
struct Set {
    isolate: (bool, bool),
    labels: Vec<Option<usize>>,
    presets: Vec<bool>,
    groups: Vec<Group>,
    intents: Vec<Intent>,
}

/// A ClusterIntentSet over the managed namespaces (only in the soundness property).
#[derive(Clone, Debug)]
struct Baseline {
    namespaces: Option<Selector>,
    isolate: (bool, bool),
    presets: Vec<bool>,
    intents: Vec<Intent>,
}

#[derive(Clone, Debug)]
struct Repo {
    sets: Vec<Set>,
    baseline: Option<Baseline>,
}

impl Repo {
    fn yaml(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.sets.iter().enumerate() {
            let ns = NAMESPACES[i];
            let _ = writeln!(out, "---\napiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {{name: {ns}}}\nspec:\n  namespace: {ns}");
            let labels: Vec<String> = NS_LABELS
                .iter()
                .zip(&s.labels)
                .filter_map(|((k, vs), v)| v.map(|v| format!("{k}: {}", vs[v])))
                .collect();
            if !labels.is_empty() {
                let _ = writeln!(out, "  namespaceLabels: {{{}}}", labels.join(", "));
            }
            write_common(&mut out, s.isolate, &s.presets, |_| true);
            if !s.groups.is_empty() {
                out.push_str("  groups:\n");
                for (g, group) in s.groups.iter().enumerate() {
                    let _ = writeln!(out, "    g{g}: {}", group_yaml(group));
                }
            }
            write_intents(&mut out, &s.intents, |r| resolve(r, &s.groups));
        }
        if let Some(b) = &self.baseline {
            let mut spec = String::new();
            if let Some(sel) = &b.namespaces {
                let _ = writeln!(spec, "  namespaces: {}", sel.yaml(&NS_LABELS));
            }
            write_common(&mut spec, b.isolate, &b.presets, |p| {
                p != "allow-same-namespace"
            });
            // A baseline only has the built-in groups: its pod groups would need namespaces.
            write_intents(&mut spec, &b.intents, |r| match r {
                Ref::Group(_) | Ref::All => "all".to_string(),
                other => resolve(other, &[]),
            });
            let spec = if spec.is_empty() {
                " {}\n".to_string()
            } else {
                format!("\n{spec}")
            };
            let _ = write!(out, "---\napiVersion: netpolc.dev/v1alpha1\nkind: ClusterIntentSet\nmetadata: {{name: baseline}}\nspec:{spec}");
        }
        // Nodes declared: the model then has a node address, which Calico and Kubernetes
        // match by address and Cilium only as `remote-node`.
        out.push_str("---\napiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\nspec:\n  nodeCIDRs: [192.168.0.0/24]\n");
        out
    }
}

fn write_common(
    out: &mut String,
    isolate: (bool, bool),
    presets: &[bool],
    keep: impl Fn(&str) -> bool,
) {
    let dirs: Vec<&str> = [(isolate.0, "ingress"), (isolate.1, "egress")]
        .iter()
        .filter(|(b, _)| *b)
        .map(|(_, d)| *d)
        .collect();
    if !dirs.is_empty() {
        let _ = writeln!(out, "  isolate: [{}]", dirs.join(", "));
    }
    let presets: Vec<&str> = PRESETS
        .iter()
        .zip(presets)
        .filter(|(p, b)| **b && keep(p))
        .map(|(p, _)| *p)
        .collect();
    if !presets.is_empty() {
        let _ = writeln!(out, "  presets: [{}]", presets.join(", "));
    }
}

fn write_intents(out: &mut String, intents: &[Intent], name: impl Fn(&Ref) -> String) {
    if intents.is_empty() {
        return;
    }
    out.push_str("  intents:\n");
    for (i, intent) in intents.iter().enumerate() {
        let _ = write!(
            out,
            "    - {{name: i{i}, from: {}, to: {}",
            name(&intent.from),
            name(&intent.to)
        );
        if let Some(ports) = &intent.ports {
            let ports: Vec<&str> = ports.iter().map(|p| PORTS[*p]).collect();
            let _ = write!(out, ", ports: [{}]", ports.join(", "));
        }
        if intent.deny {
            out.push_str(", action: deny");
        }
        out.push_str("}\n");
    }
}

fn resolve(r: &Ref, groups: &[Group]) -> String {
    match r {
        Ref::Group(i) if !groups.is_empty() => format!("g{}", i % groups.len()),
        Ref::Group(_) | Ref::All => "all".into(),
        Ref::Anywhere => "anywhere".into(),
        Ref::World => "world".into(),
        Ref::KubeDns => "kube-dns".into(),
    }
}

fn group_yaml(g: &Group) -> String {
    match g {
        Group::Pods {
            selector,
            namespaces,
        } => {
            let mut parts = Vec::new();
            if let Some(s) = selector {
                parts.push(format!("selector: {}", s.yaml(&POD_LABELS)));
            }
            match namespaces {
                Some(Namespaces::Names(n)) => {
                    let names: Vec<&str> = n.iter().map(|i| NAMED_NAMESPACES[*i]).collect();
                    parts.push(format!("namespaces: [{}]", names.join(", ")));
                }
                Some(Namespaces::Labels(s)) => {
                    parts.push(format!("namespaces: {}", s.yaml(&NS_LABELS)))
                }
                None => {}
            }
            format!("{{{}}}", parts.join(", "))
        }
        Group::Cidrs(c) => {
            let items: Vec<&str> = c.iter().map(|i| CIDRS[*i]).collect();
            format!("{{cidrs: [{}]}}", items.join(", "))
        }
        Group::World => "{entity: world}".into(),
        Group::KubeDns => "{entity: kube-dns}".into(),
    }
}

// --- strategies ------------------------------------------------------------------------

fn req(values: usize) -> impl Strategy<Value = Req> {
    let idx: Vec<usize> = (0..values).collect();
    prop_oneof![
        3 => Just(Req::Absent),
        3 => (0..values).prop_map(Req::Eq),
        1 => prop::sample::subsequence(idx.clone(), 1..=values).prop_map(Req::In),
        1 => prop::sample::subsequence(idx, 1..=values).prop_map(Req::NotIn),
        1 => Just(Req::Exists),
        1 => Just(Req::DoesNotExist),
    ]
}

fn selector(alphabet: &[(&str, &[&str])]) -> impl Strategy<Value = Selector> {
    // The first key is used freely; the others rarely (each key multiplies the pods of
    // the derived model).
    let reqs: Vec<_> = alphabet
        .iter()
        .enumerate()
        .map(|(i, (_, values))| {
            if i == 0 {
                req(values.len()).boxed()
            } else {
                prop_oneof![4 => Just(Req::Absent), 1 => req(values.len())].boxed()
            }
        })
        .collect();
    (reqs, any::<bool>()).prop_map(|(reqs, long_form)| Selector { reqs, long_form })
}

fn group() -> impl Strategy<Value = Group> {
    let namespaces = prop_oneof![
        prop::sample::subsequence((0..NAMED_NAMESPACES.len()).collect::<Vec<_>>(), 1..=2)
            .prop_map(Namespaces::Names),
        selector(&NS_LABELS).prop_map(Namespaces::Labels),
    ];
    prop_oneof![
        10 => (prop::option::of(selector(&POD_LABELS)), prop::option::of(namespaces)).prop_map(|(selector, namespaces)| {
            let selector = if selector.is_none() && namespaces.is_none() { Some(Selector { reqs: vec![Req::Absent; POD_LABELS.len()], long_form: false }) } else { selector };
            Group::Pods { selector, namespaces }
        }),
        2 => (0..CIDRS.len()).prop_map(|c| Group::Cidrs(vec![c])),
        1 => prop::sample::subsequence((0..CIDRS.len()).collect::<Vec<_>>(), 2).prop_map(Group::Cidrs),
        1 => Just(Group::World),
        1 => Just(Group::KubeDns),
    ]
}

fn reference() -> impl Strategy<Value = Ref> {
    prop_oneof![
        8 => (0usize..4).prop_map(Ref::Group),
        2 => Just(Ref::All),
        1 => Just(Ref::Anywhere),
        1 => Just(Ref::World),
        1 => Just(Ref::KubeDns),
    ]
}

fn intent() -> impl Strategy<Value = Intent> {
    (
        reference(),
        reference(),
        prop::option::weighted(0.7, prop_oneof![3 => (0..PORTS.len()).prop_map(|p| vec![p]), 1 => prop::sample::subsequence((0..PORTS.len()).collect::<Vec<_>>(), 2)]),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(from, to, ports, deny)| Intent { from, to, ports, deny })
}

fn set() -> impl Strategy<Value = Set> {
    (
        // Mostly isolated: a deny on an open side is refused by the Kubernetes back end.
        (prop::bool::weighted(0.75), prop::bool::weighted(0.75)),
        NS_LABELS.iter().map(|(_, values)| prop::option::of(0..values.len())).collect::<Vec<_>>(),
        prop::collection::vec(prop::bool::weighted(0.1), PRESETS.len()),
        prop::collection::vec(group(), 0..=2),
        prop_oneof![3 => prop::collection::vec(intent(), 1..=2), 1 => prop::collection::vec(intent(), 3)],
    )
        .prop_map(|(isolate, labels, presets, groups, intents)| {
            let mut s = Set { isolate, labels, presets, groups, intents };
            // Every intent needs a pod at one end at least.
            for i in 0..s.intents.len() {
                let pod = |r: &Ref| match r {
                    Ref::Group(g) if !s.groups.is_empty() => s.groups[g % s.groups.len()].is_pods(),
                    Ref::Group(_) | Ref::All | Ref::KubeDns | Ref::Anywhere => true,
                    Ref::World => false,
                };
                if !pod(&s.intents[i].from) && !pod(&s.intents[i].to) {
                    s.intents[i].from = Ref::All;
                }
            }
            s
        })
}

fn baseline() -> impl Strategy<Value = Baseline> {
    (
        prop::option::of(selector(&NS_LABELS)),
        (any::<bool>(), any::<bool>()),
        prop::collection::vec(prop::bool::weighted(0.3), PRESETS.len()),
        prop::collection::vec(intent(), 0..=2),
    )
        .prop_map(|(namespaces, isolate, presets, mut intents)| {
            // Its intents only name built-in groups; `world` to `world` has no pod side.
            for i in &mut intents {
                if matches!((&i.from, &i.to), (Ref::World, Ref::World)) {
                    i.from = Ref::All;
                }
            }
            Baseline {
                namespaces,
                isolate,
                presets,
                intents,
            }
        })
}

fn repo() -> impl Strategy<Value = Repo> {
    let baseline = prop::option::weighted(0.3, baseline());
    // Mostly one namespace: every namespace adds pods to the model, and flows grow with
    // their square.
    let sets = prop_oneof![7 => prop::collection::vec(set(), 1), 2 => prop::collection::vec(set(), 2), 1 => prop::collection::vec(set(), 3)];
    (sets, baseline).prop_map(|(sets, baseline)| Repo { sets, baseline })
}

// --- the pipeline ----------------------------------------------------------------------

/// Compiles one YAML text as `policies/generated.yaml`; the program or the diagnostics.
fn compile(text: &str) -> Result<Program, String> {
    let mut loaded = Loaded::default();
    let name = "policies/generated.yaml".to_string();
    let id = loaded.sources.add(name.clone(), text.to_string());
    loaded.files.push(File {
        id,
        name,
        bytes: text.as_bytes().to_vec(),
    });
    let compiled = netpolc_driver::compile(&loaded);
    compiled
        .program
        .ok_or_else(|| netpolc_source::render_human(&loaded.sources, &compiled.diagnostics))
}

/// Counts over a run, to show the properties were not vacuous.
#[derive(Debug, Default)]
struct Stats {
    cases: usize,
    /// Generated programs whose model exceeded the size limit (regenerated).
    too_large: usize,
    front_end_refused: usize,
    refused: [usize; 3],
    flows: usize,
    /// Flows the intents deny (each checked on every accepted back end).
    intended_denied: usize,
    /// Largest model seen: (pods, ports).
    largest: (usize, usize),
    /// Sums of namespaces, pods, externals and ports of the models.
    sizes: [usize; 4],
    /// Milliseconds spent compiling and deriving, rendering and reading back, evaluating.
    millis: [u128; 3],
    first_refusal: [Option<String>; 3],
    first_front_end_refusal: Option<String>,
}

/// The number of cases: `default`, or `NETPOLC_PROPTEST_CASES` when set (for longer local
/// runs; CI uses the default).
fn cases(default: u32) -> u32 {
    std::env::var("NETPOLC_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A runner with a fixed seed (`NETPOLC_PROPTEST_SEED` picks another one for local bug
/// hunts) and no persistence file.
fn runner(cases: u32) -> TestRunner {
    let config = Config {
        failure_persistence: None,
        max_global_rejects: cases,
        ..Config::with_cases(cases)
    };
    let rng = match std::env::var("NETPOLC_PROPTEST_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(seed) => {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
        }
        None => TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    };
    TestRunner::new_with_rng(config, rng)
}

fn fail_with<T: std::fmt::Debug>(r: Result<(), TestError<T>>) {
    match r {
        Ok(()) => {}
        Err(TestError::Fail(why, value)) => {
            panic!("minimal failing input:\n{why}\n(generator value: {value:?})")
        }
        Err(TestError::Abort(why)) => panic!("aborted: {why}"),
    }
}

fn check_stats(what: &str, stats: &Stats) {
    eprintln!("{what}: {stats:?}");
    assert!(
        stats.front_end_refused * 20 <= stats.cases,
        "{what}: the front end refused {} of {} generated repositories",
        stats.front_end_refused,
        stats.cases
    );
    let accepted = stats.cases - stats.front_end_refused;
    for (t, n) in Target::ALL.iter().zip(stats.refused) {
        assert!(
            n * 2 < accepted,
            "{what}: {t} refused {n} of {accepted} programs; first: {:?}",
            stats.first_refusal
        );
    }
    assert!(
        stats.flows > stats.cases * 10,
        "{what}: only {} flows checked",
        stats.flows
    );
    assert!(
        stats.too_large * 4 < stats.cases,
        "{what}: {} programs were too large",
        stats.too_large
    );
}

/// Renders every target that accepts the program (counting refusals).
fn render_all(
    program: &Program,
    options: &Options,
    stats: &mut Stats,
) -> Vec<(Target, Vec<serde_json::Value>)> {
    let mut out = Vec::new();
    for (i, t) in Target::ALL.iter().enumerate() {
        match netpolc_driver::render(program, *t, options) {
            Ok(r) => out.push((*t, r.objects)),
            Err(d) => {
                stats.refused[i] += 1;
                if stats.first_refusal[i].is_none() {
                    stats.first_refusal[i] =
                        d.first().map(|d| format!("{}: {}", d.code, d.message));
                }
            }
        }
    }
    out
}

/// What a property demands of each flow.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Demand {
    /// The back end's verdict equals the intended one.
    Exact,
    /// The back end allows only what the intents allow.
    Sound,
}

impl Demand {
    /// The largest model (in flows) a case may have; larger ones are rejected and
    /// regenerated, so that the run stays within its time budget in debug builds (the
    /// Calico and Cilium evaluators cost about 10 µs a verdict there). About one program in
    /// six is that large; the soundness property, which evaluates back ends only on the
    /// flows the intents deny, takes larger ones.
    fn max_flows(self) -> usize {
        match self {
            Demand::Exact => 4000,
            Demand::Sound => 6000,
        }
    }
}

/// Compiles `text`, derives its model, renders every target that accepts it, reads the
/// emitted YAML back, and checks every flow of the model against the intended meaning
/// (computed once per flow). The error names the first few failing flows per target.
fn check(
    text: &str,
    options: &Options,
    demand: Demand,
    stats: &mut Stats,
) -> Result<(), TestCaseError> {
    let t0 = Instant::now();
    let program = match compile(text) {
        Ok(p) => p,
        Err(diagnostics) => {
            stats.cases += 1;
            stats.front_end_refused += 1;
            stats
                .first_front_end_refusal
                .get_or_insert(format!("{text}\n{diagnostics}"));
            return Ok(());
        }
    };
    let model = netpolc_ir::derive::derive(&program);
    let flows = model.flows();
    if flows.len() > demand.max_flows() {
        stats.too_large += 1;
        return Err(TestCaseError::reject("model too large"));
    }
    stats.cases += 1;
    let t1 = Instant::now();
    let rendered = render_all(&program, options, stats);
    let mut evaluators: Vec<(Target, Box<dyn Evaluator>)> = Vec::new();
    for (t, objects) in &rendered {
        let parsed = verify::round_trip(objects)
            .map_err(|e| TestCaseError::fail(format!("{text}\n{t}: {e}")))?;
        evaluators.push((
            *t,
            verify::evaluator(*t, &parsed)
                .map_err(|e| TestCaseError::fail(format!("{text}\n{t}: {e}")))?,
        ));
    }
    let t2 = Instant::now();
    let intended = netpolc_ir::eval::intended(&program);
    let mut failures: Vec<String> = Vec::new();
    let mut per_target = [0usize; 3];
    for f in &flows {
        let want = intended.verdict(&model, f);
        stats.intended_denied += usize::from(!want.allowed());
        for (i, (t, eval)) in evaluators.iter().enumerate() {
            if demand == Demand::Sound && want.allowed() {
                continue;
            }
            let got = eval.verdict(&model, f);
            let bad = match demand {
                Demand::Exact => got.allowed() != want.allowed(),
                Demand::Sound => got.allowed() && !want.allowed(),
            };
            if bad && per_target[i] < 3 {
                per_target[i] += 1;
                failures.push(format!(
                    "{t}: {}\n  intended: {} (egress: {}; ingress: {})\n  emitted:  {} (egress: {}; ingress: {})",
                    model.flow_name(f),
                    word(want.allowed()),
                    want.egress,
                    want.ingress,
                    word(got.allowed()),
                    got.egress,
                    got.ingress
                ));
            }
        }
    }
    let t3 = Instant::now();
    stats.flows += flows.len() * evaluators.len();
    stats.largest = stats.largest.max((model.pods.len(), model.ports.len()));
    for (sum, n) in stats.sizes.iter_mut().zip([
        model.namespaces.len(),
        model.pods.len(),
        model.externals.len(),
        model.ports.len(),
    ]) {
        *sum += n;
    }
    for (sum, d) in stats.millis.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2]) {
        *sum += d.as_millis();
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(TestCaseError::fail(format!(
            "{text}\n{}",
            failures.join("\n")
        )))
    }
}

fn word(allowed: bool) -> &'static str {
    if allowed {
        "allow"
    } else {
        "deny"
    }
}

#[test]
fn every_backend_means_what_the_intents_say() {
    let stats = RefCell::new(Stats::default());
    let strategy = (repo(), any::<bool>());
    let result = runner(cases(4000)).run(&strategy, |(r, sctp)| {
        let mut options = Options::default();
        options.cilium.sctp = sctp;
        check(&r.yaml(), &options, Demand::Exact, &mut stats.borrow_mut())
    });
    fail_with(result);
    check_stats("exact", &stats.into_inner());
}

#[test]
fn no_backend_allows_what_the_intents_do_not() {
    let stats = RefCell::new(Stats::default());
    let strategy = (repo(), any::<bool>(), any::<bool>());
    let result = runner(cases(3000)).run(&strategy, |(r, namespaced, sctp)| {
        let mut options = Options::default();
        options.calico.namespaced = namespaced;
        options.cilium.sctp = sctp;
        check(&r.yaml(), &options, Demand::Sound, &mut stats.borrow_mut())
    });
    fail_with(result);
    check_stats("sound", &stats.into_inner());
}

/// Every object every accepted back end emits passes that back end's own server- or
/// agent-side validation, reads back from the emitted YAML unchanged, and rendering twice
/// gives the same objects (cheap: no flow evaluation).
#[test]
fn emitted_objects_are_valid_and_deterministic() {
    let stats = RefCell::new(Stats::default());
    let strategy = (repo(), any::<bool>(), any::<bool>());
    let result = runner(cases(3000)).run(&strategy, |(r, namespaced, sctp)| {
        let mut options = Options::default();
        options.calico.namespaced = namespaced;
        options.cilium.sctp = sctp;
        let text = r.yaml();
        let mut stats = stats.borrow_mut();
        stats.cases += 1;
        let Ok(program) = compile(&text) else {
            stats.front_end_refused += 1;
            return Ok(());
        };
        for (t, objects) in render_all(&program, &options, &mut stats) {
            let again = netpolc_driver::render(&program, t, &options).map(|r| r.objects);
            prop_assert!(
                matches!(&again, Ok(o) if *o == objects),
                "{text}\n{t}: rendering twice differs"
            );
            let parsed = verify::round_trip(&objects).map_err(TestCaseError::fail)?;
            prop_assert!(
                parsed == objects,
                "{text}\n{t}: the emitted YAML reads back differently"
            );
            for o in &objects {
                let problems = t.backend().validate(o);
                prop_assert!(
                    problems.is_empty(),
                    "{text}\n{t}: {} is invalid: {problems:?}",
                    netpolc_driver::object_id(o)
                );
            }
        }
        Ok(())
    });
    fail_with(result);
    let stats = stats.into_inner();
    eprintln!("valid: {stats:?}");
    assert!(stats.front_end_refused * 20 <= stats.cases);
    let accepted = stats.cases - stats.front_end_refused;
    for n in stats.refused {
        assert!(n * 2 < accepted, "{:?}", stats.first_refusal);
    }
}

/// The checks can fail: with no manifests at all, the isolated side of the program is
/// open, which translation validation reports flow by flow, and an evaluator of no
/// policies allows flows the intents deny.
#[test]
fn the_checks_can_fail() {
    let text = "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: alpha}\nspec:\n  namespace: alpha\n  isolate: [ingress]\n  groups:\n    g0: {selector: {app: a}}\n  intents:\n    - {name: i0, from: g0, to: all, ports: [80/tcp]}\n";
    let program = compile(text).expect("compiles");
    let model: ClusterModel = netpolc_ir::derive::derive(&program);
    // No manifests at all: everything is open, so the isolated side is wrong.
    let found =
        verify::validate(&program, &model, &[(Target::Kubernetes, Vec::new())], 100).unwrap();
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|d| d.intended.starts_with("deny") && d.emitted.starts_with("allow")),
        "{found:?}"
    );
    let open = verify::evaluator(Target::Cilium, &[]).unwrap();
    let intended = netpolc_ir::eval::intended(&program);
    assert!(model
        .flows()
        .iter()
        .any(|f| !intended.verdict(&model, f).allowed() && open.verdict(&model, f).allowed()));
}

/// A deliberate fault planted in a back end's output.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Leave the output as it is.
    None,
    /// Drop the `k`-th object (modulo the count).
    DropObject(usize),
    /// Drop the first rule of the `k`-th rule list found (`ingress`, `egress`,
    /// `ingressDeny`, `egressDeny`).
    DropRule(usize),
    /// Move the `k`-th numeric port up by one.
    ShiftPort(usize),
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        1 => Just(Fault::None),
        2 => (0..64usize).prop_map(Fault::DropObject),
        2 => (0..64usize).prop_map(Fault::DropRule),
        1 => (0..64usize).prop_map(Fault::ShiftPort),
    ]
}

const RULE_LISTS: [&str; 4] = ["ingress", "egress", "ingressDeny", "egressDeny"];

/// Drops the first rule of the `n`-th non-empty rule list (counting with `seen`).
fn drop_nth_rule(v: &mut serde_json::Value, n: usize, seen: &mut usize) -> bool {
    use serde_json::Value;
    match v {
        Value::Object(map) => map.iter_mut().any(|(k, x)| match x {
            Value::Array(a) if RULE_LISTS.contains(&k.as_str()) && !a.is_empty() => {
                *seen += 1;
                if n.checked_add(1) == Some(*seen) {
                    a.remove(0);
                    true
                } else {
                    false
                }
            }
            _ => drop_nth_rule(x, n, seen),
        }),
        Value::Array(a) => a.iter_mut().any(|x| drop_nth_rule(x, n, seen)),
        _ => false,
    }
}

/// Adds one to the `n`-th numeric port (a number under a `port` key or in a `ports`
/// list).
fn shift_nth_port(v: &mut serde_json::Value, n: usize, seen: &mut usize) -> bool {
    use serde_json::Value;
    let bump = |x: &mut Value, seen: &mut usize| match x.as_u64() {
        Some(p) if p > 0 && p < 65535 => {
            *seen += 1;
            if n.checked_add(1) == Some(*seen) {
                *x = Value::from(p + 1);
                true
            } else {
                false
            }
        }
        _ => false,
    };
    match v {
        Value::Object(map) => map.iter_mut().any(|(k, x)| {
            if k == "port" && x.is_u64() {
                bump(x, seen)
            } else if k == "ports" {
                match x {
                    Value::Array(a) => a.iter_mut().any(|p| {
                        if p.is_u64() {
                            bump(p, seen)
                        } else {
                            shift_nth_port(p, n, seen)
                        }
                    }),
                    _ => shift_nth_port(x, n, seen),
                }
            } else {
                shift_nth_port(x, n, seen)
            }
        }),
        Value::Array(a) => a.iter_mut().any(|x| shift_nth_port(x, n, seen)),
        _ => false,
    }
}

/// Applies a fault; returns whether it changed anything.
fn plant(objects: &mut Vec<serde_json::Value>, fault: Fault) -> bool {
    match fault {
        Fault::None => false,
        Fault::DropObject(k) => {
            if objects.is_empty() {
                return false;
            }
            let k = k % objects.len();
            objects.remove(k);
            true
        }
        Fault::DropRule(k) => {
            let mut total = 0;
            for o in objects.iter() {
                drop_nth_rule(&mut o.clone(), usize::MAX, &mut total);
            }
            total > 0 && {
                let mut seen = 0;
                objects
                    .iter_mut()
                    .any(|o| drop_nth_rule(o, k % total, &mut seen))
            }
        }
        Fault::ShiftPort(k) => {
            let mut total = 0;
            for o in objects.iter() {
                shift_nth_port(&mut o.clone(), usize::MAX, &mut total);
            }
            total > 0 && {
                let mut seen = 0;
                objects
                    .iter_mut()
                    .any(|o| shift_nth_port(o, k % total, &mut seen))
            }
        }
    }
}

/// The exact proof (`netpolc_ir::proof`) against flow-by-flow enumeration, on random
/// programs whose back-end output sometimes carries a planted fault: whenever enumerating
/// every flow of the derived model finds a disagreement, the proof finds one too; every
/// disagreement the proof reports is real (the two verdicts of its witness flow differ);
/// and on faults that only remove objects or rules (which add nothing the derived model
/// lacks) both find a disagreement or neither does. Planted faults must be caught often
/// enough that the property is not vacuous.
#[test]
fn the_proof_agrees_with_enumeration() {
    #[derive(Default, Debug)]
    struct Count {
        cases: usize,
        faulty: usize,
        caught: usize,
        proof_only: usize,
    }
    let count = RefCell::new(Count::default());
    let strategy = (repo(), fault(), 0..3usize);
    let result = runner(cases(800)).run(&strategy, |(r, fault, which)| {
        let text = r.yaml();
        let Ok(program) = compile(&text) else {
            return Ok(());
        };
        let model = netpolc_ir::derive::derive(&program);
        let flows = model.flows();
        if flows.len() > Demand::Exact.max_flows() {
            return Err(TestCaseError::reject("model too large"));
        }
        let mut stats = Stats::default();
        let mut rendered = render_all(&program, &Options::default(), &mut stats);
        if rendered.is_empty() {
            return Ok(());
        }
        let pick = which % rendered.len();
        let (target, objects) = &mut rendered[pick];
        let faulty = plant(objects, fault);
        let removes_only = matches!(
            fault,
            Fault::None | Fault::DropObject(_) | Fault::DropRule(_)
        );
        let parsed = verify::round_trip(objects).map_err(TestCaseError::fail)?;
        let eval = match verify::evaluator(*target, &parsed) {
            Ok(e) => e,
            // A fault that makes the output unreadable (a policy naming a dropped Tier)
            // is caught before any flow is evaluated.
            Err(_) if faulty => {
                let mut c = count.borrow_mut();
                c.cases += 1;
                c.faulty += 1;
                c.caught += 1;
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(e)),
        };
        let intended = netpolc_ir::eval::intended(&program);
        let enumerated = flows
            .iter()
            .find(|f| intended.verdict(&model, f).allowed() != eval.verdict(&model, f).allowed());
        // The intended meaning's prepared sides answer as its flow-by-flow sides, whether
        // it keeps each pod's attached rules for this model (`expect_model`) or not.
        for expected in [false, true] {
            if expected {
                intended.expect_model(&model);
            }
            netpolc_ir::eval::every_prepared_side_agrees(
                &intended,
                &model,
                std::slice::from_ref(&model.ports),
            )
            .map_err(|flow| {
                TestCaseError::fail(format!(
                    "{text}\nthe intended meaning's prepared side differs on {flow} \
                         (expect_model: {expected})"
                ))
            })?;
        }
        let networks = program.profile.cluster_cidrs();
        let proof = netpolc_ir::proof::prove(&model, &networks, &intended, &[eval.as_ref()], 3);
        for f in &proof.findings {
            prop_assert!(
                f.intended.allowed() != f.actual.allowed(),
                "{text}\n{target} ({fault:?}): a finding that is no disagreement: {}",
                f.flow_name
            );
        }
        if let Some(f) = enumerated {
            prop_assert!(
                !proof.findings.is_empty(),
                "{text}\n{target} ({fault:?}): enumeration finds {} but the proof finds nothing",
                model.flow_name(f)
            );
        }
        if removes_only {
            prop_assert!(
                enumerated.is_some() != proof.findings.is_empty(),
                "{text}\n{target} ({fault:?}): the proof finds {:?}, enumeration nothing",
                proof
                    .findings
                    .iter()
                    .map(|f| &f.flow_name)
                    .collect::<Vec<_>>()
            );
        }
        let mut c = count.borrow_mut();
        c.cases += 1;
        c.faulty += usize::from(faulty);
        c.caught += usize::from(faulty && !proof.findings.is_empty());
        c.proof_only += usize::from(enumerated.is_none() && !proof.findings.is_empty());
        Ok(())
    });
    fail_with(result);
    let c = count.into_inner();
    eprintln!("proof vs enumeration: {c:?}");
    assert!(c.faulty * 3 > c.cases, "{c:?}");
    assert!(
        c.caught * 5 > c.faulty,
        "too few planted faults change meaning: {c:?}"
    );
}

/// Every evaluator's prepared side ([`Evaluator::prepare_side`], what the proof asks) answers
/// as its [`Evaluator::side`] does, for every pod, direction, other end and port, whether
/// the other ends come namespace by namespace (as the proof asks) or alternate between
/// namespaces (an evaluator that keeps what it found for the last namespace must not
/// answer for another with it).
#[test]
fn prepared_sides_answer_as_sides_do_in_any_order() {
    use netpolc_ir::eval::prepared_side_agrees;
    use netpolc_ir::model::Endpoint;
    use netpolc_ir::{Direction, Protocol};
    let checked = RefCell::new(0usize);
    let result = runner(cases(64)).run(&repo(), |r| {
        let text = r.yaml();
        let Ok(program) = compile(&text) else {
            return Ok(());
        };
        let model = netpolc_ir::derive::derive(&program);
        if model.pods.len() > 24 {
            return Err(TestCaseError::reject("model too large"));
        }
        let mut stats = Stats::default();
        let rendered = render_all(&program, &Options::default(), &mut stats);
        let mut evaluators: Vec<Box<dyn Evaluator + '_>> =
            vec![Box::new(netpolc_ir::eval::intended(&program))];
        for (target, objects) in &rendered {
            let parsed = verify::round_trip(objects).map_err(TestCaseError::fail)?;
            evaluators.push(verify::evaluator(*target, &parsed).map_err(TestCaseError::fail)?);
        }
        let mut ports: Vec<(Protocol, u16)> = model.ports.clone();
        ports.extend([(Protocol::Tcp, 1), (Protocol::Udp, 65535)]);
        // Other ends in the model's order (pods of a namespace together), and alternating
        // from both ends of that order (consecutive pods of different namespaces).
        let mut natural: Vec<Endpoint> = (0..model.pods.len()).map(Endpoint::Pod).collect();
        natural.extend(model.externals.iter().map(|ip| Endpoint::External(*ip)));
        let mut alternating = Vec::with_capacity(natural.len());
        let (mut lo, mut hi) = (0, natural.len());
        while lo < hi {
            alternating.push(natural[lo]);
            lo += 1;
            if lo < hi {
                hi -= 1;
                alternating.push(natural[hi]);
            }
        }
        for e in &evaluators {
            for me in 0..model.pods.len() {
                for d in Direction::BOTH {
                    for order in [&natural, &alternating] {
                        match prepared_side_agrees(e.as_ref(), &model, me, d, order, &ports) {
                            Ok(compared) => *checked.borrow_mut() += compared,
                            Err(m) => prop_assert!(
                                false,
                                "{}\n{}: the prepared {:?} side of {} says {:?}, side says {}",
                                text,
                                e.name(),
                                d,
                                model.flow_name(&m.flow),
                                m.prepared,
                                m.side
                            ),
                        }
                    }
                }
            }
        }
        Ok(())
    });
    fail_with(result);
    assert!(checked.into_inner() > 1000, "too few answers compared");
}
