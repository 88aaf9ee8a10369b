//! Lowering: typed documents → one whole-program [`Program`].
//!
//! This is where intents become directional rules. One intent `from → to` yields the
//! egress rule on every managed namespace the source's pods live in and the ingress rule
//! on every managed namespace the destination's pods live in, each only where that side
//! is isolated (allow) or always (deny). Presets expand here into ordinary intents, and
//! CIDR peers get the cluster's own networks carved out so that they mean external
//! addresses on every back end.

use crate::ast::*;
use crate::codes;
use crate::names::{cni_label_problem, dns_label_problem, label_key_problem, label_value_problem};
use crate::ports::parse_port;
use crate::yaml::{self, Node, Spanned};
use ipnet::IpNet;
use netpolc_ir::{
    Action, CidrBlock, ClusterProfile, ConnectivityTest, Direction, Entity, Expect, HttpRule,
    Isolation, LabelSelector, ManagedNamespace, Op, Origin, Peer, PortMatch, Ports, Program,
    Protocol, Requirement, Rule, Scope, Subject, TestCase, TestEndpoint, NAMESPACE_NAME_LABEL,
};
use netpolc_source::{Diagnostic, FileId, SourceMap, Span};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

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
    let mut cx = Cx {
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
    };
    for f in &files {
        match yaml::load_all(f.id, f.bytes, &yaml::Limits::default()) {
            Ok(nodes) => {
                for node in &nodes {
                    cx.read_document(f.name, node);
                }
            }
            Err(d) => {
                cx.diags.extend(d);
                cx.incomplete = true;
            }
        }
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

        // Intents.
        for s in &valid_sets {
            let ns = &s.namespace.value;
            let own = LabelSelector::from_labels([(NAMESPACE_NAME_LABEL, ns.as_str())]);
            let mut cx = SetContext {
                file: &s.file,
                set: &s.name.value,
                own,
                cluster_scope: None,
                groups: BTreeMap::new(),
                broken: s.removed.clone(),
            };
            self.resolve_groups(&mut cx, &s.spec.value.groups, &program.profile);
            self.lower_intents(
                &cx,
                &s.spec.value.presets,
                &s.spec.value.intents,
                &mut program,
            );
        }
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
            };
            self.resolve_groups(&mut cx, &s.spec.value.groups, &program.profile);
            self.lower_intents(
                &cx,
                &s.spec.value.presets,
                &s.spec.value.intents,
                &mut program,
            );
        }

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
        program.canonicalise();
        Some(program)
    }

    fn profile(&mut self) -> ClusterProfile {
        let mut p = ClusterProfile::default();
        let profiles = std::mem::take(&mut self.profiles);
        if profiles.len() > 1 {
            for (_, span, _) in &profiles[1..] {
                self.diags.push(
                    err(
                        codes::DUPLICATE,
                        *span,
                        "more than one ClusterProfile",
                        "another profile",
                    )
                    .with_secondary(profiles[0].1, "the first one")
                    .with_help("keep one ClusterProfile per repository"),
                );
            }
        }
        let Some((_, _, spec)) = profiles.into_iter().next() else {
            return p;
        };
        let nets = |list: &Option<Vec<Spanned<String>>>,
                    target: &mut Vec<IpNet>,
                    diags: &mut Vec<Diagnostic>| {
            if let Some(list) = list {
                target.clear();
                for c in list {
                    if let Some(n) = parse_cidr(c, diags) {
                        target.push(n);
                    }
                }
                target.sort();
                target.dedup();
            }
        };
        nets(&spec.pod_cidrs, &mut p.pod_cidrs, &mut self.diags);
        nets(&spec.service_cidrs, &mut p.service_cidrs, &mut self.diags);
        nets(&spec.node_cidrs, &mut p.node_cidrs, &mut self.diags);
        p.nodes_declared = spec.node_cidrs.is_some();
        if let Some(api) = &spec.api_server {
            let list = Some(api.cidrs.clone());
            nets(&list, &mut p.api_server_cidrs, &mut self.diags);
            if let Some(port) = &api.port {
                if port.value == 0 {
                    self.diags.push(err(
                        codes::BAD_PORT,
                        port.span,
                        "API server port must be 1–65535",
                        "port 0",
                    ));
                } else {
                    p.api_server_port = port.value;
                }
            }
        }
        if let Some(dns) = &spec.dns {
            if let Some(ns) = &dns.namespace {
                if self.check_name("namespace name", ns) {
                    p.dns_namespace = ns.value.clone();
                }
            }
            if let Some(sel) = &dns.selector {
                if let Some(s) = self.selector(&sel.value) {
                    p.dns_pods = s;
                }
            }
        }
        if let Some(list) = &spec.targets {
            let mut names = BTreeSet::new();
            for t in &list.value {
                if !["kubernetes", "calico", "cilium"].contains(&t.value.as_str()) {
                    self.diags.push(
                        err(
                            codes::BAD_TARGETS,
                            t.span,
                            format!("unknown back end `{}`", t.value),
                            "not a back end",
                        )
                        .with_help("write `kubernetes`, `calico` or `cilium`"),
                    );
                } else if !names.insert(t.value.clone()) {
                    self.diags.push(err(
                        codes::BAD_TARGETS,
                        t.span,
                        format!("back end `{}` listed twice", t.value),
                        "repeated",
                    ));
                }
            }
            if list.value.is_empty() {
                self.diags.push(
                    err(
                        codes::BAD_TARGETS,
                        list.span,
                        "`targets` is empty",
                        "no back end",
                    )
                    .with_help("list at least one back end, or leave `targets` out for all three"),
                );
            }
            p.targets = Some(names.into_iter().collect());
        }
        for (ns, labels) in &spec.namespaces {
            if !self.check_name("namespace name", ns) {
                continue;
            }
            let mut map = BTreeMap::new();
            for (k, v) in labels {
                if k.value == NAMESPACE_NAME_LABEL && v.value != ns.value {
                    self.diags.push(
                        err(
                            codes::BAD_LABEL,
                            v.span,
                            format!(
                                "`{NAMESPACE_NAME_LABEL}` of namespace `{}` cannot be `{}`",
                                ns.value, v.value
                            ),
                            format!("Kubernetes always sets it to `{}`", ns.value),
                        )
                        .with_help(format!("remove the label, or write `{}`", ns.value)),
                    );
                    continue;
                }
                if self.check_label(k, v) {
                    map.insert(k.value.clone(), v.value.clone());
                }
            }
            map.insert(NAMESPACE_NAME_LABEL.to_string(), ns.value.clone());
            self.profile_namespaces.insert(ns.value.clone(), ns.span);
            p.unmanaged_namespaces.insert(ns.value.clone(), map);
        }
        p
    }

    fn isolation_directions(
        &mut self,
        isolate: &[Spanned<String>],
        presets: &[Spanned<String>],
    ) -> BTreeSet<Direction> {
        let mut out = BTreeSet::new();
        for d in isolate {
            match d.value.as_str() {
                "ingress" => {
                    out.insert(Direction::Ingress);
                }
                "egress" => {
                    out.insert(Direction::Egress);
                }
                other => self.diags.push(
                    err(
                        codes::BAD_VALUE,
                        d.span,
                        format!("unknown direction `{other}`"),
                        "not a direction",
                    )
                    .with_help("expected `ingress` or `egress`"),
                ),
            }
        }
        if presets.iter().any(|p| p.value == "default-deny") {
            out.extend(Direction::BOTH);
        }
        out
    }

    fn check_label(&mut self, k: &Spanned<String>, v: &Spanned<String>) -> bool {
        let mut ok = true;
        if let Some(p) = label_key_problem(&k.value) {
            self.diags.push(err(
                codes::BAD_LABEL,
                k.span,
                format!("invalid label key `{}`", k.value),
                p,
            ));
            ok = false;
        }
        if let Some(p) = label_value_problem(&v.value) {
            self.diags.push(err(
                codes::BAD_LABEL,
                v.span,
                format!("invalid label value `{}`", v.value),
                p,
            ));
            ok = false;
        }
        ok
    }

    /// Refuses a selector key that a CNI sets itself (NP2040).
    fn check_cni_key(&mut self, k: &Spanned<String>) -> bool {
        let Some(why) = cni_label_problem(&k.value) else {
            return true;
        };
        self.diags.push(
            err(
                codes::CNI_LABEL,
                k.span,
                format!("selector on `{}`, a label key a CNI sets itself", k.value),
                "set by a CNI, not by you",
            )
            .with_note(format!(
                "{why}; a selector on it matches on one back end and not on another"
            ))
            .with_help(
                "select namespaces with `namespaces:` (names or labels) and pods by their own labels",
            ),
        );
        false
    }

    fn selector(&mut self, doc: &SelectorDoc) -> Option<LabelSelector> {
        let mut reqs = Vec::new();
        let mut ok = true;
        for (k, _) in &doc.match_labels {
            ok &= self.check_cni_key(k);
        }
        for e in &doc.match_expressions {
            ok &= self.check_cni_key(&e.value.key);
        }
        for (k, v) in &doc.match_labels {
            ok &= self.check_label(k, v);
            reqs.push(Requirement::is_in(k.value.clone(), [v.value.clone()]));
        }
        for e in &doc.match_expressions {
            let e = &e.value;
            if let Some(p) = label_key_problem(&e.key.value) {
                self.diags.push(err(
                    codes::BAD_LABEL,
                    e.key.span,
                    format!("invalid label key `{}`", e.key.value),
                    p,
                ));
                ok = false;
            }
            let op = match e.operator.value.as_str() {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                other => {
                    let mut d = err(
                        codes::BAD_SELECTOR,
                        e.operator.span,
                        format!("unknown operator `{other}`"),
                        "not an operator",
                    )
                    .with_help("expected `In`, `NotIn`, `Exists` or `DoesNotExist`");
                    if let Some(s) =
                        yaml::suggest(other, &["In", "NotIn", "Exists", "DoesNotExist"])
                    {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.diags.push(d);
                    ok = false;
                    continue;
                }
            };
            let needs_values = matches!(op, Op::In | Op::NotIn);
            if needs_values == e.values.is_empty() {
                self.diags.push(err(
                    codes::BAD_SELECTOR,
                    e.operator.span,
                    if needs_values {
                        format!("operator `{}` needs at least one value", op.as_str())
                    } else {
                        format!("operator `{}` takes no values", op.as_str())
                    },
                    "here",
                ));
                ok = false;
                continue;
            }
            for v in &e.values {
                if let Some(p) = label_value_problem(&v.value) {
                    self.diags.push(err(
                        codes::BAD_LABEL,
                        v.span,
                        format!("invalid label value `{}`", v.value),
                        p,
                    ));
                    ok = false;
                }
            }
            reqs.push(Requirement {
                key: e.key.value.clone(),
                op,
                values: e.values.iter().map(|v| v.value.clone()).collect(),
            });
        }
        if !ok {
            return None;
        }
        LabelSelector::from_requirements(reqs).or_else(|| {
            let span = doc
                .match_labels
                .first()
                .map(|(k, _)| k.span)
                .or_else(|| doc.match_expressions.first().map(|e| e.span));
            if let Some(span) = span {
                self.diags.push(err(
                    codes::BAD_SELECTOR,
                    span,
                    "this selector can never match",
                    "contradictory requirements",
                ));
            }
            None
        })
    }

    fn namespaces_selector(&mut self, doc: &Spanned<NamespacesDoc>) -> Option<LabelSelector> {
        match &doc.value {
            NamespacesDoc::Names(names) => {
                let mut ok = true;
                for n in names {
                    ok &= self.check_name("namespace name", n);
                }
                if names.is_empty() {
                    self.diags.push(
                        err(
                            codes::BAD_VALUE,
                            doc.span,
                            "empty namespace list",
                            "selects nothing",
                        )
                        .with_help("remove `namespaces` or name at least one namespace"),
                    );
                    return None;
                }
                ok.then(|| {
                    LabelSelector::from_requirements([Requirement::is_in(
                        NAMESPACE_NAME_LABEL,
                        names.iter().map(|n| n.value.clone()),
                    )])
                    .unwrap_or_default()
                })
            }
            NamespacesDoc::Selector(sel) => self.selector(sel),
        }
    }

    fn resolve_groups(
        &mut self,
        cx: &mut SetContext<'_>,
        groups: &BTreeMap<Spanned<String>, Spanned<GroupDoc>>,
        profile: &ClusterProfile,
    ) {
        for (name, g) in groups {
            if BUILTIN_GROUPS.contains(&name.value.as_str()) {
                self.diags.push(
                    err(codes::BAD_NAME, name.span, format!("`{}` is a built-in group", name.value), "reserved name")
                        .with_help("choose another name; built-in groups are `all`, `anywhere`, `host`, `kube-apiserver`, `kube-dns`, `world`"),
                );
                continue;
            }
            if !self.check_name("group name", name) {
                cx.broken.insert(name.value.clone());
                continue;
            }
            if let Some(group) = self.group(cx, g, profile) {
                cx.groups.insert(name.value.clone(), (name.span, group));
            } else {
                cx.broken.insert(name.value.clone());
            }
        }
    }

    fn group(
        &mut self,
        cx: &SetContext<'_>,
        g: &Spanned<GroupDoc>,
        profile: &ClusterProfile,
    ) -> Option<Group> {
        let d = &g.value;
        let pod_like = d.selector.is_some() || d.namespaces.is_some();
        let kinds = [
            pod_like,
            d.cidrs.is_some(),
            d.entity.is_some(),
            d.fqdns.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if kinds != 1 {
            self.diags.push(
                err(codes::BAD_GROUP, g.span, if kinds == 0 { "empty group" } else { "a group mixes kinds of peers" }, "this group")
                    .with_help("a group has `selector` and/or `namespaces`, or `cidrs`, or `entity`, or `fqdns`"),
            );
            return None;
        }
        if pod_like {
            let pods = match &d.selector {
                Some(s) => self.selector(&s.value)?,
                None => LabelSelector::all(),
            };
            let namespaces = match &d.namespaces {
                Some(n) => self.namespaces_selector(n)?,
                None => cx.own.clone(),
            };
            return Some(Group::Pods { namespaces, pods });
        }
        if let Some(cidrs) = &d.cidrs {
            let mut peers = Vec::new();
            if cidrs.is_empty() {
                self.diags.push(err(
                    codes::BAD_VALUE,
                    g.span,
                    "empty `cidrs` list",
                    "this group",
                ));
                return None;
            }
            for c in cidrs {
                peers.extend(self.cidr_block(c, profile)?.into_iter().map(Peer::Cidr));
            }
            return Some(Group::Peers(peers));
        }
        if let Some(e) = &d.entity {
            return self.entity(e, profile);
        }
        if let Some(fqdns) = &d.fqdns {
            let mut peers = Vec::new();
            for f in fqdns {
                let ok = !f.value.is_empty()
                    && f.value.len() <= 255
                    && f.value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '*'));
                if !ok {
                    self.diags.push(err(
                        codes::BAD_VALUE,
                        f.span,
                        format!("invalid DNS name `{}`", f.value),
                        "letters, digits, `-`, `_`, `.` and `*` only",
                    ));
                    return None;
                }
                peers.push(Peer::Fqdn(f.value.to_ascii_lowercase()));
            }
            if peers.is_empty() {
                self.diags.push(err(
                    codes::BAD_VALUE,
                    g.span,
                    "empty `fqdns` list",
                    "this group",
                ));
                return None;
            }
            return Some(Group::Peers(peers));
        }
        None
    }

    fn entity(&mut self, e: &Spanned<String>, profile: &ClusterProfile) -> Option<Group> {
        match e.value.as_str() {
            "world" => Some(Group::Peers(world(profile))),
            "kube-apiserver" => Some(Group::Peers(vec![Peer::Entity(Entity::KubeApiserver)])),
            "host" => Some(Group::Peers(vec![Peer::Entity(Entity::Host)])),
            "kube-dns" => Some(kube_dns(profile)),
            other => {
                const ENTITIES: [&str; 4] = ["host", "kube-apiserver", "kube-dns", "world"];
                let mut d = err(
                    codes::BAD_VALUE,
                    e.span,
                    format!("unknown entity `{other}`"),
                    "not an entity",
                )
                .with_help("expected `world`, `kube-apiserver`, `kube-dns` or `host`");
                if let Some(s) = yaml::suggest(other, &ENTITIES) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.diags.push(d);
                None
            }
        }
    }

    /// A CIDR group item, with the cluster's own networks carved out.
    fn cidr_block(
        &mut self,
        c: &Spanned<CidrDoc>,
        profile: &ClusterProfile,
    ) -> Option<Vec<CidrBlock>> {
        let text = Spanned {
            span: c.span,
            value: c.value.cidr.clone(),
        };
        let net = parse_cidr(&text, &mut self.diags)?;
        let mut except = Vec::new();
        for e in &c.value.except {
            let hole = parse_cidr(e, &mut self.diags)?;
            if !(net.contains(&hole) && hole.prefix_len() > net.prefix_len()) {
                self.diags.push(err(
                    codes::BAD_CIDR,
                    e.span,
                    format!("`{}` is not strictly inside `{net}`", e.value),
                    "except must be a smaller block inside the cidr",
                ));
                return None;
            }
            except.push(hole);
        }
        for cluster in profile.cluster_cidrs() {
            if cluster.contains(&net) {
                self.diags.push(
                    err(codes::CIDR_IN_CLUSTER, c.span, format!("`{net}` lies inside the cluster network `{cluster}`"), "no external address here")
                        .with_note("CIDR peers mean addresses outside the cluster on every backend (Cilium never matches pods by CIDR)")
                        .with_help("select pods with `selector`/`namespaces`, or fix `podCIDRs`/`serviceCIDRs`/`nodeCIDRs` in the ClusterProfile"),
                );
                return None;
            }
            if net.contains(&cluster) {
                except.push(cluster);
            }
        }
        except.sort();
        except.dedup();
        let kept: Vec<IpNet> = except
            .iter()
            .filter(|h| !except.iter().any(|o| o != *h && o.contains(*h)))
            .copied()
            .collect();
        Some(vec![CidrBlock { net, except: kept }])
    }

    fn resolve_ref(
        &mut self,
        cx: &SetContext<'_>,
        r: &Spanned<String>,
        profile: &ClusterProfile,
    ) -> Option<Group> {
        if let Some((_, g)) = cx.groups.get(&r.value) {
            return Some(g.clone());
        }
        if cx.broken.contains(&r.value) {
            return None;
        }
        match r.value.as_str() {
            "all" => Some(Group::Pods {
                namespaces: cx.own.clone(),
                pods: LabelSelector::all(),
            }),
            "anywhere" => Some(Group::Any),
            "world" => Some(Group::Peers(world(profile))),
            "kube-dns" => Some(kube_dns(profile)),
            "kube-apiserver" => Some(Group::Peers(vec![Peer::Entity(Entity::KubeApiserver)])),
            "host" => Some(Group::Peers(vec![Peer::Entity(Entity::Host)])),
            other => {
                let mut names: Vec<&str> = cx.groups.keys().map(String::as_str).collect();
                names.extend(BUILTIN_GROUPS);
                let mut d = err(
                    codes::UNKNOWN_GROUP,
                    r.span,
                    format!("unknown group `{other}`"),
                    "no group of this name",
                )
                .with_note(format!(
                    "intent set `{}` defines {}",
                    cx.set,
                    if cx.groups.is_empty() {
                        "no groups".to_string()
                    } else {
                        cx.groups
                            .keys()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ));
                d = match yaml::suggest(other, &names) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help("define it under `groups`, or use a built-in group: `all`, `anywhere`, `world`, `kube-dns`, `kube-apiserver`, `host`"),
                };
                self.diags.push(d);
                None
            }
        }
    }

    fn lower_intents(
        &mut self,
        cx: &SetContext<'_>,
        presets: &[Spanned<String>],
        intents: &[Spanned<IntentDoc>],
        program: &mut Program,
    ) {
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        // Presets first: they are ordinary intents named after the preset.
        for p in presets {
            if !PRESETS.contains(&p.value.as_str()) {
                let mut d = err(
                    codes::UNKNOWN_PRESET,
                    p.span,
                    format!("unknown preset `{}`", p.value),
                    "not a preset",
                )
                .with_help(format!(
                    "presets are {}",
                    PRESETS.map(|p| format!("`{p}`")).join(", ")
                ));
                if let Some(s) = yaml::suggest(&p.value, &PRESETS) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.diags.push(d);
                continue;
            }
            if let Some(prev) = seen.insert(p.value.clone(), p.span) {
                self.diags.push(
                    err(
                        codes::DUPLICATE,
                        p.span,
                        format!("preset `{}` is listed twice", p.value),
                        "again",
                    )
                    .with_secondary(prev, "first"),
                );
                continue;
            }
            let profile = program.profile.clone();
            let all = Group::Pods {
                namespaces: cx.own.clone(),
                pods: LabelSelector::all(),
            };
            let spec = match p.value.as_str() {
                "allow-dns" => Some((
                    Action::Allow,
                    all.clone(),
                    kube_dns(&profile),
                    ports_of(&[
                        PortMatch::single(Protocol::Udp, 53),
                        PortMatch::single(Protocol::Tcp, 53),
                    ]),
                )),
                "allow-kube-apiserver" => Some((
                    Action::Allow,
                    all.clone(),
                    Group::Peers(vec![Peer::Entity(Entity::KubeApiserver)]),
                    ports_of(&[PortMatch::single(Protocol::Tcp, profile.api_server_port)]),
                )),
                "allow-same-namespace" => {
                    if cx.cluster_scope.is_some() {
                        self.diags.push(
                            err(codes::BAD_VALUE, p.span, "`allow-same-namespace` is not available in a ClusterIntentSet", "here")
                                .with_note("cluster-wide objects cannot say \"the subject's own namespace\" on Calico and Cilium")
                                .with_help("list the preset in each namespace's IntentSet"),
                        );
                        None
                    } else {
                        Some((Action::Allow, all.clone(), all.clone(), Ports::Any))
                    }
                }
                "block-cloud-metadata" => {
                    let peers = METADATA_CIDRS
                        .iter()
                        .map(|c| {
                            Peer::Cidr(CidrBlock {
                                net: c.parse().expect("constant"),
                                except: vec![],
                            })
                        })
                        .collect();
                    Some((Action::Deny, all.clone(), Group::Peers(peers), Ports::Any))
                }
                _ => None, // default-deny: isolation only, handled with `isolate`.
            };
            if let Some((action, from, to, ports)) = spec {
                let origin = Origin {
                    file: cx.file.to_string(),
                    set: cx.set.to_string(),
                    intent: p.value.clone(),
                    preset: Some(p.value.clone()),
                    span: Some(p.span),
                };
                self.sides(cx, &origin, action, &from, &to, &ports, &[], program);
            }
        }
        for i in intents {
            let doc = &i.value;
            if !self.check_name("intent name", &doc.name) {
                continue;
            }
            if let Some(prev) = seen.insert(doc.name.value.clone(), doc.name.span) {
                self.diags.push(
                    err(
                        codes::DUPLICATE,
                        doc.name.span,
                        format!(
                            "intent `{}` is defined twice in `{}`",
                            doc.name.value, cx.set
                        ),
                        "second definition",
                    )
                    .with_secondary(prev, "first definition (intent or preset)"),
                );
                continue;
            }
            let from = self.resolve_ref(cx, &doc.from, &program.profile);
            let to = self.resolve_ref(cx, &doc.to, &program.profile);
            let action = match doc.action.as_ref().map(|a| a.value.as_str()) {
                None | Some("allow") => Some(Action::Allow),
                Some("deny") => Some(Action::Deny),
                Some(other) => {
                    let a = doc.action.as_ref().map(|a| a.span).unwrap_or(i.span);
                    self.diags.push(
                        err(
                            codes::BAD_VALUE,
                            a,
                            format!("unknown action `{other}`"),
                            "not an action",
                        )
                        .with_help("expected `allow` or `deny`"),
                    );
                    None
                }
            };
            let ports = self.ports(doc);
            let http = self.http(doc, action, &ports);
            let (Some(from), Some(to), Some(action), Some(ports), Some(http)) =
                (from, to, action, ports, http)
            else {
                continue;
            };
            if matches!(from, Group::Peers(ref p) if p.iter().any(|p| matches!(p, Peer::Fqdn(_)))) {
                self.diags.push(err(
                    codes::BAD_DIRECTION,
                    doc.from.span,
                    "a DNS-name group can only be a destination",
                    "used as a source",
                ));
                continue;
            }
            if matches!(from, Group::Peers(_)) && matches!(to, Group::Peers(_)) {
                self.diags.push(
                    err(codes::NO_POD_SIDE, i.span, format!("intent `{}` connects two non-pod groups", doc.name.value), "neither end is a pod")
                        .with_note("netpolc governs pods; traffic between external addresses never passes a pod's policy"),
                );
                continue;
            }
            let origin = Origin {
                file: cx.file.to_string(),
                set: cx.set.to_string(),
                intent: doc.name.value.clone(),
                preset: None,
                span: Some(i.span),
            };
            let made = self.sides(cx, &origin, action, &from, &to, &ports, &http, program);
            if made == 0 && action == Action::Allow {
                // Nothing to emit: both sides open or unmanaged. Say why.
                self.diags.push(
                    Diagnostic::note(codes::NO_EFFECT, format!("intent `{}` needs no rule", origin.qualified()))
                        .with_label(i.span, "already allowed")
                        .with_note("neither end is an isolated, managed namespace, so the flow is already allowed"),
                );
            }
        }
    }

    fn ports(&mut self, doc: &IntentDoc) -> Option<Ports> {
        let Some(list) = &doc.ports else {
            return Some(Ports::Any);
        };
        if list.value.is_empty() {
            self.diags.push(
                err(codes::BAD_PORT, list.span, "empty port list", "`ports: []`")
                    .with_help("omit `ports` to mean every port, or list at least one"),
            );
            return None;
        }
        let mut set = BTreeSet::new();
        let mut ok = true;
        for p in &list.value {
            match parse_port(&p.value) {
                Ok(m) => {
                    set.insert(m);
                }
                Err(msg) => {
                    self.diags.push(err(
                        codes::BAD_PORT,
                        p.span,
                        format!("invalid port `{}`", p.value),
                        msg,
                    ));
                    ok = false;
                }
            }
        }
        ok.then_some(Ports::Only(set))
    }

    fn http(
        &mut self,
        doc: &IntentDoc,
        action: Option<Action>,
        ports: &Option<Ports>,
    ) -> Option<Vec<HttpRule>> {
        if doc.http.is_empty() {
            return Some(Vec::new());
        }
        let span = doc.http[0].span;
        if action == Some(Action::Deny) {
            self.diags.push(err(
                codes::BAD_L7,
                span,
                "HTTP rules are only for allow intents",
                "on a deny intent",
            ));
            return None;
        }
        let tcp_only = matches!(ports, Some(Ports::Only(s)) if s.iter().all(|p| p.protocol == Protocol::Tcp && p.port != netpolc_ir::PortSpec::All));
        if !tcp_only {
            self.diags.push(
                err(
                    codes::BAD_L7,
                    span,
                    "HTTP rules need specific TCP ports",
                    "here",
                )
                .with_help(
                    "list the TCP ports the HTTP service listens on, e.g. `ports: [8080/tcp]`",
                ),
            );
            return None;
        }
        Some(
            doc.http
                .iter()
                .map(|h| HttpRule {
                    method: h.value.method.as_ref().map(|m| m.value.clone()),
                    path: h.value.path.as_ref().map(|p| p.value.clone()),
                })
                .collect(),
        )
    }

    /// Emits the egress and ingress sides of one intent; returns how many rules it made.
    #[allow(clippy::too_many_arguments)] // One call site per kind of intent; a struct would only rename them.
    fn sides(
        &mut self,
        cx: &SetContext<'_>,
        origin: &Origin,
        action: Action,
        from: &Group,
        to: &Group,
        ports: &Ports,
        http: &[HttpRule],
        program: &mut Program,
    ) -> usize {
        let mut made = 0;
        for (direction, me, other) in [
            (Direction::Egress, from, to),
            (Direction::Ingress, to, from),
        ] {
            if direction == Direction::Ingress
                && matches!(other, Group::Peers(p) if p.iter().any(|p| matches!(p, Peer::Fqdn(_))))
            {
                continue;
            }
            let (ns_sel, pods) = match me {
                Group::Pods { namespaces, pods } => (namespaces.clone(), pods.clone()),
                Group::Any => (LabelSelector::all(), LabelSelector::all()),
                Group::Peers(_) => continue,
            };
            // Namespaces named explicitly but not managed: that side is left alone.
            for r in ns_sel
                .requirements()
                .filter(|r| r.key == NAMESPACE_NAME_LABEL && r.op == Op::In)
            {
                for name in r
                    .values
                    .iter()
                    .filter(|n| !program.namespaces.contains_key(*n))
                {
                    let side = match direction {
                        Direction::Egress => "egress",
                        Direction::Ingress => "ingress",
                    };
                    let mut d = Diagnostic::note(
                        codes::UNMANAGED_SIDE,
                        format!(
                            "the {side} side of `{}` in namespace `{name}` is left alone",
                            origin.qualified()
                        ),
                    )
                    .with_note(format!(
                        "namespace `{name}` has no IntentSet, so netpolc emits no rule there"
                    ));
                    if let Some(span) = origin.span {
                        d = d.with_label(span, "this intent");
                    }
                    self.diags.push(d);
                }
            }
            // A selector naming one namespace meets only that one (a managed namespace's
            // name label is its name): no scan of every namespace per intent.
            let candidates: Vec<&ManagedNamespace> = match Peer::single_namespace(&ns_sel) {
                Some(name) => program.namespaces.get(name).into_iter().collect(),
                None => program.namespaces.values().collect(),
            };
            let namespaces: BTreeSet<String> = candidates
                .into_iter()
                .filter(|n| ns_sel.matches(&n.labels))
                .filter(|n| action == Action::Deny || n.isolated.contains(&direction))
                .map(|n| n.name.clone())
                .collect();
            if namespaces.is_empty() {
                continue;
            }
            let peers: Vec<Peer> = match other {
                Group::Pods { namespaces, pods } => vec![Peer::Pods {
                    namespaces: namespaces.clone(),
                    pods: pods.clone(),
                }],
                Group::Any => vec![Peer::Any],
                Group::Peers(p) => p.clone(),
            };
            let scopes: Vec<Scope> = if cx.cluster_scope.is_some() {
                vec![Scope::Cluster(namespaces)]
            } else {
                namespaces.into_iter().map(Scope::Namespace).collect()
            };
            for scope in scopes {
                for peer in &peers {
                    program.rules.push(Rule {
                        subject: Subject {
                            scope: scope.clone(),
                            pods: pods.clone(),
                        },
                        direction,
                        action,
                        peer: peer.clone(),
                        ports: ports.clone(),
                        http: http.to_vec(),
                        origin: origin.clone(),
                    });
                    made += 1;
                }
            }
        }
        made
    }

    fn lower_test(
        &mut self,
        t: &TestDoc,
        sets: &[&SetDoc],
        program: &Program,
    ) -> Option<ConnectivityTest> {
        // Which set do bare group names refer to?
        let home: Option<&SetDoc> = match &t.spec.namespace {
            Some(ns) => {
                let found = sets.iter().copied().find(|s| s.namespace.value == ns.value);
                if found.is_none() {
                    if self.incomplete {
                        // The set may be in a document that could not be read.
                        return None;
                    }
                    self.diags.push(err(
                        codes::BAD_TEST,
                        ns.span,
                        format!("no intent set for namespace `{}`", ns.value),
                        "unknown namespace",
                    ));
                    return None;
                }
                found
            }
            None if sets.len() == 1 => Some(sets[0]),
            None => None,
        };
        let mut cases = Vec::new();
        let mut ok = true;
        for e in &t.spec.expect {
            let doc = &e.value;
            let from = self.test_endpoint(&doc.from, home, sets, program);
            let to = self.test_endpoint(&doc.to, home, sets, program);
            let port = match parse_port(&doc.port.value) {
                Ok(
                    p @ PortMatch {
                        port: netpolc_ir::PortSpec::Range { start, end },
                        ..
                    },
                ) if start == end => Some(p),
                Ok(_) => {
                    self.diags.push(
                        err(
                            codes::BAD_TEST,
                            doc.port.span,
                            "a test names one port",
                            "not a single port",
                        )
                        .with_help("write e.g. `5432/tcp`"),
                    );
                    None
                }
                Err(m) => {
                    self.diags.push(err(
                        codes::BAD_PORT,
                        doc.port.span,
                        format!("invalid port `{}`", doc.port.value),
                        m,
                    ));
                    None
                }
            };
            let expect = match doc.verdict.value.as_str() {
                "allow" => Some(Expect::Allow),
                "deny" => Some(Expect::Deny),
                other => {
                    self.diags.push(
                        err(
                            codes::BAD_TEST,
                            doc.verdict.span,
                            format!("unknown verdict `{other}`"),
                            "not a verdict",
                        )
                        .with_help("expected `allow` or `deny`"),
                    );
                    None
                }
            };
            match (from, to, port, expect) {
                (Some(from), Some(to), Some(port), Some(expect)) => {
                    let label = format!(
                        "{} -> {} {}",
                        endpoint_text(&doc.from.value),
                        endpoint_text(&doc.to.value),
                        doc.port.value
                    );
                    cases.push(TestCase {
                        from,
                        to,
                        port,
                        expect,
                        span: Some(e.span),
                        label,
                    });
                }
                _ => ok = false,
            }
        }
        ok.then(|| ConnectivityTest {
            name: t.name.value.clone(),
            file: t.file.clone(),
            cases,
        })
    }

    fn test_endpoint(
        &mut self,
        e: &Spanned<EndpointDoc>,
        home: Option<&SetDoc>,
        sets: &[&SetDoc],
        program: &Program,
    ) -> Option<TestEndpoint> {
        match &e.value {
            EndpointDoc::Pod(p) => {
                if let Some(addr) = &p.address {
                    if p.namespace.is_some() || p.selector.is_some() {
                        self.diags.push(err(
                            codes::BAD_TEST,
                            e.span,
                            "an endpoint is a pod or an address, not both",
                            "here",
                        ));
                        return None;
                    }
                    return match addr.value.parse::<IpAddr>() {
                        Ok(ip) => Some(TestEndpoint::Address(ip)),
                        Err(_) => {
                            self.diags.push(err(
                                codes::BAD_TEST,
                                addr.span,
                                format!("`{}` is not an IP address", addr.value),
                                "here",
                            ));
                            None
                        }
                    };
                }
                let namespace = match (&p.namespace, home) {
                    (Some(n), _) => n.value.clone(),
                    (None, Some(h)) => h.namespace.value.clone(),
                    (None, None) => {
                        self.diags.push(
                            err(
                                codes::BAD_TEST,
                                e.span,
                                "test pod without a namespace",
                                "here",
                            )
                            .with_help(
                                "add `namespace:` to the pod or `spec.namespace` to the test",
                            ),
                        );
                        return None;
                    }
                };
                let mut labels = BTreeMap::new();
                for (k, v) in p.selector.iter().flatten() {
                    if self.check_label(k, v) {
                        labels.insert(k.value.clone(), v.value.clone());
                    }
                }
                Some(TestEndpoint::Pod { namespace, labels })
            }
            EndpointDoc::Group(name) => {
                let (set, group) = match name.split_once('/') {
                    Some((s, g)) => (sets.iter().copied().find(|x| x.name.value == s), g),
                    None => (home, name.as_str()),
                };
                let Some(set) = set else {
                    if self.incomplete {
                        return None;
                    }
                    self.diags.push(
                        err(
                            codes::BAD_TEST,
                            e.span,
                            format!("cannot tell which intent set `{name}` belongs to"),
                            "ambiguous group",
                        )
                        .with_help("write `set/group`, or give the test a `spec.namespace`"),
                    );
                    return None;
                };
                let ns = set.namespace.value.clone();
                let own = LabelSelector::from_labels([(NAMESPACE_NAME_LABEL, ns.as_str())]);
                let cx = SetContext {
                    file: &set.file,
                    set: &set.name.value,
                    own,
                    cluster_scope: None,
                    groups: BTreeMap::new(),
                    broken: BTreeSet::new(),
                };
                let resolved = match set.spec.value.groups.iter().find(|(k, _)| k.value == group) {
                    Some((_, g)) => self.group(&cx, g, &program.profile),
                    None => self.resolve_ref(
                        &cx,
                        &Spanned {
                            span: e.span,
                            value: group.to_string(),
                        },
                        &program.profile,
                    ),
                }?;
                self.representative(&resolved, e.span, program)
            }
        }
    }

    /// A concrete pod or address inside a group, for a test flow.
    fn representative(&mut self, g: &Group, span: Span, program: &Program) -> Option<TestEndpoint> {
        match g {
            Group::Pods { namespaces, pods } => {
                let ns = program
                    .namespaces
                    .values()
                    .find(|n| namespaces.matches(&n.labels))
                    .map(|n| n.name.clone())
                    .or_else(|| Peer::single_namespace(namespaces).map(str::to_string));
                let Some(namespace) = ns else {
                    self.diags.push(err(
                        codes::BAD_TEST,
                        span,
                        "no known namespace matches this group",
                        "cannot place a test pod",
                    ));
                    return None;
                };
                let mut labels = BTreeMap::new();
                for r in pods.requirements() {
                    match r.op {
                        Op::In => {
                            labels.insert(
                                r.key.clone(),
                                r.values.iter().next().cloned().unwrap_or_default(),
                            );
                        }
                        Op::Exists => {
                            labels
                                .entry(r.key.clone())
                                .or_insert_with(|| "netpolc-test".to_string());
                        }
                        Op::NotIn | Op::DoesNotExist => {}
                    }
                }
                if !pods.matches(&labels) {
                    self.diags.push(
                        err(
                            codes::BAD_TEST,
                            span,
                            "cannot derive a pod for this group",
                            "write the pod explicitly",
                        )
                        .with_help("use `{namespace: NS, selector: {KEY: VALUE}}`"),
                    );
                    return None;
                }
                Some(TestEndpoint::Pod { namespace, labels })
            }
            Group::Peers(peers) => {
                for p in peers {
                    if let Peer::Cidr(b) = p {
                        if let Some(ip) = b
                            .net
                            .hosts()
                            .take(1024)
                            .find(|ip| b.contains(ip))
                            .or_else(|| b.contains(&b.net.addr()).then(|| b.net.addr()))
                        {
                            return Some(TestEndpoint::Address(ip));
                        }
                    }
                }
                self.diags.push(
                    err(
                        codes::BAD_TEST,
                        span,
                        "this group has no address a test can use",
                        "here",
                    )
                    .with_help("use `{address: IP}`"),
                );
                None
            }
            Group::Any => {
                self.diags.push(err(
                    codes::BAD_TEST,
                    span,
                    "`anywhere` is not a concrete endpoint",
                    "here",
                ));
                None
            }
        }
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
    Ports::Only(list.iter().cloned().collect())
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
