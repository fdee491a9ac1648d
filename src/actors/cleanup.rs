//! The cleanup pool: `MAX_CONCURRENT_ENI_CLEANUP` workers detaching and deleting ENIs,
//! de-duplicated by ENI ID, plus the orphan sweep.
//!
//! A teardown is a few short steps (inspect and detach, then delete) run by the workers;
//! between them an ENI waits in the pool's detaching set, which is polled with one
//! batched describe per round, so no worker ever sits waiting for EC2 to finish a
//! detach and a handful of workers keep up with EC2's rate limits. Requests for an ENI
//! already in progress only add a notification. A failed worker is restarted under the
//! restart policy and its step goes back to the front of the queue.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::time::Instant;

use super::cleanup_sweep;
use super::cleanup_worker::{
    CleanupWorker, Step, StepResult, TeardownPolicy, WorkerArgs, WorkerMsg,
};
use super::limited_ec2::LimitedEc2;
use super::supervision::{RestartPolicy, RestartTracker};
use crate::aws::Eni;
use crate::plan::orphans::DesiredSnapshot;

/// Called once with the outcome of a cleanup (`Err` carries the reason).
pub type CleanupNotify = Box<dyn FnOnce(&str, Result<(), String>) + Send>;

/// Messages of the pool.
pub enum CleanupMsg {
    /// Detach and delete an ENI.
    Clean {
        /// The ENI.
        eni_id: String,
        /// Why (for logs).
        reason: &'static str,
        /// Told the outcome.
        notify: Option<CleanupNotify>,
    },
    /// A worker finished a step.
    Stepped {
        /// The ENI.
        eni_id: String,
        /// Worker index.
        worker: usize,
        /// Outcome.
        result: StepResult,
    },
    /// Internal: run a step again after a backoff.
    Requeue(String, Step),
    /// Internal: time to check the detaching ENIs.
    Poll,
    /// Internal: what the check found (IDs asked, ENIs found, or the failure).
    Polled(Vec<String>, Result<Vec<Eni>, String>),
    /// Sweep for orphans against the desired state.
    Sweep(DesiredSnapshot),
    /// Internal: the sweep's listing.
    SweepListed(DesiredSnapshot, Vec<Eni>),
    /// Internal: restart a failed worker.
    RestartWorker(usize),
    /// ENIs being cleaned up (tests, metrics).
    Pending(RpcReplyPort<usize>),
}

/// How the pool is set up.
#[derive(Clone)]
pub struct CleanupArgs {
    /// EC2 at teardown priority (the sweep listing drops to background).
    pub ec2: LimitedEc2,
    /// Cluster name (ownership).
    pub cluster: String,
    /// Number of workers.
    pub workers: usize,
    /// Teardown timing.
    pub teardown: TeardownPolicy,
    /// How long an ENI must stay an orphan before it is deleted.
    pub orphan_grace: Duration,
    /// Restart policy for workers.
    pub restart: RestartPolicy,
}

struct WorkerSlot {
    actor: Option<ActorRef<WorkerMsg>>,
    busy: Option<(String, Step)>,
    restarts: RestartTracker,
}

struct Job {
    notify: Vec<CleanupNotify>,
    started: Instant,
    retries: u32,
}

struct Detaching {
    since: Instant,
    forced: bool,
}

/// The pool's state.
pub struct CleanupState {
    pub(super) args: CleanupArgs,
    workers: Vec<WorkerSlot>,
    queue: VecDeque<(String, Step)>,
    jobs: HashMap<String, Job>,
    detaching: HashMap<String, Detaching>,
    polling: bool,
    pub(super) orphan_marks: HashMap<String, Instant>,
    pub(super) sweeping: bool,
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
        cluster: args.cluster.clone(),
        pool: myself.clone(),
        index,
    };
    let (actor, _) =
        Actor::spawn_linked(None, CleanupWorker, worker_args, myself.get_cell()).await?;
    Ok(actor)
}

impl CleanupState {
    fn dispatch(&mut self) {
        for slot in &mut self.workers {
            if slot.busy.is_some() {
                continue;
            }
            let Some(actor) = &slot.actor else { continue };
            let Some((eni_id, step)) = self.queue.pop_front() else {
                break;
            };
            if actor
                .cast(WorkerMsg {
                    eni_id: eni_id.clone(),
                    step: step.clone(),
                })
                .is_ok()
            {
                slot.busy = Some((eni_id, step));
            } else {
                self.queue.push_front((eni_id, step));
            }
        }
        metrics::gauge!("aws_multi_eni_cleanup_queue_depth").set(self.jobs.len() as f64);
    }

    /// Starts cleaning `eni_id` (or adds `notify` to the cleanup already running).
    pub(super) fn enqueue(&mut self, eni_id: String, notify: Option<CleanupNotify>) {
        match self.jobs.get_mut(&eni_id) {
            Some(job) => job.notify.extend(notify),
            None => {
                self.jobs.insert(
                    eni_id.clone(),
                    Job {
                        notify: notify.into_iter().collect(),
                        started: Instant::now(),
                        retries: 0,
                    },
                );
                self.queue.push_back((eni_id, Step::Inspect));
            }
        }
    }

    fn finish(&mut self, eni_id: &str, result: Result<(), String>) {
        self.detaching.remove(eni_id);
        let Some(job) = self.jobs.remove(eni_id) else {
            return;
        };
        let outcome = match &result {
            Ok(()) => {
                tracing::info!(eni = %eni_id, "ENI detached and deleted");
                "deleted"
            }
            Err(e) => {
                tracing::warn!(eni = %eni_id, error = %e, "ENI cleanup failed");
                if e.contains("ownership") {
                    "refused"
                } else {
                    "failed"
                }
            }
        };
        metrics::counter!("aws_multi_eni_cleanups_total", "outcome" => outcome).increment(1);
        metrics::histogram!("aws_multi_eni_cleanup_duration_seconds")
            .record(job.started.elapsed().as_secs_f64());
        for notify in job.notify {
            notify(eni_id, result.clone());
        }
    }

    fn schedule_poll(&mut self, myself: &ActorRef<CleanupMsg>) {
        if !self.polling && !self.detaching.is_empty() {
            self.polling = true;
            myself.send_after(self.args.teardown.poll_interval, || CleanupMsg::Poll);
        }
    }

    fn stepped(&mut self, myself: &ActorRef<CleanupMsg>, eni_id: String, result: StepResult) {
        let policy = self.args.teardown;
        match result {
            StepResult::Gone => self.finish(&eni_id, Ok(())),
            StepResult::NotOwned => self.finish(
                &eni_id,
                Err("the ENI does not carry this cluster's ownership tags; left alone".into()),
            ),
            StepResult::Failed(e) => self.finish(&eni_id, Err(e)),
            StepResult::Detaching => {
                self.detaching.entry(eni_id).or_insert(Detaching {
                    since: Instant::now(),
                    forced: false,
                });
                self.schedule_poll(myself);
            }
            StepResult::Retry(e) => {
                let Some(job) = self.jobs.get_mut(&eni_id) else {
                    return;
                };
                if job.started.elapsed() >= policy.give_up_after {
                    self.finish(
                        &eni_id,
                        Err(format!("gave up after {:?}: {e}", policy.give_up_after)),
                    );
                    return;
                }
                job.retries += 1;
                let delay = policy
                    .poll_interval
                    .saturating_mul(1 << job.retries.min(8))
                    .min(policy.retry_max);
                myself.send_after(delay, move || CleanupMsg::Requeue(eni_id, Step::Inspect));
            }
        }
    }

    /// Acts on a poll of the detaching ENIs: delete the available, force stuck detaches.
    fn polled(&mut self, myself: &ActorRef<CleanupMsg>, asked: Vec<String>, found: Vec<Eni>) {
        let policy = self.args.teardown;
        let by_id: HashMap<String, Eni> = found.into_iter().map(|e| (e.id.clone(), e)).collect();
        for id in asked {
            let Some(state) = self.detaching.get_mut(&id) else {
                continue;
            };
            let Some(eni) = by_id.get(&id) else {
                self.finish(&id, Ok(()));
                continue;
            };
            let attachment = eni
                .attachment
                .as_ref()
                .filter(|a| a.status != crate::aws::AttachmentStatus::Detached);
            match attachment {
                None if eni.status == crate::aws::EniStatus::Available => {
                    self.detaching.remove(&id);
                    self.queue.push_front((id, Step::Delete));
                }
                Some(a) if !state.forced && state.since.elapsed() >= policy.force_after => {
                    state.forced = true;
                    self.queue.push_front((
                        id,
                        Step::Detach {
                            attachment_id: a.attachment_id.clone(),
                            force: true,
                        },
                    ));
                }
                _ if state.since.elapsed() >= policy.give_up_after => {
                    self.finish(
                        &id,
                        Err(format!(
                            "still not detached after {:?}",
                            policy.give_up_after
                        )),
                    );
                }
                _ => {}
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
        let mut workers = Vec::new();
        for index in 0..args.workers.max(1) {
            workers.push(WorkerSlot {
                actor: Some(spawn_worker(&myself, &args, index).await?),
                busy: None,
                restarts: RestartTracker::default(),
            });
        }
        Ok(CleanupState {
            args,
            workers,
            queue: VecDeque::new(),
            jobs: HashMap::new(),
            detaching: HashMap::new(),
            polling: false,
            orphan_marks: HashMap::new(),
            sweeping: false,
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
                reason,
                notify,
            } => {
                tracing::debug!(eni = %eni_id, reason, "cleanup requested");
                st.enqueue(eni_id, notify);
            }
            CleanupMsg::Stepped {
                eni_id,
                worker,
                result,
            } => {
                if let Some(slot) = st.workers.get_mut(worker) {
                    slot.busy = None;
                }
                st.stepped(&myself, eni_id, result);
            }
            CleanupMsg::Requeue(eni_id, step) => {
                if st.jobs.contains_key(&eni_id) {
                    st.queue.push_back((eni_id, step));
                }
            }
            CleanupMsg::Poll => {
                let ids: Vec<String> = st.detaching.keys().cloned().collect();
                cleanup_sweep::poll(&myself, &st.args, ids);
            }
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
            CleanupMsg::Sweep(snapshot) => cleanup_sweep::start(&myself, st, snapshot),
            CleanupMsg::SweepListed(snapshot, enis) => cleanup_sweep::listed(st, snapshot, enis),
            CleanupMsg::RestartWorker(index) => {
                let actor = spawn_worker(&myself, &st.args, index).await?;
                if let Some(slot) = st.workers.get_mut(index) {
                    slot.actor = Some(actor);
                }
            }
            CleanupMsg::Pending(reply) => {
                let _ = reply.send(st.jobs.len());
            }
        }
        st.dispatch();
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<CleanupMsg>,
        evt: SupervisionEvent,
        st: &mut CleanupState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failed) = match &evt {
            SupervisionEvent::ActorFailed(cell, err) => {
                tracing::error!(error = %err, "cleanup worker failed");
                (cell.clone(), true)
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => (cell.clone(), false),
            _ => return Ok(()),
        };
        let Some(index) = st.workers.iter().position(|w| {
            w.actor
                .as_ref()
                .is_some_and(|a| a.get_id() == cell.get_id())
        }) else {
            return Ok(());
        };
        let policy = st.args.restart;
        let slot = &mut st.workers[index];
        slot.actor = None;
        if let Some(job) = slot.busy.take() {
            st.queue.push_front(job);
        }
        metrics::counter!("aws_multi_eni_actor_restarts_total", "kind" => "cleanup_worker")
            .increment(1);
        let delay = if failed {
            slot.restarts.on_failure(&policy, Instant::now()).delay
        } else {
            policy.initial_backoff
        };
        myself.send_after(delay, move || CleanupMsg::RestartWorker(index));
        Ok(())
    }
}
