//! The one build pipeline: every path that outputs manifests (`build`, `check`,
//! `render`, `test` and the KRM function `fn`) calls [`build`], so that they all run the
//! same checks with the same budget.
//!
//! For each target: the back end's one-pass compile, then, object by object as each is
//! taken from it (`stream.rs`), the checks every back end needs, run here once for
//! all of them: the `${` guard (`NP6002`),
//! validation of every object by the back end's own API-server or agent rules turned
//! into diagnostics (`NP6012`; skipped when the back end's compile already validated
//! exactly the objects it returns and reported their problems with its own code,
//! `Compiled::validated`), object identity collisions across the targets
//! (`NP6011`), and the exact proof on the manifests read back from their YAML
//! (`NP6010`).

use crate::emit::Emitted;
use crate::stream;
use crate::verify::{self, Disagreement};
use crate::{Options, Target};
use netpolc_ir::proof::ProofStats;
use netpolc_ir::Program;
use netpolc_source::Diagnostic;

/// How many disagreements per target the proof reports before it stops.
pub const DISAGREEMENT_LIMIT: usize = 5;

/// The manifests of every target, proved.
#[derive(Clone, Debug)]
pub struct Built {
    /// Each target's manifests as written ([`Emitted`]: the text the proof read back),
    /// in the order the targets were given.
    pub rendered: Vec<(Target, Vec<Emitted>)>,
    /// Warnings and notes of the back ends (each tagged with its target).
    pub diagnostics: Vec<Diagnostic>,
    /// The work the proof did.
    pub stats: ProofStats,
    /// Wall time of each phase, for `-v`: `compile` (until the last back end compiled),
    /// `read back` (until every evaluator is built; a back end that compiled earlier
    /// reads back meanwhile), `prove`.
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
    // The proof's model is derived and made ready, and the intended meaning's evaluator
    // built, while the back ends compile (on a thread of its own when one can be
    // started).
    std::thread::scope(|scope| {
        let derive = || {
            (
                verify::prepare(program, netpolc_ir::derive::derive(program)),
                netpolc_ir::eval::intended(program),
            )
        };
        let model = std::thread::Builder::new()
            .name("derive".into())
            .spawn_scoped(scope, derive)
            .map_err(|_| derive);
        let model = move || match model {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            Err(derive) => derive(),
        };
        build_with(program, targets, options, model)
    })
}

/// [`build`], with the model to prove on (made ready) and the intended meaning's evaluator from
/// `model`.
fn build_with<'p>(
    program: &'p Program,
    targets: &[Target],
    options: &Options,
    model: impl FnOnce() -> (netpolc_ir::proof::Prepared, netpolc_ir::eval::Intended<'p>),
) -> Result<Built, Failed> {
    let mut diagnostics = Vec::new();
    let mut rendered = Vec::new();
    let mut evaluators = Vec::new();
    let mut refused = false;
    let started = std::time::Instant::now();
    // Each back end compiles, then its objects are taken one at a time, emitted once,
    // read back as they are applied and read into its evaluator (`stream`), on as many
    // threads as cores, each taking the next back end when done (a back end that
    // compiles fast reads back while another compiles). Only the text is kept: each
    // object's tree (several times the text) is freed once read, so the proof runs
    // beside the texts and the evaluators only. Results are taken in the targets' order.
    let threads = netpolc_ir::par::threads();
    // The cores each back end's compile may spread its own parts over: all of them for
    // one target (`render`, `fn`), one each when there are as many targets as cores, and
    // all of them again for the last target taken, which no other back end waits for
    // (the other cores only finish what they hold).
    let share = (threads / targets.len().max(1)).max(1);
    let compiled = netpolc_ir::par::map_taken(threads, targets.len(), |i| {
        let target = targets[i];
        let share = if i + 1 == targets.len() {
            threads
        } else {
            share
        };
        let result =
            netpolc_ir::par::with_threads(share, || crate::compiled(program, target, options));
        let compiled_in = started.elapsed();
        result.and_then(|mut c| {
            let diagnostics = std::mem::take(&mut c.diagnostics);
            // Each object checked, emitted, read back and read into the evaluator, then
            // freed (`stream`).
            let s = stream::stream(program, target, c);
            if s.problems.is_empty() {
                Ok((diagnostics, s.twins, s.emitted, compiled_in))
            } else {
                Err(diagnostics.into_iter().chain(s.problems).collect())
            }
        })
    });
    let mut compile_time = std::time::Duration::ZERO;
    let mut internal = None;
    let mut twins = Vec::new();
    for (&t, result) in targets.iter().zip(compiled) {
        match result {
            Ok((d, target_twins, emitted, compiled_in)) => {
                compile_time = compile_time.max(compiled_in);
                diagnostics.extend(d.into_iter().map(|d| d.with_target(t.name())));
                twins.push((t, target_twins));
                match emitted {
                    Some(Ok((objects, e))) => {
                        rendered.push((t, objects));
                        evaluators.push((t, e));
                    }
                    Some(Err(e)) => internal = internal.or(Some(e)),
                    None => {}
                }
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
    let collisions = verify::collision_diagnostics(program, twins);
    if !collisions.is_empty() {
        diagnostics.extend(collisions);
        return Err(Failed {
            diagnostics,
            failure: Failure::Refused,
        });
    }
    if let Some(e) = internal {
        return Err(Failed {
            diagnostics,
            failure: Failure::Internal(e),
        });
    }
    let read_back = started.elapsed();
    let (model, intended) = model();
    let report = verify::prove_against(model, &intended, evaluators, DISAGREEMENT_LIMIT);
    // The intended meaning's indexes are left to the exit when the command only prints
    // after this (`render`, `fn`: [`netpolc_ir::par::exit_frees`]), else freed here.
    netpolc_ir::par::forget_last(intended);
    if report.disagreements.is_empty() {
        Ok(Built {
            rendered,
            diagnostics,
            stats: report.stats,
            phases: vec![
                ("compile", compile_time),
                ("read back", read_back - compile_time),
                ("prove", report.proved),
            ],
        })
    } else {
        Err(Failed {
            diagnostics,
            failure: Failure::Disagreed(report.disagreements),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectProblems;
    use serde_json::{json, Value};

    /// `NP6012`s of `objects`, as the pipeline reports them.
    fn rejected(program: &Program, target: Target, objects: &[Value]) -> Vec<Diagnostic> {
        let found = objects
            .iter()
            .filter_map(|o| ObjectProblems::of(target, o, false));
        ObjectProblems::diagnostics(program, target, found)
    }

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
