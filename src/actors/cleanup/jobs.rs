//! The pool's bookkeeping: the queue of steps handed to idle workers, the jobs with
//! whoever waits on them, and the detaching set polled in batches.

use std::collections::HashMap;

use ractor::ActorRef;
use tokio::time::Instant;

use super::{CleanupError, CleanupMsg, CleanupNotify, CleanupState, Detaching, Job};
use crate::actors::cleanup_worker::{Step, StepResult, WorkerMsg};
use crate::aws::{AttachmentStatus, Eni, EniStatus};

impl CleanupState {
    pub(super) fn dispatch(&mut self) {
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
        metrics::gauge!(crate::telemetry::metric::CLEANUP_QUEUE_DEPTH).set(self.jobs.len() as f64);
    }

    /// Starts cleaning `eni_id` (or adds `notify` to the cleanup already running).
    pub(in crate::actors) fn enqueue(&mut self, eni_id: String, notify: Option<CleanupNotify>) {
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

    pub(super) fn finish(&mut self, eni_id: &str, result: Result<(), CleanupError>) {
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
                e.label()
            }
        };
        metrics::counter!(crate::telemetry::metric::CLEANUPS_TOTAL, "outcome" => outcome)
            .increment(1);
        metrics::histogram!(crate::telemetry::metric::CLEANUP_DURATION_SECONDS)
            .record(job.started.elapsed().as_secs_f64());
        for notify in job.notify {
            notify(eni_id, result.clone());
        }
    }

    pub(super) fn schedule_poll(&mut self, myself: &ActorRef<CleanupMsg>) {
        if !self.polling && !self.detaching.is_empty() {
            self.polling = true;
            myself.send_after(self.args.teardown.poll_interval, || CleanupMsg::Poll);
        }
    }

    pub(super) fn stepped(
        &mut self,
        myself: &ActorRef<CleanupMsg>,
        eni_id: String,
        result: StepResult,
    ) {
        let policy = self.args.teardown;
        match result {
            StepResult::Gone => self.finish(&eni_id, Ok(())),
            StepResult::NotOwned => self.finish(&eni_id, Err(CleanupError::NotOwned)),
            StepResult::Failed(e) => self.finish(&eni_id, Err(CleanupError::Failed(e))),
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
                        Err(CleanupError::GaveUp {
                            after: policy.give_up_after,
                            last: e,
                        }),
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
    pub(super) fn polled(
        &mut self,
        myself: &ActorRef<CleanupMsg>,
        asked: Vec<String>,
        found: Vec<Eni>,
    ) {
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
                .filter(|a| a.status != AttachmentStatus::Detached);
            match attachment {
                None if eni.status == EniStatus::Available => {
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
                        Err(CleanupError::GaveUp {
                            after: policy.give_up_after,
                            last: "still not detached".into(),
                        }),
                    );
                }
                _ => {}
            }
        }
        self.schedule_poll(myself);
    }
}
