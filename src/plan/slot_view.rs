//! What a slot knows between steps: its ENIs as last seen, where its ENI can go, whether
//! its instance is gone, its memory, and the creation-time tag of its create. The
//! lifecycle decides from it ([`SlotView::decide`]); EC2's answers change it
//! ([`SlotView::apply`]).

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use super::device_index::{CardLimit, CardOccupancy, NoRoom, place};
use super::interface_limits::{InterfaceLimits, with_type_limits};
use super::lifecycle::{
    Action, Blocker, Decision, Discard, EniState, Known, SeenEni, SlotMemory, decide,
};
use super::slots::DesiredSlot;

/// A create answered with an ENI older than this is checked: it may be the deleted ENI
/// of an earlier incarnation (EC2 answers a reused ClientToken with the original ENI).
pub const STALE_TOKEN_AGE: Duration = Duration::from_secs(600);

/// Everything a slot knows between steps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotView {
    /// Its ENIs as last described (or as its own calls changed them since).
    pub seen: Vec<SeenEni>,
    /// Whether `seen` was ever read (a slot that starts without it reads first).
    pub observed: bool,
    /// Where its ENI can go on the instance (`None`: not computed since the last change).
    pub placement: Option<Result<u32, NoRoom>>,
    /// What the instance type allows one interface, as last looked at.
    pub interface: InterfaceLimits,
    /// What the last look at the instance showed.
    pub instance: InstanceSeen,
    /// Incarnation and the ENI known to exist.
    pub memory: SlotMemory,
    /// The creation-time tag of this incarnation's create, repeated by every retry (a
    /// retried create must send the same tags as the first).
    pub created_at: Option<(u32, Timestamp)>,
    /// An ENI of this slot left available with no room to attach it, since then.
    pub unattachable: Option<(String, Instant)>,
}

/// How long an instance EC2 does not know may stay unknown before it counts as gone
/// (EC2 is eventually consistent right after a launch: seconds, not minutes).
pub const INSTANCE_GRACE: Duration = Duration::from_secs(300);

/// What the last look at the slot's instance showed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InstanceSeen {
    /// Not looked at since the last change.
    #[default]
    Unknown,
    /// Running (or stopped): ENIs can go there.
    Present,
    /// EC2 does not know it, since then: maybe not visible yet, maybe gone.
    Missing {
        /// When it was first missing.
        since: Instant,
    },
    /// Terminated or shutting down.
    Terminated,
}

/// How long an ENI of a slot may stay available while no device index is free for it,
/// before it is deleted: it spends an IP address and the Region's ENI quota for nothing,
/// and a new one is made once there is room.
pub const UNATTACHABLE_GRACE: Duration = Duration::from_secs(600);

/// How the slot's instance looked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFacts {
    /// Terminated or shutting down.
    pub gone: bool,
    /// Interfaces attached: (network card, device index, ENI ID).
    pub interfaces: Vec<(u32, u32, String)>,
    /// What the instance type allows on the slot's card.
    pub limit: CardLimit,
    /// The instance's Availability Zone.
    pub zone: String,
    /// The instance's VPC.
    pub vpc: String,
    /// Whether the instance is tagged as this cluster's (or the check is off).
    pub in_cluster: bool,
    /// What its type allows one interface, where known.
    pub interface: InterfaceLimits,
}

/// A re-read of the slot's ENIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// Found by the slot's ownership tags (no ID was known).
    ByTags(Vec<SeenEni>),
    /// Read by ID: those found, and the IDs EC2 does not know.
    ById {
        /// ENIs found.
        found: Vec<SeenEni>,
        /// IDs not found.
        missing: Vec<String>,
    },
}

/// Whether `eni` was created more than [`STALE_TOKEN_AGE`] before `wall`.
pub fn created_long_ago(eni: &SeenEni, wall: Timestamp) -> bool {
    eni.created_at
        .is_some_and(|t| wall.duration_since(t).as_secs() > STALE_TOKEN_AGE.as_secs() as i64)
}

impl SlotView {
    /// A slot starting with what a sweep saw for it (`None`: it reads first).
    pub fn new(seen: Option<Vec<SeenEni>>, memory: SlotMemory) -> Self {
        SlotView {
            observed: seen.is_some(),
            seen: seen.unwrap_or_default(),
            memory,
            ..SlotView::default()
        }
    }

    /// The next step (see [`decide`]).
    pub fn decide(&self, desired: &DesiredSlot, now: Instant) -> Decision {
        decide(
            desired,
            &self.seen,
            with_type_limits(desired, self.placement, self.interface),
            self.instance_gone(now),
            &self.memory,
            now,
        )
    }

    /// The next step, as [`SlotView::decide`] answers it, except that an ENI left
    /// available for [`UNATTACHABLE_GRACE`] while the slot had no room for it is
    /// discarded; that ENI is returned too, to be reported.
    pub fn next(&mut self, desired: &DesiredSlot, now: Instant) -> (Decision, Option<String>) {
        let mut d = self.decide(desired, now);
        let available = self
            .primary(&desired.key.instance_id)
            .filter(|e| e.state == EniState::Available)
            .map(|e| e.id.clone());
        let no_room = matches!(d.action, Action::Blocked(Blocker::NoRoom(_)));
        match (available, &self.unattachable) {
            // The clock runs for as long as the same ENI stays available: through every
            // look at the instance and every attach EC2 refuses in between.
            (Some(id), Some((known, since))) if *known == id => {
                if no_room && now.duration_since(*since) >= UNATTACHABLE_GRACE {
                    d.discard.push(Discard {
                        eni_id: id.clone(),
                        attachment_id: None,
                    });
                    self.unattachable = None;
                    return (d, Some(id));
                }
            }
            (Some(id), _) if no_room => self.unattachable = Some((id, now)),
            (Some(_), _) => {}
            // Attached, or gone: the clock stops.
            (None, _) => self.unattachable = None,
        }
        (d, None)
    }

    /// Whether the instance is gone for sure: terminated, or unknown to EC2 for longer
    /// than [`INSTANCE_GRACE`]. Its ENIs are then discarded.
    pub fn instance_gone(&self, now: Instant) -> bool {
        match self.instance {
            InstanceSeen::Terminated => true,
            InstanceSeen::Missing { since } => now.duration_since(since) >= INSTANCE_GRACE,
            InstanceSeen::Unknown | InstanceSeen::Present => false,
        }
    }

    /// EC2 does not know the instance (now): remembered from the first time.
    pub(super) fn instance_missing(&mut self, now: Instant) {
        if !matches!(self.instance, InstanceSeen::Missing { .. }) {
            self.instance = InstanceSeen::Missing { since: now };
        }
    }

    /// The ENI the slot works with: attached to its instance if any, else an unattached one.
    pub fn primary(&self, instance_id: &str) -> Option<&SeenEni> {
        let on = |e: &&SeenEni| match &e.state {
            EniState::Attaching { instance_id: i, .. }
            | EniState::Attached { instance_id: i, .. }
            | EniState::Detaching { instance_id: i, .. } => i == instance_id,
            EniState::Available => false,
        };
        self.seen
            .iter()
            .filter(|e| !e.unmanaged)
            .find(on)
            .or_else(|| {
                self.seen
                    .iter()
                    .find(|e| !e.unmanaged && e.state == EniState::Available)
            })
    }

    /// Every ENI this slot has or may have made: those to read again when re-reading
    /// (empty: look them up by tags), and to hand back when the slot is retired.
    pub fn ids_to_read(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.seen.iter().map(|e| e.id.clone()).collect();
        if let Some(id) = self.memory.known.as_ref().and_then(|k| k.eni_id.as_ref())
            && !ids.contains(id)
        {
            ids.push(id.clone());
        }
        ids
    }

    /// Takes in a sweep's listing for this slot.
    pub fn swept(&mut self, seen: Vec<SeenEni>) {
        self.seen = seen;
        self.observed = true;
    }

    /// Takes in a re-read of the slot's ENIs.
    pub fn refreshed(&mut self, r: Refreshed, now: Instant) {
        self.observed = true;
        match r {
            Refreshed::ByTags(found) => {
                if let Some(first) = found.first() {
                    self.memory.known = Some(Known::eni(first.id.clone(), None));
                }
                self.seen = found;
            }
            Refreshed::ById { found, missing } => {
                for e in found {
                    if let Some(k) = &mut self.memory.known
                        && k.eni_id.as_deref() == Some(e.id.as_str())
                    {
                        k.missing_since = None;
                    }
                    self.upsert(e);
                }
                for id in missing {
                    self.lost(&id, now);
                }
            }
        }
    }

    /// Forgets an ENI handed to cleanup.
    pub fn discard(&mut self, eni_id: &str) {
        self.seen.retain(|e| e.id != eni_id);
        if self
            .memory
            .known
            .as_ref()
            .is_some_and(|k| k.eni_id.as_deref() == Some(eni_id))
        {
            self.memory.known = None;
        }
    }

    /// The desired slot changed: where it goes must be worked out again.
    pub fn respecified(&mut self) {
        self.placement = None;
    }

    /// The creation-time tag for `action`, if it writes one (a create, or an adoption),
    /// to the minute and the same for every retry of one incarnation.
    pub fn stamp_for(&mut self, action: &Action, wall: Timestamp) -> Option<Timestamp> {
        let incarnation = match action {
            Action::Create { incarnation } => *incarnation,
            Action::Adopt { .. } => self.memory.incarnation,
            _ => return None,
        };
        if let Some((inc, ts)) = self.created_at
            && inc == incarnation
        {
            return Some(ts);
        }
        let secs = wall.as_second();
        let ts = Timestamp::from_second(secs - secs.rem_euclid(60)).unwrap_or(wall);
        self.created_at = Some((incarnation, ts));
        Some(ts)
    }

    pub(super) fn upsert(&mut self, eni: SeenEni) {
        match self.seen.iter_mut().find(|e| e.id == eni.id) {
            Some(slot) => *slot = eni,
            None => self.seen.push(eni),
        }
    }

    pub(super) fn edit(&mut self, eni_id: &str, f: impl FnOnce(&mut SeenEni)) {
        if let Some(e) = self.seen.iter_mut().find(|e| e.id == eni_id) {
            f(e);
        }
    }

    pub(super) fn lost(&mut self, eni_id: &str, now: Instant) {
        self.seen.retain(|e| e.id != eni_id);
        if let Some(k) = &mut self.memory.known
            && k.eni_id.as_deref() == Some(eni_id)
        {
            k.missing_since.get_or_insert(now);
        }
    }

    /// Takes in a look at the instance; `false` if EC2 does not know it (yet).
    pub(super) fn placed(
        &mut self,
        desired: &DesiredSlot,
        facts: Option<InstanceFacts>,
        now: Instant,
    ) -> bool {
        let Some(facts) = facts else {
            self.instance_missing(now);
            return false;
        };
        if facts.gone {
            self.instance = InstanceSeen::Terminated;
            return true;
        }
        self.instance = InstanceSeen::Present;
        self.interface = facts.interface;
        // Trust first: an instance of another VPC or cluster gets nothing, whatever its
        // zone or room.
        if facts.vpc != desired.vpc {
            self.placement = Some(Err(NoRoom::OtherVpc));
            return true;
        }
        if !facts.in_cluster {
            self.placement = Some(Err(NoRoom::NotThisCluster));
            return true;
        }
        if facts.zone != desired.zone {
            self.placement = Some(Err(NoRoom::OtherZone));
            return true;
        }
        let card = desired.network_card;
        let taken: BTreeSet<u32> = facts
            .interfaces
            .iter()
            .filter(|(c, _, id)| *c == card && !self.seen.iter().any(|e| &e.id == id))
            .map(|(_, index, _)| *index)
            .collect();
        self.placement = Some(place(
            desired.preferred_device_index,
            &CardOccupancy {
                taken,
                limit: facts.limit,
            },
        ));
        true
    }
}

#[cfg(test)]
mod tests;
