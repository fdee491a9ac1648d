//! Answers to the changes of an attached ENI's source/destination check and addresses.

use super::{Answer, Applied, Next, SlotEvent, not_found, retry_or_block};
use crate::plan::lifecycle::Action;
use crate::plan::slot_view::SlotView;

impl SlotView {
    /// Applies the answer to a [`Action::SetSourceDestCheck`], [`Action::AssignIpv4`] or
    /// [`Action::UnassignIpv4`].
    pub(super) fn attribute_applied<E>(
        &mut self,
        action: &Action,
        answer: Answer<E>,
    ) -> Applied<E> {
        let (eni_id, reason) = match action {
            Action::SetSourceDestCheck { eni_id, .. } => (eni_id, "ENIModifyFailed"),
            Action::AssignIpv4 { eni_id, .. } | Action::UnassignIpv4 { eni_id, .. } => {
                (eni_id, "ENIAddressesFailed")
            }
            _ => return Applied::next(Next::Continue),
        };
        match answer {
            Answer::Refused(r) if not_found(r.class) => {
                self.observed = false;
                return Applied::next(Next::Retry);
            }
            Answer::Refused(r) => {
                let call = if reason == "ENIModifyFailed" {
                    "Modify"
                } else {
                    "Assign"
                };
                return retry_or_block(r, reason, call);
            }
            _ => {}
        }
        let before = self.seen.iter().find(|e| &e.id == eni_id).map_or(0, |e| {
            u32::try_from(e.secondary_ips.len()).unwrap_or(u32::MAX)
        });
        match action {
            Action::SetSourceDestCheck { value, .. } => {
                self.edit(eni_id, |e| e.source_dest_check = *value);
                Applied::next(Next::Continue)
            }
            Action::AssignIpv4 { count, .. } => {
                // EC2 chose the addresses: read them before anything else.
                self.observed = false;
                Applied::with(
                    Next::Continue,
                    SlotEvent::AddressesChanged {
                        eni_id: eni_id.clone(),
                        from: before,
                        to: before.saturating_add(*count),
                    },
                )
            }
            Action::UnassignIpv4 { addresses, .. } => {
                self.edit(eni_id, |e| {
                    e.secondary_ips.retain(|a| !addresses.contains(a))
                });
                let gone = u32::try_from(addresses.len()).unwrap_or(u32::MAX);
                Applied::with(
                    Next::Continue,
                    SlotEvent::AddressesChanged {
                        eni_id: eni_id.clone(),
                        from: before,
                        to: before.saturating_sub(gone),
                    },
                )
            }
            _ => Applied::next(Next::Continue),
        }
    }
}
