//! Admission of custom resources: unknown-field handling per `fieldValidation`, then
//! pruning, defaulting and validation against the CRD schema with [`crate::schema`],
//! answered as the apiserver does (`400` for strict decoding, `422 Invalid` with causes).

use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::resources::ResourceType;
use crate::schema;

/// The `fieldValidation` query parameter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Validation {
    /// Drop unknown fields silently.
    Ignore,
    /// Drop unknown fields and answer a `Warning` header per field (the default).
    #[default]
    Warn,
    /// Reject unknown fields with `400`.
    Strict,
}

impl Validation {
    /// Parses `fieldValidation`; the apiserver's default is `Warn`.
    pub fn parse(s: Option<&str>) -> ApiResult<Self> {
        match s {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of Ignore, Warn or Strict, not {other:?}"
            ))),
        }
    }
}

/// Paths (`spec.foo`, `spec.list[0].bar`) present in `full` but pruned from `pruned`.
fn unknown_fields(full: &Value, pruned: &Value, path: &str, out: &mut Vec<String>) {
    match (full, pruned) {
        (Value::Object(f), Value::Object(p)) => {
            for (k, v) in f {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match p.get(k) {
                    Some(pv) => unknown_fields(v, pv, &sub, out),
                    None => out.push(sub),
                }
            }
        }
        (Value::Array(f), Value::Array(p)) => {
            for (i, (v, pv)) in f.iter().zip(p).enumerate() {
                unknown_fields(v, pv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Admits `obj` for `rt`: built-ins pass unchanged; custom resources are pruned,
/// defaulted and validated. Returns the object to store and any warnings.
pub fn admit(
    rt: &ResourceType,
    obj: Value,
    validation: Validation,
) -> ApiResult<(Value, Vec<String>)> {
    let Some(schema_value) = rt.schema.as_ref() else {
        return Ok((obj, Vec::new()));
    };
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut pruned = obj.clone();
    schema::prune(schema_value, &mut pruned, true);
    let mut unknown = Vec::new();
    unknown_fields(&obj, &pruned, "", &mut unknown);
    let mut warnings = Vec::new();
    if !unknown.is_empty() {
        let list: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        match validation {
            Validation::Strict => {
                return Err(ApiError::bad_request(format!(
                    "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                    rt.kind,
                    rt.version,
                    rt.kind,
                    list.join(", ")
                )));
            }
            Validation::Warn => warnings = list,
            Validation::Ignore => {}
        }
    }
    match schema::admit(schema_value, &pruned) {
        Ok(admitted) => Ok((admitted, warnings)),
        Err(errors) => Err(ApiError::invalid(
            rt,
            &name,
            errors
                .into_iter()
                .map(|e| (e.reason.to_string(), e.message, e.field))
                .collect(),
        )),
    }
}
