//! The marked YAML tree: every node keeps its byte span, scalars keep their text.
//!
//! Scalars are not typed when loading. A plain scalar such as `8080` stays the text
//! `8080` with [`ScalarStyle::Plain`], and its type is resolved (YAML 1.2 core schema) only
//! when someone asks: the deserializer ([`crate::yaml::from_node`]) resolves it to the type
//! the document field wants, and [`Node::to_json`] resolves it the way a YAML-to-JSON
//! conversion does.

use super::resolve::{resolve_plain, Resolved};
use netpolc_source::Span;

/// One YAML node and where it is in its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The bytes the node covers (for collections, from the opening token to the end of
    /// the last entry; node properties such as `&anchor` or `!!str` are included).
    pub span: Span,
    /// What the node holds.
    pub value: Value,
}

/// The content of a [`Node`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An empty node, e.g. the value in `key:` with nothing after it. A plain `null` or
    /// `~` is a [`Value::Scalar`] that resolves to null.
    Null,
    /// A scalar as written (after unescaping and line folding).
    Scalar {
        /// The scalar's text.
        text: String,
        /// Whether the text is subject to type resolution.
        style: ScalarStyle,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, entries in document order. Keys are scalars (or empty nodes) and unique.
    Map(Vec<(Node, Node)>),
}

/// How a scalar was written, which decides whether its type is resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarStyle {
    /// Unquoted: `8080` is an integer, `true` a boolean, `null` null, `web` a string.
    Plain,
    /// Single- or double-quoted, a block scalar (`|`, `>`), or tagged `!!str` or `!`:
    /// always a string.
    Quoted,
}

impl Node {
    /// Creates a node.
    pub fn new(span: Span, value: Value) -> Self {
        Node { span, value }
    }

    /// Whether the node covers no text (an empty node).
    pub(crate) fn span_is_empty(&self) -> bool {
        self.span.start == self.span.end
    }

    /// The text of a scalar node, whatever its style.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The items of a sequence node.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of a mapping node.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of the entry whose key's text is `key`, if this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// Whether the node is empty or a plain scalar that resolves to null.
    pub fn is_null(&self) -> bool {
        match &self.value {
            Value::Null => true,
            // The null spellings of the core schema (what `resolve_plain` resolves to
            // null), without resolving: every string a document reads is asked this.
            Value::Scalar {
                text,
                style: ScalarStyle::Plain,
            } => matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"),
            _ => false,
        }
    }

    /// A short description of the node's kind for messages: `null`, `a boolean`, `an
    /// integer`, `a number`, `a string`, `a sequence` or `a mapping`.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar {
                style: ScalarStyle::Quoted,
                ..
            } => "a string",
            Value::Scalar { text, .. } => match resolve_plain(text) {
                Resolved::Null => "null",
                Resolved::Bool(_) => "a boolean",
                Resolved::Int(_) => "an integer",
                Resolved::Float(_) => "a number",
                Resolved::Str(_) => "a string",
            },
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }

    /// Converts the node to JSON, resolving plain scalars with the YAML 1.2 core schema.
    ///
    /// Mapping keys become their text as written (an empty key becomes `null`), in
    /// document order. Integers outside the `i64`/`u64` range and floats become JSON
    /// numbers when finite; `.inf` and `.nan`, which JSON cannot hold, stay strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Scalar {
                text,
                style: ScalarStyle::Quoted,
            } => J::String(text.clone()),
            Value::Scalar { text, .. } => plain_to_json(text),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (key_text(k), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// The JSON value of a plain scalar's text under the YAML 1.2 core schema, as
/// [`Node::to_json`] gives it (shared with the reader of emitted YAML, [`super::quick`]).
///
/// Integers outside the `i64`/`u64` range and floats become JSON numbers when finite;
/// `.inf` and `.nan`, which JSON cannot hold, stay strings.
pub(crate) fn plain_to_json(text: &str) -> serde_json::Value {
    resolved_to_json(resolve_plain(text), text)
}

/// [`plain_to_json`] of `text` once resolved (`resolved` is `resolve_plain(text)`).
pub(crate) fn resolved_to_json(resolved: Resolved<'_>, text: &str) -> serde_json::Value {
    use serde_json::Value as J;
    match resolved {
        Resolved::Null => J::Null,
        Resolved::Bool(b) => J::Bool(b),
        Resolved::Int(i) => {
            if let Ok(v) = i64::try_from(i) {
                J::from(v)
            } else if let Ok(v) = u64::try_from(i) {
                J::from(v)
            } else {
                float_json(i as f64, text)
            }
        }
        Resolved::Float(f) => float_json(f, text),
        Resolved::Str(s) => J::String(s.to_string()),
    }
}

fn float_json(f: f64, text: &str) -> serde_json::Value {
    serde_json::Number::from_f64(f)
        .map(serde_json::Value::Number)
        .unwrap_or_else(|| serde_json::Value::String(text.to_string()))
}

/// The JSON object key for a mapping key.
fn key_text(key: &Node) -> String {
    match &key.value {
        Value::Null => "null".to_string(),
        Value::Scalar { text, .. } => text.clone(),
        // The loader rejects collection keys; a hand-built tree gets their JSON text.
        Value::Seq(_) | Value::Map(_) => key.to_json().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netpolc_source::FileId;

    fn sp() -> Span {
        Span::new(FileId(0), 0, 0)
    }
    fn plain(t: &str) -> Node {
        Node::new(
            sp(),
            Value::Scalar {
                text: t.into(),
                style: ScalarStyle::Plain,
            },
        )
    }
    fn quoted(t: &str) -> Node {
        Node::new(
            sp(),
            Value::Scalar {
                text: t.into(),
                style: ScalarStyle::Quoted,
            },
        )
    }

    #[test]
    fn json_resolution() {
        let n = Node::new(
            sp(),
            Value::Map(vec![
                (plain("z"), plain("8080")),
                (plain("a"), quoted("8080")),
                (plain("t"), plain("true")),
                (plain("n"), plain("~")),
                (plain("e"), Node::new(sp(), Value::Null)),
                (plain("f"), plain("1.5")),
                (plain("big"), plain("18446744073709551615")),
                (plain("neg"), plain("-9223372036854775808")),
                (plain("huge"), plain("1e999")),
                (
                    plain("s"),
                    Node::new(sp(), Value::Seq(vec![plain("x"), plain("0x10")])),
                ),
            ]),
        );
        let j = n.to_json();
        assert_eq!(
            j.to_string(),
            r#"{"z":8080,"a":"8080","t":true,"n":null,"e":null,"f":1.5,"big":18446744073709551615,"neg":-9223372036854775808,"huge":"1e999","s":["x",16]}"#
        );
    }

    #[test]
    fn accessors() {
        let n = Node::new(sp(), Value::Map(vec![(plain("k"), plain("v"))]));
        assert_eq!(n.get("k").and_then(Node::as_str), Some("v"));
        assert!(n.get("x").is_none());
        assert_eq!(n.kind(), "a mapping");
        assert!(plain("Null").is_null());
        assert!(!quoted("null").is_null());
        assert_eq!(plain("0o7").kind(), "an integer");
        assert_eq!(quoted("7").kind(), "a string");
    }

    #[test]
    fn a_plain_scalar_is_null_when_it_resolves_to_null() {
        for text in [
            "", "~", "null", "Null", "NULL", "nULL", "nul", "null ", "~~", "0", "true", "web",
            ".nan", "8080/tcp", "-", "+1",
        ] {
            assert_eq!(
                plain(text).is_null(),
                resolve_plain(text) == Resolved::Null,
                "{text:?}"
            );
        }
    }
}
