//! The cleanup pool: `MAX_CONCURRENT_ENI_CLEANUP` workers detaching and deleting ENIs,
//! de-duplicated by ENI ID, plus the orphan sweep.
//!
//! A teardown is a few short steps ([`crate::plan::teardown`] has the rules): new
//! teardowns are inspected together, up to 200 ENIs per describe (one read where each
//! used to take its own: at 2,000 departed nodes those reads filled the describe bucket
//! the new nodes' slots poll with), the detach and delete calls are run by the workers,
//! and between them an ENI waits in the pool's detaching set, polled with one batched
//! describe per round, so no worker ever sits waiting for EC2 to finish a detach and a
//! handful of workers keep up with EC2's rate limits. Requests for an ENI already
//! in progress only add a notification. A failed worker is restarted under the restart
//! policy and its step goes back to the front of the queue.
//!
//! `ractor::factory` was weighed for this pool: its workers, key-routed queues and
//! dead-man switch fit a stream of independent jobs, but a teardown is several steps
//! with a batched poll between them, shared de-duplicated jobs, and steps that must go
//! back to the front of the queue when a worker fails; those would live outside the
//! factory anyway, so the pool keeps its own small queue.

mod jobs;
mod listing;
mod msg;
mod sweep;
mod worker;

use std::collections::HashMap;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::time::Instant;

use jobs::Jobs;
pub use msg::{CleanupError, CleanupMsg, CleanupNotify, SweepFindings, Untouched, Why};
use sweep::Sweep;
use worker::{CleanupWorker, StepDone, WorkerArgs, WorkerMsg};

use super::limiter::LimitedEc2;
use crate::actors::refusal::classified;
use crate::aws::{Ec2Error, Eni};
use crate::plan::teardown::{
    JobNext, PollNext, Step, StepResult, TeardownPolicy, inspect, on_poll, on_step,
};
use crate::supervision::{Children, Outbox, RestartPolicy};

/// How the pool is set up.
#[derive(Clone)]
pub struct CleanupArgs {
    /// EC2 at teardown priority (the sweep listing drops to background).
    pub ec2: LimitedEc2,
    /// The owning cluster.
    pub cluster: crate::aws::ownership::ClusterIdentity,
    /// Number of workers.
    pub workers: usize,
    /// Teardown timing.
    pub teardown: TeardownPolicy,
    /// How long an ENI must stay an orphan before it is deleted.
    pub orphan_grace: Duration,
    /// Restart policy for workers.
    pub restart: RestartPolicy,
    /// Where the sweep's findings go (the root reports them as Events).
    pub findings: Outbox<SweepFindings>,
}

/// The pool's state.
pub struct CleanupState {
    args: CleanupArgs,
    workers: Children<usize>,
    busy: Vec<Option<(String, Step)>>,
    jobs: Jobs,
    /// A batched inspection is under way (one at a time).
    inspecting: bool,
    polling: bool,
    sweep: Sweep,
}

/// The pool actor.
pub struct CleanupPool;

async fn spawn_worker(
    myself: &ActorRef<CleanupMsg>,
    args: &CleanupArgs,
    index: usize,
) -> Result<ActorRef<WorkerMsg>, ActorProcessingErr> {
    let worker_args = WorkerArgs {
        ec2: args.ec2.clone(),
        done: Outbox::to(myself),
        index,
    };
    let (actor, _) =
        Actor::spawn_linked(None, CleanupWorker, worker_args, myself.get_cell()).await?;
    Ok(actor)
}

impl CleanupState {
    /// Starts the next batched inspection, if none is under way, and hands queued calls
    /// to idle workers.
    fn dispatch(&mut self, myself: &ActorRef<CleanupMsg>) {
        if !self.inspecting {
            let ids = self.jobs.next_inspections(listing::BATCH);
            if !ids.is_empty() {
                self.inspecting = true;
                listing::inspect(myself, &self.args.ec2, ids);
            }
        }
        for index in 0..self.busy.len() {
            if self.busy[index].is_some() {
                continue;
            }
            let Some(actor) = self.workers.get::<WorkerMsg>(&index) else {
                continue;
            };
            let Some((eni_id, step)) = self.jobs.next_step() else {
                break;
            };
            let msg = WorkerMsg {
                eni_id: eni_id.clone(),
                step: step.clone(),
            };
            if actor.cast(msg).is_ok() {
                self.busy[index] = Some((eni_id, step));
            } else {
                self.jobs.queue_front(eni_id, step);
            }
        }
        metrics::gauge!(crate::telemetry::metric::CLEANUP_QUEUE_DEPTH).set(self.jobs.len() as f64);
    }

    fn finish(&mut self, eni_id: &str, result: Result<(), CleanupError>) {
        let outcome = match &result {
            Ok(()) => {
                tracing::info!(eni = %eni_id, "ENI detached and deleted");
                "deleted"
            }
            Err(e) => {
                tracing::warn!(eni = %eni_id, error = %e, "ENI cleanup failed");
                e.label()
            }
        };
        if let Some(started) = self.jobs.finish(eni_id, result) {
            metrics::counter!(crate::telemetry::metric::CLEANUPS_TOTAL, "outcome" => outcome)
                .increment(1);
            metrics::histogram!(crate::telemetry::metric::CLEANUP_DURATION_SECONDS)
                .record(started.elapsed().as_secs_f64());
        }
    }

    fn schedule_poll(&mut self, myself: &ActorRef<CleanupMsg>) {
        if !self.polling && self.jobs.any_watched() {
            self.polling = true;
            myself.send_after(self.args.teardown.poll_interval, || CleanupMsg::Poll);
        }
    }

    fn stepped(&mut self, myself: &ActorRef<CleanupMsg>, done: StepDone) {
        if let Some(busy) = self.busy.get_mut(done.worker) {
            *busy = None;
        }
        self.step_ended(myself, done.eni_id, done.result);
    }

    /// What follows a step's result for `eni_id`.
    fn step_ended(
        &mut self,
        myself: &ActorRef<CleanupMsg>,
        eni_id: String,
        result: StepResult<Ec2Error>,
    ) {
        let now = Instant::now();
        let policy = self.args.teardown;
        let Some(job) = self.jobs.job(&eni_id) else {
            return;
        };
        match on_step(job, result, now, &policy) {
            JobNext::Finish(result) => self.finish(&eni_id, result),
            JobNext::Watch => {
                self.jobs.watch(eni_id, now);
                self.schedule_poll(myself);
            }
            JobNext::RetryIn(delay) => {
                // Jittered: the jobs of a batch that failed together retry apart.
                let delay = delay.mul_f64(0.5 + 0.5 * rand::random::<f64>());
                myself.send_after(delay, move || CleanupMsg::Requeue(eni_id, Step::Inspect));
            }
        }
    }

    /// A batched inspection's answer: each ENI's call queued for the workers (ahead of
    /// new work), or its teardown decided without one; a failed read fails each
    /// inspection, retried under the rules.
    fn inspected(
        &mut self,
        myself: &ActorRef<CleanupMsg>,
        asked: Vec<String>,
        found: Result<Vec<Eni>, Ec2Error>,
    ) {
        self.inspecting = false;
        let found = match classified(found) {
            Ok(found) => found,
            Err(refusal) => {
                for id in asked {
                    let result = StepResult::of_refusal(refusal.clone());
                    self.step_ended(myself, id, result);
                }
                return;
            }
        };
        let by_id: HashMap<&str, &Eni> = found.iter().map(|e| (e.id.as_str(), e)).collect();
        for id in asked {
            let owner = self.jobs.owner(&id);
            let eni = by_id.get(id.as_str()).copied();
            let seen = worker::seen(eni, &self.args.cluster, owner.as_deref());
            match inspect(&seen) {
                Ok(step) => self.jobs.queue_front(id, step),
                Err(result) => self.step_ended(myself, id, result),
            }
        }
    }

    /// The sweep's listing: orphans past their grace are torn down, findings go to
    /// the root.
    fn sweep_listed(&mut self, snapshot: &crate::plan::orphans::DesiredSnapshot, enis: &[Eni]) {
        let swept = self
            .sweep
            .listed(&self.args.cluster, snapshot, enis, self.args.orphan_grace);
        for eni_id in swept.due {
            tracing::info!(eni = %eni_id, "deleting orphaned ENI");
            metrics::counter!(crate::telemetry::metric::ORPHANS_DELETED_TOTAL).increment(1);
            self.jobs.add(eni_id, None, None, Instant::now());
        }
        if let Some(findings) = swept.findings {
            self.args.findings.send(findings);
        }
    }

    fn polled(&mut self, myself: &ActorRef<CleanupMsg>, asked: Vec<String>, found: Vec<Eni>) {
        let now = Instant::now();
        let policy = self.args.teardown;
        let by_id: HashMap<&str, &Eni> = found.iter().map(|e| (e.id.as_str(), e)).collect();
        for id in asked {
            let owner = self.jobs.owner(&id);
            let eni = by_id.get(id.as_str()).copied();
            let seen = worker::seen(eni, &self.args.cluster, owner.as_deref());
            let Some(watch) = self.jobs.watch_of(&id) else {
                continue;
            };
            match on_poll(watch, &seen, now, &policy) {
                PollNext::Finish(result) => self.finish(&id, result),
                PollNext::Run(step) => {
                    if step == Step::Delete {
                        self.jobs.unwatch(&id);
                    }
                    self.jobs.queue_front(id, step);
                }
                PollNext::Wait => {}
            }
        }
        self.schedule_poll(myself);
    }
}

impl Actor for CleanupPool {
    type Msg = CleanupMsg;
    type State = CleanupState;
    type Arguments = CleanupArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<CleanupMsg>,
        args: CleanupArgs,
    ) -> Result<CleanupState, ActorProcessingErr> {
        let count = args.workers.max(1);
        let mut workers = Children::new("cleanup_worker", args.restart);
        for index in 0..count {
            workers.started(index, &spawn_worker(&myself, &args, index).await?);
        }
        Ok(CleanupState {
            args,
            workers,
            busy: vec![None; count],
            jobs: Jobs::default(),
            inspecting: false,
            polling: false,
            sweep: Sweep::default(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<CleanupMsg>,
        msg: CleanupMsg,
        st: &mut CleanupState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CleanupMsg::Clean {
                eni_id,
                owner,
                reason,
                notify,
            } => {
                tracing::debug!(eni = %eni_id, reason, "cleanup requested");
                st.jobs.add(eni_id, owner, notify, Instant::now());
            }
            CleanupMsg::Stepped(done) => st.stepped(&myself, done),
            CleanupMsg::Requeue(eni_id, step) => st.jobs.queue_back(eni_id, step),
            CleanupMsg::Poll => listing::poll(&myself, &st.args.ec2, st.jobs.watched()),
            CleanupMsg::Inspected(asked, found) => st.inspected(&myself, asked, found),
            CleanupMsg::Polled(asked, found) => {
                st.polling = false;
                match found {
                    Ok(enis) => st.polled(&myself, asked, enis),
                    Err(e) => {
                        tracing::debug!(error = %e, "could not poll detaching ENIs");
                        st.schedule_poll(&myself);
                    }
                }
            }
            CleanupMsg::Sweep(snapshot) => {
                if st.sweep.start() {
                    listing::list_owned(&myself, &st.args.ec2, &st.args.cluster, snapshot);
                }
            }
            CleanupMsg::SweepListed(snapshot, Ok(enis)) => st.sweep_listed(&snapshot, &enis),
            CleanupMsg::SweepListed(_, Err(e)) => {
                st.sweep.failed();
                tracing::warn!(error = %e, "orphan sweep could not list ENIs; the next sweep tries again");
            }
            CleanupMsg::RestartWorker(index) => {
                let actor = spawn_worker(&myself, &st.args, index).await?;
                st.workers.started(index, &actor);
            }
            CleanupMsg::Pending(reply) => {
                let _ = reply.send(st.jobs.len());
            }
        }
        st.dispatch(&myself);
        Ok(())
    }

    /// Stops the workers before the pool goes: each finishes the step under way.
    async fn post_stop(
        &self,
        myself: ActorRef<CleanupMsg>,
        _st: &mut CleanupState,
    ) -> Result<(), ActorProcessingErr> {
        myself
            .stop_children_and_wait(Some("cleanup pool stopping".into()), None)
            .await;
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<CleanupMsg>,
        evt: SupervisionEvent,
        st: &mut CleanupState,
    ) -> Result<(), ActorProcessingErr> {
        let Some(exited) = st.workers.exited(&evt) else {
            return Ok(());
        };
        let index = exited.key;
        if let Some((eni_id, step)) = st.busy.get_mut(index).and_then(Option::take) {
            st.jobs.queue_front(eni_id, step);
        }
        let delay = st.workers.restart(&exited).delay;
        myself.send_after(delay, move || CleanupMsg::RestartWorker(index));
        Ok(())
    }
}
