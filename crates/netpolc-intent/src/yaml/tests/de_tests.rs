//! Deserialization: type resolution, error locations, `Spanned` and diagnostics.

use super::*;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// Loads one document and deserializes it.
fn read<T: serde::de::DeserializeOwned>(text: &str) -> (SourceMap, Result<T, DeError>) {
    let (sources, docs) = ok(text);
    assert_eq!(docs.len(), 1, "one document expected");
    let r = from_node::<T>(&docs[0]);
    (sources, r)
}

/// Deserializes text that must fail; returns the error, its line and column, and the
/// text its span covers.
fn read_err<T: serde::de::DeserializeOwned + fmt::Debug>(
    text: &str,
) -> (DeError, (usize, usize), String) {
    let (sources, r) = read::<T>(text);
    let e = r.expect_err("expected a deserialization error");
    let d = e.to_diagnostic();
    assert_eq!(d.code, codes::INVALID_DOCUMENT);
    assert_spans_valid(&sources, &d);
    let pos = sources.line_col(e.span);
    (e.clone(), pos, snippet(&sources, e.span).to_string())
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Intent {
    name: String,
    from: Spanned<String>,
    to: Spanned<String>,
    #[serde(default)]
    ports: Vec<String>,
    action: Option<Action>,
    port_count: Option<u16>,
}

#[derive(Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
enum Action {
    Allow,
    Deny,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Set {
    intents: Vec<Spanned<Intent>>,
}

#[test]
fn reads_a_document_with_spans() {
    let text = "intents:\n  - name: web-to-db\n    from: web\n    to: db\n    ports: [8080/tcp, 53]\n    action: deny\n    portCount: 2\n";
    let (sources, r) = read::<Set>(text);
    let set = r.unwrap();
    let i = &set.intents[0];
    assert_eq!(i.name, "web-to-db");
    assert_eq!(*i.from, "web");
    assert_eq!(i.to.len(), 2, "Deref reaches String::len");
    assert_eq!(sources.location(i.to.span), "t.yaml:4:9");
    let item = snippet(&sources, i.span);
    assert!(
        item.starts_with("name: web-to-db") && item.ends_with("portCount: 2"),
        "{item}"
    );
    assert_eq!(i.ports, ["8080/tcp", "53"]);
    assert_eq!(i.action, Some(Action::Deny));
    assert_eq!(i.port_count, Some(2));
}

#[test]
fn unknown_field_points_at_the_key_and_suggests() {
    let (e, pos, text) = read_err::<Set>("intents:\n  - name: a\n    fromm: web\n    to: db\n");
    assert_eq!(
        e.message,
        "unknown field `fromm`, expected one of `name`, `from`, `to`, `ports`, `action`, `portCount`"
    );
    assert_eq!(pos, (3, 5));
    assert_eq!(text, "fromm");
    let d = e.to_diagnostic();
    assert_eq!(d.message, "unknown field `fromm`");
    assert_eq!(d.help.as_deref(), Some("did you mean `from`?"));
    assert_eq!(d.labels[0].message, "unknown field");
    assert!(
        d.notes[0].starts_with("expected one of `name`"),
        "{:?}",
        d.notes
    );
    // Far from every field: no suggestion.
    let (e, _, _) = read_err::<Set>("intents:\n  - name: a\n    zzzzzz: 1\n");
    assert_eq!(e.to_diagnostic().help, None);
    let (e, _, text) = read_err::<Set>("intent: []\n");
    assert_eq!(text, "intent");
    assert_eq!(
        e.to_diagnostic().help.as_deref(),
        Some("did you mean `intents`?")
    );
}

#[test]
fn missing_field_points_at_the_mapping() {
    let (e, pos, text) = read_err::<Set>("intents:\n  - {name: a, from: web}\n");
    assert_eq!(e.message, "missing field `to`");
    assert_eq!(pos, (2, 5));
    assert_eq!(text, "{name: a, from: web}");
    let d = e.to_diagnostic();
    assert_eq!(d.message, "missing field `to`");
    assert_eq!(d.labels[0].message, "this mapping needs a `to` field");
}

#[test]
fn invalid_type_points_at_the_node() {
    let (e, pos, text) =
        read_err::<Set>("intents:\n  - {name: a, from: web, to: db, portCount: many}\n");
    assert_eq!(text, "many");
    assert_eq!(pos.0, 2);
    assert_eq!(e.message, "invalid type: string \"many\", expected u16");
    let d = e.to_diagnostic();
    assert_eq!(
        d.message,
        "invalid type: expected an integer from 0 to 65535, found string `many`"
    );
    // Quoted numbers are strings.
    let (e, _, text) =
        read_err::<Set>("intents:\n  - {name: a, from: web, to: db, portCount: \"2\"}\n");
    assert_eq!(text, "\"2\"");
    assert!(e.message.contains("string \"2\""), "{}", e.message);
    // Out of range.
    let (e, _, text) =
        read_err::<Set>("intents:\n  - {name: a, from: web, to: db, portCount: 70000}\n");
    assert_eq!(text, "70000");
    assert_eq!(
        e.to_diagnostic().message,
        "invalid value: expected an integer from 0 to 65535, found integer `70000`"
    );
    // A mapping where a string is wanted.
    let (e, _, text) = read_err::<Set>("intents:\n  - {name: {x: 1}, from: web, to: db}\n");
    assert_eq!(text, "{x: 1}");
    assert_eq!(
        e.to_diagnostic().message,
        "invalid type: expected a string, found a mapping"
    );
    // An empty value where a sequence is wanted.
    let (e, pos, _) = read_err::<Set>("intents:\n");
    assert_eq!(pos, (1, 8));
    assert_eq!(
        e.to_diagnostic().message,
        "invalid type: expected a sequence, found null"
    );
    // The whole document of the wrong kind.
    let (e, pos, _) = read_err::<Set>("[1, 2]\n");
    assert_eq!(pos, (1, 1));
    assert_eq!(
        e.to_diagnostic().message,
        "invalid type: expected a mapping, found a sequence"
    );
}

#[test]
fn unknown_enum_value_suggests() {
    let (e, pos, text) =
        read_err::<Set>("intents:\n  - {name: a, from: web, to: db, action: alow}\n");
    assert_eq!(text, "alow");
    assert_eq!(pos.0, 2);
    let d = e.to_diagnostic();
    assert_eq!(d.message, "unknown value `alow`");
    assert_eq!(d.labels[0].message, "expected one of `allow`, `deny`");
    assert_eq!(d.help.as_deref(), Some("did you mean `allow`?"));
}

#[test]
fn plain_scalars_resolve_by_what_is_asked() {
    #[derive(Debug, Deserialize)]
    struct T {
        s: Vec<String>,
        b: Vec<bool>,
        i: Vec<i64>,
        u: u64,
        f: Vec<f64>,
        o: Vec<Option<u8>>,
        p: Option<u8>,
        c: char,
    }
    let (_, r) = read::<T>(
        "s:\n  - 8080\n  - 'x'\n  - true\n  - 1.5\n  - 0x10\n  - \"q\"\n  - |\n    block\nb: [true, False, TRUE]\ni: [1, -2, 0x1F, 0o17, +3, 0777]\nu: 18446744073709551615\nf: [1, 1.5, .inf, -1e3]\no: [~, null, 7]\np:\nc: z\n",
    );
    let t = r.unwrap();
    assert_eq!(t.s, ["8080", "x", "true", "1.5", "0x10", "q", "block\n"]);
    assert_eq!(t.b, [true, false, true]);
    assert_eq!(t.i, [1, -2, 31, 15, 3, 777]);
    assert_eq!(t.u, u64::MAX);
    assert_eq!(t.f, [1.0, 1.5, f64::INFINITY, -1000.0]);
    assert_eq!(t.o, [None, None, Some(7)]);
    assert_eq!(t.p, None);
    assert_eq!(t.c, 'z');
    // YAML 1.1 booleans are strings in 1.2.
    let (e, _, text) = read_err::<BTreeMap<String, bool>>("a: yes\n");
    assert_eq!(text, "yes");
    assert_eq!(
        e.to_diagnostic().message,
        "invalid type: expected a boolean, found string `yes`"
    );
    // Null is not a string.
    let (e, _, _) = read_err::<BTreeMap<String, String>>("a: ~\n");
    assert_eq!(
        e.to_diagnostic().message,
        "invalid type: expected a string, found null"
    );
    // Quoted text is never a number.
    let (_, _, text) = read_err::<Vec<i32>>("[1, '2']\n");
    assert_eq!(text, "'2'");
}

#[test]
fn deserialize_any_matches_to_json() {
    let text = "a: [1, -2, 1.5, true, ~, '3', x, {b: c}]\nd:\ne: 18446744073709551615\n";
    let (_, docs) = ok(text);
    let via_serde: serde_json::Value = from_node(&docs[0]).unwrap();
    assert_eq!(via_serde, docs[0].to_json());
}

#[test]
fn maps_with_typed_keys_and_tuples() {
    let (_, r) = read::<BTreeMap<u16, (String, u8)>>("80: [http, 1]\n0x1BB: [https, 2]\n");
    let m = r.unwrap();
    assert_eq!(m[&443], ("https".to_string(), 2));
    let (e, _, text) = read_err::<BTreeMap<u16, (String, u8)>>("80: [http, 1, 2]\n");
    assert_eq!(text, "[http, 1, 2]");
    assert!(e.message.starts_with("invalid length 3"), "{}", e.message);
    let (_, r) = read::<BTreeMap<Spanned<String>, Spanned<String>>>("b: 1\na: 2\n");
    let keys: Vec<String> = r.unwrap().into_keys().map(Spanned::into_inner).collect();
    assert_eq!(keys, ["a", "b"]);
}

#[test]
fn enums_of_every_shape() {
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    enum Peer {
        World,
        Cidr(String),
        Range(u16, u16),
        Pod { app: String },
    }
    let (_, r) = read::<Vec<Peer>>(
        "- world\n- {cidr: 10.0.0.0/8}\n- range: [1, 2]\n- pod: {app: web}\n- {world: }\n- 'world'\n",
    );
    assert_eq!(
        r.unwrap(),
        [
            Peer::World,
            Peer::Cidr("10.0.0.0/8".into()),
            Peer::Range(1, 2),
            Peer::Pod { app: "web".into() },
            Peer::World,
            Peer::World,
        ]
    );
    let (e, pos, text) = read_err::<Vec<Peer>>("- world\n- cidr\n");
    assert_eq!((pos, text.as_str()), ((2, 3), "cidr"));
    assert_eq!(e.message, "`cidr` needs a value: write it as `cidr: …`");
    let (e, _, text) = read_err::<Vec<Peer>>("- pod: {app: web, apq: x}\n");
    assert_eq!(text, "apq");
    assert_eq!(
        e.to_diagnostic().help.as_deref(),
        Some("did you mean `app`?")
    );
    let (e, _, text) = read_err::<Vec<Peer>>("- [world]\n");
    assert_eq!(text, "[world]");
    assert!(
        e.message
            .contains("a string, or a mapping with a single key"),
        "{}",
        e.message
    );
    let (_, _, text) = read_err::<Vec<Peer>>("- {world: , cidr: x}\n");
    assert_eq!(text, "{world: , cidr: x}");
    let (e, _, text) = read_err::<Vec<Peer>>("- {wrld: }\n");
    assert_eq!(text, "wrld");
    assert_eq!(
        e.to_diagnostic().help.as_deref(),
        Some("did you mean `world`?")
    );
    let (_, _, text) = read_err::<Vec<Peer>>("- {world: 1}\n");
    assert_eq!(text, "1");
}

#[test]
fn newtypes_unit_and_ignored_fields() {
    #[derive(Debug, Deserialize, PartialEq)]
    struct Port(u16);
    #[derive(Debug, Deserialize, PartialEq)]
    struct Lenient {
        port: Port,
        nothing: (),
    }
    let (_, r) = read::<Lenient>("port: 80\nnothing: ~\nextra: {deep: [1, 2, {x: y}]}\n");
    assert_eq!(
        r.unwrap(),
        Lenient {
            port: Port(80),
            nothing: ()
        }
    );
}

#[test]
fn spanned_positions_everywhere() {
    #[derive(Debug, Deserialize)]
    struct T {
        a: Option<Spanned<u16>>,
        b: Option<Spanned<u16>>,
        list: Spanned<Vec<Spanned<String>>>,
        nested: Spanned<BTreeMap<String, Spanned<bool>>>,
    }
    let (sources, r) = read::<T>("a: 80\nlist: [x, 'y']\nnested:\n  k: true\n");
    let t = r.unwrap();
    let a = t.a.unwrap();
    assert_eq!(*a, 80);
    assert_eq!(snippet(&sources, a.span), "80");
    assert!(t.b.is_none());
    assert_eq!(snippet(&sources, t.list.span), "[x, 'y']");
    assert_eq!(snippet(&sources, t.list[1].span), "'y'");
    assert_eq!(sources.line_col(t.nested["k"].span), (4, 6));
    assert_eq!(snippet(&sources, t.nested.span), "k: true");
    // Errors inside a Spanned value point at the value.
    let (_, _, text) = read_err::<T>("list: [x, [y]]\nnested: {}\n");
    assert_eq!(text, "[y]");
}

#[test]
fn spanned_traits() {
    use std::collections::BTreeSet;
    let f = FileId(0);
    let a = Spanned::new(Span::new(f, 0, 1), "x".to_string());
    let b = Spanned::new(Span::new(f, 5, 6), "x".to_string());
    let c = Spanned::new(Span::new(f, 2, 3), "a".to_string());
    assert_eq!(a, b, "equality ignores spans");
    assert!(c < a);
    let set: BTreeSet<_> = [a.clone(), b, c].into_iter().collect();
    assert_eq!(set.len(), 2);
    assert_eq!(a.as_str(), "x");
    assert_eq!(format!("{a:?}"), "\"x\" @0..1");
    assert_eq!(a.clone().map(|s| s.len()).value, 1);
    assert_eq!(a.as_ref().value, "x");
    // Another deserializer cannot produce a Spanned.
    let r = serde_json::from_str::<Spanned<String>>("\"x\"");
    assert!(r.is_err());
    let r = serde_json::from_str::<Spanned<String>>("{\"a\": 1}");
    assert!(r.unwrap_err().to_string().contains("netpolc's YAML tree"));
}

/// A hand-written `Deserialize` like those of the front end's document types.
#[derive(Debug)]
struct Selector(Vec<(Spanned<String>, Spanned<String>)>);

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Selector;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of labels")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Selector, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<Spanned<String>>()? {
                    let v: Spanned<String> = map.next_value()?;
                    if v.is_empty() {
                        return Err(de::Error::custom("label values must not be empty."));
                    }
                    out.push((k, v));
                }
                Ok(Selector(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[test]
fn custom_visitors_get_spans_and_clean_messages() {
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Group {
        selector: Selector,
    }
    let (sources, r) = read::<Group>("selector: {app: web, tier: 8080}\n");
    let g = r.unwrap();
    assert_eq!(g.selector.0[1].1.value, "8080");
    assert_eq!(snippet(&sources, g.selector.0[1].0.span), "tier");
    // A custom error is located at the innermost node being read: the selector.
    let (e, _, text) = read_err::<Group>("selector: {app: ''}\n");
    assert_eq!(text, "{app: ''}");
    assert_eq!(e.to_diagnostic().message, "label values must not be empty");
    let (_, _, text) = read_err::<Group>("selector: [a]\n");
    assert_eq!(text, "[a]");
}

#[test]
fn diagnostics_render_with_line_and_column() {
    let text = "intents:\n  - {name: a, from: web, too: db}\n";
    let (sources, r) = read::<Set>(text);
    let d = r.unwrap_err().into_diagnostic();
    let out = netpolc_source::render_human(&sources, &[d]);
    assert!(out.contains("error[NP1010]: unknown field `too`"), "{out}");
    assert!(out.contains("t.yaml:2:26"), "{out}");
    assert!(out.contains("^^^ unknown field"), "{out}");
    assert!(out.contains("= help: did you mean `to`?"), "{out}");
    let d: Diagnostic = DeError::new(Span::new(FileId(0), 0, 1), "custom.").into();
    assert_eq!(d.message, "custom");
}
