//! `eni-agent`: telemetry, the Kubernetes client, netlink, and the agent's actors until
//! SIGTERM.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::actors::Connector;
use super::links::{Links, RtLinks};
use super::{Agent, AgentDeps};
use crate::actors::supervision::RestartPolicy;
use crate::config::AgentArgs;
use crate::k8s::kube_cluster::KubeCluster;
use crate::run::{RunError, shutdown_signal};
use crate::telemetry::{self, Probes};

/// Runs the agent until SIGTERM.
pub async fn run_agent(args: AgentArgs) -> Result<(), RunError> {
    telemetry::init_tracing(args.log_format, &args.log_level)?;
    let metrics = telemetry::install_metrics("agent")?;
    telemetry::series::zero_agent();
    let probes = Probes::default();
    telemetry::serve(metrics, probes.clone(), args.metrics_addr, args.health_addr).await?;
    let cluster = Arc::new(KubeCluster::connect(Some(args.node_name.clone())).await?);
    let connect: Connector =
        Arc::new(|| RtLinks::connect().map(|(l, e)| (Arc::new(l) as Arc<dyn Links>, e)));
    tracing::info!(node = %args.node_name, default_mtu = args.default_mtu, "starting the node agent");
    let agent = Agent::start(AgentDeps {
        node: args.node_name,
        default_mtu: args.default_mtu,
        cluster,
        connect,
        restart: RestartPolicy::default(),
    })
    .await?;
    probes.ready.store(true, Ordering::Release);
    shutdown_signal().await;
    agent.stop().await;
    Ok(())
}
