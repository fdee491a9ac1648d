use std::time::Duration;

use super::*;
use crate::aws::sim::{Ec2Simulator, SimConfig};
use crate::aws::{Ec2Action, EniLimits};

fn world(instances: usize) -> (Ec2Simulator, Vec<String>) {
    let sim = Ec2Simulator::new(SimConfig::default());
    sim.add_instance_type("t.test", EniLimits::single_card(4));
    let subnet = sim.add_subnet("us-east-1a", "10.0.0.0/16", None);
    let ids = (0..instances)
        .map(|_| sim.launch_instance("t.test", &subnet.id).unwrap().id)
        .collect();
    (sim, ids)
}

#[tokio::test(start_paused = true)]
async fn concurrent_lookups_share_calls_and_each_gets_its_instance() {
    let (sim, ids) = world(450);
    let batcher = InstanceBatcher::spawn(sim.clone(), Duration::from_millis(20));
    let lookups = ids.iter().cloned().map(|id| {
        let b = batcher.clone();
        tokio::spawn(async move { (id.clone(), b.get(&id).await) })
    });
    for lookup in lookups.collect::<Vec<_>>() {
        let (id, found) = lookup.await.unwrap();
        assert_eq!(found.unwrap().map(|i| i.id), Some(id));
    }
    let calls = sim.count(Some(Ec2Action::DescribeInstances), None);
    assert!((5..=10).contains(&calls), "{calls} calls for 450 lookups");
}

#[tokio::test(start_paused = true)]
async fn batches_do_not_wait_for_each_other() {
    let (sim, ids) = world(1000);
    let batcher = InstanceBatcher::spawn(sim.clone(), Duration::from_millis(20));
    let start = tokio::time::Instant::now();
    let lookups: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let b = batcher.clone();
            tokio::spawn(async move { b.get(&id).await })
        })
        .collect();
    for lookup in lookups {
        assert!(lookup.await.unwrap().unwrap().is_some());
    }
    // Ten batches of 100, each one describe latency long; one after another they
    // would take ten latencies.
    let latency = SimConfig::default().latency.describe;
    assert!(
        start.elapsed() < latency * 4,
        "{:?} for ten batches of {latency:?} calls",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn an_unknown_instance_does_not_fail_the_others() {
    let (sim, mut ids) = world(3);
    ids.push("i-00000000000000000".into());
    let batcher = InstanceBatcher::spawn(sim, Duration::from_millis(20));
    let lookups: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let b = batcher.clone();
            tokio::spawn(async move { b.get(&id).await.unwrap().map(|i| i.id) })
        })
        .collect();
    let mut found = Vec::new();
    for lookup in lookups {
        found.push(lookup.await.unwrap());
    }
    assert_eq!(found.iter().filter(|f| f.is_some()).count(), 3);
    assert_eq!(found.last().unwrap(), &None);
}

#[tokio::test(start_paused = true)]
async fn a_malformed_id_does_not_fail_the_others_in_its_batch() {
    let (sim, ids) = world(3);
    let batcher = InstanceBatcher::spawn(sim.clone(), Duration::from_millis(20));
    let lookups: Vec<_> = ids
        .iter()
        .cloned()
        .chain(["i-not!hex".to_string()])
        .map(|id| {
            let b = batcher.clone();
            tokio::spawn(async move { (id.clone(), b.get(&id).await) })
        })
        .collect();
    for lookup in lookups {
        let (id, found) = lookup.await.unwrap();
        if id == "i-not!hex" {
            assert_eq!(found.unwrap_err().label(), "invalid_parameter");
        } else {
            assert_eq!(found.unwrap().map(|i| i.id), Some(id));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_unknown_instance_costs_its_batch_a_call_or_two_and_is_remembered() {
    let (sim, mut ids) = world(300);
    ids.insert(150, "i-0000000000000dead".into());
    let batcher = InstanceBatcher::spawn(sim.clone(), Duration::from_millis(20));
    let look = |ids: Vec<String>| {
        let lookups: Vec<_> = ids
            .into_iter()
            .map(|id| {
                let b = batcher.clone();
                tokio::spawn(async move { (id.clone(), b.get(&id).await) })
            })
            .collect();
        async move {
            let mut found = 0;
            for lookup in lookups {
                let (id, r) = lookup.await.unwrap();
                match r.unwrap() {
                    Some(i) => {
                        assert_eq!(i.id, id);
                        found += 1;
                    }
                    None => assert_eq!(id, "i-0000000000000dead"),
                }
            }
            found
        }
    };
    assert_eq!(look(ids.clone()).await, 300);
    let calls = sim.count(Some(Ec2Action::DescribeInstances), None);
    assert!(
        calls <= 6,
        "{calls} DescribeInstances for 300 instances and one unknown"
    );
    // Its slot looks again and again: answered without a call for a while.
    for _ in 0..5 {
        look(vec!["i-0000000000000dead".into()]).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let again = sim.count(Some(Ec2Action::DescribeInstances), None) - calls;
    assert_eq!(again, 0, "no call for an instance known to be unknown");
}
