//! Lowering tests on the seed scenario and small programs: what rules one intent yields.

use netpolc_intent::{compile, InputFile};
use netpolc_ir::{explain, Action, Direction, Program};
use netpolc_source::SourceMap;

fn program(files: &[(&str, &str)]) -> (Option<Program>, String) {
    let mut sources = SourceMap::default();
    let ids: Vec<_> = files
        .iter()
        .map(|(n, t)| sources.add(*n, t.to_string()))
        .collect();
    let inputs: Vec<InputFile<'_>> = files
        .iter()
        .zip(&ids)
        .map(|((n, t), id)| InputFile {
            id: *id,
            name: n,
            bytes: t.as_bytes(),
        })
        .collect();
    let out = compile(&sources, &inputs);
    (
        out.program,
        netpolc_source::render_human(&sources, &out.diagnostics),
    )
}

fn seed() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                format!("policies/{}", p.file_name().unwrap().to_string_lossy()),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn seed_compiles_without_diagnostics() {
    let files = seed();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (p, diags) = program(&refs);
    let p = p.unwrap_or_else(|| panic!("{diags}"));
    assert!(
        !diags.contains("error[") && !diags.contains("warning["),
        "the six seed steps compile with no error or warning:\n{diags}"
    );
    let text = explain::program(&p);
    // frontend -> backend yields both sides.
    assert!(text.contains("production/pods[app=frontend] egress allow -> production/pods[app=backend] 8080/tcp  [production/frontend-to-backend]"), "{text}");
    assert!(text.contains("production/pods[app=backend] ingress allow <- production/pods[app=frontend] 8080/tcp  [production/frontend-to-backend]"), "{text}");
    // block-cloud-metadata is a deny only.
    let meta: Vec<_> = p
        .rules
        .iter()
        .filter(|r| r.origin.intent == "block-cloud-metadata")
        .collect();
    assert_eq!(meta.len(), netpolc_intent::METADATA_CIDRS.len(), "{text}");
    assert!(meta
        .iter()
        .all(|r| r.action == Action::Deny && r.direction == Direction::Egress));
    // monitoring is not isolated, so the scrape has only its ingress side.
    let scrape: Vec<_> = p
        .rules
        .iter()
        .filter(|r| r.origin.intent == "monitoring-scrape")
        .collect();
    assert_eq!(scrape.len(), 1);
    assert_eq!(scrape[0].direction, Direction::Ingress);
    assert_eq!(p.tests.len(), 1);
}

#[test]
fn every_error_is_reported_with_position() {
    let text = "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: shop}\nspec:\n  namespace: shop\n  isolate: [ingress, egres]\n  groups:\n    web: {selector: {app: web}}\n  intents:\n    - {name: a, from: web, to: ap, ports: [80/tcp]}\n    - {name: b, from: web, to: web, ports: [99999/tcp]}\n";
    let (p, diags) = program(&[("a.yaml", text)]);
    assert!(p.is_none());
    assert!(diags.contains("a.yaml:6:22"), "{diags}");
    assert!(diags.contains("unknown direction `egres`"), "{diags}");
    assert!(diags.contains("a.yaml:10:32"), "{diags}");
    assert!(diags.contains("unknown group `ap`"), "{diags}");
    assert!(diags.contains("a.yaml:11:45"), "{diags}");
    assert_eq!(diags.matches("error[").count(), 3, "{diags}");
}

#[test]
fn world_carves_out_cluster_networks() {
    let text = "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: shop}\nspec:\n  namespace: shop\n  isolate: [egress]\n  intents:\n    - {name: out, from: all, to: world, ports: [443/tcp]}\n";
    let (p, diags) = program(&[("a.yaml", text)]);
    let p = p.unwrap_or_else(|| panic!("{diags}"));
    let text = explain::program(&p);
    assert!(
        text.contains("cidr 0.0.0.0/0 except 10.96.0.0/12, 10.244.0.0/16"),
        "{text}"
    );
    assert!(text.contains("cidr ::/0 443/tcp"), "{text}");
}

/// 300 sets, each `a -> <to>` on 80/tcp in its own namespace.
fn many_sets(to: &str) -> Vec<(String, String)> {
    (0..300)
        .map(|i| {
            (
                format!("policies/ns-{i:03}.yaml"),
                format!(
                    "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {{name: ns-{i:03}}}\n\
                     spec:\n  namespace: ns-{i:03}\n  isolate: [ingress, egress]\n\
                     \x20 groups:\n    a: {{selector: {{app: a}}}}\n    b: {{selector: {{app: b}}}}\n\
                     \x20 intents:\n    - {{name: a-to-b, from: a, to: {to}, ports: [80/tcp]}}\n"
                ),
            )
        })
        .collect()
}

#[test]
fn many_sets_lowered_on_several_threads_keep_every_rule_and_diagnostic() {
    // Enough sets to be lowered a few dozen at a time on several threads.
    let files = many_sets("b");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (p, diags) = program(&refs);
    let p = p.unwrap_or_else(|| panic!("{diags}"));
    assert_eq!(p.rules.len(), 300 * 2, "both sides of every set's intent");
    for i in 0..300 {
        let origin = format!("ns-{i:03}");
        assert_eq!(
            p.rules.iter().filter(|r| r.origin.set == origin).count(),
            2,
            "{origin}"
        );
    }
    // Each set's diagnostic, found while that set is lowered, is kept.
    let files = many_sets("nosuch");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (_, diags) = program(&refs);
    for i in 0..300 {
        assert!(
            diags.contains(&format!("policies/ns-{i:03}.yaml:")),
            "ns-{i:03}:\n{diags}"
        );
    }
    assert_eq!(diags.matches("error[NP2003]").count(), 300, "{diags}");
}
