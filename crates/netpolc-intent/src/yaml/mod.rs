//! The YAML front end: a marked tree with byte spans, a serde deserializer over it, and
//! the limits that make hostile input fail fast.
//!
//! ```text
//! bytes ──load──▶ Vec<Node> ──from_node::<Doc>──▶ Doc (fields as Spanned<T>)
//!                     │                    └─ DeError ──to_diagnostic──▶ NP1010
//!                     └──to_json──▶ serde_json::Value (manifests, evaluators)
//! ```
//!
//! - [`load`] parses a multi-document stream with the event parser of `saphyr-parser`
//!   into [`Node`]s whose spans are byte offsets, enforcing [`Limits`] (size, UTF-8,
//!   depth, node count and text with alias expansion, scalar length, documents, parser
//!   look-ahead) and rejecting duplicate keys. Every failure is one [`Diagnostic`](netpolc_source::Diagnostic)
//!   with a stable code, `NP1001` to `NP1009` (see [`codes`]).
//! - Scalars keep their text and whether they were plain; types are resolved by the YAML
//!   1.2 core schema only when read (so `yes` is a string, `0777` is 777, and a plain
//!   `8080` can be read as the string `"8080"`).
//! - [`from_node`] deserializes any `Deserialize` type; errors are [`DeError`]s located
//!   at the innermost node, and [`Spanned<T>`] fields keep positions.
//! - [`quick::read`] reads the block-style subset netpolc's own emitter writes straight
//!   into JSON, several times faster, and gives the same value as `load` and
//!   [`Node::to_json`] whenever it reads a text at all (the proof's read-back).
//! - [`quick_nodes::read`] reads the common subset of intent files (block collections,
//!   one-line flow collections, comments) straight into the marked tree, with the same
//!   nodes and spans as [`load_all`] whenever it reads a text at all.
//! - [`suggest`] finds the "did you mean" candidate for a misspelt name.
//!
//! ```
//! use netpolc_intent::yaml::{from_node, load, Limits, Spanned};
//! use netpolc_source::SourceMap;
//!
//! #[derive(Debug, serde::Deserialize)]
//! #[serde(deny_unknown_fields, rename_all = "camelCase")]
//! struct Intent {
//!     from: Spanned<String>,
//!     to: Spanned<String>,
//! }
//!
//! let text = "- {from: web, to: db}\n- {from: web, too: db}\n";
//! let mut sources = SourceMap::default();
//! let file = sources.add("intents.yaml", text.to_string());
//! let docs = load(file, text.as_bytes(), &Limits::default()).unwrap();
//! let err = from_node::<Vec<Intent>>(&docs[0]).unwrap_err();
//! let diagnostic = err.to_diagnostic();
//! assert_eq!(diagnostic.code, "NP1010");
//! assert_eq!(diagnostic.message, "unknown field `too`");
//! assert_eq!(diagnostic.help.as_deref(), Some("did you mean `to`?"));
//! assert_eq!(sources.location(err.span), "intents.yaml:2:15");
//! ```

mod de;
mod error;
mod load;
mod node;
mod offsets;
pub mod quick;
pub mod quick_nodes;
mod resolve;
mod spanned;
mod suggest;

#[cfg(test)]
mod tests;

pub use de::{from_node, from_node_all, Partial};
pub use error::DeError;
pub(crate) use load::clip;
pub use load::{load, load_all, load_all_parsed, load_streamed, Limits};
pub use node::{Node, ScalarStyle, Value};
pub use spanned::Spanned;
pub use suggest::suggest;

/// The diagnostic codes of the YAML front end.
pub mod codes {
    /// The file is larger than [`Limits::max_file_size`](super::Limits::max_file_size).
    pub const FILE_TOO_LARGE: &str = "NP1001";
    /// The file is not valid UTF-8.
    pub const INVALID_UTF8: &str = "NP1002";
    /// The parser rejected the YAML; the message is the parser's.
    pub const SYNTAX: &str = "NP1003";
    /// A mapping has the same key twice.
    pub const DUPLICATE_KEY: &str = "NP1004";
    /// Nodes are nested deeper than [`Limits::max_depth`](super::Limits::max_depth).
    pub const TOO_DEEP: &str = "NP1005";
    /// Too many nodes, counting alias expansions, or aliases expand to too much text.
    pub const TOO_MANY_NODES: &str = "NP1006";
    /// A scalar is longer than [`Limits::max_scalar_len`](super::Limits::max_scalar_len),
    /// or a scalar or flow collection makes the parser read further ahead than
    /// [`Limits::max_lookahead`](super::Limits::max_lookahead).
    pub const SCALAR_TOO_LONG: &str = "NP1007";
    /// YAML we do not support: collection keys, non-standard tags, recursive aliases.
    pub const UNSUPPORTED: &str = "NP1008";
    /// More documents than [`Limits::max_documents`](super::Limits::max_documents).
    pub const TOO_MANY_DOCUMENTS: &str = "NP1009";
    /// A document does not have the shape its type wants (from [`DeError`](super::DeError)).
    pub const INVALID_DOCUMENT: &str = "NP1010";
}
