//! A NodeENI's slots at work: the plan applied to them (slots started, updated, retired
//! or handed over), the listings that feed them and find what nobody wants, and the
//! teardowns of what they leave behind (asked for and answered in `fleet_teardowns`).
//! Each method says what the actor should do next ([`Followup`]) rather than reaching
//! into the actor's timers.

use std::time::Duration;

use ractor::{ActorId, ActorProcessingErr, ActorRef};
use tokio::time::Instant;

use super::cleanups::Cleanups;
use super::msg::NodeEniMsg;
use super::releases::Releases;
use super::slots::{Reported, Slots};
use super::sweep::{Listing, Sweep};
use super::unmanaged::Unmanaged;
use crate::actors::limiter::LimitedEc2;
use crate::actors::slot::SlotReport;
use crate::aws::ownership::ClusterIdentity;
use crate::aws::ownership::legacy::GoExpectations;
use crate::k8s::cluster::LEGACY_FINALIZER;
use crate::k8s::status::{Concerns, Problem};
use crate::k8s::{NodeENISpec, Notice};
use crate::plan::nodeeni::{self as rules, Skips};
use crate::plan::slots::{SlotKey, SlotPlan};

/// How soon the actor should tick after a teardown could not be asked for, or failed.
pub const RETRY: Duration = Duration::from_secs(5);

/// What the actor should do after a change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use]
pub struct Followup {
    /// Tick within this long.
    pub tick_in: Option<Duration>,
    /// Write the status.
    pub dirty: bool,
}

impl Followup {
    pub(super) fn tick(d: Duration) -> Self {
        Followup {
            tick_in: Some(d),
            dirty: true,
        }
    }

    /// Both followups: the sooner tick.
    pub fn and(self, other: Followup) -> Followup {
        Followup {
            tick_in: match (self.tick_in, other.tick_in) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            dirty: self.dirty || other.dirty,
        }
    }
}

/// The NodeENI whose ENIs a listing is of.
pub struct Listed<'a> {
    /// Rate-limited EC2.
    pub ec2: &'a LimitedEc2,
    /// The owning cluster.
    pub cluster: &'a ClusterIdentity,
    /// The NodeENI's UID.
    pub uid: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its spec.
    pub spec: &'a NodeENISpec,
    /// Whether it is being deleted.
    pub deleting: bool,
    /// Its finalizers.
    pub finalizers: &'a [String],
}

/// The slots, their listings and their teardowns.
pub struct Fleet {
    /// The slots.
    pub slots: Slots,
    /// The last listing.
    pub sweep: Sweep,
    /// The teardowns asked for.
    pub cleanups: Cleanups,
    /// Why matching nodes get no ENI.
    pub skips: Skips,
    /// The unmanaged ENIs reported.
    unmanaged: Unmanaged,
    /// DPDK ENIs held back from their teardown until their devices are released.
    pub releases: Releases,
}

impl Fleet {
    /// No slots yet.
    pub fn new(slots: Slots, cleanups: Cleanups) -> Self {
        Fleet {
            slots,
            sweep: Sweep::default(),
            cleanups,
            skips: Skips::default(),
            unmanaged: Unmanaged::default(),
            releases: Releases::default(),
        }
    }

    /// Applies `plan` (of every node, or of `only`): slots no longer desired are
    /// retired (or handed over, when another Node object takes their place), changed
    /// ones updated, new ones recorded, and started if `may_start`.
    pub async fn replan(
        &mut self,
        me: &ActorRef<NodeEniMsg>,
        plan: SlotPlan,
        only: Option<&std::collections::BTreeSet<String>>,
        may_start: bool,
    ) -> Result<Followup, ActorProcessingErr> {
        self.skips.replace(only, plan.skipped);
        let changes = rules::slot_changes(self.slots.desired(), plan.slots, only);
        let mut next = Followup {
            tick_in: None,
            dirty: true,
        };
        for desired in changes.update {
            self.slots.update(desired);
        }
        for desired in changes.start {
            self.slots.plan(desired);
        }
        let handed_over = rules::handed_over(&changes.retire, |p| self.slots.count_at(p));
        for (key, handed_over) in changes.retire.iter().zip(handed_over) {
            // Another slot at the same place (another Node object of the instance)
            // takes its ENI over.
            next = next.and(self.retire(me, key, "slot no longer desired", handed_over));
        }
        if may_start {
            self.start_waiting(me).await?;
        }
        Ok(next)
    }

    /// Starts every planned slot not started yet, each knowing what the last listing
    /// found at its place.
    pub async fn start_waiting(
        &mut self,
        me: &ActorRef<NodeEniMsg>,
    ) -> Result<(), ActorProcessingErr> {
        for key in self.slots.waiting() {
            let seen = self.sweep.knowledge(&key.place());
            self.slots.start(me, &key, seen).await?;
        }
        Ok(())
    }

    /// Retires a slot (see [`Slots::retire`]).
    pub fn retire(
        &mut self,
        me: &ActorRef<NodeEniMsg>,
        key: &SlotKey,
        why: &'static str,
        handed_over: bool,
    ) -> Followup {
        if !self.slots.contains(key) {
            return Followup::default();
        }
        tracing::debug!(slot = %key, why, handed_over, "retiring a slot");
        let mut next = Followup::tick(Duration::from_secs(30));
        if let Some(eni) = self.slots.retire(key, why, handed_over) {
            next = next.and(self.clean(me, eni, why));
        }
        // Anything created in the retired slot's last step shows up in a listing soon.
        self.sweep.invalidate();
        next
    }

    /// A retired slot handed back every ENI it has or may have made: they go, unless a
    /// slot wants its place again (that slot keeps or discards them by its own rules)
    /// or a running slot reports one as its own.
    pub fn retired(
        &mut self,
        me: &ActorRef<NodeEniMsg>,
        actor: &ActorId,
        key: &SlotKey,
        enis: Vec<String>,
    ) -> Followup {
        self.slots.retired(actor);
        let wanted = self.slots.has_place(&key.place());
        let mut next = Followup::default();
        for eni in enis {
            if wanted || self.slots.names(&eni) {
                tracing::debug!(%eni, "a retired slot's ENI is left to the slot at its place");
                self.sweep.invalidate();
                next = next.and(Followup::tick(Duration::from_secs(30)));
            } else {
                next = next.and(self.clean(me, eni, "slot no longer desired"));
            }
        }
        next
    }

    /// Takes in a slot's report; whether the status changed.
    pub fn reported(&mut self, actor: &ActorId, key: &SlotKey, report: SlotReport) -> bool {
        matches!(self.slots.reported(actor, key, report), Reported::Changed)
    }

    /// Lists the NodeENI's ENIs, and when [`rules::looks_for_go_enis`] the Go controller's for
    /// it (see [`Sweep::list_for`]); afterwards, the
    /// teardowns that failed for ENIs no longer listed are forgotten.
    pub async fn sweep(&mut self, on: Listed<'_>) -> Option<usize> {
        let listing = Listing {
            ec2: on.ec2,
            cluster: on.cluster,
            uid: on.uid,
            name: on.name,
            with_go: rules::looks_for_go_enis(
                self.sweep.last().is_none(),
                on.deleting,
                on.finalizers.iter().any(|f| f == LEGACY_FINALIZER),
            ),
            go: GoExpectations {
                nodeeni: on.name,
                base_device_index: u32::try_from(on.spec.device_index).unwrap_or(1).max(1),
                description: on.spec.description.as_deref(),
            },
        };
        let listed = self.sweep.list_for(listing, &self.slots).await;
        if listed.is_some() {
            self.cleanups.forget_unlisted(self.sweep.listed());
        }
        listed
    }

    /// After a tick's listing (`Some(None)`: it failed; `None`: none was due): what
    /// nobody wants is reaped, a failed listing is tried again soon, lost teardown
    /// requests are sent again; the next tick comes within `next` at the latest.
    pub fn settle(
        &mut self,
        me: &ActorRef<NodeEniMsg>,
        listed: Option<Option<usize>>,
        cluster: &ClusterIdentity,
        uid: &str,
        mut next: Duration,
    ) -> Followup {
        let mut out = Followup::default();
        match listed {
            // Only a settled plan says what nobody wants: a node whose instance was not
            // read yet has no slot planned, but its ENIs are wanted.
            Some(Some(_)) if self.skips.pending() == 0 => out = self.reap(me, cluster, uid),
            Some(Some(_)) => {}
            // A failed listing is tried again soon (and slots wait for the first).
            Some(None) => next = next.min(self.sweep.retry_in()),
            None => {}
        }
        self.cleanups.resend_lost(me);
        self.slots.prune(Instant::now());
        if self.cleanups.pending() > 0 {
            next = next.min(super::cleanups::RESEND_AFTER);
        }
        out.and(Followup::tick(next))
    }

    /// Retires every slot (the NodeENI is being deleted), and sends again the teardown
    /// requests a restarted pool lost.
    pub fn retire_all(&mut self, me: &ActorRef<NodeEniMsg>) -> Followup {
        self.cleanups.resend_lost(me);
        let mut next = Followup::default();
        for key in self.slots.keys() {
            next = next.and(self.retire(me, &key, "NodeENI deleted", false));
        }
        next
    }

    /// The Warnings for the ENIs that claim the NodeENI but lost some of their
    /// ownership tags, each once while listings show it.
    pub fn unmanaged_news(&mut self) -> Vec<Notice> {
        self.unmanaged.news(self.sweep.unmanaged())
    }

    /// What the status reports beside the slots: the spec's `problems`, then the
    /// fleet's own, and what the NodeENI waits for.
    pub fn concerns(
        &self,
        mut problems: Vec<Problem>,
        deleting: bool,
        finalizer: bool,
    ) -> Concerns {
        if let Some(e) = self.sweep.failure() {
            problems.push((
                "ENIListingFailed".into(),
                format!("could not list this NodeENI's ENIs (tried again soon): {e}"),
            ));
        }
        if let Some(msg) = self.cleanups.failing() {
            problems.push(("ENIDeletionFailed".into(), msg));
        }
        if let Some(msg) = Unmanaged::words(self.sweep.unmanaged()) {
            problems.push(("UnmanagedENI".into(), msg));
        }
        if deleting {
            let pending = self.cleanups.pending();
            let msg = format!("{pending} ENIs still being detached and deleted");
            problems.insert(0, ("Deleting".into(), msg));
        }
        let mut pending = Vec::new();
        let waiting = self.slots.waiting().len();
        if waiting > 0 && !deleting {
            pending.push(if finalizer {
                format!("{waiting} slots wait for the first listing of this NodeENI's ENIs")
            } else {
                format!("{waiting} slots wait for the finalizer to be in place")
            });
        }
        let unread = self.skips.pending();
        if unread > 0 {
            pending.push(format!(
                "{unread} nodes wait for their instance to be read (named subnets are looked up in its VPC)"
            ));
        }
        Concerns {
            problems,
            skipped: self.skips.messages(),
            pending,
        }
    }
}
