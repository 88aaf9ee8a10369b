//! A serde `Deserializer` over the marked tree.
//!
//! Plain scalars are resolved by the YAML 1.2 core schema when the target type does not
//! say otherwise (`deserialize_any`, numbers, booleans, options). A target that asks for
//! a string gets the text of any non-null scalar as written, so `ports: [8080/tcp, 53]`
//! reads as two strings and label values such as `true` read as `"true"`; quoted scalars
//! are always strings.
//!
//! Every error is tagged with the span of the innermost node being deserialized when it
//! arose: each `deserialize_*` call sets its node's span on errors that have none yet.

use super::error::DeError;
use super::node::{Node, ScalarStyle, Value};
use super::resolve::{resolve_plain, Resolved};
use super::spanned::{pack, FIELDS, NAME};
use netpolc_source::Span;
use serde::de::value::{U128Deserializer, U64Deserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;

/// Deserializes a value of type `T` from a node.
///
/// ```
/// use netpolc_intent::yaml::{from_node, load, Limits, Spanned};
/// use netpolc_source::SourceMap;
/// #[derive(Debug, serde::Deserialize)]
/// #[serde(deny_unknown_fields, rename_all = "camelCase")]
/// struct Intent {
///     from: Spanned<String>,
///     ports: Vec<String>,
/// }
/// let text = "from: web\nports: [8080/tcp, 53]\n";
/// let mut sources = SourceMap::default();
/// let file = sources.add("a.yaml", text.to_string());
/// let docs = load(file, text.as_bytes(), &Limits::default()).unwrap();
/// let intent: Intent = from_node(&docs[0]).unwrap();
/// assert_eq!(*intent.from, "web");
/// assert_eq!(sources.location(intent.from.span), "a.yaml:1:7");
/// assert_eq!(intent.ports, ["8080/tcp", "53"]);
///
/// let err = from_node::<Intent>(&load(file, b"fromm: web\n", &Limits::default()).unwrap()[0])
///     .unwrap_err();
/// assert_eq!(err.message, "unknown field `fromm`, expected one of `from`, `ports`");
/// assert_eq!(err.to_diagnostic().help.as_deref(), Some("did you mean `from`?"));
/// ```
pub fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, DeError> {
    T::deserialize(NodeDe { node }).map_err(|e| e.at(node.span))
}

/// Most problems [`from_node_all`] reports for one document.
const MAX_DOCUMENT_ERRORS: usize = 50;

/// What [`from_node_all`] found: the value read once every faulty entry was left out
/// (when that made the rest readable), every problem, and the keys of mapping entries
/// left out because their value was faulty (so that later stages do not report
/// references to them as unknown).
#[derive(Debug)]
pub struct Partial<T> {
    /// The document without its faulty entries; `None` when it could not be repaired.
    pub value: Option<T>,
    /// Every problem, in the order found (empty when the document is fine).
    pub errors: Vec<DeError>,
    /// Keys of entries whose value was left out.
    pub removed_keys: Vec<String>,
    /// Spans of the collections entries were left out of: a later stage's complaint
    /// about one of them (e.g. "empty group") is a follow-on of the reported problem.
    pub emptied: Vec<Span>,
}

/// Like [`from_node`], but reports every problem of a document, not only the first: after
/// each error the faulty node is left out (the unknown field's entry, the sequence item
/// or mapping entry holding the bad value) and the document is read again, up to 50
/// problems. A "missing field" caused by leaving an entry out is not reported.
pub fn from_node_all<T: DeserializeOwned>(node: &Node) -> Partial<T> {
    let mut errors = Vec::new();
    let mut removed_keys = Vec::new();
    let mut emptied: Vec<Span> = Vec::new();
    let mut tree: Option<Node> = None;
    loop {
        let current = tree.as_ref().unwrap_or(node);
        let e = match from_node::<T>(current) {
            Ok(v) => {
                return Partial {
                    value: Some(v),
                    errors,
                    removed_keys,
                    emptied,
                }
            }
            Err(e) => e,
        };
        if e.is_missing_field() && emptied.contains(&e.span) {
            // A follow-on of an entry left out: the document cannot be repaired further.
            break;
        }
        errors.push(e.clone());
        if errors.len() >= MAX_DOCUMENT_ERRORS {
            break;
        }
        let t = tree.get_or_insert_with(|| node.clone());
        match remove_at(t, e.span, e.is_unknown_field()) {
            Some((parent, key)) => {
                emptied.push(parent);
                removed_keys.extend(key);
            }
            None => break,
        }
    }
    Partial {
        value: None,
        errors,
        removed_keys,
        emptied,
    }
}

/// Whether `inner` lies within `outer`.
fn within(outer: Span, inner: Span) -> bool {
    outer.file == inner.file && outer.start <= inner.start && inner.end <= outer.end
}

/// Removes the mapping entry or sequence item whose key or value is the node at `span`;
/// returns the span of the collection it was removed from, and the entry's key when a
/// value (not an unknown key) was removed.
fn remove_at(node: &mut Node, span: Span, unknown_key: bool) -> Option<(Span, Option<String>)> {
    let here = node.span;
    match &mut node.value {
        Value::Map(entries) => {
            if let Some(i) = entries
                .iter()
                .position(|(k, v)| k.span == span || (v.span == span && !v.span_is_empty()))
            {
                let (k, _) = entries.remove(i);
                let key = (!unknown_key).then(|| k.as_str().unwrap_or("").to_string());
                return Some((here, key));
            }
            entries
                .iter_mut()
                .filter(|(_, v)| within(v.span, span))
                .find_map(|(_, v)| remove_at(v, span, unknown_key))
        }
        Value::Seq(items) => {
            if let Some(i) = items.iter().position(|v| v.span == span) {
                items.remove(i);
                return Some((here, None));
            }
            items
                .iter_mut()
                .filter(|v| within(v.span, span))
                .find_map(|v| remove_at(v, span, unknown_key))
        }
        _ => None,
    }
}

/// Deserializes one node.
#[derive(Clone, Copy)]
pub(crate) struct NodeDe<'de> {
    pub(crate) node: &'de Node,
}

impl<'de> NodeDe<'de> {
    /// The node as serde names it in "invalid type" errors.
    fn unexpected(&self) -> Unexpected<'de> {
        match &self.node.value {
            Value::Null => Unexpected::Unit,
            Value::Scalar {
                text,
                style: ScalarStyle::Quoted,
            } => Unexpected::Str(text),
            Value::Scalar { text, .. } => match resolve_plain(text) {
                Resolved::Null => Unexpected::Unit,
                Resolved::Bool(b) => Unexpected::Bool(b),
                Resolved::Int(i) => match (i64::try_from(i), u64::try_from(i)) {
                    (Ok(v), _) => Unexpected::Signed(v),
                    (_, Ok(v)) => Unexpected::Unsigned(v),
                    _ => Unexpected::Other("an integer"),
                },
                Resolved::Float(f) => Unexpected::Float(f),
                Resolved::Str(s) => Unexpected::Str(s),
            },
            Value::Seq(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
        }
    }

    fn any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Scalar {
                text,
                style: ScalarStyle::Quoted,
            } => visitor.visit_borrowed_str(text),
            Value::Scalar { text, .. } => match resolve_plain(text) {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(i) => {
                    if let Ok(v) = i64::try_from(i) {
                        visitor.visit_i64(v)
                    } else if let Ok(v) = u64::try_from(i) {
                        visitor.visit_u64(v)
                    } else {
                        visitor.visit_i128(i)
                    }
                }
                Resolved::Float(f) => visitor.visit_f64(f),
                Resolved::Str(s) => visitor.visit_borrowed_str(s),
            },
            Value::Seq(items) => {
                let mut seq = SeqDe {
                    items: items.iter(),
                };
                let value = visitor.visit_seq(&mut seq)?;
                match seq.items.len() {
                    0 => Ok(value),
                    rest => Err(de::Error::invalid_length(
                        items.len(),
                        &format!("{} entries", items.len() - rest).as_str(),
                    )),
                }
            }
            Value::Map(entries) => {
                let mut map = MapDe {
                    entries: entries.iter(),
                    value: None,
                };
                let value = visitor.visit_map(&mut map)?;
                match map.entries.len() {
                    0 => Ok(value),
                    rest => Err(de::Error::invalid_length(
                        entries.len(),
                        &format!("{} entries", entries.len() - rest).as_str(),
                    )),
                }
            }
        }
    }

    fn string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Scalar { text, .. } if !self.node.is_null() => visitor.visit_borrowed_str(text),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }
}

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.any(visitor).map_err(|e| e.at(self.node.span))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.string(visitor).map_err(|e| e.at(self.node.span))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r: Result<V::Value, DeError> = match &self.node.value {
            Value::Scalar { text, .. } => visitor.visit_borrowed_str(text),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        };
        r.map_err(|e| e.at(self.node.span))
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            Value::Scalar { text, .. } if !self.node.is_null() => {
                visitor.visit_borrowed_bytes(text.as_bytes())
            }
            _ => self.any(visitor),
        };
        r.map_err(|e| e.at(self.node.span))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = if self.node.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        };
        r.map_err(|e| e.at(self.node.span))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.at(self.node.span))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        // The same statics (nearly always: told by their addresses, not by comparing four
        // strings each time), or equal names.
        let spanned = (std::ptr::eq(name, NAME) && std::ptr::eq(fields, FIELDS))
            || (name == NAME && fields == FIELDS);
        if spanned {
            return visitor
                .visit_map(SpannedDe {
                    node: self.node,
                    state: 0,
                })
                .map_err(|e| e.at(self.node.span));
        }
        // Derived structs also accept sequences (fields by position); in YAML documents
        // that would only produce confusing errors, so a struct must be a mapping.
        if let Value::Seq(_) = self.node.value {
            return Err(de::Error::invalid_type(Unexpected::Seq, &visitor))
                .map_err(|e: DeError| e.at(self.node.span));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            Value::Scalar { .. } => visitor.visit_enum(EnumDe {
                variant: self.node,
                value: None,
            }),
            Value::Map(entries) if entries.len() == 1 => {
                let (k, v) = &entries[0];
                visitor.visit_enum(EnumDe {
                    variant: k,
                    value: Some(v),
                })
            }
            _ => Err(de::Error::invalid_type(
                self.unexpected(),
                &"a string, or a mapping with a single key",
            )),
        };
        r.map_err(|e| e.at(self.node.span))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        true
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64
        unit unit_struct seq tuple tuple_struct map
    }
}

/// The items of a sequence.
struct SeqDe<'de> {
    items: std::slice::Iter<'de, Node>,
}

impl<'de> SeqAccess<'de> for SeqDe<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => seed
                .deserialize(NodeDe { node })
                .map(Some)
                .map_err(|e| e.at(node.span)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The entries of a mapping.
struct MapDe<'de> {
    entries: std::slice::Iter<'de, (Node, Node)>,
    value: Option<&'de Node>,
}

impl<'de> MapAccess<'de> for MapDe<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(NodeDe { node: key })
                    .map(Some)
                    .map_err(|e| e.at(key.span))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(node) => seed
                .deserialize(NodeDe { node })
                .map_err(|e| e.at(node.span)),
            None => Err(de::Error::custom("a mapping value was read before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum: a scalar names a unit variant; a single-entry mapping names the variant by
/// its key and holds its content as the value.
struct EnumDe<'de> {
    variant: &'de Node,
    value: Option<&'de Node>,
}

impl<'de> EnumAccess<'de> for EnumDe<'de> {
    type Error = DeError;
    type Variant = VariantDe<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDe<'de>), DeError> {
        let variant = seed
            .deserialize(IdentDe { node: self.variant })
            .map_err(|e| e.at(self.variant.span))?;
        Ok((
            variant,
            VariantDe {
                value: self.value,
                variant: self.variant,
            },
        ))
    }
}

/// A variant name (a scalar of any style).
struct IdentDe<'de> {
    node: &'de Node,
}

impl<'de> de::Deserializer<'de> for IdentDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        NodeDe { node: self.node }.deserialize_identifier(visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The content of a variant.
struct VariantDe<'de> {
    /// The value of a single-entry mapping, or `None` for a scalar.
    value: Option<&'de Node>,
    /// The node naming the variant, for errors.
    variant: &'de Node,
}

impl<'de> VariantDe<'de> {
    /// The variant's content; a bare scalar naming a variant that needs one is an error.
    fn content(&self) -> Result<&'de Node, DeError> {
        self.value.ok_or_else(|| {
            let name = self.variant.as_str().unwrap_or_default();
            DeError::new(
                self.variant.span,
                format!("`{name}` needs a value: write it as `{name}: …`"),
            )
        })
    }
}

impl<'de> VariantAccess<'de> for VariantDe<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None => Ok(()),
            Some(node) if node.is_null() => Ok(()),
            Some(node) => Err(de::Error::invalid_type(
                NodeDe { node }.unexpected(),
                &"nothing (a unit variant)",
            ))
            .map_err(|e: DeError| e.at(node.span)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        let node = self.content()?;
        seed.deserialize(NodeDe { node })
            .map_err(|e| e.at(node.span))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        let node = self.content()?;
        de::Deserializer::deserialize_seq(NodeDe { node }, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.content()?;
        de::Deserializer::deserialize_struct(NodeDe { node }, "", fields, visitor)
    }
}

/// The magic map behind [`Spanned`](super::Spanned): the span packed in one number
/// ([`pack`]), then the value, under the keys 0 and 1.
struct SpannedDe<'de> {
    node: &'de Node,
    state: u8,
}

impl<'de> MapAccess<'de> for SpannedDe<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        // The keys by number (span, value), which `Spanned`'s field reader takes without
        // comparing names.
        if self.state > 1 {
            return Ok(None);
        }
        let d: U64Deserializer<DeError> = u64::from(self.state).into_deserializer();
        seed.deserialize(d).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let state = self.state;
        self.state += 1;
        if state == 0 {
            let d: U128Deserializer<DeError> = pack(self.node.span).into_deserializer();
            return seed.deserialize(d);
        }
        seed.deserialize(NodeDe { node: self.node })
    }
}
