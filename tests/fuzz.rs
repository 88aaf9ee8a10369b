//! A bounded fuzz of the loader and the KRM function: arbitrary bytes, and arbitrary YAML
//! trees shaped like the intent language (its field names, values and nesting), through
//! `netpolc_intent::compile` and `netpolc_driver::krm::run` in process, and a few through
//! the `netpolc` binary.
//!
//! Asserted: no panic; a rejected input has at least one error diagnostic, each with a
//! position or a file, rendered in bounded size; the binary exits 0 or 2, and with 2 it
//! printed a diagnostic; `fn` exits 0, 1 or 2 and always prints a ResourceList.
//!
//! The runs are deterministic (fixed seed, no persistence file) and take a few seconds in
//! a debug build on a 2-core machine (`NETPOLC_FUZZ_CASES` scales them for local bug
//! hunts). Memory is bounded by the loader's limits (file size, nodes with alias
//! expansion, scalar length, look-ahead), which `benches/` measures, not this test.

use netpolc_source::SourceMap;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn runner(default: u32) -> TestRunner {
    let cases = std::env::var("NETPOLC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(default, |n| n.max(1));
    let config = Config {
        failure_persistence: None,
        ..Config::with_cases(cases)
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// Words of the language and YAML's troublemakers.
const WORDS: &[&str] = &[
    "apiVersion",
    "netpolc.dev/v1alpha1",
    "kind",
    "IntentSet",
    "ClusterIntentSet",
    "ConnectivityTest",
    "ClusterProfile",
    "metadata",
    "name",
    "spec",
    "namespace",
    "namespaceLabels",
    "isolate",
    "ingress",
    "egress",
    "presets",
    "allow-dns",
    "default-deny",
    "groups",
    "intents",
    "from",
    "to",
    "ports",
    "action",
    "deny",
    "allow",
    "selector",
    "namespaces",
    "cidrs",
    "except",
    "entity",
    "fqdns",
    "http",
    "expect",
    "verdict",
    "port",
    "web",
    "db",
    "all",
    "world",
    "kube-dns",
    "8080/tcp",
    "53/udp",
    "icmp:8",
    "Http/tcp",
    "0080/tcp",
    "10.0.0.0/8",
    "010.0.0.0/8",
    "::/0",
    "~",
    "null",
    "true",
    "yes",
    "0x1F",
    "1e3",
    "<<",
    "",
    " ",
    "-",
    "?",
    ":",
    "#",
    "&a",
    "*a",
    "!!str",
    "!foo",
    "é",
    "\u{202e}",
    "\t",
    "kubernetes.io/metadata.name",
    "${X}",
    "a\nb",
];

#[derive(Clone, Debug)]
enum Tree {
    Scalar(String),
    Seq(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_string),
        1 => "[ -~]{0,12}",
        1 => any::<u32>().prop_map(|n| n.to_string()),
    ]
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = word().prop_map(Tree::Scalar);
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Tree::Seq),
            proptest::collection::vec((word(), inner), 0..6).prop_map(Tree::Map),
        ]
    })
}

/// YAML text for a tree: block or flow style, scalars plain or quoted.
fn yaml(t: &Tree, indent: usize, flow: bool, out: &mut String) {
    let scalar = |s: &str, out: &mut String| {
        if s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "./-:_".contains(c))
            && !s.is_empty()
        {
            out.push_str(s);
        } else {
            out.push_str(&serde_json::to_string(s).unwrap_or_default());
        }
    };
    match t {
        Tree::Scalar(s) => scalar(s, out),
        Tree::Seq(items) if flow || items.is_empty() => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                yaml(x, indent, true, out);
            }
            out.push(']');
        }
        Tree::Map(items) if flow || items.is_empty() => {
            out.push('{');
            for (i, (k, v)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                scalar(k, out);
                out.push_str(": ");
                yaml(v, indent, true, out);
            }
            out.push('}');
        }
        Tree::Seq(items) => {
            for x in items {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
                yaml(x, indent + 2, indent % 4 == 2, out);
            }
        }
        Tree::Map(items) => {
            for (k, v) in items {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                scalar(k, out);
                out.push(':');
                out.push(' ');
                yaml(v, indent + 2, indent % 6 == 4, out);
            }
        }
    }
}

/// A document: an intent-language header (usually) over a random spec.
fn document() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(
            &[
                "IntentSet",
                "ClusterIntentSet",
                "ConnectivityTest",
                "ClusterProfile",
                "Other",
            ][..],
        ),
        tree(),
        any::<bool>(),
    )
        .prop_map(|(kind, spec, header)| {
            let mut s = String::new();
            if header {
                s.push_str(&format!(
                    "apiVersion: netpolc.dev/v1alpha1\nkind: {kind}\nmetadata: {{name: x}}\nspec:"
                ));
                yaml(&spec, 2, false, &mut s);
            } else {
                yaml(&spec, 0, false, &mut s);
            }
            s.push('\n');
            s
        })
}

/// Arbitrary bytes, biased towards YAML's punctuation.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::sample::select(&b"{}[]:,-?#&*!|>'\"%@`\n \t\\xa0"[..]),
            1 => any::<u8>(),
        ],
        0..400,
    )
}

/// Compiles one file; checks the contract on rejected input.
fn check_compile(text: &[u8]) -> Result<(), TestCaseError> {
    let mut sources = SourceMap::default();
    let id = sources.add("p/a.yaml", String::from_utf8_lossy(text).into_owned());
    let out = netpolc_intent::compile(
        &sources,
        &[netpolc_intent::InputFile {
            id,
            name: "p/a.yaml",
            bytes: text,
        }],
    );
    let errors: Vec<_> = out.diagnostics.iter().filter(|d| d.is_error()).collect();
    prop_assert_eq!(out.program.is_none(), !errors.is_empty());
    for d in &errors {
        prop_assert!(d.primary_span().is_some() || d.file.is_some(), "{:?}", d);
    }
    let rendered = netpolc_source::render_human(&sources, &out.diagnostics);
    prop_assert!(
        rendered.len() <= 2_000 * out.diagnostics.len() + 1,
        "{}",
        rendered
    );
    Ok(())
}

#[test]
fn the_loader_survives_arbitrary_bytes() {
    runner(5_000).run(&bytes(), |b| check_compile(&b)).unwrap();
}

#[test]
fn the_loader_survives_arbitrary_yaml_trees() {
    runner(4_000)
        .run(&proptest::collection::vec(document(), 1..4), |docs| {
            check_compile(docs.join("---\n").as_bytes())
        })
        .unwrap();
}

#[test]
fn the_krm_function_survives_arbitrary_input() {
    let list = (document(), tree(), bytes()).prop_map(|(doc, cfg, raw)| {
        let mut s =
            String::from("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- ");
        let doc = doc.replace('\n', "\n  ");
        s.push_str(doc.trim_end());
        s.push_str("\nfunctionConfig:");
        yaml(&cfg, 2, false, &mut s);
        s.push('\n');
        (s, raw)
    });
    runner(600)
        .run(&list, |(s, raw)| {
            for input in [s.as_bytes(), &raw[..]] {
                let out = netpolc_driver::krm::run(input);
                prop_assert!(out.exit_code <= 2);
                prop_assert!(out.stdout.contains("ResourceList"), "{}", out.stdout);
                if out.exit_code == 2 {
                    prop_assert!(out.stdout.contains("results"), "{}", out.stdout);
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_binary_exits_2_with_a_diagnostic() {
    let dir = crate::util::Scratch::new("fuzz");
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    let input = prop_oneof![document().prop_map(String::into_bytes), bytes()];
    runner(40)
        .run(&input, |b| {
            std::fs::write(dir.join("policies/a.yaml"), &b).unwrap();
            let out = crate::util::netpolc(&dir, &["render", "--allow-empty"]);
            let err = String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(0) => {}
                Some(2) => prop_assert!(
                    err.contains("error[NP") || err.contains("error: "),
                    "{}",
                    err
                ),
                other => prop_assert!(false, "exit {:?}: {}", other, err),
            }
            Ok(())
        })
        .unwrap();
}
