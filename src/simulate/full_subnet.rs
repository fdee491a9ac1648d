//! The `full-subnet` scenario: every node's NodeENI names a subnet with 11 free
//! addresses, so all but 11 of its slots are refused (`InsufficientFreeAddressesInSubnet`)
//! for the hour the scenario runs. A minute in, another NodeENI rolls out to 100 other
//! nodes on a roomy subnet. What it measures: how long that rollout takes against its
//! floor (the refused slots must not queue ahead of it or spend its buckets), and how
//! many creates the refused slots spend on the full subnet after the first minute.

use std::time::Duration;

use tokio::time::Instant;

use super::world::{ROOMY, SimWorld};
use crate::aws::Ec2Action;

/// The nodes of the other NodeENI.
pub const ROOMY_NODES: usize = 100;
/// How long the scenario runs.
pub const HOUR: Duration = Duration::from_secs(3600);
/// When the other NodeENI is applied (and from when creates on the full subnet count).
pub const FIRST_MINUTE: Duration = Duration::from_secs(60);

/// What the scenario measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    /// Whether the other NodeENI's rollout finished within the hour.
    pub converged: bool,
    /// Simulated seconds that rollout took.
    pub rollout_seconds: f64,
    /// When it started.
    pub started: Option<Instant>,
    /// Creates the refused slots spent on the full subnet after the first minute.
    pub creates_after_first_minute: u64,
}

/// Runs the scenario on `w` (its NodeENI already applied) for an hour.
pub async fn run(w: &mut SimWorld, mut progress: impl FnMut(u64)) -> Measured {
    let origin = w.sim.started_at();
    tokio::time::sleep_until(origin + FIRST_MINUTE).await;
    w.add_roomy(ROOMY_NODES);
    let started = Instant::now();
    let mut m = Measured {
        started: Some(started),
        ..Measured::default()
    };
    while started.elapsed() < HOUR {
        let ready = w
            .cluster
            .nodeeni(ROOMY)
            .and_then(|n| n.status)
            .map_or(0, |s| s.ready_count);
        progress(u64::try_from(ready).unwrap_or(0));
        if ready as usize == ROOMY_NODES {
            m.converged = true;
            m.rollout_seconds = started.elapsed().as_secs_f64();
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep_until(origin + HOUR).await;
    let full = w.first_subnet().map(|s| s.id.clone()).unwrap_or_default();
    m.creates_after_first_minute = w
        .sim
        .calls()
        .iter()
        .filter(|c| {
            c.action == Ec2Action::CreateNetworkInterface
                && c.at >= FIRST_MINUTE
                && c.target.ends_with(&full)
        })
        .count() as u64;
    m
}
