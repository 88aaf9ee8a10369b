//! Item metadata: paths, indexes, resource references, orchestration annotations.

use super::*;

pub(super) fn annotation(item: &Value, key: &str) -> Option<String> {
    item["metadata"]["annotations"][key]
        .as_str()
        .map(str::to_string)
}

/// The item's file in the package.
pub(super) fn item_path(item: &Value) -> Option<String> {
    annotation(item, INTERNAL_PATH_ANNOTATION)
        .or_else(|| annotation(item, PATH_ANNOTATION))
        .filter(|p| !p.is_empty())
}

/// The item's document index in its file.
pub(super) fn item_index(item: &Value) -> Option<u64> {
    annotation(item, INTERNAL_INDEX_ANNOTATION)
        .or_else(|| annotation(item, INDEX_ANNOTATION))
        .and_then(|i| i.trim().parse().ok())
}

pub(super) fn resource_ref(item: &Value) -> Option<Value> {
    let mut m = Map::new();
    for (from, to) in [
        (&item["apiVersion"], "apiVersion"),
        (&item["kind"], "kind"),
        (&item["metadata"]["name"], "name"),
        (&item["metadata"]["namespace"], "namespace"),
    ] {
        if let Some(s) = from.as_str() {
            m.insert(to.into(), s.into());
        }
    }
    (m.contains_key("kind") || m.contains_key("name")).then_some(Value::Object(m))
}

pub(super) fn describe(item: &Value) -> String {
    match (item["kind"].as_str(), item["metadata"]["name"].as_str()) {
        (Some(k), Some(n)) => format!("{k} `{n}`"),
        (Some(k), None) => format!("a {k}"),
        _ => "an item".to_string(),
    }
}

/// The item without the orchestrator's annotations (and without `annotations` when
/// nothing else is left in it).
pub(super) fn strip_orchestration(item: &Value) -> Value {
    let mut v = item.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        let mut empty = false;
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.retain(|k, _| !ORCHESTRATION_PREFIXES.iter().any(|p| k.starts_with(p)));
            empty = a.is_empty();
        }
        if empty {
            meta.remove("annotations");
        }
    }
    v
}
