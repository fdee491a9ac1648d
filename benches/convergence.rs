//! Convergence benchmark: `eni-controller simulate` (the real actor tree on the EC2
//! simulator with AWS's default buckets) for `rollout` at 100, 1,000 and 5,000 nodes under
//! each pacing strategy, `label-flip` and `node-churn` at 1,000 nodes, and the `pacing-*`
//! cases (accounts the controller does not own, against the SDK's adaptive mode). Each case runs
//! the release binary in a process of its own (so its peak RSS is its own), then one
//! Markdown row per case is printed (as in BENCHMARKS.md), then every report as JSON.
//!
//! `cargo bench --bench convergence` (all cases), or with filters on the case name:
//! `cargo bench --bench convergence -- rollout-1000`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // test code: a failed assumption is a failed test

use std::process::Command;

use serde_json::Value;

fn cases() -> Vec<(String, Vec<String>)> {
    let strategies = ["per-action", "global-bucket", "no-limiter"];
    let mut runs: Vec<(&str, usize)> = [100, 1_000, 5_000]
        .into_iter()
        .map(|n| ("rollout", n))
        .collect();
    runs.extend([("label-flip", 1_000), ("node-churn", 1_000)]);
    let mut all: Vec<(String, Vec<String>)> = runs
        .into_iter()
        .flat_map(|(scenario, nodes)| {
            strategies.into_iter().map(move |strategy| {
                let args = [
                    "simulate",
                    "--json",
                    "--scenario",
                    scenario,
                    "--nodes",
                    &nodes.to_string(),
                    "--strategy",
                    strategy,
                ]
                .map(String::from)
                .to_vec();
                (format!("{scenario}-{nodes}-{strategy}"), args)
            })
        })
        .collect();
    all.extend(pacing_cases());
    all
}

/// Accounts the controller does not own: buckets a tenth of AWS's (told or not), another
/// client spending 40% of each refill, and 10% of calls failing with 500s; rollout and
/// teardown, 100 ENIs on 50 nodes and 1,000 on 1,000, against the SDK's adaptive mode.
fn pacing_cases() -> Vec<(String, Vec<String>)> {
    let accounts: [(&str, &[&str]); 5] = [
        ("small", &["--account", "small-buckets"]),
        ("small-told", &["--account", "small-buckets", "--told"]),
        ("shared", &["--account", "shared-account"]),
        (
            "small-told-faults",
            &[
                "--account",
                "small-buckets",
                "--told",
                "--fault-rate",
                "0.1",
                "--fault-mix",
                "server-errors",
            ],
        ),
        (
            "small-faults",
            &[
                "--account",
                "small-buckets",
                "--fault-rate",
                "0.1",
                "--fault-mix",
                "server-errors",
            ],
        ),
    ];
    let mut cases = Vec::new();
    for (account, extra) in accounts {
        for (size, shape) in [
            ("100", ["--nodes", "50", "--subnets", "2"]),
            ("1000", ["--nodes", "1000", "--subnets", "1"]),
        ] {
            for scenario in ["rollout", "delete-all"] {
                for strategy in ["per-action", "sdk-adaptive"] {
                    let mut args: Vec<String> = [
                        "simulate",
                        "--json",
                        "--scenario",
                        scenario,
                        "--strategy",
                        strategy,
                    ]
                    .map(String::from)
                    .to_vec();
                    args.extend(shape.map(String::from));
                    args.extend(extra.iter().map(|s| s.to_string()));
                    cases.push((
                        format!("pacing-{account}-{scenario}-{size}-{strategy}"),
                        args,
                    ));
                }
            }
        }
    }
    cases
}

fn pacing_row(name: &str, r: &Value) -> String {
    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    let calls: f64 = r["ec2_calls"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_f64).sum())
        .unwrap_or(f64::NAN);
    let other = f("other_calls");
    let other_share = if other > 0.0 {
        format!("{:.1}%", 100.0 * f("other_throttled") / other)
    } else {
        String::new()
    };
    format!(
        "| {name} | {} | {:.1} | {:.1} | {:.2} | {calls} | {} ({:.1}%) | {other_share} | {} | {} |",
        f("enis"),
        f("converge_seconds"),
        f("floor_seconds"),
        f("ratio_to_floor"),
        f("throttled_calls"),
        100.0 * f("throttled_share"),
        f("duplicates"),
        f("leaks"),
    )
}

fn simulate(args: &[String]) -> Result<Value, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_eni-controller"))
        .args(args)
        .output()
        .map_err(|e| format!("cannot run eni-controller: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("not one JSON object: {e}"))
}

fn row(name: &str, r: &Value) -> String {
    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    let calls: f64 = r["ec2_calls"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_f64).sum())
        .unwrap_or(f64::NAN);
    format!(
        "| {name} | {} | {:.1} | {:.1} | {:.2} | {calls} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {:.1} | {:.0} |",
        f("enis"),
        f("converge_seconds"),
        f("floor_seconds"),
        f("ratio_to_floor"),
        f("throttled_calls"),
        f("label_to_create_p50_ms"),
        f("label_to_create_p99_ms"),
        f("label_to_ec2_create_p99_ms"),
        f("duplicates"),
        f("leaks"),
        f("wall_seconds"),
        f("peak_rss_bytes") / (1024.0 * 1024.0),
    )
}

fn main() {
    // `cargo bench` passes `--bench`; any other free argument filters case names.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    println!(
        "| case | ENIs | converge s | floor s | ratio | EC2 calls | throttled | label→create p50 ms | p99 ms | label→EC2 create p99 ms | dup | leak | wall s | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut reports = Vec::new();
    let mut pacing = Vec::new();
    for (name, args) in cases() {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match simulate(&args) {
            Ok(r) if name.starts_with("pacing-") => {
                pacing.push(pacing_row(&name, &r));
                reports.push(r);
            }
            Ok(r) => {
                println!("{}", row(&name, &r));
                reports.push(r);
            }
            Err(e) => println!("| {name} | failed: {} |", e.trim().replace('\n', " ")),
        }
    }
    if !pacing.is_empty() {
        println!(
            "\n| case | ENIs | converge s | floor s | ratio | EC2 calls | throttled | other client throttled | dup | leak |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for p in pacing {
            println!("{p}");
        }
    }
    for r in reports {
        println!("{r}");
    }
}
