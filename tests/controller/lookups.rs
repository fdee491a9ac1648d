//! The spec's look-ups (subnets, security groups) when EC2 does not answer them: a
//! failed call that says nothing about the spec (a 500, a throttle, a timeout) is tried
//! again within seconds, so a controller that restarts into one resumes at once; a spec
//! that names what does not exist is looked up again only at the problem cadence.

use std::time::Duration;

use aws_multi_eni_controller::aws::Ec2Action;
use aws_multi_eni_controller::aws::sim::{Fault, ScriptedFault, SimConfig};

use super::harness::{World, settings};

fn first_create(w: &World) -> Option<Duration> {
    w.sim
        .calls()
        .iter()
        .find(|c| c.action == Ec2Action::CreateNetworkInterface)
        .map(|c| c.at)
}

#[tokio::test(start_paused = true)]
async fn a_lookup_ec2_did_not_answer_is_tried_again_within_seconds() {
    for fault in [Fault::Transient, Fault::Throttle] {
        let mut w = World::new(SimConfig::default(), 1);
        w.add_nodes(1, &[("ng", "multi-eni")]);
        w.sim.script_fault(ScriptedFault {
            nth_mutating: 1,
            action: Some(Ec2Action::DescribeSubnets),
            fault,
        });
        w.apply("multus", w.spec(1));
        let controller = w.start(settings()).await;
        w.until_ready("multus", 1).await;
        let at = first_create(&w).expect("a create");
        // The problem cadence here is 6 s (a tenth of the harness's 60 s resync; 30 s
        // with the default 5 minutes): the retry comes well before it.
        assert!(
            at < Duration::from_secs(3),
            "{fault:?}: first create at {at:?}"
        );
        controller.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_subnet_that_does_not_exist_is_not_looked_up_in_a_storm() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(1, &[("ng", "multi-eni")]);
    let mut spec = w.spec(1);
    spec.subnet_ids = Vec::new();
    spec.subnet_names = vec!["no-such-subnet".into()];
    w.apply("multus", spec);
    let controller = w.start(settings()).await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    let lookups = w.sim.count(Some(Ec2Action::DescribeSubnets), None);
    // At most one a problem tick (6 s here), plus the first.
    assert!(lookups <= 21, "{lookups} DescribeSubnets in 120 s");
    assert!(lookups >= 2, "looked up again: {lookups}");
    controller.stop().await;
}
