//! The netpolc pipeline, shared by the CLI and the tests.
//!
//! Stages: [`load`] the policy files → [`compile`] them into the IR (front end) →
//! [`render`] each [`Target`] (capability check, then the back end) → [`emit`] YAML →
//! [`golden`] maps objects to files under `golden/<target>/` and writes or checks them.
//! [`verify`] evaluates the emitted manifests of every target on a cluster model and
//! compares them with the intended meaning.
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
pub mod krm;
pub mod load;
pub mod verify;

use netpolc_intent::{Compiled, InputFile};
use netpolc_ir::Program;
use netpolc_source::Diagnostic;
use serde_json::Value;
use std::fmt;

/// A back end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// `networking.k8s.io/v1` NetworkPolicy.
    Kubernetes,
    /// `projectcalico.org/v3` GlobalNetworkPolicy (and Tier).
    Calico,
    /// `cilium.io/v2` CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy.
    Cilium,
}

impl Target {
    /// Every target, in output order.
    pub const ALL: [Target; 3] = [Target::Kubernetes, Target::Calico, Target::Cilium];

    /// The name used on the command line and as the folder under `golden/`.
    pub fn name(self) -> &'static str {
        match self {
            Target::Kubernetes => "kubernetes",
            Target::Calico => "calico",
            Target::Cilium => "cilium",
        }
    }

    /// Parses a target name.
    pub fn from_name(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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

/// Checks and renders one target.
///
/// # Errors
/// The capability check's diagnostics when any is an error.
pub fn render(
    program: &Program,
    target: Target,
    options: &Options,
) -> Result<Rendered, Vec<Diagnostic>> {
    let diagnostics = match target {
        Target::Kubernetes => netpolc_k8s::check(program, &options.kubernetes),
        Target::Calico => netpolc_calico::check(program, &options.calico),
        Target::Cilium => netpolc_cilium::check(program, &options.cilium),
    };
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    let objects = match target {
        Target::Kubernetes => netpolc_k8s::render(program, &options.kubernetes),
        Target::Calico => netpolc_calico::render(program, &options.calico),
        Target::Cilium => netpolc_cilium::render(program, &options.cilium),
    };
    let mut problems = Vec::new();
    for o in &objects {
        if contains_substitution(o) {
            problems.push(
                Diagnostic::error(
                    "NP6002",
                    format!("{} output of `{}` contains `${{`", target, object_id(o)),
                )
                .with_note("Flux post-build substitution would rewrite it")
                .with_help("remove `${` from names, labels and HTTP paths"),
            );
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Rendered {
        objects,
        diagnostics,
    })
}

/// Whether any key or string of `v` contains `${` (walked in place: no serialisation).
fn contains_substitution(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("${"),
        Value::Array(a) => a.iter().any(contains_substitution),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.contains("${") || contains_substitution(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
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
