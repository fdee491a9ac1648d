//! The orphan sweep's record: whether a listing is under way, since when each orphan
//! and each forgotten ledger entry has been seen, and which left-alone ENIs were
//! reported. From a listing it answers the orphans due for deletion and what the root
//! must hear; the rules are [`crate::plan::orphans`].

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use super::listing;
use super::msg::{SweepFindings, Untouched, Why};
use crate::aws::Eni;
use crate::aws::ownership::ClusterIdentity;
use crate::plan::orphans::{DesiredSnapshot, Verdict, due_for_deletion, forgettable, verdict};

/// The sweep's marks between listings.
#[derive(Default)]
pub struct Sweep {
    orphan_marks: HashMap<String, Instant>,
    /// Ledger UIDs no ENI carried, since when.
    ledger_marks: HashMap<String, Instant>,
    /// Namesake clusters' ENIs already reported.
    reported: HashSet<String>,
    sweeping: bool,
}

/// What a listing leads to.
pub struct Swept {
    /// Orphans past their grace: to tear down.
    pub due: Vec<String>,
    /// For the root, when there is anything to say.
    pub findings: Option<SweepFindings>,
}

impl Sweep {
    /// Whether a listing may start (none is under way); marks it started.
    pub fn start(&mut self) -> bool {
        !std::mem::replace(&mut self.sweeping, true)
    }

    /// The listing failed: the next sweep tries again.
    pub fn failed(&mut self) {
        self.sweeping = false;
    }

    /// Takes in the sweep's listing of every ENI `cluster` owns, against `snapshot`.
    pub fn listed(
        &mut self,
        cluster: &ClusterIdentity,
        snapshot: &DesiredSnapshot,
        enis: &[Eni],
        grace: Duration,
    ) -> Swept {
        self.sweeping = false;
        let mut swept = listing::split(enis, cluster);
        let now = Instant::now();
        let mut orphans = Vec::new();
        for v in &swept.owned {
            match verdict(v, snapshot) {
                Verdict::Orphan => orphans.push(v.eni_id.clone()),
                Verdict::Unrecorded => swept.untouched.push(Untouched {
                    eni_id: v.eni_id.clone(),
                    nodeeni_name: v.nodeeni_name.clone(),
                    why: Why::Unrecorded,
                }),
                Verdict::Wanted => {}
            }
        }
        let gone = forgettable(snapshot, &swept.owned);
        let forget = due_for_deletion(&mut self.ledger_marks, &gone, now, grace);
        let findings = self.report_untouched(&swept.untouched, forget);
        metrics::counter!(crate::telemetry::metric::ORPHANS_FOUND_TOTAL)
            .increment(orphans.len() as u64);
        let due = due_for_deletion(&mut self.orphan_marks, &orphans, now, grace);
        Swept { due, findings }
    }

    /// Counts the ENIs the sweep leaves alone and warns once about each namesake's and
    /// each unrecorded one; the namesakes and the UIDs to forget, for the root.
    fn report_untouched(
        &mut self,
        untouched: &[Untouched],
        forget: Vec<String>,
    ) -> Option<SweepFindings> {
        for label in Why::LABELS {
            let n = untouched.iter().filter(|u| u.why.label() == label).count();
            metrics::gauge!(crate::telemetry::metric::UNTOUCHED_ENIS, "reason" => label)
                .set(n as f64);
        }
        let current: HashSet<&str> = untouched.iter().map(|u| u.eni_id.as_str()).collect();
        self.reported.retain(|id| current.contains(id.as_str()));
        let mut namesakes = Vec::new();
        for u in untouched {
            if matches!(u.why, Why::NoClusterId) || !self.reported.insert(u.eni_id.clone()) {
                continue;
            }
            match &u.why {
                Why::OtherClusterId(id) => {
                    tracing::warn!(
                        eni = %u.eni_id,
                        nodeeni = %u.nodeeni_name,
                        cluster_id = %id,
                        "an ENI carries this cluster's name but another cluster's identity: left alone"
                    );
                    namesakes.push(u.clone());
                }
                _ => tracing::warn!(
                    eni = %u.eni_id,
                    nodeeni = %u.nodeeni_name,
                    "an ENI carries this cluster's ownership tags for a NodeENI the controller never recorded: \
                     it did not create it (or created it before the ledger existed), so it is left alone"
                ),
            }
        }
        (!namesakes.is_empty() || !forget.is_empty()).then_some(SweepFindings { namesakes, forget })
    }
}
