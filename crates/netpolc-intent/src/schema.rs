//! The JSON Schema of the intent language, generated from the typed documents of
//! [`crate::ast`] (feature `schema`, used by the tests that keep
//! `schema/intent.schema.json` fresh).
//!
//! The derived parts come from the same types (and serde attributes) the loader reads, so
//! a field added to the language shows up in the schema. What serde cannot tell schemars
//! is added here: the shapes of the hand-written deserializers (selectors, namespaces,
//! CIDRs, test endpoints), `apiVersion`/`kind` constants per document kind, and the
//! closed sets of words (isolate directions, presets, actions, verdicts, operators,
//! entities). The schema is a help for editors; the compiler stays the judge (a document
//! the schema accepts can still be refused, e.g. for an unknown group name).

use crate::ast::{
    CidrDoc, ClusterIntentSetDoc, ClusterProfileDoc, ConnectivityTestDoc, EndpointDoc,
    ExpressionDoc, IntentSetDoc, NamespacesDoc, PodDoc, SelectorDoc, API_VERSION,
};
use crate::yaml::Spanned;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};
use std::borrow::Cow;

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        T::json_schema(g)
    }
}

fn string_map() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string"}})
}

impl JsonSchema for SelectorDoc {
    fn schema_name() -> Cow<'static, str> {
        "SelectorDoc".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let expression = g.subschema_for::<ExpressionDoc>();
        json_schema!({
            "description": "A label selector: a map of labels (`{app: web}`), or `matchLabels` and/or `matchExpressions`.",
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "matchLabels": string_map(),
                        "matchExpressions": {"type": "array", "items": expression}
                    },
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "propertyNames": {"not": {"enum": ["matchLabels", "matchExpressions"]}},
                    "additionalProperties": {"type": "string"}
                }
            ]
        })
    }
}

impl JsonSchema for NamespacesDoc {
    fn schema_name() -> Cow<'static, str> {
        "NamespacesDoc".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let selector = g.subschema_for::<SelectorDoc>();
        json_schema!({
            "description": "Namespaces by name (a list) or by labels (a selector).",
            "anyOf": [{"type": "array", "items": {"type": "string"}}, selector]
        })
    }
}

impl JsonSchema for CidrDoc {
    fn schema_name() -> Cow<'static, str> {
        "CidrDoc".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An address block: `203.0.113.0/24`, or `{cidr: 0.0.0.0/0, except: [...]}`.",
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {
                        "cidr": {"type": "string"},
                        "except": {"type": "array", "items": {"type": "string"}}
                    },
                    "required": ["cidr"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl JsonSchema for EndpointDoc {
    fn schema_name() -> Cow<'static, str> {
        "EndpointDoc".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let pod = g.subschema_for::<PodDoc>();
        json_schema!({
            "description": "A test endpoint: a group name (`frontend` or `set/frontend`), or a pod (`namespace`, `selector`) or an `address`.",
            "anyOf": [{"type": "string"}, pod]
        })
    }
}

/// The document kinds and their types' names in `$defs`.
const KINDS: [(&str, &str); 4] = [
    ("IntentSet", "IntentSetDoc"),
    ("ClusterIntentSet", "ClusterIntentSetDoc"),
    ("ConnectivityTest", "ConnectivityTestDoc"),
    ("ClusterProfile", "ClusterProfileDoc"),
];

/// The JSON Schema (draft 2020-12) of one intent document, any kind.
pub fn intent_schema() -> Value {
    let mut g = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let _ = g.subschema_for::<IntentSetDoc>();
    let _ = g.subschema_for::<ClusterIntentSetDoc>();
    let _ = g.subschema_for::<ConnectivityTestDoc>();
    let _ = g.subschema_for::<ClusterProfileDoc>();
    let mut defs: Map<String, Value> = g.take_definitions(true).into_iter().collect();

    // The loader reads any scalar where a string is expected (`version: 2` is the label
    // value "2"), except where a hand-written deserializer tells strings from maps.
    for (name, def) in defs.iter_mut() {
        if !["CidrDoc", "EndpointDoc"].contains(&name.as_str()) {
            scalars_as_strings(def);
        }
    }
    let words = |ws: &[&str]| json!({"type": "string", "enum": ws});
    let string_list = |ws: &[&str]| json!({"type": "array", "items": words(ws)});
    for (kind, def) in KINDS {
        set(&mut defs, def, "apiVersion", json!({"const": API_VERSION}));
        set(&mut defs, def, "kind", json!({"const": kind}));
    }
    for def in ["IntentSetSpec", "ClusterIntentSetSpec"] {
        set(
            &mut defs,
            def,
            "isolate",
            string_list(&["ingress", "egress"]),
        );
        set(&mut defs, def, "presets", string_list(&crate::PRESETS));
    }
    set(&mut defs, "IntentDoc", "action", words(&["allow", "deny"]));
    set(&mut defs, "ExpectDoc", "verdict", words(&["allow", "deny"]));
    set(
        &mut defs,
        "ExpressionDoc",
        "operator",
        words(&["In", "NotIn", "Exists", "DoesNotExist"]),
    );
    set(
        &mut defs,
        "GroupDoc",
        "entity",
        words(&["world", "kube-apiserver", "kube-dns", "host"]),
    );

    let all_of: Vec<Value> = KINDS
        .iter()
        .map(|(kind, def)| {
            json!({
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": {"$ref": format!("#/$defs/{def}")}
            })
        })
        .collect();
    let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "netpolc intent document (netpolc.dev/v1alpha1)",
        "description": "One YAML document of a netpolc policies/ folder. Generated from the Rust types of crates/netpolc-intent/src/ast.rs; do not edit (see docs/editors.md).",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"type": "string", "enum": kinds}
        },
        "allOf": all_of,
        "$defs": defs
    })
}

/// Replaces the schema of property `prop` of definition `def`, keeping its description.
fn set(defs: &mut Map<String, Value>, def: &str, prop: &str, mut schema: Value) {
    let slot = defs
        .get_mut(def)
        .and_then(|d| d.get_mut("properties"))
        .and_then(|p| p.get_mut(prop));
    let Some(slot) = slot else {
        // A renamed field: the tests compare the schema with the language and fail.
        return;
    };
    if let (Some(d), Some(o)) = (slot.get("description").cloned(), schema.as_object_mut()) {
        o.insert("description".into(), d);
    }
    *slot = schema;
}

/// Widens `"type": "string"` (without `enum` or `const`) to any scalar, recursively.
fn scalars_as_strings(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let plain = !o.contains_key("enum") && !o.contains_key("const");
            if let (true, Some(t)) = (plain, o.get_mut("type")) {
                if *t == json!("string") {
                    *t = json!(["string", "number", "boolean"]);
                } else if *t == json!(["string", "null"]) {
                    *t = json!(["string", "number", "boolean", "null"]);
                }
            }
            o.values_mut().for_each(scalars_as_strings);
        }
        Value::Array(a) => a.iter_mut().for_each(scalars_as_strings),
        _ => {}
    }
}
