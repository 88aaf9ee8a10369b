//! Few objects, same meaning: on the GitOps-scale repository pattern of
//! `benches/gitops_scale.py` (25 intents per namespace), every back end emits one object
//! per (namespace or scope, subject selector, direction, action), whatever the number of
//! intents and whichever intent sets wrote them, and the exact proof still holds.

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

/// What an object applies to: (kind, namespace, subject selector, rule field, tier).
fn subject_key(o: &Value) -> (String, String, String, String, String) {
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
    // 12 namespaces in two teams: each `team` group selects the other team's namespaces,
    // so ns-0010 and ns-0011 are named by the ten sets of team t0, and each namespace of
    // t0 by the two sets of t1.
    let n = 12;
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
        // Per namespace, its objects: 7 groups plus every pod as subjects, not one
        // object per intent, nor one per set whose intents land there (before, ns-0010
        // had ten more egress objects than ns-0000, one per set of team t0).
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
            *per_namespace.entry(ns.to_string()).or_default() += 1;
            // Named after the namespace's own set, which holds its first rules.
            if !ns.is_empty() {
                assert_eq!(set_of(o), ns, "{target}: {o:#}");
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

#[test]
fn an_object_of_many_rules_continues_in_numbered_objects_at_intent_boundaries() {
    // 300 intents allowing ingress to every pod of `shop`, one address block each: one
    // subject and direction, 300 rules. Merged, their provenance annotations would grow
    // without bound (with thousands of rules past what the API server takes); netpolc
    // puts at most 256 rules in an object and continues in `-2`.
    let dir = std::env::temp_dir().join(format!("netpolc-lean-many-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("cluster-profile.yaml"),
        "apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\nspec:\n  podCIDRs: [10.244.0.0/16]\n  serviceCIDRs: [10.96.0.0/12]\n  nodeCIDRs: [192.168.0.0/24]\n",
    )
    .unwrap();
    let mut set = String::from(
        "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: shop}\nspec:\n  namespace: shop\n  isolate: [ingress]\n  groups:\n",
    );
    for i in 0..300 {
        set.push_str(&format!(
            "    net-{i}: {{cidrs: [100.64.{}.{}/32]}}\n",
            i / 256,
            i % 256
        ));
    }
    set.push_str("  intents:\n");
    for i in 0..300 {
        set.push_str(&format!(
            "    - {{name: from-net-{i:03}, from: net-{i}, to: all, ports: [80/tcp]}}\n"
        ));
    }
    std::fs::write(policies.join("shop.yaml"), set).unwrap();
    let loaded = netpolc_driver::load::policies_from(&dir, &[policies]).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let compiled = netpolc_driver::compile(&loaded);
    let program = compiled.program.unwrap_or_else(|| {
        panic!(
            "{}",
            netpolc_source::render_human(&loaded.sources, &compiled.diagnostics)
        )
    });
    let mut rendered = Vec::new();
    for target in Target::ALL {
        let objects = netpolc_driver::render(&program, target, &Options::default())
            .unwrap_or_else(|d| panic!("{target}: {d:?}"))
            .objects;
        let mut runs: Vec<(String, usize)> = Vec::new();
        let mut intents: Vec<String> = Vec::new();
        for o in &objects {
            let name = o["metadata"]["name"].as_str().unwrap_or("").to_string();
            let Some(rules) = o["spec"]["ingress"].as_array() else {
                continue;
            };
            if name.ends_with("isolate") {
                continue;
            }
            // Each rule's intent, in rule order; an intent is never cut in two.
            let lines = o["metadata"]["annotations"]["netpolc.dev/rules"]
                .as_str()
                .unwrap_or("");
            let named: Vec<&str> = lines.lines().filter_map(|l| l.split(": ").nth(1)).collect();
            assert_eq!(named.len(), rules.len(), "{target}: {name}");
            intents.extend(named.iter().map(|i| i.to_string()));
            runs.push((name, rules.len()));
        }
        assert_eq!(
            runs,
            [
                ("shop-all-pods-ingress".to_string(), 256),
                ("shop-all-pods-ingress-2".to_string(), 44)
            ],
            "{target}"
        );
        let expected: Vec<String> = (0..300).map(|i| format!("shop/from-net-{i:03}")).collect();
        assert_eq!(intents, expected, "{target}");
        rendered.push((target, objects));
    }
    let model = netpolc_ir::derive::derive(&program);
    let found = netpolc_driver::verify::validate(&program, &model, &rendered, 5).unwrap();
    assert!(found.is_empty(), "{found:?}");
}
