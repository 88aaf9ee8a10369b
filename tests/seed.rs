//! The seed scenario's two traps, shown impossible on every back end, and its
//! connectivity expectations met.
//!
//! (a) With default-deny egress, an ingress-only "backend allows frontend" does not let
//!     frontend connect: `frontend -> backend` must yield both sides.
//! (b) A "block metadata" written as an allow of `0.0.0.0/0 except metadata` silently
//!     opens the Internet: `block-cloud-metadata` must never add an allow.

use crate::util::{compile, render, root};
use netpolc_driver::{verify, Target};
use netpolc_ir::model::{ClusterModel, Endpoint, Flow};
use netpolc_ir::{derive, Protocol};
use std::path::PathBuf;

fn pod(model: &ClusterModel, ns: &str, app: &str) -> Endpoint {
    let i = model
        .pods
        .iter()
        .position(|p| {
            p.namespace == ns
                && p.labels.len() == 1
                && p.labels.get("app").map(String::as_str) == Some(app)
        })
        .unwrap_or_else(|| panic!("no pod app={app} in {ns}"));
    Endpoint::Pod(i)
}

#[test]
fn frontend_to_backend_yields_both_sides_on_every_backend() {
    let (sources, program, diags) = compile(&[PathBuf::from("policies")]);
    let program = program.unwrap_or_else(|| panic!("{diags}"));
    let model = derive::derive(&program);
    let flow = Flow {
        src: pod(&model, "production", "frontend"),
        dst: pod(&model, "production", "backend"),
        protocol: Protocol::Tcp,
        port: 8080,
    };
    for t in Target::ALL {
        let objects = render(&sources, &program, t).expect("renders");
        let objects = verify::round_trip(&objects).unwrap();
        let eval = verify::evaluator(t, &objects).unwrap();
        let v = eval.verdict(&model, &flow);
        assert!(v.allowed(), "{t}: {} / {}", v.egress, v.ingress);
        // Both sides are decided by an emitted rule of the one intent, not left open.
        for side in [&v.egress, &v.ingress] {
            match side {
                netpolc_ir::model::Side::Allowed(d) => {
                    assert_eq!(
                        d.intent.as_deref(),
                        Some("production/frontend-to-backend"),
                        "{t}: {d}"
                    )
                }
                other => panic!("{t}: side not decided by the intent: {other}"),
            }
        }
        // Remove the egress-side object and the flow is denied: the egress rule is load-bearing.
        let without: Vec<_> = objects
            .iter()
            .filter(|o| {
                !(o["metadata"]["annotations"]["netpolc.dev/intent"]
                    == "production/frontend-to-backend"
                    && o["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.ends_with("egress")))
            })
            .cloned()
            .collect();
        assert_eq!(
            without.len() + 1,
            objects.len(),
            "{t}: exactly one egress object for the intent"
        );
        let eval = verify::evaluator(t, &without).unwrap();
        assert!(
            !eval.verdict(&model, &flow).allowed(),
            "{t}: allowed without the egress side"
        );
    }
}

#[test]
fn block_cloud_metadata_never_adds_an_allow() {
    let (sources, with, diags) = compile(&[PathBuf::from("policies")]);
    let with = with.unwrap_or_else(|| panic!("{diags}"));
    // The same repository without the preset.
    let dir = tempdir();
    for f in ["production.yaml", "monitoring.yaml", "cluster-profile.yaml"] {
        let text = std::fs::read_to_string(root().join("policies").join(f)).unwrap();
        let text = text.replace("    - block-cloud-metadata\n", "");
        std::fs::write(dir.join(f), text).unwrap();
    }
    let (sources_wo, without, diags) = compile(std::slice::from_ref(&dir));
    let without = without.unwrap_or_else(|| panic!("{diags}"));
    let model = derive::derive(&with);
    let metadata: Vec<_> = ["169.254.169.254", "100.100.100.200"]
        .iter()
        .map(|s| Endpoint::External(s.parse().unwrap()))
        .collect();
    for t in Target::ALL {
        let a = verify::evaluator(
            t,
            &verify::round_trip(&render(&sources, &with, t).unwrap()).unwrap(),
        )
        .unwrap();
        let b = verify::evaluator(
            t,
            &verify::round_trip(&render(&sources_wo, &without, t).unwrap()).unwrap(),
        )
        .unwrap();
        let mut compared = 0;
        for f in model.flows() {
            let (va, vb) = (
                a.verdict(&model, &f).allowed(),
                b.verdict(&model, &f).allowed(),
            );
            assert!(!va || vb, "{t}: the preset allows {}", model.flow_name(&f));
            let from_production =
                matches!(f.src, Endpoint::Pod(i) if model.pods[i].namespace == "production");
            if from_production && metadata.contains(&f.dst) {
                assert!(!va, "{t}: {} reaches metadata", model.flow_name(&f));
            }
            compared += 1;
        }
        assert!(compared > 1000, "{t}: only {compared} flows");
        // And nothing in the output allows 0.0.0.0/0.
        let text = serde_json::to_string(&render(&sources, &with, t).unwrap()).unwrap();
        assert!(!text.contains("0.0.0.0/0"), "{t}: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn seed_connectivity_tests_pass_on_every_backend() {
    let (sources, program, diags) = compile(&[PathBuf::from("policies")]);
    let program = program.unwrap_or_else(|| panic!("{diags}"));
    let mut model = derive::derive(&program);
    let placed = verify::place_tests(&mut model, &program.tests);
    assert_eq!(program.tests.len(), 1);
    assert_eq!(program.tests[0].cases.len(), 2);
    for t in Target::ALL {
        let eval = verify::evaluator(
            t,
            &verify::round_trip(&render(&sources, &program, t).unwrap()).unwrap(),
        )
        .unwrap();
        for (test, cases) in program.tests.iter().zip(&placed) {
            for (case, (from, to)) in test.cases.iter().zip(cases) {
                let v = eval.verdict(&model, &verify::test_flow(case, *from, *to));
                assert!(
                    verify::meets(&v, case.expect),
                    "{t}: {} expected {:?}, got {} / {}",
                    case.label,
                    case.expect,
                    v.egress,
                    v.ingress
                );
            }
        }
    }
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("netpolc-seed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
