//! `eni-agent`: telemetry, the Kubernetes client, netlink, and the agent's actors until
//! SIGTERM.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use thiserror::Error;

use super::actors::Connector;
use super::links::{Links, RtLinks};
use super::pci::{NoDpdk, PciDevices, SysfsPci};
use super::{Agent, AgentDeps};
use crate::config::AgentArgs;
use crate::k8s::ClusterError;
use crate::k8s::kube_cluster::KubeCluster;
use crate::shutdown::shutdown_signal;
use crate::supervision::RestartPolicy;
use crate::telemetry::{self, Probes, TelemetryError};

/// Why the agent could not run.
#[derive(Debug, Error)]
pub enum AgentError {
    /// Logging, metrics or probes.
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    /// No Kubernetes configuration.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The agent's actors could not start.
    #[error("actor system: {0}")]
    Actors(#[from] ractor::SpawnErr),
    /// The agent's actors ended by themselves: the process exits to be restarted.
    #[error("the agent's actors stopped unexpectedly")]
    Ended,
}

impl AgentError {
    /// A stable label.
    pub fn label(&self) -> &'static str {
        match self {
            AgentError::Telemetry(e) => e.label(),
            AgentError::Cluster(e) => e.label(),
            AgentError::Actors(_) => "actors",
            AgentError::Ended => "ended",
        }
    }
}

/// Runs the agent until SIGTERM.
pub async fn run_agent(args: AgentArgs) -> Result<(), AgentError> {
    telemetry::init_tracing(args.log_format, &args.log_level)?;
    let metrics = telemetry::install_metrics("agent")?;
    telemetry::series::zero_agent();
    telemetry::count_panics();
    let probes = Probes::default();
    let (metrics_addr, health_addr) = args.listen_addrs();
    telemetry::serve(metrics, probes.clone(), metrics_addr, health_addr).await?;
    let cluster = Arc::new(KubeCluster::connect(Some(args.node_name.clone())).await?);
    let connect: Connector =
        Arc::new(|| RtLinks::connect().map(|(l, e)| (Arc::new(l) as Arc<dyn Links>, e)));
    tracing::info!(node = %args.node_name, default_mtu = args.default_mtu, dpdk = args.dpdk, "starting the node agent");
    let pci: Arc<dyn PciDevices> = if args.dpdk {
        Arc::new(SysfsPci::new(&args.sysfs_root))
    } else {
        Arc::new(NoDpdk)
    };
    let device_plugin = args.device_plugin();
    let mut agent = Agent::start(AgentDeps {
        node: args.node_name,
        default_mtu: args.default_mtu,
        cluster,
        connect,
        pci,
        device_plugin,
        restart: RestartPolicy::default(),
    })
    .await?;
    probes.ready.store(true, Ordering::Release);
    tokio::select! {
        _ = shutdown_signal() => {}
        _ = agent.ended() => {
            tracing::error!("the agent's actors stopped unexpectedly; exiting");
            probes.alive.store(false, Ordering::Release);
            probes.ready.store(false, Ordering::Release);
            return Err(AgentError::Ended);
        }
    }
    agent.stop().await;
    Ok(())
}
