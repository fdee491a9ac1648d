//! A rollout killed with `kill -9` a third of the way through and resumed by the same pod
//! name: the real binary, the real kube-apiserver, moto behind the EC2 throttling layer
//! (buckets a tenth of AWS's, refilled at AWS's rates), 50 nodes × 2 ENIs. One Markdown
//! row per run (as in BENCHMARKS.md).
//!
//! `cargo bench --bench restart [runs]` (needs moto and the Kubernetes binaries: run the
//! README's test command once).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // benchmark code

#[path = "../tests/e2e/restart.rs"]
mod restart;

use restart::{Case, run};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    println!(
        "| run | ENIs | at the kill | first call after the restart s | silent after the kill s | rollout s | floor s | ratio | creates | ENIs owned | duplicates |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for i in 1..=runs {
        let r = run(Case {
            nodes: 50,
            subnets: 2,
            capacity_scale: 0.1,
            kill_at: 1.0 / 3.0,
        })
        .await
        .unwrap();
        assert!(r.converged, "{r:#?}");
        println!(
            "| {i} | {} | {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.2} | {} | {} | {} |",
            r.enis,
            r.at_kill,
            r.resumed_after.unwrap_or(f64::NAN),
            r.silent_for.unwrap_or(f64::NAN),
            r.rollout_seconds,
            r.floor,
            r.rollout_seconds / r.floor,
            r.creates,
            r.owned,
            r.owned - r.distinct_attachments,
        );
    }
}
