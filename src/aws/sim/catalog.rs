//! ENI limits of common instance types (from `DescribeInstanceTypes`), so simulated
//! instances refuse attachments exactly where real ones would.

use crate::aws::{EniLimits, NetworkCardLimit};

/// Limits of the instance types the simulator knows out of the box.
pub fn builtin_instance_types() -> Vec<(&'static str, EniLimits)> {
    let single = |name, max| (name, EniLimits::single_card(max));
    let multi = |name, cards: u32, per_card: u32| {
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
            },
        )
    };
    vec![
        single("t3.medium", 3),
        single("t3.large", 3),
        single("m5.large", 3),
        single("m5.xlarge", 4),
        single("m5.2xlarge", 4),
        single("m5.4xlarge", 8),
        single("m5.8xlarge", 8),
        single("m5.24xlarge", 15),
        single("c5.xlarge", 4),
        single("c5n.18xlarge", 15),
        single("m6i.large", 3),
        single("m6i.4xlarge", 8),
        multi("c6in.32xlarge", 2, 8),
        multi("p4d.24xlarge", 4, 15),
        multi("trn1.32xlarge", 8, 5),
        multi("p5.48xlarge", 32, 2),
    ]
}
