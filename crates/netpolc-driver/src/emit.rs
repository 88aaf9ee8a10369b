//! The one YAML emitter: deterministic block-style YAML from JSON values.
//!
//! Keys keep the order of the value (serde_json with `preserve_order`), sequences are
//! written kubectl-style (`- ` at the parent key's indentation), and a string is written
//! plain only when no YAML 1.1 or 1.2 reader can take it for anything but that string;
//! otherwise it is double-quoted with JSON escapes. Numbers, booleans and null are
//! written as such, empty maps and lists as `{}` and `[]`.

use serde_json::Value;
use std::fmt::Write as _;

/// One document, ending in a newline, without a `---` marker.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, indent: usize) {
    for (k, v) in m {
        let _ = write!(out, "{:indent$}{}:", "", key(k));
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
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, a: &[Value], indent: usize) {
    for item in a {
        let _ = write!(out, "{:indent$}-", "");
        match item {
            Value::Object(m) if !m.is_empty() => {
                // The first key goes on the dash line; the rest align under it.
                let mut first = true;
                for (k, v) in m {
                    if first {
                        let _ = write!(out, " {}:", key(k));
                        first = false;
                    } else {
                        let _ = write!(out, "{:w$}{}:", "", key(k), w = indent + 2);
                    }
                    write_value_after_key(out, v, indent + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn key(k: &str) -> String {
    if plain_ok(k) {
        k.to_string()
    } else {
        quote(k)
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            if plain_ok(s) {
                s.clone()
            } else {
                quote(s)
            }
        }
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
    }
}

/// Whether a string can be written without quotes and read back as the same string by
/// any YAML reader (1.1 or 1.2 core schema).
pub fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphanumeric() || first == '/' || first == '_') {
        return false;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
    {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    const SPECIAL: [&str; 13] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf", "none", "~",
    ];
    if SPECIAL.contains(&lower.as_str()) {
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
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20
                || c == '\u{7f}'
                || c == '\u{85}'
                || c == '\u{2028}'
                || c == '\u{2029}'
                || c == '\u{feff}' =>
            {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
    }
}
