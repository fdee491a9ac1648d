//! The limiter's pacing, on tokio's paused clock.

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::aws::BucketTable;
use crate::supervision::Handle;

async fn limiter(capacity: u32, per_second: f64) -> LimiterHandle {
    let mut buckets = BucketTable::default();
    buckets.set(
        Ec2Action::CreateNetworkInterface,
        BucketSpec::new(capacity, per_second),
    );
    let args = LimiterArgs {
        strategy: LimiterStrategy::PerAction,
        buckets,
        reserve: 0.0,
    };
    let (actor, _) = Actor::spawn(None, Limiter, args).await.unwrap();
    Handle::new(actor)
}

/// How long `n` tokens take, one after the other.
async fn time_for(l: &LimiterHandle, n: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        assert!(
            l.acquire(Ec2Action::CreateNetworkInterface, Priority::Rollout)
                .await
        );
    }
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn a_throttle_halves_the_rate_and_quiet_time_brings_it_back() {
    // A burst of 5 (a throttle can at most multiply a token's price by the burst: see
    // the notes on buckets of 1), spent first.
    let l = limiter(5, 10.0).await;
    let _ = time_for(&l, 5).await;
    let normal = time_for(&l, 10).await;
    assert!(
        (Duration::from_millis(900)..=Duration::from_millis(1100)).contains(&normal),
        "10 tokens at 10/s: {normal:?}"
    );
    l.outcome(Ec2Action::CreateNetworkInterface, true);
    let slowed = time_for(&l, 10).await;
    let ratio = slowed.as_secs_f64() / normal.as_secs_f64();
    assert!(
        (1.8..=2.2).contains(&ratio),
        "halved after a throttle: {ratio:.2}"
    );
    // Thirty throttle-free seconds: the price decays by a fifth every five.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let _ = time_for(&l, 5).await;
    let recovered = time_for(&l, 10).await;
    let ratio = recovered.as_secs_f64() / normal.as_secs_f64();
    assert!(
        (0.9..=1.15).contains(&ratio),
        "back to the bucket's rate: {ratio:.2}"
    );
}

#[tokio::test(start_paused = true)]
async fn teardown_is_served_before_rollout_and_rollout_before_background() {
    let l = limiter(1, 1.0).await;
    let _ = time_for(&l, 1).await;
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
