//! The one YAML emitter: deterministic block-style YAML, written straight from anything
//! serde serialises (a back end's typed object as it is built, or a JSON tree), with no
//! tree in between.
//!
//! Keys keep the order in which they are serialised (a struct's fields in declaration
//! order, a `BTreeMap`'s in key order, a `serde_json` tree's in its `preserve_order`
//! order), sequences are written kubectl-style (`- ` at the parent key's indentation),
//! and a string is written plain only when no YAML 1.1 or 1.2 reader can take it for
//! anything but that string; otherwise it is double-quoted with JSON escapes, or, after a
//! key and when it has several lines that allow it, written as a `|-` literal block.
//! Numbers, booleans and null are written as such, empty maps and lists as `{}` and
//! `[]`.
//!
//! A typed object is written exactly as its `serde_json` tree would be
//! ([`serde_json::to_value`], then [`write_value`]): what the tree would hold as `null` is
//! written `null`, a unit variant as its name, a newtype variant as a one-key map. What
//! the block layout cannot write without knowing it in advance, or what the tree would
//! change, is [`Unsupported`] (a map of unknown length, as `#[serde(flatten)]` makes; a
//! key that is not a string; bytes; 32-bit floats; tuple and struct variants; a struct
//! whose field count is not the one it announced): the caller then writes the tree.

use serde::ser::{self, Serialize};
use std::fmt::Write as _;

pub mod block;

/// What [`write`] cannot write without a tree (see the [module](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not written without a tree: {}", self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Unsupported(msg.to_string())
    }
}

fn unsupported<T>(what: &str) -> Result<T, Unsupported> {
    Err(Unsupported(what.to_string()))
}

/// Whether a map or sequence got every entry or item (`what`) it announced.
fn all_there(left: usize, what: &str) -> Result<(), Unsupported> {
    if left == 0 {
        Ok(())
    } else {
        Err(Unsupported(format!("fewer {what} than announced")))
    }
}

/// Appends `value` as one document, ending in a newline, without a `---` marker. On an
/// error nothing is appended.
///
/// # Errors
/// [`Unsupported`]: what the block layout cannot write without a tree.
pub fn write<T: Serialize + ?Sized>(out: &mut String, value: &T) -> Result<(), Unsupported> {
    let start = out.len();
    let written = value.serialize(Node {
        out,
        indent: 0,
        at: At::Root,
    });
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// [`write`] for a JSON tree, which is always supported (string keys, known lengths,
/// 64-bit numbers).
pub fn write_value(out: &mut String, value: &serde_json::Value) {
    let written = write(out, value);
    debug_assert!(written.is_ok(), "{written:?}");
}

/// `value` as one document ([`write`]) in a string of its exact length ([`buffered`]).
///
/// # Errors
/// As [`write`].
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Unsupported> {
    buffered(|out| write(out, value))
}

/// What `write` appends to an empty string, in a string of its exact length: written
/// into a buffer kept by the thread, then copied (a string grown while writing keeps up
/// to twice its length, and a pipeline holds every object's text).
///
/// # Errors
/// `write`'s.
pub fn buffered<E>(write: impl FnOnce(&mut String) -> Result<(), E>) -> Result<String, E> {
    thread_local! {
        static BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    BUFFER.with(|buffer| {
        // A writer that writes another text meanwhile gets a buffer of its own.
        let mut own = String::new();
        let mut kept = buffer.try_borrow_mut();
        let out = match &mut kept {
            Ok(kept) => &mut **kept,
            Err(_) => &mut own,
        };
        out.clear();
        write(out)?;
        Ok(out.as_str().to_owned())
    })
}

/// Where a node is written.
#[derive(Clone, Copy)]
enum At {
    /// The whole document.
    Root,
    /// After `key:` on a line indented by the node's indentation.
    AfterKey,
    /// After a `-` at the node's indentation.
    Item,
}

/// The serialiser of one node.
struct Node<'o> {
    out: &'o mut String,
    /// The indentation of the key line ([`At::AfterKey`]) or of the dash ([`At::Item`]).
    indent: usize,
    at: At,
}

impl<'o> Node<'o> {
    /// A scalar written by `text`, on the line of its key or dash.
    fn scalar(&mut self, text: impl FnOnce(&mut String)) -> Result<(), Unsupported> {
        if !matches!(self.at, At::Root) {
            self.out.push(' ');
        }
        text(self.out);
        self.out.push('\n');
        Ok(())
    }

    fn string(mut self, s: &str) -> Result<(), Unsupported> {
        // A plain string has no line break, a literal block at least one: the (nearly
        // always true) plain test first spares the search for a line break.
        if plain_ok(s) {
            return self.scalar(|out| out.push_str(s));
        }
        if matches!(self.at, At::AfterKey) && literal_ok(s) {
            // Several lines (such as `netpolc.dev/rules`): a literal block, one line per
            // line, so that reviewers read them as written.
            self.out.push_str(" |-\n");
            for line in s.split('\n') {
                indent_to(self.out, self.indent + 2);
                self.out.push_str(line);
                self.out.push('\n');
            }
            return Ok(());
        }
        self.scalar(|out| quote_into(out, s))
    }

    fn display(mut self, v: impl std::fmt::Display) -> Result<(), Unsupported> {
        self.scalar(|out| {
            let _ = write!(out, "{v}");
        })
    }

    /// An integer of at most 64 bits, written as `Display` writes it without its
    /// machinery (ports and rule orders are written by the ten thousand).
    fn integer(mut self, negative: bool, magnitude: u64) -> Result<(), Unsupported> {
        self.scalar(|out| {
            if negative {
                out.push('-');
            }
            push_decimal(out, magnitude);
        })
    }

    fn signed(self, v: i64) -> Result<(), Unsupported> {
        self.integer(v < 0, v.unsigned_abs())
    }

    fn map(mut self, len: Option<usize>) -> Result<Map<'o>, Unsupported> {
        let Some(len) = len else {
            return unsupported("a map of unknown length");
        };
        let (indent, inline_first) = match self.at {
            At::Root => (0, false),
            At::AfterKey => (self.indent + 2, false),
            // The first key goes on the dash line; the rest align under it.
            At::Item => (self.indent + 2, true),
        };
        if len == 0 {
            self.scalar(|out| out.push_str("{}"))?;
        } else if matches!(self.at, At::AfterKey) {
            self.out.push('\n');
        }
        Ok(Map {
            out: self.out,
            indent,
            inline_first,
            left: len,
        })
    }

    fn seq(mut self, len: Option<usize>) -> Result<Seq<'o>, Unsupported> {
        let Some(len) = len else {
            return unsupported("a sequence of unknown length");
        };
        let dash = match self.at {
            At::Root => 0,
            At::AfterKey => self.indent,
            At::Item => self.indent + 2,
        };
        if len == 0 {
            self.scalar(|out| out.push_str("[]"))?;
        } else if !matches!(self.at, At::Root) {
            self.out.push('\n');
        }
        Ok(Seq {
            out: self.out,
            dash,
            left: len,
        })
    }
}

impl<'o> ser::Serializer for Node<'o> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Seq<'o>;
    type SerializeTuple = Seq<'o>;
    type SerializeTupleStruct = Seq<'o>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Map<'o>;
    type SerializeStruct = Map<'o>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(mut self, v: bool) -> Result<(), Unsupported> {
        self.scalar(|out| out.push_str(if v { "true" } else { "false" }))
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.signed(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.signed(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.signed(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.signed(v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), Unsupported> {
        // A JSON tree holds integers of 64 bits.
        if i64::try_from(v).is_ok() || u64::try_from(v).is_ok() {
            self.display(v)
        } else {
            unsupported("an integer beyond 64 bits")
        }
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.integer(false, u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.integer(false, u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.integer(false, u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.integer(false, v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), Unsupported> {
        if u64::try_from(v).is_ok() {
            self.display(v)
        } else {
            unsupported("an integer beyond 64 bits")
        }
    }
    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        unsupported("a 32-bit float")
    }
    fn serialize_f64(mut self, v: f64) -> Result<(), Unsupported> {
        // As a JSON tree holds it: a finite number, or null.
        match serde_json::Number::from_f64(v) {
            Some(n) => self.display(n),
            None => self.scalar(|out| out.push_str("null")),
        }
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.string(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        self.string(v)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        unsupported("bytes")
    }
    fn serialize_none(mut self) -> Result<(), Unsupported> {
        self.scalar(|out| out.push_str("null"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.string(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        use ser::SerializeMap as _;
        let mut map = self.map(Some(1))?;
        map.serialize_entry(variant, value)?;
        map.end()
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'o>, Unsupported> {
        self.seq(len)
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'o>, Unsupported> {
        self.seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'o>, Unsupported> {
        self.seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        unsupported("a tuple variant")
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Map<'o>, Unsupported> {
        self.map(len)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Map<'o>, Unsupported> {
        self.map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        unsupported("a struct variant")
    }
}

/// A map's entries, `left` of them still to come.
struct Map<'o> {
    out: &'o mut String,
    /// The indentation of the keys.
    indent: usize,
    /// The next key goes on the dash line of a sequence item.
    inline_first: bool,
    left: usize,
}

impl Map<'_> {
    /// Starts an entry: its indentation (or the space after the dash); the key follows.
    fn start(&mut self) -> Result<(), Unsupported> {
        if self.left == 0 {
            return unsupported("more entries than announced");
        }
        self.left -= 1;
        if self.inline_first {
            self.out.push(' ');
            self.inline_first = false;
        } else {
            indent_to(self.out, self.indent);
        }
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(Node {
            out: self.out,
            indent: self.indent,
            at: At::AfterKey,
        })
    }

    fn done(self) -> Result<(), Unsupported> {
        all_there(self.left, "entries")
    }
}

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.start()?;
        key.serialize(Key(self.out))?;
        self.out.push(':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.value(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.done()
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.start()?;
        write_str(self.out, key);
        self.out.push(':');
        self.value(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.done()
    }
}

/// A sequence's items, `left` of them still to come.
struct Seq<'o> {
    out: &'o mut String,
    /// The indentation of the dashes.
    dash: usize,
    left: usize,
}

impl Seq<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        if self.left == 0 {
            return unsupported("more items than announced");
        }
        self.left -= 1;
        indent_to(self.out, self.dash);
        self.out.push('-');
        value.serialize(Node {
            out: self.out,
            indent: self.dash,
            at: At::Item,
        })
    }

    fn done(self) -> Result<(), Unsupported> {
        all_there(self.left, "items")
    }
}

/// The three ways serde hands over a sequence's items, each an [`Seq::item`].
macro_rules! sequence {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Seq<'_> {
            type Ok = ();
            type Error = Unsupported;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
                self.item(value)
            }
            fn end(self) -> Result<(), Unsupported> {
                self.done()
            }
        }
    )*};
}

sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

/// A map key: written as a string is (a JSON tree's keys are strings).
struct Key<'o>(&'o mut String);

const NOT_A_STRING: &str = "a key that is not a string";

/// Key serialiser methods for scalars that are not strings: refused.
macro_rules! not_a_string {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method(self, _: $ty) -> Result<(), Unsupported> {
            unsupported(NOT_A_STRING)
        }
    )*};
}

impl ser::Serializer for Key<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<(), Unsupported>;
    type SerializeTuple = ser::Impossible<(), Unsupported>;
    type SerializeTupleStruct = ser::Impossible<(), Unsupported>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = ser::Impossible<(), Unsupported>;
    type SerializeStruct = ser::Impossible<(), Unsupported>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        write_str(self.0, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    not_a_string!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str)
    );
    fn serialize_none(self) -> Result<(), Unsupported> {
        unsupported(NOT_A_STRING)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Unsupported> {
        unsupported(NOT_A_STRING)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        unsupported(NOT_A_STRING)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        unsupported(NOT_A_STRING)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        unsupported(NOT_A_STRING)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        unsupported(NOT_A_STRING)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        unsupported(NOT_A_STRING)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        unsupported(NOT_A_STRING)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        unsupported(NOT_A_STRING)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Unsupported> {
        unsupported(NOT_A_STRING)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        unsupported(NOT_A_STRING)
    }
}

/// Appends `n` spaces: one copy of a run of spaces (it runs for every line written), not
/// a push per space.
pub fn indent_to(out: &mut String, n: usize) {
    const SPACES: &str = "                                                                ";
    let mut left = n;
    while left > 0 {
        let run = left.min(SPACES.len());
        out.push_str(&SPACES[..run]);
        left -= run;
    }
}

/// Appends `n` in decimal, as `Display` writes it, without the formatting machinery
/// (ports, rule orders and rule paths are written by the ten thousand).
pub fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut left = n;
    loop {
        at -= 1;
        // `left % 10` is below 10: the cast keeps it.
        digits[at] = b'0' + (left % 10) as u8;
        left /= 10;
        if left == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

/// `s` plain when [`plain_ok`], else [`quote`]d.
pub fn write_str(out: &mut String, s: &str) {
    if plain_ok(s) {
        out.push_str(s);
    } else {
        quote_into(out, s);
    }
}

/// Whether a string of several lines reads back exactly from a `|-` literal block: no
/// empty line, no line starting or ending with white space, no `#` at a line's start,
/// nothing but printable characters besides the line breaks.
fn literal_ok(s: &str) -> bool {
    let bytes = s.as_bytes();
    if !bytes.contains(&b'\n')
        || !bytes.split(|&b| b == b'\n').all(|line| {
            matches!((line.first(), line.last()), (Some(&first), Some(&last))
                if first != b' ' && first != b'#' && last != b' ')
        })
    {
        return false;
    }
    // The characters: printable ASCII and line breaks (nearly always) by blocks of bytes,
    // any other ASCII refused, the rest as characters.
    if printable_lines(bytes) {
        true
    } else if bytes.is_ascii() {
        false
    } else {
        s.chars()
            .all(|c| c == '\n' || (!c.is_control() && !escaped_raw(c)))
    }
}

/// Whether every byte is printable ASCII or a line break: 32 bytes at a time without a
/// branch a byte (a loop the compiler turns into vector instructions), the last ones one
/// by one.
fn printable_lines(bytes: &[u8]) -> bool {
    let other = |b: u8| u8::from(b.wrapping_sub(0x20) >= 0x5F) & u8::from(b != b'\n');
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        let mut any = 0u8;
        for &b in block {
            any |= other(b);
        }
        if any != 0 {
            return false;
        }
    }
    blocks.remainder().iter().all(|&b| other(b) == 0)
}

/// The characters besides controls that are written only escaped: line and paragraph
/// separators, the byte order mark and the noncharacters YAML does not allow in a stream.
fn escaped_raw(c: char) -> bool {
    matches!(
        c,
        '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
    )
}

/// Whether a string can be written without quotes and read back as the same string by
/// any YAML reader (1.1 or 1.2 core schema).
fn plain_ok(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if !(first.is_ascii_alphanumeric() || first == b'/' || first == b'_') {
        return false;
    }
    if !all_plain(bytes) {
        return false;
    }
    if bytes.len() <= 5 && special(bytes) {
        return false;
    }
    // Anything that starts like a number (ints with `_`, floats such as `1.2.3` in YAML
    // 1.1, hex, octal, binary, dates) is quoted, unless a `/` rules all of those out
    // (CIDRs such as `10.0.0.0/8`).
    !first.is_ascii_digit() || bytes.contains(&b'/')
}

/// Whether every byte of `bytes` is an ASCII letter or digit or one of `_./-` (every byte
/// of another character is outside ASCII, so a byte test is a character test): eight at
/// a time ([`plain_word`]), the last eight (or fewer, padded) overlapping those before,
/// with no loop over single bytes.
fn all_plain(bytes: &[u8]) -> bool {
    let n = bytes.len();
    let last = match n {
        0 => return true,
        // Bytes 0, n/2 and n-1 are every byte; the rest is padded with a plain `a`.
        1..=3 => {
            u64::from(bytes[0])
                | u64::from(bytes[n / 2]) << 8
                | u64::from(bytes[n - 1]) << 16
                | 0x6161_6161_6100_0000
        }
        // Two overlapping halves.
        4..=7 => {
            u64::from(u32::from_le_bytes(four(&bytes[..4])))
                | u64::from(u32::from_le_bytes(four(&bytes[n - 4..]))) << 32
        }
        _ => {
            if !bytes.chunks_exact(8).all(|w| plain_word(word(w))) {
                return false;
            }
            word(&bytes[n - 8..])
        }
    };
    plain_word(last)
}

/// Four bytes (the callers slice no other length) as an array.
fn four(bytes: &[u8]) -> [u8; 4] {
    bytes.try_into().unwrap_or_default()
}

/// Eight bytes (the callers slice no other length) as one number, first byte lowest.
fn word(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().unwrap_or_default())
}

/// A byte of one in every byte of a word, and the high bit of every byte.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// For a word of ASCII bytes: the high bit of each byte that is at least `lo` (a byte
/// plus at most 0x80 stays below 0x100, so no byte carries into the next).
const fn at_least(x: u64, lo: u8) -> u64 {
    x.wrapping_add(ONES * (0x80 - lo as u64)) & HIGH
}

/// For a word of ASCII bytes: the high bit of each byte that is at most `hi`.
const fn at_most(x: u64, hi: u8) -> u64 {
    !x.wrapping_add(ONES * (0x7F - hi as u64)) & HIGH
}

/// For a word of ASCII bytes: the high bit of each byte that is `b`.
const fn equal(x: u64, b: u8) -> u64 {
    let t = x ^ (ONES * b as u64);
    !(((t & !HIGH) + !HIGH) | t) & HIGH
}

/// Whether all eight bytes of `x` are [`plain_ok`]'s ASCII letters, digits and `_./-`
/// (one test for eight bytes: most scalars written are plain).
fn plain_word(x: u64) -> bool {
    if x & HIGH != 0 {
        return false;
    }
    // `-./` and the digits are one run, 0x2D to 0x39; a letter with bit 5 set is lower
    // case, and only letters become `a` to `z` so.
    let punct_digits = at_least(x, b'-') & at_most(x, b'9');
    let lower = x | (ONES * 0x20);
    let letters = at_least(lower, b'a') & at_most(lower, b'z');
    (punct_digits | letters | equal(x, b'_')) == HIGH
}

/// Whether all eight bytes of `x` are printable ASCII other than `"` and `\\`: written
/// as they are inside double quotes.
fn unescaped_word(x: u64) -> bool {
    x & HIGH == 0
        && at_least(x, 0x20) == HIGH
        && (equal(x, 0x7F) | equal(x, b'"') | equal(x, b'\\')) == 0
}

/// Whether `word` (at most five bytes, none of them zero) is, in any case, one of the
/// words a YAML 1.1 or 1.2 reader takes for a boolean, null or a special float: lowered
/// into one number, first byte lowest, and matched once (this runs for most keys and
/// values written).
fn special(word: &[u8]) -> bool {
    /// `w` as [`special`] makes a word into a number (no byte of `w` is zero, so the
    /// number is that of one word only).
    const fn number(w: &[u8]) -> u64 {
        let mut x = 0;
        let mut i = w.len();
        while i > 0 {
            i -= 1;
            x = x << 8 | w[i] as u64;
        }
        x
    }
    const TRUE: u64 = number(b"true");
    const FALSE: u64 = number(b"false");
    const YES: u64 = number(b"yes");
    const NO: u64 = number(b"no");
    const ON: u64 = number(b"on");
    const OFF: u64 = number(b"off");
    const Y: u64 = number(b"y");
    const N: u64 = number(b"n");
    const NULL: u64 = number(b"null");
    const NAN: u64 = number(b"nan");
    const INF: u64 = number(b"inf");
    const NONE: u64 = number(b"none");
    const TILDE: u64 = number(b"~");
    let x = word
        .iter()
        .rev()
        .fold(0u64, |x, b| x << 8 | u64::from(b.to_ascii_lowercase()));
    word.len() <= 5
        && matches!(
            x,
            TRUE | FALSE | YES | NO | ON | OFF | Y | N | NULL | NAN | INF | NONE | TILDE
        )
}

/// `s` as a double-quoted YAML string with JSON-compatible escapes.
fn quote_into(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    // Runs of characters written as they are go out at once; `run` starts the current
    // one. Only `at` moves by whole characters, so both stay on character boundaries.
    let mut run = 0;
    let mut at = 0;
    while at < bytes.len() {
        // Printable ASCII other than `"` and `\\`, eight bytes at a time.
        if let Some(w) = bytes.get(at..at + 8) {
            if unescaped_word(word(w)) {
                at += 8;
                continue;
            }
        } else if bytes.len() >= 8 && unescaped_word(word(&bytes[bytes.len() - 8..])) {
            // Fewer than eight left, all of them among the last eight: written as they
            // are when those are (the run goes on to the end).
            break;
        }
        let b = bytes[at];
        if (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\' {
            at += 1;
            continue;
        }
        let Some(c) = s[at..].chars().next() else {
            break;
        };
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\t' => "\\t",
            '\r' => "\\r",
            // Every character a YAML stream may not hold (C0 and C1 controls, DEL, the
            // noncharacters U+FFFE and U+FFFF), and those some readers take for a line
            // break or a byte order mark.
            c if c.is_control() || escaped_raw(c) => "",
            // Any other character is written as it is.
            _ => {
                at += c.len_utf8();
                continue;
            }
        };
        out.push_str(&s[run..at]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push_str(escape);
        }
        at += c.len_utf8();
        run = at;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    enum Kind {
        Allow,
        Ports(Vec<u16>),
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Object {
        api_version: &'static str,
        labels: BTreeMap<String, String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        kept_none: Option<u8>,
        kinds: Vec<Kind>,
        nested: Vec<Vec<i64>>,
        empty: Empty,
        none_list: Vec<u8>,
        rules: String,
        ratio: f64,
        infinite: f64,
        big: u128,
        letter: char,
        unit: (),
    }

    #[derive(Serialize)]
    struct Empty {}

    fn object() -> Object {
        Object {
            api_version: "v1",
            labels: BTreeMap::from([
                ("b".to_string(), "yes".to_string()),
                ("a".to_string(), "web".to_string()),
            ]),
            skipped: None,
            kept_none: None,
            kinds: vec![Kind::Allow, Kind::Ports(vec![80, 443])],
            nested: vec![vec![1, -2], vec![]],
            empty: Empty {},
            none_list: Vec::new(),
            rules: "a: x\nb: y".to_string(),
            ratio: 0.5,
            infinite: f64::INFINITY,
            big: u128::from(u64::MAX),
            letter: 'x',
            unit: (),
        }
    }

    #[test]
    fn a_typed_object_is_written_as_its_tree_would_be() {
        let typed = to_string(&object()).expect("supported");
        let tree = serde_json::to_value(object()).expect("serialises");
        assert_eq!(typed, to_string(&tree).expect("a tree is always written"));
        assert_eq!(
            typed,
            "\
apiVersion: v1
labels:
  a: web
  b: \"yes\"
keptNone: null
kinds:
- allow
- ports:
  - 80
  - 443
nested:
-
  - 1
  - -2
- []
empty: {}
noneList: []
rules: |-
  a: x
  b: y
ratio: 0.5
infinite: null
big: 18446744073709551615
letter: x
unit: null
"
        );
    }

    #[test]
    fn what_needs_a_tree_is_refused_and_nothing_is_written() {
        #[derive(Serialize)]
        struct Flattened {
            a: u8,
            #[serde(flatten)]
            rest: BTreeMap<String, u8>,
        }
        #[derive(Serialize)]
        enum Variant {
            Pair(u8, u8),
        }
        let mut out = "kept\n".to_string();
        let flattened = Flattened {
            a: 1,
            rest: BTreeMap::new(),
        };
        assert!(write(&mut out, &flattened).is_err());
        assert!(write(&mut out, &BTreeMap::from([(1u8, 2u8)])).is_err());
        assert!(write(&mut out, &1.5f32).is_err());
        assert!(write(&mut out, &u128::MAX).is_err());
        assert!(write(&mut out, &Variant::Pair(1, 2)).is_err());
        assert!(write(&mut out, serde_bytes_like()).is_err());
        assert_eq!(out, "kept\n");
    }

    /// A value that serialises as bytes.
    fn serde_bytes_like() -> &'static impl Serialize {
        struct Bytes;
        impl Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(b"x")
            }
        }
        &Bytes
    }

    /// A typed value of the shapes back ends serialise: structs with optional and
    /// skipped fields, maps with string keys, lists, nested lists, unit and newtype
    /// variants, numbers of every width, and strings of any characters.
    #[derive(Serialize, Debug, Clone)]
    #[serde(rename_all = "camelCase")]
    struct Shape {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        maybe: Option<String>,
        always: Option<i64>,
        labels: BTreeMap<String, String>,
        items: Vec<Item>,
        nested: Vec<Vec<u16>>,
        ratio: f64,
    }

    #[derive(Serialize, Debug, Clone)]
    #[serde(rename_all = "camelCase")]
    enum Item {
        Plain,
        Named(String),
        Port(PortItem),
    }

    #[derive(Serialize, Debug, Clone)]
    struct PortItem {
        port: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        end: Option<u32>,
    }

    fn shape() -> impl proptest::strategy::Strategy<Value = Shape> {
        use proptest::prelude::*;
        let text = prop_oneof![
            "[a-z0-9./_-]{0,12}",
            any::<String>(),
            Just("yes".to_string()),
            Just("a\nb".to_string()),
            Just("x: y\nz".to_string()),
            Just("8080".to_string()),
        ];
        let item = prop_oneof![
            Just(Item::Plain),
            text.clone().prop_map(Item::Named),
            (any::<u32>(), proptest::option::of(any::<u32>()))
                .prop_map(|(port, end)| Item::Port(PortItem { port, end })),
        ];
        (
            text.clone(),
            proptest::option::of(text.clone()),
            proptest::option::of(any::<i64>()),
            proptest::collection::btree_map(text.clone(), text, 0..4),
            proptest::collection::vec(item, 0..4),
            proptest::collection::vec(proptest::collection::vec(any::<u16>(), 0..3), 0..3),
            any::<f64>(),
        )
            .prop_map(
                |(name, maybe, always, labels, items, nested, ratio)| Shape {
                    name,
                    maybe,
                    always,
                    labels,
                    items,
                    nested,
                    ratio,
                },
            )
    }

    proptest::proptest! {
        #[test]
        fn any_typed_value_is_written_as_its_tree_would_be(s in shape()) {
            let tree = serde_json::to_value(&s).expect("serialises");
            let written = to_string(&s);
            proptest::prop_assert!(written.is_ok(), "{written:?}");
            proptest::prop_assert_eq!(written, to_string(&tree));
            // As a sequence item and as a map value too.
            let in_list = [s.clone(), s.clone()];
            let tree = serde_json::to_value(&in_list).expect("serialises");
            proptest::prop_assert_eq!(to_string(&in_list), to_string(&tree));
        }
    }

    /// `s` double-quoted.
    fn quote(s: &str) -> String {
        let mut out = String::new();
        quote_into(&mut out, s);
        out
    }

    #[test]
    fn quoting() {
        for s in [
            "8080",
            "true",
            "Yes",
            "no",
            "",
            "-x",
            "a b",
            "k8s:app",
            "1e3",
            "0x1f",
            "~",
            "null",
            "!x",
            "*",
            "a: b",
            "2001:db8::/32",
            "0.5",
            ".5",
            "${x}",
            "é",
        ] {
            assert!(!plain_ok(s) || s == "é", "{s} must be quoted");
        }
        for s in [
            "production",
            "10.0.0.0/8",
            "app.kubernetes.io/name",
            "frontend-to-backend",
            "TCP",
            "_x",
        ] {
            assert!(plain_ok(s), "{s} may be plain");
        }
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        // Characters a YAML stream may not hold raw are escaped.
        assert_eq!(
            quote("\u{7f}\u{85}\u{9f}\u{2028}\u{feff}\u{fffe}\u{ffff}é"),
            "\"\\u007f\\u0085\\u009f\\u2028\\ufeff\\ufffe\\uffffé\""
        );
    }

    /// The literal test as first written: line by line, character by character.
    fn literal_ok_by_lines(s: &str) -> bool {
        s.contains('\n')
            && s.split('\n').all(|line| {
                !line.is_empty()
                    && !line.starts_with([' ', '#'])
                    && !line.ends_with(' ')
                    && line.chars().all(|c| !c.is_control() && !escaped_raw(c))
            })
    }

    proptest::proptest! {
        #[test]
        fn the_literal_test_is_the_line_by_line_one(
            s in proptest::prop_oneof![
                "[a-z #\n\t\r\u{7f}\u{85}\u{2028}é]{0,12}",
                proptest::prelude::any::<String>(),
            ]
        ) {
            proptest::prop_assert_eq!(literal_ok(&s), literal_ok_by_lines(&s), "{:?}", s);
        }
    }

    /// Quoting as first written: character by character.
    fn quote_by_characters(s: &str) -> String {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() || escaped_raw(c) => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    proptest::proptest! {
        #[test]
        fn quoting_is_the_character_by_character_one(
            s in proptest::prop_oneof![
                "[a-z '\"\\\\\n\t\r\u{1}\u{7f}\u{85}\u{2028}\u{fffe}é]{0,40}",
                "[ -~]{0,40}",
                proptest::prelude::any::<String>(),
            ]
        ) {
            proptest::prop_assert_eq!(quote(&s), quote_by_characters(&s));
        }

        #[test]
        fn a_word_is_plain_as_its_bytes_are(bytes in proptest::prelude::any::<[u8; 8]>()) {
            let x = u64::from_le_bytes(bytes);
            let plain = bytes
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-'));
            proptest::prop_assert_eq!(plain_word(x), plain);
            let unescaped = bytes
                .iter()
                .all(|&b| (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\');
            proptest::prop_assert_eq!(unescaped_word(x), unescaped);
        }
    }

    #[test]
    fn every_byte_of_every_length_is_seen() {
        // One byte that is not plain, in each place of strings of 0 to 20 bytes.
        for n in 0..=20 {
            let plain = vec![b'x'; n];
            assert!(all_plain(&plain));
            for place in 0..n {
                for bad in [b' ', b':', 0x80, b'~', 0] {
                    let mut bytes = plain.clone();
                    bytes[place] = bad;
                    assert!(!all_plain(&bytes), "{bad:#x} at {place} of {n}");
                }
            }
        }
    }

    #[test]
    fn every_byte_of_a_word_is_told_apart() {
        // Each byte value in each of the eight places, among plain bytes.
        for place in 0..8 {
            for b in 0..=u8::MAX {
                let mut bytes = *b"abcdefgh";
                bytes[place] = b;
                let x = u64::from_le_bytes(bytes);
                assert_eq!(plain_word(x), PLAIN_BYTES.contains(&b), "{b:#x} at {place}");
                let unescaped = (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\';
                assert_eq!(unescaped_word(x), unescaped, "{b:#x} at {place}");
            }
        }
    }

    const PLAIN_BYTES: &[u8] =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-";

    #[test]
    fn integers_are_written_as_displayed() {
        for v in [0, 1, -1, 9, 10, -10, 99, 100, -12345, i64::MIN, i64::MAX] {
            assert_eq!(to_string(&v), Ok(format!("{v}\n")));
        }
        for v in [0, 7, 10, 1 << 40, u64::MAX] {
            assert_eq!(to_string(&v), Ok(format!("{v}\n")));
        }
        assert_eq!(to_string(&i8::MIN), Ok("-128\n".to_string()));
        assert_eq!(to_string(&[u16::MAX]), Ok("- 65535\n".to_string()));
    }

    /// The plain test as first written: each special word compared in turn.
    fn plain_ok_by_words(s: &str) -> bool {
        let Some(&first) = s.as_bytes().first() else {
            return false;
        };
        if !(first.is_ascii_alphanumeric() || first == b'/' || first == b'_') {
            return false;
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-'))
        {
            return false;
        }
        const SPECIAL: [&str; 13] = [
            "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf", "none", "~",
        ];
        if SPECIAL.iter().any(|w| w.eq_ignore_ascii_case(s)) {
            return false;
        }
        !first.is_ascii_digit() || s.contains('/')
    }

    proptest::proptest! {
        #[test]
        fn any_integer_is_written_as_displayed(i in proptest::num::i64::ANY, u in proptest::num::u64::ANY) {
            proptest::prop_assert_eq!(to_string(&i), Ok(format!("{i}\n")));
            proptest::prop_assert_eq!(to_string(&u), Ok(format!("{u}\n")));
        }

        #[test]
        fn the_plain_test_is_the_word_by_word_one(
            s in proptest::prop_oneof![
                "[a-zA-Z0-9./_~-]{0,7}",
                "(?i)(true|false|yes|no|on|off|y|n|null|nan|inf|none|~)[a-z]?",
                proptest::prelude::any::<String>(),
            ]
        ) {
            proptest::prop_assert_eq!(plain_ok(&s), plain_ok_by_words(&s), "{:?}", s);
        }
    }

    #[test]
    fn a_struct_that_miscounts_its_fields_is_refused() {
        struct Miscounted(usize);
        impl Serialize for Miscounted {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct as _;
                let mut st = s.serialize_struct("M", self.0)?;
                st.serialize_field("a", &1)?;
                st.end()
            }
        }
        assert_eq!(to_string(&Miscounted(1)), Ok("a: 1\n".to_string()));
        assert!(to_string(&Miscounted(0)).is_err());
        assert!(to_string(&Miscounted(2)).is_err());
    }
}
