//! API errors answered as `meta/v1` `Status` bodies, with the codes and reasons
//! kube-apiserver uses, because clients branch on them (`get_opt` on `NotFound`,
//! kube-lease-manager on `Conflict`, kube-runtime's watcher on `410`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

use super::resources::ResourceType;
use super::ssa::{Conflict, conflict_message};

/// A failed request: rendered as a `Status` with `status: Failure`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code (also `Status.code`).
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`, `Conflict`, `Invalid`.
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details`, when the apiserver gives them.
    pub details: Option<Box<StatusDetails>>,
    /// Seconds for a `Retry-After` header (429s).
    pub retry_after: Option<u32>,
}

/// The result type of every handler below the HTTP layer.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with no details.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    /// `400 BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// `404 NotFound` for a named object, worded like the apiserver.
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", rt.group_resource()),
        )
        .with_details(rt, name)
    }

    /// `404 NotFound` for a path that names no resource.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// `409 AlreadyExists`.
    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", rt.group_resource()),
        )
        .with_details(rt, name)
    }

    /// `409 Conflict` for a stale `resourceVersion` or failed precondition.
    pub fn conflict(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                rt.group_resource()
            ),
        )
        .with_details(rt, name)
    }

    /// `410 Gone` with reason `Expired`, for resourceVersions older than the history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// `422 Invalid` listing field errors as `details.causes`; each cause is
    /// (reason, full message `field: detail`, field).
    pub fn invalid(rt: &ResourceType, name: &str, causes: Vec<(String, String, String)>) -> Self {
        let messages: Vec<&str> = causes.iter().map(|(_, m, _)| m.as_str()).collect();
        let joined = if messages.len() == 1 {
            messages[0].to_string()
        } else {
            format!("[{}]", messages.join(", "))
        };
        let qualified = if rt.group.is_empty() {
            rt.kind.clone()
        } else {
            format!("{}.{}", rt.kind, rt.group)
        };
        let mut err = Self::new(
            422,
            "Invalid",
            format!("{qualified} \"{name}\" is invalid: {joined}"),
        )
        .with_details(rt, name);
        if let Some(d) = err.details.as_mut() {
            d.kind = Some(rt.kind.clone());
            d.causes = Some(
                causes
                    .into_iter()
                    .map(|(reason, message, field)| StatusCause {
                        reason: Some(reason),
                        message: Some(
                            message
                                .strip_prefix(&format!("{field}: "))
                                .map(str::to_string)
                                .unwrap_or(message),
                        ),
                        field: Some(field),
                    })
                    .collect(),
            );
        }
        err
    }

    /// `409 Conflict` for a server-side apply that would take fields from other managers.
    pub fn apply_conflict(rt: &ResourceType, name: &str, conflicts: &[Conflict]) -> Self {
        let mut err = Self::new(
            409,
            "Conflict",
            conflict_message(conflicts, &rt.api_version()),
        )
        .with_details(rt, name);
        if let Some(d) = err.details.as_mut() {
            d.causes = Some(
                conflicts
                    .iter()
                    .map(|c| StatusCause {
                        reason: Some("FieldManagerConflict".into()),
                        message: Some(format!("conflict with \"{}\"", c.managers.join("\", \""))),
                        field: Some(c.field.clone()),
                    })
                    .collect(),
            );
        }
        err
    }

    /// `500 InternalError`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    fn with_details(mut self, rt: &ResourceType, name: &str) -> Self {
        self.details = Some(Box::new(StatusDetails {
            name: Some(name.to_string()),
            group: Some(rt.group.clone()),
            kind: Some(rt.plural.clone()),
            ..Default::default()
        }));
        self
    }

    /// The `Status` object this error is answered with.
    pub fn status(&self) -> Status {
        Status {
            code: Some(i32::from(self.code)),
            details: self.details.as_deref().cloned(),
            message: Some(self.message.clone()),
            reason: Some(self.reason.to_string()),
            status: Some("Failure".into()),
            ..Default::default()
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.status()).unwrap_or_default();
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (code, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
