//! The one build pipeline: every path that outputs manifests (`build`, `check`,
//! `render`, `test` and the KRM function `fn`) calls [`build`], so that they all run the
//! same checks with the same budget.
//!
//! For each target: the back end's one-pass compile ([`crate::render`]), then the checks
//! every back end needs, run here once for all of them: the `${` guard (`NP6002`),
//! validation of every object by the back end's own API-server or agent rules turned
//! into diagnostics (`NP6012`; skipped when the back end's compile already validated
//! exactly the objects it returns and reported their problems with its own code,
//! `Compiled::validated`), object identity collisions across the targets
//! (`NP6011`), and the exact proof on the manifests read back from their YAML
//! (`NP6010`).

use crate::verify::{self, Disagreement};
use crate::{Options, Target};
use netpolc_ir::proof::ProofStats;
use netpolc_ir::Program;
use netpolc_source::Diagnostic;
use serde_json::Value;

/// How many disagreements per target the proof reports before it stops.
pub const DISAGREEMENT_LIMIT: usize = 5;

/// The manifests of every target, proved.
#[derive(Clone, Debug)]
pub struct Built {
    /// Each target's manifests, in the order the targets were given.
    pub rendered: Vec<(Target, Vec<Value>)>,
    /// Warnings and notes of the back ends (each tagged with its target).
    pub diagnostics: Vec<Diagnostic>,
    /// The work the proof did.
    pub stats: ProofStats,
    /// Wall time of each phase (`compile`, `read back`, `prove`), for `-v`.
    pub phases: Vec<(&'static str, std::time::Duration)>,
}

/// Why [`build`] produced nothing.
#[derive(Clone, Debug)]
pub struct Failed {
    /// Every diagnostic: the back ends' warnings and the errors that stopped the build,
    /// each tagged with its target where it has one. Disagreements are in
    /// [`Failure::Disagreed`] ([`verify::disagreement_diagnostics`] makes `NP6010`s).
    pub diagnostics: Vec<Diagnostic>,
    /// What went wrong.
    pub failure: Failure,
}

/// The kind of failure of [`build`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The intents cannot be rendered (a back end refused them, an object would be
    /// rejected, two objects collide, or `${` would be rewritten): bad input.
    Refused,
    /// The proof found flows on which a target's manifests and the intents disagree.
    Disagreed(Vec<Disagreement>),
    /// The proof could not run (an internal error: the manifests could not be read back).
    Internal(String),
}

/// Renders every target in `targets` and proves the result. Diagnostics of all targets
/// are collected before failing, so one run reports every problem of every target.
///
/// # Errors
/// See [`Failure`].
pub fn build(program: &Program, targets: &[Target], options: &Options) -> Result<Built, Failed> {
    let mut diagnostics = Vec::new();
    let mut rendered = Vec::new();
    let mut refused = false;
    let started = std::time::Instant::now();
    // The back ends compile side by side, one thread each (three back ends on two cores
    // would otherwise leave a core idle while the third compiles); their results are
    // taken in the targets' order.
    let compiled = netpolc_ir::par::map(targets.len(), targets.len(), 1, |i| {
        crate::render(program, targets[i], options)
    });
    for (&t, result) in targets.iter().zip(compiled) {
        match result {
            Ok(r) => {
                diagnostics.extend(r.diagnostics.into_iter().map(|d| d.with_target(t.name())));
                rendered.push((t, r.objects));
            }
            Err(d) => {
                diagnostics.extend(d.into_iter().map(|d| d.with_target(t.name())));
                refused = true;
            }
        }
    }
    if refused {
        return Err(Failed {
            diagnostics,
            failure: Failure::Refused,
        });
    }
    let collisions = verify::identity_collisions(program, &rendered);
    if !collisions.is_empty() {
        diagnostics.extend(collisions);
        return Err(Failed {
            diagnostics,
            failure: Failure::Refused,
        });
    }
    let compiled_at = started.elapsed();
    let model = netpolc_ir::derive::derive(program);
    match verify::prove(program, &model, &rendered, DISAGREEMENT_LIMIT) {
        Ok(report) if report.disagreements.is_empty() => Ok(Built {
            rendered,
            diagnostics,
            stats: report.stats,
            phases: vec![
                ("compile", compiled_at),
                ("read back", report.read_back),
                ("prove", report.proved),
            ],
        }),
        Ok(report) => Err(Failed {
            diagnostics,
            failure: Failure::Disagreed(report.disagreements),
        }),
        Err(e) => Err(Failed {
            diagnostics,
            failure: Failure::Internal(e),
        }),
    }
}

/// `NP6012`: objects the back end's own API server or agent would reject. A back end
/// that validates its objects while compiling reports them earlier with its own code
/// and a better position; this is the net under every back end.
pub(crate) fn rejected(program: &Program, target: Target, objects: &[Value]) -> Vec<Diagnostic> {
    let backend = target.backend();
    let spans = verify::IntentSpans::new(program);
    let mut out = Vec::new();
    for o in objects {
        let problems = backend.validate(o);
        if problems.is_empty() {
            continue;
        }
        let intent = o["metadata"]["annotations"][netpolc_ir::metadata::INTENT_ANNOTATION].as_str();
        let mut d = Diagnostic::error(
            "NP6012",
            format!(
                "{target} would reject `{}`{}",
                crate::object_id(o),
                intent
                    .map(|i| format!(" rendered for intent `{i}`"))
                    .unwrap_or_default()
            ),
        )
        .with_opt_label(
            intent.and_then(|i| spans.get(i)),
            "rendered into an invalid object",
        );
        for p in problems {
            d = d.with_note(p);
        }
        out.push(d.with_help("this is a netpolc bug: please report it with the intent"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_object_the_back_end_would_reject_is_np6012() {
        let program = Program::default();
        let bad = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "Not_A_Name",
                "namespace": "shop",
                "annotations": {"netpolc.dev/intent": "shop/x"}
            },
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
        });
        let good = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "fine", "namespace": "shop"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
        });
        let d = rejected(&program, Target::Kubernetes, &[good.clone(), bad.clone()]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, "NP6012");
        assert!(
            d[0].message.contains("NetworkPolicy shop/Not_A_Name"),
            "{}",
            d[0].message
        );
        assert!(d[0].message.contains("intent `shop/x`"), "{}", d[0].message);
        assert!(!d[0].notes.is_empty());
        assert!(rejected(&program, Target::Kubernetes, &[good]).is_empty());
    }

    #[test]
    fn an_empty_program_builds_on_every_back_end_in_one_call() {
        let built = build(&Program::default(), &Target::ALL, &Options::default()).unwrap();
        let targets: Vec<Target> = built.rendered.iter().map(|(t, _)| *t).collect();
        assert_eq!(targets, Target::ALL.to_vec());
    }
}
