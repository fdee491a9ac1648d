//! A NodeENI actor's state and what each message does to it. The rules it applies are
//! in [`crate::plan::nodeeni`]; the reads and translations in [`super::io`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::time::Instant;

use super::cleanups::Cleanups;
use super::finalizer::Finalizer;
use super::msg::{InterfacesSeen, NodeEniArgs, NodeEniDeps, NodeEniMsg};
use super::nodes::Nodes;
use super::publisher::Publisher;
use super::slots::{Reported, Slots};
use super::spec::{Inputs, Resolved};
use super::sweep::{Listing, Sweep};
use super::timers::Timers;
use super::writes::{Round, Writes};
use crate::actors::cleanup::CleanupError;
use crate::actors::slot::SlotReport;
use crate::aws::ownership::legacy::GoExpectations;
use crate::k8s::{NodeENI, NodeView, Notice, ObjectRef};
use crate::plan::nodeeni::{self as rules, Skips};
use crate::plan::slots::{SlotKey, plan_slots};

const RETRY: Duration = Duration::from_secs(5);

/// The actor's state.
pub struct NodeEniState {
    deps: Arc<NodeEniDeps>,
    uid: String,
    obj: NodeENI,
    nodes: Nodes,
    resolved: Resolved,
    skips: Skips,
    slots: Slots,
    finalizer: Finalizer,
    sweep: Sweep,
    cleanups: Cleanups,
    writes: Writes,
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

    fn tick_in(&mut self, myself: &ActorRef<NodeEniMsg>, delay: Duration) {
        self.timers.tick_in(myself, delay);
    }

    fn dirty(&mut self, myself: &ActorRef<NodeEniMsg>) {
        self.timers.dirty(myself);
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
    async fn replan(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        only: Option<&str>,
    ) -> Result<(), ActorProcessingErr> {
        if self.deleting() || !self.finalizer.placed() {
            return Ok(());
        }
        let (Some(resolved), Some(inputs)) = (&self.resolved.spec, self.nodes.inputs(only)) else {
            return Ok(());
        };
        let plan = plan_slots(resolved, &inputs);
        self.skips.replace(only, plan.skipped);
        let changes = rules::slot_changes(self.slots.desired(), plan.slots, only);
        for key in changes.retire {
            self.retire(myself, key, "slot no longer desired");
        }
        for desired in changes.update {
            self.slots.update(desired);
        }
        // Adopt before create: no slot starts before a listing of this NodeENI's ENIs,
        // the Go controller's included, succeeded.
        if rules::may_start_slots(self.sweep.swept_once()) {
            for desired in changes.start {
                let swept = self.sweep.take(&desired.key);
                let seen = Some(rules::starting_knowledge(swept));
                self.slots.start(myself, desired, seen).await?;
            }
        }
        self.dirty(myself);
        Ok(())
    }

    /// Hands an ENI to the cleanup pool, once, and hears back when it is gone.
    fn clean(&mut self, myself: &ActorRef<NodeEniMsg>, eni_id: String, reason: &'static str) {
        if !self.cleanups.request(myself, eni_id, reason) {
            // The pool is restarting: the next tick retries.
            self.tick_in(myself, RETRY);
        }
    }

    fn retire(&mut self, myself: &ActorRef<NodeEniMsg>, key: SlotKey, why: &'static str) {
        if !self.slots.contains(&key) {
            return;
        }
        if let Some(eni) = self.slots.retire(&key, why) {
            self.clean(myself, eni, why);
        }
        // Anything created in the retired slot's last step shows up in a sweep soon.
        self.sweep.invalidate();
        self.tick_in(myself, Duration::from_secs(30));
    }

    pub(super) fn on_report(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        key: SlotKey,
        report: SlotReport,
    ) {
        match self.slots.reported(&key, report) {
            Reported::Changed => self.dirty(myself),
            Reported::Same | Reported::Orphaned(None) => {}
            // A slot torn down while its last step was in flight: its ENI goes too.
            Reported::Orphaned(Some(eni)) => self.clean(myself, eni, "slot no longer desired"),
        }
    }

    pub(super) fn on_cleaned(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        eni_id: String,
        result: Result<(), CleanupError>,
    ) {
        // An answer heard already (the request was repeated) changes nothing.
        let Some(note) = self.cleanups.answered(&eni_id, &result) else {
            return;
        };
        self.publish(note);
        if result.is_err() {
            // Listed and asked for again once its backoff is over.
            self.sweep.invalidate();
            let wait = self.cleanups.next_retry().map_or(RETRY, |at| {
                at.saturating_duration_since(Instant::now()).max(RETRY)
            });
            self.tick_in(myself, wait);
            self.dirty(myself);
        } else if self.deleting() && self.cleanups.pending() == 0 {
            self.sweep.invalidate();
            self.tick_in(myself, Duration::ZERO);
        }
    }

    /// Lists this NodeENI's ENIs (and, on the first sweep, the Go controller's for it) and
    /// gives running slots theirs as fresh observations; how many ENIs it showed, or
    /// `None` if listing failed.
    async fn sweep(&mut self) -> Option<usize> {
        let name = self.name();
        let spec = &self.obj.spec;
        let listing = Listing {
            ec2: &self.deps.ec2,
            cluster: &self.deps.identity,
            uid: &self.uid,
            name: &name,
            with_go: self.sweep.last().is_none() && !self.deleting(),
            go: GoExpectations {
                nodeeni: &name,
                base_device_index: u32::try_from(spec.device_index).unwrap_or(1).max(1),
                description: spec.description.as_deref(),
            },
        };
        self.sweep.list_for(listing, &self.slots).await
    }

    /// Hands the swept ENIs of slots nobody wants to the cleanup pool.
    fn reap(&mut self, myself: &ActorRef<NodeEniMsg>) {
        let swept = self.sweep.drain(&self.deps.identity);
        for eni in rules::reap(swept, self.slots.desired()) {
            self.clean(myself, eni, "not desired");
        }
    }

    /// Resolve, sweep, reconcile; or progress a deletion.
    pub(super) async fn tick(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
    ) -> Result<(), ActorProcessingErr> {
        if self.deleting() {
            return self.delete_progress(myself).await;
        }
        if let Err(wait) = self
            .finalizer
            .ensure(&*self.deps.cluster, &self.name())
            .await
        {
            self.tick_in(myself, wait);
            return Ok(());
        }
        let name = self.name();
        self.resolved
            .refresh(Inputs {
                resolver: &self.deps.resolver,
                instances: &self.deps.instances,
                name: &name,
                spec: &self.obj.spec,
                generation: self.generation(),
                nodes: self.nodes.all(),
                ttl: self.deps.resolve_ttl,
            })
            .await;
        let due = rules::sweep_due(self.sweep.last(), Instant::now(), self.deps.resync_interval);
        let settled = self.resolved.spec.is_some() && self.nodes.known();
        let swept = settled && due && self.sweep().await.is_some();
        self.replan(myself, None).await?;
        if swept {
            self.cleanups.forget_unlisted(self.sweep.listed());
            self.reap(myself);
        }
        self.cleanups.resend_lost(myself);
        self.slots.prune(Instant::now());
        let next = rules::next_tick(
            !self.resolved.problems.is_empty(),
            self.deps.resync_interval,
        );
        let next = if self.cleanups.pending() > 0 {
            next.min(super::cleanups::RESEND_AFTER)
        } else {
            next
        };
        self.tick_in(myself, next);
        self.dirty(myself);
        Ok(())
    }

    async fn delete_progress(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
    ) -> Result<(), ActorProcessingErr> {
        self.cleanups.resend_lost(myself);
        for key in self.slots.keys() {
            self.retire(myself, key, "NodeENI deleted");
        }
        let listed = self.sweep().await;
        if listed.is_some() {
            self.cleanups.forget_unlisted(self.sweep.listed());
        }
        let nothing_listed = listed == Some(0);
        self.reap(myself);
        // Withdraws this NodeENI's entries from the nodes' ENINodes as its slots go.
        if !self.write_status().await {
            self.dirty(myself);
        }
        if rules::finalizer_may_go(
            nothing_listed,
            self.cleanups.pending(),
            self.slots.retiring(),
            self.writes.withdrawn(),
        ) {
            match self.deps.cluster.remove_finalizer(&self.name()).await {
                Ok(()) => {
                    tracing::info!("every ENI is gone; finalizer removed");
                    self.write_status().await;
                    super::status::clear_gauges(&self.name());
                    myself.stop(Some("NodeENI deleted".into()));
                    return Ok(());
                }
                Err(e) => tracing::warn!(error = %e, "could not remove the finalizer"),
            }
        }
        // While only failed teardowns wait for their backoff, nothing new can happen
        // sooner: no listing either.
        let wait = match self.cleanups.next_retry() {
            Some(at) if self.cleanups.pending() == 0 && self.slots.retiring() == 0 => {
                at.saturating_duration_since(Instant::now()).max(RETRY)
            }
            _ => RETRY,
        };
        self.tick_in(myself, wait);
        Ok(())
    }

    /// Writes the status and the nodes' entries where they changed; `false` if a write
    /// failed (the caller retries).
    async fn write_status(&mut self) -> bool {
        let slots = self.slots.summaries(self.obj.spec.mtu, self.nodes.all());
        let mut problems = self.resolved.problems.clone();
        if let Some(msg) = self.cleanups.failing() {
            problems.push(("ENIDeletionFailed".into(), msg));
        }
        if self.deleting() {
            let pending = self.cleanups.pending();
            let msg = format!("{pending} ENIs still being detached and deleted");
            problems.insert(0, ("Deleting".into(), msg));
        }
        let name = self.name();
        let round = Round {
            name: &name,
            generation: self.generation(),
            slots: &slots,
            problems: &problems,
            skipped: &self.skips.messages(),
        };
        let nodes = self.nodes.all();
        self.writes
            .write(&*self.deps.cluster, round, |n| {
                nodes?.get(n).map(|v| v.uid.clone())
            })
            .await
    }

    /// What the nodes' ENINodes show of this NodeENI: written again where that differs
    /// from what its slots say.
    pub(super) fn on_interfaces(&mut self, myself: &ActorRef<NodeEniMsg>, seen: InterfacesSeen) {
        match seen {
            InterfacesSeen::All(all) => self.writes.seen_all(all),
            InterfacesSeen::Node(node, entries) => self.writes.seen(node, entries),
        }
        self.dirty(myself);
    }

    /// A state for `args`; the first tick is scheduled.
    pub(super) fn new(myself: &ActorRef<NodeEniMsg>, args: NodeEniArgs) -> Self {
        let deps = args.deps;
        let obj = args.nodeeni;
        let uid = obj.metadata.uid.clone().unwrap_or_default();
        let name = obj.metadata.name.clone().unwrap_or_default();
        let slot_deps = Arc::new(deps.for_slots(name, uid.clone()));
        let regarding = ObjectRef::of(&obj);
        let mut st = NodeEniState {
            uid,
            slots: Slots::new(slot_deps, deps.restart),
            nodes: Nodes::new(args.nodes),
            writes: Writes::new(obj.status.clone()),
            obj,
            resolved: Resolved::default(),
            skips: Skips::default(),
            finalizer: Finalizer::default(),
            sweep: Sweep::default(),
            cleanups: Cleanups::new(deps.cleanup.clone()),
            timers: Timers::new(deps.status_debounce),
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

    /// A retired slot handed back every ENI it has or may have made: they go.
    pub(super) fn on_slot_retired(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        actor: ractor::ActorId,
        enis: Vec<String>,
    ) {
        self.slots.retired(&actor);
        for eni in enis {
            self.clean(myself, eni, "slot no longer desired");
        }
        if self.deleting() {
            self.tick_in(myself, Duration::ZERO);
        }
    }

    /// A node's zone learned from its instance: it is planned again in that zone.
    pub(super) async fn on_node_zone(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        node: String,
        zone: String,
    ) -> Result<(), ActorProcessingErr> {
        if !self.nodes.learned_zone(&node, zone) {
            return Ok(());
        }
        self.replan(myself, Some(&node)).await
    }

    /// Every matching node, complete: the plan can settle for the first time.
    pub(super) fn on_nodes(&mut self, myself: &ActorRef<NodeEniMsg>, nodes: Vec<NodeView>) {
        self.nodes.replace(nodes);
        self.tick_in(myself, Duration::ZERO);
    }

    /// A node changed (`view`) or went away (`None`).
    pub(super) async fn on_node(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        name: String,
        view: Option<NodeView>,
    ) -> Result<(), ActorProcessingErr> {
        let matching = self
            .nodes
            .changed(&name, view, &self.obj.spec.node_selector);
        self.replan(myself, Some(&name)).await?;
        self.nodes.drop_unless_matching(&name, matching);
        Ok(())
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
        if let Some((key, delay)) = self.slots.exited(&evt) {
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
        self.slots.restart(myself, key).await
    }

    /// The desired (instance, subnet) pairs, once the plan is settled.
    pub(super) fn desired_pairs(&self) -> Option<HashSet<(String, String)>> {
        let settled = self.resolved.spec.is_some() && self.nodes.known() && !self.deleting();
        settled.then(|| self.slots.pairs())
    }
}
