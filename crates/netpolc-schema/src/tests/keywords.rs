//! Each keyword on a small schema.

use super::*;
use serde_json::json;

fn check(schema: Value, value: Value) -> Vec<String> {
    Validator::from_schema(schema).unwrap().validate(&value)
}

#[test]
fn strings() {
    let s = json!({"type": "object", "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-zé]+$"},
        "net": {"type": "string", "format": "cidr"},
        "ip": {"type": "string", "format": "ip"},
        "when": {"type": "string", "format": "date-time"},
    }});
    assert!(check(
        s.clone(),
        json!({"name": "éé", "net": "::/0", "ip": "10.0.0.1", "when": "x"})
    )
    .is_empty());
    assert_eq!(
        check(s.clone(), json!({"name": "a"})),
        ["name: must be at least 2 characters long"]
    );
    assert_eq!(
        check(
            s.clone(),
            json!({"name": "ABCDE", "net": "10.0.0.0", "ip": "10.0.0.0/8"})
        ),
        [
            "name: must be at most 4 characters long",
            "name: `ABCDE` does not match the pattern `^[a-zé]+$`",
            "net: `10.0.0.0` is not a CIDR such as `10.0.0.0/8` or `2001:db8::/32`",
            "ip: `10.0.0.0/8` is not an IP address",
        ]
    );
}

#[test]
fn numbers() {
    let s = json!({"type": "object", "properties": {
        "a": {"type": "integer", "minimum": 1, "maximum": 10, "exclusiveMaximum": true},
        "b": {"type": "number", "minimum": 0.5, "exclusiveMinimum": true, "multipleOf": 0.5},
        "c": {"type": "integer", "format": "int32"},
    }});
    assert!(check(s.clone(), json!({"a": 9, "b": 1.5, "c": -2147483648})).is_empty());
    assert_eq!(
        check(s.clone(), json!({"a": 10, "b": 0.5, "c": 2147483648u64})),
        [
            "a: must be less than 10",
            "b: must be greater than 0.5",
            "c: `2147483648` does not fit int32",
        ]
    );
    assert_eq!(
        check(s.clone(), json!({"a": 0, "b": 0.75, "c": 1.0})),
        [
            "a: must be at least 1",
            "b: must be a multiple of 0.5",
            "c: expected integer"
        ]
    );
    assert_eq!(check(s, json!({"a": "1"})), ["a: expected integer"]);
}

#[test]
fn arrays_sets_and_maps() {
    let s = json!({"type": "object", "properties": {
        "set": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set", "minItems": 1},
        "map": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
                "maxItems": 3,
                "items": {"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}}}},
        "atomic": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "integer"}},
    }});
    assert!(check(
        s.clone(),
        json!({"set": ["a", "b"], "map": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}], "atomic": [1, 1]})
    )
    .is_empty());
    assert_eq!(
        check(
            s.clone(),
            json!({"set": [], "map": [{"port": 53, "protocol": "UDP"}, {"port": 80}, {"protocol": "UDP", "port": 53}, {"port": 80}]})
        ),
        [
            "set: must have at least 1 items",
            "map: must have at most 3 items",
            "map[2]: duplicate entry with key `port=53, protocol=UDP` (same as [0])",
            "map[3]: duplicate entry with key `port=80, protocol=null` (same as [1])",
        ]
    );
    assert_eq!(
        check(s, json!({"set": ["a", 1, "a"]})),
        [
            "set[1]: expected string",
            "set[2]: duplicate value `a` in a set (same as [0])"
        ]
    );
}

#[test]
fn objects_maps_and_unknown_fields() {
    let s = json!({"type": "object", "required": ["a"], "minProperties": 1, "maxProperties": 3, "properties": {
        "a": {"type": "object", "additionalProperties": {"type": "integer"}},
        "b": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"k": {"type": "string"}}},
        "c": {"type": "object", "additionalProperties": false, "properties": {"k": {"type": "string"}}},
        "d": {"type": "object"},
        "e": {},
    }});
    assert!(check(
        s.clone(),
        json!({"a": {"x": 1, "y": 2}, "b": {"k": "v", "anything": [1]}})
    )
    .is_empty());
    assert!(check(
        s.clone(),
        json!({"a": {}, "e": {"anything": {"at": "all"}}})
    )
    .is_empty());
    assert_eq!(
        check(
            s.clone(),
            json!({"a": {"x": "1"}, "b": {"k": 1}, "c": {"j": 1}, "d": {"z": 1}})
        ),
        [
            "<root>: must have at most 3 fields",
            "a.x: expected integer",
            "b.k: expected string",
            "c.j: unknown field",
            "d.z: unknown field",
        ]
    );
    assert_eq!(
        check(s, json!({})),
        [
            "<root>: must have at least 1 fields",
            "a: required field is missing"
        ]
    );
}

#[test]
fn nullable_and_enum() {
    let s = json!({"type": "object", "required": ["m"], "properties": {
        "n": {"type": "string", "nullable": true},
        "m": {"type": "string"},
        "o": {"type": "string"},
        "e": {"type": "string", "enum": ["x", "y"]},
        "i": {"type": "integer", "enum": [1, 2]},
    }});
    // A null that may not be null counts as absent, as the API server drops it.
    assert!(check(
        s.clone(),
        json!({"n": null, "m": "x", "o": null, "e": "y", "i": 2})
    )
    .is_empty());
    assert_eq!(check(s.clone(), json!([null])), ["<root>: expected object"]);
    assert_eq!(
        check(s, json!({"m": null, "e": "z", "i": 3})),
        [
            "m: required field is missing",
            "e: unsupported value `z`, expected one of `x`, `y`",
            "i: unsupported value `3`, expected one of `1`, `2`",
        ]
    );
}

#[test]
fn combinators() {
    let s = json!({"type": "object", "properties": {
        "ios": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}], "pattern": "^[a-z0-9]+$"},
        "one": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
        "any": {"type": "string", "anyOf": [{"pattern": "^x"}, {"maxLength": 1}]},
        "all": {"type": "string", "allOf": [{"pattern": "^x"}, {"maxLength": 2}]},
        "not": {"type": "string", "not": {"enum": ["forbidden"]}},
        "one2": {"type": "integer", "oneOf": [{"minimum": 0}, {"maximum": 10}]},
    }});
    assert!(check(
        s.clone(),
        json!({"ios": 80, "one": {"a": "1"}, "any": "xyz", "all": "xy", "not": "fine", "one2": 20})
    )
    .is_empty());
    assert_eq!(
        check(
            s.clone(),
            json!({"ios": "HTTP", "one": {}, "any": "abc", "all": "abc", "not": "forbidden", "one2": 5})
        ),
        [
            "ios: `HTTP` does not match the pattern `^[a-z0-9]+$`",
            "one: needs exactly one of `a`, `b`",
            "any: matches none of the `anyOf` alternatives; closest: any: `abc` does not match the pattern `^x`",
            "all: `abc` does not match the pattern `^x`",
            "all: must be at most 2 characters long",
            "not: must not match the schema under `not`",
            "one2: matches more than one `oneOf` alternative (#1, #2)",
        ]
    );
    assert_eq!(
        check(s, json!({"ios": [80], "one": {"a": "1", "b": "2"}})),
        [
            "ios: expected integer or string",
            "one: only one of `a`, `b` may be set",
        ]
    );
}

#[test]
fn refs_resolve_in_the_document_and_cycles_end() {
    let document = json!({"components": {"schemas": {
        "Top": {"type": "object", "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "Top"}],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
                    "child": {"allOf": [{"$ref": "#/components/schemas/Child"}], "default": {}},
                    "loop": {"$ref": "#/components/schemas/Loop"},
                }},
        "Child": {"type": "object", "properties": {"x": {"type": "integer"}, "next": {"$ref": "#/components/schemas/Child"}}},
        "Loop": {"$ref": "#/components/schemas/Loop"},
    }}});
    let v = Validator::from_openapi(document, "Top").unwrap();
    let ok = json!({"apiVersion": "v1", "kind": "Top", "metadata": {"name": "t"},
                    "child": {"x": 1, "next": {"x": 2, "next": {}}}});
    assert_eq!(v.validate(&ok), Vec::<String>::new());
    let e = v.validate(
        &json!({"apiVersion": "v1", "kind": "Top", "metadata": {"name": "t"},
                               "child": {"x": "1", "y": 2, "next": {"z": 1}}, "loop": 1}),
    );
    assert_eq!(
        e,
        [
            "child.y: unknown field",
            "child.x: expected integer",
            "child.next.z: unknown field",
            "loop: schema error: `$ref` cycle at `#/components/schemas/Loop`",
        ]
    );
    let bad = json!({"components": {"schemas": {"Top": {"$ref": "#/components/schemas/Nowhere"}}}});
    let e = Validator::from_openapi(bad, "Top").unwrap_err();
    assert!(e.contains("unresolved `$ref`"), "{e}");
}

#[test]
fn cel_rule_paths() {
    let s = json!({"type": "object",
    "x-kubernetes-validations": [{"rule": "has(self.a)", "message": "needs a"}],
    "properties": {
        "list": {"type": "array", "items": {"type": "object",
            "x-kubernetes-validations": [{"rule": "self.x > 0", "messageExpression": "'x is ' + string(self.x)"}]}},
        "map": {"type": "object", "additionalProperties": {"type": "string",
            "x-kubernetes-validations": [{"rule": "self != ''"}]}},
    }});
    let v = Validator::from_schema(s).unwrap();
    assert_eq!(
        v.cel_rules(),
        [
            (
                "<root>".to_string(),
                "has(self.a)".to_string(),
                "needs a".to_string()
            ),
            (
                "list[*]".to_string(),
                "self.x > 0".to_string(),
                "'x is ' + string(self.x)".to_string()
            ),
            ("map.*".to_string(), "self != ''".to_string(), String::new()),
        ]
    );
}
