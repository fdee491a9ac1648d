//! Injected faults, latency, the call log and describe paging.

use std::time::Duration;

use aws_multi_eni_controller::aws::sim::{
    Fault, FaultRates, LatencyModel, OK, ScriptedFault, SimConfig,
};
use aws_multi_eni_controller::aws::{
    BucketTable, Ec2, Ec2Action, EniFilter, EniLimits, Tags, describe_all_enis, describe_enis_by_id,
};
use tokio::time::Instant;

use super::{create, quiet, world};

#[tokio::test(start_paused = true)]
async fn a_500_after_apply_leaves_the_eni_and_answers_at_once() {
    // Buckets deep enough that nothing here is throttled.
    let w = world(SimConfig {
        buckets: BucketTable::default().scaled(10.0, 1.0),
        ..quiet()
    });
    w.sim.script_fault(ScriptedFault {
        nth_mutating: 1,
        action: None,
        fault: Fault::ErrorAfterApply,
    });
    let started = Instant::now();
    let err = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "slot-1"))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "transient");
    assert!(
        started.elapsed() < w.sim.config().timeout,
        "no timeout waited"
    );
    assert_eq!(w.sim.enis().len(), 1, "EC2 applied it before failing");
    // The server-errors mix: 500s only, about half of them after applying.
    w.sim.set_fault_rates(FaultRates::server_errors(1.0));
    let mut applied = 0;
    for i in 0..200 {
        let before = w.sim.enis().len();
        let r = w
            .sim
            .create_eni(create(&w, &w.subnet_a, &format!("mix-{i}")))
            .await;
        assert_eq!(r.map(|_| ()).unwrap_err().label(), "transient");
        applied += w.sim.enis().len() - before;
    }
    assert!((70..=130).contains(&applied), "{applied} of 200 applied");
}

#[tokio::test(start_paused = true)]
async fn another_client_spends_from_the_same_bucket() {
    let w = world(quiet());
    let create = Ec2Action::CreateNetworkInterface;
    let burst = w.sim.config().buckets.get(create).capacity;
    let spent = (0..burst + 5)
        .filter(|_| w.sim.spend_as_other(create))
        .count();
    assert_eq!(spent as u32, burst, "the bucket empties, then throttles");
    assert_eq!(w.sim.other_calls(), (u64::from(burst) + 5, 5));
    let err = w
        .sim
        .create_eni(super::create(&w, &w.subnet_a, "slot-x"))
        .await
        .unwrap_err();
    assert_eq!(
        err.label(),
        "throttled",
        "the controller finds it empty too"
    );
    assert_eq!(
        w.sim.count(None, None),
        1,
        "the other's calls are not logged"
    );
}

#[tokio::test(start_paused = true)]
async fn timeouts_after_apply_are_made_safe_by_the_token() {
    let w = world(quiet());
    w.sim.script_fault(ScriptedFault {
        nth_mutating: 1,
        action: None,
        fault: Fault::TimeoutAfterApply,
    });
    let started = Instant::now();
    let err = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "slot-1"))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "transient");
    assert!(
        started.elapsed() >= w.sim.config().timeout,
        "the caller waited for its timeout"
    );
    assert_eq!(
        w.sim.enis().len(),
        1,
        "EC2 applied it although the answer was lost"
    );
    let retried = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "slot-1"))
        .await
        .unwrap();
    assert_eq!(
        w.sim.enis().len(),
        1,
        "the retry with the same token made no second ENI"
    );
    assert_eq!(w.sim.enis()[0].id, retried.id);

    w.sim.script_fault(ScriptedFault {
        nth_mutating: 1,
        action: None,
        fault: Fault::Transient,
    });
    assert_eq!(
        w.sim
            .create_eni(create(&w, &w.subnet_a, "slot-2"))
            .await
            .unwrap_err()
            .label(),
        "transient"
    );
    assert_eq!(w.sim.enis().len(), 1, "a 500 applied nothing");
    // Scripts count from when they were added and can count calls of one action.
    w.sim.script_fault(ScriptedFault {
        nth_mutating: 1,
        action: Some(Ec2Action::DeleteNetworkInterface),
        fault: Fault::Throttle,
    });
    let e = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "slot-3"))
        .await
        .unwrap();
    assert!(w.sim.delete_eni(&e.id).await.unwrap_err().is_throttle());
    w.sim.delete_eni(&e.id).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn random_faults_follow_their_rates_deterministically() {
    let run = |seed| async move {
        let w = world(SimConfig {
            faults: FaultRates::uniform(0.3),
            seed,
            ..quiet()
        });
        let mut labels = Vec::new();
        for _ in 0..300 {
            labels.push(
                match w
                    .sim
                    .describe_subnets(&aws_multi_eni_controller::aws::SubnetLookup::Names(vec![
                        "multus".into(),
                    ]))
                    .await
                {
                    Ok(_) => OK,
                    Err(e) => e.label(),
                },
            );
            tokio::time::advance(Duration::from_millis(100)).await;
        }
        labels
    };
    let a = run(7).await;
    assert_eq!(a, run(7).await, "same seed, same faults");
    let failed = a.iter().filter(|l| **l != OK).count();
    assert!(
        (60..=120).contains(&failed),
        "about 30% of 300 calls fail, got {failed}"
    );
    assert!(a.contains(&"throttled") && a.contains(&"transient"));
    let w = world(quiet());
    w.sim.set_fault_rates(FaultRates {
        transient: 1.0,
        mutating_only: true,
        ..Default::default()
    });
    assert!(
        w.sim
            .describe_enis(&EniFilter::default(), None)
            .await
            .is_ok(),
        "describes are spared"
    );
    assert!(
        w.sim
            .create_eni(create(&w, &w.subnet_a, "f"))
            .await
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn latency_log_and_counters() {
    let latency = LatencyModel {
        describe: Duration::from_millis(50),
        mutate: Duration::from_millis(200),
        jitter: 0.0,
    };
    let w = world(SimConfig {
        latency,
        ..Default::default()
    });
    let t0 = Instant::now();
    let eni = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "l"))
        .await
        .unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(200));
    let t1 = Instant::now();
    w.sim
        .describe_enis(&EniFilter::by_ids([eni.id.clone()]), None)
        .await
        .unwrap();
    assert_eq!(t1.elapsed(), Duration::from_millis(50));
    w.sim.until_applied(1).await;
    assert_eq!(w.sim.applied_mutations(), 1);
    let calls = w.sim.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].action, Ec2Action::CreateNetworkInterface);
    assert_eq!(calls[0].outcome, OK);
    assert_eq!(
        calls[0].at,
        Duration::from_millis(100),
        "reached EC2 halfway through"
    );
    assert_eq!(w.sim.count(None, Some(OK)), 2);
    assert_eq!(
        w.sim
            .count(Some(Ec2Action::DescribeNetworkInterfaces), None),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn describes_filter_and_page() {
    let w = world(SimConfig {
        page_size: 7,
        ..quiet()
    });
    let inst = w.sim.launch_instance("m5.large", &w.subnet_a.id).unwrap();
    let mut tags = Tags::new();
    tags.insert("owner".into(), "me".into());
    for i in 0..20 {
        let mut r = create(&w, &w.subnet_a, &format!("p{i}"));
        if i % 2 == 0 {
            r.tags = tags.clone();
        }
        w.sim.create_eni(r).await.unwrap();
    }
    let mine = describe_all_enis(&w.sim, &EniFilter::tagged("owner", "me"))
        .await
        .unwrap();
    assert_eq!(mine.len(), 10);
    let page = w
        .sim
        .describe_enis(&EniFilter::default(), None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 7);
    assert!(page.next_token.is_some());
    assert_eq!(
        describe_all_enis(&w.sim, &EniFilter::default())
            .await
            .unwrap()
            .len(),
        21
    );
    let on = describe_all_enis(&w.sim, &EniFilter::on_instance(&inst.id))
        .await
        .unwrap();
    assert_eq!(on.len(), 1, "only the primary");
    // By ID: one call however many pages the account holds; an unknown ID fails the
    // call as EC2 does, and the helper reads the rest again.
    let last = mine.last().unwrap().id.clone();
    let before = w
        .sim
        .count(Some(Ec2Action::DescribeNetworkInterfaces), None);
    let page = w
        .sim
        .describe_enis(&EniFilter::by_ids([last.clone()]), None)
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.next_token), (1, None));
    let err = w
        .sim
        .describe_enis(&EniFilter::by_ids(["eni-00000000000000000"]), None)
        .await
        .unwrap_err();
    assert_eq!(err.label(), "not_found");
    let ids = ["eni-00000000000000000".to_string(), last.clone()];
    let found = describe_enis_by_id(&w.sim, &ids).await.unwrap();
    assert_eq!(found.iter().map(|e| &e.id).collect::<Vec<_>>(), [&last]);
    assert_eq!(
        w.sim
            .count(Some(Ec2Action::DescribeNetworkInterfaces), None)
            - before,
        4,
        "one read, one refused, then the refused batch and the rest"
    );
    w.sim
        .add_instance_type("custom.small", EniLimits::single_card(2));
    let small = w
        .sim
        .launch_instance("custom.small", &w.subnet_a.id)
        .unwrap();
    assert_eq!(small.instance_type, "custom.small");
}
