//! The deserialization error, located at the innermost node, and its diagnostic.

use super::codes;
use super::load::clip;
use super::suggest::suggest;
use netpolc_source::{Diagnostic, FileId, Span};
use serde::de::{self, Expected, Unexpected};
use std::fmt;

/// A document that does not have the shape its type wants.
///
/// `span` is the innermost node where the problem arose: the key of an unknown field,
/// the mapping that lacks a field, the node of the wrong type. `message` is serde's
/// wording (``unknown field `fromm`, expected one of `from`, `to` ``); the diagnostic
/// from [`DeError::to_diagnostic`] rewords it for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeError {
    /// Where the problem is.
    pub span: Span,
    /// What it is, in serde's words.
    pub message: String,
    kind: Kind,
    /// Whether `span` has been set; errors are created without a position and get the
    /// span of the innermost node on their way out.
    located: bool,
}

/// The structured form of the error, for the diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Custom,
    InvalidType {
        found: String,
        expected: String,
    },
    InvalidValue {
        found: String,
        expected: String,
    },
    InvalidLength {
        len: usize,
        expected: String,
    },
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    MissingField(&'static str),
    DuplicateField(&'static str),
}

impl DeError {
    /// An error with a message at a span.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        DeError {
            span,
            message: message.into(),
            kind: Kind::Custom,
            located: true,
        }
    }

    fn unlocated(message: String, kind: Kind) -> Self {
        DeError {
            span: Span::new(FileId(0), 0, 0),
            message,
            kind,
            located: false,
        }
    }

    /// Sets the span unless an inner node already did.
    pub(crate) fn at(mut self, span: Span) -> Self {
        if !self.located {
            self.span = span;
            self.located = true;
        }
        self
    }

    /// The diagnostic `NP1010` ("invalid document") for this error, in our wording:
    /// unknown fields and values get a "did you mean" help when one is close.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let d = |message: String| Diagnostic::error(codes::INVALID_DOCUMENT, message);
        match &self.kind {
            Kind::Custom => {
                let message = self.message.trim_end_matches('.').to_string();
                d(message).with_label(self.span, "")
            }
            Kind::InvalidType { found, expected } => {
                let expected = friendly_expected(expected);
                d(format!("invalid type: expected {expected}, found {found}"))
                    .with_label(self.span, format!("expected {expected}"))
            }
            Kind::InvalidValue { found, expected } => {
                let expected = friendly_expected(expected);
                d(format!("invalid value: expected {expected}, found {found}"))
                    .with_label(self.span, format!("expected {expected}"))
            }
            Kind::InvalidLength { len, expected } => d(format!(
                "invalid length: expected {}, found {len} {}",
                friendly_expected(expected),
                if *len == 1 { "entry" } else { "entries" }
            ))
            .with_label(self.span, ""),
            Kind::UnknownField { field, expected } => {
                let diag = d(format!("unknown field `{}`", clip(field)))
                    .with_label(self.span, "unknown field")
                    .with_note(one_of("expected", expected, "no fields are allowed here"));
                with_suggestion(diag, field, expected)
            }
            Kind::UnknownVariant { variant, expected } => {
                let diag = d(format!("unknown value `{}`", clip(variant))).with_label(
                    self.span,
                    one_of("expected", expected, "no value fits here"),
                );
                with_suggestion(diag, variant, expected)
            }
            Kind::MissingField(field) => d(format!("missing field `{field}`"))
                .with_label(self.span, format!("this mapping needs a `{field}` field")),
            Kind::DuplicateField(field) => {
                d(format!("duplicate field `{field}`")).with_label(self.span, "")
            }
        }
    }
}

impl DeError {
    /// Whether a field is missing.
    pub(crate) fn is_missing_field(&self) -> bool {
        matches!(self.kind, Kind::MissingField(_))
    }

    /// Whether a field is unknown.
    pub(crate) fn is_unknown_field(&self) -> bool {
        matches!(self.kind, Kind::UnknownField { .. })
    }

    /// [`DeError::to_diagnostic`], consuming the error.
    pub fn into_diagnostic(self) -> Diagnostic {
        self.to_diagnostic()
    }
}

impl From<DeError> for Diagnostic {
    fn from(e: DeError) -> Self {
        e.to_diagnostic()
    }
}

fn with_suggestion(diag: Diagnostic, word: &str, expected: &[&str]) -> Diagnostic {
    match suggest(word, expected) {
        Some(s) => diag.with_help(format!("did you mean `{s}`?")),
        None => diag,
    }
}

/// "expected one of `a`, `b`" (or "expected `a`"), or `none` when the list is empty.
fn one_of(prefix: &str, names: &[&str], none: &str) -> String {
    let list = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match names.len() {
        0 => none.to_string(),
        1 => format!("{prefix} {list}"),
        _ => format!("{prefix} one of {list}"),
    }
}

/// Serde's names of expected types, reworded for YAML authors.
fn friendly_expected(expected: &str) -> String {
    let s = match expected {
        "u8" => "an integer from 0 to 255",
        "u16" => "an integer from 0 to 65535",
        "u32" => "an integer from 0 to 4294967295",
        "u64" | "u128" | "usize" => "a non-negative integer",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        "a borrowed string" | "a string" | "string" => "a string",
        "a boolean" | "bool" => "a boolean",
        "a character" | "char" => "a single character",
        "unit" => "null",
        "a map" | "map" => "a mapping",
        "a sequence" | "sequence" => "a sequence",
        other if other.starts_with("struct ") => "a mapping",
        other if other.starts_with("tuple struct ") => "a sequence",
        other => other,
    };
    s.to_string()
}

/// How an unexpected value is named in our messages (values in backticks).
fn describe(unexp: &Unexpected<'_>) -> String {
    match unexp {
        Unexpected::Bool(b) => format!("boolean `{b}`"),
        Unexpected::Unsigned(u) => format!("integer `{u}`"),
        Unexpected::Signed(i) => format!("integer `{i}`"),
        Unexpected::Float(f) => format!("number `{f}`"),
        Unexpected::Char(c) => format!("character `{c}`"),
        Unexpected::Str(s) => format!("string `{}`", clip(s)),
        Unexpected::Bytes(_) => "bytes".to_string(),
        Unexpected::Unit => "null".to_string(),
        Unexpected::Option => "an optional value".to_string(),
        Unexpected::NewtypeStruct => "a newtype struct".to_string(),
        Unexpected::Seq => "a sequence".to_string(),
        Unexpected::Map => "a mapping".to_string(),
        Unexpected::Enum => "an enum".to_string(),
        Unexpected::UnitVariant => "a unit variant".to_string(),
        Unexpected::NewtypeVariant => "a newtype variant".to_string(),
        Unexpected::TupleVariant => "a tuple variant".to_string(),
        Unexpected::StructVariant => "a struct variant".to_string(),
        Unexpected::Other(o) => o.to_string(),
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::unlocated(msg.to_string(), Kind::Custom)
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        DeError::unlocated(
            format!("invalid type: {unexp}, expected {exp}"),
            Kind::InvalidType {
                found: describe(&unexp),
                expected: exp.to_string(),
            },
        )
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        DeError::unlocated(
            format!("invalid value: {unexp}, expected {exp}"),
            Kind::InvalidValue {
                found: describe(&unexp),
                expected: exp.to_string(),
            },
        )
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        DeError::unlocated(
            format!("invalid length {len}, expected {exp}"),
            Kind::InvalidLength {
                len,
                expected: exp.to_string(),
            },
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::unlocated(
            format!(
                "unknown variant `{variant}`, {}",
                one_of("expected", expected, "there are no variants")
            ),
            Kind::UnknownVariant {
                variant: variant.to_string(),
                expected,
            },
        )
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::unlocated(
            format!(
                "unknown field `{field}`, {}",
                one_of("expected", expected, "there are no fields")
            ),
            Kind::UnknownField {
                field: field.to_string(),
                expected,
            },
        )
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::unlocated(
            format!("missing field `{field}`"),
            Kind::MissingField(field),
        )
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::unlocated(
            format!("duplicate field `{field}`"),
            Kind::DuplicateField(field),
        )
    }
}
