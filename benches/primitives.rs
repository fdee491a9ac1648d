//! Micro-benchmarks of the primitives on every EC2 call's path: the token bucket's grant
//! check, the limiter actor's grant round trip (alone and with 1,000 callers at once),
//! ClientToken derivation and error classification.
//!
//! `cargo bench --bench primitives`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // test code: a failed assumption is a failed test

use std::hint::black_box;

use std::time::{Duration, Instant};

use aws_multi_eni_controller::actors::limiter::{
    Limiter, LimiterArgs, LimiterHandle, LimiterStrategy, Priority,
};
use aws_multi_eni_controller::aws::{BucketSpec, BucketTable, Ec2Action, Ec2Error, SlotOwner};
use aws_multi_eni_controller::clock::{TokenBucket, TokioClock};
use aws_multi_eni_controller::supervision::Handle;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ractor::Actor;

fn bucket_grant(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
    let bucket = TokenBucket::new(BucketSpec::new(u32::MAX / 1000, 1e9), TokioClock::new());
    c.bench_function("token_bucket_grant", |b| {
        b.iter(|| black_box(bucket.try_take()))
    });
}

/// The limiter actor with buckets so large that only the grant path itself is measured.
async fn unbounded_limiter() -> LimiterHandle {
    let mut buckets = BucketTable::default();
    for action in Ec2Action::ALL {
        buckets.set(action, BucketSpec::new(u32::MAX / 1000, 1e9));
    }
    let args = LimiterArgs {
        strategy: LimiterStrategy::PerAction,
        buckets,
        reserve: 0.0,
    };
    let (actor, _) = Actor::spawn(None, Limiter, args)
        .await
        .expect("limiter starts");
    Handle::new(actor)
}

fn limiter_grant(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let limiter = rt.block_on(unbounded_limiter());
    let mut g = c.benchmark_group("limiter");
    g.bench_function("acquire_uncontended", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let granted = limiter
                        .acquire(Ec2Action::CreateNetworkInterface, Priority::Rollout)
                        .await;
                    assert!(granted.is_some());
                }
                start.elapsed()
            })
        })
    });
    const CALLERS: u64 = 1_000;
    g.throughput(Throughput::Elements(CALLERS));
    g.bench_function("acquire_1000_callers_at_once", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let calls: Vec<_> = (0..CALLERS)
                        .map(|i| {
                            let limiter = limiter.clone();
                            let action = Ec2Action::ALL[i as usize % Ec2Action::ALL.len()];
                            tokio::spawn(
                                async move { limiter.acquire(action, Priority::Rollout).await },
                            )
                        })
                        .collect();
                    for call in calls {
                        assert!(call.await.expect("caller runs").is_some());
                    }
                    total += start.elapsed();
                }
                total
            })
        })
    });
    g.finish();
}

fn client_token(c: &mut Criterion) {
    let owner = SlotOwner {
        cluster: aws_multi_eni_controller::aws::ownership::ClusterIdentity::new("prod", "prod-uid"),
        nodeeni_name: "multus".into(),
        nodeeni_uid: "0b5e6c1e-3f6a-4a63-9d7e-1a2b3c4d5e6f".into(),
        node_name: "ip-10-0-1-5.ec2.internal".into(),
        instance_id: "i-0123456789abcdef0".into(),
        subnet_id: "subnet-0123456789abcdef0".into(),
        slot: 0,
    };
    c.bench_function("client_token_derive", |b| {
        b.iter(|| black_box(owner.client_token(black_box(3))))
    });
}

fn classify(c: &mut Criterion) {
    c.bench_function("error_classify", |b| {
        b.iter(|| {
            black_box(Ec2Error::classify(
                black_box("InvalidParameterValue"),
                black_box("Instance 'i-1' already has an interface attached at device index '1'."),
                Some(400),
            ))
        })
    });
}

criterion_group!(benches, bucket_grant, limiter_grant, client_token, classify);
criterion_main!(benches);
