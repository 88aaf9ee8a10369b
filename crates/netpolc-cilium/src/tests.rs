//! Tests of the whole back end: hand-built programs are checked, rendered, validated,
//! read back through [`crate::types`] and evaluated; the evaluator's verdicts must equal
//! the IR's intended meaning on every flow of a hand-built cluster model. Further tests
//! evaluate hand-written manifests (the seed's Kubernetes NetworkPolicies, CNP/CCNP
//! corner cases) under Cilium's semantics.

use crate::types::CiliumPolicy;
use crate::{check, codes, evaluator, render, validate, Options};
use ipnet::IpNet;
use netpolc_ir::eval::{every_prepared_side_agrees, prepared_side_agrees};
use netpolc_ir::model::{ClusterModel, Endpoint, Evaluator, Flow, Pod, Side};
use netpolc_ir::{
    Action, CidrBlock, Direction, Entity, HttpRule, Isolation, LabelSelector, ManagedNamespace,
    Origin, Peer, PortMatch, PortSpec, Ports, Program, Protocol, Requirement, Rule, Scope, Subject,
    NAMESPACE_NAME_LABEL,
};
use netpolc_source::{FileId, Severity, Span};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------------------------------
// Building programs and models.

fn origin(set: &str, intent: &str) -> Origin {
    Origin {
        file: format!("policies/{set}.yaml"),
        set: set.to_string(),
        intent: intent.to_string(),
        preset: None,
        span: Some(Span::new(FileId(0), 10, 20)),
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sel(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector::from_labels(pairs.iter().copied())
}

fn in_ns(ns: &str, pods: &[(&str, &str)]) -> Subject {
    Subject {
        scope: Scope::Namespace(ns.to_string()),
        pods: sel(pods),
    }
}

fn ports(items: &[PortMatch]) -> Ports {
    Ports::only(items.iter().cloned())
}

fn tcp(p: u16) -> PortMatch {
    PortMatch::single(Protocol::Tcp, p)
}

fn udp(p: u16) -> PortMatch {
    PortMatch::single(Protocol::Udp, p)
}

fn named(name: &str) -> PortMatch {
    PortMatch {
        protocol: Protocol::Tcp,
        port: PortSpec::Named(name.to_string()),
    }
}

fn net(s: &str) -> IpNet {
    s.parse().expect("test CIDR")
}

fn cidr(block: &str, except: &[&str]) -> Peer {
    Peer::Cidr(CidrBlock {
        net: net(block),
        except: except.iter().map(|e| net(e)).collect(),
    })
}

struct RuleSpec {
    set: &'static str,
    intent: &'static str,
    subject: Subject,
    direction: Direction,
    action: Action,
    peer: Peer,
    ports: Ports,
}

fn rule(r: RuleSpec) -> Rule {
    Rule {
        subject: r.subject,
        direction: r.direction,
        action: r.action,
        peer: r.peer,
        ports: r.ports,
        http: Vec::new(),
        origin: origin(r.set, r.intent).into(),
    }
}

/// An allow intent between two pod groups: the egress rule on the source and the
/// ingress rule on the destination.
#[allow(clippy::too_many_arguments)] // mirrors an intent's fields one to one
fn connection(
    set_from: &'static str,
    set_to: &'static str,
    intent: &'static str,
    from: (&str, &[(&str, &str)]),
    to: (&str, &[(&str, &str)]),
    p: Ports,
    egress: bool,
    ingress: bool,
) -> Vec<Rule> {
    let mut out = Vec::new();
    if egress {
        out.push(rule(RuleSpec {
            set: set_from,
            intent,
            subject: in_ns(from.0, from.1),
            direction: Direction::Egress,
            action: Action::Allow,
            peer: Peer::pods_in(to.0, sel(to.1)),
            ports: p.clone(),
        }));
    }
    if ingress {
        out.push(rule(RuleSpec {
            set: set_to,
            intent,
            subject: in_ns(to.0, to.1),
            direction: Direction::Ingress,
            action: Action::Allow,
            peer: Peer::pods_in(from.0, sel(from.1)),
            ports: p,
        }));
    }
    out
}

fn managed(program: &mut Program, ns: &str, extra: &[(&str, &str)], isolated: &[Direction]) {
    let mut l = labels(extra);
    l.insert(NAMESPACE_NAME_LABEL.to_string(), ns.to_string());
    program.namespaces.insert(
        ns.to_string(),
        ManagedNamespace {
            name: ns.to_string(),
            labels: l,
            isolated: isolated.iter().copied().collect(),
            origin: origin(ns, "isolate"),
        },
    );
    for d in isolated {
        program.isolations.push(Isolation {
            scope: Scope::Namespace(ns.to_string()),
            direction: *d,
            origin: origin(ns, "isolate"),
        });
    }
}

fn pod(ns: &str, name: &str, l: &[(&str, &str)], ip: &str, named: &[(&str, u16)]) -> Pod {
    Pod {
        namespace: ns.to_string(),
        name: name.to_string(),
        labels: labels(l),
        ip: ip.parse().expect("test IP"),
        named_ports: named
            .iter()
            .map(|(n, p)| (n.to_string(), (Protocol::Tcp, *p)))
            .collect(),
    }
}

fn model(
    namespaces: &[(&str, &[(&str, &str)])],
    pods: Vec<Pod>,
    externals: &[&str],
    api_server: &[&str],
    probe: &[(Protocol, u16)],
) -> ClusterModel {
    let mut m = ClusterModel {
        namespaces: namespaces
            .iter()
            .map(|(ns, extra)| {
                let mut l = labels(extra);
                l.insert(NAMESPACE_NAME_LABEL.to_string(), ns.to_string());
                (ns.to_string(), l)
            })
            .collect(),
        pods,
        externals: externals.iter().map(|a| a.parse().expect("IP")).collect(),
        api_server: api_server.iter().map(|a| a.parse().expect("IP")).collect(),
        nodes: Vec::new(),
        ports: probe.to_vec(),
    };
    m.pods
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    m.externals.sort();
    m.ports.sort();
    m
}

fn pod_index(m: &ClusterModel, ns: &str, name: &str) -> Endpoint {
    Endpoint::Pod(
        m.pods
            .iter()
            .position(|p| p.namespace == ns && p.name == name)
            .expect("pod in model"),
    )
}

fn ext(a: &str) -> Endpoint {
    Endpoint::External(a.parse().expect("IP"))
}

fn flow(src: Endpoint, dst: Endpoint, protocol: Protocol, port: u16) -> Flow {
    Flow {
        src,
        dst,
        protocol,
        port,
    }
}

// ---------------------------------------------------------------------------------------
// Shared assertions.

/// Renders a program that must pass the check cleanly, validates every object and reads
/// it back through the typed manifests unchanged.
fn render_clean(program: &Program, options: &Options) -> Vec<Value> {
    let diagnostics = check(program, options);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let objects = render(program, options);
    assert!(!objects.is_empty());
    for o in &objects {
        assert_eq!(validate(o), Vec::<String>::new(), "{o:#}");
        let typed = CiliumPolicy::deserialize(o).unwrap_or_else(|e| panic!("{e}: {o:#}"));
        assert_eq!(&serde_json::to_value(&typed).expect("serialise"), o);
        let meta = &o["metadata"];
        assert_eq!(meta["labels"]["app.kubernetes.io/managed-by"], "netpolc");
        assert!(meta["annotations"]["netpolc.dev/intent"].is_string());
        assert!(meta["annotations"]["netpolc.dev/source"]
            .as_str()
            .is_some_and(|s| s.starts_with("policies/")));
    }
    // Deterministic: rendering twice gives the same bytes.
    assert_eq!(render(program, options), objects);
    objects
}

/// Every flow of the model gets the same verdict, side by side, from the evaluator of
/// the rendered manifests and from the IR's intended meaning. Returns how many flows
/// are allowed, so callers can check the comparison is not vacuous.
fn assert_matches_intended(program: &Program, model: &ClusterModel, objects: &[Value]) -> usize {
    let cilium = evaluator(objects).expect("evaluator accepts rendered objects");
    let intended = netpolc_ir::eval::intended(program);
    let mut allowed = 0;
    let flows = model.flows();
    for f in &flows {
        let want = intended.verdict(model, f);
        let got = cilium.verdict(model, f);
        assert_eq!(
            (got.egress.allows(), got.ingress.allows()),
            (want.egress.allows(), want.ingress.allows()),
            "{}: cilium says egress {}, ingress {}; intended says egress {}, ingress {}",
            model.flow_name(f),
            got.egress,
            got.ingress,
            want.egress,
            want.ingress
        );
        allowed += usize::from(got.allowed());
    }
    assert!(
        allowed > 0 && allowed < flows.len(),
        "{allowed} of {}",
        flows.len()
    );
    allowed
}

fn find<'a>(objects: &'a [Value], name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no object `{name}` among {:?}", names(objects)))
}

/// The object holding the `field` rules (`ingress`, `egressDeny`, …) of `intent`
/// (`set/intent`), with only that intent's rules: merged objects hold the rules of
/// several intents, told apart by their provenance annotations.
fn intent_find(objects: &[Value], intent: &str, field: &str) -> Value {
    let mut found: Vec<Value> = Vec::new();
    for o in objects {
        let annotations: BTreeMap<String, String> =
            serde_json::from_value(o["metadata"]["annotations"].clone()).unwrap_or_default();
        let intents = netpolc_ir::provenance::RuleIntents::from_annotations(&annotations);
        let Some(rules) = o["spec"][field].as_array() else {
            continue;
        };
        let mine: Vec<Value> = rules
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                intents.intent(&format!("spec.{field}[{i}]")).as_deref() == Some(intent)
            })
            .map(|(_, r)| r.clone())
            .collect();
        if !mine.is_empty() {
            let mut o = o.clone();
            o["spec"][field] = Value::Array(mine);
            found.push(o);
        }
    }
    assert_eq!(found.len(), 1, "{field} rules of {intent}: {found:#?}");
    found.remove(0)
}

fn names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["metadata"]["namespace"].as_str().unwrap_or("-"),
                o["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The main program: isolation, allows, denies on isolated and open sides, cross-namespace
// peers by name and by label, all namespaces, CIDR with holes, entities, FQDN with DNS,
// HTTP, named ports, ranges and ICMP.

const FRONTEND: &[(&str, &str)] = &[("app", "frontend")];
const BACKEND: &[(&str, &str)] = &[("app", "backend")];
const DB: &[(&str, &str)] = &[("app", "db")];
const ALL: &[(&str, &str)] = &[];

fn main_program() -> Program {
    let mut p = Program::default();
    p.profile.api_server_cidrs = vec![net("192.0.2.1/32")];
    managed(&mut p, "prod", &[("env", "production")], &Direction::BOTH);
    managed(&mut p, "data", &[], &[Direction::Ingress]);
    managed(&mut p, "monitoring", &[("purpose", "monitoring")], &[]);

    // frontend -> backend 8080/tcp with HTTP rules, and ICMP echo on the backend side.
    let mut fb = connection(
        "prod",
        "prod",
        "frontend-to-backend",
        ("prod", FRONTEND),
        ("prod", BACKEND),
        ports(&[tcp(8080)]),
        true,
        true,
    );
    for r in &mut fb {
        r.http = vec![HttpRule {
            method: Some("GET".into()),
            path: Some("/api/.*".into()),
        }];
    }
    p.rules.extend(fb);
    p.rules.extend(connection(
        "prod",
        "prod",
        "frontend-pings-backend",
        ("prod", FRONTEND),
        ("prod", BACKEND),
        ports(&[
            PortMatch {
                protocol: Protocol::Icmp,
                port: PortSpec::Icmp {
                    icmp_type: 8,
                    code: None,
                },
            },
            tcp(8443),
        ]),
        true,
        true,
    ));
    // backend -> data/db 5432/tcp: cross-namespace by name; the ingress side belongs to
    // the data set, data egress is not isolated.
    p.rules.extend(connection(
        "prod",
        "data",
        "backend-to-db",
        ("prod", BACKEND),
        ("data", DB),
        ports(&[tcp(5432)]),
        true,
        true,
    ));
    let prod_rule = |intent, subject, direction, action, peer, ports| {
        rule(RuleSpec {
            set: "prod",
            intent,
            subject,
            direction,
            action,
            peer,
            ports,
        })
    };
    // Namespaces labelled purpose=monitoring scrape every prod pod on the named port.
    p.rules.push(prod_rule(
        "monitoring-scrape",
        in_ns("prod", ALL),
        Direction::Ingress,
        Action::Allow,
        Peer::Pods {
            namespaces: sel(&[("purpose", "monitoring")]),
            pods: LabelSelector::all(),
        },
        ports(&[named("metrics")]),
    ));
    // Prometheus from any namespace reaches the backend on 9100-9102/tcp.
    p.rules.push(prod_rule(
        "prometheus-anywhere",
        in_ns("prod", BACKEND),
        Direction::Ingress,
        Action::Allow,
        Peer::Pods {
            namespaces: LabelSelector::all(),
            pods: sel(&[("app", "prometheus")]),
        },
        ports(&[PortMatch {
            protocol: Protocol::Tcp,
            port: PortSpec::Range {
                start: 9100,
                end: 9102,
            },
        }]),
    ));
    // DNS for every prod pod.
    p.rules.push(prod_rule(
        "allow-dns",
        in_ns("prod", ALL),
        Direction::Egress,
        Action::Allow,
        Peer::pods_in("kube-system", sel(&[("k8s-app", "kube-dns")])),
        ports(&[udp(53), tcp(53)]),
    ));
    p.rules.push(prod_rule(
        "backend-to-partner",
        in_ns("prod", BACKEND),
        Direction::Egress,
        Action::Allow,
        cidr("203.0.113.0/24", &[]),
        ports(&[tcp(443)]),
    ));
    p.rules.push(prod_rule(
        "backend-to-saas",
        in_ns("prod", BACKEND),
        Direction::Egress,
        Action::Allow,
        Peer::Fqdn("api.example.com".into()),
        ports(&[tcp(443)]),
    ));
    p.rules.push(prod_rule(
        "backend-to-apiserver",
        in_ns("prod", BACKEND),
        Direction::Egress,
        Action::Allow,
        Peer::Entity(Entity::KubeApiserver),
        ports(&[tcp(6443)]),
    ));
    p.rules.push(prod_rule(
        "backend-to-node",
        in_ns("prod", BACKEND),
        Direction::Egress,
        Action::Allow,
        Peer::Entity(Entity::Host),
        ports(&[tcp(10250)]),
    ));
    p.rules.push(prod_rule(
        "frontend-to-internet",
        in_ns("prod", FRONTEND),
        Direction::Egress,
        Action::Allow,
        cidr("0.0.0.0/0", &["10.0.0.0/8", "169.254.169.254/32"]),
        ports(&[tcp(443)]),
    ));
    p.rules.push(prod_rule(
        "test-to-nodeports",
        in_ns("prod", &[("run", "test")]),
        Direction::Egress,
        Action::Allow,
        Peer::Any,
        ports(&[PortMatch {
            protocol: Protocol::Tcp,
            port: PortSpec::Range {
                start: 30000,
                end: 32767,
            },
        }]),
    ));
    // Deny on an isolated side: nothing in prod reaches the metadata address, even
    // where an allow (frontend-to-internet would not, test-to-nodeports would) matches.
    p.rules.push(prod_rule(
        "block-metadata",
        in_ns("prod", ALL),
        Direction::Egress,
        Action::Deny,
        cidr("169.254.169.254/32", &[]),
        Ports::Any,
    ));
    // Denies on open sides: monitoring is not isolated.
    p.rules.push(rule(RuleSpec {
        set: "monitoring",
        intent: "block-metadata",
        subject: in_ns("monitoring", ALL),
        direction: Direction::Egress,
        action: Action::Deny,
        peer: cidr("169.254.169.254/32", &[]),
        ports: Ports::Any,
    }));
    p.rules.push(rule(RuleSpec {
        set: "monitoring",
        intent: "no-frontend",
        subject: in_ns("monitoring", ALL),
        direction: Direction::Ingress,
        action: Action::Deny,
        peer: Peer::pods_in("prod", sel(FRONTEND)),
        ports: Ports::Any,
    }));
    p.canonicalise();
    p
}

fn main_model() -> ClusterModel {
    model(
        &[
            ("prod", &[("env", "production")]),
            ("data", &[]),
            ("monitoring", &[("purpose", "monitoring")]),
            ("kube-system", &[]),
        ],
        vec![
            pod("prod", "frontend", FRONTEND, "10.244.1.1", &[]),
            pod(
                "prod",
                "backend",
                BACKEND,
                "10.244.1.2",
                &[("http", 8080), ("metrics", 9090)],
            ),
            pod("prod", "test", &[("run", "test")], "10.244.1.3", &[]),
            pod("data", "db", DB, "10.244.2.1", &[("metrics", 9187)]),
            pod(
                "monitoring",
                "prom",
                &[("app", "prometheus")],
                "10.244.3.1",
                &[],
            ),
            pod(
                "kube-system",
                "coredns",
                &[("k8s-app", "kube-dns")],
                "10.244.4.1",
                &[],
            ),
        ],
        &["8.8.8.8", "169.254.169.254", "203.0.113.10", "192.0.2.1"],
        &["192.0.2.1"],
        &[
            (Protocol::Tcp, 53),
            (Protocol::Udp, 53),
            (Protocol::Tcp, 443),
            (Protocol::Tcp, 5432),
            (Protocol::Tcp, 6443),
            (Protocol::Tcp, 8080),
            (Protocol::Udp, 8080),
            (Protocol::Tcp, 8443),
            (Protocol::Tcp, 9090),
            (Protocol::Tcp, 9101),
            (Protocol::Tcp, 31000),
            (Protocol::Sctp, 31000),
        ],
    )
}

#[test]
fn main_program_renders_the_expected_objects() {
    let objects = render_clean(&main_program(), &Options::default());
    assert_eq!(
        names(&objects),
        [
            "data/data-app-db-ingress",
            "data/data-isolate",
            "monitoring/monitoring-all-pods-egress-deny",
            "monitoring/monitoring-all-pods-ingress-deny",
            "prod/prod-all-pods-egress",
            "prod/prod-all-pods-egress-deny",
            "prod/prod-all-pods-ingress",
            "prod/prod-app-backend-egress",
            "prod/prod-app-backend-ingress",
            "prod/prod-app-frontend-egress",
            "prod/prod-isolate",
            "prod/prod-run-test-egress",
        ]
    );

    // Isolation: the empty-rule idiom, with explicit directions.
    assert_eq!(
        find(&objects, "prod-isolate"),
        &json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNetworkPolicy",
            "metadata": {
                "name": "prod-isolate",
                "namespace": "prod",
                "labels": {"app.kubernetes.io/managed-by": "netpolc"},
                "annotations": {
                    "netpolc.dev/intent": "prod/isolate",
                    "netpolc.dev/source": "policies/prod.yaml"
                }
            },
            "spec": {
                "endpointSelector": {},
                "enableDefaultDeny": {"ingress": true, "egress": true},
                "ingress": [{}],
                "egress": [{}]
            }
        })
    );
    assert_eq!(
        find(&objects, "data-isolate")["spec"],
        json!({
            "endpointSelector": {},
            "enableDefaultDeny": {"ingress": true, "egress": false},
            "ingress": [{}]
        })
    );

    // An allow with HTTP rules, never isolating by itself; the peer names its namespace.
    assert_eq!(
        intent_find(&objects, "prod/frontend-to-backend", "egress")["spec"],
        json!({
            "endpointSelector": {"matchLabels": {"k8s:app": "frontend"}},
            "enableDefaultDeny": {"ingress": false, "egress": false},
            "egress": [{
                "toEndpoints": [{"matchLabels": {
                    "k8s:app": "backend",
                    "k8s:io.kubernetes.pod.namespace": "prod"
                }}],
                "toPorts": [{
                    "ports": [{"port": "8080", "protocol": "TCP"}],
                    "rules": {"http": [{"method": "GET", "path": "/api/.*"}]}
                }]
            }]
        })
    );
    // ICMP and TCP of one intent: two rule items.
    assert_eq!(
        intent_find(&objects, "prod/frontend-pings-backend", "ingress")["spec"]["ingress"],
        json!([
            {
                "fromEndpoints": [{"matchLabels": {
                    "k8s:app": "frontend",
                    "k8s:io.kubernetes.pod.namespace": "prod"
                }}],
                "toPorts": [{"ports": [{"port": "8443", "protocol": "TCP"}]}]
            },
            {
                "fromEndpoints": [{"matchLabels": {
                    "k8s:app": "frontend",
                    "k8s:io.kubernetes.pod.namespace": "prod"
                }}],
                "icmps": [{"fields": [{"family": "IPv4", "type": 8}]}]
            }
        ])
    );
    // Namespace labels, pinned to pods; named port lower-cased.
    assert_eq!(
        intent_find(&objects, "prod/monitoring-scrape", "ingress")["spec"],
        json!({
            "endpointSelector": {},
            "enableDefaultDeny": {"ingress": false, "egress": false},
            "ingress": [{
                "fromEndpoints": [{
                    "matchLabels": {"k8s:io.cilium.k8s.namespace.labels.purpose": "monitoring"},
                    "matchExpressions": [
                        {"key": "k8s:io.kubernetes.pod.namespace", "operator": "Exists"}
                    ]
                }],
                "toPorts": [{"ports": [{"port": "metrics", "protocol": "TCP"}]}]
            }]
        })
    );
    // All namespaces, port range.
    assert_eq!(
        intent_find(&objects, "prod/prometheus-anywhere", "ingress")["spec"]["ingress"],
        json!([{
            "fromEndpoints": [{
                "matchLabels": {"k8s:app": "prometheus"},
                "matchExpressions": [
                    {"key": "k8s:io.kubernetes.pod.namespace", "operator": "Exists"}
                ]
            }],
            "toPorts": [{"ports": [{"port": "9100", "endPort": 9102, "protocol": "TCP"}]}]
        }])
    );
    // The DNS allow of pods that use FQDNs carries the DNS proxy rule.
    assert_eq!(
        intent_find(&objects, "prod/allow-dns", "egress")["spec"]["egress"],
        json!([{
            "toEndpoints": [{"matchLabels": {
                "k8s:io.kubernetes.pod.namespace": "kube-system",
                "k8s:k8s-app": "kube-dns"
            }}],
            "toPorts": [{
                "ports": [
                    {"port": "53", "protocol": "TCP"},
                    {"port": "53", "protocol": "UDP"}
                ],
                "rules": {"dns": [{"matchPattern": "*"}]}
            }]
        }])
    );
    assert_eq!(
        intent_find(&objects, "prod/backend-to-saas", "egress")["spec"]["egress"],
        json!([{
            "toFQDNs": [{"matchName": "api.example.com"}],
            "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]
        }])
    );
    assert_eq!(
        intent_find(&objects, "prod/frontend-to-internet", "egress")["spec"]["egress"][0]
            ["toCIDRSet"],
        json!([{"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.169.254/32"]}])
    );
    assert_eq!(
        intent_find(&objects, "prod/backend-to-apiserver", "egress")["spec"]["egress"][0]
            ["toEntities"],
        json!(["kube-apiserver"])
    );
    assert_eq!(
        intent_find(&objects, "prod/backend-to-node", "egress")["spec"]["egress"][0]["toEntities"],
        json!(["host"])
    );
    assert_eq!(
        intent_find(&objects, "prod/test-to-nodeports", "egress")["spec"]["egress"],
        json!([{
            "toEntities": ["all"],
            "toPorts": [{"ports": [{"port": "30000", "endPort": 32767, "protocol": "TCP"}]}]
        }])
    );
    // Denies: ingressDeny/egressDeny, never isolating; "any port" has no toPorts.
    assert_eq!(
        intent_find(&objects, "monitoring/block-metadata", "egressDeny")["spec"],
        json!({
            "endpointSelector": {},
            "enableDefaultDeny": {"ingress": false, "egress": false},
            "egressDeny": [{"toCIDRSet": [{"cidr": "169.254.169.254/32"}]}]
        })
    );
    assert_eq!(
        intent_find(&objects, "monitoring/no-frontend", "ingressDeny")["spec"]["ingressDeny"],
        json!([{"fromEndpoints": [{"matchLabels": {
            "k8s:app": "frontend",
            "k8s:io.kubernetes.pod.namespace": "prod"
        }}]}])
    );
}

#[test]
fn main_program_means_on_cilium_what_it_means_in_the_ir() {
    let program = main_program();
    let m = main_model();
    let objects = render_clean(&program, &Options::default());
    let allowed = assert_matches_intended(&program, &m, &objects);
    assert!(allowed > 20, "{allowed}");

    // A few flows spelled out, with what decided them.
    let cilium = evaluator(&objects).expect("evaluator");
    let (fe, be, test, db, prom, dns) = (
        pod_index(&m, "prod", "frontend"),
        pod_index(&m, "prod", "backend"),
        pod_index(&m, "prod", "test"),
        pod_index(&m, "data", "db"),
        pod_index(&m, "monitoring", "prom"),
        pod_index(&m, "kube-system", "coredns"),
    );
    let v = cilium.verdict(&m, &flow(fe, be, Protocol::Tcp, 8080));
    assert!(v.allowed());
    let Side::Allowed(d) = &v.egress else {
        panic!("{}", v.egress)
    };
    assert_eq!(
        d.object,
        "CiliumNetworkPolicy prod/prod-app-frontend-egress"
    );
    // The object merges frontend's egress intents in name order: the two rule items of
    // `frontend-pings-backend` come first, and the decision still names the intent.
    assert_eq!(d.rule, "spec.egress[2]");
    assert_eq!(d.intent.as_deref(), Some("prod/frontend-to-backend"));
    // Isolated, nothing allows: the isolation object is named.
    let v = cilium.verdict(&m, &flow(test, db, Protocol::Tcp, 5432));
    assert_eq!(
        v.egress,
        Side::DefaultDeny(vec!["CiliumNetworkPolicy prod/prod-isolate".into()])
    );
    assert_eq!(
        v.ingress,
        Side::DefaultDeny(vec!["CiliumNetworkPolicy data/data-isolate".into()])
    );
    assert!(cilium
        .verdict(&m, &flow(be, db, Protocol::Tcp, 5432))
        .allowed());
    // Named port on the destination pod.
    assert!(cilium
        .verdict(&m, &flow(prom, be, Protocol::Tcp, 9090))
        .allowed());
    assert!(!cilium
        .verdict(&m, &flow(prom, be, Protocol::Tcp, 8080))
        .allowed());
    // Deny on an open side; the rest of the open side stays open.
    let v = cilium.verdict(&m, &flow(prom, ext("169.254.169.254"), Protocol::Tcp, 443));
    let Side::Denied(d) = &v.egress else {
        panic!("{}", v.egress)
    };
    assert_eq!(d.rule, "spec.egressDeny[0]");
    assert_eq!(
        cilium
            .verdict(&m, &flow(prom, ext("8.8.8.8"), Protocol::Tcp, 443))
            .egress,
        Side::Open
    );
    assert!(!cilium
        .verdict(&m, &flow(fe, prom, Protocol::Tcp, 9090))
        .allowed());
    assert!(
        cilium
            .verdict(&m, &flow(be, prom, Protocol::Tcp, 9090))
            .egress
            == Side::DefaultDeny(vec!["CiliumNetworkPolicy prod/prod-isolate".into()])
    );
    // Deny beats the "any peer" allow of the same pod.
    assert!(cilium
        .verdict(&m, &flow(test, ext("8.8.8.8"), Protocol::Tcp, 31000))
        .allowed());
    assert!(!cilium
        .verdict(
            &m,
            &flow(test, ext("169.254.169.254"), Protocol::Tcp, 31000)
        )
        .allowed());
    // CIDR rules match external addresses only; the API server by entity and by CIDR.
    assert!(cilium
        .verdict(&m, &flow(fe, ext("8.8.8.8"), Protocol::Tcp, 443))
        .allowed());
    assert!(cilium
        .verdict(&m, &flow(fe, ext("192.0.2.1"), Protocol::Tcp, 443))
        .allowed());
    assert!(cilium
        .verdict(&m, &flow(be, ext("192.0.2.1"), Protocol::Tcp, 6443))
        .allowed());
    assert!(!cilium
        .verdict(&m, &flow(be, ext("8.8.8.8"), Protocol::Tcp, 6443))
        .allowed());
    assert!(cilium
        .verdict(&m, &flow(fe, dns, Protocol::Udp, 53))
        .allowed());
    // SCTP is part of "any protocol" only where a rule says so.
    assert!(!cilium
        .verdict(&m, &flow(test, ext("8.8.8.8"), Protocol::Sctp, 31000))
        .allowed());
}

#[test]
fn icmp_rules_are_evaluated_by_type() {
    // ICMP flows are not part of the IR's model (its flows use ported protocols), so
    // the ICMP rule is checked here on its own: the flow's port stands for the type.
    let program = main_program();
    let m = main_model();
    let cilium = evaluator(&render(&program, &Options::default())).expect("evaluator");
    let (fe, be) = (
        pod_index(&m, "prod", "frontend"),
        pod_index(&m, "prod", "backend"),
    );
    let echo = cilium.verdict(&m, &flow(fe, be, Protocol::Icmp, 8));
    assert!(echo.ingress.allows(), "{}", echo.ingress);
    assert!(!cilium
        .verdict(&m, &flow(fe, be, Protocol::Icmp, 0))
        .ingress
        .allows());
    assert!(!cilium
        .verdict(&m, &flow(fe, be, Protocol::IcmpV6, 8))
        .ingress
        .allows());
}

// ---------------------------------------------------------------------------------------
// Cluster scope.

fn cluster_program() -> Program {
    let mut p = Program::default();
    let scope = Scope::Cluster(["a".to_string(), "b".to_string()].into());
    for ns in ["a", "b"] {
        p.namespaces.insert(
            ns.to_string(),
            ManagedNamespace {
                name: ns.to_string(),
                labels: labels(&[(NAMESPACE_NAME_LABEL, ns)]),
                isolated: [Direction::Egress].into(),
                origin: origin("baseline", "isolate"),
            },
        );
    }
    p.isolations.push(Isolation {
        scope: scope.clone(),
        direction: Direction::Egress,
        origin: origin("baseline", "isolate"),
    });
    let subject = |pods: &[(&str, &str)]| Subject {
        scope: scope.clone(),
        pods: sel(pods),
    };
    p.rules.push(rule(RuleSpec {
        set: "baseline",
        intent: "allow-dns",
        subject: subject(ALL),
        direction: Direction::Egress,
        action: Action::Allow,
        peer: Peer::pods_in("kube-system", sel(&[("k8s-app", "kube-dns")])),
        ports: ports(&[udp(53)]),
    }));
    p.rules.push(rule(RuleSpec {
        set: "baseline",
        intent: "web-to-api",
        subject: subject(&[("tier", "web")]),
        direction: Direction::Egress,
        action: Action::Allow,
        peer: Peer::pods_in("b", sel(&[("tier", "api")])),
        ports: ports(&[tcp(80)]),
    }));
    p.rules.push(rule(RuleSpec {
        set: "baseline",
        intent: "block-metadata",
        subject: subject(ALL),
        direction: Direction::Egress,
        action: Action::Deny,
        peer: cidr("169.254.169.254/32", &[]),
        ports: Ports::Any,
    }));
    p.canonicalise();
    p
}

#[test]
fn cluster_scope_becomes_one_ccnp_per_object() {
    let program = cluster_program();
    let objects = render_clean(&program, &Options::default());
    assert_eq!(
        names(&objects),
        [
            "-/baseline-all-pods-egress",
            "-/baseline-all-pods-egress-deny",
            "-/baseline-isolate",
            "-/baseline-tier-web-egress",
        ]
    );
    let iso = find(&objects, "baseline-isolate");
    assert_eq!(iso["kind"], "CiliumClusterwideNetworkPolicy");
    assert!(iso["metadata"].get("namespace").is_none());
    assert_eq!(
        iso["spec"],
        json!({
            "endpointSelector": {"matchExpressions": [
                {"key": "k8s:io.kubernetes.pod.namespace", "operator": "In", "values": ["a", "b"]}
            ]},
            "enableDefaultDeny": {"ingress": false, "egress": true},
            "egress": [{}]
        })
    );
    assert_eq!(
        intent_find(&objects, "baseline/web-to-api", "egress")["spec"]["endpointSelector"],
        json!({
            "matchLabels": {"k8s:tier": "web"},
            "matchExpressions": [
                {"key": "k8s:io.kubernetes.pod.namespace", "operator": "In", "values": ["a", "b"]}
            ]
        })
    );

    let m = model(
        &[("a", &[]), ("b", &[]), ("c", &[]), ("kube-system", &[])],
        vec![
            pod("a", "web", &[("tier", "web")], "10.244.1.1", &[]),
            pod("b", "api", &[("tier", "api")], "10.244.2.1", &[]),
            pod("b", "web", &[("tier", "web")], "10.244.2.2", &[]),
            pod("c", "web", &[("tier", "web")], "10.244.3.1", &[]),
            pod("c", "api", &[("tier", "api")], "10.244.3.2", &[]),
            pod(
                "kube-system",
                "dns",
                &[("k8s-app", "kube-dns")],
                "10.244.4.1",
                &[],
            ),
        ],
        &["8.8.8.8", "169.254.169.254"],
        &[],
        &[
            (Protocol::Tcp, 80),
            (Protocol::Udp, 53),
            (Protocol::Tcp, 443),
        ],
    );
    assert_matches_intended(&program, &m, &objects);
    let cilium = evaluator(&objects).expect("evaluator");
    // Namespace c is outside the scope: open, and not hit by the deny.
    let c_web = pod_index(&m, "c", "web");
    assert_eq!(
        cilium
            .verdict(&m, &flow(c_web, ext("169.254.169.254"), Protocol::Tcp, 443))
            .egress,
        Side::Open
    );
    let a_web = pod_index(&m, "a", "web");
    let Side::DefaultDeny(by) = cilium
        .verdict(&m, &flow(a_web, ext("8.8.8.8"), Protocol::Tcp, 443))
        .egress
    else {
        panic!("a/web egress should be isolated")
    };
    assert_eq!(by, ["CiliumClusterwideNetworkPolicy baseline-isolate"]);
}

// ---------------------------------------------------------------------------------------
// Splitting, SCTP, several subjects per intent, selector operators.

#[test]
fn many_ports_and_all_icmp_types_are_split_into_items_of_forty() {
    let mut p = Program::default();
    managed(&mut p, "n", &[], &[Direction::Egress]);
    let mut many: Vec<PortMatch> = (1000..1045).map(tcp).collect();
    many.push(PortMatch {
        protocol: Protocol::IcmpV6,
        port: PortSpec::All,
    });
    p.rules.push(rule(RuleSpec {
        set: "n",
        intent: "many",
        subject: in_ns("n", ALL),
        direction: Direction::Egress,
        action: Action::Allow,
        peer: Peer::Any,
        ports: ports(&many),
    }));
    p.canonicalise();
    let objects = render_clean(&p, &Options::default());
    let egress = &intent_find(&objects, "n/many", "egress")["spec"]["egress"];
    let to_ports = egress[0]["toPorts"].as_array().expect("toPorts");
    assert_eq!(to_ports.len(), 2);
    assert_eq!(to_ports[0]["ports"].as_array().map(Vec::len), Some(40));
    assert_eq!(to_ports[1]["ports"].as_array().map(Vec::len), Some(5));
    let icmps = egress[1]["icmps"].as_array().expect("icmps");
    assert_eq!(icmps.len(), 7);
    let types: usize = icmps
        .iter()
        .map(|i| i["fields"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(types, 256);
    assert_eq!(icmps[0]["fields"][0], json!({"family": "IPv6", "type": 0}));
}

#[test]
fn sctp_needs_the_option() {
    let mut p = Program::default();
    managed(&mut p, "n", &[], &[Direction::Egress]);
    p.rules.push(rule(RuleSpec {
        set: "n",
        intent: "sctp",
        subject: in_ns("n", ALL),
        direction: Direction::Egress,
        action: Action::Allow,
        peer: Peer::Any,
        ports: ports(&[PortMatch::single(Protocol::Sctp, 3868)]),
    }));
    p.canonicalise();
    let d = check(&p, &Options::default());
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, codes::SCTP_DISABLED);
    let objects = render_clean(&p, &Options { sctp: true });
    assert_eq!(
        intent_find(&objects, "n/sctp", "egress")["spec"]["egress"][0]["toPorts"][0]["ports"],
        json!([{"port": "3868", "protocol": "SCTP"}])
    );
}

#[test]
fn several_subjects_and_operators() {
    // One intent split into two subject pieces (as deny subtraction produces), with
    // NotIn/DoesNotExist requirements that must not reach non-pod identities.
    let mut p = Program::default();
    managed(&mut p, "n", &[], &Direction::BOTH);
    managed(&mut p, "m", &[("team", "x")], &[]);
    let piece = |pods: LabelSelector| Subject {
        scope: Scope::Namespace("n".into()),
        pods,
    };
    let peer = Peer::Pods {
        namespaces: LabelSelector::from_requirements([Requirement::not_in(
            NAMESPACE_NAME_LABEL,
            ["kube-system"],
        )])
        .expect("satisfiable"),
        pods: LabelSelector::from_requirements([Requirement::does_not_exist("quarantined")])
            .expect("satisfiable"),
    };
    for pods in [
        sel(&[("app", "a")]),
        LabelSelector::from_requirements([Requirement::is_in("app", ["b", "c"])]).expect("ok"),
    ] {
        p.rules.push(rule(RuleSpec {
            set: "n",
            intent: "out",
            subject: piece(pods),
            direction: Direction::Egress,
            action: Action::Allow,
            peer: peer.clone(),
            ports: Ports::Any,
        }));
    }
    p.canonicalise();
    let objects = render_clean(&p, &Options::default());
    assert_eq!(
        names(&objects),
        ["n/n-app-a-egress", "n/n-app-in-b-c-egress", "n/n-isolate"]
    );
    assert_eq!(
        find(&objects, "n-app-in-b-c-egress")["spec"]["endpointSelector"],
        json!({"matchExpressions": [
            {"key": "k8s:app", "operator": "In", "values": ["b", "c"]}
        ]})
    );
    assert_eq!(
        find(&objects, "n-app-a-egress")["spec"]["egress"][0]["toEndpoints"],
        json!([{"matchExpressions": [
            {"key": "k8s:io.kubernetes.pod.namespace", "operator": "NotIn", "values": ["kube-system"]},
            {"key": "k8s:io.kubernetes.pod.namespace", "operator": "Exists"},
            {"key": "k8s:quarantined", "operator": "DoesNotExist"}
        ]}])
    );
    let m = model(
        &[("n", &[]), ("m", &[("team", "x")]), ("kube-system", &[])],
        vec![
            pod("n", "a", &[("app", "a")], "10.244.1.1", &[]),
            pod("n", "c", &[("app", "c")], "10.244.1.2", &[]),
            pod("n", "z", &[("app", "z")], "10.244.1.3", &[]),
            pod("m", "q", &[("quarantined", "yes")], "10.244.2.1", &[]),
            pod("m", "ok", &[], "10.244.2.2", &[]),
            pod("kube-system", "dns", &[], "10.244.3.1", &[]),
        ],
        &["8.8.8.8"],
        &[],
        &[(Protocol::Tcp, 80)],
    );
    assert_matches_intended(&p, &m, &objects);
    // Without the namespace pin, the NotIn/DoesNotExist selector would also match the
    // world identity.
    let cilium = evaluator(&objects).expect("evaluator");
    let a = pod_index(&m, "n", "a");
    assert!(!cilium
        .verdict(&m, &flow(a, ext("8.8.8.8"), Protocol::Tcp, 80))
        .allowed());
}

// ---------------------------------------------------------------------------------------
// The capability check.

fn one_rule_program(r: Rule, isolated: &[Direction]) -> Program {
    let mut p = Program::default();
    managed(&mut p, "n", &[], isolated);
    p.rules.push(r);
    p.canonicalise();
    p
}

fn codes_of(p: &Program) -> Vec<(&'static str, Severity)> {
    check(p, &Options::default())
        .iter()
        .map(|d| (d.code, d.severity))
        .collect()
}

fn egress_allow(peer: Peer, ports: Ports) -> Rule {
    rule(RuleSpec {
        set: "n",
        intent: "x",
        subject: in_ns("n", ALL),
        direction: Direction::Egress,
        action: Action::Allow,
        peer,
        ports,
    })
}

#[test]
fn check_refuses_labels_cilium_drops() {
    let mut r = egress_allow(
        Peer::Pods {
            namespaces: sel(&[("node.beta.kubernetes.io/zone", "a")]),
            pods: sel(&[("statefulset.kubernetes.io/pod-name", "db-0")]),
        },
        Ports::Any,
    );
    r.subject.pods = sel(&[("pod-template-hash", "abc")]);
    let p = one_rule_program(r, &[Direction::Egress]);
    let d = check(&p, &Options::default());
    assert_eq!(d.len(), 3, "{d:#?}");
    assert!(d
        .iter()
        .all(|d| d.code == codes::EXCLUDED_LABEL && d.is_error()));
    assert_eq!(
        d[0].message,
        "intent `n/x` selects pods by label `pod-template-hash`, which cilium leaves out of security identities"
    );
    assert_eq!(d[0].primary_span(), Some(Span::new(FileId(0), 10, 20)));
    assert!(d[0].notes[0].starts_with("backend `cilium`: "));
    assert!(d[0].help.is_some());
    // The namespace-name label is never a problem: it maps to the namespace key.
    let ok = one_rule_program(
        egress_allow(
            Peer::pods_in("kube-system", sel(&[("app", "x")])),
            Ports::Any,
        ),
        &[Direction::Egress],
    );
    assert!(check(&ok, &Options::default()).is_empty());
}

#[test]
fn check_warns_on_cidrs_overlapping_the_cluster() {
    let p = one_rule_program(
        egress_allow(cidr("10.244.1.0/24", &[]), Ports::Any),
        &[Direction::Egress],
    );
    assert_eq!(
        codes_of(&p),
        [(codes::CIDR_OVERLAPS_CLUSTER, Severity::Warning)]
    );
    // Carved out: no warning.
    let p = one_rule_program(
        egress_allow(cidr("0.0.0.0/0", &["10.0.0.0/8"]), Ports::Any),
        &[Direction::Egress],
    );
    assert_eq!(codes_of(&p), []);
    // Partly carved out: still overlapping.
    let p = one_rule_program(
        egress_allow(cidr("10.0.0.0/8", &["10.244.1.0/24"]), Ports::Any),
        &[Direction::Egress],
    );
    assert_eq!(
        codes_of(&p),
        [(codes::CIDR_OVERLAPS_CLUSTER, Severity::Warning)]
    );
}

#[test]
fn check_refuses_l7_and_fqdn_where_cilium_cannot_have_them() {
    let http = vec![HttpRule {
        method: Some("GET".into()),
        path: None,
    }];
    let e = Severity::Error;
    // HTTP on a deny.
    let mut r = egress_allow(Peer::Any, ports(&[tcp(80)]));
    r.action = Action::Deny;
    r.http = http.clone();
    assert_eq!(
        codes_of(&one_rule_program(r, &[])),
        [(codes::L7_ON_DENY, e)]
    );
    // FQDN on a deny.
    let mut r = egress_allow(Peer::Fqdn("a.example".into()), ports(&[tcp(80)]));
    r.action = Action::Deny;
    assert_eq!(
        codes_of(&one_rule_program(r, &[])),
        [(codes::L7_ON_DENY, e)]
    );
    // FQDN on ingress.
    let mut r = egress_allow(Peer::Fqdn("a.example".into()), ports(&[tcp(80)]));
    r.direction = Direction::Ingress;
    assert_eq!(
        codes_of(&one_rule_program(r, &[Direction::Ingress])),
        [(codes::FQDN_ON_INGRESS, e)]
    );
    // FQDN without a DNS allow for its pods.
    let r = egress_allow(Peer::Fqdn("*.example.com".into()), ports(&[tcp(443)]));
    assert_eq!(
        codes_of(&one_rule_program(r, &[Direction::Egress])),
        [(codes::FQDN_WITHOUT_DNS, e)]
    );
    // A DNS allow for other pods only, or without port 53 on its own, does not count.
    for (pods, dns_ports) in [
        (&[("app", "other")][..], ports(&[udp(53)])),
        (ALL, Ports::Any),
        (
            ALL,
            ports(&[PortMatch {
                protocol: Protocol::Udp,
                port: PortSpec::Range { start: 1, end: 100 },
            }]),
        ),
    ] {
        let mut p = one_rule_program(
            egress_allow(Peer::Fqdn("a.example".into()), ports(&[tcp(443)])),
            &[Direction::Egress],
        );
        let mut dns = egress_allow(
            Peer::pods_in("kube-system", sel(&[("k8s-app", "kube-dns")])),
            dns_ports,
        );
        dns.subject.pods = sel(pods);
        p.rules.push(dns);
        p.canonicalise();
        assert_eq!(codes_of(&p), [(codes::FQDN_WITHOUT_DNS, e)]);
    }
    // Invalid name.
    let mut p = one_rule_program(
        egress_allow(Peer::Fqdn("bad name.example".into()), ports(&[tcp(443)])),
        &[Direction::Egress],
    );
    p.rules.push(egress_allow(
        Peer::pods_in("kube-system", sel(&[("k8s-app", "kube-dns")])),
        ports(&[udp(53)]),
    ));
    p.canonicalise();
    assert_eq!(codes_of(&p), [(codes::INVALID_FQDN, e)]);
    // HTTP on UDP, on all ports, on any port.
    for bad in [
        ports(&[udp(80)]),
        ports(&[PortMatch {
            protocol: Protocol::Tcp,
            port: PortSpec::All,
        }]),
        Ports::Any,
    ] {
        let mut r = egress_allow(Peer::Any, bad);
        r.http = http.clone();
        assert_eq!(
            codes_of(&one_rule_program(r, &[Direction::Egress])),
            [(codes::HTTP_NEEDS_TCP_PORTS, e)]
        );
    }
    // ICMP code.
    let r = egress_allow(
        Peer::Any,
        ports(&[PortMatch {
            protocol: Protocol::Icmp,
            port: PortSpec::Icmp {
                icmp_type: 3,
                code: Some(4),
            },
        }]),
    );
    assert_eq!(
        codes_of(&one_rule_program(r, &[Direction::Egress])),
        [(codes::ICMP_CODE, e)]
    );
}

#[test]
fn render_fails_closed_when_called_despite_errors() {
    // FQDN deny: denies every peer on those ports.
    let mut r = egress_allow(Peer::Fqdn("a.example".into()), ports(&[tcp(443)]));
    r.action = Action::Deny;
    let objects = render(&one_rule_program(r, &[]), &Options::default());
    assert_eq!(
        objects[0]["spec"]["egressDeny"],
        json!([{"toEntities": ["all"], "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]}])
    );
    // FQDN ingress allow: dropped.
    let mut r = egress_allow(Peer::Fqdn("a.example".into()), ports(&[tcp(443)]));
    r.direction = Direction::Ingress;
    let objects = render(
        &one_rule_program(r, &[Direction::Ingress]),
        &Options::default(),
    );
    assert_eq!(names(&objects), ["n/n-isolate"]);
    // HTTP deny: the whole port is denied.
    let mut r = egress_allow(Peer::Any, ports(&[tcp(80)]));
    r.action = Action::Deny;
    r.http = vec![HttpRule {
        method: Some("POST".into()),
        path: None,
    }];
    let objects = render(&one_rule_program(r, &[]), &Options::default());
    assert_eq!(
        objects[0]["spec"]["egressDeny"][0]["toPorts"],
        json!([{"ports": [{"port": "80", "protocol": "TCP"}]}])
    );
    assert!(objects.iter().all(|o| validate(o).is_empty()));
}

// ---------------------------------------------------------------------------------------
// The evaluator on hand-written manifests.

/// The seed's hand-written NetworkPolicies (`tests/fixtures/seed/seed-policies.yaml`).
fn seed_policies() -> Vec<Value> {
    let np = |name: &str, spec: Value| {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": "production"},
            "spec": spec,
        })
    };
    let kube_system = json!({"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}});
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
                    "to": [{"namespaceSelector": kube_system}],
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
                    {"to": [{"namespaceSelector": kube_system}],
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
    model(
        &[
            ("production", &[]),
            ("kube-system", &[]),
            ("monitoring", &[("purpose", "monitoring")]),
        ],
        vec![
            pod(
                "production",
                "frontend",
                &[("app", "frontend")],
                "10.244.1.1",
                &[],
            ),
            pod(
                "production",
                "backend",
                &[("app", "backend")],
                "10.244.1.2",
                &[],
            ),
            pod(
                "production",
                "database",
                &[("app", "database")],
                "10.244.1.3",
                &[],
            ),
            pod(
                "production",
                "test-pod",
                &[("run", "test-pod")],
                "10.244.1.4",
                &[],
            ),
            pod(
                "kube-system",
                "coredns",
                &[("k8s-app", "kube-dns")],
                "10.244.2.1",
                &[],
            ),
            pod(
                "monitoring",
                "prometheus",
                &[("app", "prometheus")],
                "10.244.3.1",
                &[],
            ),
        ],
        &["8.8.8.8", "169.254.169.254", "203.0.113.10"],
        &[],
        &[
            (Protocol::Udp, 53),
            (Protocol::Tcp, 443),
            (Protocol::Tcp, 5432),
            (Protocol::Tcp, 8080),
            (Protocol::Tcp, 9090),
        ],
    )
}

#[test]
fn seed_network_policies_on_cilium() {
    let m = seed_model();
    let cilium = evaluator(&seed_policies()).expect("evaluator accepts NetworkPolicies");
    let p = |n: &str| pod_index(&m, "production", n);
    // Trap (a): the ingress allow alone does not let frontend connect; the 0.0.0.0/0
    // ipBlock allow does not match pods on Cilium.
    let v = cilium.verdict(&m, &flow(p("frontend"), p("backend"), Protocol::Tcp, 8080));
    assert!(!v.allowed());
    let Side::DefaultDeny(by) = &v.egress else {
        panic!("{}", v.egress)
    };
    assert!(by.contains(&"NetworkPolicy production/default-deny-all".to_string()));
    let Side::Allowed(d) = &v.ingress else {
        panic!("{}", v.ingress)
    };
    assert_eq!(d.object, "NetworkPolicy production/backend-allow-frontend");
    assert_eq!(d.rule, "spec.ingress[0]");
    // Every production pod reaches 8.8.8.8:443 (through block-metadata's allow, which is
    // trap (b): it undoes the backend's egress restriction), but not the metadata address.
    for name in ["frontend", "backend", "database", "test-pod"] {
        let v = cilium.verdict(&m, &flow(p(name), ext("8.8.8.8"), Protocol::Tcp, 443));
        assert!(v.allowed(), "{name}: {}", v.egress);
        let Side::Allowed(d) = &v.egress else {
            panic!("{}", v.egress)
        };
        assert_eq!(d.object, "NetworkPolicy production/block-metadata");
        assert!(
            !cilium
                .verdict(
                    &m,
                    &flow(p(name), ext("169.254.169.254"), Protocol::Tcp, 443)
                )
                .allowed(),
            "{name}"
        );
    }
    // A pod without labels cannot reach the database; the backend can (restrict-egress
    // and database-allow-backend).
    assert!(!cilium
        .verdict(&m, &flow(p("test-pod"), p("database"), Protocol::Tcp, 5432))
        .allowed());
    assert!(cilium
        .verdict(&m, &flow(p("backend"), p("database"), Protocol::Tcp, 5432))
        .allowed());
    // DNS and monitoring work.
    let dns = pod_index(&m, "kube-system", "coredns");
    assert!(cilium
        .verdict(&m, &flow(p("frontend"), dns, Protocol::Udp, 53))
        .allowed());
    let prom = pod_index(&m, "monitoring", "prometheus");
    assert!(cilium
        .verdict(&m, &flow(prom, p("backend"), Protocol::Tcp, 9090))
        .allowed());
    assert!(!cilium
        .verdict(&m, &flow(prom, p("backend"), Protocol::Tcp, 8080))
        .allowed());
    // Ingress from outside is isolated by default-deny-all.
    assert!(!cilium
        .verdict(
            &m,
            &flow(ext("8.8.8.8"), p("frontend"), Protocol::Tcp, 8080)
        )
        .allowed());
}

fn cnp(ns: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    })
}

fn ccnp(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    })
}

fn small_model() -> ClusterModel {
    model(
        &[("a", &[("team", "x")]), ("b", &[("team", "x")]), ("c", &[])],
        vec![
            pod("a", "web", &[("app", "web")], "10.244.1.1", &[]),
            pod("a", "api", &[("app", "api")], "10.244.1.2", &[]),
            pod("b", "api", &[("app", "api")], "10.244.2.1", &[]),
            pod("c", "api", &[("app", "api")], "10.244.3.1", &[]),
        ],
        &["8.8.8.8", "192.0.2.1"],
        &["192.0.2.1"],
        &[(Protocol::Tcp, 80)],
    )
}

/// Whether `a/web` may send to each of `a/api`, `b/api`, `c/api`, 8.8.8.8 and the API
/// server (egress side only).
fn web_egress(objects: Vec<Value>) -> [bool; 5] {
    let m = small_model();
    let cilium = evaluator(&objects).expect("evaluator");
    let web = pod_index(&m, "a", "web");
    let to = [
        pod_index(&m, "a", "api"),
        pod_index(&m, "b", "api"),
        pod_index(&m, "c", "api"),
        ext("8.8.8.8"),
        ext("192.0.2.1"),
    ];
    to.map(|dst| {
        cilium
            .verdict(&m, &flow(web, dst, Protocol::Tcp, 80))
            .egress
            .allows()
    })
}

#[test]
fn cilium_namespace_scoping_of_peers() {
    let web = json!({"matchLabels": {"app": "web"}});
    let to = |sel: Value| {
        cnp(
            "a",
            "p",
            json!({"endpointSelector": web, "egress": [{"toEndpoints": [sel]}]}),
        )
    };
    // A bare pod selector in a CNP is pinned to the policy's namespace.
    assert_eq!(
        web_egress(vec![to(json!({"matchLabels": {"app": "api"}}))]),
        [true, false, false, false, false]
    );
    // `{}` in a CNP: every pod of the namespace, not everything.
    assert_eq!(
        web_egress(vec![to(json!({}))]),
        [true, false, false, false, false]
    );
    // An explicit namespace (any key form) is kept.
    assert_eq!(
        web_egress(vec![to(
            json!({"matchLabels": {"io.kubernetes.pod.namespace": "b"}})
        )]),
        [false, true, false, false, false]
    );
    // Namespace labels cross namespaces (Cilium >= 1.16).
    assert_eq!(
        web_egress(vec![to(
            json!({"matchLabels": {"k8s:io.cilium.k8s.namespace.labels.team": "x", "app": "api"}})
        )]),
        [true, true, false, false, false]
    );
    // Reserved selectors are left alone.
    assert_eq!(
        web_egress(vec![to(json!({"matchLabels": {"reserved:world": ""}}))]),
        [false, false, false, true, true]
    );
    // In a CCNP, `{}` means every pod of the cluster, never world.
    let ccnp_all = ccnp(
        "p",
        json!({"endpointSelector": web, "egress": [{"toEndpoints": [{}]}]}),
    );
    assert_eq!(web_egress(vec![ccnp_all]), [true, true, true, false, false]);
    // Entities.
    let ent = |e: &str| {
        cnp(
            "a",
            "p",
            json!({"endpointSelector": web, "egress": [{"toEntities": [e]}]}),
        )
    };
    assert_eq!(
        web_egress(vec![ent("world")]),
        [false, false, false, true, true]
    );
    assert_eq!(
        web_egress(vec![ent("cluster")]),
        [true, true, true, false, true]
    );
    assert_eq!(
        web_egress(vec![ent("kube-apiserver")]),
        [false, false, false, false, true]
    );
    assert_eq!(web_egress(vec![ent("all")]), [true; 5]);
    // CIDR rules never match pods, whatever their address.
    let cidr = cnp(
        "a",
        "p",
        json!({"endpointSelector": web, "egress": [{"toCIDR": ["0.0.0.0/0"]}]}),
    );
    assert_eq!(web_egress(vec![cidr]), [false, false, false, true, true]);
    // A CNP's endpointSelector always applies in its own namespace.
    let elsewhere = cnp(
        "b",
        "p",
        json!({"endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "a"}}, "egress": [{}]}),
    );
    assert_eq!(web_egress(vec![elsewhere]), [true; 5]);
}

#[test]
fn cilium_default_deny_and_deny_precedence() {
    let web = json!({"matchLabels": {"app": "web"}});
    // `egress: [{}]` allows nothing and isolates.
    let iso = cnp("a", "iso", json!({"endpointSelector": {}, "egress": [{}]}));
    assert_eq!(web_egress(vec![iso.clone()]), [false; 5]);
    // A deny-only policy also isolates its direction (the gotcha) ...
    let deny = |dd: Value| {
        let mut spec = json!({"endpointSelector": web, "egressDeny": [{"toEntities": ["world"]}]});
        if !dd.is_null() {
            spec["enableDefaultDeny"] = dd;
        }
        cnp("a", "deny", spec)
    };
    assert_eq!(web_egress(vec![deny(Value::Null)]), [false; 5]);
    // ... unless it opts out; then only the deny applies.
    let opt_out = json!({"ingress": false, "egress": false});
    assert_eq!(
        web_egress(vec![deny(opt_out.clone())]),
        [true, true, true, false, false]
    );
    // Any policy requesting default deny wins over one opting out.
    assert_eq!(
        web_egress(vec![deny(opt_out.clone()), iso.clone()]),
        [false; 5]
    );
    // Deny beats allow from another object, even an allow-all.
    let allow_all = cnp(
        "a",
        "all",
        json!({"endpointSelector": {}, "enableDefaultDeny": opt_out, "egress": [{"toEntities": ["all"]}]}),
    );
    assert_eq!(web_egress(vec![iso.clone(), allow_all.clone()]), [true; 5]);
    assert_eq!(
        web_egress(vec![iso, allow_all, deny(json!({"egress": false}))]),
        [true, true, true, false, false]
    );
    // L4-only rule: every peer on those ports.
    let l4 = cnp(
        "a",
        "l4",
        json!({"endpointSelector": web, "egress": [{"toPorts": [{"ports": [{"port": "80", "protocol": "TCP"}]}]}]}),
    );
    assert_eq!(web_egress(vec![l4]), [true; 5]);
    // `specs` rules are evaluated like `spec`; paths name them.
    let specs = json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "two", "namespace": "a"},
        "specs": [
            {"endpointSelector": {}, "egress": [{}]},
            {"endpointSelector": web, "egress": [{"toEntities": ["world"]}]}
        ]
    });
    assert_eq!(
        web_egress(vec![specs.clone()]),
        [false, false, false, true, true]
    );
    let m = small_model();
    let v = evaluator(&[specs]).expect("evaluator").verdict(
        &m,
        &flow(pod_index(&m, "a", "web"), ext("8.8.8.8"), Protocol::Tcp, 80),
    );
    let Side::Allowed(d) = v.egress else {
        panic!("allowed")
    };
    assert_eq!(d.object, "CiliumNetworkPolicy a/two");
    assert_eq!(d.rule, "specs[1].egress[0]");
}

#[test]
fn evaluator_skips_invalid_and_refuses_unknown_objects() {
    // Invalid for the agent (two peer kinds in one rule): not enforced at all.
    let invalid = cnp(
        "a",
        "bad",
        json!({"endpointSelector": {}, "egress": [{"toEndpoints": [{}], "toEntities": ["world"]}]}),
    );
    assert!(!validate(&invalid).is_empty());
    assert_eq!(web_egress(vec![invalid]), [true; 5]);
    // Invalid objects are skipped whatever else they contain.
    let invalid_with_services = cnp(
        "a",
        "bad",
        json!({"endpointSelector": {}, "egress": [{"toServices": [{"k8sService": {"serviceName": "x"}}],
                                                   "toPorts": [{"ports": [{"port": "80"}]}]}]}),
    );
    assert_eq!(web_egress(vec![invalid_with_services]), [true; 5]);
    // Fields the evaluator does not model are refused.
    let services = cnp(
        "a",
        "svc",
        json!({"endpointSelector": {}, "egress": [{"toServices": [{"k8sService": {"serviceName": "x", "namespace": "a"}}]}]}),
    );
    let err = evaluator(&[services]).err().expect("refused");
    assert!(err.contains("toServices"), "{err}");
    let err =
        evaluator(&[json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})])
            .err()
            .expect("refused");
    assert!(err.contains("ConfigMap"), "{err}");
}

#[test]
fn label_filter_applies_to_identities() {
    // A selector on a label Cilium drops from identities never matches.
    let m = model(
        &[("a", &[])],
        vec![
            pod("a", "web", &[("app", "web")], "10.244.1.1", &[]),
            pod(
                "a",
                "db",
                &[("statefulset.kubernetes.io/pod-name", "db-0")],
                "10.244.1.2",
                &[],
            ),
        ],
        &[],
        &[],
        &[(Protocol::Tcp, 80)],
    );
    let policy = cnp(
        "a",
        "p",
        json!({"endpointSelector": {"matchLabels": {"app": "web"}}, "egress": [{"toEndpoints": [
            {"matchLabels": {"statefulset.kubernetes.io/pod-name": "db-0"}}
        ]}]}),
    );
    let cilium = evaluator(&[policy]).expect("evaluator");
    let v = cilium.verdict(
        &m,
        &flow(
            pod_index(&m, "a", "web"),
            pod_index(&m, "a", "db"),
            Protocol::Tcp,
            80,
        ),
    );
    assert!(!v.allowed());
}

#[test]
fn check_is_clean_and_output_stable_for_the_seed_like_program() {
    // The seed scenario as the front end would lower it: zero diagnostics, and every
    // object carries its intent.
    let p = main_program();
    let objects = render(&p, &Options::default());
    let intents: BTreeSet<&str> = objects
        .iter()
        .filter_map(|o| o["metadata"]["annotations"]["netpolc.dev/intent"].as_str())
        .collect();
    assert!(intents.contains("prod/allow-dns"));
    assert!(intents.contains("prod/isolate"));
    assert!(intents.contains("monitoring/no-frontend"));
}

#[test]
fn kubernetes_policies_convert_like_the_agent_does() {
    let np = |spec: Value| {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": "a"},
            "spec": spec,
        })
    };
    let web = json!({"matchLabels": {"app": "web"}});
    // Egress rules are enforced even when `policyTypes` names only Ingress.
    let only_ingress_type = np(json!({
        "podSelector": web,
        "policyTypes": ["Ingress"],
        "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "api"}}}]}]
    }));
    assert_eq!(
        web_egress(vec![only_ingress_type]),
        [true, false, false, false, false]
    );
    // An empty namespace selector: every pod of every namespace, never the world.
    let all_ns = np(json!({
        "podSelector": web,
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {}}]}]
    }));
    assert_eq!(web_egress(vec![all_ns]), [true, true, true, false, false]);
    // A namespace selector on labels is not pinned to the policy's namespace.
    let team = np(json!({
        "podSelector": web,
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"team": "x"}},
                            "podSelector": {"matchLabels": {"app": "api"}}}]}]
    }));
    assert_eq!(web_egress(vec![team]), [true, true, false, false, false]);
    // No peers: everything; a port with only a protocol: all ports of it.
    let anything_tcp = np(json!({
        "podSelector": web,
        "policyTypes": ["Egress"],
        "egress": [{"ports": [{"protocol": "TCP"}]}]
    }));
    assert_eq!(web_egress(vec![anything_tcp]), [true; 5]);
    // Egress rules without policyTypes: egress is default deny (it has rules), and so is
    // ingress (the agent adds `ingress: [{}]` when policyTypes lacks Egress).
    let m = small_model();
    let untyped =
        np(json!({"podSelector": web, "egress": [{"to": [{"ipBlock": {"cidr": "8.8.8.8/32"}}]}]}));
    let cilium = evaluator(&[untyped]).expect("evaluator");
    let web_pod = pod_index(&m, "a", "web");
    let api = pod_index(&m, "a", "api");
    assert!(!cilium
        .verdict(&m, &flow(api, web_pod, Protocol::Tcp, 80))
        .ingress
        .allows());
    assert!(!cilium
        .verdict(&m, &flow(web_pod, api, Protocol::Tcp, 80))
        .egress
        .allows());
    assert!(cilium
        .verdict(&m, &flow(web_pod, ext("8.8.8.8"), Protocol::Tcp, 80))
        .egress
        .allows());
    // A peer mixing a selector and an ipBlock is refused by the API server: it never
    // reaches an agent, and the shared reader refuses it as on every back end.
    let mixed = np(json!({
        "podSelector": web,
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"podSelector": {}, "ipBlock": {"cidr": "8.8.8.8/32"}}]}]
    }));
    assert_eq!(
        evaluator(&[mixed]).err().unwrap_or_default(),
        "object 0: NetworkPolicy `a/p`: spec.egress[0].to[0]: `ipBlock` cannot be combined \
         with a selector"
    );
}

/// A prepared side tests a peer's namespace requirements once per namespace, on the first
/// pod asked about there; a pod with a label of its own under a key its namespace gives
/// (`io.kubernetes.pod.namespace`, read first by Cilium) answers otherwise, and is tested
/// against every rule: the prepared side answers as `side` does for every end and port.
#[test]
fn a_pod_label_under_a_namespace_key_is_not_taken_for_its_namespace() {
    let m = model(
        &[("shop", &[]), ("lab", &[])],
        vec![
            pod("shop", "db", &[("app", "db")], "10.0.0.1", &[]),
            pod("lab", "plain", &[("app", "web")], "10.0.1.1", &[]),
            pod(
                "lab",
                "posing",
                &[("app", "web"), ("io.kubernetes.pod.namespace", "shop")],
                "10.0.1.2",
                &[],
            ),
        ],
        &["192.0.2.1"],
        &[],
        &[(Protocol::Tcp, 5432)],
    );
    let cnp = json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {
            "endpointSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{
                "fromEndpoints": [{"matchLabels": {
                    "k8s:io.kubernetes.pod.namespace": "shop",
                    "app": "web"
                }}],
                "toPorts": [{"ports": [{"port": "5432", "protocol": "TCP"}]}]
            }]
        }
    });
    let e = evaluator(&[cnp]).expect("evaluator");
    let db = pod_index(&m, "shop", "db");
    let Endpoint::Pod(me) = db else {
        unreachable!("a pod")
    };
    // The plain pod first, so that the namespace's rules are found on it.
    let ends = [
        pod_index(&m, "lab", "plain"),
        pod_index(&m, "lab", "posing"),
        ext("192.0.2.1"),
    ];
    let agreed = prepared_side_agrees(&e, &m, me, Direction::Ingress, &ends, &m.ports);
    assert!(
        agreed.is_ok(),
        "{:?}",
        agreed.map_err(|x| m.flow_name(&x.flow))
    );
    let allowed: Vec<bool> = ends
        .iter()
        .map(|&other| {
            let flow = Flow {
                src: other,
                dst: db,
                protocol: Protocol::Tcp,
                port: 5432,
            };
            e.side(&m, &flow, Direction::Ingress).allows()
        })
        .collect();
    // Cilium reads the pod's own label first: the posing pod is let in, the plain one not.
    assert_eq!(allowed, [false, true, false]);
}

/// Port bits per rule (`CRule::l4_mask`) combined for a prepared side, against the
/// evaluator's flow by flow answer: numbers, ranges, named ports (the destination's own:
/// the other end's on egress), `ANY`, ICMP types, deny rules over allow rules, and more
/// samples than a side answers as bits (`SampleBits::MAX`), answered sample by sample.
#[test]
fn prepared_sides_answer_ports_as_flows_do() {
    let m = model(
        &[("shop", &[]), ("lab", &[])],
        vec![
            pod("shop", "db", &[("app", "db")], "10.0.0.1", &[("sql", 5432)]),
            pod(
                "shop",
                "web",
                &[("app", "web")],
                "10.0.0.2",
                &[("http", 8080)],
            ),
            pod(
                "lab",
                "tool",
                &[("app", "tool")],
                "10.0.1.1",
                &[("http", 8081)],
            ),
        ],
        &["192.0.2.1"],
        &[],
        &[(Protocol::Tcp, 5432), (Protocol::Udp, 53)],
    );
    let cnp = json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "mixed", "namespace": "shop"},
        "spec": {
            "endpointSelector": {},
            "ingress": [
                {"fromEndpoints": [{}],
                 "toPorts": [{"ports": [{"port": "sql", "protocol": "TCP"},
                                        {"port": "8000", "endPort": 8090, "protocol": "ANY"}]}]},
                {"fromEntities": ["world"], "icmps": [{"fields": [{"family": "IPv4", "type": 8}]}]}
            ],
            "ingressDeny": [
                {"fromEndpoints": [{"matchLabels": {"app": "web"}}],
                 "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}
            ],
            "egress": [
                {"toEndpoints": [{"matchExpressions": [{"key": "app", "operator": "Exists"}]}],
                 "toPorts": [{"ports": [{"port": "http", "protocol": "TCP"},
                                        {"port": "53", "protocol": "UDP"}]}]},
                {"toCIDR": ["192.0.2.0/24"]}
            ],
            "egressDeny": [
                {"toCIDR": ["192.0.2.1/32"],
                 "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]}
            ]
        }
    });
    // Not isolating: its allows add nothing, its deny still denies (the bits of a side
    // that is not isolated).
    let open = json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "open", "namespace": "lab"},
        "spec": {
            "endpointSelector": {},
            "enableDefaultDeny": {"ingress": false, "egress": false},
            "ingress": [{"fromEntities": ["all"],
                         "toPorts": [{"ports": [{"port": "8081", "protocol": "TCP"}]}]}],
            "egressDeny": [{"toEntities": ["all"],
                            "toPorts": [{"ports": [{"port": "http", "protocol": "TCP"}]}]}]
        }
    });
    let e = evaluator(&[cnp, open]).expect("evaluator");
    let named: Vec<(Protocol, u16)> = [Protocol::Tcp, Protocol::Udp, Protocol::Icmp]
        .into_iter()
        .flat_map(|p| [8, 53, 443, 5432, 8000, 8080, 8081, 8090, 8091].map(|n| (p, n)))
        .collect();
    let wide: Vec<(Protocol, u16)> = (0..70u16)
        .map(|k| (Protocol::Tcp, 8040 + k))
        .chain([(Protocol::Udp, 53), (Protocol::Icmp, 8)])
        .collect();
    let compared = every_prepared_side_agrees(&e, &m, &[m.ports.clone(), named, wide]);
    assert!(compared.as_ref().is_ok_and(|&n| n > 0), "{compared:?}");
}
