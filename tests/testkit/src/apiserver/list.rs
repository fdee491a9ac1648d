//! Collections: list with selectors and pagination (`limit`/`continue`), watch, and
//! delete-collection. Pages read the live store after the previous page's last key
//! and report the first page's resourceVersion, so a watch from that version replays
//! whatever changed in between.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::Shared;
use super::delete::{self, DeleteOpts};
use super::error::{ApiError, ApiResult};
use super::handlers::json_response;
use super::params::Params;
use super::render::{Render, present};
use super::resources::ResourceType;
use super::watch::{self, WatchRequest};

/// A page token: the list's resourceVersion and the last key returned.
fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    format!("{rv}/{ns}/{name}")
}

fn decode_continue(token: &str) -> ApiResult<(u64, String, String)> {
    let mut parts = token.splitn(3, '/');
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let rv = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let ns = parts.next().ok_or_else(bad)?.to_string();
    let name = parts.next().ok_or_else(bad)?.to_string();
    Ok((rv, ns, name))
}

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// `GET` on a collection.
pub fn list(
    shared: &Shared,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    params: &Params,
    accept: &str,
) -> ApiResult<Response> {
    let filter = params.filter(ns)?;
    let limit = params.limit()?;
    let (items, list_rv, next) = {
        let state = shared.lock()?;
        let (list_rv, after) = match params.continue_.as_deref().filter(|c| !c.is_empty()) {
            Some(token) => {
                let (rv, ns, name) = decode_continue(token)?;
                if state.is_expired(rv) {
                    return Err(ApiError::expired(CONTINUE_EXPIRED));
                }
                (rv, Some((ns, name)))
            }
            None => {
                let rv = params.resource_version.as_deref().unwrap_or_default();
                let exact = params.resource_version_match.as_deref() == Some("Exact")
                    || (params.resource_version_match.is_none() && limit.is_some());
                if exact && !rv.is_empty() && rv != "0" {
                    let n: u64 = rv.parse().map_err(|_| {
                        ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))
                    })?;
                    if state.is_expired(n) {
                        return Err(ApiError::expired(format!(
                            "too old resource version: {n} ({})",
                            state.compacted
                        )));
                    }
                }
                (state.rv, None)
            }
        };
        let mut items: Vec<Value> = state
            .list(rt, &filter, after)
            .take(limit.map_or(usize::MAX, |l| l.saturating_add(1)))
            .map(|s| s.value.clone())
            .collect();
        let next = match limit {
            Some(l) if items.len() > l => {
                items.truncate(l);
                items.last().map(|o| {
                    let s = |p: &str| {
                        o.pointer(p)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string()
                    };
                    encode_continue(list_rv, &s("/metadata/namespace"), &s("/metadata/name"))
                })
            }
            _ => None,
        };
        (items, list_rv, next)
    };
    let mut meta = json!({"resourceVersion": list_rv.to_string()});
    if let Some(c) = next {
        meta["continue"] = json!(c);
    }
    let items: Vec<Value> = items.into_iter().map(|o| present(rt, o)).collect();
    let render = Render::from_request(accept, params.include_object.as_deref());
    let body = render.list(rt, items, meta);
    Ok(json_response(StatusCode::OK, &body, &[]))
}

/// `GET ...?watch=true`.
pub fn watch(
    shared: &Arc<Shared>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    params: &Params,
    accept: &str,
) -> ApiResult<Response> {
    let req = WatchRequest {
        rt: rt.clone(),
        filter: params.filter(ns)?,
        resource_version: params.resource_version.clone().unwrap_or_default(),
        send_initial_events: params.send_initial_events(),
        bookmarks: params.bookmarks(),
        timeout: params.timeout(),
        render: Render::from_request(accept, params.include_object.as_deref()),
    };
    watch::start(shared, req)
}

/// `DELETE` on a collection: deletes every matching object, answers the list of them.
pub fn delete_collection(
    shared: &Shared,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    params: &Params,
) -> ApiResult<Response> {
    let filter = params.filter(ns)?;
    let mut state = shared.lock()?;
    let targets: Vec<(String, String)> = state
        .list(rt, &filter, None)
        .map(|s| {
            let f = |p: &str| {
                s.value
                    .pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            (f("/metadata/namespace"), f("/metadata/name"))
        })
        .collect();
    let opts = DeleteOpts {
        dry_run: params.dry_run(),
        ..Default::default()
    };
    let mut items = Vec::new();
    for (namespace, name) in targets {
        let ns = (!namespace.is_empty()).then_some(namespace.as_str());
        items.push(present(
            rt,
            delete::delete(&mut state, rt, ns, &name, &opts)?,
        ));
    }
    let body = json!({
        "kind": rt.list_kind(),
        "apiVersion": rt.api_version(),
        "metadata": {"resourceVersion": state.rv.to_string()},
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &body, &[]))
}
