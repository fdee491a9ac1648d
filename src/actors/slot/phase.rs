//! The phase a slot reports for its next step, in the status's words.

use crate::k8s::status::SlotPhase;
use crate::plan::device_index::NoRoom;
use crate::plan::lifecycle::{Action, Blocker, Waiting};

/// The blocked reasons of a node refused before any call (an instance this cluster does
/// not trust, a spec its instance type cannot take): one Warning Event on the NodeENI says
/// so the first time.
pub const REFUSED_NODE: [&str; 7] = [
    "SubnetHasNoIpv6",
    "Ipv6AddressLimitExceeded",
    "InstanceNotInVPC",
    "InstanceNotInCluster",
    "AddressLimitExceeded",
    "EnaSrdUnsupported",
    "EnaQueueLimitExceeded",
];

/// The phase reported while `action` is the next step.
pub fn phase_of(action: &Action) -> SlotPhase {
    match action {
        Action::Create { .. } | Action::Adopt { .. } | Action::Wait(Waiting::Visibility) => {
            SlotPhase::Creating
        }
        Action::Ready => SlotPhase::Attached,
        Action::Blocked(Blocker::NoRoom(NoRoom::CardFull { limit })) => SlotPhase::Blocked(
            "AttachmentLimitExceeded".into(),
            format!("no free device index: the network card takes {limit} interfaces"),
        ),
        Action::Blocked(Blocker::NoRoom(NoRoom::NoSuchCard)) => SlotPhase::Blocked(
            "NoSuchNetworkCard".into(),
            "the instance type has no network card with the NodeENI's networkCardIndex".into(),
        ),
        Action::Blocked(Blocker::NoRoom(NoRoom::RefusedByEc2)) => SlotPhase::Blocked(
            "AttachmentLimitExceeded".into(),
            "EC2 refused another interface on the network card".into(),
        ),
        Action::Blocked(Blocker::NoRoom(NoRoom::OtherZone)) => SlotPhase::Blocked(
            "SubnetZoneMismatch".into(),
            "the subnet is in another Availability Zone than the node's instance".into(),
        ),
        Action::Blocked(Blocker::NoRoom(NoRoom::OtherVpc)) => SlotPhase::Blocked(
            "InstanceNotInVPC".into(),
            "the node's EC2 instance is not in the VPC of the NodeENI's subnets: nothing is attached to it".into(),
        ),
        Action::Blocked(Blocker::NoRoom(NoRoom::NotThisCluster)) => SlotPhase::Blocked(
            "InstanceNotInCluster".into(),
            "the node's EC2 instance does not carry this cluster's tag (kubernetes.io/cluster/<name> or eks:cluster-name): nothing is attached to it".into(),
        ),
        Action::Blocked(Blocker::InstanceGone) => SlotPhase::Blocked(
            "InstanceGone".into(),
            "the node's EC2 instance is terminated".into(),
        ),
        Action::Blocked(Blocker::Unmanaged(id)) => SlotPhase::Blocked(
            "UnmanagedENI".into(),
            format!("{id} carries this NodeENI's tags but not all of its ownership tags (one was removed): it is left alone and no other ENI is made beside it; restore its tags or delete it"),
        ),
        Action::Relocate { .. } | Action::Wait(Waiting::Detaching) => SlotPhase::Moving,
        Action::Blocked(Blocker::NoRoom(NoRoom::TooManyAddresses { asked, limit })) => {
            SlotPhase::Blocked(
                "AddressLimitExceeded".into(),
                format!(
                    "secondaryIPv4Count and ipv4PrefixCount ask {asked} private IPv4 addresses per ENI (the primary included, a /28 prefix counting as one); the node's instance type takes {limit} per interface"
                ),
            )
        }
        Action::Blocked(Blocker::NoRoom(NoRoom::NoIpv6InSubnet)) => SlotPhase::Blocked(
            "SubnetHasNoIpv6".into(),
            "ipv6AddressCount or ipv6PrefixCount asks IPv6, and the subnet has no IPv6 CIDR block: nothing is created in it".into(),
        ),
        Action::Blocked(Blocker::NoRoom(NoRoom::TooManyIpv6 { asked, limit })) => {
            SlotPhase::Blocked(
                "Ipv6AddressLimitExceeded".into(),
                format!(
                    "ipv6AddressCount and ipv6PrefixCount ask {asked} IPv6 addresses per ENI (a /80 prefix counting as one); the node's instance type takes {limit} per interface"
                ),
            )
        }
        Action::Blocked(Blocker::NoRoom(NoRoom::EnaSrdUnsupported)) => SlotPhase::Blocked(
            "EnaSrdUnsupported".into(),
            "enaSrd asks ENA Express; the node's instance type does not support it".into(),
        ),
        Action::Blocked(Blocker::NoRoom(NoRoom::TooManyQueues { asked, limit: 0 })) => {
            SlotPhase::Blocked(
                "EnaQueueLimitExceeded".into(),
                format!(
                    "enaQueueCount asks {asked} ENA queues per interface; the node's instance type has no flexible ENA queues and takes no count"
                ),
            )
        }
        Action::Blocked(Blocker::NoRoom(NoRoom::TooManyQueues { asked, limit })) => {
            SlotPhase::Blocked(
                "EnaQueueLimitExceeded".into(),
                format!(
                    "enaQueueCount asks {asked} ENA queues per interface; the node's instance type takes at most {limit}"
                ),
            )
        }
        _ => SlotPhase::Attaching,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_slot_says_why_in_its_own_words() {
        for (no_room, reason, says) in [
            (
                NoRoom::CardFull { limit: 3 },
                "AttachmentLimitExceeded",
                "takes 3 interfaces",
            ),
            (NoRoom::NoSuchCard, "NoSuchNetworkCard", "no network card"),
            (
                NoRoom::RefusedByEc2,
                "AttachmentLimitExceeded",
                "EC2 refused",
            ),
        ] {
            match phase_of(&Action::Blocked(Blocker::NoRoom(no_room))) {
                SlotPhase::Blocked(r, m) => {
                    assert_eq!(r, reason);
                    assert!(m.contains(says), "{m}");
                    assert!(!m.contains("takes 0"), "{m}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_slot_moving_to_a_changed_device_index_says_so() {
        let relocate = Action::Relocate {
            eni_id: "eni-1".into(),
            attachment_id: "eni-attach-1".into(),
        };
        assert_eq!(phase_of(&relocate), SlotPhase::Moving);
        assert_eq!(
            phase_of(&Action::Wait(Waiting::Detaching)),
            SlotPhase::Moving
        );
        assert_eq!(
            phase_of(&Action::Wait(Waiting::Attaching)),
            SlotPhase::Attaching
        );
    }
}
