//! When a slot steps next: one step timer (a sooner step replaces a later one; a
//! superseded timer's message is ignored by its number), and the backoffs that say how
//! long to wait after each kind of answer.

use std::time::Duration;

use ractor::ActorRef;
use tokio::time::Instant;

use super::msg::{SlotMsg, SlotTiming};
use crate::plan::outcome::Next;
use crate::plan::refusal::{blocked_retry, retry_soon};

/// The step timer and the backoffs.
pub struct Steps {
    timing: SlotTiming,
    /// The number of the timer that counts; older ones are ignored.
    epoch: u64,
    /// When the counted timer fires (`None`: no step scheduled).
    next_at: Option<Instant>,
    /// The next poll or retry wait, doubling.
    backoff: Duration,
    /// Transient failures in a row (see [`retry_soon`]).
    soon_failures: u32,
    /// Steps in a row that could not progress (see [`blocked_retry`]).
    blocked: u32,
}

/// A spread between half and all of `d`: slots that failed together retry apart.
fn jittered(d: Duration) -> Duration {
    d.mul_f64(0.5 + 0.5 * rand::random::<f64>())
}

impl Steps {
    /// No step scheduled yet.
    pub fn new(timing: SlotTiming) -> Self {
        Steps {
            timing,
            epoch: 0,
            next_at: None,
            backoff: timing.poll_initial,
            soon_failures: 0,
            blocked: 0,
        }
    }

    /// Steps after `delay`, unless a step is due sooner.
    pub fn schedule(&mut self, me: &ActorRef<SlotMsg>, delay: Duration) {
        let at = Instant::now() + delay;
        if self.next_at.is_some_and(|t| t <= at) {
            return;
        }
        self.epoch += 1;
        self.next_at = Some(at);
        let epoch = self.epoch;
        if delay.is_zero() {
            let _ = me.cast(SlotMsg::Step(epoch));
        } else {
            me.send_after(delay, move || SlotMsg::Step(epoch));
        }
    }

    /// Whether the step numbered `epoch` is the one that counts (then no step is
    /// scheduled any more until the next [`Steps::schedule`]).
    pub fn due(&mut self, epoch: u64) -> bool {
        if epoch != self.epoch {
            return false;
        }
        self.next_at = None;
        true
    }

    /// The wait before looking again after a failed read.
    pub fn read_failed(&mut self) -> Duration {
        self.next_backoff(self.timing.retry_max)
    }

    /// The slot is ready: polls start short again.
    pub fn ready(&mut self) {
        self.backoff = self.timing.poll_initial;
        self.blocked = 0;
        self.soon_failures = 0;
    }

    /// The wait before the next step after an answer that said `next`.
    pub fn after(&mut self, next: Next) -> Duration {
        if next != Next::RetrySoon {
            self.soon_failures = 0;
        }
        if next != Next::Blocked {
            self.blocked = 0;
        }
        match next {
            Next::Continue => {
                self.backoff = self.timing.poll_initial;
                Duration::ZERO
            }
            Next::Poll => self.next_backoff(self.timing.poll_max),
            Next::RetrySoon => {
                self.soon_failures += 1;
                jittered(retry_soon(self.soon_failures))
            }
            Next::Retry => {
                let d = self.next_backoff(self.timing.retry_max);
                jittered(d)
            }
            Next::Blocked => {
                self.blocked += 1;
                jittered(blocked_retry(self.blocked).min(self.timing.blocked_max))
            }
        }
    }

    fn next_backoff(&mut self, max: Duration) -> Duration {
        let d = self.backoff.min(max);
        self.backoff = (self.backoff * 2).min(max);
        d
    }
}
