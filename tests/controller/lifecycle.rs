//! Rollouts and the changes users make afterwards.

use std::time::Duration;

use aws_multi_eni_controller::actors::ControllerSettings;
use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::k8s::{ENINodeStatus, FINALIZER, InterfaceReport};
use kube::ResourceExt;

use super::harness::{World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

#[tokio::test(start_paused = true)]
async fn rollout_200_nodes_two_subnets() {
    let mut w = World::new(SimConfig::default(), 2);
    w.add_nodes(200, LABEL);
    let nodeeni = w.apply("multus", w.spec(2));
    let controller = w.start(settings()).await;
    let took = w.until_ready("multus", 400).await;
    let pairs = w.attached_pairs();
    assert_eq!(pairs.len(), 400, "exactly one ENI per slot");
    for (instance, _, _) in pairs.iter().step_by(2) {
        let on: Vec<_> = pairs
            .iter()
            .filter(|(i, _, _)| i == instance)
            .map(|(_, s, d)| (s.clone(), *d))
            .collect();
        assert_eq!(
            on,
            vec![(w.subnets[0].id.clone(), 1), (w.subnets[1].id.clone(), 2)],
            "subnet order → device index"
        );
    }
    assert_eq!(w.owned_by(&nodeeni).len(), 400, "no extra ENI");
    assert!(w.owned().iter().all(|e| {
        e.attachment
            .as_ref()
            .is_some_and(|a| a.delete_on_termination)
    }));
    let stored = w.cluster.nodeeni("multus").unwrap();
    assert!(stored.finalizers().contains(&FINALIZER.to_string()));
    let status = stored.status.unwrap();
    assert!(
        status
            .attachments
            .iter()
            .all(|a| a.status == "attached" && !a.mac_address.is_empty())
    );
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "AllAttached")
    );
    // 400 creates at 5/s after a burst of 90 (100 minus the 10% reserve) need ≥ 62 s.
    assert!(took >= Duration::from_secs(60), "{took:?}");
    assert_eq!(
        w.sim.count(None, Some("throttled")),
        0,
        "the limiter kept every call under EC2's buckets"
    );
    let writes = w.cluster.status_writes();
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(
        w.cluster.status_writes(),
        writes,
        "no status writes once nothing changes"
    );
    controller.stop().await;
}

/// A listing that starts while a slot's attach waits for its token, and reads the ENI
/// before the attach reaches EC2, shows it unattached: that stale view must not make the
/// slot attach it again (one attach call per ENI).
#[tokio::test(start_paused = true)]
async fn a_listing_older_than_an_attach_does_not_make_the_slot_attach_again() {
    let mut w = World::new(
        SimConfig {
            page_size: 50,
            ..SimConfig::default()
        },
        1,
    );
    w.add_nodes(400, LABEL);
    w.apply("multus", w.spec(1));
    let controller = w
        .start(ControllerSettings {
            // Listings while attaches queue for tokens (400 at 5/s after the burst).
            resync_interval: Duration::from_secs(15),
            ..settings()
        })
        .await;
    w.until_ready("multus", 400).await;
    let attach = aws_multi_eni_controller::aws::Ec2Action::AttachNetworkInterface;
    assert_eq!(
        (
            w.sim.count(Some(attach), None),
            w.sim.count(Some(attach), Some("conflict"))
        ),
        (400, 0),
        "attach calls, of which refused as already attached"
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn label_flip_tears_down_and_brings_back() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(5, LABEL);
    w.apply("multus", w.spec(1));
    let controller = w.start(settings()).await;
    w.until_ready("multus", 5).await;
    let before = w.owned();
    w.cluster.label_node("node-0001", "ng", None);
    eventually("node-0001's ENI deleted", Duration::from_secs(600), || {
        w.owned().len() == 4 && w.ready_count("multus") == Some((4, 4))
    })
    .await;
    w.cluster.label_node("node-0001", "ng", Some("multi-eni"));
    eventually("back to 5", Duration::from_secs(600), || {
        w.ready_count("multus") == Some((5, 5)) && w.attached_pairs().len() == 5
    })
    .await;
    let after = w.owned();
    assert_eq!(after.len(), 5);
    let gone: Vec<_> = before
        .iter()
        .filter(|b| !after.iter().any(|a| a.id == b.id))
        .collect();
    assert_eq!(gone.len(), 1, "only node-0001's ENI was replaced");
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn spec_changes_apply_in_place_and_add_or_remove_slots() {
    let mut w = World::new(SimConfig::default(), 2);
    w.add_nodes(3, LABEL);
    w.apply("multus", w.spec(1));
    let controller = w.start(settings()).await;
    w.until_ready("multus", 3).await;
    let ids: Vec<String> = w.owned().into_iter().map(|e| e.id).collect();

    // New security group: modified in place, same ENIs.
    let sg2 = w.sim.add_security_group("second").id;
    let mut spec = w.spec(1);
    spec.security_group_ids.push(sg2.clone());
    w.apply("multus", spec.clone());
    eventually("groups changed", Duration::from_secs(600), || {
        w.owned()
            .iter()
            .all(|e| e.security_group_ids.contains(&sg2))
    })
    .await;
    assert_eq!(w.owned().into_iter().map(|e| e.id).collect::<Vec<_>>(), ids);

    // MTU 9001 → 1500: every attachment's line in the status says so (the slots' lines
    // are kept between rounds, so this is what tells them to be built again).
    spec.mtu = 1500;
    w.apply("multus", spec.clone());
    eventually("the new MTU in the status", Duration::from_secs(60), || {
        w.cluster
            .nodeeni("multus")
            .and_then(|o| o.status)
            .is_some_and(|s| {
                s.attachments.len() == 3 && s.attachments.iter().all(|a| a.mtu == 1500)
            })
    })
    .await;

    // A second subnet: a second slot per node at the next index.
    spec.subnet_ids = w.subnets.iter().map(|s| s.id.clone()).collect();
    w.apply("multus", spec.clone());
    w.until_ready("multus", 6).await;

    // deviceIndex 1 → 3: the ENIs move to 3 and 4.
    spec.device_index = 3;
    w.apply("multus", spec.clone());
    eventually("moved", Duration::from_secs(900), || {
        let p = w.attached_pairs();
        p.len() == 6 && p.iter().all(|(_, _, d)| *d == 3 || *d == 4)
    })
    .await;

    // Back to one subnet: the other slot's ENIs go.
    spec.subnet_ids.truncate(1);
    w.apply("multus", spec);
    eventually("3 left", Duration::from_secs(900), || {
        w.owned().len() == 3 && w.ready_count("multus") == Some((3, 3))
    })
    .await;
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn node_deletion_and_instance_replacement() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(3, LABEL);
    w.apply("multus", w.spec(1));
    let controller = w.start(settings()).await;
    w.until_ready("multus", 3).await;

    // Node deleted and its instance terminated: the ENI (deleteOnTermination) goes with it.
    let gone = w.instances["node-0000"].clone();
    w.sim.terminate_instance(&gone).unwrap();
    w.cluster.delete_node("node-0000");
    eventually("2 left", Duration::from_secs(600), || {
        w.ready_count("multus") == Some((2, 2)) && w.owned().len() == 2
    })
    .await;

    // Same node name, new instance: old slot torn down, new one created.
    let old = w.instances["node-0001"].clone();
    w.add_node("node-0001", "m5.xlarge", LABEL);
    let new = w.instances["node-0001"].clone();
    eventually(
        "moved to the new instance",
        Duration::from_secs(900),
        || {
            let p = w.attached_pairs();
            p.len() == 2
                && p.iter().any(|(i, _, _)| *i == new)
                && !p.iter().any(|(i, _, _)| *i == old)
        },
    )
    .await;
    eventually(
        "old instance's ENI deleted",
        Duration::from_secs(900),
        || w.owned().len() == 2,
    )
    .await;
    controller.stop().await;
}

/// A node that joins as another leaves (node churn) gets its ENI at once: the departed
/// node's teardown makes the NodeENI list its ENIs again later, but a new node's slot
/// needs no fresh listing (nothing of its key can exist that the first one missed).
#[tokio::test(start_paused = true)]
async fn a_node_joining_as_another_leaves_gets_its_eni_without_waiting_for_a_listing() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(3, LABEL);
    w.apply("multus", w.spec(1));
    let controller = w.start(settings()).await;
    w.until_ready("multus", 3).await;
    tokio::time::sleep(Duration::from_secs(5)).await;

    let gone = w.instances["node-0000"].clone();
    w.sim.terminate_instance(&gone).unwrap();
    w.cluster.delete_node("node-0000");
    let joined = w.add_node("node-0003", "m5.xlarge", LABEL);
    // Well under the 30 s after which the departed slot's NodeENI lists again.
    eventually(
        "the new node's ENI attached",
        Duration::from_secs(10),
        || w.attached_pairs().iter().any(|(i, _, _)| *i == joined),
    )
    .await;
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn deleting_the_nodeeni_cleans_up_then_releases_the_finalizer() {
    let mut w = World::new(SimConfig::default(), 2);
    w.add_nodes(4, LABEL);
    w.apply("multus", w.spec(2));
    let controller = w.start(settings()).await;
    w.until_ready("multus", 8).await;
    w.cluster.delete_nodeeni("multus");
    assert!(
        w.cluster.nodeeni("multus").is_some(),
        "held by the finalizer"
    );
    w.until_gone("multus").await;
    assert!(
        w.owned().is_empty(),
        "every ENI deleted before the finalizer went"
    );
    let events = w.cluster.events();
    assert!(events.iter().any(|(_, n)| n.reason == "ENIDeleted"));
    assert!(events.iter().any(|(_, n)| n.reason == "ENIAttached"));
    controller.stop().await;
}

/// Each node's ENINode lists its ENIs from every NodeENI; the agent's report there shows
/// in the NodeENI status; a node that stops matching, and a deleted NodeENI, take their
/// entries away, leaving the other NodeENI's.
#[tokio::test(start_paused = true)]
async fn each_nodes_eninode_lists_its_enis_and_carries_the_agents_report() {
    let mut w = World::new(SimConfig::default(), 2);
    w.add_nodes(2, LABEL);
    w.apply("multus", w.spec(1));
    let mut second = w.spec(2);
    second.subnet_ids.remove(0);
    second.device_index = 3;
    w.apply("storage", second);
    let controller = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    w.until_ready("storage", 2).await;
    let entries = |node: &str| -> Vec<(String, String, i32)> {
        w.cluster.eninode(node).map_or(Vec::new(), |v| {
            v.entries
                .values()
                .flatten()
                .map(|i| (i.node_eni.clone(), i.eni_id.clone(), i.device_index))
                .collect()
        })
    };
    eventually(
        "both NodeENIs listed on node-0000",
        Duration::from_secs(60),
        || entries("node-0000").len() == 2,
    )
    .await;
    let status = w.cluster.nodeeni("multus").unwrap().status.unwrap();
    let mine = status
        .attachments
        .iter()
        .find(|a| a.node_id == "node-0000")
        .unwrap()
        .clone();
    assert!(
        entries("node-0000").contains(&("multus".into(), mine.eni_id.clone(), mine.device_index)),
        "{:?}",
        entries("node-0000")
    );
    assert!(
        status
            .attachments
            .iter()
            .all(|a| a.interface_configured.is_none()),
        "no agent has reported yet"
    );

    // The agent reports the interface configured.
    w.cluster.report_interfaces(
        "node-0000",
        ENINodeStatus {
            interfaces: vec![InterfaceReport {
                eni_id: mine.eni_id.clone(),
                mac_address: mine.mac_address.to_ascii_uppercase(),
                node_eni: "multus".into(),
                interface: Some("ens6".into()),
                configured: true,
                mtu: Some(9001),
                mtu_clamped: false,
                message: None,
                dpdk: None,
            }],
            configured_count: 1,
            eni_count: 1,
        },
    );
    eventually("reported in status", Duration::from_secs(60), || {
        w.cluster
            .nodeeni("multus")
            .unwrap()
            .status
            .unwrap()
            .attachments
            .iter()
            .any(|a| a.node_id == "node-0000" && a.interface_configured == Some(true))
    })
    .await;

    // node-0001 stops matching: its entries go; deleting storage takes its entries away.
    w.cluster.label_node("node-0001", "ng", None);
    eventually(
        "node-0001's entries withdrawn",
        Duration::from_secs(600),
        || entries("node-0001").is_empty(),
    )
    .await;
    w.cluster.delete_nodeeni("storage");
    w.until_gone("storage").await;
    let left = entries("node-0000");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].0, "multus");
    controller.stop().await;
}
