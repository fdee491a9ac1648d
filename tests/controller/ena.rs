//! ENA Express and the ENA queue count: given with the attach (no extra call), and a
//! node whose instance type cannot take them refused before any call, for that node
//! only.

use std::time::Duration;

use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::aws::{Ec2Action, EnaAttach};
use aws_multi_eni_controller::k8s::EnaSrdSpec;
use aws_multi_eni_controller::plan::interface_limits::EnaSrd;

use super::harness::{World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

fn events(w: &World, reason: &str) -> Vec<String> {
    w.cluster
        .events()
        .into_iter()
        .filter(|(_, n)| n.reason == reason)
        .map(|(_, n)| n.note)
        .collect()
}

/// Waits until `ready` slots are attached and `failed` are refused with `reason`;
/// answers the Degraded condition's message.
async fn settled(w: &World, ready: i32, failed: i32, reason: &str) -> String {
    eventually("ready and refused", Duration::from_secs(600), || {
        w.cluster
            .nodeeni("multus")
            .and_then(|n| n.status)
            .is_some_and(|s| {
                s.ready_count == ready
                    && s.failed_count == failed
                    && s.conditions
                        .iter()
                        .any(|c| c.type_ == "Degraded" && c.reason == reason)
            })
    })
    .await;
    w.cluster
        .nodeeni("multus")
        .and_then(|n| n.status)
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap()
        .message
}

#[tokio::test(start_paused = true)]
async fn ena_express_and_queues_go_with_the_attach() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_node("big-0", "c6in.32xlarge", LABEL);
    w.add_node("big-1", "c6in.32xlarge", LABEL);
    let mut spec = w.spec(1);
    spec.ena_srd = Some(EnaSrdSpec {
        enabled: true,
        udp_enabled: true,
    });
    spec.ena_queue_count = Some(8);
    w.apply("multus", spec);
    let controller = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    let want = EnaAttach {
        srd: Some(EnaSrd {
            enabled: true,
            udp: true,
        }),
        queue_count: Some(8),
    };
    for eni in w.owned() {
        assert_eq!(eni.attachment.unwrap().ena, want, "{}", eni.id);
    }
    assert_eq!(
        w.sim.count(Some(Ec2Action::AttachNetworkInterface), None),
        2,
        "one attach each, nothing after"
    );
    assert_eq!(
        w.sim
            .count(Some(Ec2Action::ModifyNetworkInterfaceAttribute), None),
        2,
        "deleteOnTermination only (an attach leaves it off), as without ENA settings"
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_type_without_ena_express_is_refused_for_that_node_only() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_node("plain", "m5.xlarge", LABEL);
    w.add_node("big", "c6in.32xlarge", LABEL);
    let mut spec = w.spec(1);
    spec.ena_srd = Some(EnaSrdSpec {
        enabled: true,
        udp_enabled: false,
    });
    w.apply("multus", spec);
    let controller = w.start(settings()).await;
    let message = settled(&w, 1, 1, "EnaSrdUnsupported").await;
    assert!(
        message.contains("plain") && message.contains("ENA Express"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(
        w.sim.count(Some(Ec2Action::CreateNetworkInterface), None),
        1,
        "no EC2 call for the plain node's slot, ever"
    );
    assert_eq!(
        events(&w, "EnaSrdUnsupported").len(),
        1,
        "one Warning Event"
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn more_queues_than_a_type_takes_are_refused_with_its_limit() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_node("small", "m6i.large", LABEL); // flexible queues, 2 per interface
    w.add_node("fixed", "m5.xlarge", LABEL); // no flexible queues
    w.add_node("big", "c6in.32xlarge", LABEL); // 32
    let mut spec = w.spec(1);
    spec.ena_queue_count = Some(4);
    w.apply("multus", spec);
    let controller = w.start(settings()).await;
    settled(&w, 1, 2, "EnaQueueLimitExceeded").await;
    let notes = events(&w, "EnaQueueLimitExceeded");
    assert_eq!(notes.len(), 2, "one per refused node: {notes:?}");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("small") && n.contains("takes at most 2")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("fixed") && n.contains("no flexible ENA queues")),
        "{notes:?}"
    );
    assert_eq!(
        w.sim.count(Some(Ec2Action::CreateNetworkInterface), None),
        1
    );
    controller.stop().await;
}
