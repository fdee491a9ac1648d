//! The life of one slot as a pure decision: given what EC2 shows for the slot and what
//! the slot's actor remembers, what is the one next step?
//!
//! Every decision is made from observations, never from "what I did last", so repeating
//! a step after a crash at any point is safe: an ENI found by its tags is adopted and
//! continued from wherever it is (available, attaching, attached at the wrong index, ...);
//! a slot with no visible ENI is created with the slot's deterministic ClientToken,
//! which returns the same ENI if a previous create's answer was lost.

use tokio::time::Instant;

use super::attributes::{Attributes, Change, ConnectionTracking, next_change, waits_for};
use super::device_index::NoRoom;
use super::slots::DesiredSlot;

pub use self::seen::*;

/// Why a slot cannot progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    /// No free device index within the instance type's limit.
    NoRoom(NoRoom),
    /// The instance is terminated or shutting down.
    InstanceGone,
    /// An ENI that claims the slot lost some of its ownership tags: the slot neither
    /// touches it nor makes another beside it until its tags are restored or it is gone.
    Unmanaged(String),
}

/// What the slot waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// An attachment to settle.
    Attaching,
    /// A detachment to settle.
    Detaching,
    /// An ENI it created to show up in describes.
    Visibility,
}

/// The next step of a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Action {
    /// Learn where the ENI can go (describe the instance) before acting.
    Observe,
    /// Create the slot's ENI with the ClientToken of `incarnation`.
    Create { incarnation: u32 },
    /// Tag a Go-controller ENI as this cluster's, then continue with it.
    Adopt { eni_id: String },
    /// Attach at `device_index` on `card`.
    Attach {
        eni_id: String,
        device_index: u32,
        card: u32,
    },
    /// Change deleteOnTermination.
    SetDeleteOnTermination {
        eni_id: String,
        attachment_id: String,
        value: bool,
    },
    /// Replace the ENI's security groups.
    ModifyGroups { eni_id: String, groups: Vec<String> },
    /// Turn the source/destination check on or off.
    SetSourceDestCheck { eni_id: String, value: bool },
    /// Add this many secondary private IPv4 addresses.
    AssignIpv4 { eni_id: String, count: u32 },
    /// Remove these secondary private IPv4 addresses (the last ones EC2 lists).
    UnassignIpv4 {
        eni_id: String,
        addresses: Vec<String>,
    },
    /// Add this many /28 IPv4 prefixes.
    AssignIpv4Prefixes { eni_id: String, count: u32 },
    /// Remove these /28 IPv4 prefixes (the numerically highest).
    UnassignIpv4Prefixes {
        eni_id: String,
        prefixes: Vec<String>,
    },
    /// Add this many IPv6 addresses (or /80 prefixes).
    AssignIpv6 {
        eni_id: String,
        count: u32,
        prefixes: bool,
    },
    /// Remove these IPv6 addresses (or /80 prefixes), the numerically highest.
    UnassignIpv6 {
        eni_id: String,
        items: Vec<String>,
        prefixes: bool,
    },
    /// Set the connection tracking timeouts.
    SetConnectionTracking {
        eni_id: String,
        value: ConnectionTracking,
    },
    /// Detach to re-attach at another index or card (the user changed `deviceIndex` or
    /// `networkCardIndex`).
    Relocate {
        eni_id: String,
        attachment_id: String,
    },
    /// Record the preferred index (and `deviceIndex`) the ENI now sits for.
    TagIntent {
        eni_id: String,
        /// Preferred index.
        index: u32,
        /// The NodeENI's `deviceIndex`.
        base: u32,
    },
    /// Wait, then observe again.
    Wait(Waiting),
    /// Nothing to do.
    Ready,
    /// Cannot progress; report it and retry slowly.
    Blocked(Blocker),
}

/// An ENI of this slot that must go (a duplicate, or one left on a gone instance).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Discard {
    pub eni_id: String,
    /// Its attachment, if attached.
    pub attachment_id: Option<String>,
}

/// A step plus the ENIs to hand to the cleanup pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The step.
    pub action: Action,
    /// ENIs to detach and delete.
    pub discard: Vec<Discard>,
}

fn discard(e: &SeenEni) -> Discard {
    Discard {
        eni_id: e.id.clone(),
        attachment_id: e.state.attachment_id().map(str::to_string),
    }
}

/// Decides the next step for `desired`, given the ENIs seen for it, where it could be
/// placed (`None`: not computed yet), whether its instance is gone, and memory.
pub fn decide(
    desired: &DesiredSlot,
    seen: &[SeenEni],
    placement: Option<Result<u32, NoRoom>>,
    instance_gone: bool,
    memory: &SlotMemory,
    now: Instant,
) -> Decision {
    let instance = desired.key.instance_id.as_str();
    // ENIs attached elsewhere were moved by someone else: not this slot's business.
    let (unmanaged, mine): (Vec<&SeenEni>, Vec<&SeenEni>) = seen
        .iter()
        .filter(|e| e.state.instance().is_none_or(|i| i == instance))
        .partition(|e| e.unmanaged);
    if let Some(e) = unmanaged.first() {
        return Decision {
            action: Action::Blocked(Blocker::Unmanaged(e.id.clone())),
            discard: Vec::new(),
        };
    }
    if instance_gone {
        return Decision {
            action: Action::Blocked(Blocker::InstanceGone),
            discard: mine.iter().map(|e| discard(e)).collect(),
        };
    }
    // ENIs of earlier incarnations belong to a slot that was torn down: they go.
    let (stale, mut mine): (Vec<&SeenEni>, Vec<&SeenEni>) = mine
        .into_iter()
        .partition(|e| !e.legacy && e.incarnation.unwrap_or(0) < memory.incarnation);
    mine.sort_by(|a, b| {
        (b.state.rank(), !b.legacy, b.incarnation, &b.id).cmp(&(
            a.state.rank(),
            !a.legacy,
            a.incarnation,
            &a.id,
        ))
    });
    let Some((primary, duplicates)) = mine.split_first() else {
        let action = match &memory.known {
            Some(k)
                if k.missing_since
                    .is_none_or(|s| now.duration_since(s) < VISIBILITY_WINDOW) =>
            {
                Action::Wait(Waiting::Visibility)
            }
            // Preflight: nothing is created for a slot that cannot be attached.
            _ => match placement {
                None => Action::Observe,
                Some(Err(no_room)) => Action::Blocked(Blocker::NoRoom(no_room)),
                Some(Ok(_)) => Action::Create {
                    incarnation: memory.incarnation + u32::from(memory.known.is_some()),
                },
            },
        };
        return Decision {
            action,
            discard: stale.iter().map(|e| discard(e)).collect(),
        };
    };
    let discard_list = duplicates
        .iter()
        .chain(stale.iter())
        .map(|e| discard(e))
        .collect();
    let mut action = next_for(desired, primary, placement);
    if let Action::AssignIpv4 { eni_id, .. } | Action::UnassignIpv4 { eni_id, .. } = &action
        && waits_for(
            memory.pending_addresses.as_ref(),
            eni_id,
            desired.secondary_ipv4,
            now,
        )
    {
        action = Action::Wait(Waiting::Visibility);
    }
    if let Action::AssignIpv4Prefixes { eni_id, .. } | Action::UnassignIpv4Prefixes { eni_id, .. } =
        &action
        && waits_for(
            memory.pending_prefixes.as_ref(),
            eni_id,
            desired.ipv4_prefixes,
            now,
        )
    {
        action = Action::Wait(Waiting::Visibility);
    }
    if let Action::AssignIpv6 {
        eni_id, prefixes, ..
    }
    | Action::UnassignIpv6 {
        eni_id, prefixes, ..
    } = &action
    {
        let (pending, want) = if *prefixes {
            (memory.pending_ipv6_prefixes.as_ref(), desired.ipv6_prefixes)
        } else {
            (memory.pending_ipv6.as_ref(), desired.ipv6_addresses)
        };
        if waits_for(pending, eni_id, want, now) {
            action = Action::Wait(Waiting::Visibility);
        }
    }
    // Set once already (EC2 may not report it): nothing more to do.
    if let Action::SetConnectionTracking { eni_id, value } = &action
        && memory
            .connection_tracking_set
            .as_ref()
            .is_some_and(|(id, set)| id == eni_id && set == value)
    {
        action = Action::Ready;
    }
    Decision {
        action,
        discard: discard_list,
    }
}

fn next_for(desired: &DesiredSlot, e: &SeenEni, placement: Option<Result<u32, NoRoom>>) -> Action {
    if e.legacy {
        return Action::Adopt {
            eni_id: e.id.clone(),
        };
    }
    match &e.state {
        // The check is set before the attach, so that the node's ENINode lists the ENI once,
        // as it will stay.
        EniState::Available
            if matches!(placement, Some(Ok(_)))
                && desired
                    .source_dest_check
                    .is_some_and(|c| c != e.source_dest_check) =>
        {
            Action::SetSourceDestCheck {
                eni_id: e.id.clone(),
                value: !e.source_dest_check,
            }
        }
        EniState::Available => match placement {
            None => Action::Observe,
            Some(Err(no_room)) => Action::Blocked(Blocker::NoRoom(no_room)),
            Some(Ok(device_index)) => Action::Attach {
                eni_id: e.id.clone(),
                device_index,
                card: desired.network_card,
            },
        },
        EniState::Attaching { .. } => Action::Wait(Waiting::Attaching),
        EniState::Detaching { .. } => Action::Wait(Waiting::Detaching),
        EniState::Attached {
            attachment_id,
            device_index,
            card,
            delete_on_termination,
            ..
        } => {
            let preferred = desired.preferred_device_index;
            let base = desired.base_device_index();
            // Placed for this spec: tagged with today's deviceIndex (a subnet added,
            // removed or reordered never moves a live interface), or, tagged before the
            // deviceIndex tag existed, meant for or sitting at today's preferred index.
            let intended = match e.intent_base {
                Some(b) => b == base,
                None => e.intent_index == Some(preferred) || *device_index == preferred,
            };
            if intended && *card == desired.network_card && e.intent_base.is_none() {
                // Placed before the deviceIndex tag existed: record it once, so that from
                // now on only a deviceIndex change moves it.
                return Action::TagIntent {
                    eni_id: e.id.clone(),
                    index: preferred,
                    base,
                };
            }
            if *card != desired.network_card || !intended {
                // The user changed deviceIndex or networkCardIndex. It stays if where it
                // is happens to be where it would go now; it is detached and re-attached
                // if it can go elsewhere; with no room elsewhere it keeps working where
                // it is.
                match placement {
                    None => return Action::Observe,
                    Some(Ok(i)) if i == *device_index && *card == desired.network_card => {
                        return Action::TagIntent {
                            eni_id: e.id.clone(),
                            index: preferred,
                            base,
                        };
                    }
                    Some(Ok(_)) => {
                        return Action::Relocate {
                            eni_id: e.id.clone(),
                            attachment_id: attachment_id.clone(),
                        };
                    }
                    Some(Err(_)) => {}
                }
            }
            let now = Attributes {
                delete_on_termination: *delete_on_termination,
                security_groups: &e.security_groups,
                source_dest_check: e.source_dest_check,
                secondary_ips: &e.secondary_ips,
                ipv4_prefixes: &e.ipv4_prefixes,
                ipv6_addresses: &e.ipv6_addresses,
                ipv6_prefixes: &e.ipv6_prefixes,
                connection_tracking: e.connection_tracking.as_ref(),
            };
            let eni_id = e.id.clone();
            match next_change(desired, now, placement) {
                None => Action::Ready,
                Some(Change::DeleteOnTermination(value)) => Action::SetDeleteOnTermination {
                    eni_id,
                    attachment_id: attachment_id.clone(),
                    value,
                },
                Some(Change::Groups(groups)) => Action::ModifyGroups { eni_id, groups },
                Some(Change::SourceDestCheck(value)) => {
                    Action::SetSourceDestCheck { eni_id, value }
                }
                Some(Change::AssignIpv4(count)) => Action::AssignIpv4 { eni_id, count },
                Some(Change::UnassignIpv4(addresses)) => Action::UnassignIpv4 { eni_id, addresses },
                Some(Change::AssignIpv4Prefixes(count)) => {
                    Action::AssignIpv4Prefixes { eni_id, count }
                }
                Some(Change::UnassignIpv4Prefixes(prefixes)) => {
                    Action::UnassignIpv4Prefixes { eni_id, prefixes }
                }
                Some(Change::AssignIpv6(count)) => Action::AssignIpv6 {
                    eni_id,
                    count,
                    prefixes: false,
                },
                Some(Change::UnassignIpv6(items)) => Action::UnassignIpv6 {
                    eni_id,
                    items,
                    prefixes: false,
                },
                Some(Change::AssignIpv6Prefixes(count)) => Action::AssignIpv6 {
                    eni_id,
                    count,
                    prefixes: true,
                },
                Some(Change::UnassignIpv6Prefixes(items)) => Action::UnassignIpv6 {
                    eni_id,
                    items,
                    prefixes: true,
                },
                Some(Change::ConnectionTracking(value)) => {
                    Action::SetConnectionTracking { eni_id, value }
                }
                Some(Change::Observe) => Action::Observe,
                Some(Change::NoRoom(no_room)) => Action::Blocked(Blocker::NoRoom(no_room)),
            }
        }
    }
}

mod seen;
#[cfg(test)]
mod tests;
