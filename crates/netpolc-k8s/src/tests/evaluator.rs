//! The NetworkPolicy evaluator on hand-written manifests: Kubernetes semantics, one rule
//! at a time.

use super::*;
use netpolc_ir::model::{Decision, Side};
use serde_json::json;

fn np(namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec
    })
}

fn ev(objects: &[Value]) -> impl Evaluator {
    evaluator(objects).expect("valid manifests")
}

fn allowed_by(object: &str, rule: &str) -> Side {
    Side::Allowed(Decision {
        object: format!("NetworkPolicy {object}"),
        rule: rule.to_string(),
        intent: None,
    })
}

fn default_deny(objects: &[&str]) -> Side {
    Side::DefaultDeny(
        objects
            .iter()
            .map(|o| format!("NetworkPolicy {o}"))
            .collect(),
    )
}

#[test]
fn no_policy_means_open_and_externals_are_not_applicable() {
    let m = model();
    let e = ev(&[]);
    let v = verdict(&e, &m, "shop/frontend -> 8.8.8.8 443/tcp");
    assert_eq!(v.egress, Side::Open);
    assert_eq!(v.ingress, Side::NotApplicable);
    let v = verdict(&e, &m, "8.8.8.8 -> shop/frontend 443/tcp");
    assert_eq!(v.egress, Side::NotApplicable);
    assert_eq!(v.ingress, Side::Open);
    assert!(v.allowed());
    assert_eq!(e.name(), "kubernetes");
}

#[test]
fn policy_types_default_to_ingress_plus_egress_when_egress_rules_exist() {
    let m = model();
    // No policyTypes, no rules: isolates ingress only.
    let e = ev(&[np("shop", "deny", json!({"podSelector": {}}))]);
    let v = verdict(&e, &m, "shop/frontend -> shop/backend 8080/tcp");
    assert_eq!(v.egress, Side::Open);
    assert_eq!(v.ingress, default_deny(&["shop/deny"]));

    // An egress-only policy without policyTypes also isolates ingress (the trap).
    let e = ev(&[np(
        "shop",
        "egress-only",
        json!({"podSelector": {}, "egress": [{"ports": [{"port": 443}]}]}),
    )]);
    let v = verdict(&e, &m, "shop/frontend -> 8.8.8.8 443/tcp");
    assert_eq!(v.egress, allowed_by("shop/egress-only", "spec.egress[0]"));
    let v = verdict(&e, &m, "8.8.8.8 -> shop/frontend 443/tcp");
    assert_eq!(v.ingress, default_deny(&["shop/egress-only"]));

    // `egress: []` does not add Egress; an empty `policyTypes` is defaulted too.
    let e = ev(&[np(
        "shop",
        "empty",
        json!({"podSelector": {}, "policyTypes": [], "egress": []}),
    )]);
    assert_eq!(
        verdict(&e, &m, "shop/frontend -> 8.8.8.8 443/tcp").egress,
        Side::Open
    );
    assert_eq!(
        verdict(&e, &m, "8.8.8.8 -> shop/frontend 443/tcp").ingress,
        default_deny(&["shop/empty"])
    );
}

#[test]
fn rules_of_a_direction_not_in_policy_types_are_ignored() {
    let m = model();
    let e = ev(&[np(
        "shop",
        "ingress-only",
        json!({"podSelector": {}, "policyTypes": ["Ingress"],
               "ingress": [{"ports": [{"port": 80}]}],
               "egress": [{"ports": [{"port": 443}]}]}),
    )]);
    // Egress is neither isolated nor allowed by this policy.
    assert_eq!(
        verdict(&e, &m, "shop/frontend -> 8.8.8.8 443/tcp").egress,
        Side::Open
    );
    // Its egress rules do not count as allows when another policy isolates egress.
    let e = ev(&[
        np(
            "shop",
            "ingress-only",
            json!({"podSelector": {}, "policyTypes": ["Ingress"],
                   "egress": [{"ports": [{"port": 443}]}]}),
        ),
        np(
            "shop",
            "deny-egress",
            json!({"podSelector": {}, "policyTypes": ["Egress"]}),
        ),
    ]);
    assert_eq!(
        verdict(&e, &m, "shop/frontend -> 8.8.8.8 443/tcp").egress,
        default_deny(&["shop/deny-egress"])
    );
}

#[test]
fn pod_selector_picks_the_subject_and_absent_means_all() {
    let m = model();
    let e = ev(&[
        np(
            "shop",
            "backend",
            json!({"podSelector": {"matchLabels": {"app": "backend"}}, "policyTypes": ["Ingress"]}),
        ),
        np("other", "all", json!({"policyTypes": ["Ingress"]})),
    ]);
    assert_eq!(
        verdict(&e, &m, "shop/nolabel -> shop/frontend 8080/tcp").ingress,
        Side::Open
    );
    assert_eq!(
        verdict(&e, &m, "shop/nolabel -> shop/backend 8080/tcp").ingress,
        default_deny(&["shop/backend"])
    );
    assert_eq!(
        verdict(&e, &m, "shop/nolabel -> other/client 8080/tcp").ingress,
        default_deny(&["other/all"])
    );
}

#[test]
fn allows_are_a_union_and_the_first_rule_decides() {
    let m = model();
    let e = ev(&[
        np(
            "shop",
            "b",
            json!({"podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"port": 5432}]}, {"ports": [{"port": 8080}]}]}),
        ),
        np(
            "shop",
            "a",
            json!({"podSelector": {"matchLabels": {"app": "backend"}}, "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"port": 9090}]}, {"ports": [{"port": 8080}]}]}),
        ),
        np(
            "shop",
            "c",
            json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
        ),
    ]);
    let v = verdict(&e, &m, "shop/frontend -> shop/backend 8080/tcp");
    assert_eq!(v.ingress, allowed_by("shop/a", "spec.ingress[1]"));
    let v = verdict(&e, &m, "shop/frontend -> shop/backend 5432/tcp");
    assert_eq!(v.ingress, allowed_by("shop/b", "spec.ingress[0]"));
    let v = verdict(&e, &m, "shop/frontend -> shop/database 9090/tcp");
    assert_eq!(v.ingress, default_deny(&["shop/b", "shop/c"]));
}

#[test]
fn both_sides_must_allow() {
    let m = model();
    let e = ev(&[
        np(
            "shop",
            "isolate",
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        ),
        np(
            "shop",
            "backend-in",
            json!({"podSelector": {"matchLabels": {"app": "backend"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}], "ports": [{"protocol": "TCP", "port": 8080}]}]}),
        ),
    ]);
    let v = verdict(&e, &m, "shop/frontend -> shop/backend 8080/tcp");
    assert_eq!(v.ingress, allowed_by("shop/backend-in", "spec.ingress[0]"));
    assert_eq!(v.egress, default_deny(&["shop/isolate"]));
    assert!(!v.allowed());
}

#[test]
fn peers_and_in_one_item_or_across_items() {
    let m = model();
    let and = np(
        "other",
        "and",
        json!({"podSelector": {}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{
            "namespaceSelector": {"matchLabels": {"team": "shop"}},
            "podSelector": {"matchLabels": {"app": "frontend"}}
        }]}]}),
    );
    let or = np(
        "other",
        "or",
        json!({"podSelector": {}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"team": "shop"}}},
            {"podSelector": {"matchLabels": {"app": "frontend"}}}
        ]}]}),
    );
    let e = ev(&[and]);
    assert!(verdict(&e, &m, "shop/frontend -> other/backend 8080/tcp").allowed());
    assert!(!verdict(&e, &m, "shop/backend -> other/backend 8080/tcp").allowed());
    let e = ev(&[or]);
    assert!(verdict(&e, &m, "shop/frontend -> other/backend 8080/tcp").allowed());
    assert!(verdict(&e, &m, "shop/backend -> other/backend 8080/tcp").allowed());
    // A pod selector alone means the policy's namespace: other/client is `app=client`,
    // and no `app=frontend` pod lives in `other`.
    assert!(!verdict(&e, &m, "monitoring/prometheus -> other/backend 8080/tcp").allowed());
    assert!(!verdict(&e, &m, "other/client -> other/backend 8080/tcp").allowed());
}

#[test]
fn namespace_selectors_match_namespace_labels_and_names() {
    let mut m = model();
    // A model namespace without the name label still has it in a real cluster.
    m.namespaces
        .insert("monitoring".into(), labels(&[("purpose", "monitoring")]));
    let e = ev(&[np(
        "shop",
        "by-name",
        json!({"podSelector": {}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
            {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
        ]}]}),
    )]);
    assert!(verdict(&e, &m, "monitoring/prometheus -> shop/backend 9090/tcp").allowed());
    assert!(verdict(&e, &m, "kube-system/coredns -> shop/backend 9090/tcp").allowed());
    assert!(!verdict(&e, &m, "other/client -> shop/backend 9090/tcp").allowed());
    // Selectors never match external addresses.
    assert!(!verdict(&e, &m, "8.8.8.8 -> shop/backend 9090/tcp").allowed());
}

#[test]
fn match_expressions() {
    let m = model();
    let e = ev(&[np(
        "shop",
        "exprs",
        json!({
        "podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["backend", "database"]}]},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {"matchExpressions": [
            {"key": "tier", "operator": "NotIn", "values": ["api"]},
            {"key": "app", "operator": "Exists"},
            {"key": "canary", "operator": "DoesNotExist"}
        ]}}]}]}),
    )]);
    assert!(verdict(&e, &m, "shop/frontend -> shop/backend 8080/tcp").allowed());
    // `tier NotIn {api}` matches pods without `tier`, but `app Exists` does not.
    assert!(verdict(&e, &m, "shop/database -> shop/backend 8080/tcp").allowed());
    assert!(!verdict(&e, &m, "shop/nolabel -> shop/backend 8080/tcp").allowed());
    assert!(!verdict(&e, &m, "shop/backend -> shop/database 8080/tcp").allowed());
    // The frontend is not a subject.
    assert_eq!(
        verdict(&e, &m, "shop/nolabel -> shop/frontend 8080/tcp").ingress,
        Side::Open
    );
}

#[test]
fn ports_protocols_and_ranges() {
    let m = model();
    let e = ev(&[np(
        "shop",
        "ports",
        json!({"podSelector": {}, "policyTypes": ["Ingress"],
        "ingress": [{"ports": [
            {"port": 5432},
            {"protocol": "UDP", "port": 8000, "endPort": 8080},
            {"protocol": "SCTP"}
        ]}]}),
    )]);
    // Protocol defaults to TCP.
    assert!(verdict(&e, &m, "8.8.8.8 -> shop/backend 5432/tcp").allowed());
    assert!(!verdict(&e, &m, "8.8.8.8 -> shop/backend 8080/tcp").allowed());
    // The range is inclusive, on its own protocol only.
    assert!(verdict(&e, &m, "8.8.8.8 -> shop/backend 8080/udp").allowed());
    assert!(!verdict(&e, &m, "8.8.8.8 -> shop/backend 53/udp").allowed());
    // A protocol without a port: every port of it.
    assert!(verdict(&e, &m, "8.8.8.8 -> shop/backend 3868/sctp").allowed());
    // Empty `from` and `ports` lists mean everything.
    let e = ev(&[np(
        "shop",
        "empty-lists",
        json!({"podSelector": {}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [], "ports": []}]}),
    )]);
    assert!(verdict(&e, &m, "8.8.8.8 -> shop/backend 3868/sctp").allowed());
    assert!(verdict(&e, &m, "other/client -> shop/backend 53/udp").allowed());
}

#[test]
fn named_ports_resolve_on_the_destination() {
    let m = model();
    let e = ev(&[np(
        "shop",
        "named",
        json!({"podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"ports": [{"protocol": "TCP", "port": "http"}, {"protocol": "UDP", "port": "dns"}]}]}),
    )]);
    assert!(verdict(&e, &m, "shop/frontend -> shop/backend 8080/tcp").allowed());
    assert!(!verdict(&e, &m, "shop/frontend -> shop/backend 9090/tcp").allowed());
    assert!(verdict(&e, &m, "shop/frontend -> other/backend 8050/tcp").allowed());
    assert!(!verdict(&e, &m, "shop/frontend -> other/backend 8080/tcp").allowed());
    assert!(verdict(&e, &m, "shop/frontend -> kube-system/coredns 53/udp").allowed());
    // The protocol must match the container port's: `dns` is UDP.
    assert!(!verdict(&e, &m, "shop/frontend -> kube-system/coredns 53/tcp").allowed());
    // External addresses have no named ports.
    assert!(!verdict(&e, &m, "shop/frontend -> 8.8.8.8 8080/tcp").allowed());
}

#[test]
fn ip_blocks_match_any_address_including_pod_ips() {
    let m = model();
    let e = ev(&[np(
        "shop",
        "blocks",
        json!({"podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"to": [
            {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32", "10.244.1.0/24"]}},
            {"ipBlock": {"cidr": "2001:db8::/32"}}
        ]}]}),
    )]);
    assert!(verdict(&e, &m, "shop/frontend -> 8.8.8.8 443/tcp").allowed());
    assert!(verdict(&e, &m, "shop/frontend -> 2001:db8::1 443/tcp").allowed());
    assert!(!verdict(&e, &m, "shop/frontend -> 169.254.169.254 443/tcp").allowed());
    // Pod IPs match too (Calico-like), minus the holes.
    assert!(verdict(&e, &m, "shop/frontend -> other/client 443/tcp").allowed());
    assert!(!verdict(&e, &m, "shop/frontend -> shop/backend 443/tcp").allowed());
    // Host bits in a hand-written CIDR are masked, as the API server's parser does.
    let e = ev(&[np(
        "shop",
        "sloppy",
        json!({"podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "203.0.113.99/24"}}]}]}),
    )]);
    assert!(verdict(&e, &m, "shop/frontend -> 203.0.113.10 443/tcp").allowed());
}

#[test]
fn lists_intent_annotations_and_errors() {
    let m = model();
    let mut policy = np(
        "shop",
        "p",
        json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}),
    );
    policy["metadata"]["annotations"] = json!({"netpolc.dev/intent": "shop/open"});
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [policy.clone()]});
    let e = ev(&[list]);
    assert_eq!(
        verdict(&e, &m, "8.8.8.8 -> shop/backend 443/tcp").ingress,
        Side::Allowed(Decision {
            object: "NetworkPolicy shop/p".into(),
            rule: "spec.ingress[0]".into(),
            intent: Some("shop/open".into()),
        })
    );

    let err = |objects: &[Value]| evaluator(objects).err().unwrap_or_default();
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}});
    assert!(err(&[service]).contains("found apiVersion `v1` kind `Service`"));
    assert!(err(&[policy.clone(), policy.clone()]).contains("duplicate NetworkPolicy `shop/p`"));
    let mut no_ns = policy.clone();
    no_ns["metadata"] = json!({"name": "p"});
    assert!(err(&[no_ns]).contains("metadata.namespace is required"));
    let bad_cidr = np(
        "shop",
        "c",
        json!({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}),
    );
    assert!(err(&[bad_cidr]).contains("spec.egress[0].to[0].ipBlock.cidr: invalid CIDR"));
    let bad_op = np(
        "shop",
        "o",
        json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Has"}]}}),
    );
    assert!(err(&[bad_op]).contains("unknown operator `Has`"));
    let empty_peer = np("shop", "e", json!({"ingress": [{"from": [{}]}]}));
    assert!(err(&[empty_peer]).contains("spec.ingress[0].from[0]: a peer needs"));
    let mixed = np(
        "shop",
        "m",
        json!({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}),
    );
    assert!(err(&[mixed]).contains("cannot be combined"));
    let bad_proto = np(
        "shop",
        "p2",
        json!({"ingress": [{"ports": [{"protocol": "ICMP"}]}]}),
    );
    assert!(err(&[bad_proto]).contains("unsupported protocol `ICMP`"));
    let bad_range = np(
        "shop",
        "r",
        json!({"ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}),
    );
    assert!(err(&[bad_range]).contains("endPort"));
    let not_np = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "spec": 3});
    assert!(err(&[not_np]).contains("not a valid NetworkPolicy"));
}
