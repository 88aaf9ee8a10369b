//! Loading a YAML stream into marked trees, with limits against hostile input.
//!
//! Loading runs in two phases, so that alias expansion is counted before anything is
//! copied:
//!
//! 1. The parser's events are pulled one at a time (never through its recursive
//!    `load`) into a flat arena of raw nodes per document. An alias is stored as a
//!    reference to its anchor's raw node, whose *expanded* node count, height and scalar
//!    bytes are known because the anchored node is complete. Every limit is checked as
//!    events arrive, so a violation stops the parser at once: a billion-laughs bomb fails
//!    at the first alias that would push the expanded count past the limit.
//!    The parser reads characters through a meter: it may not run more than
//!    [`Limits::max_lookahead`] characters ahead of the last node it reported. Its
//!    scanner otherwise buffers a whole flow collection (a 4 MB `[a, a, ...` costs
//!    hundreds of megabytes) before reporting any of it, out of reach of the other limits.
//! 2. A document that passed is materialised into [`Node`]s. Its size is then bounded by
//!    [`Limits::max_nodes`] and [`Limits::max_alias_bytes`], and its recursion by
//!    [`Limits::max_depth`].

use super::codes;
use super::node::{Node, ScalarStyle, Value};
use super::offsets::CharIndex;
use super::resolve::{resolve_plain, Resolved};
use netpolc_source::{Diagnostic, FileId, Span};
use saphyr_parser::{Event, Parser, ScalarStyle as PStyle, ScanError, Tag};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::str::Chars;

/// The depth limit is capped here whatever [`Limits::max_depth`] says, because trees are
/// consumed recursively (deserializer, JSON conversion, drop). The fast readers
/// ([`super::quick`], [`super::quick_nodes`]) cap it alike.
pub(super) const DEPTH_CAP: usize = 1024;

/// Longest implicit key the fast readers accept, in bytes: the parser allows 1024
/// characters, and a character is at least one byte.
pub(super) const MAX_KEY: usize = 1000;

/// Bounds on what [`load`] accepts. Every violation is an error with its own code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest file, in bytes (`NP1001`). Default 4 MiB.
    pub max_file_size: usize,
    /// Deepest nesting of nodes, the top node of a document being at depth 1 (`NP1005`).
    /// Default 64; values above 1024 act as 1024.
    pub max_depth: usize,
    /// Most nodes in the whole file, counting every node an alias expands to (`NP1006`).
    /// Default 200 000.
    pub max_nodes: usize,
    /// Most scalar bytes that alias expansions may copy, in the whole file (`NP1006`).
    /// Default 16 MiB. Without it, 200 000 aliases of one 64 KiB scalar would need 13 GB.
    pub max_alias_bytes: usize,
    /// Longest scalar, in bytes after unescaping (`NP1007`). Default 64 KiB.
    pub max_scalar_len: usize,
    /// Most documents in one file, empty ones included (`NP1009`). Default 10 000.
    pub max_documents: usize,
    /// Most characters the parser may read ahead to report one node, not counting
    /// blanks and comments (`NP1007`). Default 512 Ki. The parser reads a scalar to its
    /// end before reporting it, and a flow collection that starts in block context
    /// (`key: [...]`, a JSON document) to its closing bracket, buffering up to 200 bytes
    /// per character; this bounds that buffering and the time it takes. Inside flow
    /// collections nested `n` deep a character counts `1 + n/16` times, as the parser's
    /// work per token grows with nesting. Keep it well above [`Limits::max_scalar_len`],
    /// leaving room for quotes and escapes; raise it to read JSON documents larger than
    /// about 1 MB.
    pub max_lookahead: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_size: 4 << 20,
            max_depth: 64,
            max_nodes: 200_000,
            max_alias_bytes: 16 << 20,
            max_scalar_len: 64 << 10,
            max_documents: 10_000,
            max_lookahead: 512 << 10,
        }
    }
}

/// Loads every non-empty document of a YAML stream.
///
/// `bytes` is the file's content and `file` its id in the caller's
/// [`SourceMap`](netpolc_source::SourceMap); every diagnostic has a label in that file.
/// Register the text with `String::from_utf8_lossy(bytes)`: for invalid UTF-8 (`NP1002`)
/// the label starts at the first bad byte, and the lossy text is byte-identical up to
/// there, so line and column are right.
///
/// Documents that are empty (a trailing `---`, or only comments) are skipped. The first
/// problem found ends loading; the codes are `NP1001` file too large, `NP1002` invalid
/// UTF-8, `NP1003` YAML syntax error, `NP1004` duplicate mapping key, `NP1005` nesting
/// too deep, `NP1006` too many nodes or alias expansion too large, `NP1007` scalar too
/// long (or a scalar or flow collection that makes the parser read too far ahead),
/// `NP1008` unsupported YAML (collection keys, non-standard tags, recursive aliases) and
/// `NP1009` too many documents.
///
/// ```
/// use netpolc_intent::yaml::{load, Limits};
/// use netpolc_source::SourceMap;
/// let text = "a: 1\n---\nb: [x, y]\n";
/// let mut sources = SourceMap::default();
/// let file = sources.add("a.yaml", text.to_string());
/// let docs = load(file, text.as_bytes(), &Limits::default()).unwrap();
/// assert_eq!(docs.len(), 2);
/// assert_eq!(docs[1].to_json(), serde_json::json!({"b": ["x", "y"]}));
///
/// let err = load(file, b"a: 1\na: 2\n", &Limits::default()).unwrap_err();
/// assert_eq!(err.code, "NP1004");
/// ```
// The error type is the contract of every stage: one `Diagnostic`.
#[allow(clippy::result_large_err)]
pub fn load(file: FileId, bytes: &[u8], limits: &Limits) -> Result<Vec<Node>, Diagnostic> {
    load_all(file, bytes, limits).map_err(|mut all| all.swap_remove(0))
}

/// Loads a stream of one document whose top node is a mapping, and hands every entry of
/// the sequence under its key `key` to `each` as soon as the entry is read, instead of
/// keeping it in the tree: the returned document holds an empty sequence there. Memory
/// then grows with the largest entry, not with the stream (for `netpolc fn`, whose
/// `ResourceList` may hold hundreds of thousands of items). Limits, duplicate keys and
/// aliases are checked as by [`load`]; an entry that defines an anchor is kept for the
/// aliases after it. Entries are streamed only in the first document.
///
/// ```
/// use netpolc_intent::yaml::{load_streamed, Limits};
/// use netpolc_source::FileId;
///
/// let text = "kind: List\nitems:\n- {a: 1}\n- {b: 2}\n";
/// let mut seen = Vec::new();
/// let docs = load_streamed(FileId(0), text.as_bytes(), &Limits::default(), "items", &mut |n| {
///     seen.push(n.to_json())
/// })
/// .unwrap();
/// assert_eq!(seen, [serde_json::json!({"a": 1}), serde_json::json!({"b": 2})]);
/// assert_eq!(docs[0].to_json(), serde_json::json!({"kind": "List", "items": []}));
/// ```
#[allow(clippy::result_large_err)]
pub fn load_streamed<'a>(
    file: FileId,
    bytes: &'a [u8],
    limits: &'a Limits,
    key: &'a str,
    each: &'a mut dyn FnMut(Node),
) -> Result<Vec<Node>, Diagnostic> {
    load_with(
        file,
        bytes,
        limits,
        Some(Stream {
            key,
            each,
            mark: None,
        }),
    )
    .map_err(|mut all| all.swap_remove(0))
}

/// Where [`load_streamed`] hands entries over.
struct Stream<'s> {
    key: &'s str,
    each: &'s mut dyn FnMut(Node),
    /// The arena length when the streamed sequence's current entry began.
    mark: Option<usize>,
}

/// Most problems [`load_all`] reports for one file.
const MAX_REPORTED: usize = 100;

/// Like [`load`], but reports every problem that does not stop the parser (every
/// duplicate key, every merge key), up to 100 per file, instead of only the first; a
/// problem that stops the parser comes last. The vector is never empty.
// The error type is the contract of every stage: diagnostics.
#[allow(clippy::result_large_err)]
pub fn load_all(file: FileId, bytes: &[u8], limits: &Limits) -> Result<Vec<Node>, Vec<Diagnostic>> {
    // The common subset of intent files is read straight into the tree, with the nodes
    // and spans the loader would give ([`super::quick_nodes`]); anything else, and every
    // error, goes through the loader.
    if let Some(nodes) = std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| super::quick_nodes::read(file, text, limits))
    {
        return Ok(nodes);
    }
    load_with(file, bytes, limits, None)
}

/// [`load_all`] by the event parser alone, never by the fast reader of the common subset
/// ([`super::quick_nodes`]): the reference that reader is tested against.
#[allow(clippy::result_large_err)]
pub fn load_all_parsed(
    file: FileId,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<Node>, Vec<Diagnostic>> {
    load_with(file, bytes, limits, None)
}

#[allow(clippy::result_large_err)]
fn load_with<'a>(
    file: FileId,
    bytes: &'a [u8],
    limits: &'a Limits,
    stream: Option<Stream<'a>>,
) -> Result<Vec<Node>, Vec<Diagnostic>> {
    let max_size = limits.max_file_size.min(u32::MAX as usize);
    if bytes.len() > max_size {
        return Err(vec![Diagnostic::error(
            codes::FILE_TOO_LARGE,
            format!(
                "file is too large: {} bytes, the limit is {max_size} bytes",
                bytes.len()
            ),
        )
        .with_label(Span::new(file, 0, 0), "")
        .with_help("split the documents into several files")]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let start = e.valid_up_to();
            let len = e.error_len().unwrap_or(bytes.len() - start);
            let bad = bytes.get(start).copied().unwrap_or(0);
            return Err(vec![Diagnostic::error(
                codes::INVALID_UTF8,
                "file is not valid UTF-8",
            )
            .with_label(
                Span::new(file, start as u32, (start + len) as u32),
                format!("invalid byte `0x{bad:02X}` at byte offset {start}"),
            )
            .with_help("save the file as UTF-8")]);
        }
    };
    // YAML allows only printable characters (and tab and line breaks) anywhere, quoted
    // scalars included; the parser would report some of them as the end of the stream.
    if let Some((at, c)) = text.char_indices().find(|&(_, c)| !printable(c)) {
        let at = at as u32;
        return Err(vec![Diagnostic::error(
            codes::SYNTAX,
            format!(
                "invalid YAML: the control character U+{:04X} is not allowed",
                c as u32
            ),
        )
        .with_label(
            Span::new(file, at, at + c.len_utf8() as u32),
            format!("U+{:04X} here", c as u32),
        )
        .with_help(
            "remove it; inside a double-quoted string write it as an escape such as `\\x00`",
        )]);
    }
    // The parser is third-party code: should it panic on some input, report that as a
    // syntax error instead of taking the process down.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Loader::new(file, text, limits, stream).run()
    })) {
        Ok(result) => result,
        Err(_) => Err(vec![Diagnostic::error(
            codes::SYNTAX,
            "invalid YAML: the parser failed on this file",
        )
        .with_label(Span::new(file, 0, 0), "")]),
    }
}

/// Whether YAML 1.2 allows the character in a stream (its `c-printable`).
fn printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Errors inside the loader are boxed to keep results small.
type Res<T> = Result<T, Box<Diagnostic>>;

/// A node of the arena built in phase 1.
#[derive(Debug)]
struct Raw {
    span: Span,
    kind: RawKind,
    /// Nodes in the subtree once aliases are expanded (this one included).
    count: usize,
    /// Height of the subtree once aliases are expanded (a scalar has height 1).
    height: usize,
    /// Scalar bytes in the subtree once aliases are expanded.
    bytes: usize,
    /// Whether an alias refers to this node.
    aliased: bool,
}

#[derive(Debug)]
enum RawKind {
    Null,
    Scalar(String, ScalarStyle),
    Seq(Vec<usize>),
    /// Keys and values alternate.
    Map(Vec<usize>),
    /// An alias of the raw node with this index (never itself an alias).
    Alias(usize),
}

/// A collection being read.
#[derive(Debug)]
struct Frame {
    is_map: bool,
    /// Byte offset where the collection starts.
    start: u32,
    /// Byte offset after its opening token (an empty block collection ends there).
    start_end: u32,
    anchor: usize,
    children: Vec<usize>,
    count: usize,
    height: usize,
    bytes: usize,
    /// For mappings: the keys seen, by text and by resolved value.
    keys_by_text: BTreeMap<String, Span>,
    keys_by_value: BTreeMap<KeyValue, Span>,
}

/// The resolved value of a non-string key, for duplicate detection (`0x10` and `16`
/// are the same key). Floats are compared by their bits.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum KeyValue {
    Null,
    Bool(bool),
    Int(i128),
    Float(u64),
}

struct Loader<'a> {
    stream: Option<Stream<'a>>,
    file: FileId,
    text: &'a str,
    index: CharIndex<'a>,
    limits: &'a Limits,
    max_depth: usize,
    total_nodes: usize,
    alias_bytes: usize,
    documents: usize,
    arena: Vec<Raw>,
    /// Parser anchor id to arena index, for the current document.
    anchors: BTreeMap<usize, usize>,
    frames: Vec<Frame>,
    root: Option<usize>,
    out: Vec<Node>,
    /// Problems that do not stop the parser (duplicate and merge keys), in order.
    errors: Vec<Diagnostic>,
}

impl<'a> Loader<'a> {
    fn new(file: FileId, text: &'a str, limits: &'a Limits, stream: Option<Stream<'a>>) -> Self {
        Loader {
            stream,
            file,
            text,
            index: CharIndex::new(text),
            limits,
            max_depth: limits.max_depth.min(DEPTH_CAP),
            total_nodes: 0,
            alias_bytes: 0,
            documents: 0,
            arena: Vec::new(),
            anchors: BTreeMap::new(),
            frames: Vec::new(),
            root: None,
            out: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn span(&self, s: saphyr_parser::Span) -> Span {
        Span::new(
            self.file,
            self.index.byte(s.start.index()),
            self.index.byte(s.end.index()),
        )
    }

    fn run(mut self) -> Result<Vec<Node>, Vec<Diagnostic>> {
        let result = self.events();
        let mut errors = std::mem::take(&mut self.errors);
        match result {
            Ok(()) if errors.is_empty() => Ok(self.out),
            Ok(()) => Err(errors),
            Err(fatal) => {
                errors.push(*fatal);
                Err(errors)
            }
        }
    }

    fn events(&mut self) -> Res<()> {
        let meter = Rc::new(Meter {
            budget: self.limits.max_lookahead.saturating_mul(16),
            counted: Cell::new(0),
            base: Cell::new(0),
            exceeded: Cell::new(false),
        });
        let mut parser = Parser::new_from_iter(MeteredChars {
            chars: self.text.chars(),
            meter: Rc::clone(&meter),
            after_blank: true,
            in_comment: false,
            depth: 0,
        });
        let mut last_end = 0;
        while let Some(next) = parser.next_event() {
            if meter.exceeded.get() {
                return Err(Box::new(self.too_far(last_end)));
            }
            // The budget is per event: what the parser reads before reporting the next.
            meter.base.set(meter.counted.get());
            let (event, pspan) = next.map_err(|e| Box::new(self.scan_error(&e, last_end)))?;
            last_end = last_end.max(pspan.end.index());
            let span = self.span(pspan);
            match event {
                Event::StreamStart | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => self.start_document(span)?,
                Event::DocumentEnd => self.end_document(),
                Event::Scalar(text, style, anchor, tag) => {
                    self.scalar(span, text.into_owned(), style, anchor, tag.as_deref())?;
                }
                Event::SequenceStart(anchor, tag) => {
                    self.start_collection(false, span, anchor, tag.as_deref())?;
                }
                Event::MappingStart(anchor, tag) => {
                    self.start_collection(true, span, anchor, tag.as_deref())?;
                }
                Event::SequenceEnd | Event::MappingEnd => self.end_collection(span)?,
                Event::Alias(id) => self.alias(span, id)?,
            }
        }
        Ok(())
    }

    fn scan_error(&self, e: &ScanError, last_end: usize) -> Diagnostic {
        let start = self.index.byte(e.marker().index());
        let span = Span::new(self.file, start, start + self.index.char_len_at(start));
        if e.info().contains("recursion limit exceeded") {
            // The parser's own bound on flow nesting (`[[[[...`), met before our own
            // limit: point at the bracket that goes one level too deep, not where the
            // parser gave up.
            let from = self.index.byte(last_end);
            let span = self.flow_too_deep(from).unwrap_or(span);
            return self.too_deep(span);
        }
        Diagnostic::error(codes::SYNTAX, format!("invalid YAML: {}", e.info())).with_label(span, "")
    }

    /// The first bracket after `from` that opens a flow collection deeper than the
    /// depth limit, counting the block collections already open. Quoted text is skipped.
    fn flow_too_deep(&self, from: u32) -> Option<Span> {
        let rest = self.text.get(from as usize..)?;
        let limit = self.max_depth.checked_sub(self.frames.len())?;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match (quote, c) {
                (Some('"'), '\\') => {
                    chars.next();
                }
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > limit {
                        let at = from + i as u32;
                        return Some(Span::new(self.file, at, at + 1));
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        None
    }

    /// The parser read too far ahead of the last node, which ended at this character.
    fn too_far(&self, last_end: usize) -> Diagnostic {
        // Point at the construct being read: the first character after it that is
        // neither blank nor in a comment.
        let from = self.index.byte(last_end);
        let mut rest = self.text.get(from as usize..).unwrap_or("");
        loop {
            rest = rest.trim_start();
            match rest.strip_prefix('#') {
                Some(comment) => rest = comment.split_once('\n').map_or("", |(_, after)| after),
                None => break,
            }
        }
        let start = (self.text.len() - rest.len()) as u32;
        let span = Span::new(self.file, start, start + self.index.char_len_at(start));
        Diagnostic::error(
            codes::SCALAR_TOO_LONG,
            format!(
                "YAML scalar or flow collection is too long: the parser read more than {} characters without completing it",
                self.limits.max_lookahead
            ),
        )
        .with_label(span, "this is too long")
        .with_help("write long collections in block style, one entry per line")
    }

    fn too_deep(&self, span: Span) -> Diagnostic {
        Diagnostic::error(
            codes::TOO_DEEP,
            format!(
                "YAML nesting is too deep, the limit is {} levels",
                self.max_depth
            ),
        )
        .with_label(span, "too deep")
    }

    fn start_document(&mut self, span: Span) -> Res<()> {
        self.documents += 1;
        if self.documents > self.limits.max_documents {
            return Err(Box::new(
                Diagnostic::error(
                    codes::TOO_MANY_DOCUMENTS,
                    format!(
                        "too many YAML documents, the limit is {} per file",
                        self.limits.max_documents
                    ),
                )
                .with_label(span, "one document too many")
                .with_help("split the documents into several files"),
            ));
        }
        // Anchors are local to a document.
        self.arena.clear();
        self.anchors.clear();
        self.frames.clear();
        self.root = None;
        Ok(())
    }

    fn end_document(&mut self) {
        if let Some(root) = self.root.take() {
            if !matches!(
                self.arena.get(root).map(|r| &r.kind),
                Some(RawKind::Null) | None
            ) {
                let node = self.build(root, None, false);
                self.out.push(node);
            }
        }
        // Freed, not only cleared: a large document's arena would otherwise be held
        // beside its tree until the whole stream is loaded.
        self.arena = Vec::new();
        self.anchors.clear();
    }

    /// Materialises a raw node; `alias_span` is the span of the alias being expanded.
    /// `shared` says whether the node will be materialised again (it is, or lies under,
    /// an anchored node that an alias refers to): otherwise its text is moved out of the
    /// arena instead of copied, so that a large document is not held twice.
    fn build(&mut self, index: usize, alias_span: Option<Span>, shared: bool) -> Node {
        let Some(raw) = self.arena.get_mut(index) else {
            // Unreachable: indexes come from the arena. An empty node is a safe answer.
            return Node::new(Span::new(self.file, 0, 0), Value::Null);
        };
        let shared = shared || raw.aliased;
        let span = alias_span.unwrap_or(raw.span);
        let value = match &mut raw.kind {
            RawKind::Null => Value::Null,
            RawKind::Scalar(text, style) => Value::Scalar {
                text: if shared {
                    text.clone()
                } else {
                    std::mem::take(text)
                },
                style: *style,
            },
            RawKind::Seq(items) => {
                let items = items.clone();
                Value::Seq(
                    items
                        .into_iter()
                        .map(|i| self.build(i, None, shared))
                        .collect(),
                )
            }
            RawKind::Map(children) => {
                let children = children.clone();
                Value::Map(
                    children
                        .chunks_exact(2)
                        .map(|kv| {
                            (
                                self.build(kv[0], None, shared),
                                self.build(kv[1], None, shared),
                            )
                        })
                        .collect(),
                )
            }
            RawKind::Alias(target) => {
                let target = *target;
                return self.build(target, Some(span), true);
            }
        };
        Node::new(span, value)
    }

    /// Depth a new node gets: the top node of a document is at depth 1.
    fn depth(&self) -> usize {
        self.frames.len() + 1
    }

    fn count_nodes(&mut self, n: usize, span: Span) -> Res<()> {
        self.total_nodes = self.total_nodes.saturating_add(n);
        if self.total_nodes > self.limits.max_nodes {
            return Err(Box::new(Diagnostic::error(
                codes::TOO_MANY_NODES,
                format!(
                    "too many YAML nodes, the limit is {} per file (aliases count as many nodes as they expand to)",
                    self.limits.max_nodes
                ),
            )
            .with_label(span, "the limit is reached here")));
        }
        Ok(())
    }

    fn scalar(
        &mut self,
        span: Span,
        text: String,
        style: PStyle,
        anchor: usize,
        tag: Option<&Tag>,
    ) -> Res<()> {
        if self.depth() > self.max_depth {
            return Err(Box::new(self.too_deep(span)));
        }
        self.count_nodes(1, span)?;
        if text.len() > self.limits.max_scalar_len {
            return Err(Box::new(
                Diagnostic::error(
                    codes::SCALAR_TOO_LONG,
                    format!(
                        "scalar is too long: {} bytes, the limit is {} bytes",
                        text.len(),
                        self.limits.max_scalar_len
                    ),
                )
                .with_label(span, "this scalar"),
            ));
        }
        let plain = style == PStyle::Plain;
        let mut kind = if plain && text.is_empty() {
            RawKind::Null
        } else {
            let style = if plain {
                ScalarStyle::Plain
            } else {
                ScalarStyle::Quoted
            };
            RawKind::Scalar(text, style)
        };
        let mut span = span;
        if let Some(tag) = tag {
            kind = self.apply_scalar_tag(kind, tag, span)?;
        }
        if matches!(kind, RawKind::Null) {
            // An empty node covers no text.
            span.end = span.start;
        }
        let bytes = match &kind {
            RawKind::Scalar(t, _) => t.len(),
            _ => 0,
        };
        self.complete(
            Raw {
                span,
                kind,
                count: 1,
                height: 1,
                bytes,
                aliased: false,
            },
            anchor,
        )
    }

    fn apply_scalar_tag(&self, kind: RawKind, tag: &Tag, span: Span) -> Res<RawKind> {
        let text = match &kind {
            RawKind::Scalar(t, _) => t.as_str(),
            _ => "",
        };
        let (expect, plain_ok): (&str, fn(Resolved<'_>) -> bool) = match core_tag(tag) {
            TagKind::NonSpecific | TagKind::Core("str") => {
                let text = match kind {
                    RawKind::Scalar(t, _) => t,
                    _ => String::new(),
                };
                return Ok(RawKind::Scalar(text, ScalarStyle::Quoted));
            }
            TagKind::Core("null") => ("null", |r| r == Resolved::Null),
            TagKind::Core("bool") => ("a boolean", |r| matches!(r, Resolved::Bool(_))),
            TagKind::Core("int") => ("an integer", |r| matches!(r, Resolved::Int(_))),
            TagKind::Core("float") => ("a number", |r| {
                matches!(r, Resolved::Int(_) | Resolved::Float(_))
            }),
            TagKind::Core("map" | "seq") => {
                return Err(Box::new(self.unsupported(
                    span,
                    format!("the tag `{}` does not fit a scalar", tag_text(tag)),
                )))
            }
            _ => {
                return Err(Box::new(self.unsupported(span, format!("unsupported YAML tag `{}`", tag_text(tag)))
                    .with_help("only the core schema tags `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!seq` and `!!map` are supported")))
            }
        };
        if !plain_ok(resolve_plain(text)) {
            return Err(Box::new(self.unsupported(
                span,
                format!(
                    "`{}` is not {expect}, as its tag `{}` says",
                    clip(text),
                    tag_text(tag)
                ),
            )));
        }
        Ok(match kind {
            RawKind::Scalar(t, _) if !t.is_empty() => RawKind::Scalar(t, ScalarStyle::Plain),
            _ => RawKind::Null,
        })
    }

    fn unsupported(&self, span: Span, message: String) -> Diagnostic {
        Diagnostic::error(codes::UNSUPPORTED, message).with_label(span, "")
    }

    fn start_collection(
        &mut self,
        is_map: bool,
        span: Span,
        anchor: usize,
        tag: Option<&Tag>,
    ) -> Res<()> {
        if self.depth() > self.max_depth {
            return Err(Box::new(self.too_deep(span)));
        }
        if self.expecting_key() {
            return Err(Box::new(self.complex_key(span)));
        }
        self.count_nodes(1, span)?;
        if let Some(tag) = tag {
            let fits = match core_tag(tag) {
                TagKind::NonSpecific => true,
                TagKind::Core("map") => is_map,
                TagKind::Core("seq") => !is_map,
                _ => false,
            };
            if !fits {
                return Err(Box::new(self.unsupported(
                    span,
                    format!(
                        "the tag `{}` does not fit a {}",
                        tag_text(tag),
                        if is_map { "mapping" } else { "sequence" }
                    ),
                )));
            }
        }
        self.frames.push(Frame {
            is_map,
            start: span.start,
            start_end: span.end,
            anchor,
            children: Vec::new(),
            count: 1,
            height: 1,
            bytes: 0,
            keys_by_text: BTreeMap::new(),
            keys_by_value: BTreeMap::new(),
        });
        if self.frames.len() == 2 {
            let next = self.arena.len();
            if let Some(stream) = self.stream.as_mut() {
                stream.mark = Some(next);
            }
        }
        Ok(())
    }

    fn end_collection(&mut self, end: Span) -> Res<()> {
        let Some(frame) = self.frames.pop() else {
            return Ok(());
        };
        // A flow collection's end event covers its `]` or `}`; a block collection's is
        // empty and may sit after trailing comments, so it ends with its last entry.
        let last_end = frame
            .children
            .last()
            .and_then(|&i| self.arena.get(i))
            .map_or(frame.start_end, |r| r.span.end);
        let stop = if end.end > end.start {
            end.end
        } else {
            last_end.max(frame.start_end)
        };
        let span = Span::new(self.file, frame.start, stop);
        let kind = if frame.is_map {
            RawKind::Map(frame.children)
        } else {
            RawKind::Seq(frame.children)
        };
        self.complete(
            Raw {
                span,
                kind,
                count: frame.count,
                height: frame.height,
                bytes: frame.bytes,
                aliased: false,
            },
            frame.anchor,
        )
    }

    fn alias(&mut self, span: Span, id: usize) -> Res<()> {
        let Some(&target) = self.anchors.get(&id) else {
            let open = self.frames.iter().any(|f| f.anchor == id && id != 0);
            return Err(Box::new(if open {
                self.unsupported(
                    span,
                    "recursive YAML alias: the alias is inside its own anchor".into(),
                )
            } else {
                Diagnostic::error(codes::SYNTAX, "invalid YAML: unknown anchor")
                    .with_label(span, "no anchor of this name earlier in this document")
            }));
        };
        let Some(t) = self.arena.get(target) else {
            return Ok(());
        };
        let (count, height, bytes) = (t.count, t.height, t.bytes);
        if let Some(t) = self.arena.get_mut(target) {
            t.aliased = true;
        }
        if self.frames.len() + height > self.max_depth {
            return Err(Box::new(self.too_deep(span)));
        }
        self.count_nodes(count, span)?;
        self.alias_bytes = self.alias_bytes.saturating_add(bytes);
        if self.alias_bytes > self.limits.max_alias_bytes {
            return Err(Box::new(
                Diagnostic::error(
                    codes::TOO_MANY_NODES,
                    format!(
                        "YAML aliases expand to too much text, the limit is {} bytes per file",
                        self.limits.max_alias_bytes
                    ),
                )
                .with_label(span, "the limit is reached here"),
            ));
        }
        self.complete(
            Raw {
                span,
                kind: RawKind::Alias(target),
                count,
                height,
                bytes,
                aliased: false,
            },
            0,
        )
    }

    fn expecting_key(&self) -> bool {
        self.frames
            .last()
            .is_some_and(|f| f.is_map && f.children.len() % 2 == 0)
    }

    fn complex_key(&self, span: Span) -> Diagnostic {
        self.unsupported(span, "mapping keys must be scalars".into())
            .with_help("write the key as a plain or quoted string")
    }

    /// Files a finished node under its parent (or as the document's root).
    fn complete(&mut self, raw: Raw, anchor: usize) -> Res<()> {
        if self.expecting_key() {
            self.check_key(&raw)?;
        }
        let (count, height, bytes) = (raw.count, raw.height, raw.bytes);
        let index = self.arena.len();
        self.arena.push(raw);
        if anchor != 0 {
            self.anchors.insert(anchor, index);
        }
        if self.streamed_entry() {
            self.hand_over(index);
            if let Some(frame) = self.frames.last_mut() {
                frame.count = frame.count.saturating_add(count);
                frame.height = frame.height.max(height + 1);
                frame.bytes = frame.bytes.saturating_add(bytes);
            }
            return Ok(());
        }
        match self.frames.last_mut() {
            Some(frame) => {
                frame.children.push(index);
                frame.count = frame.count.saturating_add(count);
                frame.height = frame.height.max(height + 1);
                frame.bytes = frame.bytes.saturating_add(bytes);
            }
            None => self.root = Some(index),
        }
        Ok(())
    }

    /// Whether the node being completed is an entry of the streamed sequence: the first
    /// document's top mapping, under the streamed key, a sequence.
    fn streamed_entry(&self) -> bool {
        let Some(stream) = &self.stream else {
            return false;
        };
        let [top, seq] = self.frames.as_slice() else {
            return false;
        };
        self.documents == 1
            && top.is_map
            && !seq.is_map
            && top.children.len() % 2 == 1
            && top
                .children
                .last()
                .and_then(|&k| self.arena.get(k))
                .is_some_and(|k| matches!(&k.kind, RawKind::Scalar(t, _) if t == stream.key))
    }

    /// Builds the streamed entry at `index`, hands it over and frees its arena nodes,
    /// unless it defines an anchor a later alias may name.
    fn hand_over(&mut self, index: usize) {
        let mark = self
            .stream
            .as_ref()
            .and_then(|s| s.mark)
            .unwrap_or(index)
            .min(index);
        let anchored = self.anchors.values().any(|&i| i >= mark);
        let node = self.build(index, None, anchored);
        if let Some(stream) = self.stream.as_mut() {
            (stream.each)(node);
        }
        if !anchored {
            self.arena.truncate(mark);
        }
        let next = self.arena.len();
        if let Some(stream) = self.stream.as_mut() {
            stream.mark = Some(next);
        }
    }

    /// Rejects collection keys and duplicate keys.
    fn check_key(&mut self, raw: &Raw) -> Res<()> {
        let target = match raw.kind {
            RawKind::Alias(t) => self.arena.get(t).map(|r| &r.kind),
            ref k => Some(k),
        };
        let (text, value) = match target {
            Some(RawKind::Null) | None => ("null".to_string(), Some(KeyValue::Null)),
            Some(RawKind::Scalar(t, style)) => {
                let value = match style {
                    ScalarStyle::Quoted => None,
                    ScalarStyle::Plain => match resolve_plain(t) {
                        Resolved::Null => Some(KeyValue::Null),
                        Resolved::Bool(b) => Some(KeyValue::Bool(b)),
                        Resolved::Int(i) => Some(KeyValue::Int(i)),
                        Resolved::Float(f) => Some(KeyValue::Float(f.to_bits())),
                        Resolved::Str(_) => None,
                    },
                };
                (t.clone(), value)
            }
            Some(RawKind::Seq(_) | RawKind::Map(_) | RawKind::Alias(_)) => {
                return Err(Box::new(self.complex_key(raw.span)));
            }
        };
        let Some(frame) = self.frames.last() else {
            return Ok(());
        };
        let first = match &value {
            Some(v) => frame.keys_by_value.get(v).copied(),
            None => None,
        }
        .or_else(|| frame.keys_by_text.get(&text).copied());
        let merge = text == "<<" && matches!(target, Some(RawKind::Scalar(_, ScalarStyle::Plain)));
        if let Some(first) = first {
            // Reported, and the parser goes on: every duplicate of the file is shown.
            let d = Diagnostic::error(
                codes::DUPLICATE_KEY,
                format!("duplicate mapping key `{}`", clip(&text)),
            )
            .with_label(raw.span, "duplicate key")
            .with_secondary(first, "first defined here")
            .with_help("remove one of the entries or merge them");
            return self.soft_error(d);
        }
        if merge {
            let d = Diagnostic::error(codes::UNSUPPORTED, "YAML merge keys (`<<`) are not supported")
                .with_label(raw.span, "merge key")
                .with_note("merge keys were dropped from YAML 1.2 and netpolc reads YAML 1.2")
                .with_help("write the entries out in this mapping (an alias may still stand for a whole value)");
            self.soft_error(d)?;
        }
        let Some(frame) = self.frames.last_mut() else {
            return Ok(());
        };
        if let Some(v) = value {
            frame.keys_by_value.insert(v, raw.span);
        }
        frame.keys_by_text.insert(text, raw.span);
        Ok(())
    }

    /// Records a problem that does not stop the parser; stops it after
    /// [`MAX_REPORTED`] of them.
    fn soft_error(&mut self, d: Diagnostic) -> Res<()> {
        if self.errors.len() + 1 >= MAX_REPORTED {
            return Err(Box::new(d.with_note(format!(
                "stopped after {MAX_REPORTED} problems in this file"
            ))));
        }
        self.errors.push(d);
        Ok(())
    }
}

/// How far the parser may read, shared between the loader and [`MeteredChars`].
///
/// Only characters that can make tokens count: blanks and comments cost the parser no
/// memory, and a file may legitimately hold long stretches of them.
#[derive(Debug)]
struct Meter {
    /// Cost the parser may spend reading between two events, in sixteenths of a
    /// character.
    budget: usize,
    /// Cost of the characters read so far, in sixteenths.
    counted: Cell<usize>,
    /// `counted` when the loader last received an event.
    base: Cell<usize>,
    /// Set when the parser wanted more; it then saw the end of the input instead.
    exceeded: Cell<bool>,
}

/// The characters of the text, ending early when the parser reads too far ahead.
#[derive(Debug)]
struct MeteredChars<'a> {
    chars: Chars<'a>,
    meter: Rc<Meter>,
    /// Whether the previous character was a blank or a line break (or there was none).
    after_blank: bool,
    /// Whether we are in a comment (a `#` after a blank, up to the line break). Inside
    /// quoted and block scalars such text is content, but a scalar is one token.
    in_comment: bool,
    /// Brackets opened and not closed, an estimate of the flow nesting (brackets in
    /// quoted scalars count too, which only makes the estimate cautious).
    depth: usize,
}

impl Iterator for MeteredChars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let meter = &self.meter;
        if meter.exceeded.get() {
            return None;
        }
        let c = self.chars.clone().next()?;
        let blank = matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{feff}');
        let counts = if self.in_comment {
            self.in_comment = !matches!(c, '\n' | '\r');
            false
        } else if c == '#' && self.after_blank {
            self.in_comment = true;
            false
        } else {
            !blank
        };
        if counts {
            match c {
                '[' | '{' => self.depth += 1,
                ']' | '}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
            // The parser's work per token grows with flow nesting: a character costs
            // 1 + depth/16.
            let counted = meter.counted.get().saturating_add(16 + self.depth);
            if counted - meter.base.get() > meter.budget {
                meter.exceeded.set(true);
                return None;
            }
            meter.counted.set(counted);
        }
        self.after_blank = blank;
        self.chars.next()
    }
}

/// What a tag is, for our purposes.
enum TagKind<'t> {
    /// `!` alone: the node is not resolved (a scalar is a string).
    NonSpecific,
    /// A core schema tag `!!suffix`.
    Core(&'t str),
    /// Anything else (local `!foo` or a global tag).
    Other,
}

fn core_tag(tag: &Tag) -> TagKind<'_> {
    if tag.is_yaml_core_schema() {
        TagKind::Core(tag.suffix.as_str())
    } else if (tag.handle.is_empty() && tag.suffix == "!")
        || (tag.handle == "!" && tag.suffix.is_empty())
    {
        TagKind::NonSpecific
    } else {
        TagKind::Other
    }
}

/// A tag as the user would have written it.
fn tag_text(tag: &Tag) -> String {
    if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else if tag.handle.is_empty() {
        tag.suffix.clone()
    } else if tag.handle == "!" {
        format!("!{}", tag.suffix)
    } else {
        format!("!<{}{}>", tag.handle, tag.suffix)
    }
}

/// Shortens long text quoted in a message.
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 40;
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(MAX).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}
