//! The teardowns of what a NodeENI's slots leave behind: ENIs handed to the cleanup
//! pool (or held until their DPDK devices are released), the pool's answers, the reaping
//! of listed ENIs nobody wants, and when a deleted NodeENI's ENIs are all gone.

use std::time::Duration;

use ractor::ActorRef;
use tokio::time::Instant;

use super::fleet::{Fleet, Followup, RETRY};
use super::msg::NodeEniMsg;
use super::releases::Let;
use crate::actors::cleanup::CleanupError;
use crate::aws::ownership::ClusterIdentity;
use crate::k8s::Notice;
use crate::plan::nodeeni as rules;

impl Fleet {
    /// Hands an ENI to the cleanup pool, once, and hears back when it is gone.
    pub fn clean(
        &mut self,
        me: &ActorRef<NodeEniMsg>,
        eni_id: String,
        reason: &'static str,
    ) -> Followup {
        if !self.cleanups.asked(&eni_id) && self.releases.hold(&eni_id, reason) {
            // Its agent is asked to release the device first; the round writes the ask.
            return Followup::tick(RETRY);
        }
        if self.cleanups.request(me, eni_id, reason) {
            Followup::default()
        } else {
            // The pool is restarting: the next tick retries.
            Followup::tick(RETRY)
        }
    }

    /// Tears down the ENIs whose release is over; the Events to record.
    pub fn let_go(&mut self, me: &ActorRef<NodeEniMsg>, lets: Vec<Let>) -> (Vec<Notice>, Followup) {
        let mut notices = Vec::new();
        // The released entries are withdrawn by the next round.
        let mut next = Followup {
            tick_in: None,
            dirty: !lets.is_empty(),
        };
        for l in lets {
            notices.extend(l.notice);
            self.releases.forget(&l.eni_id);
            next = next.and(match self.cleanups.request(me, l.eni_id, l.reason) {
                true => Followup::default(),
                false => Followup::tick(RETRY),
            });
        }
        if let Some(due) = self.releases.next_due() {
            next = next.and(Followup::tick(due.max(RETRY)));
        }
        (notices, next)
    }

    /// The pool answered for `eni_id`: the Event to record, if the answer is news.
    pub fn cleaned(
        &mut self,
        eni_id: &str,
        result: &Result<(), CleanupError>,
    ) -> (Option<Notice>, Followup) {
        let Some(note) = self.cleanups.answered(eni_id, result) else {
            return (None, Followup::default());
        };
        if result.is_err() {
            // Listed and asked for again once its backoff is over.
            self.sweep.invalidate();
            let wait = self.cleanups.next_retry().map_or(RETRY, |at| {
                at.saturating_duration_since(Instant::now()).max(RETRY)
            });
            return (Some(note), Followup::tick(wait));
        }
        (Some(note), Followup::default())
    }

    /// Hands the listed ENIs of places no slot wants to the cleanup pool.
    pub fn reap(
        &mut self,
        me: &ActorRef<NodeEniMsg>,
        cluster: &ClusterIdentity,
        uid: &str,
    ) -> Followup {
        let swept = self.sweep.drain(cluster, uid);
        let mut next = Followup::default();
        for eni in rules::reap(swept, &self.slots.places()) {
            next = next.and(self.clean(me, eni, "not desired"));
        }
        next
    }

    /// Whether every ENI of a deleted NodeENI is gone (see
    /// [`rules::finalizer_may_go`]).
    pub fn all_gone(&self, nothing_listed: bool, entries_withdrawn: bool) -> bool {
        rules::finalizer_may_go(
            nothing_listed,
            self.cleanups.pending() + self.releases.held(),
            self.slots.retiring(),
            entries_withdrawn,
        )
    }

    /// How long a deleted NodeENI waits before its next look: while only failed
    /// teardowns wait for their backoff, nothing new can happen sooner (no listing
    /// either).
    pub fn deletion_wait(&self) -> Duration {
        match self.cleanups.next_retry() {
            Some(at) if self.cleanups.pending() == 0 && self.slots.retiring() == 0 => {
                at.saturating_duration_since(Instant::now()).max(RETRY)
            }
            _ => RETRY,
        }
    }
}
