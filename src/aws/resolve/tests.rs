//! The resolver's cache: found names for their TTL, misses for the shorter negative TTL.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::aws::Ec2Action;
use crate::aws::sim::{Ec2Simulator, SimConfig};

fn calls(sim: &Ec2Simulator) -> u64 {
    sim.count(Some(Ec2Action::DescribeSubnets), None)
}

#[tokio::test(start_paused = true)]
async fn found_names_are_kept_for_the_ttl_and_misses_for_the_negative_ttl() {
    let sim = Ec2Simulator::new(SimConfig::default());
    let subnet = sim.add_subnet("us-east-1a", "10.1.0.0/16", Some("multus"));
    let r = Resolver::new(
        Arc::new(sim.clone()),
        Duration::from_secs(300),
        Duration::from_secs(30),
    );
    let by_name = [SubnetRef::Name("multus".into())];
    let found = r.subnets(&by_name, None).await.unwrap();
    assert_eq!(
        found.iter().map(|s| &s.id).collect::<Vec<_>>(),
        vec![&subnet.id]
    );
    assert_eq!(calls(&sim), 1);
    r.subnets(&by_name, None).await.unwrap();
    assert_eq!(calls(&sim), 1, "cached");
    tokio::time::sleep(Duration::from_secs(301)).await;
    r.subnets(&by_name, None).await.unwrap();
    assert_eq!(calls(&sim), 2, "looked up again after the TTL");

    let missing = [SubnetRef::Name("typo".into())];
    let e = r.subnets(&missing, None).await.unwrap_err();
    assert_eq!(e.label(), "subnet_not_found");
    let before = calls(&sim);
    assert!(r.subnets(&missing, None).await.is_err());
    assert_eq!(calls(&sim), before, "a miss is cached too");
    // The subnet is made meanwhile: found once the negative TTL is over.
    let made = sim.add_subnet("us-east-1a", "10.2.0.0/16", Some("typo"));
    tokio::time::sleep(Duration::from_secs(31)).await;
    let found = r.subnets(&missing, None).await.unwrap();
    assert_eq!(found[0].id, made.id);
}

#[tokio::test(start_paused = true)]
async fn a_name_resolves_in_the_clusters_vpc_only() {
    let sim = Ec2Simulator::new(SimConfig::default());
    let ours = sim.add_subnet("us-east-1a", "10.1.0.0/16", Some("multus"));
    let theirs = sim.add_subnet_in_another_vpc("us-east-1a", "10.1.0.0/16", Some("multus"));
    let r = Resolver::new(
        Arc::new(sim.clone()),
        Duration::from_secs(300),
        Duration::from_secs(30),
    );
    let by_name = [SubnetRef::Name("multus".into())];
    let ids = |v: Vec<Subnet>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    let mut both = vec![ours.id.clone(), theirs.id.clone()];
    both.sort();
    let mut unscoped = ids(r.subnets(&by_name, None).await.unwrap());
    unscoped.sort();
    assert_eq!(unscoped, both);
    assert_eq!(
        ids(r.subnets(&by_name, Some(&ours.vpc_id)).await.unwrap()),
        vec![ours.id.clone()]
    );
    // An ID names one subnet wherever it is.
    let by_id = [SubnetRef::Id(theirs.id.clone())];
    assert_eq!(
        ids(r.subnets(&by_id, Some(&ours.vpc_id)).await.unwrap()),
        vec![theirs.id.clone()]
    );
}
