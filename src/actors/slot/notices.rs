//! The Events a slot asks its NodeENI to record, in words, each about the ENI or the
//! slot it names (so that the recorder never merges two slots' Events into one).

use crate::aws::Ec2Error;
use crate::k8s::{About, Notice};
use crate::plan::outcome::SlotEvent;
use crate::plan::slot_view::UNATTACHABLE_GRACE;
use crate::plan::slots::SlotKey;

fn slot(key: &SlotKey) -> About {
    About::Slot {
        node: key.node.clone(),
        subnet: key.subnet_id.clone(),
    }
}

/// The Event for what a step did.
pub fn of_event(key: &SlotKey, event: SlotEvent<Ec2Error>) -> Notice {
    match event {
        SlotEvent::Created(id) => Notice::normal(
            "ENICreated",
            "Create",
            format!("created {id} in {} for node {}", key.subnet_id, key.node),
        )
        .about(About::Eni(id)),
        SlotEvent::Adopted(id) => Notice::normal(
            "ENIAdopted",
            "Adopt",
            format!(
                "adopted {id} made by the Go controller on node {}",
                key.node
            ),
        )
        .about(About::Eni(id)),
        SlotEvent::GroupsChanged(id, groups) => Notice::normal(
            "ENISecurityGroupsChanged",
            "Modify",
            format!("{id} now in {}", groups.join(",")),
        )
        .about(About::Eni(id)),
        SlotEvent::Moving(id) => Notice::normal(
            "ENIMoving",
            "Detach",
            format!("{id} detached to move to the index the spec asks for"),
        )
        .about(About::Eni(id)),
        SlotEvent::AddressesChanged { eni_id, from, to } => Notice::normal(
            "ENIAddressesChanged",
            if to > from { "Assign" } else { "Unassign" },
            format!("{eni_id} now has {to} secondary private IPv4 addresses (had {from})"),
        )
        .about(About::Eni(eni_id)),
        SlotEvent::PrefixesChanged { eni_id, from, to } => Notice::normal(
            "ENIPrefixesChanged",
            if to > from { "Assign" } else { "Unassign" },
            format!("{eni_id} now has {to} /28 IPv4 prefixes (had {from})"),
        )
        .about(About::Eni(eni_id)),
        SlotEvent::Ipv6Changed {
            eni_id,
            prefixes,
            from,
            to,
        } => Notice::normal(
            "ENIIpv6Changed",
            if to > from { "Assign" } else { "Unassign" },
            format!(
                "{eni_id} now has {to} IPv6 {} (had {from})",
                if prefixes {
                    "/80 prefixes"
                } else {
                    "addresses"
                }
            ),
        )
        .about(About::Eni(eni_id)),
        SlotEvent::Blocked {
            reason,
            action,
            error,
        } => {
            tracing::warn!(%error, reason, "slot blocked");
            Notice::warning(
                reason,
                action,
                format!("node {} subnet {}: {error}", key.node, key.subnet_id),
            )
            .about(slot(key))
        }
    }
}

/// The slot's ENI is attached for the first time.
pub fn attached(key: &SlotKey, eni: &str) -> Notice {
    Notice::normal(
        "ENIAttached",
        "Attach",
        format!("{eni} attached to node {} in {}", key.node, key.subnet_id),
    )
    .about(About::Eni(eni.to_string()))
}

/// The slot's ENI stayed available with no room to attach it, and goes.
pub fn unattachable(key: &SlotKey, eni: &str) -> Notice {
    Notice::warning(
        "ENIUnattachable",
        "Delete",
        format!(
            "{eni} could not be attached to node {} for {} minutes (no free device index); deleted, a new one is made once there is room",
            key.node,
            UNATTACHABLE_GRACE.as_secs() / 60
        ),
    )
    .about(About::Eni(eni.to_string()))
}

/// The slot's node is refused before any call (`reason`, `message`; see
/// [`super::phase::REFUSED_NODE`]).
pub fn refused_node(key: &SlotKey, reason: &str, message: &str) -> Notice {
    let action = if [
        "AddressLimitExceeded",
        "EnaSrdUnsupported",
        "EnaQueueLimitExceeded",
        "SubnetHasNoIpv6",
        "Ipv6AddressLimitExceeded",
    ]
    .contains(&reason)
    {
        "Create"
    } else {
        "Attach"
    };
    Notice::warning(
        reason,
        action,
        format!("node {} ({}): {message}", key.node, key.instance_id),
    )
    .about(slot(key))
}
