//! Property test of the deny subtraction: whenever `allow_only::lower` succeeds, the
//! allow-only program means exactly what the original means, on every flow of a model
//! that covers every label combination, CIDR boundary and port the generator uses.

use netpolc_ir::model::{ClusterModel, Evaluator, Pod};
use netpolc_ir::{
    allow_only, eval, Action, CidrBlock, Direction, Isolation, LabelSelector, ManagedNamespace,
    Origin, Peer, PortMatch, PortSpec, Ports, Program, Protocol, Requirement, Rule, Scope, Subject,
    NAMESPACE_NAME_LABEL,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn origin(i: usize) -> Origin {
    Origin {
        file: "t.yaml".into(),
        set: "s".into(),
        intent: format!("i{i}"),
        preset: None,
        span: None,
    }
}

fn selector(i: usize) -> LabelSelector {
    match i {
        0 => LabelSelector::all(),
        1 => LabelSelector::from_labels([("app", "x")]),
        2 => LabelSelector::from_labels([("app", "y")]),
        3 => LabelSelector::from_requirements([Requirement::not_in("app", ["x"])]).unwrap(),
        4 => LabelSelector::from_requirements([Requirement::exists("tier")]).unwrap(),
        _ => LabelSelector::from_labels([("app", "x"), ("tier", "t")]),
    }
}

fn ns_selector(i: usize) -> LabelSelector {
    match i {
        0 => LabelSelector::all(),
        1 => LabelSelector::from_labels([(NAMESPACE_NAME_LABEL, "a")]),
        2 => LabelSelector::from_labels([(NAMESPACE_NAME_LABEL, "b")]),
        _ => LabelSelector::from_labels([("team", "t")]),
    }
}

fn cidr(i: usize) -> CidrBlock {
    let n = |s: &str| s.parse().unwrap();
    match i {
        0 => CidrBlock {
            net: n("0.0.0.0/0"),
            except: vec![n("10.244.0.0/16")],
        },
        1 => CidrBlock {
            net: n("0.0.0.0/0"),
            except: vec![n("10.244.0.0/16"), n("169.254.169.254/32")],
        },
        2 => CidrBlock {
            net: n("169.254.169.254/32"),
            except: vec![],
        },
        3 => CidrBlock {
            net: n("203.0.113.0/24"),
            except: vec![n("203.0.113.128/25")],
        },
        _ => CidrBlock {
            net: n("203.0.113.0/24"),
            except: vec![],
        },
    }
}

fn peer(kind: usize, a: usize, b: usize) -> Peer {
    match kind {
        0 | 1 => Peer::Pods {
            namespaces: ns_selector(a % 4),
            pods: selector(b % 6),
        },
        2 => Peer::Cidr(cidr(a % 5)),
        _ => Peer::Any,
    }
}

fn ports(i: usize) -> Ports {
    let set = |v: Vec<PortMatch>| Ports::only(v);
    match i {
        0 => Ports::Any,
        1 => set(vec![PortMatch::single(Protocol::Tcp, 80)]),
        2 => set(vec![PortMatch {
            protocol: Protocol::Tcp,
            port: PortSpec::Range { start: 80, end: 90 },
        }]),
        3 => set(vec![
            PortMatch::single(Protocol::Udp, 53),
            PortMatch::single(Protocol::Tcp, 53),
        ]),
        _ => set(vec![PortMatch {
            protocol: Protocol::Tcp,
            port: PortSpec::All,
        }]),
    }
}

fn model() -> ClusterModel {
    let mut m = ClusterModel::default();
    for (ns, team) in [("a", Some("t")), ("b", None), ("c", Some("t"))] {
        let mut labels = BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), ns.to_string())]);
        if let Some(t) = team {
            labels.insert("team".into(), t.into());
        }
        m.namespaces.insert(ns.into(), labels);
        let mut i = 0;
        for app in [None, Some("x"), Some("y")] {
            for tier in [None, Some("t"), Some("u")] {
                let mut l = BTreeMap::new();
                if let Some(a) = app {
                    l.insert("app".to_string(), a.to_string());
                }
                if let Some(t) = tier {
                    l.insert("tier".to_string(), t.to_string());
                }
                i += 1;
                m.pods.push(Pod {
                    namespace: ns.into(),
                    name: format!("p{i}"),
                    labels: l,
                    ip: format!("10.244.{}.{i}", ns.len()).parse().unwrap(),
                    named_ports: BTreeMap::new(),
                });
            }
        }
    }
    m.externals = ["8.8.8.8", "169.254.169.254", "203.0.113.1", "203.0.113.200"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    m.ports = vec![
        (Protocol::Tcp, 53),
        (Protocol::Tcp, 79),
        (Protocol::Tcp, 80),
        (Protocol::Tcp, 85),
        (Protocol::Tcp, 90),
        (Protocol::Tcp, 91),
        (Protocol::Udp, 53),
        (Protocol::Udp, 80),
    ];
    m
}

type RawRule = (bool, usize, usize, bool, usize, usize, usize, usize);

fn program(isolated: &[(bool, bool)], raw: &[RawRule]) -> Program {
    let mut p = Program::default();
    for (i, ns) in ["a", "b"].iter().enumerate() {
        let mut iso = BTreeSet::new();
        if isolated[i].0 {
            iso.insert(Direction::Ingress);
        }
        if isolated[i].1 {
            iso.insert(Direction::Egress);
        }
        for d in &iso {
            p.isolations.push(Isolation {
                scope: Scope::Namespace(ns.to_string()),
                direction: *d,
                origin: origin(99),
            });
        }
        let mut labels = BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), ns.to_string())]);
        if *ns == "a" {
            labels.insert("team".into(), "t".into());
        }
        p.namespaces.insert(
            ns.to_string(),
            ManagedNamespace {
                name: ns.to_string(),
                labels,
                isolated: iso,
                origin: origin(99),
            },
        );
    }
    for (i, &(deny, ns, subj, egress, pk, pa, pb, pt)) in raw.iter().enumerate() {
        let ns = ["a", "b"][ns % 2];
        let direction = if egress {
            Direction::Egress
        } else {
            Direction::Ingress
        };
        let action = if deny { Action::Deny } else { Action::Allow };
        if action == Action::Allow && !p.is_isolated(ns, direction) {
            continue;
        }
        let peer = peer(pk % 4, pa, pb);
        p.rules.push(Rule {
            subject: Subject {
                scope: Scope::Namespace(ns.into()),
                pods: selector(subj % 6),
            },
            direction,
            action,
            peer,
            ports: ports(pt % 5),
            http: vec![],
            origin: origin(i).into(),
        });
    }
    p.canonicalise();
    p
}

fn agree(original: &Program, lowered: &Program, m: &ClusterModel) -> Result<(), String> {
    assert!(lowered.rules.iter().all(|r| r.action == Action::Allow));
    let a = eval::intended(original);
    let b = eval::intended(lowered);
    for f in m.flows() {
        let (x, y) = (a.verdict(m, &f).allowed(), b.verdict(m, &f).allowed());
        if x != y {
            return Err(format!("{}: original {x}, lowered {y}", m.flow_name(&f)));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn subtraction_preserves_meaning(
        isolated in proptest::collection::vec((any::<bool>(), any::<bool>()), 2),
        raw in proptest::collection::vec((any::<bool>(), 0..2usize, 0..6usize, any::<bool>(), 0..4usize, 0..8usize, 0..8usize, 0..5usize), 0..6)
    ) {
        let p = program(&isolated, &raw);
        let m = model();
        if let Ok(lowered) = allow_only::lower(&p) {
            prop_assert_eq!(agree(&p, &lowered, &m), Ok(()));
        }
    }
}

#[test]
fn metadata_block_is_subtracted_from_internet_allow() {
    let p = program(
        &[(true, true), (true, true)],
        &[
            (false, 0, 0, true, 2, 0, 0, 0),
            (true, 0, 0, true, 2, 2, 0, 0),
        ],
    );
    let lowered = allow_only::lower(&p).expect("exact");
    let m = model();
    agree(&p, &lowered, &m).unwrap();
    let Peer::Cidr(b) = &lowered.rules[0].peer else {
        panic!("{:?}", lowered.rules)
    };
    assert!(
        b.except.contains(&"169.254.169.254/32".parse().unwrap()),
        "{b}"
    );
}

#[test]
fn pod_deny_becomes_negated_requirement() {
    // allow a -> all pods of b; deny a -> app=x in b (both sides isolated).
    let p = program(
        &[(true, true), (true, true)],
        &[
            (false, 0, 0, true, 0, 2, 0, 0),
            (true, 0, 0, true, 0, 2, 1, 0),
        ],
    );
    let lowered = allow_only::lower(&p).expect("exact");
    agree(&p, &lowered, &model()).unwrap();
    assert_eq!(lowered.rules.len(), 1);
}

#[test]
fn deny_on_open_side_without_mirror_is_an_error() {
    // namespace b not isolated for egress; deny b -> internet.
    let p = program(
        &[(true, true), (false, false)],
        &[(true, 1, 0, true, 2, 0, 0, 0)],
    );
    let errs = allow_only::lower(&p).unwrap_err();
    assert_eq!(errs[0].code, allow_only::codes::DENY_ON_OPEN_SIDE);
}

#[test]
fn any_ports_minus_some_ports_is_an_error() {
    let p = program(
        &[(true, true), (true, true)],
        &[
            (false, 0, 0, true, 2, 0, 0, 0),
            (true, 0, 0, true, 2, 0, 0, 1),
        ],
    );
    let errs = allow_only::lower(&p).unwrap_err();
    assert_eq!(errs[0].code, allow_only::codes::PORTS_NOT_SUBTRACTABLE);
}
