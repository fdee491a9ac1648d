//! ENI limits of common instance types (from `DescribeInstanceTypes`: interfaces per
//! card, private IPv4 addresses per interface, ENA Express and flexible ENA queues), so
//! simulated instances refuse attachments, addresses and ENA settings where real ones
//! would.

use crate::aws::{EniLimits, NetworkCardLimit};

/// Limits of the instance types the simulator knows out of the box.
pub fn builtin_instance_types() -> Vec<(&'static str, EniLimits)> {
    // (name, interfaces, private IPv4 addresses per interface)
    let single = |name, max, ipv4| {
        (
            name,
            EniLimits {
                ena_srd_supported: Some(false),
                ena_queues_per_interface: Some(0),
                ipv6_per_interface: Some(ipv4),
                ..EniLimits::single_card(max).with_ipv4_per_interface(ipv4)
            },
        )
    };
    let multi = |name, cards: u32, per_card: u32, ipv4| {
        (
            name,
            EniLimits {
                max_interfaces: cards * per_card,
                cards: (0..cards)
                    .map(|index| NetworkCardLimit {
                        index,
                        max_interfaces: per_card,
                    })
                    .collect(),
                ipv4_per_interface: Some(ipv4),
                ena_srd_supported: Some(false),
                ena_queues_per_interface: Some(0),
                ipv6_per_interface: Some(ipv4),
            },
        )
    };
    // ENA Express and flexible queues (`MaximumEnaQueueCountPerInterface`).
    let ena = |(name, limits): (&'static str, EniLimits), srd: bool, queues: u32| {
        (
            name,
            EniLimits {
                ena_srd_supported: Some(srd),
                ena_queues_per_interface: Some(queues),
                ..limits
            },
        )
    };
    vec![
        single("t3.medium", 3, 6),
        single("t3.large", 3, 12),
        single("m5.large", 3, 10),
        single("m5.xlarge", 4, 15),
        single("m5.2xlarge", 4, 15),
        single("m5.4xlarge", 8, 30),
        single("m5.8xlarge", 8, 30),
        single("m5.24xlarge", 15, 50),
        single("c5.xlarge", 4, 15),
        single("c5n.18xlarge", 15, 50),
        ena(single("m6i.large", 3, 10), false, 2),
        ena(single("m6i.4xlarge", 8, 30), false, 8),
        ena(multi("c6in.32xlarge", 2, 8, 50), true, 32),
        multi("p4d.24xlarge", 4, 15, 50),
        ena(multi("trn1.32xlarge", 8, 5, 50), true, 8),
        ena(multi("p5.48xlarge", 32, 2, 50), true, 8),
    ]
}
