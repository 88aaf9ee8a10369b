//! Lowering: typed documents → one whole-program [`Program`].
//!
//! This is where intents become directional rules. One intent `from → to` yields the
//! egress rule on every managed namespace the source's pods live in and the ingress rule
//! on every managed namespace the destination's pods live in, each only where that side
//! is isolated (allow) or always (deny). Presets expand here into ordinary intents, and
//! CIDR peers get the cluster's own networks carved out so that they mean external
//! addresses on every back end.
//!
//! This module reads the documents and drives the whole program ([`Cx::lower`]); the
//! methods of [`Cx`] for each concern live in its submodules: `profile` (the
//! ClusterProfile and isolation), `selectors`, `groups` (definitions and references),
//! `intents` (rules, ports, HTTP, sides), `order` (the rules in order, by keys given as
//! they are made) and `connectivity_tests`.

use crate::ast::*;
use crate::codes;
use crate::names::{cni_label_problem, dns_label_problem, label_key_problem, label_value_problem};
use crate::ports::parse_port;
use crate::yaml::{self, Node, Spanned};
use ipnet::{IpNet, Ipv4Net};
use netpolc_ir::{
    Action, CidrBlock, ClusterProfile, ConnectivityTest, Direction, Entity, Expect, HttpRule,
    Isolation, LabelSelector, ManagedNamespace, Op, Origin, Peer, PortMatch, Ports, Program,
    Protocol, Requirement, Rule, Scope, Subject, TestCase, TestEndpoint, NAMESPACE_NAME_LABEL,
};
use netpolc_source::{Diagnostic, FileId, SourceMap, Span};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};

mod connectivity_tests;
mod groups;
mod intents;
mod order;
mod profile;
mod selectors;

/// The presets, in the order they are documented.
pub const PRESETS: [&str; 5] = [
    "allow-dns",
    "allow-kube-apiserver",
    "allow-same-namespace",
    "block-cloud-metadata",
    "default-deny",
];

/// Built-in group names, usable in every set.
pub const BUILTIN_GROUPS: [&str; 6] = [
    "all",
    "anywhere",
    "host",
    "kube-apiserver",
    "kube-dns",
    "world",
];

/// The cloud metadata addresses `block-cloud-metadata` denies: the IPv4 address most
/// clouds share (AWS, GCP, Azure, OCI, DigitalOcean, OpenStack), Alibaba Cloud's, and the
/// IPv6 instance-metadata addresses of AWS (`fd00:ec2::254`), GCP (`fd20:ce::254`) and
/// OCI (`fd00:c1::a9fe:a9fe`). Sources in docs/intent-language.md.
pub const METADATA_CIDRS: [&str; 5] = [
    "169.254.169.254/32",
    "100.100.100.200/32",
    "fd00:ec2::254/128",
    "fd20:ce::254/128",
    "fd00:c1::a9fe:a9fe/128",
];

/// The result of compiling a repository: the program when there was no error, and every
/// diagnostic (errors, warnings and notes) in a deterministic order.
#[derive(Debug)]
pub struct Compiled {
    /// The program, `None` if any error was reported.
    pub program: Option<Program>,
    /// All diagnostics.
    pub diagnostics: Vec<Diagnostic>,
}

/// One input file: its id in the source map, its display name and raw bytes.
#[derive(Debug, Clone, Copy)]
pub struct InputFile<'a> {
    /// Id in the [`SourceMap`].
    pub id: FileId,
    /// Display name (`policies/production.yaml`).
    pub name: &'a str,
    /// The bytes as read (checked for UTF-8 by the loader).
    pub bytes: &'a [u8],
}

/// Compiles every file into one program. Files should be given sorted by name; the
/// result does not depend on their order anyway.
pub fn compile(sources: &SourceMap, files: &[InputFile<'_>]) -> Compiled {
    compile_with(sources, files, &Options::default())
}

/// Compilation options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The namespace of intent sets whose spec names none; without it such a set is an
    /// error.
    pub default_namespace: Option<String>,
    /// Where [`Options::default_namespace`] came from, as the user would name it
    /// (`--namespace`, `ARGOCD_APP_NAMESPACE`), for diagnostics.
    pub namespace_source: Option<String>,
}

/// [`compile`] with options.
pub fn compile_with(sources: &SourceMap, files: &[InputFile<'_>], options: &Options) -> Compiled {
    let mut files: Vec<InputFile<'_>> = files.to_vec();
    files.sort_by(|a, b| a.name.cmp(b.name));
    let fresh = || Cx {
        default_namespace: options.default_namespace.clone(),
        diags: Vec::new(),
        sets: Vec::new(),
        cluster_sets: Vec::new(),
        tests: Vec::new(),
        profiles: Vec::new(),
        incomplete: false,
        profile_namespaces: BTreeMap::new(),
        emptied: BTreeSet::new(),
        namespace_source: options.namespace_source.clone(),
        selectors: order::Selectors::default(),
        reach: Vec::new(),
    };
    let mut cx = fresh();
    // Files are parsed and their documents read on every core (each tree is dropped once
    // read), each into a `Cx` of its own, taken in order.
    let read = netpolc_ir::par::flat_map_into(
        netpolc_ir::par::threads(),
        files.iter().collect(),
        16,
        |f: &InputFile<'_>, out| {
            let mut one = fresh();
            match yaml::load_all(f.id, f.bytes, &yaml::Limits::default()) {
                Ok(nodes) => {
                    for node in &nodes {
                        one.read_document(f.name, node);
                    }
                }
                Err(d) => {
                    one.diags.extend(d);
                    one.incomplete = true;
                }
            }
            out.push(one);
        },
    );
    // Sized once: the documents of thousands of sets, grown one file at a time, would be
    // copied at each doubling on one core.
    cx.sets
        .reserve_exact(read.iter().map(|one| one.sets.len()).sum());
    for one in read {
        cx.absorb(one);
    }
    let program = cx.lower();
    let emptied = std::mem::take(&mut cx.emptied);
    let mut diagnostics = cx.diags;
    // Complaints about a mapping or list that faulty entries were left out of are
    // follow-ons of the problems already reported there.
    diagnostics.retain(|d| {
        d.code == yaml::codes::INVALID_DOCUMENT
            || !d.primary_span().is_some_and(|s| emptied.contains(&s))
    });
    sort_diagnostics(sources, &mut diagnostics);
    let has_error = diagnostics.iter().any(Diagnostic::is_error);
    Compiled {
        program: if has_error { None } else { program },
        diagnostics,
    }
}

/// Sorts diagnostics by file, position, severity and code, and drops exact duplicates.
pub fn sort_diagnostics(sources: &SourceMap, diags: &mut Vec<Diagnostic>) {
    let key = |d: &Diagnostic| {
        let (file, pos) = match d.primary_span() {
            Some(s) => (sources.get(s.file).name().to_string(), (s.start, s.end)),
            None => (d.file.clone().unwrap_or_default(), (0, 0)),
        };
        (file, pos, d.severity, d.code, d.message.clone())
    };
    diags.sort_by_key(key);
    diags.dedup();
}

struct SetDoc {
    file: String,
    name: Spanned<String>,
    /// `spec.namespace`, or the default namespace of the run.
    namespace: Spanned<String>,
    /// Whether `namespace` is the run's default (`--namespace`), not `spec.namespace`.
    from_default: bool,
    spec: Spanned<IntentSetSpec>,
    /// Keys of entries left out because their value was faulty (already reported).
    removed: BTreeSet<String>,
}

struct ClusterSetDoc {
    file: String,
    name: Spanned<String>,
    spec: Spanned<ClusterIntentSetSpec>,
    /// Keys of entries left out because their value was faulty (already reported).
    removed: BTreeSet<String>,
}

struct TestDoc {
    file: String,
    name: Spanned<String>,
    spec: ConnectivityTestSpec,
}

struct Cx {
    /// The namespace of sets that name none (`--namespace`, `ARGOCD_APP_NAMESPACE`).
    default_namespace: Option<String>,
    diags: Vec<Diagnostic>,
    sets: Vec<SetDoc>,
    cluster_sets: Vec<ClusterSetDoc>,
    tests: Vec<TestDoc>,
    profiles: Vec<(String, Span, ClusterProfileSpec)>,
    /// Whether a file or document could not be read (already reported): references to
    /// what it may have defined are then not reported again as unknown.
    incomplete: bool,
    /// Namespaces whose labels the ClusterProfile declares, where.
    profile_namespaces: BTreeMap<String, Span>,
    /// Collections that faulty entries were left out of (see `yaml::Partial::emptied`).
    emptied: BTreeSet<Span>,
    /// Where the default namespace came from, for messages (`--namespace`).
    namespace_source: Option<String>,
    /// The selectors of the rules this context made, numbered for their order.
    selectors: order::Selectors,
    /// What each namespace selector of a side reaches, by its number in `selectors`.
    reach: Vec<Option<intents::Reach>>,
}

/// A resolved group.
#[derive(Clone, Debug)]
enum Group {
    /// Pods in namespaces matching the selector.
    Pods {
        namespaces: LabelSelector,
        pods: LabelSelector,
    },
    /// Non-pod peers (addresses, entities, names).
    Peers(Vec<Peer>),
    /// Everything.
    Any,
}

/// What of an intent set (namespaced or cluster-wide) is lowered into rules: its groups,
/// presets and intents.
type SetParts<'a> = (
    &'a BTreeMap<Spanned<String>, Spanned<GroupDoc>>,
    &'a [Spanned<String>],
    &'a [Spanned<IntentDoc>],
);

/// How one intent set refers to "its own" namespace(s).
struct SetContext<'a> {
    file: &'a str,
    set: &'a str,
    /// Selector of the set's own namespaces (one name, or the cluster set's scope).
    own: LabelSelector,
    /// For cluster sets, the managed namespaces in scope.
    cluster_scope: Option<BTreeSet<String>>,
    groups: BTreeMap<String, (Span, Group)>,
    /// Groups that are defined but invalid (already reported): references to them are
    /// skipped silently instead of cascading into "unknown group".
    broken: BTreeSet<String>,
    /// The managed namespaces by label, once all are known; `None` where no intent is
    /// lowered (a test's endpoints resolve groups only), and then every namespace is
    /// scanned.
    index: Option<&'a intents::NamespaceIndex<'a>>,
}

fn err(
    code: &'static str,
    span: Span,
    msg: impl Into<String>,
    label: impl Into<String>,
) -> Diagnostic {
    Diagnostic::error(code, msg).with_label(span, label)
}

impl Cx {
    /// Takes what `other` read (of the files after those `self` read).
    fn absorb(&mut self, other: Cx) {
        self.diags.extend(other.diags);
        self.sets.extend(other.sets);
        self.cluster_sets.extend(other.cluster_sets);
        self.tests.extend(other.tests);
        self.profiles.extend(other.profiles);
        self.incomplete |= other.incomplete;
        self.emptied.extend(other.emptied);
    }

    fn read_document(&mut self, file: &str, node: &Node) {
        let meta: TypeMeta = match yaml::from_node(node) {
            Ok(m) => m,
            Err(e) => {
                self.diags.push(e.into_diagnostic());
                self.incomplete = true;
                return;
            }
        };
        let Some(api) = meta.api_version else {
            self.diags.push(
                err(
                    codes::BAD_KIND,
                    node.span,
                    "document has no `apiVersion`",
                    "this document",
                )
                .with_help(format!("add `apiVersion: {API_VERSION}`")),
            );
            return;
        };
        if api.value != API_VERSION {
            self.diags.push(
                err(
                    codes::BAD_KIND,
                    api.span,
                    format!("unsupported apiVersion `{}`", api.value),
                    "not a netpolc apiVersion",
                )
                .with_help(format!("this release reads `{API_VERSION}`")),
            );
            return;
        }
        let Some(kind) = meta.kind else {
            self.diags.push(err(
                codes::BAD_KIND,
                node.span,
                "document has no `kind`",
                "this document",
            ));
            return;
        };
        // Every problem of the document is reported; when leaving the faulty entries out
        // makes the rest readable, the rest is lowered too (for its own diagnostics:
        // the program is not built after an error).
        macro_rules! parse {
            ($t:ty) => {{
                let partial = yaml::from_node_all::<$t>(node);
                if !partial.errors.is_empty() {
                    self.incomplete = true;
                    self.diags.extend(
                        partial
                            .errors
                            .into_iter()
                            .map(yaml::DeError::into_diagnostic),
                    );
                }
                let removed: BTreeSet<String> = partial.removed_keys.into_iter().collect();
                self.emptied.extend(partial.emptied);
                match partial.value {
                    Some(d) => (d, removed),
                    None => return,
                }
            }};
        }
        match kind.value.as_str() {
            "IntentSet" => {
                let (d, removed) = parse!(IntentSetDoc);
                let namespace = match (&d.spec.value.namespace, &self.default_namespace) {
                    (Some(ns), _) => ns.clone(),
                    (None, Some(default)) => Spanned {
                        span: d.metadata.name.span,
                        value: default.clone(),
                    },
                    // Its value was faulty, and reported.
                    (None, None) if removed.contains("namespace") => return,
                    (None, None) => {
                        self.diags.push(
                            err(codes::BAD_VALUE, d.spec.span, format!("intent set `{}` names no namespace", d.metadata.name.value), "no `namespace` here")
                                .with_help("add `namespace:` to the spec, or pass `--namespace` (under Argo CD, the Application's destination namespace is used)"),
                        );
                        return;
                    }
                };
                let from_default = d.spec.value.namespace.is_none();
                self.sets.push(SetDoc {
                    file: file.to_string(),
                    name: d.metadata.name,
                    namespace,
                    from_default,
                    spec: d.spec,
                    removed,
                });
            }
            "ClusterIntentSet" => {
                let (d, removed) = parse!(ClusterIntentSetDoc);
                self.cluster_sets.push(ClusterSetDoc {
                    file: file.to_string(),
                    name: d.metadata.name,
                    spec: d.spec,
                    removed,
                });
            }
            "ConnectivityTest" => {
                let (d, _) = parse!(ConnectivityTestDoc);
                self.tests.push(TestDoc {
                    file: file.to_string(),
                    name: d.metadata.name,
                    spec: d.spec,
                });
            }
            "ClusterProfile" => {
                let (d, _) = parse!(ClusterProfileDoc);
                self.profiles
                    .push((file.to_string(), d.metadata.name.span, d.spec));
            }
            other => {
                const KINDS: [&str; 4] = [
                    "ClusterIntentSet",
                    "ClusterProfile",
                    "ConnectivityTest",
                    "IntentSet",
                ];
                let mut d = err(
                    codes::BAD_KIND,
                    kind.span,
                    format!("unknown kind `{other}`"),
                    "not a netpolc kind",
                )
                .with_help(format!(
                    "expected one of {}",
                    KINDS.map(|k| format!("`{k}`")).join(", ")
                ));
                if let Some(s) = yaml::suggest(other, &KINDS) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.diags.push(d);
            }
        }
    }

    /// Records `name` in `seen`; if it was there already, reports it as defined twice
    /// (`what` is e.g. "intent set") and returns false.
    fn first_definition(
        &mut self,
        seen: &mut BTreeMap<String, Span>,
        what: &str,
        name: &Spanned<String>,
    ) -> bool {
        match seen.insert(name.value.clone(), name.span) {
            None => true,
            Some(prev) => {
                self.diags.push(
                    err(
                        codes::DUPLICATE,
                        name.span,
                        format!("{what} `{}` is defined twice", name.value),
                        "second definition",
                    )
                    .with_secondary(prev, "first definition"),
                );
                false
            }
        }
    }

    /// For a set whose namespace is the run's default: where that default came from.
    fn namespace_note(&self, s: &SetDoc) -> Option<String> {
        if !s.from_default {
            return None;
        }
        let source = self
            .namespace_source
            .clone()
            .unwrap_or_else(|| "the default namespace of the run".to_string());
        Some(format!(
            "intent set `{}` names no namespace, so its namespace `{}` comes from {source}",
            s.name.value, s.namespace.value
        ))
    }

    /// Resolves one set's groups and lowers its presets and intents into `out`.
    fn lower_set(
        &mut self,
        cx: &mut SetContext<'_>,
        (groups, presets, intents): SetParts<'_>,
        program: &Program,
        out: &mut order::Lowered,
    ) {
        self.resolve_groups(cx, groups, &program.profile);
        self.lower_intents(cx, presets, intents, program, out);
    }

    /// A context to lower sets with on another thread: what this one knows, with no
    /// diagnostics of its own yet (the caller takes them in order).
    fn worker(&self) -> Cx {
        Cx {
            default_namespace: self.default_namespace.clone(),
            diags: Vec::new(),
            sets: Vec::new(),
            cluster_sets: Vec::new(),
            tests: Vec::new(),
            // Read (and taken) by `profile`, before any set is lowered.
            profiles: Vec::new(),
            incomplete: self.incomplete,
            profile_namespaces: self.profile_namespaces.clone(),
            emptied: self.emptied.clone(),
            namespace_source: self.namespace_source.clone(),
            selectors: order::Selectors::default(),
            reach: Vec::new(),
        }
    }

    fn check_name(&mut self, what: &str, name: &Spanned<String>) -> bool {
        match dns_label_problem(&name.value) {
            Some(p) => {
                self.diags.push(err(
                    codes::BAD_NAME,
                    name.span,
                    format!("invalid {what} `{}`", yaml::clip(&name.value)),
                    format!("{what} {p}"),
                ));
                false
            }
            None => true,
        }
    }

    fn lower(&mut self) -> Option<Program> {
        let profile = self.profile();
        let mut program = Program {
            profile,
            ..Program::default()
        };

        // Unique names across sets, one set per namespace.
        let mut set_names: BTreeMap<String, Span> = BTreeMap::new();
        let mut ns_owner: BTreeMap<String, Span> = BTreeMap::new();
        let sets = std::mem::take(&mut self.sets);
        let cluster_sets = std::mem::take(&mut self.cluster_sets);
        let mut valid_sets = Vec::new();
        for s in &sets {
            let mut ok = self.check_name("intent set name", &s.name);
            let before = self.diags.len();
            ok &= self.check_name("namespace name", &s.namespace);
            let source = self.namespace_note(s);
            if let (Some(note), Some(d)) = (&source, self.diags.get_mut(before)) {
                d.notes.push(note.clone());
            }
            ok &= self.first_definition(&mut set_names, "intent set", &s.name);
            let ns = &s.namespace;
            if let Some(prev) = ns_owner.insert(ns.value.clone(), ns.span) {
                let mut d = err(
                    codes::DUPLICATE,
                    ns.span,
                    format!("namespace `{}` has two intent sets", ns.value),
                    "second intent set for it",
                )
                .with_secondary(prev, "first intent set")
                .with_help("merge the two sets: one namespace has one IntentSet");
                if let Some(note) = source {
                    d = d.with_note(note);
                }
                self.diags.push(d);
                // References to the dropped set are not reported again.
                self.incomplete = true;
                ok = false;
            }
            if let Some(&declared) = self.profile_namespaces.get(&ns.value) {
                self.diags.push(
                    err(
                        codes::DUPLICATE,
                        declared,
                        format!(
                            "the ClusterProfile declares the labels of namespace `{}`, which has an IntentSet",
                            ns.value
                        ),
                        "declared here",
                    )
                    .with_secondary(ns.span, "its IntentSet")
                    .with_help("write the labels in the IntentSet's `namespaceLabels` and remove them here"),
                );
            }
            if ok {
                valid_sets.push(s);
            }
        }
        for s in &cluster_sets {
            self.check_name("cluster intent set name", &s.name);
            self.first_definition(&mut set_names, "intent set", &s.name);
        }

        // Managed namespaces with their labels and own isolation.
        for s in &valid_sets {
            let ns = s.namespace.value.clone();
            let mut labels = BTreeMap::new();
            for (k, v) in &s.spec.value.namespace_labels {
                if k.value == NAMESPACE_NAME_LABEL && v.value != ns {
                    // Kubernetes sets this label to the namespace's name: another value
                    // would be ignored, so it is refused.
                    self.diags.push(
                        err(
                            codes::BAD_LABEL,
                            v.span,
                            format!(
                                "`{NAMESPACE_NAME_LABEL}` of namespace `{ns}` cannot be `{}`",
                                v.value
                            ),
                            format!("Kubernetes always sets it to `{ns}`"),
                        )
                        .with_help(format!("remove the label, or write `{ns}`")),
                    );
                    continue;
                }
                if self.check_label(k, v) {
                    labels.insert(k.value.clone(), v.value.clone());
                }
            }
            labels.insert(NAMESPACE_NAME_LABEL.to_string(), ns.clone());
            let isolated = self.isolation_directions(&s.spec.value.isolate, &s.spec.value.presets);
            let origin = Origin {
                file: s.file.clone(),
                set: s.name.value.clone(),
                intent: "isolate".into(),
                preset: None,
                span: Some(s.namespace.span),
            };
            for d in &isolated {
                program.isolations.push(Isolation {
                    scope: Scope::Namespace(ns.clone()),
                    direction: *d,
                    origin: origin.clone(),
                });
            }
            program.namespaces.insert(
                ns.clone(),
                ManagedNamespace {
                    name: ns,
                    labels,
                    isolated,
                    origin,
                },
            );
        }

        // Cluster sets: scope and isolation.
        let mut cluster_scopes = Vec::new();
        for s in &cluster_sets {
            let scope: BTreeSet<String> = match &s.spec.value.namespaces {
                None => program.namespaces.keys().cloned().collect(),
                Some(sel) => {
                    let sel_ir = self.namespaces_selector(sel);
                    program
                        .namespaces
                        .values()
                        .filter(|n| sel_ir.as_ref().is_some_and(|sel| sel.matches(&n.labels)))
                        .map(|n| n.name.clone())
                        .collect()
                }
            };
            if scope.is_empty() {
                self.diags.push(
                    Diagnostic::warning(
                        codes::NO_EFFECT,
                        format!(
                            "cluster intent set `{}` applies to no managed namespace",
                            s.name.value
                        ),
                    )
                    .with_label(s.name.span, "selects nothing")
                    .with_note("a namespace is managed when it has an IntentSet"),
                );
            }
            let isolated = self.isolation_directions(&s.spec.value.isolate, &s.spec.value.presets);
            let origin = Origin {
                file: s.file.clone(),
                set: s.name.value.clone(),
                intent: "isolate".into(),
                preset: None,
                span: Some(s.name.span),
            };
            if !scope.is_empty() {
                for d in &isolated {
                    program.isolations.push(Isolation {
                        scope: Scope::Cluster(scope.clone()),
                        direction: *d,
                        origin: origin.clone(),
                    });
                    for ns in &scope {
                        if let Some(m) = program.namespaces.get_mut(ns) {
                            m.isolated.insert(*d);
                        }
                    }
                }
            }
            cluster_scopes.push(scope);
        }

        // Intents: each set is lowered on its own, so the sets are lowered on every core,
        // a few dozen at a time; their diagnostics are taken in the sets' order, their
        // rules in the rules' order (`order`: by the keys the threads give them).
        let index = intents::NamespaceIndex::new(&program.namespaces);
        let chunks: Vec<&[&SetDoc]> = valid_sets.chunks(64).collect();
        let threads = netpolc_ir::par::threads();
        let lowered = netpolc_ir::par::map(threads, chunks.len(), 2, |k| {
            let mut worker = self.worker();
            // Most intents make a rule on each side, some more (a side in several
            // namespaces, a group of several peers): three a preset or intent covers most
            // sets at once.
            let estimate: usize = chunks[k]
                .iter()
                .map(|s| 3 * (s.spec.value.intents.len() + s.spec.value.presets.len()))
                .sum();
            let mut out = order::Lowered::with_capacity(estimate);
            for s in chunks[k] {
                let ns = &s.namespace.value;
                let own = LabelSelector::from_labels([(NAMESPACE_NAME_LABEL, ns.as_str())]);
                let mut cx = SetContext {
                    file: &s.file,
                    set: &s.name.value,
                    own,
                    cluster_scope: None,
                    groups: BTreeMap::new(),
                    broken: s.removed.clone(),
                    index: Some(&index),
                };
                let spec = &s.spec.value;
                let parts = (&spec.groups, &spec.presets[..], &spec.intents[..]);
                worker.lower_set(&mut cx, parts, &program, &mut out);
            }
            (worker, out)
        });
        let mut parts = Vec::with_capacity(lowered.len());
        for (mut worker, out) in lowered {
            self.diags.append(&mut worker.diags);
            self.incomplete |= worker.incomplete;
            parts.push((out, std::mem::take(&mut worker.selectors)));
        }
        program.rules = order::in_order(parts, threads);
        // Cluster-scoped rules sort after every namespace's: sorted among themselves, they
        // keep the whole in order.
        let mut cluster_rules = order::Lowered::default();
        for (s, scope) in cluster_sets.iter().zip(cluster_scopes) {
            let own = LabelSelector::from_requirements([Requirement::is_in(
                NAMESPACE_NAME_LABEL,
                scope.iter().cloned(),
            )])
            .unwrap_or_default();
            if scope.is_empty() {
                continue;
            }
            let mut cx = SetContext {
                file: &s.file,
                set: &s.name.value,
                own,
                cluster_scope: Some(scope),
                groups: BTreeMap::new(),
                broken: s.removed.clone(),
                index: Some(&index),
            };
            let spec = &s.spec.value;
            let parts = (&spec.groups, &spec.presets[..], &spec.intents[..]);
            self.lower_set(&mut cx, parts, &program, &mut cluster_rules);
        }
        let mut cluster_rules = cluster_rules.rules;
        cluster_rules.sort_unstable();
        cluster_rules.dedup();
        program.rules.extend(cluster_rules);

        // Tests.
        let tests = std::mem::take(&mut self.tests);
        let mut test_names: BTreeMap<String, Span> = BTreeMap::new();
        for t in &tests {
            self.check_name("test name", &t.name);
            if !self.first_definition(&mut test_names, "connectivity test", &t.name) {
                continue;
            }
            if let Some(test) = self.lower_test(t, &valid_sets, &program) {
                program.tests.push(test);
            }
        }
        // The rules are in order and without duplicates already: the program is made
        // canonical without them, which would compare each rule with the next field by
        // field twice (once to find them in order, once for duplicates).
        let rules = std::mem::take(&mut program.rules);
        program.canonicalise();
        debug_assert!(rules.windows(2).all(|w| w[0] < w[1]), "rules out of order");
        program.rules = rules;
        // The documents of thousands of sets are freed beside what comes next.
        netpolc_ir::par::drop_later((sets, cluster_sets, tests));
        Some(program)
    }
}

fn endpoint_text(e: &EndpointDoc) -> String {
    match e {
        EndpointDoc::Group(g) => g.clone(),
        EndpointDoc::Pod(p) => {
            if let Some(a) = &p.address {
                return a.value.clone();
            }
            let labels: Vec<String> = p
                .selector
                .iter()
                .flatten()
                .map(|(k, v)| format!("{}={}", k.value, v.value))
                .collect();
            format!(
                "{}[{}]",
                p.namespace.as_ref().map(|n| n.value.as_str()).unwrap_or(""),
                labels.join(",")
            )
        }
    }
}

fn ports_of(list: &[PortMatch]) -> Ports {
    Ports::only(list.iter().cloned())
}

fn kube_dns(profile: &ClusterProfile) -> Group {
    Group::Pods {
        namespaces: LabelSelector::from_labels([(
            NAMESPACE_NAME_LABEL,
            profile.dns_namespace.as_str(),
        )]),
        pods: profile.dns_pods.clone(),
    }
}

/// Every address outside the cluster: `0.0.0.0/0` and `::/0` minus the cluster networks.
fn world(profile: &ClusterProfile) -> Vec<Peer> {
    ["0.0.0.0/0", "::/0"]
        .iter()
        .map(|n| {
            let net: IpNet = n.parse().expect("constant");
            let except = profile
                .cluster_cidrs()
                .into_iter()
                .filter(|c| net.contains(c))
                .collect();
            Peer::Cidr(CidrBlock { net, except })
        })
        .collect()
}

fn parse_cidr(c: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> Option<IpNet> {
    let text = c.value.trim();
    let parsed: Result<IpNet, _> = text
        .parse()
        .or_else(|e| text.parse::<IpAddr>().map(IpNet::from).map_err(|_| e));
    match parsed {
        Ok(IpNet::V6(n)) if netpolc_ir::addr::v4_mapped(&n.addr()) => {
            // Back ends and dataplanes read these apart: Kubernetes refuses them, others
            // may match the IPv4 addresses or nothing. The IPv4 CIDR says which is meant.
            let help = match n.prefix_len().checked_sub(96) {
                Some(len) => {
                    let v4 = n.addr().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED);
                    let v4 =
                        Ipv4Net::new(v4, len).map_or(v4.to_string(), |v4| v4.trunc().to_string());
                    format!("write the IPv4 CIDR `{v4}`")
                }
                None => "write the IPv4 CIDR, or an IPv6 CIDR outside `::ffff:0:0/96`".to_string(),
            };
            diags.push(
                err(
                    codes::BAD_CIDR,
                    c.span,
                    format!("`{text}` is an IPv4-mapped IPv6 CIDR"),
                    "IPv4 addresses written as IPv6",
                )
                .with_note("Kubernetes refuses such CIDRs, and a CNI may read them as IPv4 or as IPv6 addresses")
                .with_help(help),
            );
            None
        }
        Ok(n)
            if n.trunc() == n
                && !text.split(['.', ':', '/']).any(|p| {
                    p.len() > 1 && p.starts_with('0') && p.chars().all(|c| c.is_ascii_digit())
                }) =>
        {
            Some(n)
        }
        Ok(n) => {
            diags.push(
                err(
                    codes::BAD_CIDR,
                    c.span,
                    format!("`{text}` is not a canonical CIDR"),
                    "host bits set or leading zeros",
                )
                .with_help(format!("write `{}`", n.trunc())),
            );
            None
        }
        Err(_) => {
            diags.push(err(
                codes::BAD_CIDR,
                c.span,
                format!("`{text}` is not a CIDR"),
                "expected e.g. `203.0.113.0/24`",
            ));
            None
        }
    }
}
