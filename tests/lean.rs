//! Few objects, same meaning: on the GitOps-scale repository pattern of
//! `benches/gitops_scale.py` (25 intents per namespace), every back end emits one object
//! per (namespace or scope, subject selector, direction, action), whatever the number of
//! intents, and the exact proof still holds.

use netpolc_driver::{Options, Target};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

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
    crate::gitops_repo::write(&dir.join("policies"), n);
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
