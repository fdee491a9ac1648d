//! Secondary private IPv4 addresses and the source/destination check, from the create to
//! the ENINode: counts that change, instance types that take fewer, and crashes.

use std::time::Duration;

use aws_multi_eni_controller::aws::sim::{Fault, ScriptedFault, SimConfig};
use aws_multi_eni_controller::aws::{AddressChange, Ec2, Ec2Action};

use super::harness::{World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

fn world(nodes: usize, secondary: i32, check: bool) -> World {
    world_with(SimConfig::default(), nodes, secondary, check)
}

fn world_with(config: SimConfig, nodes: usize, secondary: i32, check: bool) -> World {
    let mut w = World::new(config, 1);
    w.add_nodes(nodes, LABEL);
    let mut spec = w.spec(1);
    spec.secondary_ipv4_count = Some(secondary);
    spec.source_dest_check = Some(check);
    w.apply("multus", spec);
    w
}

/// (secondary addresses, source/destination check) of every owned ENI.
fn addressing(w: &World) -> Vec<(usize, bool)> {
    w.owned()
        .iter()
        .map(|e| (e.secondary_ips.len(), e.source_dest_check))
        .collect()
}

fn events(w: &World, reason: &str) -> usize {
    w.cluster
        .events()
        .iter()
        .filter(|(_, n)| n.reason == reason)
        .count()
}

#[tokio::test(start_paused = true)]
async fn addresses_and_the_check_go_from_the_create_to_the_eninode() {
    let w = world(2, 3, false);
    let controller = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    eventually("addressed and unchecked", Duration::from_secs(120), || {
        addressing(&w) == [(3, false), (3, false)]
    })
    .await;
    // The addresses come with the create: no address call; the check is one modify each.
    assert_eq!(
        w.sim.count(Some(Ec2Action::AssignPrivateIpAddresses), None),
        0
    );
    assert_eq!(
        w.sim.count(Some(Ec2Action::CreateNetworkInterface), None),
        2
    );
    for eni in w.owned() {
        let node = eni.tags["networking.k8s.aws/node"].clone();
        let mut want = vec![eni.private_ip.clone().unwrap()];
        want.extend(eni.secondary_ips.clone());
        eventually("listed on the ENINode", Duration::from_secs(60), || {
            w.cluster.eninode(&node).is_some_and(|v| {
                v.entries["multus"].iter().any(|i| {
                    i.eni_id == eni.id
                        && i.private_ipv4_addresses == want
                        && i.source_dest_check == Some(false)
                })
            })
        })
        .await;
    }
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_changed_count_converges_up_and_down_and_keeps_the_wanted_addresses() {
    let w = world(1, 3, true);
    let controller = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    let first = w.owned()[0].secondary_ips.clone();
    assert_eq!(first.len(), 3);

    let mut spec = w.cluster.nodeeni("multus").unwrap().spec;
    spec.secondary_ipv4_count = Some(5);
    w.apply("multus", spec.clone());
    eventually("five", Duration::from_secs(300), || {
        addressing(&w) == [(5, true)]
    })
    .await;
    let five = w.owned()[0].secondary_ips.clone();
    assert_eq!(&five[..3], &first[..], "the three stay");
    assert_eq!(
        w.sim.count(Some(Ec2Action::AssignPrivateIpAddresses), None),
        1,
        "one call adds both"
    );

    spec.secondary_ipv4_count = Some(1);
    w.apply("multus", spec);
    eventually("one", Duration::from_secs(300), || {
        addressing(&w) == [(1, true)]
    })
    .await;
    assert_eq!(
        w.owned()[0].secondary_ips,
        [first[0].clone()],
        "the first stays"
    );
    assert_eq!(
        w.sim
            .count(Some(Ec2Action::UnassignPrivateIpAddresses), None),
        1
    );
    assert_eq!(events(&w, "ENIAddressesChanged"), 2);
    assert_eq!(
        w.sim
            .count(Some(Ec2Action::ModifyNetworkInterfaceAttribute), None),
        1,
        "the check stays on: no modify but deleteOnTermination's"
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn more_addresses_than_a_type_takes_are_refused_for_that_node_only() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_node("small", "m5.large", LABEL); // 10 addresses per interface
    w.add_node("large", "m5.24xlarge", LABEL); // 50
    let mut spec = w.spec(1);
    spec.secondary_ipv4_count = Some(20);
    w.apply("multus", spec);
    let controller = w.start(settings()).await;
    eventually(
        "large ready, small refused",
        Duration::from_secs(600),
        || {
            w.cluster
                .nodeeni("multus")
                .and_then(|n| n.status)
                .is_some_and(|s| {
                    s.ready_count == 1
                        && s.failed_count == 1
                        && s.conditions
                            .iter()
                            .any(|c| c.type_ == "Degraded" && c.reason == "AddressLimitExceeded")
                        && s.attachments
                            .iter()
                            .any(|a| a.node_id == "small" && a.status == "failed")
                })
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(
        w.sim.count(Some(Ec2Action::CreateNetworkInterface), None),
        1,
        "no EC2 call for the small node's slot, ever"
    );
    assert_eq!(events(&w, "AddressLimitExceeded"), 1, "one Warning Event");
    let degraded = w
        .cluster
        .nodeeni("multus")
        .and_then(|n| n.status)
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap();
    assert!(
        degraded.message.contains("secondaryIPv4Count")
            && degraded.message.contains("small")
            && degraded.message.contains("10"),
        "{}",
        degraded.message
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_any_mutating_call_converges_with_addresses_and_the_check() {
    let total = {
        let w = world(2, 2, false);
        let c = w.start(settings()).await;
        w.until_ready("multus", 2).await;
        c.stop().await;
        w.sim.applied_mutations()
    };
    assert!(
        total >= 8,
        "create, attach, deleteOnTermination, check: {total}"
    );
    for k in 1..=total {
        let w = world(2, 2, false);
        w.sim.hang_after(Some(k));
        let first = w.start(settings()).await;
        let reached = tokio::time::timeout(Duration::from_secs(3600), w.sim.until_applied(k)).await;
        assert!(reached.is_ok(), "k={k}");
        first.kill().await;
        w.sim.hang_after(None);
        let second = w.start(settings()).await;
        eventually(&format!("k={k}"), Duration::from_secs(3600), || {
            w.ready_count("multus") == Some((2, 2))
                && w.owned().len() == 2
                && addressing(&w) == [(2, false), (2, false)]
        })
        .await;
        second.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn an_assign_whose_answer_was_lost_is_not_made_twice() {
    // Describes show the addresses of before a call for 5 s, as EC2's may.
    let lagging = SimConfig {
        address_lag: Duration::from_secs(5),
        ..SimConfig::default()
    };
    for fault in [
        None,
        Some(Fault::TimeoutAfterApply),
        Some(Fault::ErrorAfterApply),
    ] {
        let w = world_with(lagging.clone(), 1, 1, true);
        let controller = w.start(settings()).await;
        w.until_ready("multus", 1).await;
        if let Some(fault) = fault {
            w.sim.script_fault(ScriptedFault {
                nth_mutating: 1,
                action: Some(Ec2Action::AssignPrivateIpAddresses),
                fault,
            });
        }
        let mut spec = w.cluster.nodeeni("multus").unwrap().spec;
        spec.secondary_ipv4_count = Some(4);
        w.apply("multus", spec);
        eventually("four", Duration::from_secs(600), || {
            addressing(&w) == [(4, true)]
        })
        .await;
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(addressing(&w), [(4, true)], "{fault:?}");
        assert_eq!(
            (
                w.sim.count(Some(Ec2Action::AssignPrivateIpAddresses), None),
                w.sim
                    .count(Some(Ec2Action::UnassignPrivateIpAddresses), None)
            ),
            (1, 0),
            "{fault:?}: the applied call is read back, not made again"
        );
        controller.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn unset_fields_leave_addresses_and_the_check_as_they_are() {
    // ENIs whose addresses and check were set by hand (or by the Go controller's users):
    // a NodeENI without the fields never touches them.
    let w = world(2, 2, false);
    let controller = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    eventually("addressed", Duration::from_secs(120), || {
        addressing(&w) == [(2, false), (2, false)]
    })
    .await;
    let one = w.owned()[0].id.clone();
    w.sim
        .change_addresses(&one, &AddressChange::AssignIpv4 { count: 3 })
        .await
        .unwrap();
    let calls = |w: &World| {
        [
            Ec2Action::AssignPrivateIpAddresses,
            Ec2Action::UnassignPrivateIpAddresses,
            Ec2Action::ModifyNetworkInterfaceAttribute,
        ]
        .map(|a| w.sim.count(Some(a), None))
    };
    let before = calls(&w);
    let mut spec = w.cluster.nodeeni("multus").unwrap().spec;
    spec.secondary_ipv4_count = None;
    spec.source_dest_check = None;
    w.apply("multus", spec);
    tokio::time::sleep(Duration::from_secs(900)).await;
    assert_eq!(calls(&w), before, "no address or attribute call");
    let mut now = addressing(&w);
    now.sort();
    assert_eq!(now, [(2, false), (5, false)]);
    controller.stop().await;
}
