//! Micro-benchmarks of the primitives on every EC2 call's path: the token bucket's grant
//! check, ClientToken derivation and error classification.
//!
//! `cargo bench --bench primitives`

use std::hint::black_box;

use aws_multi_eni_controller::aws::{BucketSpec, Ec2Error, SlotOwner};
use aws_multi_eni_controller::clock::{TokenBucket, TokioClock};
use criterion::{Criterion, criterion_group, criterion_main};

fn bucket_grant(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
    let bucket = TokenBucket::with_cells(
        BucketSpec::new(u32::MAX / 1000, 1e9),
        100,
        TokioClock::new(),
    );
    c.bench_function("token_bucket_grant", |b| {
        b.iter(|| black_box(bucket.try_take()))
    });
}

fn client_token(c: &mut Criterion) {
    let owner = SlotOwner {
        cluster: "prod".into(),
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

criterion_group!(benches, bucket_grant, client_token, classify);
criterion_main!(benches);
