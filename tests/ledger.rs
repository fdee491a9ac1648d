//! The ownership ledger on the real API server, written by the controller's own service
//! account under the RBAC the plain manifests (the rendered chart) grant: the first entry
//! creates the ConfigMap, later ones patch it without a read, a replayed entry changes
//! nothing, and forgetting takes entries off (also when the ledger does not exist).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::collections::{BTreeMap, HashSet};

use aws_multi_eni_controller::k8s::kube_cluster::KubeCluster;
use aws_multi_eni_controller::k8s::ledger::DEFAULT_LEDGER_NAME;
use aws_multi_eni_controller::k8s::{Cluster, ClusterError};
use eni_testkit::cluster::{CONTROLLER_SA, NAMESPACE, TestCluster};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams};

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn uids(list: &[&str]) -> HashSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn the_ledger_is_kept_in_its_configmap_under_the_charts_rbac() {
    let cluster = TestCluster::shared().expect("test cluster");
    cluster
        .install_deploy(&repo(""))
        .expect("the plain manifests");
    let admin = cluster.client().await.expect("admin client");
    let controller = cluster
        .service_account_client(NAMESPACE, CONTROLLER_SA)
        .await
        .expect("controller client");
    let kube = KubeCluster::new(controller, Some("controller-0".into()))
        .with_ledger(NAMESPACE, DEFAULT_LEDGER_NAME);
    let configmaps: Api<ConfigMap> = Api::namespaced(admin, NAMESPACE);

    assert_eq!(
        kube.recorded_owners().await.unwrap(),
        uids(&[]),
        "no ledger yet"
    );
    kube.forget_owners(&["nobody".into()]).await.unwrap();
    kube.record_owner("uid-a", "multus").await.unwrap();
    kube.record_owner("uid-b", "sriov").await.unwrap();
    let version = configmaps
        .get(DEFAULT_LEDGER_NAME)
        .await
        .unwrap()
        .metadata
        .resource_version;
    kube.record_owner("uid-a", "multus").await.unwrap();
    let stored = configmaps.get(DEFAULT_LEDGER_NAME).await.unwrap();
    assert_eq!(
        stored.metadata.resource_version, version,
        "a replay writes nothing"
    );
    assert_eq!(
        stored.data.unwrap(),
        BTreeMap::from([
            ("uid-a".to_string(), "multus".to_string()),
            ("uid-b".to_string(), "sriov".to_string())
        ])
    );
    assert_eq!(
        kube.recorded_owners().await.unwrap(),
        uids(&["uid-a", "uid-b"])
    );
    kube.forget_owners(&["uid-a".into()]).await.unwrap();
    assert_eq!(kube.recorded_owners().await.unwrap(), uids(&["uid-b"]));

    // Another ConfigMap of the namespace is out of the controller's reach.
    let other = KubeCluster::new(
        cluster
            .service_account_client(NAMESPACE, CONTROLLER_SA)
            .await
            .unwrap(),
        None,
    )
    .with_ledger(NAMESPACE, "someone-elses-config");
    configmaps
        .create(
            &Default::default(),
            &serde_json::from_value(serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "someone-elses-config"}, "data": {"k": "v"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    match other.forget_owners(&["k".into()]).await {
        Err(ClusterError::Rejected { code: 403, .. }) => {}
        other => panic!("RBAC should refuse another ConfigMap: {other:?}"),
    }
    configmaps
        .delete("someone-elses-config", &DeleteParams::default())
        .await
        .unwrap();
    configmaps
        .delete(DEFAULT_LEDGER_NAME, &DeleteParams::default())
        .await
        .unwrap();
}
