//! API-server validation: one passing and one failing case per rule.

use super::*;
use serde_json::json;

fn base() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    })
}

/// `base()` with `field` (a JSON pointer) set to `value`.
fn with(field: &str, value: Value) -> Value {
    let mut o = base();
    let mut target = &mut o;
    for part in field.trim_start_matches('/').split('/') {
        if let Ok(i) = part.parse::<usize>() {
            if !target.is_array() {
                *target = json!([]);
            }
            let items = target.as_array_mut().expect("array");
            while items.len() <= i {
                items.push(json!({}));
            }
            target = &mut items[i];
        } else {
            if !target.is_object() {
                *target = json!({});
            }
            target = target
                .as_object_mut()
                .expect("object")
                .entry(part.to_string())
                .or_insert(Value::Null);
        }
    }
    *target = value;
    o
}

#[track_caller]
fn ok(field: &str, value: Value) {
    let o = with(field, value);
    assert_eq!(validate(&o), Vec::<String>::new(), "{o:#}");
}

#[track_caller]
fn fails(field: &str, value: Value, expected: &str) {
    let o = with(field, value);
    let problems = validate(&o);
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "expected `{expected}` in {problems:#?}"
    );
}

#[test]
fn base_is_valid() {
    assert_eq!(validate(&base()), Vec::<String>::new());
}

#[test]
fn kind_and_schema() {
    fails("/kind", json!("Service"), "apiVersion, kind");
    fails(
        "/apiVersion",
        json!("networking.k8s.io/v1beta1"),
        "apiVersion, kind",
    );
    fails(
        "/spec/ingress",
        json!("nope"),
        "does not match the NetworkPolicy schema",
    );
}

#[test]
fn name_is_a_dns_subdomain() {
    ok("/metadata/name", json!("web.v2-a"));
    ok("/metadata/name", json!("a".repeat(253)));
    fails(
        "/metadata/name",
        json!("Web"),
        "metadata.name: `Web` must be a DNS-1123 subdomain",
    );
    fails("/metadata/name", json!("web-"), "metadata.name");
    fails("/metadata/name", json!("a..b"), "metadata.name");
    fails("/metadata/name", json!("a".repeat(254)), "no more than 253");
    let mut no_name = base();
    no_name["metadata"] = json!({"namespace": "shop"});
    assert_eq!(validate(&no_name), ["metadata.name: is required"]);
}

#[test]
fn namespace_is_a_dns_label() {
    ok("/metadata/namespace", json!("kube-system"));
    fails(
        "/metadata/namespace",
        json!("kube.system"),
        "metadata.namespace",
    );
    fails(
        "/metadata/namespace",
        json!("a".repeat(64)),
        "no more than 63",
    );
}

#[test]
fn metadata_labels_and_annotations() {
    ok(
        "/metadata/labels",
        json!({"app.kubernetes.io/managed-by": "netpolc", "x": ""}),
    );
    fails(
        "/metadata/labels",
        json!({"bad key": "x"}),
        "metadata.labels[bad key]",
    );
    fails(
        "/metadata/labels",
        json!({"k": "bad value"}),
        "label value `bad value`",
    );
    ok(
        "/metadata/annotations",
        json!({"netpolc.dev/intent": "shop/a b: anything"}),
    );
    fails(
        "/metadata/annotations",
        json!({"a/b/c": "x"}),
        "metadata.annotations[a/b/c]",
    );
    fails(
        "/metadata/annotations",
        json!({"big": "x".repeat(256 * 1024)}),
        "more than 262144 bytes",
    );
}

#[test]
fn match_labels_keys_are_qualified_names() {
    let path = "/spec/podSelector/matchLabels";
    ok(path, json!({"example.com/app": "web", "A_b.c-D": "v"}));
    ok(
        path,
        json!({format!("{}/{}", "p".repeat(253), "n".repeat(63)): "v"}),
    );
    fails(path, json!({"a/b/c": "v"}), "at most one `/`");
    fails(path, json!({"/app": "v"}), "prefix part must be non-empty");
    fails(path, json!({"Example.com/app": "v"}), "prefix part");
    fails(path, json!({"app/": "v"}), "name part must be non-empty");
    fails(path, json!({"-app": "v"}), "name part must consist");
    fails(
        path,
        json!({"n".repeat(64): "v"}),
        "name part must be no more than 63",
    );
}

#[test]
fn match_labels_values() {
    let path = "/spec/podSelector/matchLabels";
    ok(path, json!({"app": ""}));
    ok(path, json!({"app": "v".repeat(63)}));
    fails(path, json!({"app": "v".repeat(64)}), "no more than 63");
    fails(path, json!({"app": "-v"}), "must be empty or consist");
    fails(path, json!({"app": "a b"}), "must be empty or consist");
}

#[test]
fn match_expressions() {
    let path = "/spec/podSelector/matchExpressions";
    ok(
        path,
        json!([
            {"key": "a", "operator": "In", "values": ["x"]},
            {"key": "b", "operator": "NotIn", "values": ["x", "y"]},
            {"key": "c", "operator": "Exists"},
            {"key": "d", "operator": "DoesNotExist", "values": []}
        ]),
    );
    fails(
        path,
        json!([{"key": "a", "operator": "In"}]),
        "matchExpressions[0].values: must be specified",
    );
    fails(
        path,
        json!([{"key": "a", "operator": "NotIn", "values": []}]),
        "must be specified",
    );
    fails(
        path,
        json!([{"key": "a", "operator": "Exists", "values": ["x"]}]),
        "may not be specified",
    );
    fails(
        path,
        json!([{"key": "a", "operator": "Equals", "values": ["x"]}]),
        "operator: unsupported value `Equals`",
    );
    fails(
        path,
        json!([{"key": "bad key", "operator": "Exists"}]),
        "matchExpressions[0].key",
    );
    fails(
        path,
        json!([{"key": "a", "operator": "In", "values": ["bad value"]}]),
        "matchExpressions[0].values[0]",
    );
}

#[test]
fn peer_selectors_are_validated_too() {
    ok(
        "/spec/ingress/0/from/0/namespaceSelector/matchLabels",
        json!({"team": "a"}),
    );
    fails(
        "/spec/ingress/0/from/0/namespaceSelector/matchLabels",
        json!({"team": "a b"}),
        "spec.ingress[0].from[0].namespaceSelector.matchLabels[team]",
    );
    fails(
        "/spec/egress/0/to/0/podSelector/matchExpressions",
        json!([{"key": "a", "operator": "In"}]),
        "spec.egress[0].to[0].podSelector.matchExpressions[0].values",
    );
}

#[test]
fn protocol_enum() {
    let path = "/spec/ingress/0/ports/0";
    for p in ["TCP", "UDP", "SCTP"] {
        ok(path, json!({"protocol": p, "port": 80}));
    }
    fails(
        path,
        json!({"protocol": "ICMP"}),
        "ports[0].protocol: unsupported value `ICMP`",
    );
    fails(
        path,
        json!({"protocol": "tcp", "port": 80}),
        "unsupported value `tcp`",
    );
}

#[test]
fn port_numbers() {
    let path = "/spec/egress/0/ports/0";
    ok(path, json!({"port": 1}));
    ok(path, json!({"port": 65535}));
    fails(
        path,
        json!({"port": 0}),
        "spec.egress[0].ports[0].port: `0` must be between 1 and 65535",
    );
    fails(
        path,
        json!({"port": 65536}),
        "`65536` must be between 1 and 65535",
    );
}

#[test]
fn end_port() {
    let path = "/spec/egress/0/ports/0";
    ok(path, json!({"protocol": "TCP", "port": 80, "endPort": 80}));
    ok(
        path,
        json!({"protocol": "TCP", "port": 80, "endPort": 65535}),
    );
    fails(
        path,
        json!({"port": 80, "endPort": 79}),
        "must be greater than or equal to `port` (80)",
    );
    fails(
        path,
        json!({"port": 80, "endPort": 65536}),
        "endPort: `65536` must be between",
    );
    fails(
        path,
        json!({"endPort": 90}),
        "may not be specified when `port` is not specified",
    );
    fails(
        path,
        json!({"port": "http", "endPort": 90}),
        "may not be specified when `port` is non-numeric",
    );
}

#[test]
fn named_ports_are_iana_service_names() {
    let path = "/spec/ingress/0/ports/0";
    ok(path, json!({"port": "http"}));
    ok(path, json!({"port": "h2-c-123456789a"}));
    fails(
        path,
        json!({"port": "h2-c-123456789ab"}),
        "no more than 15 characters",
    );
    fails(
        path,
        json!({"port": "HTTP"}),
        "only alphanumeric characters",
    );
    fails(path, json!({"port": "1234"}), "at least one letter");
    fails(path, json!({"port": "a--b"}), "consecutive hyphens");
    fails(path, json!({"port": "-ab"}), "begin or end with a hyphen");
    fails(path, json!({"port": ""}), "only alphanumeric characters");
}

#[test]
fn peers_need_exactly_one_kind_or_pod_and_namespace() {
    let path = "/spec/ingress/0/from/0";
    ok(path, json!({"podSelector": {}, "namespaceSelector": {}}));
    ok(path, json!({"ipBlock": {"cidr": "10.0.0.0/8"}}));
    fails(
        path,
        json!({}),
        "spec.ingress[0].from[0]: must specify a peer",
    );
    fails(
        path,
        json!({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}),
        "may not specify both `ipBlock` and another peer",
    );
}

#[test]
fn cidrs_are_valid_and_canonical() {
    let path = "/spec/egress/0/to/0/ipBlock/cidr";
    ok(path, json!("10.0.0.0/8"));
    ok(path, json!("0.0.0.0/0"));
    ok(path, json!("2001:db8::/32"));
    ok(path, json!("192.0.2.1/32"));
    fails(path, json!(""), "ipBlock.cidr: is required");
    fails(path, json!("garbage"), "invalid CIDR `garbage`");
    fails(path, json!("10.0.0.0"), "invalid CIDR");
    fails(path, json!("10.0.0.0/33"), "invalid CIDR");
    fails(
        path,
        json!("10.0.0.1/8"),
        "bits set beyond the prefix length (use `10.0.0.0/8`)",
    );
    fails(path, json!("010.0.0.0/8"), "leading zeros");
    fails(path, json!("10.0.0.0/08"), "leading zeros");
    fails(path, json!("::ffff:10.0.0.0/104"), "IPv4-mapped");
}

#[test]
fn excepts_are_strict_subsets() {
    let path = "/spec/egress/0/to/0/ipBlock";
    ok(
        path,
        json!({"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.255.255.255/32"]}),
    );
    ok(
        path,
        json!({"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48"]}),
    );
    fails(
        path,
        json!({"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}),
        "except[0]: `10.0.0.0/8` must be a strict subset",
    );
    fails(
        path,
        json!({"cidr": "10.0.0.0/8", "except": ["10.0.0.0/7"]}),
        "strict subset",
    );
    fails(
        path,
        json!({"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}),
        "strict subset",
    );
    fails(
        path,
        json!({"cidr": "10.0.0.0/8", "except": ["2001:db8::/48"]}),
        "strict subset",
    );
    fails(
        path,
        json!({"cidr": "10.0.0.0/8", "except": ["10.1.0.1/16"]}),
        "except[0]: CIDR `10.1.0.1/16` must not have bits set",
    );
}

#[test]
fn policy_types() {
    ok("/spec/policyTypes", json!(["Ingress"]));
    ok("/spec/policyTypes", json!(["Egress"]));
    ok("/spec/policyTypes", json!(["Egress", "Ingress"]));
    fails(
        "/spec/policyTypes",
        json!(["Ingress", "Egress", "Ingress"]),
        "may not specify more than two policyTypes",
    );
    fails(
        "/spec/policyTypes",
        json!(["Both"]),
        "spec.policyTypes[0]: unsupported value `Both`",
    );
    fails(
        "/spec/policyTypes",
        json!(["ingress"]),
        "unsupported value `ingress`",
    );
}
