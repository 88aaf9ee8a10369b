//! Block-style YAML written piece by piece, in exactly the layout of the emitter of
//! [`super`]: what a back end's direct text writer (the Kubernetes, Calico and Cilium
//! `text` modules) is made of, so that each writes only its own objects' keys and
//! nesting, and decides no scalar's form itself.
//!
//! The layout: a map's keys on lines of their own two spaces deeper than its key, or
//! the first key of a sequence item on the dash line; sequences kubectl-style (`- ` at
//! the indentation of the key they are the value of); empty maps and lists as `{}` and
//! `[]`; a string after a key plain, as a `|-` literal block or double-quoted, and an item
//! of a sequence plain or double-quoted, by the emitter's own tests ([`super::write_str`]);
//! integers in decimal. Keys are written as they are: the callers' keys are plain words.

use super::{indent_to, literal_ok, plain_ok, push_decimal, quote_into, write_str};
use std::collections::BTreeMap;

/// Where a map or a scalar goes: after the `key:` of a line indented by the number, or
/// after a sequence item's dash at the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// After the `key:` of a line indented by this many spaces.
    After(usize),
    /// After a sequence item's dash at this column.
    Item(usize),
}

/// Where a map's next key goes: on the dash line of a sequence item (after one space)
/// for the first key of an item, else on a line of its own at its indentation.
#[derive(Clone, Copy, Debug)]
pub struct Keys {
    indent: usize,
    inline: bool,
}

impl Keys {
    /// The keys of the document itself, at column 0.
    pub fn top() -> Keys {
        Keys {
            indent: 0,
            inline: false,
        }
    }

    /// The keys of a map whose key line is indented by `indent` (its keys two more).
    pub fn under(indent: usize) -> Keys {
        Keys {
            indent: indent + 2,
            inline: false,
        }
    }

    /// The keys of a map that is an item of a sequence whose dashes are at `dash`.
    pub fn item(dash: usize) -> Keys {
        Keys {
            indent: dash + 2,
            inline: true,
        }
    }

    /// The indentation of the keys' lines.
    pub fn indent(&self) -> usize {
        self.indent
    }

    /// Starts an entry: the space after the dash, or the indentation.
    pub fn start(&mut self, out: &mut String) {
        if self.inline {
            out.push(' ');
            self.inline = false;
        } else {
            indent_to(out, self.indent);
        }
    }

    /// Writes `key:` (a plain word); its value goes after it, at the place returned.
    /// Debug builds check that the key is one the emitter writes as it is.
    pub fn key(&mut self, out: &mut String, key: &str) -> At {
        debug_assert!(plain_ok(key), "{key:?} is not a plain key");
        self.start(out);
        out.push_str(key);
        out.push(':');
        self.value()
    }

    /// Where the value of the key just written goes.
    pub fn value(&self) -> At {
        At::After(self.indent)
    }
}

/// Opens a map of `entries` at `at`: `{}` when it has none (then `None`), else where its
/// keys go.
pub fn open(out: &mut String, at: At, entries: usize) -> Option<Keys> {
    match at {
        At::After(indent) => open_map(out, entries).then(|| Keys::under(indent)),
        At::Item(dash) => open_item(out, entries).then(|| Keys::item(dash)),
    }
}

/// An object's `apiVersion` and `kind`, at the top of its document: the keys that
/// follow (`metadata`, `spec`) go where the returned keys put them.
pub fn head(out: &mut String, api_version: &str, kind: &str) -> Keys {
    let mut keys = Keys::top();
    keys.key(out, "apiVersion");
    scalar(out, 0, api_version);
    keys.key(out, "kind");
    scalar(out, 0, kind);
    keys
}

/// How many of `present` are true: the entries a map writes.
pub fn count(present: &[bool]) -> usize {
    present.iter().filter(|p| **p).count()
}

/// Opens a map after its key: `{}` when it has no entries, else a line break (the
/// entries follow). Whether it has entries.
pub fn open_map(out: &mut String, entries: usize) -> bool {
    if entries == 0 {
        out.push_str(" {}\n");
        false
    } else {
        out.push('\n');
        true
    }
}

/// Opens a map item after its dash: `{}` when it has no entries (the entries follow on
/// the dash line otherwise). Whether it has entries.
pub fn open_item(out: &mut String, entries: usize) -> bool {
    if entries == 0 {
        out.push_str(" {}\n");
    }
    entries != 0
}

/// Opens a sequence after its key: `[]` when it has no items, else a line break.
pub fn open_seq(out: &mut String, items: usize) {
    out.push_str(if items == 0 { " []\n" } else { "\n" });
}

/// A sequence item's dash at `dash`.
pub fn dash(out: &mut String, dash: usize) {
    indent_to(out, dash);
    out.push('-');
}

/// The items of a sequence after the `key:` of a line indented by `indent` (dashes at
/// `indent`), each written by `item` after its dash; `None` as soon as an item is.
pub fn seq<T>(
    out: &mut String,
    indent: usize,
    items: &[T],
    mut item: impl FnMut(&mut String, At, &T) -> Option<()>,
) -> Option<()> {
    open_seq(out, items.len());
    for i in items {
        dash(out, indent);
        item(out, At::Item(indent), i)?;
    }
    Some(())
}

/// A string at `at`: after a key ([`scalar`]) or after a dash ([`item`]).
pub fn string(out: &mut String, at: At, s: &str) {
    match at {
        At::After(indent) => scalar(out, indent, s),
        At::Item(_) => item(out, s),
    }
}

/// A string after the `key:` of a line indented by `indent`, as the emitter writes it:
/// plain when that is safe, else as a `|-` literal block (several lines that read back
/// exactly from one), else double-quoted.
pub fn scalar(out: &mut String, indent: usize, s: &str) {
    // Each test once, in the emitter's order (`write_str` would test `plain_ok` again).
    if plain_ok(s) {
        out.push(' ');
        out.push_str(s);
        out.push('\n');
    } else if literal_ok(s) {
        out.push_str(" |-\n");
        for line in s.split('\n') {
            indent_to(out, indent + 2);
            out.push_str(line);
            out.push('\n');
        }
    } else {
        out.push(' ');
        quote_into(out, s);
        out.push('\n');
    }
}

/// A string as an item of a sequence (after its dash): plain or double-quoted, never a
/// literal block.
pub fn item(out: &mut String, s: &str) {
    out.push(' ');
    write_str(out, s);
    out.push('\n');
}

/// An integer after a key or a dash.
pub fn integer(out: &mut String, n: i64) {
    out.push(' ');
    if n < 0 {
        out.push('-');
    }
    push_decimal(out, n.unsigned_abs());
    out.push('\n');
}

/// A boolean after a key or a dash.
pub fn boolean(out: &mut String, b: bool) {
    out.push_str(if b { " true\n" } else { " false\n" });
}

/// A list of strings after the `key:` of a line indented by `indent`.
pub fn strings<S: AsRef<str>>(out: &mut String, indent: usize, list: &[S]) {
    open_seq(out, list.len());
    for s in list {
        dash(out, indent);
        item(out, s.as_ref());
    }
}

/// A map of strings (labels, annotations, `matchLabels`) at `at`: its keys written as
/// the emitter writes any string key.
pub fn string_map(out: &mut String, at: At, map: &BTreeMap<String, String>) {
    if let Some(mut keys) = open(out, at, map.len()) {
        for (k, v) in map {
            keys.start(out);
            write_str(out, k);
            out.push(':');
            string(out, keys.value(), v);
        }
    }
}

/// An object's `metadata` map, after its key at the document's top: the name,
/// namespace, labels and annotations given, in that order (the order netpolc's objects
/// declare them).
pub fn metadata(
    out: &mut String,
    name: Option<&str>,
    namespace: Option<&str>,
    labels: Option<&BTreeMap<String, String>>,
    annotations: Option<&BTreeMap<String, String>>,
) {
    let entries = count(&[
        name.is_some(),
        namespace.is_some(),
        labels.is_some(),
        annotations.is_some(),
    ]);
    let Some(mut keys) = open(out, At::After(0), entries) else {
        return;
    };
    for (key, value) in [("name", name), ("namespace", namespace)] {
        if let Some(value) = value {
            let at = keys.key(out, key);
            string(out, at, value);
        }
    }
    for (key, map) in [("labels", labels), ("annotations", annotations)] {
        if let Some(map) = map {
            let at = keys.key(out, key);
            string_map(out, at, map);
        }
    }
}

/// [`metadata`] of a Calico or Cilium object ([`crate::metadata::ObjectMeta`]: its name
/// always, the rest when present).
pub fn object_meta(out: &mut String, meta: &crate::metadata::ObjectMeta) {
    let crate::metadata::ObjectMeta {
        name,
        namespace,
        labels,
        annotations,
    } = meta;
    metadata(
        out,
        Some(name),
        namespace.as_deref(),
        (!labels.is_empty()).then_some(labels),
        (!annotations.is_empty()).then_some(annotations),
    );
}

/// Annotations in every form the emitter gives a string or a key (plain, double-quoted,
/// `|-` literal blocks, lines that cannot be one, text outside ASCII): what each back
/// end's text writer is tested with, against the emitter.
pub fn sample_annotations() -> BTreeMap<String, String> {
    [
        ("netpolc.dev/intent", "a/b, a/c"),
        (
            "netpolc.dev/rules",
            "spec.ingress[0]: a/b\nspec.ingress[1]: a/c",
        ),
        ("blank", "line\n\nbreak"),
        ("hash", "a\n# b"),
        ("space", "a \nb"),
        ("tab", "a\tb\nc"),
        ("quote", "say \"hi\""),
        ("empty", ""),
        ("number", "0123"),
        ("with: colon", "-1"),
        ("a key: odd", "é"),
        ("accented", "é\nb"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every piece, written by hand, is what the emitter writes for the same value.
    #[test]
    fn pieces_are_written_as_the_emitter_writes_them() {
        let texts = [
            "",
            "web",
            "app.kubernetes.io/name",
            "true",
            "8080",
            "a b",
            " lead",
            "two\nlines",
            "ns-1/allow-dns\nns-1/deny-db",
            "ünïcode\nlines",
            "tab\there\nx",
            "# not a comment\nx",
            "trailing \nx",
            "\nempty first",
            "line\u{2028}sep\nx",
        ];
        for s in texts {
            let map: BTreeMap<String, String> = [
                ("k".to_string(), s.to_string()),
                (s.to_string(), "v".to_string()),
            ]
            .into_iter()
            .collect();
            let value = serde_json::json!({
                "a": s,
                "list": [s, s],
                "empty": [],
                "nothing": {},
                "map": map,
                "neg": -42,
                "pos": 7,
                "flag": true,
            });
            let want = crate::yaml::to_string(&value).expect("a JSON tree is written");
            let list = [s, s];
            // The document's keys at column 0, in the order the tree keeps them.
            let mut doc = String::new();
            let mut top = Keys::top();
            for key in value.as_object().expect("a map").keys() {
                top.key(&mut doc, key);
                match key.as_str() {
                    "a" => scalar(&mut doc, 0, s),
                    "list" => strings(&mut doc, 0, &list),
                    "empty" => strings::<&str>(&mut doc, 0, &[]),
                    "nothing" => {
                        open_map(&mut doc, 0);
                    }
                    "map" => string_map(&mut doc, At::After(0), &map),
                    "neg" => integer(&mut doc, -42),
                    "pos" => integer(&mut doc, 7),
                    _ => boolean(&mut doc, true),
                }
            }
            assert_eq!(doc, want, "{s:?}");
        }
    }

    /// A key the emitter would quote is a writer's mistake, caught in debug builds.
    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "is not a plain key")]
    fn a_key_that_needs_quotes_is_refused() {
        Keys::top().key(&mut String::new(), "yes");
    }

    /// A map item's first key goes on the dash line, the others under it.
    #[test]
    fn an_item_s_first_key_is_on_its_dash_line() {
        let want = crate::yaml::to_string(&serde_json::json!({
            "items": [{"a": "x", "b": [1, 2]}, {}],
        }))
        .expect("a JSON tree is written");
        let mut doc = String::from("items:");
        open_seq(&mut doc, 2);
        dash(&mut doc, 0);
        assert!(open_item(&mut doc, 2));
        let mut keys = Keys::item(0);
        keys.key(&mut doc, "a");
        scalar(&mut doc, keys.indent(), "x");
        keys.key(&mut doc, "b");
        open_seq(&mut doc, 2);
        for n in [1, 2] {
            dash(&mut doc, keys.indent());
            integer(&mut doc, n);
        }
        dash(&mut doc, 0);
        assert!(!open_item(&mut doc, 0));
        assert_eq!(doc, want);
    }
}
