//! The crash matrix for teardown: after a rollout converged, kill the whole actor tree
//! right after the k-th mutating EC2 call of a label removal, a NodeENI deletion, a
//! node replacement or a spec change that moves ENIs, for every k, with and without
//! injected faults; start a fresh tree on the same EC2 and cluster, and check that it
//! ends with no duplicate, no leak, and every finalizer released.

use std::time::Duration;

use aws_multi_eni_controller::aws::sim::{FaultRates, SimConfig};

use super::harness::{World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];
const NODES: usize = 3;
const SUBNETS: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// node-0000 loses its label.
    Unlabel,
    /// The NodeENI is deleted.
    Delete,
    /// node-0000 is deleted and node-new (another instance) joins.
    Replace,
    /// deviceIndex 1 → 4: every ENI moves.
    Move,
}

async fn rolled_out(faults: f64, seed: u64) -> World {
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
    let c = w.start(settings()).await;
    eventually("rollout", Duration::from_secs(3600), || {
        w.ready_count("multus") == Some(((NODES * SUBNETS) as i32, (NODES * SUBNETS) as i32))
    })
    .await;
    c.stop().await;
    w
}

fn make(w: &mut World, change: Change) {
    match change {
        Change::Unlabel => w.cluster.label_node("node-0000", "ng", None),
        Change::Delete => w.cluster.delete_nodeeni("multus"),
        Change::Replace => {
            w.cluster.delete_node("node-0000");
            w.add_node("node-new", "m5.xlarge", LABEL);
        }
        Change::Move => {
            let mut spec = w.spec(SUBNETS);
            spec.device_index = 4;
            w.apply("multus", spec);
        }
    }
}

/// The (instance, subnet, device index) of every ENI the change must end with.
fn expected(w: &World, change: Change) -> Vec<(String, String, u32)> {
    let nodes: Vec<&str> = match change {
        Change::Unlabel => vec!["node-0001", "node-0002"],
        Change::Delete => vec![],
        Change::Replace => vec!["node-0001", "node-0002", "node-new"],
        Change::Move => vec!["node-0000", "node-0001", "node-0002"],
    };
    let base = if change == Change::Move { 4 } else { 1 };
    let mut out: Vec<_> = nodes
        .iter()
        .flat_map(|n| {
            w.subnets
                .iter()
                .take(SUBNETS)
                .enumerate()
                .map(|(i, s)| (w.instances[*n].clone(), s.id.clone(), base + i as u32))
        })
        .collect();
    out.sort();
    out
}

/// The state every change must end in, whatever crashed in between: exactly the
/// expected ENIs, attached where they belong, nothing else owned, and the status (or
/// the NodeENI's absence) saying so.
async fn settled(w: &World, change: Change, what: &str) {
    let want = expected(w, change);
    let n = want.len() as i32;
    let done = || {
        let status_ok = match change {
            Change::Delete => w.cluster.nodeeni("multus").is_none(),
            _ => w.ready_count("multus") == Some((n, n)),
        };
        status_ok && w.attached_pairs() == want && w.owned().len() == want.len()
    };
    let within = eventually(what, Duration::from_secs(3600), done).await;
    assert!(within < Duration::from_secs(3600), "{what}");
}

/// Mutating calls the change makes when nothing crashes.
async fn mutations_of(change: Change) -> u64 {
    let mut w = rolled_out(0.0, 1).await;
    let base = w.sim.applied_mutations();
    make(&mut w, change);
    let c = w.start(settings()).await;
    settled(&w, change, &format!("{change:?} without a crash")).await;
    c.stop().await;
    w.sim.applied_mutations() - base
}

async fn crash_during(change: Change, k: u64, faults: f64) {
    let mut w = rolled_out(faults, k).await;
    let base = w.sim.applied_mutations();
    w.sim.hang_after(Some(base + k));
    make(&mut w, change);
    let first = w.start(settings()).await;
    let reached =
        tokio::time::timeout(Duration::from_secs(3600), w.sim.until_applied(base + k)).await;
    assert!(reached.is_ok(), "{change:?}: never made {k} mutating calls");
    first.kill().await;
    w.sim.hang_after(None);
    let second = w.start(settings()).await;
    settled(
        &w,
        change,
        &format!("{change:?}, crash after mutation {k} (faults {faults})"),
    )
    .await;
    second.stop().await;
}

async fn matrix(change: Change) {
    let total = mutations_of(change).await;
    assert!(total >= 2, "{change:?} makes mutating calls: {total}");
    for k in 1..=total {
        crash_during(change, k, 0.0).await;
    }
    for k in [1, (total / 2).max(1), total] {
        crash_during(change, k, 0.2).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_during_a_label_removal_leaks_nothing() {
    matrix(Change::Unlabel).await;
}

#[tokio::test(start_paused = true)]
async fn a_crash_during_a_nodeeni_deletion_leaks_nothing_and_releases_the_finalizer() {
    matrix(Change::Delete).await;
}

#[tokio::test(start_paused = true)]
async fn a_crash_during_a_node_replacement_leaks_and_duplicates_nothing() {
    matrix(Change::Replace).await;
}

#[tokio::test(start_paused = true)]
async fn a_crash_while_enis_move_leaks_and_duplicates_nothing() {
    matrix(Change::Move).await;
}
