//! Leader election on a Lease, decided on this process's monotonic clock alone.
//!
//! A replica never compares another replica's wall clock with its own. A standby records
//! *when it saw* the Lease record change (any write changes its resourceVersion); it
//! takes over only once the holder's `leaseDurationSeconds` have passed on its own clock
//! without a change. Every write is conditioned on the resourceVersion last read, so a
//! renewal after a takeover, or two standbys taking over at once, fail instead of
//! overwriting each other.
//!
//! The holder keeps leading through failed or slow renewals until its fence closes (the
//! renew deadline after the last renewal that succeeded, as of when it was sent): a
//! single 429 or a slow answer does not stop the work. It steps down when the fence
//! closes, or when it reads the Lease held by someone else.
//!
//! Why this is safe without comparing clocks: a standby writes no sooner than the lease
//! duration after it saw the holder's last write, which happened after the holder sent
//! it; the holder's fence closes the renew deadline after it sent that write, which is
//! sooner (the deadline is shorter than the lease). This holds whatever the offset
//! between the replicas' clocks (not for clocks that run at very different rates).

use std::time::Duration;

use tokio::time::Instant;

/// The Lease record as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `holderIdentity` (`None` or empty: released).
    pub holder: Option<String>,
    /// How long the holder's lease lasts without a change (`leaseDurationSeconds`).
    pub lease_duration: Duration,
    /// Its resourceVersion: any write changes it.
    pub version: String,
}

/// What this replica knows of the Lease.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The record (`None`: there is no Lease).
    pub record: Option<Record>,
    /// When the record was last seen to change, on this process's clock (`None`: never
    /// read).
    pub changed_at: Option<Instant>,
}

impl Seen {
    /// Takes in a read of the Lease at `now`: a different version is a change.
    pub fn observe(&mut self, record: Option<Record>, now: Instant) {
        let changed = self.changed_at.is_none()
            || self.record.as_ref().map(|r| &r.version) != record.as_ref().map(|r| &r.version);
        if changed {
            self.changed_at = Some(now);
        }
        self.record = record;
    }
}

/// The election's durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How often the holder renews.
    pub renew_period: Duration,
    /// How often a standby reads the Lease.
    pub retry_period: Duration,
}

/// The next thing to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// There is no Lease: create it, held by this replica.
    Create,
    /// Take the Lease (released, expired on this clock, or still held by this replica
    /// from before it stepped down), conditioned on the version read.
    Acquire,
    /// Renew it, conditioned on the version read.
    Renew,
    /// Stop leading (someone else holds it, or the fence closed).
    StepDown,
    /// Nothing before this instant (then read again).
    WaitUntil(Instant),
}

/// Decides the next step of replica `me`, leading or not, whose fence closes at
/// `fence_closes_at` and whose last successful write was sent at `last_write`.
pub fn decide(
    seen: &Seen,
    me: &str,
    leading: bool,
    fence_closes_at: Option<Instant>,
    last_write: Option<Instant>,
    now: Instant,
    timing: Timing,
) -> Step {
    let Some(record) = &seen.record else {
        return if leading {
            Step::StepDown
        } else {
            Step::Create
        };
    };
    let holder = record.holder.as_deref().filter(|h| !h.is_empty());
    if leading {
        if holder != Some(me) || fence_closes_at.is_some_and(|t| now >= t) {
            return Step::StepDown;
        }
        let due = last_write.map_or(now, |w| w + timing.renew_period);
        return if now >= due {
            Step::Renew
        } else {
            Step::WaitUntil(due)
        };
    }
    match holder {
        None => Step::Acquire,
        Some(h) if h == me => Step::Acquire,
        Some(_) => {
            let since = seen.changed_at.unwrap_or(now);
            let expires = since + record.lease_duration;
            if now >= expires {
                Step::Acquire
            } else {
                Step::WaitUntil(expires.min(now + timing.retry_period))
            }
        }
    }
}

#[cfg(test)]
mod tests;
