//! A NodeENI actor's state and what each message does to it. The rules it applies are
//! in [`crate::plan::nodeeni`]; its slots at work are the [`Fleet`], its reads of the
//! nodes' instances [`Reads`]. What news of the nodes does is in `state_nodes`, the
//! teardowns of DPDK ENIs whose devices were released in `state_releases`.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::time::Instant;

use super::cleanups::Cleanups;
use super::finalizer::Finalizer;
use super::fleet::{Fleet, Followup, Listed};
use super::msg::{NodeEniArgs, NodeEniDeps, NodeEniMsg};
use super::publisher::Publisher;
use super::selection::Selection;
use super::slots::Slots;
use super::timers::Timers;
use super::writes::{Sources, Writes};
use crate::actors::cleanup::CleanupError;
use crate::actors::slot::SlotReport;
use crate::k8s::{NodeENI, Notice, ObjectRef};
use crate::plan::nodeeni as rules;
use crate::plan::slots::SlotKey;

/// The actor's state.
pub struct NodeEniState {
    pub(super) deps: Arc<NodeEniDeps>,
    uid: String,
    pub(super) obj: NodeENI,
    pub(super) selection: Selection,
    pub(super) fleet: Fleet,
    finalizer: Finalizer,
    pub(super) writes: Writes,
    timers: Timers,
    publisher: Publisher,
}

impl NodeEniState {
    fn name(&self) -> String {
        self.obj.metadata.name.clone().unwrap_or_default()
    }

    fn generation(&self) -> i64 {
        self.obj.metadata.generation.unwrap_or(0)
    }

    fn deleting(&self) -> bool {
        self.obj.metadata.deletion_timestamp.is_some()
    }

    pub(super) fn tick_in(&mut self, myself: &ActorRef<NodeEniMsg>, delay: Duration) {
        self.timers.tick_in(myself, delay);
    }

    pub(super) fn dirty(&mut self, myself: &ActorRef<NodeEniMsg>) {
        self.timers.dirty(myself, self.fleet.slots.count());
    }

    pub(super) fn follow(&mut self, myself: &ActorRef<NodeEniMsg>, next: Followup) {
        if let Some(d) = next.tick_in {
            self.tick_in(myself, d);
        }
        if next.dirty {
            self.dirty(myself);
        }
    }

    /// Records an Event on this NodeENI, off the handler.
    pub(super) fn publish(&self, notice: Notice) {
        self.publisher.publish(notice);
    }

    pub(super) fn on_spec(&mut self, myself: &ActorRef<NodeEniMsg>, obj: NodeENI) {
        let changed =
            obj.spec != self.obj.spec || obj.metadata.generation != self.obj.metadata.generation;
        let now_deleting = obj.metadata.deletion_timestamp.is_some() && !self.deleting();
        self.obj = obj;
        if changed || now_deleting {
            self.tick_in(myself, Duration::ZERO);
        }
    }

    /// Re-plans every node (`only = None`) or one node, and reconciles the slot actors.
    /// Slots are planned (and counted in the status) as soon as the spec and the nodes
    /// are known, and start only once the finalizer is in place and a listing of this
    /// NodeENI's ENIs (the Go controller's included) succeeded: adopt before create.
    pub(super) async fn replan(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        only: Option<&str>,
    ) -> Result<(), ActorProcessingErr> {
        if self.deleting() {
            return Ok(());
        }
        let Some((plan, scope)) = self.selection.plan(only) else {
            return Ok(());
        };
        let may_start =
            self.finalizer.placed() && rules::may_start_slots(self.fleet.sweep.swept_once());
        let next = self
            .fleet
            .replan(myself, plan, scope.as_ref(), may_start)
            .await?;
        self.follow(myself, next);
        Ok(())
    }

    pub(super) fn on_report(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        actor: ActorId,
        key: SlotKey,
        report: SlotReport,
    ) {
        if self.fleet.reported(&actor, &key, report) {
            self.dirty(myself);
        }
    }

    pub(super) fn on_cleaned(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        eni_id: String,
        result: Result<(), CleanupError>,
    ) {
        let (note, next) = self.fleet.cleaned(&eni_id, &result);
        // An answer heard already (the request was repeated) changes nothing.
        let Some(note) = note else {
            return;
        };
        self.publish(note);
        self.follow(myself, next);
        if result.is_ok() && self.deleting() && self.fleet.cleanups.pending() == 0 {
            self.fleet.sweep.invalidate();
            self.tick_in(myself, Duration::ZERO);
        }
    }

    /// Lists this NodeENI's ENIs (see [`Fleet::sweep`]) and reports the ENIs that claim
    /// it but are not its; how many of its own ENIs it showed, or `None` if listing
    /// failed.
    async fn sweep(&mut self) -> Option<usize> {
        let name = self.name();
        let deleting = self.deleting();
        let on = Listed {
            ec2: &self.deps.ec2,
            cluster: &self.deps.identity,
            uid: &self.uid,
            name: &name,
            spec: &self.obj.spec,
            deleting,
            finalizers: self.obj.metadata.finalizers.as_deref().unwrap_or_default(),
        };
        let listed = self.fleet.sweep(on).await;
        for notice in self.fleet.unmanaged_news() {
            self.publish(notice);
        }
        listed
    }

    /// Resolve, sweep, reconcile; or progress a deletion.
    pub(super) async fn tick(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
    ) -> Result<(), ActorProcessingErr> {
        if self.deleting() {
            return self.delete_progress(myself).await;
        }
        let finalizer = self
            .finalizer
            .ensure(&*self.deps.cluster, &self.uid, &self.name())
            .await;
        self.selection.read(myself, &self.deps, &self.obj.spec);
        let (name, generation) = (self.name(), self.generation());
        self.selection
            .refresh(&self.deps, &name, &self.obj.spec, generation)
            .await;
        if let Err(wait) = finalizer {
            self.replan(myself, None).await?;
            self.tick_in(myself, wait);
            return Ok(());
        }
        let due = rules::sweep_due(
            self.fleet.sweep.last(),
            Instant::now(),
            self.deps.resync_interval,
        );
        let listed = if self.selection.settled() && due {
            Some(self.sweep().await)
        } else {
            None
        };
        self.replan(myself, None).await?;
        self.release_due(myself);
        let next = rules::next_tick(self.selection.trouble(), self.deps.resync_interval);
        let next = self
            .fleet
            .settle(myself, listed, &self.deps.identity, &self.uid, next);
        self.follow(myself, next);
        Ok(())
    }

    async fn delete_progress(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
    ) -> Result<(), ActorProcessingErr> {
        let retired = self.fleet.retire_all(myself);
        self.follow(myself, retired);
        let listed = self.sweep().await;
        let nothing_listed = listed == Some(0);
        let reaped = self.fleet.reap(myself, &self.deps.identity, &self.uid);
        self.follow(myself, reaped);
        self.release_due(myself);
        // Withdraws this NodeENI's entries from the nodes' ENINodes as its slots go.
        if !self.write_status().await {
            self.dirty(myself);
        }
        if self.fleet.all_gone(nothing_listed, self.writes.withdrawn())
            && self
                .finalizer
                .release(&*self.deps.cluster, &self.uid, &self.name())
                .await
        {
            self.write_status().await;
            super::status::clear_gauges(&self.name());
            myself.stop(Some("NodeENI deleted".into()));
            return Ok(());
        }
        let wait = self.fleet.deletion_wait();
        self.tick_in(myself, wait);
        Ok(())
    }

    /// Writes the status and the nodes' entries where they changed; `false` if a write
    /// failed (the caller retries).
    async fn write_status(&mut self) -> bool {
        let name = self.name();
        let dpdk = self.obj.spec.dpdk_request();
        let selection = &self.selection;
        let mut changed = BTreeSet::new();
        self.fleet.slots.refresh_lines(
            self.obj.spec.mtu,
            selection.configured_in_order(),
            &mut changed,
        );
        let src = Sources {
            name: &name,
            generation: self.generation(),
            lines: self.fleet.slots.lines(),
            changed,
            dpdk: dpdk.as_ref(),
            fleet: &self.fleet,
            selection: &self.selection,
            deleting: self.deleting(),
            finalized: self.finalizer.placed(),
            desk: &self.deps.readiness,
        };
        let written = self.writes.write_from(&*self.deps.cluster, src).await;
        if dpdk.is_some() {
            // What a teardown holds until the agent released the device: DPDK entries
            // as written.
            self.fleet.releases.set_applied(self.writes.applied());
        }
        written
    }

    /// A state for `args`; the first tick is scheduled.
    pub(super) fn new(myself: &ActorRef<NodeEniMsg>, args: NodeEniArgs) -> Self {
        let deps = args.deps;
        let obj = args.nodeeni;
        let uid = obj.metadata.uid.clone().unwrap_or_default();
        let name = obj.metadata.name.clone().unwrap_or_default();
        // Slots of an earlier actor of this NodeENI that died with it held their device
        // indices: its slots reserve theirs again as they start.
        deps.reservations.release_all(&format!("{uid}/"));
        let slot_deps = Arc::new(deps.for_slots(name, uid.clone()));
        let regarding = ObjectRef::of(&obj);
        let slots = Slots::new(slot_deps, deps.restart);
        let cleanups = Cleanups::new(deps.cleanup.clone(), uid.clone());
        let mut st = NodeEniState {
            uid,
            fleet: Fleet::new(slots, cleanups),
            selection: Selection::new(args.nodes, &obj.spec.node_selector),
            writes: Writes::new(obj.status.clone()),
            obj,
            finalizer: Finalizer::default(),
            timers: Timers::new(deps.status_debounce, deps.census.enter()),
            publisher: Publisher::spawn(deps.cluster.clone(), regarding),
            deps,
        };
        st.tick_in(myself, Duration::ZERO);
        st
    }

    /// The span of this NodeENI's work.
    pub(super) fn span(&self) -> tracing::Span {
        tracing::info_span!("nodeeni", name = %self.name())
    }

    /// A retired slot handed back every ENI it has or may have made.
    pub(super) fn on_slot_retired(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        actor: ActorId,
        key: &SlotKey,
        enis: Vec<String>,
    ) {
        let next = self.fleet.retired(myself, &actor, key, enis);
        self.follow(myself, next);
        if self.deleting() {
            self.tick_in(myself, Duration::ZERO);
        }
    }

    /// The scheduled tick.
    pub(super) async fn on_tick(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
    ) -> Result<(), ActorProcessingErr> {
        self.timers.ticked();
        self.tick(myself).await
    }

    /// The scheduled status write.
    pub(super) async fn on_flush(&mut self, myself: &ActorRef<NodeEniMsg>) {
        self.timers.flushed();
        if !self.write_status().await {
            let base = self.timers.debounce();
            let wait = self.writes.retry_in(base);
            self.timers.flush_again(myself, wait);
        }
    }

    /// A slot actor exited: restart it later if it is still wanted.
    pub(super) fn on_slot_exit(&mut self, myself: &ActorRef<NodeEniMsg>, evt: SupervisionEvent) {
        // A slot that was retired on purpose is no longer a child.
        if let Some((key, delay)) = self.fleet.slots.exited(&evt) {
            myself.send_after(delay, move || NodeEniMsg::RestartSlot(key));
            self.dirty(myself);
        }
    }

    /// Starts a failed slot again if it is still desired.
    pub(super) async fn restart_slot(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        key: &SlotKey,
    ) -> Result<(), ActorProcessingErr> {
        if self.deleting() {
            return Ok(());
        }
        self.fleet.slots.restart(myself, key).await
    }

    /// The desired (instance, subnet) pairs, once the plan is settled.
    pub(super) fn desired_pairs(&self) -> Option<HashSet<(String, String)>> {
        let settled =
            self.selection.settled() && !self.deleting() && self.fleet.skips.pending() == 0;
        settled.then(|| self.fleet.slots.pairs())
    }
}
