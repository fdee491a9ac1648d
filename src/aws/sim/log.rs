//! The simulator's record of every call, for assertions and reports.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::Ec2Action;

/// The outcome label of a successful call in the log.
pub const OK: &str = "ok";

/// One call as the simulated EC2 saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct CallRecord {
    /// Position in the log, from 0.
    pub seq: u64,
    /// When the call reached EC2, since the simulator started (tokio time).
    pub at: Duration,
    pub action: Ec2Action,
    /// `"ok"`, or the error's label (`"throttled"`, `"not_found"`, ...).
    pub outcome: &'static str,
    /// What the call was about (ENI, attachment or instance ID).
    pub target: String,
}

/// Every call plus counters by action and outcome.
#[derive(Debug, Default)]
pub(super) struct CallLog {
    records: Vec<CallRecord>,
    counts: BTreeMap<(Ec2Action, &'static str), u64>,
}

impl CallLog {
    pub(super) fn push(
        &mut self,
        at: Duration,
        action: Ec2Action,
        outcome: &'static str,
        target: String,
    ) {
        let seq = self.records.len() as u64;
        self.records.push(CallRecord {
            seq,
            at,
            action,
            outcome,
            target,
        });
        *self.counts.entry((action, outcome)).or_default() += 1;
    }

    pub(super) fn records(&self) -> &[CallRecord] {
        &self.records
    }

    pub(super) fn counts(&self) -> &BTreeMap<(Ec2Action, &'static str), u64> {
        &self.counts
    }

    pub(super) fn count(&self, action: Option<Ec2Action>, outcome: Option<&str>) -> u64 {
        self.counts
            .iter()
            .filter(|((a, o), _)| action.is_none_or(|x| x == *a) && outcome.is_none_or(|x| x == *o))
            .map(|(_, n)| n)
            .sum()
    }
}
