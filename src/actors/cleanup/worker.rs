//! One cleanup worker: runs single teardown calls (detach, delete) and reports each
//! result; the rules deciding the step and reading its answer are
//! [`crate::plan::teardown`]. A worker never reads: the pool inspects new teardowns and
//! polls detaching ENIs in batched reads.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::Instrument;

use crate::actors::limiter::LimitedEc2;
use crate::actors::refusal::classified;
use crate::aws::ownership::ClusterIdentity;
use crate::aws::{AttachmentStatus, Ec2, Ec2Error, Eni, EniStatus, Ownership};
use crate::plan::teardown::{Seen, Step, StepResult, after_call};
use crate::supervision::Outbox;

/// A teardown ENI as the rules see it, from one describe (`None`: not found); `owner`
/// is the UID of the NodeENI that asked for it, if one did.
pub fn seen(eni: Option<&Eni>, cluster: &ClusterIdentity, owner: Option<&str>) -> Seen {
    let Some(eni) = eni else {
        return Seen::Gone;
    };
    let ownership = Ownership::of(&eni.tags, cluster);
    let managed = match owner {
        Some(uid) => ownership.managed_by(uid).is_some(),
        None => ownership.managed().is_some(),
    };
    if !managed {
        return Seen::NotOwned;
    }
    match &eni.attachment {
        Some(a) if a.status == AttachmentStatus::Detaching => Seen::Detaching {
            attachment_id: Some(a.attachment_id.clone()),
        },
        Some(a) if a.status != AttachmentStatus::Detached => Seen::Attached {
            attachment_id: a.attachment_id.clone(),
        },
        _ if eni.status == EniStatus::Detaching => Seen::Detaching {
            attachment_id: None,
        },
        _ => Seen::Available,
    }
}

/// Runs one call of a teardown for `eni_id`. An inspection is the pool's batched read
/// ([`super::listing::inspect`]), never a worker's: asked for one, a worker makes no
/// call and reports the ENI as still to be looked at (detaching: polled).
pub async fn run_step(ec2: &dyn Ec2, eni_id: &str, step: &Step) -> StepResult<Ec2Error> {
    let answer = match step {
        Step::Inspect => return StepResult::Detaching,
        Step::Detach {
            attachment_id,
            force,
        } => ec2.detach_eni(attachment_id, *force).await,
        Step::Delete => ec2.delete_eni(eni_id).await,
    };
    after_call(step, classified(answer))
}

/// A step the worker ran, for the pool.
pub struct StepDone {
    pub eni_id: String,
    /// Which worker ran it.
    pub worker: usize,
    /// How it ended.
    pub result: StepResult<Ec2Error>,
}

/// Work for a worker.
pub struct WorkerMsg {
    pub eni_id: String,
    pub step: Step,
}

/// Arguments of a worker.
#[derive(Clone)]
pub struct WorkerArgs {
    /// EC2 at teardown priority.
    pub ec2: LimitedEc2,
    /// Where results go.
    pub done: Outbox<StepDone>,
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
        let result = run_step(&st.ec2, &msg.eni_id, &msg.step)
            .instrument(span)
            .await;
        st.done.send(StepDone {
            eni_id: msg.eni_id,
            worker: st.index,
            result,
        });
        Ok(())
    }
}
