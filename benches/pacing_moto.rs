//! The real controller against the real SDK's adaptive retry mode, through moto behind
//! the EC2 throttling layer, in real time: 100 ENIs on 50 nodes, rollout then teardown,
//! with buckets a tenth of AWS's (told and not told), and with 10% of calls failing.
//! One Markdown row per case (as in BENCHMARKS.md).
//!
//! `cargo bench --bench pacing_moto` (needs moto: run the README's test command once).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // benchmark code

#[path = "../tests/pacing_moto/driver.rs"]
mod driver;

use driver::{Case, Pacing, run};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let cases = [
        ("small-told", 0.1, 0.0, Pacing::Ours { told: true }),
        ("small-untold", 0.1, 0.0, Pacing::Ours { told: false }),
        ("small-sdk-adaptive", 0.1, 0.0, Pacing::SdkAdaptive),
        ("small-told-faults", 0.1, 0.1, Pacing::Ours { told: true }),
        (
            "small-untold-faults",
            0.1,
            0.1,
            Pacing::Ours { told: false },
        ),
        ("small-sdk-adaptive-faults", 0.1, 0.1, Pacing::SdkAdaptive),
    ];
    println!(
        "| case | rollout s | floor s | ratio | teardown s | floor s | ratio | calls | throttled | failed | converged |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, scale, faults, pacing) in cases {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let m = run(Case {
            nodes: 50,
            subnets: 2,
            capacity_scale: scale,
            fault_rate: faults,
            pacing,
        })
        .await
        .unwrap();
        let calls = m.rollout_calls.calls + m.teardown_calls.calls;
        let throttled = m.rollout_calls.throttled + m.teardown_calls.throttled;
        let failed = m.rollout_calls.failed + m.teardown_calls.failed;
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {:.2} | {calls} | {throttled} ({:.1}%) | {failed} | {} |",
            m.rollout_seconds,
            m.rollout_floor,
            m.rollout_seconds / m.rollout_floor,
            m.teardown_seconds,
            m.teardown_floor,
            m.teardown_seconds / m.teardown_floor,
            throttled as f64 * 100.0 / calls.max(1) as f64,
            m.converged
        );
    }
}
