//! ENIs whose story does not go as planned: a tag removed or a cluster identity changed
//! under the controller, a label that flaps while a create waits for its token, an ENI
//! EC2 will not take, a teardown whose ENI vanished after it failed.

use std::time::Duration;

use aws_multi_eni_controller::actors::ControllerSettings;
use aws_multi_eni_controller::aws::ownership::{ClusterIdentity, TAG_NODE};
use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::aws::{AttachRequest, BucketSpec, Ec2Action, Tags};

use super::harness::{CLUSTER, World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

fn degraded(w: &World, name: &str) -> Option<(String, String)> {
    let s = w.cluster.nodeeni(name)?.status?;
    let c = s.conditions.iter().find(|c| c.type_ == "Degraded")?;
    Some((c.status.clone(), c.message.clone()))
}

#[tokio::test(start_paused = true)]
async fn an_eni_whose_node_tag_was_removed_is_reported_not_duplicated_nor_waited_for() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(3, LABEL);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 3).await;
    let stripped = w.owned()[0].id.clone();
    w.sim.untag_eni(&stripped, TAG_NODE);
    // Several re-listings later: no second ENI beside it.
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(
        w.attached_pairs().len(),
        3,
        "no duplicate: {:?}",
        w.attached_pairs()
    );
    assert!(
        w.cluster
            .events()
            .iter()
            .any(|(_, n)| n.reason == "UnmanagedENI" && n.note.contains(&stripped)),
        "the ENI is reported"
    );
    w.cluster.delete_nodeeni("multus");
    w.until_gone("multus").await;
    let left: Vec<String> = w.sim.enis().into_iter().map(|e| e.id).collect();
    assert!(left.contains(&stripped), "the unmanaged ENI is left alone");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_changed_cluster_identity_keeps_the_enis_its_nodeenis_list() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(3, LABEL);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 3).await;
    c.stop().await;
    let c = w
        .start(ControllerSettings {
            cluster: ClusterIdentity::new(CLUSTER, "id-2"),
            ..settings()
        })
        .await;
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(w.attached_pairs().len(), 3, "{:?}", w.attached_pairs());
    assert_eq!(
        w.sim
            .count(Some(Ec2Action::CreateNetworkInterface), Some("ok")),
        3
    );
    w.cluster.delete_nodeeni("multus");
    w.until_gone("multus").await;
    assert_eq!(w.owned(), vec![], "its ENIs were torn down with it");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_label_flap_during_a_queued_create_detaches_nothing() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(31, LABEL);
    w.apply("multus", w.spec(1));
    let mut s = settings();
    s.buckets
        .set(Ec2Action::CreateNetworkInterface, BucketSpec::new(1, 1.0));
    s.bucket_reserve = 0.0;
    let c = w.start(s).await;
    // About 30 creates queue behind the first; the last node's waits longest.
    eventually("the first create", Duration::from_secs(60), || {
        w.sim
            .count(Some(Ec2Action::CreateNetworkInterface), Some("ok"))
            >= 1
    })
    .await;
    w.cluster.label_node("node-0030", "ng", None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    w.cluster.label_node("node-0030", "ng", Some("multi-eni"));
    w.until_ready("multus", 31).await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(w.attached_pairs().len(), 31);
    assert_eq!(
        w.sim.count(Some(Ec2Action::DetachNetworkInterface), None),
        0,
        "no attached ENI was detached"
    );
    // The replacement slot never works with the retired slot's ENI: no attach of an ENI
    // deleted under it, no create refused for a reused token.
    let failures: Vec<(String, u64)> = w
        .sim
        .failures()
        .into_iter()
        .filter(|(k, _)| !k.ends_with("/throttled"))
        .collect();
    assert_eq!(failures, vec![], "calls refused");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_eni_ec2_keeps_refusing_to_attach_is_given_up_on() {
    let mut w = World::new(SimConfig::default(), 1);
    // m5.large takes 3 interfaces: the primary and two seeded fill it.
    let inst = w.add_node("node-0000", "m5.large", LABEL);
    for index in [1, 2] {
        let eni = w.sim.seed_eni(&w.node_subnet.id, Tags::new()).unwrap();
        w.sim
            .seed_attach(&AttachRequest {
                eni_id: eni.id,
                instance_id: inst.clone(),
                device_index: index,
                network_card_index: 0,
                ena: Default::default(),
            })
            .unwrap();
    }
    // Without the type's limits the slot cannot know the card is full: EC2 tells it.
    w.sim.deny(Ec2Action::DescribeInstanceTypes, true);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    eventually("ENIUnattachable", Duration::from_secs(11 * 60), || {
        w.cluster
            .events()
            .iter()
            .any(|(_, n)| n.reason == "ENIUnattachable")
    })
    .await;
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_teardown_whose_eni_vanished_is_no_longer_reported() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(2, LABEL);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    w.sim.deny(Ec2Action::DeleteNetworkInterface, true);
    w.cluster.label_node("node-0000", "ng", None);
    eventually("the failure reported", Duration::from_secs(300), || {
        degraded(&w, "multus").is_some_and(|(s, m)| s == "True" && m.contains("not authorized"))
    })
    .await;
    let gone: Vec<String> = w
        .owned()
        .into_iter()
        .filter(|e| e.attachment.is_none())
        .map(|e| e.id)
        .collect();
    assert_eq!(gone.len(), 1);
    // Someone deletes it by hand (or EC2 with its instance).
    w.sim.remove_eni(&gone[0]);
    eventually("Degraded cleared", Duration::from_secs(600), || {
        degraded(&w, "multus").is_some_and(|(s, _)| s == "False")
    })
    .await;
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn departed_nodes_enis_are_inspected_in_batched_reads() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(300, LABEL);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 300).await;
    let describes = || {
        w.sim
            .count(Some(Ec2Action::DescribeNetworkInterfaces), None)
    };
    let before = describes();
    // 250 nodes go with their instances: EC2 deletes their ENIs (deleteOnTermination),
    // and every teardown the controller starts finds its ENI gone.
    let departed: Vec<(String, String)> = w
        .instances
        .iter()
        .take(250)
        .map(|(node, instance)| (node.clone(), instance.clone()))
        .collect();
    for (node, instance) in &departed {
        w.sim.terminate_instance(instance).unwrap();
        w.cluster.delete_node(node);
    }
    eventually("every teardown over", Duration::from_secs(600), || {
        w.cluster
            .events()
            .iter()
            .filter(|(_, n)| n.reason == "ENIDeleted")
            .count()
            == 250
    })
    .await;
    assert_eq!(w.attached_pairs().len(), 50);
    let spent = describes() - before;
    // One read per teardown was 250; batched, a few reads inspect them all (a read
    // naming gone ENIs is refused naming them, and the rest is read again), beside the
    // NodeENI's own listings.
    eprintln!("{spent} describes for 250 departed nodes");
    assert!(spent <= 25, "{spent} describes for 250 departed nodes");
    c.stop().await;
}
