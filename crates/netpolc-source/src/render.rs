//! Renderers: human text (with the offending line and a marker), JSON and GitHub
//! workflow annotations.
//!
//! All three sort nothing: callers pass diagnostics in the order they want them shown
//! (the driver sorts by file, position and code so output is deterministic).

use crate::{Diagnostic, SourceMap};
use std::fmt::Write as _;

/// Renders diagnostics for a terminal, one block each, like:
///
/// ```text
/// error[NP2003]: unknown group `backnd`
///   --> policies/production.yaml:14:52
///    |
/// 14 |     - {name: frontend-to-backend, from: frontend, to: backnd, ports: [8080/tcp]}
///    |                                                    ^^^^^^ no group of this name
///    = help: did you mean `backend`?
/// ```
pub fn render_human(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let _ = writeln!(out, "{}[{}]: {}", d.severity.as_str(), d.code, d.message);
        if d.labels.is_empty() {
            if let Some(file) = &d.file {
                let _ = writeln!(out, "  --> {file}");
            }
        }
        for (i, label) in d.labels.iter().enumerate() {
            let file = sources.get(label.span.file);
            let (line, col) = file.line_col(label.span.start);
            let text = file.line_text(line);
            let width = line.to_string().len();
            let arrow = if i == 0 { "-->" } else { ":::" };
            let _ = writeln!(
                out,
                "{:w$}{arrow} {}:{line}:{col}",
                "",
                file.name(),
                w = width + 1
            );
            let _ = writeln!(out, "{:w$} |", "", w = width);
            let _ = writeln!(out, "{line} | {}", text.replace('\t', " "));
            // The marker covers the span's part on this line, at least one column.
            let (end_line, end_col) = file.line_col(label.span.end);
            let len = if end_line == line && end_col > col {
                end_col - col
            } else {
                (text.chars().count() + 1).saturating_sub(col).max(1)
            };
            let mark = if label.primary { "^" } else { "-" };
            let _ = writeln!(
                out,
                "{:w$} | {:pad$}{}{}{}",
                "",
                "",
                mark.repeat(len.max(1)),
                if label.message.is_empty() { "" } else { " " },
                label.message,
                w = width,
                pad = col - 1
            );
        }
        for note in &d.notes {
            let _ = writeln!(out, "   = note: {note}");
        }
        if let Some(help) = &d.help {
            let _ = writeln!(out, "   = help: {help}");
        }
        out.push('\n');
    }
    out
}

/// Renders diagnostics as a JSON array, one object per diagnostic, with `file`, `line`
/// and `column` (1-based, characters) of the primary label.
pub fn render_json(sources: &SourceMap, diagnostics: &[Diagnostic]) -> serde_json::Value {
    let items = diagnostics
        .iter()
        .map(|d| {
            let mut o = serde_json::Map::new();
            o.insert("code".into(), d.code.into());
            o.insert("severity".into(), d.severity.as_str().into());
            o.insert("message".into(), d.message.clone().into());
            match d.primary_span() {
                Some(span) => {
                    let (l, c) = sources.line_col(span);
                    o.insert("file".into(), sources.get(span.file).name().into());
                    o.insert("line".into(), l.into());
                    o.insert("column".into(), c.into());
                    o.insert("text".into(), sources.snippet(span).into());
                }
                None => {
                    if let Some(f) = &d.file {
                        o.insert("file".into(), f.clone().into());
                    }
                }
            }
            if !d.notes.is_empty() {
                o.insert("notes".into(), d.notes.clone().into());
            }
            if let Some(h) = &d.help {
                o.insert("help".into(), h.clone().into());
            }
            serde_json::Value::Object(o)
        })
        .collect();
    serde_json::Value::Array(items)
}

/// Renders diagnostics as GitHub Actions workflow commands (`::error file=…,line=…`).
pub fn render_github(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let kind = match d.severity {
            crate::Severity::Error => "error",
            crate::Severity::Warning => "warning",
            crate::Severity::Note => "notice",
        };
        let mut loc = String::new();
        if let Some(span) = d.primary_span() {
            let (l, c) = sources.line_col(span);
            let _ = write!(
                loc,
                " file={},line={l},col={c}",
                sources.get(span.file).name()
            );
        } else if let Some(f) = &d.file {
            let _ = write!(loc, " file={f}");
        }
        let mut msg = format!("[{}] {}", d.code, d.message);
        if let Some(h) = &d.help {
            let _ = write!(msg, " (help: {h})");
        }
        let msg = msg
            .replace('%', "%25")
            .replace('\n', "%0A")
            .replace('\r', "%0D");
        let _ = writeln!(out, "::{kind}{loc}::{msg}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Span;

    #[test]
    fn human_rendering_marks_the_span() {
        let mut m = SourceMap::default();
        let f = m.add("a.yaml", "x: 1\nto: backnd\n".to_string());
        let d = Diagnostic::error("NP2003", "unknown group `backnd`")
            .with_label(Span::new(f, 9, 15), "no group of this name")
            .with_help("did you mean `backend`?");
        let out = render_human(&m, &[d]);
        assert!(out.contains("a.yaml:2:5"), "{out}");
        assert!(out.contains("2 | to: backnd"), "{out}");
        assert!(
            out.contains("  |     ^^^^^^ no group of this name"),
            "{out}"
        );
        assert!(out.contains("= help: did you mean `backend`?"), "{out}");
    }

    #[test]
    fn json_and_github_carry_positions() {
        let mut m = SourceMap::default();
        let f = m.add("a.yaml", "to: backnd\n".to_string());
        let d = Diagnostic::error("NP2003", "bad").with_label(Span::new(f, 4, 10), "");
        let j = render_json(&m, std::slice::from_ref(&d));
        assert_eq!(j[0]["line"], 1);
        assert_eq!(j[0]["column"], 5);
        assert_eq!(j[0]["text"], "backnd");
        assert_eq!(
            render_github(&m, &[d]),
            "::error file=a.yaml,line=1,col=5::[NP2003] bad\n"
        );
    }
}
