//! The plain manifests in deploy/manifests parse as the Kubernetes types they claim to
//! be, and keep the agent least-privileged: host network and NET_ADMIN only, not
//! privileged, no host mounts, no access to pods (so no exec).

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::rbac::v1::ClusterRole;
use serde_json::Value;

fn docs(file: &str) -> Vec<Value> {
    let path = format!("{}/deploy/manifests/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_saphyr::from_multiple(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn find<T: serde::de::DeserializeOwned>(docs: &[Value], kind: &str) -> T {
    let doc = docs
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"));
    serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

#[test]
fn the_agent_is_least_privileged() {
    let d = docs("agent.yaml");
    let ds: DaemonSet = find(&d, "DaemonSet");
    let pod = ds.spec.template.spec.unwrap();
    assert_eq!(pod.host_network, Some(true));
    assert!(
        pod.volumes.unwrap_or_default().is_empty(),
        "no host filesystem mounts"
    );
    let c = &pod.containers[0];
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.privileged, Some(false));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    let caps = sc.capabilities.unwrap();
    assert_eq!(caps.add.unwrap(), vec!["NET_ADMIN".to_string()]);
    assert_eq!(caps.drop.unwrap(), vec!["ALL".to_string()]);
    assert!(c.volume_mounts.clone().unwrap_or_default().is_empty());
    let node_name = c
        .env
        .clone()
        .unwrap()
        .into_iter()
        .find(|e| e.name == "NODE_NAME")
        .unwrap();
    assert_eq!(
        node_name.value_from.unwrap().field_ref.unwrap().field_path,
        "spec.nodeName"
    );
    let role: ClusterRole = find(&d, "ClusterRole");
    let resources: Vec<String> = role
        .rules
        .unwrap()
        .into_iter()
        .flat_map(|r| r.resources.unwrap_or_default())
        .collect();
    assert!(
        !resources.iter().any(|r| r.starts_with("pods")),
        "no access to pods: {resources:?}"
    );
}

#[test]
fn the_controller_runs_as_non_root_with_two_replicas() {
    let d = docs("controller.yaml");
    let dep: Deployment = find(&d, "Deployment");
    let spec = dep.spec;
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    let env: Vec<String> = pod.containers[0]
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    for name in ["CLUSTER_NAME", "POD_NAME", "POD_NAMESPACE"] {
        assert!(env.contains(&name.to_string()), "{name}");
    }
}
