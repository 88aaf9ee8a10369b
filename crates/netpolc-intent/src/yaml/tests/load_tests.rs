//! Loading: tree shape, spans, empty documents and every limit.

use super::*;

#[test]
fn loads_mappings_sequences_and_scalars_in_order() {
    let (sources, docs) = ok("b: 1\na:\n  - x\n  - 'y'\nc: {d: e, f: [1, 2]}\n");
    assert_eq!(docs.len(), 1);
    let root = &docs[0];
    let keys: Vec<&str> = root
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str().unwrap())
        .collect();
    assert_eq!(keys, ["b", "a", "c"]);
    let a = root.get("a").unwrap().as_seq().unwrap();
    assert_eq!(
        a[1].value,
        Value::Scalar {
            text: "y".into(),
            style: ScalarStyle::Quoted
        }
    );
    assert_eq!(
        a[0].value,
        Value::Scalar {
            text: "x".into(),
            style: ScalarStyle::Plain
        }
    );
    // Spans: a quoted scalar includes its quotes, a flow collection its brackets.
    assert_eq!(snippet(&sources, a[1].span), "'y'");
    assert_eq!(sources.line_col(a[1].span), (4, 5));
    let c = root.get("c").unwrap();
    assert_eq!(snippet(&sources, c.span), "{d: e, f: [1, 2]}");
    assert_eq!(snippet(&sources, c.get("f").unwrap().span), "[1, 2]");
    // A block collection ends with its last entry, not at trailing comments.
    let seq = root.get("a").unwrap();
    assert_eq!(snippet(&sources, seq.span), "- x\n  - 'y'");
    assert_eq!(
        snippet(&sources, root.span),
        sources.get(root.span.file).text().trim_end()
    );
    assert_eq!(
        root.to_json(),
        serde_json::json!({"b": 1, "a": ["x", "y"], "c": {"d": "e", "f": [1, 2]}})
    );
}

#[test]
fn block_collection_span_excludes_trailing_comments() {
    let (sources, docs) = ok("a:\n  b: 1\n  # comment\n\n# another\nc: 2\n");
    let a = docs[0].get("a").unwrap();
    assert_eq!(snippet(&sources, a.span), "b: 1");
}

#[test]
fn empty_documents_and_comments_yield_nothing() {
    assert!(ok("").1.is_empty());
    assert!(ok("# only a comment\n").1.is_empty());
    assert!(ok("---\n").1.is_empty());
    assert!(ok("---\n# comment\n---\n...\n").1.is_empty());
    let (_, docs) = ok("a: 1\n---\n---\n# nothing\n---\nb: 2\n---\n");
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].to_json(), serde_json::json!({"b": 2}));
    // An explicit null is content, not an empty document.
    let (_, docs) = ok("--- null\n--- ''\n");
    assert_eq!(docs.len(), 2);
}

#[test]
fn empty_values_are_null_nodes_with_empty_spans() {
    let (sources, docs) = ok("a:\nb: ~\nc: ''\n");
    let a = docs[0].get("a").unwrap();
    assert_eq!(a.value, Value::Null);
    assert_eq!(a.span.start, a.span.end);
    assert_eq!(sources.line_col(a.span).0, 1);
    assert!(docs[0].get("b").unwrap().is_null());
    assert!(!docs[0].get("c").unwrap().is_null());
    assert_eq!(
        docs[0].to_json(),
        serde_json::json!({"a": null, "b": null, "c": ""})
    );
}

#[test]
fn spans_are_byte_offsets_in_non_ascii_text() {
    let text = "名前: “ünïcödé”\nkey: 😀 smile\nnext: [é, €]\nlast: ok\n";
    let (sources, docs) = ok(text);
    let root = &docs[0];
    let v = root.get("名前").unwrap();
    assert_eq!(snippet(&sources, v.span), "“ünïcödé”");
    assert_eq!(sources.line_col(v.span), (1, 5));
    let smile = root.get("key").unwrap();
    assert_eq!(snippet(&sources, smile.span), "😀 smile");
    let next = root.get("next").unwrap();
    assert_eq!(snippet(&sources, next.span), "[é, €]");
    assert_eq!(snippet(&sources, next.as_seq().unwrap()[1].span), "€");
    let last = root.get("last").unwrap();
    assert_eq!(sources.line_col(last.span), (4, 7));
    // Long non-ASCII text crosses several checkpoints of the index.
    let long: String = format!("{}: v\nafter: x\n", "é".repeat(300));
    let (sources, docs) = ok(&long);
    assert_eq!(snippet(&sources, docs[0].get("after").unwrap().span), "x");
}

#[test]
fn byte_order_mark_and_crlf() {
    let text = "\u{feff}a: 1\r\nb: |\r\n  lit\r\nc: [é]\r\n";
    let (sources, docs) = ok(text);
    let root = &docs[0];
    assert_eq!(snippet(&sources, root.get("a").unwrap().span), "1");
    assert_eq!(sources.line_col(root.get("c").unwrap().span), (4, 4));
    assert_eq!(root.get("b").unwrap().as_str(), Some("lit\n"));
    assert_eq!(snippet(&sources, root.get("c").unwrap().span), "[é]");
}

#[test]
fn aliases_expand_and_point_at_the_alias() {
    let (sources, docs) = ok("base: &b {x: 1, y: [a]}\nuse: *b\nname: &n web\nagain: *n\n");
    let root = &docs[0];
    let used = root.get("use").unwrap();
    assert_eq!(used.to_json(), serde_json::json!({"x": 1, "y": ["a"]}));
    assert_eq!(snippet(&sources, used.span), "*b");
    // Inner nodes keep the anchor's spans: that is where their text is.
    assert_eq!(sources.line_col(used.get("x").unwrap().span), (1, 14));
    assert_eq!(root.get("again").unwrap().as_str(), Some("web"));
}

#[test]
fn anchors_are_local_to_a_document() {
    let (d, (line, _)) = fail("a: &x 1\n---\nb: *x\n");
    assert_eq!(d.code, codes::SYNTAX, "{d:?}");
    assert_eq!(line, 3);
    let (d, _) = fail("b: *nothing\n");
    assert_eq!(d.code, codes::SYNTAX);
}

#[test]
fn tags_of_the_core_schema() {
    let (_, docs) = ok("a: !!str 5\nb: ! 12\nc: !!int \"12\"\nd: !!null ''\ne: !!float 1.5\nf: !!bool true\ng: !!map {x: 1}\nh: !!seq [1]\ni: !!str\n");
    let j = docs[0].to_json();
    assert_eq!(
        j,
        serde_json::json!({"a": "5", "b": "12", "c": 12, "d": null, "e": 1.5, "f": true, "g": {"x": 1}, "h": [1], "i": ""})
    );
}

#[test]
fn file_too_large() {
    let limits = Limits {
        max_file_size: 10,
        ..Limits::default()
    };
    let (d, pos) = fail_with("a: 123456789\n", &limits);
    assert_eq!(d.code, codes::FILE_TOO_LARGE);
    assert_eq!(pos, (1, 1));
    // A 5 MB scalar is rejected by size before parsing.
    let big = format!("a: {}\n", "x".repeat(5 << 20));
    let (d, _) = fail(&big);
    assert_eq!(d.code, codes::FILE_TOO_LARGE);
}

#[test]
fn invalid_utf8_points_at_the_first_bad_byte() {
    let bytes = b"a: ok\nb: caf\xc3\xa9 \xff\xfe\nc: 1\n";
    let (sources, result) = load_bytes(bytes, &Limits::default());
    let d = result.unwrap_err();
    assert_eq!(d.code, codes::INVALID_UTF8);
    assert_spans_valid(&sources, &d);
    assert_eq!(sources.line_col(d.primary_span().unwrap()), (2, 9));
    assert!(d.labels[0].message.contains("0xFF"), "{d:?}");
    // Truncated multi-byte sequence at the end of the file.
    let (sources, result) = load_bytes(b"a: \xe2\x82", &Limits::default());
    let d = result.unwrap_err();
    assert_eq!(d.code, codes::INVALID_UTF8);
    assert_eq!(sources.line_col(d.primary_span().unwrap()), (1, 4));
}

#[test]
fn syntax_errors_carry_the_parser_message() {
    let (d, (line, _)) = fail("a: [1, 2\nb: 3\n");
    assert_eq!(d.code, codes::SYNTAX);
    assert!(d.message.starts_with("invalid YAML: "), "{}", d.message);
    assert_eq!(line, 2);
    let (d, pos) = fail("a: b\n c: d\n");
    assert_eq!(d.code, codes::SYNTAX);
    assert_eq!(pos.0, 2);
    let (d, _) = fail("key: \"unterminated\n");
    assert_eq!(d.code, codes::SYNTAX);
    // Known to have made the parser loop forever in older versions.
    let (d, _) = fail("{---");
    assert_eq!(d.code, codes::SYNTAX);
}

#[test]
fn syntax_error_position_after_non_ascii() {
    let (d, pos) = fail("é: [1, 2\nü: 3\n");
    assert_eq!(d.code, codes::SYNTAX);
    assert_eq!(pos.0, 2);
}

#[test]
fn duplicate_keys_point_at_both() {
    let text = "a: 1\nb: 2\na: 3\n";
    let (sources, result) = load_with(text, &Limits::default());
    let d = result.unwrap_err();
    assert_eq!(d.code, codes::DUPLICATE_KEY);
    assert_eq!(d.message, "duplicate mapping key `a`");
    assert!(d.labels[0].primary);
    assert_eq!(sources.line_col(d.labels[0].span), (3, 1));
    assert!(!d.labels[1].primary);
    assert_eq!(sources.line_col(d.labels[1].span), (1, 1));

    for (text, line) in [
        ("m: {x: 1, \"x\": 2}\n", 1),
        ("n:\n  0x10: a\n  16: b\n", 3),
        ("n:\n  1: a\n  \"1\": b\n", 3),
        ("n:\n  true: a\n  True: b\n", 3),
        ("n:\n  ~: a\n  null: b\n", 3),
        ("- k: 1\n  k: 2\n", 2),
        ("a: &k x\n*k : 2\nx: 3\n", 3),
    ] {
        let (d, pos) = fail(text);
        assert_eq!(d.code, codes::DUPLICATE_KEY, "{text}");
        assert_eq!(pos.0, line, "{text}");
    }
    // The same key in different mappings is fine, and so are 1 and 1.0.
    ok("- k: 1\n- k: 2\n");
    ok("a: {k: 1}\nb: {k: 1}\n");
    ok("1: a\n1.0: b\n");
}

#[test]
fn nesting_too_deep() {
    // The parser's own flow limit (255 levels) maps to the same code.
    let (d, _) = fail(&"[".repeat(100_000));
    assert_eq!(d.code, codes::TOO_DEEP);
    let (d, _) = fail(&"{a: ".repeat(100_000));
    assert_eq!(d.code, codes::TOO_DEEP);
    // Below the parser's limit, ours applies.
    let (d, pos) = fail(&format!("{}{}", "[".repeat(65), "]".repeat(65)));
    assert_eq!(d.code, codes::TOO_DEEP);
    assert_eq!(pos, (1, 65));
    let (d, _) = fail(&"- ".repeat(100_000));
    assert_eq!(d.code, codes::TOO_DEEP);
    // 64 levels are fine: 63 sequences and a scalar.
    let text = format!("{}x{}", "[".repeat(63), "]".repeat(63));
    assert_eq!(ok(&text).1.len(), 1);
    let text = format!("{}x{}", "[".repeat(64), "]".repeat(64));
    assert_eq!(fail(&text).0.code, codes::TOO_DEEP);
    // An alias counts with the depth of what it expands to.
    let limits = Limits {
        max_depth: 4,
        ..Limits::default()
    };
    let (_, result) = load_with("a: &a [[x]]\n", &limits);
    assert!(result.is_ok());
    let (d, _) = fail_with("a: &a [[x]]\nb: [*a]\n", &limits);
    assert_eq!(d.code, codes::TOO_DEEP);
}

#[test]
fn alias_bombs_fail_before_expanding() {
    // Billion laughs: each level holds ten aliases of the one before.
    let mut text = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "l{i}: &l{i} [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]\n"
        ));
    }
    let (d, pos) = fail(&text);
    assert_eq!(d.code, codes::TOO_MANY_NODES);
    // It fails in the line where the expansion first passes 200 000 nodes.
    assert_eq!(pos.0, 6);

    // A large scalar aliased many times: few nodes, much text.
    let text = format!(
        "a: &a {}\nb: [{}]\n",
        "x".repeat(60_000),
        vec!["*a"; 400].join(", ")
    );
    let (d, _) = fail(&text);
    assert_eq!(d.code, codes::TOO_MANY_NODES);
    assert!(d.message.contains("expand"), "{}", d.message);

    // Plain node counts.
    let limits = Limits {
        max_nodes: 10,
        ..Limits::default()
    };
    let (d, _) = fail_with("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n", &limits);
    assert_eq!(d.code, codes::TOO_MANY_NODES);
    let (_, result) = load_with("[1, 2, 3, 4, 5, 6, 7, 8, 9]\n", &limits);
    assert!(result.is_ok());
    // The count is per file, across documents.
    let (d, _) = fail_with("[1, 2, 3, 4]\n---\n[1, 2, 3, 4]\n---\n[1]\n", &limits);
    assert_eq!(d.code, codes::TOO_MANY_NODES);
}

#[test]
fn scalar_too_long() {
    let text = format!("a: {}\n", "y".repeat(70_000));
    let (d, pos) = fail(&text);
    assert_eq!(d.code, codes::SCALAR_TOO_LONG);
    assert_eq!(pos, (1, 4));
    // A 5 MB scalar with a larger file limit.
    let limits = Limits {
        max_file_size: 8 << 20,
        ..Limits::default()
    };
    let text = format!("\"{}\"\n", "z".repeat(5 << 20));
    let (d, _) = fail_with(&text, &limits);
    assert_eq!(d.code, codes::SCALAR_TOO_LONG);
    // Exactly at the limit is fine.
    let text = format!("a: {}\n", "y".repeat(64 << 10));
    ok(&text);
}

#[test]
fn unsupported_yaml() {
    for (text, needle) in [
        ("? [a, b]\n: c\n", "keys must be scalars"),
        ("{[a]: b}\n", "keys must be scalars"),
        ("? {a: 1}\n: c\n", "keys must be scalars"),
        ("a: &k [x]\n*k : 1\n", "keys must be scalars"),
        ("a: !foo bar\n", "unsupported YAML tag `!foo`"),
        ("a: !!binary aGVsbG8=\n", "unsupported YAML tag `!!binary`"),
        ("a: !!timestamp 2001-12-14\n", "`!!timestamp`"),
        ("a: !<tag:example.com,2000:x> b\n", "unsupported YAML tag"),
        ("a: !!int abc\n", "`abc` is not an integer"),
        ("a: !!bool yes\n", "`yes` is not a boolean"),
        ("a: !!map x\n", "does not fit a scalar"),
        ("a: !!seq {x: 1}\n", "does not fit a mapping"),
        ("a: !!str [x]\n", "does not fit a sequence"),
        ("a: &r [1, *r]\n", "recursive"),
    ] {
        let (d, _) = fail(text);
        assert_eq!(d.code, codes::UNSUPPORTED, "{text}: {d:?}");
        assert!(d.message.contains(needle), "{text}: {}", d.message);
    }
}

#[test]
fn too_many_documents() {
    let limits = Limits {
        max_documents: 3,
        ..Limits::default()
    };
    let (d, pos) = fail_with("a\n---\nb\n---\nc\n---\nd\n", &limits);
    assert_eq!(d.code, codes::TOO_MANY_DOCUMENTS);
    assert_eq!(pos.0, 6);
    // Empty documents count too: a million `---` lines end quickly.
    let text = "---\n".repeat(1_000_000);
    let (d, _) = fail(&text);
    assert_eq!(d.code, codes::TOO_MANY_DOCUMENTS);
}

#[test]
fn flow_collections_bounded_by_lookahead() {
    // A JSON document is one flow collection: the parser reads all of it before the
    // first event. Up to the look-ahead limit that is fine...
    let items: Vec<String> = (0..10_000)
        .map(|i| format!("{{\"name\": \"policy-{i}\", \"port\": {i}}}"))
        .collect();
    let json = format!("{{\"items\": [{}]}}", items.join(", "));
    assert!(json.len() > 350_000);
    let (_, result) = load_with(&json, &Limits::default());
    let docs = result.map_err(|d| d.message).unwrap();
    assert_eq!(docs[0].to_json()["items"][9_999]["port"], 9_999);
    // ... beyond it, the limit says so and points at the collection.
    let limits = Limits {
        max_lookahead: 100_000,
        ..Limits::default()
    };
    let text = format!("a: 1\n---\n# the items\n\n{json}\n");
    let (d, pos) = fail_with(&text, &limits);
    assert_eq!(d.code, codes::SCALAR_TOO_LONG);
    assert!(d.message.contains("flow collection"), "{}", d.message);
    assert_eq!(pos, (5, 1));
    // A flow collection that is a mapping value is not read ahead.
    let text = format!("a: 1\nb: {json}\n");
    let (_, result) = load_with(&text, &limits);
    assert!(result.is_ok());
    // Blanks and comments do not count: they cost the parser nothing.
    let text = format!(
        "a: 1\n{}b: 2\n",
        "# a comment line, [with brackets]\n".repeat(40_000)
    );
    let limits = Limits {
        max_lookahead: 1_000,
        ..Limits::default()
    };
    let (_, result) = load_with(&text, &limits);
    assert_eq!(
        result.unwrap()[0].to_json(),
        serde_json::json!({"a": 1, "b": 2})
    );
    let text = format!("a: 1{}\nb: 2\n", " ".repeat(3_000_000));
    assert_eq!(ok(&text).1.len(), 1);
}

#[test]
fn large_block_documents_load() {
    let mut text = String::new();
    for i in 0..5_000 {
        text.push_str(&format!(
            "- name: intent-{i}\n  from: frontend\n  to: backend\n  ports: [8080/tcp, 53]\n"
        ));
    }
    let (_, docs) = ok(&text);
    assert_eq!(docs[0].as_seq().unwrap().len(), 5_000);
}

#[test]
fn manifests_read_back_as_json() {
    let text = r#"apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-dns
  namespace: production
  labels: {app.kubernetes.io/managed-by: netpolc}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: kube-system}
    ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: "dns-tcp", endPort: 1024}
"#;
    let (_, docs) = ok(text);
    let j = docs[0].to_json();
    assert_eq!(
        j.to_string(),
        r#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"allow-dns","namespace":"production","labels":{"app.kubernetes.io/managed-by":"netpolc"}},"spec":{"podSelector":{},"policyTypes":["Egress"],"egress":[{"to":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}}}],"ports":[{"protocol":"UDP","port":53},{"protocol":"TCP","port":"dns-tcp","endPort":1024}]}]}}"#
    );
}

#[test]
fn hostile_inputs_end_quickly_with_an_error() {
    // Nothing here is timed; each must simply return (the suite would hang otherwise).
    let cases: Vec<(String, &str)> = vec![
        ("[".repeat(100_000), codes::TOO_DEEP),
        ("{".repeat(100_000), codes::TOO_DEEP),
        ("- ".repeat(1_000_000), codes::TOO_DEEP),
        (format!("a: {}", "b".repeat(5 << 20)), codes::FILE_TOO_LARGE),
        (
            format!("[{}", "a, ".repeat(1_000_000)),
            codes::SCALAR_TOO_LONG,
        ),
        (
            format!("{}{}", "[".repeat(250), "a, ".repeat(1_000_000)),
            codes::SCALAR_TOO_LONG,
        ),
        (
            format!("{{{}", "a: b, ".repeat(600_000)),
            codes::SCALAR_TOO_LONG,
        ),
        (
            format!("a: \"{}\"", "x".repeat(4_000_000)),
            codes::SCALAR_TOO_LONG,
        ),
        ("? ".repeat(1_000_000), codes::UNSUPPORTED),
        ("&a ".repeat(1_000_000), codes::SYNTAX),
        ("!!str ".repeat(500_000), codes::SYNTAX),
    ];
    for (text, code) in cases {
        let (_, result) = load_with(&text, &Limits::default());
        let d = result.expect_err("hostile input must fail");
        assert_eq!(d.code, code, "{}…: {}", &text[..10], d.message);
    }
}

/// A small deterministic generator (xorshift), so the "fuzz" corpus is the same on
/// every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_yaml_like_input_never_panics() {
    const PIECES: &[&str] = &[
        "a",
        "b: ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ", ",
        ": ",
        "\n",
        "  ",
        "\t",
        "&x ",
        "*x",
        "!!str ",
        "!t ",
        "? ",
        "'",
        "\"",
        "\\",
        "|",
        ">-",
        "#c",
        "---\n",
        "...\n",
        "é",
        "€",
        "😀",
        "%YAML 1.2\n",
        "%TAG ! tag:x,1:\n",
        "0x1F",
        "~",
        "\r\n",
        "\u{feff}",
        "-",
        ":",
        "\u{0}",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let limits = Limits {
        max_depth: 8,
        max_nodes: 200,
        ..Limits::default()
    };
    for _ in 0..3000 {
        let len = (rng.next() % 40) as usize;
        let text: String = (0..len)
            .map(|_| PIECES[(rng.next() % PIECES.len() as u64) as usize])
            .collect();
        let (sources, result) = load_with(&text, &limits);
        match result {
            Ok(docs) => {
                for doc in &docs {
                    let _ = doc.to_json();
                    let _ = from_node::<serde_json::Value>(doc);
                }
            }
            Err(d) => assert_spans_valid(&sources, &d),
        }
    }
}
