//! Supervision shared by the controller's actor tree and the node agent: the restart
//! policy every supervisor applies to its children, and restart-proof [`Handle`]s.
//!
//! ractor's default `handle_supervisor_evt` stops the supervisor when any child exits;
//! every supervisor here overrides it and asks a [`RestartTracker`] what to do: restart
//! after an exponential backoff while within a budget of restarts per window, and past
//! the budget keep retrying slowly while reporting the child as degraded. A child is
//! never dropped.

mod children;
mod handle;
mod outbox;

pub use children::{Children, Exited};
pub use handle::Handle;
pub use outbox::{Forwarding, Outbox, forward};

use std::collections::VecDeque;
use std::time::Duration;

use ractor::{ActorCell, SupervisionEvent};
use tokio::time::Instant;

/// Backoff and budget for restarting failed children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Delay before the first restart.
    pub initial_backoff: Duration,
    /// Longest delay within the budget.
    pub max_backoff: Duration,
    /// Restarts allowed within `window` before the child counts as degraded.
    pub budget: u32,
    /// The window the budget applies to.
    pub window: Duration,
    /// Delay between restarts once over budget.
    pub slow_retry: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            budget: 5,
            window: Duration::from_secs(600),
            slow_retry: Duration::from_secs(300),
        }
    }
}

/// What to do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartDecision {
    /// Restart after this delay.
    pub delay: Duration,
    /// The budget is spent: report the child as degraded.
    pub over_budget: bool,
}

/// Failure history of one child.
#[derive(Debug, Clone, Default)]
pub struct RestartTracker {
    recent: VecDeque<Instant>,
}

impl RestartTracker {
    /// Records a failure at `now` and decides when to restart.
    pub fn on_failure(&mut self, policy: &RestartPolicy, now: Instant) -> RestartDecision {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > policy.window)
        {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        let failures = self.recent.len() as u32;
        if failures > policy.budget {
            return RestartDecision {
                delay: policy.slow_retry,
                over_budget: true,
            };
        }
        let factor = 2u32.saturating_pow(failures.saturating_sub(1));
        RestartDecision {
            delay: policy
                .initial_backoff
                .saturating_mul(factor)
                .min(policy.max_backoff),
            over_budget: false,
        }
    }

    /// Failures within the current window.
    pub fn recent_failures(&self) -> usize {
        self.recent.len()
    }
}

/// The wait before retry number `failures` (1-based) of something that keeps failing:
/// `base` doubling up to `cap`, then spread over its upper half by `jitter` (in
/// `[0, 1)`), so that a cohort that failed together does not retry together.
pub fn retry_delay(failures: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let doubled = base
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(16)))
        .min(cap);
    doubled.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// A child's exit, as a supervisor sees it.
#[derive(Debug)]
pub struct ChildExit {
    /// The actor that exited.
    pub cell: ActorCell,
    /// Its error if it failed (panicked or returned an error); `None` if it stopped.
    pub failure: Option<String>,
}

impl ChildExit {
    /// The exit a supervision event reports (other events report none).
    pub fn of(evt: &SupervisionEvent) -> Option<ChildExit> {
        match evt {
            SupervisionEvent::ActorFailed(cell, err) => Some(ChildExit {
                cell: cell.clone(),
                failure: Some(err.to_string()),
            }),
            SupervisionEvent::ActorTerminated(cell, _, _) => Some(ChildExit {
                cell: cell.clone(),
                failure: None,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_to_a_cap_spread_by_jitter() {
        let (base, cap) = (Duration::from_secs(1), Duration::from_secs(60));
        for (failures, jitter, want_ms) in [
            (1, 1.0, 1000),
            (1, 0.0, 500),
            (2, 1.0, 2000),
            (3, 0.5, 3000),
            (7, 1.0, 60_000),
            (40, 1.0, 60_000),
            (0, 1.0, 1000),
        ] {
            assert_eq!(
                retry_delay(failures, base, cap, jitter),
                Duration::from_millis(want_ms),
                "failures {failures}, jitter {jitter}"
            );
        }
    }

    #[test]
    fn backoff_grows_then_goes_slow_past_the_budget() {
        let p = RestartPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            budget: 4,
            window: Duration::from_secs(60),
            slow_retry: Duration::from_secs(120),
        };
        let mut t = RestartTracker::default();
        let now = Instant::now();
        let delays: Vec<_> = (0..5).map(|_| t.on_failure(&p, now)).collect();
        assert_eq!(
            delays.iter().map(|d| d.delay.as_secs()).collect::<Vec<_>>(),
            vec![1, 2, 4, 5, 120]
        );
        assert!(!delays[3].over_budget);
        assert!(delays[4].over_budget);
        // After the window, the budget is back.
        let later = now + Duration::from_secs(61);
        let d = t.on_failure(&p, later);
        assert_eq!((d.delay.as_secs(), d.over_budget), (1, false));
        assert_eq!(t.recent_failures(), 1);
    }
}
