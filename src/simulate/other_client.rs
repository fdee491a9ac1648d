//! Another client of the simulated account (the VPC CNI, Karpenter, a script) spending
//! from the same EC2 buckets as the controller: steadily a share of each action's
//! refill, and a burst of a tenth of the bucket every 30 s.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::aws::sim::Ec2Simulator;
use crate::aws::{BucketTable, Ec2Action};

/// The actions the other client calls: the ones the controller calls most.
const ACTIONS: [Ec2Action; 7] = [
    Ec2Action::CreateNetworkInterface,
    Ec2Action::AttachNetworkInterface,
    Ec2Action::DetachNetworkInterface,
    Ec2Action::DeleteNetworkInterface,
    Ec2Action::ModifyNetworkInterfaceAttribute,
    Ec2Action::DescribeNetworkInterfaces,
    Ec2Action::DescribeInstances,
];
const BURST_EVERY: Duration = Duration::from_secs(30);
const BURST_SHARE: f64 = 0.1;

/// Starts the other client: `share` of each action's refill, from now until aborted.
pub fn spawn(sim: &Ec2Simulator, buckets: &BucketTable, share: f64) -> Vec<JoinHandle<()>> {
    if share <= 0.0 {
        return Vec::new();
    }
    ACTIONS
        .iter()
        .enumerate()
        .map(|(i, &action)| {
            let sim = sim.clone();
            let bucket = buckets.get(action);
            let every = Duration::from_secs_f64(1.0 / (share * bucket.refill_per_second));
            let burst = (f64::from(bucket.capacity) * BURST_SHARE).round().max(1.0) as u32;
            tokio::spawn(async move {
                // Bursts of different actions come at different moments.
                let mut next_burst = tokio::time::Instant::now()
                    + BURST_EVERY.mul_f64(0.5 + i as f64 / ACTIONS.len() as f64);
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    sim.spend_as_other(action);
                    if tokio::time::Instant::now() >= next_burst {
                        for _ in 0..burst {
                            sim.spend_as_other(action);
                        }
                        next_burst += BURST_EVERY;
                    }
                }
            })
        })
        .collect()
}
