//! The `restart` scenario's measured phase: the controller stopped after a rollout and a
//! new one started over the same cluster and account, as after a crash, an upgrade or a
//! change of leader. It has to learn every slot again (from its listings of owned ENIs
//! and its instance reads) before it can change anything; the phase lasts until every
//! NodeENI's `aws_multi_eni_slots{state="ready"}`, set by the new controller alone (the
//! old one's are zeroed as at the end of a leader's term), counts every ENI again.

use std::time::Duration;

use indicatif::ProgressBar;
use metrics_util::debugging::{DebugValue, Snapshotter};
use tokio::time::Instant;

use crate::aws::Ec2Action;
use crate::telemetry::metric::SLOTS;

/// How long the restarted controller is watched after it knew every slot, for mutating
/// calls it should not make.
pub const WATCHED_AFTER: Duration = Duration::from_secs(300);

/// ENIs every NodeENI counts ready, by the gauges.
pub fn ready_slots(snapshots: &Snapshotter) -> u64 {
    snapshots
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, ..)| {
            k.key().name() == SLOTS
                && k.key()
                    .labels()
                    .any(|l| l.key() == "state" && l.value() == "ready")
        })
        .map(|(_, _, _, v)| match v {
            DebugValue::Gauge(g) => g.into_inner().max(0.0) as u64,
            _ => 0,
        })
        .sum()
}

/// Waits (simulated time) until the new controller counts `expected` ENIs ready, showing
/// progress; how long that took, or `None` at `limit`.
pub async fn known_again(
    bar: &ProgressBar,
    snapshots: &Snapshotter,
    expected: u64,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    loop {
        let ready = ready_slots(snapshots);
        bar.set_position(ready);
        if ready >= expected {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Mutating calls among per-action counts (indexed as [`Ec2Action::ALL`]) since `base`.
pub fn mutating_since(now: &[u64], base: &[u64]) -> u64 {
    Ec2Action::ALL
        .iter()
        .zip(now.iter().zip(base))
        .filter(|(a, _)| a.is_mutating())
        .map(|(_, (n, b))| n.saturating_sub(*b))
        .sum()
}
