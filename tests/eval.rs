//! The verification commands through the binary: `eval` on a cluster dump and the seed's
//! hand-written NetworkPolicies (its two traps, on every backend), `test` on the
//! repository's policies/ in its three report formats, and `explain` naming the deciding
//! objects and intent.

use crate::util::netpolc;
use crate::util::{compile, render, root};
use netpolc_driver::Target;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;

const DUMP: &str = "tests/data/seed-cluster.yaml";
const SEED: &str = "tests/fixtures/seed/seed-policies.yaml";
const BACKENDS: [&str; 3] = ["kubernetes", "calico", "cilium"];

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `netpolc eval` on the dump and the seed policies; exit code 0 required.
fn eval(output: &str) -> String {
    let o = netpolc(
        &root(),
        &[
            "eval",
            "--flows",
            "--cluster",
            DUMP,
            SEED,
            "--output",
            output,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stdout(&o)
}

/// Pod names of the dump by namespace, read from the dump itself.
fn dump_pods() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(root().join(DUMP)).unwrap();
    let docs =
        netpolc_driver::dump::flatten(netpolc_driver::verify::parse_yaml(DUMP, &text).unwrap());
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in docs
        .iter()
        .filter(|d| d["kind"] == "Pod" && d["spec"]["hostNetwork"] != true)
    {
        out.entry(d["metadata"]["namespace"].as_str().unwrap().to_string())
            .or_default()
            .push(d["metadata"]["name"].as_str().unwrap().to_string());
    }
    out
}

fn pod(ns: &str, prefix: &str) -> String {
    let pods = dump_pods();
    let name = pods[ns]
        .iter()
        .find(|p| p.starts_with(prefix))
        .unwrap_or_else(|| panic!("no pod {ns}/{prefix}*"));
    format!("{ns}/{name}")
}

/// Text output → flow (`from -> to port/proto`) → backend → allowed.
fn parse_text(text: &str) -> BTreeMap<String, BTreeMap<String, bool>> {
    let mut lines = text.lines();
    let header = lines.next().expect("a header line");
    assert!(
        header.starts_with("# ") && header.ends_with("columns: kubernetes calico cilium"),
        "{header}"
    );
    let flows: usize = header[2..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .expect("flow count");
    let mut out = BTreeMap::new();
    for line in lines {
        let (flow, verdicts) = line
            .rsplit_once(": ")
            .unwrap_or_else(|| panic!("bad line `{line}`"));
        let per: BTreeMap<String, bool> = verdicts
            .split(' ')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                assert!(v == "allow" || v == "deny", "{line}");
                (k.to_string(), v == "allow")
            })
            .collect();
        assert_eq!(per.len(), 3, "{line}");
        assert!(
            out.insert(flow.to_string(), per).is_none(),
            "flow listed twice: {flow}"
        );
    }
    assert_eq!(out.len(), flows, "the header's flow count");
    out
}

fn json_flows(text: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(text)
        .expect("JSON")
        .as_array()
        .expect("an array")
        .clone()
}

fn json_flow<'a>(flows: &'a [Value], from: &str, to: &str, port: u64, protocol: &str) -> &'a Value {
    flows
        .iter()
        .find(|f| {
            f["from"] == from && f["to"] == to && f["port"] == port && f["protocol"] == protocol
        })
        .unwrap_or_else(|| panic!("no flow {from} -> {to} {port}/{protocol}"))
}

#[test]
fn eval_text_shows_both_seed_traps() {
    let flows = parse_text(&eval("text"));
    let frontend = pod("production", "frontend-");
    let backend = pod("production", "backend-");

    // Trap (a): the ingress-only rule does not open frontend's egress. Kubernetes and
    // Calico let it through only because the metadata "block" is an allow of 0.0.0.0/0,
    // which matches pod IPs there; Cilium's CIDR rules never match pods.
    let f = &flows[&format!("{frontend} -> {backend} 8080/tcp")];
    assert!(f["kubernetes"] && f["calico"], "{f:?}");
    assert!(!f["cilium"], "{f:?}");

    // Trap (b): the "block" allows every other address, so every production pod reaches
    // the Internet on every backend, the backend's restricted egress notwithstanding;
    // the metadata addresses themselves stay blocked.
    for p in &dump_pods()["production"] {
        for backend in BACKENDS {
            assert!(
                flows[&format!("production/{p} -> 8.8.8.8 443/tcp")][backend],
                "{p} -> 8.8.8.8:443 on {backend}"
            );
            assert!(
                !flows[&format!("production/{p} -> 169.254.169.254 443/tcp")][backend],
                "{p} -> metadata on {backend}"
            );
        }
    }
    // The unlabelled test pod cannot reach the database.
    let db = pod("production", "database-");
    for backend in BACKENDS {
        assert!(
            !flows[&format!("production/test-pod -> {db} 5432/tcp")][backend],
            "{backend}"
        );
        assert!(
            flows[&format!(
                "{backend_pod} -> {db} 5432/tcp",
                backend_pod = backend_pod()
            )][backend],
            "{backend}"
        );
    }
    // Namespaces without policies are open.
    let prometheus = pod("monitoring", "prometheus-");
    assert!(flows[&format!("{prometheus} -> {frontend} 9090/tcp")]
        .values()
        .all(|v| *v));
}

fn backend_pod() -> String {
    pod("production", "backend-")
}

#[test]
fn eval_json_names_the_deciding_objects_and_agrees_with_text() {
    let text = parse_text(&eval("text"));
    let flows = json_flows(&eval("json"));
    assert_eq!(flows.len(), text.len());
    for f in &flows {
        let key = format!(
            "{} -> {} {}/{}",
            f["from"].as_str().unwrap(),
            f["to"].as_str().unwrap(),
            f["port"],
            f["protocol"].as_str().unwrap().to_ascii_lowercase()
        );
        for backend in BACKENDS {
            let allowed = f["verdicts"][backend]["allowed"].as_bool().unwrap();
            assert_eq!(
                Some(&allowed),
                text.get(&key).and_then(|t| t.get(backend)),
                "{key} on {backend}"
            );
        }
    }

    let frontend = pod("production", "frontend-");
    let f = json_flow(&flows, &frontend, &backend_pod(), 8080, "TCP");
    for backend in ["kubernetes", "calico"] {
        let v = &f["verdicts"][backend];
        assert_eq!(v["allowed"], true);
        assert_eq!(
            v["egress"], "allowed by NetworkPolicy production/block-metadata spec.egress[0]",
            "{backend}"
        );
        assert_eq!(
            v["ingress"],
            "allowed by NetworkPolicy production/backend-allow-frontend spec.ingress[0]",
            "{backend}"
        );
    }
    let cilium = &f["verdicts"]["cilium"];
    assert_eq!(cilium["allowed"], false);
    let egress = cilium["egress"].as_str().unwrap();
    assert!(
        egress.starts_with("default deny")
            && egress.contains("NetworkPolicy production/default-deny-all"),
        "{egress}"
    );
    assert_eq!(
        cilium["ingress"],
        "allowed by NetworkPolicy production/backend-allow-frontend spec.ingress[0]"
    );

    // The Internet is reached through the same ipBlock on every backend.
    let internet = json_flow(&flows, &frontend, "8.8.8.8", 443, "TCP");
    for backend in BACKENDS {
        assert_eq!(
            internet["verdicts"][backend]["egress"],
            "allowed by NetworkPolicy production/block-metadata spec.egress[0]",
            "{backend}"
        );
        assert_eq!(internet["verdicts"][backend]["ingress"], "n/a");
    }
}

#[test]
fn eval_skips_host_network_pods_with_a_note_and_probes_extra_addresses() {
    let o = netpolc(
        &root(),
        &[
            "eval",
            "--flows",
            "--cluster",
            DUMP,
            SEED,
            "--address",
            "198.51.100.7",
            "--target",
            "cilium",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("pod kube-system/kube-proxy-4fz9w uses the host network: skipped"),
        "{}",
        stderr(&o)
    );
    let out = stdout(&o);
    assert!(out.lines().next().unwrap().ends_with("columns: cilium"));
    assert!(!out.contains("kube-proxy"));
    let line = out
        .lines()
        .find(|l| {
            l.starts_with(&format!(
                "{} -> 198.51.100.7 443/tcp: ",
                pod("production", "frontend-")
            ))
        })
        .expect("the extra address is probed");
    assert!(line.ends_with("cilium=allow"), "{line}");
}

#[test]
fn eval_refuses_a_dump_without_pods() {
    let dir = scratch("empty-dump");
    std::fs::write(
        dir.join("dump.yaml"),
        "apiVersion: v1\nkind: List\nitems: []\n",
    )
    .unwrap();
    let o = netpolc(
        &dir,
        &[
            "eval",
            "--cluster",
            "dump.yaml",
            &root().join(SEED).display().to_string(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no running pod"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// An IPv4-mapped IPv6 block (`::ffff:a.b.c.d`) may be read by a CNI as IPv4 or as IPv6
/// addresses: eval refuses it in each kind of object rather than guess, naming the
/// block, and answers for objects without one.
#[test]
fn eval_refuses_ipv4_mapped_blocks_in_every_kind_of_object() {
    let dir = scratch("mapped");
    // (target, object, the field path the refusal names)
    let cases = [
        (
            "kubernetes",
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: production}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 'BLOCK'}}]\n",
            "spec.egress[0].to[0].ipBlock.cidr",
        ),
        (
            "calico",
            "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: b}\nspec:\n  selector: all()\n  types: [Egress]\n  egress:\n  - action: Allow\n    destination: {nets: ['BLOCK']}\n",
            "spec.egress[0].destination.nets",
        ),
        (
            "cilium",
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: c, namespace: production}\nspec:\n  endpointSelector: {}\n  egress:\n  - toCIDRSet: [{cidr: '203.0.112.0/23'}, {cidr: 'BLOCK'}]\n",
            "spec.egress[0].toCIDRSet[1].cidr",
        ),
    ];
    let cluster = root()
        .join("tests/data/seed-cluster.yaml")
        .display()
        .to_string();
    for (target, text, field) in cases {
        for (block, refused) in [("::ffff:203.0.113.0/120", true), ("203.0.113.0/24", false)] {
            std::fs::write(dir.join("m.yaml"), text.replace("BLOCK", block)).unwrap();
            let o = netpolc(
                &dir,
                &["eval", "--cluster", &cluster, "--target", target, "m.yaml"],
            );
            if refused {
                assert_eq!(o.status.code(), Some(2), "{target}: {}", stderr(&o));
                assert!(
                    stderr(&o).contains(&format!("{field}: `{block}` is an IPv4-mapped IPv6 CIDR")),
                    "{target}: {}",
                    stderr(&o)
                );
            } else {
                assert_eq!(o.status.code(), Some(0), "{target}: {}", stderr(&o));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netpolc-eval-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The value of `attr="..."` in the first tag of `xml` that starts with `tag`.
fn attr(tag_text: &str, attr: &str) -> usize {
    let key = format!(" {attr}=\"");
    let start = tag_text
        .find(&key)
        .unwrap_or_else(|| panic!("no {attr} in `{tag_text}`"))
        + key.len();
    let end = tag_text[start..].find('"').unwrap() + start;
    tag_text[start..end].parse().unwrap()
}

/// Minimal JUnit reading: (tests, failures) of `<testsuites>`, the sum over
/// `<testsuite>`s, and the number of `<testcase>` and `<failure>` elements.
fn junit_counts(xml: &str) -> [(usize, usize); 3] {
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        "{xml}"
    );
    assert!(xml.trim_end().ends_with("</testsuites>"), "{xml}");
    let tag = |t: &str| -> Vec<&str> {
        xml.match_indices(&format!("<{t} "))
            .map(|(i, _)| {
                let rest = &xml[i..];
                &rest[..rest.find('>').unwrap()]
            })
            .collect()
    };
    let top = tag("testsuites");
    assert_eq!(top.len(), 1);
    let suites = tag("testsuite");
    let sum = suites.iter().fold((0, 0), |(t, f), s| {
        (t + attr(s, "tests"), f + attr(s, "failures"))
    });
    [
        (attr(top[0], "tests"), attr(top[0], "failures")),
        sum,
        (tag("testcase").len(), tag("failure").len()),
    ]
}

#[test]
fn test_reports_the_same_counts_in_every_format() {
    let run = |format: &str| {
        let o = netpolc(&root(), &["test", "--format", format]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{format}: {}\n{}",
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    };
    // policies/ has one ConnectivityTest with two cases: six rows on three backends.
    let text = run("text");
    assert_eq!(text.lines().last(), Some("6 passed, 0 failed"));
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("ok   production-smoke ["))
            .count(),
        6
    );
    for backend in BACKENDS {
        assert!(
            text.contains(&format!(
                "ok   production-smoke [{backend}] frontend -> backend 8080/tcp: allow"
            )),
            "{text}"
        );
        assert!(text.contains(&format!("ok   production-smoke [{backend}] production[run=test-pod] -> database 5432/tcp: deny")), "{text}");
    }

    let json: Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(
        (json["passed"].as_u64(), json["failed"].as_u64()),
        (Some(6), Some(0))
    );
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    assert!(results
        .iter()
        .all(|r| r["passed"] == true && r["expected"] == r["actual"]));
    let targets: Vec<&str> = results
        .iter()
        .map(|r| r["target"].as_str().unwrap())
        .collect();
    for backend in BACKENDS {
        assert_eq!(targets.iter().filter(|t| **t == backend).count(), 2);
    }

    assert_eq!(junit_counts(&run("junit")), [(6, 0), (6, 0), (6, 0)]);
}

#[test]
fn test_fails_with_findings_when_an_expectation_is_wrong() {
    let dir = scratch("failing-test");
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    for e in std::fs::read_dir(root().join("policies")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join("policies").join(p.file_name().unwrap())).unwrap();
    }
    // Wrong on purpose: frontend may not reach the database, and the Internet is open
    // to nobody's frontend (no intent allows it).
    std::fs::write(
        dir.join("policies/wrong-tests.yaml"),
        "apiVersion: netpolc.dev/v1alpha1\nkind: ConnectivityTest\nmetadata: {name: wrong}\nspec:\n  namespace: production\n  expect:\n    - {from: frontend, to: database, port: 5432/tcp, verdict: allow}\n    - {from: frontend, to: {address: 8.8.8.8}, port: 443/tcp, verdict: allow}\n    - {from: backend, to: database, port: 5432/tcp, verdict: allow}\n",
    )
    .unwrap();
    let o = netpolc(&dir, &["test", "--format", "junit"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let xml = stdout(&o);
    assert_eq!(junit_counts(&xml), [(15, 6), (15, 6), (15, 6)]);
    assert!(
        xml.contains("<failure message=\"expected allow, got deny\">"),
        "{xml}"
    );

    let o = netpolc(&dir, &["test"]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert_eq!(text.lines().last(), Some("9 passed, 6 failed"));
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("FAIL wrong ["))
            .count(),
        6
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_names_the_deciding_object_and_intent_on_every_backend() {
    let o = netpolc(
        &root(),
        &[
            "explain",
            "production/app=frontend",
            "production/app=backend",
            "8080/tcp",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "production/app=frontend -> production/app=backend 8080/tcp"
    );

    // The objects each backend renders for the repository, by name.
    let (sources, program, diags) = compile(&[PathBuf::from("policies")]);
    let program = program.unwrap_or_else(|| panic!("{diags}"));
    let kinds = [
        ("intended", ""),
        ("kubernetes", "NetworkPolicy"),
        ("calico", "GlobalNetworkPolicy"),
        ("cilium", "CiliumNetworkPolicy"),
    ];
    for (who, kind) in kinds {
        let at = lines
            .iter()
            .position(|l| l.split_whitespace().next() == Some(who))
            .unwrap_or_else(|| panic!("no `{who}` in\n{text}"));
        assert_eq!(lines[at].split_whitespace().nth(1), Some("allow"), "{text}");
        for (i, direction) in ["egress", "ingress"].iter().enumerate() {
            let line = lines[at + 1 + i].trim();
            assert!(line.starts_with(&format!("{direction}:")), "{line}");
            assert!(
                line.ends_with("(intent production/frontend-to-backend)"),
                "{line}"
            );
            if who == "intended" {
                continue;
            }
            // One object per subject and direction: frontend's egress, backend's ingress.
            let subject = if *direction == "egress" {
                "frontend"
            } else {
                "backend"
            };
            let object = format!(
                "{kind} {}production-app-{subject}-{direction} spec.{direction}[0]",
                if kind == "GlobalNetworkPolicy" {
                    ""
                } else {
                    "production/"
                }
            );
            assert!(
                line.contains(&format!("allowed by {object}")),
                "{who}: {line}"
            );
            // The named object exists in that backend's output and carries the intent.
            let target = Target::from_name(who).unwrap();
            let objects = render(&sources, &program, target).unwrap();
            let name = format!("production-app-{subject}-{direction}");
            let found = objects
                .iter()
                .find(|o| o["kind"] == kind && o["metadata"]["name"] == name.as_str())
                .unwrap_or_else(|| panic!("{who}: no {kind} {name}"));
            assert_eq!(
                found["metadata"]["annotations"]["netpolc.dev/intent"],
                "production/frontend-to-backend"
            );
        }
    }

    // A denied flow names the isolation instead.
    let o = netpolc(
        &root(),
        &[
            "explain",
            "production/run=test-pod",
            "production/app=database",
            "5432/tcp",
        ],
    );
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0));
    for who in BACKENDS {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(who))
            .unwrap();
        assert!(line.ends_with("deny"), "{line}");
    }
    assert!(text.contains("default deny (isolated by"), "{text}");
}

/// `netpolc eval` without `--flows`: the connectivity map.
fn eval_map(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut all = vec!["eval"];
    all.extend_from_slice(args);
    netpolc(dir, &all)
}

#[test]
fn eval_default_is_the_connectivity_map_grouped_by_classes() {
    let o = eval_map(&root(), &["--cluster", DUMP, SEED]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    // Far fewer lines than flows; the seed's two traps show as backend-specific rows.
    assert!(text.lines().count() < 20, "{text}");
    assert!(
        text.contains(
            "production/app=frontend -> production/app=backend 8080/tcp  [kubernetes, calico only]"
        ),
        "{text}"
    );
    assert!(
        text.contains("production/app=backend -> production/app=database 5432/tcp\n"),
        "{text}"
    );
    // Outside tests/snapshots/, which holds the corpus' snapshots only.
    insta::with_settings!({snapshot_path => "snapshots/eval"}, {
        insta::assert_snapshot!("eval_map_seed", text);
    });
    // The per-flow table is still there with --flows.
    let flows = stdout(&eval_map(&root(), &["--flows", "--cluster", DUMP, SEED]));
    assert!(flows.starts_with("# ") && flows.contains(" flows; columns: kubernetes calico cilium"));
    assert!(flows.lines().count() > text.lines().count() * 10);
}

#[test]
fn eval_json_map_is_one_document_with_the_same_rows() {
    let o = eval_map(&root(), &["--cluster", DUMP, SEED, "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("one JSON document");
    let text = stdout(&eval_map(&root(), &["--cluster", DUMP, SEED]));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        text.lines().filter(|l| !l.starts_with('#')).count()
    );
    assert_eq!(
        v["targets"],
        serde_json::json!(["kubernetes", "calico", "cilium"])
    );
    let r = rows
        .iter()
        .find(|r| r["to"] == serde_json::json!(["production/app=database"]))
        .expect("the database row");
    assert_eq!(r["from"], serde_json::json!(["production/app=backend"]));
    assert_eq!(r["ports"], serde_json::json!(["5432/tcp"]));
    assert_eq!(r["targets"].as_array().unwrap().len(), 3);
}

/// A dump of `n` namespaces × `per` small pods, dual stack, written as text.
fn big_dump(n: usize, per: usize) -> String {
    let mut s = String::from("apiVersion: v1\nitems:\n");
    let mut k = 0usize;
    for i in 0..n {
        s.push_str(&format!(
            "- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: ns-{i}\n"
        ));
        for j in 0..per {
            k += 1;
            s.push_str(&format!(
                "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p-{j}\n    namespace: ns-{i}\n    labels:\n      app: a{}\n  spec:\n    containers:\n    - name: c\n      ports:\n      - {{containerPort: 8080, name: http}}\n  status:\n    phase: Running\n    podIP: 10.{}.{}.{}\n    podIPs:\n    - ip: 10.{}.{}.{}\n    - ip: fd00::{k:x}\n",
                j % 3,
                k / 65536, (k / 256) % 256, k % 256,
                k / 65536, (k / 256) % 256, k % 256,
            ));
        }
    }
    s.push_str(
        "- apiVersion: v1\n  kind: Service\n  metadata:\n    name: api\n    namespace: ns-0\n",
    );
    s.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    s
}

#[test]
fn eval_accepts_a_20000_pod_dump_reads_pod_ips_and_names_other_objects() {
    let dir = scratch("big-dump");
    let dump = big_dump(200, 100);
    assert!(dump.len() > 4 << 20, "larger than the intent files' limit");
    std::fs::write(dir.join("dump.yaml"), dump).unwrap();
    std::fs::write(
        dir.join("np.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n  namespace: ns-1\nspec:\n  podSelector: {matchLabels: {app: a1}}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - ipBlock: {cidr: 'fd00::/16'}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: ns-1\n",
    )
    .unwrap();
    let o = eval_map(
        &dir,
        &["--cluster", "dump.yaml", "np.yaml", "--output", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("one JSON document");
    assert_eq!(v["pods"], 20000);
    let err = stderr(&o);
    assert!(err.contains("20000 pod(s) have several addresses"), "{err}");
    assert!(
        err.contains("1 Service object(s)") && err.contains("ns-0/api"),
        "{err}"
    );
    assert!(
        err.contains("ConfigMap ns-1/cm") || err.contains("cm"),
        "{err}"
    );
    // ns-1/app=a1 is isolated for ingress: only the IPv6 range may reach it.
    let rows = v["rows"].as_array().unwrap();
    let to_a1: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            r["to"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "ns-1/app=a1")
        })
        .collect();
    assert!(!to_a1.is_empty());
    for r in to_a1 {
        assert!(
            r["from"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f.as_str().unwrap().starts_with("fd00::/16")),
            "{r}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pods of a dump (not on the host network): `ns/name` → (namespace, labels).
fn dump_labels(path: &std::path::Path) -> BTreeMap<String, (String, BTreeMap<String, String>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let docs =
        netpolc_driver::dump::flatten(netpolc_driver::verify::parse_yaml("dump", &text).unwrap());
    docs.iter()
        .filter(|d| d["kind"] == "Pod" && d["spec"]["hostNetwork"] != true)
        .map(|d| {
            let ns = d["metadata"]["namespace"].as_str().unwrap().to_string();
            let name = d["metadata"]["name"].as_str().unwrap();
            let labels = d["metadata"]["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            (format!("{ns}/{name}"), (ns, labels))
        })
        .collect()
}

/// The pods a map endpoint names (`*`, `* except [..]`, `ns/*`, `ns/k=v,k=v`); empty
/// for address ranges.
fn expand(
    name: &str,
    pods: &BTreeMap<String, (String, BTreeMap<String, String>)>,
) -> std::collections::BTreeSet<String> {
    if name == "*" {
        return pods.keys().cloned().collect();
    }
    if let Some(rest) = name.strip_prefix("* except [") {
        let inner = rest.strip_suffix(']').unwrap();
        let mut out = expand("*", pods);
        for part in inner.split(", ") {
            for p in expand(part, pods) {
                out.remove(&p);
            }
        }
        return out;
    }
    let Some((ns, sel)) = name.split_once('/') else {
        return Default::default();
    };
    if !pods.values().any(|(n, _)| n == ns) {
        return Default::default(); // an address range such as 10.0.0.0/8
    }
    pods.iter()
        .filter(|(_, (n, labels))| {
            n == ns
                && (sel == "*"
                    || sel.split(',').all(|kv| {
                        let (k, v) = kv.split_once('=').expect("a label selector");
                        labels.get(k).map(String::as_str) == Some(v)
                    }))
        })
        .map(|(p, _)| p.clone())
        .collect()
}

fn port_in(spec: &str, port: u64, protocol: &str) -> bool {
    let (range, proto) = spec.split_once('/').unwrap();
    if !proto.eq_ignore_ascii_case(protocol) {
        return false;
    }
    match range {
        "all" => true,
        r => match r.split_once('-') {
            Some((a, b)) => (a.parse::<u64>().unwrap()..=b.parse().unwrap()).contains(&port),
            None => r.parse::<u64>().unwrap() == port,
        },
    }
}

/// Every pod-to-pod flow of `--flows` is allowed on a backend iff a row of the map
/// covers it on that backend.
fn map_agrees_with_flows(dir: &std::path::Path, dump: &str, manifests: &str) {
    let pods = dump_labels(&dir.join(dump));
    let map = eval_map(dir, &["--cluster", dump, manifests, "--output", "json"]);
    assert_eq!(map.status.code(), Some(0), "{}", stderr(&map));
    let map: Value = serde_json::from_str(&stdout(&map)).unwrap();
    let flows = eval_map(
        dir,
        &["--flows", "--cluster", dump, manifests, "--output", "json"],
    );
    let flows: Value = serde_json::from_str(&stdout(&flows)).unwrap();
    // Pattern rows over a group of namespaces: one row per namespace.
    let mut plain = Vec::new();
    for r in map["rows"].as_array().unwrap() {
        match r["namespace_group"].as_str() {
            None => plain.push(r.clone()),
            Some(g) => {
                for ns in map["namespace_groups"][g].as_array().unwrap() {
                    let text = r
                        .to_string()
                        .replace(&format!("{{{g}}}/"), &format!("{}/", ns.as_str().unwrap()));
                    plain.push(serde_json::from_str(&text).unwrap());
                }
            }
        }
    }
    let rows: Vec<(_, _, Vec<String>, Vec<String>)> = plain
        .iter()
        .map(|r| {
            let set = |k: &str| {
                r[k].as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|e| expand(e.as_str().unwrap(), &pods))
                    .collect::<std::collections::BTreeSet<String>>()
            };
            let strings = |k: &str| -> Vec<String> {
                r[k].as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_string())
                    .collect()
            };
            (set("from"), set("to"), strings("ports"), strings("targets"))
        })
        .collect();
    let mut checked = 0;
    for f in flows.as_array().unwrap() {
        let (from, to) = (f["from"].as_str().unwrap(), f["to"].as_str().unwrap());
        if !pods.contains_key(from) || !pods.contains_key(to) {
            continue;
        }
        let (port, proto) = (f["port"].as_u64().unwrap(), f["protocol"].as_str().unwrap());
        for (t, v) in f["verdicts"].as_object().unwrap() {
            let in_map = rows.iter().any(|(fr, tt, ports, ts)| {
                ts.contains(t)
                    && fr.contains(from)
                    && tt.contains(to)
                    && ports.iter().any(|p| port_in(p, port, proto))
            });
            assert_eq!(
                in_map,
                v["allowed"].as_bool().unwrap(),
                "{from} -> {to} {port}/{proto} on {t}"
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn eval_map_agrees_with_every_pod_flow_on_the_seed() {
    map_agrees_with_flows(&root(), DUMP, SEED);
}

#[test]
fn eval_map_agrees_with_every_pod_flow_across_namespaces_and_named_ports() {
    let dir = scratch("map-vs-flows");
    std::fs::write(dir.join("dump.yaml"), big_dump(4, 5)).unwrap();
    let np = |ns: &str, name: &str, spec: &str| {
        format!("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{spec}")
    };
    let mut text = String::new();
    for ns in ["ns-0", "ns-1", "ns-2"] {
        text += &np(
            ns,
            "deny",
            "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n",
        );
        text += &np(ns, "a0-to-a1", "  podSelector: {matchLabels: {app: a1}}\n  ingress:\n  - from:\n    - podSelector: {matchLabels: {app: a0}}\n    ports:\n    - port: http\n");
        text += &np(ns, "a0-out", "  podSelector: {matchLabels: {app: a0}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - podSelector: {}\n      namespaceSelector: {}\n    ports:\n    - {port: 8000, endPort: 8100}\n");
    }
    text += &np("ns-1", "from-ns-0", "  podSelector: {matchLabels: {app: a2}}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ns-0}}\n      podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [a1]}]}\n");
    std::fs::write(dir.join("np.yaml"), text).unwrap();
    map_agrees_with_flows(&dir, "dump.yaml", "np.yaml");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_reports_a_broken_dump_with_file_line_column_and_code() {
    let dir = scratch("broken-dump");
    std::fs::write(
        dir.join("dump.yaml"),
        "apiVersion: v1\nitems:\n- kind: Pod\n  metadata: {name: [\n",
    )
    .unwrap();
    let o = eval_map(
        &dir,
        &[
            "--cluster",
            "dump.yaml",
            &root().join(SEED).display().to_string(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("error[NP1003]") && err.contains("dump.yaml:"),
        "{err}"
    );
    assert!(err.contains("help:"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Manifests are read with positions (as by `import`): a duplicate key, which used to
/// keep the last value silently, is an error pointing at both keys, and so is a YAML
/// error, with the offending line; `diff --manifests-*` reads them the same way.
#[test]
fn eval_and_diff_report_a_duplicate_key_in_the_manifests_with_its_place() {
    let dir = scratch("duplicate-key");
    std::fs::write(
        dir.join("np.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: production}\nspec:\n  podSelector: {}\n  podSelector: {matchLabels: {app: x}}\n",
    )
    .unwrap();
    let dump = root().join(DUMP).display().to_string();
    let o = eval_map(&dir, &["--cluster", &dump, "np.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("error[NP1004]")
            && err.contains("--> np.yaml:6:3")
            && err.contains("np.yaml:5:3"),
        "{err}"
    );
    let o = netpolc(
        &dir,
        &[
            "diff",
            "--manifests-old",
            "np.yaml",
            "--manifests-new",
            "np.yaml",
            "--cluster",
            &dump,
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--> np.yaml:6:3"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Calico network sets, in the manifests or in the dump, are matched by rule selectors.
#[test]
fn eval_reads_calico_network_sets_from_manifests_and_dump() {
    let dir = scratch("network-sets");
    let set = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: partners\n  labels: {role: partner}\nspec:\n  nets: [203.0.113.0/24]\n";
    let policy = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: backend-from-partners}\nspec:\n  selector: app == 'backend'\n  types: [Ingress]\n  ingress:\n  - action: Allow\n    protocol: TCP\n    source: {selector: role == 'partner'}\n    destination: {ports: [443]}\n";
    let dump = std::fs::read_to_string(root().join(DUMP)).unwrap();
    std::fs::write(dir.join("dump.yaml"), format!("{dump}---\n{set}")).unwrap();
    std::fs::write(dir.join("policy.yaml"), policy).unwrap();
    std::fs::write(dir.join("both.yaml"), format!("{set}---\n{policy}")).unwrap();
    let dump_path = root().join(DUMP).display().to_string();
    let run = |cluster: &str, manifests: &str| {
        let o = netpolc(
            &dir,
            &[
                "eval",
                "--flows",
                "--target",
                "calico",
                "--cluster",
                cluster,
                manifests,
                "--address",
                "203.0.113.9",
                "--address",
                "198.51.100.7",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    let backend = pod("production", "backend-");
    for out in [
        run(&dump_path, "both.yaml"),
        run("dump.yaml", "policy.yaml"),
    ] {
        let verdict = |from: &str| {
            out.lines()
                .find(|l| l.starts_with(&format!("{from} -> {backend} 443/tcp: ")))
                .unwrap_or_else(|| panic!("no flow from {from}:\n{out}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_string()
        };
        assert_eq!(verdict("203.0.113.9"), "calico=allow");
        assert_eq!(verdict("198.51.100.7"), "calico=deny");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A typo in a NetworkPolicy (`ingres`) is an error on every back end's reading, with one
/// message: all three read plain NetworkPolicies with the shared reader
/// (`netpolc_kube::networkpolicy`). The Kubernetes reading once accepted it silently (the
/// policy then isolated ingress with no rule).
#[test]
fn every_reading_of_network_policy_refuses_a_misspelt_field() {
    let np = serde_json::json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "x", "namespace": "shop"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingres": [{}]}
    });
    for t in netpolc_driver::Target::ALL {
        match t.backend().evaluator(std::slice::from_ref(&np)) {
            Ok(_) => panic!("{t} accepts `ingres`"),
            Err(e) => assert_eq!(
                e, "object 0: NetworkPolicy `shop/x`: spec.ingres: unknown field `ingres`",
                "{t}"
            ),
        }
    }
    // Deeper, and refused by the API server's validation rather than by the schema.
    let mut deep = np.clone();
    deep["spec"] =
        serde_json::json!({"ingress": [{"from": [{"podSelector": {"matchLabel": {}}}]}]});
    let mut invalid = np.clone();
    invalid["spec"] = serde_json::json!({"ingress": [{"from": [{}]}]});
    for (object, message) in [
        (
            deep,
            "spec.ingress[0].from[0].podSelector.matchLabel: unknown field `matchLabel`",
        ),
        (
            invalid,
            "spec.ingress[0].from[0]: a peer needs a selector or an ipBlock",
        ),
    ] {
        for t in netpolc_driver::Target::ALL {
            let e = t.backend().evaluator(std::slice::from_ref(&object)).err();
            assert_eq!(
                e.as_deref(),
                Some(format!("object 0: NetworkPolicy `shop/x`: {message}").as_str()),
                "{t}"
            );
        }
    }
}

/// A valid NetworkPolicy reads the same on every back end: the three evaluators agree on
/// every flow of a small model (what each CNI does differently — Calico's `ipBlock` on pod
/// addresses, Cilium's egress rules under `policyTypes: [Ingress]` — is left out).
#[test]
fn every_reading_of_a_valid_network_policy_agrees() {
    use netpolc_ir::model::{ClusterModel, Endpoint, Flow, Pod};
    use netpolc_ir::Protocol;
    use std::collections::BTreeMap;
    let np = serde_json::json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "web", "namespace": "shop",
                     "uid": "1b4e28ba", "resourceVersion": "7"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{
                "from": [{"podSelector": {"matchExpressions": [
                             {"key": "app", "operator": "In", "values": ["api"]}]}},
                         {"namespaceSelector": {"matchLabels": {"team": "ops"}}}],
                "ports": [{"port": 80}, {"port": 8000, "endPort": 8080}, {"port": "metrics"}]
            }],
            "egress": [{"to": [{"ipBlock": {"cidr": "203.0.113.0/24",
                                            "except": ["203.0.113.128/25"]}}],
                        "ports": [{"protocol": "UDP", "port": 53}]},
                       {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "db"}}}]}]
        }
    });
    let pod = |ns: &str, app: &str, ip: &str| Pod {
        namespace: ns.into(),
        name: app.into(),
        labels: BTreeMap::from([("app".to_string(), app.to_string())]),
        ip: ip.parse().unwrap(),
        named_ports: BTreeMap::from([("metrics".to_string(), (Protocol::Tcp, 9090))]),
    };
    let mut model = ClusterModel::default();
    for (ns, labels) in [
        ("ops", vec![("team", "ops")]),
        ("other", vec![]),
        ("shop", vec![]),
    ] {
        let mut labels: BTreeMap<String, String> = labels
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.insert("kubernetes.io/metadata.name".into(), ns.into());
        model.namespaces.insert(ns.into(), labels);
    }
    model.pods = vec![
        pod("ops", "prom", "10.0.1.1"),
        pod("other", "api", "10.0.2.1"),
        pod("other", "db", "10.0.2.2"),
        pod("shop", "api", "10.0.0.2"),
        pod("shop", "web", "10.0.0.1"),
    ];
    model.externals = ["203.0.113.9", "203.0.113.200", "8.8.8.8"]
        .map(|a| a.parse().unwrap())
        .to_vec();
    model.externals.sort();
    let ends: Vec<Endpoint> = (0..model.pods.len())
        .map(Endpoint::Pod)
        .chain(model.externals.iter().map(|a| Endpoint::External(*a)))
        .collect();
    let ports = [
        (Protocol::Tcp, 80),
        (Protocol::Tcp, 81),
        (Protocol::Tcp, 8080),
        (Protocol::Tcp, 9090),
        (Protocol::Udp, 53),
        (Protocol::Tcp, 53),
    ];
    let mut readings = Vec::new();
    for t in netpolc_driver::Target::ALL {
        let e = t
            .backend()
            .evaluator(std::slice::from_ref(&np))
            .unwrap_or_else(|e| panic!("{t}: {e}"));
        let mut verdicts = Vec::new();
        for &src in &ends {
            for &dst in &ends {
                if matches!(src, Endpoint::External(_)) && matches!(dst, Endpoint::External(_)) {
                    continue;
                }
                for &(protocol, port) in &ports {
                    let flow = Flow {
                        src,
                        dst,
                        protocol,
                        port,
                    };
                    let v = e.verdict(&model, &flow);
                    verdicts.push((format!("{flow:?}"), v.ingress.allows(), v.egress.allows()));
                }
            }
        }
        readings.push((t.to_string(), verdicts));
    }
    let (first, reading) = &readings[0];
    // Not vacuous: the policy allows some flows and denies others.
    assert!(
        reading.iter().any(|(_, i, e)| *i && *e) && reading.iter().any(|(_, i, e)| !(*i && *e))
    );
    for (t, other) in &readings[1..] {
        for (a, b) in reading.iter().zip(other) {
            assert_eq!(a, b, "{first} and {t} differ");
        }
    }
}
