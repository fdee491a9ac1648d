//! Supervision, foreign ENIs, orphans, adoption, preflight and bad input.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_multi_eni_controller::aws::ownership::{
    ClusterIdentity, SlotOwner, TAG_CLUSTER, TAG_INSTANCE,
};
use aws_multi_eni_controller::aws::sim::{Fault, ScriptedFault, SimConfig};
use aws_multi_eni_controller::aws::{AttachRequest, Ec2Action, Eni, Tags};
use aws_multi_eni_controller::k8s::{Cluster, NodeENIStatus};

use super::harness::{CLUSTER, World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn condition(status: &NodeENIStatus, t: &str) -> (String, String, String) {
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .expect("condition");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

/// When each node's ENI finished (its deleteOnTermination call), by instance: ENI IDs
/// follow the order of the creates, which the pacing of a rollout may change.
fn finish_times(w: &World) -> BTreeMap<String, Duration> {
    let instance_of: BTreeMap<String, String> = w
        .sim
        .enis()
        .into_iter()
        .filter_map(|e| Some((e.id.clone(), e.tags.get(TAG_INSTANCE)?.clone())))
        .collect();
    w.sim
        .calls()
        .into_iter()
        .filter(|c| c.action == Ec2Action::ModifyNetworkInterfaceAttribute && c.outcome == "ok")
        .filter_map(|c| Some((instance_of.get(&c.target)?.clone(), c.at)))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_panicking_slot_restarts_and_the_others_keep_their_schedule() {
    let run = |panic: bool| async move {
        let mut w = World::new(SimConfig::default(), 1);
        w.add_nodes(20, LABEL);
        w.apply("multus", w.spec(1));
        if panic {
            w.sim.script_fault(ScriptedFault {
                nth_mutating: 8,
                action: Some(Ec2Action::AttachNetworkInterface),
                fault: Fault::Panic,
            });
        }
        let c = w.start(settings()).await;
        w.until_ready("multus", 20).await;
        c.stop().await;
        let panicked = w
            .sim
            .calls()
            .iter()
            .any(|c| c.action == Ec2Action::AttachNetworkInterface && c.outcome == "transient");
        assert_eq!(
            panicked, panic,
            "the 8th attach panicked only when scripted"
        );
        (finish_times(&w), w.owned().len())
    };
    let (baseline, _) = run(false).await;
    let (with_panic, owned) = run(true).await;
    assert_eq!(owned, 20, "the panicked slot recovered without a duplicate");
    let compared: Vec<_> = baseline
        .iter()
        .filter_map(|(eni, t)| with_panic.get(eni).map(|p| (eni, *t, *p)))
        .collect();
    assert!(
        compared.len() >= 19,
        "the runs' slots are compared one by one: {} of {}",
        compared.len(),
        baseline.len()
    );
    let slower: Vec<_> = compared
        .into_iter()
        .filter(|(_, t, p)| *p > *t + Duration::from_secs(1))
        .collect();
    assert!(
        slower.len() <= 1,
        "only the panicked slot may finish later: {slower:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn foreign_enis_are_never_touched() {
    let mut w = World::new(SimConfig::default(), 1);
    let inst = w.add_node("node-0000", "m5.xlarge", LABEL);
    w.add_node("node-0001", "m5.xlarge", LABEL);
    let subnet = w.subnets[0].id.clone();
    let untagged = w.sim.seed_eni(&subnet, Tags::new()).unwrap();
    let other = SlotOwner {
        cluster: ClusterIdentity::new("other-cluster", "other-uid"),
        nodeeni_name: "multus".into(),
        nodeeni_uid: "other-uid".into(),
        node_name: "node-0000".into(),
        instance_id: inst.clone(),
        subnet_id: subnet.clone(),
        slot: 0,
    };
    let other_cluster = w
        .sim
        .seed_eni(&subnet, other.tags(0, 1, "2020-01-01T00:00:00Z"))
        .unwrap();
    let cni = w
        .sim
        .seed_eni(
            &subnet,
            tags(&[
                ("node.k8s.amazonaws.com/instance_id", &inst),
                ("cluster.k8s.amazonaws.com/name", CLUSTER),
            ]),
        )
        .unwrap();
    let copied = w
        .sim
        .seed_eni(&subnet, tags(&[(TAG_CLUSTER, CLUSTER)]))
        .unwrap();
    for (eni, index) in [(&untagged, 1), (&other_cluster, 2)] {
        w.sim
            .seed_attach(&AttachRequest {
                eni_id: eni.id.clone(),
                instance_id: inst.clone(),
                device_index: index,
                network_card_index: 0,
                ena: Default::default(),
            })
            .unwrap();
    }
    let foreign_before: Vec<Eni> = w
        .sim
        .enis()
        .into_iter()
        .filter(|e| [&untagged.id, &other_cluster.id, &cni.id, &copied.id].contains(&&e.id))
        .collect();
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    let ours = w.attached_pairs();
    assert!(
        ours.contains(&(inst.clone(), subnet.clone(), 3)),
        "stepped over the foreign ENIs at 1 and 2: {ours:?}"
    );
    // Several orphan sweeps and grace periods pass, then the NodeENI goes.
    tokio::time::sleep(Duration::from_secs(600)).await;
    w.cluster.delete_nodeeni("multus");
    w.until_gone("multus").await;
    tokio::time::sleep(Duration::from_secs(600)).await;
    let foreign_after: Vec<Eni> = w
        .sim
        .enis()
        .into_iter()
        .filter(|e| foreign_before.iter().any(|b| b.id == e.id))
        .collect();
    assert_eq!(
        foreign_after, foreign_before,
        "untagged, other-cluster, VPC-CNI and hand-tagged ENIs unchanged"
    );
    assert!(
        w.owned().iter().all(|e| e.id == copied.id),
        "only our own ENIs were deleted"
    );
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn orphans_are_swept_after_the_grace_period() {
    let mut w = World::new(SimConfig::default(), 1);
    let inst = w.add_node("node-0000", "m5.xlarge", LABEL);
    let idle = w.add_node("node-0001", "m5.xlarge", &[("ng", "other")]);
    let nodeeni = w.apply("multus", w.spec(1));
    let subnet = w.subnets[0].id.clone();
    let slot = |uid: &str, instance: &str, node: &str| SlotOwner {
        cluster: super::harness::identity(),
        nodeeni_name: "old".into(),
        nodeeni_uid: uid.into(),
        node_name: node.into(),
        instance_id: instance.into(),
        subnet_id: subnet.clone(),
        slot: 0,
    };
    // A NodeENI deleted while the controller was down (finalizer removed by hand): the
    // controller had put it on the ledger before it made its ENIs.
    w.cluster.record_owner("gone-uid", "old").await.unwrap();
    let gone_available = w
        .sim
        .seed_eni(
            &subnet,
            slot("gone-uid", &inst, "node-0000").tags(0, 2, "2020-01-01T00:00:00Z"),
        )
        .unwrap();
    let gone_attached = w
        .sim
        .seed_eni(
            &subnet,
            slot("gone-uid", &idle, "node-0001").tags(0, 2, "2020-01-01T00:00:00Z"),
        )
        .unwrap();
    w.sim
        .seed_attach(&AttachRequest {
            eni_id: gone_attached.id.clone(),
            instance_id: idle.clone(),
            device_index: 2,
            network_card_index: 0,
            ena: Default::default(),
        })
        .unwrap();
    // The live NodeENI's ENI for a node that no longer matches.
    let live_uid = nodeeni.metadata.uid.clone().unwrap();
    let unwanted = w
        .sim
        .seed_eni(
            &subnet,
            slot(&live_uid, &idle, "node-0001").tags(0, 1, "2020-01-01T00:00:00Z"),
        )
        .unwrap();
    let c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    let gone = |id: &str| !w.sim.enis().iter().any(|e| e.id == id);
    eventually("orphans deleted", Duration::from_secs(900), || {
        gone(&gone_available.id) && gone(&gone_attached.id) && gone(&unwanted.id)
    })
    .await;
    assert_eq!(w.owned().len(), 1, "the desired slot's ENI stays");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn go_controller_enis_are_adopted_not_duplicated() {
    let mut w = World::new(SimConfig::default(), 1);
    let inst = w.add_node("node-0000", "m5.xlarge", LABEL);
    let subnet = w.subnets[0].id.clone();
    let legacy = w.seed_go_eni("node-0000", &inst, &subnet);
    w.apply_go("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    let owned = w.owned();
    assert_eq!(owned.len(), 1);
    assert_eq!(
        owned[0].id, legacy.id,
        "the Go controller's ENI was adopted"
    );
    assert!(owned[0].attachment.as_ref().unwrap().delete_on_termination);
    assert_eq!(
        w.sim.count(Some(Ec2Action::CreateNetworkInterface), None),
        0
    );
    assert!(
        w.cluster
            .events()
            .iter()
            .any(|(_, n)| n.reason == "ENIAdopted")
    );
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn full_cards_zones_dpdk_and_unknown_subnets_are_reported_not_attempted() {
    let mut w = World::new(SimConfig::default(), 1);
    let small = w.add_node("small", "m5.large", LABEL);
    w.add_node("roomy", "m5.xlarge", LABEL);
    let subnet = w.subnets[0].id.clone();
    for index in [1, 2] {
        let e = w.sim.seed_eni(&subnet, Tags::new()).unwrap();
        w.sim
            .seed_attach(&AttachRequest {
                eni_id: e.id,
                instance_id: small.clone(),
                device_index: index,
                network_card_index: 0,
                ena: Default::default(),
            })
            .unwrap();
    }
    let elsewhere = w
        .sim
        .add_subnet("us-east-1b", "10.9.0.0/16", Some("zone-b"));
    let mut spec = w.spec(1);
    spec.subnet_ids.push(elsewhere.id.clone());
    w.apply("multus", spec);
    let mut zoned = w.spec(1);
    zoned.subnet_ids = vec![elsewhere.id.clone()];
    w.apply("zoned", zoned);
    let mut bad = w.spec(1);
    bad.subnet_ids.clear();
    bad.subnet_names = vec!["does-not-exist".into()];
    w.apply("typo", bad);
    let c = w.start(settings()).await;
    eventually(
        "roomy ready, small blocked",
        Duration::from_secs(600),
        || {
            w.cluster
                .nodeeni("multus")
                .and_then(|n| n.status)
                .is_some_and(|s| {
                    s.desired_count == 2
                        && s.ready_count == 1
                        && s.attachments.iter().any(|a| a.status == "failed")
                })
        },
    )
    .await;
    let status = w.cluster.nodeeni("multus").unwrap().status.unwrap();
    let (_, reason, message) = condition(&status, "Degraded");
    assert_eq!(reason, "AttachmentLimitExceeded");
    assert!(message.contains("no free device index"), "{message}");
    assert!(
        !message.contains("us-east-1b"),
        "the other zone's subnet is for that zone's nodes: {message}"
    );
    assert_eq!(
        w.sim.count(Some(Ec2Action::CreateNetworkInterface), None),
        1,
        "nothing created for the full card or the other zone"
    );
    eventually("zone mismatch reported", Duration::from_secs(120), || {
        w.cluster
            .nodeeni("zoned")
            .and_then(|n| n.status)
            .is_some_and(|s| {
                let (_, reason, message) = condition(&s, "Degraded");
                reason == "SubnetZoneMismatch"
                    && message.contains("is in us-east-1a, where this NodeENI has no subnet")
            })
    })
    .await;
    eventually("typo reported", Duration::from_secs(120), || {
        w.cluster
            .nodeeni("typo")
            .and_then(|n| n.status)
            .is_some_and(|s| condition(&s, "Degraded").1 == "SubnetNotFound")
    })
    .await;
    c.stop().await;
}

/// A role without `ec2:DescribeSubnets` is named as an IAM denial, not as EC2 being down.
#[tokio::test(start_paused = true)]
async fn an_iam_denial_is_reported_as_access_denied() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(1, LABEL);
    w.sim.deny(Ec2Action::DescribeSubnets, true);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    eventually("the denial reported", Duration::from_secs(120), || {
        w.cluster
            .nodeeni("multus")
            .and_then(|n| n.status)
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Degraded"))
    })
    .await;
    let status = w.cluster.nodeeni("multus").unwrap().status.unwrap();
    let (_, reason, message) = condition(&status, "Degraded");
    assert_eq!(reason, "EC2AccessDenied", "{message}");
    assert_eq!(
        w.sim.count(Some(Ec2Action::CreateNetworkInterface), None),
        0,
        "nothing created"
    );
    c.stop().await;
}
