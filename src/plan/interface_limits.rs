//! What an instance type allows one interface, beyond a free device index: private IPv4
//! addresses (`Ipv4AddressesPerInterface`), ENA Express (`EnaSrdSupported`) and ENA
//! queues (`MaximumEnaQueueCountPerInterface`, where flexible queues are supported). A
//! spec asking more than the node's type allows has no room on that node: nothing is
//! created or attached there, no EC2 call is spent, and the slot says which field asks
//! what against which limit.

use super::device_index::NoRoom;
use super::slots::DesiredSlot;
pub use super::slots::EnaSrd;

/// What an instance type allows one interface; `None`: EC2 did not say (no preflight,
/// EC2 decides).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterfaceLimits {
    /// Private IPv4 addresses per interface, the primary included.
    pub ipv4: Option<u32>,
    /// Whether ENA Express is supported.
    pub ena_srd: Option<bool>,
    /// ENA queues one interface may be given (0: the type takes no queue count).
    pub ena_queues: Option<u32>,
    /// IPv6 addresses per interface, a /80 prefix counting as one.
    pub ipv6: Option<u32>,
}

/// Where the slot can be placed once the type's interface limits are taken into
/// account: the first limit the spec exceeds, whatever device index is free.
pub fn with_type_limits(
    desired: &DesiredSlot,
    placement: Option<Result<u32, NoRoom>>,
    limits: InterfaceLimits,
) -> Option<Result<u32, NoRoom>> {
    let placed = placement?;
    // Whatever the device index: an attached ENI gets no more addresses either.
    let asks_addresses = desired.secondary_ipv4.is_some() || desired.ipv4_prefixes.is_some();
    if let (true, Some(limit)) = (asks_addresses, limits.ipv4) {
        // The primary, the secondary addresses and each /28 prefix count as one.
        let asked = 1u32
            .saturating_add(desired.secondary_ipv4.unwrap_or(0))
            .saturating_add(desired.ipv4_prefixes.unwrap_or(0));
        if asked > limit {
            return Some(Err(NoRoom::TooManyAddresses { asked, limit }));
        }
    }
    let asks_ipv6 = desired.ipv6_addresses.is_some_and(|n| n > 0)
        || desired.ipv6_prefixes.is_some_and(|n| n > 0);
    if asks_ipv6 && !desired.subnet_ipv6 {
        return Some(Err(NoRoom::NoIpv6InSubnet));
    }
    if let (true, Some(limit)) = (asks_ipv6, limits.ipv6) {
        let asked = desired
            .ipv6_addresses
            .unwrap_or(0)
            .saturating_add(desired.ipv6_prefixes.unwrap_or(0));
        if asked > limit {
            return Some(Err(NoRoom::TooManyIpv6 { asked, limit }));
        }
    }
    let Ok(index) = placed else {
        return Some(placed);
    };
    if desired.ena_srd.is_some_and(|s| s.enabled || s.udp) && limits.ena_srd == Some(false) {
        return Some(Err(NoRoom::EnaSrdUnsupported));
    }
    if let (Some(asked), Some(limit)) = (desired.ena_queue_count, limits.ena_queues)
        && asked > limit
    {
        return Some(Err(NoRoom::TooManyQueues { asked, limit }));
    }
    Some(Ok(index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::desired;

    #[test]
    fn a_spec_the_type_cannot_take_is_refused_before_any_call() {
        let srd = EnaSrd {
            enabled: true,
            udp: false,
        };
        let limits = |ipv4, ena_srd, ena_queues| InterfaceLimits {
            ipv4,
            ena_srd,
            ena_queues,
            ipv6: None,
        };
        type Case = (
            &'static str,
            Option<u32>,
            Option<EnaSrd>,
            Option<u32>,
            InterfaceLimits,
            Result<u32, NoRoom>,
        );
        let cases: [Case; 10] = [
            (
                "nothing asked",
                None,
                None,
                None,
                limits(Some(1), Some(false), Some(0)),
                Ok(1),
            ),
            (
                "9 + primary of 10",
                Some(9),
                None,
                None,
                limits(Some(10), None, None),
                Ok(1),
            ),
            (
                "10 + primary of 10",
                Some(10),
                None,
                None,
                limits(Some(10), None, None),
                Err(NoRoom::TooManyAddresses {
                    asked: 11,
                    limit: 10,
                }),
            ),
            (
                "limit unknown",
                Some(49),
                Some(srd),
                Some(8),
                InterfaceLimits::default(),
                Ok(1),
            ),
            (
                "SRD supported",
                None,
                Some(srd),
                None,
                limits(None, Some(true), None),
                Ok(1),
            ),
            (
                "SRD unsupported",
                None,
                Some(srd),
                None,
                limits(None, Some(false), None),
                Err(NoRoom::EnaSrdUnsupported),
            ),
            (
                "SRD asked off: nothing to refuse",
                None,
                Some(EnaSrd {
                    enabled: false,
                    udp: false,
                }),
                None,
                limits(None, Some(false), None),
                Ok(1),
            ),
            (
                "8 of 8 queues",
                None,
                None,
                Some(8),
                limits(None, None, Some(8)),
                Ok(1),
            ),
            (
                "9 of 8 queues",
                None,
                None,
                Some(9),
                limits(None, None, Some(8)),
                Err(NoRoom::TooManyQueues { asked: 9, limit: 8 }),
            ),
            (
                "no flexible queues",
                None,
                None,
                Some(2),
                limits(None, None, Some(0)),
                Err(NoRoom::TooManyQueues { asked: 2, limit: 0 }),
            ),
        ];
        let mut d = desired();
        for (what, secondary, ena_srd, queues, l, want) in cases {
            d.secondary_ipv4 = secondary;
            d.ena_srd = ena_srd;
            d.ena_queue_count = queues;
            assert_eq!(with_type_limits(&d, Some(Ok(1)), l), Some(want), "{what}");
        }
        assert_eq!(
            with_type_limits(&d, None, limits(Some(1), Some(false), Some(0))),
            None,
            "not placed yet"
        );
        d.ena_srd = None;
        d.ena_queue_count = None;
        d.secondary_ipv4 = Some(4);
        d.ipv4_prefixes = Some(5);
        assert_eq!(
            with_type_limits(&d, Some(Ok(1)), limits(Some(10), None, None)),
            Some(Ok(1)),
            "1 + 4 + 5 prefixes = 10"
        );
        d.secondary_ipv4 = None;
        d.ipv4_prefixes = Some(10);
        assert_eq!(
            with_type_limits(&d, Some(Ok(1)), limits(Some(10), None, None)),
            Some(Err(NoRoom::TooManyAddresses {
                asked: 11,
                limit: 10
            })),
            "a prefix counts as one"
        );
        d.ipv4_prefixes = None;
        d.ipv6_addresses = Some(30);
        d.ipv6_prefixes = Some(1);
        let v6 = |limit| InterfaceLimits {
            ipv6: Some(limit),
            ..Default::default()
        };
        assert_eq!(
            with_type_limits(&d, Some(Ok(1)), v6(50)),
            Some(Err(NoRoom::NoIpv6InSubnet)),
            "the subnet has no IPv6 block"
        );
        d.subnet_ipv6 = true;
        assert_eq!(with_type_limits(&d, Some(Ok(1)), v6(31)), Some(Ok(1)));
        assert_eq!(
            with_type_limits(&d, Some(Ok(1)), v6(30)),
            Some(Err(NoRoom::TooManyIpv6 {
                asked: 31,
                limit: 30
            })),
            "a /80 prefix counts as one"
        );
        d.ipv6_addresses = Some(0);
        d.ipv6_prefixes = Some(0);
        d.subnet_ipv6 = false;
        assert_eq!(
            with_type_limits(&d, Some(Ok(1)), v6(1)),
            Some(Ok(1)),
            "zero asks nothing of the subnet"
        );
        let full = Some(Err(NoRoom::CardFull { limit: 3 }));
        assert_eq!(
            with_type_limits(&d, full, limits(None, None, Some(0))),
            full
        );
    }
}
