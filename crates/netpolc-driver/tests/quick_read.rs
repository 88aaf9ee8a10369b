//! The fast reader of emitted YAML (`netpolc_intent::yaml::quick::read`, and `read_doc`,
//! the document the pipeline reads, as the same tree) against the emitter and the full
//! loader:
//!
//! - `golden_documents_read_fast`: every document of golden/ (the three back ends) is read
//!   by the fast reader, as the loader reads it;
//! - `emitted_values_read_back` (property): random JSON values, written by the emitter,
//!   are read by the fast reader, as themselves and as the loader reads them;
//! - `mutated_texts_read_as_the_loader_does` (property): emitted texts with random edits
//!   of YAML-significant characters and lines are either not read by the fast reader or
//!   read as the loader reads them (one document, the same value).

use netpolc_driver::emit;
use netpolc_intent::yaml::{load_all_parsed, quick, Limits};
use netpolc_source::FileId;
#[path = "../../netpolc-intent/tests/support/yaml_texts.rs"]
mod yaml_texts;

use proptest::prelude::*;
use serde_json::{Map, Number, Value};
use std::path::{Path, PathBuf};
use yaml_texts::{apply, edit, yaml_files, Edit};

/// The loader's reading of a text when it is exactly one document.
fn loader(text: &str) -> Option<Value> {
    match load_all_parsed(FileId(0), text.as_bytes(), &Limits::default()) {
        Ok(docs) if docs.len() == 1 => Some(docs[0].to_json()),
        _ => None,
    }
}

/// The documents of a golden/ file: the header comment dropped, split on the `---` lines
/// the golden writer puts between documents.
fn documents(text: &str) -> Vec<String> {
    let body: String = text
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    body.split("---\n")
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

/// The documents of every golden/ file of the repository (and of the folders named in
/// `NETPOLC_QUICK_READ_GOLDEN`, separated by `:`, to check a generated repository).
fn golden_documents() -> Vec<(PathBuf, String)> {
    let mut roots = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../../golden")];
    if let Ok(extra) = std::env::var("NETPOLC_QUICK_READ_GOLDEN") {
        roots.extend(
            extra
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        );
    }
    let mut files = Vec::new();
    for root in &roots {
        yaml_files(root, &mut files);
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for d in documents(&text) {
            out.push((f.clone(), d));
        }
    }
    out
}

#[test]
fn golden_documents_read_fast() {
    let docs = golden_documents();
    let targets: std::collections::BTreeSet<String> = docs
        .iter()
        .filter_map(|(f, _)| f.to_str().and_then(|s| s.split("golden/").nth(1)))
        .filter_map(|s| s.split('/').next().map(str::to_string))
        .collect();
    for t in ["calico", "cilium", "kubernetes"] {
        assert!(targets.contains(t), "no golden files of {t}");
    }
    assert!(docs.len() > 20, "{} documents", docs.len());
    for (file, doc) in &docs {
        let fast = quick::read(doc);
        assert!(fast.is_some(), "{}: not read fast:\n{doc}", file.display());
        assert_eq!(fast, loader(doc), "{}:\n{doc}", file.display());
        // The document the pipeline reads is that same tree.
        let d = quick::read_doc(doc).map(|d| d.to_value());
        assert_eq!(d, fast, "{}", file.display());
        assert!(
            quick::matches(doc, fast.as_ref().unwrap()),
            "{}",
            file.display()
        );
        // And each document is what the emitter writes for its value.
        assert_eq!(&emit::to_yaml(fast.as_ref().unwrap()), doc);
    }
}

/// Strings that YAML readers are apt to take for something else.
const SENSITIVE: &[&str] = &[
    "",
    " ",
    "yes",
    "No",
    "on",
    "y",
    "null",
    "Null",
    "NULL",
    "~",
    "true",
    "False",
    "0x1F",
    "0o17",
    "0777",
    "1e3",
    "1_000",
    "+1",
    "-5",
    "1.5",
    ".5",
    ".inf",
    "-.inf",
    ".nan",
    "8080",
    "10.0.0.0/8",
    "2001:db8::/32",
    "app.kubernetes.io/name",
    "-",
    "- x",
    "-x",
    "--",
    "---",
    "...",
    "a: b",
    "a:b",
    "a:",
    ":",
    "?",
    "? x",
    "#x",
    "a #b",
    "a#b",
    "x #",
    "'x'",
    "\"x\"",
    "\\",
    "\\n",
    "|",
    "|-",
    ">",
    "&a",
    "*a",
    "!x",
    "!!str",
    "%YAML",
    "@x",
    "`x`",
    "[x]",
    "{x}",
    "{}",
    "[]",
    ",",
    "<<",
    "é",
    "日本語",
    "🦀",
    "\u{a0}x\u{a0}",
    "\u{3000}",
    "\u{0}",
    "\u{1}",
    "\t",
    "\r",
    "\r\n",
    "\u{7f}",
    "\u{85}",
    "\u{9f}",
    "\u{2028}",
    "\u{2029}",
    "\u{feff}",
    "\u{fffd}",
    "\u{fffe}",
    "\u{ffff}",
    "x\n\u{9f}",
    "x\n\u{fffe}",
    "x\n",
    "\nx",
    "x\ny",
    "x\n y",
    "x\n#y",
    "x \ny",
    "x\n\ny",
    "x[0]: s/i\nx[1]: s/j",
    "- a\n- b",
    "a: b\nc: d",
    "é\nü",
];

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(SENSITIVE).prop_map(str::to_string),
        2 => "[a-z0-9./_-]{1,12}",
        1 => "\\PC{0,10}",
        1 => "[\\x00-\\x1f\\x7f -~]{0,6}",
        // Several lines, some of which a literal block can hold.
        1 => prop::collection::vec("[ -~é]{0,8}", 2..5).prop_map(|l| l.join("\n")),
        1 => prop::collection::vec("[a-z:#\\[\\]{}\"' -]{1,8}", 2..4).prop_map(|l| l.join("\n")),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        (-100i32..100).prop_map(|i| Value::from(f64::from(i) / 8.0)),
        string().prop_map(Value::String),
        Just(Value::Object(Map::new())),
        Just(Value::Array(Vec::new())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 64, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((string(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Characters that change what YAML text means.
const SIGNIFICANT: &[char] = &[
    ':', '#', '-', ' ', '"', '\\', '\n', '\'', '|', '>', '&', '*', '!', '{', '}', '[', ']', '\t',
    ',', '?', '%', '@', '`', '.', '~', 'a', '0', '1', 'u', 'x', 'e', '\r',
];

/// Texts to mutate: emitted random values and golden/ documents.
fn seed_text() -> impl Strategy<Value = String> {
    let golden: Vec<String> = golden_documents().into_iter().map(|(_, d)| d).collect();
    prop_oneof![
        value().prop_map(|v| emit::to_yaml(&v)),
        prop::sample::select(golden),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn emitted_values_read_back(v in value()) {
        let text = emit::to_yaml(&v);
        prop_assert_eq!(quick::read(&text), Some(v.clone()), "quick:\n{}", text);
        prop_assert_eq!(quick::read_doc(&text).map(|d| d.to_value()), Some(v.clone()), "doc:\n{}", text);
        prop_assert!(quick::matches(&text, &v), "matches:\n{}", text);
        prop_assert_eq!(loader(&text), Some(v), "loader:\n{}", text);
    }

    #[test]
    fn mutated_texts_read_as_the_loader_does(
        text in seed_text(),
        edits in prop::collection::vec(edit(SIGNIFICANT), 1..4),
    ) {
        let original = quick::read(&text);
        let mut mutated = text;
        for e in &edits {
            mutated = apply(&mutated, e);
        }
        // `matches` is true only when `read` gives the value; and whenever it does, but
        // for keys moved out of the value's order (swapped lines).
        if let Some(original) = &original {
            let same = quick::read(&mutated).as_ref() == Some(original);
            let matched = quick::matches(&mutated, original);
            prop_assert!(!matched || same, "{:?}", mutated);
            let swapped = edits.iter().any(|e| matches!(e, Edit::SwapLines(_)));
            prop_assert!(matched || !same || swapped, "{:?}", mutated);
        }
        let doc = quick::read_doc(&mutated).map(|d| d.to_value());
        prop_assert_eq!(&doc, &quick::read(&mutated), "doc: {:?}", mutated);
        if let Some(fast) = quick::read(&mutated) {
            prop_assert!(quick::matches(&mutated, &fast), "{:?}", mutated);
            prop_assert_eq!(Some(fast), loader(&mutated), "{:?}", mutated);
        }
    }
}
