//! Token buckets on tokio's clock.
//!
//! `governor` does the bucket arithmetic (GCRA, equivalent to a token bucket that starts
//! full). Its default clock is the wall clock; this module gives it tokio's clock instead,
//! so that the EC2 simulator's throttling and the global-bucket peer's limiter follow
//! `tokio::time::pause()` and a simulated hour passes in milliseconds, deterministically.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::aws::BucketSpec;

/// A `governor` clock reading tokio's (pausable) time as the offset from a fixed origin.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: Instant,
}

impl TokioClock {
    /// A clock whose zero is now.
    pub fn new() -> Self {
        TokioClock {
            origin: Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// A token bucket of a given capacity and refill rate, on tokio's clock: EC2's buckets in
/// the simulator, and the fixed global bucket of the Cilium-style peer.
pub struct TokenBucket {
    spec: BucketSpec,
    gcra: Gcra,
    clock: TokioClock,
}

impl std::fmt::Debug for TokenBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBucket")
            .field("spec", &self.spec)
            .finish()
    }
}

impl TokenBucket {
    /// A full bucket for `spec`.
    pub fn new(spec: BucketSpec, clock: TokioClock) -> Self {
        let capacity = spec.capacity.max(1);
        let per_second = spec.refill_per_second.max(1e-6);
        let period = Duration::from_secs_f64(1.0 / per_second).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(capacity).unwrap_or(NonZeroU32::MIN));
        TokenBucket {
            spec,
            gcra: RateLimiter::direct_with_clock(quota, clock),
            clock,
        }
    }

    /// The bucket's capacity and refill rate.
    pub fn spec(&self) -> BucketSpec {
        self.spec
    }

    /// Takes one token if available; otherwise returns how long until one is.
    pub fn try_take(&self) -> Result<(), Duration> {
        match self.gcra.check() {
            Ok(()) => Ok(()),
            Err(not_until) => Err(not_until.wait_time_from(self.clock.now())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_allows_burst_then_refills_at_rate() {
        let b = TokenBucket::new(BucketSpec::new(50, 5.0), TokioClock::new());
        for i in 0..50 {
            assert!(b.try_take().is_ok(), "burst token {i}");
        }
        let wait = b.try_take().unwrap_err();
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        tokio::time::advance(Duration::from_secs(2)).await;
        let granted = (0..20).filter(|_| b.try_take().is_ok()).count();
        assert_eq!(granted, 10, "2 s at 5/s refills 10 tokens");
    }
}
