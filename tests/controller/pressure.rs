//! Under pressure: refusals that will not go away (a full subnet), teardowns that queue
//! for minutes, listings that fail. The controller must stay quiet (few calls, few
//! Events) and correct.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::aws::{BucketSpec, Ec2Action, Subnet};
use aws_multi_eni_controller::k8s::{About, Cluster};
use tokio::time::Instant;

use super::harness::{World, ZONE, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];
const OTHER: &[(&str, &str)] = &[("ng", "other")];

/// Creates refused in `subnet` since `since` (simulated time since the simulator began).
fn creates_in(w: &World, subnet: &Subnet, since: Duration) -> usize {
    w.sim
        .calls()
        .iter()
        .filter(|c| {
            c.action == Ec2Action::CreateNetworkInterface
                && c.at >= since
                && c.target.ends_with(&subnet.id)
        })
        .count()
}

/// Event objects of `reason`, by what each is about (an ENI or a slot).
fn per_subject(w: &World, reason: &str) -> BTreeMap<Option<About>, usize> {
    let mut out = BTreeMap::new();
    for (_, n) in w.cluster.events() {
        if n.reason == reason {
            *out.entry(n.about).or_default() += 1;
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn slots_blocked_on_a_full_subnet_cost_few_calls_and_delay_no_one() {
    let mut w = World::new(SimConfig::default(), 1);
    // 11 addresses: 11 of the 40 slots get one, the other 29 are refused for good.
    let full = w.sim.add_subnet(ZONE, "10.9.0.0/28", Some("full"));
    w.add_nodes(40, LABEL);
    for i in 0..20 {
        w.add_node(&format!("other-{i:02}"), "m5.xlarge", OTHER);
    }
    let mut blocked = w.spec(1);
    blocked.subnet_ids = vec![full.id.clone()];
    w.apply("full", blocked);
    let started = w.sim.started_at();
    let c = w.start(settings()).await;
    eventually("every free address taken", Duration::from_secs(120), || {
        w.owned().len() == 11
    })
    .await;
    tokio::time::sleep(Duration::from_secs(600)).await;
    // Ten minutes in, another NodeENI rolls out on a roomy subnet.
    let mut roomy = w.spec(1);
    roomy.node_selector = [("ng".to_string(), "other".to_string())].into();
    w.apply("roomy", roomy);
    let rollout = Instant::now();
    w.until_ready("roomy", 20).await;
    let took = rollout.elapsed();
    tokio::time::sleep(Duration::from_secs(3600) - started.elapsed()).await;
    let refused = creates_in(&w, &full, Duration::from_secs(60));
    let warnings = per_subject(&w, "ENICreateFailed");
    c.stop().await;
    assert!(
        refused <= 15,
        "{refused} creates in the full subnet after the first minute of an hour"
    );
    // 20 creates, attaches and modifies fit in the buckets' bursts: a few seconds.
    assert!(
        took <= Duration::from_secs(15),
        "the other NodeENI's rollout took {took:?}"
    );
    let most = warnings.values().max().copied().unwrap_or(0);
    assert!(
        warnings.len() <= 29 && most <= 1,
        "ENICreateFailed per node: {warnings:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_long_teardown_records_one_deletion_event_per_eni() {
    let mut config = SimConfig::default();
    config
        .buckets
        .set(Ec2Action::DetachNetworkInterface, BucketSpec::new(1, 1.0));
    let mut w = World::new(config, 1);
    w.add_nodes(120, LABEL);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 120).await;
    let enis: Vec<String> = w.owned().into_iter().map(|e| e.id).collect();
    for i in 0..120 {
        w.cluster
            .label_node(&format!("node-{i:04}"), "ng", Some("other"));
    }
    eventually("every ENI gone", Duration::from_secs(1800), || {
        w.owned().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let deleted = per_subject(&w, "ENIDeleted");
    c.stop().await;
    let repeated: Vec<_> = deleted.iter().filter(|(_, n)| **n != 1).collect();
    assert_eq!(deleted.len(), enis.len(), "one ENIDeleted per ENI");
    assert!(
        repeated.is_empty(),
        "{} ENIs with more than one ENIDeleted, e.g. {:?}",
        repeated.len(),
        repeated.first()
    );
}

#[tokio::test(start_paused = true)]
async fn a_teardown_queued_for_long_survives_one_failed_call() {
    let mut config = SimConfig::default();
    config
        .buckets
        .set(Ec2Action::DetachNetworkInterface, BucketSpec::new(1, 1.0));
    let mut w = World::new(config, 1);
    w.add_nodes(800, LABEL);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 800).await;
    for i in 0..800 {
        w.cluster
            .label_node(&format!("node-{i:04}"), "ng", Some("other"));
    }
    // Eleven minutes into the teardown, the pool's queue still holds hundreds of ENIs
    // asked for at its start; a few reads fail once each.
    tokio::time::sleep(Duration::from_secs(660)).await;
    assert!(w.owned().len() > 50, "the teardown is still under way");
    for nth in 1..=5 {
        w.sim
            .script_fault(aws_multi_eni_controller::aws::sim::ScriptedFault {
                nth_mutating: nth * 3,
                action: Some(Ec2Action::DescribeNetworkInterfaces),
                fault: aws_multi_eni_controller::aws::sim::Fault::Transient,
            });
    }
    eventually("every ENI gone", Duration::from_secs(1800), || {
        w.owned().is_empty()
    })
    .await;
    let failed = per_subject(&w, "ENIDeletionFailed");
    c.stop().await;
    assert!(
        failed.is_empty(),
        "{} ENIs gave up at once: {failed:?}",
        failed.len()
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_first_listing_is_retried_soon_and_never_reported_ready() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(3, LABEL);
    w.sim
        .script_fault(aws_multi_eni_controller::aws::sim::ScriptedFault {
            nth_mutating: 1,
            action: Some(Ec2Action::DescribeNetworkInterfaces),
            fault: aws_multi_eni_controller::aws::sim::Fault::Transient,
        });
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    let mut early = Vec::new();
    let took = eventually("3 ready", Duration::from_secs(600), || {
        let status = w.cluster.nodeeni("multus").and_then(|n| n.status);
        if let Some(s) = &status {
            let ready = s
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if ready && s.ready_count != 3 {
                early.push((s.desired_count, s.ready_count));
            }
        }
        w.ready_count("multus") == Some((3, 3))
    })
    .await;
    c.stop().await;
    assert!(
        took <= Duration::from_secs(30) && early.is_empty(),
        "ready after {took:?}; Ready=True while (desired, ready) was {early:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_orphan_is_deleted_while_every_other_sweep_listing_fails() {
    let w = World::new(SimConfig::default(), 1);
    let subnet = w.subnets[0].id.clone();
    let tags = aws_multi_eni_controller::aws::ownership::SlotOwner {
        cluster: super::harness::identity(),
        nodeeni_name: "gone".into(),
        nodeeni_uid: "uid-of-a-deleted-nodeeni".into(),
        node_name: "node-x".into(),
        instance_id: "i-0123456789abcdef0".into(),
        subnet_id: subnet.clone(),
        slot: 0,
    }
    .tags(0, 1, "2026-01-01T00:00:00Z");
    w.cluster
        .record_owner("uid-of-a-deleted-nodeeni", "gone")
        .await
        .unwrap();
    let orphan = w.sim.seed_eni(&subnet, tags).unwrap();
    // Nothing else lists ENIs here: the sweeps' listings are the only reads, and every
    // second one fails.
    for nth in (2..=40).step_by(2) {
        w.sim
            .script_fault(aws_multi_eni_controller::aws::sim::ScriptedFault {
                nth_mutating: nth,
                action: Some(Ec2Action::DescribeNetworkInterfaces),
                fault: aws_multi_eni_controller::aws::sim::Fault::Transient,
            });
    }
    let c = w.start(settings()).await;
    eventually("the orphan deleted", Duration::from_secs(600), || {
        !w.sim.enis().iter().any(|e| e.id == orphan.id)
    })
    .await;
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_eninode_watch_that_never_lists_is_said_in_readiness_and_the_status() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(2, LABEL);
    w.apply("multus", w.spec(1));
    w.cluster.withhold_eninodes();
    let c = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    w.cluster.delete_nodeeni("multus");
    tokio::time::sleep(Duration::from_secs(300)).await;
    let ready = c.synced();
    let status = w.cluster.nodeeni("multus").and_then(|n| n.status);
    c.stop().await;
    assert!(!ready, "not ready while ENINodes were never listed");
    let said = status.is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.message.contains("ENINodes have not been listed"))
    });
    assert!(said, "the status says what the deletion waits for");
}

#[tokio::test(start_paused = true)]
async fn a_node_whose_eninode_is_always_refused_holds_up_no_other_node() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(3, LABEL);
    // The first node in name order: its ENINode writes come first in every round.
    w.cluster.refuse_eninode("node-0000", true);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 3).await;
    let listed = |node: &str| {
        w.cluster
            .eninode(node)
            .is_some_and(|v| v.entries.values().flatten().count() == 1)
    };
    eventually(
        "the other nodes' agents are told their ENIs",
        Duration::from_secs(120),
        || listed("node-0001") && listed("node-0002"),
    )
    .await;
    assert!(!listed("node-0000"), "the refused node has nothing written");
    c.stop().await;
}
