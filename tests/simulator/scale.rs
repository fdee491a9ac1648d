//! Scale under the paused clock.

use std::time::Duration;

use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::aws::{BucketSpec, Ec2, Ec2Action};
use tokio::time::Instant;

use super::{attach, create, world};

/// Thousands of instances under the paused clock: the run is bounded below by the
/// bucket arithmetic, and no ENI is lost or duplicated by throttling.
#[tokio::test(start_paused = true)]
async fn thousands_of_enis_respect_the_bucket_floor() {
    const N: usize = 2000;
    let w = world(SimConfig::default());
    let big = w.sim.add_subnet("us-east-1a", "10.1.0.0/16", None);
    let instances: Vec<String> = (0..N)
        .map(|_| w.sim.launch_instance("m5.large", &big.id).unwrap().id)
        .collect();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, inst) in instances.into_iter().enumerate() {
        let sim = w.sim.clone();
        let req = create(&w, &big, &format!("bulk-{i}"));
        tasks.spawn(async move {
            // A client without a limiter: exponential backoff on throttles.
            let mut backoff = Duration::from_millis(500 + (i % 10) as u64 * 50);
            let eni = loop {
                match sim.create_eni(req.clone()).await {
                    Ok(e) => break e,
                    Err(e) if e.is_retryable() => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                    Err(e) => panic!("{e}"),
                }
            };
            loop {
                match sim.attach_eni(attach(&eni.id, &inst, 1, 0)).await {
                    Ok(_) => break,
                    Err(e) if e.is_retryable() => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let floor = BucketSpec::new(100, 5.0).floor_seconds(N as u64);
    assert!(elapsed >= floor, "{elapsed} s beat the {floor} s floor");
    let enis = w.sim.enis();
    assert_eq!(
        enis.iter()
            .filter(|e| e.attachment.as_ref().is_some_and(|a| a.device_index == 1))
            .count(),
        N
    );
    assert_eq!(
        enis.len(),
        2 * N,
        "one primary and one secondary per instance"
    );
    assert!(
        w.sim
            .count(Some(Ec2Action::CreateNetworkInterface), Some("throttled"))
            > 0
    );
}
