//! The netpolc pipeline, shared by the CLI and the tests.
//!
//! Stages: [`load`] the policy files → [`compile`] them into the IR (front end) →
//! [`pipeline::build`]: [`render`] each [`Target`] (its back end's one-pass compile, then
//! the checks every back end needs) and prove the result ([`verify`] evaluates the
//! emitted manifests of every target on a cluster model and compares them with the
//! intended meaning) → [`emit`] YAML → [`golden`] maps objects to files under
//! `golden/<target>/` and writes or checks them. The back ends are listed once, in
//! [`BACKENDS`].
//!
//! ```no_run
//! use netpolc_driver::{load, compile, render, Target, Options};
//! let loaded = load::policies(std::path::Path::new("."), std::path::Path::new("policies")).unwrap();
//! let compiled = compile(&loaded);
//! let program = compiled.program.expect("no errors");
//! let objects = render(&program, Target::Kubernetes, &Options::default()).unwrap();
//! print!("{}", netpolc_driver::emit::to_yaml(&objects.objects[0]));
//! ```
#![deny(missing_docs)]

pub mod connectivity;
pub mod diff;
pub mod dump;
pub mod emit;
pub mod golden;
pub mod graph;
pub mod import;
pub mod krm;
pub mod load;
pub mod manifests;
pub mod pipeline;
pub mod project;
mod stream;
mod target;
pub mod verify;

use netpolc_intent::{Compiled, InputFile};
use netpolc_ir::Program;
use netpolc_source::Diagnostic;
use serde_json::Value;

pub use target::{Target, BACKENDS};

/// Back-end options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Kubernetes back-end options.
    pub kubernetes: netpolc_k8s::Options,
    /// Calico back-end options.
    pub calico: netpolc_calico::Options,
    /// Cilium back-end options.
    pub cilium: netpolc_cilium::Options,
}

impl Options {
    /// The options as the back ends read them (each its own type).
    pub fn for_backends(&self) -> netpolc_ir::backend::Options {
        let mut o = netpolc_ir::backend::Options::default();
        o.set(self.kubernetes.clone());
        o.set(self.calico.clone());
        o.set(self.cilium);
        o
    }
}

/// Compiles loaded files into the IR.
pub fn compile(loaded: &load::Loaded) -> Compiled {
    compile_with(loaded, &netpolc_intent::Options::default())
}

/// Compiles loaded files into the IR, with front-end options.
pub fn compile_with(loaded: &load::Loaded, options: &netpolc_intent::Options) -> Compiled {
    let inputs: Vec<InputFile<'_>> = loaded
        .files
        .iter()
        .map(|f| InputFile {
            id: f.id,
            name: &f.name,
            bytes: &f.bytes,
        })
        .collect();
    let mut out = netpolc_intent::compile_with(&loaded.sources, &inputs, options);
    out.diagnostics.extend(loaded.diagnostics.iter().cloned());
    if loaded.diagnostics.iter().any(Diagnostic::is_error) {
        out.program = None;
    }
    netpolc_intent::sort_diagnostics(&loaded.sources, &mut out.diagnostics);
    out
}

/// The objects of one target, with the back end's warnings.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// Complete manifests, sorted.
    pub objects: Vec<Value>,
    /// Warnings and notes from the capability check.
    pub diagnostics: Vec<Diagnostic>,
}

/// Compiles one target with its back end (one pass), then runs the checks every back end
/// needs on its objects: the `${` guard (`NP6002`) and the back end's own validation
/// (`NP6012`). Identity collisions and the proof run on all targets together in
/// [`pipeline::build`], which runs these checks on each object as it streams it.
///
/// # Errors
/// Every diagnostic when any is an error.
pub fn render(
    program: &Program,
    target: Target,
    options: &Options,
) -> Result<Rendered, Vec<Diagnostic>> {
    let mut compiled = compiled(program, target, options)?;
    let mut diagnostics = std::mem::take(&mut compiled.diagnostics);
    let validated = compiled.validated;
    let objects = compiled.into_values(|text| verify::read_text(text).unwrap_or(Value::Null));
    let found = netpolc_ir::par::map(netpolc_ir::par::threads(), objects.len(), 256, |i| {
        ObjectProblems::of(target, &objects[i], validated)
    });
    let problems = ObjectProblems::diagnostics(program, target, found.into_iter().flatten());
    if !problems.is_empty() {
        diagnostics.extend(problems);
        return Err(diagnostics);
    }
    Ok(Rendered {
        objects,
        diagnostics,
    })
}

/// The back end's one-pass compile of `target`.
///
/// # Errors
/// Every diagnostic when any is an error.
pub(crate) fn compiled(
    program: &Program,
    target: Target,
    options: &Options,
) -> Result<netpolc_ir::backend::Compiled, Vec<Diagnostic>> {
    let compiled = target.backend().compile(program, &options.for_backends());
    if compiled.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(compiled.diagnostics);
    }
    Ok(compiled)
}

/// What the checks every back end needs found wrong with one rendered object
/// ([`ObjectProblems::of`]).
#[derive(Debug)]
pub(crate) struct ObjectProblems {
    /// [`object_id`] of the object.
    id: String,
    /// Its intent annotation.
    intent: Option<String>,
    /// It contains `${` (`NP6002`).
    substituted: bool,
    /// Its back end's validation's problems (`NP6012`).
    rejected: Vec<String>,
}

impl ObjectProblems {
    /// The `${` guard and, unless the back end `validated` the object when compiling, its
    /// validation, on one object; `None` when it passes both.
    pub(crate) fn of(target: Target, o: &Value, validated: bool) -> Option<ObjectProblems> {
        Self::found(target, o, contains_substitution(o), validated)
    }

    /// [`ObjectProblems::of`] an object emitted as `yaml`. The emitter writes every `$`
    /// as itself (never escaped), so a text without one has no string holding `${`,
    /// and its tree is not walked for it.
    pub(crate) fn of_emitted(
        target: Target,
        o: &Value,
        yaml: &str,
        validated: bool,
    ) -> Option<ObjectProblems> {
        let substituted = yaml.as_bytes().contains(&b'$') && contains_substitution(o);
        Self::found(target, o, substituted, validated)
    }

    fn found(
        target: Target,
        o: &Value,
        substituted: bool,
        validated: bool,
    ) -> Option<ObjectProblems> {
        let rejected = if !o.is_object() {
            // What a back end's text that did not read back is taken as (`null`): its
            // typed object was validated, but this is not it.
            vec!["not an object: the emitted text does not read back as one".to_string()]
        } else if validated {
            Vec::new()
        } else {
            target.backend().validate(o)
        };
        (substituted || !rejected.is_empty()).then(|| ObjectProblems {
            id: object_id(o),
            intent: o["metadata"]["annotations"][netpolc_ir::metadata::INTENT_ANNOTATION]
                .as_str()
                .map(str::to_string),
            substituted,
            rejected,
        })
    }

    /// The diagnostics of the problems of `target`'s objects, given in the objects'
    /// order: every `NP6002`, then every `NP6012` (a back end that validates its objects
    /// while compiling reports them earlier with its own code and a better position;
    /// this is the net under every back end). The intents' positions are indexed only
    /// when something is wrong.
    pub(crate) fn diagnostics(
        program: &Program,
        target: Target,
        found: impl IntoIterator<Item = ObjectProblems>,
    ) -> Vec<Diagnostic> {
        let found: Vec<ObjectProblems> = found.into_iter().collect();
        if found.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<Diagnostic> = found
            .iter()
            .filter(|p| p.substituted)
            .map(|p| {
                Diagnostic::error(
                    "NP6002",
                    format!("{} output of `{}` contains `${{`", target, p.id),
                )
                .with_note("Flux post-build substitution would rewrite it")
                .with_help("remove `${` from names, labels and HTTP paths")
            })
            .collect();
        let spans = verify::IntentSpans::new(program);
        for p in found.into_iter().filter(|p| !p.rejected.is_empty()) {
            let intent = p.intent.as_deref();
            let mut d = Diagnostic::error(
                "NP6012",
                format!(
                    "{target} would reject `{}`{}",
                    p.id,
                    intent
                        .map(|i| format!(" rendered for intent `{i}`"))
                        .unwrap_or_default()
                ),
            )
            .with_opt_label(
                intent.and_then(|i| spans.get(i)),
                "rendered into an invalid object",
            );
            for problem in p.rejected {
                d = d.with_note(problem);
            }
            out.push(d.with_help("this is a netpolc bug: please report it with the intent"));
        }
        out
    }
}

/// Whether any key or string of `v` contains `${` (walked in place: no serialisation).
fn contains_substitution(v: &Value) -> bool {
    match v {
        Value::String(s) => has_substitution(s),
        Value::Array(a) => a.iter().any(contains_substitution),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| has_substitution(k) || contains_substitution(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Whether `s` contains `${`: a word-at-a-time search for `$` first (a substring search
/// prepares itself on every call, which costs more than the search for the short strings
/// of a manifest, and few strings hold a `$`).
fn has_substitution(s: &str) -> bool {
    s.contains('$') && s.contains("${")
}

/// `Kind namespace/name` or `Kind name` of a manifest.
pub fn object_id(o: &Value) -> String {
    let kind = o["kind"].as_str().unwrap_or("?");
    let name = o["metadata"]["name"].as_str().unwrap_or("?");
    match o["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_substitution_is_found_in_keys_and_strings_at_any_depth() {
        for (s, want) in [
            ("${X}", true),
            ("a${b", true),
            ("ends with ${", true),
            ("$", false),
            ("{$", false),
            ("$ {", false),
            ("", false),
        ] {
            assert_eq!(has_substitution(s), want, "{s:?}");
        }
        let deep = serde_json::json!({"a": [{"b": "x"}, {"c": ["ok", "${POD}"]}]});
        assert!(contains_substitution(&deep));
        let key = serde_json::json!({"a": {"${K}": 1}});
        assert!(contains_substitution(&key));
        let none = serde_json::json!({"a": [{"b": "$x {y}"}, 1, true, null]});
        assert!(!contains_substitution(&none));
    }

    /// The stream looks for `${` only in objects whose text holds a `$`: every string
    /// holding one, plain or quoted, key or value, is written with it.
    #[test]
    fn a_substitution_is_found_through_the_emitted_text_in_every_style() {
        let target = Target::Kubernetes;
        for object in [
            serde_json::json!({"kind": "X", "metadata": {"name": "${NAME}"}}),
            serde_json::json!({"kind": "X", "a": {"${K}": "v"}}),
            serde_json::json!({"kind": "X", "a": ["- ${x}: \"q\"\n\t\u{7f}"]}),
            serde_json::json!({"kind": "X", "a": {"'${k}': {}": [true, "${"]}}),
            serde_json::json!({"kind": "X", "a": "\u{85}${"}),
        ] {
            let yaml = emit::to_yaml(&object);
            let found = ObjectProblems::of_emitted(target, &object, &yaml, true);
            assert!(found.is_some_and(|p| p.substituted), "{yaml}");
        }
        let clean = serde_json::json!({"kind": "X", "a": {"b": "$x {y}", "c": ["{}", "$"]}});
        let yaml = emit::to_yaml(&clean);
        assert!(ObjectProblems::of_emitted(target, &clean, &yaml, true).is_none());
    }
}
