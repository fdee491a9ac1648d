//! What an attached ENI of a slot still needs to match its spec, one change at a time:
//! deleteOnTermination, security groups, the source/destination check (normally set
//! before the attach already, by the slot's lifecycle), its secondary private IPv4
//! addresses (one call adds or removes all that differ), then its connection tracking
//! timeouts (normally given with the create already).
//!
//! Addresses are added only where the instance type takes them: the slot's placement
//! carries [`NoRoom::TooManyAddresses`] when the spec asks more than
//! `Ipv4AddressesPerInterface` ([`super::interface_limits`]), and no call is spent. Removing takes the numerically
//! highest addresses. A field the spec leaves unset is never changed: an adopted ENI or
//! one changed by hand keeps its addresses and check.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::device_index::NoRoom;
pub use super::slots::ConnectionTracking;
use super::slots::DesiredSlot;

/// EC2's timeouts for an ENI with none set: 432,000 s, 180 s, 30 s.
pub const CONNTRACK_DEFAULTS: ConnectionTracking = ConnectionTracking {
    tcp_established: Some(432_000),
    udp_stream: Some(180),
    udp: Some(30),
};

impl ConnectionTracking {
    /// Whether an ENI showing `shown` (`None`: nothing set) lacks a timeout `self` sets.
    pub fn differs_from(&self, shown: Option<&ConnectionTracking>) -> bool {
        let shown = shown.unwrap_or(&CONNTRACK_DEFAULTS);
        let or_default = |v: Option<u32>, d: Option<u32>| v.or(d);
        [
            (
                self.tcp_established,
                shown.tcp_established,
                CONNTRACK_DEFAULTS.tcp_established,
            ),
            (
                self.udp_stream,
                shown.udp_stream,
                CONNTRACK_DEFAULTS.udp_stream,
            ),
            (self.udp, shown.udp, CONNTRACK_DEFAULTS.udp),
        ]
        .into_iter()
        .any(|(want, have, d)| want.is_some() && want != or_default(have, d))
    }
}

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
    /// /28 IPv4 prefixes, in EC2's order.
    pub ipv4_prefixes: &'a [String],
    /// IPv6 addresses, in EC2's order.
    pub ipv6_addresses: &'a [String],
    /// /80 IPv6 prefixes, in EC2's order.
    pub ipv6_prefixes: &'a [String],
    /// Connection tracking timeouts it shows (`None`: none set).
    pub connection_tracking: Option<&'a ConnectionTracking>,
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
    /// Add this many /28 prefixes.
    AssignIpv4Prefixes(u32),
    /// Remove these prefixes.
    UnassignIpv4Prefixes(Vec<String>),
    /// Add this many IPv6 addresses.
    AssignIpv6(u32),
    /// Remove these IPv6 addresses.
    UnassignIpv6(Vec<String>),
    /// Add this many /80 prefixes.
    AssignIpv6Prefixes(u32),
    /// Remove these /80 prefixes.
    UnassignIpv6Prefixes(Vec<String>),
    /// Set the connection tracking timeouts.
    ConnectionTracking(ConnectionTracking),
    /// Look at the instance first (adding addresses needs its type's limit).
    Observe,
    /// The instance type takes fewer addresses than the spec asks.
    NoRoom(NoRoom),
}

/// An address call made whose effect describes may not show yet: the count it leaves
/// the ENI with, and when it was made. Until describes show that count, or
/// [`ADDRESS_VISIBILITY`] passes, no other address call is made for the ENI (EC2 has no
/// token for these calls: one repeated on a stale read would add or remove twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAddresses {
    /// The ENI.
    pub eni_id: String,
    /// Its secondary address count once the call shows.
    pub count: u32,
    /// When the call was made (or refused in a way that leaves it unknown).
    pub since: Instant,
}

/// How long an address call may take to show in describes.
pub const ADDRESS_VISIBILITY: Duration = Duration::from_secs(60);

/// Whether an address change of `eni_id` towards `want` waits for `pending` to show.
pub fn waits_for(
    pending: Option<&PendingAddresses>,
    eni_id: &str,
    want: Option<u32>,
    now: Instant,
) -> bool {
    pending.is_some_and(|p| {
        p.eni_id == eni_id
            && Some(p.count) == want
            && now.duration_since(p.since) < ADDRESS_VISIBILITY
    })
}

/// The next change the attached ENI `now` needs, or `None` when it matches `desired`.
/// `placement` is the slot's (`None`: the instance was not looked at yet). Fields the
/// spec leaves unset (`sourceDestCheck`, `secondaryIPv4Count`) are never changed.
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
    if let Some(check) = desired.source_dest_check
        && now.source_dest_check != check
    {
        return Some(Change::SourceDestCheck(check));
    }
    // Each list by the same rule, one call at a time: IPv4 addresses, /28 prefixes,
    // IPv6 addresses, /80 prefixes (a prefix counts as one address).
    type Assign = fn(u32) -> Change;
    type Unassign = fn(Vec<String>) -> Change;
    /// Wanted, present, IPv6, and the change of each direction.
    type List<'a> = (Option<u32>, &'a [String], bool, Assign, Unassign);
    let lists: [List<'_>; 4] = [
        (
            desired.secondary_ipv4,
            now.secondary_ips,
            false,
            Change::AssignIpv4,
            Change::UnassignIpv4,
        ),
        (
            desired.ipv4_prefixes,
            now.ipv4_prefixes,
            false,
            Change::AssignIpv4Prefixes,
            Change::UnassignIpv4Prefixes,
        ),
        (
            desired.ipv6_addresses,
            now.ipv6_addresses,
            true,
            Change::AssignIpv6,
            Change::UnassignIpv6,
        ),
        (
            desired.ipv6_prefixes,
            now.ipv6_prefixes,
            true,
            Change::AssignIpv6Prefixes,
            Change::UnassignIpv6Prefixes,
        ),
    ];
    for (want, have, ipv6, assign, unassign) in lists {
        let Some(delta) = want.and_then(|want| address_change(want, have, placement, ipv6)) else {
            continue;
        };
        let change = match delta {
            Delta::Add(n) => assign(n),
            Delta::Remove(gone) => unassign(gone),
            Delta::Blocked(change) => change,
        };
        return Some(change);
    }
    match desired.connection_tracking {
        Some(want) if want.differs_from(now.connection_tracking) => {
            Some(Change::ConnectionTracking(want))
        }
        _ => None,
    }
}

/// What one list of an ENI needs.
enum Delta {
    Add(u32),
    Remove(Vec<String>),
    /// Nothing can be added: read the instance first, or the type (or subnet) refuses.
    Blocked(Change),
}

/// The change of one list (`have`) towards `want` entries; `None` when it matches. Adding
/// needs the type's limit read (`placement`) and no refusal of that family (IPv4, or
/// IPv6 when `ipv6`).
fn address_change(
    want: u32,
    have: &[String],
    placement: Option<Result<u32, NoRoom>>,
    ipv6: bool,
) -> Option<Delta> {
    let count = u32::try_from(have.len()).unwrap_or(u32::MAX);
    if count < want {
        return Some(match placement {
            None => Delta::Blocked(Change::Observe),
            Some(Err(no_room @ NoRoom::TooManyAddresses { .. })) if !ipv6 => {
                Delta::Blocked(Change::NoRoom(no_room))
            }
            Some(Err(no_room @ (NoRoom::TooManyIpv6 { .. } | NoRoom::NoIpv6InSubnet))) if ipv6 => {
                Delta::Blocked(Change::NoRoom(no_room))
            }
            Some(_) => Delta::Add(want - count),
        });
    }
    if count > want {
        return Some(Delta::Remove(highest(
            have,
            usize::try_from(count - want).unwrap_or(usize::MAX),
        )));
    }
    None
}

/// The `n` numerically highest of `addresses` (or `a.b.c.d/28` prefixes; EC2 documents no
/// order for an ENI's addresses; the highest go, so which ones a lower count removes is
/// predictable).
fn highest(addresses: &[String], n: usize) -> Vec<String> {
    let mut sorted: Vec<&String> = addresses.iter().collect();
    let number = |a: &str| a.split('/').next().and_then(|ip| ip.parse::<IpAddr>().ok());
    sorted.sort_by_key(|a| (number(a), a.as_str()));
    sorted.into_iter().rev().take(n).cloned().collect()
}

#[cfg(test)]
mod tests;
