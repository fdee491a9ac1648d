//! The PATCH content types: JSON merge (RFC 7386), JSON patch (RFC 6902), strategic
//! merge (approximated by merge semantics) and the body decoding of server-side apply.

use json_patch::{Patch, PatchOperation};
use serde_json::Value;

use super::error::{ApiError, ApiResult};

/// Which kind of patch a request carries, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchKind {
    /// Parses a `Content-Type`; `415` for anything else.
    pub fn from_content_type(ct: &str) -> ApiResult<Self> {
        let media = ct.split(';').next().unwrap_or_default().trim();
        match media {
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/json-patch+json" => Ok(Self::Json),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(Self::Apply),
            other => Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other:?})"
                ),
            )),
        }
    }
}

/// Applies a merge, JSON or strategic patch to a copy of `current`.
pub fn apply_patch(kind: PatchKind, current: &Value, body: &[u8]) -> ApiResult<Value> {
    let mut doc = current.clone();
    match kind {
        PatchKind::Merge => json_patch::merge(&mut doc, &parse_json(body)?),
        PatchKind::Strategic => {
            let mut patch = parse_json(body)?;
            strip_directives(&mut patch);
            json_patch::merge(&mut doc, &patch);
        }
        PatchKind::Json => {
            let patch: Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            for op in &patch.0 {
                // kube-apiserver (evanphx/json-patch) lets `test` of a missing path against
                // `null` pass; kube-runtime's finalizer helper relies on it.
                if let PatchOperation::Test(t) = op
                    && t.value.is_null()
                    && doc.pointer(t.path.as_str()).is_none_or(Value::is_null)
                {
                    continue;
                }
                json_patch::patch(&mut doc, std::slice::from_ref(op)).map_err(|e| {
                    ApiError::new(
                        422,
                        "Invalid",
                        format!(
                            "the server rejected our request due to an error in our request: {e}"
                        ),
                    )
                })?;
            }
        }
        PatchKind::Apply => return Err(ApiError::internal("apply is not a plain patch")),
    }
    Ok(doc)
}

/// Decodes a request body as JSON, or `400`.
pub fn parse_json(body: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))
}

/// Decodes a server-side apply body: YAML or JSON.
pub fn parse_apply_body(body: &[u8]) -> ApiResult<Value> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request(format!("apply body is not UTF-8: {e}")))?;
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

/// Drops strategic-merge directives (`$patch`, `$retainKeys`, `$setElementOrder/...`,
/// `$deleteFromPrimitiveList/...`) so the rest merges like a JSON merge patch.
fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with('$'));
            map.values_mut().for_each(strip_directives);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_directives),
        _ => {}
    }
}
