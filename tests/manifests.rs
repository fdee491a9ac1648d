//! The plain manifests in deploy/manifests (the chart rendered with its defaults) parse as
//! the Kubernetes types they claim to be, and keep to what the packaging promises: the
//! agent least-privileged (host network and NET_ADMIN only, not privileged, read-only,
//! no host mounts, no access to pods, bound to the node's own address), the controller
//! highly available and within the Restricted Pod Security level.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
use serde_json::Value;

fn docs() -> Vec<Value> {
    let path = format!(
        "{}/deploy/manifests/aws-multi-eni-controller.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_saphyr::from_multiple(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn find<T: serde::de::DeserializeOwned>(docs: &[Value], kind: &str, name: &str) -> T {
    let doc = docs
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"));
    serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{kind} {name}: {e}"))
}

fn env_value(c: &Container, name: &str) -> Option<String> {
    c.env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value)
}

#[test]
fn the_agent_is_least_privileged() {
    let d = docs();
    let ds: DaemonSet = find(&d, "DaemonSet", "aws-multi-eni-controller-agent");
    let spec = ds.spec;
    let update = spec.update_strategy.unwrap().rolling_update.unwrap();
    assert_eq!(serde_json::to_value(update.max_unavailable).unwrap(), "10%");
    let pod: PodSpec = spec.template.spec.unwrap();
    assert_eq!(pod.host_network, Some(true));
    assert_eq!(
        pod.priority_class_name.as_deref(),
        Some("system-node-critical")
    );
    assert!(
        pod.volumes.unwrap_or_default().is_empty(),
        "no host filesystem mounts"
    );
    let tolerations = pod.tolerations.unwrap();
    assert!(
        tolerations
            .iter()
            .any(|t| t.operator.as_deref() == Some("Exists") && t.key.is_none()),
        "tolerates every taint"
    );
    let affinity = serde_json::to_string(&pod.affinity).unwrap();
    for skipped in ["fargate", "hybrid"] {
        assert!(affinity.contains(skipped), "skips {skipped} nodes");
    }
    let c = &pod.containers[0];
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.privileged, Some(false));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
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
    // The node's own address only, not every interface (the ENIs carry other networks);
    // the address apart from the ports, since an IPv6 host IP is no `host:port`.
    assert_eq!(
        env_value(c, "BIND_HOST").as_deref(),
        Some("$(HOST_IP)"),
        "the agent binds the node's own address"
    );
    let role: ClusterRole = find(&d, "ClusterRole", "aws-multi-eni-controller-agent");
    let rules = role.rules.unwrap();
    let resources: Vec<String> = rules
        .iter()
        .flat_map(|r| r.resources.clone().unwrap_or_default())
        .collect();
    assert!(
        !resources.iter().any(|r| r.starts_with("pods")),
        "no access to pods: {resources:?}"
    );
    assert_eq!(
        resources,
        ["eninodes", "eninodes/status"],
        "its node's ENINode and its status, nothing else"
    );
    let status_verbs: Vec<String> = rules
        .iter()
        .filter(|r| {
            r.resources
                .as_ref()
                .is_some_and(|x| x.contains(&"eninodes/status".into()))
        })
        .flat_map(|r| r.verbs.clone())
        .collect();
    assert_eq!(status_verbs, ["get", "patch"], "writes only the report");
    assert!(
        d.iter()
            .any(|doc| doc["kind"] == "ValidatingAdmissionPolicy"
                && doc["spec"]["matchConditions"][0]["expression"]
                    .as_str()
                    .is_some_and(|e| e.contains(
                        "system:serviceaccount:eni-controller-system:aws-multi-eni-controller-agent"
                    ))),
        "the own-node policy names the agent's ServiceAccount"
    );
}

#[test]
fn the_controller_is_highly_available_and_restricted() {
    let d = docs();
    let dep: Deployment = find(&d, "Deployment", "aws-multi-eni-controller");
    let spec = dep.spec;
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    assert_eq!(
        pod.priority_class_name.as_deref(),
        Some("system-cluster-critical")
    );
    let psc = pod.security_context.unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    let affinity = pod.affinity.unwrap().pod_anti_affinity.unwrap();
    assert!(
        serde_json::to_string(&affinity)
            .unwrap()
            .contains("kubernetes.io/hostname")
    );
    let spread = pod.topology_spread_constraints.unwrap();
    assert_eq!(spread[0].topology_key, "topology.kubernetes.io/zone");
    let c = &pod.containers[0];
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(
        sc.capabilities.unwrap().drop.unwrap(),
        vec!["ALL".to_string()]
    );
    let env: Vec<String> = c.env.clone().unwrap().into_iter().map(|e| e.name).collect();
    for name in ["CLUSTER_NAME", "POD_NAME", "POD_NAMESPACE"] {
        assert!(env.contains(&name.to_string()), "{name}");
    }
    let probes = (c.liveness_probe.clone(), c.readiness_probe.clone());
    assert!(probes.0.is_some() && probes.1.is_some(), "probes");
    let pdb: PodDisruptionBudget = find(&d, "PodDisruptionBudget", "aws-multi-eni-controller");
    assert_eq!(
        serde_json::to_value(pdb.spec.unwrap().max_unavailable).unwrap(),
        1
    );
    let lease: Role = find(&d, "Role", "aws-multi-eni-controller-leader-election");
    let named: Vec<String> = lease
        .rules
        .unwrap()
        .into_iter()
        .flat_map(|r| r.resource_names.unwrap_or_default())
        .collect();
    assert_eq!(
        named,
        [aws_multi_eni_controller::k8s::lease::DEFAULT_LEASE_NAME],
        "the Lease Role names the one Lease"
    );
}
