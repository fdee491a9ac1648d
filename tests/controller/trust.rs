//! Least trust in a shared account: a namesake cluster's ENIs, forged ownership tags,
//! instances of another VPC or cluster, and ENIs that only look like the Go controller's.

use std::time::Duration;

use aws_multi_eni_controller::actors::ControllerSettings;
use aws_multi_eni_controller::aws::ownership::{
    ClusterIdentity, SlotOwner, TAG_CLUSTER_ID, legacy::go_made,
};
use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::aws::{Ec2Action, Eni};
use aws_multi_eni_controller::k8s::Cluster;

use super::harness::{CLUSTER, World, eventually, identity, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

/// The ENIs in the NodeENI's subnet.
fn in_subnet(w: &World) -> Vec<Eni> {
    let subnet = &w.subnets[0].id;
    w.sim
        .enis()
        .into_iter()
        .filter(|e| &e.subnet_id == subnet)
        .collect()
}

/// Two clusters named alike in one account, 5 nodes and a NodeENI `multus` each: after
/// many orphan sweeps, each still has its own 5 ENIs attached, and each NodeENI was told
/// about the other cluster's ENIs.
#[tokio::test(start_paused = true)]
async fn two_clusters_with_one_name_keep_each_others_enis() {
    let mut a = World::new(SimConfig::default(), 1);
    let mut b = a.sharing_account();
    a.add_nodes(5, LABEL);
    for i in 0..5 {
        b.add_node(&format!("b-node-{i}"), "m5.xlarge", LABEL);
    }
    a.apply("multus", a.spec(1));
    b.apply("multus", b.spec(1));
    let ca = a.start(settings()).await;
    let cb = b
        .start(ControllerSettings {
            cluster: ClusterIdentity::new(CLUSTER, "another-kube-system-uid"),
            ..settings()
        })
        .await;
    a.until_ready("multus", 5).await;
    b.until_ready("multus", 5).await;
    // Ten sweeps, each far past the orphan grace.
    tokio::time::sleep(settings().orphan_sweep_interval * 10).await;
    assert_eq!(a.ready_count("multus"), Some((5, 5)));
    assert_eq!(b.ready_count("multus"), Some((5, 5)));
    let attached = in_subnet(&a)
        .iter()
        .filter(|e| e.attachment.is_some())
        .count();
    assert_eq!(attached, 10, "every ENI of both clusters is still attached");
    assert_eq!(
        a.sim.count(Some(Ec2Action::DetachNetworkInterface), None)
            + a.sim.count(Some(Ec2Action::DeleteNetworkInterface), None),
        0,
        "neither cluster detached or deleted anything"
    );
    for (w, name) in [(&a, "a"), (&b, "b")] {
        assert!(
            w.cluster
                .events()
                .iter()
                .any(|(_, n)| n.reason == "NamesakeClusterENI" && n.warning),
            "cluster {name} was told about the namesake's ENIs"
        );
    }
    ca.stop().await;
    cb.stop().await;
}

/// ENIs carrying this cluster's name for a NodeENI it does not have: with another
/// identity, or none (forged, or made before identity tags), the sweep leaves them
/// alone; with this cluster's identity it deletes the orphan.
#[tokio::test(start_paused = true)]
async fn the_sweep_deletes_only_orphans_with_this_clusters_identity() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(1, LABEL);
    w.apply("multus", w.spec(1));
    let subnet = w.subnets[0].id.clone();
    // A NodeENI this controller made ENIs for, deleted since (its finalizer removed by
    // hand while one ENI was left).
    w.cluster
        .record_owner("uid-of-a-deleted-nodeeni", "gone")
        .await
        .unwrap();
    let tags = |cluster: ClusterIdentity| {
        SlotOwner {
            cluster,
            nodeeni_name: "gone".into(),
            nodeeni_uid: "uid-of-a-deleted-nodeeni".into(),
            node_name: "node-x".into(),
            instance_id: "i-0123456789abcdef0".into(),
            subnet_id: subnet.clone(),
            slot: 0,
        }
        .tags(0, 1, "2026-01-01T00:00:00Z")
    };
    let namesakes = w
        .sim
        .seed_eni(&subnet, tags(ClusterIdentity::new(CLUSTER, "other-uid")))
        .unwrap();
    let mut no_identity = tags(identity());
    no_identity.remove(TAG_CLUSTER_ID);
    let unverified = w.sim.seed_eni(&subnet, no_identity).unwrap();
    let orphan = w.sim.seed_eni(&subnet, tags(identity())).unwrap();
    let c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    eventually("the real orphan deleted", Duration::from_secs(900), || {
        !w.sim.enis().iter().any(|e| e.id == orphan.id)
    })
    .await;
    tokio::time::sleep(settings().orphan_grace * 4).await;
    let left: Vec<String> = w.sim.enis().into_iter().map(|e| e.id).collect();
    assert!(left.contains(&namesakes.id), "another identity: left alone");
    assert!(left.contains(&unverified.id), "no identity: left alone");
    assert!(
        !w.cluster.ledger().contains_key("uid-of-a-deleted-nodeeni"),
        "no ENI carries the deleted NodeENI's UID any more: the ledger forgot it"
    );
    c.stop().await;
}

/// Someone allowed to tag ENIs (a node role any host-network pod reaches) copies this
/// cluster's ownership tags, with a made-up NodeENI UID, onto an ENI of its own: another
/// node's secondary ENI, attached, and an available one. Tags are only a claim: the
/// controller never created an ENI for that UID (it is not on the ledger), so after many
/// sweeps both are still there, the attached one still attached; the NodeENI's own ENI
/// is untouched too.
#[tokio::test(start_paused = true)]
async fn tags_forged_onto_an_eni_it_did_not_create_never_make_it_delete_it() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(1, LABEL);
    let bystander = w.add_node("bystander", "m5.xlarge", &[("ng", "other")]);
    w.apply("multus", w.spec(1));
    let subnet = w.subnets[0].id.clone();
    let c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    let own = w.attached_pairs();
    let forged = |instance: &str| {
        SlotOwner {
            cluster: identity(),
            nodeeni_name: "multus".into(),
            nodeeni_uid: "a-made-up-uid".into(),
            node_name: "bystander".into(),
            instance_id: instance.into(),
            subnet_id: subnet.clone(),
            slot: 0,
        }
        .tags(0, 1, "2026-01-01T00:00:00Z")
    };
    let victim = w.seed_attached(
        &subnet,
        "vpc-cni secondary ENI",
        forged(&bystander),
        &bystander,
        1,
    );
    let available = w.sim.seed_eni(&subnet, forged(&bystander)).unwrap();
    tokio::time::sleep(settings().orphan_sweep_interval * 20 + settings().orphan_grace * 4).await;
    let enis = w.sim.enis();
    let find = |id: &str| enis.iter().find(|e| e.id == id).cloned();
    let victim_now = find(&victim.id).expect("the forged attached ENI still exists");
    assert_eq!(
        victim_now.attachment.and_then(|a| a.instance_id),
        Some(bystander.clone()),
        "and is still attached to its instance"
    );
    assert!(
        find(&available.id).is_some(),
        "the forged available ENI still exists"
    );
    let now = w.attached_pairs();
    assert!(
        own.len() == 1 && now.contains(&own[0]),
        "the NodeENI's own ENI is in place: {own:?} → {now:?}"
    );
    c.stop().await;
}

/// Nodes whose providerID names an instance of another VPC, or one without this
/// cluster's tag, get nothing; the NodeENI says why, and the trusted node gets its ENI.
#[tokio::test(start_paused = true)]
async fn a_node_on_a_foreign_instance_gets_nothing() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_node("trusted", "m5.xlarge", LABEL);
    let elsewhere = w
        .sim
        .add_subnet_in_another_vpc("us-east-1a", "172.16.0.0/16", None);
    let other_vpc = w
        .sim
        .launch_cluster_instance(CLUSTER, "m5.xlarge", &elsewhere.id)
        .unwrap();
    w.add_node_on("other-vpc", &other_vpc.id, LABEL);
    let untagged = w
        .sim
        .launch_instance("m5.xlarge", &w.node_subnet.id)
        .unwrap();
    w.add_node_on("untagged", &untagged.id, LABEL);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    eventually("one ready, two refused", Duration::from_secs(600), || {
        w.cluster
            .nodeeni("multus")
            .and_then(|n| n.status)
            .is_some_and(|s| {
                s.desired_count == 3
                    && s.ready_count == 1
                    && s.attachments
                        .iter()
                        .filter(|a| a.status == "failed")
                        .count()
                        == 2
            })
    })
    .await;
    let created = in_subnet(&w);
    assert_eq!(created.len(), 1, "only the trusted node got an ENI");
    assert_eq!(
        created[0]
            .attachment
            .as_ref()
            .and_then(|a| a.instance_id.clone()),
        w.instances.get("trusted").cloned()
    );
    let events = w.cluster.events();
    for (reason, node) in [
        ("InstanceNotInVPC", "other-vpc"),
        ("InstanceNotInCluster", "untagged"),
    ] {
        assert!(
            events
                .iter()
                .any(|(_, n)| n.reason == reason && n.warning && n.note.contains(node)),
            "{reason} reported for {node}: {events:?}"
        );
    }
    let status = w.cluster.nodeeni("multus").unwrap().status.unwrap();
    let degraded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap();
    assert_eq!(degraded.status, "True");
    assert!(
        degraded.message.contains("untagged"),
        "{}",
        degraded.message
    );
    c.stop().await;
}

/// The VPC CNI's ENI with the Go controller's tags forged on it is not adopted: its
/// security groups stay, deleting the NodeENI leaves it, and the node gets an ENI of its
/// own. (The other look-alikes are table-tested in `aws::ownership::legacy`.)
#[tokio::test(start_paused = true)]
async fn enis_that_only_look_like_the_go_controllers_are_left_alone() {
    let mut w = World::new(SimConfig::default(), 1);
    let inst = w.add_node("node-0000", "m5.xlarge", LABEL);
    let subnet = w.subnets[0].id.clone();
    let (mut forged, _) = go_made("multus", "node-0000", &subnet);
    forged.insert("node.k8s.amazonaws.com/instance_id".into(), inst.clone());
    let cni = w.seed_attached(&subnet, "aws-K8S-i-0", forged, &inst, 1);
    let c = w.start(settings()).await;
    w.apply_go("multus", w.spec(1));
    w.until_ready("multus", 1).await;
    let mine: Vec<Eni> = w.owned();
    assert_eq!(mine.len(), 1);
    assert_ne!(mine[0].id, cni.id, "the forged ENI was not adopted");
    let seen = w.sim.enis().into_iter().find(|e| e.id == cni.id).unwrap();
    assert!(
        seen.security_group_ids.is_empty(),
        "its security groups were not touched"
    );
    w.cluster.delete_nodeeni("multus");
    w.until_gone("multus").await;
    assert!(
        w.sim
            .enis()
            .iter()
            .any(|e| e.id == cni.id && e.attachment.is_some()),
        "deleting the NodeENI left it attached"
    );
    c.stop().await;
}

/// The ledger entry comes before any ENI: while the ledger cannot be written no ENI is
/// created (one made then could never be told from a forged one once its NodeENI is
/// gone); once it can, the NodeENI converges with its UID on the ledger.
#[tokio::test(start_paused = true)]
async fn no_eni_is_created_before_its_nodeeni_is_on_the_ledger() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(2, LABEL);
    let nodeeni = w.apply("multus", w.spec(1));
    w.cluster.refuse_ledger(true);
    let c = w.start(settings()).await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(
        w.sim.count(Some(Ec2Action::CreateNetworkInterface), None),
        0,
        "no create while the ledger refuses"
    );
    w.cluster.refuse_ledger(false);
    w.until_ready("multus", 2).await;
    let uid = nodeeni.metadata.uid.unwrap();
    assert_eq!(
        w.cluster.ledger().get(&uid).map(String::as_str),
        Some("multus")
    );
    c.stop().await;
}
