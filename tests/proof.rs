//! The exact proof on every path: `render` refuses what `check` refuses, a failure names
//! a witness flow and the intent's position, identity collisions are found once for every
//! back end, and what is proved is what `kubectl apply` would apply.

use crate::util::{compile, netpolc, root};
use netpolc_driver::{verify, Target};
use serde_json::json;
use std::path::PathBuf;

/// A fresh project folder with one policy file.
fn project(name: &str, policy: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netpolc-proof-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("policies/shop.yaml"), policy).unwrap();
    dir
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A selector on a key Cilium sets itself used to render on Cilium with exit 0 while
/// `check` failed without a position; now both refuse it with NP2040 and file:line.
#[test]
fn render_refuses_what_check_refuses() {
    let dir = project(
        "cni-key",
        "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: shop}\nspec:\n  namespace: shop\n  isolate: [ingress, egress]\n  groups:\n    web: {selector: {app: web}}\n    here: {selector: {io.kubernetes.pod.namespace: shop}}\n  intents:\n    - {name: web-to-here, from: web, to: here, ports: [80/tcp]}\n",
    );
    for args in [
        &["render", "--target", "cilium"][..],
        &["check"][..],
        &["build"][..],
    ] {
        let out = netpolc(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("NP2040"), "{args:?}: {err}");
        assert!(err.contains("policies/shop.yaml:9:"), "{args:?}: {err}");
        assert!(out.stdout.is_empty() || args[0] == "check", "{args:?}");
    }
    assert!(!dir.join("golden").exists());
    let _ = std::fs::remove_dir_all(dir);
}

/// `build`, `check` and `render` all run the proof (`-v` says what it compared).
#[test]
fn every_path_proves() {
    for args in [
        &["render", "-v", "--target", "calico"][..],
        &["render", "-v", "--target", "cilium"][..],
        &["check", "-v"][..],
    ] {
        let out = netpolc(&root(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("note: proved"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

fn seed() -> (netpolc_source::SourceMap, netpolc_ir::Program) {
    let (sources, program, diags) = compile(&[PathBuf::from("policies")]);
    (sources, program.unwrap_or_else(|| panic!("{diags}")))
}

/// A back end that loses an object fails the proof with NP6010: the target, a concrete
/// witness flow, both verdicts, and the position of the intent that decides the flow.
#[test]
fn a_failure_names_a_witness_and_the_intent() {
    let (sources, program) = seed();
    let model = netpolc_ir::derive::derive(&program);
    let mut objects = netpolc_driver::render(&program, Target::Kubernetes, &Default::default())
        .unwrap()
        .objects;
    // Lose the first object that allows ingress traffic.
    let lost = objects
        .iter()
        .position(|o| {
            o["spec"]["ingress"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        })
        .expect("the seed allows some ingress");
    objects.remove(lost);
    let report = verify::prove(&program, &model, &[(Target::Kubernetes, objects)], 5).unwrap();
    assert!(!report.disagreements.is_empty());
    let d = &report.disagreements[0];
    assert!(d.flow.contains(" -> "), "{d:?}");
    assert!(
        d.intended.starts_with("allow") && d.emitted.starts_with("deny"),
        "{d:?}"
    );
    let diags = verify::disagreement_diagnostics(&program, &report.disagreements);
    let text = netpolc_source::render_human(&sources, &diags);
    assert!(text.contains("error[NP6010]: kubernetes:"), "{text}");
    assert!(text.contains("policies/production.yaml:"), "{text}");
    assert!(text.contains("intended allow, kubernetes deny"), "{text}");
}

/// Two objects with one identity: one NP6011 naming every target it happens on, and the
/// proof reads what `kubectl apply` would leave (the later object).
#[test]
fn identity_collisions_are_found_once() {
    let (sources, program) = seed();
    let np = |name: &str, port: u16| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": name, "namespace": "production",
                            "annotations": {"netpolc.dev/intent": format!("production/{name}-{port}")}},
               "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                        "ingress": [{"ports": [{"port": port}]}]}})
    };
    let cnp = |name: &str| {
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
               "metadata": {"name": name, "namespace": "production",
                            "annotations": {"netpolc.dev/intent": "production/x"}},
               "spec": {"endpointSelector": {}}})
    };
    let rendered = vec![
        (
            Target::Kubernetes,
            vec![np("a-b", 80), np("a-b", 443), np("c", 80)],
        ),
        (Target::Cilium, vec![cnp("a-b"), cnp("a-b")]),
    ];
    let diags = verify::identity_collisions(&program, &rendered);
    assert_eq!(diags.len(), 2, "{diags:?}");
    let text = netpolc_source::render_human(&sources, &diags);
    assert!(text.contains("NP6011"), "{text}");
    assert!(
        text.contains("`NetworkPolicy production/a-b` on kubernetes"),
        "{text}"
    );
    assert!(
        text.contains("`CiliumNetworkPolicy production/a-b` on cilium"),
        "{text}"
    );
    // Applied, the later object wins: the stream reads back as two objects, 443 kept.
    let applied = verify::round_trip(&rendered[0].1).unwrap();
    assert_eq!(applied.len(), 2);
    assert_eq!(applied[0]["spec"]["ingress"][0]["ports"][0]["port"], 443);
}

/// The pipeline keeps each object as the text it wrote and proved, not its JSON tree:
/// that text reads back as exactly the object the back end rendered, golden/ files are
/// made of it, and `read_back` collapses identities as `kubectl apply` does.
#[test]
fn the_text_that_was_proved_is_what_is_written() {
    let (_, program) = seed();
    let built = netpolc_driver::pipeline::build(&program, &Target::ALL, &Default::default())
        .unwrap_or_else(|f| panic!("{:?}", f.diagnostics));
    for (t, emitted) in &built.rendered {
        let objects = netpolc_driver::render(&program, *t, &Default::default())
            .unwrap()
            .objects;
        assert_eq!(emitted.len(), objects.len(), "{t}");
        assert_eq!(verify::read_back(emitted).unwrap(), objects, "{t}");
        let files = netpolc_driver::golden::files(*t, emitted);
        for e in emitted {
            assert_eq!(
                e.yaml,
                netpolc_driver::emit::to_yaml(
                    &verify::read_back(std::slice::from_ref(e)).unwrap()[0]
                )
            );
            let file = &files[&format!("{t}/{}", e.file)];
            assert!(file.contains(&e.yaml), "{t}: {} not in {}", e.name, e.file);
        }
    }
    // Two texts of one identity read back as the later one, in the earlier one's place.
    let np = |name: &str, port: u16| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": name, "namespace": "production"},
               "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                        "ingress": [{"ports": [{"port": port}]}]}})
    };
    let objects = [np("a", 80), np("b", 80), np("a", 443)];
    let emitted = netpolc_driver::emit::Emitted::all(Target::Kubernetes, &objects);
    assert_eq!(
        verify::read_back(&emitted).unwrap(),
        vec![np("a", 443), np("b", 80)]
    );
}

/// The pipeline builds each evaluator with `evaluator_of_valid` (its objects passed
/// validation, so Cilium's evaluator does not validate them again): on the seed's objects
/// it decides every flow of the model exactly as the validating evaluator does, and a
/// validating evaluator still leaves an invalid Cilium object unenforced.
#[test]
fn evaluators_of_valid_objects_decide_as_the_validating_ones() {
    let (_, program) = seed();
    let model = netpolc_ir::derive::derive(&program);
    let networks = program.profile.cluster_cidrs();
    for t in Target::ALL {
        let objects = netpolc_driver::render(&program, t, &Default::default())
            .unwrap()
            .objects;
        let validating = verify::evaluator(t, &objects).unwrap();
        let trusting = t.backend().evaluator_of_valid(objects.clone()).unwrap();
        let proof = netpolc_ir::proof::prove(
            &model,
            &networks,
            validating.as_ref(),
            &[trusting.as_ref()],
            1,
        );
        assert!(proof.findings.is_empty(), "{t}: {:?}", proof.findings);
        assert!(proof.stats.side_checks > 0, "{t}: nothing compared");
    }
    // An invalid policy (a label value Cilium refuses) is not enforced by the validating
    // evaluator; trusted as valid, it would isolate the namespace's egress: the two
    // differ, so the pipeline may trust only objects that passed validation.
    let invalid = json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "bad", "namespace": "production"},
        "spec": {"endpointSelector": {},
                 "egress": [{"toEndpoints": [{"matchLabels": {"app": "not a value!"}}]}]}});
    assert!(!Target::Cilium.backend().validate(&invalid).is_empty());
    let validating = verify::evaluator(Target::Cilium, std::slice::from_ref(&invalid)).unwrap();
    let trusting = Target::Cilium
        .backend()
        .evaluator_of_valid(vec![invalid.clone()])
        .unwrap();
    let proof = netpolc_ir::proof::prove(
        &model,
        &networks,
        validating.as_ref(),
        &[trusting.as_ref()],
        1,
    );
    assert!(!proof.findings.is_empty());
}

/// A namespace without an IntentSet has the labels the ClusterProfile declares for it; when
/// it declares none, `explain` says that its answer rests on that assumption.
#[test]
fn explain_uses_declared_labels_of_unmanaged_namespaces() {
    let set = "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: shop}\nspec:\n  namespace: shop\n  isolate: [egress]\n  groups:\n    web: {selector: {app: web}}\n    gold: {namespaces: {tier: gold}}\n  intents:\n    - {name: web-to-gold, from: web, to: gold, ports: [80/tcp]}\n";
    let dir = project("unmanaged", set);
    let args = ["explain", "shop/app=web", "legacy/app=x", "80/tcp"];
    let out = netpolc(&dir, &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("assumption: namespace `legacy`"), "{text}");
    assert!(text.contains("intended   deny"), "{text}");
    std::fs::write(
        dir.join("policies/profile.yaml"),
        "apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\nspec:\n  namespaces:\n    legacy: {tier: gold}\n",
    )
    .unwrap();
    let out = netpolc(&dir, &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!text.contains("assumption"), "{text}");
    for who in ["intended  ", "kubernetes", "calico    ", "cilium    "] {
        assert!(text.contains(&format!("{who} allow")), "{who}: {text}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Cluster set `a` with subject `app.gw: x` and cluster set `a-app` with subject
/// `gw: x` render two cluster-wide Cilium objects with one name (`a-app-gw-x-…`);
/// applied, the second would replace the first and its deny would be lost. The collision
/// is NP6011 and nothing is printed.
#[test]
fn a_name_collision_is_refused_on_render() {
    let cluster = |name: &str, key: &str| {
        format!("apiVersion: netpolc.dev/v1alpha1\nkind: ClusterIntentSet\nmetadata: {{name: {name}}}\nspec:\n  groups:\n    gw: {{selector: {{{key}: x}}}}\n    mail: {{cidrs: [203.0.113.0/24]}}\n  intents:\n    - {{name: smtp, from: gw, to: mail, ports: [25/tcp], action: deny}}\n")
    };
    let dir = project(
        "collision",
        "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: shop}\nspec:\n  namespace: shop\n  isolate: [egress]\n  groups:\n    gw: {selector: {app: gw}}\n  intents:\n    - {name: out, from: gw, to: world, ports: [25/tcp]}\n",
    );
    std::fs::write(dir.join("policies/a.yaml"), cluster("a", "app.gw")).unwrap();
    std::fs::write(dir.join("policies/a-b.yaml"), cluster("a-c", "gw")).unwrap();
    let out = netpolc(&dir, &["render", "--target", "cilium"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "distinct names: {}",
        stderr(&out)
    );
    std::fs::write(dir.join("policies/a-b.yaml"), cluster("a-app", "gw")).unwrap();
    let out = netpolc(&dir, &["render", "--target", "cilium"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "set hyphens doubled: {}",
        stderr(&out)
    );
    // Below 63 characters names cannot collide; two long set names whose cut names share
    // a hash (found by search) still do, and are refused.
    std::fs::write(
        dir.join("policies/a.yaml"),
        cluster(
            "relay-for-the-mail-gateway-of-the-other-datacenter-abaaxi5q",
            "gw",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("policies/a-b.yaml"),
        cluster(
            "relay-for-the-mail-gateway-of-the-other-datacenter-abaa4gca",
            "gw",
        ),
    )
    .unwrap();
    let out = netpolc(&dir, &["render", "--target", "cilium"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("NP6011"), "{err}");
    assert!(err.contains("policies/a.yaml:"), "{err}");
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

/// The policy of the node-address example: a gateway may reach anything on 22/tcp except
/// a private range.
const NODES_POLICY: &str = "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: shop}\nspec:\n  namespace: shop\n  isolate: [egress]\n  groups:\n    gw: {selector: {app: gw}}\n    private: {cidrs: [192.168.0.0/16]}\n  intents:\n    - {name: ssh, from: gw, to: world, ports: [22/tcp]}\n    - {name: no-private-ssh, from: gw, to: private, ports: [22/tcp], action: deny}\n";

/// Without `nodeCIDRs`, Calico `nets` and Kubernetes `ipBlock` would match node
/// addresses that CIDR peers and `world` exclude (Cilium's never do): those back ends
/// refuse with NP4020 and NP3020 on every path, pointing at the intent; Cilium renders.
#[test]
fn address_peers_without_node_networks_are_refused_where_they_would_match_nodes() {
    let dir = project("nodes", NODES_POLICY);
    for (target, code) in [("calico", "NP4020"), ("kubernetes", "NP3020")] {
        let out = netpolc(&dir, &["render", "--target", target]);
        assert_eq!(out.status.code(), Some(2), "{target}: {}", stderr(&out));
        assert!(stderr(&out).contains(code), "{target}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("policies/shop.yaml:11:"),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("nodeCIDRs"), "{}", stderr(&out));
    }
    let out = netpolc(&dir, &["render", "--target", "cilium"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Declared: every back end renders, and the proof covers a node address.
    std::fs::write(
        dir.join("policies/cluster.yaml"),
        "apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\nspec: {nodeCIDRs: [192.168.0.0/24]}\n",
    )
    .unwrap();
    let out = netpolc(&dir, &["build"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = netpolc(&dir, &["check", "-v"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("note: proved"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(dir);
}

/// With the node networks declared, the model has a node address and the proof compares
/// it: a Cilium output that also reaches nodes (`remote-node`) is caught, with the node
/// as the witness. The proof used to know no node address, so it passed.
#[test]
fn the_proof_covers_node_addresses() {
    let dir = project("nodes-proof", NODES_POLICY);
    std::fs::write(
        dir.join("policies/cluster.yaml"),
        "apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\nspec: {nodeCIDRs: [192.168.0.0/24]}\n",
    )
    .unwrap();
    let (_, program, diags) = compile(&[dir.join("policies")]);
    let program = program.unwrap_or_else(|| panic!("{diags}"));
    let model = netpolc_ir::derive::derive(&program);
    assert_eq!(
        model.nodes,
        ["192.168.0.1".parse::<std::net::IpAddr>().unwrap()]
    );
    let objects = netpolc_driver::render(&program, Target::Cilium, &Default::default())
        .unwrap()
        .objects;
    let clean = verify::prove(&program, &model, &[(Target::Cilium, objects.clone())], 5).unwrap();
    assert!(clean.disagreements.is_empty(), "{:?}", clean.disagreements);
    // Widen the `world` allow to nodes too.
    let mut widened = objects;
    let mut touched = false;
    for o in &mut widened {
        for rule in o["spec"]["egress"].as_array_mut().into_iter().flatten() {
            if rule.get("toCIDRSet").is_some() {
                rule.as_object_mut().unwrap().remove("toCIDRSet");
                rule["toEntities"] = json!(["world", "remote-node"]);
                touched = true;
            }
        }
    }
    assert!(touched, "the world allow is a CIDR set: {widened:#?}");
    let report = verify::prove(&program, &model, &[(Target::Cilium, widened)], 5).unwrap();
    assert!(
        report
            .disagreements
            .iter()
            .any(|d| d.flow.contains("192.168.0.1")),
        "{:?}",
        report.disagreements
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A group selecting namespaces by a label that many namespaces carry, used as the source
/// of an intent in every namespace: each namespace of the group gets an egress rule per
/// namespace, each naming its namespace, and the evaluators look only at the rules named
/// for the namespace the proof asks about (`NearIndex`). The debug build this test runs
/// checks, for every namespace asked about, that those are exactly the rules a test of
/// every rule keeps; every back end must also prove.
#[test]
fn sides_with_a_rule_per_namespace_are_proved_by_the_rules_of_each_namespace() {
    let n = 20;
    let sets: Vec<String> = (0..n)
        .map(|i| {
            let tier = if i % 2 == 0 { "web" } else { "data" };
            format!(
                "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {{name: ns-{i:02}}}\nspec:\n  namespace: ns-{i:02}\n  namespaceLabels: {{tier: {tier}}}\n  isolate: [ingress, egress]\n  presets: [allow-dns]\n  groups:\n    web: {{selector: {{app: web}}}}\n    api: {{selector: {{app: api}}}}\n    front: {{namespaces: {{tier: web}}}}\n    next: {{selector: {{app: api}}, namespaces: [ns-{:02}]}}\n  intents:\n    - {{name: from-front, from: front, to: web, ports: [8080/tcp]}}\n    - {{name: web-to-api, from: web, to: api, ports: [9090/tcp]}}\n    - {{name: to-next, from: api, to: next, ports: [8443/tcp]}}\n    - {{name: no-web-to-api, from: web, to: api, ports: [22/tcp], action: deny}}\n",
                (i + 1) % n
            )
        })
        .collect();
    let dir = project("near-index", &sets.join("---\n"));
    for target in ["kubernetes", "calico", "cilium"] {
        let out = netpolc(&dir, &["render", "-v", "--target", target]);
        assert_eq!(out.status.code(), Some(0), "{target}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("note: proved"),
            "{target}: {}",
            stderr(&out)
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
