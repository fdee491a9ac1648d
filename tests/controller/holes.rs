//! The lifecycle's known holes, each shown by a test: ENIs made while a slot is being
//! retired, a cleanup pool that restarts mid-deletion, a failed listing of the Go
//! controller's ENIs, ENIs changed out of band, and refusals that must reach the status.

use std::time::Duration;

use aws_multi_eni_controller::actors::cleanup::CleanupMsg;
use aws_multi_eni_controller::actors::{Controller, ControllerSettings};
use aws_multi_eni_controller::aws::sim::{Fault, ScriptedFault, SimConfig};
use aws_multi_eni_controller::aws::{AttachRequest, BucketSpec, Ec2, Ec2Action, Tags};
use aws_multi_eni_controller::k8s::NodeENIStatus;
use tokio::time::Instant;

use super::harness::{World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

/// One create every 10 s after a burst of one: creates queue in the limiter.
fn slow_creates() -> ControllerSettings {
    let mut s = settings();
    s.buckets
        .set(Ec2Action::CreateNetworkInterface, BucketSpec::new(1, 0.1));
    s.bucket_reserve = 0.0;
    s
}

fn creates(w: &World) -> u64 {
    w.sim
        .count(Some(Ec2Action::CreateNetworkInterface), Some("ok"))
}

fn condition(status: &NodeENIStatus, t: &str) -> (String, String, String) {
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .expect("condition");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

#[tokio::test(start_paused = true)]
async fn the_finalizer_waits_for_enis_created_by_slots_being_retired() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(4, LABEL);
    let nodeeni = w.apply("multus", w.spec(1));
    let c = w.start(slow_creates()).await;
    eventually("the first create", Duration::from_secs(60), || {
        creates(&w) == 1
    })
    .await;
    // Three creates wait in the limiter for a token when the NodeENI is deleted.
    w.cluster.delete_nodeeni("multus");
    w.until_gone("multus").await;
    let at_release = w.owned_by(&nodeeni);
    let creates_at_release = creates(&w);
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert_eq!(at_release, vec![], "no ENI left when the finalizer went");
    assert_eq!(
        creates(&w),
        creates_at_release,
        "no create completed after the finalizer went"
    );
    assert_eq!(w.owned_by(&nodeeni), vec![]);
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_eni_made_by_a_slot_being_retired_is_cleaned_at_once() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(3, LABEL);
    w.apply("multus", w.spec(1));
    let c = w.start(slow_creates()).await;
    eventually("the first create", Duration::from_secs(60), || {
        creates(&w) == 1
    })
    .await;
    for i in 0..3 {
        w.cluster
            .label_node(&format!("node-{i:04}"), "ng", Some("other"));
    }
    // The queued creates still happen; each ENI goes as soon as it exists, without
    // waiting for a re-listing or the orphan sweep.
    eventually("the queued creates", Duration::from_secs(120), || {
        creates(&w) == 3
    })
    .await;
    let last_create = Instant::now();
    eventually("every ENI gone", Duration::from_secs(120), || {
        w.owned().is_empty()
    })
    .await;
    assert!(
        last_create.elapsed() < Duration::from_secs(15),
        "the last ENI went {:?} after its create",
        last_create.elapsed()
    );
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_deletion_survives_a_restart_of_the_cleanup_pool() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(4, LABEL);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 4).await;
    w.cluster.delete_nodeeni("multus");
    eventually("detaches under way", Duration::from_secs(60), || {
        w.sim
            .count(Some(Ec2Action::DetachNetworkInterface), Some("ok"))
            >= 1
    })
    .await;
    kill_child::<CleanupMsg>(&c);
    w.until_gone("multus").await;
    assert!(w.owned().is_empty());
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn no_eni_is_created_beside_a_go_controller_eni_when_listing_those_fails() {
    let mut w = World::new(SimConfig::default(), 1);
    let inst = w.add_node("node-0000", "m5.xlarge", LABEL);
    let subnet = w.subnets[0].id.clone();
    w.seed_go_eni("node-0000", &inst, &subnet);
    // The first sweep lists this NodeENI's own ENIs, then the Go controller's: that
    // second listing fails once.
    w.sim.script_fault(ScriptedFault {
        nth_mutating: 2,
        action: Some(Ec2Action::DescribeNetworkInterfaces),
        fault: Fault::Transient,
    });
    w.apply_go("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    assert_eq!(
        w.sim.count(Some(Ec2Action::CreateNetworkInterface), None),
        0,
        "the Go controller's ENI was adopted, not duplicated"
    );
    assert_eq!(w.owned().len(), 1);
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_eni_deleted_or_detached_out_of_band_is_noticed_and_repaired() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(2, LABEL);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    let enis = w.owned();
    let (deleted, detached) = (&enis[0], &enis[1]);
    // Someone detaches one ENI and deletes the other by hand.
    for e in [deleted, detached] {
        let a = e.attachment.as_ref().unwrap();
        w.sim.detach_eni(&a.attachment_id, true).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    w.sim.delete_eni(&deleted.id).await.unwrap();
    eventually("both attached again", Duration::from_secs(300), || {
        w.attached_pairs().len() == 2
    })
    .await;
    w.until_ready("multus", 2).await;
    assert!(
        w.owned().iter().any(|e| e.id == detached.id),
        "the detached ENI was attached again, not replaced"
    );
    assert_eq!(w.owned().len(), 2);
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_create_shows_on_the_attachment_and_in_the_conditions() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(1, LABEL);
    w.sim.script_fault(ScriptedFault {
        nth_mutating: 1,
        action: Some(Ec2Action::CreateNetworkInterface),
        fault: Fault::Unauthorized,
    });
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    eventually("the refusal reported", Duration::from_secs(120), || {
        w.cluster
            .nodeeni("multus")
            .and_then(|n| n.status)
            .is_some_and(|s| condition(&s, "Degraded").0 == "True")
    })
    .await;
    let status = w.cluster.nodeeni("multus").unwrap().status.unwrap();
    let (_, reason, message) = condition(&status, "Degraded");
    assert!(
        reason.contains("ENICreateFailed") || message.contains("ENICreateFailed"),
        "{reason}: {message}"
    );
    assert!(message.contains("not authorized"), "{message}");
    assert!(
        w.cluster
            .events()
            .iter()
            .any(|(_, n)| n.reason == "ENICreateFailed")
    );
    // The next try succeeds (the refusal was scripted once): the slot recovers.
    w.until_ready("multus", 1).await;
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_finalizer_waits_for_an_eni_the_listing_does_not_show_yet() {
    // Detaches take 12 s and new ENIs stay out of listings for 5 s (EC2's list calls are
    // eventually consistent). A slot's create waits for a token while the NodeENI is
    // deleted, completes while the first ENI is still being torn down, and is not listed
    // by the sweep that follows.
    let config = SimConfig {
        detach_delay: Duration::from_secs(12),
        listing_lag: Duration::from_secs(5),
        ..SimConfig::default()
    };
    let mut w = World::new(config, 1);
    w.add_nodes(2, LABEL);
    let nodeeni = w.apply("multus", w.spec(1));
    let c = w.start(slow_creates()).await;
    eventually("the first create", Duration::from_secs(60), || {
        creates(&w) == 1
    })
    .await;
    w.cluster.delete_nodeeni("multus");
    w.until_gone("multus").await;
    let at_release = w.owned_by(&nodeeni);
    assert_eq!(creates(&w), 2, "the queued create happened");
    assert_eq!(at_release, vec![], "no ENI left when the finalizer went");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn filtered_reads_follow_every_page() {
    // EC2 pages through the account's interfaces and filters each page, so the ENI a
    // filtered read looks for may sit behind empty pages.
    let config = SimConfig {
        page_size: 2,
        ..SimConfig::default()
    };
    let mut w = World::new(config, 1);
    w.add_nodes(4, LABEL);
    let nodeeni = w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 4).await;
    // Several re-listings and reads by ID later, still one ENI per slot.
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(w.owned_by(&nodeeni).len(), 4, "no ENI re-created");
    w.cluster.delete_nodeeni("multus");
    w.until_gone("multus").await;
    assert_eq!(w.owned(), vec![], "every ENI deleted, none taken for gone");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_instance_ec2_does_not_know_yet_gets_its_enis_once_it_shows() {
    let mut w = World::new(SimConfig::default(), 1);
    let inst = w.add_node("node-0000", "m5.xlarge", LABEL);
    // Just launched: DescribeInstances does not know it for 20 s.
    w.sim.hide_instance(&inst, Duration::from_secs(20));
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    assert_eq!(w.owned().len(), 1);
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_tree_whose_root_died_says_so() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(1, LABEL);
    w.apply("multus", w.spec(1));
    let mut c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    c.root().kill();
    tokio::time::timeout(Duration::from_secs(5), c.ended())
        .await
        .expect("the caller learns that the tree ended");
    assert!(!c.synced(), "no longer reported ready");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_delete_ec2_keeps_refusing_is_retried_with_backoff_and_shown() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(1, LABEL);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    w.sim.deny(Ec2Action::DeleteNetworkInterface, true);
    w.cluster.delete_nodeeni("multus");
    tokio::time::sleep(Duration::from_secs(600)).await;
    let deletes = w.sim.count(Some(Ec2Action::DeleteNetworkInterface), None);
    let listings = w
        .sim
        .count(Some(Ec2Action::DescribeNetworkInterfaces), None);
    // Retrying every 5 s would make 120 deletes in these 10 minutes.
    assert!(
        (2..=15).contains(&deletes),
        "{deletes} delete calls in 10 min"
    );
    assert!(listings < 150, "{listings} listings in 10 min");
    let status = w.cluster.nodeeni("multus").unwrap().status.unwrap();
    let (degraded, _, message) = condition(&status, "Degraded");
    assert_eq!(degraded, "True");
    assert!(message.contains("not authorized"), "{message}");
    w.sim.deny(Ec2Action::DeleteNetworkInterface, false);
    w.until_gone("multus").await;
    assert!(w.owned().is_empty());
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_status_the_api_server_refuses_is_retried_with_backoff() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(2, LABEL);
    w.cluster.refuse_status(true);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    eventually("ENIs attached", Duration::from_secs(300), || {
        w.attached_pairs().len() == 2
    })
    .await;
    let before = w.cluster.status_writes();
    tokio::time::sleep(Duration::from_secs(300)).await;
    let tries = w.cluster.status_writes() - before;
    // Every 500 ms would be 600 tries in these 5 minutes.
    assert!((1..=30).contains(&tries), "{tries} status writes in 5 min");
    w.cluster.refuse_status(false);
    w.until_ready("multus", 2).await;
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn no_more_enis_are_created_than_the_instance_can_take() {
    // An m5.large takes 3 interfaces: the primary and two more. Three subnets from one
    // NodeENI and two from another want five.
    let mut w = World::new(SimConfig::default(), 5);
    w.add_node("small", "m5.large", LABEL);
    let mut first = w.spec(3);
    first.subnet_ids.truncate(3);
    let mut second = w.spec(5);
    second.subnet_ids = second.subnet_ids[3..].to_vec();
    second.device_index = 4;
    w.apply("three", first);
    w.apply("two", second);
    let c = w.start(settings()).await;
    eventually("two attached", Duration::from_secs(600), || {
        w.attached_pairs().len() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(
        w.sim
            .count(Some(Ec2Action::CreateNetworkInterface), Some("ok")),
        2,
        "nothing is created that cannot be attached"
    );
    assert_eq!(w.owned().len(), 2, "no ENI left available");
    let blocked: usize = ["three", "two"]
        .iter()
        .map(|n| {
            w.cluster
                .nodeeni(n)
                .and_then(|o| o.status)
                .map_or(0, |s| (s.desired_count - s.ready_count) as usize)
        })
        .sum();
    assert_eq!(blocked, 3, "three slots wait for room, and say so");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_node_without_a_zone_label_gets_enis_only_in_its_instances_zone() {
    let mut w = World::new(SimConfig::default(), 1);
    let other_zone = w
        .sim
        .add_subnet("us-east-1b", "10.9.0.0/16", Some("multus-b"));
    let inst = w.add_node("node-0000", "m5.xlarge", LABEL);
    let mut view = w.cluster.node_views().pop().unwrap();
    view.zone = None;
    w.cluster.upsert_node(view);
    let mut spec = w.spec(1);
    spec.subnet_ids.push(other_zone.id.clone());
    w.apply("multus", spec);
    let c = w.start(settings()).await;
    eventually("one attached", Duration::from_secs(600), || {
        w.attached_pairs().len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(
        w.attached_pairs(),
        vec![(inst, w.subnets[0].id.clone(), 1)],
        "only the subnet in the instance's zone"
    );
    assert_eq!(
        w.sim
            .count(Some(Ec2Action::CreateNetworkInterface), Some("ok")),
        1,
        "nothing created in another zone"
    );
    let status = w.cluster.nodeeni("multus").unwrap().status.unwrap();
    let (degraded, _, message) = condition(&status, "Degraded");
    assert_eq!(
        degraded, "False",
        "the other zone's subnet serves that zone's nodes: {message}"
    );
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn names_are_resolved_again_after_their_ttl() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(1, LABEL);
    let mut spec = w.spec(1);
    spec.security_group_ids = vec![];
    spec.security_group_names = vec!["multus".into()];
    w.apply("multus", spec);
    let c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    // The group is deleted and made again under its name: a new ID.
    w.sim.remove_security_group(&w.group);
    let again = w.sim.add_security_group("multus");
    eventually(
        "the ENI in the new group",
        Duration::from_secs(1200),
        || {
            w.owned()
                .first()
                .is_some_and(|e| e.security_group_ids == vec![again.id.clone()])
        },
    )
    .await;
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn enis_go_on_the_network_card_the_nodeeni_names() {
    let mut w = World::new(SimConfig::default(), 2);
    let inst = w.add_node("big", "c6in.32xlarge", LABEL);
    let mut spec = w.spec(2);
    spec.network_card_index = 1;
    spec.device_index = 0;
    w.apply("multus", spec);
    let c = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    let cards: Vec<(u32, u32)> = w
        .owned()
        .iter()
        .filter_map(|e| e.attachment.as_ref())
        .map(|a| (a.network_card_index, a.device_index))
        .collect();
    let mut cards = cards;
    cards.sort();
    // Card 1 has no primary interface: its first index is free.
    assert_eq!(cards, vec![(1, 1), (1, 2)], "on card 1 of {inst}");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_eni_that_cannot_be_attached_is_deleted_after_a_grace_period() {
    use aws_multi_eni_controller::aws::SlotOwner;
    let mut w = World::new(SimConfig::default(), 1);
    let inst = w.add_node("small", "m5.large", LABEL);
    let subnet = w.subnets[0].id.clone();
    // The card is full of other ENIs, and the slot's own ENI (made before, by an older
    // controller) waits available.
    for index in [1, 2] {
        let other = w.sim.seed_eni(&subnet, Tags::new()).unwrap();
        w.sim
            .seed_attach(&AttachRequest {
                eni_id: other.id,
                instance_id: inst.clone(),
                device_index: index,
                network_card_index: 0,
                ena: Default::default(),
            })
            .unwrap();
    }
    let nodeeni = w.apply("multus", w.spec(1));
    let owner = SlotOwner {
        cluster: super::harness::identity(),
        nodeeni_name: "multus".into(),
        nodeeni_uid: nodeeni.metadata.uid.clone().unwrap(),
        node_name: "small".into(),
        instance_id: inst.clone(),
        subnet_id: subnet.clone(),
        slot: 0,
    };
    let stuck = w
        .sim
        .seed_eni(&subnet, owner.tags(0, 1, "2026-01-01T00:00:00Z"))
        .unwrap();
    let c = w.start(settings()).await;
    eventually(
        "the unattachable ENI deleted",
        Duration::from_secs(1800),
        || w.owned().is_empty(),
    )
    .await;
    assert!(
        w.cluster
            .events()
            .iter()
            .any(|(_, n)| n.reason == "ENIUnattachable" && n.note.contains(&stuck.id)),
        "reported"
    );
    assert_eq!(
        w.sim.count(Some(Ec2Action::CreateNetworkInterface), None),
        0,
        "no new one while there is no room"
    );
    c.stop().await;
}

fn kill_child<M: ractor::Message>(c: &Controller) {
    let child = c
        .root()
        .get_children()
        .into_iter()
        .find(|cell| cell.is_message_type_of::<M>() == Some(true))
        .expect("the actor runs under the root");
    child.kill();
}

#[tokio::test(start_paused = true)]
async fn a_rollout_survives_restarts_of_the_limiter_and_of_the_nodeeni_actor() {
    use aws_multi_eni_controller::actors::limiter::LimiterMsg;
    use aws_multi_eni_controller::actors::nodeeni::NodeEniMsg;
    let mut w = World::new(SimConfig::default(), 2);
    w.add_nodes(6, LABEL);
    w.apply("multus", w.spec(2));
    let c = w.start(slow_creates()).await;
    eventually("the first creates", Duration::from_secs(60), || {
        creates(&w) >= 1
    })
    .await;
    kill_child::<LimiterMsg>(&c);
    eventually(
        "more creates after the limiter restarted",
        Duration::from_secs(120),
        || creates(&w) >= 3,
    )
    .await;
    kill_child::<NodeEniMsg>(&c);
    w.until_ready("multus", 12).await;
    assert_eq!(w.owned().len(), 12, "no duplicate after the restarts");
    assert_eq!(w.attached_pairs().len(), 12);
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_concurrency_settings_bound_calls_in_flight_and_cleanup_workers() {
    use aws_multi_eni_controller::aws::sim::LatencyModel;
    let run = |in_flight: usize, workers: usize| async move {
        let config = SimConfig {
            latency: LatencyModel::uniform(Duration::from_millis(500)),
            ..SimConfig::default()
        };
        let mut w = World::new(config, 1);
        w.add_nodes(8, LABEL);
        w.apply("multus", w.spec(1));
        let mut s = settings();
        s.max_in_flight = in_flight;
        s.max_concurrent_cleanup = workers;
        let c = w.start(s).await;
        w.until_ready("multus", 8).await;
        w.cluster.delete_nodeeni("multus");
        w.until_gone("multus").await;
        c.stop().await;
        (
            w.sim.most_in_flight(None),
            w.sim
                .most_in_flight(Some(Ec2Action::DeleteNetworkInterface)),
        )
    };
    let (bounded, one_worker) = run(2, 1).await;
    assert_eq!(
        bounded, 2,
        "MAX_CONCURRENT_RECONCILES=2: two calls at most, and two used"
    );
    assert_eq!(
        one_worker, 1,
        "MAX_CONCURRENT_ENI_CLEANUP=1: one delete at a time"
    );
    let (wide, three_workers) = run(32, 3).await;
    assert!(wide > 2, "{wide} calls at once by default");
    assert!(
        three_workers > 1,
        "{three_workers} deletes at once with three workers"
    );
}

#[tokio::test(start_paused = true)]
async fn subnet_names_resolve_in_the_vpc_of_the_clusters_instances() {
    let mut w = World::new(SimConfig::default(), 1);
    // Another cluster's VPC in the same account has a subnet of the same name.
    w.sim
        .add_subnet_in_another_vpc(super::harness::ZONE, "10.1.0.0/16", Some("multus-0"));
    w.add_nodes(1, LABEL);
    let mut spec = w.spec(1);
    spec.subnet_ids = vec![];
    spec.subnet_names = vec!["multus-0".into()];
    w.apply("multus", spec);
    let c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(
        w.ready_count("multus"),
        Some((1, 1)),
        "one slot: the subnet of the other VPC is not planned"
    );
    assert_eq!(w.attached_pairs()[0].1, w.subnets[0].id);
    c.stop().await;
}
