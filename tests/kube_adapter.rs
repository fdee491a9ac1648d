//! The kube adapter against the real kube-apiserver with the real `kube` client, as the
//! controller's ServiceAccount (the RBAC that `deploy/` ships): watches, status,
//! finalizer and Events; and the watches' recovery from cut connections, expired
//! resourceVersions, 429 and 500 answers injected by the testkit's proxy.
//! The tests share one cluster: each names its objects with its own prefix and looks only
//! at those. (The client from KUBECONFIG is exercised by the end-to-end test, which starts
//! the controller binary with one.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_multi_eni_controller::k8s::kube_cluster::KubeCluster;
use aws_multi_eni_controller::k8s::{
    About, Change, Cluster, ENIAttachment, FINALIZER, NodeENI, NodeENIStatus, NodeView, Notice,
    ObjectRef,
};
use eni_testkit::cluster::{CONTROLLER_SA, NAMESPACE, TestCluster};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::time::Instant;

async fn eventually<F: FnMut() -> bool>(what: &str, limit: Duration, mut check: F) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The shared cluster with the CRD and the controller's manifests installed; answers the
/// cluster, an admin client (for the test's own writes) and the controller's client.
async fn setup() -> (&'static TestCluster, Client, Client) {
    let cluster = TestCluster::shared().expect("test cluster");
    cluster
        .install_crd(&repo("deploy/crds/networking.k8s.aws_nodeenis.yaml"))
        .await
        .expect("CRD");
    cluster
        .install_deploy(&repo(""))
        .expect("the plain manifests");
    let admin = cluster.client().await.expect("admin client");
    let controller = cluster
        .service_account_client(NAMESPACE, CONTROLLER_SA)
        .await
        .expect("controller client");
    (cluster, admin, controller)
}

fn node(name: &str, labels: &[(&str, &str)]) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels.iter().cloned().collect::<BTreeMap<_, _>>()},
        "spec": {"providerID": format!("aws:///us-east-1a/{}", instance_of(name))},
        "status": {"images": [{"names": ["registry/image:tag"], "sizeBytes": 123456}], "capacity": {"cpu": "4"}}
    }))
    .unwrap()
}

fn nodeeni(name: &str) -> NodeENI {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.aws/v1alpha1", "kind": "NodeENI",
        "metadata": {"name": name},
        "spec": {"nodeSelector": {"ng": "multi-eni"}, "subnetID": "subnet-0f59b4f14737be9ad",
                 "securityGroupIDs": ["sg-05da196f3314d4af8"]}
    }))
    .unwrap()
}

/// The label keys the root keeps when the NodeENIs select by `ng`.
fn kept() -> std::collections::BTreeSet<String> {
    ["ng".to_string()].into()
}

/// Folds a change stream into the current view, like the root actor does.
fn follow<T: Clone + Send + 'static>(
    mut stream: futures::stream::BoxStream<'static, Change<T>>,
    key: fn(&T) -> String,
) -> Arc<Mutex<Option<BTreeMap<String, T>>>> {
    let view = Arc::new(Mutex::new(None));
    let out = view.clone();
    tokio::spawn(async move {
        while let Some(change) = stream.next().await {
            let mut v = out.lock().unwrap();
            let map = v.get_or_insert_with(BTreeMap::new);
            match change {
                Change::Resync(all) => *map = all.into_iter().map(|t| (key(&t), t)).collect(),
                Change::Applied(t) => {
                    map.insert(key(&t), t);
                }
                Change::Deleted(t) => {
                    map.remove(&key(&t));
                }
            }
        }
    });
    view
}

/// The `ng` label of each node in the view whose name starts with `prefix`.
fn labels_of(
    view: &Arc<Mutex<Option<BTreeMap<String, NodeView>>>>,
    prefix: &str,
) -> Option<BTreeMap<String, Option<String>>> {
    let v = view.lock().unwrap();
    v.as_ref().map(|m| {
        m.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, n)| (k.clone(), n.labels.get("ng").cloned()))
            .collect()
    })
}

#[tokio::test]
async fn watches_start_with_a_resync_and_follow_changes() {
    let (_cluster, admin, controller) = setup().await;
    let nodes: Api<Node> = Api::all(admin.clone());
    nodes
        .create(
            &PostParams::default(),
            &node(
                "follow-a",
                &[
                    ("ng", "multi-eni"),
                    ("kubernetes.io/hostname", "ip-10-0-0-1"),
                ],
            ),
        )
        .await
        .unwrap();
    nodes
        .create(&PostParams::default(), &node("follow-b", &[]))
        .await
        .unwrap();
    let cluster = KubeCluster::new(controller, None);
    let view = follow(cluster.nodes(&kept()), |n: &NodeView| n.name.clone());
    eventually("resync", Duration::from_secs(10), || {
        labels_of(&view, "follow-").is_some_and(|m| m.len() == 2)
    })
    .await;
    {
        let v = view.lock().unwrap();
        let a = &v.as_ref().unwrap()["follow-a"];
        assert_eq!(a.instance_id, Some(instance_of("follow-a")));
        assert_eq!(a.zone.as_deref(), Some("us-east-1a"));
        assert_eq!(
            a.labels,
            [("ng".to_string(), "multi-eni".to_string())].into(),
            "only the labels a selector names are kept"
        );
    }
    nodes
        .patch(
            "follow-b",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"ng": "multi-eni"}}})),
        )
        .await
        .unwrap();
    nodes
        .delete("follow-a", &DeleteParams::default())
        .await
        .unwrap();
    eventually("label and deletion seen", Duration::from_secs(10), || {
        labels_of(&view, "follow-")
            == Some([("follow-b".to_string(), Some("multi-eni".to_string()))].into())
    })
    .await;

    let api: Api<NodeENI> = Api::all(admin.clone());
    api.create(&PostParams::default(), &nodeeni("follow-x"))
        .await
        .unwrap();
    let enis = follow(cluster.nodeenis(), |n: &NodeENI| n.name_any());
    eventually(
        "NodeENI seen with defaults",
        Duration::from_secs(10),
        || {
            enis.lock()
                .unwrap()
                .as_ref()
                .and_then(|m| m.get("follow-x").map(|n| n.spec.device_index == 1))
                .unwrap_or(false)
        },
    )
    .await;
}

#[tokio::test]
async fn watches_survive_drops_gone_throttling_and_errors_without_losing_changes() {
    let (cluster, admin, _) = setup().await;
    let proxy = cluster.fault_proxy().await.expect("proxy");
    let token = cluster
        .service_account_token(NAMESPACE, CONTROLLER_SA)
        .await
        .unwrap();
    let through_proxy = proxy.kubeconfig_with_token(CONTROLLER_SA, &token).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&through_proxy).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let nodes: Api<Node> = Api::all(admin.clone());
    let watched = KubeCluster::new(Client::try_from(config).unwrap(), None);
    let view = follow(watched.nodes(&kept()), |n: &NodeView| n.name.clone());
    eventually("first resync", Duration::from_secs(10), || {
        labels_of(&view, "faults-").is_some()
    })
    .await;
    let faults = proxy.faults();
    let mut expected = BTreeMap::new();
    for round in 0..4 {
        match round {
            0 => faults.drop_watches(),
            1 => faults.expire_resource_versions(),
            2 => faults.throttle_next(3),
            _ => faults.fail_next(3),
        }
        let name = format!("faults-n{round}");
        // Writes go straight to the server; the watch sees the faults.
        loop {
            match nodes
                .create(&PostParams::default(), &node(&name, &[("ng", "multi-eni")]))
                .await
            {
                Ok(_) => break,
                Err(kube::Error::Api(s)) if s.code == 409 => break,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        faults.drop_watches();
        expected.insert(name, Some("multi-eni".to_string()));
    }
    eventually(
        "every node created during the faults is seen",
        Duration::from_secs(60),
        || labels_of(&view, "faults-") == Some(expected.clone()),
    )
    .await;
}

#[tokio::test]
async fn status_finalizer_and_events() {
    let (_cluster, admin, controller) = setup().await;
    let api: Api<NodeENI> = Api::all(admin.clone());
    let mut obj = nodeeni("multus");
    obj.metadata.finalizers = Some(vec!["nodeeni.networking.k8s.aws/finalizer".into()]);
    api.create(&PostParams::default(), &obj).await.unwrap();
    let cluster = KubeCluster::new(controller, Some("controller-0".into()));

    cluster.add_finalizer("multus").await.unwrap();
    cluster.add_finalizer("multus").await.unwrap();
    let got = api.get("multus").await.unwrap();
    assert_eq!(
        got.finalizers(),
        &[
            "nodeeni.networking.k8s.aws/finalizer".to_string(),
            FINALIZER.to_string()
        ]
    );

    let mut status = NodeENIStatus {
        observed_generation: Some(1),
        desired_count: 1,
        ready_count: 1,
        attachments: vec![ENIAttachment {
            node_id: "a".into(),
            instance_id: "i-a".into(),
            eni_id: "eni-1".into(),
            subnet_id: "subnet-0f59b4f14737be9ad".into(),
            status: "attached".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    cluster.patch_status("multus", &status).await.unwrap();
    let got = api.get("multus").await.unwrap();
    assert_eq!(got.status.as_ref().unwrap().attachments.len(), 1);
    assert_eq!(
        got.metadata.generation,
        Some(1),
        "a status write is not a spec change"
    );
    status.attachments.clear();
    status.ready_count = 0;
    cluster.patch_status("multus", &status).await.unwrap();
    assert!(
        api.get("multus")
            .await
            .unwrap()
            .status
            .unwrap()
            .attachments
            .is_empty(),
        "emptied lists are written"
    );

    // Events of one reason about two ENIs are two Events, each naming its own ENI; a
    // repeat about one slot is counted in that Event's series.
    let on = ObjectRef::of(&got);
    for (eni, node) in [("eni-1", "a"), ("eni-2", "b")] {
        let note = format!("{eni} attached to {node}");
        let notice = Notice::normal("ENIAttached", "Attach", note).about(About::Eni(eni.into()));
        cluster.publish(&on, notice).await.unwrap();
    }
    for _ in 0..2 {
        let refused =
            Notice::warning("ENICreateFailed", "Create", "node a: refused").about(About::Slot {
                node: "a".into(),
                subnet: "subnet-1".into(),
            });
        cluster.publish(&on, refused).await.unwrap();
    }
    let events: Api<Event> = Api::namespaced(admin.clone(), "default");
    let list = events.list(&ListParams::default()).await.unwrap();
    let of = |reason: &str| -> Vec<&Event> {
        list.items
            .iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .collect()
    };
    let mut notes: Vec<&str> = of("ENIAttached")
        .iter()
        .filter_map(|e| e.note.as_deref())
        .collect();
    notes.sort();
    assert_eq!(notes, ["eni-1 attached to a", "eni-2 attached to b"]);
    let e = of("ENIAttached")[0];
    assert_eq!(
        e.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("multus")
    );
    assert_eq!(
        e.reporting_controller.as_deref(),
        Some("aws-multi-eni-controller")
    );
    let refused = of("ENICreateFailed");
    assert_eq!(refused.len(), 1, "one Event for the slot");
    assert_eq!(
        refused[0].series.as_ref().map(|s| s.count),
        Some(2),
        "the repeat counted in its series"
    );

    api.delete("multus", &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        api.get("multus")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some(),
        "held by finalizers"
    );
    cluster.remove_finalizer("multus").await.unwrap();
    assert!(
        api.get_opt("multus").await.unwrap().is_none(),
        "both finalizers (ours and the Go controller's) removed"
    );
    cluster.remove_finalizer("multus").await.unwrap();
}

/// A well-formed instance ID (`i-` and hex digits) for a node name.
fn instance_of(name: &str) -> String {
    let hex: String = name.bytes().take(8).map(|b| format!("{b:02x}")).collect();
    format!("i-{hex}")
}

/// A NodeENI over 10,000 nodes × 2 subnets: its status (counts, conditions and the
/// capped attachment list) is one write the real server stores, well under the targets
/// (256 KiB for the object, 64 KiB per write). Listing every attachment would be about
/// 8 MB, which the server refuses.
#[tokio::test]
async fn a_nodeeni_over_ten_thousand_nodes_keeps_a_status_the_server_stores() {
    use aws_multi_eni_controller::k8s::status::{
        Concerns, MAX_LISTED_ATTACHMENTS, SlotPhase, SlotSummary, build_status,
    };
    let (_cluster, admin, controller) = setup().await;
    let api: Api<NodeENI> = Api::all(admin.clone());
    api.create(&PostParams::default(), &nodeeni("big-multus"))
        .await
        .unwrap();
    let slots: Vec<SlotSummary> = (0..20_000)
        .map(|i| SlotSummary {
            node: format!(
                "ip-10-{}-{}-{}.ec2.internal",
                i / 65536,
                (i / 256) % 256,
                i % 256
            ),
            instance_id: format!("i-{i:017x}"),
            subnet_id: format!("subnet-{:017x}", i % 2),
            subnet_cidr: "10.1.0.0/16".into(),
            eni_id: Some(format!("eni-{i:017x}")),
            attachment_id: Some(format!("eni-attach-{i:017x}")),
            mac_address: Some("02:00:00:00:00:01".into()),
            device_index: Some(1 + (i % 2) as u32),
            ipv4_addresses: Vec::new(),
            ipv4_prefixes: Vec::new(),
            ipv6_addresses: Vec::new(),
            ipv6_prefixes: Vec::new(),
            source_dest_check: None,
            network_card: 0,
            mtu: 9001,
            interface_configured: Some(true),
            phase: if i % 500 == 0 {
                SlotPhase::Blocked("InstanceGone".into(), "terminated".into())
            } else {
                SlotPhase::Attached
            },
        })
        .collect();
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
    let status = build_status(1, &slots, &Concerns::default(), None, now);
    let write = serde_json::to_vec(&json!({"status": status}))
        .unwrap()
        .len();
    assert!(write < 64 * 1024, "a status write of {write} bytes");

    let cluster = KubeCluster::new(controller, Some("controller-0".into()));
    cluster.patch_status("big-multus", &status).await.unwrap();
    let stored = api.get("big-multus").await.unwrap();
    let st = stored.status.clone().unwrap();
    assert_eq!(st.attachments.len(), MAX_LISTED_ATTACHMENTS);
    assert_eq!((st.desired_count, st.failed_count), (20_000, 40));
    assert_eq!(st.unlisted_count, 20_000 - MAX_LISTED_ATTACHMENTS as i32);
    assert!(
        st.attachments
            .iter()
            .filter(|a| a.status == "failed")
            .count()
            == 40,
        "the failed ones are listed"
    );
    // Managed fields included: etcd stores them too.
    let size = serde_json::to_vec(&stored).unwrap().len();
    assert!(size < 256 * 1024, "the stored NodeENI is {size} bytes");
    api.delete("big-multus", &DeleteParams::default())
        .await
        .unwrap();
}

/// The controller's Node writes as its ServiceAccount: the condition beside the
/// kubelet's, the startup taint removed only where it was seen, and an Event on the Node.
#[tokio::test]
async fn the_enis_ready_condition_and_the_startup_taint_on_a_real_node() {
    use aws_multi_eni_controller::k8s::node::TaintKey;
    use aws_multi_eni_controller::k8s::node::{ENIS_READY, NodeCondition as Condition};

    let (_cluster, admin, controller) = setup().await;
    let nodes: Api<Node> = Api::all(admin.clone());
    let mut n = node("rd-a", &[("ng", "multi-eni")]);
    n.spec.as_mut().unwrap().taints = Some(
        serde_json::from_value(json!([
            {"key": "example.com/other", "effect": "NoExecute"},
            {"key": "networking.k8s.aws/enis-not-ready", "effect": "NoSchedule"}
        ]))
        .unwrap(),
    );
    let created = nodes.create(&PostParams::default(), &n).await.unwrap();
    nodes
        .patch_status(
            "rd-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}
            ]}})),
        )
        .await
        .unwrap();
    let controller_client = controller.clone();
    let cluster = KubeCluster::new(controller, Some("controller-0".into()));
    let view = follow(cluster.nodes(&kept()), |v: &NodeView| v.name.clone());
    let ours = TaintKey {
        key: "networking.k8s.aws/enis-not-ready".into(),
        effect: "NoSchedule".into(),
    };
    let other = TaintKey {
        key: "example.com/other".into(),
        effect: "NoExecute".into(),
    };
    eventually("the node's taints seen", Duration::from_secs(10), || {
        view.lock()
            .unwrap()
            .as_ref()
            .and_then(|m| m.get("rd-a"))
            .is_some_and(|v| v.taints.starts_with(&[other.clone(), ours.clone()]))
    })
    .await;

    let pending = Condition {
        ready: false,
        reason: "ENIsPending".into(),
        message: "NodeENI multus: the node agent has not reported eni-1 yet".into(),
    };
    cluster
        .set_node_condition("rd-a", &pending, true)
        .await
        .unwrap();
    let ready = Condition {
        ready: true,
        reason: "ENIsConfigured".into(),
        message: "1 ENI(s) of NodeENI multus attached and configured".into(),
    };
    cluster
        .set_node_condition("rd-a", &ready, true)
        .await
        .unwrap();
    let got = nodes.get_status("rd-a").await.unwrap();
    let conditions = got.status.unwrap().conditions.unwrap();
    let types: Vec<&str> = conditions.iter().map(|c| c.type_.as_str()).collect();
    assert!(
        types.contains(&"Ready"),
        "the kubelet's condition stays: {types:?}"
    );
    let mine = conditions.iter().find(|c| c.type_ == ENIS_READY).unwrap();
    assert_eq!(
        (mine.status.as_str(), mine.reason.as_deref()),
        ("True", Some("ENIsConfigured"))
    );
    assert!(mine.last_transition_time.is_some());

    // The chart's policy: the controller's token may not touch the kubelet's condition.
    // (In force once the API server has loaded it: polled, with a deadline.)
    let as_controller: Api<Node> = Api::all(controller_client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    let refused = loop {
        let answer = as_controller
            .patch_status(
                "rd-a",
                &PatchParams::default(),
                &Patch::Strategic(json!({"status": {"conditions": [
                    {"type": "Ready", "status": "False", "reason": "Nope", "message": "no"}
                ]}})),
            )
            .await;
        match answer {
            Err(e) => break e,
            Ok(_) => {
                assert!(Instant::now() < deadline, "the policy never took effect");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert!(
        refused
            .to_string()
            .contains("may write only its networking.k8s.aws/ENIsReady condition"),
        "{refused}"
    );

    // The taint seen at the wrong place is not removed: a conflict, nothing changes.
    let wrong = cluster
        .remove_node_taint("rd-a", &ours, 0)
        .await
        .unwrap_err();
    assert_eq!(wrong.label(), "conflict", "{wrong}");
    cluster.remove_node_taint("rd-a", &ours, 1).await.unwrap();
    let taints = nodes
        .get("rd-a")
        .await
        .unwrap()
        .spec
        .unwrap()
        .taints
        .unwrap();
    // (The API server's admission added `node.kubernetes.io/not-ready` at the end.)
    let keys: Vec<&str> = taints.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, ["example.com/other", "node.kubernetes.io/not-ready"]);
    eventually(
        "the watch shows both writes",
        Duration::from_secs(10),
        || {
            view.lock()
                .unwrap()
                .as_ref()
                .and_then(|m| m.get("rd-a"))
                .is_some_and(|v| {
                    !v.taints.contains(&ours)
                        && v.taints.contains(&other)
                        && v.enis_ready.as_ref() == Some(&ready)
                })
        },
    )
    .await;

    // An Event on the Node, where `kubectl describe node` shows it.
    let on = ObjectRef {
        name: "rd-a".into(),
        uid: created.metadata.uid.clone().unwrap(),
    };
    cluster
        .publish_on_node(
            &on,
            Notice::warning("ENIsNotReady", "Reconcile", pending.message.clone()),
        )
        .await
        .unwrap();
    let events: Api<Event> = Api::namespaced(admin.clone(), "default");
    let found = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|e| e.reason.as_deref() == Some("ENIsNotReady"))
        .expect("the Event");
    let regarding = found.regarding.unwrap();
    assert_eq!(
        (regarding.kind.as_deref(), regarding.name.as_deref()),
        (Some("Node"), Some("rd-a"))
    );
    assert_eq!(found.note.as_deref(), Some(pending.message.as_str()));
}
