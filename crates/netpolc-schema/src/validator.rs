//! [`Validator`]: loading a schema (OpenAPI document or CRD) and checking objects.

use crate::check::{display_path, field_path, resolve, Ctx};
use netpolc_intent::yaml;
use netpolc_source::SourceMap;
use regex::Regex;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Schema positions visited at most when walking a schema (a bound for shared `$ref`s).
const MAX_WALK: usize = 200_000;

/// A schema for one kind of object, ready to check objects of that kind.
#[derive(Debug, Clone)]
pub struct Validator {
    /// The schema of a whole object.
    schema: Value,
    /// The document `$ref`s are resolved in (the OpenAPI document), if any.
    document: Option<Value>,
    /// Every `pattern` of the schema, compiled.
    patterns: BTreeMap<String, Regex>,
    /// The `apiVersion` and `kind` objects must have.
    gvk: Option<(String, String)>,
}

impl Validator {
    /// The validator of `networking.k8s.io/v1` `NetworkPolicy`, from
    /// `kubernetes/apis__networking.k8s.io__v1_openapi.json` in `schemas_dir`: the schema
    /// `components.schemas["io.k8s.api.networking.v1.NetworkPolicy"]`, its `$ref`s
    /// resolved in that document.
    pub fn kubernetes_networkpolicy(schemas_dir: &Path) -> Result<Validator, String> {
        let path = schemas_dir.join("kubernetes/apis__networking.k8s.io__v1_openapi.json");
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let document: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_openapi(document, "io.k8s.api.networking.v1.NetworkPolicy")
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The validator of one schema of an OpenAPI v3 document
    /// (`components.schemas[name]`), with `$ref`s resolved in the document. The
    /// `apiVersion` and `kind` come from the schema's `x-kubernetes-group-version-kind`.
    pub fn from_openapi(document: Value, name: &str) -> Result<Validator, String> {
        let schema = document
            .get("components")
            .and_then(|c| c.get("schemas"))
            .and_then(|s| s.get(name))
            .cloned()
            .ok_or_else(|| format!("no schema `{name}` under `components.schemas`"))?;
        let gvk = schema
            .get("x-kubernetes-group-version-kind")
            .and_then(|g| g.get(0))
            .and_then(|g| {
                let group = g.get("group")?.as_str()?;
                let version = g.get("version")?.as_str()?;
                let kind = g.get("kind")?.as_str()?;
                let api_version = if group.is_empty() {
                    version.to_string()
                } else {
                    format!("{group}/{version}")
                };
                Some((api_version, kind.to_string()))
            });
        Self::build(schema, Some(document), gvk)
    }

    /// The validator of the custom resource a CustomResourceDefinition YAML file
    /// defines: the `openAPIV3Schema` of its version that is served and stored (or else
    /// of its first served version). Objects must have that version's `apiVersion` and
    /// the CRD's `kind`; their `metadata` is checked as Kubernetes checks `ObjectMeta`.
    pub fn crd(path: &Path) -> Result<Validator, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut sources = SourceMap::default();
        let name = path.display().to_string();
        let file = sources.add(name.clone(), String::from_utf8_lossy(&bytes).into_owned());
        let docs = yaml::load(file, &bytes, &yaml::Limits::default()).map_err(|d| {
            let at = d
                .primary_span()
                .map_or_else(|| name.clone(), |s| sources.location(s));
            format!("{at}: {} [{}]", d.message, d.code)
        })?;
        let crd = docs
            .iter()
            .map(yaml::Node::to_json)
            .find(|d| d.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition"))
            .ok_or_else(|| format!("{name}: no CustomResourceDefinition in this file"))?;
        Self::from_crd(&crd).map_err(|e| format!("{name}: {e}"))
    }

    /// [`Validator::crd`] for a CRD already read as JSON.
    pub fn from_crd(crd: &Value) -> Result<Validator, String> {
        let spec = crd.get("spec").ok_or("the CRD has no `spec`")?;
        let group = spec
            .get("group")
            .and_then(Value::as_str)
            .ok_or("the CRD has no `spec.group`")?;
        let kind = spec
            .get("names")
            .and_then(|n| n.get("kind"))
            .and_then(Value::as_str)
            .ok_or("the CRD has no `spec.names.kind`")?;
        let versions = spec
            .get("versions")
            .and_then(Value::as_array)
            .ok_or("the CRD has no `spec.versions`")?;
        let flag = |v: &Value, k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        let version = versions
            .iter()
            .find(|v| flag(v, "served") && flag(v, "storage"))
            .or_else(|| versions.iter().find(|v| flag(v, "served")))
            .ok_or("the CRD has no served version")?;
        let version_name = version
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a CRD version has no `name`")?;
        let mut schema = version
            .get("schema")
            .and_then(|s| s.get("openAPIV3Schema"))
            .or_else(|| {
                spec.get("validation")
                    .and_then(|v| v.get("openAPIV3Schema"))
            })
            .cloned()
            .ok_or_else(|| format!("version `{version_name}` has no `openAPIV3Schema`"))?;
        // The API server checks `metadata` as ObjectMeta whatever the CRD says (CRDs
        // may only narrow `name`); the CRD's own schema for it is kept alongside.
        if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            let own = props.remove("metadata").unwrap_or_else(|| json!({}));
            props.insert("metadata".into(), json!({"allOf": [object_meta(), own]}));
        }
        let gvk = (format!("{group}/{version_name}"), kind.to_string());
        Self::build(schema, None, Some(gvk))
    }

    /// A validator for a bare structural schema: no `$ref` document, no `apiVersion`
    /// or `kind` checks. Useful to test a schema fragment.
    pub fn from_schema(schema: Value) -> Result<Validator, String> {
        Self::build(schema, None, None)
    }

    fn build(
        schema: Value,
        document: Option<Value>,
        gvk: Option<(String, String)>,
    ) -> Result<Validator, String> {
        let mut v = Validator {
            schema,
            document,
            patterns: BTreeMap::new(),
            gvk,
        };
        let mut sources: Vec<(String, String)> = Vec::new();
        v.walk(|s, path| {
            if let Some(Value::String(p)) = s.get("pattern") {
                sources.push((p.clone(), path.to_string()));
            }
        })?;
        for (pattern, path) in sources {
            if v.patterns.contains_key(&pattern) {
                continue;
            }
            let re = Regex::new(&pattern).map_err(|e| {
                format!(
                    "{}: the pattern `{pattern}` does not compile: {e}",
                    display_path(&path)
                )
            })?;
            v.patterns.insert(pattern, re);
        }
        Ok(v)
    }

    /// Checks an object; returns one `path: message` line per problem, in document
    /// order (none when the object is valid).
    ///
    /// Besides the schema, objects must have the expected `apiVersion` and `kind` and a
    /// non-empty `metadata.name` (or `metadata.generateName`), as the API server demands.
    pub fn validate(&self, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some((api_version, kind)) = &self.gvk {
            for (field, expected) in [("apiVersion", api_version), ("kind", kind)] {
                match value.get(field) {
                    None => errors.push(format!("{field}: required field is missing")),
                    Some(Value::String(s)) if s == expected => {}
                    Some(other) => errors.push(format!(
                        "{field}: expected `{expected}`, found `{}`",
                        crate::check::show(other)
                    )),
                }
            }
            let meta = value.get("metadata");
            let named = |k: &str| {
                meta.and_then(|m| m.get(k))
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
            };
            if value.is_object() && !named("name") && !named("generateName") {
                errors.push("metadata.name: required field is missing".to_string());
            }
        }
        let ctx = Ctx {
            document: self.document.as_ref(),
            patterns: &self.patterns,
        };
        ctx.check(&self.schema, value, "", &mut errors);
        errors
    }

    /// The CEL rules (`x-kubernetes-validations`) of the schema, which
    /// [`Validator::validate`] does not evaluate: `(path, rule, message)` in schema
    /// order. Paths name schema positions: `spec.egress[*]` for the items of a list,
    /// `spec.labels.*` for the values of a map, `<root>` for the object itself. The
    /// message is the rule's `message`, else its `messageExpression`, else empty.
    pub fn cel_rules(&self) -> Vec<(String, String, String)> {
        let mut rules = Vec::new();
        // The walk succeeded when the validator was built.
        let _ = self.walk(|s, path| {
            for rule in s
                .get("x-kubernetes-validations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let text = |k: &str| rule.get(k).and_then(Value::as_str).map(str::to_string);
                if let Some(r) = text("rule") {
                    let message = text("message")
                        .or_else(|| text("messageExpression"))
                        .unwrap_or_default();
                    rules.push((display_path(path).to_string(), r, message));
                }
            }
        });
        rules
    }

    /// Calls `f` on every schema position reachable from the root, with its path.
    fn walk(&self, mut f: impl FnMut(&Map<String, Value>, &str)) -> Result<(), String> {
        let mut budget = MAX_WALK;
        let mut refs = Vec::new();
        self.walk_node(&self.schema, "", &mut refs, &mut budget, &mut f)
    }

    fn walk_node<'a>(
        &'a self,
        schema: &'a Value,
        path: &str,
        refs: &mut Vec<&'a str>,
        budget: &mut usize,
        f: &mut impl FnMut(&Map<String, Value>, &str),
    ) -> Result<(), String> {
        let Some(s) = schema.as_object() else {
            return Ok(());
        };
        if *budget == 0 {
            return Err("the schema is too large to walk".into());
        }
        *budget -= 1;
        f(s, path);
        if let Some(Value::String(reference)) = s.get("$ref") {
            // A `$ref` back into a schema being walked is recursion: it adds nothing new.
            if !refs.contains(&reference.as_str()) {
                let target = resolve(self.document.as_ref(), reference).ok_or_else(|| {
                    format!("{}: unresolved `$ref` `{reference}`", display_path(path))
                })?;
                refs.push(reference);
                self.walk_node(target, path, refs, budget, f)?;
                refs.pop();
            }
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (name, sub) in props {
                self.walk_node(sub, &field_path(path, name), refs, budget, f)?;
            }
        }
        if let Some(items) = s.get("items") {
            self.walk_node(items, &format!("{path}[*]"), refs, budget, f)?;
        }
        if let Some(extra @ Value::Object(_)) = s.get("additionalProperties") {
            let p = if path.is_empty() {
                "*".to_string()
            } else {
                format!("{path}.*")
            };
            self.walk_node(extra, &p, refs, budget, f)?;
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for sub in s.get(key).and_then(Value::as_array).into_iter().flatten() {
                self.walk_node(sub, path, refs, budget, f)?;
            }
        }
        if let Some(not) = s.get("not") {
            self.walk_node(not, path, refs, budget, f)?;
        }
        Ok(())
    }
}

/// The fields of `ObjectMeta` a manifest may carry, as the API server checks them for
/// custom resources (whose CRDs only say `metadata: {type: object}`).
fn object_meta() -> Value {
    let string = json!({"type": "string"});
    let string_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let opaque_list = json!({
        "type": "array",
        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
    });
    json!({
        "type": "object",
        "properties": {
            "name": string,
            "generateName": string,
            "namespace": string,
            "labels": string_map,
            "annotations": string_map,
            "uid": string,
            "resourceVersion": string,
            "generation": {"type": "integer", "format": "int64"},
            "creationTimestamp": {"type": "string", "nullable": true},
            "deletionTimestamp": {"type": "string", "nullable": true},
            "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
            "finalizers": {"type": "array", "items": string, "x-kubernetes-list-type": "set"},
            "ownerReferences": opaque_list,
            "managedFields": opaque_list,
            "selfLink": string,
        },
    })
}
