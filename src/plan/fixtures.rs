//! Values shared by the plan's table tests.

use jiff::Timestamp;

use super::lifecycle::{EniState, SeenEni};
use super::slots::{DesiredSlot, SlotKey};

/// A slot of node-a (instance i-1) in subnet-1, wanting index 1 on card 0 with sg-1.
pub fn desired() -> DesiredSlot {
    DesiredSlot {
        key: SlotKey {
            node: "node-a".into(),
            instance_id: "i-1".into(),
            subnet_id: "subnet-1".into(),
        },
        zone: "us-east-1a".into(),
        vpc: "vpc-1".into(),
        subnet_cidr: "10.0.1.0/24".into(),
        subnet_ipv6: false,
        position: 0,
        preferred_device_index: 1,
        network_card: 0,
        security_groups: vec!["sg-1".into()],
        delete_on_termination: true,
        description: "d".into(),
        tags: Default::default(),
        secondary_ipv4: None,
        ipv4_prefixes: None,
        ipv6_addresses: None,
        ipv6_prefixes: None,
        source_dest_check: None,
        ena_srd: None,
        ena_queue_count: None,
        connection_tracking: None,
    }
}

/// An ENI of that slot's first incarnation, intended for index 1, in `state`.
pub fn eni_in(id: &str, state: EniState) -> SeenEni {
    SeenEni {
        id: id.into(),
        mac: "02:00:00:00:00:01".into(),
        state,
        security_groups: vec!["sg-1".into()],
        primary_ip: Some("10.0.1.4".into()),
        secondary_ips: Vec::new(),
        ipv4_prefixes: Vec::new(),
        ipv6_addresses: Vec::new(),
        ipv6_prefixes: Vec::new(),
        source_dest_check: true,
        connection_tracking: None,
        intent_index: Some(1),
        intent_base: Some(1),
        incarnation: Some(0),
        legacy: false,
        created_at: None,
        unmanaged: false,
    }
}

/// A fixed wall-clock time.
pub fn wall() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A small deterministic generator (xorshift, from a seed other than 0), so that a
/// failure of a random test names its seed.
pub struct Dice(pub u64);

impl Dice {
    /// A number below `n`.
    pub fn roll(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
