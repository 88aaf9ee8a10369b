//! Manifests read with their positions (`netpolc import`): every file is loaded with the
//! span-keeping YAML loader of `netpolc_intent::yaml` (duplicate keys, limits and syntax
//! errors are diagnostics with file:line:column and the `NP1001`–`NP1009` codes), `List`
//! objects are unpacked, and each object keeps its node so that a later error about a
//! field (`spec.ingress[0].from[1].ipBlock.cidr`) can point at the text.
//!
//! A [`FieldPath`] names a field of one object; [`Manifests::span`] finds its text (or
//! the nearest enclosing node that exists).

use netpolc_intent::yaml::{self, codes, Limits, Node};
use netpolc_source::{Diagnostic, Span};
use serde_json::Value;
use std::fmt;

/// Limits for manifests: sized for a cluster's policies exported whole (`kubectl get
/// networkpolicies -A -o yaml`), far above the intent files' limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestLimits {
    /// The YAML loader's limits per file.
    pub yaml: Limits,
    /// Most objects in all files together, after unpacking Lists.
    pub max_objects: usize,
}

impl Default for ManifestLimits {
    fn default() -> Self {
        ManifestLimits {
            yaml: Limits {
                max_file_size: 1 << 30,
                max_depth: 64,
                max_nodes: 20_000_000,
                max_alias_bytes: 16 << 20,
                max_scalar_len: 1 << 20,
                max_documents: 1_000_000,
                // A JSON document is one flow collection: the parser reads it whole.
                max_lookahead: 64 << 20,
            },
            max_objects: 1_000_000,
        }
    }
}

/// The objects of some files, with their positions.
#[derive(Debug, Default)]
pub struct Manifests {
    /// The files, for rendering diagnostics.
    pub sources: netpolc_source::SourceMap,
    /// Every object, Lists unpacked, in the order of the files and of their documents.
    pub objects: Vec<Value>,
    /// The node of each object (same index).
    nodes: Vec<Node>,
}

impl Manifests {
    /// Reads one file (YAML or JSON, several documents, Lists unpacked) and appends its
    /// objects.
    ///
    /// # Errors
    /// The loader's diagnostics (`NP1001`–`NP1009`, located), or `NP1009` when the files
    /// hold more than `limits.max_objects` objects.
    pub fn add(
        &mut self,
        name: &str,
        bytes: &[u8],
        limits: &ManifestLimits,
    ) -> Result<(), Vec<Diagnostic>> {
        let file = self
            .sources
            .add(name, String::from_utf8_lossy(bytes).into_owned());
        let docs = yaml::load_all(file, bytes, &limits.yaml).map_err(|all| {
            all.into_iter()
                .map(|d| match d.help {
                    Some(_) => d,
                    None => d.with_help(
                        "fix the YAML here, or pass the output of `kubectl get ... -o yaml` unchanged",
                    ),
                })
                .collect::<Vec<_>>()
        })?;
        for d in docs {
            self.push(d, limits)?;
        }
        Ok(())
    }

    fn push(&mut self, node: Node, limits: &ManifestLimits) -> Result<(), Vec<Diagnostic>> {
        if node.is_null() {
            return Ok(());
        }
        let is_list = node
            .get("kind")
            .and_then(Node::as_str)
            .is_some_and(|k| k.ends_with("List"))
            && node.get("items").and_then(Node::as_seq).is_some();
        if is_list {
            let items = node
                .get("items")
                .and_then(Node::as_seq)
                .map(<[Node]>::to_vec)
                .unwrap_or_default();
            for item in items {
                self.push(item, limits)?;
            }
            return Ok(());
        }
        if self.objects.len() >= limits.max_objects {
            return Err(vec![Diagnostic::error(
                codes::TOO_MANY_DOCUMENTS,
                format!("more than {} objects", limits.max_objects),
            )
            .with_label(node.span, "one object too many")
            .with_help("import the policies of fewer namespaces at once")]);
        }
        self.objects.push(node.to_json());
        self.nodes.push(node);
        Ok(())
    }

    /// The node of object `object`.
    pub fn node(&self, object: usize) -> Option<&Node> {
        self.nodes.get(object)
    }

    /// The text of a field of object `object` (an index into [`Manifests::objects`]):
    /// the value's node, or the key's with `key`; when the path leaves the tree, the
    /// deepest node on it. `None` for an unknown object.
    pub fn span(&self, object: usize, path: &FieldPath, key: bool) -> Option<Span> {
        let mut node = self.nodes.get(object)?;
        let mut at = node.span;
        let n = path.0.len();
        for (i, seg) in path.0.iter().enumerate() {
            let next = match seg {
                Seg::Key(k) => node
                    .as_map()
                    .and_then(|m| m.iter().find(|(kn, _)| kn.as_str() == Some(k.as_str()))),
                Seg::Index(j) => {
                    match node.as_seq().and_then(|s| s.get(*j)) {
                        Some(v) => {
                            node = v;
                            at = v.span;
                        }
                        None => return Some(at),
                    }
                    continue;
                }
            };
            let Some((k, v)) = next else {
                return Some(at);
            };
            if key && i + 1 == n {
                return Some(k.span);
            }
            node = v;
            // An empty value (`key:`) has no text: point at its key.
            at = if v.span.start == v.span.end {
                k.span
            } else {
                v.span
            };
        }
        Some(at)
    }
}

/// One step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// The path of a field in an object: `spec.ingress[0].from[1]`; keys that are not plain
/// words are written `["app.kubernetes.io/name"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    /// The empty path (the object itself).
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// Reads the notation of [`fmt::Display`] (`spec.ingress[0].from`); text it does not
    /// understand ends the path there.
    pub fn parse(text: &str) -> Self {
        let mut out = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                rest = r;
                continue;
            }
            if let Some(r) = rest.strip_prefix("[\"") {
                let Some(end) = r.find("\"]") else { break };
                out.push(Seg::Key(r[..end].to_string()));
                rest = &r[end + 2..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let Some(end) = r.find(']') else { break };
                let Ok(i) = r[..end].parse() else { break };
                out.push(Seg::Index(i));
                rest = &r[end + 1..];
            } else {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                out.push(Seg::Key(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        FieldPath(out)
    }

    /// This path and then a key.
    pub fn key(&self, k: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    /// This path and then an index.
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// Whether this is the object itself.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Index(j) => write!(f, "[{j}]")?,
                Seg::Key(k)
                    if !k.is_empty()
                        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Key(k) => write!(f, "[{}]", serde_json::to_string(k).unwrap_or_default())?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_and_parse_back() {
        let p = FieldPath::root()
            .key("spec")
            .key("podSelector")
            .key("matchLabels")
            .key("app.kubernetes.io/name");
        assert_eq!(
            p.to_string(),
            "spec.podSelector.matchLabels[\"app.kubernetes.io/name\"]"
        );
        assert_eq!(FieldPath::parse(&p.to_string()), p);
        let q = FieldPath::parse("spec.ingress[2].from[0]");
        assert_eq!(
            q,
            FieldPath::root()
                .key("spec")
                .key("ingress")
                .index(2)
                .key("from")
                .index(0)
        );
        assert_eq!(q.to_string(), "spec.ingress[2].from[0]");
    }

    #[test]
    fn lists_are_unpacked_and_fields_located() {
        let text =
            "kind: List\nitems:\n- kind: A\n  spec:\n    x: [1, 2]\n- kind: B\n---\nkind: C\n";
        let mut m = Manifests::default();
        m.add("m.yaml", text.as_bytes(), &ManifestLimits::default())
            .unwrap();
        assert_eq!(m.objects.len(), 3);
        assert_eq!(m.objects[2]["kind"], "C");
        let at = |o, p: &str, key| {
            let s = m.span(o, &FieldPath::parse(p), key).unwrap();
            m.sources.location(s)
        };
        assert_eq!(at(0, "spec.x[1]", false), "m.yaml:5:12");
        assert_eq!(at(0, "spec.x", true), "m.yaml:5:5");
        // A missing field: the deepest node that exists.
        assert_eq!(at(0, "spec.y.z", false), "m.yaml:5:5");
        assert_eq!(at(2, "", false), "m.yaml:8:1");
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_are_located() {
        let mut m = Manifests::default();
        let e = m
            .add("d.yaml", b"kind: A\nkind: B\n", &ManifestLimits::default())
            .unwrap_err();
        assert_eq!(e[0].code, "NP1004");
        assert_eq!(
            m.sources.location(e[0].primary_span().unwrap()),
            "d.yaml:2:1"
        );
        let e = m
            .add("s.yaml", b"kind: A\nspec: [\n", &ManifestLimits::default())
            .unwrap_err();
        assert_eq!(e[0].code, "NP1003");
    }
}
