//! Crash safety: kill the whole actor tree right after the k-th mutating EC2 call of a
//! rollout, for every k, start a fresh tree on the same EC2 and cluster, and check that
//! every slot ends with exactly one ENI and nothing leaked.

use std::time::Duration;

use aws_multi_eni_controller::aws::sim::{FaultRates, SimConfig};

use super::harness::{World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];
const NODES: usize = 3;
const SUBNETS: usize = 2;
const SLOTS: usize = NODES * SUBNETS;

fn world(faults: f64, seed: u64) -> World {
    let mut w = World::new(
        SimConfig {
            faults: FaultRates::uniform(faults),
            seed,
            ..SimConfig::default()
        },
        SUBNETS,
    );
    w.add_nodes(NODES, LABEL);
    w.apply("multus", w.spec(SUBNETS));
    w
}

/// Converges and checks: one attached ENI per slot at the right index, nothing else.
async fn converged(w: &World, what: &str) {
    eventually(what, Duration::from_secs(3600), || {
        w.ready_count("multus") == Some((SLOTS as i32, SLOTS as i32)) && w.owned().len() == SLOTS
    })
    .await;
    let pairs = w.attached_pairs();
    assert_eq!(pairs.len(), SLOTS, "{what}: {pairs:?}");
    let mut slots: Vec<_> = pairs
        .iter()
        .map(|(i, s, _)| (i.clone(), s.clone()))
        .collect();
    slots.dedup();
    assert_eq!(
        slots.len(),
        SLOTS,
        "{what}: one ENI per slot, no duplicates: {pairs:?}"
    );
    assert!(
        pairs
            .iter()
            .all(|(_, s, d)| *d == if *s == w.subnets[0].id { 1 } else { 2 }),
        "{what}: {pairs:?}"
    );
}

/// The number of mutating calls a clean rollout makes.
async fn mutations_of_a_clean_rollout() -> u64 {
    let w = world(0.0, 1);
    let c = w.start(settings()).await;
    converged(&w, "clean rollout").await;
    c.stop().await;
    w.sim.applied_mutations()
}

async fn crash_after(k: u64, faults: f64) {
    let w = world(faults, k);
    w.sim.hang_after(Some(k));
    let first = w.start(settings()).await;
    let reached = tokio::time::timeout(Duration::from_secs(3600), w.sim.until_applied(k)).await;
    assert!(
        reached.is_ok(),
        "k={k}: the rollout never made {k} mutating calls"
    );
    first.kill().await;
    w.sim.hang_after(None);
    let second = w.start(settings()).await;
    converged(
        &w,
        &format!("after a crash at mutation {k} (faults {faults})"),
    )
    .await;
    second.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_any_mutating_call_neither_leaks_nor_duplicates() {
    let total = mutations_of_a_clean_rollout().await;
    assert!(
        total >= (3 * SLOTS) as u64,
        "create, attach and deleteOnTermination per slot: {total}"
    );
    for k in 1..=total {
        crash_after(k, 0.0).await;
    }
}

#[tokio::test(start_paused = true)]
async fn crashes_under_twenty_percent_faults() {
    for k in [1, 3, 5, 8, 11, 14, 17] {
        crash_after(k, 0.2).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_rollout_converges_under_twenty_percent_faults() {
    let w = world(0.2, 42);
    let c = w.start(settings()).await;
    converged(&w, "rollout with 20% faults").await;
    assert!(
        w.sim.count(None, Some("transient")) > 0,
        "faults were injected"
    );
    c.stop().await;
}

/// A shutdown (SIGTERM, or losing the lead) lets every step under way finish within the
/// grace period: no EC2 call is abandoned mid-way. A kill abandons them (what the grace
/// period is for).
#[tokio::test(start_paused = true)]
async fn a_shutdown_lets_the_steps_under_way_finish() {
    for graceful in [true, false] {
        let config = SimConfig {
            latency: aws_multi_eni_controller::aws::sim::LatencyModel::uniform(
                Duration::from_secs(2),
            ),
            ..SimConfig::default()
        };
        let mut w = World::new(config, 1);
        w.add_nodes(8, LABEL);
        w.apply("multus", w.spec(1));
        let c = w.start(settings()).await;
        use aws_multi_eni_controller::aws::Ec2Action;
        eventually("creates under way", Duration::from_secs(120), || {
            w.sim.in_flight(Ec2Action::CreateNetworkInterface) > 0
        })
        .await;
        if graceful {
            c.shutdown(Duration::from_secs(30)).await;
        } else {
            c.kill().await;
        }
        let abandoned = w.sim.abandoned();
        if graceful {
            assert_eq!(abandoned, 0, "EC2 calls abandoned by a shutdown");
        } else {
            assert!(abandoned > 0, "a kill abandons the calls under way");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_restarted_controller_knows_its_enis_again_without_a_call_or_an_event() {
    let w = world(0.0, 1);
    let c = w.start(settings()).await;
    converged(&w, "rollout").await;
    // Every Event the rollout records has been written.
    tokio::time::sleep(Duration::from_secs(60)).await;
    c.stop().await;
    let writes = w.cluster.writes();
    let calls = w.sim.calls().len();
    let c = w.start(settings()).await;
    tokio::time::sleep(Duration::from_secs(300)).await;
    let after = w.cluster.writes().since(&writes);
    assert_eq!(
        after.events, 0,
        "no Event repeated (each ENI was announced when it was attached): {after:?}"
    );
    assert_eq!(
        after.eninode, 0,
        "no node's ENINode withdrawn and written again: {after:?}"
    );
    assert_eq!(after.status, 0, "the status is as it was: {after:?}");
    let mutating: Vec<String> = w.sim.calls()[calls..]
        .iter()
        .filter(|call| call.action.is_mutating())
        .map(|call| format!("{} {}", call.action.as_str(), call.target))
        .collect();
    assert_eq!(
        mutating,
        Vec::<String>::new(),
        "nothing changed, nothing is sent"
    );
    converged(&w, "after the restart").await;
    c.stop().await;
}
