//! Source files, byte spans and diagnostics.
//!
//! This crate depends on nothing else of netpolc. Every stage that reports a problem in
//! user input produces a [`Diagnostic`] whose labels point at [`Span`]s; line and column
//! numbers are computed only when a diagnostic is rendered (see [`SourceMap::line_col`]).
//!
//! Columns are 1-based and count Unicode scalar values (characters), not bytes.
//!
//! ```
//! use netpolc_source::{Diagnostic, SourceMap, Span};
//! let mut sources = SourceMap::default();
//! let file = sources.add("policies/a.yaml", "kind: Bad\n".to_string());
//! let d = Diagnostic::error("NP2001", "unknown kind `Bad`")
//!     .with_label(Span::new(file, 6, 9), "not a netpolc kind")
//!     .with_help("expected one of `IntentSet`, `ClusterIntentSet`, `ConnectivityTest`");
//! let text = netpolc_source::render_human(&sources, &[d]);
//! assert!(text.contains("policies/a.yaml:1:7"));
//! ```
#![deny(missing_docs)]

mod diagnostic;
mod render;
mod span;

pub use diagnostic::{Diagnostic, Label, Severity};
pub use render::{render_github, render_human, render_json, render_sarif};
pub use span::{FileId, SourceFile, SourceMap, Span};
