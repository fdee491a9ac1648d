//! DPDK ENIs leave only after their node's agent returned the device to its kernel
//! driver: a teardown first asks for the release (the ENINode entry says `release`), waits
//! for the agent's report, and detaches anyway after a bounded wait, saying so.

use std::time::Duration;

use aws_multi_eni_controller::actors::Controller;
use aws_multi_eni_controller::aws::Ec2Action;
use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::k8s::{DpdkReport, ENINodeStatus, InterfaceReport, NodeInterface};

use super::harness::{World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

fn dpdk_world(nodes: usize) -> World {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(nodes, LABEL);
    let mut spec = w.spec(1);
    spec.enable_dpdk = true;
    spec.dpdk_resource_name = Some("intel.com/sriov_dpdk".into());
    w.apply("dpdk", spec);
    w
}

/// One DPDK node, its ENI attached and its entry written.
async fn started() -> (World, Controller) {
    let w = dpdk_world(1);
    let controller = w.start(settings()).await;
    w.until_ready("dpdk", 1).await;
    eventually("the entry is written", Duration::from_secs(60), || {
        !entries(&w, "node-0000").is_empty()
    })
    .await;
    (w, controller)
}

/// Whether node-0000's entry asks its agent for the release.
fn release_asked(w: &World) -> bool {
    entries(w, "node-0000")
        .iter()
        .any(|e| e.dpdk.as_ref().is_some_and(|d| d.release))
}

/// This NodeENI's entries on `node`.
fn entries(w: &World, node: &str) -> Vec<NodeInterface> {
    w.cluster
        .eninode(node)
        .and_then(|v| v.entries.get("dpdk").cloned())
        .unwrap_or_default()
}

/// The node's agent reports its DPDK ENI's device bound, released, or neither (an agent
/// without DPDK: no device reported).
fn agent_says(w: &World, node: &str, bound: bool, released: bool) {
    let entry = entries(w, node).pop().expect("an entry");
    let configured = bound || released;
    w.cluster.report_interfaces(
        node,
        ENINodeStatus {
            interfaces: vec![InterfaceReport {
                eni_id: entry.eni_id.clone(),
                mac_address: entry.mac_address.clone(),
                node_eni: "dpdk".into(),
                interface: None,
                configured,
                mtu: None,
                mtu_clamped: false,
                message: None,
                dpdk: configured.then(|| DpdkReport {
                    pci_address: Some("0000:00:06.0".into()),
                    driver: Some(if released { "ena" } else { "vfio-pci" }.into()),
                    kernel_driver: Some("ena".into()),
                    resource_name: bound.then(|| "intel.com/sriov_dpdk".into()),
                    bound,
                    released,
                }),
            }],
            configured_count: i32::from(configured),
            eni_count: 1,
        },
    );
}

fn detaches(w: &World) -> u64 {
    w.sim.count(Some(Ec2Action::DetachNetworkInterface), None)
}

#[tokio::test(start_paused = true)]
async fn a_bound_device_is_released_before_its_eni_is_detached() {
    let w = dpdk_world(1);
    let controller = w.start(settings()).await;
    w.until_ready("dpdk", 1).await;
    eventually("the entry asks for DPDK", Duration::from_secs(60), || {
        entries(&w, "node-0000").iter().any(|e| {
            e.dpdk.as_ref().is_some_and(|d| {
                d.driver == "vfio-pci"
                    && d.resource_name.as_deref() == Some("intel.com/sriov_dpdk")
                    && !d.release
            })
        })
    })
    .await;
    agent_says(&w, "node-0000", true, false);

    // The node stops matching: the release is asked for, and nothing is detached.
    w.cluster.label_node("node-0000", "ng", None);
    eventually("the release asked for", Duration::from_secs(60), || {
        release_asked(&w)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        detaches(&w),
        0,
        "the device is still bound: nothing detached"
    );
    assert_eq!(w.owned().len(), 1);

    // The agent released it: the ENI goes, and so does the entry.
    agent_says(&w, "node-0000", false, true);
    eventually(
        "torn down after the release",
        Duration::from_secs(120),
        || w.owned().is_empty() && entries(&w, "node-0000").is_empty(),
    )
    .await;
    assert!(
        !w.cluster
            .events()
            .iter()
            .any(|(_, n)| n.reason == "DPDKReleaseTimeout"),
        "released in time: no warning"
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_agent_that_does_not_release_holds_the_teardown_a_minute_and_is_named() {
    let (w, controller) = started().await;
    agent_says(&w, "node-0000", true, false);
    w.cluster.delete_nodeeni("dpdk");
    let took = eventually("detached anyway", Duration::from_secs(300), || {
        detaches(&w) > 0
    })
    .await;
    assert!(
        took >= Duration::from_secs(59),
        "held for the release wait first: {took:?}"
    );
    let warned: Vec<_> = w
        .cluster
        .events()
        .into_iter()
        .filter(|(_, n)| n.reason == "DPDKReleaseTimeout")
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].1.warning);
    assert!(
        warned[0].1.note.contains("node-0000"),
        "{}",
        warned[0].1.note
    );
    w.until_gone("dpdk").await;
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_device_never_bound_is_not_waited_for() {
    let (w, controller) = started().await;
    // An agent without DPDK reports the ENI not configured.
    agent_says(&w, "node-0000", false, false);
    w.cluster.label_node("node-0000", "ng", None);
    let took = eventually("torn down", Duration::from_secs(300), || {
        w.owned().is_empty()
    })
    .await;
    assert!(took < Duration::from_secs(30), "no release wait: {took:?}");
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restarted_controller_waits_for_the_release_and_sees_one_made_while_it_was_down() {
    let (w, controller) = started().await;
    agent_says(&w, "node-0000", true, false);
    w.cluster.label_node("node-0000", "ng", None);
    eventually("the release asked for", Duration::from_secs(60), || {
        release_asked(&w)
    })
    .await;
    controller.stop().await;

    // Restarted while the device is still bound: it waits too.
    let controller = w.start(settings()).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        detaches(&w),
        0,
        "the restarted controller waits for the release"
    );
    controller.stop().await;

    // Released while no controller ran: the next one tears it down at once.
    agent_says(&w, "node-0000", false, true);
    let controller = w.start(settings()).await;
    let took = eventually("torn down", Duration::from_secs(180), || {
        w.owned().is_empty() && entries(&w, "node-0000").is_empty()
    })
    .await;
    assert!(
        took < Duration::from_secs(45),
        "the release seen, not waited out: {took:?}"
    );
    assert!(
        !w.cluster
            .events()
            .iter()
            .any(|(_, n)| n.reason == "DPDKReleaseTimeout")
    );
    controller.stop().await;
}
