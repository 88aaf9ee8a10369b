//! What netpolc writes of an object ([`Emitted`]), and the YAML of JSON trees: the
//! emitter itself is [`netpolc_ir::yaml`] (the back ends write their typed objects with it
//! while they compile); this module writes trees with it.

use crate::Target;
use serde_json::Value;

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
        Emitted::written(target, to_yaml(object), object)
    }

    /// One object of `target` already written as `yaml`, which reads back as `object`.
    pub(crate) fn written(target: Target, yaml: String, object: &Value) -> Emitted {
        use netpolc_ir::backend::field;
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        let metadata = field(object, "metadata");
        Emitted {
            yaml,
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

/// One document, ending in a newline, without a `---` marker, in a string of its exact
/// length ([`netpolc_ir::yaml::to_string`]).
pub fn to_yaml(value: &Value) -> String {
    netpolc_ir::yaml::to_string(value).unwrap_or_default()
}

/// Appends one document, ending in a newline, without a `---` marker, to `out` (no
/// intermediate strings: the whole file of a namespace is written into one buffer).
pub fn write_yaml(out: &mut String, value: &Value) {
    netpolc_ir::yaml::write_value(out, value);
}

/// `s` plain when YAML readers take it for that string alone, else double-quoted
/// ([`netpolc_ir::yaml::write_str`]).
pub fn quote_if_needed(s: &str) -> String {
    let mut out = String::new();
    netpolc_ir::yaml::write_str(&mut out, s);
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
