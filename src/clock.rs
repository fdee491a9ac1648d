//! Token buckets on tokio's clock.
//!
//! `governor` does the bucket arithmetic (GCRA, equivalent to a token bucket that starts
//! full). Its default clock is the wall clock; this module gives it tokio's clock instead,
//! so that the EC2 simulator's throttling and the controller's rate limiter follow
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

/// A token bucket of a given capacity and refill rate, on tokio's clock.
///
/// A request may cost several "cells" ([`TokenBucket::try_take_cells`]); the controller's
/// adaptive limiter uses that to slow an action down after a throttle without resetting
/// the bucket's state.
pub struct TokenBucket {
    spec: BucketSpec,
    cells_per_token: u32,
    gcra: Gcra,
    clock: TokioClock,
}

impl std::fmt::Debug for TokenBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBucket")
            .field("spec", &self.spec)
            .field("cells_per_token", &self.cells_per_token)
            .finish()
    }
}

impl TokenBucket {
    /// A full bucket for `spec`; one request costs one token.
    pub fn new(spec: BucketSpec, clock: TokioClock) -> Self {
        Self::with_cells(spec, 1, clock)
    }

    /// A full bucket for `spec` where one token is `cells_per_token` cells, so requests
    /// can be charged fractions or multiples of a token.
    pub fn with_cells(spec: BucketSpec, cells_per_token: u32, clock: TokioClock) -> Self {
        let cells_per_token = cells_per_token.max(1);
        let capacity = spec.capacity.max(1).saturating_mul(cells_per_token);
        let cells_per_second = (spec.refill_per_second * f64::from(cells_per_token)).max(1e-6);
        let period = Duration::from_secs_f64(1.0 / cells_per_second).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(capacity).unwrap_or(NonZeroU32::MIN));
        TokenBucket {
            spec,
            cells_per_token,
            gcra: RateLimiter::direct_with_clock(quota, clock),
            clock,
        }
    }

    /// The bucket's capacity and refill rate.
    pub fn spec(&self) -> BucketSpec {
        self.spec
    }

    /// Cells in one token.
    pub fn cells_per_token(&self) -> u32 {
        self.cells_per_token
    }

    /// Takes one token if available; otherwise returns how long until one is.
    pub fn try_take(&self) -> Result<(), Duration> {
        self.try_take_cells(self.cells_per_token)
    }

    /// Takes `cells` cells if available; otherwise returns how long until they are.
    /// Asking for more than the capacity waits for a full bucket.
    pub fn try_take_cells(&self, cells: u32) -> Result<(), Duration> {
        let capacity = self
            .spec
            .capacity
            .max(1)
            .saturating_mul(self.cells_per_token);
        let n = NonZeroU32::new(cells.clamp(1, capacity)).unwrap_or(NonZeroU32::MIN);
        match self.gcra.check_n(n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(self.clock.now())),
            // Unreachable after the clamp above; wait a refill period to be safe.
            Err(_) => Err(Duration::from_secs_f64(
                1.0 / self.spec.refill_per_second.max(1e-6),
            )),
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

    #[tokio::test(start_paused = true)]
    async fn cells_charge_fractions_of_a_token() {
        let b = TokenBucket::with_cells(BucketSpec::new(10, 1.0), 100, TokioClock::new());
        // Charging two tokens per request halves the burst.
        let granted = (0..20).filter(|_| b.try_take_cells(200).is_ok()).count();
        assert_eq!(granted, 5);
        tokio::time::advance(Duration::from_secs(4)).await;
        let granted = (0..20).filter(|_| b.try_take_cells(200).is_ok()).count();
        assert_eq!(
            granted, 2,
            "4 s at 1 token/s pays for two double-cost requests"
        );
    }
}
