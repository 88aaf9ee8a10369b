//! The GitOps integrations, run for real (see docs/gitops.md):
//!
//! - kpt: `kpt fn eval --exec "netpolc fn"` on a kpt package holding the intents, a Kptfile
//!   and a foreign ConfigMap; the files kpt writes back are checked;
//! - Argo CD: the binary run the way the plugin in `deploy/argocd/plugin.yaml` runs it, and
//!   the repo-server patch applied with `kubectl kustomize`;
//! - Flux: `kubectl kustomize golden/<target>` (what Flux applies) against
//!   `netpolc render`.
//!
//! kpt and kubectl must be installed (CI installs both): a missing tool fails these tests
//! with a message saying so, it never skips them.

use crate::util::{root, Scratch};
use netpolc_driver::{object_id, verify, Target};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_netpolc");

/// Variables that change what netpolc does; every child starts without them.
const NETPOLC_ENV: [&str; 17] = [
    "PARAM_TARGET",
    "PARAM_POLICIES",
    "PARAM_ALLOW_EMPTY",
    "PARAM_CALICO_NAMESPACED",
    "PARAM_CILIUM_SCTP",
    "ARGOCD_APP_NAME",
    "ARGOCD_APP_NAMESPACE",
    "ARGOCD_ENV_NETPOLC_TARGET",
    "ARGOCD_ENV_NETPOLC_ALLOW_EMPTY",
    "ARGOCD_ENV_NETPOLC_CALICO_NAMESPACED",
    "ARGOCD_ENV_NETPOLC_CILIUM_SCTP",
    "ARGOCD_ENV_NETPOLC_POLICIES",
    "NETPOLC_TARGET",
    "NETPOLC_ALLOW_EMPTY",
    "NETPOLC_CALICO_NAMESPACED",
    "NETPOLC_CILIUM_SCTP",
    "NETPOLC_POLICIES",
];

/// A command for an external tool, failing the test when the tool is not installed.
fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not on PATH: the GitOps tests run the real {name} and do not skip \
         (CI installs it; install it to run `cargo test`)"
    );
    let mut c = Command::new(name);
    for v in NETPOLC_ENV {
        c.env_remove(v);
    }
    c
}

/// The binary under test, in `dir`, with a clean environment.
fn netpolc(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir);
    for v in NETPOLC_ENV {
        c.env_remove(v);
    }
    c
}

fn run(c: &mut Command) -> Output {
    c.output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// stdout and stderr, for messages and for tools that print results on either.
fn both(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

/// Copies the repository's policies/ into `dir/policies`.
fn copy_policies(dir: &Path) {
    let to = dir.join("policies");
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(root().join("policies")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

/// Every file under `dir`: relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let mut es: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        es.sort();
        for p in es {
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap();
                let rel = rel
                    .iter()
                    .map(|c| c.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn docs(name: &str, text: &str) -> Vec<Value> {
    verify::parse_yaml(name, text).unwrap_or_else(|e| panic!("{name} is not YAML:\n{e}\n{text}"))
}

/// `netpolc render` in `dir`; stdout.
fn render(dir: &Path, args: &[&str]) -> String {
    let out = run(netpolc(dir).arg("render").args(args));
    assert_eq!(
        out.status.code(),
        Some(0),
        "render {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Objects by `Kind namespace/name`.
fn by_id(objects: Vec<Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for o in objects {
        assert!(
            out.insert(object_id(&o), o.clone()).is_none(),
            "{} twice",
            object_id(&o)
        );
    }
    out
}

/// `golden/<target>/<namespace>.yaml` (`_cluster.yaml` for cluster-wide objects), as
/// `netpolc build` files an object.
fn golden_path(target: Target, o: &Value) -> String {
    let home = match o["metadata"]["namespace"].as_str() {
        Some(ns) => Some(ns.to_string()),
        None if target == Target::Calico => netpolc_calico::home_namespace(o),
        None => None,
    };
    format!(
        "golden/{}/{}.yaml",
        target.name(),
        home.as_deref().unwrap_or("_cluster")
    )
}

fn edit(path: &Path, from: &str, to: &str) {
    let t = std::fs::read_to_string(path).unwrap();
    assert!(t.contains(from), "{} has no `{from}`", path.display());
    std::fs::write(path, t.replacen(from, to, 1)).unwrap();
}

// ---------------------------------------------------------------------------------------
// kpt

const KPTFILE: &str = "apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: shop
info:
  description: network intents of the shop
";

const FOREIGN: &str = "# Not an intent: kpt must get it back untouched.
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-settings
  namespace: production
data:
  greeting: \"hello, world\" # kept as written
  lines: |
    first
    second
";

/// A kpt package: Kptfile, a foreign ConfigMap and a copy of policies/.
fn package(name: &str) -> Scratch {
    let s = Scratch::new(&format!("gitops-{name}"));
    std::fs::write(s.path().join("Kptfile"), KPTFILE).unwrap();
    std::fs::write(s.path().join("settings.yaml"), FOREIGN).unwrap();
    copy_policies(s.path());
    s
}

/// `kpt fn eval DIR --exec "netpolc fn" ARGS`.
fn kpt_eval(dir: &Path, args: &[&str]) -> Output {
    run(tool("kpt")
        .args(["fn", "eval"])
        .arg(dir)
        .args(["--exec", &format!("{BIN} fn"), "--truncate-output=false"])
        .args(args))
}

/// What `netpolc build --target T` writes for the policies of `pkg`, as package paths.
fn built(pkg: &Path, name: &str, args: &[&str]) -> (Scratch, BTreeMap<String, Vec<u8>>) {
    let s = Scratch::new(&format!("gitops-{name}"));
    let from = pkg.join("policies");
    std::fs::create_dir_all(s.path().join("policies")).unwrap();
    for e in std::fs::read_dir(&from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, s.path().join("policies").join(p.file_name().unwrap())).unwrap();
    }
    let out = run(netpolc(s.path()).arg("build").args(args));
    assert_eq!(out.status.code(), Some(0), "build: {}", text(&out.stderr));
    let files = tree(&s.path().join("golden"))
        .into_iter()
        .map(|(k, v)| (format!("golden/{k}"), v))
        .collect();
    (s, files)
}

fn under(files: &BTreeMap<String, Vec<u8>>, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn kpt_fn_eval_renders_into_the_package_and_is_idempotent() {
    let pkg = package("kpt-eval");
    let before = tree(pkg.path());
    let out = kpt_eval(pkg.path(), &["--", "target=cilium"]);
    assert!(out.status.success(), "kpt failed:\n{}", both(&out));
    let after = tree(pkg.path());

    // The Kptfile, the foreign ConfigMap and the intents are still there, byte for byte.
    for (path, bytes) in &before {
        assert_eq!(
            after.get(path).map(|b| text(b)),
            Some(text(bytes)),
            "kpt changed {path}"
        );
    }
    let settings = docs("settings.yaml", &text(&after["settings.yaml"]));
    assert_eq!(settings[0]["data"]["lines"], "first\nsecond\n");

    // The new files are exactly those `netpolc build --target cilium` writes.
    let generated: BTreeMap<String, Vec<u8>> = after
        .iter()
        .filter(|(k, _)| !before.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let (_b, expected) = built(pkg.path(), "kpt-eval-build", &["--target", "cilium"]);
    assert_eq!(
        generated.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &expected {
        assert_eq!(
            text(&generated[path]),
            text(bytes),
            "{path} differs from `netpolc build`"
        );
    }

    // Every object `netpolc render --target cilium` prints is in its file.
    let objects = docs("render", &render(pkg.path(), &["--target", "cilium"]));
    assert!(!objects.is_empty());
    for o in &objects {
        let path = golden_path(Target::Cilium, o);
        let file = generated
            .get(&path)
            .unwrap_or_else(|| panic!("kpt wrote no {path}"));
        assert!(
            docs(&path, &text(file)).contains(o),
            "{path} lacks {}",
            object_id(o)
        );
    }
    assert!(generated.contains_key("golden/cilium/kustomization.yaml"));

    // A second run changes nothing.
    let out = kpt_eval(pkg.path(), &["--", "target=cilium"]);
    assert!(out.status.success(), "second run:\n{}", both(&out));
    assert!(both(&out).contains("replaced"), "{}", both(&out));
    assert_eq!(
        tree(pkg.path()),
        after,
        "the second run changed the package"
    );
}

#[test]
fn kpt_fn_eval_replaces_its_own_output_and_refuses_foreign_files() {
    let pkg = package("kpt-replace");
    let out = kpt_eval(pkg.path(), &["--", "target=kubernetes"]);
    assert!(out.status.success(), "{}", both(&out));

    // An intent removed: its objects go, nothing is duplicated, the rest is unchanged.
    edit(
        &pkg.path().join("policies/production.yaml"),
        "    - {name: monitoring-scrape, from: monitoring, to: all, ports: [9090/tcp]}\n",
        "",
    );
    let out = kpt_eval(pkg.path(), &["--", "target=kubernetes"]);
    assert!(out.status.success(), "{}", both(&out));
    let after = tree(pkg.path());
    let (_b, expected) = built(pkg.path(), "kpt-replace-build", &["--target", "kubernetes"]);
    assert_eq!(under(&after, "golden/"), expected);
    assert!(
        !after.keys().any(|k| k.contains("monitoring-scrape")),
        "{:?}",
        after.keys()
    );

    // Another target, options from a NetpolcConfig file: the first target's files stay.
    let config = pkg.path().with_extension("fn-config.yaml");
    std::fs::write(
        &config,
        "apiVersion: netpolc.dev/v1alpha1\nkind: NetpolcConfig\nmetadata:\n  name: netpolc\nspec:\n  target: calico\n  calicoNamespaced: true\n  policies: [policies/**/*.yaml]\n",
    )
    .unwrap();
    let out = kpt_eval(pkg.path(), &["--fn-config", config.to_str().unwrap()]);
    let _ = std::fs::remove_file(&config);
    assert!(out.status.success(), "{}", both(&out));
    let with_calico = tree(pkg.path());
    assert_eq!(
        under(&with_calico, "golden/kubernetes/"),
        under(&after, "golden/kubernetes/")
    );
    let (_c, calico) = built(
        pkg.path(),
        "kpt-replace-calico",
        &["--target", "calico", "--calico-namespaced"],
    );
    assert_eq!(under(&with_calico, "golden/calico/"), calico);

    // A file netpolc must write that it did not generate: an error, and nothing changes.
    let victim = under(&with_calico, "golden/kubernetes/production.yaml")
        .into_keys()
        .next()
        .unwrap();
    std::fs::write(
        pkg.path().join(&victim),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hand-written\n  namespace: production\n",
    )
    .unwrap();
    let before = tree(pkg.path());
    let out = kpt_eval(pkg.path(), &["--", "target=kubernetes"]);
    assert!(!out.status.success(), "{}", both(&out));
    let all = both(&out);
    assert!(
        all.contains("NP7003") && all.contains(&victim) && all.contains("did not generate"),
        "{all}"
    );
    assert_eq!(tree(pkg.path()), before);
}

#[test]
fn kpt_fn_eval_fails_on_a_bad_intent_and_changes_nothing() {
    let pkg = package("kpt-bad");
    edit(
        &pkg.path().join("policies/production.yaml"),
        "to: backend, ports: [8080/tcp]",
        "to: backnd, ports: [8080/tcp]",
    );
    let before = tree(pkg.path());
    let out = kpt_eval(pkg.path(), &["--", "target=cilium"]);
    assert!(!out.status.success(), "kpt succeeded:\n{}", both(&out));
    let all = both(&out);
    for want in [
        "NP2003",
        "unknown group `backnd`",
        "did you mean `backend`?",
        "spec.intents[0].to",
        "policies/production.yaml",
        "[error]",
    ] {
        assert!(all.contains(want), "kpt's output lacks `{want}`:\n{all}");
    }
    assert_eq!(tree(pkg.path()), before, "a failed run changed the package");

    // A bad option is reported the same way.
    let out = kpt_eval(pkg.path(), &["--", "target=cilum"]);
    assert!(!out.status.success());
    let all = both(&out);
    assert!(
        all.contains("NP7002") && all.contains("did you mean `cilium`?"),
        "{all}"
    );
}

/// `netpolc fn` without kpt: results and exit codes for input kpt would never send.
#[test]
fn fn_reports_results_and_never_succeeds_on_errors() {
    let dir = Scratch::new("gitops-fn-direct");
    let call = |input: &str| {
        use std::io::Write as _;
        let mut child = netpolc(dir.path())
            .arg("fn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let list = docs("fn stdout", &text(&out.stdout));
        assert_eq!(list.len(), 1, "{}", text(&out.stdout));
        assert_eq!(list[0]["kind"], "ResourceList");
        (
            out.status.code(),
            list.into_iter().next().unwrap(),
            text(&out.stderr),
        )
    };
    let codes = |list: &Value| -> Vec<String> {
        list["results"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|r| r["tags"]["code"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };

    let (code, list, stderr) = call("items: [");
    assert_eq!(code, Some(2));
    assert_eq!(codes(&list), ["NP7001"], "{stderr}");
    assert_eq!(list["results"][0]["severity"], "error");

    let cm = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: x\n";
    let (code, list, _) = call(cm);
    assert_eq!(code, Some(2));
    assert_eq!(codes(&list), ["NP7004"]);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let allowed = format!("{cm}functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  data:\n    allow-empty: \"true\"\n");
    let (code, list, _) = call(&allowed);
    assert_eq!(code, Some(0));
    assert_eq!(list["items"][0]["metadata"]["name"], "x");
    assert_eq!(list["items"][1]["kind"], "Kustomization");
    assert_eq!(
        list["items"][1]["metadata"]["annotations"]["config.kubernetes.io/path"],
        "golden/kubernetes/kustomization.yaml"
    );

    let (code, list, _) = call(&allowed.replace("allow-empty", "allow-emtpy"));
    assert_eq!(code, Some(2));
    assert_eq!(codes(&list), ["NP7002"]);
    assert_eq!(list["results"][0]["field"]["path"], "data.allow-emtpy");
}

// ---------------------------------------------------------------------------------------
// Argo CD

/// An intent set naming no namespace: under Argo CD it governs the destination namespace.
const TEAM: &str = "apiVersion: netpolc.dev/v1alpha1
kind: IntentSet
metadata:
  name: team
spec:
  isolate: [ingress]
  groups:
    web: {selector: {app: web}}
    monitoring: {namespaces: {purpose: monitoring}}
  intents:
    - {name: monitoring-to-web, from: monitoring, to: web, ports: [8080/tcp]}
";

fn plugin() -> Value {
    let path = root().join("deploy/argocd/plugin.yaml");
    let d = docs("plugin.yaml", &std::fs::read_to_string(path).unwrap());
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(d[0]["kind"], "ConfigManagementPlugin");
    assert_eq!(d[0]["metadata"]["name"], "netpolc");
    d[0].clone()
}

/// The plugin's `generate` command, run as the plugin server runs it: in the Application's
/// source folder, with Argo CD's build environment and `plugin.env` as `ARGOCD_ENV_*`.
fn as_argocd(app: &Path, env: &[(&str, &str)]) -> Output {
    let p = plugin();
    let mut argv: Vec<String> = p["spec"]["generate"]["command"]
        .as_array()
        .expect("generate.command")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    if let Some(args) = p["spec"]["generate"]["args"].as_array() {
        argv.extend(args.iter().map(|v| v.as_str().unwrap().to_string()));
    }
    assert_eq!(argv[0], "netpolc", "the plugin runs {argv:?}");
    let mut c = netpolc(app);
    c.args(&argv[1..])
        .env("ARGOCD_APP_NAME", "shop-policies")
        .env("ARGOCD_APP_REVISION", "0123abc");
    for (k, v) in env {
        c.env(k, v);
    }
    run(&mut c)
}

/// The plugin's discovery command, run as Argo CD runs it (in the Application's source
/// folder, with the Application's env and parameters); whether it matched (exit 0 and
/// output on stdout).
fn discovers(app: &Path, env: &[(&str, &str)]) -> bool {
    let p = plugin();
    let d = &p["spec"]["discover"];
    assert!(
        d["fileName"].is_null() && d["find"]["glob"].is_null(),
        "discovery must be the command (a glob cannot follow NETPOLC_POLICIES): {d}"
    );
    let argv: Vec<String> = d["find"]["command"]
        .as_array()
        .expect("discover.find.command")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(argv[0], "netpolc", "discovery runs {argv:?}");
    let mut c = netpolc(app);
    c.args(&argv[1..]).env("ARGOCD_APP_NAME", "shop-policies");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run(&mut c);
    assert_eq!(
        out.status.code(),
        Some(0),
        "discovery failed: {}",
        both(&out)
    );
    !out.stdout.is_empty()
}

#[test]
fn argocd_discovery_matches_every_layout_that_renders() {
    let app = Scratch::new("gitops-argocd-discover");
    let dir = app.path();
    // The set and the cluster profile (its node networks) in one file.
    let production = std::fs::read_to_string(root().join("policies/production.yaml")).unwrap()
        + "---\n"
        + &std::fs::read_to_string(root().join("policies/cluster-profile.yaml")).unwrap();
    let renders = |env: &[(&str, &str)]| as_argocd(dir, env).status.code() == Some(0);
    let reset = || {
        for f in ["policies", "intents"] {
            let _ = std::fs::remove_dir_all(dir.join(f));
        }
    };

    // No intents folder, an empty one, another tool's policies/: no match.
    assert!(!discovers(dir, &[]));
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    assert!(!discovers(dir, &[]));
    std::fs::write(
        dir.join("policies/kyverno.yaml"),
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\n",
    )
    .unwrap();
    assert!(!discovers(dir, &[]));
    reset();

    // `.yaml` at the top, `.yml`, and subfolders: each matches, and renders.
    for file in [
        "policies/production.yaml",
        "policies/production.yml",
        "policies/teams/shop/production.yaml",
        "policies/teams/production.yml",
    ] {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &production).unwrap();
        assert!(discovers(dir, &[]), "{file} is not discovered");
        assert!(renders(&[]), "{file} is discovered but does not render");
        reset();
    }

    // A custom folder, from plugin.env or from the `policies` parameter.
    std::fs::create_dir_all(dir.join("intents/prod")).unwrap();
    std::fs::write(dir.join("intents/prod/production.yml"), &production).unwrap();
    assert!(!discovers(dir, &[]), "policies/ does not exist");
    for env in [
        ("ARGOCD_ENV_NETPOLC_POLICIES", "intents"),
        ("PARAM_POLICIES", "intents"),
    ] {
        assert!(discovers(dir, &[env]), "{env:?}");
        assert!(renders(&[env]), "{env:?}");
    }
    // A parameter wins over plugin.env.
    assert!(discovers(
        dir,
        &[
            ("ARGOCD_ENV_NETPOLC_POLICIES", "elsewhere"),
            ("PARAM_POLICIES", "intents")
        ]
    ));

    // A file with errors still matches: render then reports them, rather than Argo CD
    // saying that no plugin supports the repository.
    std::fs::write(
        dir.join("intents/prod/production.yml"),
        production.replace("to: backend,", "to: backnd,"),
    )
    .unwrap();
    assert!(discovers(dir, &[("PARAM_POLICIES", "intents")]));
    let out = as_argocd(dir, &[("PARAM_POLICIES", "intents")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("NP2003"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn argocd_parameters_are_announced_and_read_from_param_variables() {
    let p = plugin();
    let announced = p["spec"]["parameters"]["static"]
        .as_array()
        .expect("parameters.static");
    let names: Vec<&str> = announced
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "target",
            "policies",
            "allow-empty",
            "calico-namespaced",
            "cilium-sctp"
        ]
    );
    for a in announced {
        assert!(a["title"].is_string(), "{a}");
    }
    let default = |n: &str| {
        announced.iter().find(|a| a["name"] == n).unwrap()["string"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // The announced defaults are what netpolc does when nothing is set.
    assert_eq!(default("target"), "kubernetes");
    assert_eq!(default("policies"), "policies");
    let app = app("argocd-params");
    let ns = ("ARGOCD_APP_NAMESPACE", "shop");
    let plain = as_argocd(app.path(), &[ns]);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain.stderr));
    assert_eq!(
        text(&plain.stdout),
        render(app.path(), &["--namespace", "shop"])
    );

    // Argo CD passes parameter `calico-namespaced` as PARAM_CALICO_NAMESPACED.
    let out = as_argocd(
        app.path(),
        &[
            ns,
            ("PARAM_TARGET", "calico"),
            ("PARAM_CALICO_NAMESPACED", "true"),
            ("ARGOCD_ENV_NETPOLC_TARGET", "cilium"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        render(
            app.path(),
            &[
                "--target",
                "calico",
                "--calico-namespaced",
                "--namespace",
                "shop"
            ]
        )
    );
    let out = as_argocd(app.path(), &[ns, ("PARAM_TARGET", "cilum")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("PARAM_TARGET=cilum"),
        "{}",
        text(&out.stderr)
    );
    let out = as_argocd(app.path(), &[ns, ("PARAM_CILIUM_SCTP", "yes")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("PARAM_CILIUM_SCTP=yes"),
        "{}",
        text(&out.stderr)
    );
    let out = as_argocd(app.path(), &[ns, ("PARAM_POLICIES", "../x")]);
    assert_eq!(out.status.code(), Some(2));
}

/// A Git checkout as the plugin sees it: the Application's folder holding policies/.
fn app(name: &str) -> Scratch {
    let s = Scratch::new(&format!("gitops-{name}"));
    copy_policies(s.path());
    s
}

#[test]
fn argocd_plugin_prints_only_objects() {
    let app = app("argocd-ok");
    std::fs::write(app.path().join("policies/team.yaml"), TEAM).unwrap();

    // Discovery matches this layout.
    assert!(discovers(app.path(), &[]), "discovery does not match");

    let out = as_argocd(
        app.path(),
        &[
            ("ARGOCD_APP_NAMESPACE", "team-a"),
            ("ARGOCD_ENV_NETPOLC_TARGET", "cilium"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let objects = docs("stdout", &stdout);
    assert!(!objects.is_empty());
    for o in &objects {
        assert!(
            o["apiVersion"].is_string()
                && o["kind"].is_string()
                && o["metadata"]["name"].is_string(),
            "not an object: {o}"
        );
        assert!(
            !o["kind"].as_str().unwrap().ends_with("List"),
            "a List on stdout: {o}"
        );
        assert_eq!(
            o["apiVersion"], "cilium.io/v2",
            "ARGOCD_ENV_NETPOLC_TARGET=cilium ignored: {o}"
        );
    }
    // The same as the flags would give.
    assert_eq!(
        stdout,
        render(app.path(), &["--target", "cilium", "--namespace", "team-a"])
    );

    // ARGOCD_APP_NAMESPACE fills the set that names no namespace, and only that one.
    for o in &objects {
        let ns = o["metadata"]["namespace"].as_str().unwrap_or("");
        if o["metadata"]["name"].as_str().unwrap().starts_with("team-") {
            assert_eq!(ns, "team-a", "{o}");
        } else {
            assert_ne!(
                ns, "team-a",
                "ARGOCD_APP_NAMESPACE overrode spec.namespace: {o}"
            );
        }
    }
    assert!(objects
        .iter()
        .any(|o| o["metadata"]["namespace"] == "team-a"));
    assert!(objects
        .iter()
        .any(|o| o["metadata"]["namespace"] == "production"));

    // Options from plugin.env, as ARGOCD_ENV_*: calico, namespaced.
    let out = as_argocd(
        app.path(),
        &[
            ("ARGOCD_APP_NAMESPACE", "team-a"),
            ("ARGOCD_ENV_NETPOLC_TARGET", "calico"),
            ("ARGOCD_ENV_NETPOLC_CALICO_NAMESPACED", "true"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        render(
            app.path(),
            &[
                "--target",
                "calico",
                "--calico-namespaced",
                "--namespace",
                "team-a"
            ]
        )
    );
    assert_ne!(
        text(&out.stdout),
        render(app.path(), &["--target", "calico", "--namespace", "team-a"])
    );

    // The intents folder from plugin.env.
    std::fs::rename(app.path().join("policies"), app.path().join("intents")).unwrap();
    let out = as_argocd(
        app.path(),
        &[
            ("ARGOCD_APP_NAMESPACE", "team-a"),
            ("ARGOCD_ENV_NETPOLC_TARGET", "cilium"),
            ("ARGOCD_ENV_NETPOLC_POLICIES", "intents"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        stdout.replace(
            "netpolc.dev/source: policies/",
            "netpolc.dev/source: intents/"
        )
    );
}

#[test]
fn argocd_plugin_never_succeeds_on_errors_or_empty_output() {
    let app = app("argocd-errors");
    let target = ("ARGOCD_ENV_NETPOLC_TARGET", "cilium");
    let failed = |out: &Output, code: i32, want: &str| {
        assert_eq!(out.status.code(), Some(code), "{}", text(&out.stderr));
        assert!(
            out.stdout.is_empty(),
            "stdout on failure: {}",
            text(&out.stdout)
        );
        assert!(
            text(&out.stderr).contains(want),
            "stderr lacks `{want}`: {}",
            text(&out.stderr)
        );
    };

    // A set naming no namespace, outside Argo CD's namespace: an error.
    std::fs::write(app.path().join("policies/team.yaml"), TEAM).unwrap();
    failed(&as_argocd(app.path(), &[target]), 2, "names no namespace");
    std::fs::remove_file(app.path().join("policies/team.yaml")).unwrap();

    // A bad intent.
    let production = app.path().join("policies/production.yaml");
    edit(
        &production,
        "to: backend, ports: [8080/tcp]",
        "to: backnd, ports: [8080/tcp]",
    );
    failed(
        &as_argocd(app.path(), &[target, ("ARGOCD_APP_NAMESPACE", "shop")]),
        2,
        "NP2003",
    );
    edit(
        &production,
        "to: backnd, ports: [8080/tcp]",
        "to: backend, ports: [8080/tcp]",
    );

    // Bad options.
    failed(
        &as_argocd(app.path(), &[("ARGOCD_ENV_NETPOLC_TARGET", "cilum")]),
        2,
        "ARGOCD_ENV_NETPOLC_TARGET=cilum",
    );
    failed(
        &as_argocd(
            app.path(),
            &[target, ("ARGOCD_ENV_NETPOLC_ALLOW_EMPTY", "yes")],
        ),
        2,
        "not a boolean",
    );
    failed(
        &as_argocd(
            app.path(),
            &[target, ("ARGOCD_ENV_NETPOLC_POLICIES", "../policies")],
        ),
        2,
        "inside the application folder",
    );
    failed(
        &as_argocd(
            app.path(),
            &[target, ("ARGOCD_ENV_NETPOLC_POLICIES", "/etc")],
        ),
        2,
        "inside the application folder",
    );

    // Nothing to render: an error (an empty stream would prune every policy), unless the
    // Application allows it.
    for f in [
        "monitoring.yaml",
        "production.yaml",
        "production-tests.yaml",
    ] {
        std::fs::remove_file(app.path().join("policies").join(f)).unwrap();
    }
    failed(&as_argocd(app.path(), &[target]), 2, "--allow-empty");
    let out = as_argocd(
        app.path(),
        &[target, ("ARGOCD_ENV_NETPOLC_ALLOW_EMPTY", "true")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn argocd_repo_server_patch_adds_the_plugin_sidecar() {
    let s = Scratch::new("gitops-argocd-patch");
    let component = s.path().join("netpolc");
    std::fs::create_dir_all(&component).unwrap();
    for f in [
        "kustomization.yaml",
        "plugin.yaml",
        "repo-server-patch.yaml",
    ] {
        std::fs::copy(root().join("deploy/argocd").join(f), component.join(f)).unwrap();
    }
    // Argo CD's own install manifest, vendored and pinned (tests/fixtures/argocd).
    let install = std::fs::read(root().join(ARGOCD_INSTALL)).unwrap();
    assert_eq!(
        git_blob_sha1(&root().join(ARGOCD_INSTALL)),
        ARGOCD_INSTALL_BLOB,
        "{ARGOCD_INSTALL} differs from the upstream blob named in its README"
    );
    std::fs::write(s.path().join("install.yaml"), &install).unwrap();
    std::fs::write(
        s.path().join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: argocd\nresources: [install.yaml]\ncomponents: [netpolc]\n",
    )
    .unwrap();
    let upstream = by_id(docs("install.yaml", &String::from_utf8(install).unwrap()));
    let out = run(tool("kubectl").arg("kustomize").arg(s.path()));
    assert!(out.status.success(), "{}", both(&out));
    let objects = by_id(docs("kustomize", &text(&out.stdout)));
    let cm = objects
        .values()
        .find(|o| {
            o["kind"] == "ConfigMap"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("netpolc-cmp-plugin"))
        })
        .expect("the plugin's ConfigMap");
    let plugin_text = std::fs::read_to_string(root().join("deploy/argocd/plugin.yaml")).unwrap();
    assert_eq!(cm["data"]["plugin.yaml"], plugin_text.as_str());
    let cm_name = cm["metadata"]["name"].as_str().unwrap();
    assert!(cm_name.starts_with("netpolc-cmp-plugin"));

    // Every upstream object is still there, plus the plugin's ConfigMap.
    let mut added = kind_names(objects.values());
    added.retain(|k| !kind_names(upstream.values()).contains(k));
    assert_eq!(
        added.into_iter().collect::<Vec<_>>(),
        vec![format!("ConfigMap {cm_name}")]
    );
    assert_eq!(objects.len(), upstream.len() + 1, "one ConfigMap added");
    let d = &objects["Deployment argocd/argocd-repo-server"];
    let before = &upstream
        .values()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "argocd-repo-server")
        .unwrap()["spec"]["template"]["spec"];
    let spec = &d["spec"]["template"]["spec"];
    let containers = spec["containers"].as_array().unwrap();
    assert_eq!(
        containers
            .iter()
            .find(|c| c["name"] == "argocd-repo-server"),
        before["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "argocd-repo-server"),
        "the repo-server container changed"
    );
    assert_eq!(
        spec["initContainers"], before["initContainers"],
        "the init container that copies argocd-cmp-server changed"
    );
    // `kubectl logs deploy/argocd-repo-server` shows the repo-server, not the sidecar.
    assert_eq!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"],
        "argocd-repo-server"
    );
    // The sidecar runs the image the Dockerfile builds, tagged with this release.
    let side_image = containers
        .iter()
        .find(|c| c["name"] == "netpolc")
        .map(|c| c["image"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(
        side_image,
        format!(
            "registry.example.invalid/netpolc:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    let side = containers
        .iter()
        .find(|c| c["name"] == "netpolc")
        .expect("the netpolc sidecar");
    assert_eq!(
        side["command"],
        serde_json::json!(["/var/run/argocd/argocd-cmp-server"])
    );
    assert_eq!(side["securityContext"]["runAsNonRoot"], true);
    assert_eq!(side["securityContext"]["runAsUser"], 999);
    let mounts = side["volumeMounts"].as_array().unwrap();
    let mount = |path: &str| {
        mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("no mount at {path}"))
    };
    assert_eq!(mount("/var/run/argocd")["name"], "var-files");
    assert_eq!(mount("/home/argocd/cmp-server/plugins")["name"], "plugins");
    let config = mount("/home/argocd/cmp-server/config/plugin.yaml");
    assert_eq!(config["subPath"], "plugin.yaml");
    let tmp = mount("/tmp")["name"].as_str().unwrap();
    let volumes = spec["volumes"].as_array().unwrap();
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no volume {name}"))
    };
    assert_eq!(
        volume(config["name"].as_str().unwrap())["configMap"]["name"],
        cm_name
    );
    assert!(
        volume(tmp)["emptyDir"].is_object(),
        "the sidecar's /tmp must be its own"
    );
    assert!(!["var-files", "plugins"].contains(&tmp));
    // The shared volumes are upstream's, and the init container fills var-files with
    // argocd-cmp-server, the sidecar's entrypoint.
    for v in ["var-files", "plugins"] {
        assert!(
            before["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["name"] == v),
            "upstream has no volume {v}"
        );
    }
    let init = &before["initContainers"][0];
    assert!(
        init["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "var-files" && m["mountPath"] == "/var/run/argocd"),
        "{init}"
    );
    assert!(
        serde_json::to_string(&init["command"])
            .unwrap()
            .contains("argocd-cmp-server")
            || serde_json::to_string(&init["args"])
                .unwrap()
                .contains("argocd-cmp-server"),
        "{init}"
    );
}

/// The vendored Argo CD install manifest and its upstream git blob hash.
const ARGOCD_INSTALL: &str = "tests/fixtures/argocd/install-v3.5.1.yaml";
const ARGOCD_INSTALL_BLOB: &str = "e7238840ff8b86f2c2429e66fc053c9190c5659c";

/// `git hash-object` of a file, as stored (no filters).
fn git_blob_sha1(path: &Path) -> String {
    let out = run(tool("git").args(["hash-object", "--no-filters"]).arg(path));
    assert!(out.status.success(), "{}", both(&out));
    text(&out.stdout).trim().to_string()
}

/// Kind and name of every object (namespaces differ after kustomize's `namespace:`).
fn kind_names<'a>(objects: impl Iterator<Item = &'a Value>) -> std::collections::BTreeSet<String> {
    objects
        .map(|o| {
            format!(
                "{} {}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Flux and rendered manifests

/// Calico rejects a policy whose tier does not exist: `kubectl kustomize golden/calico`
/// (what `kubectl apply -k` and Argo CD apply, in this order) must put every Tier first,
/// and `golden/calico/_tiers` (Flux's first Kustomization) must hold exactly the Tiers.
#[test]
fn kubectl_kustomize_puts_the_calico_tier_first() {
    let repo = Scratch::new("gitops-tier-order");
    copy_policies(repo.path());
    let out = run(netpolc(repo.path()).args(["build", "--target", "calico"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let folder = repo.path().join("golden/calico");
    let out = run(tool("kubectl").arg("kustomize").arg(&folder));
    assert!(out.status.success(), "{}", both(&out));
    let objects = docs("kustomize", &text(&out.stdout));
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    let tiers = kinds.iter().take_while(|k| **k == "Tier").count();
    assert!(tiers > 0, "{kinds:?}");
    assert!(
        !kinds[tiers..].contains(&"Tier"),
        "a Tier after a policy: {kinds:?}"
    );
    assert!(objects[tiers..]
        .iter()
        .any(|o| o["spec"]["tier"] == "netpolc"));

    let out = run(tool("kubectl").arg("kustomize").arg(folder.join("_tiers")));
    assert!(out.status.success(), "{}", both(&out));
    let only = docs("kustomize", &text(&out.stdout));
    assert_eq!(only.len(), tiers);
    assert!(only.iter().all(|o| o["kind"] == "Tier"));
}

/// deploy/flux/calico.yaml: the tiers Kustomization applies exactly the Tiers, the
/// policies one waits for it and, built as Flux builds it (its `patches` over
/// golden/calico), holds every policy and no Tier.
#[test]
fn the_flux_calico_example_applies_the_tier_first_and_once() {
    let repo = Scratch::new("gitops-flux-calico");
    copy_policies(repo.path());
    let out = run(netpolc(repo.path()).args(["build", "--target", "calico"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let flux = docs(
        "calico.yaml",
        &std::fs::read_to_string(root().join("deploy/flux/calico.yaml")).unwrap(),
    );
    let tiers = flux
        .iter()
        .find(|d| d["metadata"]["name"] == "netpolc-calico-tiers")
        .expect("a tiers Kustomization");
    let policies = flux
        .iter()
        .find(|d| d["metadata"]["name"] == "netpolc-calico")
        .expect("a policies Kustomization");
    assert_eq!(
        policies["spec"]["dependsOn"][0]["name"],
        tiers["metadata"]["name"]
    );
    let build = |path: &str, patches: &Value| -> Vec<Value> {
        // Flux builds `path` with `spec.patches` added to a kustomization over it.
        let overlay = repo
            .path()
            .join(format!("overlay-{}", path.replace('/', "-")));
        std::fs::create_dir_all(&overlay).unwrap();
        let relative = format!("../{}", path.trim_start_matches("./"));
        let mut k = serde_json::json!({"resources": [relative]});
        if patches.is_array() {
            k["patches"] = patches.clone();
        }
        std::fs::write(overlay.join("kustomization.yaml"), k.to_string()).unwrap();
        let out = run(tool("kubectl").arg("kustomize").arg(&overlay));
        assert!(out.status.success(), "{}", both(&out));
        docs("kustomize", &text(&out.stdout))
    };
    let tier_objects = build(tiers["spec"]["path"].as_str().unwrap(), &Value::Null);
    assert!(!tier_objects.is_empty());
    assert!(tier_objects.iter().all(|o| o["kind"] == "Tier"));
    let policy_objects = build(
        policies["spec"]["path"].as_str().unwrap(),
        &policies["spec"]["patches"],
    );
    assert!(policy_objects.iter().all(|o| o["kind"] != "Tier"));
    let rendered = by_id(docs(
        "render",
        &render(repo.path(), &["--target", "calico"]),
    ));
    let expected: Vec<&String> = rendered
        .iter()
        .filter(|(_, o)| o["kind"] != "Tier")
        .map(|(id, _)| id)
        .collect();
    let built = by_id(policy_objects);
    assert_eq!(built.keys().collect::<Vec<_>>(), expected);
}

#[test]
fn kubectl_kustomize_builds_every_golden_folder_as_render_prints_it() {
    let repo = Scratch::new("gitops-flux");
    copy_policies(repo.path());
    let out = run(netpolc(repo.path()).arg("build"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for t in Target::ALL {
        let folder = repo.path().join("golden").join(t.name());
        let out = run(tool("kubectl").arg("kustomize").arg(&folder));
        assert!(
            out.status.success(),
            "kubectl kustomize golden/{t}:\n{}",
            both(&out)
        );
        let built = by_id(docs("kustomize", &text(&out.stdout)));
        let rendered = by_id(docs(
            "render",
            &render(repo.path(), &["--target", t.name()]),
        ));
        assert!(!rendered.is_empty());
        assert_eq!(
            built.keys().collect::<Vec<_>>(),
            rendered.keys().collect::<Vec<_>>(),
            "{t}"
        );
        for (id, o) in &rendered {
            assert_eq!(&built[id], o, "golden/{t}: {id}");
        }
    }
    // Flux post-build substitution would rewrite `${`; netpolc never writes it.
    for (path, bytes) in tree(&repo.path().join("golden")) {
        assert!(!text(&bytes).contains("${"), "golden/{path} contains `${{`");
    }

    // The Flux example applies one of these folders.
    let flux = docs(
        "netpolc.yaml",
        &std::fs::read_to_string(root().join("deploy/flux/netpolc.yaml")).unwrap(),
    );
    let ks = flux
        .iter()
        .find(|d| d["kind"] == "Kustomization")
        .expect("a Flux Kustomization");
    assert_eq!(ks["apiVersion"], "kustomize.toolkit.fluxcd.io/v1");
    let path = ks["spec"]["path"].as_str().unwrap();
    assert!(
        repo.path().join(path).join("kustomization.yaml").is_file(),
        "{path}"
    );
    let source = flux
        .iter()
        .find(|d| d["kind"] == "GitRepository")
        .expect("a GitRepository");
    assert_eq!(ks["spec"]["sourceRef"]["name"], source["metadata"]["name"]);
}
