//! Tests of the whole back end: hand-built programs are checked, rendered, validated,
//! parsed back into `k8s_openapi` types and evaluated, and the evaluation is compared with
//! the intended meaning on every flow of a small cluster (translation validation).

mod evaluator;
mod render;
mod seed;
mod validation;

use crate::{check, evaluator, render, validate, Options};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use netpolc_ir::eval::first_disagreements;
use netpolc_ir::model::{ClusterModel, Evaluator, Flow, Pod, Verdict};
use netpolc_ir::{
    Action, CidrBlock, Direction, Isolation, LabelSelector, ManagedNamespace, Origin, Peer,
    PortMatch, PortSpec, Ports, Program, Protocol, Rule, Scope, Subject, NAMESPACE_NAME_LABEL,
};
use netpolc_source::{Diagnostic, FileId, Span};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// An origin in file `policies/<set>.yaml` with a span, so diagnostics can be checked.
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

fn ports(items: &[PortMatch]) -> Ports {
    Ports::only(items.iter().cloned())
}

fn tcp(port: u16) -> PortMatch {
    PortMatch::single(Protocol::Tcp, port)
}

fn udp(port: u16) -> PortMatch {
    PortMatch::single(Protocol::Udp, port)
}

fn named(protocol: Protocol, name: &str) -> PortMatch {
    PortMatch {
        protocol,
        port: PortSpec::Named(name.to_string()),
    }
}

fn range(protocol: Protocol, start: u16, end: u16) -> PortMatch {
    PortMatch {
        protocol,
        port: PortSpec::Range { start, end },
    }
}

fn cidr(net: &str, except: &[&str]) -> Peer {
    Peer::Cidr(CidrBlock {
        net: net.parse().expect("test CIDR"),
        except: except
            .iter()
            .map(|e| e.parse().expect("test CIDR"))
            .collect(),
    })
}

/// A program builder that keeps the IR invariants (sorted vectors, isolation flags).
struct Builder {
    program: Program,
}

impl Builder {
    fn new() -> Self {
        Builder {
            program: Program::default(),
        }
    }

    /// A managed namespace with extra labels, isolated in the given directions by its
    /// own set (named after the namespace).
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
        for d in isolated {
            self.program.isolations.push(Isolation {
                scope: Scope::Namespace(name.to_string()),
                direction: *d,
                origin: origin(name, "isolate"),
            });
        }
        self
    }

    /// A cluster-wide isolation from set `set` over `namespaces` (already managed).
    fn cluster_isolation(mut self, set: &str, namespaces: &[&str], direction: Direction) -> Self {
        for n in namespaces {
            if let Some(ns) = self.program.namespaces.get_mut(*n) {
                ns.isolated.insert(direction);
            }
        }
        self.program.isolations.push(Isolation {
            scope: cluster(namespaces),
            direction,
            origin: origin(set, "isolate"),
        });
        self
    }

    #[allow(clippy::too_many_arguments)] // A test helper: one argument per IR field.
    fn rule(
        mut self,
        (set, intent): (&str, &str),
        scope: Scope,
        pods: LabelSelector,
        direction: Direction,
        action: Action,
        peer: Peer,
        ports: Ports,
    ) -> Self {
        self.program.rules.push(Rule {
            subject: Subject { scope, pods },
            direction,
            action,
            peer,
            ports,
            http: Vec::new(),
            origin: origin(set, intent).into(),
        });
        self
    }

    /// An allow rule.
    #[allow(clippy::too_many_arguments)] // A test helper: one argument per IR field.
    fn allow(
        self,
        id: (&str, &str),
        scope: Scope,
        pods: LabelSelector,
        direction: Direction,
        peer: Peer,
        ports: Ports,
    ) -> Self {
        self.rule(id, scope, pods, direction, Action::Allow, peer, ports)
    }

    /// Both sides of a connection intent inside one namespace set: egress on the
    /// source pods, ingress on the destination pods.
    fn connect(
        self,
        id: (&str, &str),
        (src_ns, src): (&str, LabelSelector),
        (dst_ns, dst): (&str, LabelSelector),
        p: Ports,
    ) -> Self {
        self.allow(
            id,
            ns(src_ns),
            src.clone(),
            Direction::Egress,
            Peer::pods_in(dst_ns, dst.clone()),
            p.clone(),
        )
        .allow(
            id,
            ns(dst_ns),
            dst,
            Direction::Ingress,
            Peer::pods_in(src_ns, src),
            p,
        )
    }

    /// The program, with the node networks declared (these tests are about rendering;
    /// `address_peers_need_the_node_networks` is about the declaration).
    fn build(mut self) -> Program {
        self.program.canonicalise();
        self.program.profile.nodes_declared = true;
        self.program
    }
}

fn ns(name: &str) -> Scope {
    Scope::Namespace(name.to_string())
}

fn cluster(names: &[&str]) -> Scope {
    Scope::Cluster(names.iter().map(|n| n.to_string()).collect())
}

fn pod(namespace: &str, name: &str, l: &[(&str, &str)], ip: &str) -> Pod {
    Pod {
        namespace: namespace.to_string(),
        name: name.to_string(),
        labels: labels(l),
        ip: ip.parse().expect("test IP"),
        named_ports: BTreeMap::new(),
    }
}

/// The cluster every translation test runs on.
fn model() -> ClusterModel {
    let mut backend = pod(
        "shop",
        "backend",
        &[("app", "backend"), ("tier", "api")],
        "10.244.1.2",
    );
    backend
        .named_ports
        .insert("http".into(), (Protocol::Tcp, 8080));
    backend
        .named_ports
        .insert("metrics".into(), (Protocol::Tcp, 9090));
    let mut other_backend = pod("other", "backend", &[("app", "backend")], "10.244.2.2");
    other_backend
        .named_ports
        .insert("http".into(), (Protocol::Tcp, 8050));
    let mut dns = pod(
        "kube-system",
        "coredns",
        &[("k8s-app", "kube-dns")],
        "10.244.0.10",
    );
    dns.named_ports.insert("dns".into(), (Protocol::Udp, 53));
    let mut pods = vec![
        pod(
            "shop",
            "frontend",
            &[("app", "frontend"), ("tier", "web")],
            "10.244.1.1",
        ),
        backend,
        pod("shop", "database", &[("app", "database")], "10.244.1.3"),
        pod("shop", "nolabel", &[], "10.244.1.4"),
        other_backend,
        pod(
            "other",
            "client",
            &[("app", "client"), ("tier", "canary")],
            "10.244.2.3",
        ),
        pod(
            "monitoring",
            "prometheus",
            &[("app", "prometheus")],
            "10.244.3.1",
        ),
        dns,
    ];
    pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let ns_labels = |name: &str, extra: &[(&str, &str)]| {
        let mut l = labels(extra);
        l.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
        (name.to_string(), l)
    };
    let mut externals: Vec<std::net::IpAddr> = [
        "8.8.8.8",
        "10.1.2.3",
        "169.254.169.254",
        "192.0.2.10",
        "203.0.113.10",
        "2001:db8::1",
    ]
    .iter()
    .map(|a| a.parse().expect("test IP"))
    .collect();
    externals.sort();
    ClusterModel {
        namespaces: BTreeMap::from([
            ns_labels("shop", &[("team", "shop")]),
            ns_labels("other", &[("team", "other")]),
            ns_labels("monitoring", &[("purpose", "monitoring")]),
            ns_labels("kube-system", &[]),
        ]),
        pods,
        externals,
        api_server: vec!["192.0.2.10".parse().expect("test IP")],
        nodes: Vec::new(),
        ports: vec![
            (Protocol::Tcp, 53),
            (Protocol::Tcp, 443),
            (Protocol::Tcp, 5432),
            (Protocol::Tcp, 8050),
            (Protocol::Tcp, 8080),
            (Protocol::Tcp, 9090),
            (Protocol::Udp, 53),
            (Protocol::Udp, 8080),
            (Protocol::Sctp, 3868),
        ],
    }
}

fn errors(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    diagnostics.iter().filter(|d| d.is_error()).collect()
}

/// The full pipeline on one program: no check error, every object valid and
/// deserialisable, and the evaluator agrees with the intended meaning on every flow.
fn translate(program: &Program) -> Vec<Value> {
    let diagnostics = check(program, &Options::default());
    assert!(
        errors(&diagnostics).is_empty(),
        "unexpected errors: {diagnostics:#?}"
    );
    let objects = render(program, &Options::default());
    for o in &objects {
        assert_eq!(validate(o), Vec::<String>::new(), "in {o:#}");
        let typed: NetworkPolicy = serde_json::from_value(o.clone()).expect("deserialises");
        let name = typed.metadata.name.expect("named");
        assert!(name.len() <= 63, "{name}");
        assert_eq!(
            o["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "netpolc"
        );
        assert!(o["metadata"]["annotations"]["netpolc.dev/intent"].is_string());
        assert!(o["metadata"]["annotations"]["netpolc.dev/source"].is_string());
    }
    let keys: Vec<(String, String)> = objects
        .iter()
        .map(|o| {
            (
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                o["metadata"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "objects sorted by (namespace, name), unique");
    let ev = evaluator(&objects).expect("the rendered objects evaluate");
    let m = model();
    let diffs = first_disagreements(program, &m, &ev, 10);
    assert!(diffs.is_empty(), "disagreements:\n{}", diffs.join("\n"));
    objects
}

/// The object with this name.
fn object<'a>(objects: &'a [Value], namespace: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["metadata"]["namespace"] == namespace && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no object {namespace}/{name} in {objects:#?}"))
}

/// The object holding the `direction` (`ingress` or `egress`) rules of `intent`
/// (`set/intent`) in `namespace`, with only that intent's rules: merged objects hold the
/// rules of several intents, told apart by their provenance annotations.
fn intent_object(objects: &[Value], namespace: &str, intent: &str, direction: &str) -> Value {
    let mut found: Vec<Value> = Vec::new();
    for o in objects
        .iter()
        .filter(|o| o["metadata"]["namespace"] == namespace)
    {
        let annotations: std::collections::BTreeMap<String, String> =
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
    assert_eq!(
        found.len(),
        1,
        "{direction} rules of {intent} in {namespace}: {found:#?}"
    );
    found.remove(0)
}

/// The flow `src -> dst port/proto` of the test model, by names as `ClusterModel::flow_name`
/// prints them.
fn flow(m: &ClusterModel, text: &str) -> Flow {
    m.flows()
        .into_iter()
        .find(|f| m.flow_name(f) == text)
        .unwrap_or_else(|| panic!("no flow `{text}`"))
}

fn verdict(ev: &impl Evaluator, m: &ClusterModel, text: &str) -> Verdict {
    ev.verdict(m, &flow(m, text))
}

#[test]
fn prepared_sides_answer_ports_as_flows_do() {
    // Port bits per rule (`port_mask`), against the evaluator's flow by flow answer:
    // numbers, ranges, named ports (the destination's own: the other end's on egress),
    // every port of a protocol, rules without ports, and more samples than a side
    // answers as bits (`SampleBits::MAX`), answered sample by sample.
    let m = model();
    let objects = vec![
        serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "backend", "namespace": "shop"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "backend"}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {"from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}],
                     "ports": [{"protocol": "TCP", "port": "http"},
                               {"protocol": "TCP", "port": 9000, "endPort": 9100}]},
                    {"ports": [{"protocol": "UDP"}]}
                ],
                "egress": [
                    {"ports": [{"protocol": "UDP", "port": "dns"},
                               {"protocol": "TCP", "port": "http"}]},
                    {"to": [{"ipBlock": {"cidr": "10.244.2.0/24"}}],
                     "ports": [{"protocol": "TCP", "port": 8050}]}
                ]
            }
        }),
        serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "all", "namespace": "other"},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"namespaceSelector": {}}]}],
                "egress": [{"ports": [{"protocol": "SCTP", "port": 80}]}]
            }
        }),
    ];
    let ev = evaluator(&objects).expect("evaluates");
    let named: Vec<(Protocol, u16)> = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
        .into_iter()
        .flat_map(|p| [53, 80, 8050, 8080, 9090, 9100, 9101].map(|n| (p, n)))
        .collect();
    let wide: Vec<(Protocol, u16)> = (0..70u16)
        .map(|k| (Protocol::Tcp, 8040 + k))
        .chain([(Protocol::Udp, 53), (Protocol::Tcp, 9090)])
        .collect();
    let compared =
        netpolc_ir::eval::every_prepared_side_agrees(&ev, &m, &[m.ports.clone(), named, wide]);
    assert!(compared.as_ref().is_ok_and(|&n| n > 0), "{compared:?}");
}
