//! Few objects, same meaning: on the GitOps-scale repository pattern of
//! `benches/gitops_scale.py` (25 intents per namespace), every back end emits one object
//! per (namespace or scope, subject selector, direction, action), whatever the number of
//! intents, and the exact proof still holds.

use netpolc_driver::{Options, Target};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// One namespace of the benchmark's repository (the same groups and intents as
/// `benches/gitops_scale.py`, 25 intents plus the DNS preset).
fn intent_set(i: usize, n: usize) -> String {
    let ns = |i: usize| format!("ns-{i:04}");
    let teams = n.div_ceil(10).max(1);
    let intents = [
        "{name: web-to-api, from: web, to: api, ports: [8080/tcp]}",
        "{name: api-to-db, from: api, to: db, ports: [5432/tcp]}",
        "{name: api-to-cache, from: api, to: cache, ports: [6379/tcp]}",
        "{name: web-to-cache, from: web, to: cache, ports: [6379/tcp]}",
        "{name: worker-to-queue, from: worker, to: queue, ports: [5672/tcp]}",
        "{name: api-to-queue, from: api, to: queue, ports: [5672/tcp]}",
        "{name: worker-to-db, from: worker, to: db, ports: [5432/tcp]}",
        "{name: scrape-web, from: metrics, to: web, ports: [9090/tcp]}",
        "{name: scrape-api, from: metrics, to: api, ports: [9090/tcp]}",
        "{name: scrape-db, from: metrics, to: db, ports: [9187/tcp]}",
        "{name: scrape-cache, from: metrics, to: cache, ports: [9121/tcp]}",
        "{name: scrape-worker, from: metrics, to: worker, ports: [9090/tcp]}",
        "{name: scrape-queue, from: metrics, to: queue, ports: [15692/tcp]}",
        "{name: web-to-peer, from: web, to: peer-api, ports: [8443/tcp]}",
        "{name: api-to-peer, from: api, to: peer-api, ports: [8443/tcp]}",
        "{name: team-to-web, from: team, to: web, ports: [8080/tcp]}",
        "{name: team-to-api, from: team, to: api, ports: [8080/tcp]}",
        "{name: api-to-partner, from: api, to: partner, ports: [443/tcp]}",
        "{name: worker-to-partner, from: worker, to: partner, ports: [443/tcp]}",
        "{name: worker-batch, from: worker, to: api, ports: [30000-30100/tcp]}",
        "{name: api-statsd, from: api, to: metrics, ports: [8125/udp]}",
        "{name: worker-statsd, from: worker, to: metrics, ports: [8125/udp]}",
        "{name: cache-replication, from: cache, to: cache, ports: [16379/tcp]}",
        "{name: queue-cluster, from: queue, to: queue, ports: [25672/tcp]}",
        "{name: no-web-to-db, from: web, to: db, ports: [5432/tcp], action: deny}",
    ];
    let mut t = format!(
        "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {{name: {me}}}\nspec:\n  \
         namespace: {me}\n  namespaceLabels: {{team: t{team}}}\n  isolate: [ingress, egress]\n  \
         presets: [allow-dns]\n  groups:\n",
        me = ns(i),
        team = i / 10,
    );
    for g in ["web", "api", "db", "cache", "worker", "queue", "metrics"] {
        t.push_str(&format!("    {g}: {{selector: {{app: {g}}}}}\n"));
    }
    t.push_str(&format!(
        "    peer-api: {{selector: {{app: api}}, namespaces: [{}]}}\n",
        ns((i + 1) % n)
    ));
    t.push_str(&format!(
        "    team: {{namespaces: {{team: t{}}}}}\n",
        (i / 10 + 1) % teams
    ));
    t.push_str("    partner: {cidrs: [203.0.113.0/24]}\n  intents:\n");
    for x in intents {
        t.push_str(&format!("    - {x}\n"));
    }
    t
}

/// The intent set an object comes from (`set/intent, …` annotation).
fn set_of(o: &Value) -> String {
    let intent = o["metadata"]["annotations"]["netpolc.dev/intent"]
        .as_str()
        .unwrap_or("");
    intent.split('/').next().unwrap_or("").to_string()
}

/// What an object applies to: (set, kind, namespace, subject selector, rule field, tier).
fn subject_key(o: &Value) -> (String, String, String, String, String, String) {
    let s = &o["spec"];
    let field = [
        "ingress",
        "egress",
        "ingressDeny",
        "egressDeny",
        "policyTypes",
        "types",
    ]
    .into_iter()
    .find(|f| s.get(*f).is_some())
    .unwrap_or("");
    let selector = [&s["podSelector"], &s["selector"], &s["endpointSelector"]]
        .into_iter()
        .find(|v| !v.is_null())
        .map(Value::to_string)
        .unwrap_or_default();
    (
        set_of(o),
        o["kind"].as_str().unwrap_or("").to_string(),
        o["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        selector,
        field.to_string(),
        s["tier"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn the_gitops_pattern_gives_one_object_per_subject_and_direction() {
    let n = 3;
    let dir = std::env::temp_dir().join(format!("netpolc-lean-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    for i in 0..n {
        std::fs::write(
            dir.join(format!("policies/ns-{i:04}.yaml")),
            intent_set(i, n),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("policies/cluster-profile.yaml"),
        "apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\nspec:\n  nodeCIDRs: [192.168.0.0/24]\n",
    )
    .unwrap();
    let inputs: Vec<PathBuf> = vec![dir.join("policies")];
    let loaded = netpolc_driver::load::policies_from(&dir, &inputs).unwrap();
    let compiled = netpolc_driver::compile(&loaded);
    let program = compiled.program.unwrap_or_else(|| {
        panic!(
            "{}",
            netpolc_source::render_human(&loaded.sources, &compiled.diagnostics)
        )
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut rendered = Vec::new();
    for target in Target::ALL {
        let objects = netpolc_driver::render(&program, target, &Options::default())
            .unwrap_or_else(|d| panic!("{target}: {d:?}"))
            .objects;
        // No two objects share a subject and direction.
        let mut keys = BTreeSet::new();
        for o in &objects {
            assert!(
                keys.insert(subject_key(o)),
                "{target}: a second object for {:?}: {}",
                subject_key(o),
                o["metadata"]["name"]
            );
        }
        // Per namespace, its own set's objects: 7 groups plus every pod as subjects, not
        // one object per intent. (Other sets' intents add their sides, e.g. `team-to-web`
        // an egress object in each namespace of the team.)
        let mut per_namespace: BTreeMap<String, usize> = BTreeMap::new();
        for o in &objects {
            let ns = o["metadata"]["namespace"].as_str().unwrap_or("");
            let ns = if ns.is_empty() {
                // Calico's cluster-wide policies carry the namespace in the selector.
                o["spec"]["selector"]
                    .as_str()
                    .and_then(|s| s.split('\'').nth(1))
                    .unwrap_or("")
            } else {
                ns
            };
            if set_of(o) == ns {
                *per_namespace.entry(ns.to_string()).or_default() += 1;
            }
        }
        for i in 0..n {
            let count = per_namespace
                .get(&format!("ns-{i:04}"))
                .copied()
                .unwrap_or(0);
            // Isolation, at most 8 subjects × 2 directions, one deny object; the
            // Kubernetes subtraction adds `app NotIn [web]` pieces for the deny's subject.
            assert!(
                (10..=20).contains(&count),
                "{target}: {count} objects in ns-{i:04}: {per_namespace:?}"
            );
        }
        // Every rule's intent is named: merged objects list them rule by rule.
        for o in &objects {
            let annotations: BTreeMap<String, String> =
                serde_json::from_value(o["metadata"]["annotations"].clone()).unwrap_or_default();
            if annotations
                .get("netpolc.dev/intent")
                .is_some_and(|i| i.contains(", "))
            {
                assert!(
                    annotations.contains_key("netpolc.dev/rules"),
                    "{target}: {o:#}"
                );
            }
        }
        rendered.push((target, objects));
    }
    // Fewer, wider objects, the same meaning.
    let model = netpolc_ir::derive::derive(&program);
    let found = netpolc_driver::verify::validate(&program, &model, &rendered, 5).unwrap();
    assert!(found.is_empty(), "{found:?}");
}
