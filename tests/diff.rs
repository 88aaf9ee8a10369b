//! `netpolc diff` and `netpolc graph` through the binary, on real Git repositories made
//! in a temporary folder (widen, narrow, a new namespace, a rename, a back-end-only
//! change as a divergence, CNI comparison, exit codes, bad input), insta snapshots of the
//! seed scenario with two edits, and a parser of the Mermaid subset netpolc writes that
//! every emitted graph must pass.

use crate::util::{netpolc, project_copy, root, Scratch};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn git_available() -> bool {
    Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Skips a test, with a message saying why, when git is not installed.
macro_rules! require_git {
    () => {
        if !git_available() {
            eprintln!("skipped: git is not installed (netpolc diff --base reads the base revision from Git)");
            return;
        }
    };
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=netpolc tests",
            "-c",
            "user.email=tests@netpolc.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("git runs");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A Git repository holding the seed's policies/, committed.
fn repo(name: &str) -> Scratch {
    let dir = project_copy("diff", name);
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "base"]);
    dir
}

/// Replaces `from` (which must occur) by `to` in a file of the project.
fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{file} does not contain {from}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `netpolc diff --output json ARGS` in `dir`: the document and the exit code.
fn diff_json(dir: &Path, args: &[&str]) -> (Value, Option<i32>) {
    let mut all = vec!["diff", "--output", "json"];
    all.extend_from_slice(args);
    let o = netpolc(dir, &all);
    let doc = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
    (doc, o.status.code())
}

fn changes(doc: &Value) -> &Vec<Value> {
    doc["changes"].as_array().expect("changes")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// The line of `text` in a file of the project (1-based).
fn line_of(dir: &Path, file: &str, text: &str) -> usize {
    let body = std::fs::read_to_string(dir.join(file)).unwrap();
    body.lines()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("{text} not in {file}"))
        + 1
}

const FRONTEND_TO_BACKEND: &str =
    "{name: frontend-to-backend, from: frontend, to: backend, ports: [8080/tcp]}";
const BACKEND_TO_PARTNER: &str =
    "    - {name: backend-to-partner, from: backend, to: partner-api, ports: [443/tcp]}\n";

#[test]
fn widening_is_reported_with_the_intent_that_causes_it() {
    require_git!();
    let dir = repo("widen");
    edit(
        &dir,
        "policies/production.yaml",
        FRONTEND_TO_BACKEND,
        "{name: frontend-to-backend, from: frontend, to: backend}",
    );
    let (doc, code) = diff_json(&dir, &[]);
    assert_eq!(code, Some(0));
    let c = changes(&doc);
    assert_eq!(c.len(), 1, "{doc:#}");
    assert_eq!(c[0]["change"], "widened");
    assert_eq!(strings(&c[0]["from"]), ["production/app=frontend"]);
    assert_eq!(strings(&c[0]["to"]), ["production/app=backend"]);
    // Every port but the one allowed before.
    let ports = strings(&c[0]["ports"]);
    assert!(ports.contains(&"1-8079/tcp".to_string()), "{ports:?}");
    assert!(ports.contains(&"8081-65535/tcp".to_string()), "{ports:?}");
    assert!(!ports.iter().any(|p| p.contains("8080")), "{ports:?}");
    // Both sides changed, each because of the edited intent, at its line.
    let line = line_of(&dir, "policies/production.yaml", "frontend-to-backend");
    let causes = c[0]["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 2);
    for k in causes {
        assert_eq!(k["new"]["by"], "production/frontend-to-backend");
        assert_eq!(
            k["new"]["location"],
            format!("policies/production.yaml:{line}")
        );
        assert_eq!(k["base"]["verdict"], "default deny");
    }
    assert_eq!(doc["summary"]["widened"], 1);
    // Gates.
    let (_, code) = diff_json(&dir, &["--fail-on", "widen"]);
    assert_eq!(code, Some(1));
    let o = netpolc(&dir, &["diff", "--fail-on", "any"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("widened   production/app=frontend -> production/app=backend"));
}

/// Connectivity to DNS names has no endpoint in the model: an intent that adds or removes
/// some is a change all the same, found rule by rule, and gates `--fail-on widen`.
#[test]
fn an_intent_to_a_dns_name_is_a_change() {
    require_git!();
    let dir = repo("fqdn");
    edit(
        &dir,
        "policies/production.yaml",
        "    partner-api: {cidrs: [203.0.113.0/24]}\n",
        "    partner-api: {cidrs: [203.0.113.0/24]}\n    stripe: {fqdns: [api.stripe.com]}\n",
    );
    edit(
        &dir,
        "policies/production.yaml",
        BACKEND_TO_PARTNER,
        &format!("{BACKEND_TO_PARTNER}    - {{name: backend-to-stripe, from: backend, to: stripe, ports: [443/tcp]}}\n"),
    );
    let (doc, code) = diff_json(&dir, &[]);
    assert_eq!(code, Some(0), "{doc:#}");
    let c = changes(&doc);
    assert_eq!(c.len(), 1, "{doc:#}");
    assert_eq!(c[0]["change"], "widened");
    assert_eq!(strings(&c[0]["from"]), ["production/app=backend"]);
    assert_eq!(strings(&c[0]["to"]), ["dns:api.stripe.com"]);
    assert_eq!(strings(&c[0]["ports"]), ["443/tcp"]);
    let line = line_of(&dir, "policies/production.yaml", "backend-to-stripe");
    let k = &c[0]["causes"][0];
    assert_eq!(k["direction"], "egress");
    assert_eq!(k["base"]["verdict"], "no rule");
    assert_eq!(k["new"]["by"], "production/backend-to-stripe");
    assert_eq!(
        k["new"]["location"],
        format!("policies/production.yaml:{line}")
    );
    let (_, code) = diff_json(&dir, &["--fail-on", "widen"]);
    assert_eq!(code, Some(1));
    // Committed, then taken away: narrowed, named on the base side.
    git(&dir, &["commit", "-qam", "stripe"]);
    edit(
        &dir,
        "policies/production.yaml",
        "    - {name: backend-to-stripe, from: backend, to: stripe, ports: [443/tcp]}\n",
        "",
    );
    let (doc, code) = diff_json(&dir, &["--fail-on", "widen"]);
    assert_eq!(code, Some(0), "{doc:#}");
    let c = changes(&doc);
    assert_eq!(c.len(), 1, "{doc:#}");
    assert_eq!(c[0]["change"], "narrowed");
    assert_eq!(
        c[0]["causes"][0]["base"]["by"],
        "production/backend-to-stripe"
    );
    assert_eq!(c[0]["causes"][0]["new"]["verdict"], "no rule");
}

/// HTTP constraints are not in the model (it decides ports): their requests are compared
/// as written, per subject, other end and ports.
#[test]
fn http_constraints_are_compared_request_by_request() {
    require_git!();
    let dir = repo("http");
    let with = |method: &str| {
        format!("{{name: frontend-to-backend, from: frontend, to: backend, ports: [8080/tcp], http: [{{method: {method}, path: \"/api/.*\"}}]}}")
    };
    // A constraint added to a plain allow: every request -> GET only, narrowed.
    edit(
        &dir,
        "policies/production.yaml",
        FRONTEND_TO_BACKEND,
        &with("GET"),
    );
    let (doc, code) = diff_json(&dir, &["--fail-on", "widen"]);
    assert_eq!(code, Some(0), "{doc:#}");
    let c = changes(&doc);
    assert_eq!(c.len(), 1, "{doc:#}");
    assert_eq!(c[0]["change"], "narrowed");
    assert_eq!(strings(&c[0]["from"]), ["production/app=frontend"]);
    assert_eq!(strings(&c[0]["to"]), ["production/app=backend"]);
    assert_eq!(strings(&c[0]["ports"]), ["8080/tcp http * *"]);
    // Both sides of the intent, each named.
    let causes = c[0]["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 2, "{doc:#}");
    // Another method: that request widened, the old one narrowed; the gate fires.
    git(&dir, &["commit", "-qam", "get"]);
    edit(
        &dir,
        "policies/production.yaml",
        &with("GET"),
        &with("DELETE"),
    );
    let (doc, code) = diff_json(&dir, &["--fail-on", "widen"]);
    assert_eq!(code, Some(1), "{doc:#}");
    let c = changes(&doc);
    let kinds: Vec<(String, Vec<String>)> = c
        .iter()
        .map(|x| {
            (
                x["change"].as_str().unwrap().to_string(),
                strings(&x["ports"]),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "widened".to_string(),
                vec!["8080/tcp http DELETE /api/.*".to_string()]
            ),
            (
                "narrowed".to_string(),
                vec!["8080/tcp http GET /api/.*".to_string()]
            ),
        ],
        "{doc:#}"
    );
    // The constraint dropped: every request, widened.
    edit(
        &dir,
        "policies/production.yaml",
        &with("DELETE"),
        FRONTEND_TO_BACKEND,
    );
    let (doc, _) = diff_json(&dir, &[]);
    let c = changes(&doc);
    assert_eq!(c.len(), 1, "{doc:#}");
    assert_eq!(c[0]["change"], "widened");
    assert_eq!(strings(&c[0]["ports"]), ["8080/tcp http * *"]);
}

#[test]
fn narrowing_names_the_removed_intent_on_the_base_side() {
    require_git!();
    let dir = repo("narrow");
    let line = line_of(&dir, "policies/production.yaml", "backend-to-partner");
    edit(&dir, "policies/production.yaml", BACKEND_TO_PARTNER, "");
    let (doc, code) = diff_json(&dir, &["--fail-on", "widen"]);
    assert_eq!(code, Some(0), "a narrowing passes --fail-on widen");
    let c = changes(&doc);
    assert_eq!(c.len(), 1, "{doc:#}");
    assert_eq!(c[0]["change"], "narrowed");
    assert_eq!(strings(&c[0]["from"]), ["production/app=backend"]);
    assert_eq!(strings(&c[0]["to"]), ["203.0.113.0/24"]);
    assert_eq!(strings(&c[0]["ports"]), ["443/tcp"]);
    let k = &c[0]["causes"][0];
    assert_eq!(k["direction"], "egress");
    assert_eq!(k["base"]["by"], "production/backend-to-partner");
    assert_eq!(
        k["base"]["location"],
        format!("HEAD:policies/production.yaml:{line}")
    );
    assert_eq!(k["new"]["verdict"], "default deny");
    let (_, code) = diff_json(&dir, &["--fail-on", "any"]);
    assert_eq!(code, Some(1));
}

#[test]
fn a_new_namespace_shows_what_its_isolation_closes_and_its_intents_open() {
    require_git!();
    let dir = repo("namespace");
    std::fs::write(
        dir.join("policies/staging.yaml"),
        "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: staging}\nspec:\n  namespace: staging\n  isolate: [ingress]\n  groups:\n    web: {selector: {app: web}}\n  intents:\n    - {name: world-to-web, from: world, to: web, ports: [443/tcp]}\n",
    )
    .unwrap();
    let (doc, code) = diff_json(&dir, &[]);
    assert_eq!(code, Some(0));
    let c = changes(&doc);
    let touches = |ch: &Value| strings(&ch["to"]).iter().any(|e| e.starts_with("staging/"));
    // Ingress into staging is closed (it was open: no IntentSet), but for the intent.
    assert!(
        c.iter().any(|ch| ch["change"] == "narrowed" && touches(ch)),
        "{doc:#}"
    );
    // Nothing widens: the namespace was open before.
    assert_eq!(doc["summary"]["widened"], 0, "{doc:#}");
    // Only staging's ingress changed.
    assert!(c.iter().all(touches), "{doc:#}");
    // A cause points into the new file.
    let text = stdout(&netpolc(&dir, &["diff"]));
    assert!(
        text.contains("isolated by staging/isolate at policies/staging.yaml:"),
        "{text}"
    );
}

#[test]
fn renaming_an_intent_is_an_empty_diff() {
    require_git!();
    let dir = repo("rename");
    edit(
        &dir,
        "policies/production.yaml",
        "name: frontend-to-backend",
        "name: web-tier-to-api-tier",
    );
    // Moving it to another line, too.
    edit(
        &dir,
        "policies/production.yaml",
        "  intents:\n",
        "  intents:\n    # renamed\n",
    );
    let (doc, code) = diff_json(&dir, &["--fail-on", "any"]);
    assert_eq!(code, Some(0), "{doc:#}");
    assert!(changes(&doc).is_empty(), "{doc:#}");
    let text = stdout(&netpolc(&dir, &["diff"]));
    assert!(text.contains("no connectivity change"), "{text}");
}

#[test]
fn every_back_end_follows_the_intents_and_other_revisions_and_folders_work() {
    require_git!();
    let dir = repo("revisions");
    edit(&dir, "policies/production.yaml", BACKEND_TO_PARTNER, "");
    git(&dir, &["commit", "-q", "-a", "-m", "drop partner"]);
    // The working tree is HEAD: nothing changed.
    let (doc, _) = diff_json(&dir, &[]);
    assert!(changes(&doc).is_empty(), "{doc:#}");
    // Against the first commit, with every back end's compiled output read too: the
    // change holds on every reading (no divergence).
    let (doc, code) = diff_json(
        &dir,
        &["--base", "HEAD~1", "--target", "kubernetes,calico,cilium"],
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        strings(&doc["readings"]),
        ["intended", "kubernetes", "calico", "cilium"]
    );
    let c = changes(&doc);
    assert_eq!(c.len(), 1, "{doc:#}");
    assert_eq!(strings(&c[0]["readings"]), strings(&doc["readings"]));
    assert_eq!(doc["summary"]["divergent"], 0);
    // Against a folder: the repository's own policies/ (which still has the intent).
    let base = root();
    let (doc, code) = diff_json(&dir, &["--base-dir", base.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert_eq!(changes(&doc).len(), 1, "{doc:#}");
    assert_eq!(changes(&doc)[0]["change"], "narrowed");
}

/// Between two sets of manifests, Cilium rules to DNS names and L7 rules are not compared
/// (the model has no endpoint for a name and decides ports): the diff says how many each
/// side holds instead of staying silent.
#[test]
fn manifests_diffs_name_the_rules_they_do_not_compare() {
    let dir = Scratch::new("diff-uncompared");
    let cnp = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: c, namespace: production}\nspec:\n  endpointSelector: {matchLabels: {app: backend}}\n  egress:\n  - toEndpoints: [{matchLabels: {app: database}}]\n    toPorts: [{ports: [{port: \"5432\", protocol: TCP}]}]\n";
    let more = "  - toFQDNs: [{matchName: api.example.com}]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n  - toEndpoints: [{matchLabels: {app: frontend}}]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{method: GET}]}}]\n";
    std::fs::write(dir.join("old.yaml"), cnp).unwrap();
    std::fs::write(dir.join("new.yaml"), format!("{cnp}{more}")).unwrap();
    let dump = root().join("tests/data/seed-cluster.yaml");
    let run = |old: &str, new: &str| {
        diff_json(
            &dir,
            &[
                "--manifests-old",
                old,
                "--manifests-new",
                new,
                "--cluster",
                dump.to_str().unwrap(),
                "--target",
                "cilium",
            ],
        )
    };
    let (doc, code) = run("old.yaml", "new.yaml");
    assert_eq!(code, Some(0), "{doc:#}");
    let notes = strings(&doc["notes"]);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("are not compared: 0 in the base manifests, 2 in the new ones")),
        "{doc:#}"
    );
    let (doc, _) = run("old.yaml", "old.yaml");
    assert!(strings(&doc["notes"]).is_empty(), "{doc:#}");
}

#[test]
fn a_change_on_one_back_end_only_is_a_divergence() {
    let dir = Scratch::new("diff-divergence");
    let seed =
        std::fs::read_to_string(root().join("tests/fixtures/seed/seed-policies.yaml")).unwrap();
    std::fs::write(dir.join("old.yaml"), &seed).unwrap();
    // A CiliumNetworkPolicy: only Cilium enforces it.
    let cnp = "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: frontend-to-database, namespace: production}\nspec:\n  endpointSelector: {matchLabels: {app: database}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: frontend}}]\n    toPorts: [{ports: [{port: \"5432\", protocol: TCP}]}]\n---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: frontend-egress-database, namespace: production}\nspec:\n  endpointSelector: {matchLabels: {app: frontend}}\n  egress:\n  - toEndpoints: [{matchLabels: {app: database}}]\n    toPorts: [{ports: [{port: \"5432\", protocol: TCP}]}]\n";
    std::fs::write(dir.join("new.yaml"), format!("{seed}{cnp}")).unwrap();
    let dump = root().join("tests/data/seed-cluster.yaml");
    let dump = dump.to_str().unwrap();
    let args = [
        "--manifests-old",
        "old.yaml",
        "--manifests-new",
        "new.yaml",
        "--cluster",
        dump,
    ];
    let (doc, code) = diff_json(&dir, &args);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(
        strings(&doc["readings"]),
        ["kubernetes", "calico", "cilium"]
    );
    let c = changes(&doc);
    assert_eq!(c.len(), 1, "{doc:#}");
    assert_eq!(c[0]["change"], "widened");
    assert_eq!(strings(&c[0]["readings"]), ["cilium"]);
    assert_eq!(strings(&c[0]["ports"]), ["5432/tcp"]);
    assert_eq!(doc["summary"]["divergent"], 1);
    // The cause names the Cilium object and rule.
    let by = c[0]["causes"][0]["new"]["by"].as_str().unwrap();
    assert!(
        by.starts_with("CiliumNetworkPolicy production/frontend-"),
        "{by}"
    );
    let mut text_args = vec!["diff"];
    text_args.extend_from_slice(&args);
    let text = stdout(&netpolc(&dir, &text_args));
    assert!(text.contains("[cilium only]"), "{text}");
    // The same manifests read by two CNIs: a CNI comparison. The seed's hand-written
    // policies mean different things on Calico and Cilium; every difference is a row.
    let (doc, code) = diff_json(
        &dir,
        &[
            "--manifests-old",
            "old.yaml",
            "--manifests-new",
            "old.yaml",
            "--cluster",
            dump,
            "--old-as",
            "calico",
            "--new-as",
            "cilium",
        ],
    );
    assert_eq!(code, Some(0));
    assert_eq!(strings(&doc["readings"]), ["calico -> cilium"]);
    // And one CNI against itself: nothing.
    let (same, _) = diff_json(
        &dir,
        &[
            "--manifests-old",
            "old.yaml",
            "--manifests-new",
            "old.yaml",
            "--cluster",
            dump,
            "--old-as",
            "cilium",
            "--new-as",
            "cilium",
        ],
    );
    assert!(changes(&same).is_empty(), "{same:#}");
    let _ = doc;
}

#[test]
fn bad_input_exits_2_with_a_diagnostic() {
    require_git!();
    let dir = repo("bad");
    let o = netpolc(&dir, &["diff", "--base", "no-such-branch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[NP8002]"), "{}", stderr(&o));
    let o = netpolc(&dir, &["diff", "--base", "--upload-pack=x"]);
    assert_eq!(o.status.code(), Some(2));
    // A broken intent on the new side: the usual diagnostic, exit 2, nothing on stdout.
    edit(
        &dir,
        "policies/production.yaml",
        "to: backend,",
        "to: backnd,",
    );
    let o = netpolc(&dir, &["diff"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[NP2003]"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    // Outside a repository.
    let plain = project_copy("diff", "no-git");
    let o = netpolc(&plain, &["diff"]);
    if !plain.join(".git").exists() && o.status.code() == Some(2) {
        assert!(stderr(&o).contains("[NP8002]"), "{}", stderr(&o));
    }
}

#[cfg(unix)]
#[test]
fn links_in_the_base_revision_are_refused_and_a_missing_git_is_named() {
    require_git!();
    let dir = project_copy("diff", "link");
    std::os::unix::fs::symlink("production.yaml", dir.join("policies/link.yaml")).unwrap();
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "base"]);
    let o = netpolc(&dir, &["diff"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[NP8003]"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("HEAD:policies/link.yaml"),
        "{}",
        stderr(&o)
    );
    // Without git on the PATH.
    let o = Command::new(env!("CARGO_BIN_EXE_netpolc"))
        .current_dir(&dir)
        .arg("diff")
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[NP8001]"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--base-dir"), "{}", stderr(&o));
}

/// The seed scenario with two edits: `frontend -> backend` on every port, and the
/// partner API dropped.
fn seed_with_two_edits(name: &str) -> Scratch {
    let dir = repo(name);
    edit(
        &dir,
        "policies/production.yaml",
        FRONTEND_TO_BACKEND,
        "{name: frontend-to-backend, from: frontend, to: backend}",
    );
    edit(&dir, "policies/production.yaml", BACKEND_TO_PARTNER, "");
    dir
}

#[test]
fn seed_diff_markdown_and_json_snapshots() {
    require_git!();
    let dir = seed_with_two_edits("snapshots");
    let md = netpolc(&dir, &["diff", "--output", "markdown"]);
    assert_eq!(md.status.code(), Some(0), "{}", stderr(&md));
    let md = stdout(&md);
    let json = stdout(&netpolc(&dir, &["diff", "--output", "json"]));
    insta::with_settings!({snapshot_path => "snapshots/diff"}, {
        insta::assert_snapshot!("diff_seed_markdown", md);
        insta::assert_snapshot!("diff_seed_json", json);
    });
    // docs/review.md shows this very output.
    let doc = std::fs::read_to_string(root().join("docs/review.md")).unwrap();
    let shown = doc
        .split("<!-- netpolc diff --output markdown: begin -->\n")
        .nth(1)
        .and_then(|r| {
            r.split("<!-- netpolc diff --output markdown: end -->")
                .next()
        })
        .expect("markers in docs/review.md");
    assert_eq!(shown, md, "docs/review.md is stale: paste the output again");
    let text = stdout(&netpolc(&dir, &["diff"]));
    assert!(
        doc.contains(&format!("$ netpolc diff\n{text}```")),
        "docs/review.md: stale text example"
    );
    // The Mermaid block of the comment parses.
    let block = md
        .split("```mermaid\n")
        .nth(1)
        .and_then(|r| r.split("```").next())
        .expect("a mermaid block");
    let g = mermaid::parse(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
    assert_eq!(g.edges, 2);
    let dot = stdout(&netpolc(&dir, &["diff", "--output", "dot"]));
    assert!(
        dot.starts_with("digraph netpolc {") && dot.ends_with("}\n"),
        "{dot}"
    );
    assert_eq!(dot.matches(" -> ").count(), 2, "{dot}");
}

#[test]
fn graphs_of_every_valid_case_parse_as_mermaid() {
    use netpolc_driver::{connectivity, graph};
    let mut inputs = vec![PathBuf::from("policies")];
    inputs.extend(crate::util::cases("valid"));
    let mut checked = 0;
    for input in inputs {
        let (_, program, diags) = crate::util::compile(std::slice::from_ref(&input));
        let Some(program) = program else {
            panic!("{}: {diags}", input.display());
        };
        let model = netpolc_ir::derive::derive(&program);
        let intended = netpolc_ir::eval::intended(&program);
        let map = connectivity::map(&model, &[], &[&intended]);
        let edges = graph::map_edges(&map, None);
        let text = graph::mermaid(&edges);
        let g =
            mermaid::parse(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", input.display()));
        assert_eq!(g.edges, edges.len());
        checked += 1;
    }
    assert!(checked > 10);
}

#[test]
fn graph_command_groups_by_namespace_and_filters_one() {
    let o = netpolc(&root(), &["graph"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let g = mermaid::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(g.subgraphs.contains(&"production".to_string()), "{text}");
    assert!(text.contains("app=frontend"), "{text}");
    let doc = std::fs::read_to_string(root().join("docs/review.md")).unwrap();
    assert!(
        doc.contains(&format!("```mermaid\n{text}```")),
        "docs/review.md: stale graph example"
    );
    let one = stdout(&netpolc(&root(), &["graph", "--namespace", "monitoring"]));
    mermaid::parse(&one).unwrap_or_else(|e| panic!("{e}\n{one}"));
    assert!(one.lines().count() < text.lines().count(), "{one}");
    let dot = stdout(&netpolc(&root(), &["graph", "--output", "dot"]));
    assert!(dot.contains("subgraph cluster_"), "{dot}");
    let o = netpolc(&root(), &["graph", "--namespace", "nope"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Allows to DNS names match no endpoint of the model: the graph draws them from their
/// rules, so a reviewer sees them.
#[test]
fn graph_draws_allows_to_dns_names() {
    let dir = project_copy("diff", "graph-dns");
    edit(
        &dir,
        "policies/production.yaml",
        "    partner-api: {cidrs: [203.0.113.0/24]}\n",
        "    partner-api: {cidrs: [203.0.113.0/24]}\n    stripe: {fqdns: [api.stripe.com, \"*.stripe.network\"]}\n",
    );
    edit(
        &dir,
        "policies/production.yaml",
        BACKEND_TO_PARTNER,
        &format!("{BACKEND_TO_PARTNER}    - {{name: backend-to-stripe, from: backend, to: stripe, ports: [443/tcp]}}\n"),
    );
    let o = netpolc(&dir, &["graph", "--namespace", "production"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    mermaid::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    for name in ["dns:api.stripe.com", "dns:*.stripe.network"] {
        let node = text
            .lines()
            .find_map(|l| l.trim().strip_suffix(&format!("[\"{name}\"]")))
            .unwrap_or_else(|| panic!("no node {name}:\n{text}"));
        let backend = text
            .lines()
            .find_map(|l| l.trim().strip_suffix("[\"app=backend\"]"))
            .unwrap_or_else(|| panic!("no backend node:\n{text}"));
        assert!(
            text.contains(&format!("{backend} -->|\"443/tcp\"| {node}")),
            "{name}:\n{text}"
        );
    }
}

#[test]
fn hostile_names_cannot_break_the_mermaid_syntax() {
    use netpolc_driver::graph::{mermaid as emit, Edge, Style};
    let nasty = [
        "ns/\"]; click n0 call alert(1)%%",
        "x/a|b",
        "y/<script>#",
        "end/subgraph",
        "world",
    ];
    let edges: Vec<Edge> = nasty
        .iter()
        .zip(nasty.iter().rev())
        .map(|(a, b)| Edge {
            from: vec![a.to_string()],
            to: vec![b.to_string()],
            label: format!("{a} \"|{b}"),
            style: Style::Added,
        })
        .collect();
    let text = emit(&edges);
    let g = mermaid::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(g.edges, edges.len());
    // The parser refuses what it must.
    assert!(mermaid::parse("flowchart LR\n  a[\"x\"]\n  a --> b\n").is_err());
    assert!(mermaid::parse("flowchart LR\n  subgraph s[\"x\"]\n").is_err());
    assert!(mermaid::parse("flowchart LR\n  a[\"x\"y\"]\n").is_err());
    assert!(mermaid::parse("flowchart LR\n  a[\"#x\"]\n").is_err());
}

/// A parser of the Mermaid flowchart subset netpolc writes (Mermaid's own grammar,
/// restricted): `flowchart LR|TD`, `%%` comments, `subgraph ID["label"]` … `end`, nodes
/// `ID["label"]`, edges `ID -->|"label"| ID` and `ID -.->|"label"| ID`, and
/// `linkStyle N css`. Labels are double-quoted, hold no `"`, and write `#` only as an
/// entity code (`#quot;`, `#35;`); ids are `[A-Za-z0-9_]+` and no keyword; every edge
/// joins defined nodes; every subgraph is closed.
mod mermaid {
    pub(super) struct Graph {
        pub(super) edges: usize,
        pub(super) subgraphs: Vec<String>,
    }

    const KEYWORDS: [&str; 9] = [
        "end",
        "subgraph",
        "graph",
        "flowchart",
        "style",
        "class",
        "classDef",
        "click",
        "linkStyle",
    ];

    fn id(s: &str) -> Result<&str, String> {
        if s.is_empty()
            || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || KEYWORDS.contains(&s)
        {
            return Err(format!("bad id `{s}`"));
        }
        Ok(s)
    }

    /// `"label"` at the start of `s`: the label and the rest.
    fn label(s: &str) -> Result<(&str, &str), String> {
        let body = s
            .strip_prefix('"')
            .ok_or(format!("label not quoted: {s}"))?;
        let end = body.find('"').ok_or(format!("label not closed: {s}"))?;
        let text = &body[..end];
        let mut rest = text;
        while let Some(i) = rest.find('#') {
            let after = &rest[i + 1..];
            let semi = after.find(';').ok_or(format!("bad entity in `{text}`"))?;
            let code = &after[..semi];
            let ok = !code.is_empty()
                && (code.chars().all(|c| c.is_ascii_digit())
                    || code.chars().all(|c| c.is_ascii_lowercase()));
            if !ok {
                return Err(format!("bad entity in `{text}`"));
            }
            rest = &after[semi + 1..];
        }
        if text.chars().any(char::is_control) {
            return Err(format!("control character in `{text}`"));
        }
        Ok((text, &body[end + 1..]))
    }

    /// `ID["label"]`: the id.
    fn node(s: &str) -> Result<&str, String> {
        let open = s.find('[').ok_or(format!("not a node: {s}"))?;
        let name = id(&s[..open])?;
        let (_, rest) = label(&s[open + 1..])?;
        if rest != "]" {
            return Err(format!("node not closed: {s}"));
        }
        Ok(name)
    }

    pub(super) fn parse(text: &str) -> Result<Graph, String> {
        let mut lines = text.lines();
        let first = lines.next().ok_or("empty")?;
        if first != "flowchart LR" && first != "flowchart TD" {
            return Err(format!("bad header `{first}`"));
        }
        let mut nodes = std::collections::BTreeSet::new();
        let mut stack: Vec<String> = Vec::new();
        let mut subgraphs = Vec::new();
        let mut edges: Vec<(String, String)> = Vec::new();
        let mut styled = Vec::new();
        for raw in lines {
            let l = raw.trim();
            if l.is_empty() || l.starts_with("%%") {
                continue;
            }
            if l == "end" {
                stack.pop().ok_or("`end` without subgraph")?;
            } else if let Some(rest) = l.strip_prefix("subgraph ") {
                let open = rest.find('[').ok_or("subgraph without label")?;
                let name = id(&rest[..open])?;
                let (lab, tail) = label(&rest[open + 1..])?;
                if tail != "]" || !nodes.insert(name.to_string()) {
                    return Err(format!("bad subgraph `{l}`"));
                }
                stack.push(name.to_string());
                subgraphs.push(lab.to_string());
            } else if let Some(rest) = l.strip_prefix("linkStyle ") {
                let (n, css) = rest.split_once(' ').ok_or("bad linkStyle")?;
                let n: usize = n.parse().map_err(|_| format!("bad linkStyle `{l}`"))?;
                if css.is_empty() || css.contains(';') {
                    return Err(format!("bad linkStyle `{l}`"));
                }
                styled.push(n);
            } else if l.find('[').is_some_and(|i| id(&l[..i]).is_ok()) {
                nodes.insert(node(l)?.to_string());
            } else if let Some((from, rest)) = l.split_once(' ') {
                let rest = rest
                    .strip_prefix("-->|")
                    .or_else(|| rest.strip_prefix("-.->|"))
                    .ok_or(format!("bad edge `{l}`"))?;
                let (_, rest) = label(rest)?;
                let to = rest.strip_prefix("| ").ok_or(format!("bad edge `{l}`"))?;
                edges.push((id(from)?.to_string(), id(to)?.to_string()));
            } else {
                nodes.insert(node(l)?.to_string());
            }
        }
        if !stack.is_empty() {
            return Err(format!("subgraph `{}` not closed", stack.join(", ")));
        }
        for (a, b) in &edges {
            if !nodes.contains(a) || !nodes.contains(b) {
                return Err(format!("edge {a} -> {b} joins an undefined node"));
            }
        }
        if let Some(n) = styled.iter().find(|n| **n >= edges.len()) {
            return Err(format!("linkStyle {n} names no edge"));
        }
        Ok(Graph {
            edges: edges.len(),
            subgraphs,
        })
    }
}

/// Both versions compiled from in-memory files into one source map (one id space).
mod lazy {
    use crate::gitops_repo;
    use netpolc_driver::diff::{self, Reading, Version};
    use netpolc_driver::load::{File, Loaded};
    use netpolc_ir::Program;
    use netpolc_source::SourceMap;
    use std::borrow::Cow;

    fn compile(sources: &mut SourceMap, prefix: &str, files: &[(String, String)]) -> Program {
        let mut loaded = Loaded::default();
        for (name, text) in files {
            let name = format!("{prefix}{name}");
            let id = sources.add(name.clone(), text.clone());
            loaded.files.push(File {
                id,
                name,
                bytes: text.clone().into_bytes(),
            });
        }
        loaded.sources = sources.clone();
        let compiled = netpolc_driver::compile(&loaded);
        let text = netpolc_source::render_human(sources, &compiled.diagnostics);
        compiled.program.unwrap_or_else(|| panic!("{text}"))
    }

    /// The diff of two versions, and the same comparison without a focus (every side
    /// of the same model prepared): the lazy one must report the same rows.
    fn diff_and_full(
        base: &[(String, String)],
        new: &[(String, String)],
    ) -> (diff::Diff, netpolc_driver::connectivity::Focus) {
        let mut sources = SourceMap::default();
        let b = compile(&mut sources, "HEAD:", base);
        let n = compile(&mut sources, "", new);
        let d = diff::intents(
            &Version {
                program: &b,
                backends: Vec::new(),
            },
            &Version {
                program: &n,
                backends: Vec::new(),
            },
            &sources,
            ("HEAD", "working tree"),
        );
        // The model of both versions, as `diff` derives it (the base's rules that the new
        // version lacks, added to the new version's).
        let mut union = n.clone();
        union.rules.extend(b.rules.iter().cloned());
        for (name, ns) in &b.namespaces {
            union
                .namespaces
                .entry(name.clone())
                .or_insert_with(|| ns.clone());
        }
        let model = netpolc_ir::derive::derive(&union);
        let (bi, ni) = (
            netpolc_ir::eval::intended(&b),
            netpolc_ir::eval::intended(&n),
        );
        let readings = [Reading {
            name: "intended".to_string(),
            base: &bi,
            new: &ni,
        }];
        let none = |_: bool, _: &str| None;
        let focus = diff::focus(&b, &n).expect("same profile");
        let (lazy, lazy_groups, lazy_stats) =
            diff::compare(Cow::Borrowed(&model), &[], &readings, Some(&focus), &none);
        let (full, full_groups, full_stats) =
            diff::compare(Cow::Borrowed(&model), &[], &readings, None, &none);
        assert_eq!(full_stats.sides, 2 * full_stats.classes, "{full_stats:?}");
        // Without a focus, rows are every change of the cluster: the same ones here, as
        // nothing outside the focus changed.
        assert_eq!(lazy, full);
        assert_eq!(lazy_groups, full_groups);
        assert!(lazy_stats.sides <= full_stats.sides);
        assert!(!d.changes.is_empty(), "{}", d.to_text());
        assert_eq!(
            d.changes
                .iter()
                .map(|c| (&c.kind, &c.from, &c.to, &c.ports))
                .collect::<Vec<_>>(),
            lazy.iter()
                .map(|c| (&c.kind, &c.from, &c.to, &c.ports))
                .collect::<Vec<_>>(),
        );
        (d, focus)
    }

    fn repo(n: usize, edit: impl Fn(usize, String) -> String) -> Vec<(String, String)> {
        let mut files = vec![(
            "policies/cluster-profile.yaml".to_string(),
            "apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\nspec:\n  podCIDRs: [10.244.0.0/16]\n  serviceCIDRs: [10.96.0.0/12]\n  nodeCIDRs: [192.168.0.0/24]\n".to_string(),
        )];
        for i in 0..n {
            files.push((
                format!("policies/{}.yaml", gitops_repo::ns(i)),
                edit(i, gitops_repo::intent_set(i, n)),
            ));
        }
        files
    }

    #[test]
    fn a_change_prepares_only_the_namespaces_it_can_affect() {
        let base = repo(40, |_, s| s);
        let new = repo(40, |i, s| {
            if i == 1 {
                s.replace(
                    "{name: web-to-api, from: web, to: api, ports: [8080/tcp]}",
                    "{name: web-to-api, from: web, to: api}",
                )
            } else {
                s
            }
        });
        let (d, _) = diff_and_full(&base, &new);
        let text = d.to_text();
        assert!(
            text.contains("widened   ns-0001/app=web -> ns-0001/app=api"),
            "{text}"
        );
        let prepared = &d.stats.namespaces;
        assert!(prepared.iter().any(|n| n == "ns-0001"), "{prepared:?}");
        // ns-0025 (team t2) neither sends to ns-0001 (team t0) nor receives from it: no
        // selector of either names or selects the other (ns-0001 takes from t1 and
        // ns-0030..0039 from t0). None of its sides is looked at.
        assert!(!prepared.iter().any(|n| n == "ns-0025"), "{prepared:?}");
        // ns-0001 takes traffic from team t1 (ns-0010..0019) by namespace label: their
        // egress sides, unchanged, are looked at for the pairs into ns-0001.
        assert!(prepared.iter().any(|n| n == "ns-0015"), "{prepared:?}");
        assert!(
            d.stats.sides * 4 < 2 * d.stats.classes,
            "{:?} of {} classes",
            d.stats.sides,
            d.stats.classes
        );
    }

    const PROFILE: &str = "apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\nspec:\n  podCIDRs: [10.244.0.0/16]\n  serviceCIDRs: [10.96.0.0/12]\n  nodeCIDRs: [192.168.0.0/24]\n";

    fn set(ns: &str, labels: &str, groups: &str, intents: &str) -> String {
        format!(
            "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {{name: {ns}}}\nspec:\n  namespace: {ns}\n  namespaceLabels: {{{labels}}}\n  isolate: [ingress, egress]\n  groups:\n    web: {{selector: {{app: web}}}}\n    db: {{selector: {{app: db}}}}\n{groups}  intents:\n    - {{name: web-to-db, from: web, to: db, ports: [5432/tcp]}}\n{intents}"
        )
    }

    /// `shop` widens what it sends to the databases of every namespace labelled
    /// `tier: data`: the change is written in `shop` only, yet it reaches `orders` and
    /// `archive` through that label selector (their ingress sides change too, and must
    /// be prepared); `billing` (another label) must not be.
    #[test]
    fn a_change_reaches_a_namespace_through_a_namespace_label_selector() {
        let shop = |ports: &str| {
            set(
                "shop",
                "team: shop",
                "    data-db: {selector: {app: db}, namespaces: {tier: data}}\n",
                &format!("    - {{name: web-to-data, from: web, to: data-db{ports}}}\n"),
            )
        };
        let files = |ports: &str| {
            vec![
                (
                    "policies/cluster-profile.yaml".to_string(),
                    PROFILE.to_string(),
                ),
                ("policies/shop.yaml".to_string(), shop(ports)),
                (
                    "policies/orders.yaml".to_string(),
                    set("orders", "tier: data", "", ""),
                ),
                (
                    "policies/archive.yaml".to_string(),
                    set("archive", "tier: data", "", ""),
                ),
                (
                    "policies/billing.yaml".to_string(),
                    set("billing", "tier: web", "", ""),
                ),
            ]
        };
        let (base, new) = (files(", ports: [5432/tcp]"), files(""));
        let (d, focus) = diff_and_full(&base, &new);
        assert!(
            focus.egress.iter().eq(["shop"]) && focus.ingress.iter().eq(["archive", "orders"]),
            "{focus:?}"
        );
        let text = d.to_text();
        let rows: Vec<(diff::Kind, String, String)> = d
            .changes
            .iter()
            .map(|c| (c.kind, c.from.join(", "), c.to.join(", ")))
            .collect();
        // One row per destination namespace: their causes name each one's isolation.
        let widened = |to: &str| {
            (
                diff::Kind::Widened,
                "shop/app=web".to_string(),
                to.to_string(),
            )
        };
        assert_eq!(
            rows,
            [widened("archive/app=db"), widened("orders/app=db")],
            "{text}"
        );
        assert!(
            d.changes
                .iter()
                .all(|c| c.ports.iter().any(|p| p == "all/udp")),
            "{text}"
        );
        let prepared = &d.stats.namespaces;
        for ns in ["shop", "orders", "archive"] {
            assert!(prepared.iter().any(|n| n == ns), "{ns}: {prepared:?}");
        }
        assert!(!prepared.iter().any(|n| n == "billing"), "{prepared:?}");
    }
}
