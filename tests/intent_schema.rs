//! The JSON Schema of the intent language (`schema/intent.schema.json`): generated from
//! the Rust types, kept fresh, and accepting every intent document netpolc accepts.
//!
//! To regenerate after changing the language: `NETPOLC_BLESS=1 cargo test --test tests
//! intent_schema`, then review the diff.

use crate::util::{cases, root};
use netpolc_driver::verify;
use serde_json::Value;
use std::path::{Path, PathBuf};

const SCHEMA: &str = "schema/intent.schema.json";

fn generated() -> String {
    let mut s = serde_json::to_string_pretty(&netpolc_intent::schema::intent_schema()).unwrap();
    s.push('\n');
    s
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&generated()).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("not a valid schema: {e}"))
}

/// Every document of a YAML file, as JSON.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    verify::parse_yaml(&path.display().to_string(), &text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn schema_file_is_generated_from_the_language_types() {
    let path = root().join(SCHEMA);
    let want = generated();
    if std::env::var_os("NETPOLC_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{SCHEMA} is stale: regenerate it with `NETPOLC_BLESS=1 cargo test --test tests intent_schema`\n{}",
        similar::TextDiff::from_lines(&have, &want)
            .unified_diff()
            .header(SCHEMA, "generated")
    );
}

#[test]
fn schema_accepts_every_valid_intent_document() {
    let v = validator();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.extend(cases("valid"));
    let mut checked = 0;
    for f in files {
        for (i, doc) in documents(&f).iter().enumerate() {
            let errs = errors(&v, doc);
            assert!(errs.is_empty(), "{} document {i}: {errs:#?}", f.display());
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} documents");
}

#[test]
fn schema_rejects_what_the_language_rejects() {
    let v = validator();
    let base = "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {name: shop}\nspec:\n  namespace: shop\n";
    let ok = |extra: &str| {
        let doc = &verify::parse_yaml("doc", &format!("{base}{extra}")).unwrap()[0];
        errors(&v, doc)
    };
    assert_eq!(ok("  isolate: [ingress]\n"), Vec::<String>::new());
    // Scalars where strings are expected, as the loader reads them.
    assert_eq!(
        ok("  groups: {web: {selector: {version: 2, canary: true}}}\n"),
        Vec::<String>::new()
    );
    for bad in [
        "  isolate: [ingres]\n",
        "  presets: [allow-dnss]\n",
        "  intens: []\n",
        "  groups: {web: {selectr: {app: web}}}\n",
        "  groups: {web: {selector: {matchLabels: {app: web}, app: web}}}\n",
        "  groups: {web: {entity: internet}}\n",
        "  intents: [{name: a, from: a, to: b, action: permit}]\n",
        "  intents: [{name: a, from: a}]\n",
    ] {
        assert!(!ok(bad).is_empty(), "the schema accepts:\n{bad}");
    }
    let wrong_version = verify::parse_yaml(
        "doc",
        &base.replace("netpolc.dev/v1alpha1", "netpolc.dev/v1"),
    )
    .unwrap();
    assert!(!errors(&v, &wrong_version[0]).is_empty());
    let wrong_kind = verify::parse_yaml("doc", &base.replace("IntentSet", "IntentSets")).unwrap();
    assert!(!errors(&v, &wrong_kind[0]).is_empty());
}
