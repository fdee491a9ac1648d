//! Switching over from the Go controller: its ENIs, where it put them, its finalizer and
//! status, taken over without moving a live interface; later moves only when the user
//! changes `deviceIndex`; the user's tags on what is created.

use std::time::Duration;

use aws_multi_eni_controller::aws::ownership::legacy::go_made;
use aws_multi_eni_controller::aws::ownership::{TAG_CLUSTER, TAG_NODEENI};
use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::aws::{AddressChange, Ec2, Ec2Action, Subnet};
use aws_multi_eni_controller::k8s::{
    ENIAttachment, FINALIZER, NodeENI, NodeENIStatus, cluster::LEGACY_FINALIZER,
};
use kube::ResourceExt;

use super::harness::{World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

/// Calls that create, attach, detach or delete (the ones that move an interface) or
/// change its addresses.
const MOVING_CALLS: [Ec2Action; 6] = [
    Ec2Action::CreateNetworkInterface,
    Ec2Action::AttachNetworkInterface,
    Ec2Action::DetachNetworkInterface,
    Ec2Action::DeleteNetworkInterface,
    Ec2Action::AssignPrivateIpAddresses,
    Ec2Action::UnassignPrivateIpAddresses,
];

fn counts(w: &World) -> Vec<(Ec2Action, u64)> {
    MOVING_CALLS
        .iter()
        .map(|a| (*a, w.sim.count(Some(*a), None)))
        .collect()
}

/// One Go-made ENI: node, instance, ENI, attachment, subnet, device index.
struct GoEni {
    node: String,
    instance: String,
    eni: String,
    attachment: String,
    subnet: Subnet,
    index: u32,
}

/// The world the Go controller leaves: three zones, a subnet named per zone, two nodes
/// per zone, each with the ENI the Go controller made at `deviceIndex` + the subnet's
/// position over all the NodeENI's subnets (it did not look at zones), attached with
/// deleteOnTermination as the spec asked; its users added two addresses to each and turned
/// the check off by hand.
async fn go_world(w: &mut World) -> Vec<GoEni> {
    let mut made = Vec::new();
    for (position, zone) in ["us-east-1a", "us-east-1b", "us-east-1c"]
        .iter()
        .enumerate()
    {
        let letter = &zone[zone.len() - 1..];
        let nodes = w
            .sim
            .add_subnet(zone, &format!("10.{}.0.0/16", 100 + position), None);
        let subnet = w.sim.add_subnet(
            zone,
            &format!("10.{}.0.0/16", 110 + position),
            Some(&format!("go-multus-{letter}")),
        );
        for n in 0..2 {
            let node = format!("node-{letter}-{n}");
            let instance = w.add_node_in(&node, &nodes, LABEL);
            let (tags, description) = go_made("multus", &node, &subnet.id);
            let index = 1 + u32::try_from(position).unwrap();
            let eni = w.seed_attached(&subnet.id, &description, tags, &instance, index);
            let attachment = w
                .sim
                .enis()
                .into_iter()
                .find(|e| e.id == eni.id)
                .and_then(|e| e.attachment)
                .unwrap()
                .attachment_id;
            w.sim
                .set_delete_on_termination(&eni.id, &attachment, true)
                .await
                .unwrap();
            w.sim
                .modify_security_groups(&eni.id, std::slice::from_ref(&w.group))
                .await
                .unwrap();
            // The users' own work on the Go ENIs: addresses for ipvlan pods, the check off.
            w.sim
                .change_addresses(&eni.id, &AddressChange::AssignIpv4 { count: 2 })
                .await
                .unwrap();
            w.sim.set_source_dest_check(&eni.id, false).await.unwrap();
            made.push(GoEni {
                node,
                instance,
                eni: eni.id,
                attachment,
                subnet: subnet.clone(),
                index,
            });
        }
    }
    made
}

/// The Go controller's NodeENI: subnets by name, its finalizer, its status.
fn go_nodeeni(w: &World, made: &[GoEni]) -> NodeENI {
    let mut spec = w.spec(1);
    spec.subnet_ids.clear();
    spec.subnet_names = ["a", "b", "c"]
        .iter()
        .map(|z| format!("go-multus-{z}"))
        .collect();
    let mut nodeeni = NodeENI::new("multus", spec);
    nodeeni.metadata.finalizers = Some(vec![LEGACY_FINALIZER.to_string()]);
    nodeeni.status = Some(NodeENIStatus {
        attachments: made
            .iter()
            .map(|g| ENIAttachment {
                node_id: g.node.clone(),
                instance_id: g.instance.clone(),
                eni_id: g.eni.clone(),
                attachment_id: g.attachment.clone(),
                subnet_id: g.subnet.id.clone(),
                subnet_cidr: g.subnet.cidr.clone(),
                mtu: 9001,
                device_index: i32::try_from(g.index).unwrap(),
                status: "attached".into(),
                ..ENIAttachment::default()
            })
            .collect(),
        ..NodeENIStatus::default()
    });
    nodeeni
}

#[tokio::test(start_paused = true)]
async fn a_go_made_three_zone_world_is_taken_over_without_moving_an_interface() {
    let mut w = World::new(SimConfig::default(), 1);
    let made = go_world(&mut w).await;
    w.cluster.apply_nodeeni(go_nodeeni(&w, &made));
    let before = counts(&w);
    let modifies = w
        .sim
        .count(Some(Ec2Action::ModifyNetworkInterfaceAttribute), None);
    let controller = w.start(settings()).await;
    w.until_ready("multus", 6).await;

    // Zero calls that create, attach, detach or delete; every ENI where it was.
    assert_eq!(counts(&w), before, "calls that move interfaces");
    let tags_calls = w.sim.count(Some(Ec2Action::CreateTags), None);
    assert_eq!(tags_calls, 6, "one adoption tag per ENI");
    assert_eq!(
        w.sim
            .count(Some(Ec2Action::ModifyNetworkInterfaceAttribute), None),
        modifies,
        "deleteOnTermination and groups already as the spec asks"
    );
    let mut where_now: Vec<(String, String, u32)> = w.attached_pairs();
    let mut where_before: Vec<(String, String, u32)> = made
        .iter()
        .map(|g| (g.instance.clone(), g.subnet.id.clone(), g.index))
        .collect();
    where_now.sort();
    where_before.sort();
    assert_eq!(where_now, where_before, "no interface moved");
    let owned: Vec<String> = w.owned().into_iter().map(|e| e.id).collect();
    assert!(made.iter().all(|g| owned.contains(&g.eni)), "all adopted");
    assert!(
        w.owned()
            .iter()
            .all(|e| e.secondary_ips.len() == 2 && !e.source_dest_check),
        "the users' addresses and check kept"
    );
    let adopted = w
        .cluster
        .events()
        .iter()
        .filter(|(_, n)| n.reason == "ENIAdopted")
        .count();
    assert_eq!(adopted, 6);

    // Every ENI in its node's ENINode, at the Go index; the status lists them all.
    eventually(
        "every ENINode lists its ENI",
        Duration::from_secs(60),
        || {
            made.iter().all(|g| {
                w.cluster.eninode(&g.node).is_some_and(|v| {
                    v.entries.get("multus").is_some_and(|e| {
                        e.iter().any(|i| {
                            i.eni_id == g.eni && i.device_index == i32::try_from(g.index).unwrap()
                        })
                    })
                })
            })
        },
    )
    .await;
    let nodeeni = w.cluster.nodeeni("multus").unwrap();
    let finalizers = nodeeni.finalizers().to_vec();
    assert!(
        finalizers.contains(&FINALIZER.to_string()),
        "{finalizers:?}"
    );
    let status = nodeeni.status.unwrap();
    assert_eq!(status.attachments.len(), 6);
    assert!(status.attachments.iter().all(|a| a.status == "attached"));

    // Deleting the NodeENI removes every ENI, then both finalizers.
    w.cluster.delete_nodeeni("multus");
    w.until_gone("multus").await;
    let left: Vec<String> = w.sim.enis().into_iter().map(|e| e.id).collect();
    assert!(
        made.iter().all(|g| !left.contains(&g.eni)),
        "every adopted ENI deleted"
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn only_a_changed_device_index_moves_a_live_interface() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(2, LABEL);
    // The first subnet is full (someone else's ENIs hold the 11 addresses of its /28):
    // its slots stay blocked, so nothing holds index 1 and the other subnet's ENIs sit
    // at 2.
    let full = w
        .sim
        .add_subnet(super::harness::ZONE, "10.50.0.0/28", Some("full"));
    for _ in 0..11 {
        w.sim.seed_eni(&full.id, Default::default()).unwrap();
    }
    let mut spec = w.spec(1);
    spec.subnet_ids.insert(0, full.id.clone());
    w.apply("multus", spec.clone());
    let controller = w.start(settings()).await;
    eventually("two ready, two blocked", Duration::from_secs(900), || {
        w.cluster
            .nodeeni("multus")
            .and_then(|n| n.status)
            .is_some_and(|s| s.ready_count == 2 && s.failed_count == 2)
    })
    .await;
    let second = w.subnets[0].id.clone();
    let on_second = |w: &World| -> Vec<u32> {
        w.attached_pairs()
            .into_iter()
            .filter(|(_, s, _)| *s == second)
            .map(|(_, _, d)| d)
            .collect()
    };
    assert_eq!(on_second(&w), [2, 2]);
    let detaches = || w.sim.count(Some(Ec2Action::DetachNetworkInterface), None);
    let before = detaches();

    // The full subnet leaves the spec: the other's slots now come first, index 1 is
    // free, and their interfaces stay at 2 all the same.
    spec.subnet_ids.remove(0);
    w.apply("multus", spec.clone());
    w.until_ready("multus", 2).await;
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(on_second(&w), [2, 2], "no live interface moved");
    assert_eq!(detaches(), before, "nothing detached");
    let moving = |w: &World| {
        w.cluster
            .events()
            .iter()
            .filter(|(_, n)| n.reason == "ENIMoving")
            .count()
    };
    assert_eq!(moving(&w), 0);

    // The user changes deviceIndex: they move, say so in an Event each, and the status
    // shows them moving on the way.
    spec.device_index = 5;
    w.apply("multus", spec);
    let mut saw_moving = false;
    eventually("moved to 5", Duration::from_secs(900), || {
        saw_moving |= w
            .cluster
            .nodeeni("multus")
            .and_then(|n| n.status)
            .is_some_and(|s| s.attachments.iter().any(|a| a.status == "moving"));
        on_second(&w) == [5, 5] && w.ready_count("multus") == Some((2, 2))
    })
    .await;
    assert_eq!(moving(&w), 2);
    assert!(saw_moving, "the status said moving");
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_users_tags_are_on_every_eni_created_and_a_reserved_one_is_reported() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(2, LABEL);
    let mut spec = w.spec(1);
    spec.tags = [
        ("team".to_string(), "telco".to_string()),
        ("App".to_string(), "upf".to_string()),
    ]
    .into();
    w.apply("multus", spec);
    // Written while an older CRD without the rules was installed.
    let mut bad = w.spec(1);
    bad.node_selector = [("ng".to_string(), "other".to_string())].into();
    bad.tags = [(TAG_NODEENI.to_string(), "forged".to_string())].into();
    w.apply("forged", bad);
    w.add_node("other-0", "m5.xlarge", &[("ng", "other")]);
    let mut s = settings();
    s.eni_tags = [
        ("CostCenter".to_string(), "1234".to_string()),
        ("team".to_string(), "net".to_string()),
    ]
    .into();
    let controller = w.start(s).await;
    w.until_ready("multus", 2).await;
    for e in w.owned() {
        let tag = |k: &str| e.tags.get(k).map(String::as_str);
        assert_eq!(
            (tag("CostCenter"), tag("team"), tag("App")),
            (Some("1234"), Some("telco"), Some("upf")),
            "{:?}",
            e.tags
        );
        assert_eq!(tag(TAG_NODEENI), Some("multus"));
        assert_eq!(tag(TAG_CLUSTER), Some(super::harness::CLUSTER));
    }
    eventually("the reserved key reported", Duration::from_secs(60), || {
        w.cluster
            .nodeeni("forged")
            .and_then(|n| n.status)
            .is_some_and(|s| {
                s.conditions.iter().any(|c| {
                    c.type_ == "Degraded"
                        && c.reason == "InvalidTags"
                        && c.message.contains(TAG_NODEENI)
                })
            })
    })
    .await;
    assert_eq!(w.owned().len(), 2, "nothing made for the forged NodeENI");
    controller.stop().await;
}
