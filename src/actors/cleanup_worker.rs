//! One cleanup worker: detaches an ENI, waits until EC2 reports it `available`, deletes
//! it. Every step re-reads the ENI first, so a repeated or resumed job is harmless, and
//! an ENI that does not carry this cluster's ownership tags is refused.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::time::Instant;

use super::cleanup::CleanupMsg;
use super::limited_ec2::LimitedEc2;
use crate::aws::{AttachmentStatus, Ec2, Ec2Error, EniStatus, Ownership, describe_eni};

/// Timing of a teardown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeardownPolicy {
    /// First wait between polls.
    pub poll_initial: Duration,
    /// Longest wait between polls.
    pub poll_max: Duration,
    /// Detach with `force` once a detach has been pending this long.
    pub force_after: Duration,
    /// Give up (the job fails and is retried later by its requester) after this long.
    pub give_up_after: Duration,
}

impl Default for TeardownPolicy {
    fn default() -> Self {
        TeardownPolicy {
            poll_initial: Duration::from_secs(1),
            poll_max: Duration::from_secs(10),
            force_after: Duration::from_secs(60),
            give_up_after: Duration::from_secs(600),
        }
    }
}

/// What a teardown ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeardownError {
    /// The ENI is not this cluster's: left alone.
    NotOwned,
    /// EC2 refused, or it took too long.
    Ec2(Ec2Error),
}

impl std::fmt::Display for TeardownError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TeardownError::NotOwned => {
                f.write_str("ENI does not carry this cluster's ownership tags; left alone")
            }
            TeardownError::Ec2(e) => write!(f, "{e}"),
        }
    }
}

enum Step {
    Done,
    Again,
    NotOwned,
}

/// Detaches and deletes `eni_id`; `Ok` also when it is already gone.
pub async fn teardown(
    ec2: &dyn Ec2,
    cluster: &str,
    eni_id: &str,
    policy: &TeardownPolicy,
) -> Result<(), TeardownError> {
    let start = Instant::now();
    let mut backoff = policy.poll_initial;
    let mut detach_since: Option<Instant> = None;
    loop {
        let step: Result<Step, Ec2Error> = async {
            let Some(eni) = describe_eni(ec2, eni_id).await? else {
                return Ok(Step::Done);
            };
            if !matches!(Ownership::of(&eni.tags, cluster), Ownership::Owned(_)) {
                return Ok(Step::NotOwned);
            }
            match &eni.attachment {
                Some(a) if a.status != AttachmentStatus::Detached => {
                    let pending_for = detach_since.map(|t| t.elapsed());
                    let force = pending_for.is_some_and(|p| p >= policy.force_after);
                    if a.status != AttachmentStatus::Detaching || force {
                        match ec2.detach_eni(&a.attachment_id, force).await {
                            Ok(()) | Err(Ec2Error::NotFound { .. }) => {}
                            Err(e) if e.is_retryable() => {}
                            Err(e) => return Err(e),
                        }
                        detach_since.get_or_insert_with(Instant::now);
                    }
                    Ok(Step::Again)
                }
                _ if eni.status == EniStatus::Detaching => Ok(Step::Again),
                _ => match ec2.delete_eni(eni_id).await {
                    Ok(()) | Err(Ec2Error::NotFound { .. }) => Ok(Step::Done),
                    Err(e) if e.is_retryable() => Ok(Step::Again),
                    Err(e) => Err(e),
                },
            }
        }
        .await;
        match step {
            Ok(Step::Done) => return Ok(()),
            Ok(Step::NotOwned) => return Err(TeardownError::NotOwned),
            Ok(Step::Again) => {}
            Err(e) if e.is_retryable() => {}
            Err(e) => return Err(TeardownError::Ec2(e)),
        }
        if start.elapsed() >= policy.give_up_after {
            return Err(TeardownError::Ec2(Ec2Error::transient(format!(
                "{eni_id} still not deleted after {:?}",
                policy.give_up_after
            ))));
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(policy.poll_max);
    }
}

/// Work for a worker.
pub struct WorkerMsg {
    /// The ENI to tear down.
    pub eni_id: String,
}

/// Arguments of a worker.
#[derive(Clone)]
pub struct WorkerArgs {
    /// EC2 at teardown priority.
    pub ec2: LimitedEc2,
    /// The cluster name (ownership check).
    pub cluster: String,
    /// Timing.
    pub policy: TeardownPolicy,
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
        let _enter = span.enter();
        let started = Instant::now();
        let result = teardown(&st.ec2, &st.cluster, &msg.eni_id, &st.policy).await;
        let outcome = match &result {
            Ok(()) => "deleted",
            Err(TeardownError::NotOwned) => "refused",
            Err(TeardownError::Ec2(_)) => "failed",
        };
        metrics::counter!("aws_multi_eni_cleanups_total", "outcome" => outcome).increment(1);
        metrics::histogram!("aws_multi_eni_cleanup_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        let _ = st.pool.cast(CleanupMsg::Done {
            eni_id: msg.eni_id,
            worker: st.index,
            result: result.map_err(|e| e.to_string()),
        });
        Ok(())
    }
}
