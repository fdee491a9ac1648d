//! Answers to the calls that give a slot its ENI: Create (a ClientToken reused or
//! naming an ENI long gone included), Adopt (a Go-controller ENI tagged as this
//! cluster's) and Attach (an index in use, the card full, the instance or ENI gone).

use jiff::Timestamp;
use tokio::time::Instant;

use super::{Answer, Applied, Next, SlotEvent, not_found, retry_or_block};
use crate::plan::device_index::NoRoom;
use crate::plan::lifecycle::{EniState, Known, VISIBILITY_WINDOW};
use crate::plan::refusal::Refused;
use crate::plan::slot_view::{SlotView, created_long_ago};
use crate::plan::slots::DesiredSlot;

impl SlotView {
    pub(super) fn created<E>(
        &mut self,
        incarnation: u32,
        answer: Answer<E>,
        now: Instant,
    ) -> Applied<E> {
        match answer {
            Answer::Created { eni, long_gone } => {
                self.memory.incarnation = incarnation;
                if long_gone {
                    // The token belonged to an ENI deleted long ago: move to a fresh one.
                    self.memory.incarnation = incarnation + 1;
                    self.memory.known = None;
                    return Applied::next(Next::Continue);
                }
                self.memory.known = Some(Known::eni(eni.id.clone(), None));
                let id = eni.id.clone();
                self.upsert(*eni);
                Applied::with(Next::Continue, SlotEvent::Created(id))
            }
            Answer::Refused(r) if r.class == Refused::TokenReused => {
                // The token was used with other parameters (by a previous controller, or
                // before a spec change): its ENI exists or existed. Look for it by tags
                // for a while before moving on to the next incarnation.
                self.memory.incarnation = incarnation;
                self.memory.known = Some(Known {
                    eni_id: None,
                    missing_since: Some(now),
                });
                Applied::next(Next::Poll)
            }
            Answer::Refused(r) => retry_or_block(r, "ENICreateFailed", "Create"),
            _ => Applied::next(Next::Continue),
        }
    }

    pub(super) fn adopted<E>(
        &mut self,
        desired: &DesiredSlot,
        eni_id: &str,
        answer: Answer<E>,
        now: Instant,
    ) -> Applied<E> {
        match answer {
            Answer::Refused(r) if not_found(r.class) => {
                self.lost(eni_id, now);
                Applied::next(Next::Continue)
            }
            Answer::Refused(r) => retry_or_block(r, "ENIAdoptFailed", "Adopt"),
            _ => {
                let incarnation = self.memory.incarnation;
                let created_at = self.created_at.map(|(_, ts)| ts);
                self.edit(eni_id, |e| {
                    e.legacy = false;
                    e.incarnation = Some(incarnation);
                    e.intent_index = Some(desired.preferred_device_index);
                    e.intent_base = Some(desired.base_device_index());
                    e.created_at = created_at;
                });
                self.memory.known = Some(Known::eni(eni_id, None));
                Applied::with(Next::Continue, SlotEvent::Adopted(eni_id.to_string()))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn attached<E>(
        &mut self,
        desired: &DesiredSlot,
        eni_id: &str,
        device_index: u32,
        card: u32,
        answer: Answer<E>,
        now: Instant,
        wall: Timestamp,
    ) -> Applied<E> {
        let r = match answer {
            Answer::Attached { attachment_id } => {
                let instance_id = desired.key.instance_id.clone();
                self.edit(eni_id, |e| {
                    e.state = EniState::Attaching {
                        attachment_id,
                        instance_id,
                        device_index,
                        card,
                    };
                });
                return Applied::next(Next::Poll);
            }
            Answer::Refused(r) => r,
            _ => return Applied::next(Next::Continue),
        };
        match r.class {
            Refused::DeviceIndexInUse => {
                self.placement = None;
                Applied::next(Next::Retry)
            }
            Refused::AttachmentLimit => {
                self.placement = Some(Err(NoRoom::RefusedByEc2));
                Applied::next(Next::Continue)
            }
            Refused::InstanceGone => {
                self.instance_missing(now);
                self.placement = None;
                Applied::next(Next::Retry)
            }
            Refused::NotFound => {
                let stale = self
                    .seen
                    .iter()
                    .any(|e| e.id == eni_id && created_long_ago(e, wall));
                self.lost(eni_id, now);
                if stale && let Some(k) = &mut self.memory.known {
                    // An old ENI that vanished is not coming back: no visibility wait.
                    k.missing_since = Some(now.checked_sub(VISIBILITY_WINDOW).unwrap_or(now));
                }
                Applied::next(Next::Continue)
            }
            Refused::Conflict => {
                self.observed = false;
                Applied::next(Next::Retry)
            }
            _ => retry_or_block(r, "ENIAttachFailed", "Attach"),
        }
    }
}
