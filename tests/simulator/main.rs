//! The EC2 simulator behaves like EC2 where the controller depends on it: throttling
//! buckets, attachment transitions, limits, conflicts, ClientToken idempotency,
//! deleteOnTermination, faults and the call log. Every test runs on tokio's paused
//! clock, so simulated minutes take milliseconds and results are deterministic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use aws_multi_eni_controller::aws::sim::{Ec2Simulator, LatencyModel, SimConfig};
use aws_multi_eni_controller::aws::{AttachRequest, ClientToken, CreateEniRequest, Subnet, Tags};

mod faults;
mod rules;
mod scale;

pub(crate) struct World {
    pub(crate) sim: Ec2Simulator,
    pub(crate) subnet_a: Subnet,
    pub(crate) subnet_b: Subnet,
    pub(crate) group: String,
}

pub(crate) fn world(config: SimConfig) -> World {
    let sim = Ec2Simulator::new(config);
    let subnet_a = sim.add_subnet("us-east-1a", "10.0.1.0/24", Some("multus"));
    let subnet_b = sim.add_subnet("us-east-1b", "10.0.2.0/24", Some("multus"));
    let group = sim.add_security_group("multus").id;
    World {
        sim,
        subnet_a,
        subnet_b,
        group,
    }
}

pub(crate) fn quiet() -> SimConfig {
    SimConfig {
        latency: LatencyModel::zero(),
        ..Default::default()
    }
}

pub(crate) fn create(w: &World, subnet: &Subnet, token: &str) -> CreateEniRequest {
    CreateEniRequest {
        subnet_id: subnet.id.clone(),
        security_group_ids: vec![w.group.clone()],
        description: "test".into(),
        tags: Tags::new(),
        client_token: ClientToken::new(token),
        secondary_ipv4_count: 0,
        ipv4_prefix_count: 0,
        ipv6_address_count: 0,
        ipv6_prefix_count: 0,
        connection_tracking: None,
    }
}

pub(crate) fn attach(eni: &str, instance: &str, device: u32, card: u32) -> AttachRequest {
    AttachRequest {
        eni_id: eni.into(),
        instance_id: instance.into(),
        device_index: device,
        network_card_index: card,
        ena: Default::default(),
    }
}
