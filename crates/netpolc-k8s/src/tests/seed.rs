//! The seed scenario's hand-written NetworkPolicies (`tests/fixtures/seed/seed-policies.yaml`,
//! converted by hand to JSON): evaluated as written, they show both traps of the brief.

use super::*;
use netpolc_ir::model::{Decision, Side};
use serde_json::json;

fn seed_policies() -> Vec<Value> {
    let np = |name: &str, spec: Value| {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": "production"},
            "spec": spec
        })
    };
    vec![
        np(
            "default-deny-all",
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        ),
        np(
            "allow-dns",
            json!({
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{
                    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
                }]
            }),
        ),
        np(
            "backend-allow-frontend",
            json!({
                "podSelector": {"matchLabels": {"app": "backend"}},
                "policyTypes": ["Ingress"],
                "ingress": [{
                    "from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}],
                    "ports": [{"protocol": "TCP", "port": 8080}]
                }]
            }),
        ),
        np(
            "database-allow-backend",
            json!({
                "podSelector": {"matchLabels": {"app": "database"}},
                "policyTypes": ["Ingress"],
                "ingress": [{
                    "from": [{"podSelector": {"matchLabels": {"app": "backend"}}}],
                    "ports": [{"protocol": "TCP", "port": 5432}]
                }]
            }),
        ),
        np(
            "allow-monitoring-scrape",
            json!({
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{
                    "from": [{"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}}}],
                    "ports": [{"protocol": "TCP", "port": 9090}]
                }]
            }),
        ),
        np(
            "restrict-egress",
            json!({
                "podSelector": {"matchLabels": {"app": "backend"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"podSelector": {"matchLabels": {"app": "database"}}}],
                     "ports": [{"protocol": "TCP", "port": 5432}]},
                    {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
                     "ports": [{"protocol": "TCP", "port": 443}]},
                    {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                     "ports": [{"protocol": "UDP", "port": 53}]}
                ]
            }),
        ),
        np(
            "block-metadata",
            json!({
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {
                    "cidr": "0.0.0.0/0",
                    "except": ["169.254.169.254/32", "100.100.100.200/32"]
                }}]}]
            }),
        ),
    ]
}

fn seed_model() -> ClusterModel {
    let ns = |name: &str, extra: &[(&str, &str)]| {
        let mut l = labels(extra);
        l.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
        (name.to_string(), l)
    };
    let mut pods = vec![
        pod(
            "production",
            "frontend",
            &[("app", "frontend")],
            "10.244.1.1",
        ),
        pod("production", "backend", &[("app", "backend")], "10.244.1.2"),
        pod(
            "production",
            "database",
            &[("app", "database")],
            "10.244.1.3",
        ),
        pod(
            "production",
            "test-pod",
            &[("run", "test-pod")],
            "10.244.1.4",
        ),
        pod(
            "kube-system",
            "coredns",
            &[("k8s-app", "kube-dns")],
            "10.244.0.10",
        ),
        pod(
            "monitoring",
            "prometheus",
            &[("app", "prometheus")],
            "10.244.2.1",
        ),
    ];
    pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let mut externals: Vec<std::net::IpAddr> = [
        "8.8.8.8",
        "100.100.100.200",
        "169.254.169.254",
        "203.0.113.10",
    ]
    .iter()
    .map(|a| a.parse().expect("test IP"))
    .collect();
    externals.sort();
    ClusterModel {
        namespaces: BTreeMap::from([
            ns("production", &[]),
            ns("kube-system", &[]),
            ns("monitoring", &[("purpose", "monitoring")]),
        ]),
        pods,
        externals,
        api_server: Vec::new(),
        nodes: Vec::new(),
        ports: vec![
            (Protocol::Tcp, 53),
            (Protocol::Tcp, 443),
            (Protocol::Tcp, 5432),
            (Protocol::Tcp, 8080),
            (Protocol::Tcp, 9090),
            (Protocol::Udp, 53),
        ],
    }
}

const PRODUCTION_PODS: [&str; 4] = ["backend", "database", "frontend", "test-pod"];

fn block_metadata_egress() -> Side {
    Side::Allowed(Decision {
        object: "NetworkPolicy production/block-metadata".into(),
        rule: "spec.egress[0]".into(),
        intent: None,
    })
}

#[test]
fn seed_policies_are_valid() {
    for o in seed_policies() {
        assert_eq!(validate(&o), Vec::<String>::new(), "{o:#}");
    }
}

#[test]
fn block_metadata_lets_every_production_pod_reach_the_internet() {
    let m = seed_model();
    let e = evaluator(&seed_policies()).expect("seed evaluates");
    for p in PRODUCTION_PODS {
        let v = verdict(&e, &m, &format!("production/{p} -> 8.8.8.8 443/tcp"));
        assert!(v.allowed(), "{p}: {v:?}");
        // The "block" policy is what allows it, even for the egress-restricted backend.
        assert_eq!(v.egress, block_metadata_egress(), "{p}");
        // Any port, in fact.
        assert!(verdict(&e, &m, &format!("production/{p} -> 8.8.8.8 5432/tcp")).allowed());
        // Only the metadata addresses themselves are blocked.
        for meta in ["169.254.169.254", "100.100.100.200"] {
            let v = verdict(&e, &m, &format!("production/{p} -> {meta} 443/tcp"));
            assert!(!v.allowed(), "{p} -> {meta}");
            assert!(matches!(&v.egress, Side::DefaultDeny(objs)
                if objs.contains(&"NetworkPolicy production/block-metadata".to_string())
                    && objs.contains(&"NetworkPolicy production/default-deny-all".to_string())));
        }
    }
}

#[test]
fn frontend_reaches_backend_only_through_the_catch_all_ip_block() {
    let m = seed_model();
    let all = seed_policies();
    let e = evaluator(&all).expect("seed evaluates");
    let v = verdict(&e, &m, "production/frontend -> production/backend 8080/tcp");
    assert!(v.allowed());
    assert_eq!(v.egress, block_metadata_egress());
    assert_eq!(
        v.ingress,
        Side::Allowed(Decision {
            object: "NetworkPolicy production/backend-allow-frontend".into(),
            rule: "spec.ingress[0]".into(),
            intent: None,
        })
    );
    // Without `block-metadata` the frontend has no egress rule to the backend (trap a).
    let without: Vec<Value> = all
        .into_iter()
        .filter(|o| o["metadata"]["name"] != "block-metadata")
        .collect();
    let e = evaluator(&without).expect("seed evaluates");
    let v = verdict(&e, &m, "production/frontend -> production/backend 8080/tcp");
    assert!(!v.allowed());
    assert!(matches!(v.egress, Side::DefaultDeny(_)));
    assert!(v.ingress.allows());
}

#[test]
fn seed_validation_expectations_and_other_flows() {
    let m = seed_model();
    let e = evaluator(&seed_policies()).expect("seed evaluates");
    // A pod without labels cannot reach database:5432 (its egress is open, thanks to the
    // catch-all ipBlock, but the database's ingress is not).
    let v = verdict(
        &e,
        &m,
        "production/test-pod -> production/database 5432/tcp",
    );
    assert!(!v.allowed());
    assert_eq!(v.egress, block_metadata_egress());
    assert!(matches!(v.ingress, Side::DefaultDeny(_)));
    assert!(verdict(&e, &m, "production/backend -> production/database 5432/tcp").allowed());
    assert!(!verdict(
        &e,
        &m,
        "production/frontend -> production/database 5432/tcp"
    )
    .allowed());
    // Monitoring scrapes on 9090 only; its own namespace is not isolated.
    let v = verdict(
        &e,
        &m,
        "monitoring/prometheus -> production/frontend 9090/tcp",
    );
    assert_eq!(v.egress, Side::Open);
    assert!(v.allowed());
    assert!(!verdict(
        &e,
        &m,
        "monitoring/prometheus -> production/frontend 8080/tcp"
    )
    .allowed());
    // DNS: the first allowing rule by policy name is `allow-dns`.
    let v = verdict(&e, &m, "production/backend -> kube-system/coredns 53/udp");
    assert_eq!(
        v.egress,
        Side::Allowed(Decision {
            object: "NetworkPolicy production/allow-dns".into(),
            rule: "spec.egress[0]".into(),
            intent: None,
        })
    );
    // Nothing from outside gets in.
    assert!(!verdict(&e, &m, "8.8.8.8 -> production/frontend 443/tcp").allowed());
}
