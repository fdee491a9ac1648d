//! The cleanup pool: `MAX_CONCURRENT_ENI_CLEANUP` workers detaching and deleting ENIs in
//! parallel, de-duplicated by ENI ID, plus the orphan sweep.
//!
//! Requests for an ENI already queued or in progress only add a notification. A worker
//! that fails is restarted under the restart policy and its job goes back to the front
//! of the queue. The sweep lists every ENI this cluster owns (in a background task, at
//! background priority) and queues the orphans that stayed orphans for a grace period.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::time::Instant;

use super::cleanup_worker::{CleanupWorker, TeardownPolicy, WorkerArgs, WorkerMsg};
use super::limited_ec2::LimitedEc2;
use super::supervision::{RestartPolicy, RestartTracker};
use crate::aws::{Eni, EniStatus, Ownership, describe_all_enis, ownership};
use crate::plan::orphans::{DesiredSnapshot, OwnedEniView, due_for_deletion, is_orphan};

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
    /// A worker finished.
    Done {
        /// The ENI.
        eni_id: String,
        /// Worker index.
        worker: usize,
        /// Outcome.
        result: Result<(), String>,
    },
    /// Sweep for orphans against the desired state.
    Sweep(DesiredSnapshot),
    /// Internal: the sweep's listing.
    SweepListed(DesiredSnapshot, Vec<Eni>),
    /// Internal: restart a failed worker.
    RestartWorker(usize),
    /// Jobs queued or running (tests, metrics).
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
    busy: Option<String>,
    restarts: RestartTracker,
}

/// The pool's state.
pub struct CleanupState {
    args: CleanupArgs,
    workers: Vec<WorkerSlot>,
    queue: VecDeque<String>,
    waiting: HashMap<String, Vec<CleanupNotify>>,
    orphan_marks: HashMap<String, Instant>,
    sweeping: bool,
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
        policy: args.teardown,
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
            let Some(eni_id) = self.queue.pop_front() else {
                break;
            };
            if actor
                .cast(WorkerMsg {
                    eni_id: eni_id.clone(),
                })
                .is_ok()
            {
                slot.busy = Some(eni_id);
            } else {
                self.queue.push_front(eni_id);
            }
        }
        metrics::gauge!("aws_multi_eni_cleanup_queue_depth").set(self.queue.len() as f64);
    }

    fn enqueue(&mut self, eni_id: String, notify: Option<CleanupNotify>) {
        let fresh = !self.waiting.contains_key(&eni_id);
        let waiters = self.waiting.entry(eni_id.clone()).or_default();
        waiters.extend(notify);
        if fresh {
            self.queue.push_back(eni_id);
        }
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
            waiting: HashMap::new(),
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
            CleanupMsg::Done {
                eni_id,
                worker,
                result,
            } => {
                if let Some(slot) = st.workers.get_mut(worker) {
                    slot.busy = None;
                }
                match &result {
                    Ok(()) => tracing::info!(eni = %eni_id, "ENI detached and deleted"),
                    Err(e) => tracing::warn!(eni = %eni_id, error = %e, "ENI cleanup failed"),
                }
                for notify in st.waiting.remove(&eni_id).unwrap_or_default() {
                    notify(&eni_id, result.clone());
                }
            }
            CleanupMsg::Sweep(snapshot) => {
                if !st.sweeping {
                    st.sweeping = true;
                    let ec2 = st
                        .args
                        .ec2
                        .with_priority(super::limiter::Priority::Background);
                    let filter = ownership::owned_by(&st.args.cluster);
                    let me = myself.clone();
                    tokio::spawn(async move {
                        let listed = describe_all_enis(&ec2, &filter).await.unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "orphan sweep could not list ENIs");
                            Vec::new()
                        });
                        let _ = me.cast(CleanupMsg::SweepListed(snapshot, listed));
                    });
                }
            }
            CleanupMsg::SweepListed(snapshot, enis) => {
                st.sweeping = false;
                let orphans: Vec<String> = enis
                    .iter()
                    .filter_map(|e| match Ownership::of(&e.tags, &st.args.cluster) {
                        Ownership::Owned(o) => Some(OwnedEniView {
                            eni_id: e.id.clone(),
                            nodeeni_uid: o.nodeeni_uid,
                            instance_id: o.instance_id,
                            subnet_id: o.subnet_id,
                            available: e.status == EniStatus::Available,
                        }),
                        _ => None,
                    })
                    .filter(|v| is_orphan(v, &snapshot))
                    .map(|v| v.eni_id)
                    .collect();
                metrics::counter!("aws_multi_eni_orphans_found_total")
                    .increment(orphans.len() as u64);
                let due = due_for_deletion(
                    &mut st.orphan_marks,
                    &orphans,
                    Instant::now(),
                    st.args.orphan_grace,
                );
                for eni_id in due {
                    tracing::info!(eni = %eni_id, "deleting orphaned ENI");
                    metrics::counter!("aws_multi_eni_orphans_deleted_total").increment(1);
                    st.enqueue(eni_id, None);
                }
            }
            CleanupMsg::RestartWorker(index) => {
                let actor = spawn_worker(&myself, &st.args, index).await?;
                if let Some(slot) = st.workers.get_mut(index) {
                    slot.actor = Some(actor);
                }
            }
            CleanupMsg::Pending(reply) => {
                let _ = reply.send(st.waiting.len());
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
