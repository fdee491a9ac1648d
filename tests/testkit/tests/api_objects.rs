//! The test API server through the real `kube` client: CRUD, namespaces, optimistic
//! concurrency, status subresource, generation, finalizers, selectors and pagination.

mod common;

use common::*;
use eni_testkit::apiserver::TestApiServer;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn nodes_can_be_created_read_listed_and_deleted() {
    let server = TestApiServer::start().await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    let pp = PostParams::default();
    let created = nodes
        .create(&pp, &node("n1", &[("ng", "multi-eni")]))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));
    let rv: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();
    assert!(rv > 0);

    assert_eq!(nodes.get("n1").await.unwrap().metadata.uid, meta.uid);
    let (code, reason, _) = api_err(nodes.create(&pp, &node("n1", &[])).await);
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));

    let list = nodes.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let list_rv: u64 = list.metadata.resource_version.unwrap().parse().unwrap();
    assert!(list_rv >= rv);

    assert!(nodes.get_opt("missing").await.unwrap().is_none());
    let (code, reason, message) = api_err(nodes.get("missing").await);
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    assert_eq!(message, "nodes \"missing\" not found");

    nodes.delete("n1", &DeleteParams::default()).await.unwrap();
    assert!(nodes.get_opt("n1").await.unwrap().is_none());
}

#[tokio::test]
async fn generate_name_and_namespaces_are_honoured() {
    let server = TestApiServer::start().await.unwrap();
    let client = server.client().unwrap();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "team-a");
    let lease: Lease =
        serde_json::from_value(json!({"metadata": {"generateName": "lock-"}})).unwrap();
    let (code, reason, message) = api_err(leases.create(&PostParams::default(), &lease).await);
    assert_eq!((code, reason.as_str()), (404, "NotFound"), "{message}");

    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let created = leases.create(&PostParams::default(), &lease).await.unwrap();
    let name = created.metadata.name.unwrap();
    assert!(
        name.starts_with("lock-") && name.len() == "lock-".len() + 5,
        "{name}"
    );
    assert_eq!(created.metadata.namespace.as_deref(), Some("team-a"));
    // Listing across namespaces finds it; another namespace does not.
    assert_eq!(
        Api::<Lease>::all(client.clone())
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(
        Api::<Lease>::default_namespaced(client)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn stale_resource_version_conflicts() {
    let server = TestApiServer::start().await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    let pp = PostParams::default();
    let original = nodes.create(&pp, &node("n1", &[])).await.unwrap();
    let mut first = original.clone();
    first
        .metadata
        .labels
        .get_or_insert_default()
        .insert("a".into(), "1".into());
    let updated = nodes.replace("n1", &pp, &first).await.unwrap();
    assert_ne!(
        updated.metadata.resource_version,
        original.metadata.resource_version
    );

    let mut stale = original.clone();
    stale
        .metadata
        .labels
        .get_or_insert_default()
        .insert("b".into(), "2".into());
    let (code, reason, _) = api_err(nodes.replace("n1", &pp, &stale).await);
    assert_eq!((code, reason.as_str()), (409, "Conflict"));

    // A merge patch carrying a stale resourceVersion is a conflict too.
    let patch = json!({"metadata": {"resourceVersion": original.metadata.resource_version, "labels": {"c": "3"}}});
    let (code, _, _) = api_err(
        nodes
            .patch("n1", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    );
    assert_eq!(code, 409);
}

#[tokio::test]
async fn status_subresource_and_generation() {
    let server = TestApiServer::start().await.unwrap();
    let nenis = install_crd(&server.client().unwrap()).await;
    let pp = PostParams::default();
    let mut obj = nodeeni("a");
    obj.data["status"] = json!({"desiredCount": 5});
    let created = nenis.create(&pp, &obj).await.unwrap();
    assert!(
        created.data.get("status").is_none(),
        "status is dropped on create"
    );
    assert_eq!(created.metadata.generation, Some(1));

    // A status write changes only the status, and not the generation.
    let patch = json!({"spec": {"mtu": 1500}, "status": {"desiredCount": 2, "readyCount": 1}});
    let after = nenis
        .patch_status("a", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(after.data["status"]["desiredCount"], 2);
    assert_eq!(
        after.data["spec"]["mtu"], 0,
        "spec is not written through /status"
    );
    assert_eq!(after.metadata.generation, Some(1));

    // A main-resource write ignores the status; a spec change bumps the generation.
    let mut replaced = after.clone();
    replaced.data["status"] = json!({"desiredCount": 99});
    replaced.data["spec"]["mtu"] = json!(9001);
    let replaced = nenis.replace("a", &pp, &replaced).await.unwrap();
    assert_eq!(replaced.data["status"]["desiredCount"], 2);
    assert_eq!(replaced.data["spec"]["mtu"], 9001);
    assert_eq!(replaced.metadata.generation, Some(2));

    // Metadata-only changes keep the generation.
    let labels = json!({"metadata": {"labels": {"team": "net"}}});
    let labelled = nenis
        .patch("a", &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(2));
    assert_ne!(
        labelled.metadata.resource_version,
        replaced.metadata.resource_version
    );

    // A write that changes nothing keeps the resourceVersion.
    let again = nenis
        .patch("a", &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        labelled.metadata.resource_version
    );

    // Nodes have a status subresource too.
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    nodes.create(&pp, &node("n1", &[])).await.unwrap();
    let st = json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}, "spec": {"unschedulable": true}});
    let n = nodes
        .patch_status("n1", &PatchParams::default(), &Patch::Merge(&st))
        .await
        .unwrap();
    assert_eq!(n.status.unwrap().addresses.unwrap()[0].address, "10.0.0.1");
    assert_eq!(n.spec.unwrap().unschedulable, None);
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let server = TestApiServer::start().await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    let pp = PatchParams::default();
    nodes
        .create(&PostParams::default(), &node("n1", &[]))
        .await
        .unwrap();

    // kube-runtime's finalizer helper: test that the field is absent (null), then add.
    let add: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["eni.example/cleanup"]},
    ]))
    .unwrap();
    let with = nodes
        .patch("n1", &pp, &Patch::<()>::Json(add.clone()))
        .await
        .unwrap();
    assert_eq!(
        with.metadata.finalizers.as_deref(),
        Some(&["eni.example/cleanup".to_string()][..])
    );
    // The same test now fails: the field is no longer absent.
    let (code, _, _) = api_err(nodes.patch("n1", &pp, &Patch::<()>::Json(add)).await);
    assert_eq!(code, 422);

    nodes.delete("n1", &DeleteParams::default()).await.unwrap();
    let deleting = nodes.get("n1").await.unwrap();
    assert!(deleting.metadata.deletion_timestamp.is_some());

    let more = json!({"metadata": {"finalizers": ["eni.example/cleanup", "other/x"]}});
    let (code, reason_, message) = api_err(nodes.patch("n1", &pp, &Patch::Merge(&more)).await);
    assert_eq!((code, reason_.as_str()), (422, "Invalid"), "{message}");
    assert!(
        message.contains("no new finalizers can be added"),
        "{message}"
    );

    let remove: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "eni.example/cleanup"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]))
    .unwrap();
    nodes
        .patch("n1", &pp, &Patch::<()>::Json(remove))
        .await
        .unwrap();
    assert!(
        nodes.get_opt("n1").await.unwrap().is_none(),
        "gone with its last finalizer"
    );
}

#[tokio::test]
async fn label_and_field_selectors() {
    let server = TestApiServer::start().await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    let pp = PostParams::default();
    nodes
        .create(&pp, &node("a", &[("ng", "multi-eni"), ("zone", "1a")]))
        .await
        .unwrap();
    nodes
        .create(&pp, &node("b", &[("ng", "other"), ("zone", "1b")]))
        .await
        .unwrap();
    nodes
        .create(&pp, &node("c", &[("zone", "1c")]))
        .await
        .unwrap();
    let names = |lp: ListParams| {
        let nodes = nodes.clone();
        async move {
            let mut v: Vec<String> = nodes
                .list(&lp)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|n| n.metadata.name.unwrap())
                .collect();
            v.sort();
            v.join(",")
        }
    };
    let l = |s: &str| ListParams::default().labels(s);
    let f = |s: &str| ListParams::default().fields(s);
    assert_eq!(names(l("ng=multi-eni")).await, "a");
    assert_eq!(names(l("ng==multi-eni")).await, "a");
    assert_eq!(names(l("ng!=multi-eni")).await, "b,c");
    assert_eq!(names(l("zone in (1a, 1c)")).await, "a,c");
    assert_eq!(names(l("zone notin (1a,1c)")).await, "b");
    assert_eq!(names(l("ng")).await, "a,b");
    assert_eq!(names(l("!ng")).await, "c");
    assert_eq!(names(l("ng,zone in (1b)")).await, "b");
    assert_eq!(names(f("metadata.name=b")).await, "b");
    assert_eq!(names(f("metadata.name==b")).await, "b");
    assert_eq!(names(f("metadata.name!=b")).await, "a,c");
    assert_eq!(names(f("metadata.name!=b").labels("zone!=1a")).await, "c");
    assert_eq!(api_err(nodes.list(&l("zone in (1a")).await).0, 400);
}

#[tokio::test]
async fn pagination_walks_every_object_once() {
    let server = TestApiServer::start().await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    for i in 0..25 {
        nodes
            .create(&PostParams::default(), &node(&format!("n{i:02}"), &[]))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    let mut list_rv = None;
    loop {
        let mut lp = ListParams::default().limit(10);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = nodes.list(&lp).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 10);
        list_rv.get_or_insert(page.metadata.resource_version.clone());
        assert_eq!(Some(page.metadata.resource_version.clone()), list_rv);
        seen.extend(page.items.into_iter().map(|n| n.metadata.name.unwrap()));
        token = page.metadata.continue_.filter(|c| !c.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    let want: Vec<String> = (0..25).map(|i| format!("n{i:02}")).collect();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn metadata_only_requests() {
    let server = TestApiServer::start().await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    let pp = PostParams::default();
    nodes
        .create(&pp, &node("a", &[("ng", "multi-eni")]))
        .await
        .unwrap();
    nodes.create(&pp, &node("b", &[])).await.unwrap();
    let meta = nodes.get_metadata("a").await.unwrap();
    assert_eq!(meta.metadata.labels.unwrap()["ng"], "multi-eni");
    let list = nodes
        .list_metadata(&ListParams::default().labels("ng"))
        .await
        .unwrap();
    let names: Vec<_> = list
        .items
        .iter()
        .map(|m| m.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["a"]);
    assert!(list.metadata.resource_version.is_some());
}
