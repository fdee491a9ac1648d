//! How fast to call one EC2 action: a model of the part of EC2's token bucket that is
//! left to this controller, learned from EC2's answers.
//!
//! EC2's buckets belong to the account and Region: other clients (the VPC CNI,
//! Karpenter, other clusters, people's scripts) spend from them too, and an account's
//! buckets may be smaller than AWS's published defaults. So the model trusts no number
//! it was not told:
//!
//! - **Depth** (how many calls may burst). Untold, a pace starts with a tenth of the
//!   bucket it assumes and *probes* beyond: once the burst it believes in is spent, at
//!   most [`MAX_PROBES`] calls at a time go out on top of it, and each that succeeds
//!   proves one more token. The first probe EC2 throttles ends the probe: the bucket is
//!   as deep as what went through, less the reserve left to others. A throttle in the
//!   middle of a burst means the bucket held fewer tokens than believed: the depth drops
//!   by what was believed left. Probing starts again, at most every [`PROBE_AGAIN`],
//!   whenever a full burst has been spent. Told (`EC2_RATE_LIMITS`), the depth is what
//!   was told and nothing is probed.
//! - **Refill** (the pace once the burst is spent). A throttle says EC2's bucket is
//!   empty *now*; it does not say the refill fell. So a throttle empties the model (and
//!   holds back one more token, slack against jitter in when calls reach EC2), and the
//!   rate stays. Throttles that go on at the learned pace say someone else is spending:
//!   when, at least [`MIN_WINDOW`] after the bucket was last known empty, two or more
//!   throttles and at least [`PERSISTENT`] of the calls asked for since were throttled,
//!   the bucket was empty at both ends of that window, so what got through in it is
//!   exactly the refill left to this controller. The rate becomes [`SHARE_MARGIN`] of
//!   that (never less than half the rate before), leaving the rest of the refill, and
//!   room for bursts, to the others. Throttles counted over [`MAX_WINDOW`] without
//!   reaching that share start a new window.
//! - **Finding the share again.** After [`RAISE_AFTER`] without a throttle the rate
//!   creeps back up by [`RAISE_STEP`] of the refill every [`RAISE_EVERY`] (the other
//!   client may have stopped). A throttle while creeping undoes the creep at once: the
//!   share had not grown, and the other client should not pay for the probe.
//! - Throttles of calls granted before the bucket was last known empty are echoes of
//!   that one emptiness and teach nothing.
//!
//! Pure: time comes in as `now`; the limiter actor calls it and applies the grants.

use std::time::Duration;

use tokio::time::Instant;

/// Probe calls in flight at once beyond the believed burst (at most this many throttles
/// when the probe reaches the bottom of the bucket). Letting more go as probes succeed
/// was tried: it cost throttles and gained nothing measurable (BENCHMARKS.md).
pub const MAX_PROBES: u32 = 2;
/// The share of the assumed burst an untold pace starts with.
pub const FIRST_BURST: f64 = 0.1;
/// How long after a probe found the bottom of the bucket before probing again.
pub const PROBE_AGAIN: Duration = Duration::from_secs(300);
/// The least time between two known-empty moments for their calls to measure a share.
pub const MIN_WINDOW: Duration = Duration::from_secs(2);
/// The longest window throttles are counted over; the share is measured afresh after.
pub const MAX_WINDOW: Duration = Duration::from_secs(30);
/// The share of a window's calls throttled that says someone else spends.
pub const PERSISTENT: f64 = 0.05;
/// The share of the measured refill that is kept to, once someone else spends.
pub const SHARE_MARGIN: f64 = 0.9;
/// How long without a throttle before the rate creeps back up.
pub const RAISE_AFTER: Duration = Duration::from_secs(30);
/// How much of the refill each creep step gives back.
pub const RAISE_STEP: f64 = 0.02;
/// How often the rate creeps.
pub const RAISE_EVERY: Duration = Duration::from_secs(5);
/// Tokens held back after a throttle, so that calls reaching EC2 a little early do not
/// find its bucket empty again.
const SLACK: f64 = 1.0;
/// The least rate, as a share of the refill.
const MIN_RATE: f64 = 0.05;

/// What the pace is given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaceConfig {
    /// The burst assumed (told, or AWS's default) less the reserve.
    pub ceiling: f64,
    /// The refill per second assumed.
    pub refill: f64,
    /// The share of a learned depth left unused for other clients (0 to 0.5).
    pub reserve: f64,
    /// Whether the operator told the controller this action's bucket.
    pub told: bool,
}

/// How a call was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// With a token of the believed bucket.
    Token,
    /// Beyond it, probing whether EC2's bucket is deeper.
    Probe,
}

/// How a granted call ended, as the pace needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// EC2 answered (success, or an error that is not a throttle): a token was spent.
    Spent,
    /// EC2 throttled it: its bucket was empty.
    Throttled,
    /// It failed without EC2 counting it for sure (timeout, connection error).
    Unknown,
    /// It was never sent (its caller withdrew it once granted): the grant is handed
    /// back.
    Unused,
}

/// The bucket was last known empty at `at`; calls since then.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Empty {
    at: Instant,
    asked: u32,
    through: u32,
    throttled: u32,
}

/// One action's learned pace.
#[derive(Debug, Clone, PartialEq)]
pub struct Pace {
    config: PaceConfig,
    tokens: f64,
    at: Instant,
    depth: f64,
    rate: f64,
    /// Spending a burst that started from a full bucket (probing allowed once spent).
    full_burst: bool,
    probes: u32,
    probe_again_at: Option<Instant>,
    empty: Option<Empty>,
    last_drain: Option<Instant>,
    /// When the next creep is due.
    next_raise: Instant,
    /// The rate before the current creep began, and when it last crept.
    raised_from: Option<(f64, Instant)>,
}

impl Pace {
    /// A pace that has made no call yet.
    pub fn new(config: PaceConfig, now: Instant) -> Self {
        let ceiling = config.ceiling.max(1.0);
        let depth = if config.told {
            ceiling
        } else {
            (ceiling * FIRST_BURST).floor().max(1.0)
        };
        Pace {
            config: PaceConfig { ceiling, ..config },
            tokens: depth,
            at: now,
            depth,
            rate: config.refill.max(1e-3),
            full_burst: !config.told,
            probes: 0,
            probe_again_at: None,
            empty: None,
            last_drain: None,
            next_raise: now + RAISE_AFTER,
            raised_from: None,
        }
    }

    /// The burst believed available when the bucket is full.
    pub fn depth(&self) -> f64 {
        self.depth
    }

    /// The refill per second believed left to this controller.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    fn advance(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = self.at.max(now);
        while self.rate < self.config.refill && now >= self.next_raise {
            let from = self.raised_from.map_or(self.rate, |(r, _)| r);
            self.raised_from = Some((from, self.next_raise));
            self.rate = (self.rate + RAISE_STEP * self.config.refill).min(self.config.refill);
            self.next_raise += RAISE_EVERY;
        }
        self.tokens = (self.tokens + self.rate * dt).min(self.depth);
        if self.tokens >= self.depth - 1e-9 {
            self.full_burst = true;
        }
    }

    fn may_probe(&self, now: Instant) -> bool {
        self.full_burst
            && self.probes < MAX_PROBES
            && self.depth + f64::from(self.probes) < self.config.ceiling
            && self.probe_again_at.is_none_or(|t| now >= t)
    }

    /// Lets one call through now, or says how long until one may go.
    pub fn try_grant(&mut self, now: Instant) -> Result<Grant, Duration> {
        self.advance(now);
        let grant = if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Grant::Token
        } else if self.may_probe(now) {
            self.probes += 1;
            Grant::Probe
        } else {
            let wait = (1.0 - self.tokens) / self.rate;
            return Err(Duration::from_secs_f64(wait.clamp(1e-3, 3600.0)));
        };
        if let Some(e) = &mut self.empty {
            e.asked += 1;
        }
        Ok(grant)
    }

    /// Learns from how a call granted at `granted` as `grant` ended.
    pub fn answered(&mut self, grant: Grant, granted: Instant, answer: Answer, now: Instant) {
        self.advance(now);
        if grant == Grant::Probe {
            self.probes = self.probes.saturating_sub(1);
        }
        match answer {
            Answer::Unknown => {}
            Answer::Unused => {
                if grant == Grant::Token {
                    self.tokens = (self.tokens + 1.0).min(self.depth);
                }
                if let Some(e) = &mut self.empty {
                    e.asked = e.asked.saturating_sub(1);
                }
            }
            Answer::Spent => {
                if grant == Grant::Probe {
                    self.depth = (self.depth + 1.0).min(self.config.ceiling);
                }
                if let Some(e) = &mut self.empty {
                    e.through += 1;
                }
            }
            Answer::Throttled => {
                if self.last_drain.is_some_and(|d| granted < d) {
                    return; // An echo of the emptiness already learned from.
                }
                self.throttled(grant, now);
            }
        }
    }

    fn throttled(&mut self, grant: Grant, now: Instant) {
        let mut restart_window = self.empty.is_none();
        if grant == Grant::Probe {
            // The bottom of the bucket: keep the reserve for others.
            self.depth = (self.depth * (1.0 - self.config.reserve.clamp(0.0, 0.5))).max(1.0);
            self.probe_again_at = Some(now + PROBE_AGAIN);
        } else if self.tokens >= 1.0 {
            // The bucket held fewer tokens than believed.
            self.depth = (self.depth - self.tokens.floor()).max(1.0);
            self.probe_again_at = Some(now + PROBE_AGAIN);
        } else {
            // Empty at the pace believed.
            if let Some((before, at)) = self.raised_from.take()
                && now.saturating_duration_since(at) < RAISE_AFTER
            {
                self.rate = before;
            }
            if let Some(e) = &mut self.empty {
                e.throttled += 1;
                let window = now.saturating_duration_since(e.at);
                if window >= MIN_WINDOW
                    && e.throttled >= 2
                    && f64::from(e.throttled) >= PERSISTENT * f64::from(e.asked.max(1))
                {
                    let through = f64::from(e.through) / window.as_secs_f64();
                    self.rate = (SHARE_MARGIN * through)
                        .min(self.rate)
                        .max(self.rate / 2.0)
                        .max(MIN_RATE * self.config.refill);
                    restart_window = true;
                } else if window >= MAX_WINDOW {
                    restart_window = true;
                }
            }
        }
        self.full_burst = false;
        self.tokens = -SLACK;
        self.last_drain = Some(now);
        self.next_raise = now + RAISE_AFTER;
        if restart_window {
            self.empty = Some(Empty {
                at: now,
                asked: 0,
                through: 0,
                throttled: 0,
            });
        }
    }
}

#[cfg(test)]
mod tests;
