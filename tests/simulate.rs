//! `eni-controller simulate` end to end: every scenario converges with no duplicate and
//! no leaked ENI, the strategies are compared in the same simulator, and the binary
//! prints the JSON report. (Speed targets are benchmarks, not tests: see BENCHMARKS.md.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::process::Command;

use aws_multi_eni_controller::aws::{BucketTable, Ec2Action};
use aws_multi_eni_controller::config::{Scenario, SimulateArgs, Strategy};
use aws_multi_eni_controller::simulate;
use aws_multi_eni_controller::simulate::report::floor_seconds;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: SimulateArgs,
}

fn args(extra: &[&str]) -> SimulateArgs {
    let mut argv = vec!["simulate"];
    argv.extend_from_slice(extra);
    Cli::parse_from(argv).args
}

#[test]
fn every_scenario_converges_without_duplicates_or_leaks() {
    for scenario in ["rollout", "label-flip", "node-churn", "delete-all"] {
        let a = args(&["--nodes", "40", "--subnets", "2", "--scenario", scenario]);
        let r = simulate::run(&a).expect("simulation runs");
        assert!(r.converged, "{scenario}: {r:?}");
        assert_eq!((r.duplicates, r.leaks), (0, 0), "{scenario}: {r:?}");
        // The floor by its definition: the fewest calls each action needs for the ENIs
        // the scenario makes or removes, at EC2's buckets (zero when they fit in the
        // bursts, as the churn of 8 nodes does).
        let n = r.enis as u64;
        let up = [
            (Ec2Action::CreateNetworkInterface, n),
            (Ec2Action::AttachNetworkInterface, n),
            (Ec2Action::ModifyNetworkInterfaceAttribute, n),
        ];
        let down = [
            (Ec2Action::DetachNetworkInterface, n),
            (Ec2Action::DeleteNetworkInterface, n),
        ];
        let f = |calls: &[(Ec2Action, u64)]| floor_seconds(calls, &BucketTable::default(), 1.0);
        let floor = match scenario {
            "rollout" | "node-churn" => f(&up),
            "label-flip" => f(&down) + f(&up),
            _ => f(&down),
        };
        assert!(n > 0, "{scenario}: ENIs counted");
        assert!(
            (r.floor_seconds - floor).abs() < 1e-6,
            "{scenario}: floor {} for {n} ENIs, by definition {floor}",
            r.floor_seconds
        );
        assert!(r.converge_seconds >= r.floor_seconds, "{scenario}: {r:?}");
        assert!(
            r.ec2_calls.values().sum::<u64>() > 0,
            "{scenario}: calls were counted"
        );
    }
}

/// `--zones`: nodes spread over three zones, each of the NodeENI's subnets one per zone;
/// every node gets its zone's (EC2 refuses an attachment across zones).
#[test]
fn nodes_over_several_zones_get_their_zones_subnets() {
    for scenario in ["rollout", "label-flip"] {
        let a = args(&[
            "--nodes",
            "40",
            "--subnets",
            "2",
            "--zones",
            "3",
            "--scenario",
            scenario,
        ]);
        let r = simulate::run(&a).expect("simulation runs");
        assert!(r.converged, "{scenario}: {r:?}");
        assert_eq!(
            r.enis, 80,
            "{scenario}: two per node, not two per zone: {r:?}"
        );
        assert_eq!((r.duplicates, r.leaks), (0, 0), "{scenario}: {r:?}");
        assert!(
            !r.ec2_failures.contains_key("AttachNetworkInterface"),
            "{scenario}: no attachment refused across zones: {r:?}"
        );
    }
}

/// `--node-readiness`: every node launched with the startup taint loses it once its
/// (simulated) agent reports its ENIs up, and a healthy node costs two Node writes.
#[test]
fn a_healthy_rollout_costs_two_node_writes_per_node() {
    let a = args(&[
        "--nodes",
        "120",
        "--subnets",
        "2",
        "--node-readiness",
        "true",
    ]);
    let r = simulate::run(&a).expect("simulation runs");
    assert!(r.converged, "{r:?}");
    let n = r.node_readiness.expect("measured");
    assert_eq!((n.untainted, n.ready), (120, 120), "{n:?}");
    assert_eq!(
        n.node_writes, 240,
        "its condition and its taint, each once: {n:?}"
    );
    assert_eq!(r.api_writes.node, 240);
}

/// A subnet that stays full for an hour: its refused slots cost a bounded number of
/// creates, the other NodeENI's rollout on a roomy subnet converges, and the audit counts
/// that NodeENI's ENIs as wanted (they were reported as 100 leaks).
#[test]
fn a_full_subnet_costs_few_creates_and_holds_up_no_other_nodeeni() {
    let a = args(&["--nodes", "60", "--scenario", "full-subnet"]);
    let r = simulate::run(&a).expect("simulation runs");
    assert!(r.converged, "{r:?}");
    assert_eq!((r.duplicates, r.leaks), (0, 0), "{r:?}");
    assert_eq!(r.enis, 100, "the roomy rollout is what is measured: {r:?}");
    let refused = r.refused_creates_after_first_minute.expect("measured");
    // 49 slots refused for 59 minutes: one probe per backed-off interval for the subnet,
    // not one create per slot per minute (2,891).
    assert!(
        refused <= 100,
        "{refused} creates on the full subnet: {r:?}"
    );
    assert!(r.converge_seconds >= r.floor_seconds, "{r:?}");
}

#[test]
fn faults_do_not_cause_duplicates_or_leaks() {
    let r = simulate::run(&args(&[
        "--nodes",
        "40",
        "--fault-rate",
        "0.2",
        "--seed",
        "7",
    ]))
    .unwrap();
    assert!(r.converged);
    assert_eq!((r.duplicates, r.leaks), (0, 0), "{r:?}");
}

#[test]
fn strategies_are_compared_in_the_same_simulator() {
    let run = |s: Strategy| {
        let mut a = args(&["--nodes", "150"]);
        a.strategy = s;
        simulate::run(&a).unwrap()
    };
    let ours = run(Strategy::PerAction);
    let global = run(Strategy::GlobalBucket);
    let none = run(Strategy::NoLimiter);
    assert_eq!(ours.scenario, Scenario::Rollout);
    assert!(
        ours.floor_seconds > 0.0,
        "150 creates exceed the burst: {ours:?}"
    );
    assert_eq!(
        ours.throttled_calls, 0,
        "the per-action limiter keeps under EC2's buckets"
    );
    assert!(none.throttled_calls > 0, "without a limiter EC2 throttles");
    assert!(global.converge_seconds > ours.converge_seconds);
    assert!(none.converge_seconds > ours.converge_seconds);
    for r in [&ours, &global, &none] {
        assert_eq!((r.duplicates, r.leaks), (0, 0), "{r:?}");
    }
}

#[test]
fn small_buckets_are_learned_and_a_shared_account_is_shared() {
    let run = |extra: &[&str]| {
        let mut argv = vec!["--nodes", "50", "--subnets", "2"];
        argv.extend_from_slice(extra);
        let r = simulate::run(&args(&argv)).unwrap();
        assert!(r.converged, "{extra:?}: {r:?}");
        assert_eq!((r.duplicates, r.leaks), (0, 0), "{extra:?}: {r:?}");
        r
    };
    // Buckets a tenth as deep as assumed: the floor is the real buckets', and the
    // controller, not told, is throttled on fewer calls than the SDK's adaptive mode.
    let ours = run(&["--account", "small-buckets"]);
    let sdk = run(&["--account", "small-buckets", "--strategy", "sdk-adaptive"]);
    let n = ours.enis as u64;
    let real = BucketTable::default().scaled(0.1, 1.0);
    let floor = floor_seconds(
        &[
            (Ec2Action::CreateNetworkInterface, n),
            (Ec2Action::AttachNetworkInterface, n),
            (Ec2Action::ModifyNetworkInterfaceAttribute, n),
        ],
        &real,
        1.0,
    );
    assert!((ours.floor_seconds - floor).abs() < 1e-6, "{ours:?}");
    assert!(
        ours.throttled_calls > 0,
        "the probe finds the bottom: {ours:?}"
    );
    assert!(
        ours.throttled_calls < sdk.throttled_calls,
        "ours {} vs the SDK's {}",
        ours.throttled_calls,
        sdk.throttled_calls
    );
    // Told, nothing is probed and nothing is throttled.
    let told = run(&["--account", "small-buckets", "--told"]);
    assert_eq!(told.throttled_calls, 0, "{told:?}");
    // Another client spends 40% of each refill: the floor is set by the share left, and
    // the other client is barely throttled.
    let shared = run(&["--account", "shared-account"]);
    let floor = floor_seconds(
        &[
            (Ec2Action::CreateNetworkInterface, n),
            (Ec2Action::AttachNetworkInterface, n),
            (Ec2Action::ModifyNetworkInterfaceAttribute, n),
        ],
        &BucketTable::default(),
        0.6,
    );
    assert!((shared.floor_seconds - floor).abs() < 1e-6, "{shared:?}");
    assert!(shared.other_calls > 0, "{shared:?}");
    assert!(
        (shared.other_throttled as f64) < 0.05 * shared.other_calls as f64,
        "{shared:?}"
    );
}

#[test]
fn the_binary_prints_one_json_object() {
    let out = Command::new(env!("CARGO_BIN_EXE_eni-controller"))
        .args(["simulate", "--nodes", "30", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for field in [
        "strategy",
        "nodes",
        "enis",
        "converge_seconds",
        "floor_seconds",
        "ratio_to_floor",
        "ec2_calls",
        "throttled_calls",
        "label_to_create_p50_ms",
        "label_to_create_p99_ms",
        "duplicates",
        "leaks",
        "wall_seconds",
        "peak_rss_bytes",
    ] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    assert_eq!(v["enis"], 30);
    let words = Command::new(env!("CARGO_BIN_EXE_eni-controller"))
        .args(["simulate", "--nodes", "30"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&words.stdout);
    assert!(text.contains("Rolled out 30 ENIs to 30 nodes"), "{text}");
}

#[test]
fn a_restart_learns_every_slot_again_from_a_few_reads_and_changes_nothing() {
    let a = args(&["--nodes", "1500", "--scenario", "restart"]);
    let r = simulate::run(&a).expect("simulation runs");
    assert!(r.converged, "{r:?}");
    assert_eq!(r.enis, 1500);
    assert_eq!(r.mutating_calls_after_restart, Some(0), "{r:?}");
    let rollout = r
        .rollout_ratio_to_floor
        .expect("the rollout before the restart");
    assert!(rollout >= 1.0, "no faster than EC2's floor: {r:?}");
    // One listing of the NodeENI's ENIs: EC2 scans the account's 3,000 interfaces (the
    // instances' own and these) 1,000 a page; no read per slot, and no second scan for
    // the Go controller's ENIs (the NodeENI never carried its finalizer).
    let describes = r
        .ec2_calls
        .get("DescribeNetworkInterfaces")
        .copied()
        .unwrap_or(0);
    assert!((1..=3).contains(&describes), "{describes} describes: {r:?}");
    assert_eq!((r.duplicates, r.leaks), (0, 0), "{r:?}");
    assert_eq!(
        (
            r.api_writes.status,
            r.api_writes.eninode,
            r.api_writes.events
        ),
        (0, 0, 0),
        "a restart writes nothing: {r:?}"
    );
}
