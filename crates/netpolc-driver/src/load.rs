//! Finding and reading the policy files of a repository.
//!
//! Files are found recursively (`*.yaml`, `*.yml`), named by their path relative to the
//! project root with `/` separators, and sorted by that name, so that results never
//! depend on directory order, locale, platform or where the repository is checked out. A
//! file larger than [`MAX_FILE_BYTES`] is refused before it is read.
//!
//! The rules, the same for the default `policies/` folder, for `--policies` and for every
//! file or folder met while walking:
//!
//! - Paths are normalised (`policies/../policies/a.yaml` is `policies/a.yaml`) and named
//!   relative to the project root, also when given absolute, so that headers and
//!   `netpolc.dev/source` annotations never depend on the machine. An explicit input
//!   outside the project root (`--policies /elsewhere/policies`) is named from its last
//!   component (`policies/a.yaml`), and its own folder plays the root for the link rule.
//! - A symbolic link is followed when its target is inside the project root (and named by
//!   the link's own path); a link that leads outside, or that cannot be resolved, is
//!   refused (`NP0003`) rather than skipped, so a policy file is never lost silently.
//! - A file or folder name with a control character (a newline, a tab, ...) is refused
//!   (`NP0004`): names are written into generated files and annotations.
//! - Every I/O error names the path it concerns (`NP0002`).

use netpolc_source::{Diagnostic, FileId, SourceMap};
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

/// Largest policy file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Diagnostic codes of this module.
pub mod codes {
    /// An input path (or the project root) does not exist.
    pub const NOT_FOUND: &str = "NP0001";
    /// A file or folder cannot be read.
    pub const UNREADABLE: &str = "NP0002";
    /// An input, or a symbolic link under it, leads outside the project root.
    pub const OUTSIDE_ROOT: &str = "NP0003";
    /// A file or folder name contains a control character.
    pub const BAD_FILE_NAME: &str = "NP0004";
}

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
/// A diagnostic when `root` or `dir` does not exist or cannot be listed.
pub fn policies(root: &Path, dir: &Path) -> Result<Loaded, Box<Diagnostic>> {
    policies_from(root, &[dir.to_path_buf()])
}

/// Like [`policies`], for several files or directories.
///
/// Problems with single files and links (unreadable, outside the root, bad names) are
/// returned in [`Loaded::diagnostics`], all of them; only a missing root or input, or an
/// input that is a link leading outside the root, is an `Err`.
///
/// # Errors
/// A diagnostic when the root or one of the inputs does not exist or cannot be listed.
pub fn policies_from(root: &Path, inputs: &[PathBuf]) -> Result<Loaded, Box<Diagnostic>> {
    let real_root = match std::fs::canonicalize(root) {
        Ok(r) if r.is_dir() => r,
        Ok(_) => {
            return Err(Box::new(
                Diagnostic::error(
                    codes::NOT_FOUND,
                    format!("the project root `{}` is not a folder", root.display()),
                )
                .with_help("pass the repository's folder to `-C`"),
            ))
        }
        Err(e) => {
            return Err(Box::new(
                Diagnostic::error(
                    codes::NOT_FOUND,
                    format!("cannot open the project root `{}`: {}", root.display(), e),
                )
                .with_help("pass an existing folder to `-C`"),
            ))
        }
    };
    let mut walk = Walk {
        paths: Vec::new(),
        diagnostics: Vec::new(),
    };
    for input in inputs {
        let given = if input.is_absolute() {
            input.clone()
        } else {
            root.join(input)
        };
        // Resolve the input lexically against the canonical root, so that `-C` may itself
        // be a link and `policies/../policies` names the same files as `policies`.
        let lexical = if input.is_absolute() {
            normalise(input)
        } else {
            normalise(&real_root.join(input))
        };
        if let Ok(rel) = lexical.strip_prefix(&real_root) {
            walk.input(&real_root, rel)?;
            continue;
        }
        // An absolute path through a link to the root (a linked working directory).
        match std::fs::canonicalize(&given) {
            Ok(real) if real.starts_with(&real_root) => {
                let rel = real.strip_prefix(&real_root).unwrap_or(&real).to_path_buf();
                walk.input(&real_root, &rel)?;
            }
            Ok(_) => {
                // An explicit input outside the project: its own folder is its root, so
                // its files are named from its last component, never by where the
                // machine keeps it; links must stay inside it.
                let parent = lexical.parent().unwrap_or(Path::new("/"));
                let base = std::fs::canonicalize(parent)
                    .map_err(|e| Box::new(io_error(&parent.display().to_string(), &e)))?;
                let rel = PathBuf::from(lexical.file_name().unwrap_or_default());
                walk.input(&base, &rel)?;
            }
            Err(_) => return Err(Box::new(not_found(&given.display().to_string()))),
        }
    }
    let Walk { paths, diagnostics } = walk;
    let mut named = paths;
    named.sort();
    named.dedup_by(|a, b| a.0 == b.0);
    let mut loaded = Loaded {
        diagnostics,
        ..Loaded::default()
    };
    // Read on every core (each file in one or two reads: see `read_limited`), with the
    // text for diagnostics, in order.
    let read = netpolc_ir::par::map(netpolc_ir::par::threads(), named.len(), 64, |i| {
        read_limited(&named[i].1).map(|read| {
            read.map(|bytes| {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                (bytes, text)
            })
        })
    });
    for ((name, _), read) in named.into_iter().zip(read) {
        match read {
            Ok(Some((bytes, text))) => {
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

/// The walk over the inputs: files found, as (display name, full path).
struct Walk {
    paths: Vec<(String, PathBuf)>,
    diagnostics: Vec<Diagnostic>,
}

impl Walk {
    /// One input, lexically normalised and relative to `root` (canonical): the project
    /// root, or the folder of an explicit input outside it.
    fn input(&mut self, root: &Path, rel: &Path) -> Result<(), Box<Diagnostic>> {
        let name = slash(rel);
        let shown = if name.is_empty() {
            ".".to_string()
        } else {
            name.clone()
        };
        if let Some(d) = bad_name(&shown) {
            return Err(Box::new(d));
        }
        let full = root.join(rel);
        // Every link on the way must stay inside the root, not only the last one.
        match std::fs::canonicalize(&full) {
            Ok(real) if real.starts_with(root) => {}
            Ok(real) => return Err(Box::new(outside(&shown, Some(&real.display().to_string())))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Box::new(not_found(&shown)))
            }
            Err(e) => return Err(Box::new(io_error(&shown, &e))),
        }
        match std::fs::metadata(&full) {
            Ok(m) if m.is_dir() => {
                let mut seen = Vec::new();
                self.collect(root, rel, &mut seen);
                Ok(())
            }
            Ok(m) if m.is_file() => {
                self.paths.push((name, full));
                Ok(())
            }
            Ok(_) => Err(Box::new(not_a_file(&shown))),
            Err(e) => Err(Box::new(io_error(&shown, &e))),
        }
    }

    /// Collects the YAML files of a folder (relative to the root). `seen` holds the
    /// canonical folders on the current path, against link cycles.
    fn collect(&mut self, root: &Path, dir: &Path, seen: &mut Vec<PathBuf>) {
        let full = root.join(dir);
        let dir_name = slash(dir);
        let real = match std::fs::canonicalize(&full) {
            Ok(r) => r,
            Err(e) => {
                self.diagnostics.push(io_error(&dir_name, &e));
                return;
            }
        };
        if seen.contains(&real) {
            self.diagnostics.push(
                Diagnostic::error(
                    codes::OUTSIDE_ROOT,
                    format!("`{dir_name}` is a symbolic link to a folder that contains it"),
                )
                .with_file(dir_name.clone())
                .with_help("remove the link; it would make the policies endless"),
            );
            return;
        }
        let entries =
            match std::fs::read_dir(&full).and_then(|rd| rd.collect::<Result<Vec<_>, _>>()) {
                Ok(e) => e,
                Err(e) => {
                    self.diagnostics.push(io_error(&dir_name, &e));
                    return;
                }
            };
        seen.push(real);
        // Each entry's type as the folder listing gives it (no call per file, as
        // `symlink_metadata` made: links are not followed either way).
        let mut entries: Vec<_> = entries
            .into_iter()
            .map(|e| (e.file_name(), e.file_type()))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (file_name, file_type) in entries {
            let rel = dir.join(&file_name);
            let name = slash(&rel);
            let hidden = file_name.to_string_lossy().starts_with('.');
            let yaml = matches!(
                Path::new(&file_name).extension().and_then(|x| x.to_str()),
                Some("yaml" | "yml")
            );
            let path = root.join(&rel);
            let file_type = match file_type {
                Ok(t) => t,
                Err(e) => {
                    self.diagnostics.push(io_error(&name, &e));
                    continue;
                }
            };
            let mut is_dir = file_type.is_dir();
            let mut is_file = file_type.is_file();
            if file_type.is_symlink() {
                if hidden {
                    continue;
                }
                match std::fs::canonicalize(&path) {
                    Ok(real) if real.starts_with(root) => {
                        let m = std::fs::metadata(&real);
                        is_dir = m.as_ref().is_ok_and(|m| m.is_dir());
                        is_file = m.as_ref().is_ok_and(|m| m.is_file());
                    }
                    Ok(real) => {
                        if is_dir_path(&real) || yaml {
                            self.diagnostics
                                .push(outside(&name, Some(&real.display().to_string())));
                        }
                        continue;
                    }
                    Err(e) => {
                        if yaml {
                            self.diagnostics.push(
                                Diagnostic::error(
                                    codes::OUTSIDE_ROOT,
                                    format!(
                                        "`{name}` is a symbolic link that cannot be followed: {e}"
                                    ),
                                )
                                .with_file(name.clone())
                                .with_help(
                                    "point the link at a file inside the repository, or remove it",
                                ),
                            );
                        }
                        continue;
                    }
                }
            }
            if is_dir {
                if hidden {
                    continue;
                }
                if let Some(d) = bad_name(&name) {
                    self.diagnostics.push(d);
                    continue;
                }
                self.collect(root, &rel, seen);
            } else if is_file && yaml {
                if let Some(d) = bad_name(&name) {
                    self.diagnostics.push(d);
                    continue;
                }
                self.paths.push((name, path));
            } else if yaml {
                // A pipe, socket or device named like a policy file: never opened (a
                // pipe would wait for a writer), never skipped silently.
                self.diagnostics
                    .push(bad_name(&name).unwrap_or_else(|| not_a_file(&name)));
            }
        }
        seen.pop();
    }
}

fn is_dir_path(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_dir())
}

/// `NP0004` when a path has a control character (or is not UTF-8).
fn bad_name(name: &str) -> Option<Diagnostic> {
    let bad = name.chars().find(|c| c.is_control() || *c == '\u{FFFD}')?;
    let shown = name.escape_debug().to_string();
    Some(
        Diagnostic::error(
            codes::BAD_FILE_NAME,
            format!(
                "the path `{shown}` contains the character {}",
                if bad == '\u{FFFD}' {
                    "that is not UTF-8".to_string()
                } else {
                    format!("U+{:04X}", bad as u32)
                }
            ),
        )
        .with_file(shown)
        .with_note("file names are written into generated files and annotations")
        .with_help("rename it without control characters"),
    )
}

fn not_found(name: &str) -> Diagnostic {
    Diagnostic::error(codes::NOT_FOUND, format!("`{name}` does not exist"))
        .with_file(name.to_string())
        .with_help("run netpolc from the project root (or pass it to `-C`), or pass the policies folder to `--policies`")
}

fn outside(name: &str, target: Option<&str>) -> Diagnostic {
    let message = match target {
        Some(t) => format!("`{name}` leads outside the project root, to `{t}`"),
        None => format!("`{name}` is outside the project root"),
    };
    Diagnostic::error(codes::OUTSIDE_ROOT, message)
        .with_file(name.to_string())
        .with_note("only files inside the repository are compiled, so that what is built is what is reviewed")
        .with_help("copy the policies into the repository, or point `-C` at the folder that holds them")
}

/// A pipe, socket or device where a policy file or folder is expected.
fn not_a_file(name: &str) -> Diagnostic {
    Diagnostic::error(
        codes::UNREADABLE,
        format!("`{name}` is neither a file nor a folder"),
    )
    .with_file(name.to_string())
    .with_help("policy files must be regular files; remove it or rename it")
}

fn io_error(name: &str, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error(codes::UNREADABLE, format!("cannot read `{name}`: {e}"))
        .with_file(name.to_string())
}

/// The bytes of the file at `path`, or `None` when it holds more than [`MAX_FILE_BYTES`].
/// The buffer is sized from the file's length (a `take` hides it from `read_to_end`, which
/// would otherwise grow it from a few bytes, one read call per doubling).
fn read_limited(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let f = std::fs::File::open(path)?;
    let len = f.metadata().map_or(0, |m| m.len()).min(MAX_FILE_BYTES);
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0) + 1);
    f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE_BYTES).then_some(bytes))
}

/// Removes `.` and resolves `..` lexically (never above the first component).
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// A relative path with `/` separators.
fn slash(p: &Path) -> String {
    p.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_resolves_dots() {
        assert_eq!(
            normalise(Path::new("/r/policies/../policies/./a.yaml")),
            PathBuf::from("/r/policies/a.yaml")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_socket_named_like_a_policy_file_is_refused_not_skipped() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("policies");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join("a.yaml"), "kind: x\n").expect("write");
        let _socket = std::os::unix::net::UnixListener::bind(dir.join("b.yaml")).expect("bind");
        let _other = std::os::unix::net::UnixListener::bind(dir.join("c.sock")).expect("bind");
        let loaded = policies(root.path(), Path::new("policies")).expect("lists");
        let names: Vec<&str> = loaded.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["policies/a.yaml"]);
        let messages: Vec<&str> = loaded
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(
            messages,
            ["`policies/b.yaml` is neither a file nor a folder"],
            "only the one named like a policy file"
        );
        assert_eq!(loaded.diagnostics[0].code, codes::UNREADABLE);
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(bad_name("policies/a.yaml").is_none());
        let d = bad_name("policies/x\n---\nkind: ConfigMap.yaml").expect("refused");
        assert_eq!(d.code, codes::BAD_FILE_NAME);
        assert!(d.message.contains("U+000A"), "{}", d.message);
        assert!(!d.message.contains('\n'));
    }
}
