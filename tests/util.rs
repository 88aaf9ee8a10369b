//! Helpers shared by the test modules.

use netpolc_driver::{load, Options, Target};
use netpolc_ir::Program;
use netpolc_source::SourceMap;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The repository root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The vendored schemas, `tests/fixtures/schemas` (provenance in its README).
pub(crate) fn schemas() -> PathBuf {
    root().join("tests/fixtures/schemas")
}

/// Case files under `tests/cases/<kind>/`, sorted.
pub(crate) fn cases(kind: &str) -> Vec<PathBuf> {
    let dir = root().join("tests/cases").join(kind);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    out.sort();
    out
}

/// The case's stem, used in snapshot names.
pub(crate) fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// Loads and compiles the given paths (relative to the repository root).
pub(crate) fn compile(paths: &[PathBuf]) -> (SourceMap, Option<Program>, String) {
    let loaded = load::policies_from(&root(), paths).expect("inputs exist");
    let compiled = netpolc_driver::compile(&loaded);
    let diags = netpolc_source::render_human(&loaded.sources, &compiled.diagnostics);
    (loaded.sources, compiled.program, diags)
}

/// The objects of one target, or the rendered diagnostics when the back end refuses.
pub(crate) fn render(
    sources: &SourceMap,
    program: &Program,
    target: Target,
) -> Result<Vec<Value>, String> {
    netpolc_driver::render(program, target, &Options::default())
        .map(|r| r.objects)
        .map_err(|d| netpolc_source::render_human(sources, &d))
}

/// A multi-document YAML stream.
pub(crate) fn stream(objects: &[Value]) -> String {
    objects
        .iter()
        .map(|o| format!("---\n{}", netpolc_driver::emit::to_yaml(o)))
        .collect()
}

/// Every object netpolc emits for the repository's policies/ and the valid corpus, per
/// target, with where it came from.
pub(crate) fn all_emitted() -> Vec<(Target, String, Value)> {
    let mut inputs: Vec<(String, Vec<PathBuf>)> =
        vec![("policies".into(), vec![PathBuf::from("policies")])];
    for c in cases("valid") {
        inputs.push((stem(&c), vec![c]));
    }
    let mut out = Vec::new();
    for (name, paths) in inputs {
        let (sources, program, diags) = compile(&paths);
        let program = program.unwrap_or_else(|| panic!("{name} does not compile:\n{diags}"));
        for t in Target::ALL {
            if let Ok(objects) = render(&sources, &program, t) {
                out.extend(objects.into_iter().map(|o| (t, name.clone(), o)));
            }
        }
        // Calico's namespaced form too (`--calico-namespaced`).
        let mut options = Options::default();
        options.calico.namespaced = true;
        if let Ok(r) = netpolc_driver::render(&program, Target::Calico, &options) {
            out.extend(
                r.objects
                    .into_iter()
                    .map(|o| (Target::Calico, format!("{name} (namespaced)"), o)),
            );
        }
    }
    out
}

/// Runs the `netpolc` binary in `dir`, without the environment variables that select a
/// target, and returns what it did.
pub(crate) fn netpolc(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_netpolc"))
        .current_dir(dir)
        .args(args)
        .env_remove("ARGOCD_ENV_NETPOLC_TARGET")
        .env_remove("NETPOLC_TARGET")
        .output()
        .expect("runs")
}

/// A fresh scratch folder `netpolc-<name>-<random>`, removed when it goes out of scope
/// and kept for inspection when the test fails. It reads as a `Path`.
pub(crate) struct Scratch(tempfile::TempDir);

impl Scratch {
    pub(crate) fn new(name: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("netpolc-{name}-"))
            .tempdir()
            .unwrap();
        Scratch(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // TempDir's own drop then leaves the folder in place.
        self.0.disable_cleanup(std::thread::panicking());
    }
}

/// A fresh scratch project `netpolc-<prefix>-<name>-<random>` holding a copy of the
/// repository's policies/.
pub(crate) fn project_copy(prefix: &str, name: &str) -> Scratch {
    let dir = Scratch::new(&format!("{prefix}-{name}"));
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    for e in std::fs::read_dir(root().join("policies")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join("policies").join(p.file_name().unwrap())).unwrap();
    }
    dir
}
