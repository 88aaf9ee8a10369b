//! The Kubernetes e2e NetworkPolicy suite (`test/e2e/network/netpol`) as data: every
//! scenario in `tests/e2e/*.yaml` is evaluated on the suite's 9-pod model (namespaces x, y,
//! z; pods a, b, c) with each back end's evaluator of manifests, and compared with the
//! suite's truth table, flow by flow.
//!
//! - The NetworkPolicies with the Kubernetes evaluator, against `truth`.
//! - The same NetworkPolicies with the Calico and Cilium evaluators (as those CNIs enforce
//!   them), against `truth`, or `knpDiffers.<backend>.truth` where the CNI differs by
//!   design; such a table must really differ from `truth`, so the difference is asserted,
//!   not hidden.
//! - The hand translations to `projectcalico.org/v3` and `cilium.io/v2`, against `truth`
//!   or their own `differs.truth`.
//!
//! The format of the data files is described at the top of each of them. Every mismatch
//! is reported, not just the first.

use crate::util::root;
use netpolc_ir::model::{ClusterModel, Endpoint, Evaluator, Flow, Pod};
use netpolc_ir::{Protocol, NAMESPACE_NAME_LABEL};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

const NAMESPACES: [&str; 3] = ["x", "y", "z"];
const PODS: [&str; 3] = ["a", "b", "c"];

/// One scenario read from a data file.
pub(crate) struct Scenario {
    pub(crate) file: String,
    pub(crate) name: String,
    pub(crate) doc: Value,
}

impl Scenario {
    fn str_field(&self, key: &str) -> &str {
        self.doc[key]
            .as_str()
            .unwrap_or_else(|| panic!("{}: scenario `{}` has no `{key}`", self.file, self.name))
    }
}

/// An expected verdict table per probe: (source, destination) → allowed.
pub(crate) type Tables = BTreeMap<(Protocol, u16), BTreeMap<(Endpoint, Endpoint), bool>>;

fn data_files() -> Vec<PathBuf> {
    let dir = root().join("tests/e2e");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    out.sort();
    out
}

pub(crate) fn scenarios() -> Vec<Scenario> {
    let mut out = Vec::new();
    for path in data_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let docs =
            netpolc_driver::verify::parse_yaml(&file, &text).unwrap_or_else(|e| panic!("{e}"));
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            let name = doc["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{file}: a scenario without `name`"))
                .to_string();
            out.push(Scenario {
                file: file.clone(),
                name,
                doc,
            });
        }
    }
    let mut names: Vec<&str> = out.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "scenario names must be unique");
    out
}

fn probe(text: &str) -> (Protocol, u16) {
    let (port, proto) = text
        .split_once('/')
        .unwrap_or_else(|| panic!("probe `{text}` is not PORT/PROTO"));
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => panic!("probe `{text}`: unknown protocol"),
    };
    (
        protocol,
        port.parse()
            .unwrap_or_else(|_| panic!("probe `{text}`: bad port")),
    )
}

fn pod_index(token: &str) -> Option<usize> {
    let mut chars = token.chars();
    let (ns, pod) = (chars.next()?, chars.next()?);
    if chars.next().is_some() {
        return None;
    }
    let n = NAMESPACES.iter().position(|x| x.starts_with(ns))?;
    let p = PODS.iter().position(|x| x.starts_with(pod))?;
    Some(n * PODS.len() + p)
}

fn endpoint(token: &str) -> Endpoint {
    if let Some(i) = pod_index(token) {
        return Endpoint::Pod(i);
    }
    Endpoint::External(
        token
            .parse::<IpAddr>()
            .unwrap_or_else(|_| panic!("`{token}` is neither a pod (`xa`) nor an address")),
    )
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .unwrap_or_else(|| panic!("label `{k}` is not a string"))
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The suite's model: 9 pods serving TCP, UDP and SCTP on 80 and 81 under named ports.
pub(crate) fn model(s: &Scenario) -> ClusterModel {
    let extra_ns = &s.doc["namespaceLabels"];
    let extra_pod = &s.doc["podLabels"];
    let mut m = ClusterModel::default();
    for (n, ns) in NAMESPACES.iter().enumerate() {
        let mut l = BTreeMap::from([
            ("ns".to_string(), ns.to_string()),
            (NAMESPACE_NAME_LABEL.to_string(), ns.to_string()),
        ]);
        l.extend(labels(&extra_ns[ns]));
        m.namespaces.insert(ns.to_string(), l);
        for (p, pod) in PODS.iter().enumerate() {
            let mut l = BTreeMap::from([("pod".to_string(), pod.to_string())]);
            l.extend(labels(&extra_pod[format!("{ns}{pod}")]));
            let mut named_ports = BTreeMap::new();
            for port in [80u16, 81] {
                for proto in Protocol::PORTED {
                    named_ports.insert(
                        format!("serve-{port}-{}", proto.as_str().to_ascii_lowercase()),
                        (proto, port),
                    );
                }
            }
            m.pods.push(Pod {
                namespace: ns.to_string(),
                name: pod.to_string(),
                labels: l,
                ip: format!("10.244.{}.{}", n + 1, p + 10).parse().unwrap(),
                named_ports,
            });
        }
    }
    m.externals = s.doc["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a.as_str().unwrap().parse().unwrap())
        .collect();
    m.externals.sort();
    m.ports = s.doc["probes"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no probes", s.name))
        .iter()
        .map(|p| probe(p.as_str().unwrap()))
        .collect();
    m.ports.sort();
    m
}

/// Parses `truth`-shaped tables (`"80/tcp 81/tcp": <grid>`).
pub(crate) fn tables(s: &Scenario, v: &Value, what: &str) -> Tables {
    let mut out = Tables::new();
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{}: `{what}` is not a map of tables", s.name));
    for (keys, grid) in obj {
        let grid = grid
            .as_str()
            .unwrap_or_else(|| panic!("{}: `{what}.{keys}` is not a text table", s.name));
        let mut lines = grid.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(
            header.first(),
            Some(&"->"),
            "{}: `{what}.{keys}`: the header starts with `->`",
            s.name
        );
        let columns: Vec<Endpoint> = header[1..].iter().map(|t| endpoint(t)).collect();
        let mut table = BTreeMap::new();
        for line in lines {
            let cells: Vec<&str> = line.split_whitespace().collect();
            let src = endpoint(cells[0]);
            assert_eq!(
                cells.len() - 1,
                columns.len(),
                "{}: `{what}.{keys}`: row `{}` has {} cells for {} columns",
                s.name,
                cells[0],
                cells.len() - 1,
                columns.len()
            );
            for (dst, cell) in columns.iter().zip(&cells[1..]) {
                match *cell {
                    "-" => assert_eq!(
                        &src, dst,
                        "{}: `{what}.{keys}`: `-` only on the diagonal",
                        s.name
                    ),
                    "." | "X" => {
                        assert_ne!(
                            &src, dst,
                            "{}: `{what}.{keys}`: a pod to itself is `-`",
                            s.name
                        );
                        table.insert((src, *dst), *cell == ".");
                    }
                    other => panic!("{}: `{what}.{keys}`: unknown cell `{other}`", s.name),
                }
            }
        }
        // Every pod is a row and a column.
        for i in 0..NAMESPACES.len() * PODS.len() {
            assert!(
                table.keys().any(|(a, _)| *a == Endpoint::Pod(i)),
                "{}: `{what}.{keys}`: pod {i} has no row",
                s.name
            );
            assert!(
                table.keys().any(|(_, b)| *b == Endpoint::Pod(i)),
                "{}: `{what}.{keys}`: pod {i} has no column",
                s.name
            );
        }
        for key in keys.split_whitespace() {
            assert!(
                out.insert(probe(key), table.clone()).is_none(),
                "{}: `{what}`: probe `{key}` twice",
                s.name
            );
        }
    }
    let probes: Vec<(Protocol, u16)> = model(s).ports;
    let keys: Vec<(Protocol, u16)> = out.keys().copied().collect();
    assert_eq!(
        keys, probes,
        "{}: `{what}` must have exactly one table per probe",
        s.name
    );
    out
}

pub(crate) fn manifests(s: &Scenario, v: &Value, what: &str) -> Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("{}: `{what}` is not a list of manifests", s.name))
        .clone()
}

/// Compares an evaluator with a truth table; returns one line per mismatching flow.
pub(crate) fn compare(
    s: &Scenario,
    label: &str,
    eval: &dyn Evaluator,
    truth: &Tables,
) -> Vec<String> {
    let m = model(s);
    let mut out = Vec::new();
    for (&(protocol, port), table) in truth {
        for (&(src, dst), &want) in table {
            let flow = Flow {
                src,
                dst,
                protocol,
                port,
            };
            let v = eval.verdict(&m, &flow);
            if v.allowed() != want {
                out.push(format!(
                    "{}/{} [{label}] {}: expected {}, got {} (egress: {}; ingress: {})",
                    s.file,
                    s.name,
                    m.flow_name(&flow),
                    if want { "allow" } else { "deny" },
                    if v.allowed() { "allow" } else { "deny" },
                    v.egress,
                    v.ingress
                ));
            }
        }
    }
    out
}

pub(crate) fn evaluator(backend: &str, objects: &[Value]) -> Result<Box<dyn Evaluator>, String> {
    target(backend).backend().evaluator(objects)
}

/// The registered back end of that name (the scenarios name back ends by their CLI name).
fn target(backend: &str) -> netpolc_driver::Target {
    netpolc_driver::Target::from_name(backend)
        .unwrap_or_else(|| panic!("unknown backend `{backend}`"))
}

/// Differences between two tables (for the explicit "this backend differs" assertion).
fn differing(a: &Tables, b: &Tables) -> usize {
    a.iter()
        .map(|(k, t)| {
            t.iter()
                .filter(|(f, v)| b.get(k).and_then(|u| u.get(f)) != Some(*v))
                .count()
        })
        .sum()
}

/// The NetworkPolicies of `s` on `backend`'s evaluator, against the truth that applies.
fn check_policies(s: &Scenario, backend: &str) -> Vec<String> {
    let truth = tables(s, &s.doc["truth"], "truth");
    let policies = manifests(s, &s.doc["policies"], "policies");
    let expected = match s.doc["knpDiffers"].get(backend) {
        Some(d) => {
            assert!(
                d["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "{}: knpDiffers.{backend} needs a reason",
                s.name
            );
            let t = tables(s, &d["truth"], &format!("knpDiffers.{backend}.truth"));
            assert!(
                differing(&t, &truth) > 0,
                "{}: knpDiffers.{backend} is the same as truth: remove it",
                s.name
            );
            t
        }
        None => truth,
    };
    match evaluator(backend, &policies) {
        Ok(e) => compare(
            s,
            &format!("NetworkPolicy on {backend}"),
            e.as_ref(),
            &expected,
        ),
        Err(e) => vec![format!(
            "{}/{} [NetworkPolicy on {backend}]: evaluator refused the manifests: {e}",
            s.file, s.name
        )],
    }
}

/// The hand translation of `s` for `backend`, if any.
fn check_translation(s: &Scenario, backend: &str) -> Option<Vec<String>> {
    let tr = s.doc.get(backend)?;
    let truth = tables(s, &s.doc["truth"], "truth");
    let expected = match tr.get("differs") {
        Some(d) => {
            assert!(
                d["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "{}: {backend}.differs needs a reason",
                s.name
            );
            let t = tables(s, &d["truth"], &format!("{backend}.differs.truth"));
            assert!(
                differing(&t, &truth) > 0,
                "{}: {backend}.differs is the same as truth: remove it",
                s.name
            );
            t
        }
        None => truth,
    };
    let objects = manifests(s, &tr["policies"], &format!("{backend}.policies"));
    for o in &objects {
        let problems = target(backend).backend().validate(o);
        assert!(
            problems.is_empty(),
            "{}: the {backend} translation is invalid: {problems:?}",
            s.name
        );
    }
    Some(match evaluator(backend, &objects) {
        Ok(e) => compare(s, &format!("{backend} translation"), e.as_ref(), &expected),
        Err(e) => vec![format!(
            "{}/{} [{backend} translation]: evaluator refused the manifests: {e}",
            s.file, s.name
        )],
    })
}

fn report(mismatches: Vec<String>) {
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn data_is_well_formed_and_covers_the_suite() {
    let all = scenarios();
    assert!(all.len() >= 20, "only {} scenarios", all.len());
    for s in &all {
        assert!(!s.str_field("suite").is_empty() && !s.str_field("expectation").is_empty());
        tables(s, &s.doc["truth"], "truth");
        for p in manifests(s, &s.doc["policies"], "policies") {
            assert_eq!(p["apiVersion"], "networking.k8s.io/v1", "{}", s.name);
            let problems = netpolc_k8s::validate(&p);
            assert!(problems.is_empty(), "{}: {problems:?}", s.name);
        }
    }
    // The hand translations cover the required constructs on both CNIs.
    let translated: Vec<&str> = all
        .iter()
        .filter(|s| s.doc.get("calico").is_some() && s.doc.get("cilium").is_some())
        .map(|s| s.name.as_str())
        .collect();
    for required in [
        "default-deny-ingress",
        "allow-from-namespace",
        "allow-from-pod-in-namespace",
        "egress-deny-all-with-dns",
        "egress-deny-all-without-dns",
        "egress-cidr-except",
        "named-port-ingress",
        "port-range",
    ] {
        assert!(
            translated.contains(&required),
            "no Calico and Cilium translation of `{required}`"
        );
    }
    // Both probe protocols of the suite besides TCP are present.
    let protocols: Vec<Protocol> = all
        .iter()
        .flat_map(|s| model(s).ports)
        .map(|(p, _)| p)
        .collect();
    assert!(protocols.contains(&Protocol::Udp) && protocols.contains(&Protocol::Sctp));
}

#[test]
fn kubernetes_evaluator_matches_the_suite() {
    report(
        scenarios()
            .iter()
            .flat_map(|s| check_policies(s, "kubernetes"))
            .collect(),
    );
}

#[test]
fn calico_enforces_the_network_policies_like_the_suite() {
    report(
        scenarios()
            .iter()
            .flat_map(|s| check_policies(s, "calico"))
            .collect(),
    );
}

#[test]
fn cilium_enforces_the_network_policies_like_the_suite_except_where_documented() {
    report(
        scenarios()
            .iter()
            .flat_map(|s| check_policies(s, "cilium"))
            .collect(),
    );
}

#[test]
fn calico_translations_match() {
    let all = scenarios();
    let results: Vec<Vec<String>> = all
        .iter()
        .filter_map(|s| check_translation(s, "calico"))
        .collect();
    assert!(
        results.len() >= 6,
        "only {} Calico translations",
        results.len()
    );
    report(results.into_iter().flatten().collect());
}

#[test]
fn cilium_translations_match() {
    let all = scenarios();
    let results: Vec<Vec<String>> = all
        .iter()
        .filter_map(|s| check_translation(s, "cilium"))
        .collect();
    assert!(
        results.len() >= 6,
        "only {} Cilium translations",
        results.len()
    );
    report(results.into_iter().flatten().collect());
}

/// The comparison can fail: a flipped cell, a dropped policy or a wrong backend each
/// show up as mismatches naming the flow.
#[test]
fn a_wrong_table_is_reported() {
    let all = scenarios();
    let s = all
        .iter()
        .find(|s| s.name == "default-deny-ingress")
        .expect("scenario exists");
    let mut truth = tables(s, &s.doc["truth"], "truth");
    let cell = truth
        .get_mut(&(Protocol::Tcp, 80))
        .unwrap()
        .get_mut(&(Endpoint::Pod(3), Endpoint::Pod(0)))
        .unwrap();
    assert!(!*cell, "y/a -> x/a is denied by default-deny-ingress");
    *cell = true;
    let eval = evaluator("kubernetes", &manifests(s, &s.doc["policies"], "policies")).unwrap();
    let found = compare(s, "kubernetes", eval.as_ref(), &truth);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("y/a -> x/a 80/tcp: expected allow, got deny"),
        "{}",
        found[0]
    );

    // Without any policy every denied cell of the suite's table is a mismatch.
    let open = evaluator("kubernetes", &[]).unwrap();
    let truth = tables(s, &s.doc["truth"], "truth");
    let denied = truth
        .values()
        .flat_map(|t| t.values())
        .filter(|v| !**v)
        .count();
    assert_eq!(
        compare(s, "kubernetes", open.as_ref(), &truth).len(),
        denied
    );
    assert_eq!(denied, 3 * 8, "every other pod to each pod of x");
}
