//! The one YAML emitter: deterministic block-style YAML from JSON values.
//!
//! Keys keep the order of the value (serde_json with `preserve_order`), sequences are
//! written kubectl-style (`- ` at the parent key's indentation), and a string is written
//! plain only when no YAML 1.1 or 1.2 reader can take it for anything but that string;
//! otherwise it is double-quoted with JSON escapes. Numbers, booleans and null are
//! written as such, empty maps and lists as `{}` and `[]`.

use crate::Target;
use serde_json::Value;
use std::fmt::Write as _;

/// One rendered object as netpolc writes it: its YAML text (the bytes the proof reads
/// back, golden/ holds and `render` prints) and what golden/ needs to place it. The
/// pipeline keeps these instead of the objects' JSON trees, which cost several times the
/// text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emitted {
    /// One document, ending in a newline, without a `---` marker ([`to_yaml`]).
    pub yaml: String,
    /// The file it is written to, relative to `golden/<target>/`.
    pub file: String,
    /// Its `kind`.
    pub kind: String,
    /// Its `metadata.namespace` (empty when cluster-scoped).
    pub namespace: String,
    /// Its `metadata.name`.
    pub name: String,
    /// Its `netpolc.dev/source` annotation (the policy file it comes from).
    pub source: Option<String>,
}

impl Emitted {
    /// Emits one object of `target`.
    pub fn new(target: Target, object: &Value) -> Emitted {
        use netpolc_ir::backend::field;
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        let metadata = field(object, "metadata");
        Emitted {
            yaml: to_yaml(object),
            file: crate::golden::home(target, object),
            kind: text(field(object, "kind")),
            namespace: text(field(metadata, "namespace")),
            name: text(field(metadata, "name")),
            source: field(field(metadata, "annotations"), "netpolc.dev/source")
                .as_str()
                .map(str::to_string),
        }
    }

    /// Emits every object of `target`, on every core, in order.
    pub fn all(target: Target, objects: &[Value]) -> Vec<Emitted> {
        netpolc_ir::par::map(netpolc_ir::par::threads(), objects.len(), 256, |i| {
            Emitted::new(target, &objects[i])
        })
    }
}

/// One document, ending in a newline, without a `---` marker.
///
/// The text is written into a buffer kept by the thread, then copied into a string of
/// its exact length: a string grown while writing keeps up to twice its length, and the
/// pipeline holds every object's text.
pub fn to_yaml(value: &Value) -> String {
    thread_local! {
        static BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    BUFFER.with(|buffer| {
        // Writing never calls back here, but a buffer of its own is always correct.
        let mut own = String::new();
        let mut kept = buffer.try_borrow_mut();
        let out = match &mut kept {
            Ok(kept) => &mut **kept,
            Err(_) => &mut own,
        };
        out.clear();
        write_yaml(out, value);
        out.as_str().to_owned()
    })
}

/// Appends one document, ending in a newline, without a `---` marker, to `out` (no
/// intermediate strings: the whole file of a namespace is written into one buffer).
pub fn write_yaml(out: &mut String, value: &Value) {
    match value {
        Value::Object(m) if !m.is_empty() => write_map(out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(out, a, 0),
        other => {
            write_scalar(out, other);
            out.push('\n');
        }
    }
}

/// `s` plain when [`plain_ok`], else [`quote`]d.
pub fn quote_if_needed(s: &str) -> String {
    let mut out = String::new();
    write_str(&mut out, s);
    out
}

fn indent_to(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, indent: usize) {
    for (k, v) in m {
        indent_to(out, indent);
        write_str(out, k);
        out.push(':');
        write_value_after_key(out, v, indent);
    }
}

fn write_value_after_key(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, indent);
        }
        Value::String(s) if literal_ok(s) => {
            // Several lines (such as `netpolc.dev/rules`): a literal block, one line per
            // line, so that reviewers read them as written.
            out.push_str(" |-\n");
            for line in s.split('\n') {
                indent_to(out, indent + 2);
                out.push_str(line);
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            write_scalar(out, other);
            out.push('\n');
        }
    }
}

/// Whether a string of several lines reads back exactly from a `|-` literal block: no
/// empty line, no line starting or ending with white space, no `#` at a line's start,
/// nothing but printable characters besides the line breaks.
pub fn literal_ok(s: &str) -> bool {
    s.contains('\n')
        && s.split('\n').all(|line| {
            !line.is_empty()
                && !line.starts_with([' ', '#'])
                && !line.ends_with(' ')
                && line.chars().all(|c| !c.is_control() && !escaped_raw(c))
        })
}

/// The characters besides controls that are written only escaped: line and paragraph
/// separators, the byte order mark and the noncharacters YAML does not allow in a stream.
fn escaped_raw(c: char) -> bool {
    matches!(
        c,
        '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
    )
}

fn write_seq(out: &mut String, a: &[Value], indent: usize) {
    for item in a {
        indent_to(out, indent);
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                // The first key goes on the dash line; the rest align under it.
                let mut first = true;
                for (k, v) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        indent_to(out, indent + 2);
                    }
                    write_str(out, k);
                    out.push(':');
                    write_value_after_key(out, v, indent + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, indent + 2);
            }
            other => {
                out.push(' ');
                write_scalar(out, other);
                out.push('\n');
            }
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    if plain_ok(s) {
        out.push_str(s);
    } else {
        quote_into(out, s);
    }
}

fn write_scalar(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_str(out, s),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

/// Whether a string can be written without quotes and read back as the same string by
/// any YAML reader (1.1 or 1.2 core schema).
pub fn plain_ok(s: &str) -> bool {
    /// ASCII letters, digits and `_./-`, by byte (every byte of another character is
    /// outside ASCII, so a byte test is a character test).
    const PLAIN: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            t[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-');
            b += 1;
        }
        t
    };
    let Some(&first) = s.as_bytes().first() else {
        return false;
    };
    if !(first.is_ascii_alphanumeric() || first == b'/' || first == b'_') {
        return false;
    }
    if !s.bytes().all(|b| PLAIN[usize::from(b)]) {
        return false;
    }
    const SPECIAL: [&str; 13] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf", "none", "~",
    ];
    if s.len() <= 5 && SPECIAL.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        return false;
    }
    // Anything that starts like a number (ints with `_`, floats such as `1.2.3` in YAML
    // 1.1, hex, octal, binary, dates) is quoted, unless a `/` rules all of those out
    // (CIDRs such as `10.0.0.0/8`).
    !first.is_ascii_digit() || s.contains('/')
}

/// A double-quoted YAML string with JSON-compatible escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    quote_into(&mut out, s);
    out
}

fn quote_into(out: &mut String, s: &str) {
    out.push('"');
    let mut rest = s;
    loop {
        // A run of printable ASCII other than `"` and `\` is written as it is, at once.
        let run = rest
            .bytes()
            .take_while(|&b| (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\')
            .count();
        out.push_str(&rest[..run]);
        rest = &rest[run..];
        let Some(c) = rest.chars().next() else {
            break;
        };
        rest = &rest[c.len_utf8()..];
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Every character a YAML stream may not hold (C0 and C1 controls, DEL, the
            // noncharacters U+FFFE and U+FFFF), and those some readers take for a line
            // break or a byte order mark.
            c if c.is_control() || escaped_raw(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_style() {
        let v = json!({
            "apiVersion": "v1",
            "metadata": {"name": "x", "labels": {"app.kubernetes.io/managed-by": "netpolc"}},
            "spec": {"podSelector": {}, "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432, "protocol": "TCP"}]}], "empty": []}
        });
        let expected = "\
apiVersion: v1
metadata:
  name: x
  labels:
    app.kubernetes.io/managed-by: netpolc
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
  empty: []
";
        assert_eq!(to_yaml(&v), expected);
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

    #[test]
    fn several_lines_as_a_literal_block() {
        let v = json!({"a": {"k": "x[0]: s/i\nx[1]: s/j"}, "b": "one\n two", "c": "x\n"});
        assert_eq!(
            to_yaml(&v),
            "a:\n  k: |-\n    x[0]: s/i\n    x[1]: s/j\nb: \"one\\n two\"\nc: \"x\\n\"\n"
        );
        // The loader reads every form back as the same string.
        assert_eq!(crate::verify::parse_yaml("t", &to_yaml(&v)), Ok(vec![v]));
    }
}
