//! What this NodeENI says of each node it selects, for the readiness actor: built from
//! its slots' lines, the spec's problems and the planner's skips, said only where it
//! changed.

use std::collections::{BTreeMap, BTreeSet};

use super::selection::Selection;
use crate::actors::readiness::ReadinessDesk;
use crate::k8s::status::{SlotPhase, SlotSummary};
use crate::plan::nodeeni::Skips;
use crate::plan::readiness::{NodeFacts, Part, SlotState, part};

/// The nodes this NodeENI spoke of.
#[derive(Default)]
pub struct Spoken(BTreeSet<String>);

/// One slot as readiness needs it.
fn state(s: &SlotSummary) -> SlotState {
    SlotState {
        subnet: s.subnet_id.clone(),
        eni: s.eni_id.clone(),
        attached: s.phase == SlotPhase::Attached && s.device_index.is_some(),
        configured: s.interface_configured,
        blocked: match &s.phase {
            SlotPhase::Blocked(reason, message) => Some((reason.clone(), message.clone())),
            _ => None,
        },
    }
}

/// What the NodeENI says of each node it selects (nothing while it is deleted).
pub fn parts(
    slots: &[SlotSummary],
    selection: &Selection,
    skips: &Skips,
    deleting: bool,
) -> BTreeMap<String, Part> {
    if deleting {
        return BTreeMap::new();
    }
    let mut by_node: BTreeMap<&str, Vec<SlotState>> = BTreeMap::new();
    for s in slots {
        by_node.entry(s.node.as_str()).or_default().push(state(s));
    }
    selection
        .node_names()
        .into_iter()
        .map(|node| {
            let (skipped, unread) = skips.of(&node);
            let facts = NodeFacts {
                problems: selection.problems(),
                settled: selection.settled(),
                slots: by_node.remove(node.as_str()).unwrap_or_default(),
                skips: skipped,
                unread,
            };
            let p = part(&facts);
            (node, p)
        })
        .collect()
}

impl Spoken {
    /// Says `now` through `desk`, and remembers which nodes it spoke of.
    pub fn say(&mut self, desk: &ReadinessDesk, nodeeni: &str, now: BTreeMap<String, Part>) {
        if !desk.on() {
            return;
        }
        desk.say(nodeeni, &now, &self.0);
        self.0 = now.into_keys().collect();
    }
}
