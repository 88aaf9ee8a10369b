//! [`Spanned`]: a value that remembers where in the YAML it came from.

use netpolc_source::Span;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

/// The struct name our deserializer recognises to hand out spans.
pub(crate) static NAME: &str = "$__netpolc_yaml_private_Spanned";
/// The span (file id, first byte and end byte, packed in one `u128` by [`pack`]).
pub(crate) const FIELD_SPAN: &str = "$__netpolc_yaml_private_span";
/// The value itself.
pub(crate) const FIELD_VALUE: &str = "$__netpolc_yaml_private_value";
/// The fields of the magic struct: our deserializer gives them as a map of two entries,
/// keyed by their index (the span, then the value), and recognises the struct by these
/// very statics before it compares names.
pub(crate) static FIELDS: &[&str] = &[FIELD_SPAN, FIELD_VALUE];

/// A span as one number: the file id in bits 64 to 95, the first byte in bits 32 to 63,
/// the end byte in bits 0 to 31 ([`unpack`] undoes it). One value for the whole span
/// instead of three keeps the magic map at two entries.
pub(crate) fn pack(span: Span) -> u128 {
    (u128::from(span.file.0) << 64) | (u128::from(span.start) << 32) | u128::from(span.end)
}

/// The span [`pack`] packed.
fn unpack(n: u128) -> Span {
    // Truncations keep the 32 bits each part was packed in.
    Span::new(
        netpolc_source::FileId((n >> 64) as u32),
        (n >> 32) as u32,
        n as u32,
    )
}

/// A value together with the span of the YAML node it was read from.
///
/// Use it as a field type in documents read with [`from_node`](super::from_node), e.g.
/// `to: Spanned<String>`, to point diagnostics at the value. It reads like a `T`
/// (through `Deref`), and it compares, orders and hashes by value only, so it works as a
/// `BTreeMap` key.
///
/// Only netpolc's YAML deserializer can produce it; other deserializers get an error.
#[derive(Clone, Copy)]
pub struct Spanned<T> {
    /// Where the value was written.
    pub span: Span,
    /// The value.
    pub value: T,
}

impl<T> Spanned<T> {
    /// Pairs a value with a span.
    pub fn new(span: Span, value: T) -> Self {
        Spanned { span, value }
    }

    /// The value, without its span.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// A `Spanned` of a reference to the value.
    pub fn as_ref(&self) -> Spanned<&T> {
        Spanned::new(self.span, &self.value)
    }

    /// Transforms the value, keeping the span.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned::new(self.span, f(self.value))
    }
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Spanned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The value first: that is what one reads in test failures.
        write!(
            f,
            "{:?} @{}..{}",
            self.value, self.span.start, self.span.end
        )
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T: PartialOrd> PartialOrd for Spanned<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<T: Ord> Ord for Spanned<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl<T: Hash> Hash for Spanned<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct(NAME, FIELDS, SpannedVisitor(PhantomData))
    }
}

struct SpannedVisitor<T>(PhantomData<T>);

/// The keys of the magic map, in the order our deserializer gives them.
enum Field {
    Span,
    Value,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a span field")
            }
            // How netpolc's deserializer names the fields (`de::SpannedDe`).
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field, E> {
                Ok(match v {
                    0 => Field::Span,
                    1 => Field::Value,
                    _ => Field::Other,
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    FIELD_SPAN => Field::Span,
                    FIELD_VALUE => Field::Value,
                    _ => Field::Other,
                })
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
    type Value = Spanned<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value read by netpolc's YAML deserializer")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
        let wrong =
            || de::Error::custom("`Spanned` values can only be read from netpolc's YAML tree");
        let Some(Field::Span) = map.next_key::<Field>()? else {
            return Err(wrong());
        };
        let span = unpack(map.next_value::<u128>()?);
        let Some(Field::Value) = map.next_key::<Field>()? else {
            return Err(wrong());
        };
        let value = map.next_value::<T>()?;
        Ok(Spanned { span, value })
    }
}
