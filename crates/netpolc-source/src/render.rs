//! Renderers: human text (with the offending line, cut around the marker when long, and
//! a marker; notes alike shown three at a time, the rest counted), JSON, GitHub workflow
//! annotations and SARIF (every diagnostic each).
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
///
/// Notes alike (same code, notes, help and target, as a repository of 2,000 namespaces
/// gives one per namespace) are shown three at a time: the rest are counted in
/// one closing note per kind, naming where the first of them are (`--diagnostics json`
/// lists every one). Errors and warnings are always shown each.
pub fn render_human(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    // Per kind of note, in order of first appearance: its first note, how many shown,
    // where the others are.
    type Kind<'d> = (&'static str, &'d [String], Option<&'d str>, Option<&'d str>);
    let mut kinds: Vec<(&Diagnostic, usize, Vec<String>)> = Vec::new();
    let mut index: std::collections::HashMap<Kind<'_>, usize> = std::collections::HashMap::new();
    for d in diagnostics {
        if d.severity == crate::Severity::Note {
            let kind: Kind<'_> = (d.code, &d.notes, d.help.as_deref(), d.target.as_deref());
            let k = *index.entry(kind).or_insert_with(|| {
                kinds.push((d, 0, Vec::new()));
                kinds.len() - 1
            });
            let (_, shown, rest) = &mut kinds[k];
            if *shown >= NOTES_ALIKE {
                rest.push(match location(sources, d) {
                    (Some(f), Some(l), Some(c)) => format!("{f}:{l}:{c}"),
                    (Some(f), Some(l), None) => format!("{f}:{l}"),
                    (Some(f), None, _) => f,
                    _ => bounded(&d.message).into_owned(),
                });
                continue;
            }
            *shown += 1;
        }
        let _ = writeln!(
            out,
            "{}[{}]: {}",
            d.severity.as_str(),
            d.code,
            bounded(&d.message)
        );
        if d.labels.is_empty() {
            if let Some(file) = &d.file {
                match d.line {
                    Some(l) => {
                        let _ = writeln!(out, "  --> {file}:{l}");
                    }
                    None => {
                        let _ = writeln!(out, "  --> {file}");
                    }
                }
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
            // The marker covers the span's part on this line, at least one column.
            let (end_line, end_col) = file.line_col(label.span.end);
            let line_chars = text.chars().count();
            let len = if end_line == line && end_col > col {
                end_col - col
            } else {
                (line_chars + 1).saturating_sub(col).max(1)
            };
            let (shown, pad, len) = window(text, line_chars, col - 1, len.max(1));
            let _ = writeln!(out, "{line} | {shown}");
            let mark = if label.primary { "^" } else { "-" };
            let _ = writeln!(
                out,
                "{:w$} | {:pad$}{}{}{}",
                "",
                "",
                mark.repeat(len),
                if label.message.is_empty() { "" } else { " " },
                bounded(&label.message),
                w = width,
                pad = pad
            );
        }
        if let Some(t) = &d.target {
            let _ = writeln!(out, "   = target: {t}");
        }
        for note in &d.notes {
            let _ = writeln!(out, "   = note: {}", bounded(note));
        }
        if let Some(help) = &d.help {
            let _ = writeln!(out, "   = help: {}", bounded(help));
        }
        out.push('\n');
    }
    for (first, shown, rest) in kinds.iter().filter(|k| !k.2.is_empty()) {
        let named: Vec<&str> = rest.iter().take(PLACES_NAMED).map(String::as_str).collect();
        let more = rest.len() - named.len();
        let _ = writeln!(
            out,
            "note[{}]: {} more like the {shown} above, at {}{}",
            first.code,
            rest.len(),
            named.join(", "),
            match more {
                0 => String::new(),
                1 => " and 1 other place".to_string(),
                n => format!(" and {n} other places"),
            }
        );
        if let Some(t) = &first.target {
            let _ = writeln!(out, "   = target: {t}");
        }
        for note in &first.notes {
            let _ = writeln!(out, "   = note: {}", bounded(note));
        }
        let _ = writeln!(out, "   = help: `--diagnostics json` lists each of them");
        out.push('\n');
    }
    out
}

/// Notes of one kind shown each by [`render_human`]; the others are counted.
const NOTES_ALIKE: usize = 3;

/// Places named in the note that counts the notes [`render_human`] left out.
const PLACES_NAMED: usize = 5;

/// Longest message, label, note or help printed whole, in characters.
const MAX_MESSAGE: usize = 400;

/// A message cut in the middle when it is longer than [`MAX_MESSAGE`] (a message quoting a
/// 65,000-character name stays short).
fn bounded(text: &str) -> std::borrow::Cow<'_, str> {
    let n = text.chars().count();
    if n <= MAX_MESSAGE {
        return std::borrow::Cow::Borrowed(text);
    }
    let head: String = text.chars().take(MAX_MESSAGE - 100).collect();
    let tail: String = text.chars().skip(n - 80).collect();
    std::borrow::Cow::Owned(format!(
        "{head}…({} characters left out)…{tail}",
        n - (MAX_MESSAGE - 100) - 80
    ))
}

/// Longest source line shown whole, in characters.
const MAX_LINE: usize = 120;
/// Context shown on each side of the marker when a line is cut.
const CONTEXT: usize = 40;
/// Longest marker drawn under a cut line.
const MAX_MARK: usize = 40;

/// The part of a source line to show, the marker's offset in it and the marker's length
/// (all in characters). Lines longer than [`MAX_LINE`] are cut around the marker, with
/// `…` where text was left out, so a 3 MB scalar does not print 3 MB. Tabs are shown as
/// spaces and other control characters as `?` (they would garble the terminal).
fn window(text: &str, chars: usize, start: usize, len: usize) -> (String, usize, usize) {
    let clean = |c: char| match c {
        '\t' => ' ',
        c if c.is_control() => '?',
        c => c,
    };
    if chars <= MAX_LINE {
        return (text.chars().map(clean).collect(), start, len);
    }
    let len = len.min(MAX_MARK);
    let from = start.saturating_sub(CONTEXT);
    let to = (start + len + CONTEXT).min(chars);
    let mut shown = String::new();
    if from > 0 {
        shown.push('…');
    }
    shown.extend(text.chars().skip(from).take(to - from).map(clean));
    if to < chars {
        shown.push('…');
    }
    (shown, start - from + usize::from(from > 0), len)
}

/// One diagnostic as a JSON object: `code`, `severity`, `message`, `file`, `line` and
/// `column` (1-based, characters) of the primary label, `target`, `text`, `notes`, `help`.
fn json_one(sources: &SourceMap, d: &Diagnostic) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("code".into(), d.code.into());
    o.insert("severity".into(), d.severity.as_str().into());
    o.insert("message".into(), bounded(&d.message).into_owned().into());
    let (file, line, column) = location(sources, d);
    o.insert(
        "file".into(),
        file.map_or(serde_json::Value::Null, Into::into),
    );
    o.insert(
        "line".into(),
        line.map_or(serde_json::Value::Null, Into::into),
    );
    o.insert(
        "column".into(),
        column.map_or(serde_json::Value::Null, Into::into),
    );
    o.insert(
        "target".into(),
        d.target.clone().map_or(serde_json::Value::Null, Into::into),
    );
    if let Some(span) = d.primary_span() {
        let text = sources.snippet(span);
        let clipped: String = text.chars().take(200).collect();
        o.insert("text".into(), clipped.into());
    }
    if !d.notes.is_empty() {
        let notes: Vec<String> = d.notes.iter().map(|n| bounded(n).into_owned()).collect();
        o.insert("notes".into(), notes.into());
    }
    if let Some(h) = &d.help {
        o.insert("help".into(), bounded(h).into_owned().into());
    }
    serde_json::Value::Object(o)
}

/// File, line and column of a diagnostic: its primary label's, or its file and line.
fn location(sources: &SourceMap, d: &Diagnostic) -> (Option<String>, Option<usize>, Option<usize>) {
    match d.primary_span() {
        Some(span) => {
            let (l, c) = sources.line_col(span);
            (
                Some(sources.get(span.file).name().to_string()),
                Some(l),
                Some(c),
            )
        }
        None => (d.file.clone(), d.line, None),
    }
}

/// Renders diagnostics as one JSON array, one object per diagnostic, with `code`,
/// `severity`, `message`, `file`, `line`, `column` (1-based, characters; `null` when
/// unknown) and `target` (the back end, or `null`), plus `text`, `notes` and `help` when
/// there are some. A run prints one array, whatever the number of targets.
pub fn render_json(sources: &SourceMap, diagnostics: &[Diagnostic]) -> serde_json::Value {
    serde_json::Value::Array(diagnostics.iter().map(|d| json_one(sources, d)).collect())
}

/// Escapes a GitHub workflow command's data.
fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a GitHub workflow command's property value.
fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
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
        let (file, line, column) = location(sources, d);
        let mut props = Vec::new();
        if let Some(f) = file {
            props.push(format!("file={}", gh_property(&f)));
        }
        if let Some(l) = line {
            props.push(format!("line={l}"));
        }
        if let Some(c) = column {
            props.push(format!("col={c}"));
        }
        let mut title = d.code.to_string();
        if let Some(t) = &d.target {
            let _ = write!(title, " ({t})");
        }
        props.push(format!("title={}", gh_property(&title)));
        let mut msg = format!("[{}] {}", d.code, bounded(&d.message));
        if let Some(h) = &d.help {
            let _ = write!(msg, " (help: {})", bounded(h));
        }
        let _ = writeln!(out, "::{kind} {}::{}", props.join(","), gh_data(&msg));
    }
    out
}

/// Renders diagnostics as one SARIF 2.1.0 log (for GitHub code scanning and other SARIF
/// consumers): one run, one rule per code, one result per diagnostic, with the file as a
/// relative URI and the primary label's region.
pub fn render_sarif(sources: &SourceMap, diagnostics: &[Diagnostic]) -> serde_json::Value {
    let mut codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    codes.sort_unstable();
    codes.dedup();
    let rules: Vec<serde_json::Value> = codes
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c,
                "helpUri": format!("docs/diagnostics.md#{}", c.to_ascii_lowercase()),
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|d| {
            let level = match d.severity {
                crate::Severity::Error => "error",
                crate::Severity::Warning => "warning",
                crate::Severity::Note => "note",
            };
            let mut text = bounded(&d.message).into_owned();
            if let Some(h) = &d.help {
                let _ = write!(text, " (help: {})", bounded(h));
            }
            let mut r = serde_json::json!({
                "ruleId": d.code,
                "ruleIndex": codes.binary_search(&d.code).unwrap_or(0),
                "level": level,
                "message": {"text": text},
            });
            let (file, line, column) = location(sources, d);
            if let Some(f) = file {
                let mut region = serde_json::Map::new();
                if let Some(l) = line {
                    region.insert("startLine".into(), l.into());
                }
                if let Some(c) = column {
                    region.insert("startColumn".into(), c.into());
                }
                let mut physical = serde_json::json!({"artifactLocation": {"uri": f}});
                if !region.is_empty() {
                    physical["region"] = serde_json::Value::Object(region);
                }
                r["locations"] = serde_json::json!([{"physicalLocation": physical}]);
            }
            if let Some(t) = &d.target {
                r["properties"] = serde_json::json!({"target": t});
            }
            r
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "netpolc", "rules": rules}},
            "results": results,
        }],
    })
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
        assert_eq!(j[0]["target"], serde_json::Value::Null);
        assert_eq!(
            render_github(&m, &[d]),
            "::error file=a.yaml,line=1,col=5,title=NP2003::[NP2003] bad\n"
        );
    }

    #[test]
    fn long_lines_are_cut_around_the_marker() {
        let mut m = SourceMap::default();
        let long = "x".repeat(3 << 20);
        let text = format!("name: {long}\n");
        let f = m.add("a.yaml", text.clone());
        let d = Diagnostic::error("NP1007", "too long")
            .with_label(Span::new(f, 6, text.len() as u32 - 1), "this");
        let out = render_human(&m, std::slice::from_ref(&d));
        assert!(out.len() < 1000, "{} bytes", out.len());
        assert!(out.contains("1 | name: xxxx"), "{out}");
        assert!(out.contains("…"), "{out}");
        // A marker far to the right: the window follows it.
        let text = format!("{}bad\n", "y".repeat(100_000));
        let f = m.add("b.yaml", text);
        let d =
            Diagnostic::error("NP2003", "bad").with_label(Span::new(f, 100_000, 100_003), "here");
        let out = render_human(&m, &[d]);
        assert!(out.contains("2 | …") || out.contains("1 | …"), "{out}");
        let marked = out.lines().find(|l| l.contains("^^^")).unwrap();
        let shown = out
            .lines()
            .find(|l| l.contains("bad") && l.contains('…'))
            .unwrap();
        let col = |s: &str, pat: &str| s.find(pat).map(|i| s[..i].chars().count());
        assert_eq!(col(marked, "^^^"), col(shown, "bad"), "{out}");
    }

    #[test]
    fn json_github_and_sarif_carry_the_target() {
        let mut m = SourceMap::default();
        let f = m.add("a.yaml", "to: x\n".to_string());
        let d = Diagnostic::error("NP5003", "sctp")
            .with_label(Span::new(f, 4, 5), "")
            .with_target("cilium");
        assert_eq!(
            render_json(&m, std::slice::from_ref(&d))[0]["target"],
            "cilium"
        );
        assert!(render_github(&m, std::slice::from_ref(&d)).contains("title=NP5003 (cilium)"));
        let s = render_sarif(
            &m,
            &[
                d,
                Diagnostic::error("NP6003", "stale")
                    .with_file("golden/x.yaml")
                    .with_line(3),
            ],
        );
        let results = &s["runs"][0]["results"];
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            1
        );
        assert_eq!(
            results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "golden/x.yaml"
        );
        assert_eq!(
            results[1]["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert_eq!(s["runs"][0]["tool"]["driver"]["rules"][1]["id"], "NP6003");
    }

    #[test]
    fn notes_alike_are_shown_three_at_a_time_and_the_rest_counted() {
        let mut m = SourceMap::default();
        let files: Vec<_> = (0..9)
            .map(|i| m.add(format!("ns-{i}.yaml"), "presets: [allow-dns]\n".to_string()))
            .collect();
        let note = |i: usize| {
            Diagnostic::note("NP2021", format!("side of `ns-{i}/allow-dns` left alone"))
                .with_label(Span::new(files[i], 10, 19), "this intent")
                .with_note("namespace `kube-system` has no IntentSet")
        };
        let mut diags: Vec<Diagnostic> = (0..9).map(note).collect();
        // Another kind (another note text), a warning and an error among them: shown each.
        diags.insert(
            4,
            Diagnostic::note("NP2021", "other").with_note("namespace `x` has no IntentSet"),
        );
        diags.insert(5, Diagnostic::warning("NP2009", "a warning"));
        diags.push(Diagnostic::error("NP2003", "an error"));
        let out = render_human(&m, &diags);
        for i in 0..3 {
            assert!(out.contains(&format!("`ns-{i}/allow-dns`")), "{out}");
        }
        for i in 3..9 {
            assert!(!out.contains(&format!("`ns-{i}/allow-dns`")), "{out}");
        }
        assert!(out.contains("note[NP2021]: other"), "{out}");
        assert!(out.contains("warning[NP2009]: a warning"), "{out}");
        assert!(out.contains("error[NP2003]: an error"), "{out}");
        assert!(
            out.contains(
                "note[NP2021]: 6 more like the 3 above, at ns-3.yaml:1:11, ns-4.yaml:1:11, \
                 ns-5.yaml:1:11, ns-6.yaml:1:11, ns-7.yaml:1:11 and 1 other place\n   \
                 = note: namespace `kube-system` has no IntentSet\n"
            ),
            "{out}"
        );
        // JSON keeps every one.
        assert_eq!(
            render_json(&m, &diags).as_array().map(Vec::len),
            Some(diags.len())
        );
    }
}
