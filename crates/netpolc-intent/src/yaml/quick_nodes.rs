//! A fast reader for the common subset of hand-written and generated intent files,
//! straight into the marked tree: loading thousands of intent files through the full
//! loader ([`super::load_all_parsed`], an event parser with a look-ahead meter, an arena and a
//! second pass that builds the tree) costs several times more than reading this subset
//! directly.
//!
//! # The subset
//!
//! One document, and within it nothing but:
//!
//! - blank lines (spaces only) and full-line comments anywhere, at any indentation;
//!   a comment after a value (` # ...`, at least one space before the `#`);
//! - optionally a `---` line (with trailing spaces or a comment) before the document's
//!   top node, after blank and comment lines only;
//! - a top node at column 0 that is a block mapping, a block sequence or a one-line flow
//!   collection;
//! - block mappings: `key: value` or `key:` with nothing (or a comment) after the colon,
//!   every key of the mapping at the same column; a key's value is a scalar or flow
//!   collection on the key's line, or on the following lines a block mapping indented
//!   deeper, a block sequence indented deeper or at the key's own column (`key:\n- a`),
//!   or nothing at all (an empty node);
//! - block sequences: `- item` lines at one column, the item a scalar, a one-line flow
//!   collection, or a block mapping whose first key is on the dash line (`- key: v`) and
//!   whose other keys are aligned under it;
//! - flow sequences `[a, b]` and flow mappings `{k: v}` on one line, nested (up to 128
//!   levels), a space after every `:`, spaces between tokens, no trailing comma, no
//!   empty values, no implicit pairs (`[a: b]`);
//! - keys: plain, from `[A-Za-z0-9_./-]`, starting with a letter, a digit, `_` or `/`,
//!   at most 1000 bytes, and only keys that the YAML 1.2 core schema resolves to strings
//!   (not `1`, `true`, `null`, `0x10`), all different within their mapping;
//! - plain scalars: words from `[A-Za-z0-9_./+-]` and `:` before one of those or another
//!   `:` (`icmp:8`, `fd00::1`, `image:v1.2`), separated by spaces on one line, every word
//!   starting with a letter, a digit, `_`, `.` or `/`, or with `-` before a letter or
//!   digit;
//! - single-quoted scalars on one line (`''` is a quote); double-quoted scalars on one
//!   line with the escapes `\\`, `\"`, `\n` and `\t` only; any character YAML allows in a
//!   stream inside quotes and comments, but no tab, carriage return, byte order mark,
//!   next line (U+0085) or Unicode line or paragraph separator anywhere.
//!
//! Anything else gives `None`, and the caller uses the full loader: several documents,
//! `...`, directives, anchors, aliases, tags, block scalars (`|`, `>`), multi-line
//! scalars or flow collections, `?` keys, quoted or complex keys, empty sequence items,
//! nested sequences in block style (`- - a`), other plain characters (`#`, `~`, `*`, `,`
//! and the like, non-ASCII), other escapes, duplicate keys, a text whose top node
//! is indented or a scalar.
//!
//! # Spans
//!
//! The loader's spans are reproduced byte for byte (its parser's token spans):
//!
//! - a plain scalar covers its text, trailing spaces and comment excluded;
//! - a quoted scalar covers its quotes and, after the closing quote, the spaces up to the
//!   next token on its line and a comment that follows them (not the line break);
//! - a flow collection covers its brackets and, the same way, the spaces and the comment
//!   after its closing bracket;
//! - a block mapping starts at its first key, a block sequence at its first dash, except
//!   a sequence at its key's column (`key:\n- a`), which starts at its first item; both end
//!   where their last entry ends;
//! - an empty value (`key:`) is the empty span at its key's colon.
//!
//! # The contract
//!
//! When [`read`] returns `Some(nodes)`, the event parser
//! ([`load_all_parsed`](super::load_all_parsed), which [`load_all`](super::load_all) falls
//! back to) with the same file id, text and limits returns `Ok` with the same nodes: the
//! same values, styles, spans and documents. The loader's limits are checked the way it
//! counts (file size, documents, nesting depth and its cap, node count with keys and empty
//! values, scalar length, the parser's look-ahead meter) so that no text it rejects is
//! read here. `None` promises nothing. The tests of this crate (`tests/quick_nodes.rs`) hold the reader to this
//! against the loader on the repository's files and on random edits of them.

use super::load::{Limits, DEPTH_CAP, MAX_KEY};
use super::node::{Node, ScalarStyle, Value};
use super::quick::characters_ok;
use super::quick::is_plain_string;
use netpolc_source::{FileId, Span};

/// Deepest flow nesting accepted (the parser counts flow levels in a byte).
const MAX_FLOW: usize = 128;

/// Mappings with more keys than this are checked for duplicates by sorting.
const LINEAR_KEYS: usize = 16;

/// Byte classes, one bit each, of [`CLASS`].
const PLAIN: u8 = 1;
/// A byte that may start a word of a plain scalar (`-` is decided by the next byte).
const WORD_START: u8 = 2;
/// A byte of a key.
const KEY: u8 = 4;
/// A byte that may start a key.
const KEY_START: u8 = 8;

/// The classes of every byte.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let alnum = c.is_ascii_alphanumeric();
        let mut class = 0;
        if alnum || matches!(c, b'_' | b'.' | b'/' | b'-' | b'+') {
            class |= PLAIN;
        }
        if alnum || matches!(c, b'_' | b'.' | b'/') {
            class |= WORD_START;
        }
        if alnum || matches!(c, b'_' | b'.' | b'/' | b'-') {
            class |= KEY;
        }
        if alnum || matches!(c, b'_' | b'/') {
            class |= KEY_START;
        }
        t[i] = class;
        i += 1;
    }
    t
};

fn is(byte: Option<u8>, class: u8) -> bool {
    byte.is_some_and(|b| CLASS[usize::from(b)] & class != 0)
}

/// The documents of `text`, as the parser ([`load_all_parsed`](super::load_all_parsed))
/// reads them, when the text is one document of the subset (or none); `None` when it
/// steps outside the subset or any of `limits` could be reached. See the [module
/// documentation](self) for the subset and the contract.
///
/// ```
/// use netpolc_intent::yaml::{load_all_parsed, quick_nodes, Limits};
/// use netpolc_source::FileId;
///
/// let text = "# Intents.\nspec:\n  intents:\n    - {name: a, from: web, to: api, ports: [8080/tcp]}\n";
/// let limits = Limits::default();
/// let fast = quick_nodes::read(FileId(0), text, &limits).unwrap();
/// assert_eq!(fast, load_all_parsed(FileId(0), text.as_bytes(), &limits).unwrap());
/// // An anchor is outside the subset.
/// assert_eq!(quick_nodes::read(FileId(0), "a: &x 1\n", &limits), None);
/// ```
pub fn read(file: FileId, text: &str, limits: &Limits) -> Option<Vec<Node>> {
    if text.len() > limits.max_file_size.min(u32::MAX as usize)
        || limits.max_documents == 0
        || !characters_ok(text, limits.max_lookahead.saturating_mul(16))
    {
        return None;
    }
    Reader {
        file,
        text,
        b: text.as_bytes(),
        pos: 0,
        nodes: 0,
        max_nodes: limits.max_nodes,
        max_depth: limits.max_depth.min(DEPTH_CAP),
        max_scalar: limits.max_scalar_len,
    }
    .document()
}

struct Reader<'a> {
    file: FileId,
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    /// Nodes read so far, keys and empty values included (the loader's count).
    nodes: usize,
    max_nodes: usize,
    max_depth: usize,
    max_scalar: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.b.get(i).copied()
    }

    fn span(&self, start: usize, end: usize) -> Span {
        // The text is at most `u32::MAX` bytes long ([`read`]).
        Span::new(self.file, start as u32, end as u32)
    }

    /// Counts one node at `depth` (the top node is at depth 1), within the limits.
    fn node(&mut self, depth: usize) -> Option<()> {
        self.nodes += 1;
        (depth <= self.max_depth && self.nodes <= self.max_nodes).then_some(())
    }

    /// Moves past spaces.
    fn spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// Moves to the line break (or the end) of the current line.
    fn skip_to_line_end(&mut self) {
        self.pos = match self
            .b
            .get(self.pos..)
            .and_then(|r| r.iter().position(|&c| c == b'\n'))
        {
            Some(n) => self.pos + n,
            None => self.b.len(),
        };
    }

    /// Moves past blank and comment lines, `pos` at the start of a line: it ends at the
    /// start of a line with content, or at the end of the text.
    fn skip_void_lines(&mut self) {
        loop {
            let start = self.pos;
            self.spaces();
            match self.peek() {
                None => return,
                Some(b'\n') => self.pos += 1,
                Some(b'#') => {
                    self.skip_to_line_end();
                    if self.peek().is_some() {
                        self.pos += 1;
                    }
                }
                Some(_) => {
                    self.pos = start;
                    return;
                }
            }
        }
    }

    /// The end of a line after a value: spaces, a comment after a space, the line break
    /// (or the end of the text), which it moves past.
    fn end_of_line(&mut self) -> Option<()> {
        self.spaces();
        if self.peek() == Some(b'#') && self.pos > 0 && self.at(self.pos - 1) == Some(b' ') {
            self.skip_to_line_end();
        }
        match self.peek() {
            None => Some(()),
            Some(b'\n') => {
                self.pos += 1;
                Some(())
            }
            Some(_) => None,
        }
    }

    /// After a quoted scalar or a flow collection's closing bracket: the spaces up to the
    /// next token and a comment that follows them, which the parser's token covers.
    /// Returns where the token ends.
    fn trail(&mut self) -> usize {
        let start = self.pos;
        self.spaces();
        if self.pos > start && self.peek() == Some(b'#') {
            self.skip_to_line_end();
        }
        self.pos
    }

    /// Spaces at the start of the line at `pos`.
    fn indent(&self) -> usize {
        self.b
            .get(self.pos..)
            .map_or(0, |r| r.iter().take_while(|&&c| c == b' ').count())
    }

    /// Whether `i` is a sequence entry's dash: `-` before a space, a line break or the
    /// end.
    fn dash_at(&self, i: usize) -> bool {
        self.at(i) == Some(b'-') && matches!(self.at(i + 1), None | Some(b' ' | b'\n'))
    }

    /// Whether a word of a plain scalar starts at `i`.
    fn word_start(&self, i: usize) -> bool {
        match self.at(i) {
            Some(b'-') => self.at(i + 1).is_some_and(|c| c.is_ascii_alphanumeric()),
            c => is(c, WORD_START),
        }
    }

    /// The document: blank and comment lines, maybe `---`, the top node, blank and
    /// comment lines to the end.
    fn document(&mut self) -> Option<Vec<Node>> {
        self.skip_void_lines();
        if self.b.get(self.pos..)?.starts_with(b"---")
            && matches!(self.at(self.pos + 3), None | Some(b' ' | b'\n'))
        {
            self.pos += 3;
            self.end_of_line()?;
            self.skip_void_lines();
        }
        if self.peek().is_none() {
            // An empty document, which the loader skips.
            return Some(Vec::new());
        }
        let root = match self.peek()? {
            b' ' => return None,
            b'[' | b'{' => {
                let node = self.flow(1, 0)?;
                self.end_of_line()?;
                self.skip_void_lines();
                node
            }
            _ if self.dash_at(self.pos) => self.block_seq(0, 1, false)?,
            _ => self.block_map(0, 1)?,
        };
        (self.pos == self.b.len()).then(|| vec![root])
    }

    /// A block mapping whose keys are at column `indent`, its node at `depth`; `pos` is
    /// at its first key. Ends at the start of a line indented less, or at the end.
    fn block_map(&mut self, indent: usize, depth: usize) -> Option<Node> {
        self.node(depth)?;
        let start = self.pos;
        let mut entries: Vec<(Node, Node)> = Vec::new();
        loop {
            let key = self.key(depth + 1)?;
            let colon = self.pos;
            self.pos += 1;
            let value = self.map_value(indent, depth + 1, colon)?;
            entries.push((key, value));
            if self.peek().is_none() {
                break;
            }
            let next = self.indent();
            if next < indent {
                break;
            }
            if next > indent || self.dash_at(self.pos + next) {
                return None;
            }
            self.pos += indent;
        }
        unique_keys(&entries)?;
        let end = entries.last().map_or(start, |(_, v)| v.span.end as usize);
        Some(Node::new(self.span(start, end), Value::Map(entries)))
    }

    /// A plain key at `pos`, up to the `:` that must follow it (`pos` ends there).
    fn key(&mut self, depth: usize) -> Option<Node> {
        let start = self.pos;
        if !is(self.peek(), KEY_START) {
            return None;
        }
        // The key's bytes, in one pass over the rest of the text.
        let rest = self.b.get(start..)?;
        let len = rest
            .iter()
            .position(|&c| CLASS[usize::from(c)] & KEY == 0)
            .unwrap_or(rest.len());
        self.pos += len;
        let end = self.pos;
        if end - start > MAX_KEY.min(self.max_scalar) || self.peek() != Some(b':') {
            return None;
        }
        let text = self.text.get(start..end)?;
        // The loader compares keys that are not strings by value (`0x10` and `16`).
        if !is_plain_string(text) {
            return None;
        }
        self.node(depth)?;
        Some(Node::new(self.span(start, end), plain(text)))
    }

    /// The value after `key:` of a block mapping whose keys are at column `indent`, the
    /// value at `depth`; `pos` is after the colon at `colon`. Ends at the start of the
    /// next line with content, or at the end.
    fn map_value(&mut self, indent: usize, depth: usize, colon: usize) -> Option<Node> {
        match self.peek() {
            None | Some(b'\n') => {}
            Some(b' ') => {
                self.spaces();
                if !matches!(self.peek(), None | Some(b'\n' | b'#')) {
                    let value = self.inline(depth)?;
                    self.end_of_line()?;
                    self.skip_void_lines();
                    return Some(value);
                }
            }
            Some(_) => return None,
        }
        // Nothing on the key's line: a block collection on the next lines, or an empty
        // node.
        self.end_of_line()?;
        self.skip_void_lines();
        if self.peek().is_some() {
            let next = self.indent();
            if next > indent {
                self.pos += next;
                return if self.dash_at(self.pos) {
                    self.pos -= next;
                    self.block_seq(next, depth, false)
                } else {
                    self.block_map(next, depth)
                };
            }
            if next == indent && self.dash_at(self.pos + next) {
                return self.block_seq(indent, depth, true);
            }
        }
        self.node(depth)?;
        Some(Node::new(self.span(colon, colon), Value::Null))
    }

    /// A block sequence whose dashes are at column `indent`, its node at `depth`; `pos`
    /// is at the start of its first line. `at_key` says that the sequence is at the
    /// column of the key it is the value of (it then starts at its first item, and ends
    /// before a line at that column that is not an entry). Ends at the start of a line
    /// indented less, or at the end.
    fn block_seq(&mut self, indent: usize, depth: usize, at_key: bool) -> Option<Node> {
        self.node(depth)?;
        let mut start = self.pos + indent;
        let mut items = Vec::new();
        loop {
            self.pos += indent + 1;
            let after_dash = self.pos;
            self.spaces();
            if self.pos == after_dash
                || matches!(self.peek(), None | Some(b'\n' | b'#'))
                || self.dash_at(self.pos)
            {
                // An empty item, or a sequence in a sequence.
                return None;
            }
            if at_key && items.is_empty() {
                start = self.pos;
            }
            let column = self.pos - (after_dash - indent - 1);
            items.push(self.item(column, depth + 1)?);
            if self.peek().is_none() {
                break;
            }
            let next = self.indent();
            if next < indent {
                break;
            }
            if next == indent {
                if self.dash_at(self.pos + next) {
                    continue;
                }
                if at_key {
                    break;
                }
            }
            return None;
        }
        let end = items.last().map_or(start, |n: &Node| n.span.end as usize);
        Some(Node::new(self.span(start, end), Value::Seq(items)))
    }

    /// The item after `- `, at column `column` and `depth`: a scalar or a flow collection,
    /// or a block mapping whose first key is here. Ends at the start of the next line with
    /// content, or at the end.
    fn item(&mut self, column: usize, depth: usize) -> Option<Node> {
        if matches!(self.peek(), Some(b'[' | b'{' | b'\'' | b'"')) {
            let node = self.inline(depth)?;
            self.end_of_line()?;
            self.skip_void_lines();
            return Some(node);
        }
        let start = self.pos;
        let end = self.plain_words()?;
        if self.peek() == Some(b':') && matches!(self.at(self.pos + 1), None | Some(b' ' | b'\n')) {
            self.pos = start;
            return self.block_map(column, depth);
        }
        let node = self.plain_scalar(start, end, depth)?;
        self.end_of_line()?;
        self.skip_void_lines();
        Some(node)
    }

    /// A scalar or a flow collection on the current line, at `depth`.
    fn inline(&mut self, depth: usize) -> Option<Node> {
        match self.peek()? {
            b'[' | b'{' => self.flow(depth, 0),
            b'\'' | b'"' => self.quoted(depth),
            _ => {
                let start = self.pos;
                let end = self.plain_words()?;
                self.plain_scalar(start, end, depth)
            }
        }
    }

    /// The words of a plain scalar at `pos`: `pos` ends after the last, and so does the
    /// scalar.
    fn plain_words(&mut self) -> Option<usize> {
        if !self.word_start(self.pos) {
            return None;
        }
        loop {
            // A `:` is text when what follows it is (otherwise it ends the scalar).
            while is(self.peek(), PLAIN)
                || (self.peek() == Some(b':')
                    && (is(self.at(self.pos + 1), PLAIN) || self.at(self.pos + 1) == Some(b':')))
            {
                self.pos += 1;
            }
            let end = self.pos;
            self.spaces();
            if self.pos == end || !self.word_start(self.pos) {
                self.pos = end;
                return Some(end);
            }
        }
    }

    fn plain_scalar(&mut self, start: usize, end: usize, depth: usize) -> Option<Node> {
        let text = self.text.get(start..end)?;
        if text.len() > self.max_scalar {
            return None;
        }
        self.node(depth)?;
        Some(Node::new(self.span(start, end), plain(text)))
    }

    /// A single- or double-quoted scalar on one line at `pos`, at `depth`.
    fn quoted(&mut self, depth: usize) -> Option<Node> {
        let start = self.pos;
        let quote = self.peek()?;
        self.pos += 1;
        let mut text = String::new();
        loop {
            let rest = self.b.get(self.pos..)?;
            let run = rest
                .iter()
                .position(|&c| c == quote || c == b'\n' || (quote == b'"' && c == b'\\'))?;
            text.push_str(self.text.get(self.pos..self.pos + run)?);
            self.pos += run;
            match (self.peek()?, self.at(self.pos + 1)) {
                (b'\n', _) => return None,
                (b'\'', Some(b'\'')) if quote == b'\'' => {
                    text.push('\'');
                    self.pos += 2;
                }
                (b'\\', escape) => {
                    text.push(match escape? {
                        b'\\' => '\\',
                        b'"' => '"',
                        b'n' => '\n',
                        b't' => '\t',
                        _ => return None,
                    });
                    self.pos += 2;
                }
                _ => {
                    self.pos += 1;
                    break;
                }
            }
        }
        if text.len() > self.max_scalar {
            return None;
        }
        self.node(depth)?;
        let end = self.trail();
        Some(Node::new(
            self.span(start, end),
            Value::Scalar {
                text,
                style: ScalarStyle::Quoted,
            },
        ))
    }

    /// A flow collection on one line at `pos`, at `depth`, inside `level` others.
    fn flow(&mut self, depth: usize, level: usize) -> Option<Node> {
        if level >= MAX_FLOW {
            return None;
        }
        self.node(depth)?;
        let start = self.pos;
        let open = self.peek()?;
        self.pos += 1;
        self.spaces();
        let value = if open == b'[' {
            let mut items = Vec::new();
            if self.peek() != Some(b']') {
                loop {
                    items.push(self.flow_item(depth + 1, level + 1)?);
                    if !self.flow_next(b']')? {
                        break;
                    }
                }
            }
            Value::Seq(items)
        } else {
            let mut entries = Vec::new();
            if self.peek() != Some(b'}') {
                loop {
                    let key = self.key(depth + 1)?;
                    if self.at(self.pos + 1) != Some(b' ') {
                        return None;
                    }
                    self.pos += 2;
                    self.spaces();
                    let value = self.flow_item(depth + 1, level + 1)?;
                    entries.push((key, value));
                    if !self.flow_next(b'}')? {
                        break;
                    }
                }
            }
            unique_keys(&entries)?;
            Value::Map(entries)
        };
        // At the closing bracket.
        self.pos += 1;
        let end = self.trail();
        Some(Node::new(self.span(start, end), value))
    }

    /// After an entry of a flow collection: `true` past a `,` and the spaces after it
    /// (another entry follows), `false` at the closing bracket `close`.
    fn flow_next(&mut self, close: u8) -> Option<bool> {
        self.spaces();
        match self.peek()? {
            b',' => {
                self.pos += 1;
                self.spaces();
                // No trailing comma.
                (self.peek()? != close).then_some(true)
            }
            c if c == close => Some(false),
            _ => None,
        }
    }

    /// An entry (or a mapping's value) in a flow collection.
    fn flow_item(&mut self, depth: usize, level: usize) -> Option<Node> {
        match self.peek()? {
            b'[' | b'{' => self.flow(depth, level),
            b'\'' | b'"' => self.quoted(depth),
            _ => {
                let start = self.pos;
                let end = self.plain_words()?;
                self.plain_scalar(start, end, depth)
            }
        }
    }
}

/// A plain scalar's value.
fn plain(text: &str) -> Value {
    Value::Scalar {
        text: text.to_string(),
        style: ScalarStyle::Plain,
    }
}

/// `Some` when no two keys of the entries have the same text (every key of the subset
/// is a plain string, which the loader compares by text).
fn unique_keys(entries: &[(Node, Node)]) -> Option<()> {
    fn text(k: &Node) -> &str {
        k.as_str().unwrap_or_default()
    }
    if entries.len() <= LINEAR_KEYS {
        for (i, (k, _)) in entries.iter().enumerate() {
            if entries[..i].iter().any(|(o, _)| text(o) == text(k)) {
                return None;
            }
        }
        return Some(());
    }
    let mut keys: Vec<&str> = entries.iter().map(|(k, _)| text(k)).collect();
    keys.sort_unstable();
    keys.windows(2).all(|w| w[0] != w[1]).then_some(())
}

#[cfg(test)]
mod tests {
    use super::super::quick::characters_ok;

    /// The meter's charge of a text: the least budget [`characters_ok`] accepts.
    fn charge(text: &str) -> usize {
        (0..10_000)
            .find(|&b| characters_ok(text, b))
            .expect("charged less than 10,000")
    }

    #[test]
    fn the_meter_charges_as_the_loader_does() {
        assert_eq!(charge("ab cd\n"), 4 * 16);
        assert_eq!(charge("[a]\n"), 17 + 17 + 16);
        assert_eq!(charge("{a: [b]}\n"), 17 + 17 + 17 + 18 + 18 + 17 + 16);
        // A comment starts after a blank only (or at the start), and is free.
        assert_eq!(charge("a #x [y\nb\n"), 16 + 16);
        assert_eq!(charge("#x\na#b\n"), 3 * 16);
        assert_eq!(charge("a: 'é # ü'\n"), 16 * 4);
        assert!(!characters_ok("a\tb\n", usize::MAX));
        assert!(!characters_ok("a\r\n", usize::MAX));
        assert!(!characters_ok("\u{feff}a\n", usize::MAX));
        assert!(!characters_ok("# \u{2028}\n", usize::MAX));
        assert!(!characters_ok("a\u{0}\n", usize::MAX));
        assert!(characters_ok("é ü\n", usize::MAX));
    }
}
