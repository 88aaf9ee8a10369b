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
    // One document at a time: each is a small text, whatever the size of the repository.
    let mut out = Vec::with_capacity(objects.len());
    for o in objects {
        out.extend(parse_yaml("<emitted>", &emit::to_yaml(o))?);
    }
    Ok(out)
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

/// The work translation validation does at most by default, in flows × emitted objects
/// (an evaluator's verdict costs about one selector match per object). Beyond it, a
/// deterministic sample of flows is checked and the report says so; see ARCHITECTURE.md
/// ("Cost model") for why, and `--verify-all` for the full check.
pub const DEFAULT_FLOW_BUDGET: usize = 200_000_000;

/// The outcome of translation validation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Disagreements, at most `limit` per target.
    pub disagreements: Vec<Disagreement>,
    /// Flows evaluated (on every target).
    pub checked: usize,
    /// Flows in the model.
    pub total: usize,
}

/// Compares the flows of `model` between the intents and each target's manifests, within
/// [`DEFAULT_FLOW_BUDGET`]; returns at most `limit` disagreements per target.
///
/// # Errors
/// When a target's manifests cannot be read back or evaluated.
pub fn validate(
    program: &Program,
    model: &ClusterModel,
    rendered: &[(Target, Vec<Value>)],
    limit: usize,
) -> Result<Vec<Disagreement>, String> {
    validate_with(program, model, rendered, limit, Some(DEFAULT_FLOW_BUDGET))
        .map(|r| r.disagreements)
}

/// Like [`validate`], with an explicit budget in flows × objects (`None`: every flow). When the model has
/// more flows than the budget, a deterministic, evenly spread sample is evaluated (a
/// multiplicative hash of the flow's index picks it, so no port or namespace pattern is
/// skipped systematically).
///
/// # Errors
/// When a target's manifests cannot be read back or evaluated.
pub fn validate_with(
    program: &Program,
    model: &ClusterModel,
    rendered: &[(Target, Vec<Value>)],
    limit: usize,
    budget: Option<usize>,
) -> Result<Report, String> {
    let intended = netpolc_ir::eval::intended(program);
    let total = model.flow_count();
    let objects: usize = rendered.iter().map(|(_, o)| o.len()).sum::<usize>().max(1);
    let stride = match budget {
        Some(b) => {
            let flows = (b / objects).max(10_000);
            if total > flows {
                total.div_ceil(flows)
            } else {
                1
            }
        }
        None => 1,
    };
    let mut evals = Vec::new();
    for (target, objects) in rendered {
        let parsed = round_trip(objects)?;
        evals.push((
            *target,
            evaluator(*target, &parsed).map_err(|e| format!("{target}: {e}"))?,
        ));
    }
    let mut report = Report {
        total,
        ..Report::default()
    };
    let mut found = vec![0usize; evals.len()];
    for i in 0..total {
        if stride > 1
            && (i as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(17)
                % stride as u64
                != 0
        {
            continue;
        }
        let Some(flow) = model.flow_at(i) else {
            continue;
        };
        let f = &flow;
        report.checked += 1;
        let want = intended.verdict(model, f);
        for ((target, eval), n) in evals.iter().zip(found.iter_mut()) {
            if *n >= limit {
                continue;
            }
            let got = eval.verdict(model, f);
            if want.allowed() != got.allowed() {
                report.disagreements.push(Disagreement {
                    target: *target,
                    flow: model.flow_name(f),
                    intended: describe(&want),
                    emitted: describe(&got),
                });
                *n += 1;
            }
        }
    }
    report.disagreements.sort_by_key(|d| d.target);
    Ok(report)
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
