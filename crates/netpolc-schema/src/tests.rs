//! Tests against the real schema files, with hand-written samples.

mod crds;
mod keywords;
mod kubernetes;

use crate::{schemas_dir, Validator};
use netpolc_intent::yaml;
use serde_json::Value;

/// Reads one YAML document as JSON (with the front end's loader).
fn doc(text: &str) -> Value {
    let docs = yaml::load(
        netpolc_source::FileId(0),
        text.as_bytes(),
        &yaml::Limits::default(),
    )
    .unwrap_or_else(|d| panic!("sample does not load: {} {}", d.code, d.message));
    assert_eq!(docs.len(), 1);
    docs[0].to_json()
}

/// Applies `edit` to a copy of `base` and validates it.
fn errors_after(v: &Validator, base: &Value, edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut value = base.clone();
    edit(&mut value);
    v.validate(&value)
}

/// A mutable reference to the value at a JSON pointer, which must exist.
fn at<'a>(value: &'a mut Value, pointer: &str) -> &'a mut Value {
    value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the sample"))
}

fn crd(relative: &str) -> Validator {
    Validator::crd(&schemas_dir().join(relative)).unwrap_or_else(|e| panic!("{e}"))
}
