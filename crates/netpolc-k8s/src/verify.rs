//! Translation validation: comparing an evaluator of emitted manifests with the intended
//! meaning of the program, flow by flow.

use netpolc_ir::eval::intended;
use netpolc_ir::model::{ClusterModel, Evaluator, Verdict};
use netpolc_ir::Program;

/// The first `limit` flows of `model` (in [`ClusterModel::flows`] order) on which
/// `evaluator` and the intended meaning of `program` disagree about whether the
/// connection is allowed, one line each; empty when they agree on every flow.
///
/// Only the overall verdict is compared (both sides must allow), not which rule decided.
/// The helper knows nothing of Kubernetes: it works for any back end's evaluator.
pub fn first_disagreements<E>(
    program: &Program,
    model: &ClusterModel,
    evaluator: &E,
    limit: usize,
) -> Vec<String>
where
    E: Evaluator + ?Sized,
{
    let want = intended(program);
    let mut out = Vec::new();
    if limit == 0 {
        return out;
    }
    for flow in model.flows() {
        let expected = want.verdict(model, &flow);
        let actual = evaluator.verdict(model, &flow);
        if expected.allowed() != actual.allowed() {
            out.push(format!(
                "{}: intended {} ({}), {} {} ({})",
                model.flow_name(&flow),
                word(&expected),
                sides(&expected),
                evaluator.name(),
                word(&actual),
                sides(&actual),
            ));
            if out.len() >= limit {
                break;
            }
        }
    }
    out
}

fn word(v: &Verdict) -> &'static str {
    if v.allowed() {
        "allowed"
    } else {
        "denied"
    }
}

fn sides(v: &Verdict) -> String {
    format!("egress: {}; ingress: {}", v.egress, v.ingress)
}
