//! One object as the fast reader of emitted YAML reads it ([`Doc`]), and the few
//! accessors every reader of manifests uses on it and on a `serde_json::Value` alike
//! ([`Tree`]).
//!
//! A render reads back every object it writes and hands it to the back end's reader.
//! Read into a `serde_json::Value`, each object cost a map per mapping (hashed with
//! SipHash), a `String` per key and per value, and the drop of all of it: more than
//! reading the text. A [`Doc`] borrows its strings from the text (a copy only where an
//! escape was undone), keeps a mapping's entries as a vector in text order (looked up
//! linearly: objects have a handful of keys each) and is dropped with a few frees.
//!
//! Its own crate, at the bottom of the workspace, because both `netpolc-kube` (the
//! NetworkPolicy reader, which depends on no netpolc crate) and `netpolc-ir` (the
//! `Reader` trait) use it; it depends on `serde_json` alone, for [`Doc::to_value`] (the
//! tree of the fallbacks that deserialise with serde, and of the tests).
//!
//! The readers are generic over [`Tree`], so that one reading serves the pipeline's
//! documents and the trees of `eval`, `import` and the tests: what a reader accepts or
//! refuses, and its messages, are the same whichever it reads.
//!
//! ```
//! use netpolc_doc::{Doc, Tree};
//! use std::borrow::Cow;
//! let doc = Doc::Object(vec![
//!     (Cow::Borrowed("kind"), Doc::String(Cow::Borrowed("NetworkPolicy"))),
//!     (Cow::Borrowed("spec"), Doc::Array(vec![Doc::Number(53.into())])),
//! ]);
//! assert_eq!(doc.field("kind").and_then(Tree::as_str), Some("NetworkPolicy"));
//! assert_eq!(doc.to_value(), serde_json::json!({"kind": "NetworkPolicy", "spec": [53]}));
//! ```

use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// A JSON-like document whose strings borrow from a text: the shape of a
/// `serde_json::Value` (the same numbers), with each mapping's entries in a vector in
/// the order they were read. Its keys are distinct (the reader that builds one refuses a
/// duplicate key, as the YAML loader does).
#[derive(Clone, Debug, PartialEq)]
pub enum Doc<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` keeps it.
    Number(Number),
    /// A string: borrowed, or owned where the text held an escape.
    String(Cow<'a, str>),
    /// A sequence.
    Array(Vec<Doc<'a>>),
    /// A mapping: its entries in order, keys distinct.
    Object(Vec<(Cow<'a, str>, Doc<'a>)>),
}

impl Doc<'_> {
    /// The same tree as a `serde_json::Value` (keys in the same order).
    pub fn to_value(&self) -> Value {
        match self {
            Doc::Null => Value::Null,
            Doc::Bool(b) => Value::Bool(*b),
            Doc::Number(n) => Value::Number(n.clone()),
            Doc::String(s) => Value::String(s.to_string()),
            Doc::Array(items) => Value::Array(items.iter().map(Doc::to_value).collect()),
            Doc::Object(entries) => {
                let mut m = Map::with_capacity(entries.len());
                for (k, v) in entries {
                    m.insert(k.to_string(), v.to_value());
                }
                Value::Object(m)
            }
        }
    }

    /// [`Doc::to_value`], moving the owned strings instead of copying them.
    pub fn into_value(self) -> Value {
        match self {
            Doc::Null => Value::Null,
            Doc::Bool(b) => Value::Bool(b),
            Doc::Number(n) => Value::Number(n),
            Doc::String(s) => Value::String(s.into_owned()),
            Doc::Array(items) => Value::Array(items.into_iter().map(Doc::into_value).collect()),
            Doc::Object(entries) => {
                let mut m = Map::with_capacity(entries.len());
                for (k, v) in entries {
                    m.insert(k.into_owned(), v.into_value());
                }
                Value::Object(m)
            }
        }
    }

    /// A document of `value`, its strings borrowed from it.
    pub fn of_value(value: &Value) -> Doc<'_> {
        match value {
            Value::Null => Doc::Null,
            Value::Bool(b) => Doc::Bool(*b),
            Value::Number(n) => Doc::Number(n.clone()),
            Value::String(s) => Doc::String(Cow::Borrowed(s)),
            Value::Array(items) => Doc::Array(items.iter().map(Doc::of_value).collect()),
            Value::Object(m) => Doc::Object(
                m.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Doc::of_value(v)))
                    .collect(),
            ),
        }
    }
}

/// What readers of manifests read of a tree, a [`Doc`] or a `serde_json::Value` alike:
/// the accessors of `serde_json::Value` they use, with the same answers for the same
/// tree.
pub trait Tree: Sized {
    /// The entries of a mapping, in order, keys as `&str`.
    type Entries<'t>: Iterator<Item = (&'t str, &'t Self)>
    where
        Self: 't;

    /// The entries, when it is a mapping (`Value::as_object`).
    fn entries(&self) -> Option<Self::Entries<'_>>;

    /// The items, when it is a sequence (`Value::as_array`).
    fn as_array(&self) -> Option<&[Self]>;

    /// The string, when it is one (`Value::as_str`).
    fn as_str(&self) -> Option<&str>;

    /// The number, when it is one (`Value::as_number`).
    fn as_number(&self) -> Option<&Number>;

    /// The boolean, when it is one (`Value::as_bool`).
    fn as_bool(&self) -> Option<bool>;

    /// Whether it is `null` (`Value::is_null`).
    fn is_null(&self) -> bool;

    /// The value of `key`, when it is a mapping holding it (`Value::get`).
    fn field(&self, key: &str) -> Option<&Self>;

    /// The tree as a `serde_json::Value` (borrowed when it is one): for serde, which
    /// the readers fall back on for what they do not read themselves.
    fn value(&self) -> Cow<'_, Value>;

    /// Whether it is a string (`Value::is_string`).
    fn is_string(&self) -> bool {
        self.as_str().is_some()
    }

    /// Whether it is a mapping (`Value::is_object`).
    fn is_object(&self) -> bool {
        self.entries().is_some()
    }

    /// The number as a `u64`, when it is one that fits (`Value::as_u64`).
    fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }

    /// The number as an `i64`, when it is one that fits (`Value::as_i64`).
    fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }
}

/// The entries of a [`Doc`] mapping, keys as `&str` ([`Tree::entries`]).
#[derive(Clone, Debug)]
pub struct DocEntries<'t, 'a>(std::slice::Iter<'t, (Cow<'a, str>, Doc<'a>)>);

impl<'t, 'a> Iterator for DocEntries<'t, 'a> {
    type Item = (&'t str, &'t Doc<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.as_ref(), v))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<'a> Tree for Doc<'a> {
    type Entries<'t>
        = DocEntries<'t, 'a>
    where
        Self: 't;

    #[inline]
    fn entries(&self) -> Option<Self::Entries<'_>> {
        match self {
            Doc::Object(entries) => Some(DocEntries(entries.iter())),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&[Self]> {
        match self {
            Doc::Array(items) => Some(items),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Doc::String(s) => Some(s),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<&Number> {
        match self {
            Doc::Number(n) => Some(n),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Doc::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Doc::Null)
    }

    fn field(&self, key: &str) -> Option<&Self> {
        match self {
            // Compared in order: a few keys, where hashing the key costs more.
            Doc::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn value(&self) -> Cow<'_, Value> {
        Cow::Owned(self.to_value())
    }
}

/// The entries of a `serde_json` map, keys as `&str` ([`Tree::entries`]).
#[derive(Clone, Debug)]
pub struct ValueEntries<'t>(serde_json::map::Iter<'t>);

impl<'t> Iterator for ValueEntries<'t> {
    type Item = (&'t str, &'t Value);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.as_str(), v))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl Tree for Value {
    type Entries<'t> = ValueEntries<'t>;

    #[inline]
    fn entries(&self) -> Option<Self::Entries<'_>> {
        self.as_object().map(|m| ValueEntries(m.iter()))
    }

    fn as_array(&self) -> Option<&[Self]> {
        Value::as_array(self).map(Vec::as_slice)
    }

    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }

    fn as_number(&self) -> Option<&Number> {
        Value::as_number(self)
    }

    fn as_bool(&self) -> Option<bool> {
        Value::as_bool(self)
    }

    fn is_null(&self) -> bool {
        Value::is_null(self)
    }

    fn field(&self, key: &str) -> Option<&Self> {
        let m = self.as_object()?;
        if m.len() > 16 {
            return m.get(key);
        }
        // Compared in order: a few keys, where SipHash of the key costs more.
        m.iter().find_map(|(k, v)| (k == key).then_some(v))
    }

    fn value(&self) -> Cow<'_, Value> {
        Cow::Borrowed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::{Doc, Tree};
    use serde_json::{json, Value};

    fn sample() -> Value {
        json!({
            "a": null, "b": true, "c": -5, "d": 1.5, "e": 18446744073709551615u64,
            "f": "x", "g": [1, "y", {"h": []}], "i": {}, "j": {"k": {"l": "m"}}
        })
    }

    #[test]
    fn a_document_is_its_value() {
        let v = sample();
        let d = Doc::of_value(&v);
        assert_eq!(d.to_value(), v);
        assert_eq!(d.clone().into_value(), v);
    }

    /// Every accessor answers for a document as for the value it was made of.
    #[test]
    fn the_accessors_agree_with_the_values() {
        fn walk(v: &Value, d: &Doc<'_>) {
            assert_eq!(Tree::as_str(d), v.as_str());
            assert_eq!(Tree::as_str(v), v.as_str());
            assert_eq!(Tree::as_number(d), v.as_number());
            assert_eq!(Tree::as_bool(d), v.as_bool());
            assert_eq!(Tree::is_null(d), v.is_null());
            assert_eq!(Tree::is_string(d), v.is_string());
            assert_eq!(Tree::is_object(d), v.is_object());
            assert_eq!(Tree::as_u64(d), v.as_u64());
            assert_eq!(Tree::as_i64(d), v.as_i64());
            assert_eq!(Tree::value(d).into_owned(), *v);
            assert_eq!(d.as_array().map(<[_]>::len), v.as_array().map(Vec::len));
            if let (Some(a), Some(b)) = (Tree::as_array(d), Tree::as_array(v)) {
                for (d, v) in a.iter().zip(b) {
                    walk(v, d);
                }
            }
            assert_eq!(
                d.entries().map(Iterator::count),
                v.entries().map(Iterator::count)
            );
            if let (Some(a), Some(b)) = (d.entries(), v.entries()) {
                for ((kd, dd), (kv, vv)) in a.zip(b) {
                    assert_eq!(kd, kv);
                    walk(vv, dd);
                    assert_eq!(Tree::field(d, kd), Some(dd));
                }
            }
            for key in ["a", "f", "g", "k", "zz"] {
                assert_eq!(
                    Tree::field(d, key).map(Doc::to_value),
                    Tree::field(v, key).cloned()
                );
                assert_eq!(Tree::field(v, key), v.get(key));
            }
        }
        let v = sample();
        walk(&v, &Doc::of_value(&v));
    }
}
