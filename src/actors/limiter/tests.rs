//! The limiter's pacing, on tokio's paused clock.

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::aws::BucketTable;
use crate::plan::pacing::{Answer, Grant};
use crate::supervision::Handle;

async fn limiter(capacity: u32, per_second: f64, told: bool) -> LimiterHandle {
    let mut buckets = BucketTable::default();
    if told {
        buckets.set(
            Ec2Action::CreateNetworkInterface,
            BucketSpec::new(capacity, per_second),
        );
    }
    let args = LimiterArgs {
        strategy: LimiterStrategy::PerAction,
        buckets,
        reserve: 0.0,
    };
    let (actor, _) = Actor::spawn(None, Limiter, args).await.unwrap();
    Handle::new(actor)
}

/// How long `n` grants take, one after the other, each answered `answer`.
async fn time_for(l: &LimiterHandle, n: usize, answer: Answer) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        let permit = l
            .acquire(Ec2Action::CreateNetworkInterface, Priority::Rollout)
            .await
            .unwrap();
        l.outcome(Ec2Action::CreateNetworkInterface, permit, answer);
    }
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn a_throttle_empties_the_bucket_and_leaves_the_rate_alone() {
    let l = limiter(5, 10.0, true).await;
    assert!(
        time_for(&l, 5, Answer::Spent).await < Duration::from_millis(10),
        "a told burst is granted at once"
    );
    let normal = time_for(&l, 10, Answer::Spent).await;
    assert!(
        (Duration::from_millis(900)..=Duration::from_millis(1100)).contains(&normal),
        "10 grants at 10/s: {normal:?}"
    );
    // One throttle: EC2's bucket is empty now. The next grant waits for the slack token
    // and its own, then the pace is the refill again (not halved).
    time_for(&l, 1, Answer::Throttled).await;
    let after = time_for(&l, 10, Answer::Spent).await;
    assert!(
        (Duration::from_millis(1000)..=Duration::from_millis(1300)).contains(&after),
        "10 grants after one throttle: {after:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_untold_limiter_starts_with_a_tenth_of_the_burst_and_probes_two_at_a_time() {
    // Not told: AWS's create bucket is assumed (100 at 5/s), a tenth granted at once.
    let l = limiter(0, 0.0, false).await;
    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..14 {
        let (l, tx) = (l.clone(), tx.clone());
        tokio::spawn(async move {
            let p = l
                .acquire(Ec2Action::CreateNetworkInterface, Priority::Rollout)
                .await
                .unwrap();
            let _ = tx.send(p);
        });
    }
    let mut first = Vec::new();
    for _ in 0..12 {
        first.push(rx.recv().await.unwrap());
    }
    assert!(
        first.iter().all(|p| p.at == start),
        "granted at once: {first:?}"
    );
    let probes = first.iter().filter(|p| p.grant == Grant::Probe).count();
    assert_eq!(probes, 2, "10 tokens and 2 probes");
    // Both probes throttled: the bucket is 10 deep. The next grant waits for the slack
    // token and its own at the refill (2 at 5/s), not halved.
    for p in first.iter().filter(|p| p.grant == Grant::Probe) {
        l.outcome(Ec2Action::CreateNetworkInterface, *p, Answer::Throttled);
    }
    let next = rx.recv().await.unwrap();
    let waited = next.at.duration_since(start);
    assert!(
        (Duration::from_millis(390)..=Duration::from_millis(410)).contains(&waited),
        "paced at the refill after the throttle: {waited:?}"
    );
    assert_eq!(next.grant, Grant::Token);
}

#[tokio::test(start_paused = true)]
async fn teardown_is_served_before_rollout_and_rollout_before_background() {
    let l = limiter(1, 1.0, true).await;
    let _ = time_for(&l, 1, Answer::Spent).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (p, name) in [
        (Priority::Background, "background"),
        (Priority::Rollout, "rollout"),
        (Priority::Teardown, "teardown"),
    ] {
        let (l, tx) = (l.clone(), tx.clone());
        tokio::spawn(async move {
            l.acquire(Ec2Action::CreateNetworkInterface, p).await;
            let _ = tx.send(name);
        });
        tokio::task::yield_now().await;
    }
    let order = [rx.recv().await, rx.recv().await, rx.recv().await];
    assert_eq!(
        order,
        [Some("teardown"), Some("rollout"), Some("background")]
    );
}
