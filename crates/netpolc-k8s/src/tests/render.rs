//! Rendering hand-built programs: exact JSON, names, and translation validation.

use super::*;
use crate::codes;
use netpolc_ir::{Entity, HttpRule, Requirement};
use serde_json::json;
use Direction::{Egress, Ingress};

/// Namespace `shop` isolated both ways; frontend → backend on 8080/tcp.
fn shop() -> Builder {
    Builder::new()
        .namespace("shop", &[("team", "shop")], &[Ingress, Egress])
        .connect(
            ("shop", "frontend-to-backend"),
            ("shop", sel(&[("app", "frontend")])),
            ("shop", sel(&[("app", "backend")])),
            ports(&[tcp(8080)]),
        )
}

#[test]
fn isolation_and_connection() {
    let program = shop().build();
    let objects = translate(&program);
    let names: Vec<&str> = objects
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "shop-app-backend-ingress",
            "shop-app-frontend-egress",
            "shop-isolate"
        ]
    );
    assert_eq!(
        object(&objects, "shop", "shop-isolate"),
        &json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "shop-isolate",
                "namespace": "shop",
                "labels": {"app.kubernetes.io/managed-by": "netpolc"},
                "annotations": {
                    "netpolc.dev/intent": "shop/isolate",
                    "netpolc.dev/source": "policies/shop.yaml"
                }
            },
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        })
    );
    assert_eq!(
        intent_object(&objects, "shop", "shop/frontend-to-backend", "egress")["spec"],
        json!({
            "podSelector": {"matchLabels": {"app": "frontend"}},
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{"podSelector": {"matchLabels": {"app": "backend"}}}],
                "ports": [{"protocol": "TCP", "port": 8080}]
            }]
        })
    );
    assert_eq!(
        intent_object(&objects, "shop", "shop/frontend-to-backend", "ingress")["metadata"]
            ["annotations"]["netpolc.dev/intent"],
        "shop/frontend-to-backend"
    );
    // Key order is the reading order, not the typed struct's.
    let egress = intent_object(&objects, "shop", "shop/frontend-to-backend", "egress");
    let spec_keys: Vec<&String> = egress["spec"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(spec_keys, ["podSelector", "policyTypes", "egress"]);
    // Rendering is deterministic.
    assert_eq!(objects, render(&program, &Options::default()));
}

#[test]
fn cross_namespace_peers() {
    let program = Builder::new()
        .namespace("shop", &[("team", "shop")], &[Ingress, Egress])
        .namespace("other", &[("team", "other")], &[Ingress])
        // DNS: egress to kube-dns in kube-system (unmanaged), UDP and TCP 53.
        .allow(
            ("shop", "allow-dns"),
            ns("shop"),
            LabelSelector::all(),
            Egress,
            Peer::pods_in("kube-system", sel(&[("k8s-app", "kube-dns")])),
            ports(&[udp(53), tcp(53)]),
        )
        // Monitoring namespaces scrape every pod on 9090.
        .allow(
            ("shop", "monitoring-scrape"),
            ns("shop"),
            LabelSelector::all(),
            Ingress,
            Peer::Pods {
                namespaces: sel(&[("purpose", "monitoring")]),
                pods: LabelSelector::all(),
            },
            ports(&[tcp(9090)]),
        )
        // shop/frontend → other/backend on 8050, both sides.
        .connect(
            ("shop", "frontend-to-other"),
            ("shop", sel(&[("app", "frontend")])),
            ("other", sel(&[("app", "backend")])),
            ports(&[tcp(8050)]),
        )
        // Any pod of any namespace may reach shop/database on 5432.
        .allow(
            ("shop", "db-from-everywhere"),
            ns("shop"),
            sel(&[("app", "database")]),
            Ingress,
            Peer::Pods {
                namespaces: LabelSelector::all(),
                pods: LabelSelector::all(),
            },
            ports(&[tcp(5432)]),
        )
        .build();
    let objects = translate(&program);
    assert_eq!(
        intent_object(&objects, "shop", "shop/allow-dns", "egress")["spec"]["egress"],
        json!([{
            "to": [{
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}
            }],
            "ports": [{"protocol": "TCP", "port": 53}, {"protocol": "UDP", "port": 53}]
        }])
    );
    assert_eq!(
        intent_object(&objects, "shop", "shop/monitoring-scrape", "ingress")["spec"]["ingress"],
        json!([{
            "from": [{"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}}}],
            "ports": [{"protocol": "TCP", "port": 9090}]
        }])
    );
    assert_eq!(
        intent_object(&objects, "other", "shop/frontend-to-other", "ingress")["spec"]["ingress"][0]
            ["from"],
        json!([{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}},
            "podSelector": {"matchLabels": {"app": "frontend"}}
        }])
    );
    assert_eq!(
        intent_object(&objects, "shop", "shop/db-from-everywhere", "ingress")["spec"]["ingress"][0]
            ["from"],
        json!([{"namespaceSelector": {}}])
    );
    // `other` is isolated for ingress only: the egress side of the intent lives in `shop`.
    assert!(objects
        .iter()
        .all(|o| o["metadata"]["namespace"] == "shop"
            || o["spec"]["policyTypes"] == json!(["Ingress"])));
}

#[test]
fn cidr_with_except_and_any_peer() {
    let program = shop()
        .allow(
            ("shop", "internet"),
            ns("shop"),
            sel(&[("app", "backend")]),
            Egress,
            cidr("0.0.0.0/0", &["10.0.0.0/8", "169.254.169.254/32"]),
            ports(&[tcp(443)]),
        )
        .allow(
            ("shop", "partner-v6"),
            ns("shop"),
            sel(&[("app", "backend")]),
            Egress,
            cidr("2001:db8::/32", &[]),
            Ports::Any,
        )
        .allow(
            ("shop", "public-https"),
            ns("shop"),
            sel(&[("app", "frontend")]),
            Ingress,
            Peer::Any,
            ports(&[tcp(443)]),
        )
        .allow(
            ("shop", "anything"),
            ns("shop"),
            sel(&[("app", "nothing-has-this")]),
            Egress,
            Peer::Any,
            Ports::Any,
        )
        .build();
    let objects = translate(&program);
    assert_eq!(
        intent_object(&objects, "shop", "shop/internet", "egress")["spec"]["egress"],
        json!([{
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.169.254/32"]}}],
            "ports": [{"protocol": "TCP", "port": 443}]
        }])
    );
    assert_eq!(
        intent_object(&objects, "shop", "shop/partner-v6", "egress")["spec"]["egress"],
        json!([{"to": [{"ipBlock": {"cidr": "2001:db8::/32"}}]}])
    );
    assert_eq!(
        intent_object(&objects, "shop", "shop/public-https", "ingress")["spec"]["ingress"],
        json!([{"ports": [{"protocol": "TCP", "port": 443}]}])
    );
    // A rule with neither peers nor ports is `{}`: never `to: []` or `ports: []`.
    assert_eq!(
        intent_object(&objects, "shop", "shop/anything", "egress")["spec"]["egress"],
        json!([{}])
    );
}

#[test]
fn cluster_scope_is_one_object_per_namespace() {
    let program = Builder::new()
        .namespace("shop", &[("team", "shop")], &[])
        .namespace("other", &[("team", "other")], &[])
        .cluster_isolation("baseline", &["other", "shop"], Ingress)
        .allow(
            ("baseline", "scrape"),
            cluster(&["other", "shop"]),
            LabelSelector::all(),
            Ingress,
            Peer::Pods {
                namespaces: sel(&[("purpose", "monitoring")]),
                pods: sel(&[("app", "prometheus")]),
            },
            ports(&[named(Protocol::Tcp, "metrics"), tcp(9090)]),
        )
        .allow(
            ("baseline", "from-shop-frontend"),
            cluster(&["other", "shop"]),
            sel(&[("app", "backend")]),
            Ingress,
            Peer::pods_in("shop", sel(&[("app", "frontend")])),
            ports(&[tcp(8080), tcp(8050)]),
        )
        .build();
    let objects = translate(&program);
    let names: Vec<String> = objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["metadata"]["namespace"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "other/baseline-all-pods-ingress",
            "other/baseline-app-backend-ingress",
            "other/baseline-isolate",
            "shop/baseline-all-pods-ingress",
            "shop/baseline-app-backend-ingress",
            "shop/baseline-isolate",
        ]
    );
    assert_eq!(
        object(&objects, "other", "baseline-isolate")["metadata"]["annotations"]
            ["netpolc.dev/intent"],
        "baseline/isolate"
    );
    // Inside `shop` the peer is the policy's own namespace: a pod selector alone.
    assert_eq!(
        intent_object(&objects, "shop", "baseline/from-shop-frontend", "ingress")["spec"]
            ["ingress"][0]["from"],
        json!([{"podSelector": {"matchLabels": {"app": "frontend"}}}])
    );
    assert_eq!(
        intent_object(&objects, "other", "baseline/from-shop-frontend", "ingress")["spec"]
            ["ingress"][0]["from"],
        json!([{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}},
            "podSelector": {"matchLabels": {"app": "frontend"}}
        }])
    );
    assert_eq!(
        intent_object(&objects, "shop", "baseline/scrape", "ingress")["spec"]["ingress"][0]
            ["ports"],
        json!([{"protocol": "TCP", "port": 9090}, {"protocol": "TCP", "port": "metrics"}])
    );
}

#[test]
fn named_ports_and_ranges() {
    let program = Builder::new()
        .namespace("shop", &[], &[Ingress, Egress])
        .namespace("other", &[], &[Ingress])
        .connect(
            ("shop", "web"),
            ("shop", sel(&[("app", "frontend")])),
            ("other", sel(&[("app", "backend")])),
            ports(&[named(Protocol::Tcp, "http")]),
        )
        .connect(
            ("shop", "frontend-to-backend-range"),
            ("shop", sel(&[("app", "frontend")])),
            ("shop", sel(&[("app", "backend")])),
            ports(&[
                range(Protocol::Tcp, 8000, 8060),
                PortMatch {
                    protocol: Protocol::Udp,
                    port: PortSpec::All,
                },
                PortMatch::single(Protocol::Sctp, 3868),
            ]),
        )
        .allow(
            ("shop", "dns-by-name"),
            ns("shop"),
            sel(&[("app", "database")]),
            Egress,
            Peer::pods_in("kube-system", LabelSelector::all()),
            ports(&[named(Protocol::Udp, "dns")]),
        )
        .build();
    let objects = translate(&program);
    assert_eq!(
        intent_object(
            &objects,
            "shop",
            "shop/frontend-to-backend-range",
            "ingress"
        )["spec"]["ingress"][0]["ports"],
        json!([
            {"protocol": "TCP", "port": 8000, "endPort": 8060},
            {"protocol": "UDP"},
            {"protocol": "SCTP", "port": 3868}
        ])
    );
    assert_eq!(
        intent_object(&objects, "other", "shop/web", "ingress")["spec"]["ingress"][0]["ports"],
        json!([{"protocol": "TCP", "port": "http"}])
    );
    // The named port resolves on each destination pod: 8050 on other/backend.
    let ev = evaluator(&objects).expect("evaluates");
    let m = model();
    assert!(verdict(&ev, &m, "shop/frontend -> other/backend 8050/tcp").allowed());
    assert!(!verdict(&ev, &m, "shop/frontend -> other/backend 8080/tcp").allowed());
    assert!(verdict(&ev, &m, "shop/database -> kube-system/coredns 53/udp").allowed());
    assert!(!verdict(&ev, &m, "shop/database -> kube-system/coredns 53/tcp").allowed());
}

#[test]
fn selector_expressions() {
    let subject = LabelSelector::from_requirements([
        Requirement::is_in("tier", ["api", "web"]),
        Requirement::not_in("app", ["database"]),
        Requirement::exists("app"),
        Requirement::does_not_exist("canary"),
    ])
    .expect("satisfiable");
    let peer_pods = LabelSelector::from_requirements([
        Requirement::is_in("app", ["client"]),
        Requirement::not_in("tier", ["web"]),
    ])
    .expect("satisfiable");
    let program = Builder::new()
        .namespace("shop", &[], &[Ingress])
        .allow(
            ("shop", "exprs"),
            ns("shop"),
            subject,
            Ingress,
            Peer::Pods {
                namespaces: LabelSelector::from_requirements([Requirement::is_in(
                    "team",
                    ["other", "shop"],
                )])
                .expect("satisfiable"),
                pods: peer_pods,
            },
            Ports::Any,
        )
        .build();
    let objects = translate(&program);
    let spec = &intent_object(&objects, "shop", "shop/exprs", "ingress")["spec"];
    assert_eq!(
        spec["podSelector"],
        json!({"matchExpressions": [
            {"key": "app", "operator": "NotIn", "values": ["database"]},
            {"key": "app", "operator": "Exists"},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "tier", "operator": "In", "values": ["api", "web"]}
        ]})
    );
    assert_eq!(
        spec["ingress"],
        json!([{"from": [{
            "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["other", "shop"]}]},
            "podSelector": {
                "matchLabels": {"app": "client"},
                "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]
            }
        }]}])
    );
}

#[test]
fn one_object_per_subject_selector() {
    let program = Builder::new()
        .namespace("shop", &[], &[Egress])
        .allow(
            ("shop", "out"),
            ns("shop"),
            sel(&[("app", "frontend")]),
            Egress,
            Peer::Any,
            ports(&[tcp(443)]),
        )
        .allow(
            ("shop", "out"),
            ns("shop"),
            sel(&[("app", "backend")]),
            Egress,
            Peer::Any,
            ports(&[tcp(443)]),
        )
        .build();
    let objects = translate(&program);
    // Objects are named after their subject selector.
    assert_eq!(
        object(&objects, "shop", "shop-app-backend-egress")["spec"]["podSelector"],
        json!({"matchLabels": {"app": "backend"}})
    );
    assert_eq!(
        object(&objects, "shop", "shop-app-frontend-egress")["spec"]["podSelector"],
        json!({"matchLabels": {"app": "frontend"}})
    );
}

#[test]
fn one_kubernetes_rule_per_ir_rule() {
    let program = shop()
        .allow(
            ("shop", "frontend-to-backend"),
            ns("shop"),
            sel(&[("app", "frontend")]),
            Egress,
            cidr("203.0.113.0/24", &[]),
            ports(&[tcp(443)]),
        )
        .build();
    let objects = translate(&program);
    let egress =
        &intent_object(&objects, "shop", "shop/frontend-to-backend", "egress")["spec"]["egress"];
    assert_eq!(egress.as_array().map(Vec::len), Some(2));
}

#[test]
fn kube_apiserver_as_ip_blocks() {
    let mut program = Builder::new()
        .namespace("shop", &[], &[Egress])
        .allow(
            ("shop", "api"),
            ns("shop"),
            LabelSelector::all(),
            Egress,
            Peer::Entity(Entity::KubeApiserver),
            ports(&[tcp(443)]),
        )
        .build();
    program.profile.api_server_cidrs = vec![
        "192.0.2.10/32".parse().expect("cidr"),
        "192.0.2.0/28".parse().expect("cidr"),
    ];
    let diagnostics = check(&program, &Options::default());
    assert_eq!(
        diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(),
        [codes::API_SERVER_AS_IP_BLOCK]
    );
    assert!(!diagnostics[0].is_error());
    let objects = translate(&program);
    assert_eq!(
        intent_object(&objects, "shop", "shop/api", "egress")["spec"]["egress"][0]["to"],
        json!([{"ipBlock": {"cidr": "192.0.2.0/28"}}, {"ipBlock": {"cidr": "192.0.2.10/32"}}])
    );
}

#[test]
fn long_names_are_cut_to_dns_labels() {
    let long = "a-really-long-intent-name-that-goes-on-and-on-and-on-for-ever-and-ever";
    let program = Builder::new()
        .namespace("shop", &[], &[Ingress])
        .allow(
            ("shop", long),
            ns("shop"),
            sel(&[("app", "a")]),
            Ingress,
            Peer::Any,
            Ports::Any,
        )
        .allow(
            ("shop", long),
            ns("shop"),
            sel(&[("app", "b")]),
            Ingress,
            Peer::Any,
            Ports::Any,
        )
        .build();
    let objects = translate(&program);
    let names: BTreeSet<&str> = objects
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names.iter().all(|n| n.len() <= 63));
}

#[test]
fn allow_rules_on_open_sides_are_not_rendered() {
    // Broken invariant on purpose: an allow on a side nobody isolates means nothing and
    // must not isolate it.
    let program = Builder::new()
        .namespace("shop", &[], &[Ingress])
        .allow(
            ("shop", "egress-on-open-side"),
            ns("shop"),
            LabelSelector::all(),
            Egress,
            Peer::Any,
            ports(&[tcp(443)]),
        )
        .build();
    let objects = translate(&program);
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["metadata"]["name"], "shop-isolate");
}

fn codes_of(program: &Program) -> Vec<&'static str> {
    check(program, &Options::default())
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code)
        .collect()
}

/// A CIDR peer (and so `world`) needs the node networks: `ipBlock` matches node addresses
/// on Calico, which address peers exclude.
#[test]
fn address_peers_need_the_node_networks() {
    let codes = |p: &Program| -> Vec<&str> {
        check(p, &Options::default())
            .iter()
            .map(|d| d.code)
            .collect()
    };
    let mut p = one_rule(cidr("203.0.113.0/24", &[]), Ports::Any, Vec::new());
    assert!(!codes(&p).contains(&crate::codes::NODES_UNDECLARED));
    p.profile.nodes_declared = false;
    assert_eq!(codes(&p), [crate::codes::NODES_UNDECLARED]);
    let mut p = one_rule(Peer::Any, Ports::Any, Vec::new());
    p.profile.nodes_declared = false;
    assert!(codes(&p).is_empty());
}

fn one_rule(peer: Peer, p: Ports, http: Vec<HttpRule>) -> Program {
    let mut program = Builder::new()
        .namespace("shop", &[], &[Egress])
        .allow(
            ("shop", "it"),
            ns("shop"),
            LabelSelector::all(),
            Egress,
            peer,
            p,
        )
        .build();
    program.rules[0].http = http;
    program
}

#[test]
fn capability_errors() {
    let host = one_rule(Peer::Entity(Entity::Host), Ports::Any, vec![]);
    assert_eq!(codes_of(&host), [codes::HOST_ENTITY]);
    let fqdn = one_rule(
        Peer::Fqdn("api.example.com".into()),
        ports(&[tcp(443)]),
        vec![],
    );
    assert_eq!(codes_of(&fqdn), [codes::FQDN_PEER]);
    let http = one_rule(
        Peer::Any,
        ports(&[tcp(80)]),
        vec![HttpRule {
            method: Some("GET".into()),
            path: None,
        }],
    );
    assert_eq!(codes_of(&http), [codes::L7_HTTP]);
    let icmp = one_rule(
        Peer::Any,
        ports(&[
            tcp(80),
            PortMatch {
                protocol: Protocol::Icmp,
                port: PortSpec::Icmp {
                    icmp_type: 8,
                    code: None,
                },
            },
        ]),
        vec![],
    );
    assert_eq!(codes_of(&icmp), [codes::ICMP]);
    let api = one_rule(
        Peer::Entity(Entity::KubeApiserver),
        ports(&[tcp(443)]),
        vec![],
    );
    assert_eq!(codes_of(&api), [codes::NO_API_SERVER_CIDRS]);

    // Each error names the intent, points at its span and names the back end.
    let d = &check(&fqdn, &Options::default())[0];
    assert!(d.message.contains("`shop/it`"), "{}", d.message);
    assert_eq!(d.primary_span(), Some(Span::new(FileId(0), 10, 20)));
    assert!(d.notes.iter().any(|n| n.contains("kubernetes")));

    // Rendering anyway is fail closed: the rule is left out (no wider `to: []`, no
    // L4-only rule for an L7 rule, no `ports: []`).
    for program in [&host, &fqdn, &http, &api] {
        let objects = render(program, &Options::default());
        assert_eq!(objects.len(), 1, "{objects:#?}");
        assert_eq!(objects[0]["metadata"]["name"], "shop-isolate");
    }
    // A mixed ICMP/TCP rule keeps only the TCP port (narrower).
    let objects = render(&icmp, &Options::default());
    assert_eq!(
        intent_object(&objects, "shop", "shop/it", "egress")["spec"]["egress"],
        json!([{"ports": [{"protocol": "TCP", "port": 80}]}])
    );
}

#[test]
fn one_diagnostic_per_intent_and_code() {
    let mut program = one_rule(Peer::Entity(Entity::Host), Ports::Any, vec![]);
    let mut second = program.rules[0].clone();
    second.subject.pods = sel(&[("app", "x")]);
    program.rules.push(second);
    program.canonicalise();
    assert_eq!(codes_of(&program), [codes::HOST_ENTITY]);
}

#[test]
fn deny_rules_go_through_allow_only_lowering() {
    let program = shop()
        .rule(
            ("shop", "no-metadata"),
            ns("shop"),
            LabelSelector::all(),
            Egress,
            Action::Deny,
            cidr("169.254.169.254/32", &[]),
            Ports::Any,
        )
        .build();
    let diagnostics = check(&program, &Options::default());
    // Whatever `allow_only::lower` reports is passed through; today it cannot subtract.
    match netpolc_ir::allow_only::lower(&program) {
        Ok(_) => assert!(errors(&diagnostics).is_empty(), "{diagnostics:#?}"),
        Err(expected) => {
            for e in &expected {
                assert!(diagnostics.contains(e), "{diagnostics:#?}");
            }
            // Render stays fail closed: only the isolation object.
            let objects = render(&program, &Options::default());
            assert_eq!(objects.len(), 1);
        }
    }
}

#[test]
fn name_collisions_are_errors() {
    // Namespace `shop`'s own set `a_b` and a cluster set `a-b` normalise to the same
    // object names in it (rules of other namespaced sets join the namespace's own
    // objects, so only a cluster set's objects can meet them).
    let mut program = Builder::new()
        .namespace("shop", &[], &[Ingress])
        .allow(
            ("a-b", "x"),
            cluster(&["shop"]),
            LabelSelector::all(),
            Ingress,
            Peer::Any,
            ports(&[tcp(80)]),
        )
        .allow(
            ("a_b", "x"),
            ns("shop"),
            LabelSelector::all(),
            Ingress,
            Peer::Any,
            ports(&[tcp(81)]),
        )
        .build();
    if let Some(shop) = program.namespaces.get_mut("shop") {
        shop.origin.set = "a_b".to_string();
    }
    let diagnostics = check(&program, &Options::default());
    assert_eq!(
        diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(),
        [codes::NAME_COLLISION]
    );
    assert!(diagnostics[0].message.contains("`a-b/x`"));
    assert!(diagnostics[0].message.contains("`a_b/x`"));
}

#[test]
fn rules_other_sets_write_in_a_namespace_join_its_own_objects() {
    // Sets `shop` and `web` both allow ingress to every pod of `shop` (the egress side
    // of an intent in `web` from `{namespaces: ...}` lands in `shop` the same way): one
    // object, named after `shop`'s set, its rules in order of the namespace's own set
    // first, each rule naming its intent.
    let program = Builder::new()
        .namespace("shop", &[], &[Ingress])
        .namespace("web", &[], &[Ingress])
        .allow(
            ("web", "to-shop"),
            ns("shop"),
            LabelSelector::all(),
            Ingress,
            Peer::Any,
            ports(&[tcp(80)]),
        )
        .allow(
            ("shop", "x"),
            ns("shop"),
            LabelSelector::all(),
            Ingress,
            Peer::Any,
            ports(&[tcp(81)]),
        )
        .build();
    assert!(check(&program, &Options::default()).is_empty());
    let objects = translate(&program);
    let names: Vec<(&str, &str)> = objects
        .iter()
        .map(|o| {
            let m = &o["metadata"];
            (
                m["namespace"].as_str().unwrap_or(""),
                m["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("shop", "shop-all-pods-ingress"),
            ("shop", "shop-isolate"),
            ("web", "web-isolate")
        ]
    );
    let merged = &objects[0];
    assert_eq!(
        merged["metadata"]["annotations"]["netpolc.dev/rules"],
        "spec.ingress[0]: shop/x\nspec.ingress[1]: web/to-shop"
    );
    assert_eq!(
        merged["metadata"]["annotations"]["netpolc.dev/source"],
        "policies/shop.yaml"
    );
    assert_eq!(merged["spec"]["ingress"][0]["ports"][0]["port"], 81);
    assert_eq!(merged["spec"]["ingress"][1]["ports"][0]["port"], 80);
}

#[test]
fn objects_the_api_server_would_reject_are_errors() {
    let program = Builder::new()
        .namespace("shop", &[], &[Ingress])
        .allow(
            ("shop", "bad"),
            ns("shop"),
            sel(&[("bad key!", "x")]),
            Ingress,
            Peer::Any,
            ports(&[named(Protocol::Tcp, "this-name-is-far-too-long")]),
        )
        .build();
    let diagnostics = check(&program, &Options::default());
    assert_eq!(
        diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(),
        [codes::REJECTED_BY_API_SERVER]
    );
    let notes = diagnostics[0].notes.join("\n");
    assert!(
        notes.contains("spec.podSelector.matchLabels[bad key!]"),
        "{notes}"
    );
    assert!(notes.contains("spec.ingress[0].ports[0].port"), "{notes}");
}

#[test]
fn rules_of_one_subject_merge_into_one_object_with_provenance() {
    // Two intents allow ingress to backend: one object, one rule each, and the
    // evaluator names the intent of the deciding rule.
    let program = shop()
        .connect(
            ("shop", "database-to-backend"),
            ("shop", sel(&[("app", "database")])),
            ("shop", sel(&[("app", "backend")])),
            ports(&[tcp(9090)]),
        )
        .build();
    let objects = translate(&program);
    let backend = object(&objects, "shop", "shop-app-backend-ingress");
    assert_eq!(backend["spec"]["ingress"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        backend["metadata"]["annotations"],
        json!({
            "netpolc.dev/intent": "shop/database-to-backend, shop/frontend-to-backend",
            "netpolc.dev/rules": "spec.ingress[0]: shop/database-to-backend\nspec.ingress[1]: shop/frontend-to-backend",
            "netpolc.dev/source": "policies/shop.yaml"
        })
    );
    let ingress_objects = objects
        .iter()
        .filter(|o| o["spec"]["ingress"].is_array())
        .count();
    assert_eq!(ingress_objects, 1, "one ingress object for one subject");
    let ev = evaluator(&objects).expect("evaluates");
    let m = model();
    for (flow, intent) in [
        (
            "shop/database -> shop/backend 9090/tcp",
            "shop/database-to-backend",
        ),
        (
            "shop/frontend -> shop/backend 8080/tcp",
            "shop/frontend-to-backend",
        ),
    ] {
        let netpolc_ir::model::Side::Allowed(d) = verdict(&ev, &m, flow).ingress else {
            panic!("{flow} is allowed");
        };
        assert_eq!(d.object, "NetworkPolicy shop/shop-app-backend-ingress");
        assert_eq!(d.intent.as_deref(), Some(intent), "{flow}");
    }
}
