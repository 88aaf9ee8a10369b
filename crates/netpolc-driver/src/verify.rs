//! Translation validation: the emitted manifests of every target, parsed back from the
//! YAML text netpolc writes, are evaluated with that back end's own semantics on a model
//! derived from the program, and every flow's verdict is compared with the intended one.
//!
//! Also the shared machinery of `netpolc test`, `explain` and `eval`: evaluators for any
//! target from manifests, and models with the test endpoints added.

use crate::{emit, Target};
use netpolc_ir::model::{ClusterModel, Endpoint, Evaluator, Flow, Pod, Verdict};
use netpolc_ir::{ConnectivityTest, Expect, PortSpec, Program, TestCase, TestEndpoint};
use netpolc_source::{FileId, SourceMap};
use serde_json::Value;

/// Parses a multi-document YAML text into JSON values, with the same loader (and limits)
/// as the intents.
///
/// # Errors
/// The loader's message, with file:line:column.
pub fn parse_yaml(name: &str, text: &str) -> Result<Vec<Value>, String> {
    let mut sources = SourceMap::default();
    let id: FileId = sources.add(name, text.to_string());
    match netpolc_intent::yaml::load(
        id,
        text.as_bytes(),
        &netpolc_intent::yaml::Limits::default(),
    ) {
        Ok(nodes) => Ok(nodes.iter().map(|n| n.to_json()).collect()),
        Err(d) => Err(netpolc_source::render_human(&sources, &[d])),
    }
}

/// The objects as netpolc writes them, read back: emitted YAML → loader → JSON.
///
/// # Errors
/// When the emitter wrote something the loader cannot read (an internal error).
pub fn round_trip(objects: &[Value]) -> Result<Vec<Value>, String> {
    let text: String = objects
        .iter()
        .map(|o| format!("---\n{}", emit::to_yaml(o)))
        .collect();
    parse_yaml("<emitted>", &text)
}

/// An evaluator of one target's manifests.
///
/// # Errors
/// When the manifests contain something the evaluator does not understand.
pub fn evaluator(target: Target, objects: &[Value]) -> Result<Box<dyn Evaluator>, String> {
    Ok(match target {
        Target::Kubernetes => Box::new(netpolc_k8s::evaluator(objects)?),
        Target::Calico => Box::new(netpolc_calico::evaluator(objects)?),
        Target::Cilium => Box::new(netpolc_cilium::evaluator(objects)?),
    })
}

/// One flow on which a target's manifests and the intents disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// The target.
    pub target: Target,
    /// `ns/pod -> ns/pod 80/tcp`.
    pub flow: String,
    /// What the intents mean.
    pub intended: String,
    /// What the manifests do.
    pub emitted: String,
}

fn describe(v: &Verdict) -> String {
    format!(
        "{} (egress: {}; ingress: {})",
        if v.allowed() { "allow" } else { "deny" },
        v.egress,
        v.ingress
    )
}

/// Compares every flow of `model` between the intents and each target's manifests;
/// returns at most `limit` disagreements per target.
///
/// # Errors
/// When a target's manifests cannot be read back or evaluated.
pub fn validate(
    program: &Program,
    model: &ClusterModel,
    rendered: &[(Target, Vec<Value>)],
    limit: usize,
) -> Result<Vec<Disagreement>, String> {
    let intended = netpolc_ir::eval::intended(program);
    let flows = model.flows();
    let mut out = Vec::new();
    for (target, objects) in rendered {
        let parsed = round_trip(objects)?;
        let eval = evaluator(*target, &parsed).map_err(|e| format!("{target}: {e}"))?;
        let mut n = 0;
        for f in &flows {
            let want = intended.verdict(model, f);
            let got = eval.verdict(model, f);
            if want.allowed() != got.allowed() {
                out.push(Disagreement {
                    target: *target,
                    flow: model.flow_name(f),
                    intended: describe(&want),
                    emitted: describe(&got),
                });
                n += 1;
                if n >= limit {
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// Adds (or finds) the pods of the tests' endpoints to a model; returns the endpoint of
/// each side of each case, in order.
pub fn place_tests(
    model: &mut ClusterModel,
    tests: &[ConnectivityTest],
) -> Vec<Vec<(Endpoint, Endpoint)>> {
    let mut out = Vec::new();
    for t in tests {
        let mut cases = Vec::new();
        for c in &t.cases {
            cases.push((place(model, &c.from), place(model, &c.to)));
        }
        out.push(cases);
    }
    out
}

fn place(model: &mut ClusterModel, e: &TestEndpoint) -> Endpoint {
    match e {
        TestEndpoint::Address(ip) => {
            if !model.externals.contains(ip) {
                model.externals.push(*ip);
                model.externals.sort();
            }
            Endpoint::External(*ip)
        }
        TestEndpoint::Pod { namespace, labels } => {
            if let Some(i) = model
                .pods
                .iter()
                .position(|p| &p.namespace == namespace && &p.labels == labels)
            {
                return Endpoint::Pod(i);
            }
            model
                .namespaces
                .entry(namespace.clone())
                .or_insert_with(|| {
                    [(
                        netpolc_ir::NAMESPACE_NAME_LABEL.to_string(),
                        namespace.clone(),
                    )]
                    .into_iter()
                    .collect()
                });
            let named = model
                .pods
                .first()
                .map(|p| p.named_ports.clone())
                .unwrap_or_default();
            let n = model.pods.len() as u32 + 1000;
            model.pods.push(Pod {
                namespace: namespace.clone(),
                name: format!("test-{n}"),
                labels: labels.clone(),
                ip: std::net::IpAddr::V4(std::net::Ipv4Addr::new(
                    10,
                    244,
                    250,
                    (n % 250) as u8 + 1,
                )),
                named_ports: named,
            });
            Endpoint::Pod(model.pods.len() - 1)
        }
    }
}

/// The flow of a test case between placed endpoints.
pub fn test_flow(case: &TestCase, from: Endpoint, to: Endpoint) -> Flow {
    let port = match case.port.port {
        PortSpec::Range { start, .. } => start,
        _ => 0,
    };
    Flow {
        src: from,
        dst: to,
        protocol: case.port.protocol,
        port,
    }
}

/// Whether a verdict meets an expectation.
pub fn meets(v: &Verdict, e: Expect) -> bool {
    v.allowed() == (e == Expect::Allow)
}
