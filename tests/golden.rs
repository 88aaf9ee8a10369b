//! Writing golden/: atomic under kills, serialised between concurrent builds, never
//! through a symbolic link or outside the repository, never an empty policy set without
//! `--allow-empty`, leftovers of interrupted runs removed; and a reviewer-level snapshot
//! of the files `netpolc build` writes for the seed.

use crate::util::root;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_netpolc");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch project holding a copy of the repository's policies/, in a fresh temporary
/// folder removed on drop (kept for inspection when the test fails).
struct Project(crate::util::Scratch);

impl Project {
    fn new(name: &str) -> Project {
        Project(crate::util::project_copy("golden", name))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.path()).args(args);
        for v in [
            "NETPOLC_TARGET",
            "ARGOCD_ENV_NETPOLC_TARGET",
            "ARGOCD_APP_NAMESPACE",
        ] {
            c.env_remove(v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn golden(&self) -> BTreeMap<String, String> {
        tree(&self.path().join("golden"))
    }

    /// Entries beside golden/ that netpolc staged (none once a run completes).
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".golden.netpolc-"))
            .collect()
    }

    /// Removes one intent, so that the build writes something else.
    fn drop_monitoring(&self) {
        let p = self.path().join("policies/production.yaml");
        let t = std::fs::read_to_string(&p).unwrap();
        let line =
            "    - {name: monitoring-scrape, from: monitoring, to: all, ports: [9090/tcp]}\n";
        assert!(t.contains(line));
        std::fs::write(&p, t.replace(line, "")).unwrap();
    }
}

/// Every file under `dir` (relative path → text), hidden ones included.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(rd) = std::fs::read_dir(d) else {
            return;
        };
        let mut es: Vec<_> = rd.map(|e| e.unwrap().path()).collect();
        es.sort();
        for p in es {
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn write_tree(dir: &Path, files: &BTreeMap<String, String>) {
    let _ = std::fs::remove_dir_all(dir);
    for (rel, t) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    }
}

/// A small deterministic generator (xorshift), for the kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn a_killed_build_leaves_golden_entirely_old_or_entirely_new() {
    // The new tree: what a complete build of the seed writes.
    let p = Project::new("kill");
    let started = Instant::now();
    assert_eq!(p.run(&["build"]).status.code(), Some(0));
    let full = started.elapsed();
    let new = p.golden();
    // The old tree: the seed without one intent (every target's files differ).
    p.drop_monitoring();
    assert_eq!(p.run(&["build"]).status.code(), Some(0));
    let old = p.golden();
    assert_ne!(old, new);
    // A hand-written file beside the generated ones must survive every swap.
    let readme = "hand-written\n";
    std::fs::write(p.path().join("golden/README.md"), readme).unwrap();
    let old = p.golden();
    let mut new_with_readme = new.clone();
    new_with_readme.insert("README.md".into(), readme.into());
    std::fs::copy(
        root().join("policies/production.yaml"),
        p.path().join("policies/production.yaml"),
    )
    .unwrap();

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let span = full.as_micros().max(1) as u64 * 3 / 2;
    let (mut saw_old, mut saw_new) = (0, 0);
    for _ in 0..16 {
        let delay = Duration::from_micros(rng.next() % span);
        let mut child = p
            .command(&["build"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let now = p.golden();
        if now == old {
            saw_old += 1;
        } else if now == new_with_readme {
            saw_new += 1;
            write_tree(&p.path().join("golden"), &old);
        } else {
            let only_now: Vec<_> = now.keys().filter(|k| !old.contains_key(*k)).collect();
            panic!("after a kill at {delay:?}, golden/ is neither old nor new: {only_now:?}");
        }
    }
    eprintln!("kills: golden/ old {saw_old} times, new {saw_new} times");
    assert!(saw_old + saw_new == 16);
    // The next run completes, removes what the killed ones left, and writes the new tree.
    let out = p.run(&["build"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(p.golden(), new_with_readme);
    assert_eq!(p.leftovers(), Vec::<String>::new());
}

#[test]
fn leftovers_of_an_interrupted_run_are_removed() {
    let p = Project::new("leftovers");
    let stage = p.path().join(".golden.netpolc-stage-999999/kubernetes");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("production.yaml"), "# half written").unwrap();
    assert_eq!(p.run(&["build"]).status.code(), Some(0));
    assert_eq!(p.leftovers(), Vec::<String>::new());
    // A temporary file of an older netpolc inside golden/ goes too.
    std::fs::write(
        p.path().join("golden/kubernetes/.x.yaml.netpolc-tmp"),
        "partial",
    )
    .unwrap();
    p.drop_monitoring();
    assert_eq!(p.run(&["build"]).status.code(), Some(0));
    assert!(!p.golden().keys().any(|k| k.contains("netpolc-tmp")));
}

#[test]
fn concurrent_builds_serialise() {
    let p = Project::new("concurrent");
    assert_eq!(p.run(&["build"]).status.code(), Some(0));
    let expected = p.golden();
    for _ in 0..3 {
        std::fs::remove_dir_all(p.path().join("golden")).unwrap();
        let children: Vec<_> = (0..3)
            .map(|_| {
                p.command(&["build"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        }
        assert_eq!(p.golden(), expected);
        assert_eq!(p.leftovers(), Vec::<String>::new());
    }
}

#[cfg(unix)]
#[test]
fn symbolic_links_are_never_written_through() {
    let p = Project::new("symlink");
    let outside =
        std::env::temp_dir().join(format!("netpolc-golden-outside-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(&outside).unwrap();

    // golden/ itself a link.
    std::os::unix::fs::symlink(&outside, p.path().join("golden")).unwrap();
    let out = p.run(&["build"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("symbolic link"),
        "{}",
        text(&out.stderr)
    );
    assert!(tree(&outside).is_empty());
    std::fs::remove_file(p.path().join("golden")).unwrap();

    // A target folder that is a link.
    assert_eq!(p.run(&["build"]).status.code(), Some(0));
    let before = p.golden();
    std::fs::remove_dir_all(p.path().join("golden/cilium")).unwrap();
    std::os::unix::fs::symlink(&outside, p.path().join("golden/cilium")).unwrap();
    let out = p.run(&["build"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("golden/cilium is a symbolic link"),
        "{}",
        text(&out.stderr)
    );
    assert!(tree(&outside).is_empty());
    let mut now = p.golden();
    now.retain(|k, _| !k.starts_with("cilium/"));
    let mut was = before;
    was.retain(|k, _| !k.starts_with("cilium/"));
    assert_eq!(now, was, "golden/ changed");
    let _ = std::fs::remove_dir_all(&outside);
}

#[test]
fn a_golden_folder_outside_the_repository_is_refused() {
    let p = Project::new("outside");
    let name = format!("netpolc-golden-escape-{}", std::process::id());
    let out = p.run(&["build", "--golden", &format!("../{name}")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("outside the repository"),
        "{}",
        text(&out.stderr)
    );
    assert!(!std::env::temp_dir().join(&name).exists());
    let out = p.run(&["build", "--golden", "a/../../escape"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // A nested folder inside the repository is fine, created as needed.
    let out = p.run(&["build", "--golden", "deploy/golden"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(p
        .path()
        .join("deploy/golden/kubernetes/production.yaml")
        .is_file());
    let out = p.run(&["check", "--golden", "deploy/golden"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn an_empty_policy_set_is_refused_unless_allowed() {
    let p = Project::new("empty");
    assert_eq!(p.run(&["build"]).status.code(), Some(0));
    let before = p.golden();
    for e in std::fs::read_dir(p.path().join("policies")).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    let out = p.run(&["build"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--allow-empty"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(p.golden(), before, "golden/ changed");
    let out = p.run(&["build", "--allow-empty"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(p.golden()["kubernetes/kustomization.yaml"].contains("resources: []"));
}

#[test]
fn the_seed_golden_files_for_review() {
    let p = Project::new("snapshot");
    let out = p.run(&["build"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut review = String::new();
    for (path, t) in p.golden() {
        review.push_str(&format!("=== golden/{path}\n{t}"));
    }
    insta::assert_snapshot!("seed-golden", review);
}

/// The example: a deny `web -> db` cannot intersect DNS traffic (another peer,
/// other ports), so every namespace keeps one DNS object instead of one per side of the
/// deny's subject (`app: web` and `app NotIn [web]`).
#[test]
fn a_deny_splits_only_the_allows_it_intersects() {
    use netpolc_driver::Target;
    let case = root().join("tests/cases/valid/deny-disjoint-from-dns.yaml");
    let (sources, program, diags) = crate::util::compile(&[case]);
    let program = program.unwrap_or_else(|| panic!("{diags}"));
    let objects = crate::util::render(&sources, &program, Target::Kubernetes).unwrap();
    // Objects whose rules include this intent's (merged objects list several).
    let named = |intent: &str| {
        objects
            .iter()
            .filter(|o| {
                o["metadata"]["annotations"]["netpolc.dev/intent"]
                    .as_str()
                    .is_some_and(|i| i.split(", ").any(|x| x == intent))
            })
            .count()
    };
    assert_eq!(named("shop/allow-dns"), 1, "{objects:#?}");
    assert_eq!(named("shop/web-to-cache"), 2, "egress and ingress, whole");
    // The deny does intersect `everyone -> db`: web's egress is carved out.
    let egress = objects
        .iter()
        .find(|o| o["metadata"]["name"] == "shop-app-not-web-egress")
        .unwrap_or_else(|| panic!("{objects:#?}"));
    assert!(egress.to_string().contains("NotIn"), "{egress:#}");
    // And the result still means what the intents say.
    let model = netpolc_ir::derive::derive(&program);
    let rendered = [(Target::Kubernetes, objects)];
    let found = netpolc_driver::verify::validate(&program, &model, &rendered, 5).unwrap();
    assert!(found.is_empty(), "{found:?}");
}

/// Translation validation over the whole valid corpus on every back end: fewer, wider
/// objects must keep the meaning.
#[test]
fn the_valid_corpus_passes_translation_validation() {
    use netpolc_driver::{Options, Target};
    for case in crate::util::cases("valid") {
        let (_, program, diags) = crate::util::compile(std::slice::from_ref(&case));
        let program = program.unwrap_or_else(|| panic!("{}: {diags}", case.display()));
        let rendered: Vec<_> = Target::ALL
            .into_iter()
            .filter_map(|t| {
                netpolc_driver::render(&program, t, &Options::default())
                    .ok()
                    .map(|r| (t, r.objects))
            })
            .collect();
        let model = netpolc_ir::derive::derive(&program);
        let found = netpolc_driver::verify::validate(&program, &model, &rendered, 5)
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        assert!(found.is_empty(), "{}: {found:?}", case.display());
    }
}
