//! The attachment actor: drives one slot (one ENI of one NodeENI on one node in one
//! subnet) through its lifecycle. Each `Step` asks [`crate::plan::lifecycle::decide`]
//! for the next action and executes it ([`super::slot_io`]); the actor itself only keeps
//! what it saw and schedules the next step.

use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::time::Instant;

use super::cleanup::CleanupMsg;
use super::instances::InstanceBatcher;
use super::limited_ec2::LimitedEc2;
use super::nodeeni::NodeEniMsg;
use super::slot_exec::{self, Outcome};
use super::slot_io;
use crate::aws::Eni;
use crate::aws::resolve::Resolver;
use crate::k8s::Notice;
use crate::k8s::status::SlotPhase;
use crate::plan::device_index::NoRoom;
use crate::plan::lifecycle::{Action, SlotMemory, decide};
use crate::plan::slots::DesiredSlot;
use crate::supervision::Handle;

/// Timing of a slot's polling and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotTiming {
    /// First wait before checking an attach or detach.
    pub poll_initial: Duration,
    /// Longest wait between checks.
    pub poll_max: Duration,
    /// Longest wait before retrying a failed (throttled, transient) call; the wait
    /// starts at `poll_initial` and doubles.
    pub retry_max: Duration,
    /// Wait before retrying a blocked slot.
    pub blocked_retry: Duration,
}

impl Default for SlotTiming {
    fn default() -> Self {
        SlotTiming {
            poll_initial: Duration::from_secs(1),
            poll_max: Duration::from_secs(10),
            retry_max: Duration::from_secs(10),
            blocked_retry: Duration::from_secs(60),
        }
    }
}

/// What every slot of a NodeENI shares.
pub struct SlotDeps {
    /// EC2 at rollout priority.
    pub ec2: LimitedEc2,
    /// Cached instance-type limits.
    pub resolver: Arc<Resolver>,
    /// Batched instance lookups.
    pub instances: InstanceBatcher,
    /// The cleanup pool.
    pub cleanup: Handle<CleanupMsg>,
    /// Cluster name.
    pub cluster: String,
    /// NodeENI name.
    pub nodeeni_name: String,
    /// NodeENI UID.
    pub nodeeni_uid: String,
    /// Timing.
    pub timing: SlotTiming,
}

/// What a slot tells its NodeENI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotReport {
    /// Phase.
    pub phase: SlotPhase,
    /// The slot's ENI, once known.
    pub eni_id: Option<String>,
    /// Its MAC address.
    pub mac_address: Option<String>,
    /// Its attachment.
    pub attachment_id: Option<String>,
    /// Its device index, when attached.
    pub device_index: Option<u32>,
    /// The incarnation the next create would use.
    pub incarnation: u32,
}

/// Messages of a slot.
pub enum AttachmentMsg {
    /// The desired slot changed (spec change).
    Update(DesiredSlot),
    /// ENIs seen for this slot by the NodeENI's sweep, which started at the instant
    /// given (ignored if the slot changed something since).
    Observed(Vec<Eni>, Instant),
    /// Take the next step.
    Step,
    /// Stop: reply with every ENI of this slot (for the cleanup pool), then stop.
    Teardown(RpcReplyPort<Vec<String>>),
}

/// How a slot starts.
pub struct AttachmentArgs {
    /// What it should become.
    pub desired: DesiredSlot,
    /// ENIs already seen for it (`None`: look first).
    pub seen: Option<Vec<Eni>>,
    /// Remembered incarnation.
    pub memory: SlotMemory,
    /// When the slot became desired (for latency metrics).
    pub desired_since: Instant,
    /// Shared dependencies.
    pub deps: Arc<SlotDeps>,
    /// The NodeENI actor.
    pub parent: ActorRef<NodeEniMsg>,
}

/// The slot's state.
pub struct SlotState {
    pub(super) desired: DesiredSlot,
    pub(super) deps: Arc<SlotDeps>,
    pub(super) parent: ActorRef<NodeEniMsg>,
    pub(super) seen: Vec<Eni>,
    pub(super) observed: bool,
    pub(super) placement: Option<Result<u32, NoRoom>>,
    pub(super) instance_gone: bool,
    pub(super) memory: SlotMemory,
    pub(super) created_at: Option<(u32, String)>,
    pub(super) desired_since: Instant,
    backoff: Duration,
    last_change: Option<Instant>,
    step_pending: bool,
    reported: Option<SlotReport>,
    attached_once: bool,
}

/// The actor.
pub struct AttachmentActor;

impl SlotState {
    fn schedule(&mut self, myself: &ActorRef<AttachmentMsg>, delay: Duration) {
        if self.step_pending {
            return;
        }
        self.step_pending = true;
        if delay.is_zero() {
            let _ = myself.cast(AttachmentMsg::Step);
        } else {
            myself.send_after(delay, || AttachmentMsg::Step);
        }
    }

    fn next_backoff(&mut self, max: Duration) -> Duration {
        let d = self.backoff.min(max);
        self.backoff = (self.backoff * 2).min(max);
        d
    }

    pub(super) fn notify(&self, notice: Notice) {
        let _ = self.parent.cast(NodeEniMsg::SlotNotice(notice));
    }

    fn report(&mut self, phase: SlotPhase) {
        let primary = slot_io::primary(self);
        let report = SlotReport {
            phase,
            eni_id: primary.map(|e| e.id.clone()),
            mac_address: primary.map(|e| e.mac_address.clone()),
            attachment_id: primary
                .and_then(|e| e.attachment.as_ref())
                .map(|a| a.attachment_id.clone()),
            device_index: primary
                .and_then(|e| e.attachment.as_ref())
                .map(|a| a.device_index),
            incarnation: self.memory.incarnation,
        };
        if self.reported.as_ref() != Some(&report) {
            self.reported = Some(report.clone());
            let _ = self
                .parent
                .cast(NodeEniMsg::Report(self.desired.key.clone(), report));
        }
    }
}

impl Actor for AttachmentActor {
    type Msg = AttachmentMsg;
    type State = SlotState;
    type Arguments = AttachmentArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<AttachmentMsg>,
        args: AttachmentArgs,
    ) -> Result<SlotState, ActorProcessingErr> {
        let initial = args.deps.timing.poll_initial;
        let mut st = SlotState {
            desired: args.desired,
            deps: args.deps,
            parent: args.parent,
            observed: args.seen.is_some(),
            seen: args.seen.unwrap_or_default(),
            placement: None,
            instance_gone: false,
            memory: args.memory,
            created_at: None,
            desired_since: args.desired_since,
            backoff: initial,
            last_change: None,
            step_pending: false,
            reported: None,
            attached_once: false,
        };
        st.schedule(&myself, Duration::ZERO);
        Ok(st)
    }

    async fn handle(
        &self,
        myself: ActorRef<AttachmentMsg>,
        msg: AttachmentMsg,
        st: &mut SlotState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            AttachmentMsg::Update(desired) => {
                if desired != st.desired {
                    st.desired = desired;
                    st.placement = None;
                    st.schedule(&myself, Duration::ZERO);
                }
            }
            AttachmentMsg::Observed(enis, taken) => {
                if st.last_change.is_none_or(|c| taken > c) {
                    st.seen = enis;
                    st.observed = true;
                    st.schedule(&myself, Duration::ZERO);
                }
            }
            AttachmentMsg::Teardown(reply) => {
                let mut ids: Vec<String> = st.seen.iter().map(|e| e.id.clone()).collect();
                if let Some((id, _)) = &st.memory.known
                    && !ids.contains(id)
                {
                    ids.push(id.clone());
                }
                let _ = reply.send(ids);
                myself.stop(Some("slot no longer desired".into()));
            }
            AttachmentMsg::Step => {
                st.step_pending = false;
                let span = tracing::info_span!("slot", nodeeni = %st.deps.nodeeni_name, node = %st.desired.key.node, subnet = %st.desired.key.subnet_id);
                step(&myself, st).instrument(span).await;
            }
        }
        Ok(())
    }
}

async fn step(myself: &ActorRef<AttachmentMsg>, st: &mut SlotState) {
    if !st.observed {
        match slot_io::refresh(st).await {
            Ok(()) => st.observed = true,
            Err(e) => {
                tracing::debug!(error = %e, "could not observe the slot yet");
                let d = st.next_backoff(st.deps.timing.retry_max);
                st.schedule(myself, d);
                return;
            }
        }
    }
    let seen = slot_io::seen_view(st);
    let decision = decide(
        &st.desired,
        &seen,
        st.placement,
        st.instance_gone,
        &st.memory,
        Instant::now(),
    );
    for d in &decision.discard {
        tracing::info!(eni = %d.eni_id, "handing a surplus ENI of this slot to cleanup");
        st.deps.cleanup.cast(CleanupMsg::Clean {
            eni_id: d.eni_id.clone(),
            reason: "duplicate",
            notify: None,
        });
        st.seen.retain(|e| e.id != d.eni_id);
        if st
            .memory
            .known
            .as_ref()
            .is_some_and(|(k, _)| *k == d.eni_id)
        {
            st.memory.known = None;
        }
    }
    let action = decision.action;
    st.report(slot_io::phase_of(&action));
    if action == Action::Ready {
        st.backoff = st.deps.timing.poll_initial;
        if !st.attached_once {
            st.attached_once = true;
            metrics::histogram!(crate::telemetry::metric::ATTACH_LATENCY_SECONDS)
                .record(st.desired_since.elapsed().as_secs_f64());
            if let Some(e) = slot_io::primary(st) {
                st.notify(Notice::normal(
                    "ENIAttached",
                    "Attach",
                    format!(
                        "{} attached to node {} in {}",
                        e.id, st.desired.key.node, st.desired.key.subnet_id
                    ),
                ));
            }
        }
        return;
    }
    if !matches!(
        action,
        Action::Observe | Action::Wait(_) | Action::Blocked(_)
    ) {
        st.last_change = Some(Instant::now());
    }
    match slot_exec::execute(st, action).await {
        Outcome::Continue => {
            st.backoff = st.deps.timing.poll_initial;
            st.schedule(myself, Duration::ZERO);
        }
        Outcome::Poll => {
            let d = st.next_backoff(st.deps.timing.poll_max);
            st.schedule(myself, d);
        }
        Outcome::Retry => {
            let d = st.next_backoff(st.deps.timing.retry_max);
            st.schedule(myself, d);
        }
        Outcome::Blocked => {
            let d = st.deps.timing.blocked_retry;
            st.schedule(myself, d);
        }
    }
}
