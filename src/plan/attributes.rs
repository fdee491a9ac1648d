//! What an attached ENI of a slot still needs to match its spec, one change at a time:
//! deleteOnTermination, security groups, the source/destination check (normally set
//! before the attach already, by the slot's lifecycle), then its secondary private
//! IPv4 addresses (one call adds or removes all that differ).
//!
//! Addresses are added only where the instance type takes them: the slot's placement
//! carries [`NoRoom::TooManyAddresses`] when the spec asks more than
//! `Ipv4AddressesPerInterface`, and no call is spent. Removing takes the last addresses
//! EC2 lists, never one the count still wants.

use super::device_index::NoRoom;
use super::slots::DesiredSlot;

/// An attached ENI's attributes, as last seen.
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a> {
    /// deleteOnTermination of its attachment.
    pub delete_on_termination: bool,
    /// Security group IDs, sorted.
    pub security_groups: &'a [String],
    /// Source/destination check.
    pub source_dest_check: bool,
    /// Secondary private IPv4 addresses, in EC2's order.
    pub secondary_ips: &'a [String],
}

/// The next change of an attached ENI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Set deleteOnTermination.
    DeleteOnTermination(bool),
    /// Replace the security groups.
    Groups(Vec<String>),
    /// Set the source/destination check.
    SourceDestCheck(bool),
    /// Add this many secondary addresses.
    AssignIpv4(u32),
    /// Remove these secondary addresses.
    UnassignIpv4(Vec<String>),
    /// Look at the instance first (adding addresses needs its type's limit).
    Observe,
    /// The instance type takes fewer addresses than the spec asks.
    NoRoom(NoRoom),
}

/// The next change the attached ENI `now` needs, or `None` when it matches `desired`.
/// `placement` is the slot's (`None`: the instance was not looked at yet).
pub fn next_change(
    desired: &DesiredSlot,
    now: Attributes<'_>,
    placement: Option<Result<u32, NoRoom>>,
) -> Option<Change> {
    if now.delete_on_termination != desired.delete_on_termination {
        return Some(Change::DeleteOnTermination(desired.delete_on_termination));
    }
    if now.security_groups != desired.security_groups.as_slice() {
        return Some(Change::Groups(desired.security_groups.clone()));
    }
    if now.source_dest_check != desired.source_dest_check {
        return Some(Change::SourceDestCheck(desired.source_dest_check));
    }
    let have = u32::try_from(now.secondary_ips.len()).unwrap_or(u32::MAX);
    let want = desired.secondary_ipv4;
    if have < want {
        return Some(match placement {
            None => Change::Observe,
            Some(Err(no_room @ NoRoom::TooManyAddresses { .. })) => Change::NoRoom(no_room),
            Some(_) => Change::AssignIpv4(want - have),
        });
    }
    if have > want {
        let keep = usize::try_from(want).unwrap_or(usize::MAX);
        return Some(Change::UnassignIpv4(
            now.secondary_ips.iter().skip(keep).cloned().collect(),
        ));
    }
    None
}

/// Where the slot can be placed once the address limit is taken into account: a spec
/// asking more than `ipv4_per_interface` addresses per ENI has no room on the instance,
/// whatever device index is free.
pub fn with_address_limit(
    desired: &DesiredSlot,
    placement: Option<Result<u32, NoRoom>>,
    ipv4_per_interface: Option<u32>,
) -> Option<Result<u32, NoRoom>> {
    let asked = desired.secondary_ipv4.saturating_add(1);
    match (placement, ipv4_per_interface) {
        (Some(_), Some(limit)) if asked > limit => {
            Some(Err(NoRoom::TooManyAddresses { asked, limit }))
        }
        (p, _) => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::desired;

    fn attached(secondary: &[String], check: bool) -> Attributes<'_> {
        Attributes {
            delete_on_termination: true,
            security_groups: SG,
            source_dest_check: check,
            secondary_ips: secondary,
        }
    }

    const SG: &[String] = &[];

    fn ips(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn attributes_then_addresses_converge_one_call_at_a_time() {
        let mut d = desired();
        d.security_groups = Vec::new();
        d.secondary_ipv4 = 3;
        d.source_dest_check = false;
        let placed = Some(Ok(1));
        let one = ips(&["10.0.1.5"]);
        assert_eq!(
            next_change(&d, attached(&one, true), placed),
            Some(Change::SourceDestCheck(false)),
            "the check first"
        );
        assert_eq!(
            next_change(&d, attached(&one, false), placed),
            Some(Change::AssignIpv4(2))
        );
        assert_eq!(
            next_change(&d, attached(&one, false), None),
            Some(Change::Observe),
            "the instance type's limit is read before adding"
        );
        d.secondary_ipv4 = 1;
        let three = ips(&["10.0.1.5", "10.0.1.6", "10.0.1.7"]);
        assert_eq!(
            next_change(&d, attached(&three, false), None),
            Some(Change::UnassignIpv4(ips(&["10.0.1.6", "10.0.1.7"]))),
            "the last two go; the first, still wanted, stays; no limit needed"
        );
        d.secondary_ipv4 = 3;
        assert_eq!(next_change(&d, attached(&three, false), placed), None);
        let mut other = attached(&three, false);
        other.delete_on_termination = false;
        assert_eq!(
            next_change(&d, other, placed),
            Some(Change::DeleteOnTermination(true)),
            "deleteOnTermination before anything else"
        );
        let groups = ips(&["sg-2"]);
        other.delete_on_termination = true;
        other.security_groups = &groups;
        assert_eq!(
            next_change(&d, other, placed),
            Some(Change::Groups(Vec::new()))
        );
    }

    #[test]
    fn more_addresses_than_the_type_takes_are_refused_before_any_call() {
        let mut d = desired();
        type Case = (u32, Option<u32>, Option<Result<u32, NoRoom>>);
        let cases: [Case; 5] = [
            (9, Some(10), Some(Ok(1))),
            (
                10,
                Some(10),
                Some(Err(NoRoom::TooManyAddresses {
                    asked: 11,
                    limit: 10,
                })),
            ),
            (49, None, Some(Ok(1))),
            (0, Some(1), Some(Ok(1))),
            (
                1,
                Some(1),
                Some(Err(NoRoom::TooManyAddresses { asked: 2, limit: 1 })),
            ),
        ];
        for (secondary, limit, want) in cases {
            d.secondary_ipv4 = secondary;
            assert_eq!(
                with_address_limit(&d, Some(Ok(1)), limit),
                want,
                "{secondary} secondary, limit {limit:?}"
            );
        }
        assert_eq!(
            with_address_limit(&d, None, Some(1)),
            None,
            "not placed yet"
        );
        d.security_groups = Vec::new();
        d.secondary_ipv4 = 20;
        let refused = with_address_limit(&d, Some(Ok(1)), Some(10));
        assert!(matches!(
            next_change(&d, attached(&[], true), refused),
            Some(Change::NoRoom(NoRoom::TooManyAddresses { .. }))
        ));
    }
}
