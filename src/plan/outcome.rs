//! What each answer from EC2 does to a slot: the other half of the slot's life after
//! [`super::lifecycle::decide`]. The actor executes the decided action, hands the typed
//! answer to [`SlotView::apply`], and schedules the next step as told; every change to
//! what the slot remembers happens here, as a function of the answer, `now` (tokio's
//! clock, for waits) and `wall` (for creation-time tags). The answers to Create, Adopt
//! and Attach are in `acquisition`, those to attribute and address changes in
//! `attributes`.

use jiff::Timestamp;
use tokio::time::Instant;

use super::lifecycle::{Action, Blocker, EniState, SeenEni};
use super::refusal::{Refusal, Refused};
use super::slot_view::{InstanceFacts, InstanceSeen, Refreshed, SlotView};
use super::slots::DesiredSlot;

/// What EC2 answered to the action a slot executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<E> {
    /// To `Observe`: the instance (`None`: EC2 does not know it).
    Instance(Option<InstanceFacts>),
    /// To `Wait`: the slot's ENIs read again.
    Refreshed(Refreshed),
    /// To `Create`: the ENI; `long_gone` when its ClientToken named an ENI deleted long
    /// ago (see [`created_long_ago`](super::slot_view::created_long_ago)).
    Created {
        /// The ENI returned (boxed: it is most of the answer's size).
        eni: Box<SeenEni>,
        /// It no longer exists.
        long_gone: bool,
    },
    /// To `Attach`: the new attachment.
    Attached {
        /// Its ID.
        attachment_id: String,
    },
    /// The call succeeded (tags, modifications, a relocating detach).
    Done,
    /// The call failed.
    Refused(Refusal<E>),
}

/// When the slot's next step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Now.
    Continue,
    /// After a poll interval that grows while nothing changes.
    Poll,
    /// After a retry backoff.
    Retry,
    /// Soon: the call failed transiently (a 5xx, a timeout); see
    /// [`crate::plan::refusal::retry_soon`].
    RetrySoon,
    /// Much later: the slot is blocked.
    Blocked,
}

/// Something worth an Event on the NodeENI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotEvent<E> {
    /// An ENI was created.
    Created(String),
    /// A Go-controller ENI was tagged as this cluster's.
    Adopted(String),
    /// An ENI's security groups were replaced by these.
    GroupsChanged(String, Vec<String>),
    /// An ENI was detached to move to the index or card the spec asks for.
    Moving(String),
    /// An ENI's secondary private IPv4 addresses went from one count to another.
    AddressesChanged {
        /// The ENI.
        eni_id: String,
        /// Count before.
        from: u32,
        /// Count after.
        to: u32,
    },
    /// An ENI's /28 IPv4 prefixes went from one count to another.
    PrefixesChanged {
        /// The ENI.
        eni_id: String,
        /// Count before.
        from: u32,
        /// Count after.
        to: u32,
    },
    /// An ENI's IPv6 addresses (or /80 prefixes) went from one count to another.
    Ipv6Changed {
        /// The ENI.
        eni_id: String,
        /// Prefixes rather than addresses.
        prefixes: bool,
        /// Count before.
        from: u32,
        /// Count after.
        to: u32,
    },
    /// A call failed in a way retrying will not fix.
    Blocked {
        /// Event reason.
        reason: &'static str,
        /// Event action.
        action: &'static str,
        /// The failure.
        error: E,
    },
}

/// What applying an answer decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied<E> {
    /// When to step again.
    pub next: Next,
    /// An Event to record, if any.
    pub event: Option<SlotEvent<E>>,
}

impl<E> Applied<E> {
    pub(super) fn next(next: Next) -> Self {
        Applied { next, event: None }
    }

    pub(super) fn with(next: Next, event: SlotEvent<E>) -> Self {
        Applied {
            next,
            event: Some(event),
        }
    }
}

pub(super) fn retry_or_block<E>(
    r: Refusal<E>,
    reason: &'static str,
    action: &'static str,
) -> Applied<E> {
    if r.class == Refused::Transient {
        Applied::next(Next::RetrySoon)
    } else if r.retryable() {
        Applied::next(Next::Retry)
    } else {
        Applied::with(
            Next::Blocked,
            SlotEvent::Blocked {
                reason,
                action,
                error: r.error,
            },
        )
    }
}

pub(super) fn not_found(class: Refused) -> bool {
    matches!(class, Refused::NotFound | Refused::InstanceGone)
}

impl SlotView {
    /// Applies EC2's answer to `action` and says when to step again.
    pub fn apply<E>(
        &mut self,
        desired: &DesiredSlot,
        action: &Action,
        answer: Answer<E>,
        now: Instant,
        wall: Timestamp,
    ) -> Applied<E> {
        match (action, answer) {
            (Action::Ready, _) => Applied::next(Next::Continue),
            (Action::Blocked(Blocker::NoRoom(_)), _) => {
                self.placement = None;
                Applied::next(Next::Blocked)
            }
            (Action::Blocked(Blocker::Unmanaged(_)), _) => Applied::next(Next::Blocked),
            (Action::Blocked(Blocker::InstanceGone), _) => {
                // Look again later: a missing instance may have been a consistency lag.
                self.instance = InstanceSeen::Unknown;
                self.placement = None;
                Applied::next(Next::Blocked)
            }
            (_, Answer::Instance(facts)) => {
                if self.placed(desired, facts, now) || self.instance_gone(now) {
                    Applied::next(Next::Continue)
                } else {
                    // Not visible (yet): look again after a backoff.
                    Applied::next(Next::Retry)
                }
            }
            (_, Answer::Refreshed(r)) => {
                let before = self.seen.clone();
                self.refreshed(r, now);
                Applied::next(if self.seen != before {
                    Next::Continue
                } else {
                    Next::Poll
                })
            }
            (Action::Observe | Action::Wait(_), Answer::Refused(r)) => {
                Applied::next(if r.class == Refused::Transient {
                    Next::RetrySoon
                } else {
                    Next::Retry
                })
            }
            (Action::Create { incarnation }, answer) => self.created(*incarnation, answer, now),
            (Action::Adopt { eni_id }, answer) => self.adopted(desired, eni_id, answer, now),
            (
                Action::Attach {
                    eni_id,
                    device_index,
                    card,
                },
                answer,
            ) => self.attached(desired, eni_id, *device_index, *card, answer, now, wall),
            (Action::SetDeleteOnTermination { eni_id, value, .. }, answer) => match answer {
                Answer::Refused(r) if not_found(r.class) => {
                    self.observed = false;
                    Applied::next(Next::Retry)
                }
                Answer::Refused(r) => retry_or_block(r, "ENIModifyFailed", "Modify"),
                _ => {
                    self.edit(eni_id, |e| {
                        if let EniState::Attached {
                            delete_on_termination,
                            ..
                        } = &mut e.state
                        {
                            *delete_on_termination = *value;
                        }
                    });
                    Applied::next(Next::Continue)
                }
            },
            (Action::ModifyGroups { eni_id, groups }, answer) => match answer {
                Answer::Refused(r) => retry_or_block(r, "ENIModifyFailed", "Modify"),
                _ => {
                    let mut sorted = groups.clone();
                    sorted.sort();
                    self.edit(eni_id, |e| e.security_groups = sorted);
                    Applied::with(
                        Next::Continue,
                        SlotEvent::GroupsChanged(eni_id.clone(), groups.clone()),
                    )
                }
            },
            (
                Action::Relocate {
                    eni_id,
                    attachment_id,
                },
                answer,
            ) => match answer {
                Answer::Refused(r) if not_found(r.class) => {
                    self.observed = false;
                    Applied::next(Next::Continue)
                }
                Answer::Refused(r) => retry_or_block(r, "ENIDetachFailed", "Detach"),
                _ => {
                    let instance_id = desired.key.instance_id.clone();
                    let attachment_id = attachment_id.clone();
                    self.edit(eni_id, |e| {
                        e.state = EniState::Detaching {
                            attachment_id,
                            instance_id,
                        };
                    });
                    self.placement = None;
                    Applied::with(Next::Poll, SlotEvent::Moving(eni_id.clone()))
                }
            },
            (
                Action::TagIntent {
                    eni_id,
                    index,
                    base,
                },
                answer,
            ) => match answer {
                Answer::Refused(r) => retry_or_block(r, "ENITagFailed", "Tag"),
                _ => {
                    self.edit(eni_id, |e| {
                        e.intent_index = Some(*index);
                        e.intent_base = Some(*base);
                    });
                    Applied::next(Next::Continue)
                }
            },
            (
                Action::SetSourceDestCheck { .. }
                | Action::SetConnectionTracking { .. }
                | Action::AssignIpv4 { .. }
                | Action::UnassignIpv4 { .. }
                | Action::AssignIpv4Prefixes { .. }
                | Action::UnassignIpv4Prefixes { .. }
                | Action::AssignIpv6 { .. }
                | Action::UnassignIpv6 { .. },
                answer,
            ) => self.attribute_applied(desired, action, answer, now),
            (Action::Observe | Action::Wait(_), _) => Applied::next(Next::Continue),
        }
    }
}

mod acquisition;
mod attributes;
#[cfg(test)]
mod tests;
