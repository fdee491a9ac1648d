//! /28 IPv4 prefixes: with the create when no secondary address is asked (EC2 takes one
//! count or the other), else with one assign after it; counts that change; the prefixes
//! on the ENINode; a type that takes fewer refused for that node only.

use std::time::Duration;

use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::aws::{Ec2Action, Eni};

use super::harness::{World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

fn world(nodes: usize, secondary: Option<i32>, prefixes: i32) -> World {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(nodes, LABEL);
    let mut spec = w.spec(1);
    spec.secondary_ipv4_count = secondary;
    spec.ipv4_prefix_count = Some(prefixes);
    w.apply("multus", spec);
    w
}

fn assigns(w: &World) -> u64 {
    w.sim.count(Some(Ec2Action::AssignPrivateIpAddresses), None)
}

fn counts(w: &World) -> Vec<(usize, usize)> {
    w.owned()
        .iter()
        .map(|e: &Eni| (e.secondary_ips.len(), e.ipv4_prefixes.len()))
        .collect()
}

/// Events of `reason`, repeats counted in their series included.
fn events(w: &World, reason: &str) -> u32 {
    w.cluster
        .event_series()
        .iter()
        .filter(|(_, n, _)| n.reason == reason)
        .map(|(_, _, count)| count)
        .sum()
}

#[tokio::test(start_paused = true)]
async fn prefixes_alone_come_with_the_create_and_reach_the_eninode() {
    let w = world(2, None, 2);
    let controller = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    assert_eq!(counts(&w), [(0, 2), (0, 2)]);
    assert_eq!(assigns(&w), 0, "no call beside the create");
    let eni = w.owned().remove(0);
    let node = eni
        .attachment
        .as_ref()
        .unwrap()
        .instance_id
        .clone()
        .unwrap();
    let node = w
        .instances
        .iter()
        .find(|(_, i)| **i == node)
        .map(|(n, _)| n.clone())
        .unwrap();
    eventually("prefixes on the ENINode", Duration::from_secs(60), || {
        w.cluster.eninode(&node).is_some_and(|v| {
            v.entries["multus"]
                .iter()
                .any(|i| i.eni_id == eni.id && i.ipv4_prefixes == eni.ipv4_prefixes)
        })
    })
    .await;
    assert!(
        eni.ipv4_prefixes.iter().all(|p| p.ends_with("/28")),
        "{:?}",
        eni.ipv4_prefixes
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn beside_addresses_prefixes_follow_the_create_and_converge() {
    let w = world(2, Some(2), 2);
    let controller = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    eventually("addresses and prefixes", Duration::from_secs(120), || {
        counts(&w) == [(2, 2), (2, 2)]
    })
    .await;
    assert_eq!(assigns(&w), 2, "one prefix assign per ENI after its create");

    let mut spec = w.cluster.nodeeni("multus").unwrap().spec;
    spec.ipv4_prefix_count = Some(4);
    w.apply("multus", spec.clone());
    eventually("four prefixes", Duration::from_secs(120), || {
        counts(&w) == [(2, 4), (2, 4)]
    })
    .await;
    assert_eq!(assigns(&w), 4);
    let before: Vec<Vec<String>> = w.owned().into_iter().map(|e| e.ipv4_prefixes).collect();

    spec.ipv4_prefix_count = Some(1);
    w.apply("multus", spec);
    eventually("one prefix", Duration::from_secs(120), || {
        counts(&w) == [(2, 1), (2, 1)]
    })
    .await;
    assert_eq!(
        w.sim
            .count(Some(Ec2Action::UnassignPrivateIpAddresses), None),
        2,
        "one unassign per ENI"
    );
    for (eni, had) in w.owned().iter().zip(&before) {
        let lowest = had
            .iter()
            .min_by_key(|p| {
                p.split('/')
                    .next()
                    .and_then(|ip| ip.parse::<std::net::Ipv4Addr>().ok())
            })
            .unwrap();
        assert_eq!(
            &eni.ipv4_prefixes,
            &vec![lowest.clone()],
            "the lowest stays"
        );
    }
    assert_eq!(
        events(&w, "ENIPrefixesChanged"),
        6,
        "each change said once per ENI"
    );
    tokio::time::sleep(Duration::from_secs(1800)).await;
    assert_eq!(assigns(&w), 4, "nothing more");
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn prefixes_count_against_the_types_address_limit() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_node("small", "m5.large", LABEL); // 10 addresses per interface
    w.add_node("large", "m5.24xlarge", LABEL); // 50
    let mut spec = w.spec(1);
    spec.secondary_ipv4_count = Some(4);
    spec.ipv4_prefix_count = Some(6);
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
                        && s.conditions.iter().any(|c| {
                            c.type_ == "Degraded"
                                && c.reason == "AddressLimitExceeded"
                                && c.message.contains("ipv4PrefixCount")
                                && c.message.contains("ask 11")
                        })
                })
        },
    )
    .await;
    assert_eq!(
        w.sim.count(Some(Ec2Action::CreateNetworkInterface), None),
        1,
        "no call for the small node's slot"
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_the_create_and_the_prefix_assign_converges_without_duplicates() {
    let total = {
        let w = world(1, Some(2), 2);
        let c = w.start(settings()).await;
        w.until_ready("multus", 1).await;
        eventually("converged", Duration::from_secs(120), || {
            counts(&w) == [(2, 2)]
        })
        .await;
        c.stop().await;
        w.sim.applied_mutations()
    };
    assert!(
        total >= 4,
        "create, attach, deleteOnTermination, prefixes: {total}"
    );
    for k in 1..=total {
        let w = world(1, Some(2), 2);
        w.sim.hang_after(Some(k));
        let first = w.start(settings()).await;
        let reached = tokio::time::timeout(Duration::from_secs(3600), w.sim.until_applied(k)).await;
        assert!(reached.is_ok(), "k={k}");
        first.kill().await;
        w.sim.hang_after(None);
        let second = w.start(settings()).await;
        eventually(&format!("k={k}"), Duration::from_secs(3600), || {
            w.ready_count("multus") == Some((1, 1)) && counts(&w) == [(2, 2)]
        })
        .await;
        assert_eq!(w.owned().len(), 1, "k={k}: one ENI");
        second.stop().await;
    }
}
