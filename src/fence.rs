//! The leader's fence: until when this replica may still act, by its own monotonic clock.
//!
//! A replica leads while it holds the leader Lease, but it cannot know that it still
//! holds it: a renewal stuck on a half-open connection looks, from inside, exactly like
//! one that is merely slow, while another replica may already have taken the Lease over.
//! So the replica stops acting on its own: every successful write of the Lease *confirms*
//! leadership as of the moment the write was sent, and the fence stays open only until
//! that moment plus the renew deadline. Another replica takes the Lease over no sooner
//! than a lease duration after the last renewal it saw, which is later than the fence
//! closes (the deadline is shorter than the lease). No wall clocks are compared across
//! nodes: the deadline is measured on this process's monotonic clock (tokio's, so tests
//! can pause it).
//!
//! EC2 calls check the fence right before they are issued ([`crate::aws::FencedEc2`]): a
//! call the fence refuses is never sent.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
struct State {
    leading: bool,
    confirmed: Option<Instant>,
}

/// A shared fence; clones see the same state.
#[derive(Debug, Clone)]
pub struct Fence {
    renew_deadline: Duration,
    state: Arc<Mutex<State>>,
}

impl Fence {
    /// A closed fence that, once leading, stays open for `renew_deadline` after each
    /// confirmation.
    pub fn new(renew_deadline: Duration) -> Self {
        Fence {
            renew_deadline,
            state: Arc::new(Mutex::new(State {
                leading: false,
                confirmed: None,
            })),
        }
    }

    /// A fence that is always open (no leader election: a single replica).
    pub fn always_open() -> Self {
        let f = Fence::new(Duration::MAX);
        f.leading(true);
        f.confirmed(Instant::now());
        f
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A write of the Lease that was sent at `sent_at` succeeded.
    pub fn confirmed(&self, sent_at: Instant) {
        self.with(|s| {
            s.confirmed = Some(s.confirmed.map_or(sent_at, |c| c.max(sent_at)));
        });
    }

    /// The elector says whether this replica leads. Losing the lead forgets every
    /// confirmation: leading again needs a new write of the Lease.
    pub fn leading(&self, leading: bool) {
        self.with(|s| {
            s.leading = leading;
            if !leading {
                s.confirmed = None;
            }
        });
    }

    /// When the fence closes (or closed): `None` while not leading, `Some(None)` if it
    /// never closes.
    pub fn closes_at(&self) -> Option<Option<Instant>> {
        self.with(|s| {
            s.leading
                .then_some(s.confirmed)
                .flatten()
                .map(|c| c.checked_add(self.renew_deadline))
        })
    }

    /// Whether this replica may act at `now`.
    pub fn is_open(&self, now: Instant) -> bool {
        match self.closes_at() {
            None => false,
            Some(None) => true,
            Some(Some(t)) => now < t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn open_only_while_leading_and_within_the_deadline_of_the_last_confirmation() {
        let d = Duration::from_secs(10);
        let f = Fence::new(d);
        let t0 = Instant::now();
        assert!(!f.is_open(t0), "closed at first");
        f.confirmed(t0);
        assert!(!f.is_open(t0), "a confirmation alone does not open it");
        f.leading(true);
        assert!(f.is_open(t0));
        assert!(f.is_open(t0 + d - Duration::from_millis(1)));
        assert!(!f.is_open(t0 + d), "closed at the deadline");
        // A renewal sent later moves the deadline; an older answer arriving late does not
        // move it back.
        f.confirmed(t0 + Duration::from_secs(5));
        f.confirmed(t0 + Duration::from_secs(1));
        assert_eq!(f.closes_at(), Some(Some(t0 + Duration::from_secs(15))));
        // Losing the lead closes it and forgets the confirmations.
        f.leading(false);
        assert!(!f.is_open(t0 + Duration::from_secs(6)));
        f.leading(true);
        assert!(!f.is_open(t0 + Duration::from_secs(6)), "needs a new write");
        assert!(Fence::always_open().is_open(Instant::now() + Duration::from_secs(86400)));
    }
}
