//! OpenAPI v3 (`/openapi/v3` and `/openapi/v3/{api/v1,apis/<group>/<version>}`), enough
//! for kubectl: each resource's paths declare the `fieldValidation` parameter (so kubectl
//! leaves validation to the server) and custom resources carry their CRD schema (for
//! `kubectl explain`); built-ins get open schemas.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Shared;
use super::error::ApiError;
use super::resources::{Registry, ResourceType};

fn definition_name(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        return format!("io.k8s.api.core.{}.{}", rt.version, rt.kind);
    }
    let reversed: Vec<&str> = rt.group.split('.').rev().collect();
    format!("{}.{}.{}", reversed.join("."), rt.version, rt.kind)
}

fn gvk(rt: &ResourceType) -> Value {
    json!([{"group": rt.group, "version": rt.version, "kind": rt.kind}])
}

fn schema(rt: &ResourceType) -> Value {
    let mut s = rt
        .schema
        .clone()
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    if let Value::Object(m) = &mut s {
        let props = m.entry("properties").or_insert_with(|| json!({}));
        if let Value::Object(p) = props {
            p.insert("apiVersion".into(), json!({"type": "string"}));
            p.insert("kind".into(), json!({"type": "string"}));
            p.insert(
                "metadata".into(),
                json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
            );
        }
        m.insert("x-kubernetes-group-version-kind".into(), gvk(rt));
    }
    s
}

/// The body types a PATCH accepts. Strategic merge is left out even for built-ins: our
/// open schemas cannot drive kubectl's OpenAPI-based patch computation, and without it
/// kubectl computes strategic patches from its compiled-in types instead.
fn patch_body() -> Value {
    let schema = json!({"type": "object"});
    let content: Map<String, Value> = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    ]
    .into_iter()
    .map(|t| (t.to_string(), json!({"schema": schema})))
    .collect();
    json!({"content": content, "required": true})
}

fn operation(rt: &ResourceType, action: &str, params: &[&str]) -> Value {
    let parameters: Vec<Value> = params
        .iter()
        .map(|p| json!({"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": true}}))
        .collect();
    let schema_ref = json!({"$ref": format!("#/components/schemas/{}", definition_name(rt))});
    json!({
        "operationId": format!("{action}{}", rt.kind),
        "parameters": parameters,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(rt)[0].clone(),
    })
}

fn with_body(mut op: Value, body: Value) -> Value {
    op["requestBody"] = body;
    op
}

fn paths_of(rt: &ResourceType) -> Vec<(String, Value)> {
    let prefix = if rt.group.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/apis/{}/{}", rt.group, rt.version)
    };
    let scope = if rt.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let collection = format!("{prefix}{scope}/{}", rt.plural);
    let write = ["dryRun", "fieldManager", "fieldValidation"];
    let patch = ["dryRun", "fieldManager", "fieldValidation", "force"];
    let mut out = vec![
        (
            collection.clone(),
            json!({
                "get": operation(rt, "list", &["labelSelector", "fieldSelector", "limit", "continue", "watch", "resourceVersion"]),
                "post": operation(rt, "post", &write),
            }),
        ),
        (
            format!("{collection}/{{name}}"),
            json!({
                "get": operation(rt, "get", &[]),
                "put": operation(rt, "put", &write),
                "patch": with_body(operation(rt, "patch", &patch), patch_body()),
                "delete": operation(rt, "delete", &["dryRun"]),
            }),
        ),
    ];
    if rt.status_subresource {
        out.push((
            format!("{collection}/{{name}}/status"),
            json!({
                "get": operation(rt, "get", &[]),
                "put": operation(rt, "put", &write),
                "patch": with_body(operation(rt, "patch", &patch), patch_body()),
            }),
        ));
    }
    out
}

fn document(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let types = registry.in_group_version(group, version);
    if types.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for rt in &types {
        paths.extend(paths_of(rt));
        schemas.insert(definition_name(rt), schema(rt));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

fn hash(v: &Value) -> String {
    let mut h = DefaultHasher::new();
    v.to_string().hash(&mut h);
    format!("{:016X}", h.finish())
}

/// `GET /openapi/v3`: the index of group-version documents, each URL carrying a hash.
pub async fn index(State(shared): State<Arc<Shared>>) -> Response {
    let state = match shared.lock() {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let mut gvs = vec![(String::new(), "v1".to_string())];
    for (g, versions) in state.registry.groups() {
        gvs.extend(versions.into_iter().map(|v| (g.clone(), v)));
    }
    let mut paths = Map::new();
    for (g, v) in gvs {
        let Some(doc) = document(&state.registry, &g, &v) else {
            continue;
        };
        let rel = if g.is_empty() {
            format!("api/{v}")
        } else {
            format!("apis/{g}/{v}")
        };
        let url = format!("/openapi/v3/{rel}?hash={}", hash(&doc));
        paths.insert(rel, json!({"serverRelativeURL": url}));
    }
    Json(json!({"paths": paths})).into_response()
}

/// `GET /openapi/v3/api/v1` and `GET /openapi/v3/apis/<group>/<version>`.
pub async fn group_version(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
) -> Response {
    let parts: Vec<&str> = path.split('/').collect();
    let (group, version) = match parts.as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return ApiError::no_route(&format!("/openapi/v3/{path}")).into_response(),
    };
    let doc = shared
        .lock()
        .map(|state| document(&state.registry, group, version));
    match doc {
        Ok(Some(doc)) => Json(doc).into_response(),
        Ok(None) => ApiError::no_route(&format!("/openapi/v3/{path}")).into_response(),
        Err(e) => e.into_response(),
    }
}
