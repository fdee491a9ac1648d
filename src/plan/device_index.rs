//! Device-index planning on one node: a slot's ENI goes at `deviceIndex` plus the
//! subnet's position, or the first free index after it when something else (the VPC
//! CNI's ENIs, other NodeENIs', hand-made ones, this NodeENI's other slots) is there,
//! within the card's limit.
//!
//! Each slot is placed on its own against what is attached right now. Two slots placed
//! at the same moment may pick the same free index; EC2 refuses the second attach and
//! that slot places itself again, so the outcome is always valid.

use std::collections::BTreeSet;

/// Why a slot gets no index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRoom {
    /// The card already holds as many interfaces as the instance type allows.
    CardFull {
        /// Interfaces the card allows (at least 1).
        limit: u32,
    },
    /// The instance type has no such network card.
    NoSuchCard,
    /// EC2 refused another interface on the card (`AttachmentLimitExceeded`) although
    /// the known limit left room, or no limit was known.
    RefusedByEc2,
    /// The subnet is in another Availability Zone than the instance: EC2 would refuse
    /// the attachment, so nothing is created.
    OtherZone,
    /// The node's instance is in another VPC than the subnet: another cluster's, or a
    /// Node object pointing at someone else's instance. Nothing is created or attached.
    OtherVpc,
    /// The node's instance does not carry this cluster's tag: nothing is created or
    /// attached (the check can be turned off).
    NotThisCluster,
    /// The spec asks more private IPv4 addresses per ENI (the primary,
    /// `secondaryIPv4Count` and `ipv4PrefixCount`, a /28 prefix counting as one) than the
    /// instance type takes per interface: nothing is created, and an attached ENI gets no
    /// more.
    TooManyAddresses {
        /// Addresses asked, the primary included.
        asked: u32,
        /// `Ipv4AddressesPerInterface` of the instance type.
        limit: u32,
    },
    /// The spec asks IPv6 addresses or prefixes and the subnet has no IPv6 block.
    NoIpv6InSubnet,
    /// The spec asks more IPv6 addresses per ENI (`ipv6AddressCount` and
    /// `ipv6PrefixCount`, a /80 prefix counting as one) than the type takes.
    TooManyIpv6 {
        /// Addresses asked.
        asked: u32,
        /// `Ipv6AddressesPerInterface` of the type.
        limit: u32,
    },
    /// The spec asks ENA Express (`enaSrd`) and the instance type does not support it.
    EnaSrdUnsupported,
    /// The spec asks more ENA queues per interface (`enaQueueCount`) than the instance
    /// type takes (0: it takes no queue count, having no flexible ENA queues).
    TooManyQueues {
        /// Queues asked.
        asked: u32,
        /// `MaximumEnaQueueCountPerInterface` of the type (0: none).
        limit: u32,
    },
}

/// What is on the node's network card, apart from the slot being placed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardOccupancy {
    /// Device indices in use (the primary at 0 included, on card 0).
    pub taken: BTreeSet<u32>,
    /// What the instance type allows on the card.
    pub limit: CardLimit,
}

/// What an instance type allows on one network card.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CardLimit {
    /// The type's limits are not known: no preflight, EC2 decides.
    #[default]
    Unknown,
    /// The type has no network card at that index.
    NoSuchCard,
    /// At most this many interfaces (the primary included on card 0).
    Max(u32),
}

/// The index for a slot whose preferred index is `preferred`: the first free one at or
/// after it, or [`NoRoom`] when the card is full (reported, never attempted).
pub fn place(preferred: u32, occupancy: &CardOccupancy) -> Result<u32, NoRoom> {
    match occupancy.limit {
        CardLimit::NoSuchCard | CardLimit::Max(0) => return Err(NoRoom::NoSuchCard),
        CardLimit::Max(limit) if occupancy.taken.len() as u32 >= limit => {
            return Err(NoRoom::CardFull { limit });
        }
        _ => {}
    }
    let mut candidate = preferred;
    while occupancy.taken.contains(&candidate) {
        candidate += 1;
    }
    Ok(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(taken: &[u32], limit: Option<u32>) -> CardOccupancy {
        CardOccupancy {
            taken: taken.iter().copied().collect(),
            limit: limit.map_or(CardLimit::Unknown, CardLimit::Max),
        }
    }

    #[test]
    fn preferred_when_free() {
        assert_eq!(place(1, &occ(&[0], Some(4))), Ok(1));
        assert_eq!(
            place(2, &occ(&[0, 1], Some(4))),
            Ok(2),
            "a sibling at 1 is simply taken"
        );
    }

    #[test]
    fn steps_over_taken_indices() {
        // The VPC CNI holds device 1.
        assert_eq!(place(1, &occ(&[0, 1], Some(8))), Ok(2));
        assert_eq!(place(1, &occ(&[0, 1, 2, 3], Some(8))), Ok(4));
    }

    #[test]
    fn preflight_respects_the_card_limit() {
        // m5.large: 3 interfaces; the primary and two others fill it.
        assert_eq!(
            place(1, &occ(&[0, 1, 5], Some(3))),
            Err(NoRoom::CardFull { limit: 3 })
        );
        assert_eq!(place(1, &occ(&[0, 5], Some(3))), Ok(1));
        // Unknown limits: no preflight.
        assert_eq!(place(1, &occ(&[0, 1, 5], None)), Ok(2));
        // A card the type does not have.
        let no_card = CardOccupancy {
            taken: Default::default(),
            limit: CardLimit::NoSuchCard,
        };
        assert_eq!(place(1, &no_card), Err(NoRoom::NoSuchCard));
    }
}
