//! Custom resources: admission against the CRD schema (rule messages, defaults,
//! pruning, strict field validation) and registration following the CRD object.

mod common;

use common::*;
use eni_testkit::apiserver::TestApiServer;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

#[tokio::test]
async fn invalid_nodeeni_is_rejected_with_the_rule_message() {
    let server = TestApiServer::start().await.unwrap();
    let nenis = install_crd(&server.client().unwrap()).await;
    let mut bad = nodeeni("bad");
    bad.data["spec"].as_object_mut().unwrap().remove("subnetID");
    bad.data["spec"]["mtu"] = json!(100);
    let err = nenis
        .create(&PostParams::default(), &bad)
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err}")
    };
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(
        status
            .message
            .starts_with("NodeENI.networking.k8s.aws \"bad\" is invalid: ["),
        "{}",
        status.message
    );
    assert!(
        status
            .message
            .contains("at least one of subnetID, subnetIDs, subnetName or subnetNames must be set")
    );
    assert!(
        status
            .message
            .contains("mtu must be 0 (leave the MTU alone) or between 576 and 9001")
    );
    let details = status.details.unwrap();
    assert_eq!(
        (
            details.name.as_str(),
            details.group.as_str(),
            details.kind.as_str()
        ),
        ("bad", "networking.k8s.aws", "NodeENI")
    );
    let fields: Vec<&str> = details.causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["spec", "spec.mtu"]);
    assert!(
        details
            .causes
            .iter()
            .all(|c| c.reason == "FieldValueInvalid")
    );
    assert!(nenis.get_opt("bad").await.unwrap().is_none());

    // An update is validated too.
    nenis
        .create(&PostParams::default(), &nodeeni("good"))
        .await
        .unwrap();
    let patch = json!({"spec": {"deviceIndex": 0}});
    let (code, _, message) = api_err(
        nenis
            .patch("good", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    );
    assert_eq!(code, 422);
    assert!(message.contains("spec.deviceIndex"), "{message}");
}

#[tokio::test]
async fn defaults_are_applied_and_unknown_fields_pruned() {
    let server = TestApiServer::start().await.unwrap();
    let nenis = install_crd(&server.client().unwrap()).await;
    let mut obj = nodeeni("a");
    obj.data["spec"]["bogus"] = json!("x");
    let created = nenis.create(&PostParams::default(), &obj).await.unwrap();
    let spec = &created.data["spec"];
    assert_eq!(spec["deviceIndex"], 1);
    assert_eq!(spec["mtu"], 0);
    assert_eq!(spec["networkCardIndex"], 0);
    assert_eq!(spec["deleteOnTermination"], true);
    assert!(spec.get("bogus").is_none());

    // Strict field validation (what kubectl asks for) refuses unknown fields instead.
    let mut strict = nodeeni("b");
    strict.data["spec"]["bogus"] = json!("x");
    let req = axum::http::Request::post(
        "/apis/networking.k8s.aws/v1alpha1/nodeenis?fieldValidation=Strict",
    )
    .header("Content-Type", "application/json")
    .body(serde_json::to_vec(&strict).unwrap())
    .unwrap();
    let (code, _, message) = api_err(server.client().unwrap().request::<Value>(req).await);
    assert_eq!(code, 400);
    assert!(
        message.contains("unknown field \"spec.bogus\""),
        "{message}"
    );
}

#[tokio::test]
async fn crd_registration_follows_the_crd_object() {
    let server = TestApiServer::start().await.unwrap();
    let client = server.client().unwrap();
    let nenis: Api<DynamicObject> = Api::all_with(client.clone(), &nodeeni_resource());
    assert_eq!(api_err(nenis.list(&ListParams::default()).await).0, 404);

    let crds = install_crd(&client).await;
    crds.create(&PostParams::default(), &nodeeni("a"))
        .await
        .unwrap();
    let crd_api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = crd_api.get("nodeenis.networking.k8s.aws").await.unwrap();
    let status = crd.status.unwrap();
    let conditions = status.conditions.unwrap();
    for t in ["Established", "NamesAccepted"] {
        assert!(
            conditions
                .iter()
                .any(|c| c.type_ == t && c.status == "True"),
            "{t}"
        );
    }
    assert_eq!(
        status.accepted_names.unwrap().short_names,
        Some(vec!["neni".to_string()])
    );

    let resources = client
        .list_api_group_resources("networking.k8s.aws/v1alpha1")
        .await
        .unwrap();
    let names: Vec<&str> = resources
        .resources
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["nodeenis", "nodeenis/status"]);
    let groups = client.list_api_groups().await.unwrap();
    assert!(groups.groups.iter().any(|g| g.name == "networking.k8s.aws"));

    crd_api
        .delete("nodeenis.networking.k8s.aws", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(api_err(nenis.list(&ListParams::default()).await).0, 404);
    let groups = client.list_api_groups().await.unwrap();
    assert!(!groups.groups.iter().any(|g| g.name == "networking.k8s.aws"));
}
