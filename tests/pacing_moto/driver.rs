//! The real controller (its actor tree and the real `aws-sdk-ec2` adapter) rolling ENIs
//! out and tearing them down through moto behind the EC2 throttling layer, in real
//! time: once paced by this controller's limiter, once by the SDK's own adaptive retry
//! mode with no other limit (what a user of the SDK gets). Shared by the `pacing_moto`
//! test (small) and benchmark (the 100 ENIs on 50 nodes).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use aws_multi_eni_controller::actors::limiter::LimiterStrategy;
use aws_multi_eni_controller::actors::{Controller, ControllerSettings};
use aws_multi_eni_controller::aws::ownership::{ClusterIdentity, TAG_CLUSTER};
use aws_multi_eni_controller::aws::sdk::SdkEc2;
use aws_multi_eni_controller::aws::{BucketTable, Ec2Action};
use aws_multi_eni_controller::k8s::memory::MemoryCluster;
use aws_multi_eni_controller::k8s::{NodeENI, NodeENISpec, NodeView};
use aws_multi_eni_controller::simulate::report::floor_seconds;
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::timeout::TimeoutConfig;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use eni_testkit::moto::{REGION, build_network, eni_ids_tagged, with_more_subnets};
use eni_testkit::throttled::{ActionStats, ThrottledMoto};

const CLUSTER: &str = "pacing";
const ZONE: &str = "us-east-1a";
const LABEL: (&str, &str) = ("ng", "multi-eni");

/// Who paces the EC2 calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// This controller's limiter; `told` gives it the layer's real buckets.
    Ours { told: bool },
    /// No limiter; the SDK client in adaptive retry mode (3 attempts).
    SdkAdaptive,
}

/// One measured case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub nodes: usize,
    /// ENIs per node (one subnet each).
    pub subnets: usize,
    /// The layer's buckets, as a share of AWS's capacity.
    pub capacity_scale: f64,
    /// Share of admitted calls failing with a 500 (half after moto applied them).
    pub fault_rate: f64,
    pub pacing: Pacing,
}

/// What a case measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub enis: usize,
    pub rollout_seconds: f64,
    pub rollout_floor: f64,
    pub teardown_seconds: f64,
    pub teardown_floor: f64,
    /// Calls through the layer, throttled and failed: rollout, then teardown.
    pub rollout_calls: ActionStats,
    pub teardown_calls: ActionStats,
    pub converged: bool,
}

fn total(
    before: &BTreeMap<String, ActionStats>,
    after: &BTreeMap<String, ActionStats>,
) -> ActionStats {
    let mut t = ActionStats::default();
    for (a, s) in after {
        let b = before.get(a).copied().unwrap_or_default();
        t.calls += s.calls - b.calls;
        t.throttled += s.throttled - b.throttled;
        t.failed += s.failed - b.failed;
    }
    t
}

fn client(endpoint: &str, retry: RetryConfig) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

async fn until(deadline: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Runs `case`: rollout to every node, a pause for the buckets to refill, then the
/// NodeENI deleted and every ENI torn down.
pub async fn run(case: Case) -> anyhow::Result<Measured> {
    let layer = ThrottledMoto::start(case.capacity_scale, case.fault_rate)?;
    let setup = layer.moto.client();
    let net = build_network(&setup, CLUSTER, &[ZONE], case.nodes, "m5.large").await?;
    let subnets = with_more_subnets(&setup, &net, ZONE, case.subnets - 1).await?;
    let cluster = MemoryCluster::new();
    for (i, (instance, _)) in net.instances.iter().enumerate() {
        cluster.upsert_node(NodeView {
            name: format!("node-{i:03}"),
            uid: format!("uid-{i}"),
            labels: [(LABEL.0.to_string(), LABEL.1.to_string())].into(),
            instance_id: Some(instance.clone()),
            zone: Some(ZONE.to_string()),
            deleting: false,
            created: None,
            configured_macs: BTreeMap::new(),
            taints: Vec::new(),
            enis_ready: None,
        });
    }
    let real = BucketTable::default().scaled(case.capacity_scale, 1.0);
    let (strategy, retry, buckets) = match case.pacing {
        Pacing::Ours { told } => (
            LimiterStrategy::PerAction,
            RetryConfig::disabled(),
            if told {
                real.clone().all_told()
            } else {
                BucketTable::default()
            },
        ),
        Pacing::SdkAdaptive => (
            LimiterStrategy::Unlimited,
            RetryConfig::adaptive(),
            BucketTable::default(),
        ),
    };
    let settings = ControllerSettings {
        cluster: ClusterIdentity::new(CLUSTER, "pacing-uid"),
        strategy,
        buckets,
        ..ControllerSettings::default()
    };
    let ec2 = Arc::new(SdkEc2::from_client(client(&layer.endpoint(), retry), 1000));
    let spec: NodeENISpec = serde_json::from_value(serde_json::json!({
        "nodeSelector": {LABEL.0: LABEL.1},
        "subnetIDs": subnets,
        "securityGroupIDs": [net.security_group_id],
        "deviceIndex": 1,
    }))?;
    let enis = case.nodes * case.subnets;
    let floor = |calls: &[(Ec2Action, u64)]| floor_seconds(calls, &real, 1.0);
    let n = enis as u64;
    let rollout_floor = floor(&[
        (Ec2Action::CreateNetworkInterface, n),
        (Ec2Action::AttachNetworkInterface, n),
        (Ec2Action::ModifyNetworkInterfaceAttribute, n),
    ]);
    let teardown_floor = floor(&[
        (Ec2Action::DetachNetworkInterface, n),
        (Ec2Action::DeleteNetworkInterface, n),
    ]);
    let controller = Controller::start(
        Arc::new(cluster.clone()),
        ec2,
        settings,
        Arc::new(AtomicBool::new(false)),
    )
    .await?;
    let s0 = layer.stats()?;
    let t0 = Instant::now();
    cluster.apply_nodeeni(NodeENI::new("pacing", spec));
    let limit = Duration::from_secs(900);
    let up = until(limit, async || {
        cluster
            .nodeeni("pacing")
            .and_then(|o| o.status)
            .is_some_and(|s| s.ready_count as usize == enis)
    })
    .await;
    let rollout_seconds = t0.elapsed().as_secs_f64();
    let s1 = layer.stats()?;
    // Let the buckets refill before the teardown (the floor assumes full buckets).
    let refill = real
        .iter()
        .map(|(_, b)| f64::from(b.capacity) / b.refill_per_second)
        .fold(0.0, f64::max);
    tokio::time::sleep(Duration::from_secs_f64(refill + 1.0)).await;
    let s2 = layer.stats()?;
    let t1 = Instant::now();
    cluster.delete_nodeeni("pacing");
    let down = until(limit, async || {
        cluster.nodeeni("pacing").is_none()
            && eni_ids_tagged(&setup, TAG_CLUSTER, CLUSTER)
                .await
                .is_ok_and(|ids| ids.is_empty())
    })
    .await;
    let teardown_seconds = t1.elapsed().as_secs_f64();
    let s3 = layer.stats()?;
    controller.stop().await;
    Ok(Measured {
        enis,
        rollout_seconds,
        rollout_floor,
        teardown_seconds,
        teardown_floor,
        rollout_calls: total(&s0, &s1),
        teardown_calls: total(&s2, &s3),
        converged: up && down,
    })
}
