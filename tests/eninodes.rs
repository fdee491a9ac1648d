//! The controller's writes of ENINodes on the real API server, with kube-controller-
//! manager's garbage collector running: every apply names the Node as the owner (a
//! withdrawal too, which must not drop it), a withdrawal never creates an ENINode, and
//! a deleted Node's ENINode goes with it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::time::Duration;

use aws_multi_eni_controller::k8s::kube_cluster::KubeCluster;
use aws_multi_eni_controller::k8s::{Cluster, ENINode, NodeInterface};
use eni_testkit::cluster::{CONTROLLER_SA, NAMESPACE, TestCluster};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::time::Instant;

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn node(name: &str) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name},
        "spec": {"providerID": "aws:///us-east-1a/i-0123456789abcdef0"}
    }))
    .unwrap()
}

fn entry(eni: &str) -> NodeInterface {
    NodeInterface {
        eni_id: eni.into(),
        mac_address: "02:00:00:00:00:01".into(),
        node_eni: "multus".into(),
        subnet_id: "subnet-0f59b4f14737be9ad".into(),
        device_index: 1,
        network_card_index: 0,
        mtu: 9001,
        private_ipv4_addresses: vec!["10.1.0.5".into(), "10.1.0.6".into()],
        ipv4_prefixes: Vec::new(),
        ipv6_addresses: Vec::new(),
        ipv6_prefixes: Vec::new(),
        source_dest_check: Some(false),
        dpdk: None,
    }
}

/// The Node UIDs an ENINode names as its owners.
fn owners(e: &ENINode) -> Vec<String> {
    e.metadata
        .owner_references
        .iter()
        .flatten()
        .filter(|o| o.kind == "Node")
        .map(|o| o.uid.clone())
        .collect()
}

#[tokio::test]
async fn withdrawals_keep_the_owner_never_create_and_a_deleted_node_takes_its_eninode() {
    let cluster = TestCluster::shared().expect("test cluster");
    for crd in ["nodeenis", "eninodes"] {
        cluster
            .install_crd(&repo(&format!("deploy/crds/networking.k8s.aws_{crd}.yaml")))
            .await
            .expect("CRD");
    }
    cluster.install_deploy(&repo("")).expect("manifests");
    let _gc = cluster
        .start_garbage_collector()
        .expect("garbage collector");
    let admin = cluster.client().await.unwrap();
    let controller = cluster
        .service_account_client(NAMESPACE, CONTROLLER_SA)
        .await
        .unwrap();
    let kube = KubeCluster::new(controller, Some("controller-0".into()));
    let nodes: Api<Node> = Api::all(admin.clone());
    let eninodes: Api<ENINode> = Api::all(admin.clone());

    // A node stops matching: its NodeENI, which no longer holds the Node, withdraws its
    // entries. The ENINode keeps its owner.
    let a = nodes
        .create(&PostParams::default(), &node("m1-a"))
        .await
        .unwrap();
    let uid = a.metadata.uid.clone().unwrap();
    kube.apply_interfaces("m1-a", Some(&uid), "multus", &[entry("eni-1")])
        .await
        .unwrap();
    kube.apply_interfaces("m1-a", None, "multus", &[])
        .await
        .unwrap();
    let got = eninodes.get("m1-a").await.unwrap();
    assert!(got.spec.interfaces.is_empty(), "{:?}", got.spec);
    assert_eq!(owners(&got), vec![uid.clone()], "the owner stays");

    // An ENINode already gone (collected with its Node) is not made again.
    eninodes
        .delete("m1-a", &DeleteParams::default())
        .await
        .unwrap();
    kube.apply_interfaces("m1-a", Some(&uid), "multus", &[])
        .await
        .unwrap();
    assert!(
        eninodes.get_opt("m1-a").await.unwrap().is_none(),
        "a withdrawal created an ENINode"
    );
    // A withdrawal is a JSON patch, which the API server never turns into a create (a
    // server-side apply would be, even one naming the version read): one that races the
    // collector finds nothing.
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/interfaces/0/eniID", "value": "eni-1"},
        {"op": "remove", "path": "/spec/interfaces/0"},
    ]))
    .unwrap();
    let raced = eninodes
        .patch("m1-a", &PatchParams::default(), &Patch::<()>::Json(patch))
        .await;
    assert!(raced.is_err(), "{raced:?}");
    assert!(eninodes.get_opt("m1-a").await.unwrap().is_none());

    // A deleted Node's ENINode is collected.
    let b = nodes
        .create(&PostParams::default(), &node("m1-b"))
        .await
        .unwrap();
    let uid_b = b.metadata.uid.clone().unwrap();
    kube.apply_interfaces("m1-b", Some(&uid_b), "multus", &[entry("eni-2")])
        .await
        .unwrap();
    assert_eq!(owners(&eninodes.get("m1-b").await.unwrap()), vec![uid_b]);
    nodes
        .delete("m1-b", &DeleteParams::default())
        .await
        .unwrap();
    let start = Instant::now();
    while eninodes.get_opt("m1-b").await.unwrap().is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the deleted Node's ENINode is still there"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
