//! The recursive check of a JSON value against a structural schema.
//!
//! Two kinds of schema positions are distinguished, as in Kubernetes structural schemas:
//! the *structure* (the schema itself, `properties`, `items`, `additionalProperties`,
//! and `allOf`, through which the Kubernetes OpenAPI document attaches `$ref`s) decides
//! which fields exist, so unknown fields are reported there; *value validations*
//! (`anyOf`, `oneOf`, `not`) only accept or reject values and never report unknown
//! fields.

use crate::formats::{integer_fits, string_format_problem};
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `$ref` hops allowed without descending into the value (guards against cycles).
const MAX_REF_HOPS: usize = 32;
/// Deepest value checked.
const MAX_DEPTH: usize = 256;

/// What a check needs besides the schema and the value.
pub(crate) struct Ctx<'a> {
    /// The document `$ref`s point into.
    pub(crate) document: Option<&'a Value>,
    /// Compiled patterns by source.
    pub(crate) patterns: &'a BTreeMap<String, Regex>,
}

/// How a schema position is being checked.
#[derive(Clone, Copy)]
struct Mode {
    /// Report unknown fields (in the structure, not in value validations).
    strict: bool,
    /// Report unknown fields *at this node* (false for `allOf` branches: their parent
    /// checks unknown fields once, against the fields of all branches).
    here: bool,
    /// `$ref`s followed at this value so far.
    hops: usize,
    /// Depth of the value.
    depth: usize,
}

/// A path such as `spec.ingress[0].ports[0].port`; the root is `<root>`.
pub(crate) fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "<root>"
    } else {
        path
    }
}

/// The path of a field of the object at `path`.
pub(crate) fn field_path(path: &str, key: &str) -> String {
    let simple = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '-'));
    match (path.is_empty(), simple) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::from(key)),
    }
}

/// Resolves a local `$ref` (`#/components/schemas/...`) in the document.
pub(crate) fn resolve<'a>(document: Option<&'a Value>, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    document?.pointer(pointer)
}

/// A value in a message: strings as they are, other values as JSON, shortened.
pub(crate) fn show(value: &Value) -> String {
    let s = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn one_of_list(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| format!("`{}`", show(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Ctx<'_> {
    /// Checks a value against the schema, appending `path: message` errors.
    pub(crate) fn check(
        &self,
        schema: &Value,
        value: &Value,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        let mode = Mode {
            strict: true,
            here: true,
            hops: 0,
            depth: 0,
        };
        self.node(schema, value, path, mode, errors);
    }

    fn node(
        &self,
        schema: &Value,
        value: &Value,
        path: &str,
        mode: Mode,
        errors: &mut Vec<String>,
    ) {
        let at = display_path(path);
        let Some(s) = schema.as_object() else {
            // `true`/`false` schemas are not structural; `false` rejects everything.
            if schema == &Value::Bool(false) {
                errors.push(format!("{at}: no value is allowed here"));
            }
            return;
        };
        if mode.depth > MAX_DEPTH {
            errors.push(format!("{at}: value nested too deeply"));
            return;
        }
        if value.is_null() {
            if s.get("nullable") == Some(&Value::Bool(true)) {
                return;
            }
            if let Some(expected) = expected_type(s) {
                errors.push(format!("{at}: expected {expected}"));
                return;
            }
        }
        if int_or_string(s) {
            if !(is_integer(value) || value.is_string()) {
                errors.push(format!("{at}: expected integer or string"));
                return;
            }
        } else if let Some(Value::String(t)) = s.get("type") {
            if !has_type(value, t) {
                errors.push(format!("{at}: expected {t}"));
                return;
            }
        }

        if let Some(Value::Array(allowed)) = s.get("enum") {
            if !allowed.contains(value) {
                errors.push(format!(
                    "{at}: unsupported value `{}`, expected one of {}",
                    show(value),
                    one_of_list(allowed)
                ));
            }
        }
        match value {
            Value::String(text) => self.string(s, text, at, errors),
            Value::Number(n) => number(s, n, at, errors),
            Value::Array(items) => self.array(s, items, path, mode, errors),
            Value::Object(fields) => self.object(s, fields, path, mode, errors),
            Value::Null | Value::Bool(_) => {}
        }
        self.combinators(s, value, path, mode, errors);
        if let Some(Value::String(reference)) = s.get("$ref") {
            if mode.hops >= MAX_REF_HOPS {
                errors.push(format!("{at}: schema error: `$ref` cycle at `{reference}`"));
                return;
            }
            match resolve(self.document, reference) {
                Some(target) => {
                    // Unknown fields are checked here, against the target's fields too.
                    let m = Mode {
                        here: false,
                        hops: mode.hops + 1,
                        ..mode
                    };
                    self.node(target, value, path, m, errors);
                }
                None => errors.push(format!(
                    "{at}: schema error: unresolved `$ref` `{reference}`"
                )),
            }
        }
    }

    fn string(&self, s: &Map<String, Value>, text: &str, at: &str, errors: &mut Vec<String>) {
        let len = text.chars().count();
        if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
            if (len as u64) < min {
                errors.push(format!("{at}: must be at least {min} characters long"));
            }
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
            if len as u64 > max {
                errors.push(format!("{at}: must be at most {max} characters long"));
            }
        }
        if let Some(Value::String(pattern)) = s.get("pattern") {
            match self.patterns.get(pattern) {
                Some(re) if !re.is_match(text) => errors.push(format!(
                    "{at}: `{}` does not match the pattern `{pattern}`",
                    show(&Value::from(text))
                )),
                Some(_) => {}
                None => errors.push(format!(
                    "{at}: schema error: pattern `{pattern}` not compiled"
                )),
            }
        }
        if let Some(Value::String(format)) = s.get("format") {
            if let Some(what) = string_format_problem(format, text) {
                errors.push(format!(
                    "{at}: `{}` is not {what}",
                    show(&Value::from(text))
                ));
            }
        }
    }

    fn array(
        &self,
        s: &Map<String, Value>,
        items: &[Value],
        path: &str,
        mode: Mode,
        errors: &mut Vec<String>,
    ) {
        let at = display_path(path);
        if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
            if (items.len() as u64) < min {
                errors.push(format!("{at}: must have at least {min} items"));
            }
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
            if items.len() as u64 > max {
                errors.push(format!("{at}: must have at most {max} items"));
            }
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.node(
                    item_schema,
                    item,
                    &format!("{path}[{i}]"),
                    child(mode),
                    errors,
                );
            }
        }
        match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(j) = items[..i].iter().position(|prev| prev == item) {
                        errors.push(format!(
                            "{at}[{i}]: duplicate value `{}` in a set (same as [{j}])",
                            show(item)
                        ));
                    }
                }
            }
            Some("map") => {
                let keys: Vec<&str> = s
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|k| k.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let key_of = |item: &Value| -> Vec<Value> {
                    keys.iter()
                        .map(|k| item.get(k).cloned().unwrap_or(Value::Null))
                        .collect()
                };
                for (i, item) in items.iter().enumerate() {
                    let key = key_of(item);
                    if let Some(j) = items[..i].iter().position(|prev| key_of(prev) == key) {
                        let shown = keys
                            .iter()
                            .zip(&key)
                            .map(|(k, v)| format!("{k}={}", show(v)))
                            .collect::<Vec<_>>()
                            .join(", ");
                        errors.push(format!(
                            "{at}[{i}]: duplicate entry with key `{shown}` (same as [{j}])"
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    fn object(
        &self,
        s: &Map<String, Value>,
        fields: &Map<String, Value>,
        path: &str,
        mode: Mode,
        errors: &mut Vec<String>,
    ) {
        let at = display_path(path);
        if let Some(min) = s.get("minProperties").and_then(Value::as_u64) {
            if (fields.len() as u64) < min {
                errors.push(format!("{at}: must have at least {min} fields"));
            }
        }
        if let Some(max) = s.get("maxProperties").and_then(Value::as_u64) {
            if fields.len() as u64 > max {
                errors.push(format!("{at}: must have at most {max} fields"));
            }
        }
        let properties = s.get("properties").and_then(Value::as_object);
        let additional = s.get("additionalProperties");
        let schema_of = |key: &str| match properties.and_then(|props| props.get(key)) {
            Some(prop) => Some(prop),
            None => additional.filter(|a| a.is_object()),
        };
        // Like the API server, a null field that may not be null counts as absent.
        let absent = |key: &str| match fields.get(key) {
            None => true,
            Some(Value::Null) => {
                schema_of(key).and_then(|p| p.get("nullable")) != Some(&Value::Bool(true))
            }
            Some(_) => false,
        };
        if let Some(Value::Array(required)) = s.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if absent(name) {
                    errors.push(format!(
                        "{}: required field is missing",
                        field_path(path, name)
                    ));
                }
            }
        }
        // Problems of the object itself come before those inside its fields.
        if mode.strict && mode.here {
            let known = self.known_fields(s, 0);
            if !known.any {
                for key in fields.keys() {
                    if !known.names.contains(&key.as_str()) {
                        errors.push(format!("{}: unknown field", field_path(path, key)));
                    }
                }
            }
        }
        for (key, v) in fields {
            if v.is_null() && absent(key) {
                continue;
            }
            if let Some(sub) = schema_of(key) {
                self.node(sub, v, &field_path(path, key), child(mode), errors);
            }
        }
    }

    /// The fields a schema (with its `allOf` branches and `$ref`s) declares.
    fn known_fields<'s>(&'s self, s: &'s Map<String, Value>, hops: usize) -> Known<'s> {
        let mut known = Known {
            names: Vec::new(),
            any: false,
        };
        if hops > MAX_REF_HOPS {
            known.any = true;
            return known;
        }
        if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
            || matches!(
                s.get("additionalProperties"),
                Some(Value::Object(_) | Value::Bool(true))
            )
        {
            known.any = true;
        }
        // A schema with no structure at all (`{}` or only value validations) says
        // nothing about fields; only a declared object without them prunes everything.
        let structural = [
            "type",
            "properties",
            "additionalProperties",
            "$ref",
            "allOf",
        ];
        if !structural.iter().any(|k| s.contains_key(*k)) {
            known.any = true;
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            known.names.extend(props.keys().map(String::as_str));
        }
        let mut branches: Vec<&Value> = Vec::new();
        if let Some(Value::Array(all)) = s.get("allOf") {
            branches.extend(all);
        }
        if let Some(Value::String(reference)) = s.get("$ref") {
            match resolve(self.document, reference) {
                Some(target) => branches.push(target),
                None => known.any = true,
            }
        }
        for b in branches {
            if let Some(b) = b.as_object() {
                let k = self.known_fields(b, hops + 1);
                known.any |= k.any;
                known.names.extend(k.names);
            }
        }
        known
    }

    fn combinators(
        &self,
        s: &Map<String, Value>,
        value: &Value,
        path: &str,
        mode: Mode,
        errors: &mut Vec<String>,
    ) {
        let at = display_path(path);
        if let Some(Value::Array(all)) = s.get("allOf") {
            for branch in all {
                let m = Mode {
                    here: false,
                    hops: mode.hops + 1,
                    ..mode
                };
                self.node(branch, value, path, m, errors);
            }
        }
        // The standard `anyOf: [integer, string]` of int-or-string was checked already.
        if int_or_string(s) {
            return;
        }
        let values_only = Mode {
            strict: false,
            here: false,
            hops: mode.hops + 1,
            depth: mode.depth,
        };
        if let Some(Value::Array(any)) = s.get("anyOf") {
            let results: Vec<Vec<String>> = any
                .iter()
                .map(|b| self.try_branch(b, value, path, values_only))
                .collect();
            if !results.iter().any(Vec::is_empty) {
                errors.push(describe_failure(at, "anyOf", any, &results, value));
            }
        }
        if let Some(Value::Array(one)) = s.get("oneOf") {
            let results: Vec<Vec<String>> = one
                .iter()
                .map(|b| self.try_branch(b, value, path, values_only))
                .collect();
            let matched: Vec<usize> = (0..results.len())
                .filter(|&i| results[i].is_empty())
                .collect();
            match matched.len() {
                1 => {}
                0 => errors.push(describe_failure(at, "oneOf", one, &results, value)),
                _ => errors.push(describe_ambiguity(at, one, &matched)),
            }
        }
        if let Some(not) = s.get("not") {
            if self.try_branch(not, value, path, values_only).is_empty() {
                errors.push(format!("{at}: must not match the schema under `not`"));
            }
        }
    }

    fn try_branch(&self, branch: &Value, value: &Value, path: &str, mode: Mode) -> Vec<String> {
        let mut errs = Vec::new();
        self.node(branch, value, path, mode, &mut errs);
        errs
    }
}

/// Names of fields a schema declares, or `any` when every field is allowed.
struct Known<'s> {
    names: Vec<&'s str>,
    any: bool,
}

fn child(mode: Mode) -> Mode {
    Mode {
        strict: mode.strict,
        here: true,
        hops: 0,
        depth: mode.depth + 1,
    }
}

fn int_or_string(s: &Map<String, Value>) -> bool {
    s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || s.get("format").and_then(Value::as_str) == Some("int-or-string")
}

fn expected_type(s: &Map<String, Value>) -> Option<&str> {
    if int_or_string(s) {
        return Some("integer or string");
    }
    s.get("type").and_then(Value::as_str)
}

fn is_integer(value: &Value) -> bool {
    matches!(value, Value::Number(n) if n.is_i64() || n.is_u64())
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => is_integer(value),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        // Unknown type names are a schema problem, not the value's.
        _ => true,
    }
}

fn number(s: &Map<String, Value>, n: &serde_json::Number, at: &str, errors: &mut Vec<String>) {
    let Some(x) = n.as_f64() else {
        return;
    };
    let exclusive = |k: &str| s.get(k) == Some(&Value::Bool(true));
    let bound = |k: &str| s.get(k).and_then(|v| Some((v.as_f64()?, v)));
    if let Some((min, shown)) = bound("minimum") {
        if exclusive("exclusiveMinimum") && x <= min {
            errors.push(format!("{at}: must be greater than {shown}"));
        } else if x < min {
            errors.push(format!("{at}: must be at least {shown}"));
        }
    }
    if let Some((max, shown)) = bound("maximum") {
        if exclusive("exclusiveMaximum") && x >= max {
            errors.push(format!("{at}: must be less than {shown}"));
        } else if x > max {
            errors.push(format!("{at}: must be at most {shown}"));
        }
    }
    if let Some((m, shown)) = bound("multipleOf") {
        if m > 0.0 && (x / m).fract() != 0.0 {
            errors.push(format!("{at}: must be a multiple of {shown}"));
        }
    }
    if let Some(Value::String(format)) = s.get("format") {
        if (n.is_i64() || n.is_u64()) && !integer_fits(format, n) {
            errors.push(format!("{at}: `{n}` does not fit {format}"));
        }
    }
}

/// The fields a branch such as `{required: [cidr], properties: {cidr: {}}}` requires,
/// when that is all the branch says.
fn required_only(branch: &Value) -> Option<Vec<&str>> {
    let b = branch.as_object()?;
    if !b
        .keys()
        .all(|k| matches!(k.as_str(), "required" | "properties" | "description"))
    {
        return None;
    }
    let required: Vec<&str> = b
        .get("required")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    (!required.is_empty()).then_some(required)
}

/// The type a branch such as `{type: integer}` asks for, when that is all it says.
fn type_only(branch: &Value) -> Option<&str> {
    let b = branch.as_object()?;
    if b.len() != 1 {
        return None;
    }
    b.get("type")?.as_str()
}

fn alternatives(branches: &[Value]) -> Option<String> {
    let names: Option<Vec<String>> = branches
        .iter()
        .map(|b| {
            required_only(b).map(|r| {
                r.iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            })
        })
        .collect();
    names.map(|n| n.join(", "))
}

fn describe_failure(
    at: &str,
    keyword: &str,
    branches: &[Value],
    results: &[Vec<String>],
    value: &Value,
) -> String {
    if let Some(types) = branches
        .iter()
        .map(type_only)
        .collect::<Option<Vec<&str>>>()
    {
        return format!("{at}: expected {}", types.join(" or "));
    }
    if value.is_object() {
        if let Some(names) = alternatives(branches) {
            let how = if keyword == "oneOf" {
                "exactly one"
            } else {
                "at least one"
            };
            return format!("{at}: needs {how} of {names}");
        }
    }
    // Otherwise the closest alternative's first problem.
    let closest = results
        .iter()
        .min_by_key(|r| r.len())
        .and_then(|r| r.first());
    match closest {
        Some(first) => {
            format!("{at}: matches none of the `{keyword}` alternatives; closest: {first}")
        }
        None => format!("{at}: matches none of the `{keyword}` alternatives"),
    }
}

fn describe_ambiguity(at: &str, branches: &[Value], matched: &[usize]) -> String {
    let picked: Vec<Value> = matched
        .iter()
        .filter_map(|&i| branches.get(i).cloned())
        .collect();
    match alternatives(&picked) {
        Some(names) => format!("{at}: only one of {names} may be set"),
        None => format!(
            "{at}: matches more than one `oneOf` alternative ({})",
            matched
                .iter()
                .map(|i| format!("#{}", i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
