//! The pool's book of work: every ENI being torn down with whoever waits on it, the
//! ENIs waiting for their inspection (read in batches), the queue of calls for idle
//! workers, and the detaching ENIs polled in batches. What
//! follows each answer is decided by [`crate::plan::teardown`]; this only keeps the
//! records.

use std::collections::{HashMap, VecDeque};

use tokio::time::Instant;

use super::msg::{CleanupError, CleanupNotify};
use crate::plan::teardown::{Job, Step, Watch};

struct Entry {
    job: Job,
    /// The UID of the NodeENI that asked, if one did.
    owner: Option<String>,
    notify: Vec<CleanupNotify>,
}

/// The pool's work in progress.
#[derive(Default)]
pub struct Jobs {
    entries: HashMap<String, Entry>,
    /// ENIs to inspect, read together (see [`Jobs::next_inspections`]).
    inspections: VecDeque<String>,
    /// Detaches and deletes, for the workers.
    queue: VecDeque<(String, Step)>,
    watched: HashMap<String, Watch>,
}

impl Jobs {
    /// Starts tearing `eni_id` down for the NodeENI `owner` (if one asked), or adds
    /// `notify` to the teardown already running (in place of the same requester's earlier
    /// listener: it hears once).
    pub fn add(
        &mut self,
        eni_id: String,
        owner: Option<String>,
        notify: Option<CleanupNotify>,
        now: Instant,
    ) {
        match self.entries.get_mut(&eni_id) {
            Some(e) => {
                e.owner = e.owner.take().or(owner);
                if let Some(n) = notify {
                    e.notify.retain(|old| old.requester != n.requester);
                    e.notify.push(n);
                }
            }
            None => {
                self.entries.insert(
                    eni_id.clone(),
                    Entry {
                        job: Job::queued(now),
                        owner,
                        notify: notify.into_iter().collect(),
                    },
                );
                self.inspections.push_back(eni_id);
            }
        }
    }

    /// ENIs in progress.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether `eni_id` is in progress.
    pub fn has(&self, eni_id: &str) -> bool {
        self.entries.contains_key(eni_id)
    }

    /// The UID of the NodeENI that asked for `eni_id`, if one did.
    pub fn owner(&self, eni_id: &str) -> Option<String> {
        self.entries.get(eni_id)?.owner.clone()
    }

    /// The job record of `eni_id`.
    pub fn job(&mut self, eni_id: &str) -> Option<&mut Job> {
        self.entries.get_mut(eni_id).map(|e| &mut e.job)
    }

    /// Queues a step behind the others (an inspection behind the other inspections).
    pub fn queue_back(&mut self, eni_id: String, step: Step) {
        if !self.has(&eni_id) {
            return;
        }
        match step {
            Step::Inspect => self.inspections.push_back(eni_id),
            step => self.queue.push_back((eni_id, step)),
        }
    }

    /// Queues a step ahead of the others (work nearly done, or a failed worker's step).
    pub fn queue_front(&mut self, eni_id: String, step: Step) {
        if !self.has(&eni_id) {
            return;
        }
        match step {
            Step::Inspect => self.inspections.push_front(eni_id),
            step => self.queue.push_front((eni_id, step)),
        }
    }

    /// The next detach or delete to hand to a worker (its job's first step starts the
    /// give-up clock).
    pub fn next_step(&mut self) -> Option<(String, Step)> {
        let (eni_id, step) = self.queue.pop_front()?;
        if let Some(e) = self.entries.get_mut(&eni_id) {
            e.job.stepping(Instant::now());
        }
        Some((eni_id, step))
    }

    /// Up to `max` ENIs to inspect with one read, oldest first (their first step starts
    /// their give-up clocks); none left over is ever dropped.
    pub fn next_inspections(&mut self, max: usize) -> Vec<String> {
        let now = Instant::now();
        let mut out = Vec::new();
        while out.len() < max {
            let Some(eni_id) = self.inspections.pop_front() else {
                break;
            };
            let Some(e) = self.entries.get_mut(&eni_id) else {
                continue;
            };
            e.job.stepping(now);
            if !out.contains(&eni_id) {
                out.push(eni_id);
            }
        }
        out
    }

    /// Starts polling `eni_id` as detaching (once).
    pub fn watch(&mut self, eni_id: String, now: Instant) {
        self.watched.entry(eni_id).or_insert(Watch {
            since: now,
            forced: false,
        });
    }

    /// Stops polling `eni_id`.
    pub fn unwatch(&mut self, eni_id: &str) {
        self.watched.remove(eni_id);
    }

    /// The detaching ENIs.
    pub fn watched(&self) -> Vec<String> {
        self.watched.keys().cloned().collect()
    }

    /// Whether any ENI is detaching.
    pub fn any_watched(&self) -> bool {
        !self.watched.is_empty()
    }

    /// The poll record of `eni_id`.
    pub fn watch_of(&mut self, eni_id: &str) -> Option<&mut Watch> {
        self.watched.get_mut(eni_id)
    }

    /// Ends the teardown of `eni_id`: tells everyone waiting, and returns when it was
    /// asked for.
    pub fn finish(&mut self, eni_id: &str, result: Result<(), CleanupError>) -> Option<Instant> {
        self.watched.remove(eni_id);
        let entry = self.entries.remove(eni_id)?;
        for notify in entry.notify {
            (notify.tell)(eni_id, result.clone());
        }
        Some(entry.job.queued)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn listener(requester: u64, heard: &Arc<Mutex<Vec<u64>>>) -> CleanupNotify {
        let heard = heard.clone();
        CleanupNotify {
            requester: ractor::ActorId::Local(requester),
            tell: Box::new(move |_, _| heard.lock().unwrap().push(requester)),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_repeated_by_one_requester_is_answered_once() {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let mut jobs = Jobs::default();
        for requester in [1, 1, 1, 2, 1] {
            jobs.add(
                "eni-1".into(),
                None,
                Some(listener(requester, &heard)),
                Instant::now(),
            );
        }
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs.next_inspections(200), ["eni-1"]);
        assert!(jobs.next_inspections(200).is_empty(), "one teardown");
        assert_eq!(jobs.next_step(), None, "inspections are not worker steps");
        jobs.finish("eni-1", Ok(()));
        let mut heard = heard.lock().unwrap().clone();
        heard.sort();
        assert_eq!(heard, vec![1, 2], "each requester told once");
    }

    #[tokio::test(start_paused = true)]
    async fn inspections_are_taken_in_batches_in_order_and_calls_stay_for_workers() {
        let mut jobs = Jobs::default();
        for i in 0..450 {
            jobs.add(format!("eni-{i:03}"), None, None, Instant::now());
        }
        jobs.queue_front("eni-007".into(), Step::Delete);
        let first = jobs.next_inspections(200);
        assert_eq!(first.len(), 200);
        assert_eq!(first[0], "eni-000");
        assert_eq!(first[199], "eni-199");
        // A failed inspection comes back behind the others; a finished job's is skipped.
        jobs.queue_back("eni-000".into(), Step::Inspect);
        jobs.finish("eni-200", Ok(()));
        let second = jobs.next_inspections(200);
        assert_eq!(second[0], "eni-201");
        assert_eq!(second.len(), 200);
        let third = jobs.next_inspections(200);
        assert_eq!(third.len(), 50, "49 left and the re-queued one");
        assert_eq!(third.last().map(String::as_str), Some("eni-000"));
        assert!(jobs.next_inspections(200).is_empty());
        assert_eq!(jobs.next_step(), Some(("eni-007".into(), Step::Delete)));
    }
}
