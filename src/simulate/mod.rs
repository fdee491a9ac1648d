//! `eni-controller simulate`: the real actor tree, unchanged, on the in-memory cluster
//! and the EC2 simulator (AWS's buckets, a latency model, optional faults), under a
//! virtual clock so large scenarios finish in seconds. A capacity-planning tool ("how
//! long will rolling ENIs to 800 nodes take under EC2's throttling?") and the project's
//! benchmark; `--strategy` replays the peers' pacing in the same simulator.

mod audit;
mod calls;
mod cubic;
mod full_subnet;
pub mod heap;
mod other_client;
pub mod readiness;
pub mod report;
mod restart;
mod sdk_adaptive;
mod world;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use thiserror::Error;
use tokio::time::Instant;

use crate::actors::limiter::LimiterStrategy;
use crate::actors::slot::SlotTiming;
use crate::actors::{Controller, ControllerSettings};
use crate::aws::{Ec2, Ec2Action};
use crate::config::{Scenario, SimulateArgs, Strategy};
use crate::k8s::Cluster;
use calls::{first_creates_after, write_call_log};
pub use report::Report;
use report::{floor_seconds, peak_rss_bytes, quantile};
use world::{CLUSTER, SimWorld, time_limit};

/// Why a simulation could not run.
#[derive(Debug, Error)]
pub enum SimulateError {
    /// The runtime could not start.
    #[error("cannot start the simulation runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The actor tree could not start.
    #[error("cannot start the controller: {0}")]
    Actors(#[from] ractor::SpawnErr),
}

impl SimulateError {
    /// A stable label.
    pub fn label(&self) -> &'static str {
        match self {
            SimulateError::Runtime(_) => "runtime",
            SimulateError::Actors(_) => "actors",
        }
    }
}

/// Runs `args` on a paused-clock runtime of its own and returns what it measured.
pub fn run(args: &SimulateArgs) -> Result<Report, SimulateError> {
    run_with_heap(args, None)
}

/// [`run`], and with a `probe` of the process's live heap also what the controller held
/// at the end ([`Report::controller_heap`]).
pub fn run_with_heap(
    args: &SimulateArgs,
    probe: Option<heap::HeapProbe<'_>>,
) -> Result<Report, SimulateError> {
    let wall = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?;
    let recorder = DebuggingRecorder::new();
    let snapshots = recorder.snapshotter();
    let mut report = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(simulate(args, &snapshots, probe))
    })?;
    report.wall_seconds = wall.elapsed().as_secs_f64();
    report.peak_rss_bytes = peak_rss_bytes();
    Ok(report)
}

fn settings(args: &SimulateArgs, w: &SimWorld) -> ControllerSettings {
    ControllerSettings {
        cluster: crate::aws::ownership::ClusterIdentity::new(CLUSTER, "simulated-cluster-uid"),
        strategy: match args.strategy {
            Strategy::PerAction => LimiterStrategy::PerAction,
            Strategy::GlobalBucket => LimiterStrategy::Global {
                qps: args.qps,
                burst: args.burst,
            },
            Strategy::NoLimiter | Strategy::SdkAdaptive => LimiterStrategy::Unlimited,
        },
        buckets: if args.told {
            w.buckets.clone().all_told()
        } else {
            crate::aws::BucketTable::default()
        },
        slot_timing: SlotTiming {
            // The Go controller retries after 1 s, doubling; controller-runtime's
            // per-item backoff grows to 1000 s.
            retry_max: match args.strategy {
                Strategy::NoLimiter => Duration::from_secs(1000),
                _ => SlotTiming::default().retry_max,
            },
            ..SlotTiming::default()
        },
        // Without `--node-readiness` the nodes have no agent to report their interfaces
        // configured, and no startup taint: readiness has nothing to tell them.
        startup_taint: args.node_readiness.then(readiness::startup_taint),
        node_condition: args.node_readiness,
        ..ControllerSettings::default()
    }
}

/// Waits (in simulated time) until `done`, showing progress; `false` on the time limit.
async fn until(
    bar: &ProgressBar,
    limit: Duration,
    mut progress: impl FnMut() -> (u64, bool),
) -> bool {
    let start = Instant::now();
    loop {
        let (position, done) = progress();
        bar.set_position(position);
        if done {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn histogram(snapshots: &Snapshotter, name: &str) -> Vec<f64> {
    snapshots
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, ..)| k.key().name() == name)
        .flat_map(|(_, _, _, v)| match v {
            DebugValue::Histogram(xs) => xs.into_iter().map(|x| x.into_inner() * 1000.0).collect(),
            _ => Vec::new(),
        })
        .collect()
}

async fn simulate(
    args: &SimulateArgs,
    snapshots: &Snapshotter,
    probe: Option<heap::HeapProbe<'_>>,
) -> Result<Report, SimulateError> {
    let wall = std::time::Instant::now();
    let mut w = SimWorld::build(args);
    let t0 = Instant::now();
    let cluster: Arc<dyn Cluster> = Arc::new(w.cluster.clone());
    let mut ec2: Arc<dyn Ec2> = Arc::new(w.sim.clone());
    if args.strategy == Strategy::SdkAdaptive {
        ec2 = Arc::new(sdk_adaptive::SdkAdaptiveEc2::new(ec2));
    }
    let settings = settings(args, &w);
    let start_controller = || {
        let (cluster, ec2, settings) = (cluster.clone(), ec2.clone(), settings.clone());
        Controller::start(cluster, ec2, settings, Arc::new(AtomicBool::new(false)))
    };
    let mut controller = start_controller().await?;
    let expected = w.expected(true) as u64;
    let bar = ProgressBar::with_draw_target(
        Some(expected),
        if args.json {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ENIs")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let converged_up = |w: &SimWorld| {
        let (d, r) = w.progress();
        let done = d == expected as i64 && r == d && {
            let a = w.audit(true);
            a.attached as u64 == expected && a.duplicates == 0 && a.leaks == 0
        };
        (r.max(0) as u64, done)
    };
    let mut start = t0;
    let mut relabelled = t0;
    let mut enis = expected as usize;
    let mut needed: Vec<(Ec2Action, u64)> = vec![
        (Ec2Action::CreateNetworkInterface, expected),
        (Ec2Action::AttachNetworkInterface, expected),
        // deleteOnTermination, and the source/destination check when turned off.
        (
            Ec2Action::ModifyNetworkInterfaceAttribute,
            expected * (1 + u64::from(!args.source_dest_check)),
        ),
    ];
    let (table, share_left) = (w.buckets.clone(), w.share_left);
    let floor_of = |calls: &[(Ec2Action, u64)]| floor_seconds(calls, &table, share_left);
    let mut floor = floor_of(&needed);
    // A scenario is declared stuck only well past what EC2's buckets allow: 20 NodeENIs
    // over 10,000 nodes need 40,000 s of attaches alone.
    let limit = time_limit(floor);
    bar.set_message("rollout");
    let mut converged = if args.scenario == Scenario::FullSubnet {
        false
    } else {
        until(&bar, limit, || converged_up(&w)).await
    };
    let rollout = converged.then(|| (t0.elapsed().as_secs_f64(), wall.elapsed().as_secs_f64()));
    let mut full = None;

    let rollout_ratio = rollout.map(|(simulated, _)| simulated / floor.max(f64::EPSILON));
    let before = |w: &SimWorld| Ec2Action::ALL.map(|a| w.sim.count(Some(a), None));
    let mut baseline = [0u64; Ec2Action::ALL.len()];
    let mut throttled_before = 0;
    let mut writes_before = crate::k8s::writes::WriteTally::default();
    let mut failures_before = std::collections::BTreeMap::new();
    let mut others_before = (0, 0);
    let mut calls_known = None;
    let mut mutating_after_restart = None;
    let mut known_in = None;
    if args.scenario == Scenario::FullSubnet {
        bar.set_length(full_subnet::ROOMY_NODES as u64);
        bar.set_message("roomy");
        let m = full_subnet::run(&mut w, |ready| bar.set_position(ready)).await;
        converged = m.converged;
        start = m.started.unwrap_or(t0);
        relabelled = start;
        enis = full_subnet::ROOMY_NODES;
        needed = needed
            .iter()
            .map(|(a, n)| (*a, n / expected.max(1) * enis as u64))
            .collect();
        floor = floor_of(&needed);
        full = Some(m);
    } else if args.scenario != Scenario::Rollout && converged {
        // Let the buckets refill, then measure the scenario's own phase.
        tokio::time::sleep(Duration::from_secs(30)).await;
        let _ = histogram(snapshots, "");
        baseline = before(&w);
        throttled_before = w.sim.count(None, Some("throttled"));
        writes_before = w.cluster.writes();
        failures_before = w.sim.failures();
        others_before = w.sim.other_calls();
        start = Instant::now();
        relabelled = start;
        bar.set_position(0);
        match args.scenario {
            Scenario::LabelFlip => {
                bar.set_message("teardown");
                w.label_all(false);
                let mut watch = audit::LeftWatch::default();
                converged = until(&bar, limit, || {
                    let left = watch.left(&w) as u64;
                    (
                        expected.saturating_sub(left),
                        left == 0 && w.progress() == (0, 0),
                    )
                })
                .await;
                relabelled = Instant::now();
                w.label_all(true);
                bar.set_message("re-create");
                converged = converged && until(&bar, limit, || converged_up(&w)).await;
                let teardown = [
                    (Ec2Action::DetachNetworkInterface, expected),
                    (Ec2Action::DeleteNetworkInterface, expected),
                ];
                floor += floor_of(&teardown);
                needed.extend(teardown);
            }
            Scenario::NodeChurn => {
                let n = (w.nodes.len() / 5).max(1);
                enis = n * (expected as usize / w.nodes.len().max(1));
                w.churn(n);
                bar.set_message("churn");
                converged = until(&bar, limit, || converged_up(&w)).await;
                needed = needed
                    .iter()
                    .map(|(a, n)| (*a, n / expected.max(1) * enis as u64))
                    .collect();
                floor = floor_of(&needed);
            }
            Scenario::DeleteAll => {
                for n in &w.nodeenis {
                    w.cluster.delete_nodeeni(n);
                }
                bar.set_message("delete");
                let mut watch = audit::LeftWatch::default();
                converged = until(&bar, limit, || {
                    let left = watch.left(&w) as u64;
                    (
                        expected - left.min(expected),
                        left == 0
                            && w.nodeenis
                                .iter()
                                .all(|n| w.cluster.with_nodeeni(n, |_| ()).is_none()),
                    )
                })
                .await;
                needed = vec![
                    (Ec2Action::DetachNetworkInterface, expected),
                    (Ec2Action::DeleteNetworkInterface, expected),
                ];
                floor = floor_of(&needed);
            }
            Scenario::Restart => {
                controller.stop().await;
                crate::telemetry::term::end_term();
                // From the old controller's last call on.
                baseline = before(&w);
                writes_before = w.cluster.writes();
                bar.set_message("restart");
                controller = start_controller().await?;
                known_in = restart::known_again(&bar, snapshots, expected, limit).await;
                converged = known_in.is_some();
                calls_known = Some(before(&w));
                tokio::time::sleep(restart::WATCHED_AFTER).await;
                mutating_after_restart = Some(restart::mutating_since(&before(&w), &baseline));
                floor = 0.0;
                needed.clear();
            }
            Scenario::Rollout | Scenario::FullSubnet => {}
        }
    }
    let converge_seconds = match (&full, known_in) {
        (Some(m), _) if m.converged => m.rollout_seconds,
        (_, Some(known)) => known.as_secs_f64(),
        _ => start.elapsed().as_secs_f64(),
    };
    bar.finish_and_clear();
    let now = calls_known.unwrap_or_else(|| before(&w));
    let ec2_calls = Ec2Action::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| now[*i] > baseline[*i])
        .map(|(i, a)| (a.as_str().to_string(), now[i] - baseline[i]))
        .collect();
    let mut requested = histogram(snapshots, crate::telemetry::metric::LABEL_TO_CREATE_SECONDS);
    let mut reached = first_creates_after(&w, relabelled.duration_since(w.sim.started_at()));
    if let Some(path) = &args.call_log
        && let Err(e) = write_call_log(&w, path)
    {
        tracing::warn!(error = %e, path = %path.display(), "could not write the call log");
    }
    let audit = w.audit(args.scenario != Scenario::DeleteAll);
    let others = w.sim.other_calls();
    let throttled_calls = w.sim.count(None, Some("throttled")) - throttled_before;
    let all_calls: u64 = now.iter().zip(baseline).map(|(n, b)| n - b).sum();
    let node_readiness = if args.node_readiness && args.scenario == Scenario::Rollout {
        Some(readiness::settle(&w.cluster, t0, limit).await)
    } else {
        None
    };
    let api_writes = w.cluster.writes().since(&writes_before);
    let slots = w.expected(args.scenario != Scenario::DeleteAll) as u64;
    let controller_heap = heap::stop_measured(controller, probe, slots).await;
    Ok(Report {
        scenario: args.scenario,
        strategy: args.strategy,
        account: args.account,
        told: args.told,
        nodes: args.nodes,
        nodeenis: args.nodeenis,
        enis,
        converged,
        converge_seconds,
        floor_seconds: floor,
        floor_by_action: report::floor_by_action(&needed, &table, share_left),
        ratio_to_floor: if floor > 0.0 {
            converge_seconds / floor
        } else {
            0.0
        },
        ec2_calls,
        throttled_calls,
        throttled_share: throttled_calls as f64 / all_calls.max(1) as f64,
        other_calls: others.0 - others_before.0,
        other_throttled: others.1 - others_before.1,
        ec2_failures: w
            .sim
            .failures()
            .into_iter()
            .map(|(k, n)| {
                let before = failures_before.get(&k).copied().unwrap_or(0);
                (k, n - before)
            })
            .filter(|(_, n)| *n > 0)
            .collect(),
        label_to_create_p50_ms: quantile(&mut requested, 0.5),
        label_to_create_p99_ms: quantile(&mut requested, 0.99),
        label_to_ec2_create_p99_ms: quantile(&mut reached, 0.99),
        duplicates: audit.duplicates,
        leaks: audit.leaks,
        api_writes,
        api_writes_per_eni: if enis > 0 {
            api_writes.total() as f64 / enis as f64
        } else {
            0.0
        },
        refused_creates_after_first_minute: full.map(|m| m.creates_after_first_minute),
        mutating_calls_after_restart: mutating_after_restart,
        rollout_ratio_to_floor: rollout_ratio.filter(|_| args.scenario != Scenario::Rollout),
        rollout_wall_seconds: rollout.map(|(_, wall)| wall),
        node_readiness,
        controller_heap,
        wall_seconds: 0.0,
        peak_rss_bytes: 0,
        seed: args.seed,
    })
}
