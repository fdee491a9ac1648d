//! Footprint benchmark: the stripped release binaries' sizes, and the peak RSS of
//! `eni-controller run` holding 5,000 Nodes and 20 NodeENIs.
//!
//! The cluster is the real kube-apiserver + etcd of the testkit with 5,000 Nodes shaped as EKS serves them (about
//! 14 KB of JSON each: labels, annotations, managed fields, conditions, addresses,
//! capacity, 40 images); EC2 is moto. Each of the 20 NodeENIs selects 10 nodes backed by
//! real moto instances (200 ENIs are created and attached); the other 4,800 nodes match
//! nothing, as in a large cluster with a few multi-ENI node groups. RSS is read from
//! `/proc/<pid>/status` once every NodeENI is Ready, and again after every node has sent
//! a status update (5,000 watch events, as kubelets do).
//!
//! `cargo bench --bench footprint` (`FOOTPRINT_NODES=10000` for 10,000 nodes; needs moto and the Kubernetes binaries: run
//! `./scripts/test.sh` once, or set `MOTO_SERVER` and `ENI_KUBE_BINS`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // test code: a failed assumption is a failed test

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_multi_eni_controller::k8s::NodeENI;
use eni_testkit::cluster::TestCluster;
use eni_testkit::fixtures::{NodeShape, eks_node};
use eni_testkit::moto::{MotoServer, build_network, free_port};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

/// Nodes in the cluster: `FOOTPRINT_NODES`, 5,000 unless set.
fn node_count() -> usize {
    std::env::var("FOOTPRINT_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}
const NODEENIS: usize = 20;
const PER_NODEENI: usize = 10;
const ZONES: [&str; 2] = ["us-east-1a", "us-east-1b"];
const MIB: f64 = 1024.0 * 1024.0;

fn binary_sizes() {
    println!("| binary (stripped release) | bytes | MB |");
    println!("|---|---|---|");
    for (name, path) in [
        ("eni-controller", env!("CARGO_BIN_EXE_eni-controller")),
        ("eni-agent", env!("CARGO_BIN_EXE_eni-agent")),
    ] {
        match std::fs::metadata(path) {
            Ok(m) => println!("| {name} | {} | {:.1} |", m.len(), m.len() as f64 / 1e6),
            Err(e) => println!("| {name} | unreadable: {e} | |"),
        }
    }
}

/// (VmHWM, VmRSS) of `pid`, in bytes.
fn rss(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} missing"))?;
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .context("no value")?
            .parse()?;
        Ok(kb * 1024)
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}

async fn populate(api: &TestCluster, moto_instances: &[(String, String)]) -> anyhow::Result<()> {
    for kind in ["nodeenis", "eninodes"] {
        let crd = format!(
            "{}/deploy/crds/networking.k8s.aws_{kind}.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        api.install_crd(std::path::Path::new(&crd)).await?;
    }
    let nodes: Api<Node> = Api::all(api.client().await?);
    futures::stream::iter(0..node_count())
        .map(|i| {
            let nodes = nodes.clone();
            let mut shape = NodeShape::nth(i, 50, &ZONES);
            let mut labels = Vec::new();
            let nic = format!("nic-{}", i % NODEENIS);
            if let Some((instance, zone)) = moto_instances.get(i) {
                shape.instance_id = instance.clone();
                shape.zone = zone.clone();
                labels.push(("multus", nic.as_str()));
            }
            let node = eks_node(&shape, &labels);
            async move {
                let status = json!({ "status": node["status"].clone() });
                let created = nodes
                    .create(&PostParams::default(), &serde_json::from_value(node)?)
                    .await?;
                let name = created.metadata.name.unwrap_or_default();
                // As kubelet does: status is written through the status subresource.
                nodes
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                    .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<()>()
        .await?;
    let neni: Api<NodeENI> = Api::all(api.client().await?);
    for k in 0..NODEENIS {
        let obj = json!({
            "apiVersion": "networking.k8s.aws/v1alpha1",
            "kind": "NodeENI",
            "metadata": {"name": format!("multus-{k}")},
            "spec": {
                "nodeSelector": {"multus": format!("nic-{k}")},
                "subnetNames": ZONES.map(|z| format!("multus-{z}")),
                "securityGroupNames": ["multus"],
                "deviceIndex": 1,
                "deleteOnTermination": false,
                "mtu": 9001,
            }
        });
        neni.create(&PostParams::default(), &serde_json::from_value(obj)?)
            .await?;
    }
    Ok(())
}

async fn ready(api: &TestCluster) -> anyhow::Result<usize> {
    let neni: Api<NodeENI> = Api::all(api.client().await?);
    let list = neni.list(&ListParams::default()).await?;
    Ok(list
        .items
        .iter()
        .filter_map(|n| n.status.as_ref())
        .filter(|s| s.ready_count as usize == PER_NODEENI && s.desired_count == s.ready_count)
        .count())
}

/// Every node sends a status update (a new heartbeat time), as kubelets do.
async fn heartbeat(api: &TestCluster) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(api.client().await?);
    let names: Vec<String> = nodes
        .list_metadata(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    futures::stream::iter(names)
        .map(|name| {
            let nodes = nodes.clone();
            async move {
                let beat = json!({"status": {"conditions": [
                    {"type": "Ready", "status": "True", "reason": "KubeletReady",
                     "message": "kubelet is posting ready status",
                     "lastHeartbeatTime": "2026-11-23T10:05:00Z",
                     "lastTransitionTime": "2026-01-05T08:00:00Z"}
                ]}});
                nodes
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&beat))
                    .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<()>()
        .await
}

/// Node watch events the controller has received (`aws_multi_eni_kube_watch_events_total`).
async fn node_updates_seen(port: u16) -> anyhow::Result<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut text = String::new();
    s.read_to_string(&mut text).await?;
    let key = "aws_multi_eni_kube_watch_events_total{resource=\"nodes\",event=\"applied\"} ";
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64)
}

async fn memory() -> anyhow::Result<()> {
    let api = tokio::task::spawn_blocking(TestCluster::start).await??;
    let moto = MotoServer::start()?;
    let net = build_network(
        &moto.client(),
        "footprint",
        &ZONES,
        NODEENIS * PER_NODEENI / ZONES.len(),
        "m5.2xlarge",
    )
    .await?;
    let setup = Instant::now();
    populate(&api, &net.instances).await?;
    let nodes = node_count();
    eprintln!(
        "cluster of {nodes} nodes and {NODEENIS} NodeENIs built in {:.0?}",
        setup.elapsed()
    );
    let metrics = free_port()?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_eni-controller"))
        .args(["run", "--cluster-name", "footprint"])
        .env("KUBECONFIG", api.kubeconfig())
        .env("AWS_ENDPOINT_URL_EC2", moto.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("METRICS_ADDR", format!("127.0.0.1:{metrics}"))
        .env("HEALTH_ADDR", format!("127.0.0.1:{metrics}"))
        .env("POD_NAMESPACE", "default")
        .env("POD_NAME", "footprint")
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let start = Instant::now();
    let outcome = async {
        while ready(&api).await? < NODEENIS {
            if start.elapsed() > Duration::from_secs(900) {
                bail!("the NodeENIs were not Ready within 15 minutes");
            }
            if let Some(status) = child.try_wait()? {
                bail!("eni-controller exited with {status}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let converged = start.elapsed();
        let (hwm, now) = rss(pid)?;
        let before = node_updates_seen(metrics).await?;
        heartbeat(&api).await?;
        while node_updates_seen(metrics).await? < before + nodes as u64 {
            if start.elapsed() > Duration::from_secs(1200) {
                bail!("the controller did not see the node updates");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (hwm2, now2) = rss(pid)?;
        println!("| eni-controller run, {nodes} nodes, {NODEENIS} NodeENIs ({} ENIs) | peak RSS MiB | RSS MiB |", NODEENIS * PER_NODEENI);
        println!("|---|---|---|");
        println!("| all NodeENIs Ready (after {:.0?}) | {:.1} | {:.1} |", converged, hwm as f64 / MIB, now as f64 / MIB);
        println!("| after {nodes} node status updates | {:.1} | {:.1} |", hwm2 as f64 / MIB, now2 as f64 / MIB);
        anyhow::Ok(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

fn main() -> anyhow::Result<()> {
    binary_sizes();
    println!();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(memory())
}
