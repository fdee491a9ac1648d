//! A controller killed with `kill -9` in the middle of a rollout and started again under
//! the same pod name (as a Deployment's pod is after a crash, or a StatefulSet's): the
//! real binary, the real kube-apiserver as its ServiceAccount, moto behind the EC2
//! throttling layer. Shared by the e2e test (small) and the `restart` benchmark (50
//! nodes × 2 ENIs, BENCHMARKS.md).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_multi_eni_controller::aws::{BucketTable, Ec2Action};
use aws_multi_eni_controller::simulate::report::floor_seconds;
use eni_testkit::cluster::{CONTROLLER_SA, NAMESPACE, TestCluster};
use eni_testkit::moto::{build_network, cluster_enis, free_port, with_more_subnets};
use eni_testkit::throttled::ThrottledMoto;

const CLUSTER: &str = "restart";
const ZONE: &str = "us-east-1a";
/// The calls a slot makes on its way up.
const MUTATING: [&str; 3] = [
    "CreateNetworkInterface",
    "AttachNetworkInterface",
    "ModifyNetworkInterfaceAttribute",
];

/// One measured case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub nodes: usize,
    /// ENIs per node (one subnet each).
    pub subnets: usize,
    /// The layer's buckets, as a share of AWS's capacity (refilled at AWS's rates).
    pub capacity_scale: f64,
    /// Killed once this share of the ENIs exists.
    pub kill_at: f64,
}

/// What a case measured.
#[derive(Debug, Clone)]
pub struct Restarted {
    pub enis: usize,
    /// From the NodeENI applied to every ENI ready, through the kill and the restart.
    pub rollout_seconds: f64,
    /// The least time the layer's buckets allow for the rollout's calls.
    pub floor: f64,
    /// ENIs that existed when the controller was killed.
    pub at_kill: usize,
    /// From the new process's start to its first create, attach or modify reaching EC2.
    pub resumed_after: Option<f64>,
    /// From the kill to that call.
    pub silent_for: Option<f64>,
    /// ENIs tagged for the cluster at the end, and the (instance, device index) pairs
    /// among them (fewer: a duplicate).
    pub owned: usize,
    pub distinct_attachments: usize,
    /// Creates that reached EC2 (admitted or not).
    pub creates: usize,
    pub converged: bool,
    /// The end of both processes' log.
    pub log_tail: String,
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn kubectl(api: &TestCluster, args: &[&str]) -> String {
    api.kubectl_ok(args).unwrap()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The controller binary as its Deployment runs it, under `pod` (its Lease identity).
fn controller(
    api_kubeconfig: &Path,
    endpoint: &str,
    pod: &str,
    log: &Path,
) -> std::io::Result<Child> {
    let port = free_port().map_err(std::io::Error::other)?;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    Command::new(env!("CARGO_BIN_EXE_eni-controller"))
        .args(["run", "--cluster-name", CLUSTER])
        .env("KUBECONFIG", api_kubeconfig)
        .env("AWS_ENDPOINT_URL_EC2", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("METRICS_ADDR", format!("127.0.0.1:{port}"))
        .env("HEALTH_ADDR", format!("127.0.0.1:{port}"))
        .env("POD_NAMESPACE", NAMESPACE)
        .env("POD_NAME", pod)
        .env("LOG_LEVEL", "info")
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
}

fn ready_count(api: &TestCluster) -> usize {
    kubectl(
        api,
        &[
            "get",
            "neni",
            "restart",
            "-o",
            "jsonpath={.status.readyCount}",
        ],
    )
    .trim()
    .parse()
    .unwrap_or(0)
}

async fn owned(ec2: &aws_sdk_ec2::Client) -> Vec<(String, Option<String>, Option<i32>)> {
    cluster_enis(ec2, CLUSTER).await.unwrap()
}

/// Runs `case`: the rollout, `kill -9` once `kill_at` of its ENIs exist, the same pod
/// name started again, until every ENI is ready (or 10 minutes).
pub async fn run(case: Case) -> anyhow::Result<Restarted> {
    let api = tokio::task::spawn_blocking(TestCluster::start).await??;
    for crd in ["nodeenis", "eninodes"] {
        let path = repo(&format!("deploy/crds/networking.k8s.aws_{crd}.yaml"));
        kubectl(&api, &["apply", "-f", path.to_str().unwrap()]);
    }
    api.install_deploy(&repo(""))?;
    let kubeconfig = api
        .service_account_kubeconfig(NAMESPACE, CONTROLLER_SA)
        .await?;
    let layer = ThrottledMoto::start(case.capacity_scale, 0.0)?;
    let setup = layer.moto.client();
    let net = build_network(&setup, CLUSTER, &[ZONE], case.nodes, "m5.large").await?;
    let subnets = with_more_subnets(&setup, &net, ZONE, case.subnets - 1).await?;
    let mut nodes = String::new();
    for (i, (instance, zone)) in net.instances.iter().enumerate() {
        write!(
            nodes,
            "---\napiVersion: v1\nkind: Node\nmetadata:\n  name: node-{i:03}\n  labels:\n    ng: multi-eni\nspec:\n  providerID: aws:///{zone}/{instance}\n"
        )?;
    }
    let dir = api.dir().to_path_buf();
    std::fs::write(dir.join("nodes.yaml"), nodes)?;
    kubectl(
        &api,
        &["apply", "-f", dir.join("nodes.yaml").to_str().unwrap()],
    );
    let subnet_list = subnets.join(", ");
    let nodeeni = format!(
        "apiVersion: networking.k8s.aws/v1alpha1\nkind: NodeENI\nmetadata:\n  name: restart\nspec:\n  nodeSelector:\n    ng: multi-eni\n  subnetIDs: [{subnet_list}]\n  securityGroupNames: [multus]\n  deviceIndex: 1\n  deleteOnTermination: false\n"
    );
    std::fs::write(dir.join("nodeeni.yaml"), nodeeni)?;

    let enis = case.nodes * case.subnets;
    let n = enis as u64;
    let floor = floor_seconds(
        &[
            (Ec2Action::CreateNetworkInterface, n),
            (Ec2Action::AttachNetworkInterface, n),
            (Ec2Action::ModifyNetworkInterfaceAttribute, n),
        ],
        &BucketTable::default().scaled(case.capacity_scale, 1.0),
        1.0,
    );
    let log = dir.join("controller.log");
    let pod = "aws-multi-eni-controller-0";
    let mut first = controller(&kubeconfig, &layer.endpoint(), pod, &log)?;
    let t0 = Instant::now();
    kubectl(
        &api,
        &["apply", "-f", dir.join("nodeeni.yaml").to_str().unwrap()],
    );
    let kill_at = ((enis as f64 * case.kill_at).ceil() as usize).max(1);
    let deadline = Duration::from_secs(600);
    let mut at_kill = 0;
    while t0.elapsed() < deadline {
        at_kill = owned(&setup).await.len();
        if at_kill >= kill_at {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill()?;
    first.wait()?;
    let killed = unix_now();
    let mut second = controller(&kubeconfig, &layer.endpoint(), pod, &log)?;
    let restarted = unix_now();
    let mut converged = false;
    while t0.elapsed() < deadline {
        if ready_count(&api) == enis {
            converged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rollout_seconds = t0.elapsed().as_secs_f64();
    let arrivals = layer.arrivals()?;
    let first_after = arrivals
        .iter()
        .filter(|r| MUTATING.contains(&r.action.as_str()))
        .map(|r| r.at)
        .find(|at| *at >= restarted);
    let creates = arrivals
        .iter()
        .filter(|r| r.action == "CreateNetworkInterface")
        .count();
    let all = owned(&setup).await;
    let mut pairs: Vec<(String, i32)> = all
        .iter()
        .filter_map(|(_, i, d)| Some((i.clone()?, (*d)?)))
        .collect();
    pairs.sort();
    pairs.dedup();
    let _ = second.kill();
    let _ = second.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let log_tail = lines[lines.len().saturating_sub(40)..].join("\n");
    Ok(Restarted {
        enis,
        rollout_seconds,
        floor,
        at_kill,
        resumed_after: first_after.map(|at| at - restarted),
        silent_for: first_after.map(|at| at - killed),
        owned: all.len(),
        distinct_attachments: pairs.len(),
        creates,
        converged,
        log_tail,
    })
}
