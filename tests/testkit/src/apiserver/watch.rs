//! Watches: newline-delimited `WatchEvent`s, resumed from a resourceVersion through the
//! store's history, with bookmarks, streaming lists (`sendInitialEvents`), selector
//! semantics (objects entering or leaving a selector are ADDED or DELETED), `410 Gone`
//! for expired resourceVersions and for watches that fall too far behind.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::SinkExt;
use futures::channel::mpsc;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::Shared;
use super::error::{ApiError, ApiResult};
use super::render::{Render, present};
use super::resources::ResourceType;
use super::selector::Filter;
use super::store::{Change, ChangeKind};

/// What a watch request asks for.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    /// The watched resource.
    pub rt: Arc<ResourceType>,
    /// Namespace and selectors.
    pub filter: Filter,
    /// `resourceVersion` (empty or `0`: start with the current objects).
    pub resource_version: String,
    /// `sendInitialEvents=true` (streaming list).
    pub send_initial_events: bool,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Duration,
    /// How event objects are rendered (Tables for `kubectl get -w`).
    pub render: Render,
}

impl WatchRequest {
    /// One event line, the object rendered as the request asks.
    fn event(&self, kind: &str, obj: Value) -> Bytes {
        line(kind, self.render.one(&self.rt, present(&self.rt, obj)))
    }
}

fn line(kind: &str, object: Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// A watch event line around an already serialised object.
fn raw_line(kind: &str, object: &Bytes) -> Bytes {
    let mut v = Vec::with_capacity(object.len() + 32);
    v.extend_from_slice(format!("{{\"type\":\"{kind}\",\"object\":").as_bytes());
    v.extend_from_slice(object);
    v.extend_from_slice(b"}\n");
    Bytes::from(v)
}

fn error_line(err: &ApiError) -> Bytes {
    line(
        "ERROR",
        serde_json::to_value(err.status()).unwrap_or_default(),
    )
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": metadata}),
    )
}

/// The event a watcher with `filter` sees for `change`, if any.
fn event_for(req: &WatchRequest, change: &Change) -> Option<Bytes> {
    if !change.is_for(&req.rt) {
        return None;
    }
    let now = req.filter.matches(&change.object);
    let before = change.old.as_ref().is_some_and(|o| req.filter.matches(o));
    let kind = match change.kind {
        ChangeKind::Added if now => "ADDED",
        ChangeKind::Deleted if now => "DELETED",
        ChangeKind::Modified if now && before => "MODIFIED",
        ChangeKind::Modified if now => "ADDED",
        ChangeKind::Modified if before => "DELETED",
        _ => return None,
    };
    let stored_version = change.object.get("apiVersion").and_then(Value::as_str);
    if req.render == Render::Object && stored_version == Some(req.rt.api_version().as_str()) {
        return Some(raw_line(kind, change.json()));
    }
    Some(req.event(kind, change.object.clone()))
}

fn expired(rv: u64) -> ApiError {
    ApiError::expired(format!("too old resource version: {rv}"))
}

/// Starts a watch and answers with its streaming body.
pub fn start(shared: &Arc<Shared>, req: WatchRequest) -> ApiResult<Response> {
    let mut initial = Vec::new();
    let mut finished = false;
    let (mut rx, start_rv) = {
        let state = shared.lock()?;
        let rx = state.subscribe();
        let current = state.rv;
        // A watch from a future version starts there, as the apiserver's does.
        let mut start = current;
        let rv = req.resource_version.as_str();
        if req.send_initial_events || rv.is_empty() || rv == "0" {
            for s in state.list(&req.rt, &req.filter, None) {
                initial.push(req.event("ADDED", s.value.clone()));
            }
            if req.send_initial_events {
                initial.push(bookmark(&req.rt, current, true));
            }
        } else {
            let from: u64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?;
            start = start.max(from);
            if state.is_expired(from) {
                initial.push(error_line(&expired(from)));
                finished = true;
            } else {
                initial.extend(
                    state
                        .history_since(from)
                        .iter()
                        .filter_map(|c| event_for(&req, c)),
                );
            }
        }
        (rx, start)
    };
    let (mut tx, body) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    let mut dropped = shared.drop_watches.subscribe();
    let interval = shared.bookmark_interval;
    tokio::spawn(async move {
        for l in initial {
            if tx.send(Ok(l)).await.is_err() {
                return;
            }
        }
        if finished {
            return;
        }
        let deadline = tokio::time::sleep(req.timeout);
        tokio::pin!(deadline);
        let mut ticks = tokio::time::interval(interval);
        let mut progress = start_rv;
        loop {
            let out = tokio::select! {
                _ = dropped.changed() => break,
                _ = &mut deadline => break,
                _ = ticks.tick(), if req.bookmarks => bookmark(&req.rt, progress, false),
                msg = rx.recv() => match msg {
                    Ok(change) if change.rv <= progress => continue,
                    Ok(change) => {
                        progress = change.rv;
                        match event_for(&req, &change) {
                            Some(l) => l,
                            None => continue,
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let _ = tx.send(Ok(error_line(&expired(progress)))).await;
                        break;
                    }
                    Err(RecvError::Closed) => break,
                },
            };
            if tx.send(Ok(out)).await.is_err() {
                break;
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}
