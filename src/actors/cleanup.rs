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
use crate::aws::Eni;
use crate::plan::orphans::DesiredSnapshot;
use crate::supervision::{ChildExit, RestartPolicy, RestartTracker};

mod jobs;
mod outcome;

pub use outcome::CleanupError;

/// Called once with the outcome of a cleanup (`Err` says why the ENI was not deleted).
pub type CleanupNotify = Box<dyn FnOnce(&str, Result<(), CleanupError>) + Send>;

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
        let Some(exit) = ChildExit::of(evt) else {
            return Ok(());
        };
        let Some(index) = st.workers.iter().position(|w| exit.is(w.actor.as_ref())) else {
            return Ok(());
        };
        let policy = st.args.restart;
        let slot = &mut st.workers[index];
        slot.actor = None;
        if let Some(job) = slot.busy.take() {
            st.queue.push_front(job);
        }
        let delay = exit
            .restart(
                &mut slot.restarts,
                &policy,
                "cleanup_worker",
                &format!("worker {index}"),
            )
            .delay;
        myself.send_after(delay, move || CleanupMsg::RestartWorker(index));
        Ok(())
    }
}
