//! `netpolc diff` and `netpolc graph`: reviewing connectivity, on top of
//! `netpolc_driver::diff` and `netpolc_driver::graph`.

use crate::cli::{Common, DiagnosticFormat, TargetArg};
use crate::{options, print_diagnostics, target_of, BAD_INPUT, FINDINGS};
use clap::{Args, ValueEnum};
use netpolc_driver::diff::{self, Diff, Kind, Reading, Version};
use netpolc_driver::{dump, graph, load, verify, Target};
use netpolc_ir::model::Evaluator;
use netpolc_ir::Program;
use netpolc_source::{Diagnostic, SourceMap};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// The Git revision to compare the working tree's intents with; its files are read
    /// from Git, nothing is checked out [default: HEAD]
    #[arg(long, value_name = "REV", conflicts_with = "base_dir")]
    pub(crate) base: Option<String>,
    /// Compare with the intents of another copy of the project (same policies paths,
    /// relative to DIR)
    #[arg(long, value_name = "DIR")]
    pub(crate) base_dir: Option<PathBuf>,
    /// Without intents: the base's manifests (any back end; files of YAML documents)
    #[arg(long, num_args = 1.., value_name = "FILE", requires_all = ["manifests_new", "cluster"], conflicts_with_all = ["base", "base_dir"])]
    pub(crate) manifests_old: Vec<PathBuf>,
    /// Without intents: the new manifests
    #[arg(long, num_args = 1.., value_name = "FILE", requires_all = ["manifests_old", "cluster"])]
    pub(crate) manifests_new: Vec<PathBuf>,
    /// The cluster the manifests apply to: output of `kubectl get namespaces,pods -A -o yaml`
    #[arg(long, value_name = "DUMP")]
    pub(crate) cluster: Option<PathBuf>,
    /// Read the old manifests as this CNI enforces them (with --new-as: compare two CNIs)
    #[arg(long, value_enum, value_name = "CNI", requires_all = ["new_as", "manifests_old"])]
    pub(crate) old_as: Option<TargetArg>,
    /// Read the new manifests as this CNI enforces them
    #[arg(long, value_enum, value_name = "CNI", requires_all = ["old_as", "manifests_new"])]
    pub(crate) new_as: Option<TargetArg>,
    /// Back ends whose compiled output is compared too (intents; default: none, the
    /// intended meaning, which `netpolc check` proves each back end equal to), or the CNIs
    /// to read manifests as (default: all)
    #[arg(long = "target", value_enum, value_delimiter = ',')]
    pub(crate) targets: Vec<TargetArg>,
    /// Output format
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub(crate) output: DiffFormat,
    /// Exit 1 when the diff holds a widening (`widen`) or any change (`any`)
    #[arg(long, value_enum, value_name = "WHAT")]
    pub(crate) fail_on: Option<FailOn>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiffFormat {
    /// One line per change, its causes indented
    Text,
    /// A pull-request comment: summary, table, Mermaid graph, details per namespace
    Markdown,
    /// One JSON document
    Json,
    /// A Graphviz digraph of the changed edges
    Dot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    /// A change that allows more
    Widen,
    /// Any change
    Any,
}

#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    /// Project root: policies/ is taken relative to it
    #[arg(short = 'C', long, default_value = ".")]
    pub(crate) root: PathBuf,
    /// The intent files or folders (default: policies)
    #[arg(long = "policies", value_name = "PATH")]
    pub(crate) policies: Vec<PathBuf>,
    /// Only the connectivity of this namespace (what it sends and receives)
    #[arg(long, value_name = "NS")]
    pub(crate) namespace: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub(crate) output: GraphFormat,
    /// How to print diagnostics on stderr
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
    pub(crate) diagnostics: DiagnosticFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    /// A Mermaid flowchart
    Mermaid,
    /// A Graphviz digraph
    Dot,
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(BAD_INPUT)
}

/// `netpolc diff`.
pub(crate) fn diff(args: &DiffArgs) -> ExitCode {
    let result = if args.manifests_old.is_empty() {
        intents_diff(args)
    } else {
        manifests_diff(args)
    };
    let d = match result {
        Ok(d) => d,
        Err(code) => return code,
    };
    let text = match args.output {
        DiffFormat::Text => d.to_text(),
        DiffFormat::Markdown => d.to_markdown(),
        DiffFormat::Json => {
            let mut s = serde_json::to_string_pretty(&d.to_json()).unwrap_or_default();
            s.push('\n');
            s
        }
        DiffFormat::Dot => d.to_dot(),
    };
    let code = crate::commands::out(&text);
    if code != ExitCode::SUCCESS {
        return code;
    }
    let failing = match args.fail_on {
        None => false,
        Some(FailOn::Widen) => d.count(Kind::Widened) > 0,
        Some(FailOn::Any) => !d.changes.is_empty(),
    };
    if failing {
        eprintln!("error: the connectivity diff has {}", d.summary());
        return ExitCode::from(FINDINGS);
    }
    ExitCode::SUCCESS
}

fn policy_inputs(c: &Common) -> Vec<PathBuf> {
    if c.policies.is_empty() {
        vec![PathBuf::from("policies")]
    } else {
        c.policies.clone()
    }
}

fn intents_diff(args: &DiffArgs) -> Result<Diff, ExitCode> {
    let c = &args.common;
    let bad = |sources: &SourceMap, d: Vec<Diagnostic>| {
        print_diagnostics(c.diagnostics, sources, &d);
        ExitCode::from(BAD_INPUT)
    };
    let inputs = policy_inputs(c);
    let mut new_loaded =
        load::policies_from(&c.root, &inputs).map_err(|d| bad(&SourceMap::default(), vec![*d]))?;
    let mut sources = new_loaded.sources.clone();
    let (base_loaded, base_label) = match &args.base_dir {
        Some(dir) => {
            let other = load::policies_from(dir, &inputs).map_err(|d| bad(&sources, vec![*d]))?;
            let mut loaded = load::Loaded {
                diagnostics: other.diagnostics,
                ..load::Loaded::default()
            };
            let prefix = dir.display().to_string();
            for f in other.files {
                let name = format!("{}/{}", prefix.trim_end_matches('/'), f.name);
                let text = other.sources.get(f.id).text().to_string();
                let id = sources.add(name.clone(), text);
                loaded.files.push(load::File {
                    id,
                    name,
                    bytes: f.bytes,
                });
            }
            (loaded, prefix)
        }
        None => {
            let rev = args.base.clone().unwrap_or_else(|| "HEAD".to_string());
            let loaded = diff::read_git(&c.root, &rev, &inputs, &mut sources)
                .map_err(|d| bad(&sources.clone(), d))?;
            (loaded, rev)
        }
    };
    let mut base_loaded = base_loaded;
    base_loaded.sources = sources.clone();
    new_loaded.sources = sources.clone();
    let options = netpolc_intent::Options {
        default_namespace: c.namespace.clone(),
        namespace_source: c.namespace.as_ref().map(|_| "`--namespace`".to_string()),
    };
    let started = std::time::Instant::now();
    let (base, new) = std::thread::scope(|s| {
        let b = s.spawn(|| netpolc_driver::compile_with(&base_loaded, &options));
        let n = netpolc_driver::compile_with(&new_loaded, &options);
        (b.join(), n)
    });
    let Ok(base) = base else {
        return Err(fail("the base version could not be compiled"));
    };
    let shown = |d: &[Diagnostic]| -> Vec<Diagnostic> {
        d.iter()
            .filter(|d| c.verbose || d.severity != netpolc_source::Severity::Note)
            .cloned()
            .collect()
    };
    let mut diags = shown(&new.diagnostics);
    diags.extend(shown(&base.diagnostics));
    print_diagnostics(c.diagnostics, &sources, &diags);
    let (Some(base_program), Some(new_program)) = (base.program, new.program) else {
        return Err(ExitCode::from(BAD_INPUT));
    };
    if base_loaded.files.is_empty() {
        eprintln!("note: the base ({base_label}) has no intent files: everything is new");
    }
    let targets: Vec<Target> = args.targets.iter().map(|t| target_of(*t)).collect();
    let base_v = version(c, &sources, &base_program, &targets)?;
    let new_v = version(c, &sources, &new_program, &targets)?;
    if c.verbose {
        eprintln!(
            "note: read and compiled both versions in {:.2?}",
            started.elapsed()
        );
    }
    let started = std::time::Instant::now();
    let new_label = if args.base_dir.is_some() {
        c.root.display().to_string()
    } else {
        "working tree".to_string()
    };
    let d = diff::intents(&base_v, &new_v, &sources, (&base_label, &new_label));
    if c.verbose {
        eprintln!(
            "note: compared the versions in {:.2?} ({} change rows; {} of {} sides prepared, in {} namespaces; {} side verdicts)",
            started.elapsed(),
            d.changes.len(),
            d.stats.sides,
            2 * d.stats.classes,
            d.stats.namespaces.len(),
            d.stats.verdicts
        );
    }
    // `diff` prints and exits right after: both versions are left to the process's exit
    // instead of being freed one allocation at a time (~0.3 s at 2,000 namespaces).
    drop((base_v, new_v));
    std::mem::forget((
        base_program,
        new_program,
        base.diagnostics,
        new.diagnostics,
        base_loaded,
        new_loaded,
        sources,
    ));
    Ok(d)
}

/// A compiled version with the evaluators of its back ends' output.
fn version<'p>(
    c: &Common,
    sources: &SourceMap,
    program: &'p Program,
    targets: &[Target],
) -> Result<Version<'p>, ExitCode> {
    let opts = options(c);
    let mut backends = Vec::new();
    for &t in targets {
        match netpolc_driver::render(program, t, &opts) {
            Ok(r) => {
                let e = verify::round_trip(&r.objects)
                    .and_then(|o| verify::evaluator(t, &o))
                    .map_err(|e| fail(format!("{t}: {e}")))?;
                backends.push((t.name().to_string(), e));
            }
            Err(d) => {
                let d: Vec<Diagnostic> = d.into_iter().map(|d| d.with_target(t.name())).collect();
                print_diagnostics(c.diagnostics, sources, &d);
                return Err(ExitCode::from(BAD_INPUT));
            }
        }
    }
    Ok(Version { program, backends })
}

fn manifests_diff(args: &DiffArgs) -> Result<Diff, ExitCode> {
    let limits = dump::DumpLimits::default();
    let old = crate::import::objects_of(&args.manifests_old)?;
    let new = crate::import::objects_of(&args.manifests_new)?;
    let Some(cluster_path) = &args.cluster else {
        return Err(fail("--cluster is required with manifests"));
    };
    let bytes = std::fs::read(cluster_path)
        .map_err(|e| fail(format!("cannot read {}: {e}", cluster_path.display())))?;
    let cluster = dump::read(&cluster_path.display().to_string(), &bytes, &limits).map_err(fail)?;
    for n in &cluster.notes {
        eprintln!("note: {n}");
    }
    let mut model = cluster.model;
    let both: Vec<serde_json::Value> = old.iter().chain(&new).cloned().collect();
    model.ports = dump::ports(&both, &model);
    model.externals = dump::externals(&both, &model, &[]);
    drop(both);
    let pick = |t: Target, objs: &[serde_json::Value]| -> Result<Box<dyn Evaluator>, ExitCode> {
        let mine: Vec<serde_json::Value> = objs
            .iter()
            .filter(|o| crate::commands::applies(t, o))
            .cloned()
            .collect();
        verify::evaluator(t, &mine).map_err(|e| fail(format!("{t}: {e}")))
    };
    // (reading, base evaluator, new evaluator)
    type Pairing = (String, Box<dyn Evaluator>, Box<dyn Evaluator>);
    let mut evals: Vec<Pairing> = Vec::new();
    match (args.old_as, args.new_as) {
        (Some(a), Some(b)) => {
            let (a, b) = (target_of(a), target_of(b));
            evals.push((format!("{a} -> {b}"), pick(a, &old)?, pick(b, &new)?));
        }
        _ => {
            let targets: Vec<Target> = if args.targets.is_empty() {
                Target::ALL.to_vec()
            } else {
                args.targets.iter().map(|t| target_of(*t)).collect()
            };
            for t in targets {
                evals.push((t.name().to_string(), pick(t, &old)?, pick(t, &new)?));
            }
        }
    }
    let readings: Vec<Reading<'_>> = evals
        .iter()
        .map(|(n, b, nw)| Reading {
            name: n.clone(),
            base: b.as_ref(),
            new: nw.as_ref(),
        })
        .collect();
    let label = |p: &[PathBuf]| -> String {
        p.iter()
            .map(|x| x.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (mut old_label, mut new_label) = (label(&args.manifests_old), label(&args.manifests_new));
    if let (Some(a), Some(b)) = (args.old_as, args.new_as) {
        old_label = format!("{old_label} as {}", target_of(a));
        new_label = format!("{new_label} as {}", target_of(b));
    }
    Ok(diff::manifests(
        &model,
        &cluster.secondary_addresses,
        &readings,
        (&old_label, &new_label),
        (&old, &new),
    ))
}

/// `netpolc graph`.
pub(crate) fn graph(args: &GraphArgs) -> ExitCode {
    let common = Common {
        root: args.root.clone(),
        policies: args.policies.clone(),
        namespace: None,
        verbose: false,
        diagnostics: args.diagnostics,
        calico_namespaced: false,
        cilium_sctp: false,
    };
    let (_, program) = match crate::front_end(&common) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if let Some(ns) = &args.namespace {
        if !program.namespaces.contains_key(ns) {
            let known: Vec<String> = program.namespaces.keys().take(10).cloned().collect();
            let more = program.namespaces.len().saturating_sub(known.len());
            return fail(format!(
                "`{ns}` is not a namespace of the intents (they manage {}{})",
                known.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
    }
    let model = netpolc_ir::derive::derive(&program);
    let intended = netpolc_ir::eval::intended(&program);
    // Only what some intent constrains: pairs with an isolated side.
    let mut focus = netpolc_driver::connectivity::Focus::default();
    for (name, ns) in &program.namespaces {
        for d in &ns.isolated {
            match d {
                netpolc_ir::Direction::Egress => focus.egress.insert(name.clone()),
                netpolc_ir::Direction::Ingress => focus.ingress.insert(name.clone()),
            };
        }
    }
    let rows = netpolc_driver::connectivity::compare(
        std::borrow::Cow::Owned(model),
        &[],
        &[&intended],
        Some(&focus),
        |p| vec![((), p.allowed[0].clone())],
    );
    // Allows to DNS names have no endpoint in the model: drawn from their rules.
    let by_name = netpolc_driver::connectivity::dns_rows(&program);
    let refs: Vec<&netpolc_driver::connectivity::Row> = rows
        .rows
        .iter()
        .map(|(r, _)| r)
        .chain(by_name.iter())
        .collect();
    let edges = graph::row_edges(&refs, &rows.groups, 1, args.namespace.as_deref());
    let mut legend = vec![
        "what the intents allow where they isolate a side; traffic between sides no intent isolates is not shown".to_string(),
    ];
    legend.extend(graph::legend(&rows.groups));
    let text = match args.output {
        GraphFormat::Mermaid => with_legend(graph::mermaid(&edges), &legend, "%% "),
        GraphFormat::Dot => with_legend(graph::dot(&edges), &legend, "// "),
    };
    crate::commands::out(&text)
}

/// The graph with a comment line per namespace group after its first line.
fn with_legend(text: String, legend: &[String], comment: &str) -> String {
    let Some((first, rest)) = text.split_once('\n') else {
        return text;
    };
    let mut s = format!("{first}\n");
    for l in legend {
        s.push_str(&format!("{comment}{}\n", l.replace('\n', " ")));
    }
    s.push_str(rest);
    s
}
