//! One cleanup worker: runs single teardown steps (inspect, detach, delete), so a
//! worker is never blocked while an ENI detaches; the pool polls detaching ENIs in
//! batches and queues their deletion once EC2 reports them `available`. Every step
//! re-reads or re-checks the ENI, so repeating one is harmless, and an ENI that does
//! not carry this cluster's ownership tags is refused.

use std::time::Duration;
use tracing::Instrument;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::cleanup::CleanupMsg;
use super::limited_ec2::LimitedEc2;
use crate::aws::{AttachmentStatus, Ec2, Ec2Error, EniStatus, Ownership, describe_eni};

/// Timing of teardowns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeardownPolicy {
    /// How often detaching ENIs are checked (one batched describe per round).
    pub poll_interval: Duration,
    /// Longest wait before retrying a failed step (starts at `poll_interval`, doubles).
    pub retry_max: Duration,
    /// Detach with `force` once a detach has been pending this long.
    pub force_after: Duration,
    /// Give up (the requester retries later) after this long.
    pub give_up_after: Duration,
}

impl Default for TeardownPolicy {
    fn default() -> Self {
        TeardownPolicy {
            poll_interval: Duration::from_secs(1),
            retry_max: Duration::from_secs(10),
            force_after: Duration::from_secs(60),
            give_up_after: Duration::from_secs(600),
        }
    }
}

/// A teardown step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read the ENI and start: detach it if attached, delete it if available.
    Inspect,
    /// Detach (again, or forcibly).
    Detach {
        /// The attachment.
        attachment_id: String,
        /// Force the detach.
        force: bool,
    },
    /// Delete (EC2 reported it available).
    Delete,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    /// The ENI no longer exists (deleted now or before).
    Gone,
    /// The ENI is not this cluster's: left alone.
    NotOwned,
    /// Detaching (or still attached): the pool polls it.
    Detaching,
    /// A retryable failure.
    Retry(String),
    /// A failure retrying will not fix.
    Failed(String),
}

fn failed(e: Ec2Error) -> StepResult {
    if e.is_retryable() {
        StepResult::Retry(e.to_string())
    } else {
        StepResult::Failed(e.to_string())
    }
}

async fn delete(ec2: &dyn Ec2, eni_id: &str) -> StepResult {
    match ec2.delete_eni(eni_id).await {
        Ok(()) | Err(Ec2Error::NotFound { .. }) => StepResult::Gone,
        // Still attached after all: back to waiting.
        Err(Ec2Error::Conflict { .. }) => StepResult::Detaching,
        Err(e) => failed(e),
    }
}

async fn detach(ec2: &dyn Ec2, attachment_id: &str, force: bool) -> StepResult {
    match ec2.detach_eni(attachment_id, force).await {
        Ok(()) | Err(Ec2Error::NotFound { .. }) => StepResult::Detaching,
        Err(e) => failed(e),
    }
}

/// Runs one step for `eni_id`.
pub async fn run_step(ec2: &dyn Ec2, cluster: &str, eni_id: &str, step: &Step) -> StepResult {
    match step {
        Step::Inspect => {
            let eni = match describe_eni(ec2, eni_id).await {
                Ok(Some(e)) => e,
                Ok(None) => return StepResult::Gone,
                Err(e) => return failed(e),
            };
            if !matches!(Ownership::of(&eni.tags, cluster), Ownership::Owned(_)) {
                return StepResult::NotOwned;
            }
            match &eni.attachment {
                Some(a) if a.status == AttachmentStatus::Detaching => StepResult::Detaching,
                Some(a) if a.status != AttachmentStatus::Detached => {
                    detach(ec2, &a.attachment_id, false).await
                }
                _ if eni.status == EniStatus::Detaching => StepResult::Detaching,
                _ => delete(ec2, eni_id).await,
            }
        }
        Step::Detach {
            attachment_id,
            force,
        } => detach(ec2, attachment_id, *force).await,
        Step::Delete => delete(ec2, eni_id).await,
    }
}

/// Work for a worker.
pub struct WorkerMsg {
    /// The ENI.
    pub eni_id: String,
    /// The step.
    pub step: Step,
}

/// Arguments of a worker.
#[derive(Clone)]
pub struct WorkerArgs {
    /// EC2 at teardown priority.
    pub ec2: LimitedEc2,
    /// The cluster name (ownership check).
    pub cluster: String,
    /// The pool to report to.
    pub pool: ActorRef<CleanupMsg>,
    /// Its index in the pool.
    pub index: usize,
}

/// The worker actor.
pub struct CleanupWorker;

impl Actor for CleanupWorker {
    type Msg = WorkerMsg;
    type State = WorkerArgs;
    type Arguments = WorkerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<WorkerMsg>,
        args: WorkerArgs,
    ) -> Result<WorkerArgs, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<WorkerMsg>,
        msg: WorkerMsg,
        st: &mut WorkerArgs,
    ) -> Result<(), ActorProcessingErr> {
        let span = tracing::info_span!("cleanup", eni = %msg.eni_id);
        let result = run_step(&st.ec2, &st.cluster, &msg.eni_id, &msg.step)
            .instrument(span)
            .await;
        let _ = st.pool.cast(CleanupMsg::Stepped {
            eni_id: msg.eni_id,
            worker: st.index,
            result,
        });
        Ok(())
    }
}
