//! `simulate --node-readiness`: nodes launched with the startup taint, a node agent on
//! each that reports its ENIs configured as soon as its ENINode lists them, and the
//! measure of what the controller then writes on the Nodes.

use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::actors::settings::STARTUP_TAINT_KEY;
use crate::k8s::memory::MemoryCluster;
use crate::k8s::node::TaintKey;
use crate::k8s::{ENINodeStatus, InterfaceReport};

/// The startup taint every simulated node is launched with.
pub fn startup_taint() -> TaintKey {
    TaintKey {
        key: STARTUP_TAINT_KEY.into(),
        effect: "NoSchedule".into(),
    }
}

/// Every node's agent: once a second (simulated), each node whose ENINode lists ENIs its
/// report does not say configured reports them all configured (links up at once).
pub fn spawn_agents(cluster: MemoryCluster) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            for node in cluster.node_views() {
                let Some(view) = cluster.eninode(&node.name) else {
                    continue;
                };
                let entries: Vec<_> = view.entries.values().flatten().collect();
                let reported = entries.iter().all(|i| {
                    view.configured_macs
                        .get(&i.mac_address.to_ascii_lowercase())
                        .copied()
                        == Some(true)
                });
                if reported {
                    continue;
                }
                let interfaces: Vec<InterfaceReport> = entries
                    .iter()
                    .map(|i| InterfaceReport {
                        eni_id: i.eni_id.clone(),
                        mac_address: i.mac_address.clone(),
                        node_eni: i.node_eni.clone(),
                        interface: Some(format!("ens{}", 5 + i.device_index)),
                        configured: true,
                        mtu: u32::try_from(i.mtu).ok(),
                        mtu_clamped: false,
                        message: None,
                        dpdk: None,
                    })
                    .collect();
                let n = i32::try_from(interfaces.len()).unwrap_or(i32::MAX);
                cluster.report_interfaces(
                    &node.name,
                    ENINodeStatus {
                        interfaces,
                        configured_count: n,
                        eni_count: n,
                    },
                );
            }
        }
    })
}

/// What the controller did on the Nodes.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReadiness {
    /// Nodes that lost the startup taint.
    pub untainted: usize,
    /// Nodes whose `ENIsReady` condition is True.
    pub ready: usize,
    /// Node writes (conditions and taint removals).
    pub node_writes: u64,
    /// `node_writes` per node.
    pub node_writes_per_node: f64,
    /// Simulated seconds from the start to the last node untainted.
    pub last_untainted_seconds: f64,
}

/// Waits (up to `limit`) until no node carries the startup taint; what the Nodes show
/// then.
pub async fn settle(cluster: &MemoryCluster, started: Instant, limit: Duration) -> NodeReadiness {
    let taint = startup_taint();
    let deadline = Instant::now() + limit;
    loop {
        let nodes = cluster.node_views();
        let tainted = nodes.iter().filter(|n| n.taints.contains(&taint)).count();
        if tainted == 0 || Instant::now() >= deadline {
            let writes = cluster.writes().node;
            return NodeReadiness {
                untainted: nodes.len() - tainted,
                ready: nodes
                    .iter()
                    .filter(|n| n.enis_ready.as_ref().is_some_and(|c| c.ready))
                    .count(),
                node_writes: writes,
                node_writes_per_node: writes as f64 / nodes.len().max(1) as f64,
                last_untainted_seconds: started.elapsed().as_secs_f64(),
            };
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
