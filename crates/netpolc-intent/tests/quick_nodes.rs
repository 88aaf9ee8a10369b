//! The fast reader of intent files (`netpolc_intent::yaml::quick_nodes::read`) against
//! the event parser (`load_all_parsed`): whenever the fast reader reads a text, the parser
//! reads the same documents, nodes, styles and spans; and `load_all`, which takes the fast
//! reader first, answers every text (read fast or not, valid or not) as the parser does.
//!
//! - `repository_files_read_as_the_loader_does`: every `.yaml` under policies/, tests/ and
//!   golden/; those of policies/ and the generated intent file must be read fast;
//! - `generated_files_read_as_the_loader_does`: the generated intent file of
//!   `GENERATED`, and every file of the folders named in `NETPOLC_QUICK_NODES_DIRS`
//!   (separated by `:`) when set, are read fast;
//! - `spans_of_every_construct`: one text per span rule (scalars, quotes with trailing
//!   comments, flow collections, block collections, `key:` empty values, `---`), read fast;
//! - `texts_outside_the_subset`: constructs the reader leaves to the loader;
//! - `limits_*`: texts at and one past the node, depth, scalar, file size, look-ahead and
//!   document limits, with small custom limits;
//! - `mutated_texts_read_as_the_loader_does` (property): texts of the subset with random
//!   edits of YAML-significant characters and lines are either not read fast or read as
//!   the loader reads them, and so are arbitrary short strings;
//! - `timing_read_vs_parser` (ignored, run by hand in release mode): the time of both
//!   over every file of a folder (`NETPOLC_QUICK_NODES_TIMING`, default
//!   `/tmp/r2000/policies`).

use netpolc_intent::yaml::{load_all, load_all_parsed, quick_nodes, Limits, Node, Value};
use netpolc_source::FileId;
#[path = "support/yaml_texts.rs"]
mod yaml_texts;

use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use yaml_texts::{apply, edit, yaml_files};

const FILE: FileId = FileId(3);

/// Checks the contract on one text: when `read` gives nodes, the loader gives the same.
/// Returns whether `read` read the text.
#[track_caller]
fn agrees(text: &str, limits: &Limits) -> bool {
    // The loader with its fast path answers as the parser alone, errors included.
    assert_eq!(
        load_all(FILE, text.as_bytes(), limits),
        load_all_parsed(FILE, text.as_bytes(), limits),
        "load_all differs from the parser on {text:?}"
    );
    let Some(fast) = quick_nodes::read(FILE, text, limits) else {
        return false;
    };
    match load_all_parsed(FILE, text.as_bytes(), limits) {
        Ok(full) => {
            if fast != full {
                panic!(
                    "read differs from the parser on {text:?}\n{}",
                    first_difference(text, &fast, &full)
                );
            }
        }
        Err(e) => panic!(
            "read gave {} documents, the parser failed on {text:?}: {:?}",
            fast.len(),
            e.iter().map(|d| &d.message).collect::<Vec<_>>()
        ),
    }
    true
}

/// Reads a text that must be in the subset, as the loader does.
#[track_caller]
fn reads(text: &str) {
    assert!(agrees(text, &Limits::default()), "not read fast: {text:?}");
}

/// A text outside the subset, or one the loader rejects: not read.
#[track_caller]
fn rejects(text: &str) {
    assert_eq!(
        quick_nodes::read(FILE, text, &Limits::default()),
        None,
        "{text:?}"
    );
}

/// The first node whose span or value differs, for messages.
fn first_difference(text: &str, a: &[Node], b: &[Node]) -> String {
    fn walk(text: &str, a: &Node, b: &Node) -> Option<String> {
        let show = |n: &Node| {
            format!(
                "{}..{} {:?}",
                n.span.start,
                n.span.end,
                text.get(n.span.start as usize..n.span.end as usize)
            )
        };
        if a.span != b.span {
            return Some(format!("read {} vs parser {}", show(a), show(b)));
        }
        match (&a.value, &b.value) {
            (Value::Seq(x), Value::Seq(y)) if x.len() == y.len() => {
                x.iter().zip(y).find_map(|(a, b)| walk(text, a, b))
            }
            (Value::Map(x), Value::Map(y)) if x.len() == y.len() => x
                .iter()
                .zip(y)
                .find_map(|((ka, va), (kb, vb))| walk(text, ka, kb).or_else(|| walk(text, va, vb))),
            (x, y) if x == y => None,
            (x, y) => Some(format!("at {}: read {x:?} vs parser {y:?}", show(a))),
        }
    }
    if a.len() != b.len() {
        return format!("{} documents vs {}", a.len(), b.len());
    }
    a.iter()
        .zip(b)
        .find_map(|(a, b)| walk(text, a, b))
        .unwrap_or_default()
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `.yaml` files of a folder of the repository, sorted, with their text (files that
/// are not UTF-8 left out).
fn repository_files(folder: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    yaml_files(&repository().join(folder), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(&f).ok()?;
            Some((f, text))
        })
        .collect()
}

/// A generated intent file as the repository generator writes them (the head of
/// `ns-0000.yaml` of a generated repository).
const GENERATED: &str = "\
apiVersion: netpolc.dev/v1alpha1
kind: IntentSet
metadata: {name: ns-0000}
spec:
  namespace: ns-0000
  namespaceLabels: {team: t0, tier: web}
  isolate: [ingress, egress]
  presets: [allow-dns, block-cloud-metadata]
  groups:
    web: {selector: {app: web}}
    api: {selector: {app: api}}
    db: {selector: {app: db}}
    peer-api: {selector: {app: api}, namespaces: [ns-0001]}
    team: {namespaces: {team: t1}}
    partner: {cidrs: [198.51.0.0/24]}
  intents:
    - {name: web-to-api, from: web, to: api, ports: [8080/tcp]}
    - {name: api-to-db, from: api, to: db, ports: [5432/tcp]}
    - {name: worker-batch, from: worker, to: api, ports: [30000-30100/tcp]}
    - {name: api-statsd, from: api, to: metrics, ports: [8125/udp]}
    - {name: no-web-to-db, from: web, to: db, ports: [5432/tcp], action: deny}
";

/// Files of policies/ that are legitimately outside the subset (none today).
const POLICIES_OUTSIDE: &[&str] = &[];

#[test]
fn repository_files_read_as_the_loader_does() {
    let limits = Limits::default();
    let mut read = 0;
    let mut total = 0;
    let mut not_read = Vec::new();
    for folder in ["policies", "tests", "golden"] {
        let files = repository_files(folder);
        assert!(!files.is_empty(), "no .yaml files under {folder}/");
        for (path, text) in files {
            total += 1;
            let name = path
                .strip_prefix(repository())
                .unwrap_or(&path)
                .display()
                .to_string();
            if agrees(&text, &limits) {
                read += 1;
            } else {
                if folder == "policies" && !POLICIES_OUTSIDE.iter().any(|p| name.ends_with(p)) {
                    panic!("{name}: not read fast");
                }
                not_read.push(name);
            }
        }
    }
    println!("{read} of {total} files read fast; not read:");
    for name in &not_read {
        println!("  {name}");
    }
    // The single-document intent files of tests/cases are in the subset (51 files today).
    assert!(read >= 45, "only {read} files read fast");
}

#[test]
fn generated_files_read_as_the_loader_does() {
    reads(GENERATED);
    // And the generated file's shape with its comments and blank lines moved about.
    reads(&format!(
        "# generated\n\n{}\n  # end\n",
        GENERATED.replace("  groups:\n", "\n  # groups\n  groups:   # the groups\n")
    ));
    let Ok(dirs) = std::env::var("NETPOLC_QUICK_NODES_DIRS") else {
        return;
    };
    for dir in dirs.split(':').filter(|d| !d.is_empty()) {
        let mut files = Vec::new();
        yaml_files(Path::new(dir), &mut files);
        assert!(!files.is_empty(), "no .yaml files under {dir}");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(
                agrees(&text, &Limits::default()),
                "{}: not read fast",
                f.display()
            );
        }
    }
}

/// One text per span rule of the reader, all in the subset.
const CONSTRUCTS: &[&str] = &[
    // Plain scalars, trailing spaces and comments, blank and comment lines.
    "a: 1\nb: x # c\n# d\n",
    "a: b c  d   # e\n\n\n   \n",
    "a:   x  \nb: -5\nc: .5\nd: a-b/c_d.e+f\n",
    "a: 1",
    "# only\n  # comments\n",
    "",
    // Quoted scalars: quotes included, and the spaces and comment after them.
    "a: 'x''y'  # c\nb: 'x'   \nc: \"q\\\"r\\\\s\\n\\t\"  # c\nd: ''\ne: \"\"\n",
    "a: 'é # ü'  # ç\nb: \"日本\"\n",
    "- 'x'  # c\n- \"y\"   \n- z  \n",
    "a: '  spaced  '\n",
    // Flow collections: brackets included, and the spaces and comment after them.
    "c: [x, y]   # hi\nd: {x: y}  \ne: []\nf: {}\ng: [ ]\nh: { }\n",
    "a: {b: {c: d}, e: [f, {g: h}]}\n",
    "a: [x, [y] ]\nb: [{b: c}  ]\nc: {b: [x]  , c: d}\nd: ['x'  , y  ]\n",
    "a: [a b,  c  d ]\n",
    "{a: b}  # c\n",
    "[a, 'b', \"c\"]\n# end\n",
    "- [a]  # c\n- {b: c}   \n",
    // Block mappings and sequences, both sequence indentations.
    "a:\n  b: 1  \n  c: [x, y]   # hi\n\n",
    "a:\n- x\n- y\nb:\n  - z\nc:\n    - w\n",
    "k:\n- a: 1\n  b: 2\n- c\nj: 1\n",
    "k:\n-   x\n- 'y'\n",
    "k:\n- {a: 1}\n- [b]\n",
    "k:\n  -   a: 1\n      b: 2\n  - c: [x]  # c\n    d: 'q'   \n",
    "- a: 1\n  b:\n    c: 2\n  d:\n  - e\n  - f: 3\n    g:\n  h: i\n",
    "- a:\n  - x\n- b\n",
    "a:\n b:\n   c:\n      d: 1\n e: 2\n",
    "a: # c\n  b: 1\n",
    "a:\n  # c\n\n  b: 1\n",
    // Empty values: at the key's colon.
    "a:\nb: 1\n",
    "a:   \n  # c\nb: 1\n",
    "a:  # c\nb:\n",
    "x:\n  a:\n  b: 1\n",
    "- a:\n  b: 1\n",
    "- a: [x]  # c\n  b:\n",
    "k:\n- a:\n",
    "a:",
    // The document marker.
    "---\na: 1\n",
    "# c\n\n---  # d\n- a\n",
    "---\n[a]  # c\n# d\n",
    "---\n",
    "---",
    // Keys.
    "app.kubernetes.io/name: x\nk8s-app: y\n_a: 1\n/p: 2\n80/tcp: 3\nyes: 4\n",
    // Colons inside plain scalars.
    "a: b:c\nb: [icmp:8, fd00::/8, 'fd00::1']\nc: {d: e:f::g}\n",
    "- x:y\n- image: registry.k8s.io/coredns:v1.11.3\n",
];

#[test]
fn spans_of_every_construct() {
    for text in CONSTRUCTS {
        reads(text);
    }
    // Long lines: a flow collection, a quoted and a plain scalar far wider than the 1024
    // characters of an implicit key.
    reads(&format!("a: [{}]\n", vec!["x"; 5000].join(", ")));
    reads(&format!(
        "- {{a: '{}', b: {}}}  # c\n",
        "y".repeat(10_000),
        "z ".repeat(5000).trim_end()
    ));
    // A few spans spelled out.
    let docs = quick_nodes::read(
        FILE,
        "a: 'x'  # c\nb: [y]  \nc:\nd:\n- e\n",
        &Limits::default(),
    )
    .unwrap();
    let top = &docs[0];
    let span = |n: &Node| (n.span.start, n.span.end);
    assert_eq!(span(top), (0, 30));
    assert_eq!(span(top.get("a").unwrap()), (3, 11));
    assert_eq!(span(top.get("b").unwrap()), (15, 20));
    assert_eq!(span(top.get("c").unwrap()), (22, 22));
    // A sequence at its key's column starts at its first item.
    assert_eq!(span(top.get("d").unwrap()), (29, 30));
}

#[test]
fn texts_outside_the_subset() {
    for text in [
        // Several documents, markers, directives.
        "a: 1\n---\nb: 2\n",
        "a: 1\n...\n",
        "%YAML 1.2\n---\na: 1\n",
        "--- a\n",
        "--- [a]\n",
        // Anchors, aliases, tags, block scalars, complex keys.
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: |\n  x\n",
        "a: >-\n  x\n",
        "? a\n: 1\n",
        "[a]: 1\n",
        "'a': 1\n",
        "\"a\": 1\n",
        "a: {'b': 1}\n",
        // Multi-line scalars and flow collections.
        "a: b\n  c\n",
        "a: 'b\n  c'\n",
        "a: [b,\n  c]\n",
        "a:\n  b\n",
        // Empty items, nested block sequences, tabs, carriage returns, byte order marks.
        "- \n",
        "-\n  - a\n",
        "- - a\n",
        "a:\t1\n",
        "a: 1\r\n",
        "\u{feff}a: 1\n",
        "a: \"\u{2028}\"\n",
        // Plain scalars and keys outside the character sets.
        "a: b: c\n",
        "- a:b: c\n",
        "- fd00:: x\n",
        "a: x::\n",
        "a: [x::]\n",
        "a: {b:c: d}\n",
        "a: b :c\n",
        "a: ~\n",
        "a: é\n",
        "a: b,c\n",
        "a: b#c\n",
        "a: -\n",
        "a: x -\n",
        "a b: c\n",
        "1: x\n",
        "true: x\n",
        "null: x\n",
        "0x10: x\n",
        "-a: x\n",
        ".a: x\n",
        "<<: x\n",
        "a :x\n",
        // Flow details.
        "a: [a, ]\n",
        "a: [a: b]\n",
        "a: {a:b}\n",
        "a: {a: }\n",
        "a: {a}\n",
        "a: [-]\n",
        "a: [x]#c\n",
        "a: 'x'#c\n",
        // Escapes other than \\ \" \n \t.
        "a: \"\\x41\"\n",
        "a: \"\\u0041\"\n",
        // Duplicate keys (the loader reports them).
        "a: 1\na: 2\n",
        "a: {b: 1, b: 2}\n",
        "- a: 1\n  a: 2\n",
        // Indentation the subset does not take.
        " a: 1\n",
        "a: 1\n  b: 2\n",
        "a:\n  b: 1\n c: 2\n",
        "a:\n  - x\n  b: 1\n",
        "- a: 1\n b: 2\n",
        "- a: 1\n   b: 2\n",
        "a: 1\n- b\n",
        // Scalars at the top.
        "x\n",
        "'x'\n",
    ] {
        rejects(text);
    }
    // Many keys: duplicates found by sorting too.
    let many: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
    reads(&many);
    rejects(&format!("{many}k7: x\n"));
    let flow: String = (0..40).map(|i| format!("k{i}: {i}, ")).collect();
    reads(&format!("a: {{{}z: 1}}\n", flow));
    rejects(&format!("a: {{{}k39: 1}}\n", flow));
    // Keys the parser takes as implicit keys only up to 1024 characters.
    reads(&format!("{}: 1\n", "k".repeat(1000)));
    rejects(&format!("{}: 1\n", "k".repeat(1001)));
}

/// The loader's verdict and the reader's on a text under `limits`: over a limit, the
/// loader fails and the reader gives `None`; within, both read it.
#[track_caller]
fn at_limit(text: &str, limits: &Limits, within: bool) {
    let loaded = load_all_parsed(FILE, text.as_bytes(), limits);
    if within {
        assert!(
            loaded.is_ok(),
            "loader: {:?}",
            loaded.err().map(|e| e[0].message.clone())
        );
        assert!(
            agrees(text, limits),
            "not read fast within the limits: {text:?}"
        );
    } else {
        assert!(loaded.is_err(), "the loader reads {text:?}");
        assert_eq!(quick_nodes::read(FILE, text, limits), None, "{text:?}");
    }
}

#[test]
fn limits_nodes() {
    // `a: [x, y]` is 5 nodes: the mapping, the key, the sequence, two items. A key with
    // an empty value is two.
    let limits = Limits {
        max_nodes: 5,
        ..Limits::default()
    };
    at_limit("a: [x, y]\n", &limits, true);
    at_limit("a: [x, y, z]\n", &limits, false);
    at_limit("a:\nb:\n", &limits, true);
    at_limit("a:\nb:\nc:\n", &limits, false);
    at_limit("- a: 1\n- b\n", &limits, true);
    at_limit("- a: 1\n- b\n- c\n", &limits, false);
    at_limit("- a: 1\n  b: 2\n", &limits, false);
}

#[test]
fn limits_depth() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    // The mapping at 1, its keys and values at 2, the items at 3.
    at_limit("a: [x]\n", &limits, true);
    at_limit("a: [[x]]\n", &limits, false);
    at_limit("a: [[]]\n", &limits, true);
    at_limit("a:\n  b: x\n", &limits, true);
    at_limit("a:\n  b:\n    c: x\n", &limits, false);
    at_limit("a:\n  b:\n", &limits, true);
    at_limit("a:\n  b:\n  - x\n", &limits, false);
    at_limit("- a: x\n", &limits, true);
    at_limit("- a: [x]\n", &limits, false);
    // The depth limit is capped at 1024 whatever the limits say. Trees that deep are
    // built, compared and dropped recursively (by the loader too): a larger stack.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(deep_nesting)
        .unwrap()
        .join()
        .unwrap();
}

fn deep_nesting() {
    let deep = Limits {
        max_depth: usize::MAX,
        ..Limits::default()
    };
    let nested = |levels: usize| {
        let mut text = String::new();
        for i in 0..levels {
            text.push_str(&" ".repeat(i));
            text.push_str("a:\n");
        }
        text
    };
    // `levels` mappings and an empty value: `levels + 1` deep.
    at_limit(&nested(1023), &deep, true);
    at_limit(&nested(1024), &deep, false);
    // Flow nesting deeper than the reader takes: not read (the loader's parser counts
    // flow levels in a byte).
    let flow = |levels: usize| format!("a: {}x{}\n", "[".repeat(levels), "]".repeat(levels));
    assert!(agrees(&flow(128), &deep));
    assert_eq!(quick_nodes::read(FILE, &flow(129), &deep), None);
}

#[test]
fn limits_scalar_length() {
    let limits = Limits {
        max_scalar_len: 4,
        ..Limits::default()
    };
    at_limit("abcd: [wxyz, 'wx''y', \"w\\\\xy\"]\n", &limits, true);
    at_limit("abcde: x\n", &limits, false);
    at_limit("a: x yz\n", &limits, true);
    at_limit("a: x  yz\n", &limits, false);
    at_limit("a: 'wx''yz'\n", &limits, false);
    at_limit("a: \"\\\\\\\\\\\\\\\\\\\\\"\n", &limits, false);
    at_limit("a: 'éé'\n", &limits, true);
    at_limit("a: 'ééx'\n", &limits, false);
}

#[test]
fn limits_file_size_documents_and_look_ahead() {
    let text = "a: [x, y]  # 16 bytes\n";
    let size = Limits {
        max_file_size: text.len(),
        ..Limits::default()
    };
    at_limit(text, &size, true);
    let size = Limits {
        max_file_size: text.len() - 1,
        ..Limits::default()
    };
    at_limit(text, &size, false);
    let no_documents = Limits {
        max_documents: 0,
        ..Limits::default()
    };
    at_limit(text, &no_documents, false);
    // Look-ahead: `a: [x, y]` costs 16 for `a` and `:`, 17 for `[`, `x`, `,`, `y`,
    // 16 for `]`, the comment nothing: 116 sixteenths, so 8 characters hold it and 7
    // fall short.
    assert!(agrees(
        text,
        &Limits {
            max_lookahead: 8,
            ..Limits::default()
        }
    ));
    assert_eq!(
        quick_nodes::read(
            FILE,
            text,
            &Limits {
                max_lookahead: 7,
                ..Limits::default()
            }
        ),
        None
    );
    // Brackets in quoted text count as the loader's meter counts them.
    let brackets = format!("a: '{}'\n", "[".repeat(5000));
    at_limit(&brackets, &Limits::default(), false);
    let fewer = format!("a: '{}'\n", "[".repeat(1000));
    at_limit(&fewer, &Limits::default(), true);
}

/// Texts of the subset to mutate: the repository's intent files that are read fast, the
/// generated file, and the texts of `spans_of_every_construct`.
fn seeds() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut out = vec![GENERATED.to_string()];
        for folder in ["policies", "tests/cases", "golden"] {
            for (_, text) in repository_files(folder) {
                if text.len() <= 4096
                    && quick_nodes::read(FILE, &text, &Limits::default()).is_some()
                {
                    out.push(text);
                }
            }
        }
        out.extend(CONSTRUCTS.iter().map(|t| t.to_string()));
        out.extend(
            [
                "a: 'x''y'  # c\nb: \"q\\\"r\"\nc: [x, {y: z}]  # d\n",
                "k:\n- a: 1\n  b: [2, '3']\n- c\nj:\n  - x\n  - y: z\n",
                "a:\n  b:\n  c: {d: e}\n# c\n\nf:   # g\n  - h i\n",
                "---\n- {a: b}\n- [c, d]  # e\n",
            ]
            .map(str::to_string),
        );
        out
    })
}

/// Characters that change what YAML text means.
const SIGNIFICANT: &[char] = &[
    ':', '-', '#', '\'', '"', '{', '}', '[', ']', ',', ' ', ' ', '\n', '\t', '&', '*', '!', '|',
    '>', '?', '%', '@', '`', '\\', '.', '~', '+', '/', '_', '\r', 'a', 'k', 'z', '0', '1', 'é',
    '\u{2028}', '\u{feff}',
];

/// Short texts: of YAML's significant characters and a few letters, or of anything.
fn short_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(SIGNIFICANT), 0..40)
            .prop_map(|c| c.into_iter().collect()),
        1 => "\\PC{0,40}",
        1 => any::<String>(),
    ]
}

proptest! {
    // `NETPOLC_QUICK_NODES_CASES` sets the number of cases (for a longer search).
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("NETPOLC_QUICK_NODES_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(4096)
    ))]

    #[test]
    fn mutated_texts_read_as_the_loader_does(
        seed in prop::sample::select(seeds()),
        edits in prop::collection::vec(edit(SIGNIFICANT), 1..4),
    ) {
        let mut text = seed;
        for e in &edits {
            text = apply(&text, e);
        }
        agrees(&text, &Limits::default());
    }

    #[test]
    fn short_texts_read_as_the_loader_does(text in short_text()) {
        agrees(&text, &Limits::default());
        // With tight limits too.
        let tight = Limits { max_nodes: 4, max_depth: 3, max_scalar_len: 3, max_lookahead: 12, ..Limits::default() };
        agrees(&text, &tight);
    }
}

/// Times `read` and the parser (`load_all_parsed`) over every file of a folder. Run by hand:
/// `cargo test --release -p netpolc-intent --test quick_nodes -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, run by hand in release mode"]
fn timing_read_vs_parser() {
    use std::time::Instant;
    let dir = std::env::var("NETPOLC_QUICK_NODES_TIMING")
        .unwrap_or_else(|_| "/tmp/r2000/policies".to_string());
    let mut files = Vec::new();
    yaml_files(Path::new(&dir), &mut files);
    files.sort();
    let texts: Vec<(PathBuf, String)> = files
        .into_iter()
        .filter_map(|f| std::fs::read_to_string(&f).ok().map(|t| (f, t)))
        .collect();
    assert!(!texts.is_empty(), "no .yaml files under {dir}");
    let bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    let limits = Limits::default();
    // Correctness first, and the files not read fast.
    let mut not_read = Vec::new();
    for (f, t) in &texts {
        if !agrees(t, &limits) {
            not_read.push(f.display().to_string());
        }
    }
    const ROUNDS: u32 = 5;
    let mut best_read = f64::MAX;
    let mut best_load = f64::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut n = 0usize;
        for (_, t) in &texts {
            n += quick_nodes::read(FILE, t, &limits).map_or(0, |d| d.len());
        }
        best_read = best_read.min(start.elapsed().as_secs_f64());
        std::hint::black_box(n);
        let start = Instant::now();
        let mut n = 0usize;
        for (_, t) in &texts {
            n += load_all_parsed(FILE, t.as_bytes(), &limits).map_or(0, |d| d.len());
        }
        best_load = best_load.min(start.elapsed().as_secs_f64());
        std::hint::black_box(n);
    }
    println!(
        "{} files, {} bytes under {dir}: read {:.1} ms, parser {:.1} ms (best of {ROUNDS}), {:.1}x",
        texts.len(),
        bytes,
        best_read * 1e3,
        best_load * 1e3,
        best_load / best_read
    );
    println!("not read fast: {not_read:?}");
}
