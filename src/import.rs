//! `netpolc import`: reading the manifests (files, folders, `-`) with their positions,
//! writing the intent files into a fresh folder (staged, then renamed: nothing
//! half-written), and the proof. Bad input is a located diagnostic and exit 2, before
//! anything is written.

use crate::cli::ImportArgs;
use crate::{target_of, BAD_INPUT, FINDINGS};
use netpolc_driver::manifests::{ManifestLimits, Manifests};
use netpolc_driver::{dump, import};
use netpolc_source::{Diagnostic, SourceMap};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn fail(e: &str) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(BAD_INPUT)
}

/// Bad input with positions: the diagnostics, and exit 2 (nothing was written).
fn located(sources: &SourceMap, diagnostics: &[Diagnostic]) -> ExitCode {
    eprint!("{}", netpolc_source::render_human(sources, diagnostics));
    eprintln!("error: the manifests cannot be imported; nothing was written");
    ExitCode::from(BAD_INPUT)
}

/// The YAML files of a folder, recursively, sorted (names starting with `.` skipped).
fn files_of(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<(), String> {
    if depth > 32 {
        return Err(format!("{}: folders nested too deeply", dir.display()));
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_of(&p, out, depth + 1)?;
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Why manifests could not be read: a plain message (a file that cannot be opened), or
/// located diagnostics.
enum ReadError {
    Plain(String),
    Located(Vec<Diagnostic>),
}

impl From<String> for ReadError {
    fn from(s: String) -> Self {
        ReadError::Plain(s)
    }
}

/// Reads every manifest named on the command line, with positions.
fn read_manifests(paths: &[PathBuf], manifests: &mut Manifests) -> Result<(), ReadError> {
    let limits = ManifestLimits::default();
    for p in paths {
        if p.as_os_str() == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .take(limits.yaml.max_file_size as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            manifests
                .add("<stdin>", &bytes, &limits)
                .map_err(ReadError::Located)?;
            continue;
        }
        let mut files = Vec::new();
        if p.is_dir() {
            files_of(p, &mut files, 0)?;
        } else {
            files.push(p.clone());
        }
        for f in files {
            let bytes =
                std::fs::read(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
            manifests
                .add(&f.display().to_string(), &bytes, &limits)
                .map_err(ReadError::Located)?;
        }
    }
    Ok(())
}

/// The objects of manifest files and folders (`eval`, `diff --manifests-*`), read with
/// positions: a YAML error or a duplicate key is printed with its file:line:column and
/// is `Err(exit 2)`.
pub(crate) fn objects_of(paths: &[PathBuf]) -> Result<Vec<serde_json::Value>, ExitCode> {
    let mut manifests = Manifests::default();
    match read_manifests(paths, &mut manifests) {
        Ok(()) => Ok(manifests.objects),
        Err(ReadError::Plain(e)) => Err(fail(&e)),
        Err(ReadError::Located(d)) => {
            eprint!("{}", netpolc_source::render_human(&manifests.sources, &d));
            Err(ExitCode::from(BAD_INPUT))
        }
    }
}

/// Writes the files into a staging folder beside `out`, then renames it into place.
fn write(out: &Path, files: &[(String, String)]) -> Result<(), String> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map_err(|e| format!("cannot read {}: {e}", out.display()))?
            .next()
            .is_none();
        if !empty {
            return Err(format!(
                "{} exists and is not empty: choose a new folder (import never overwrites)",
                out.display()
            ));
        }
    }
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a folder name", out.display()))?;
    let staging = out.with_file_name(format!(".{name}.netpolc-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| {
        std::fs::create_dir_all(&staging)
            .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
        for (rel, text) in files {
            let p = staging.join(rel);
            std::fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        }
        if out.exists() {
            std::fs::remove_dir(out)
                .map_err(|e| format!("cannot replace {}: {e}", out.display()))?;
        }
        std::fs::rename(&staging, out)
            .map_err(|e| format!("cannot move the intents into {}: {e}", out.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

/// `netpolc import`.
pub(crate) fn run(args: &ImportArgs) -> ExitCode {
    let mut manifests = Manifests::default();
    match read_manifests(&args.manifests, &mut manifests) {
        Ok(()) => {}
        Err(ReadError::Plain(e)) => return fail(&e),
        Err(ReadError::Located(d)) => return located(&manifests.sources, &d),
    }
    let cluster = match &args.cluster {
        None => None,
        Some(p) => {
            let read = std::fs::read(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))
                .and_then(|b| {
                    dump::read(&p.display().to_string(), &b, &dump::DumpLimits::default())
                });
            match read {
                Ok(d) => Some(d),
                Err(e) => return fail(&e),
            }
        }
    };
    let target = target_of(args.source);
    let mut options = import::Options::new(target);
    options.node_networks = args.node_cidrs.clone();
    options.pod_networks = args.pod_cidrs.clone();
    options.service_networks = args.service_cidrs.clone();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    if let Some(dump) = &cluster {
        diagnostics.extend(import::use_cluster(&mut options, dump));
    }
    let imported = match import::import_manifests(&manifests, &options) {
        Ok(i) => i,
        Err(e) => return located(&manifests.sources, &[e.to_diagnostic(Some(&manifests))]),
    };
    if let Err(e) = write(&args.out, &imported.files) {
        return fail(&e);
    }
    diagnostics.extend(imported.diagnostics.iter().cloned());
    let cluster = cluster.map(|d| d.model);
    let proof = import::prove(
        &args.out,
        &manifests.objects,
        target,
        cluster.as_ref(),
        imported.left_out == 0,
    );
    let proved = match proof {
        Ok(p) => {
            let ok = p.diagnostics.is_empty();
            diagnostics.extend(p.diagnostics);
            ok
        }
        Err(e) => {
            diagnostics.push(
                Diagnostic::error(
                    "NP9003",
                    "the imported intents do not compile to the source's back end",
                )
                .with_note(e)
                .with_help("report this as a netpolc bug, with the manifests"),
            );
            false
        }
    };
    eprint!(
        "{}",
        netpolc_source::render_human(&manifests.sources, &diagnostics)
    );
    let status = if imported.left_out > 0 {
        format!(
            "{} construct(s) left out: the intents mean less than the manifests",
            imported.left_out
        )
    } else if proved {
        format!("proved equal on {target}")
    } else {
        "NOT proved equal".to_string()
    };
    eprintln!(
        "netpolc import: wrote {} intent(s) in {} file(s) to {}; {status}",
        imported.intents,
        imported.files.len(),
        args.out.display()
    );
    if imported.left_out > 0 || !proved {
        ExitCode::from(FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}
