//! The simulation's result: one JSON object, or a report in words.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::aws::{BucketTable, Ec2Action};
use crate::config::{Account, Scenario, Strategy};
use crate::k8s::writes::WriteTally;

/// What a simulation measured.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)]
pub struct Report {
    pub scenario: Scenario,
    /// Pacing strategy.
    pub strategy: Strategy,
    /// The account EC2 stood for.
    pub account: Account,
    /// Whether the controller was told the account's buckets.
    pub told: bool,
    pub nodes: usize,
    pub nodeenis: usize,
    /// ENIs the measured phase creates, deletes or replaces.
    pub enis: usize,
    /// Whether the measured phase finished within the time limit.
    pub converged: bool,
    /// Simulated seconds the measured phase took.
    pub converge_seconds: f64,
    /// The least time EC2's buckets allow for the calls the phase needs.
    pub floor_seconds: f64,
    /// `converge_seconds / floor_seconds`.
    pub ratio_to_floor: f64,
    /// Each action's own share of the floor: the seconds its bucket needs for the phase's
    /// calls of it (the floor is the largest of a phase's; where the time went).
    pub floor_by_action: BTreeMap<String, f64>,
    /// EC2 calls during the phase, by action.
    pub ec2_calls: BTreeMap<String, u64>,
    /// Calls EC2 answered with a throttle.
    pub throttled_calls: u64,
    /// `throttled_calls` over every EC2 call of the phase.
    pub throttled_share: f64,
    /// Calls of the account's other client during the phase (`shared-account`).
    pub other_calls: u64,
    /// How many of those EC2 throttled.
    pub other_throttled: u64,
    /// Calls that failed during the phase, by `"Action/outcome"` (throttles included).
    pub ec2_failures: BTreeMap<String, u64>,
    /// Median time from a node matching to the controller requesting its ENI.
    pub label_to_create_p50_ms: f64,
    /// 99th percentile of the same.
    pub label_to_create_p99_ms: f64,
    /// 99th percentile of node matching → the create call reaching EC2 (includes the
    /// wait for rate-limit tokens, which EC2's buckets dictate).
    pub label_to_ec2_create_p99_ms: f64,
    /// Extra ENIs for slots that already had one.
    pub duplicates: usize,
    /// ENIs left that nobody wants.
    pub leaks: usize,
    /// Writes to the API server during the phase, and the largest write and NodeENI.
    pub api_writes: WriteTally,
    /// `api_writes.total() / enis`.
    pub api_writes_per_eni: f64,
    /// What the controller wrote on the Nodes (`--node-readiness`).
    pub node_readiness: Option<super::readiness::NodeReadiness>,
    /// `full-subnet`: creates the refused slots spent on the full subnet from the end of
    /// the first minute to the end of the hour.
    pub refused_creates_after_first_minute: Option<u64>,
    /// `restart`: creates, attaches, modifies, detaches, deletes and address calls the
    /// restarted controller made from its start to five minutes after it knew every slot.
    pub mutating_calls_after_restart: Option<u64>,
    /// Scenarios measured after a rollout: that rollout's own ratio to its floor.
    pub rollout_ratio_to_floor: Option<f64>,
    /// Wall-clock seconds from the start to the rollout's convergence (the world's
    /// building included).
    pub rollout_wall_seconds: Option<f64>,
    /// What the controller held at the end, apart from the simulated world (only when
    /// the caller could measure the heap: [`super::run_with_heap`]).
    pub controller_heap: Option<super::heap::ControllerHeap>,
    /// Wall-clock seconds the whole run took.
    pub wall_seconds: f64,
    /// Peak resident memory of the process.
    pub peak_rss_bytes: u64,
    pub seed: u64,
}

/// The least time EC2's buckets (`table`, full at the start) allow for `calls` when
/// `share_left` of each refill is left to the caller: actions proceed in parallel, each
/// limited by its own bucket.
pub fn floor_seconds(calls: &[(Ec2Action, u64)], table: &BucketTable, share_left: f64) -> f64 {
    calls
        .iter()
        .map(|(a, n)| table.get(*a).floor_seconds(*n) / share_left.clamp(0.01, 1.0))
        .fold(0.0, f64::max)
}

/// The seconds each action's bucket needs for its calls in `calls`, summed over an
/// action listed more than once.
pub fn floor_by_action(
    calls: &[(Ec2Action, u64)],
    table: &BucketTable,
    share_left: f64,
) -> BTreeMap<String, f64> {
    let mut by = BTreeMap::new();
    for (a, n) in calls.iter().filter(|(_, n)| *n > 0) {
        *by.entry(a.as_str().to_string()).or_insert(0.0) +=
            floor_seconds(&[(*a, *n)], table, share_left);
    }
    by
}

/// The `q`-quantile (0..=1) of `values`, in the values' unit; 0 when empty.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// Peak resident set size of this process (`VmHWM`), 0 where unavailable.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

impl Report {
    /// The report in words.
    pub fn words(&self) -> String {
        let mut s = String::new();
        let what = match self.scenario {
            Scenario::Rollout => format!("Rolled out {} ENIs to {} nodes", self.enis, self.nodes),
            Scenario::LabelFlip => format!(
                "Tore down and re-created {} ENIs as every node lost and regained its label",
                self.enis
            ),
            Scenario::NodeChurn => format!("Replaced the ENIs of {} churned nodes", self.enis),
            Scenario::DeleteAll => {
                format!("Deleted {} ENIs as every NodeENI was deleted", self.enis)
            }
            Scenario::FullSubnet => format!(
                "Rolled out {} ENIs beside {} slots refused for an hour on a full subnet",
                self.enis,
                self.nodes.saturating_sub(11)
            ),
            Scenario::Restart => format!(
                "Restarted over {} attached ENIs and knew every slot again",
                self.enis
            ),
        };
        let strategy = match self.strategy {
            Strategy::PerAction => "per-action buckets (this controller)",
            Strategy::GlobalBucket => "one global bucket (Cilium-style)",
            Strategy::NoLimiter => "no client-side limiter (Go-controller style)",
            Strategy::SdkAdaptive => "the AWS SDK's adaptive retry mode",
        };
        let account = match (self.account, self.told) {
            (Account::Default, _) => String::new(),
            (Account::SmallBuckets, told) => format!(
                " in an account whose buckets are a tenth of AWS's defaults ({})",
                if told { "told" } else { "not told" }
            ),
            (Account::SharedAccount, _) => " in an account another client spends from".to_string(),
            (Account::LargeBuckets, told) => format!(
                " in an account whose buckets are a hundred times AWS's defaults ({})",
                if told { "told" } else { "not told" }
            ),
        };
        if !self.converged {
            let _ = writeln!(
                s,
                "{what}: NOT finished after {:.0} s of simulated time.",
                self.converge_seconds
            );
        }
        let _ = writeln!(
            s,
            "{what}{account} in {:.1} s of simulated time with {strategy}; EC2's rate limits allow no less than {:.1} s ({:.2}x the floor).",
            self.converge_seconds, self.floor_seconds, self.ratio_to_floor
        );
        if let Some((action, secs)) = self
            .floor_by_action
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
        {
            let others: Vec<String> = self
                .floor_by_action
                .iter()
                .filter(|(a, _)| *a != action)
                .map(|(a, s)| format!("{a} {s:.1} s"))
                .collect();
            let _ = writeln!(
                s,
                "The floor is {action}'s bucket: {secs:.1} s for its calls (the other buckets: {}).",
                if others.is_empty() {
                    "none".to_string()
                } else {
                    others.join(", ")
                }
            );
        }
        let calls: Vec<String> = self
            .ec2_calls
            .iter()
            .map(|(a, n)| format!("{a} {n}"))
            .collect();
        let _ = writeln!(s, "EC2 calls: {}.", calls.join(", "));
        if !self.ec2_failures.is_empty() {
            let failed: Vec<String> = self
                .ec2_failures
                .iter()
                .map(|(a, n)| format!("{a} {n}"))
                .collect();
            let _ = writeln!(s, "Failed EC2 calls: {}.", failed.join(", "));
        }
        match self.throttled_calls {
            0 => s.push_str("EC2 throttled no call.\n"),
            n => {
                let _ = writeln!(
                    s,
                    "EC2 throttled {n} calls ({:.1}% of the calls).",
                    self.throttled_share * 100.0
                );
            }
        }
        if self.other_calls > 0 {
            let _ = writeln!(
                s,
                "The account's other client made {} calls; EC2 throttled {} of them ({:.1}%).",
                self.other_calls,
                self.other_throttled,
                self.other_throttled as f64 * 100.0 / self.other_calls as f64
            );
        }
        if self.label_to_create_p99_ms > 0.0 {
            let _ = writeln!(
                s,
                "From a node matching to its ENI being requested: {:.0} ms median, {:.0} ms p99 (reaching EC2 after rate-limit waits: {:.0} ms p99).",
                self.label_to_create_p50_ms,
                self.label_to_create_p99_ms,
                self.label_to_ec2_create_p99_ms
            );
        }
        if let Some(x) = self.rollout_ratio_to_floor {
            let _ = writeln!(s, "The rollout before this phase took {x:.2}x its floor.");
        }
        if let Some(n) = self.mutating_calls_after_restart {
            let _ = writeln!(
                s,
                "The restarted controller made {n} mutating EC2 calls up to five minutes after it knew every slot."
            );
        }
        if let Some(n) = self.refused_creates_after_first_minute {
            let _ = writeln!(
                s,
                "The refused slots made {n} creates on the full subnet after the first minute of the hour."
            );
        }
        let _ = writeln!(
            s,
            "Duplicate ENIs: {}. Leaked ENIs: {}.",
            self.duplicates, self.leaks
        );
        let w = &self.api_writes;
        let _ = writeln!(
            s,
            "API server writes: {} ({:.2} per ENI): {} status patches, {} ENINode applies, {} finalizer changes, {} Node writes, {} Events ({} new, {:.2} per ENI; the rest repeats counted in a series); the largest write {:.1} KiB, the largest NodeENI {:.1} KiB.",
            w.total(),
            self.api_writes_per_eni,
            w.status,
            w.eninode,
            w.finalizer,
            w.node,
            w.events,
            w.event_objects,
            w.event_objects as f64 / self.enis.max(1) as f64,
            w.largest_write_bytes as f64 / 1024.0,
            w.largest_nodeeni_bytes as f64 / 1024.0
        );
        if let Some(r) = &self.node_readiness {
            let _ = writeln!(
                s,
                "Node readiness: {} nodes untainted, {} with ENIsReady True, the last {:.1} s after the start; {} Node writes ({:.2} per node).",
                r.untainted,
                r.ready,
                r.last_untainted_seconds,
                r.node_writes,
                r.node_writes_per_node
            );
        }
        let _ = writeln!(
            s,
            "Wall time {:.1} s, peak memory {:.1} MiB.",
            self.wall_seconds,
            self.peak_rss_bytes as f64 / 1_048_576.0
        );
        if let Some(h) = &self.controller_heap {
            let _ = writeln!(
                s,
                "The controller held {:.1} MiB of heap at the end ({:.0} bytes per slot over {} slots); the rest is the simulated world's.",
                h.held_bytes as f64 / 1_048_576.0,
                h.bytes_per_slot,
                h.slots
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_and_quantiles() {
        let calls = [
            (Ec2Action::CreateNetworkInterface, 1000),
            (Ec2Action::AttachNetworkInterface, 1000),
        ];
        let f = floor_seconds(&calls, &BucketTable::default(), 1.0);
        assert_eq!(f, 190.0, "attach: 50 burst, then 5/s");
        let f = floor_seconds(&calls, &BucketTable::default(), 0.5);
        assert_eq!(f, 380.0, "half the refill left");
        let f = floor_seconds(&calls, &BucketTable::default().scaled(0.1, 1.0), 1.0);
        assert_eq!(f, 199.0, "attach: 5 burst, then 5/s");
        let by = floor_by_action(&calls, &BucketTable::default(), 1.0);
        assert_eq!(by.len(), 2);
        assert_eq!(by["AttachNetworkInterface"], 190.0);
        assert!(by["CreateNetworkInterface"] < 190.0, "{by:?}");
        let twice = [calls[1], calls[1], (Ec2Action::DeleteNetworkInterface, 0)];
        let by = floor_by_action(&twice, &BucketTable::default(), 1.0);
        assert_eq!(by.len(), 1, "no entry for an action without calls: {by:?}");
        assert_eq!(by["AttachNetworkInterface"], 380.0);
        let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&mut v, 0.5), 3.0);
        assert_eq!(quantile(&mut v, 0.99), 5.0);
        assert_eq!(quantile(&mut [], 0.5), 0.0);
    }
}
