//! Answers to the changes of an attached ENI's source/destination check, connection
//! tracking, secondary addresses and /28 prefixes.

use tokio::time::Instant;

use super::{Answer, Applied, Next, SlotEvent, not_found, retry_or_block};
use crate::plan::attributes::PendingAddresses;
use crate::plan::lifecycle::Action;
use crate::plan::slot_view::SlotView;
use crate::plan::slots::DesiredSlot;

/// Which list of an ENI an address call changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listed {
    Addresses,
    Prefixes,
    Ipv6,
    Ipv6Prefixes,
}

impl Listed {
    fn of_ipv6(prefixes: bool) -> Self {
        if prefixes {
            Listed::Ipv6Prefixes
        } else {
            Listed::Ipv6
        }
    }
}

impl SlotView {
    /// Applies the answer to a [`Action::SetSourceDestCheck`],
    /// [`Action::SetConnectionTracking`], or an address or prefix call.
    pub(super) fn attribute_applied<E>(
        &mut self,
        desired: &DesiredSlot,
        action: &Action,
        answer: Answer<E>,
        now: Instant,
    ) -> Applied<E> {
        let (eni_id, reason, call, listed) = match action {
            Action::SetSourceDestCheck { eni_id, .. }
            | Action::SetConnectionTracking { eni_id, .. } => {
                (eni_id, "ENIModifyFailed", "Modify", None)
            }
            Action::AssignIpv4 { eni_id, .. } => (
                eni_id,
                "ENIAddressesFailed",
                "Assign",
                Some(Listed::Addresses),
            ),
            Action::UnassignIpv4 { eni_id, .. } => (
                eni_id,
                "ENIAddressesFailed",
                "Unassign",
                Some(Listed::Addresses),
            ),
            Action::AssignIpv4Prefixes { eni_id, .. } => (
                eni_id,
                "ENIPrefixesFailed",
                "Assign",
                Some(Listed::Prefixes),
            ),
            Action::UnassignIpv4Prefixes { eni_id, .. } => (
                eni_id,
                "ENIPrefixesFailed",
                "Unassign",
                Some(Listed::Prefixes),
            ),
            Action::AssignIpv6 {
                eni_id, prefixes, ..
            } => (
                eni_id,
                "ENIIpv6Failed",
                "Assign",
                Some(Listed::of_ipv6(*prefixes)),
            ),
            Action::UnassignIpv6 {
                eni_id, prefixes, ..
            } => (
                eni_id,
                "ENIIpv6Failed",
                "Unassign",
                Some(Listed::of_ipv6(*prefixes)),
            ),
            _ => return Applied::next(Next::Continue),
        };
        match answer {
            Answer::Refused(r) if not_found(r.class) => {
                self.observed = false;
                return Applied::next(Next::Retry);
            }
            Answer::Refused(r) => {
                if let Some(listed) = listed {
                    // EC2 may have applied it (a timeout, a 5xx): read again, and make
                    // no other such call until the count shows or the wait is over.
                    self.observed = false;
                    self.pending(desired, listed, eni_id, now);
                }
                return retry_or_block(r, reason, call);
            }
            _ => {}
        }
        if let Some(listed) = listed {
            self.pending(desired, listed, eni_id, now);
        }
        let count = |list: &[String]| u32::try_from(list.len()).unwrap_or(u32::MAX);
        let seen = self.seen.iter().find(|e| &e.id == eni_id);
        let (addresses, prefixes) = seen.map_or((0, 0), |e| {
            (count(&e.secondary_ips), count(&e.ipv4_prefixes))
        });
        let ipv6_before = |prefixes: bool| {
            seen.map_or(0, |e| {
                count(if prefixes {
                    &e.ipv6_prefixes
                } else {
                    &e.ipv6_addresses
                })
            })
        };
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
                        from: addresses,
                        to: addresses.saturating_add(*count),
                    },
                )
            }
            Action::UnassignIpv4 {
                addresses: gone, ..
            } => {
                self.edit(eni_id, |e| e.secondary_ips.retain(|a| !gone.contains(a)));
                Applied::with(
                    Next::Continue,
                    SlotEvent::AddressesChanged {
                        eni_id: eni_id.clone(),
                        from: addresses,
                        to: addresses.saturating_sub(count(gone)),
                    },
                )
            }
            Action::AssignIpv4Prefixes { count, .. } => {
                self.observed = false;
                Applied::with(
                    Next::Continue,
                    SlotEvent::PrefixesChanged {
                        eni_id: eni_id.clone(),
                        from: prefixes,
                        to: prefixes.saturating_add(*count),
                    },
                )
            }
            Action::UnassignIpv4Prefixes { prefixes: gone, .. } => {
                self.edit(eni_id, |e| e.ipv4_prefixes.retain(|p| !gone.contains(p)));
                Applied::with(
                    Next::Continue,
                    SlotEvent::PrefixesChanged {
                        eni_id: eni_id.clone(),
                        from: prefixes,
                        to: prefixes.saturating_sub(count(gone)),
                    },
                )
            }
            Action::AssignIpv6 {
                count, prefixes, ..
            } => {
                let from = ipv6_before(*prefixes);
                self.observed = false;
                Applied::with(
                    Next::Continue,
                    SlotEvent::Ipv6Changed {
                        eni_id: eni_id.clone(),
                        prefixes: *prefixes,
                        from,
                        to: from.saturating_add(*count),
                    },
                )
            }
            Action::UnassignIpv6 {
                items, prefixes, ..
            } => {
                let from = ipv6_before(*prefixes);
                let p = *prefixes;
                self.edit(eni_id, |e| {
                    let list = if p {
                        &mut e.ipv6_prefixes
                    } else {
                        &mut e.ipv6_addresses
                    };
                    list.retain(|a| !items.contains(a));
                });
                Applied::with(
                    Next::Continue,
                    SlotEvent::Ipv6Changed {
                        eni_id: eni_id.clone(),
                        prefixes: p,
                        from,
                        to: from.saturating_sub(count(items)),
                    },
                )
            }
            _ => Applied::next(Next::Continue),
        }
    }

    /// Notes an address or prefix call towards the spec's count for `eni_id`, made at
    /// `now`.
    fn pending(&mut self, desired: &DesiredSlot, listed: Listed, eni_id: &str, now: Instant) {
        let (want, slot) = match listed {
            Listed::Addresses => (desired.secondary_ipv4, &mut self.memory.pending_addresses),
            Listed::Prefixes => (desired.ipv4_prefixes, &mut self.memory.pending_prefixes),
            Listed::Ipv6 => (desired.ipv6_addresses, &mut self.memory.pending_ipv6),
            Listed::Ipv6Prefixes => (
                desired.ipv6_prefixes,
                &mut self.memory.pending_ipv6_prefixes,
            ),
        };
        if let Some(count) = want {
            *slot = Some(PendingAddresses {
                eni_id: eni_id.to_string(),
                count,
                since: now,
            });
        }
    }
}
