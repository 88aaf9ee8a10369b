//! Tests of the YAML front end: loading, limits, spans, deserialization and diagnostics.

mod de_tests;
mod load_tests;

use super::*;
use netpolc_source::{Diagnostic, FileId, SourceMap, Span};

/// Registers `text` and loads it with the given limits.
fn load_with(text: &str, limits: &Limits) -> (SourceMap, Result<Vec<Node>, Diagnostic>) {
    load_bytes(text.as_bytes(), limits)
}

/// Registers `bytes` (lossily, as callers do) and loads them.
fn load_bytes(bytes: &[u8], limits: &Limits) -> (SourceMap, Result<Vec<Node>, Diagnostic>) {
    let mut sources = SourceMap::default();
    let file = sources.add("t.yaml", String::from_utf8_lossy(bytes).into_owned());
    let result = load(file, bytes, limits);
    (sources, result)
}

/// Loads text that must be valid.
fn ok(text: &str) -> (SourceMap, Vec<Node>) {
    let (sources, result) = load_with(text, &Limits::default());
    match result {
        Ok(docs) => (sources, docs),
        Err(d) => panic!(
            "unexpected error: {}",
            netpolc_source::render_human(&sources, &[d])
        ),
    }
}

/// Loads text that must be invalid; returns the diagnostic and the primary label's
/// line and column.
fn fail_with(text: &str, limits: &Limits) -> (Diagnostic, (usize, usize)) {
    let (sources, result) = load_with(text, limits);
    let d = match result {
        Ok(docs) => panic!("expected an error, got {docs:?}"),
        Err(d) => d,
    };
    let span = d.primary_span().expect("every load error has a label");
    assert_spans_valid(&sources, &d);
    (d, sources.line_col(span))
}

fn fail(text: &str) -> (Diagnostic, (usize, usize)) {
    fail_with(text, &Limits::default())
}

/// Every label must lie inside its file, on character boundaries.
fn assert_spans_valid(sources: &SourceMap, d: &Diagnostic) {
    for label in &d.labels {
        let text = sources.get(label.span.file).text();
        let (s, e) = (label.span.start as usize, label.span.end as usize);
        assert!(
            s <= e && e <= text.len(),
            "{:?} outside {} bytes",
            label.span,
            text.len()
        );
        assert!(
            text.is_char_boundary(s),
            "{:?} not on a char boundary",
            label.span
        );
        // Render, which must not panic either.
        let _ = netpolc_source::render_human(sources, std::slice::from_ref(d));
    }
}

/// The text a span covers.
fn snippet(sources: &SourceMap, span: Span) -> &str {
    sources.snippet(span)
}

#[test]
fn public_api_is_reachable() {
    // The names the front end relies on.
    type Load = fn(FileId, &[u8], &Limits) -> Result<Vec<Node>, Diagnostic>;
    let _: Load = load;
    let _: fn(&Node) -> Result<Vec<String>, DeError> = from_node::<Vec<String>>;
    let _: fn(&str, &[&'static str]) -> Option<&'static str> = suggest;
    let _ = ScalarStyle::Plain;
    let _ = Value::Null;
    let _: Option<Spanned<u8>> = None;
    assert_eq!(codes::INVALID_DOCUMENT, "NP1010");
}
