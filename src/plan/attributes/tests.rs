//! Table tests of the attribute rules.

use super::*;
use crate::plan::fixtures::desired;

fn attached(secondary: &[String], check: bool) -> Attributes<'_> {
    Attributes {
        delete_on_termination: true,
        security_groups: SG,
        source_dest_check: check,
        secondary_ips: secondary,
        ipv4_prefixes: &[],
        ipv6_addresses: &[],
        ipv6_prefixes: &[],
        connection_tracking: None,
    }
}

const SG: &[String] = &[];

/// A table row: what it shows, the ENI as seen, the placement (or `None`: the type's
/// limits not read yet), and the change wanted next.
type Case<'a> = (
    &'a str,
    Attributes<'a>,
    Option<Result<u32, NoRoom>>,
    Option<Change>,
);

fn ips(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn attributes_then_addresses_converge_one_call_at_a_time() {
    let mut d = desired();
    d.security_groups = Vec::new();
    d.secondary_ipv4 = Some(3);
    d.source_dest_check = Some(false);
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
    d.secondary_ipv4 = Some(1);
    let three = ips(&["10.0.1.17", "10.0.1.5", "10.0.1.9"]);
    assert_eq!(
        next_change(&d, attached(&three, false), None),
        Some(Change::UnassignIpv4(ips(&["10.0.1.17", "10.0.1.9"]))),
        "the two highest go (by number, not text); no limit needed"
    );
    d.secondary_ipv4 = Some(3);
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
fn prefixes_converge_after_the_addresses_by_the_same_rule() {
    let mut d = desired();
    d.security_groups = Vec::new();
    d.secondary_ipv4 = Some(1);
    d.ipv4_prefixes = Some(2);
    let one = ips(&["10.0.1.5"]);
    let none: Vec<String> = Vec::new();
    let two = ips(&["10.0.1.16/28", "10.0.1.32/28"]);
    let three = ips(&["10.0.1.48/28", "10.0.1.16/28", "10.0.1.144/28"]);
    fn with<'a>(addresses: &'a [String], prefixes: &'a [String]) -> Attributes<'a> {
        Attributes {
            ipv4_prefixes: prefixes,
            ..attached(addresses, true)
        }
    }
    let cases: Vec<Case<'_>> = vec![
        (
            "addresses first",
            with(&none, &none),
            Some(Ok(1)),
            Some(Change::AssignIpv4(1)),
        ),
        (
            "then the prefixes",
            with(&one, &none),
            Some(Ok(1)),
            Some(Change::AssignIpv4Prefixes(2)),
        ),
        (
            "the type's limit read first",
            with(&one, &none),
            None,
            Some(Change::Observe),
        ),
        ("as asked", with(&one, &two), Some(Ok(1)), None),
        (
            "the highest prefix goes (by number)",
            with(&one, &three),
            None,
            Some(Change::UnassignIpv4Prefixes(ips(&["10.0.1.144/28"]))),
        ),
    ];
    for (what, now, placement, want) in cases {
        assert_eq!(next_change(&d, now, placement), want, "{what}");
    }
    d.ipv4_prefixes = None;
    let lone = ips(&["10.0.1.16/28"]);
    let kept = with(&one, &lone);
    assert_eq!(next_change(&d, kept, Some(Ok(1))), None, "unset: kept");
}

#[test]
fn ipv6_converges_after_ipv4_and_waits_for_a_subnet_block() {
    let mut d = desired();
    d.security_groups = Vec::new();
    d.subnet_ipv6 = true;
    d.ipv6_addresses = Some(2);
    d.ipv6_prefixes = Some(1);
    let none: Vec<String> = Vec::new();
    let two = ips(&["2600:1f18::1009", "2600:1f18::100a"]);
    let three = ips(&["2600:1f18::9", "2600:1f18::10", "2600:1f18::2"]);
    let prefix = ips(&["2600:1f18:0:0:1::/80"]);
    fn with<'a>(v6: &'a [String], v6p: &'a [String]) -> Attributes<'a> {
        Attributes {
            ipv6_addresses: v6,
            ipv6_prefixes: v6p,
            ..attached(&[], true)
        }
    }
    let blocked = Some(Err(NoRoom::NoIpv6InSubnet));
    let cases: Vec<Case<'_>> = vec![
        (
            "addresses",
            with(&none, &none),
            Some(Ok(1)),
            Some(Change::AssignIpv6(2)),
        ),
        (
            "then prefixes",
            with(&two, &none),
            Some(Ok(1)),
            Some(Change::AssignIpv6Prefixes(1)),
        ),
        ("as asked", with(&two, &prefix), Some(Ok(1)), None),
        (
            "the highest goes (by number, not text)",
            with(&three, &prefix),
            None,
            Some(Change::UnassignIpv6(ips(&["2600:1f18::10"]))),
        ),
        (
            "no block in the subnet: nothing added",
            with(&none, &none),
            blocked,
            Some(Change::NoRoom(NoRoom::NoIpv6InSubnet)),
        ),
    ];
    for (what, now, placement, want) in cases {
        assert_eq!(next_change(&d, now, placement), want, "{what}");
    }
    d.ipv6_addresses = None;
    d.ipv6_prefixes = None;
    assert_eq!(
        next_change(&d, with(&three, &prefix), None),
        None,
        "unset: kept"
    );
}

#[test]
fn connection_tracking_changes_only_what_the_spec_sets() {
    let mut d = desired();
    d.security_groups = Vec::new();
    let ct = |tcp, stream, udp| ConnectionTracking {
        tcp_established: tcp,
        udp_stream: stream,
        udp,
    };
    let cases = [
        (
            "unset: left alone",
            None,
            Some(ct(Some(60), None, None)),
            None,
        ),
        (
            "nothing shown: EC2's defaults",
            Some(ct(Some(432_000), None, Some(30))),
            None,
            None,
        ),
        (
            "one timeout differs",
            Some(ct(Some(3600), None, None)),
            None,
            Some(Change::ConnectionTracking(ct(Some(3600), None, None))),
        ),
        (
            "shown as asked",
            Some(ct(Some(3600), Some(60), None)),
            Some(ct(Some(3600), Some(60), Some(45))),
            None,
        ),
        (
            "a timeout set by hand that the spec leaves unset stays",
            Some(ct(None, Some(120), None)),
            Some(ct(Some(7200), Some(120), Some(60))),
            None,
        ),
    ];
    for (what, want, shown, change) in cases {
        d.connection_tracking = want;
        let mut now = attached(&[], true);
        now.connection_tracking = shown.as_ref();
        assert_eq!(next_change(&d, now, Some(Ok(1))), change, "{what}");
    }
    d.connection_tracking = Some(ct(Some(3600), None, None));
    d.secondary_ipv4 = Some(1);
    assert_eq!(
        next_change(&d, attached(&[], true), Some(Ok(1))),
        Some(Change::AssignIpv4(1)),
        "addresses first"
    );
}

#[test]
fn unset_fields_leave_the_eni_as_it_is() {
    let mut d = desired();
    d.security_groups = Vec::new();
    let adopted = ips(&["10.0.1.5", "10.0.1.6"]);
    assert_eq!(
        next_change(&d, attached(&adopted, false), Some(Ok(1))),
        None,
        "addresses and check kept"
    );
    d.secondary_ipv4 = Some(0);
    assert_eq!(
        next_change(&d, attached(&adopted, false), Some(Ok(1))),
        Some(Change::UnassignIpv4(ips(&["10.0.1.6", "10.0.1.5"]))),
        "0 set: removed"
    );
}

#[test]
fn an_address_call_waits_until_it_shows() {
    let now = Instant::now();
    let pending = PendingAddresses {
        eni_id: "eni-1".into(),
        count: 5,
        since: now,
    };
    let cases = [
        ("just made", Some(&pending), "eni-1", Some(5), now, true),
        (
            "shown late: made again",
            Some(&pending),
            "eni-1",
            Some(5),
            now + ADDRESS_VISIBILITY,
            false,
        ),
        (
            "another count asked",
            Some(&pending),
            "eni-1",
            Some(2),
            now,
            false,
        ),
        ("another ENI", Some(&pending), "eni-2", Some(5), now, false),
        ("nothing pending", None, "eni-1", Some(5), now, false),
    ];
    for (what, p, eni, want, at, waits) in cases {
        assert_eq!(waits_for(p, eni, want, at), waits, "{what}");
    }
}

#[test]
fn an_attached_eni_gets_no_address_its_type_cannot_take() {
    let mut d = desired();
    d.security_groups = Vec::new();
    d.secondary_ipv4 = Some(20);
    let limits = crate::plan::interface_limits::InterfaceLimits {
        ipv4: Some(10),
        ..Default::default()
    };
    let refused = crate::plan::interface_limits::with_type_limits(&d, Some(Ok(1)), limits);
    assert!(matches!(
        next_change(&d, attached(&[], true), refused),
        Some(Change::NoRoom(NoRoom::TooManyAddresses { .. }))
    ));
}
