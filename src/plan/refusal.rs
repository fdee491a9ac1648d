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
    /// Throttled, timed out or a server error: the same call may succeed soon.
    Transient,
    /// A failure the same call will not get past (permissions, invalid parameters).
    Permanent,
}

impl<E> Refusal<E> {
    /// A refusal of `class`.
    pub fn new(class: Refused, error: E) -> Self {
        Refusal { class, error }
    }

    /// Whether retrying the same call may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self.class, Refused::Transient | Refused::Conflict)
    }
}
