//! The slot actor: drives one slot (one ENI of one NodeENI on one node in one subnet)
//! through its lifecycle. Each step asks [`SlotView::decide`] for the next action,
//! executes it against EC2 ([`ec2::execute`]), and hands the answer to
//! [`SlotView::apply`], which says when to step again; the actor keeps the view, the
//! timers and what it last reported.

mod breakers;
mod ec2;
mod msg;
mod notices;
mod phase;
mod reservations;
mod steps;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::time::Instant;
use tracing::Instrument;

use crate::actors::cleanup::CleanupMsg;
use crate::actors::limiter::Priority;
use crate::aws::Ec2Error;
use crate::k8s::Notice;
use crate::k8s::status::SlotPhase;
use crate::plan::breaker::{Admit, Cause};
use crate::plan::interface_limits::with_type_limits;
use crate::plan::lifecycle::{Action, EniState};
use crate::plan::outcome::{Answer, Applied, Next, SlotEvent};
use crate::plan::refusal::Refused;
use crate::plan::slot_view::{InstanceFacts, SlotView};
use crate::plan::slots::DesiredSlot;
use crate::supervision::Outbox;
pub use breakers::Breakers;
use breakers::Scope;
pub use msg::{SlotArgs, SlotDeps, SlotMsg, SlotReport, SlotTiming, SlotUpdate};
pub use reservations::Reservations;
use steps::Steps;

/// The slot's state.
pub struct SlotState {
    /// This actor (named in its reports).
    id: ractor::ActorId,
    desired: DesiredSlot,
    deps: Arc<SlotDeps>,
    updates: Outbox<SlotUpdate>,
    view: SlotView,
    desired_since: Instant,
    steps: Steps,
    /// When the last mutating call's answer came: listings that started earlier are
    /// older than what the slot knows.
    last_change: Option<Instant>,
    reported: Option<SlotReport>,
    /// The last refusal retrying will not fix, shown until a step makes progress.
    refusal: Option<(&'static str, String)>,
    /// The refusal last recorded as a Warning Event: the same refusal again is not
    /// recorded again until the slot made progress in between.
    warned: Option<(&'static str, String)>,
    attached_once: bool,
}

/// The actor.
pub struct SlotActor;

impl SlotState {
    fn schedule(&mut self, myself: &ActorRef<SlotMsg>, delay: Duration) {
        self.steps.schedule(myself, delay);
    }

    fn notify(&self, notice: Notice) {
        self.updates.send(SlotUpdate::Notice(notice));
    }

    fn report(&mut self, phase: SlotPhase) {
        let phase = match &self.refusal {
            Some((reason, message)) if phase != SlotPhase::Attached => {
                SlotPhase::Blocked(reason.to_string(), message.clone())
            }
            _ => phase,
        };
        let primary = self.view.primary(&self.desired.key.instance_id);
        let attachment = primary.map(|e| &e.state);
        let report = SlotReport {
            phase,
            eni_id: primary.map(|e| e.id.clone()),
            mac_address: primary.map(|e| e.mac.clone()),
            attachment_id: attachment.and_then(|s| s.attachment_id().map(str::to_string)),
            device_index: attachment.and_then(|s| s.device_index()),
            ipv4_addresses: primary
                .map(|e| {
                    e.primary_ip
                        .iter()
                        .chain(e.secondary_ips.iter())
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            ipv4_prefixes: primary.map(|e| e.ipv4_prefixes.clone()).unwrap_or_default(),
            ipv6_addresses: primary
                .map(|e| e.ipv6_addresses.clone())
                .unwrap_or_default(),
            ipv6_prefixes: primary.map(|e| e.ipv6_prefixes.clone()).unwrap_or_default(),
            source_dest_check: primary.map(|e| e.source_dest_check),
            incarnation: self.view.memory.incarnation,
        };
        if self.reported.as_ref() != Some(&report) {
            let first_time = self.reported.as_ref().map(|r| &r.phase) != Some(&report.phase);
            if let SlotPhase::Blocked(reason, message) = &report.phase
                && first_time
                && phase::REFUSED_NODE.contains(&reason.as_str())
            {
                self.notify(notices::refused_node(&self.desired.key, reason, message));
            }
            self.reported = Some(report.clone());
            self.updates.send(SlotUpdate::Report(
                self.id,
                self.desired.key.clone(),
                report,
            ));
        }
    }

    fn first_ready(&mut self) {
        if self.attached_once {
            return;
        }
        self.attached_once = true;
        metrics::histogram!(crate::telemetry::metric::ATTACH_LATENCY_SECONDS)
            .record(self.desired_since.elapsed().as_secs_f64());
        if let Some(e) = self.view.primary(&self.desired.key.instance_id) {
            self.notify(notices::attached(&self.desired.key, &e.id));
        }
    }

    /// This slot's name in the instance's reservation book.
    fn holder(&self) -> String {
        format!("{}/{}", self.deps.nodeeni_uid, self.desired.key)
    }

    /// Places the slot against what the instance shows and what other slots reserved on
    /// it, and reserves the index, as one step (see [`Reservations`]).
    fn placed(
        &mut self,
        action: &Action,
        mut facts: InstanceFacts,
        wall: Timestamp,
    ) -> Applied<Ec2Error> {
        if facts.zone != self.desired.zone {
            // The node's zone was not known: its NodeENI plans it again in this one.
            self.updates.send(SlotUpdate::Zone {
                node: self.desired.key.node.clone(),
                zone: facts.zone.clone(),
            });
        }
        let holder = self.holder();
        let card = self.desired.network_card;
        let (view, desired) = (&mut self.view, &self.desired);
        self.deps
            .reservations
            .with(&desired.key.instance_id, |book| {
                facts.interfaces.extend(
                    book.iter()
                        .filter(|(h, _)| **h != holder)
                        .map(|(h, (c, i))| (*c, *i, format!("reserved by {h}"))),
                );
                let applied = view.apply(
                    desired,
                    action,
                    Answer::Instance(Some(facts)),
                    Instant::now(),
                    wall,
                );
                // A slot refused for what its type cannot take holds no index for others to step past.
                match with_type_limits(desired, view.placement, view.interface) {
                    Some(Ok(index)) => {
                        book.insert(holder, (card, index));
                    }
                    _ => {
                        book.remove(&holder);
                    }
                }
                applied
            })
    }

    async fn step(&mut self, myself: &ActorRef<SlotMsg>) {
        if !self.view.observed {
            match ec2::refresh(&self.deps, &self.desired, &self.view).await {
                Ok(r) => self.view.refreshed(r, Instant::now()),
                Err(e) => {
                    tracing::debug!(error = %e, "could not observe the slot yet");
                    let d = self.steps.read_failed();
                    self.schedule(myself, d);
                    return;
                }
            }
        }
        let (decision, given_up) = self.view.next(&self.desired, Instant::now());
        if let Some(eni) = given_up {
            tracing::warn!(%eni, "no room to attach this ENI for a long while; deleting it");
            self.notify(notices::unattachable(&self.desired.key, &eni));
        }
        for d in &decision.discard {
            tracing::info!(eni = %d.eni_id, "handing a surplus ENI of this slot to cleanup");
            self.deps.cleanup.cast(CleanupMsg::Clean {
                eni_id: d.eni_id.clone(),
                owner: Some(self.deps.nodeeni_uid.clone()),
                reason: "duplicate",
                notify: None,
            });
            self.view.discard(&d.eni_id);
        }
        let action = decision.action;
        let phase = phase::phase_of(&action);
        if action == Action::Ready {
            self.refusal = None;
        }
        self.report(phase.clone());
        if action == Action::Ready {
            self.steps.ready();
            self.first_ready();
            return;
        }
        if matches!(action, Action::Create { .. }) && self.view.created_at.is_none() {
            metrics::histogram!(crate::telemetry::metric::LABEL_TO_CREATE_SECONDS)
                .record(self.desired_since.elapsed().as_secs_f64());
        }
        self.act(myself, action, phase).await;
    }

    /// Calls EC2 for `action` (unless a breaker holds the slot), takes in the answer and
    /// schedules the next step.
    async fn act(&mut self, myself: &ActorRef<SlotMsg>, action: Action, phase: SlotPhase) {
        let scope = Scope::of(&action, &self.desired);
        let holder = self.holder();
        let mut ec2 = self.deps.ec2.clone();
        if let Some(scope) = &scope {
            match self.deps.breakers.admit(scope, &holder, Instant::now()) {
                Admit::Hold { until, cause } => return self.held(myself, cause, until, phase),
                Admit::Probe => ec2 = ec2.with_priority(Priority::Background),
                Admit::Go => {}
            }
            ec2 = ec2.gated(breakers::gate(&self.deps.breakers, scope, &holder));
        }
        let wall = Timestamp::now();
        let stamp = self.view.stamp_for(&action, wall);
        let answer = ec2::execute(
            &ec2,
            &self.deps,
            &self.desired,
            &self.view,
            &action,
            stamp,
            wall,
        )
        .await;
        if let Some(scope) = &scope {
            let outcome = breakers::outcome_of(&answer, &action);
            self.deps
                .breakers
                .answered(scope, &holder, outcome, Instant::now());
        }
        if let Answer::Refused(r) = &answer
            && r.class == Refused::Withheld
            && let Some(scope) = &scope
            && let Admit::Hold { until, cause } =
                self.deps.breakers.admit(scope, &holder, Instant::now())
        {
            return self.held(myself, cause, until, phase);
        }
        if !matches!(
            action,
            Action::Observe | Action::Wait(_) | Action::Blocked(_)
        ) {
            // When the answer came, not when the step began: the call may have waited
            // for its token while a listing read the ENI as it was before the call.
            self.last_change = Some(Instant::now());
        }
        let applied = match answer {
            Answer::Instance(Some(facts)) => self.placed(&action, facts, wall),
            answer => self
                .view
                .apply(&self.desired, &action, answer, Instant::now(), wall),
        };
        let mut event = applied.event;
        match &event {
            Some(SlotEvent::Blocked { reason, error, .. }) => {
                let refusal = (*reason, error.to_string());
                self.refusal = Some(refusal.clone());
                self.report(phase);
                // One Warning per slot and cause: its repeats are in the status.
                if self.warned.as_ref() == Some(&refusal) {
                    event = None;
                } else {
                    self.warned = Some(refusal);
                }
            }
            _ if matches!(applied.next, Next::Continue | Next::Poll) => {
                self.refusal = None;
                self.warned = None;
            }
            _ => {}
        }
        if let Some(event) = event {
            self.notify(notices::of_event(&self.desired.key, event));
        }
        let delay = self.steps.after(applied.next);
        self.schedule(myself, delay);
    }

    /// A breaker holds the slot: it shows the breaker's cause and waits for the next
    /// probe (or to be woken when the breaker closes), sending nothing.
    fn held(&mut self, myself: &ActorRef<SlotMsg>, cause: Cause, until: Instant, phase: SlotPhase) {
        self.refusal = Some((cause.reason, cause.message));
        self.report(phase);
        let spread = Duration::from_millis(rand::random_range(0..5_000));
        let delay = until.saturating_duration_since(Instant::now()) + spread;
        self.schedule(myself, delay);
    }
}

impl Actor for SlotActor {
    type Msg = SlotMsg;
    type State = SlotState;
    type Arguments = SlotArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SlotMsg>,
        args: SlotArgs,
    ) -> Result<SlotState, ActorProcessingErr> {
        let seen = args
            .seen
            .map(|enis| ec2::to_seen_all(&enis, &args.deps.cluster, &args.deps.nodeeni_uid));
        let mut st = SlotState {
            id: myself.get_id(),
            desired: args.desired,
            view: SlotView::new(seen, args.memory),
            steps: Steps::new(args.deps.timing),
            deps: args.deps,
            updates: args.updates,
            desired_since: args.desired_since,
            last_change: None,
            reported: None,
            refusal: None,
            warned: None,
            attached_once: false,
        };
        // An ENI the NodeENI's listing found attached here when the slot started (a
        // restarted controller learning its slots again) was announced when it was
        // attached: no second Event, and no attach latency to record.
        st.attached_once = st
            .view
            .primary(&st.desired.key.instance_id)
            .is_some_and(|e| matches!(e.state, EniState::Attached { .. }));
        let me = myself.clone();
        let wake = Box::new(move || {
            let _ = me.cast(SlotMsg::Wake);
        });
        st.deps.breakers.joined(&st.holder(), wake);
        st.schedule(&myself, Duration::ZERO);
        Ok(st)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SlotMsg>,
        st: &mut SlotState,
    ) -> Result<(), ActorProcessingErr> {
        let holder = st.holder();
        st.deps
            .reservations
            .release(&st.desired.key.instance_id, &holder);
        st.deps.breakers.left(&holder);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SlotMsg>,
        msg: SlotMsg,
        st: &mut SlotState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SlotMsg::Update(desired) => {
                if *desired != st.desired {
                    st.desired = *desired;
                    st.view.respecified();
                    st.schedule(&myself, Duration::ZERO);
                }
            }
            SlotMsg::Observed(enis, taken) => {
                if st.last_change.is_none_or(|c| taken > c) {
                    let seen = ec2::to_seen_all(&enis, &st.deps.cluster, &st.deps.nodeeni_uid);
                    st.view.swept(seen);
                    st.schedule(&myself, Duration::ZERO);
                }
            }
            SlotMsg::Retire => {
                st.updates.send(SlotUpdate::Retired {
                    actor: myself.get_id(),
                    key: st.desired.key.clone(),
                    enis: st.view.ids_to_read(),
                });
                myself.stop(Some("slot no longer desired".into()));
            }
            SlotMsg::Wake => st.schedule(&myself, Duration::ZERO),
            SlotMsg::Step(epoch) => {
                if !st.steps.due(epoch) {
                    return Ok(());
                }
                let key = &st.desired.key;
                let span = tracing::info_span!("slot", nodeeni = %st.deps.nodeeni_name, node = %key.node, subnet = %key.subnet_id);
                st.step(&myself).instrument(span).await;
            }
        }
        Ok(())
    }
}
