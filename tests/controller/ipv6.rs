//! IPv6 addresses and /80 prefixes: with the create on a dual-stack subnet, counts that
//! change, the ENINode's lists, and a subnet without an IPv6 block refused before any
//! call.

use std::time::Duration;

use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::aws::{Ec2Action, Eni};

use super::harness::{World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

/// `nodes` labelled nodes and a NodeENI asking `addresses` IPv6 addresses and `prefixes`
/// /80 prefixes, on a subnet with (`dual`) or without an IPv6 block.
fn world(nodes: usize, dual: bool, addresses: i32, prefixes: Option<i32>) -> World {
    let mut w = World::new(SimConfig::default(), 1);
    if dual {
        w.sim
            .add_ipv6_block(&w.subnets[0].id, "2600:1f18:aaaa:bb00::/64")
            .expect("the subnet");
    }
    w.add_nodes(nodes, LABEL);
    let mut spec = w.spec(1);
    spec.ipv6_address_count = Some(addresses);
    spec.ipv6_prefix_count = prefixes;
    w.apply("multus", spec);
    w
}

fn calls(w: &World, action: Ec2Action) -> u64 {
    w.sim.count(Some(action), None)
}

fn counts(w: &World) -> Vec<(usize, usize)> {
    w.owned()
        .iter()
        .map(|e: &Eni| (e.ipv6_addresses.len(), e.ipv6_prefixes.len()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn ipv6_comes_with_the_create_converges_and_reaches_the_eninode() {
    let w = world(2, true, 2, None);
    let controller = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    assert_eq!(counts(&w), [(2, 0), (2, 0)]);
    assert_eq!(
        calls(&w, Ec2Action::AssignIpv6Addresses),
        0,
        "with the create"
    );
    eventually("on the ENINode", Duration::from_secs(60), || {
        w.owned().iter().all(|e| {
            w.instances
                .iter()
                .filter(|(_, i)| {
                    Some(*i) == e.attachment.as_ref().and_then(|a| a.instance_id.as_ref())
                })
                .any(|(node, _)| {
                    w.cluster.eninode(node).is_some_and(|v| {
                        v.entries["multus"]
                            .iter()
                            .any(|i| i.eni_id == e.id && i.ipv6_addresses == e.ipv6_addresses)
                    })
                })
        })
    })
    .await;

    let mut spec = w.cluster.nodeeni("multus").unwrap().spec;
    spec.ipv6_address_count = Some(3);
    spec.ipv6_prefix_count = Some(1);
    w.apply("multus", spec.clone());
    eventually("three and a prefix", Duration::from_secs(120), || {
        counts(&w) == [(3, 1), (3, 1)]
    })
    .await;
    assert_eq!(
        calls(&w, Ec2Action::AssignIpv6Addresses),
        4,
        "one address assign and one prefix assign per ENI"
    );
    spec.ipv6_address_count = Some(1);
    w.apply("multus", spec);
    eventually("one", Duration::from_secs(120), || {
        counts(&w) == [(1, 1), (1, 1)]
    })
    .await;
    assert_eq!(calls(&w, Ec2Action::UnassignIpv6Addresses), 2);
    tokio::time::sleep(Duration::from_secs(1800)).await;
    assert_eq!(calls(&w, Ec2Action::AssignIpv6Addresses), 4, "nothing more");
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_subnet_without_an_ipv6_block_is_refused_before_any_call() {
    let w = world(1, false, 2, None);
    let controller = w.start(settings()).await;
    eventually("refused", Duration::from_secs(600), || {
        w.cluster
            .nodeeni("multus")
            .and_then(|n| n.status)
            .is_some_and(|s| {
                s.failed_count == 1
                    && s.conditions.iter().any(|c| {
                        c.type_ == "Degraded"
                            && c.reason == "SubnetHasNoIpv6"
                            && c.message.contains("no IPv6 CIDR block")
                    })
            })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(calls(&w, Ec2Action::CreateNetworkInterface), 0);
    let warnings = w
        .cluster
        .events()
        .into_iter()
        .filter(|(_, n)| n.reason == "SubnetHasNoIpv6" && n.warning)
        .count();
    assert_eq!(warnings, 1, "one Warning Event");
    controller.stop().await;
}
