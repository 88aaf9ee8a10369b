//! Finding and reading the policy files of a repository.
//!
//! Files are found recursively (`*.yaml`, `*.yml`), named by their path relative to the
//! project root with `/` separators, and sorted by that name, so that results never
//! depend on directory order, locale or platform. A file larger than
//! [`MAX_FILE_BYTES`] is refused before it is read.

use netpolc_source::{Diagnostic, FileId, SourceMap};
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Largest policy file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// One input file.
#[derive(Clone, Debug)]
pub struct File {
    /// Id in the source map.
    pub id: FileId,
    /// Display name relative to the project root.
    pub name: String,
    /// Raw bytes.
    pub bytes: Vec<u8>,
}

/// Every input file, with I/O problems as diagnostics.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// Texts for rendering diagnostics.
    pub sources: SourceMap,
    /// Files, sorted by name.
    pub files: Vec<File>,
    /// Problems reading them.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads every YAML file under `dir` (a file or a directory; relative paths are taken
/// from `root`).
///
/// # Errors
/// A diagnostic when `dir` does not exist or cannot be listed.
pub fn policies(root: &Path, dir: &Path) -> Result<Loaded, Box<Diagnostic>> {
    policies_from(root, &[dir.to_path_buf()])
}

/// Like [`policies`], for several files or directories.
///
/// # Errors
/// A diagnostic when one of them does not exist or cannot be listed.
pub fn policies_from(root: &Path, inputs: &[PathBuf]) -> Result<Loaded, Box<Diagnostic>> {
    let mut paths = Vec::new();
    for input in inputs {
        let full = if input.is_absolute() {
            input.clone()
        } else {
            root.join(input)
        };
        if full.is_dir() {
            collect(&full, &mut paths)
                .map_err(|e| Box::new(io_error(&display(root, &full), &e)))?;
        } else if full.is_file() {
            paths.push(full);
        } else {
            return Err(Box::new(
                Diagnostic::error(
                    "NP0001",
                    format!("`{}` does not exist", display(root, &full)),
                )
                .with_help("run netpolc from the project root, or pass the policies folder"),
            ));
        }
    }
    let mut named: Vec<(String, PathBuf)> =
        paths.into_iter().map(|p| (display(root, &p), p)).collect();
    named.sort();
    named.dedup();
    let mut loaded = Loaded::default();
    for (name, path) in named {
        match read_limited(&path) {
            Ok(Some(bytes)) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let id = loaded.sources.add(name.clone(), text);
                loaded.files.push(File { id, name, bytes });
            }
            Ok(None) => loaded.diagnostics.push(
                Diagnostic::error(
                    "NP1001",
                    format!(
                        "`{name}` is larger than {} MiB",
                        MAX_FILE_BYTES / 1024 / 1024
                    ),
                )
                .with_file(name.clone())
                .with_help("split the intents into several files"),
            ),
            Err(e) => loaded.diagnostics.push(io_error(&name, &e)),
        }
    }
    Ok(loaded)
}

fn io_error(name: &str, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error("NP0002", format!("cannot read `{name}`: {e}")).with_file(name.to_string())
}

fn read_limited(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let f = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE_BYTES).then_some(bytes))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            if !e.file_name().to_string_lossy().starts_with('.') {
                collect(&p, out)?;
            }
        } else if ft.is_file()
            && matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// A path relative to `root` with `/` separators (or as given when outside `root`).
pub fn display(root: &Path, p: &Path) -> String {
    let Ok(rel) = p.strip_prefix(root) else {
        return p.to_string_lossy().replace('\\', "/");
    };
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|c| c != ".")
        .collect::<Vec<_>>()
        .join("/")
}
