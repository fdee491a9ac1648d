//! Legacy discovery (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/<group>[/<version>]`).
//! Aggregated discovery is not implemented: answering with plain `application/json`
//! makes kubectl fall back to these documents.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIGroupList, APIResource, APIResourceList, APIVersions, GroupVersionForDiscovery,
    ServerAddressByClientCIDR,
};
use k8s_openapi::apimachinery::pkg::version::Info;

use super::Shared;
use super::error::{ApiError, ApiResult};
use super::resources::ResourceType;

/// The version this server claims to be (kubectl warns beyond one minor of skew).
pub const KUBE_MINOR: &str = "32";

/// `GET /version`.
pub async fn version() -> Json<Info> {
    Json(Info {
        major: "1".into(),
        minor: KUBE_MINOR.into(),
        git_version: format!("v1.{KUBE_MINOR}.0-eni-testkit"),
        git_commit: "0000000000000000000000000000000000000000".into(),
        git_tree_state: "clean".into(),
        build_date: "2025-01-01T00:00:00Z".into(),
        go_version: "go1.23".into(),
        compiler: "gc".into(),
        platform: "linux/amd64".into(),
        ..Default::default()
    })
}

/// `GET /api`.
pub async fn api() -> Json<APIVersions> {
    Json(APIVersions {
        versions: vec!["v1".into()],
        server_address_by_client_cidrs: vec![ServerAddressByClientCIDR {
            client_cidr: "0.0.0.0/0".into(),
            server_address: "127.0.0.1".into(),
        }],
    })
}

fn api_resources(rt: &ResourceType) -> Vec<APIResource> {
    let verbs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut out = vec![APIResource {
        name: rt.plural.clone(),
        singular_name: rt.singular.clone(),
        namespaced: rt.namespaced,
        kind: rt.kind.clone(),
        verbs: verbs(&[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]),
        short_names: (!rt.short_names.is_empty()).then(|| rt.short_names.clone()),
        categories: (!rt.categories.is_empty()).then(|| rt.categories.clone()),
        ..Default::default()
    }];
    if rt.status_subresource {
        out.push(APIResource {
            name: format!("{}/status", rt.plural),
            singular_name: String::new(),
            namespaced: rt.namespaced,
            kind: rt.kind.clone(),
            verbs: verbs(&["get", "patch", "update"]),
            ..Default::default()
        });
    }
    out
}

fn resource_list(shared: &Shared, group: &str, version: &str) -> ApiResult<APIResourceList> {
    let state = shared.lock()?;
    let types = state.registry.in_group_version(group, version);
    if types.is_empty() {
        let path = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        return Err(ApiError::no_route(&path));
    }
    Ok(APIResourceList {
        group_version: if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        },
        resources: types.iter().flat_map(|rt| api_resources(rt)).collect(),
    })
}

/// `GET /api/v1`.
pub async fn core_resources(State(shared): State<Arc<Shared>>) -> Response {
    match resource_list(&shared, "", "v1") {
        Ok(list) => Json(list).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /apis/<group>/<version>`.
pub async fn group_resources(
    State(shared): State<Arc<Shared>>,
    Path((group, version)): Path<(String, String)>,
) -> Response {
    match resource_list(&shared, &group, &version) {
        Ok(list) => Json(list).into_response(),
        Err(e) => e.into_response(),
    }
}

fn api_group(name: &str, versions: &[String]) -> APIGroup {
    let gv = |v: &String| GroupVersionForDiscovery {
        group_version: format!("{name}/{v}"),
        version: v.clone(),
    };
    APIGroup {
        name: name.to_string(),
        preferred_version: versions.first().map(gv),
        versions: versions.iter().map(gv).collect(),
        ..Default::default()
    }
}

/// `GET /apis`.
pub async fn groups(State(shared): State<Arc<Shared>>) -> Response {
    match shared.lock() {
        Ok(state) => {
            let groups = state.registry.groups();
            Json(APIGroupList {
                groups: groups.iter().map(|(g, v)| api_group(g, v)).collect(),
            })
            .into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /apis/<group>`.
pub async fn group(State(shared): State<Arc<Shared>>, Path(group): Path<String>) -> Response {
    let found = shared.lock().map(|state| {
        state
            .registry
            .groups()
            .into_iter()
            .find(|(g, _)| *g == group)
    });
    match found {
        Ok(Some((g, v))) => Json(api_group(&g, &v)).into_response(),
        Ok(None) => ApiError::no_route(&format!("/apis/{group}")).into_response(),
        Err(e) => e.into_response(),
    }
}
