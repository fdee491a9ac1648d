//! Patches through the real `kube` client: JSON merge, JSON patch (with `test`),
//! strategic merge, and server-side apply with field-manager conflicts.

mod common;

use common::*;
use eni_testkit::apiserver::TestApiServer;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

#[tokio::test]
async fn merge_json_and_strategic_patches() {
    let server = TestApiServer::start().await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    let pp = PatchParams::default();
    nodes
        .create(
            &PostParams::default(),
            &node("n1", &[("a", "1"), ("b", "2")]),
        )
        .await
        .unwrap();

    let merged = nodes
        .patch(
            "n1",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"a": null, "c": "3"}}})),
        )
        .await
        .unwrap();
    let labels = merged.metadata.labels.unwrap();
    assert!(!labels.contains_key("a") && labels["b"] == "2" && labels["c"] == "3");

    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/labels/b", "value": "2"},
        {"op": "replace", "path": "/metadata/labels/b", "value": "two"},
        {"op": "add", "path": "/spec/podCIDR", "value": "10.1.0.0/24"},
    ]))
    .unwrap();
    let patched = nodes
        .patch("n1", &pp, &Patch::<()>::Json(ops))
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.unwrap()["b"], "two");
    assert_eq!(
        patched.spec.unwrap().pod_cidr.as_deref(),
        Some("10.1.0.0/24")
    );

    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/metadata/labels/b", "value": "2"}]))
            .unwrap();
    assert_eq!(
        api_err(nodes.patch("n1", &pp, &Patch::<()>::Json(failing)).await).0,
        422
    );

    let strategic = json!({"metadata": {"$setElementOrder/finalizers": [], "labels": {"d": "4"}}, "spec": {"unschedulable": true}});
    let s = nodes
        .patch("n1", &pp, &Patch::Strategic(strategic))
        .await
        .unwrap();
    assert_eq!(s.metadata.labels.unwrap()["d"], "4");
    assert_eq!(s.spec.unwrap().unschedulable, Some(true));
}

#[tokio::test]
async fn server_side_apply_creates_and_detects_conflicts() {
    let server = TestApiServer::start().await.unwrap();
    let leases: Api<Lease> = Api::default_namespaced(server.client().unwrap());
    let apply = |holder: &str| {
        Patch::Apply(json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "lock"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 10},
        }))
    };
    let a = PatchParams::apply("manager-a");
    let b = PatchParams::apply("manager-b");
    let created = leases.patch("lock", &a, &apply("a")).await.unwrap();
    assert_eq!(created.spec.unwrap().holder_identity.as_deref(), Some("a"));

    // Re-applying the same values by another manager is not a conflict (shared ownership).
    leases.patch("lock", &b, &apply("a")).await.unwrap();
    // Changing a field owned by another manager is.
    let (code, reason_, message) = api_err(leases.patch("lock", &b, &apply("b")).await);
    assert_eq!((code, reason_.as_str()), (409, "Conflict"));
    assert!(
        message.contains("manager-a") && message.contains(".spec.holderIdentity"),
        "{message}"
    );
    // Unless forced.
    let forced = leases
        .patch("lock", &b.clone().force(), &apply("b"))
        .await
        .unwrap();
    assert_eq!(forced.spec.unwrap().holder_identity.as_deref(), Some("b"));
    assert_eq!(api_err(leases.patch("lock", &a, &apply("a")).await).0, 409);

    // A non-apply write records its manager as owner too ...
    let c = PatchParams {
        field_manager: Some("manager-c".into()),
        ..Default::default()
    };
    let renew = json!({"spec": {"holderIdentity": "c"}});
    leases
        .patch("lock", &c, &Patch::Strategic(&renew))
        .await
        .unwrap();
    assert_eq!(api_err(leases.patch("lock", &b, &apply("b")).await).0, 409);
    // ... and fields set to null lose their owner, so anyone may apply them again.
    let release = json!({"spec": {"holderIdentity": null}});
    leases
        .patch("lock", &c, &Patch::Strategic(&release))
        .await
        .unwrap();
    let taken = leases.patch("lock", &a, &apply("a")).await.unwrap();
    assert_eq!(taken.spec.unwrap().holder_identity.as_deref(), Some("a"));

    // Apply needs a field manager; YAML bodies are accepted.
    let yaml = "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: other\nspec:\n  holderIdentity: y\n";
    let req = http_patch(
        &server,
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/other?fieldManager=yaml",
        yaml,
    )
    .await;
    assert_eq!(req, 201);
    let req = http_patch(
        &server,
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/other",
        yaml,
    )
    .await;
    assert_eq!(req, 400);
}

/// Sends a raw apply PATCH with a YAML body; answers the status code.
async fn http_patch(server: &TestApiServer, path: &str, body: &str) -> u16 {
    let req = axum::http::Request::patch(path)
        .header("Content-Type", "application/apply-patch+yaml")
        .body(body.as_bytes().to_vec())
        .unwrap();
    match server.client().unwrap().request::<Value>(req).await {
        Ok(_) => 201,
        Err(kube::Error::Api(s)) => s.code,
        Err(e) => panic!("{e}"),
    }
}
