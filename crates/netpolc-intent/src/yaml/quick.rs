//! A fast reader for the block-style YAML that netpolc's own emitter writes, straight into
//! a borrowed document ([`read_doc`], a [`Doc`] whose strings borrow from the text) or
//! JSON ([`read`]): the read-back of the proof reads every emitted object, and the full
//! loader ([`super::load`], an event parser plus a marked tree) costs several times more
//! than the emitting did; a JSON tree of each object (a hashed map per mapping, a string
//! per key and value) cost more than the reading.
//!
//! # The subset
//!
//! Exactly the layout of the emitter (`netpolc_driver::emit`), one document, nothing else:
//!
//! - block mappings, one `key: value` per line at the mapping's indentation; a nested
//!   mapping two spaces deeper on the lines after `key:`;
//! - block sequences written kubectl-style: `- ` at the indentation of the key they are the
//!   value of, the first key of a mapping item on the dash line and its other keys under
//!   it, a sequence item of a sequence as `-` alone on its line with the inner sequence two
//!   spaces deeper;
//! - scalars: plain ones from a conservative character set (`[A-Za-z0-9_./-]`, starting
//!   with a letter, a digit, `/` or `_`; in numbers also a leading `-` before a digit and
//!   `+`, as in `-5` or `1e+42`);
//!   double-quoted strings with the escapes the emitter writes (`\" \\ \n \t \r \uXXXX`);
//!   `|-` literal blocks of one or more non-empty lines two spaces deeper than the key,
//!   no line starting with a space or `#` or ending with a space; `{}` and `[]`.
//!
//! Anything else gives `None`, and the caller uses the full loader: comments, document
//! markers, directives, anchors, aliases, tags, flow collections with content, single
//! quotes, folded blocks, multi-line plain or quoted scalars, empty values, tabs, carriage
//! returns, a byte order mark, trailing spaces, empty lines, other indentations, a last
//! line without its line break, duplicate keys, plain keys that are not strings (`1: x`,
//! `true: x`) or start with `-`, keys longer than 1000 bytes (YAML limits implicit keys to
//! 1024 characters), characters YAML does not allow in a stream.
//!
//! # The contract
//!
//! When [`read`] returns `Some(v)`, the full loader with [`Limits::default`] reads the
//! same text as exactly one document `n` with `n.to_json() == v`; [`read_doc`] returns
//! `Some(d)` exactly then, with `d.to_value() == v` (one reading, with the same checks,
//! building a tree or a document; a document's keys are distinct as a tree's are): plain
//! scalars resolve through the same code as [`Node::to_json`](super::Node::to_json), and the loader's
//! limits (file size, nesting depth, node count, scalar length, parser look-ahead) are
//! checked the way the loader counts them, so that no text the loader rejects is read
//! here. `None` promises nothing. [`matches()`] is the same reading compared with an
//! expected value as it goes: `true` only when [`read`] gives that value. The
//! differential and mutation tests of `netpolc-driver` (`tests/quick_read.rs`) hold the
//! reader to this against the loader, and [`matches()`] against [`read`].

use super::load::{Limits, DEPTH_CAP, MAX_KEY};
use super::node::{plain_to_json, resolved_to_json};
use super::resolve::{resolve_plain, Resolved};
use netpolc_doc::Doc;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// One document of the block-style subset netpolc's emitter writes, read straight into
/// JSON; `None` when the text steps outside that subset (the caller then uses the full
/// loader). See the [module documentation](self) for the subset and the contract.
///
/// ```
/// use netpolc_intent::yaml::quick::read;
/// let text = "kind: NetworkPolicy\nspec:\n  podSelector: {}\n  ports:\n  - port: 53\n    protocol: UDP\n";
/// assert_eq!(
///     read(text),
///     Some(serde_json::json!({"kind": "NetworkPolicy", "spec": {"podSelector": {}, "ports": [{"port": 53, "protocol": "UDP"}]}}))
/// );
/// // A comment is outside the subset.
/// assert_eq!(read("a: 1 # one\n"), None);
/// ```
pub fn read(text: &str) -> Option<Value> {
    read_as::<Json>(text)
}

/// [`read`] into a [`Doc`]: its strings borrowed from `text` (copied only where an
/// escape was undone or a literal block joined), its mappings' entries in text order.
/// `Some` exactly when [`read`] is, with `to_value()` equal to what `read` gives (one
/// reading, which builds either).
///
/// ```
/// use netpolc_doc::Tree;
/// use netpolc_intent::yaml::quick::read_doc;
/// let text = "kind: NetworkPolicy\nspec:\n  ports:\n  - port: 53\n";
/// let doc = read_doc(text).unwrap();
/// assert_eq!(doc.field("kind").and_then(Tree::as_str), Some("NetworkPolicy"));
/// assert_eq!(doc.to_value(), netpolc_intent::yaml::quick::read(text).unwrap());
/// ```
pub fn read_doc(text: &str) -> Option<Doc<'_>> {
    read_as::<Document>(text)
}

/// [`read`], building with `B`.
fn read_as<'a, B: Build<'a>>(text: &'a str) -> Option<B::Node> {
    let mut r = Reader::<B>::start(text)?;
    let v = if r.dash_line(0) {
        r.seq(0, 1)?
    } else {
        r.inline(Some(0), 1)?
    };
    (r.pos == r.b.len()).then_some(v)
}

/// Whether [`read`] reads `text` as `expected`, decided without building the value (no
/// maps, no arrays, plain keys and strings not copied): the proof's read-back compares
/// every emitted text with the object it was emitted from, and building each tree only
/// to compare and drop it cost more than the reading.
///
/// `true` only when `read(text) == Some(expected)`; `false` otherwise, and also when a
/// mapping's keys are written in another order than `expected`'s (the emitter writes
/// them in the value's order; a caller that must know reads the text instead).
///
/// ```
/// use netpolc_intent::yaml::quick::matches;
/// let text = "kind: NetworkPolicy\nspec:\n  ports:\n  - port: 53\n";
/// let v = serde_json::json!({"kind": "NetworkPolicy", "spec": {"ports": [{"port": 53}]}});
/// assert!(matches(text, &v));
/// assert!(!matches(text, &serde_json::json!({"kind": "NetworkPolicy"})));
/// ```
pub fn matches(text: &str, expected: &Value) -> bool {
    // Nothing is built (`Json` or another, all the same).
    let Some(mut r) = Reader::<Json>::start(text) else {
        return false;
    };
    let same = if r.dash_line(0) {
        r.seq_is(0, 1, expected)
    } else {
        r.inline_is(Some(0), 1, expected)
    };
    same.is_some() && r.pos == r.b.len()
}

/// Whether every character is one YAML allows in a stream and the subset allows anywhere
/// (no tab, carriage return, control character, byte order mark or Unicode line
/// separator), and the loader's look-ahead meter, run over the whole text, stays within
/// `budget`.
///
/// The meter (`MeteredChars` in the loader) charges every character that is not blank
/// and not in what looks like a comment `16 + n`, `n` being the number of brackets opened
/// and not closed so far; the parser may not spend more than the budget between two
/// events. The charge of the whole text bounds the charge between any two events.
/// Shared with [`super::quick_nodes`], whose subset allows the same characters.
///
/// The meter itself runs only when a bound of its charge is over the budget: each
/// character (at most one a byte) is charged at most `16 + n`, `n` the number of `[` and
/// `{` bytes of the whole text (at most its length), so `len × (16 + n)` bounds the
/// charge, and for an emitted object (a few KiB, few brackets) it is far within the
/// budget. Then only the characters are checked, a loop over blocks of bytes.
pub(super) fn characters_ok(text: &str, budget: usize) -> bool {
    if !allowed(text) {
        return false;
    }
    let len = text.len();
    let bound = |opens: usize| len.saturating_mul(16usize.saturating_add(opens)) <= budget;
    bound(len) || bound(opens(text.as_bytes())) || metered(text, true).is_some_and(|c| c <= budget)
}

/// Whether every character of `text` is one [`metered`] allows (blanks, printable ASCII,
/// [`printable_non_ascii`]).
fn allowed(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Blocks of line breaks and printable ASCII (nearly every block), classified
        // without a branch a byte: the loop is vectorised.
        if let Some(block) = b.get(i..i + BLOCK) {
            let mut other = 0u8;
            for &c in block {
                other |= u8::from(c.wrapping_sub(0x20) >= 0x5F) & u8::from(c != b'\n');
            }
            if other == 0 {
                i += BLOCK;
                continue;
            }
        }
        let byte = b[i];
        if byte < 0x80 {
            if byte != b'\n' && !(0x20..0x7F).contains(&byte) {
                return false;
            }
            i += 1;
        } else {
            // Not ASCII: decoded (the text is UTF-8).
            let Some(c) = text[i..].chars().next() else {
                return false;
            };
            if !printable_non_ascii(c) {
                return false;
            }
            i += c.len_utf8();
        }
    }
    true
}

/// The number of `[` and `{` bytes: eight at a time, in a word, the last ones (fewer
/// than eight) one by one.
fn opens(b: &[u8]) -> usize {
    let mut n = 0;
    let mut at = 0;
    while let Some(x) = word_at(b, at) {
        // One bit a byte, summed into the top byte by the multiplication.
        let hits = (equal(x, b'[') | equal(x, b'{')) >> 7;
        n += (hits.wrapping_mul(ONES) >> 56) as usize;
        at += 8;
    }
    n + b[at..].iter().filter(|&&c| c == b'[' || c == b'{').count()
}

/// The meter's charge of the whole text ([`characters_ok`]), `None` when it holds a
/// character the subset does not allow. With `blocks`, most of the text is charged a
/// block of bytes at a time; without, a character at a time (the reference the tests
/// compare the blocks with).
fn metered(text: &str, blocks: bool) -> Option<usize> {
    /// Printable ASCII other than `#` and brackets, by byte.
    const PLAIN: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0x21;
        while b <= 0x7E {
            t[b] = !matches!(b as u8, b'#' | b'[' | b']' | b'{' | b'}');
            b += 1;
        }
        t
    };
    let mut counted = 0usize;
    let mut depth = 0usize;
    let mut in_comment = false;
    let mut after_blank = true;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Most of a text is printable ASCII other than `#` and brackets, spaces and line
        // breaks: outside a comment, a block of them changes nothing but the charge (no
        // `#` starts a comment, no bracket moves the depth), which is counted at once
        // (a loop the compiler turns into vector instructions). A block holding anything
        // else, and a comment, are walked below.
        if blocks && !in_comment {
            if let Some(block) = b.get(i..i + BLOCK) {
                if let Some(n) = plain_in_block(block) {
                    counted = counted.saturating_add(n.saturating_mul(16 + depth));
                    after_blank = matches!(block[BLOCK - 1], b' ' | b'\n');
                    i += BLOCK;
                    continue;
                }
            }
        }
        let byte = b[i];
        // A run of printable ASCII other than `#` and brackets is counted at once, and so
        // is a run of spaces (not counted; they leave a comment a comment): the walk's
        // fast paths, the rest is the general case below.
        let plain = |x: &u8| PLAIN[usize::from(*x)];
        if plain(&byte) {
            let run = b[i..].iter().take_while(|x| plain(x)).count();
            if !in_comment {
                counted = counted.saturating_add(run.saturating_mul(16 + depth));
            }
            after_blank = false;
            i += run;
            continue;
        }
        if byte == b' ' {
            i += b[i..].iter().take_while(|x| **x == b' ').count();
            after_blank = true;
            continue;
        }
        // A line break (once a line): blank, ends a comment, not counted.
        if byte == b'\n' {
            i += 1;
            in_comment = false;
            after_blank = true;
            continue;
        }
        // ASCII as bytes; other characters decoded (the text is UTF-8).
        let c = if byte < 0x80 {
            i += 1;
            char::from(byte)
        } else {
            let c = text[i..].chars().next()?;
            i += c.len_utf8();
            c
        };
        let blank = c == ' ' || c == '\n';
        if !blank && !matches!(c, '\u{21}'..='\u{7E}') && !printable_non_ascii(c) {
            return None;
        }
        let counts = if in_comment {
            in_comment = c != '\n';
            false
        } else if c == '#' && after_blank {
            in_comment = true;
            false
        } else {
            !blank
        };
        if counts {
            match c {
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            counted = counted.saturating_add(16 + depth);
        }
        after_blank = blank;
    }
    Some(counted)
}

/// The bytes [`characters_ok`] classifies at once.
const BLOCK: usize = 32;

/// The number of printable ASCII bytes other than `#` and brackets in `block` when all
/// the others are spaces and line breaks; `None` when it holds any other byte.
#[inline]
fn plain_in_block(block: &[u8]) -> Option<usize> {
    // Counted without a branch a byte (no early exit): the loop is vectorised.
    let mut plain = 0u8;
    let mut other = 0u8;
    for &c in block {
        let printable = c.wrapping_sub(0x21) < 0x5E;
        let special = (c == b'#') | (c == b'[') | (c == b']') | (c == b'{') | (c == b'}');
        let is_plain = printable & !special;
        let blank = (c == b' ') | (c == b'\n');
        plain += u8::from(is_plain);
        other |= u8::from(!(is_plain | blank));
    }
    (other == 0).then_some(usize::from(plain))
}

/// A byte of one in every byte of a word, the low seven bits and the high bit of every
/// byte: the reader's scans take the text eight bytes at a time, in a word.
const ONES: u64 = 0x0101_0101_0101_0101;
const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;
const HIGH: u64 = !LOW;

/// The eight bytes of `b` from `at` as a word, first byte lowest; `None` when fewer are
/// left.
#[inline]
fn word_at(b: &[u8], at: usize) -> Option<u64> {
    let w: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(w))
}

/// The high bit of each byte of `x` that is `c` (exact for every byte value).
#[inline]
const fn equal(x: u64, c: u8) -> u64 {
    let t = x ^ (ONES * c as u64);
    !(((t & LOW) + LOW) | t) & HIGH
}

/// For a word of bytes below 0x80: the high bit of each byte that is at least `lo` (a
/// byte plus at most 0x80 stays below 0x100: no byte carries into the next).
#[inline]
const fn at_least(y: u64, lo: u8) -> u64 {
    y.wrapping_add(ONES * (0x80 - lo as u64)) & HIGH
}

/// For a word of bytes below 0x80: the high bit of each byte that is at most `hi`.
#[inline]
const fn at_most(y: u64, hi: u8) -> u64 {
    !y.wrapping_add(ONES * (0x7F - hi as u64)) & HIGH
}

/// The high bit of each byte of `x` that may be in a plain token ([`Reader::token`]):
/// an ASCII letter or digit, `_ . / -` or `+`.
#[inline]
const fn token_bytes(x: u64) -> u64 {
    // Tested on the low seven bits, kept for ASCII bytes only; `-./` and the digits are
    // one run, 0x2D to 0x39, and only letters become `a` to `z` with bit 5 set.
    let y = x & LOW;
    let punct_digits = at_least(y, b'-') & at_most(y, b'9');
    let lower = y | (ONES * 0x20);
    let letters = at_least(lower, b'a') & at_most(lower, b'z');
    (punct_digits | letters | equal(x, b'_') | equal(x, b'+')) & !x & HIGH
}

/// The number of bytes of `b` from `at` on before the first that `stop` marks (it sets
/// bits in the bytes of a word that stop the run, none in the others) or `stop_byte`
/// tells, or to the end: a word at a time, the last bytes (fewer than eight) one by one.
#[inline]
fn run_until(
    b: &[u8],
    at: usize,
    stop: impl Fn(u64) -> u64,
    stop_byte: impl Fn(u8) -> bool,
) -> usize {
    let mut i = at;
    while let Some(x) = word_at(b, i) {
        let found = stop(x);
        if found != 0 {
            return i - at + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i - at + b[i..].iter().take_while(|&&c| !stop_byte(c)).count()
}

/// A non-ASCII character that YAML allows in a stream and that no YAML reader takes for
/// a line break or a byte order mark.
fn printable_non_ascii(c: char) -> bool {
    matches!(c, '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// A scalar token: a double-quoted string (unescaped) or the byte range of a plain one.
enum Token<'a> {
    /// Borrowed from the text when it holds no escape.
    Quoted(Cow<'a, str>),
    /// `from..to`, and whether it starts with `-` or holds a `+` (then only a number is in
    /// the subset: `-5`, `1e+42`).
    Plain(usize, usize, bool),
}

/// What follows a mapping key's `:` ([`Reader::after_key_kind`]).
enum AfterKey {
    /// A block sequence on the next lines, at the key's column.
    Seq,
    /// A block mapping on the next lines, two columns in.
    Map,
    /// A `|-` literal block.
    Literal,
    /// A value on the key's line.
    Inline,
}

/// What the reader builds of what it reads ([`read`]: JSON, [`read_doc`]: a [`Doc`]), in
/// one reading with the same checks: the nodes it makes of scalars, and the collections
/// of their items and entries.
trait Build<'a> {
    /// A node read.
    type Node;

    /// A quoted string or a literal block.
    fn string(s: Cow<'a, str>) -> Self::Node;

    /// The plain scalar `s`, resolved as the loader does (`plain_to_json`); `None` for a
    /// string when `signed` (a leading `-` or a `+` only in a number: `-5`, `1e+42`).
    fn plain(s: &'a str, signed: bool) -> Option<Self::Node>;

    /// A sequence of `items`.
    fn array(items: Vec<Self::Node>) -> Self::Node;

    /// A mapping of the `entries` from `start` on (drained); `None` when a key repeats
    /// (the loader rejects duplicate keys).
    fn object(entries: &mut Vec<(Cow<'a, str>, Self::Node)>, start: usize) -> Option<Self::Node>;
}

/// Builds JSON ([`read`]).
struct Json;

impl<'a> Build<'a> for Json {
    type Node = Value;

    fn string(s: Cow<'a, str>) -> Value {
        Value::String(s.into_owned())
    }

    fn plain(s: &'a str, signed: bool) -> Option<Value> {
        let v = plain_to_json(s);
        (v.is_number() || !signed).then_some(v)
    }

    fn array(items: Vec<Value>) -> Value {
        Value::Array(items)
    }

    fn object(entries: &mut Vec<(Cow<'a, str>, Value)>, start: usize) -> Option<Value> {
        // Allocated once, at its length (a map grown an entry at a time reallocates and
        // rehashes as it goes).
        let mut m = Map::with_capacity(entries.len() - start);
        for (key, value) in entries.drain(start..) {
            if m.insert(key.into_owned(), value).is_some() {
                return None;
            }
        }
        Some(Value::Object(m))
    }
}

/// Builds a [`Doc`] ([`read_doc`]): strings borrowed from the text.
struct Document;

impl<'a> Build<'a> for Document {
    type Node = Doc<'a>;

    fn string(s: Cow<'a, str>) -> Doc<'a> {
        Doc::String(s)
    }

    fn plain(s: &'a str, signed: bool) -> Option<Doc<'a>> {
        // A plain string borrowed (`plain_to_json` without the copy); anything else as
        // `plain_to_json` reads it.
        let v = if starts_string(s) {
            Doc::String(Cow::Borrowed(s))
        } else {
            // Resolved once (told a string or not, and then converted).
            let resolved = resolve_plain(s);
            if let Resolved::Str(_) = resolved {
                return (!signed).then_some(Doc::String(Cow::Borrowed(s)));
            }
            match resolved_to_json(resolved, s) {
                Value::Null => Doc::Null,
                Value::Bool(b) => Doc::Bool(b),
                Value::Number(n) => Doc::Number(n),
                // A string, or a float out of range kept as its text.
                _ => Doc::String(Cow::Borrowed(s)),
            }
        };
        (matches!(v, Doc::Number(_)) || !signed).then_some(v)
    }

    fn array(items: Vec<Doc<'a>>) -> Doc<'a> {
        Doc::Array(items)
    }

    fn object(entries: &mut Vec<(Cow<'a, str>, Doc<'a>)>, start: usize) -> Option<Doc<'a>> {
        if !distinct(&entries[start..]) {
            return None;
        }
        // Allocated once, at its length, and moved in one copy.
        Some(Doc::Object(entries.split_off(start)))
    }
}

struct Reader<'a, B: Build<'a>> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    /// Nodes read so far, keys included (the loader's count).
    nodes: usize,
    max_depth: usize,
    max_nodes: usize,
    max_scalar: usize,
    /// The entries of the mappings being read ([`Reader::map`]), innermost last.
    entries: Vec<(Cow<'a, str>, B::Node)>,
    /// The items of the sequences being read ([`Reader::seq`]), innermost last.
    items: Vec<B::Node>,
}

impl<'a, B: Build<'a>> Reader<'a, B> {
    /// A reader at the start of `text`, or `None` when the whole text is outside the
    /// subset or the loader's limits (its size, its last line break, its characters).
    fn start(text: &'a str) -> Option<Reader<'a, B>> {
        let limits = Limits::default();
        if text.len() > limits.max_file_size.min(u32::MAX as usize)
            || !text.ends_with('\n')
            || !characters_ok(text, limits.max_lookahead.saturating_mul(16))
        {
            return None;
        }
        Some(Reader {
            text,
            b: text.as_bytes(),
            pos: 0,
            nodes: 0,
            max_depth: limits.max_depth.min(DEPTH_CAP),
            max_nodes: limits.max_nodes,
            max_scalar: limits.max_scalar_len,
            // Sized for the nesting of most objects at once: grown an entry at a time,
            // they were reallocated and copied several times an object.
            entries: Vec::with_capacity(32),
            items: Vec::with_capacity(16),
        })
    }

    /// Counts one node at `depth` (the top node is at depth 1), within the limits.
    fn node(&mut self, depth: usize) -> Option<()> {
        self.nodes += 1;
        (depth <= self.max_depth && self.nodes <= self.max_nodes).then_some(())
    }

    fn peek(&self, at: usize) -> Option<u8> {
        self.b.get(at).copied()
    }

    /// Spaces at the start of the line at `pos`.
    fn spaces(&self) -> usize {
        // A word of spaces xor spaces is zero; the lowest bit set is in the first byte
        // that is not a space.
        run_until(
            self.b,
            self.pos,
            |x| x ^ (ONES * u64::from(b' ')),
            |c| c != b' ',
        )
    }

    /// Whether the line at `pos` is `indent` spaces and a sequence entry (`- ` or `-` at
    /// the line's end).
    fn dash_line(&self, indent: usize) -> bool {
        self.spaces() == indent
            && self.peek(self.pos + indent) == Some(b'-')
            && matches!(self.peek(self.pos + indent + 1), Some(b' ' | b'\n'))
    }

    /// Whether the line at `pos` is `indent` spaces and then something that may start a
    /// key (which [`Reader::key`] then checks).
    fn key_line(&self, indent: usize) -> bool {
        self.spaces() == indent
            && !matches!(self.peek(self.pos + indent), None | Some(b'-' | b'\n'))
    }

    /// A block sequence whose dashes are at column `indent`; `pos` is at its first line.
    fn seq(&mut self, indent: usize, depth: usize) -> Option<B::Node> {
        self.node(depth)?;
        let start = self.items.len();
        while self.dash_line(indent) {
            self.pos += indent + 1;
            let item = if self.b[self.pos] == b'\n' {
                // `-` alone: a sequence item, two spaces deeper on the next lines.
                self.pos += 1;
                if !self.dash_line(indent + 2) {
                    return None;
                }
                self.seq(indent + 2, depth + 1)?
            } else {
                self.pos += 1;
                self.inline(Some(indent + 2), depth + 1)?
            };
            self.items.push(item);
        }
        // Allocated once, at its length, and moved in one copy.
        let items = self.items.split_off(start);
        (!items.is_empty()).then(|| B::array(items))
    }

    /// A block mapping whose keys are at column `indent`. With `first`, its first key has
    /// been read on the current line (`pos` at its `:`); without, `pos` is at the start
    /// of its first line.
    fn map(&mut self, indent: usize, depth: usize, first: Option<Cow<'a, str>>) -> Option<B::Node> {
        self.node(depth)?;
        let start = self.entries.len();
        let mut first = first;
        loop {
            let key = match first.take() {
                Some(k) => k,
                None => {
                    if !self.key_line(indent) {
                        break;
                    }
                    self.pos += indent;
                    self.key_text()?
                }
            };
            self.node(depth + 1)?;
            // Past the `:`.
            self.pos += 1;
            let value = self.after_key(indent, depth + 1)?;
            self.entries.push((key, value));
        }
        if self.entries.len() == start {
            return None;
        }
        B::object(&mut self.entries, start)
    }

    /// The first key of a mapping that starts on the line of a `- ` or of the document,
    /// read as `token` from `start` (`pos` at its `:`).
    fn first_key(&self, start: usize, token: Token<'a>) -> Option<Cow<'a, str>> {
        if self.pos - start > MAX_KEY {
            return None;
        }
        match token {
            Token::Quoted(s) => Some(s),
            Token::Plain(from, to, signed) => self.plain_key(from, to, signed).map(Cow::Borrowed),
        }
    }

    /// The text of a plain key, if it is a string (not `signed`, [`Token::Plain`]): the
    /// loader keeps a key's text as written, but compares `0x10` and `16` as the same key.
    fn plain_key(&self, from: usize, to: usize, signed: bool) -> Option<&'a str> {
        let text: &'a str = self.text;
        let s = &text[from..to];
        (!signed && is_plain_string(s)).then_some(s)
    }

    /// What follows `key:` of a mapping whose keys are at column `indent`, with the
    /// position moved to its start ([`Reader::after_key`], [`Reader::after_key_is`]).
    fn after_key_kind(&mut self, indent: usize) -> Option<AfterKey> {
        match self.peek(self.pos)? {
            b'\n' => {
                self.pos += 1;
                if self.dash_line(indent) {
                    Some(AfterKey::Seq)
                } else if self.key_line(indent + 2) {
                    Some(AfterKey::Map)
                } else {
                    None
                }
            }
            b' ' => {
                self.pos += 1;
                if self.b[self.pos..].starts_with(b"|-\n") {
                    self.pos += 3;
                    Some(AfterKey::Literal)
                } else {
                    Some(AfterKey::Inline)
                }
            }
            _ => None,
        }
    }

    /// The value after `key:` of a mapping whose keys are at column `indent`.
    fn after_key(&mut self, indent: usize, depth: usize) -> Option<B::Node> {
        match self.after_key_kind(indent)? {
            AfterKey::Seq => self.seq(indent, depth),
            AfterKey::Map => self.map(indent + 2, depth, None),
            AfterKey::Literal => self.literal(indent + 2, depth).map(B::string),
            AfterKey::Inline => self.inline(None, depth),
        }
    }

    /// What follows `- ` or a key's `: `, or starts the document, up to the end of its
    /// line (or of its mapping): `{}`, `[]`, a scalar or, when `map_at` gives the column
    /// of `pos`, a mapping whose first key is on this line.
    fn inline(&mut self, map_at: Option<usize>, depth: usize) -> Option<B::Node> {
        let rest = &self.b[self.pos..];
        if empty_collection(rest) {
            self.node(depth)?;
            self.pos += 3;
            return if rest[0] == b'{' {
                B::object(&mut Vec::new(), 0)
            } else {
                Some(B::array(Vec::new()))
            };
        }
        let start = self.pos;
        let token = self.token()?;
        match (self.peek(self.pos)?, map_at) {
            (b':', Some(indent)) => {
                let key = self.first_key(start, token)?;
                self.map(indent, depth, Some(key))
            }
            (b'\n', _) => {
                self.node(depth)?;
                self.pos += 1;
                match token {
                    Token::Quoted(s) => Some(B::string(s)),
                    Token::Plain(from, to, signed) => {
                        let text: &'a str = self.text;
                        B::plain(&text[from..to], signed)
                    }
                }
            }
            _ => None,
        }
    }

    // The same reading as `seq`, `map`, `after_key`, `inline` and `literal`, step for
    // step (the same checks, the same node counts), comparing with an expected value
    // instead of building one: `Some(())` when what was read equals it, `None` when it
    // differs or the text leaves the subset.

    /// [`Reader::seq`], compared with `expected`.
    fn seq_is(&mut self, indent: usize, depth: usize, expected: &Value) -> Option<()> {
        self.node(depth)?;
        let items = expected.as_array()?;
        let mut n = 0;
        while self.dash_line(indent) {
            let item = items.get(n)?;
            n += 1;
            self.pos += indent + 1;
            if self.b[self.pos] == b'\n' {
                self.pos += 1;
                if !self.dash_line(indent + 2) {
                    return None;
                }
                self.seq_is(indent + 2, depth + 1, item)?;
            } else {
                self.pos += 1;
                self.inline_is(Some(indent + 2), depth + 1, item)?;
            }
        }
        (n > 0 && n == items.len()).then_some(())
    }

    /// [`Reader::map`], compared with `expected`.
    fn map_is(
        &mut self,
        indent: usize,
        depth: usize,
        first: Option<Cow<'a, str>>,
        expected: &Value,
    ) -> Option<()> {
        self.node(depth)?;
        let m = expected.as_object()?;
        // The keys must come in the order of `expected`'s (as the emitter writes them):
        // then no key is read twice and none is missing when their counts agree.
        let mut entries = m.iter();
        let mut read = 0usize;
        let mut first = first;
        loop {
            let (key, value) = match first.take() {
                Some(k) => (k, entries.next()),
                None => {
                    if !self.key_line(indent) {
                        break;
                    }
                    self.pos += indent;
                    (self.key_text()?, entries.next())
                }
            };
            let (k, value) = value?;
            if *k != *key {
                return None;
            }
            read += 1;
            self.node(depth + 1)?;
            self.pos += 1;
            self.after_key_is(indent, depth + 1, value)?;
        }
        (read > 0 && read == m.len()).then_some(())
    }

    /// [`Reader::key`], borrowed from the text when it is plain.
    fn key_text(&mut self) -> Option<Cow<'a, str>> {
        let start = self.pos;
        let key = match self.token()? {
            Token::Quoted(s) => s,
            Token::Plain(from, to, signed) => Cow::Borrowed(self.plain_key(from, to, signed)?),
        };
        (self.pos - start <= MAX_KEY && self.peek(self.pos) == Some(b':')).then_some(key)
    }

    /// [`Reader::after_key`], compared with `expected`.
    fn after_key_is(&mut self, indent: usize, depth: usize, expected: &Value) -> Option<()> {
        match self.after_key_kind(indent)? {
            AfterKey::Seq => self.seq_is(indent, depth, expected),
            AfterKey::Map => self.map_is(indent + 2, depth, None, expected),
            AfterKey::Literal => {
                let v = self.literal(indent + 2, depth)?;
                (Some(v.as_ref()) == expected.as_str()).then_some(())
            }
            AfterKey::Inline => self.inline_is(None, depth, expected),
        }
    }

    /// [`Reader::inline`], compared with `expected`.
    fn inline_is(&mut self, map_at: Option<usize>, depth: usize, expected: &Value) -> Option<()> {
        let rest = &self.b[self.pos..];
        if empty_collection(rest) {
            self.node(depth)?;
            self.pos += 3;
            let empty = match expected {
                Value::Object(m) => rest[0] == b'{' && m.is_empty(),
                Value::Array(a) => rest[0] == b'[' && a.is_empty(),
                _ => false,
            };
            return empty.then_some(());
        }
        let start = self.pos;
        let token = self.token()?;
        match (self.peek(self.pos)?, map_at) {
            (b':', Some(indent)) => {
                let key = self.first_key(start, token)?;
                self.map_is(indent, depth, Some(key), expected)
            }
            (b'\n', _) => {
                self.node(depth)?;
                self.pos += 1;
                match token {
                    Token::Quoted(s) => (expected.as_str() == Some(&*s)).then_some(()),
                    Token::Plain(from, to, signed) => {
                        let s = &self.text[from..to];
                        if let (Value::String(e), Resolved::Str(t)) = (expected, resolve_plain(s)) {
                            // A plain string (`plain_to_json` without the copy): no
                            // leading `-`, no `+` (as `inline`).
                            return (e == t && !signed).then_some(());
                        }
                        let v = plain_to_json(s);
                        (v == *expected && (v.is_number() || !signed)).then_some(())
                    }
                }
            }
            _ => None,
        }
    }

    /// A scalar token at `pos`; `pos` ends after it.
    #[inline(always)]
    fn token(&mut self) -> Option<Token<'a>> {
        let start = self.pos;
        let first = self.peek(start)?;
        if first == b'"' {
            return self.quoted().map(Token::Quoted);
        }
        let starts_plain = first.is_ascii_alphanumeric()
            || first == b'/'
            || first == b'_'
            || (first == b'-' && self.peek(start + 1).is_some_and(|c| c.is_ascii_digit()));
        if !starts_plain {
            return None;
        }
        // The bytes of a plain token (ASCII letters and digits, `_ . / -` and `+`), eight
        // at a time; the `+`s among them are noted.
        let mut end = start;
        let mut plus = 0;
        loop {
            let Some(x) = word_at(self.b, end) else {
                // The last bytes of the text, one by one.
                let tail = &self.b[end..];
                let n = tail
                    .iter()
                    .take_while(|&&c| c.is_ascii_alphanumeric() || b"_./-+".contains(&c))
                    .count();
                plus |= u64::from(tail[..n].contains(&b'+'));
                end += n;
                break;
            };
            let other = !token_bytes(x) & HIGH;
            if other == 0 {
                plus |= equal(x, b'+');
                end += 8;
                continue;
            }
            // The bits below the high bit of the first other byte: the bytes before it.
            let before = (other & other.wrapping_neg()) - 1;
            plus |= equal(x, b'+') & before;
            end += (other.trailing_zeros() / 8) as usize;
            break;
        }
        let len = end - start;
        self.pos = end;
        let signed = first == b'-' || plus != 0;
        (len <= self.max_scalar).then_some(Token::Plain(start, start + len, signed))
    }

    /// A double-quoted string on one line, `pos` at its opening quote.
    fn quoted(&mut self) -> Option<Cow<'a, str>> {
        self.pos += 1;
        let text: &'a str = self.text;
        let mut s = String::new();
        loop {
            let run = run_until(
                self.b,
                self.pos,
                |x| equal(x, b'"') | equal(x, b'\\') | equal(x, b'\n'),
                |c| matches!(c, b'"' | b'\\' | b'\n'),
            );
            if self.pos + run == self.b.len() {
                return None;
            }
            if s.is_empty() && self.b[self.pos + run] == b'"' {
                // No escape before the closing quote (every escape adds a character):
                // borrowed, not copied, as most quoted scalars are.
                let whole = &text[self.pos..self.pos + run];
                self.pos += run + 1;
                return (whole.len() <= self.max_scalar).then_some(Cow::Borrowed(whole));
            }
            s.push_str(&self.text[self.pos..self.pos + run]);
            self.pos += run;
            match self.b[self.pos] {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    let escape = self.peek(self.pos + 1)?;
                    self.pos += 2;
                    match escape {
                        b'"' => s.push('"'),
                        b'\\' => s.push('\\'),
                        b'n' => s.push('\n'),
                        b't' => s.push('\t'),
                        b'r' => s.push('\r'),
                        b'u' => {
                            let hex = self.b.get(self.pos..self.pos + 4)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            let code =
                                u32::from_str_radix(&self.text[self.pos..self.pos + 4], 16).ok()?;
                            // Surrogates (pairs are not written) give `None`.
                            s.push(char::from_u32(code)?);
                            self.pos += 4;
                        }
                        _ => return None,
                    }
                }
                // A line break: a multi-line quoted scalar folds, not in the subset.
                _ => return None,
            }
        }
        (s.len() <= self.max_scalar).then_some(Cow::Owned(s))
    }

    /// The lines of a `|-` literal block at column `indent`, `pos` at its first line.
    fn literal(&mut self, indent: usize, depth: usize) -> Option<Cow<'a, str>> {
        self.node(depth)?;
        let mut s = String::new();
        let mut lines = 0usize;
        loop {
            let spaces = self.spaces();
            if spaces < indent {
                break;
            }
            if spaces > indent {
                // A line starting with a space keeps it; the emitter quotes such text.
                return None;
            }
            let start = self.pos + indent;
            let len = self.b[start..].iter().position(|&c| c == b'\n')?;
            let line = &self.text[start..start + len];
            if line.is_empty() || line.starts_with('#') || line.ends_with(' ') {
                return None;
            }
            if lines > 0 {
                s.push('\n');
            }
            s.push_str(line);
            lines += 1;
            self.pos = start + len + 1;
        }
        (lines > 0 && s.len() <= self.max_scalar).then_some(Cow::Owned(s))
    }
}

/// Whether `rest` starts with `{}` or `[]` and a line break: told by its first byte for
/// every scalar (none starts with a bracket).
#[inline]
fn empty_collection(rest: &[u8]) -> bool {
    matches!(rest.first(), Some(b'{' | b'['))
        && (rest.starts_with(b"{}\n") || rest.starts_with(b"[]\n"))
}

/// Whether the plain scalar `s` resolves as a string (`resolve_plain(s)` is
/// `Resolved::Str`): told by its first byte and length for most keys and values, a
/// letter that starts no null or bool of the core schema, or a scalar of another length
/// than theirs (four or five bytes; they are the only words `resolve_plain` takes a
/// scalar starting with a letter for); `resolve_plain` decides the others.
pub(super) fn is_plain_string(s: &str) -> bool {
    starts_string(s) || matches!(resolve_plain(s), Resolved::Str(_))
}

/// Whether the plain scalar `s` is told a string by its first byte and length alone
/// (the first test of [`is_plain_string`]); `false` says nothing.
#[inline]
fn starts_string(s: &str) -> bool {
    s.as_bytes().first().is_some_and(|c| {
        c.is_ascii_alphabetic()
            && (!matches!(c, b'n' | b'N' | b't' | b'T' | b'f' | b'F')
                || !(4..=5).contains(&s.len()))
    })
}

/// Whether the keys of `entries` are distinct: compared pairwise when they are few (as in
/// most mappings of a manifest), sorted otherwise.
fn distinct(entries: &[(Cow<'_, str>, Doc<'_>)]) -> bool {
    if entries.len() <= 16 {
        return entries
            .iter()
            .enumerate()
            .all(|(i, (k, _))| entries[..i].iter().all(|(other, _)| other != k));
    }
    let mut keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_ref()).collect();
    keys.sort_unstable();
    keys.windows(2).all(|w| w[0] != w[1])
}

#[cfg(test)]
mod tests {
    use super::read;
    use crate::yaml::{load, Limits};
    use netpolc_source::FileId;
    use serde_json::{json, Value};

    /// The full loader's reading when it is one document.
    fn loader(text: &str) -> Option<Value> {
        match load(FileId(0), text.as_bytes(), &Limits::default()) {
            Ok(docs) if docs.len() == 1 => Some(docs[0].to_json()),
            _ => None,
        }
    }

    /// The meter's charge of a text: the least budget [`super::characters_ok`] accepts.
    fn charge(text: &str) -> usize {
        (0..10_000)
            .find(|&b| super::characters_ok(text, b))
            .expect("charged less than 10,000")
    }

    #[test]
    fn the_meter_charges_runs_brackets_and_comments_as_the_loader_does() {
        // Each character that is not blank: 16.
        assert_eq!(charge("ab cd\n"), 4 * 16);
        assert_eq!(charge("    key: value\n"), 9 * 16);
        // Inside brackets: 16 plus the brackets open.
        assert_eq!(charge("[a]\n"), 17 + 17 + 16);
        assert_eq!(charge("{a: [b]}\n"), 17 + 17 + 17 + 18 + 18 + 17 + 16);
        // A comment starts after a blank only, and is free to its line's end.
        assert_eq!(charge("a #x y\nb\n"), 16 + 16);
        assert_eq!(charge("a#b\n"), 3 * 16);
        // What no stream holds fails whatever the budget.
        assert!(!super::characters_ok("a\tb\n", usize::MAX));
        assert!(super::characters_ok("é ü\n", usize::MAX));
    }

    /// The charge by blocks of bytes is the charge a character at a time, wherever the
    /// brackets, comments, line breaks and other characters fall in or across blocks.
    #[test]
    fn the_meter_by_blocks_charges_as_by_characters() {
        let pieces = [
            "a",
            "key: value",
            " ",
            "  ",
            "\n",
            "#",
            " #",
            "# c\n",
            "[",
            "]",
            "{",
            "}",
            "{}",
            "[]",
            "x[0]",
            "é",
            "\"",
            "-",
            "0123456789abcdef",
        ];
        // Characters no stream holds, in one text of ten.
        let refused = ["\t", "\u{1}", "\u{2028}"];
        // A small deterministic generator: every text is many pieces long, so that blocks
        // are taken at every offset.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let len = usize::try_from(next() % 120).unwrap();
            let mut text = String::new();
            for _ in 0..len {
                // Mostly plain text, as emitted objects are.
                let k = usize::try_from(next() % 64).unwrap();
                text.push_str(pieces.get(k).copied().unwrap_or("name-0123.x/y "));
            }
            if next() % 10 == 0 {
                let at = text
                    .char_indices()
                    .map(|(i, _)| i)
                    .nth(text.chars().count() / 2);
                let r = refused[usize::try_from(next() % 3).unwrap()];
                text.insert_str(at.unwrap_or(0), r);
            }
            let charge = super::metered(&text, false);
            assert_eq!(super::metered(&text, true), charge, "{text:?}");
            // The characters are checked alike without the meter, and the bound
            // `characters_ok` trusts holds.
            assert_eq!(super::allowed(&text), charge.is_some(), "{text:?}");
            if let Some(charge) = charge {
                assert!(
                    charge <= text.len() * (16 + super::opens(text.as_bytes())),
                    "{text:?}"
                );
            }
        }
        let emitted = "apiVersion: v1\nkind: X\nmetadata:\n  annotations:\n    a: |-\n      x[0]: \"a: b\" # c {[\n      y\nspec:\n  podSelector: {}\n".repeat(20);
        assert_eq!(
            super::metered(&emitted, true),
            super::metered(&emitted, false)
        );
    }

    #[track_caller]
    fn reads(text: &str, expected: Value) {
        assert_eq!(read(text), Some(expected.clone()), "quick: {text:?}");
        let doc = super::read_doc(text).map(|d| d.to_value());
        assert_eq!(doc, Some(expected.clone()), "doc: {text:?}");
        assert!(super::matches(text, &expected), "matches: {text:?}");
        assert_eq!(loader(text), Some(expected), "loader: {text:?}");
    }

    #[track_caller]
    fn rejects(text: &str) {
        assert_eq!(read(text), None, "{text:?}");
        assert_eq!(super::read_doc(text), None, "doc: {text:?}");
        // Outside the subset, nothing matches: not what the loader reads, not null.
        if let Some(v) = loader(text) {
            assert!(!super::matches(text, &v), "matches: {text:?}");
        }
        assert!(!super::matches(text, &Value::Null), "matches: {text:?}");
    }

    #[test]
    fn matches_compares_without_building() {
        let text = "a: 1\nb:\n- x\n- \"y\"\n- {}\nc:\n  d: true\n  e: |-\n    one\n    two\n";
        let v = json!({"a": 1, "b": ["x", "y", {}], "c": {"d": true, "e": "one\ntwo"}});
        reads(text, v.clone());
        // Any difference, in keys, values, types, order of items or count, is seen.
        for other in [
            json!({"a": 1, "b": ["x", "y", {}], "c": {"d": true}}),
            json!({"a": 1, "b": ["x", "y", {}], "c": {"d": true, "e": "one\ntwo"}, "f": 1}),
            json!({"a": "1", "b": ["x", "y", {}], "c": {"d": true, "e": "one\ntwo"}}),
            json!({"a": 1, "b": ["y", "x", {}], "c": {"d": true, "e": "one\ntwo"}}),
            json!({"a": 1, "b": ["x", "y", []], "c": {"d": true, "e": "one\ntwo"}}),
            json!({"a": 1, "b": ["x", "y"], "c": {"d": true, "e": "one\ntwo"}}),
            json!({"a": 1, "b": ["x", "y", {}], "c": {"d": "true", "e": "one\ntwo"}}),
            json!({"a": 1, "b": ["x", "y", {}], "c": {"d": true, "e": "one two"}}),
            json!([1]),
        ] {
            assert!(!super::matches(text, &other), "{other}");
        }
        // Keys in another order than the value's are not matched (the caller reads the
        // text instead), though `read` gives an equal map.
        let reordered = json!({"c": {"e": "one\ntwo", "d": true}, "b": ["x", "y", {}], "a": 1});
        assert_eq!(read(text), Some(reordered.clone()));
        assert!(!super::matches(text, &reordered));
        // A duplicate key is outside the subset, even where the value would compare.
        assert!(!super::matches("a: 1\na: 1\n", &json!({"a": 1})));
        // A plain `-x` or `1+` is not a string of the subset.
        assert!(!super::matches("a: -x\n", &json!({"a": "-x"})));
        assert!(super::matches("a: -5\n", &json!({"a": -5})));
    }

    #[test]
    fn the_emitters_layout() {
        let text = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: x
  labels:
    app.kubernetes.io/managed-by: netpolc
  annotations:
    netpolc.dev/rules: |-
      x[0]: s/i
      x[1]: \"a: b\" # c
spec:
  podSelector: {}
  egress:
  - to:
    - podSelector:
        matchLabels:
          app: db
    ports:
    - port: 5432
      protocol: TCP
    - port: \"8080\"
  empty: []
  nested:
  -
    - -1
    - {}
  - k: |-
      one
      two
    \"a b\": \"\\\"\\\\\\n\\t\\r\\u0000\\u2028é\"
";
        reads(
            text,
            json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {
                    "name": "x",
                    "labels": {"app.kubernetes.io/managed-by": "netpolc"},
                    "annotations": {"netpolc.dev/rules": "x[0]: s/i\nx[1]: \"a: b\" # c"}
                },
                "spec": {
                    "podSelector": {},
                    "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432, "protocol": "TCP"}, {"port": "8080"}]}],
                    "empty": [],
                    "nested": [[-1, {}], {"k": "one\ntwo", "a b": "\"\\\n\t\r\u{0}\u{2028}é"}]
                }
            }),
        );
    }

    /// Each byte value, in each place of a word among token bytes, is told apart as the
    /// plain token's bytes are; `equal` finds every byte of a value; brackets are counted
    /// in words and in the bytes after them.
    #[test]
    fn every_byte_of_a_word_is_told_apart() {
        let opens = |b: &[u8]| b.iter().filter(|&&c| c == b'[' || c == b'{').count();
        for place in 0..8 {
            for b in 0..=u8::MAX {
                let mut bytes = *b"a+9_./-Z";
                bytes[place] = b;
                let x = u64::from_le_bytes(bytes);
                let token = b.is_ascii_alphanumeric() || b"_./-+".contains(&b);
                let mut expected = super::HIGH;
                if !token {
                    expected &= !(0x80 << (8 * place));
                }
                assert_eq!(super::token_bytes(x), expected, "{b:#x} at {place}");
                let mut equal = 0;
                for (i, &c) in bytes.iter().enumerate() {
                    if c == b {
                        equal |= 0x80 << (8 * i);
                    }
                }
                assert_eq!(super::equal(x, b), equal, "{b:#x} at {place}");
                let long = [&bytes[..], &bytes[..place]].concat();
                assert_eq!(super::opens(&long), opens(&long), "{b:#x} at {place}");
            }
        }
    }

    /// The first-byte shortcut decides as `resolve_plain` does.
    #[test]
    fn plain_strings_are_told_as_resolve_plain_tells_them() {
        use crate::yaml::resolve::{resolve_plain, Resolved};
        let words = [
            "", "~", "null", "Null", "NULL", "nul", "nulls", "true", "True", "TRUE", "truE",
            "false", "False", "FALSE", "no", "yes", "on", "off", "n", "t", "f", "name", "ns-0000",
            "tcp", "foo", ".nan", ".inf", "-.inf", "1", "-5", "0x1F", "1e+42", "x", "a/b", "_x",
            "/p", "9a", "Z", "inf", "nan", "NaN",
        ];
        for w in words {
            let expected = matches!(resolve_plain(w), Resolved::Str(_));
            assert_eq!(super::is_plain_string(w), expected, "{w:?}");
        }
    }

    #[test]
    fn scalars_resolve_as_the_loader_does() {
        reads("a: true\nb: null\nc: -5\nd: 1.5\nl: 6.59718697111343e+42\ne: 1e300\nf: 18446744073709551615\ng: 0x1F\nh: yes\ni: 10.0.0.0/8\nj: 99999999999999999999999\nk: \"\"\n\"\": 1\n", json!({
            "a": true, "b": null, "c": -5, "d": 1.5, "l": 6.59718697111343e42, "e": 1e300, "f": 18446744073709551615u64, "g": 31, "h": "yes", "i": "10.0.0.0/8", "j": 1e23, "k": "", "": 1
        }));
        for (text, v) in [
            ("null\n", Value::Null),
            ("42\n", json!(42)),
            ("x\n", json!("x")),
            ("\"a: b\"\n", json!("a: b")),
            ("{}\n", json!({})),
            ("[]\n", json!([])),
            ("- 1\n- x\n", json!([1, "x"])),
            ("-\n  - a\n", json!([["a"]])),
        ] {
            reads(text, v);
        }
    }

    #[test]
    fn rejected_constructs() {
        for text in [
            // Comments, document markers, directives.
            "a: 1 # c\n",
            "# c\na: 1\n",
            "a: 1\n# c\n",
            "---\na: 1\n",
            "a: 1\n...\n",
            "a: 1\n---\nb: 2\n",
            "%YAML 1.2\n---\na: 1\n",
            // Anchors, aliases, tags.
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: !x 1\n",
            // Flow collections with content, other scalar styles.
            "a: [1]\n",
            "a: {b: 1}\n",
            "[1, 2]\n",
            "a: 'x'\n",
            "a: >-\n  x\n  y\n",
            "a: |\n  x\n  y\n",
            "a: |+\n  x\n  y\n",
            "a: |2-\n  x\n  y\n",
            "? a\n: 1\n",
            // Multi-line scalars, empty values.
            "a: b\n  c\n",
            "a: \"b\n  c\"\n",
            "a:\n",
            "a:\nb: 1\n",
            "a: \n",
            "- \n",
            "-\n",
            "",
            "\n",
            // Tabs, carriage returns, byte order marks, trailing spaces, empty lines.
            "a:\t1\n",
            "a: \"\t\"\n",
            "a: 1\r\n",
            "a: 1\rb: 2\n",
            "\u{feff}a: 1\n",
            "a: \"\u{feff}\"\n",
            "a: 1 \n",
            "a:\n  b: 1 \n",
            "a: 1\n\nb: 2\n",
            "a: 1\n  \nb: 2\n",
            "a: 1",
            // Other indentations.
            "a:\n   b: 1\n",
            "a:\n b: 1\n",
            "a:\n  - 1\n",
            " a: 1\n",
            "a:\n  b: 1\n c: 2\n",
            "- a: 1\n b: 2\n",
            "- a: 1\n   b: 2\n",
            "- - a\n",
            "-\n - a\n",
            "a: 1\n- b\n",
            // Duplicate keys, keys the loader reads differently.
            "a: 1\na: 2\n",
            "\"a\": 1\na: 2\n",
            "- a: 1\n  a: 2\n",
            "1: x\n",
            "true: x\n",
            "null: x\n",
            "0x10: x\n",
            "1.5: x\n",
            "-a: x\n",
            "-1: x\n",
            "a:b: x\n",
            "\"a\":b\n",
            "a: b: c\n",
            // Plain scalars outside the character set.
            "a: b:c\n",
            "a: *b\n",
            "a: b c\n",
            "a: -b\n",
            "a: -\n",
            "a: .5\n",
            "a: .inf\n",
            "a: ~\n",
            "a: ?x\n",
            "a: b#c\n",
            "a: @b\n",
            "a: `b\n",
            "a: b,c\n",
            "a: é\n",
            "a: +1\n",
            "a: a+b\n",
            "a+b: 1\n",
            "-1-\n",
            // Escapes the emitter does not write, raw characters it escapes.
            "a: \"\\x41\"\n",
            "a: \"\\/\"\n",
            "a: \"\\0\"\n",
            "a: \"\\U00000041\"\n",
            "a: \"\\ud800\"\n",
            "a: \"\\u12\"\n",
            "a: \"\\u12g4\"\n",
            "a: \"\\\n",
            "a: \"x\n",
            "a: \"x\" \n",
            "a: \"x\"y\n",
            "a: \"\u{1}\"\n",
            "a: \"\u{7f}\"\n",
            "a: \"\u{85}\"\n",
            "a: \"\u{2028}\"\n",
            "a: \"\u{fffe}\"\n",
            // Literal blocks other than the emitter's.
            "a: |-\n",
            "a: |-\nb: 1\n",
            "a: |-\n  x\n\n  y\n",
            "a: |-\n  x\n   y\n",
            "a: |-\n   x\n",
            "a: |-\n  #x\n",
            "a: |-\n  x \n",
            "a: |-\n  x\n y\n",
            "a: |- \n  x\n",
            "- |-\n  x\n",
        ] {
            rejects(text);
        }
        // Keys the parser may not take as implicit keys.
        rejects(&format!("{}: 1\n", "k".repeat(1001)));
        rejects(&format!("\"{}\": 1\n", "k".repeat(999)));
        reads(
            &format!("{}: 1\n", "k".repeat(1000)),
            json!({"k".repeat(1000): 1}),
        );
    }

    #[test]
    fn the_loaders_limits() {
        // Depth: 64 levels are read, 65 are not (by either).
        let nested = |levels: usize| {
            let mut text = String::new();
            for i in 0..levels - 1 {
                text.push_str(&" ".repeat(2 * i));
                text.push_str("a:\n");
            }
            text.push_str(&" ".repeat(2 * (levels - 1)));
            text.push_str("a: 1\n");
            text
        };
        let mut deep = json!(1);
        for _ in 0..63 {
            deep = json!({ "a": deep });
        }
        // 63 maps and the scalar 1: 64 levels.
        reads(&nested(63), deep);
        assert_eq!(loader(&nested(64)), None);
        rejects(&nested(64));
        // Scalar length: 64 KiB are read, one byte more is not.
        let max = Limits::default().max_scalar_len;
        reads(
            &format!("a: \"{}\"\n", "é".repeat(max / 2)),
            json!({"a": "é".repeat(max / 2)}),
        );
        let long = format!("a: \"{}\"\n", "x".repeat(max + 1));
        assert_eq!(loader(&long), None);
        rejects(&long);
        let long = format!(
            "a: |-\n  {}\n  {}\n",
            "x".repeat(max / 2),
            "x".repeat(max / 2)
        );
        assert_eq!(loader(&long), None);
        rejects(&long);
        // The look-ahead meter: brackets in strings make the loader's parser count more.
        let brackets = format!("a: \"{}\"\n", "[".repeat(5000));
        assert_eq!(loader(&brackets), None);
        rejects(&brackets);
        reads("a: \"[[[{\"\n", json!({"a": "[[[{"}));
    }
}
