//! What an EC2 call's failure means to a rule, with the error itself kept beside it (for
//! events, logs and the error label). The actors classify the port's typed error once;
//! the rules here match on the class and never on message text.

/// A failed call: its class and the error as the port reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Refusal<E> {
    /// What the failure means.
    pub class: Refused,
    pub error: E,
}

/// The classes of failure the rules tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The ENI, attachment or other named object does not exist (any more).
    NotFound,
    /// The instance named does not exist or is terminated.
    InstanceGone,
    /// The object is busy in another state (detaching, in use): settles by itself.
    Conflict,
    /// Another interface holds the device index.
    DeviceIndexInUse,
    /// The instance takes no more interfaces on the card.
    AttachmentLimit,
    /// The ClientToken was used before with other parameters.
    TokenReused,
    /// EC2's bucket for the action was empty: the rate limiter paces the retry.
    Throttled,
    /// Timed out or a server error: the same call may succeed at once (its token was
    /// spent either way, so waiting longer only stretches the tail).
    Transient,
    /// A failure the same call will not get past (permissions, invalid parameters).
    Permanent,
    /// Not sent: held back by a rule of the caller's own (a breaker); nothing happened.
    Withheld,
}

impl<E> Refusal<E> {
    /// A refusal of `class`.
    pub fn new(class: Refused, error: E) -> Self {
        Refusal { class, error }
    }

    /// Whether retrying the same call may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self.class,
            Refused::Throttled | Refused::Transient | Refused::Conflict | Refused::Withheld
        )
    }
}

/// How long to wait before retrying a call that failed transiently (a 5xx, a timeout)
/// `failures` times in a row: 250 ms doubling, at most 2 s. The caller spreads it by
/// jitter (between half and all of it), so that calls that failed together retry apart.
pub fn retry_soon(failures: u32) -> std::time::Duration {
    let base = std::time::Duration::from_millis(250);
    base.saturating_mul(1 << failures.saturating_sub(1).min(3))
        .min(std::time::Duration::from_secs(2))
}

/// How long a slot waits before trying again after its `blocked`-th step in a row that
/// could not progress (a refusal retrying will not fix, no room on the card, an
/// instance it may not use): a minute doubling to ten. The caller spreads it by jitter
/// (between half and all of it), so that slots blocked together retry apart.
pub fn blocked_retry(blocked: u32) -> std::time::Duration {
    let base = std::time::Duration::from_secs(60);
    base.saturating_mul(1 << blocked.saturating_sub(1).min(10))
        .min(std::time::Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn transient_failures_retry_soon_with_a_short_cap() {
        for (failures, ms) in [
            (0, 250),
            (1, 250),
            (2, 500),
            (3, 1000),
            (4, 2000),
            (40, 2000),
        ] {
            assert_eq!(
                retry_soon(failures),
                Duration::from_millis(ms),
                "{failures}"
            );
        }
    }

    #[test]
    fn blocked_slots_back_off_from_a_minute_to_ten() {
        for (blocked, secs) in [
            (0, 60),
            (1, 60),
            (2, 120),
            (3, 240),
            (4, 480),
            (5, 600),
            (99, 600),
        ] {
            assert_eq!(
                blocked_retry(blocked),
                Duration::from_secs(secs),
                "{blocked}"
            );
        }
    }

    #[test]
    fn throttles_transient_failures_and_conflicts_are_retryable() {
        for (class, retryable) in [
            (Refused::Throttled, true),
            (Refused::Transient, true),
            (Refused::Conflict, true),
            (Refused::Permanent, false),
            (Refused::NotFound, false),
        ] {
            assert_eq!(Refusal::new(class, ()).retryable(), retryable, "{class:?}");
        }
    }
}
