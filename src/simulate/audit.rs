//! What the simulated account's ENIs look like against what is wanted: the check every
//! scenario polls until it holds, and the report's duplicates and leaks.

use std::collections::{HashMap, HashSet};

use super::world::{CLUSTER, ROOMY, SimWorld};
use crate::aws::ownership::{TAG_CLUSTER, TAG_INSTANCE, TAG_NODEENI_UID, TAG_SUBNET};
use crate::aws::{AttachmentStatus, Eni, EniStatus};

/// What the ENIs look like against what is wanted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Audit {
    /// Slots whose ENI is attached with deleteOnTermination set (done).
    pub attached: usize,
    /// Extra ENIs for a slot that already has one.
    pub duplicates: usize,
    /// Owned ENIs nobody wants (or left available).
    pub leaks: usize,
}

impl SimWorld {
    /// Owned ENIs: (duplicates, leaks, attached and configured) against the desired
    /// slots; with `labelled` false, nothing is wanted.
    pub fn audit(&self, labelled: bool) -> Audit {
        if !labelled {
            // Every owned ENI is a leak. A teardown polls this four times a simulated
            // second: no slot map to build (it was a third of a 10,000-node label
            // flip's wall time).
            let leaks = self.sim.with_enis(|enis| enis.filter(|e| owned(e)).count());
            return Audit {
                leaks,
                ..Audit::default()
            };
        }
        let roomy = (!self.roomy.is_empty()).then(|| ROOMY.to_string());
        let live: HashSet<String> = self
            .nodeenis
            .iter()
            .chain(roomy.iter())
            .filter_map(|n| self.cluster.with_nodeeni(n, |o| o.metadata.uid.clone())?)
            .collect();
        let instances: HashSet<&String> = self.nodes.values().chain(self.roomy.values()).collect();
        let mut per_slot = PerSlot::new();
        let mut audit = Audit::default();
        self.sim.with_enis(|enis| {
            for e in enis.filter(|e| owned(e)) {
                audit.count(e, &live, &instances, &mut per_slot);
            }
        });
        for (n, done) in per_slot.values() {
            audit.attached += usize::from(*done);
            audit.duplicates += n - 1;
        }
        audit
    }
}

/// Whether the simulated controller owns `e`.
fn owned(e: &Eni) -> bool {
    e.tags.get(TAG_CLUSTER).map(String::as_str) == Some(CLUSTER)
}

/// Owned ENIs of one slot: (uid, instance, subnet) → (ENIs, one of them done).
type PerSlot = HashMap<(String, String, String), (usize, bool)>;

impl Audit {
    /// Counts the owned `e` as a leak or towards its slot.
    fn count(
        &mut self,
        e: &Eni,
        live: &HashSet<String>,
        instances: &HashSet<&String>,
        per_slot: &mut PerSlot,
    ) {
        let tag = |k: &str| e.tags.get(k).cloned().unwrap_or_default();
        let (uid, inst, subnet) = (tag(TAG_NODEENI_UID), tag(TAG_INSTANCE), tag(TAG_SUBNET));
        let wanted = live.contains(&uid) && instances.contains(&inst);
        if !wanted || e.status == EniStatus::Available {
            self.leaks += 1;
            return;
        }
        let done = e.attachment.as_ref().is_some_and(|a| {
            a.status == AttachmentStatus::Attached
                && a.delete_on_termination
                && a.instance_id.as_ref() == Some(&inst)
        });
        let slot = per_slot.entry((uid, inst, subnet)).or_default();
        slot.0 += 1;
        slot.1 |= done;
    }
}
