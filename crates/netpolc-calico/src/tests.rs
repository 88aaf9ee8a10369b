//! Tests of the whole back end: hand-built programs are rendered, the JSON is checked,
//! every object is validated and read back through the typed manifests, and the
//! evaluator's verdict on every flow of a small cluster is compared with the intended
//! meaning. Then the evaluator alone, on hand-written Calico and Kubernetes policies.

use crate::types::{GlobalNetworkPolicy, NetworkPolicy, Tier};
use crate::{check, codes, evaluator, render, validate, Options};
use ipnet::IpNet;
use netpolc_ir::eval::{every_prepared_side_agrees, first_disagreements, prepared_side_agrees};
use netpolc_ir::model::{ClusterModel, Endpoint, Evaluator, Flow, Pod, Side};
use netpolc_ir::{
    Action, CidrBlock, Direction, Entity, HttpRule, Isolation, LabelSelector, ManagedNamespace,
    Origin, Peer, PortMatch, PortSpec, Ports, Program, Protocol, Requirement, Rule, Scope, Subject,
    NAMESPACE_NAME_LABEL,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

// ---------------------------------------------------------------------------------------
// Building programs.

fn origin(set: &str, intent: &str) -> Origin {
    Origin {
        file: format!("policies/{set}.yaml"),
        set: set.to_string(),
        intent: intent.to_string(),
        preset: None,
        span: None,
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

fn ns_scope(ns: &str) -> Scope {
    Scope::Namespace(ns.to_string())
}

fn cluster_scope(nss: &[&str]) -> Scope {
    Scope::Cluster(nss.iter().map(|n| n.to_string()).collect())
}

fn subject(scope: &Scope, pods: LabelSelector) -> Subject {
    Subject {
        scope: scope.clone(),
        pods,
    }
}

fn ports(list: &[(Protocol, PortSpec)]) -> Ports {
    Ports::only(list.iter().map(|(protocol, port)| PortMatch {
        protocol: *protocol,
        port: port.clone(),
    }))
}

fn single(protocol: Protocol, port: u16) -> (Protocol, PortSpec) {
    (
        protocol,
        PortSpec::Range {
            start: port,
            end: port,
        },
    )
}

fn cidr(net: &str, except: &[&str]) -> Peer {
    Peer::Cidr(CidrBlock {
        net: net.parse().expect("valid"),
        except: except.iter().map(|e| e.parse().expect("valid")).collect(),
    })
}

struct Builder {
    program: Program,
}

impl Builder {
    fn new() -> Self {
        let mut program = Program::default();
        program.profile.api_server_cidrs = vec!["192.0.2.10/32".parse().expect("valid")];
        Builder { program }
    }

    /// A managed namespace with its labels (the name label is added).
    fn namespace(mut self, name: &str, extra: &[(&str, &str)], isolated: &[Direction]) -> Self {
        let mut l = labels(extra);
        l.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
        self.program.namespaces.insert(
            name.to_string(),
            ManagedNamespace {
                name: name.to_string(),
                labels: l,
                isolated: isolated.iter().copied().collect(),
                origin: origin(name, "isolate"),
            },
        );
        self
    }

    fn isolate(mut self, set: &str, scope: Scope, directions: &[Direction]) -> Self {
        for d in directions {
            self.program.isolations.push(Isolation {
                scope: scope.clone(),
                direction: *d,
                origin: origin(set, "isolate"),
            });
        }
        self
    }

    #[allow(clippy::too_many_arguments)] // Mirrors the IR rule's fields one by one.
    fn rule(
        mut self,
        set: &str,
        intent: &str,
        subject: Subject,
        direction: Direction,
        action: Action,
        peer: Peer,
        ports: Ports,
    ) -> Self {
        self.program.rules.push(Rule {
            subject,
            direction,
            action,
            peer,
            ports,
            http: Vec::new(),
            origin: origin(set, intent).into(),
        });
        self
    }

    /// The program, with the node networks declared (these tests are about rendering;
    /// `address_peers_need_the_node_networks` is about the declaration).
    fn build(mut self) -> Program {
        self.program.canonicalise();
        self.program.profile.nodes_declared = true;
        self.program
    }
}

// ---------------------------------------------------------------------------------------
// The cluster model.

fn model() -> ClusterModel {
    let mut namespaces = BTreeMap::new();
    for (name, extra) in [
        ("production", vec![("env", "prod")]),
        ("staging", vec![("env", "staging")]),
        ("monitoring", vec![("purpose", "monitoring")]),
        ("kube-system", vec![]),
    ] {
        let mut l = labels(&extra);
        l.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
        namespaces.insert(name.to_string(), l);
    }
    let pod =
        |ns: &str, name: &str, l: &[(&str, &str)], ip: &str, named: &[(&str, Protocol, u16)]| Pod {
            namespace: ns.to_string(),
            name: name.to_string(),
            labels: labels(l),
            ip: ip.parse().expect("valid"),
            named_ports: named
                .iter()
                .map(|(n, p, port)| (n.to_string(), (*p, *port)))
                .collect(),
        };
    let mut pods = vec![
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
            &[
                ("http", Protocol::Tcp, 8080),
                ("metrics", Protocol::Tcp, 9090),
            ],
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
            "staging",
            "frontend",
            &[("app", "frontend")],
            "10.244.4.1",
            &[("http", Protocol::Tcp, 3005)],
        ),
        pod(
            "monitoring",
            "prometheus",
            &[("app", "prometheus")],
            "10.244.2.1",
            &[],
        ),
        pod(
            "kube-system",
            "coredns",
            &[("k8s-app", "kube-dns")],
            "10.244.3.1",
            &[],
        ),
    ];
    pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let mut externals: Vec<IpAddr> = [
        "203.0.113.10",
        "203.0.113.99",
        "169.254.169.254",
        "8.8.8.8",
        "192.0.2.10",
    ]
    .iter()
    .map(|s| s.parse().expect("valid"))
    .collect();
    externals.sort();
    let mut ports = vec![
        (Protocol::Tcp, 53),
        (Protocol::Udp, 53),
        (Protocol::Tcp, 443),
        (Protocol::Tcp, 3005),
        (Protocol::Tcp, 5432),
        (Protocol::Tcp, 6443),
        (Protocol::Tcp, 8080),
        (Protocol::Tcp, 9090),
        (Protocol::Udp, 5000),
        (Protocol::Sctp, 3868),
    ];
    ports.sort();
    ClusterModel {
        namespaces,
        pods,
        externals,
        api_server: vec!["192.0.2.10".parse().expect("valid")],
        nodes: Vec::new(),
        ports,
    }
}

fn pod_index(model: &ClusterModel, ns: &str, name: &str) -> usize {
    model
        .pods
        .iter()
        .position(|p| p.namespace == ns && p.name == name)
        .expect("pod in model")
}

// ---------------------------------------------------------------------------------------
// The round trip.

/// Renders, validates, re-reads and evaluates; returns the objects.
fn equivalent(program: &Program, options: &Options) -> Vec<Value> {
    let diagnostics = check(program, options);
    assert!(
        diagnostics.is_empty(),
        "unexpected diagnostics: {diagnostics:#?}"
    );
    let objects = render(program, options);
    assert_eq!(objects, render(program, options), "render is deterministic");
    for o in &objects {
        assert_eq!(validate(o), Vec::<String>::new(), "invalid object {o:#}");
        let back = match o["kind"].as_str() {
            Some("Tier") => {
                serde_json::to_value(serde_json::from_value::<Tier>(o.clone()).expect("reads back"))
            }
            Some("GlobalNetworkPolicy") => serde_json::to_value(
                serde_json::from_value::<GlobalNetworkPolicy>(o.clone()).expect("reads back"),
            ),
            Some("NetworkPolicy") => serde_json::to_value(
                serde_json::from_value::<NetworkPolicy>(o.clone()).expect("reads back"),
            ),
            other => panic!("unexpected kind {other:?}"),
        }
        .expect("serialises");
        assert_eq!(&back, o, "round trip through the types");
    }
    let model = model();
    let calico = match evaluator(&objects) {
        Ok(e) => e,
        Err(e) => panic!("evaluator: {e}"),
    };
    assert!(!model.flows().is_empty());
    let mismatches = first_disagreements(program, &model, &calico, usize::MAX);
    assert!(
        mismatches.is_empty(),
        "mismatches:\n{}",
        mismatches.join("\n")
    );
    objects
}

fn find<'a>(objects: &'a [Value], name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no object {name}"))
}

/// The object holding the `direction` rules of `intent` (`set/intent`), with only that
/// intent's rules: merged objects hold the rules of several intents, told apart by their
/// provenance annotations.
fn intent_find(objects: &[Value], intent: &str, direction: &str) -> Value {
    let mut found: Vec<Value> = Vec::new();
    for o in objects {
        let annotations: BTreeMap<String, String> =
            serde_json::from_value(o["metadata"]["annotations"].clone()).unwrap_or_default();
        let intents = netpolc_ir::provenance::RuleIntents::from_annotations(&annotations);
        let Some(rules) = o["spec"][direction].as_array() else {
            continue;
        };
        let mine: Vec<Value> = rules
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                intents.intent(&format!("spec.{direction}[{i}]")).as_deref() == Some(intent)
            })
            .map(|(_, r)| r.clone())
            .collect();
        if !mine.is_empty() {
            let mut o = o.clone();
            o["spec"][direction] = Value::Array(mine);
            found.push(o);
        }
    }
    assert_eq!(found.len(), 1, "{direction} rules of {intent}: {found:#?}");
    found.remove(0)
}

fn names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| {
            format!(
                "{} {}{}",
                o["kind"].as_str().unwrap_or_default(),
                o["metadata"]["namespace"]
                    .as_str()
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Programs.

/// The seed scenario of the product brief, for namespace `production`.
fn seed() -> Program {
    let prod = ns_scope("production");
    let both = [Direction::Ingress, Direction::Egress];
    let all = || subject(&prod, LabelSelector::all());
    let frontend = || subject(&prod, sel(&[("app", "frontend")]));
    let backend = || subject(&prod, sel(&[("app", "backend")]));
    let database = || subject(&prod, sel(&[("app", "database")]));
    let dns = Peer::Pods {
        namespaces: sel(&[(NAMESPACE_NAME_LABEL, "kube-system")]),
        pods: sel(&[("k8s-app", "kube-dns")]),
    };
    let dns_ports = ports(&[single(Protocol::Tcp, 53), single(Protocol::Udp, 53)]);
    Builder::new()
        .namespace("production", &[("env", "prod")], &both)
        .isolate("production", prod.clone(), &both)
        .rule(
            "production",
            "allow-dns",
            all(),
            Direction::Egress,
            Action::Allow,
            dns,
            dns_ports,
        )
        .rule(
            "production",
            "frontend-to-backend",
            frontend(),
            Direction::Egress,
            Action::Allow,
            Peer::pods_in("production", sel(&[("app", "backend")])),
            ports(&[single(Protocol::Tcp, 8080)]),
        )
        .rule(
            "production",
            "frontend-to-backend",
            backend(),
            Direction::Ingress,
            Action::Allow,
            Peer::pods_in("production", sel(&[("app", "frontend")])),
            ports(&[single(Protocol::Tcp, 8080)]),
        )
        .rule(
            "production",
            "backend-to-database",
            backend(),
            Direction::Egress,
            Action::Allow,
            Peer::pods_in("production", sel(&[("app", "database")])),
            ports(&[single(Protocol::Tcp, 5432)]),
        )
        .rule(
            "production",
            "backend-to-database",
            database(),
            Direction::Ingress,
            Action::Allow,
            Peer::pods_in("production", sel(&[("app", "backend")])),
            ports(&[single(Protocol::Tcp, 5432)]),
        )
        .rule(
            "production",
            "monitoring-scrape",
            all(),
            Direction::Ingress,
            Action::Allow,
            Peer::Pods {
                namespaces: sel(&[("purpose", "monitoring")]),
                pods: LabelSelector::all(),
            },
            ports(&[single(Protocol::Tcp, 9090)]),
        )
        .rule(
            "production",
            "backend-to-partner",
            backend(),
            Direction::Egress,
            Action::Allow,
            cidr("203.0.113.0/24", &[]),
            ports(&[single(Protocol::Tcp, 443)]),
        )
        .rule(
            "production",
            "block-cloud-metadata",
            all(),
            Direction::Egress,
            Action::Deny,
            cidr("169.254.169.254/32", &[]),
            Ports::Any,
        )
        .build()
}

#[test]
fn seed_scenario() {
    let program = seed();
    let objects = equivalent(&program, &Options::default());
    assert_eq!(
        names(&objects),
        vec![
            "Tier netpolc",
            "GlobalNetworkPolicy netpolc.production-all-pods-egress-deny",
            "GlobalNetworkPolicy production-all-pods-egress",
            "GlobalNetworkPolicy production-all-pods-ingress",
            "GlobalNetworkPolicy production-app-backend-egress",
            "GlobalNetworkPolicy production-app-backend-ingress",
            "GlobalNetworkPolicy production-app-database-ingress",
            "GlobalNetworkPolicy production-app-frontend-egress",
            "GlobalNetworkPolicy production-isolate",
        ]
    );
    assert_eq!(
        objects[0],
        json!({
            "apiVersion": "projectcalico.org/v3",
            "kind": "Tier",
            "metadata": {
                "name": "netpolc",
                "labels": {"app.kubernetes.io/managed-by": "netpolc"},
                "annotations": {"argocd.argoproj.io/sync-wave": "-1"}
            },
            "spec": {"order": 100000, "defaultAction": "Pass"}
        })
    );
    assert_eq!(
        objects[1],
        json!({
            "apiVersion": "projectcalico.org/v3",
            "kind": "GlobalNetworkPolicy",
            "metadata": {
                "name": "netpolc.production-all-pods-egress-deny",
                "labels": {"app.kubernetes.io/managed-by": "netpolc"},
                "annotations": {
                    "netpolc.dev/intent": "production/block-cloud-metadata",
                    "netpolc.dev/source": "policies/production.yaml"
                }
            },
            "spec": {
                "tier": "netpolc",
                "order": 1000,
                "selector": "projectcalico.org/namespace == 'production'",
                "types": ["Egress"],
                "egress": [{"action": "Deny", "destination": {"nets": ["169.254.169.254/32"]}}]
            }
        })
    );
    assert_eq!(
        find(&objects, "production-isolate")["spec"],
        json!({
            "tier": "default",
            "order": 1000,
            "selector": "projectcalico.org/namespace == 'production'",
            "types": ["Ingress", "Egress"]
        })
    );
    assert_eq!(
        intent_find(&objects, "production/allow-dns", "egress")["spec"]["egress"],
        json!([
            {
                "action": "Allow",
                "protocol": "TCP",
                "destination": {
                    "selector": "projectcalico.org/orchestrator == 'k8s' && k8s-app == 'kube-dns'",
                    "namespaceSelector": "projectcalico.org/name == 'kube-system'",
                    "ports": [53]
                }
            },
            {
                "action": "Allow",
                "protocol": "UDP",
                "destination": {
                    "selector": "projectcalico.org/orchestrator == 'k8s' && k8s-app == 'kube-dns'",
                    "namespaceSelector": "projectcalico.org/name == 'kube-system'",
                    "ports": [53]
                }
            }
        ])
    );
    assert_eq!(
        intent_find(&objects, "production/monitoring-scrape", "ingress")["spec"]["ingress"],
        json!([{
            "action": "Allow",
            "protocol": "TCP",
            "source": {
                "selector": "projectcalico.org/orchestrator == 'k8s'",
                "namespaceSelector": "purpose == 'monitoring'"
            },
            "destination": {"ports": [9090]}
        }])
    );
    assert_eq!(
        intent_find(&objects, "production/backend-to-partner", "egress")["spec"]["egress"],
        json!([{
            "action": "Allow",
            "protocol": "TCP",
            "destination": {"nets": ["203.0.113.0/24"], "ports": [443]}
        }])
    );

    // The seed's validation expectations, with decisions naming objects and intents.
    let model = model();
    let calico = evaluator(&objects).expect("evaluates");
    let test_pod = pod_index(&model, "production", "test-pod");
    let frontend = pod_index(&model, "production", "frontend");
    let backend = pod_index(&model, "production", "backend");
    let database = pod_index(&model, "production", "database");
    let flow = |src, dst, port| Flow {
        src: Endpoint::Pod(src),
        dst: Endpoint::Pod(dst),
        protocol: Protocol::Tcp,
        port,
    };
    let v = calico.verdict(&model, &flow(test_pod, database, 5432));
    assert!(!v.allowed());
    assert_eq!(
        v.egress,
        Side::DefaultDeny(vec![
            "GlobalNetworkPolicy production-all-pods-egress".to_string(),
            "GlobalNetworkPolicy production-isolate".to_string(),
        ])
    );
    let v = calico.verdict(&model, &flow(frontend, backend, 8080));
    assert!(v.allowed());
    match &v.ingress {
        Side::Allowed(d) => {
            assert_eq!(
                d.object,
                "GlobalNetworkPolicy production-app-backend-ingress"
            );
            assert_eq!(d.rule, "spec.ingress[0]");
            assert_eq!(d.intent.as_deref(), Some("production/frontend-to-backend"));
        }
        other => panic!("unexpected {other}"),
    }
    // Backend's egress is one object merging two intents: each decision names the
    // intent of its own rule.
    let to_partner = Flow {
        src: Endpoint::Pod(backend),
        dst: Endpoint::External("203.0.113.7".parse().expect("valid")),
        protocol: Protocol::Tcp,
        port: 443,
    };
    for (flow, rule, intent) in [
        (
            flow(backend, database, 5432),
            "spec.egress[0]",
            "production/backend-to-database",
        ),
        (
            to_partner,
            "spec.egress[1]",
            "production/backend-to-partner",
        ),
    ] {
        match calico.verdict(&model, &flow).egress {
            Side::Allowed(d) => {
                assert_eq!(
                    d.object,
                    "GlobalNetworkPolicy production-app-backend-egress"
                );
                assert_eq!(d.rule, rule);
                assert_eq!(d.intent.as_deref(), Some(intent));
            }
            other => panic!("unexpected {other}"),
        }
    }
    // Deny beats allow: nothing reaches the metadata address, and the deny is named.
    let metadata = Flow {
        src: Endpoint::Pod(backend),
        dst: Endpoint::External("169.254.169.254".parse().expect("valid")),
        protocol: Protocol::Tcp,
        port: 443,
    };
    match calico.verdict(&model, &metadata).egress {
        Side::Denied(d) => {
            assert_eq!(
                d.object,
                "GlobalNetworkPolicy netpolc.production-all-pods-egress-deny"
            );
            assert_eq!(d.rule, "spec.egress[0]");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn seed_scenario_namespaced() {
    let program = seed();
    let objects = equivalent(&program, &Options { namespaced: true });
    assert!(objects[1..]
        .iter()
        .all(|o| o["kind"] == "NetworkPolicy" && o["metadata"]["namespace"] == "production"));
    let deny = intent_find(&objects, "production/block-cloud-metadata", "egress");
    assert_eq!(deny["spec"]["tier"], "netpolc");
    assert_eq!(deny["spec"]["selector"], "all()");
    assert_eq!(
        intent_find(&objects, "production/frontend-to-backend", "ingress")["spec"]["selector"],
        "app == 'backend'"
    );
}

/// Denies on sides that are not isolated must not isolate anything.
#[test]
fn denies_on_non_isolated_sides() {
    let staging = ns_scope("staging");
    let program = Builder::new()
        .namespace("staging", &[("env", "staging")], &[])
        .rule(
            "staging",
            "no-dns-google",
            subject(&staging, LabelSelector::all()),
            Direction::Egress,
            Action::Deny,
            cidr("8.8.8.8/32", &[]),
            Ports::Any,
        )
        .rule(
            "staging",
            "no-prod-frontend",
            subject(&staging, sel(&[("app", "frontend")])),
            Direction::Ingress,
            Action::Deny,
            Peer::pods_in("production", sel(&[("app", "frontend")])),
            ports(&[single(Protocol::Tcp, 3005)]),
        )
        .build();
    let objects = equivalent(&program, &Options::default());
    assert_eq!(
        names(&objects),
        vec![
            "Tier netpolc",
            "GlobalNetworkPolicy netpolc.staging-all-pods-egress-deny",
            "GlobalNetworkPolicy netpolc.staging-app-frontend-ingress-deny",
        ]
    );
    // Everything else stays open.
    let model = model();
    let calico = evaluator(&objects).expect("evaluates");
    let staging_frontend = pod_index(&model, "staging", "frontend");
    let open = Flow {
        src: Endpoint::Pod(staging_frontend),
        dst: Endpoint::External("203.0.113.10".parse().expect("valid")),
        protocol: Protocol::Udp,
        port: 5000,
    };
    assert_eq!(calico.verdict(&model, &open).egress, Side::Open);
}

/// Cluster scope, cross-namespace peers, namespace selectors by label, and a deny on an
/// isolated side that beats a cluster-wide allow.
#[test]
fn cluster_scope_and_cross_namespace() {
    let both = [Direction::Ingress, Direction::Egress];
    let cluster = cluster_scope(&["production", "staging"]);
    let program = Builder::new()
        .namespace("production", &[("env", "prod")], &both)
        .namespace("staging", &[("env", "staging")], &[Direction::Ingress])
        .isolate("baseline", cluster.clone(), &[Direction::Ingress])
        .isolate("production", ns_scope("production"), &[Direction::Egress])
        .rule(
            "baseline",
            "scrape",
            subject(&cluster, LabelSelector::all()),
            Direction::Ingress,
            Action::Allow,
            Peer::Pods {
                namespaces: sel(&[("purpose", "monitoring")]),
                pods: sel(&[("app", "prometheus")]),
            },
            ports(&[single(Protocol::Tcp, 9090)]),
        )
        .rule(
            "baseline",
            "same-env-frontends",
            subject(&cluster, sel(&[("app", "frontend")])),
            Direction::Ingress,
            Action::Allow,
            Peer::Pods {
                namespaces: LabelSelector::from_requirements([Requirement::is_in(
                    "env",
                    ["prod", "staging"],
                )])
                .expect("satisfiable"),
                pods: LabelSelector::all(),
            },
            Ports::Any,
        )
        .rule(
            "baseline",
            "no-metadata",
            subject(&cluster, LabelSelector::all()),
            Direction::Egress,
            Action::Deny,
            cidr("169.254.169.254/32", &[]),
            Ports::Any,
        )
        .rule(
            "production",
            "to-staging",
            subject(&ns_scope("production"), LabelSelector::all()),
            Direction::Egress,
            Action::Allow,
            Peer::pods_in("staging", LabelSelector::all()),
            Ports::Any,
        )
        .rule(
            "production",
            "block-staging-frontend",
            subject(&ns_scope("production"), sel(&[("app", "backend")])),
            Direction::Egress,
            Action::Deny,
            Peer::pods_in("staging", sel(&[("app", "frontend")])),
            ports(&[single(Protocol::Tcp, 3005)]),
        )
        .build();
    let objects = equivalent(&program, &Options::default());
    let scrape = intent_find(&objects, "baseline/scrape", "ingress");
    assert_eq!(
        scrape["spec"]["selector"],
        "projectcalico.org/namespace in {'production', 'staging'}"
    );
    assert_eq!(
        scrape["spec"]["ingress"][0]["source"],
        json!({
            "selector": "projectcalico.org/orchestrator == 'k8s' && app == 'prometheus'",
            "namespaceSelector": "purpose == 'monitoring'"
        })
    );
    assert_eq!(
        intent_find(&objects, "baseline/same-env-frontends", "ingress")["spec"]["ingress"][0],
        json!({
            "action": "Allow",
            "source": {
                "selector": "projectcalico.org/orchestrator == 'k8s'",
                "namespaceSelector": "env in {'prod', 'staging'}"
            }
        })
    );
    assert_eq!(
        find(&objects, "baseline-isolate")["spec"]["types"],
        json!(["Ingress"])
    );
    // Namespaced mode keeps cluster-scoped subjects cluster-wide.
    let namespaced = equivalent(&program, &Options { namespaced: true });
    assert_eq!(
        names(&namespaced),
        vec![
            "Tier netpolc",
            "GlobalNetworkPolicy baseline-all-pods-ingress",
            "GlobalNetworkPolicy baseline-app-frontend-ingress",
            "GlobalNetworkPolicy baseline-isolate",
            "GlobalNetworkPolicy netpolc.baseline-all-pods-egress-deny",
            "NetworkPolicy production/netpolc.production-app-backend-egress-deny",
            "NetworkPolicy production/production-all-pods-egress",
            "NetworkPolicy production/production-isolate",
        ]
    );
}

/// CIDR holes, port ranges, named ports, SCTP, ICMP, any peer and the API server.
#[test]
fn cidrs_ports_and_entities() {
    let prod = ns_scope("production");
    let both = [Direction::Ingress, Direction::Egress];
    let mut program = Builder::new()
        .namespace("production", &[], &both)
        .isolate("production", prod.clone(), &both)
        .rule(
            "production",
            "partner",
            subject(&prod, sel(&[("app", "backend")])),
            Direction::Egress,
            Action::Allow,
            cidr("203.0.113.0/24", &["203.0.113.96/28"]),
            ports(&[single(Protocol::Tcp, 443), (Protocol::Udp, PortSpec::All)]),
        )
        .rule(
            "production",
            "web",
            subject(&prod, sel(&[("app", "backend")])),
            Direction::Ingress,
            Action::Allow,
            Peer::pods_in("production", sel(&[("app", "frontend")])),
            ports(&[
                (Protocol::Tcp, PortSpec::Named("http".into())),
                (
                    Protocol::Tcp,
                    PortSpec::Range {
                        start: 3000,
                        end: 3010,
                    },
                ),
                single(Protocol::Sctp, 3868),
                (
                    Protocol::Icmp,
                    PortSpec::Icmp {
                        icmp_type: 8,
                        code: Some(0),
                    },
                ),
                (Protocol::IcmpV6, PortSpec::All),
            ]),
        )
        .rule(
            "production",
            "metrics-out",
            subject(&prod, sel(&[("app", "frontend")])),
            Direction::Egress,
            Action::Allow,
            Peer::pods_in("production", LabelSelector::all()),
            ports(&[(Protocol::Tcp, PortSpec::Named("metrics".into()))]),
        )
        .rule(
            "production",
            "apiserver",
            subject(&prod, sel(&[("app", "backend")])),
            Direction::Egress,
            Action::Allow,
            Peer::Entity(Entity::KubeApiserver),
            ports(&[single(Protocol::Tcp, 6443)]),
        )
        .rule(
            "production",
            "open-frontend",
            subject(&prod, sel(&[("app", "frontend")])),
            Direction::Ingress,
            Action::Allow,
            Peer::Any,
            Ports::Any,
        )
        .rule(
            "production",
            "no-udp-5000",
            subject(&prod, sel(&[("app", "frontend")])),
            Direction::Ingress,
            Action::Deny,
            Peer::Any,
            ports(&[single(Protocol::Udp, 5000)]),
        )
        .build();
    program
        .profile
        .api_server_cidrs
        .push("2001:db8::10/128".parse::<IpNet>().expect("valid"));
    let objects = equivalent(&program, &Options::default());
    assert_eq!(
        intent_find(&objects, "production/partner", "egress")["spec"]["egress"],
        json!([
            {
                "action": "Allow",
                "protocol": "TCP",
                "destination": {
                    "nets": ["203.0.113.0/24"],
                    "notNets": ["203.0.113.96/28"],
                    "ports": [443]
                }
            },
            {
                "action": "Allow",
                "protocol": "UDP",
                "destination": {"nets": ["203.0.113.0/24"], "notNets": ["203.0.113.96/28"]}
            }
        ])
    );
    let source = json!({
        "selector": "projectcalico.org/orchestrator == 'k8s' && app == 'frontend'",
        "namespaceSelector": "projectcalico.org/name == 'production'"
    });
    assert_eq!(
        intent_find(&objects, "production/web", "ingress")["spec"]["ingress"],
        json!([
            {"action": "Allow", "protocol": "TCP", "source": source,
             "destination": {"ports": ["3000:3010", "http"]}},
            {"action": "Allow", "protocol": "SCTP", "source": source,
             "destination": {"ports": [3868]}},
            {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8, "code": 0}, "source": source},
            {"action": "Allow", "protocol": "ICMPv6", "source": source}
        ])
    );
    assert_eq!(
        intent_find(&objects, "production/apiserver", "egress")["spec"]["egress"],
        json!([
            {"action": "Allow", "protocol": "TCP",
             "destination": {"nets": ["192.0.2.10/32"], "ports": [6443]}},
            {"action": "Allow", "protocol": "TCP",
             "destination": {"nets": ["2001:db8::10/128"], "ports": [6443]}}
        ])
    );
    assert_eq!(
        intent_find(&objects, "production/open-frontend", "ingress")["spec"]["ingress"],
        json!([{"action": "Allow"}])
    );
    assert_eq!(
        intent_find(&objects, "production/no-udp-5000", "ingress")["spec"]["ingress"],
        json!([{"action": "Deny", "protocol": "UDP", "destination": {"ports": [5000]}}])
    );
}

// ---------------------------------------------------------------------------------------
// Diagnostics.

/// A CIDR peer (and so `world`) needs the node networks: Calico `nets` match node
/// addresses, which address peers exclude.
#[test]
fn address_peers_need_the_node_networks() {
    let mut p = one_rule(
        cidr("203.0.113.0/24", &[]),
        Ports::Any,
        LabelSelector::all(),
    )
    .build();
    assert!(!codes_of(&p).contains(&codes::NODES_UNDECLARED));
    p.profile.nodes_declared = false;
    assert!(codes_of(&p).contains(&codes::NODES_UNDECLARED));
    let mut p = one_rule(Peer::Any, Ports::Any, LabelSelector::all()).build();
    p.profile.nodes_declared = false;
    assert!(!codes_of(&p).contains(&codes::NODES_UNDECLARED));
}

fn codes_of(program: &Program) -> Vec<&'static str> {
    check(program, &Options::default())
        .iter()
        .map(|d| d.code)
        .collect()
}

fn one_rule(peer: Peer, ports: Ports, pods: LabelSelector) -> Builder {
    let prod = ns_scope("production");
    Builder::new()
        .namespace("production", &[], &[Direction::Egress])
        .isolate("production", prod.clone(), &[Direction::Egress])
        .rule(
            "production",
            "r",
            subject(&prod, pods),
            Direction::Egress,
            Action::Allow,
            peer,
            ports,
        )
}

#[test]
fn refused_constructs() {
    let any = LabelSelector::all;
    assert_eq!(
        codes_of(&one_rule(Peer::Fqdn("example.com".into()), Ports::Any, any()).build()),
        vec![codes::FQDN_PEER]
    );
    assert_eq!(
        codes_of(&one_rule(Peer::Entity(Entity::Host), Ports::Any, any()).build()),
        vec![codes::HOST_ENTITY]
    );
    let mut p = one_rule(Peer::Entity(Entity::KubeApiserver), Ports::Any, any()).build();
    p.profile.api_server_cidrs.clear();
    assert_eq!(codes_of(&p), vec![codes::NO_API_SERVER_CIDRS]);
    let mut p = one_rule(Peer::Any, Ports::Any, LabelSelector::all()).build();
    p.rules[0].http.push(HttpRule {
        method: Some("GET".into()),
        path: None,
    });
    assert_eq!(codes_of(&p), vec![codes::L7_HTTP]);
    assert_eq!(
        codes_of(&one_rule(Peer::Any, Ports::Any, sel(&[("a", "it's \"x\"")])).build()),
        vec![codes::UNQUOTABLE_VALUE]
    );
    assert_eq!(
        codes_of(&one_rule(Peer::Any, Ports::Any, sel(&[("bad key", "x")])).build()),
        vec![codes::BAD_LABEL_KEY]
    );
    let icmp = ports(&[(
        Protocol::Icmp,
        PortSpec::Icmp {
            icmp_type: 255,
            code: None,
        },
    )]);
    assert_eq!(
        codes_of(&one_rule(Peer::Any, icmp, any()).build()),
        vec![codes::BAD_PORTS]
    );
    let many = LabelSelector::from_requirements([Requirement::is_in(
        "app",
        (0..200).map(|i| format!("application-{i}")),
    )])
    .expect("satisfiable");
    assert_eq!(
        codes_of(&one_rule(Peer::Any, Ports::Any, many).build()),
        vec![codes::SELECTOR_TOO_LONG]
    );
    // Two cluster sets whose names normalise to the same DNS label (rules of namespaced
    // sets join the objects of their subject's namespace, named after its own set).
    let prod = cluster_scope(&["production"]);
    let p = one_rule(Peer::Any, Ports::Any, any())
        .rule(
            "a_b",
            "x",
            subject(&prod, any()),
            Direction::Egress,
            Action::Allow,
            Peer::Any,
            Ports::Any,
        )
        .rule(
            "a-b",
            "x",
            subject(&prod, any()),
            Direction::Egress,
            Action::Allow,
            Peer::Any,
            Ports::Any,
        )
        .build();
    assert_eq!(codes_of(&p), vec![codes::NAME_COLLISION]);

    // Diagnostics name the intent, the back end and point at the file without a span.
    let d = &check(
        &one_rule(Peer::Fqdn("example.com".into()), Ports::Any, any()).build(),
        &Options::default(),
    )[0];
    assert!(d.is_error());
    assert!(d.message.contains("`production/r`"), "{}", d.message);
    assert!(d.notes.iter().any(|n| n.contains("calico")));
    assert_eq!(d.file.as_deref(), Some("policies/production.yaml"));

    // Render leaves refused intents out instead of failing.
    let objects = render(
        &one_rule(Peer::Fqdn("example.com".into()), Ports::Any, any()).build(),
        &Options::default(),
    );
    assert_eq!(
        names(&objects),
        vec!["GlobalNetworkPolicy production-isolate"]
    );
}

#[test]
fn several_subjects_of_one_intent_are_several_objects() {
    let prod = ns_scope("production");
    let program = Builder::new()
        .namespace("production", &[], &[Direction::Egress])
        .isolate("production", prod.clone(), &[Direction::Egress])
        .rule(
            "production",
            "web",
            subject(&prod, sel(&[("app", "frontend")])),
            Direction::Egress,
            Action::Allow,
            Peer::Any,
            ports(&[single(Protocol::Tcp, 443)]),
        )
        .rule(
            "production",
            "web",
            subject(&prod, sel(&[("app", "backend")])),
            Direction::Egress,
            Action::Allow,
            Peer::Any,
            ports(&[single(Protocol::Tcp, 443)]),
        )
        .build();
    let objects = equivalent(&program, &Options::default());
    assert_eq!(
        find(&objects, "production-app-backend-egress")["spec"]["selector"],
        "projectcalico.org/namespace == 'production' && app == 'backend'"
    );
    assert_eq!(
        find(&objects, "production-app-frontend-egress")["spec"]["selector"],
        "projectcalico.org/namespace == 'production' && app == 'frontend'"
    );
}

// ---------------------------------------------------------------------------------------
// The evaluator on hand-written policies.

fn gnp(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
           "metadata": {"name": name}, "spec": spec})
}

fn tier(name: &str, order: f64, action: &str) -> Value {
    json!({"apiVersion": "projectcalico.org/v3", "kind": "Tier",
           "metadata": {"name": name}, "spec": {"order": order, "defaultAction": action}})
}

fn ingress_side(objects: &[Value], src: Endpoint, dst: (&str, &str), port: u16) -> Side {
    let model = model();
    let e = match evaluator(objects) {
        Ok(e) => e,
        Err(e) => panic!("evaluator: {e}"),
    };
    let flow = Flow {
        src,
        dst: Endpoint::Pod(pod_index(&model, dst.0, dst.1)),
        protocol: Protocol::Tcp,
        port,
    };
    e.verdict(&model, &flow).ingress
}

fn pod_ep(ns: &str, name: &str) -> Endpoint {
    Endpoint::Pod(pod_index(&model(), ns, name))
}

fn ext(ip: &str) -> Endpoint {
    Endpoint::External(ip.parse().expect("valid"))
}

fn evaluator_error(objects: &[Value]) -> String {
    match evaluator(objects) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn pass_skips_to_the_next_tier() {
    let backend = ("production", "backend");
    let objects = vec![
        tier("security", 100.0, "Deny"),
        gnp(
            "security.pass-frontend",
            json!({"tier": "security", "order": 1, "selector": "app == 'backend'",
                   "types": ["Ingress"],
                   "ingress": [{"action": "Pass", "source": {"selector": "app == 'frontend'"}}]}),
        ),
        gnp(
            "allow-frontend",
            json!({"order": 1000, "selector": "app == 'backend'", "types": ["Ingress"],
                   "ingress": [{"action": "Allow", "source": {"selector": "app == 'frontend'"}}]}),
        ),
    ];
    // Frontend passes the security tier and is allowed in default.
    match ingress_side(&objects, pod_ep("production", "frontend"), backend, 8080) {
        Side::Allowed(d) => assert_eq!(d.object, "GlobalNetworkPolicy allow-frontend"),
        other => panic!("unexpected {other}"),
    }
    // Anything else hits the end of the security tier.
    assert_eq!(
        ingress_side(&objects, pod_ep("production", "database"), backend, 8080),
        Side::DefaultDeny(vec!["GlobalNetworkPolicy security.pass-frontend".into()])
    );
    // A Pass in the last tier goes to the profile: open.
    let last = vec![gnp(
        "pass-all",
        json!({"selector": "all()", "types": ["Ingress"], "ingress": [{"action": "Pass"}]}),
    )];
    assert_eq!(
        ingress_side(&last, pod_ep("production", "database"), backend, 8080),
        Side::Open
    );
}

#[test]
fn tier_order_decides() {
    let backend = ("production", "backend");
    let allow = |tier: &str| {
        gnp(
            &format!("{tier}.allow"),
            json!({"tier": tier, "selector": "all()", "types": ["Ingress"],
                   "ingress": [{"action": "Allow"}]}),
        )
    };
    let deny = |tier: &str| {
        gnp(
            &format!("{tier}.deny"),
            json!({"tier": tier, "selector": "all()", "types": ["Ingress"],
                   "ingress": [{"action": "Deny"}]}),
        )
    };
    let first_allows = vec![
        tier("a", 10.0, "Deny"),
        tier("b", 20.0, "Deny"),
        allow("a"),
        deny("b"),
    ];
    assert!(ingress_side(&first_allows, ext("8.8.8.8"), backend, 80).allows());
    let first_denies = vec![
        tier("a", 30.0, "Deny"),
        tier("b", 20.0, "Deny"),
        allow("a"),
        deny("b"),
    ];
    assert!(!ingress_side(&first_denies, ext("8.8.8.8"), backend, 80).allows());
    // Inside a tier: policy order, then name.
    let ordered = vec![
        gnp(
            "z-deny",
            json!({"order": 10, "selector": "all()", "types": ["Ingress"],
                             "ingress": [{"action": "Deny"}]}),
        ),
        gnp(
            "a-allow",
            json!({"order": 20, "selector": "all()", "types": ["Ingress"],
                              "ingress": [{"action": "Allow"}]}),
        ),
    ];
    assert!(!ingress_side(&ordered, ext("8.8.8.8"), backend, 80).allows());
    let by_name = vec![
        gnp(
            "b-deny",
            json!({"selector": "all()", "types": ["Ingress"],
                             "ingress": [{"action": "Deny"}]}),
        ),
        gnp(
            "a-allow",
            json!({"selector": "all()", "types": ["Ingress"],
                              "ingress": [{"action": "Log"}, {"action": "Allow"}]}),
        ),
    ];
    match ingress_side(&by_name, ext("8.8.8.8"), backend, 80) {
        // `Log` continues to the next rule.
        Side::Allowed(d) => assert_eq!(d.rule, "spec.ingress[1]"),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn end_of_tier_deny_only_where_a_policy_applies() {
    let objects = vec![gnp(
        "backend-only",
        json!({"selector": "app == 'backend'", "types": ["Ingress"],
               "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [8080]}}]}),
    )];
    assert!(ingress_side(&objects, ext("8.8.8.8"), ("production", "backend"), 8080).allows());
    assert_eq!(
        ingress_side(&objects, ext("8.8.8.8"), ("production", "backend"), 9090),
        Side::DefaultDeny(vec!["GlobalNetworkPolicy backend-only".into()])
    );
    // Other pods, and other directions, are untouched.
    assert_eq!(
        ingress_side(&objects, ext("8.8.8.8"), ("production", "database"), 9090),
        Side::Open
    );
    // A policy without `types` and only egress rules is an egress policy.
    let egress_only = vec![gnp(
        "egress-only",
        json!({"selector": "all()", "egress": [{"action": "Deny"}]}),
    )];
    assert_eq!(
        ingress_side(
            &egress_only,
            ext("8.8.8.8"),
            ("production", "database"),
            9090
        ),
        Side::Open
    );
    // Without rules it is an ingress policy: default deny.
    let no_rules = vec![gnp("isolate", json!({"selector": "all()"}))];
    assert!(!ingress_side(&no_rules, ext("8.8.8.8"), ("production", "database"), 9090).allows());
}

#[test]
fn not_has_versus_not_selector() {
    let backend = ("production", "backend");
    let with = |source: Value| {
        vec![gnp(
            "p",
            json!({"selector": "app == 'backend'", "types": ["Ingress"],
                   "ingress": [{"action": "Allow", "source": source}]}),
        )]
    };
    // `selector: !has(app)` matches endpoints without the label, never bare addresses.
    let not_has = with(json!({"selector": "!has(app)"}));
    assert!(!ingress_side(&not_has, ext("8.8.8.8"), backend, 80).allows());
    assert!(ingress_side(&not_has, pod_ep("production", "test-pod"), backend, 80).allows());
    assert!(!ingress_side(&not_has, pod_ep("production", "frontend"), backend, 80).allows());
    // `notSelector: has(app)` negates the match, so addresses outside the cluster match.
    let not_selector = with(json!({"notSelector": "has(app)"}));
    assert!(ingress_side(&not_selector, ext("8.8.8.8"), backend, 80).allows());
    assert!(ingress_side(&not_selector, pod_ep("production", "test-pod"), backend, 80).allows());
    assert!(!ingress_side(&not_selector, pod_ep("production", "frontend"), backend, 80).allows());
    // In a namespaced policy, `notSelector` also scopes the rule to the namespace.
    let namespaced = vec![json!({
        "apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "production"},
        "spec": {"selector": "app == 'backend'", "types": ["Ingress"],
                 "ingress": [{"action": "Allow", "source": {"notSelector": "has(app)"}}]}
    })];
    assert!(!ingress_side(&namespaced, ext("8.8.8.8"), backend, 80).allows());
    assert!(ingress_side(&namespaced, pod_ep("production", "test-pod"), backend, 80).allows());
    assert!(!ingress_side(&namespaced, pod_ep("kube-system", "coredns"), backend, 80).allows());
}

#[test]
fn selectors_namespaces_and_nets() {
    let backend = ("production", "backend");
    let with = |source: Value| {
        vec![gnp(
            "p",
            json!({"selector": "projectcalico.org/namespace == 'production' && app == 'backend'",
                   "types": ["Ingress"], "ingress": [{"action": "Allow", "source": source}]}),
        )]
    };
    // A GlobalNetworkPolicy selector without namespaceSelector spans every namespace.
    let any_ns = with(json!({"selector": "app == 'frontend'"}));
    assert!(ingress_side(&any_ns, pod_ep("staging", "frontend"), backend, 80).allows());
    // namespaceSelector by name, by label, inherited `pcns.` labels, and global().
    let by_name = with(json!({"namespaceSelector": "projectcalico.org/name == 'staging'"}));
    assert!(ingress_side(&by_name, pod_ep("staging", "frontend"), backend, 80).allows());
    assert!(!ingress_side(&by_name, pod_ep("production", "frontend"), backend, 80).allows());
    let pcns = with(json!({"selector": "pcns.env == 'staging'"}));
    assert!(ingress_side(&pcns, pod_ep("staging", "frontend"), backend, 80).allows());
    let global = with(json!({"namespaceSelector": "global()"}));
    assert!(!ingress_side(&global, pod_ep("staging", "frontend"), backend, 80).allows());
    // nets match pod addresses too; notNets carve holes.
    let nets = with(json!({"nets": ["10.244.0.0/16"], "notNets": ["10.244.4.0/24"]}));
    assert!(ingress_side(&nets, pod_ep("monitoring", "prometheus"), backend, 80).allows());
    assert!(!ingress_side(&nets, pod_ep("staging", "frontend"), backend, 80).allows());
    assert!(!ingress_side(&nets, ext("8.8.8.8"), backend, 80).allows());
    // Named ports resolve on the destination pod, with their protocol.
    let named = vec![gnp(
        "p",
        json!({"selector": "all()", "types": ["Ingress"],
               "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": ["http"]}}]}),
    )];
    assert!(ingress_side(&named, ext("8.8.8.8"), backend, 8080).allows());
    assert!(!ingress_side(&named, ext("8.8.8.8"), backend, 8081).allows());
    assert!(ingress_side(&named, ext("8.8.8.8"), ("staging", "frontend"), 3005).allows());
    let range = vec![gnp(
        "p",
        json!({"selector": "all()", "types": ["Ingress"],
               "ingress": [{"action": "Allow", "protocol": 6, "destination": {"ports": ["8000:8100"]}}]}),
    )];
    assert!(ingress_side(&range, ext("8.8.8.8"), backend, 8080).allows());
    assert!(!ingress_side(&range, ext("8.8.8.8"), backend, 9090).allows());
}

#[test]
fn kubernetes_network_policies_as_calico_enforces_them() {
    let knp = |spec: Value| {
        vec![
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "np", "namespace": "production"}, "spec": spec}),
        ]
    };
    let backend = ("production", "backend");
    // Egress rules without policyTypes: the API server defaults to [Ingress, Egress].
    let egress_only = knp(json!({"podSelector": {"matchLabels": {"app": "backend"}},
                                 "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}));
    assert_eq!(
        ingress_side(&egress_only, pod_ep("production", "frontend"), backend, 80),
        Side::DefaultDeny(vec!["NetworkPolicy production/np".into()])
    );
    // ipBlock matches pod addresses; a peer's podSelector stays in the namespace.
    let rules = knp(json!({
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [{"ipBlock": {"cidr": "10.244.2.0/24"}}]},
            {"from": [{"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["frontend"]}]}}],
             "ports": [{"port": 8080}, {"protocol": "UDP"}]},
            {"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
             "ports": [{"port": 9000, "endPort": 9100}]}
        ]
    }));
    match ingress_side(&rules, pod_ep("monitoring", "prometheus"), backend, 1234) {
        Side::Allowed(d) => {
            assert_eq!(d.object, "NetworkPolicy production/np");
            assert_eq!(d.rule, "spec.ingress[0]");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(ingress_side(&rules, pod_ep("production", "frontend"), backend, 8080).allows());
    assert!(!ingress_side(&rules, pod_ep("production", "frontend"), backend, 8081).allows());
    assert!(!ingress_side(&rules, pod_ep("staging", "frontend"), backend, 8080).allows());
    assert!(ingress_side(&rules, pod_ep("kube-system", "coredns"), backend, 9090).allows());
    assert!(!ingress_side(&rules, pod_ep("kube-system", "coredns"), backend, 9200).allows());
    // The UDP entry without a port allows every UDP port.
    let model = model();
    let e = evaluator(&rules).expect("evaluates");
    let udp = Flow {
        src: pod_ep("production", "frontend"),
        dst: Endpoint::Pod(pod_index(&model, "production", "backend")),
        protocol: Protocol::Udp,
        port: 5000,
    };
    assert!(e.verdict(&model, &udp).ingress.allows());
    // A Kubernetes policy without a namespace cannot be placed.
    let unplaced = vec![
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                               "metadata": {"name": "np"}, "spec": {}}),
    ];
    assert!(evaluator_error(&unplaced).contains("metadata.namespace"));
    // netpolc's deny tier beats a Kubernetes allow.
    let mut both = knp(json!({"podSelector": {}, "ingress": [{}]}));
    both.push(tier("netpolc", 100000.0, "Pass"));
    both.push(gnp(
        "netpolc.deny",
        json!({"tier": "netpolc", "selector": "all()", "types": ["Ingress"],
               "ingress": [{"action": "Deny", "source": {"nets": ["8.8.8.8/32"]}}]}),
    ));
    assert!(!ingress_side(&both, ext("8.8.8.8"), backend, 80).allows());
    assert!(ingress_side(&both, ext("203.0.113.10"), backend, 80).allows());
}

#[test]
fn evaluator_refuses_what_it_does_not_understand() {
    assert!(evaluator_error(&[gnp("p", json!({"tier": "missing"}))]).contains("tier `missing`"));
    assert!(evaluator_error(&[gnp(
        "p",
        json!({"ingress": [{"action": "Allow", "source": {"serviceAccounts": {"names": ["a"]}}}]})
    )])
    .contains("serviceAccounts"));
    assert!(
        evaluator_error(&[gnp("p", json!({"serviceAccountSelector": "a == 'b'"}))])
            .contains("serviceAccountSelector")
    );
    assert!(evaluator_error(&[json!({"apiVersion": "v1", "kind": "Pod",
                                     "metadata": {"name": "x"}})])
    .contains("unsupported"));
    assert!(evaluator_error(&[gnp("p", json!({})), gnp("p", json!({}))]).contains("more than once"));
    // The first problem in order: a repeat before an unreadable object, and after; of
    // two repeated names the earlier repeat; a missing name before a repeat of it.
    let bad = gnp("x", json!({"selector": "a = 'b'"}));
    let (p, q) = (gnp("p", json!({})), gnp("q", json!({})));
    assert_eq!(
        evaluator_error(&[p.clone(), p.clone(), bad.clone()]),
        "object 1 (GlobalNetworkPolicy `p`): defined more than once"
    );
    let e = evaluator_error(&[p.clone(), bad.clone(), p.clone()]);
    assert!(
        e.starts_with("object 1 ") && e.contains("spec.selector"),
        "{e}"
    );
    assert_eq!(
        evaluator_error(&[q.clone(), p.clone(), p.clone(), q.clone()]),
        "object 2 (GlobalNetworkPolicy `p`): defined more than once"
    );
    let unnamed = json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
                         "metadata": {}, "spec": {}});
    assert_eq!(
        evaluator_error(&[unnamed.clone(), unnamed]),
        "object 0 (GlobalNetworkPolicy ``): metadata.name is required"
    );
    assert!(evaluator_error(&[gnp("p", json!({"selector": "a = 'b'"}))]).contains("spec.selector"));
    assert!(evaluator_error(&[gnp(
        "p",
        json!({"ingress": [{"action": "Allow", "protocol": "TCP", "source": {"ports": [80]}}]})
    )])
    .contains("source ports"));
    // `List` objects are expanded; defined tiers are accepted.
    let list = json!({"apiVersion": "v1", "kind": "List",
                      "items": [tier("t", 5.0, "Pass"), gnp("t.p", json!({"tier": "t"}))]});
    assert!(evaluator(&[list]).is_ok());
    // Calico's storage form reads like projectcalico.org/v3.
    let mut stored = gnp(
        "deny-all",
        json!({"selector": "all()", "types": ["Ingress"], "ingress": [{"action": "Deny"}]}),
    );
    stored["apiVersion"] = json!("crd.projectcalico.org/v1");
    match ingress_side(&[stored], ext("8.8.8.8"), ("production", "backend"), 80) {
        Side::Denied(d) => assert_eq!(d.object, "GlobalNetworkPolicy deny-all"),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn codes_are_unique_and_documented() {
    let set: BTreeSet<&str> = codes::ALL.iter().map(|(c, _)| *c).collect();
    assert_eq!(set.len(), codes::ALL.len());
    assert!(codes::ALL.iter().all(|(c, _)| c.starts_with("NP4")));
}

/// The flows on which an evaluator of `objects` disagrees with the intended meaning.
fn mismatches(program: &Program, objects: &[Value]) -> usize {
    let model = model();
    let calico = match evaluator(objects) {
        Ok(e) => e,
        Err(e) => panic!("evaluator: {e}"),
    };
    first_disagreements(program, &model, &calico, usize::MAX).len()
}

/// The comparison is sharp enough to catch the mistakes the tier scheme avoids.
#[test]
fn the_tier_scheme_is_what_makes_the_rendering_right() {
    // Denies on a side that is not isolated.
    let staging = ns_scope("staging");
    let program = Builder::new()
        .namespace("staging", &[], &[])
        .rule(
            "staging",
            "no-google",
            subject(&staging, LabelSelector::all()),
            Direction::Egress,
            Action::Deny,
            cidr("8.8.8.8/32", &[]),
            Ports::Any,
        )
        .build();
    let objects = render(&program, &Options::default());
    assert_eq!(mismatches(&program, &objects), 0);
    // A tier that ends in Deny would isolate every pod the deny policy selects.
    let mut deny_tier = objects.clone();
    deny_tier[0]["spec"]["defaultAction"] = json!("Deny");
    assert!(mismatches(&program, &deny_tier) > 0);
    // So would the deny policy in the default tier.
    let mut in_default = objects.clone();
    in_default.remove(0);
    in_default[0]["spec"]["tier"] = json!("default");
    assert!(mismatches(&program, &in_default) > 0);

    // An allow that overlaps a deny: the deny must come first.
    let program = seed();
    let mut objects = render(&program, &Options::default());
    assert_eq!(mismatches(&program, &objects), 0);
    let partner = objects
        .iter_mut()
        .find(|o| o["metadata"]["name"] == "production-app-backend-egress")
        .expect("rendered");
    let at = partner["spec"]["egress"]
        .as_array()
        .and_then(|rules| {
            rules
                .iter()
                .position(|r| r["destination"]["nets"].is_array())
        })
        .expect("the partner rule");
    partner["spec"]["egress"][at]["destination"]["nets"] = json!(["0.0.0.0/0"]);
    partner["spec"]["egress"][at]["protocol"] = json!("TCP");
    // Widening the allow changes verdicts except where the netpolc tier denies first.
    let model = model();
    let calico = evaluator(&objects).expect("evaluates");
    let backend = pod_index(&model, "production", "backend");
    let to = |ip: &str| Flow {
        src: Endpoint::Pod(backend),
        dst: ext(ip),
        protocol: Protocol::Tcp,
        port: 443,
    };
    assert!(calico.verdict(&model, &to("8.8.8.8")).allowed());
    assert!(!calico.verdict(&model, &to("169.254.169.254")).allowed());
}

fn network_set(kind: &str, name: &str, ns: Option<&str>, labels: Value, nets: &[&str]) -> Value {
    let mut metadata = json!({"name": name, "labels": labels});
    if let Some(ns) = ns {
        metadata["namespace"] = json!(ns);
    }
    json!({"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": metadata,
           "spec": {"nets": nets}})
}

#[test]
fn network_sets_are_matched_by_selectors() {
    let backend = ("production", "backend");
    let sets = || {
        vec![
            network_set(
                "GlobalNetworkSet",
                "partners",
                None,
                json!({"role": "partner"}),
                &["203.0.113.0/24"],
            ),
            network_set(
                "NetworkSet",
                "office",
                Some("production"),
                json!({"role": "office"}),
                &["198.51.100.0/24"],
            ),
            network_set(
                "NetworkSet",
                "staging-office",
                Some("staging"),
                json!({"role": "office"}),
                &["192.0.2.0/24"],
            ),
        ]
    };
    let global = |source: Value| {
        let mut o = sets();
        o.push(gnp(
            "p",
            json!({"selector": "projectcalico.org/namespace == 'production' && app == 'backend'",
                   "types": ["Ingress"], "ingress": [{"action": "Allow", "source": source}]}),
        ));
        o
    };
    let namespaced = |source: Value| {
        let mut o = sets();
        o.push(json!({
            "apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": "production"},
            "spec": {"selector": "app == 'backend'", "types": ["Ingress"],
                     "ingress": [{"action": "Allow", "source": source}]}
        }));
        o
    };
    let allows = |objects: &[Value], ip: &str| ingress_side(objects, ext(ip), backend, 80).allows();
    // A GlobalNetworkPolicy selector matches global and namespaced sets by their labels.
    let p = global(json!({"selector": "role == 'partner'"}));
    assert!(allows(&p, "203.0.113.7"));
    assert!(!allows(&p, "198.51.100.7"));
    assert!(!allows(&p, "8.8.8.8"));
    let p = global(json!({"selector": "role == 'office'"}));
    assert!(allows(&p, "198.51.100.7") && allows(&p, "192.0.2.7"));
    assert!(!allows(&p, "203.0.113.7"));
    // A namespaceSelector restricts to the sets of the namespaces it selects.
    let p =
        global(json!({"selector": "role == 'office'", "namespaceSelector": "env == 'staging'"}));
    assert!(allows(&p, "192.0.2.7") && !allows(&p, "198.51.100.7"));
    // `all()` means every namespaced object: no global set.
    let p = global(json!({"selector": "has(role)", "namespaceSelector": "all()"}));
    assert!(allows(&p, "198.51.100.7") && !allows(&p, "203.0.113.7"));
    // Namespaced sets carry the namespace and its `pcns.` labels.
    let p = global(json!({"selector": "pcns.env == 'prod'"}));
    assert!(allows(&p, "198.51.100.7") && !allows(&p, "192.0.2.7"));
    // A namespaced policy's bare selector sees the sets of its own namespace only...
    let p = namespaced(json!({"selector": "has(role)"}));
    assert!(allows(&p, "198.51.100.7"));
    assert!(!allows(&p, "192.0.2.7") && !allows(&p, "203.0.113.7"));
    // ... and `namespaceSelector: global()` the global sets only.
    let p = namespaced(json!({"selector": "has(role)", "namespaceSelector": "global()"}));
    assert!(allows(&p, "203.0.113.7"));
    assert!(!allows(&p, "198.51.100.7") && !allows(&p, "192.0.2.7"));
    // The orchestrator term of converted pod selectors keeps sets out.
    let p = global(json!({"selector": "projectcalico.org/orchestrator == 'k8s' && has(role)"}));
    assert!(!allows(&p, "203.0.113.7") && !allows(&p, "198.51.100.7"));
    // notSelector excludes the addresses of the sets it matches.
    let p = global(json!({"notSelector": "role == 'partner'"}));
    assert!(!allows(&p, "203.0.113.7") && allows(&p, "8.8.8.8"));
    // A deny through a set, and the storage form.
    let mut o = sets();
    o[0]["apiVersion"] = json!("crd.projectcalico.org/v1");
    o.push(gnp(
        "deny-partners",
        json!({"selector": "all()", "types": ["Ingress"], "order": 10,
               "ingress": [{"action": "Deny", "source": {"selector": "role == 'partner'"}}]}),
    ));
    match ingress_side(&o, ext("203.0.113.9"), backend, 80) {
        Side::Denied(d) => assert_eq!(d.object, "GlobalNetworkPolicy deny-partners"),
        other => panic!("unexpected {other}"),
    }
    // Malformed sets are refused, never ignored.
    assert!(evaluator_error(&[network_set(
        "NetworkSet",
        "x",
        None,
        json!({}),
        &["1.2.3.0/24"]
    )])
    .contains("metadata.namespace"));
    assert!(evaluator_error(&[network_set(
        "GlobalNetworkSet",
        "x",
        None,
        json!({}),
        &["nope"]
    )])
    .contains("spec.nets"));
    let mut domains = network_set("GlobalNetworkSet", "x", None, json!({}), &[]);
    domains["spec"]["allowedEgressDomains"] = json!(["a.example"]);
    assert!(evaluator_error(&[domains]).contains("allowedEgressDomains"));
}

#[test]
fn network_sets_are_mentioned() {
    // The proof must see the sets' networks: a set inside 0.0.0.0/0 tells addresses apart.
    let objects = vec![
        network_set(
            "GlobalNetworkSet",
            "partners",
            None,
            json!({"role": "partner"}),
            &["203.0.113.0/24"],
        ),
        gnp(
            "p",
            json!({"selector": "app == 'backend'", "types": ["Ingress"],
                   "ingress": [{"action": "Allow", "source": {"selector": "role == 'partner'"}}]}),
        ),
    ];
    let e = evaluator(&objects).expect("compiles");
    let m = model();
    let i = pod_index(&m, "production", "backend");
    let mut mentions = netpolc_ir::model::Mentions::default();
    e.mentions_into(&m, i, Direction::Ingress, &mut mentions);
    assert!(mentions
        .nets
        .contains(&"203.0.113.0/24".parse().expect("net")));
}

/// A prepared side tests a rule's own end (the destination of an ingress rule, the
/// source of an egress rule) once, against the prepared pod, and the other end per call,
/// among the rules that can match in its namespace: for rules whose own end selects some
/// pods of the policy only, or an address family, and for a namespaced policy's peers
/// (its own namespace only), it answers as `side` does for every pod, direction, other
/// end and port.
#[test]
fn a_prepared_side_tests_a_rules_own_end_on_its_own_pod() {
    let m = model();
    let production = "projectcalico.org/namespace == 'production'";
    let objects = [
        gnp(
            "own-ends",
            json!({
                "selector": production,
                "types": ["Ingress", "Egress"],
                "ingress": [
                    {"action": "Deny", "protocol": "TCP",
                     "destination": {"nets": ["10.244.1.2/32"], "ports": [8080]}},
                    {"action": "Allow", "ipVersion": 6,
                     "source": {"namespaceSelector": "env == 'prod'"}},
                    {"action": "Allow", "protocol": "TCP",
                     "source": {"namespaceSelector": "env == 'prod'"},
                     "destination": {"selector": "app in {'database', 'backend'}"}}
                ],
                "egress": [
                    {"action": "Allow", "protocol": "TCP",
                     "source": {"selector": "app == 'frontend'"},
                     "destination": {"nets": ["8.8.8.8/32"]}},
                    {"action": "Allow", "protocol": "UDP",
                     "source": {"notSelector": "app == 'frontend'"},
                     "destination": {"selector": "k8s-app == 'kube-dns'",
                                     "namespaceSelector": "all()"}}
                ]
            }),
        ),
        json!({
            "apiVersion": "projectcalico.org/v3",
            "kind": "NetworkPolicy",
            "metadata": {"name": "from-frontend", "namespace": "production"},
            "spec": {
                "selector": "all()",
                "types": ["Ingress"],
                "ingress": [{"action": "Allow", "protocol": "UDP",
                             "source": {"selector": "app == 'frontend'"}}]
            }
        }),
    ];
    let e = evaluator(&objects).expect("evaluates");
    let mut ends: Vec<Endpoint> = (0..m.pods.len()).map(Endpoint::Pod).collect();
    ends.extend(m.externals.iter().map(|ip| Endpoint::External(*ip)));
    for me in 0..m.pods.len() {
        for direction in Direction::BOTH {
            let agreed = prepared_side_agrees(&e, &m, me, direction, &ends, &m.ports);
            assert!(
                agreed.is_ok(),
                "{:?}",
                agreed.map_err(|x| m.flow_name(&x.flow))
            );
        }
    }
    // What the sides of production's pods allow.
    let mut allowed = BTreeSet::new();
    for flow in m.flows() {
        let verdict = e.verdict(&m, &flow);
        for (direction, end, side) in [
            (Direction::Egress, flow.src, verdict.egress),
            (Direction::Ingress, flow.dst, verdict.ingress),
        ] {
            if let Endpoint::Pod(me) = end {
                if side.allows() && m.pods[me].namespace == "production" {
                    allowed.insert((
                        m.pods[me].name.as_str(),
                        direction,
                        flow.protocol,
                        flow.port,
                    ));
                }
            }
        }
    }
    // The own ends told the pods apart: the database and the backend take TCP from
    // production (the backend not on 8080), the frontend sends only TCP (to 8.8.8.8), the
    // others only DNS over UDP.
    let tcp = Protocol::Tcp;
    let udp = Protocol::Udp;
    assert!(allowed.contains(&("database", Direction::Ingress, tcp, 8080)));
    assert!(allowed.contains(&("backend", Direction::Ingress, tcp, 5432)));
    assert!(!allowed.contains(&("backend", Direction::Ingress, tcp, 8080)));
    assert!(!allowed
        .iter()
        .any(|(pod, d, _, _)| *pod == "frontend" && *d == Direction::Ingress));
    assert!(allowed.contains(&("frontend", Direction::Egress, tcp, 443)));
    assert!(!allowed.contains(&("frontend", Direction::Egress, udp, 53)));
    assert!(allowed.contains(&("backend", Direction::Egress, udp, 53)));
    assert!(!allowed.contains(&("backend", Direction::Egress, tcp, 443)));
    // The namespaced policy lets in UDP from production's frontend, not staging's.
    let udp_5000 = |from: &str, to: &str| {
        let flow = Flow {
            src: Endpoint::Pod(pod_index(&m, from, "frontend")),
            dst: Endpoint::Pod(pod_index(&m, "production", to)),
            protocol: udp,
            port: 5000,
        };
        e.side(&m, &flow, Direction::Ingress).allows()
    };
    assert!(udp_5000("production", "database"));
    assert!(!udp_5000("staging", "database"));
}

/// Sample lists a prepared side is asked about: the model's ports; the named ports'
/// numbers under every protocol (a named port matches its own protocol only); and more
/// samples than a side answers as bits ([`netpolc_ir::model::SampleBits::MAX`]), which
/// it then answers sample by sample.
fn sample_lists(m: &ClusterModel) -> Vec<Vec<(Protocol, u16)>> {
    let named: Vec<(Protocol, u16)> = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
        .into_iter()
        .flat_map(|p| [53, 79, 80, 443, 8080, 9090].map(|n| (p, n)))
        .collect();
    let wide: Vec<(Protocol, u16)> = (0..70u16)
        .map(|k| (Protocol::Tcp, 8050 + k))
        .chain([(Protocol::Udp, 53), (Protocol::Tcp, 9090)])
        .collect();
    vec![m.ports.clone(), named, wide]
}

#[test]
fn prepared_sides_answer_tiers_and_ports_as_flows_do() {
    // Port bits per rule and the tiers walked with them (`PortMasks`), against the
    // evaluator's flow by flow answer: Pass, Log and a tier's default Deny, ports and
    // notPorts, protocols and notProtocol, and named ports on either side.
    let m = model();
    let production = "projectcalico.org/namespace == 'production'";
    let objects = [
        tier("security", 100.0, "Deny"),
        gnp(
            "security.gate",
            json!({
                "tier": "security",
                "selector": production,
                "types": ["Ingress", "Egress"],
                "ingress": [
                    {"action": "Log"},
                    {"action": "Deny", "protocol": "TCP",
                     "destination": {"ports": ["metrics"]}},
                    {"action": "Pass", "protocol": "TCP",
                     "destination": {"ports": ["8000:8099"], "notPorts": [8081]}},
                    {"action": "Allow", "notProtocol": "UDP",
                     "source": {"selector": "app == 'frontend'"}}
                ],
                "egress": [
                    {"action": "Pass", "protocol": "TCP", "destination": {"ports": ["http"]}},
                    {"action": "Deny", "destination": {"nets": ["10.244.4.0/24"]}},
                    {"action": "Allow", "protocol": "UDP", "destination": {"ports": [53]}},
                    {"action": "Pass", "source": {"selector": "app == 'backend'"}}
                ]
            }),
        ),
        gnp(
            "after",
            json!({
                "selector": "all()",
                "types": ["Ingress", "Egress"],
                "ingress": [{"action": "Allow", "protocol": "TCP",
                             "destination": {"ports": [8080, "9000:9100"]}}],
                "egress": [
                    {"action": "Deny", "protocol": "TCP", "destination": {"notPorts": ["http"]}},
                    {"action": "Allow"}
                ]
            }),
        ),
    ];
    let e = evaluator(&objects).expect("evaluates");
    let compared = every_prepared_side_agrees(&e, &m, &sample_lists(&m));
    assert!(compared.as_ref().is_ok_and(|&n| n > 0), "{compared:?}");
}
