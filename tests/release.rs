//! What is shipped besides the source: the manual pages, the container image's
//! Dockerfile, the fully static binary, the GitHub action and the pre-commit hooks.
//!
//! Docker is not needed: the Dockerfile is read and checked against the contract (a
//! `scratch` or distroless final stage, a non-root user, nothing downloaded but crates,
//! the documented static build). The static binary is checked when it was built (it takes
//! a release build; see docs/install.md); otherwise that test says so and passes.

use crate::util::root;
use netpolc_driver::verify;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_netpolc");

/// The documented command for the static binary (docs/install.md, Dockerfile, Cargo.toml).
const STATIC_BUILD: &str =
    "cargo build --profile static --locked --target x86_64-unknown-linux-gnu";
const STATIC_FLAGS: &str = "RUSTFLAGS=\"-C target-feature=+crt-static\"";

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---------------------------------------------------------------------------------------
// Manual pages

#[test]
fn man_pages_are_generated_from_the_cli() {
    let dir = std::env::temp_dir().join(format!("netpolc-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(BIN)
        .args(["man", "--out-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let committed = root().join("docs/man");
    assert_eq!(
        names(&dir),
        names(&committed),
        "docs/man is stale: run `cargo run -- man --out-dir docs/man`"
    );
    for n in names(&dir) {
        assert_eq!(
            std::fs::read_to_string(dir.join(&n)).unwrap(),
            std::fs::read_to_string(committed.join(&n)).unwrap(),
            "docs/man/{n} is stale: run `cargo run -- man --out-dir docs/man`"
        );
    }
    // Every command has a page, and `netpolc man` prints the main one.
    for cmd in [
        "build", "check", "render", "test", "explain", "eval", "fn", "discover",
    ] {
        assert!(names(&dir).contains(&format!("netpolc-{cmd}.1")), "{cmd}");
    }
    let top = Command::new(BIN).arg("man").output().unwrap();
    assert_eq!(
        String::from_utf8(top.stdout).unwrap(),
        std::fs::read_to_string(committed.join("netpolc.1")).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// Dockerfile

/// One instruction: keyword (upper case) and its arguments, continuation lines joined.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
            continue;
        }
        if t.starts_with('#') {
            continue; // a comment inside a continued instruction
        }
        cur.push_str(t);
        let (k, rest) = cur.split_once(char::is_whitespace).unwrap_or((&cur, ""));
        out.push((k.to_ascii_uppercase(), rest.trim().to_string()));
        cur.clear();
    }
    out
}

#[test]
fn dockerfile_builds_a_static_binary_into_a_minimal_non_root_image() {
    let text = read("Dockerfile");
    let ins = instructions(&text);
    let stages: Vec<usize> = ins
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| k == "FROM")
        .map(|(i, _)| i)
        .collect();
    assert!(stages.len() >= 2, "a build stage and a final stage");
    let last = *stages.last().unwrap();
    let final_stage = &ins[last..];
    let base = final_stage[0].1.split_whitespace().next().unwrap();
    assert!(
        base == "scratch" || base.starts_with("gcr.io/distroless/static"),
        "final image {base} is not scratch or distroless static"
    );
    // Every other base image is pinned to a version, not `latest`.
    for &s in &stages[..stages.len() - 1] {
        let image = ins[s].1.split_whitespace().next().unwrap();
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest" && !tag.contains('/'),
            "{image} is not pinned"
        );
        if image.contains("/rust:") {
            // At least the toolchain Cargo.toml asks for.
            let want = read("Cargo.toml")
                .lines()
                .find_map(|l| l.strip_prefix("rust-version = "))
                .map(|v| v.trim_matches('"').to_string())
                .unwrap();
            let have = tag.split('-').next().unwrap();
            let v = |s: &str| {
                s.split('.')
                    .map(|n| n.parse::<u32>().unwrap())
                    .collect::<Vec<_>>()
            };
            assert!(
                v(have) >= v(&want),
                "{image} is older than rust-version {want}"
            );
        }
    }
    // A non-root user in the final stage, with a passwd entry (kpt runs KRM functions as
    // `nobody`, which docker resolves in the image's /etc/passwd).
    let user = final_stage
        .iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, v)| v.clone())
        .expect("USER in the final stage");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("numeric USER");
    assert_ne!(uid, 0, "runs as root");
    assert!(
        text.contains(&format!("nobody:x:{uid}:")),
        "no passwd entry for uid {uid}"
    );
    // Nothing downloaded but crates: no package manager, no curl, no ADD of a URL.
    for (k, v) in &ins {
        for tool in [
            "curl",
            "wget",
            "apt-get",
            "apt ",
            "apk ",
            "yum",
            "dnf",
            "git clone",
            "rustup",
        ] {
            assert!(!v.contains(tool), "{k} {v} uses {tool}");
        }
        if k == "ADD" {
            assert!(!v.contains("://"), "ADD of a URL: {v}");
        }
    }
    // The documented static build, and the binary it makes as the entrypoint on PATH.
    let build = ins
        .iter()
        .filter(|(k, _)| k == "RUN")
        .map(|(_, v)| v.as_str())
        .find(|v| v.contains("cargo build"))
        .expect("a cargo build");
    assert!(build.contains(STATIC_BUILD), "{build}");
    assert!(build.contains(STATIC_FLAGS), "{build}");
    let entry = final_stage
        .iter()
        .find(|(k, _)| k == "ENTRYPOINT")
        .map(|(_, v)| v.clone())
        .expect("ENTRYPOINT");
    assert!(entry.contains("/usr/local/bin/netpolc"), "{entry}");
    assert!(
        final_stage
            .iter()
            .any(|(k, v)| k == "ENV" && v.contains("PATH=/usr/local/bin")),
        "netpolc must be on PATH (the Argo CD plugin runs `netpolc render`)"
    );
    // The build context keeps what cargo needs.
    let ignore = read(".dockerignore");
    for needed in ["Cargo.lock", "src", "crates", "Cargo.toml"] {
        assert!(
            !ignore.lines().any(|l| l.trim() == needed),
            ".dockerignore drops {needed}"
        );
    }
    // The docs give the same command.
    let docs = read("docs/install.md");
    assert!(docs.contains(STATIC_BUILD) && docs.contains(STATIC_FLAGS));
    assert!(read("Cargo.toml").contains("[profile.static]"));
}

// ---------------------------------------------------------------------------------------
// The static binary

/// What makes an ELF executable depend on the system at run time: its program
/// interpreter (the dynamic loader) and its DT_NEEDED shared libraries (as offsets into
/// the dynamic string table; only their count matters here).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Dynamic {
    interpreter: bool,
    needed: usize,
}

fn u16_at(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Reads the program headers of a little-endian ELF64 file.
pub(crate) fn dynamic_dependencies(b: &[u8]) -> Dynamic {
    assert!(b.len() > 64 && &b[..4] == b"\x7fELF", "not an ELF file");
    assert_eq!((b[4], b[5]), (2, 1), "not a little-endian ELF64 file");
    let (phoff, phentsize, phnum) = (u64_at(b, 0x20) as usize, u16_at(b, 0x36), u16_at(b, 0x38));
    let mut d = Dynamic {
        interpreter: false,
        needed: 0,
    };
    for i in 0..phnum {
        let h = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(b[h..h + 4].try_into().unwrap());
        let (offset, size) = (u64_at(b, h + 8) as usize, u64_at(b, h + 32) as usize);
        match p_type {
            3 => d.interpreter = true, // PT_INTERP
            2 => {
                // PT_DYNAMIC: (tag, value) pairs up to DT_NULL.
                for e in b[offset..offset + size].chunks_exact(16) {
                    match u64_at(e, 0) {
                        0 => break,
                        1 => d.needed += 1, // DT_NEEDED
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    d
}

fn static_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    target.join("x86_64-unknown-linux-gnu/static/netpolc")
}

#[test]
fn the_elf_reader_sees_dynamic_dependencies() {
    // The test binary itself is linked dynamically: the check can fail.
    let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let d = dynamic_dependencies(&me);
    assert!(d.interpreter && d.needed > 0, "{d:?}");
}

#[test]
fn the_static_binary_has_no_dynamic_dependencies() {
    let path = static_binary();
    if !path.exists() {
        eprintln!(
            "skipped: {} was not built; build it with\n  {STATIC_FLAGS} {STATIC_BUILD}",
            path.display()
        );
        return;
    }
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        dynamic_dependencies(&bytes),
        Dynamic {
            interpreter: false,
            needed: 0
        },
        "{} is not static",
        path.display()
    );
    // And it runs, with no environment at all (as in `scratch`).
    let out = Command::new(&path)
        .arg("--version")
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("netpolc "));
}

// ---------------------------------------------------------------------------------------
// GitHub action and pre-commit hooks

fn yaml(path: &str) -> Vec<Value> {
    verify::parse_yaml(path, &read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn github_action_runs_netpolc_check_with_annotations() {
    let a = &yaml("action.yml")[0];
    assert_eq!(a["runs"]["using"], "composite");
    assert_eq!(a["inputs"]["command"]["default"], "check");
    let steps = a["runs"]["steps"].as_array().unwrap();
    for s in steps {
        assert!(s["shell"].is_string(), "composite steps need a shell: {s}");
        // Inputs reach scripts through the environment, never spliced into the script.
        let run = s["run"].as_str().unwrap_or("");
        assert!(!run.contains("${{"), "expression in a script: {run}");
    }
    let install = steps[0]["run"].as_str().unwrap();
    assert!(install.contains("cargo install --locked") && install.contains("$GITHUB_ACTION_PATH"));
    let run = steps.last().unwrap()["run"].as_str().unwrap();
    assert!(
        run.contains("\"$NETPOLC_COMMAND\" --diagnostics github"),
        "{run}"
    );
}

#[test]
fn pre_commit_hooks_run_netpolc() {
    let hooks = yaml(".pre-commit-hooks.yaml");
    let hooks = hooks[0].as_array().unwrap();
    let check = hooks.iter().find(|h| h["id"] == "netpolc-check").unwrap();
    assert_eq!(check["entry"], "netpolc check");
    assert_eq!(check["language"], "rust");
    assert_eq!(check["pass_filenames"], false);
    for h in hooks {
        // The hook's command is this repository's binary, and the flags exist.
        let entry = h["entry"].as_str().unwrap();
        let mut words = entry.split_whitespace();
        assert_eq!(words.next(), Some("netpolc"));
        let out = Command::new(BIN)
            .args(words)
            .arg("--help")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{entry}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
