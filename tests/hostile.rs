//! Hostile input and honest diagnostics: file names that would inject YAML, symbolic
//! links, machine-dependent paths, every error of a document in its place, long lines,
//! no silent rewrites, and machine-readable CI output (JSON, GitHub, SARIF, JUnit).
//! The fuzz property over the loader is in `fuzz`.

use crate::util::{netpolc, root};
use netpolc_source::SourceMap;
use std::path::Path;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch project holding a copy of the repository's policies/.
fn project(name: &str) -> crate::util::Scratch {
    crate::util::project_copy("hostile", name)
}

/// Compiles in-memory files (name, text) and returns the rendered diagnostics and codes.
fn compile(files: &[(&str, &str)], namespace: Option<(&str, &str)>) -> (String, Vec<&'static str>) {
    let mut sources = SourceMap::default();
    let ids: Vec<_> = files
        .iter()
        .map(|(n, t)| sources.add(*n, t.to_string()))
        .collect();
    let inputs: Vec<netpolc_intent::InputFile<'_>> = files
        .iter()
        .zip(&ids)
        .map(|((n, t), id)| netpolc_intent::InputFile {
            id: *id,
            name: n,
            bytes: t.as_bytes(),
        })
        .collect();
    let options = netpolc_intent::Options {
        default_namespace: namespace.map(|(ns, _)| ns.to_string()),
        namespace_source: namespace.map(|(_, s)| s.to_string()),
    };
    let out = netpolc_intent::compile_with(&sources, &inputs, &options);
    let codes = out.diagnostics.iter().map(|d| d.code).collect();
    (
        netpolc_source::render_human(&sources, &out.diagnostics),
        codes,
    )
}

fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn file_names_with_control_characters_are_refused() {
    let dir = project("newline");
    let evil = "x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: injected}\n.yaml";
    std::fs::rename(
        dir.join("policies/monitoring.yaml"),
        dir.join("policies").join(evil),
    )
    .unwrap();
    for args in [&["build"][..], &["check"], &["render"]] {
        let out = netpolc(&dir, args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("error[NP0004]"), "{err}");
        assert!(err.contains("U+000A"), "{err}");
        assert!(out.stdout.is_empty());
    }
    assert!(!dir.join("golden").exists(), "nothing may be written");
    // A folder name too.
    std::fs::rename(
        dir.join("policies").join(evil),
        dir.join("policies/monitoring.yaml"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("policies/a\tb")).unwrap();
    std::fs::copy(
        dir.join("policies/monitoring.yaml"),
        dir.join("policies/a\tb/m.yaml"),
    )
    .unwrap();
    let out = netpolc(&dir, &["render"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("U+0009"),
        "{}",
        text(&out.stderr)
    );
}

#[cfg(unix)]
#[test]
fn links_inside_the_repository_are_followed_and_others_refused() {
    use std::os::unix::fs::symlink;
    let plain = project("plain");
    assert_eq!(netpolc(&plain, &["build"]).status.code(), Some(0));

    // A link to a file elsewhere in the repository: followed, named by the link.
    let linked = project("linked");
    std::fs::create_dir_all(linked.join("common")).unwrap();
    std::fs::rename(
        linked.join("policies/production.yaml"),
        linked.join("common/production.yaml"),
    )
    .unwrap();
    symlink(
        "../common/production.yaml",
        linked.join("policies/production.yaml"),
    )
    .unwrap();
    let out = netpolc(&linked, &["build"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(tree(&plain.join("golden")), tree(&linked.join("golden")));

    // A link that leaves the repository: refused, by the walk and by --policies alike.
    let outside = crate::util::Scratch::new("hostile-outside");
    std::fs::copy(
        linked.join("common/production.yaml"),
        outside.join("production.yaml"),
    )
    .unwrap();
    std::fs::remove_file(linked.join("policies/production.yaml")).unwrap();
    symlink(
        outside.join("production.yaml"),
        linked.join("policies/production.yaml"),
    )
    .unwrap();
    for args in [
        &["check"][..],
        &["render", "--policies", "policies/production.yaml"],
        &["render", "--policies", "policies"],
    ] {
        let out = netpolc(&linked, args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("error[NP0003]"), "{args:?}: {err}");
        assert!(err.contains("policies/production.yaml"), "{err}");
    }
    // A linked folder outside too, and a dangling link.
    std::fs::remove_file(linked.join("policies/production.yaml")).unwrap();
    std::fs::copy(
        linked.join("common/production.yaml"),
        linked.join("policies/production.yaml"),
    )
    .unwrap();
    symlink(&outside, linked.join("policies/more")).unwrap();
    let out = netpolc(&linked, &["render"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`policies/more` leads outside"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(linked.join("policies/more")).unwrap();
    symlink("nowhere.yaml", linked.join("policies/gone.yaml")).unwrap();
    let out = netpolc(&linked, &["render"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("policies/gone.yaml"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn source_paths_do_not_depend_on_the_machine() {
    let dir = project("paths");
    let reference = netpolc(&dir, &["render", "--target", "calico"]);
    assert_eq!(
        reference.status.code(),
        Some(0),
        "{}",
        text(&reference.stderr)
    );
    assert!(text(&reference.stdout).contains("netpolc.dev/source: policies/production.yaml"));
    let abs = dir.join("policies").display().to_string();
    let dotted = "policies/../policies".to_string();
    let root_arg = dir.display().to_string();
    for args in [
        vec!["render", "--target", "calico", "--policies", abs.as_str()],
        vec![
            "render",
            "--target",
            "calico",
            "--policies",
            dotted.as_str(),
        ],
        vec!["render", "--target", "calico", "-C", root_arg.as_str()],
    ] {
        let cwd = if args.contains(&"-C") {
            std::env::temp_dir()
        } else {
            dir.to_path_buf()
        };
        let out = netpolc(&cwd, &args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), text(&reference.stdout), "{args:?}");
    }
}

#[test]
fn io_errors_name_their_path() {
    let out = netpolc(
        &std::env::temp_dir(),
        &["render", "-C", "/nonexistent/netpolc"],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("project root `/nonexistent/netpolc`"), "{err}");
    let dir = project("missing");
    let out = netpolc(&dir, &["render", "--policies", "nope"]);
    assert!(
        text(&out.stderr).contains("`nope` does not exist"),
        "{}",
        text(&out.stderr)
    );
}

const SET: &str = "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: shop}\nspec:\n  namespace: shop\n  isolate: [ingress]\n";

#[test]
fn every_schema_error_of_a_document_is_reported() {
    let four = format!("{SET}  aa: 1\n  bb: 2\n  cc: 3\n  dd: 4\n");
    let (out, codes) = compile(&[("p/a.yaml", &four)], None);
    assert_eq!(codes, ["NP1010"; 4], "{out}");
    for f in ["aa", "bb", "cc", "dd"] {
        assert!(out.contains(&format!("unknown field `{f}`")), "{out}");
    }
    let mixed = format!(
        "{SET}  colour: blue\n  groups:\n    web: {{selector: {{app: web}}}}\n  intents:\n    - {{name: a, from: wbe, to: dbb, ports: [99999/tcp]}}\n"
    );
    let (out, codes) = compile(&[("p/a.yaml", &mixed)], None);
    assert_eq!(codes, ["NP1010", "NP2003", "NP2003", "NP2005"], "{out}");
    // A bad value inside a group: the group's own complaint is not repeated as a follow-on.
    let group = format!(
        "{SET}  groups:\n    web: {{pods: {{app: web}}}}\n  intents:\n    - {{name: a, from: web, to: web, ports: [80/tcp]}}\n"
    );
    let (out, codes) = compile(&[("p/a.yaml", &group)], None);
    assert_eq!(codes, ["NP1010"], "{out}");
}

#[test]
fn every_duplicate_key_and_merge_keys_are_reported() {
    let text = format!("{SET}  isolate: [egress]\n  groups:\n    a: {{selector: {{x: y, x: z}}}}\n    b: {{<<: {{selector: {{}}}}}}\n");
    let (out, codes) = compile(&[("p/a.yaml", &text)], None);
    assert_eq!(codes, ["NP1004", "NP1004", "NP1008"], "{out}");
    assert!(out.contains("merge keys (`<<`) are not supported"), "{out}");
}

#[test]
fn causes_come_before_their_follow_ons() {
    let broken = format!("{SET}  oops: 1\n  intents: 3\n");
    let test = "apiVersion: netpolc.dev/v1alpha1\nkind: ConnectivityTest\nmetadata: {name: t}\nspec:\n  namespace: shop\n  expect:\n    - {from: {namespace: shop}, to: {namespace: shop}, port: 80/tcp, verdict: deny}\n";
    let (out, codes) = compile(&[("p/a-test.yaml", test), ("p/b-set.yaml", &broken)], None);
    assert!(!codes.contains(&"NP2015"), "{out}");
    assert_eq!(codes, ["NP1010", "NP1010"], "{out}");
}

#[test]
fn default_namespace_errors_name_their_source() {
    let set = |n: &str| {
        format!("apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {{name: {n}}}\nspec:\n  isolate: [ingress]\n")
    };
    let (a, b) = (set("a"), set("b"));
    let (out, codes) = compile(
        &[("p/a.yaml", &a), ("p/b.yaml", &b)],
        Some(("shop", "the environment variable `ARGOCD_APP_NAMESPACE`")),
    );
    assert_eq!(codes, ["NP2002"], "{out}");
    assert!(out.contains("`ARGOCD_APP_NAMESPACE`"), "{out}");
    let (out, codes) = compile(&[("p/a.yaml", &a)], Some(("Shop_1", "`--namespace`")));
    assert_eq!(codes, ["NP2010"], "{out}");
    assert!(out.contains("`--namespace`"), "{out}");
}

#[test]
fn no_silent_rewrites() {
    let with =
        |extra: &str| format!("{SET}  groups:\n    web: {{selector: {{app: web}}}}\n{extra}");
    for (extra, wanted) in [
        (
            "  intents:\n    - {name: a, from: web, to: web, ports: [Http/tcp]}\n",
            "write `http`",
        ),
        (
            "  intents:\n    - {name: a, from: web, to: web, ports: [0080/tcp]}\n",
            "write `80`",
        ),
        (
            "  intents:\n    - {name: a, from: web, to: web, ports: [0x50/tcp]}\n",
            "`80`",
        ),
        (
            "  namespaceLabels: {kubernetes.io/metadata.name: other}\n",
            "cannot be `other`",
        ),
    ] {
        let (out, codes) = compile(&[("p/a.yaml", &with(extra))], None);
        assert_eq!(codes.len(), 1, "{out}");
        assert!(out.contains(wanted), "{out}");
    }
    let same = with("  namespaceLabels: {kubernetes.io/metadata.name: shop}\n");
    assert_eq!(compile(&[("p/a.yaml", &same)], None).1, Vec::<&str>::new());
}

#[test]
fn nul_bytes_and_deep_nesting_are_located() {
    let (out, codes) = compile(&[("p/a.yaml", "a: \"b\u{0}\"\n")], None);
    assert_eq!(codes, ["NP1003"], "{out}");
    assert!(
        out.contains("U+0000") && out.contains("p/a.yaml:1:6"),
        "{out}"
    );
    let deep = format!("a: {}{}\n", "[".repeat(300), "]".repeat(300));
    let (out, codes) = compile(&[("p/a.yaml", &deep)], None);
    assert_eq!(codes, ["NP1005"], "{out}");
    // The 64th bracket is at column 3 + 64; the first too deep is the next one.
    assert!(out.contains("p/a.yaml:1:67"), "{out}");
}

#[test]
fn long_lines_are_cut() {
    let name = "n".repeat(65_000);
    let text = format!("{SET}  groups:\n    web: {{selector: {{app: web}}}}\n  intents:\n    - {{name: {name}, from: web, to: wbe, ports: [80/tcp]}}\n");
    let (out, codes) = compile(&[("p/a.yaml", &text)], None);
    assert_eq!(codes, ["NP2010"], "{out}");
    assert!(out.len() < 2_000, "{} bytes", out.len());
    assert!(out.contains("{name: nnnn") && out.contains('…'), "{out}");
    // A huge message is bounded too, whatever the diagnostic.
    let mut sources = SourceMap::default();
    let f = sources.add("p/b.yaml", "x\n".to_string());
    let d = netpolc_source::Diagnostic::error("NP2010", format!("invalid name `{name}`"))
        .with_label(netpolc_source::Span::new(f, 0, 1), name.clone())
        .with_help(name.clone());
    let out = netpolc_source::render_human(&sources, &[d]);
    assert!(out.len() < 2_000, "{} bytes", out.len());
}

#[test]
fn machine_readable_output_is_one_document_with_targets() {
    let dir = project("json");
    // SCTP on Cilium is refused (NP5003); Kubernetes and Calico accept it.
    std::fs::write(
        dir.join("policies/sctp.yaml"),
        "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: s}\nspec:\n  namespace: sctp\n  isolate: [ingress]\n  groups:\n    web: {selector: {app: web}}\n  intents:\n    - {name: a, from: web, to: web, ports: [9/sctp]}\n",
    )
    .unwrap();
    let out = netpolc(&dir, &["check", "--diagnostics", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stderr)
        .unwrap_or_else(|e| panic!("one JSON document: {e}\n{}", text(&out.stderr)));
    let items = v.as_array().unwrap();
    assert!(!items.is_empty());
    let sctp = items
        .iter()
        .find(|d| d["code"] == "NP5003")
        .expect("NP5003");
    assert_eq!(sctp["target"], "cilium");
    assert_eq!(sctp["file"], "policies/sctp.yaml");
    assert!(sctp["line"].is_u64() && sctp["column"].is_u64());
    assert!(
        sctp["help"].as_str().unwrap().contains("--cilium-sctp"),
        "{sctp}"
    );
    let out = netpolc(&dir, &["check", "--diagnostics", "sarif"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(!v["runs"][0]["results"].as_array().unwrap().is_empty());
    // One summary per run, without "nothing was written" when nothing would be.
    let out = netpolc(&dir, &["check"]);
    let err = text(&out.stderr);
    assert_eq!(err.matches("found").count(), 1, "{err}");
    assert!(!err.contains("nothing was written"), "{err}");
}

#[test]
fn stale_golden_files_are_annotated() {
    let dir = project("stale");
    assert_eq!(netpolc(&dir, &["build"]).status.code(), Some(0));
    let f = dir.join("golden/kubernetes/kustomization.yaml");
    let mut t = std::fs::read_to_string(&f).unwrap();
    t.push_str("# edited\n");
    std::fs::write(&f, t).unwrap();
    let out = netpolc(&dir, &["check", "--diagnostics", "github"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.lines().any(|l| l
            .starts_with("::error file=golden/kubernetes/kustomization.yaml,line=")
            && l.contains("NP6003")),
        "{err}"
    );
}

#[test]
fn failed_tests_are_annotated_and_junit_has_file_line_time() {
    let dir = project("tests");
    let p = dir.join("policies/production-tests.yaml");
    let t = std::fs::read_to_string(&p).unwrap();
    let flipped = t.replacen("verdict: allow", "verdict: deny", 1);
    assert_ne!(t, flipped);
    std::fs::write(&p, flipped).unwrap();
    let out = netpolc(
        &dir,
        &["test", "--diagnostics", "github", "--target", "cilium"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.lines().any(
            |l| l.starts_with("::error file=policies/production-tests.yaml,line=")
                && l.contains("NP6004")
                && l.contains("cilium")
        ),
        "{err}"
    );
    let out = netpolc(&dir, &["test", "--format", "junit"]);
    let xml = text(&out.stdout);
    assert!(
        xml.contains("file=\"policies/production-tests.yaml\""),
        "{xml}"
    );
    assert!(xml.contains(" line=\""), "{xml}");
    assert!(xml.contains(" time=\""), "{xml}");
}

#[test]
fn the_cluster_profile_declares_labels_of_unmanaged_namespaces() {
    let profile = "apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\nspec:\n  namespaces:\n    gold: {tier: gold}\n";
    let text = format!("{SET}---\n{profile}");
    let mut sources = SourceMap::default();
    let id = sources.add("p/a.yaml", text.clone());
    let out = netpolc_intent::compile(
        &sources,
        &[netpolc_intent::InputFile {
            id,
            name: "p/a.yaml",
            bytes: text.as_bytes(),
        }],
    );
    let program = out.program.expect("valid");
    let gold = &program.profile.unmanaged_namespaces["gold"];
    assert_eq!(gold["tier"], "gold");
    assert_eq!(gold["kubernetes.io/metadata.name"], "gold");
    // A managed namespace's labels come from its IntentSet only.
    let clash = format!(
        "{SET}---\n{}",
        profile.replace("gold: {tier: gold}", "shop: {tier: gold}")
    );
    let (out, codes) = compile(&[("p/a.yaml", &clash)], None);
    assert_eq!(codes, ["NP2002"], "{out}");
}

#[test]
fn aliases_keep_their_text_when_the_tree_moves_out_of_the_arena() {
    // The loader moves scalars out of its arena instead of copying them, except under
    // anchors that aliases repeat.
    let text = "a: &x {k: [v, &y w]}\nb: *x\nc: [*y, *x]\nd: plain\n";
    let mut sources = SourceMap::default();
    let f = sources.add("a.yaml", text.to_string());
    let docs = netpolc_intent::yaml::load(f, text.as_bytes(), &Default::default()).unwrap();
    assert_eq!(
        docs[0].to_json(),
        serde_json::json!({"a": {"k": ["v", "w"]}, "b": {"k": ["v", "w"]}, "c": ["w", {"k": ["v", "w"]}], "d": "plain"})
    );
}

#[test]
fn a_default_namespace_collision_is_one_error() {
    // The seed's two sets without `spec.namespace`, under ARGOCD_APP_NAMESPACE: one
    // collision, no follow-on errors from the test or the groups of the dropped set.
    let read = |f: &str| std::fs::read_to_string(root().join("policies").join(f)).unwrap();
    let strip = |t: String| {
        t.lines()
            .filter(|l| !l.starts_with("  namespace: "))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let (monitoring, production) = (
        strip(read("monitoring.yaml")),
        strip(read("production.yaml")),
    );
    let (tests, profile) = (read("production-tests.yaml"), read("cluster-profile.yaml"));
    let (out, codes) = compile(
        &[
            ("policies/cluster-profile.yaml", &profile),
            ("policies/monitoring.yaml", &monitoring),
            ("policies/production-tests.yaml", &tests),
            ("policies/production.yaml", &production),
        ],
        Some(("shop", "the environment variable `ARGOCD_APP_NAMESPACE`")),
    );
    assert_eq!(codes, ["NP2002"], "{out}");
    assert!(out.contains("`ARGOCD_APP_NAMESPACE`"), "{out}");
}
