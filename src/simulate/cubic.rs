//! The AWS SDKs' adaptive retry mode, as a peer to compare with: a client-side token
//! bucket whose fill rate follows CUBIC (the TCP congestion algorithm) on throttles.
//!
//! The model every AWS SDK implements (the Rust SDK as `RetryConfig::adaptive()`): the
//! bucket is off until the client's first throttle. On a throttle the rate falls to
//! `BETA` of the rate measured when it came; throttle-free, it grows back along the
//! cubic curve `SCALE × (t − K)³ + W_max`, where `W_max` is the rate at the last
//! throttle and `K` the time the curve takes to climb back to it; it never exceeds twice
//! the measured sending rate. An initial attempt costs 1 token, a retry 5, a retry after
//! a throttle 10. The sending rate is measured in half-second buckets and smoothed.
//! Written from that description; the SDK's published test vectors check it.

use std::time::Duration;

const BETA: f64 = 0.7;
const SCALE: f64 = 0.4;
const SMOOTH: f64 = 0.8;
const MIN_FILL_RATE: f64 = 0.5;
const MIN_CAPACITY: f64 = 1.0;

/// Why a request asks for tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The first attempt.
    Initial,
    /// A retry after an error that was not a throttle.
    Retry,
    /// A retry after a throttle.
    RetryAfterThrottle,
}

impl Attempt {
    fn cost(self) -> f64 {
        match self {
            Attempt::Initial => 1.0,
            Attempt::Retry => 5.0,
            Attempt::RetryAfterThrottle => 10.0,
        }
    }
}

/// The adaptive client's rate limiter; times are seconds on any fixed clock.
#[derive(Debug, Clone, PartialEq)]
pub struct CubicLimiter {
    enabled: bool,
    fill_rate: f64,
    capacity: f64,
    tokens: f64,
    last_refill: Option<f64>,
    measured_rate: f64,
    rate_bucket: f64,
    requests_in_bucket: u64,
    max_rate_at_throttle: f64,
    last_throttle: f64,
}

impl CubicLimiter {
    /// A limiter created at `now`.
    pub fn new(now: f64) -> Self {
        CubicLimiter {
            enabled: false,
            fill_rate: 0.0,
            capacity: f64::MAX,
            tokens: 0.0,
            last_refill: None,
            measured_rate: MIN_FILL_RATE,
            rate_bucket: now.floor(),
            requests_in_bucket: 0,
            max_rate_at_throttle: 0.0,
            last_throttle: now,
        }
    }

    fn refill(&mut self, now: f64) {
        if let Some(last) = self.last_refill {
            self.tokens = (self.tokens + (now - last) * self.fill_rate).min(self.capacity);
        }
        self.last_refill = Some(now);
    }

    /// Takes the tokens `attempt` costs, or (taking nothing) says how long until they
    /// are there, as aws-smithy-runtime 1.16 does: the initial request sleeps that long
    /// and asks again; a retry sleeps it as its backoff and goes.
    pub fn acquire(&mut self, now: f64, attempt: Attempt) -> Option<Duration> {
        if !self.enabled {
            return None;
        }
        self.refill(now);
        let cost = attempt.cost();
        if cost > self.tokens {
            let wait = Duration::from_secs_f64((cost - self.tokens) / self.fill_rate);
            if !wait.is_zero() {
                return Some(wait);
            }
        }
        self.tokens = (self.tokens - cost).max(0.0);
        None
    }

    fn window(&self) -> f64 {
        (self.max_rate_at_throttle * (1.0 - BETA) / SCALE).cbrt()
    }

    fn cubic_success(&self, now: f64) -> f64 {
        let dt = now - self.last_throttle - self.window();
        SCALE * dt.powi(3) + self.max_rate_at_throttle
    }

    fn measure(&mut self, now: f64) {
        let bucket = (now * 2.0).floor() / 2.0;
        self.requests_in_bucket += 1;
        if bucket > self.rate_bucket {
            let rate = self.requests_in_bucket as f64 / (bucket - self.rate_bucket);
            self.measured_rate = rate * SMOOTH + self.measured_rate * (1.0 - SMOOTH);
            self.requests_in_bucket = 0;
            self.rate_bucket = bucket;
        }
    }

    /// Learns from an attempt's answer at `now`.
    pub fn update(&mut self, now: f64, throttled: bool) {
        self.measure(now);
        let rate = if throttled {
            let base = if self.enabled {
                self.measured_rate.min(self.fill_rate)
            } else {
                self.measured_rate
            };
            self.max_rate_at_throttle = base;
            self.last_throttle = now;
            self.enabled = true;
            base * BETA
        } else {
            self.cubic_success(now)
        };
        let rate = rate.min(2.0 * self.measured_rate);
        self.refill(now);
        self.fill_rate = rate.max(MIN_FILL_RATE);
        self.capacity = rate.max(MIN_CAPACITY);
        self.tokens = self.tokens.min(self.capacity);
    }

    /// The current fill rate (tokens per second) once enabled.
    #[cfg(test)]
    pub fn fill_rate(&self) -> Option<f64> {
        self.enabled.then_some(self.fill_rate)
    }
}

/// The SDK's backoff before retry `retry` (1-based) with jitter `base` in `[0, 1)`:
/// `base × min(1 s × 2^(retry − 1), 20 s)`.
pub fn backoff(retry: u32, base: f64) -> Duration {
    let exp = 2f64.powi(retry.saturating_sub(1).min(30) as i32);
    Duration::from_secs_f64(exp.min(20.0) * base.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after_throttle(at: f64, rate: f64) -> CubicLimiter {
        let mut l = CubicLimiter::new(at);
        l.max_rate_at_throttle = rate;
        l.last_throttle = at;
        l
    }

    #[test]
    fn the_cubic_curve_matches_the_sdks_published_values() {
        // The values of the SDKs' shared test (a throttle at 10/s at t = 5).
        let l = after_throttle(5.0, 10.0);
        for (t, want) in [
            (5.0, 7.0),
            (6.0, 9.64893600966),
            (7.0, 10.000030849917364),
            (8.0, 10.453284520772092),
            (9.0, 13.408697022224185),
            (10.0, 21.26626835427364),
            (11.0, 36.425998516920465),
        ] {
            let got = l.cubic_success(t);
            assert!((got - want).abs() < 1e-6, "t={t}: {got} vs {want}");
        }
    }

    #[test]
    fn off_until_the_first_throttle_then_paced() {
        let mut l = CubicLimiter::new(0.0);
        for i in 0..100 {
            assert_eq!(l.acquire(f64::from(i) * 0.01, Attempt::Initial), None);
            l.update(f64::from(i) * 0.01, false);
        }
        l.update(1.0, true);
        let rate = l.fill_rate().unwrap();
        assert!(rate > 0.0);
        // Spend what is there, then the next request waits, and waiting takes nothing.
        let mut waited = None;
        for _ in 0..1000 {
            if let Some(d) = l.acquire(1.0, Attempt::Initial) {
                waited = Some(d);
                break;
            }
        }
        assert!(waited.is_some_and(|d| d > Duration::ZERO));
        assert_eq!(l.acquire(1.0, Attempt::Initial), waited);
    }

    #[test]
    fn backoff_doubles_from_a_second_up_to_twenty() {
        for (retry, s) in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 20.0)] {
            assert_eq!(backoff(retry, 1.0), Duration::from_secs_f64(s));
        }
        assert_eq!(backoff(3, 0.5), Duration::from_secs(2));
    }
}
