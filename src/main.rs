//! The `netpolc` binary: resolves command-line settings and runs the driver.
//!
//! Exit codes: 0 success, 1 findings (stale golden files, failed tests), 2 bad input or
//! usage. Objects go to stdout, diagnostics to stderr.

mod cli;
mod commands;
mod discover;
mod import;
mod man;
mod progress;
mod review;

use clap::{CommandFactory, Parser};
use cli::{BuildArgs, Cli, Command, Common, DiagnosticFormat, OutputFormat, RenderArgs, TargetArg};
use netpolc_driver::{golden, load, Options, Target};
use netpolc_ir::Program;
use netpolc_source::{Diagnostic, SourceMap};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

/// mimalloc instead of the system allocator: the proof and the emitters allocate and free
/// many small objects; measured by `bash benches/proof.sh` (see CHANGELOG). Built with
/// `no_thp`: where transparent huge pages are on, every page mimalloc returns to the
/// system and takes back was cleared 2 MiB at a time (at 2,000 namespaces a render spent
/// 1.3 s of system time on it; 0.5 s without).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for findings.
pub(crate) const FINDINGS: u8 = 1;
/// Exit code for bad input or usage.
pub(crate) const BAD_INPUT: u8 = 2;

/// Every diagnostic of a run, printed once at its end: one JSON array or SARIF log, one
/// summary line.
struct Report {
    format: DiagnosticFormat,
    sources: SourceMap,
    diagnostics: Vec<Diagnostic>,
    /// Whether the command writes files or objects (`build`, `render`): the summary then
    /// says that nothing was written.
    writes: bool,
}

static REPORT: Mutex<Option<Report>> = Mutex::new(None);

fn with_report<R>(f: impl FnOnce(&mut Report) -> R) -> R {
    let mut guard = REPORT.lock().unwrap_or_else(|e| e.into_inner());
    let report = guard.get_or_insert_with(|| Report {
        format: DiagnosticFormat::Human,
        sources: SourceMap::default(),
        diagnostics: Vec::new(),
        writes: false,
    });
    f(report)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (format, writes) = match &cli.command {
        Command::Build(a) => (a.common.diagnostics, true),
        Command::Check(a) => (a.common.diagnostics, false),
        Command::Render(a) => (a.common.diagnostics, true),
        Command::Test(a) => (a.common.diagnostics, false),
        Command::Explain(a) => (a.common.diagnostics, false),
        Command::Diff(a) => (a.common.diagnostics, false),
        Command::Graph(a) => (a.diagnostics, false),
        _ => (DiagnosticFormat::Human, false),
    };
    with_report(|r| {
        r.format = format;
        r.writes = writes;
    });
    let code = run(cli);
    finish_report();
    code
}

/// Prints the run's diagnostics (once) and the summary.
fn finish_report() {
    let Some(r) = REPORT.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    let (sources, diags) = (&r.sources, &r.diagnostics);
    let text = match r.format {
        DiagnosticFormat::Human => netpolc_source::render_human(sources, diags),
        DiagnosticFormat::Json => {
            let mut s = serde_json::to_string_pretty(&netpolc_source::render_json(sources, diags))
                .unwrap_or_default();
            s.push('\n');
            s
        }
        DiagnosticFormat::Github => netpolc_source::render_github(sources, diags),
        DiagnosticFormat::Sarif => {
            let mut s = serde_json::to_string_pretty(&netpolc_source::render_sarif(sources, diags))
                .unwrap_or_default();
            s.push('\n');
            s
        }
    };
    let json_like = matches!(r.format, DiagnosticFormat::Json | DiagnosticFormat::Sarif);
    if diags.is_empty() && !json_like {
        return;
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
    if r.format == DiagnosticFormat::Human {
        let errors = diags.iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            eprintln!(
                "error: {errors} error{} found{}",
                if errors == 1 { "" } else { "s" },
                if r.writes {
                    "; nothing was written"
                } else {
                    ""
                }
            );
        }
    }
}

/// Whether diagnostics go to a machine (JSON, GitHub, SARIF): findings that the human
/// format shows as text (stale golden files, failed tests) are then diagnostics too.
pub(crate) fn machine_format(f: DiagnosticFormat) -> bool {
    f != DiagnosticFormat::Human
}

fn run(cli: Cli) -> ExitCode {
    // `render` and `fn` only print once the proof is done: what they free last is left
    // to the exit. `build` and `check` still write and compare golden/ files after it,
    // which reuse the memory freed meanwhile (41 MB less at the peak at 2,000 namespaces).
    if matches!(cli.command, Command::Render(_) | Command::Fn) {
        netpolc_ir::par::exit_frees();
    }
    match cli.command {
        Command::Build(args) => build(&args, false),
        Command::Check(args) => build(&args, true),
        Command::Render(args) => render(args),
        Command::Test(args) => commands::test(&args),
        Command::Explain(args) => commands::explain(&args),
        Command::Eval(args) => commands::eval(&args),
        Command::Import(args) => import::run(&args),
        Command::Diff(args) => review::diff(&args),
        Command::Graph(args) => review::graph(&args),
        Command::Fn => krm_function(),
        Command::Discover(args) => discover::run(&args),
        Command::Man { out_dir } => man::run(out_dir.as_deref()),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "netpolc",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
    }
}

pub(crate) fn target_of(t: TargetArg) -> Target {
    t.0
}

pub(crate) fn options(c: &Common) -> Options {
    let mut o = Options::default();
    o.calico.namespaced = c.calico_namespaced;
    o.cilium.sctp = c.cilium_sctp;
    o
}

/// Adds diagnostics to the run's report (printed at the end, all together).
pub(crate) fn print_diagnostics(
    format: DiagnosticFormat,
    sources: &SourceMap,
    diags: &[Diagnostic],
) {
    with_report(|r| {
        r.format = format;
        if sources.len() >= r.sources.len() {
            r.sources = sources.clone();
        }
        r.diagnostics.extend(diags.iter().cloned());
    });
}

/// Loads and compiles; prints diagnostics; `Err(exit code)` on errors.
pub(crate) fn front_end(c: &Common) -> Result<(SourceMap, Program), ExitCode> {
    let inputs: Vec<PathBuf> = if c.policies.is_empty() {
        vec![PathBuf::from("policies")]
    } else {
        c.policies.clone()
    };
    let loaded = match load::policies_from(&c.root, &inputs) {
        Ok(l) => l,
        Err(d) => {
            print_diagnostics(c.diagnostics, &SourceMap::default(), &[*d]);
            return Err(ExitCode::from(BAD_INPUT));
        }
    };
    let (default_namespace, namespace_source) = match &c.namespace {
        Some(ns) => (Some(ns.clone()), Some("`--namespace`".to_string())),
        None => match std::env::var("ARGOCD_APP_NAMESPACE") {
            Ok(ns) if !ns.is_empty() => (
                Some(ns),
                Some("the environment variable `ARGOCD_APP_NAMESPACE`".to_string()),
            ),
            _ => (None, None),
        },
    };
    let compiled = netpolc_driver::compile_with(
        &loaded,
        &netpolc_intent::Options {
            default_namespace,
            namespace_source,
        },
    );
    let shown: Vec<Diagnostic> = compiled
        .diagnostics
        .iter()
        .filter(|d| c.verbose || d.severity != netpolc_source::Severity::Note)
        .cloned()
        .collect();
    print_diagnostics(c.diagnostics, &loaded.sources, &shown);
    match compiled.program {
        Some(p) => Ok((loaded.sources, p)),
        None => Err(ExitCode::from(BAD_INPUT)),
    }
}

/// Renders `targets` and proves them with the driver's one pipeline
/// (`netpolc_driver::pipeline::build`); prints every diagnostic.
pub(crate) fn render_all(
    c: &Common,
    sources: &SourceMap,
    program: &Program,
    targets: &[Target],
) -> Result<Vec<(Target, Vec<netpolc_driver::emit::Emitted>)>, ExitCode> {
    use netpolc_driver::pipeline::{self, Failure};
    let started = std::time::Instant::now();
    match pipeline::build(program, targets, &options(c)) {
        Ok(built) => {
            print_diagnostics(c.diagnostics, sources, &built.diagnostics);
            if c.verbose {
                eprintln!(
                    "note: proved {} target(s) on {} namespaces, {} pods: {} sides against {} other ends, {} side and {} flow verdicts compared in {:.2?}",
                    built.rendered.len(),
                    built.stats.namespaces,
                    built.stats.pods,
                    built.stats.sides,
                    built.stats.other_ends,
                    built.stats.side_checks,
                    built.stats.flow_checks,
                    started.elapsed()
                );
                let phases: Vec<String> = built
                    .phases
                    .iter()
                    .map(|(phase, t)| format!("{phase} {t:.2?}"))
                    .collect();
                eprintln!("note: {}", phases.join(", "));
            }
            Ok(built.rendered)
        }
        Err(failed) => {
            print_diagnostics(c.diagnostics, sources, &failed.diagnostics);
            Err(match failed.failure {
                Failure::Refused => ExitCode::from(BAD_INPUT),
                Failure::Disagreed(d) => {
                    let diags = netpolc_driver::verify::disagreement_diagnostics(program, &d);
                    print_diagnostics(c.diagnostics, sources, &diags);
                    ExitCode::from(FINDINGS)
                }
                Failure::Internal(e) => {
                    eprintln!("error: translation validation could not run: {e}");
                    ExitCode::from(BAD_INPUT)
                }
            })
        }
    }
}

/// A large value the process needs until it exits: left to the exit instead of freed
/// node by node (the objects of three back ends at 2,000 namespaces take seconds to free).
fn at_exit<T>(value: T) -> std::mem::ManuallyDrop<T> {
    std::mem::ManuallyDrop::new(value)
}

fn build(args: &BuildArgs, check_only: bool) -> ExitCode {
    let requested: Vec<Target> = args.targets.iter().map(|t| target_of(*t)).collect();
    let mut progress = progress::Progress::stderr(
        !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
    progress.stage("reading and compiling the intents");
    let (sources, program) = match front_end(&args.common) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let program = at_exit(program);
    // The project's back ends (ClusterProfile `targets`), or the requested ones among them.
    let targets = match netpolc_driver::project::choose(&program, &requested) {
        Ok(t) => t,
        Err(e) => {
            progress.finish();
            eprintln!("error: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    progress.stage("rendering and proving every target");
    let rendered = match render_all(&args.common, &sources, &program, &targets) {
        Ok(r) => r,
        Err(code) => return code,
    };
    // An empty policy set would make golden/ an empty kustomization, and a GitOps tool
    // with pruning would then delete every policy of the cluster.
    if !args.allow_empty {
        let empty: Vec<&str> = rendered
            .iter()
            .filter(|(_, o)| o.is_empty())
            .map(|(t, _)| t.name())
            .collect();
        if !empty.is_empty() {
            progress.finish();
            eprintln!(
                "error: the intents render no {} object; nothing was written (pass --allow-empty if that is intended)",
                empty.join(", ")
            );
            return ExitCode::from(BAD_INPUT);
        }
    }
    progress.stage(if check_only {
        "comparing golden/"
    } else {
        "writing golden/"
    });
    let mut expected = at_exit(golden::Files::new());
    // Each target's texts are freed once its files hold them: the two are never held in
    // full at once. (Freeing them takes the main thread about 70 ms at 2,000 namespaces;
    // leaving them to the exit raised `check`'s peak by 60 MB for no time that
    // alternated runs could show.)
    for (t, objects) in rendered {
        expected.extend(golden::files(t, &objects));
    }
    let golden_dir = if args.golden.is_absolute() {
        args.golden.clone()
    } else {
        args.common.root.join(&args.golden)
    };
    let root = &args.common.root;
    if let Err(e) = golden::contained(root, &golden_dir) {
        progress.finish();
        eprintln!("error: {e}");
        return ExitCode::from(BAD_INPUT);
    }
    let lock = golden::lock(&golden_dir, !check_only, || {
        eprintln!(
            "note: another netpolc build is writing {}; waiting for it",
            golden_dir.display()
        );
    });
    let lock = match lock {
        Ok(l) => l,
        Err(e) => {
            progress.finish();
            eprintln!(
                "error: cannot lock the folder of {}: {e}",
                golden_dir.display()
            );
            return ExitCode::from(BAD_INPUT);
        }
    };
    if check_only {
        let checked = golden::check(&golden_dir, &targets, &expected);
        progress.finish();
        let findings = match checked {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", golden_dir.display());
                return ExitCode::from(BAD_INPUT);
            }
        };
        if findings.is_empty() {
            if !args.quiet {
                eprintln!("golden/ is up to date ({} files)", expected.len());
            }
            return ExitCode::SUCCESS;
        }
        if machine_format(args.common.diagnostics) {
            let diags: Vec<Diagnostic> = findings.iter().map(golden_diagnostic).collect();
            print_diagnostics(args.common.diagnostics, &sources, &diags);
        }
        let mut out = std::io::stdout().lock();
        for f in &findings {
            let _ = match f {
                golden::Finding::Stale { diff, .. } => write!(out, "{diff}"),
                golden::Finding::Missing { path } => writeln!(out, "missing: golden/{path}"),
                golden::Finding::Orphan { path } => {
                    writeln!(out, "orphan: golden/{path} (nothing generates it)")
                }
                golden::Finding::Foreign { path } => {
                    writeln!(out, "foreign: golden/{path} (not generated by netpolc)")
                }
            };
        }
        eprintln!(
            "error: golden/ is stale: {} file(s) differ; run `netpolc build`",
            findings.len()
        );
        return ExitCode::from(FINDINGS);
    }
    let written = golden::write(root, &golden_dir, &targets, &expected, &lock);
    progress.finish();
    match written {
        Ok(s) => {
            for w in &s.warnings {
                eprintln!("warning: {w}");
            }
            if args.quiet {
                return ExitCode::SUCCESS;
            }
            eprintln!(
                "wrote {} file(s), removed {}, {} unchanged",
                s.written.len(),
                s.removed.len(),
                s.unchanged
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}; golden/ was not changed");
            ExitCode::from(BAD_INPUT)
        }
    }
}

/// A `check` finding as a diagnostic (`NP6003`) on the golden file, at the first line
/// that differs, for `--diagnostics json|github|sarif`.
fn golden_diagnostic(f: &golden::Finding) -> Diagnostic {
    let (path, message, line) = match f {
        golden::Finding::Stale { path, diff } => {
            (path, "golden file is stale", first_changed_line(diff))
        }
        golden::Finding::Missing { path } => (path, "golden file is missing", None),
        golden::Finding::Orphan { path } => (path, "golden file is generated by nothing", Some(1)),
        golden::Finding::Foreign { path } => (
            path,
            "file in golden/ was not generated by netpolc",
            Some(1),
        ),
    };
    let file = format!("golden/{path}");
    let mut d = Diagnostic::error("NP6003", format!("{message}: `{file}`"))
        .with_file(file)
        .with_help("run `netpolc build` and commit golden/");
    if let Some(l) = line {
        d = d.with_line(l);
    }
    d
}

/// The first line of the old file a unified diff changes (`@@ -L,N +M,K @@`, plus the
/// context lines before the first change).
fn first_changed_line(diff: &str) -> Option<usize> {
    let mut lines = diff.lines().skip_while(|l| !l.starts_with("@@ -"));
    let header = lines.next()?;
    let start: usize = header
        .strip_prefix("@@ -")?
        .split([',', ' '])
        .next()?
        .parse()
        .ok()?;
    let context = lines.take_while(|l| l.starts_with(' ')).count();
    Some((start + context).max(1))
}

fn env_target() -> Option<Result<Target, String>> {
    for var in [
        "PARAM_TARGET",
        "ARGOCD_ENV_NETPOLC_TARGET",
        "NETPOLC_TARGET",
    ] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return Some(Target::from_name(&v).ok_or(format!(
                    "{var}={v} is not a target ({})",
                    Target::ALL.map(Target::name).join(", ")
                )));
            }
        }
    }
    None
}

/// Reads `PARAM_<NAME>`, else `ARGOCD_ENV_NETPOLC_<NAME>`, else `NETPOLC_<NAME>`; empty
/// means unset. Argo CD passes an Application's `spec.source.plugin.parameters` (those
/// announced in deploy/argocd/plugin.yaml) as `PARAM_<NAME>`, and its
/// `spec.source.plugin.env` with the `ARGOCD_ENV_` prefix.
pub(crate) fn env_value(name: &str) -> Result<Option<(String, String)>, String> {
    for var in [
        format!("PARAM_{name}"),
        format!("ARGOCD_ENV_NETPOLC_{name}"),
        format!("NETPOLC_{name}"),
    ] {
        match std::env::var(&var) {
            Ok(v) if !v.is_empty() => return Ok(Some((var, v))),
            Ok(_) | Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => return Err(format!("{var} is not UTF-8")),
        }
    }
    Ok(None)
}

/// A boolean option from the environment: `true` or `false`.
fn env_flag(name: &str) -> Result<bool, String> {
    match env_value(name)? {
        None => Ok(false),
        Some((_, v)) if v == "true" => Ok(true),
        Some((_, v)) if v == "false" => Ok(false),
        Some((var, v)) => Err(format!("{var}={v} is not a boolean (true or false)")),
    }
}

/// The options of `render` that may come from the environment (for the Argo CD plugin);
/// a flag on the command line wins. A policies path from the environment must stay inside
/// the working directory (the Application's source folder).
fn render_env(args: &mut RenderArgs) -> Result<(), String> {
    args.allow_empty |= env_flag("ALLOW_EMPTY")?;
    args.common.calico_namespaced |= env_flag("CALICO_NAMESPACED")?;
    args.common.cilium_sctp |= env_flag("CILIUM_SCTP")?;
    if args.common.policies.is_empty() {
        if let Some(path) = env_policies()? {
            args.common.policies = vec![path];
        }
    }
    Ok(())
}

/// The policies folder from the environment (`POLICIES`, see [`env_value`]), which must be
/// a relative path inside the working directory (the Application's source folder).
pub(crate) fn env_policies() -> Result<Option<PathBuf>, String> {
    let Some((var, v)) = env_value("POLICIES")? else {
        return Ok(None);
    };
    let path = PathBuf::from(&v);
    let inside = path.components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    });
    if !inside {
        return Err(format!(
            "{var}={v} is not a relative path inside the application folder"
        ));
    }
    Ok(Some(path))
}

fn render(mut args: RenderArgs) -> ExitCode {
    if let Err(e) = render_env(&mut args) {
        eprintln!("error: {e}");
        return ExitCode::from(BAD_INPUT);
    }
    let requested = match (args.target, env_target()) {
        (Some(t), _) => Some(target_of(t)),
        (None, Some(Ok(t))) => Some(t),
        (None, Some(Err(e))) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_INPUT);
        }
        (None, None) => None,
    };
    let (sources, program) = match front_end(&args.common) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let program = at_exit(program);
    // Without a target: the project's first back end (Kubernetes when it builds all).
    let target = match netpolc_driver::project::choose(&program, requested.as_slice()) {
        Ok(t) => t.first().copied().unwrap_or(Target::Kubernetes),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let rendered = match render_all(&args.common, &sources, &program, &[target]) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let objects = at_exit(
        rendered
            .into_iter()
            .flat_map(|(_, o)| o)
            .collect::<Vec<_>>(),
    );
    if objects.is_empty() && !args.allow_empty {
        eprintln!(
            "error: the intents render no {target} object; pass --allow-empty if that is intended"
        );
        return ExitCode::from(BAD_INPUT);
    }
    // Written object by object into one buffered stream: no second copy of the output.
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout);
    let written = match args.output {
        OutputFormat::Yaml => objects.iter().try_for_each(|o| {
            out.write_all(b"---\n")
                .and_then(|()| out.write_all(o.yaml.as_bytes()))
        }),
        // The objects as they read back from the text (what the proof evaluated).
        OutputFormat::Json => match netpolc_driver::verify::read_back(&objects) {
            Ok(values) => serde_json::to_writer_pretty(&mut out, &values)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n")),
            Err(e) => {
                eprintln!("error: the rendered objects could not be read back: {e}");
                return ExitCode::from(BAD_INPUT);
            }
        },
    };
    if written.and_then(|()| out.flush()).is_err() {
        return ExitCode::from(BAD_INPUT);
    }
    ExitCode::SUCCESS
}

/// `netpolc fn`: the exec KRM function (see `netpolc_driver::krm`).
fn krm_function() -> ExitCode {
    use std::io::Read as _;
    let mut input = Vec::new();
    let limit = netpolc_driver::krm::MAX_INPUT_BYTES as u64 + 1;
    if let Err(e) = std::io::stdin().lock().take(limit).read_to_end(&mut input) {
        eprintln!("error: cannot read the ResourceList from stdin: {e}");
        return ExitCode::from(BAD_INPUT);
    }
    let out = netpolc_driver::krm::run(&input);
    let _ = std::io::stderr().write_all(out.stderr.as_bytes());
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.stdout.as_bytes())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return ExitCode::from(BAD_INPUT);
    }
    ExitCode::from(out.exit_code)
}
