//! The netpolc front end: the intent language (YAML), its loader, and lowering to the IR.
//!
//! This is the only crate that knows YAML. [`compile`] reads every file of a policy
//! repository and returns a [`netpolc_ir::Program`] plus diagnostics (all of them, not
//! only the first).
//!
//! ```
//! use netpolc_intent::{compile, InputFile};
//! use netpolc_source::SourceMap;
//! let text = "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: shop}\n\
//!             spec:\n  namespace: shop\n  isolate: [ingress, egress]\n  presets: [allow-dns]\n";
//! let mut sources = SourceMap::default();
//! let id = sources.add("policies/shop.yaml", text.to_string());
//! let out = compile(&sources, &[InputFile { id, name: "policies/shop.yaml", bytes: text.as_bytes() }]);
//! let program = out.program.expect("valid");
//! // One rule: the egress side to kube-dns; kube-system is not managed, so no ingress side.
//! assert_eq!(program.rules.len(), 1);
//! ```
#![deny(missing_docs)]

pub mod ast;
pub mod codes;
mod lower;
mod names;
mod ports;
#[cfg(feature = "schema")]
pub mod schema;
pub mod yaml;

pub use lower::{
    compile, compile_with, sort_diagnostics, Compiled, InputFile, Options, BUILTIN_GROUPS,
    METADATA_CIDRS, PRESETS,
};
pub use ports::parse_port;
