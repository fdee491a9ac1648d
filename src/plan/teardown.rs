//! The teardown of one ENI as pure rules: inspect → detach → wait (polled in batches) →
//! force after a while → delete; give up after a longer while (whoever asked retries).
//!
//! Every step starts from what EC2 shows, so repeating one is harmless; an ENI that does
//! not carry this cluster's ownership tags is refused at every look, never touched.

use std::time::Duration;

use thiserror::Error;
use tokio::time::Instant;

use super::refusal::{Refusal, Refused};

/// Timing of teardowns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeardownPolicy {
    /// How often detaching ENIs are checked (one batched describe per round).
    pub poll_interval: Duration,
    /// Longest wait before retrying a failed step (starts at `poll_interval`, doubles).
    pub retry_max: Duration,
    /// Detach with `force` once a detach has been pending this long.
    pub force_after: Duration,
    /// Give up (the requester retries later) after this long since the first step, and
    /// at least [`MIN_ATTEMPTS`] failed steps.
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

/// One call of a teardown.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Step {
    /// Read the ENI, then detach it if attached or delete it if available.
    Inspect,
    /// Detach (again, or forcibly).
    Detach {
        attachment_id: String,
        /// Force the detach.
        force: bool,
    },
    /// Delete (EC2 reported it available).
    Delete,
}

/// An ENI being torn down, as one describe shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Seen {
    /// Not found: deleted (now or before).
    Gone,
    /// Without this cluster's ownership tags.
    NotOwned,
    /// Attached or attaching.
    Attached { attachment_id: String },
    /// Detaching; the attachment, if EC2 still shows it.
    Detaching { attachment_id: Option<String> },
    /// Not attached.
    Available,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult<E> {
    /// The ENI no longer exists.
    Gone,
    /// The ENI is not this cluster's: left alone.
    NotOwned,
    /// Detaching (or still attached): polled until available.
    Detaching,
    /// A failure a later try may get past.
    Retry(E),
    /// A transient failure (5xx, timeout): tried again soon.
    RetrySoon(E),
    /// A failure retrying will not fix.
    Failed(E),
}

/// Why a teardown ended without deleting its ENI, with the stable label of
/// `aws_multi_eni_cleanups_total{outcome}`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TeardownError<E: std::fmt::Display> {
    /// The ENI does not carry this cluster's ownership tags: never touched.
    #[error("the ENI does not carry this cluster's ownership tags; left alone")]
    NotOwned,
    /// EC2 kept failing, or the detach did not finish, for longer than allowed.
    #[error("gave up after {after:?}: {}", last.as_ref().map_or("still not detached".to_string(), |e| e.to_string()))]
    GaveUp {
        /// How long it tried.
        after: Duration,
        /// The last error (`None`: the detach never finished).
        last: Option<E>,
    },
    /// A failure the same call will not get past.
    #[error("{0}")]
    Failed(E),
}

impl<E: std::fmt::Display> TeardownError<E> {
    /// The `outcome` label of `aws_multi_eni_cleanups_total`.
    pub fn label(&self) -> &'static str {
        match self {
            TeardownError::NotOwned => "refused",
            TeardownError::GaveUp { .. } | TeardownError::Failed(_) => "failed",
        }
    }
}

/// What to do after looking at the ENI: the call to make, or the result without one.
pub fn inspect<E>(seen: &Seen) -> Result<Step, StepResult<E>> {
    match seen {
        Seen::Gone => Err(StepResult::Gone),
        Seen::NotOwned => Err(StepResult::NotOwned),
        Seen::Detaching { .. } => Err(StepResult::Detaching),
        Seen::Attached { attachment_id } => Ok(Step::Detach {
            attachment_id: attachment_id.clone(),
            force: false,
        }),
        Seen::Available => Ok(Step::Delete),
    }
}

/// How a detach or delete call ended.
pub fn after_call<E>(step: &Step, answer: Result<(), Refusal<E>>) -> StepResult<E> {
    let deleting = matches!(step, Step::Delete);
    match answer {
        Ok(()) if deleting => StepResult::Gone,
        Ok(()) => StepResult::Detaching,
        Err(r) => match r.class {
            Refused::NotFound | Refused::InstanceGone if deleting => StepResult::Gone,
            // The attachment is gone: the ENI is detached or on its way.
            Refused::NotFound | Refused::InstanceGone => StepResult::Detaching,
            // Still attached after all: back to waiting.
            Refused::Conflict if deleting => StepResult::Detaching,
            _ => StepResult::of_refusal(r),
        },
    }
}

impl<E> StepResult<E> {
    /// The result of a call refused with `r`: retried (soon after a transient failure),
    /// or failed.
    pub fn of_refusal(r: Refusal<E>) -> Self {
        match r.class {
            Refused::Transient => StepResult::RetrySoon(r.error),
            _ if r.retryable() => StepResult::Retry(r.error),
            _ => StepResult::Failed(r.error),
        }
    }
}

/// A teardown in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    /// When it was asked for (it may wait in the pool's queue long after).
    pub queued: Instant,
    /// When its first step ran: the give-up clock starts there, not in the queue.
    pub first_step: Option<Instant>,
    /// Failed steps so far.
    pub retries: u32,
}

impl Job {
    /// A job asked for at `now`, not run yet.
    pub fn queued(now: Instant) -> Self {
        Job {
            queued: now,
            first_step: None,
            retries: 0,
        }
    }

    /// Its step is handed to a worker at `now`.
    pub fn stepping(&mut self, now: Instant) {
        self.first_step.get_or_insert(now);
    }
}

/// A teardown that keeps failing is given up only after this many failed steps, however
/// long it has been running: a teardown that waited in a long queue and then met one
/// throttle or server error is retried, not abandoned.
pub const MIN_ATTEMPTS: u32 = 5;

/// Whether a job that failed its `retries + 1`-th step at `now` has tried long enough.
fn tried_enough(job: &Job, now: Instant, policy: &TeardownPolicy) -> bool {
    let since = job.first_step.unwrap_or(now);
    job.retries + 1 >= MIN_ATTEMPTS && now.duration_since(since) >= policy.give_up_after
}

/// What the pool does with a job after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobNext<E: std::fmt::Display> {
    /// It is over: deleted, or not.
    Finish(Result<(), TeardownError<E>>),
    /// Detaching: poll it with the others.
    Watch,
    /// Inspect again after this long.
    RetryIn(Duration),
}

/// Decides what follows a step's result, counting retries on `job`.
pub fn on_step<E: std::fmt::Display>(
    job: &mut Job,
    result: StepResult<E>,
    now: Instant,
    policy: &TeardownPolicy,
) -> JobNext<E> {
    match result {
        StepResult::Gone => JobNext::Finish(Ok(())),
        StepResult::NotOwned => JobNext::Finish(Err(TeardownError::NotOwned)),
        StepResult::Failed(e) => JobNext::Finish(Err(TeardownError::Failed(e))),
        StepResult::Detaching => JobNext::Watch,
        StepResult::Retry(e) | StepResult::RetrySoon(e) if tried_enough(job, now, policy) => {
            JobNext::Finish(Err(TeardownError::GaveUp {
                after: policy.give_up_after,
                last: Some(e),
            }))
        }
        StepResult::RetrySoon(_) => {
            job.retries += 1;
            JobNext::RetryIn(crate::plan::refusal::retry_soon(job.retries))
        }
        StepResult::Retry(_) => {
            job.retries += 1;
            JobNext::RetryIn(
                policy
                    .poll_interval
                    .saturating_mul(1 << job.retries.min(8))
                    .min(policy.retry_max),
            )
        }
    }
}

/// A detaching ENI the pool polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    /// Since when it has been detaching.
    pub since: Instant,
    /// Whether a forced detach was sent.
    pub forced: bool,
}

/// What a poll of a detaching ENI leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollNext<E: std::fmt::Display> {
    /// It is over.
    Finish(Result<(), TeardownError<E>>),
    /// Run this step next (ahead of new work: the ENI is nearly done).
    Run(Step),
    /// Keep polling.
    Wait,
}

/// Decides what a poll's view of a detaching ENI leads to, marking `watch` forced when
/// a forced detach is due.
pub fn on_poll<E: std::fmt::Display>(
    watch: &mut Watch,
    seen: &Seen,
    now: Instant,
    policy: &TeardownPolicy,
) -> PollNext<E> {
    let waited = now.duration_since(watch.since);
    match seen {
        Seen::Gone => PollNext::Finish(Ok(())),
        Seen::NotOwned => PollNext::Finish(Err(TeardownError::NotOwned)),
        Seen::Available => PollNext::Run(Step::Delete),
        Seen::Attached { attachment_id }
        | Seen::Detaching {
            attachment_id: Some(attachment_id),
        } if !watch.forced && waited >= policy.force_after => {
            watch.forced = true;
            PollNext::Run(Step::Detach {
                attachment_id: attachment_id.clone(),
                force: true,
            })
        }
        _ if waited >= policy.give_up_after => PollNext::Finish(Err(TeardownError::GaveUp {
            after: policy.give_up_after,
            last: None,
        })),
        _ => PollNext::Wait,
    }
}

#[cfg(test)]
mod tests;
