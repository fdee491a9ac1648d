//! The real controller and the real SDK's adaptive retry mode against moto behind the
//! EC2 throttling layer (buckets a tenth of AWS's): both converge, with no ENI left
//! behind, and the layer really throttles. The full-size comparison is the `pacing_moto`
//! benchmark (BENCHMARKS.md); speed is not asserted here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

mod driver;

use driver::{Case, Pacing, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_pacings_converge_through_the_throttling_layer() {
    let case = |pacing| Case {
        nodes: 10,
        subnets: 2,
        capacity_scale: 0.1,
        fault_rate: 0.0,
        pacing,
    };
    let ours = run(case(Pacing::Ours { told: false })).await.unwrap();
    assert!(ours.converged, "{ours:?}");
    assert_eq!(ours.enis, 20);
    // Every call went through the layer: at least a create, an attach and a modify per
    // ENI on the way up, a detach and a delete on the way down.
    assert!(ours.rollout_calls.calls >= 3 * 20, "{ours:?}");
    assert!(ours.teardown_calls.calls >= 2 * 20, "{ours:?}");
    let sdk = run(case(Pacing::SdkAdaptive)).await.unwrap();
    assert!(sdk.converged, "{sdk:?}");
    assert!(
        sdk.rollout_calls.throttled > 0,
        "an unpaced rollout is throttled by the layer: {sdk:?}"
    );
    assert!(
        ours.rollout_calls.throttled + ours.teardown_calls.throttled
            <= sdk.rollout_calls.throttled + sdk.teardown_calls.throttled,
        "ours {ours:?}\nsdk {sdk:?}"
    );
}
