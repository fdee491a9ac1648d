//! Query parameters and request context shared by the resource handlers.

use std::time::Duration;

use axum::http::HeaderMap;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::selector::{FieldSelector, Filter, LabelSelector};

/// The query parameters the resource endpoints understand (others are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    /// `watch=true`.
    pub watch: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch` (`Exact`, `NotOlderThan`).
    pub resource_version_match: Option<String>,
    /// `limit` (page size).
    pub limit: Option<String>,
    /// `continue` (page token).
    #[serde(rename = "continue")]
    pub continue_: Option<String>,
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `timeoutSeconds` (watch).
    pub timeout_seconds: Option<String>,
    /// `allowWatchBookmarks`.
    pub allow_watch_bookmarks: Option<String>,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<String>,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `force` (server-side apply).
    pub force: Option<String>,
    /// `dryRun` (`All`).
    pub dry_run: Option<String>,
    /// `fieldValidation`.
    pub field_validation: Option<String>,
    /// `includeObject` (tables).
    pub include_object: Option<String>,
}

fn truthy(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("true") | Some("1"))
}

impl Params {
    /// `watch=true`.
    pub fn is_watch(&self) -> bool {
        truthy(&self.watch)
    }

    /// `allowWatchBookmarks=true`.
    pub fn bookmarks(&self) -> bool {
        truthy(&self.allow_watch_bookmarks)
    }

    /// `sendInitialEvents=true`.
    pub fn send_initial_events(&self) -> bool {
        truthy(&self.send_initial_events)
    }

    /// `force=true`.
    pub fn force(&self) -> bool {
        truthy(&self.force)
    }

    /// `dryRun=All`.
    pub fn dry_run(&self) -> bool {
        self.dry_run.as_deref() == Some("All")
    }

    /// Page size, if any.
    pub fn limit(&self) -> ApiResult<Option<usize>> {
        match self.limit.as_deref() {
            None | Some("") | Some("0") => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid limit {s:?}"))),
        }
    }

    /// Watch timeout (default 30 minutes, like the apiserver's request timeout).
    pub fn timeout(&self) -> Duration {
        let secs = self
            .timeout_seconds
            .as_deref()
            .and_then(|s| s.parse().ok())
            .filter(|s| *s > 0)
            .unwrap_or(1800);
        Duration::from_secs(secs)
    }

    /// The namespace restriction and selectors of a list or watch.
    pub fn filter(&self, namespace: Option<&str>) -> ApiResult<Filter> {
        Ok(Filter {
            namespace: namespace.map(str::to_string),
            labels: LabelSelector::parse(self.label_selector.as_deref().unwrap_or_default())?,
            fields: FieldSelector::parse(self.field_selector.as_deref().unwrap_or_default())?,
        })
    }

    /// The field manager of a write: `fieldManager`, else the user agent's program name
    /// (as the apiserver derives it).
    pub fn manager(&self, headers: &HeaderMap) -> String {
        if let Some(m) = self.field_manager.as_ref().filter(|m| !m.is_empty()) {
            return m.clone();
        }
        headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown")
            .to_string()
    }
}
