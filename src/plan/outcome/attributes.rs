//! Answers to the changes of an attached ENI's source/destination check, connection
//! tracking and addresses.

use tokio::time::Instant;

use super::{Answer, Applied, Next, SlotEvent, not_found, retry_or_block};
use crate::plan::attributes::PendingAddresses;
use crate::plan::lifecycle::Action;
use crate::plan::slot_view::SlotView;
use crate::plan::slots::DesiredSlot;

impl SlotView {
    /// Applies the answer to a [`Action::SetSourceDestCheck`], [`Action::AssignIpv4`] or
    /// [`Action::UnassignIpv4`].
    pub(super) fn attribute_applied<E>(
        &mut self,
        desired: &DesiredSlot,
        action: &Action,
        answer: Answer<E>,
        now: Instant,
    ) -> Applied<E> {
        let (eni_id, reason, call) = match action {
            Action::SetSourceDestCheck { eni_id, .. }
            | Action::SetConnectionTracking { eni_id, .. } => (eni_id, "ENIModifyFailed", "Modify"),
            Action::AssignIpv4 { eni_id, .. } => (eni_id, "ENIAddressesFailed", "Assign"),
            Action::UnassignIpv4 { eni_id, .. } => (eni_id, "ENIAddressesFailed", "Unassign"),
            _ => return Applied::next(Next::Continue),
        };
        let addresses = matches!(
            action,
            Action::AssignIpv4 { .. } | Action::UnassignIpv4 { .. }
        );
        match answer {
            Answer::Refused(r) if not_found(r.class) => {
                self.observed = false;
                return Applied::next(Next::Retry);
            }
            Answer::Refused(r) => {
                if addresses {
                    // EC2 may have applied it (a timeout, a 5xx): read again, and make
                    // no other address call until the count shows or the wait is over.
                    self.observed = false;
                    self.pending(desired, eni_id, now);
                }
                return retry_or_block(r, reason, call);
            }
            _ => {}
        }
        if addresses {
            self.pending(desired, eni_id, now);
        }
        let before = self.seen.iter().find(|e| &e.id == eni_id).map_or(0, |e| {
            u32::try_from(e.secondary_ips.len()).unwrap_or(u32::MAX)
        });
        match action {
            Action::SetSourceDestCheck { value, .. } => {
                self.edit(eni_id, |e| e.source_dest_check = *value);
                Applied::next(Next::Continue)
            }
            Action::SetConnectionTracking { value, .. } => {
                self.edit(eni_id, |e| e.connection_tracking = Some(*value));
                self.memory.connection_tracking_set = Some((eni_id.clone(), *value));
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

    /// Notes an address call towards the spec's count for `eni_id`, made at `now`.
    fn pending(&mut self, desired: &DesiredSlot, eni_id: &str, now: Instant) {
        if let Some(count) = desired.secondary_ipv4 {
            self.memory.pending_addresses = Some(PendingAddresses {
                eni_id: eni_id.to_string(),
                count,
                since: now,
            });
        }
    }
}
