//! The selected nodes counted by state for `aws_multi_eni_selected_nodes`.

use std::collections::HashMap;

use crate::plan::readiness::{Condition, PENDING};

/// The selected nodes by state, mirrored in `aws_multi_eni_selected_nodes{state}`.
#[derive(Default)]
pub(super) struct Tally {
    by_node: HashMap<String, &'static str>,
    counts: HashMap<&'static str, usize>,
}

impl Tally {
    /// Records `node`'s verdict (`None`: not selected, or gone).
    pub(super) fn set(&mut self, node: &str, verdict: Option<&Condition>) {
        let state = verdict.map(|v| match (v.ready, v.reason.as_str()) {
            (true, _) => "ready",
            (false, PENDING) => "pending",
            (false, _) => "blocked",
        });
        let old = match state {
            Some(s) => self.by_node.insert(node.to_string(), s),
            None => self.by_node.remove(node),
        };
        if old == state {
            return;
        }
        for (s, delta) in [(old, -1i64), (state, 1)] {
            if let Some(s) = s {
                let n = self.counts.entry(s).or_default();
                *n = n.saturating_add_signed(delta as isize);
                metrics::gauge!(crate::telemetry::metric::SELECTED_NODES, "state" => s)
                    .set(*n as f64);
            }
        }
    }
}
