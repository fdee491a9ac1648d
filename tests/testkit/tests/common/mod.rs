//! Helpers shared by the test API server's tests.
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PostParams, WatchEvent};
use serde_json::{Value, json};

/// The repository root (two levels above this crate).
pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

pub const CRD_FILE: &str = "deploy/crds/networking.k8s.aws_nodeenis.yaml";

/// The project's NodeENI CRD, read from deploy/crds.
pub fn crd() -> CustomResourceDefinition {
    let text = std::fs::read_to_string(repo(CRD_FILE)).expect("CRD file readable");
    serde_saphyr::from_str(&text).expect("CRD parses")
}

/// The NodeENI resource for dynamic APIs.
pub fn nodeeni_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("networking.k8s.aws", "v1alpha1", "NodeENI"),
        "nodeenis",
    )
}

/// Installs the CRD and answers the NodeENI API.
pub async fn install_crd(client: &Client) -> Api<DynamicObject> {
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &crd())
        .await
        .expect("CRD created");
    Api::all_with(client.clone(), &nodeeni_resource())
}

/// A valid NodeENI.
pub fn nodeeni(name: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.aws/v1alpha1",
        "kind": "NodeENI",
        "metadata": {"name": name},
        "spec": {
            "nodeSelector": {"ng": "multi-eni"},
            "subnetID": "subnet-0f59b4f14737be9ad",
            "securityGroupIDs": ["sg-05da196f3314d4af8"],
        },
    }))
    .expect("valid NodeENI")
}

/// A node with labels.
pub fn node(name: &str, labels: &[(&str, &str)]) -> Node {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"providerID": format!("aws:///us-east-1a/i-{name}")},
    }))
    .expect("valid Node")
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `reason` of a kube API error (panics on other errors).
pub fn api_err<T: std::fmt::Debug>(result: kube::Result<T>) -> (u16, String, String) {
    match result {
        Err(kube::Error::Api(s)) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

pub const WAIT: Duration = Duration::from_secs(30);

pub async fn next_event(
    stream: &mut (impl futures::Stream<Item = kube::Result<WatchEvent<Node>>> + Unpin),
) -> WatchEvent<Node> {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("a watch event in time")
        .expect("the watch is open")
        .expect("a decodable event")
}

/// The next event that is not a bookmark.
pub async fn next_change(
    stream: &mut (impl futures::Stream<Item = kube::Result<WatchEvent<Node>>> + Unpin),
) -> (String, String) {
    loop {
        let (kind, node) = match next_event(stream).await {
            WatchEvent::Added(n) => ("ADDED", n),
            WatchEvent::Modified(n) => ("MODIFIED", n),
            WatchEvent::Deleted(n) => ("DELETED", n),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        };
        return (kind.to_string(), node.metadata.name.unwrap());
    }
}

pub fn labels(ng: &str) -> Patch<serde_json::Value> {
    Patch::Merge(json!({"metadata": {"labels": {"ng": ng}}}))
}
