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

/// How many owned ENIs are left while nothing is wanted (a teardown), polled four times
/// a simulated second. Counting walks the whole account (200,000 interfaces at 100,000
/// nodes), so it counts again only once as many ENIs were removed from the account (or
/// untagged by hand) as it counted last: none can be left before (creates only add).
/// The answer is exact whenever it is 0.
#[derive(Debug, Default)]
pub struct LeftWatch {
    /// The last count, and the account's removals when it was made.
    counted: Option<(usize, u64)>,
}

impl LeftWatch {
    /// The owned ENIs left: counted, or the last count less the removals since (a lower
    /// bound, for the progress bar).
    pub fn left(&mut self, w: &SimWorld) -> usize {
        let removed = w.sim.enis_removed();
        if let Some((left, then)) = self.counted
            && let Some(fewer) = fewer_at_most(left, removed - then)
        {
            return fewer;
        }
        let left = w.audit(false).leaks;
        self.counted = Some((left, removed));
        left
    }
}

/// `left` less `removed`, while that cannot be 0 yet: `None` when it may be (count
/// again).
fn fewer_at_most(left: usize, removed: u64) -> Option<usize> {
    let removed = usize::try_from(removed).unwrap_or(usize::MAX);
    (removed < left).then(|| left - removed)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_is_counted_again_only_once_enough_enis_went_for_none_to_be_left() {
        for (left, removed, want) in [
            (0, 0, None),
            (5, 0, Some(5)),
            (5, 4, Some(1)),
            (5, 5, None),
            (5, 9, None),
            (1, u64::MAX, None),
        ] {
            assert_eq!(
                fewer_at_most(left, removed),
                want,
                "{left} left, {removed} removed"
            );
        }
    }
}
