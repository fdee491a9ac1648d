//! Validation of custom resources against a CRD's `openAPIV3Schema` the way
//! kube-apiserver does it at admission: prune unknown fields, apply defaults, check the
//! structural constraints (types, required, patterns, ranges, lengths, item counts) and
//! evaluate the `x-kubernetes-validations` CEL rules (with the `kube-cel` interpreter).
//! Error texts follow the apiserver's field-error format so tests and `kubectl` users
//! see what they would see on a real cluster.

use std::fmt;

use kube::core::cel::{Validator, apply_defaults};
use regex::Regex;
use serde_json::{Map, Value};

/// One rejected field, as the apiserver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueTooLong`, ...
    pub reason: &'static str,
    /// Dotted path, e.g. `spec.deviceIndex`.
    pub field: String,
    /// The full message, e.g. `spec.deviceIndex: Invalid value: 0: ...`.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Object(_) => "\"object\"".into(),
        Value::Array(_) => "\"array\"".into(),
        other => other.to_string(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Drops fields the schema does not declare (as the apiserver's pruning does), keeping
/// `apiVersion`, `kind` and `metadata` at the root.
pub fn prune(schema: &Value, value: &mut Value, root: bool) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            map.retain(|k, _| {
                (root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
                    || props.is_some_and(|p| p.contains_key(k))
                    || additional.is_some_and(|a| a.is_object())
            });
            for (k, v) in map.iter_mut() {
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    prune(s, v, false);
                } else if let Some(s) = additional.filter(|a| a.is_object()) {
                    prune(s, v, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for v in items {
                    prune(s, v, false);
                }
            }
        }
        _ => {}
    }
}

/// Prunes, defaults and validates `object` against `schema`; returns the object as the
/// apiserver would store it, or every field error.
pub fn admit(schema: &Value, object: &Value) -> Result<Value, Vec<FieldError>> {
    let mut pruned = object.clone();
    prune(schema, &mut pruned, true);
    let defaulted = apply_defaults(schema, &pruned);
    let mut errors = Vec::new();
    check(schema, &defaulted, "", &mut errors);
    if errors.is_empty()
        && let Err(cel) = Validator::new().validate(schema, &defaulted, None)
    {
        for e in cel.iter() {
            let field = e.field_path.clone();
            let value = lookup(&defaulted, &field);
            errors.push(FieldError {
                reason: "FieldValueInvalid",
                message: format!(
                    "{}: Invalid value: \"{}\": {}",
                    field,
                    value.map(type_name).unwrap_or("object"),
                    e.message
                ),
                field,
            });
        }
    }
    if errors.is_empty() {
        Ok(defaulted)
    } else {
        Err(errors)
    }
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .try_fold(value, |v, key| v.get(key))
}

fn push(errors: &mut Vec<FieldError>, reason: &'static str, field: &str, detail: String) {
    errors.push(FieldError {
        reason,
        field: field.to_string(),
        message: format!("{field}: {detail}"),
    });
}

/// Structural checks of one value against its schema node.
fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let get = |k: &str| schema.get(k);
    let num = |k: &str| get(k).and_then(Value::as_f64);
    let count = |k: &str| get(k).and_then(Value::as_u64);
    if value.is_null() {
        if get("nullable") != Some(&Value::Bool(true)) && !path.is_empty() {
            push(
                errors,
                "FieldValueTypeInvalid",
                path,
                "Invalid value: \"null\": field must not be null".into(),
            );
        }
        return;
    }
    let preserve = get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if let Some(want) = get("type").and_then(Value::as_str)
        && !preserve
    {
        let have = type_name(value);
        if !(have == want || (want == "number" && have == "integer")) {
            push(
                errors,
                "FieldValueTypeInvalid",
                path,
                format!(
                    "Invalid value: {}: {path} in body must be of type {want}: \"{have}\"",
                    short(value)
                ),
            );
            return;
        }
    }
    if let Some(allowed) = get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(short).collect();
        push(
            errors,
            "FieldValueNotSupported",
            path,
            format!(
                "Unsupported value: {}: supported values: {}",
                short(value),
                list.join(", ")
            ),
        );
    }
    match value {
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if let Some(max) = count("maxLength").filter(|m| len > *m) {
                push(
                    errors,
                    "FieldValueTooLong",
                    path,
                    format!("Too long: may not be more than {max} bytes"),
                );
            }
            if let Some(min) = count("minLength").filter(|m| len < *m) {
                push(
                    errors,
                    "FieldValueInvalid",
                    path,
                    format!(
                        "Invalid value: {s:?}: {path} in body should be at least {min} chars long"
                    ),
                );
            }
            if let Some(p) = get("pattern").and_then(Value::as_str)
                && !Regex::new(p).is_ok_and(|r| r.is_match(s))
            {
                push(
                    errors,
                    "FieldValueInvalid",
                    path,
                    format!("Invalid value: {s:?}: {path} in body should match '{p}'"),
                );
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or_default();
            if let Some(min) = num("minimum").filter(|m| x < *m) {
                push(
                    errors,
                    "FieldValueInvalid",
                    path,
                    format!(
                        "Invalid value: {n}: {path} in body should be greater than or equal to {min}"
                    ),
                );
            }
            if let Some(max) = num("maximum").filter(|m| x > *m) {
                push(
                    errors,
                    "FieldValueInvalid",
                    path,
                    format!(
                        "Invalid value: {n}: {path} in body should be less than or equal to {max}"
                    ),
                );
            }
        }
        Value::Array(items) => {
            let n = items.len() as u64;
            if let Some(max) = count("maxItems").filter(|m| n > *m) {
                push(
                    errors,
                    "FieldValueTooMany",
                    path,
                    format!("Too many: {n}: must have at most {max} items"),
                );
            }
            if let Some(min) = count("minItems").filter(|m| n < *m) {
                push(
                    errors,
                    "FieldValueInvalid",
                    path,
                    format!("Invalid value: {n}: {path} in body should have at least {min} items"),
                );
            }
            if let Some(item_schema) = get("items") {
                for (i, v) in items.iter().enumerate() {
                    check(item_schema, v, &format!("{path}[{i}]"), errors);
                }
            }
        }
        Value::Object(map) => check_object(schema, map, path, errors),
        _ => {}
    }
}

fn check_object(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    for req in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(k) = req.as_str()
            && !map.contains_key(k)
        {
            push(
                errors,
                "FieldValueRequired",
                &join(path, k),
                "Required value".into(),
            );
        }
    }
    let n = map.len() as u64;
    if let Some(min) = schema
        .get("minProperties")
        .and_then(Value::as_u64)
        .filter(|m| n < *m)
    {
        push(
            errors,
            "FieldValueInvalid",
            path,
            format!("Invalid value: {n}: {path} in body should have at least {min} properties"),
        );
    }
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (k, v) in map {
        if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(s) = props.and_then(|p| p.get(k)).or(additional) {
            check(s, v, &join(path, k), errors);
        }
    }
}
