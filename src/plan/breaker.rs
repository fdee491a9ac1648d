//! One cause that blocks many slots costs one call per probe interval, not one per slot.
//!
//! A refusal that retrying will not fix (a subnet out of addresses, a security group
//! over its limit, a permission missing) usually blocks every slot that makes the same
//! call in the same place. Each of a NodeENI's scopes (the creates in one subnet, the
//! attaches in one subnet) has a breaker: the first such refusal opens it; while it is
//! open, one slot at a time is let through as a *probe* once the probe interval has
//! passed, and every other slot is *held* without calling EC2. The interval doubles
//! with each probe refused, from [`FIRST_PROBE`] to [`LAST_PROBE`]; a probe that gets
//! past the refusal closes the breaker and wakes the held slots.
//!
//! The probe goes to whichever held slot asks first once it is due, so a refusal that
//! belongs to one slot only (a tag value EC2 refuses for one node) does not hold the
//! others for long: the next probe is another slot's, which succeeds and closes it.
//!
//! Pure: time comes in as `now`, randomness as a jitter in `[0, 1)`; the slots share the
//! breakers of their NodeENI and call these rules.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

/// The wait before the first probe after a breaker opens.
pub const FIRST_PROBE: Duration = Duration::from_secs(60);
/// The longest wait between probes.
pub const LAST_PROBE: Duration = Duration::from_secs(600);
/// A probe that has not answered for this long is taken to be lost (its slot was
/// retired or restarted): the next slot that asks probes instead.
pub const PROBE_LOST_AFTER: Duration = Duration::from_secs(120);

/// How long to wait before probing again after `refused` probes in a row (the first
/// refusal opens the breaker): [`FIRST_PROBE`] doubling to [`LAST_PROBE`], spread by
/// `jitter` (in `[0, 1)`) over its second half.
pub fn probe_interval(refused: u32, jitter: f64) -> Duration {
    let full = FIRST_PROBE
        .saturating_mul(1 << refused.saturating_sub(1).min(10))
        .min(LAST_PROBE);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// Why a breaker is open: the refusal that opened it (or the last probe's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// The Event and condition reason (`ENICreateFailed`, `ENIAttachFailed`).
    pub reason: &'static str,
    /// EC2's refusal, in words.
    pub message: String,
}

/// An open breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    /// Why it is open.
    pub cause: Cause,
    /// Refusals in a row (the one that opened it included).
    pub refused: u32,
    /// When the next probe may go.
    pub next_probe: Instant,
    /// The slot probing, and since when.
    pub probing: Option<(String, Instant)>,
    /// The slots held.
    pub held: BTreeSet<String>,
}

/// What a slot about to call is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// No breaker is open: call.
    Go,
    /// Call, as the probe (at the lowest priority: it will likely be refused again).
    Probe,
    /// Do not call; ask again at `until` (sooner if the breaker closes).
    Hold {
        /// When the next probe is due.
        until: Instant,
        /// Why.
        cause: Cause,
    },
}

/// Whether `holder` may call now.
pub fn admit(breaker: &mut Option<Breaker>, holder: &str, now: Instant) -> Admit {
    let Some(b) = breaker else {
        return Admit::Go;
    };
    let probe_free = match &b.probing {
        Some((h, _)) if h == holder => return Admit::Probe,
        Some((_, since)) => now.duration_since(*since) >= PROBE_LOST_AFTER,
        None => true,
    };
    if probe_free && now >= b.next_probe {
        b.held.remove(holder);
        b.probing = Some((holder.to_string(), now));
        return Admit::Probe;
    }
    b.held.insert(holder.to_string());
    let until = match &b.probing {
        // A probe is out: its answer decides; look again when it should have come.
        Some((_, since)) if !probe_free => b.next_probe.max(*since + PROBE_LOST_AFTER),
        _ => b.next_probe,
    };
    Admit::Hold {
        until,
        cause: b.cause.clone(),
    }
}

/// How a call that was admitted ended, as the breaker needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Refused in a way retrying will not fix.
    Refused(Cause),
    /// EC2 took it, or refused it for another reason (retryable, or about the ENI).
    Passed,
    /// It was never sent (held at the last moment, or the slot gave up).
    NotSent,
}

/// Learns from how `holder`'s call ended; returns the slots to wake (those held, when a
/// call got past the refusal and the breaker closed).
pub fn answered(
    breaker: &mut Option<Breaker>,
    holder: &str,
    outcome: Outcome,
    now: Instant,
    jitter: f64,
) -> BTreeSet<String> {
    match (breaker.as_mut(), outcome) {
        (None, Outcome::Refused(cause)) => {
            *breaker = Some(Breaker {
                cause,
                refused: 1,
                next_probe: now + probe_interval(1, jitter),
                probing: None,
                held: [holder.to_string()].into(),
            });
            BTreeSet::new()
        }
        (None, _) => BTreeSet::new(),
        (Some(b), Outcome::Refused(cause)) => {
            if b.probing.as_ref().is_some_and(|(h, _)| h == holder) {
                b.probing = None;
                b.refused += 1;
                b.next_probe = now + probe_interval(b.refused, jitter);
                b.cause = cause;
            }
            // A call sent before the breaker opened, answered late, changes nothing.
            b.held.insert(holder.to_string());
            BTreeSet::new()
        }
        (Some(_), Outcome::Passed) => breaker.take().map(|b| b.held).unwrap_or_default(),
        (Some(b), Outcome::NotSent) => {
            if b.probing.as_ref().is_some_and(|(h, _)| h == holder) {
                b.probing = None;
            }
            BTreeSet::new()
        }
    }
}

/// Forgets `holder` (its slot stopped): a probe it had out is free again.
pub fn left(breaker: &mut Option<Breaker>, holder: &str) {
    if let Some(b) = breaker {
        b.held.remove(holder);
        if b.probing.as_ref().is_some_and(|(h, _)| h == holder) {
            b.probing = None;
        }
    }
}

#[cfg(test)]
mod tests;
