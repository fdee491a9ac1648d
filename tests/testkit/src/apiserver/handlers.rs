//! The resource endpoints (`/api/v1/...` and `/apis/<group>/<version>/...`): path
//! resolution, then get, list, watch, create, replace, patch, apply and delete.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::Shared;
use super::admission::Validation;
use super::delete::{self, DeleteOpts};
use super::error::{ApiError, ApiResult};
use super::list;
use super::ops::{self, WriteOpts};
use super::params::Params;
use super::patch::{PatchKind, apply_patch, parse_apply_body, parse_json};
use super::render::{Render, present};
use super::resources::ResourceType;
use super::ssa;

/// A resolved request path.
#[derive(Debug, Clone)]
pub struct Target {
    /// The resource.
    pub rt: Arc<ResourceType>,
    /// Namespace from the path.
    pub namespace: Option<String>,
    /// Object name from the path.
    pub name: Option<String>,
    /// Subresource (`status`).
    pub subresource: Option<String>,
}

fn resolve(shared: &Shared, group: &str, version: &str, rest: &str) -> ApiResult<Target> {
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let state = shared.lock()?;
    let reg = &state.registry;
    let get = |i: usize| segs.get(i).map(|s| s.to_string());
    if segs.len() >= 3
        && segs[0] == "namespaces"
        && let Some(rt) = reg.get(group, version, segs[2]).filter(|rt| rt.namespaced)
    {
        return Ok(Target {
            rt,
            namespace: get(1),
            name: get(3),
            subresource: get(4),
        });
    }
    let path = if group.is_empty() {
        format!("/api/{version}/{rest}")
    } else {
        format!("/apis/{group}/{version}/{rest}")
    };
    let rt = segs
        .first()
        .and_then(|p| reg.get(group, version, p))
        .ok_or_else(|| ApiError::no_route(&path))?;
    let target = Target {
        rt,
        namespace: None,
        name: get(1),
        subresource: get(2),
    };
    if segs.len() > 3 {
        return Err(ApiError::no_route(&path));
    }
    Ok(target)
}

/// `ANY /api/v1/{*rest}`.
pub async fn core(
    State(shared): State<Arc<Shared>>,
    Path(rest): Path<String>,
    method: Method,
    headers: HeaderMap,
    Query(params): Query<Params>,
    body: Bytes,
) -> Response {
    respond(dispatch(
        &shared, "", "v1", &rest, method, &headers, &params, &body,
    ))
}

/// `ANY /apis/{group}/{version}/{*rest}`.
pub async fn grouped(
    State(shared): State<Arc<Shared>>,
    Path((group, version, rest)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
    Query(params): Query<Params>,
    body: Bytes,
) -> Response {
    respond(dispatch(
        &shared, &group, &version, &rest, method, &headers, &params, &body,
    ))
}

/// Anything else: `404` with a Status.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    ApiError::no_route(uri.path()).into_response()
}

fn respond(result: ApiResult<Response>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A JSON answer with optional `Warning` headers.
pub fn json_response(code: StatusCode, value: &Value, warnings: &[String]) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = (code, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    for w in warnings {
        if let Ok(v) = HeaderValue::from_str(&format!("299 - {w:?}")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    shared: &Arc<Shared>,
    group: &str,
    version: &str,
    rest: &str,
    method: Method,
    headers: &HeaderMap,
    params: &Params,
    body: &[u8],
) -> ApiResult<Response> {
    let t = resolve(shared, group, version, rest)?;
    if let Some(sub) = &t.subresource
        && !(sub == "status" && t.rt.status_subresource)
    {
        return Err(ApiError::no_route(&format!("{}/{sub}", t.rt.plural)));
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let ns = t.namespace.as_deref();
    let opts = WriteOpts {
        manager: params.manager(headers),
        dry_run: params.dry_run(),
        validation: Validation::parse(params.field_validation.as_deref())?,
        subresource: t.subresource.clone(),
    };
    match (method, t.name.as_deref()) {
        (Method::GET, Some(name)) => get(shared, &t.rt, ns, name, accept, params),
        (Method::GET, None) if params.is_watch() => list::watch(shared, &t.rt, ns, params, accept),
        (Method::GET, None) => list::list(shared, &t.rt, ns, params, accept),
        (Method::POST, None) => {
            let obj = parse_json(body)?;
            let w = ops::create(&mut *shared.lock()?, &t.rt, ns, obj, &opts, None)?;
            Ok(json_response(
                StatusCode::CREATED,
                &present(&t.rt, w.object),
                &w.warnings,
            ))
        }
        (Method::PUT, Some(name)) => {
            let obj = parse_json(body)?;
            let w = ops::update(&mut *shared.lock()?, &t.rt, ns, name, &opts, false, |_| {
                Ok((obj, None))
            })?;
            Ok(json_response(
                StatusCode::OK,
                &present(&t.rt, w.object),
                &w.warnings,
            ))
        }
        (Method::PATCH, Some(name)) => patch(shared, &t, name, headers, params, &opts, body),
        (Method::DELETE, Some(name)) => {
            let o = delete_options(body, params)?;
            let deleted = delete::delete(&mut *shared.lock()?, &t.rt, ns, name, &o)?;
            Ok(json_response(StatusCode::OK, &present(&t.rt, deleted), &[]))
        }
        (Method::DELETE, None) => list::delete_collection(shared, &t.rt, ns, params),
        (m, _) => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{m} is not supported here"),
        )),
    }
}

fn get(
    shared: &Shared,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    accept: &str,
    params: &Params,
) -> ApiResult<Response> {
    let namespace = ns.unwrap_or_default();
    let obj = {
        let state = shared.lock()?;
        state
            .objects
            .get(&super::store::key(
                rt,
                if rt.namespaced { namespace } else { "" },
                name,
            ))
            .map(|s| s.value.clone())
            .ok_or_else(|| ApiError::not_found(rt, name))?
    };
    let render = Render::from_request(accept, params.include_object.as_deref());
    let body = render.one(rt, present(rt, obj));
    Ok(json_response(StatusCode::OK, &body, &[]))
}

fn patch(
    shared: &Shared,
    t: &Target,
    name: &str,
    headers: &HeaderMap,
    params: &Params,
    opts: &WriteOpts,
    body: &[u8],
) -> ApiResult<Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let kind = PatchKind::from_content_type(ct)?;
    let rt = &t.rt;
    let w = if kind == PatchKind::Apply {
        let manager = params
            .field_manager
            .clone()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| ApiError::bad_request("PATCH, application/apply-patch+yaml requests require the fieldManager parameter"))?;
        let config = parse_apply_body(body)?;
        let force = params.force();
        ops::update(
            &mut *shared.lock()?,
            rt,
            t.namespace.as_deref(),
            name,
            opts,
            true,
            |cur| {
                let empty = ssa::FieldOwners::new();
                let (value, owners) = cur
                    .map(|s| (&s.value, &s.owners))
                    .unwrap_or((&Value::Null, &empty));
                match ssa::apply(value, owners, &config, &manager, force) {
                    Ok(applied) => Ok((applied.object, Some(applied.owners))),
                    Err(conflicts) => Err(ApiError::apply_conflict(rt, name, &conflicts)),
                }
            },
        )?
    } else {
        ops::update(
            &mut *shared.lock()?,
            rt,
            t.namespace.as_deref(),
            name,
            opts,
            false,
            |cur| {
                let current = cur.map(|s| &s.value).unwrap_or(&Value::Null);
                Ok((apply_patch(kind, current, body)?, None))
            },
        )?
    };
    let code = if w.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(code, &present(rt, w.object), &w.warnings))
}

fn delete_options(body: &[u8], params: &Params) -> ApiResult<DeleteOpts> {
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_json(body)?
    };
    let pre = |f: &str| {
        v.pointer(&format!("/preconditions/{f}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let dry = v
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x == "All"));
    Ok(DeleteOpts {
        uid: pre("uid"),
        resource_version: pre("resourceVersion"),
        dry_run: dry || params.dry_run(),
    })
}
