//! Gauges that describe the cluster only while this replica leads: the per-NodeENI slot
//! counts and Degraded flags, the selected nodes, the cleanup queue, the rate limiter's
//! waiters, the ENIs left alone and the watches' sync state. The Prometheus exporter keeps
//! a series once recorded, so a replica that loses the Lease and stays up as a standby
//! would otherwise export its last values for ever, and alerts that take the maximum over
//! replicas would keep firing after the new leader fixed everything. [`end_term`] zeroes
//! them all when leadership ends.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use crate::telemetry::metric::{
    CLEANUP_QUEUE_DEPTH, EC2_TOKEN_WAITERS, KUBE_WATCH_SYNCED, NODEENI_DEGRADED, SELECTED_NODES,
    SLOTS, UNTOUCHED_ENIS,
};

/// The NodeENIs whose gauges this process has set and not yet zeroed.
static NODEENIS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// States of `aws_multi_eni_slots`.
pub const SLOT_STATES: [&str; 3] = ["desired", "ready", "failed"];
/// Resources of `aws_multi_eni_kube_watch_synced`.
pub const SYNCED: [&str; 3] = ["nodes", "nodeenis", "eninodes"];

/// What one NodeENI's gauges say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeEniGauges {
    /// ENI slots it wants.
    pub desired: f64,
    /// Slots attached (and configured).
    pub ready: f64,
    /// Slots blocked.
    pub failed: f64,
    /// Whether its Degraded condition is True.
    pub degraded: bool,
}

impl NodeEniGauges {
    /// All zero.
    pub const ZERO: NodeEniGauges = NodeEniGauges {
        desired: 0.0,
        ready: 0.0,
        failed: 0.0,
        degraded: false,
    };
}

/// Sets `aws_multi_eni_slots{nodeeni,state}` and `aws_multi_eni_nodeeni_degraded` for
/// `name`, and remembers it for [`end_term`].
pub fn set_nodeeni(name: &str, gauges: NodeEniGauges) {
    NODEENIS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(name.to_string());
    write_nodeeni(name, gauges);
}

/// Zeroes a deleted NodeENI's gauges (zero is the series' last value: the exporter keeps
/// it) and forgets the NodeENI.
pub fn clear_nodeeni(name: &str) {
    NODEENIS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(name);
    write_nodeeni(name, NodeEniGauges::ZERO);
}

fn write_nodeeni(name: &str, g: NodeEniGauges) {
    for (state, value) in SLOT_STATES.into_iter().zip([g.desired, g.ready, g.failed]) {
        metrics::gauge!(SLOTS, "nodeeni" => name.to_string(), "state" => state).set(value);
    }
    metrics::gauge!(NODEENI_DEGRADED, "nodeeni" => name.to_string()).set(if g.degraded {
        1.0
    } else {
        0.0
    });
}

/// Zeroes every gauge that only the leader's actor tree sets: called once the tree has
/// stopped, so that a standby exports nothing stale. The next term sets them again.
pub fn end_term() {
    let names = std::mem::take(&mut *NODEENIS.lock().unwrap_or_else(PoisonError::into_inner));
    for name in &names {
        write_nodeeni(name, NodeEniGauges::ZERO);
    }
    for state in crate::telemetry::series::READINESS_STATES {
        metrics::gauge!(SELECTED_NODES, "state" => state).set(0.0);
    }
    metrics::gauge!(CLEANUP_QUEUE_DEPTH).set(0.0);
    for action in crate::aws::Ec2Action::ALL {
        metrics::gauge!(EC2_TOKEN_WAITERS, "action" => action.as_str()).set(0.0);
    }
    for reason in crate::actors::cleanup::Why::LABELS {
        metrics::gauge!(UNTOUCHED_ENIS, "reason" => reason).set(0.0);
    }
    for resource in SYNCED {
        metrics::gauge!(KUBE_WATCH_SYNCED, "resource" => resource).set(0.0);
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    #[test]
    fn a_term_that_ends_leaves_only_zeros() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let blocked = NodeEniGauges {
                desired: 4.0,
                ready: 2.0,
                failed: 2.0,
                degraded: true,
            };
            set_nodeeni("term-a", blocked);
            set_nodeeni("term-b", blocked);
            metrics::gauge!(SELECTED_NODES, "state" => "blocked").set(3.0);
            metrics::gauge!(CLEANUP_QUEUE_DEPTH).set(7.0);
            metrics::gauge!(UNTOUCHED_ENIS, "reason" => "other_cluster_id").set(1.0);
            metrics::gauge!(KUBE_WATCH_SYNCED, "resource" => "nodes").set(1.0);
            end_term();
        });
        let gauges: Vec<(String, f64)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(k, .., v)| match v {
                DebugValue::Gauge(g) => Some((k.key().name().to_string(), g.0)),
                _ => None,
            })
            .collect();
        let names: BTreeSet<&str> = gauges.iter().map(|(n, _)| n.as_str()).collect();
        for name in [
            SLOTS,
            NODEENI_DEGRADED,
            SELECTED_NODES,
            CLEANUP_QUEUE_DEPTH,
            UNTOUCHED_ENIS,
            KUBE_WATCH_SYNCED,
        ] {
            assert!(names.contains(name), "{name} exported: {gauges:?}");
        }
        let stale: Vec<_> = gauges.iter().filter(|(_, v)| *v != 0.0).collect();
        assert!(stale.is_empty(), "nothing stale after the term: {stale:?}");
        // The term's NodeENIs are forgotten: the next term starts from none.
        let left = NODEENIS.lock().unwrap();
        assert!(!left.contains("term-a") && !left.contains("term-b"));
    }
}
