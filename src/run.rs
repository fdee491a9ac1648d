//! `eni-controller run`: telemetry, the Kubernetes and EC2 clients, leader election, and
//! the actor tree started while this replica leads and stopped when it does not.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use thiserror::Error;

use crate::actors::{Controller, ControllerSettings};
use crate::aws::sdk::{SdkEc2, SdkEc2Config};
use crate::aws::{Ec2, FencedEc2};
use crate::config::{ConfigError, ControllerArgs};
use crate::fence::Fence;
use crate::k8s::election;
use crate::k8s::kube_cluster::KubeCluster;
use crate::k8s::lease::{self, LeaderElectionConfig};
use crate::k8s::{Cluster, ClusterError};
use crate::shutdown::shutdown_signal;
use crate::telemetry::{self, Probes, TelemetryError};

/// How long a stopping actor tree may take to finish the steps under way (an EC2 call
/// takes at most its 10 s timeout), within the pod's 30 s termination grace period;
/// then it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// Why the controller could not run.
#[derive(Debug, Error)]
pub enum RunError {
    /// Bad configuration.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The cluster's identity could not be read.
    #[error(
        "cannot read the UID of the kube-system namespace, this cluster's identity ({0}): grant `get` on namespaces/kube-system or set CLUSTER_ID"
    )]
    ClusterId(ClusterError),
    /// Logging, metrics or probes.
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    /// No Kubernetes configuration.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The actor tree could not start.
    #[error("actor system: {0}")]
    Actors(#[from] ractor::SpawnErr),
    /// No AWS Region.
    #[error(transparent)]
    Aws(#[from] crate::aws::sdk::ConnectError),
    /// The actor tree ended by itself (its root failed): the process exits so that it is
    /// restarted, and gives up leadership first.
    #[error("the actor tree stopped unexpectedly")]
    TreeEnded,
}

impl RunError {
    /// A stable label.
    pub fn label(&self) -> &'static str {
        match self {
            RunError::Config(_) => "config",
            RunError::ClusterId(_) => "cluster_id",
            RunError::Aws(e) => e.label(),
            RunError::Telemetry(e) => e.label(),
            RunError::Cluster(e) => e.label(),
            RunError::Actors(_) => "actors",
            RunError::TreeEnded => "tree_ended",
        }
    }
}

/// Runs the controller until SIGTERM.
pub async fn run_controller(args: ControllerArgs) -> Result<(), RunError> {
    let t = &args.telemetry;
    telemetry::init_tracing(t.log_format, &t.log_level)?;
    let metrics = telemetry::install_metrics("controller")?;
    telemetry::series::zero_controller();
    telemetry::count_panics();
    let probes = Probes::default();
    telemetry::serve(metrics, probes.clone(), t.metrics_addr, t.health_addr).await?;
    args.check()?;
    let identity = lease::pod_identity();
    let config = kube::Config::infer()
        .await
        .map_err(|e| ClusterError::Unavailable(format!("no Kubernetes configuration: {e}")))?;
    let kube = KubeCluster::from_config(config.clone(), Some(identity.clone()))?
        .with_api_timeout(args.kube_api_timeout)
        .with_ledger(&lease::pod_namespace(), &args.ownership_ledger_name);
    let cluster_id = match &args.cluster_id {
        Some(id) => id.clone(),
        None => kube.kube_system_uid().await.map_err(RunError::ClusterId)?,
    };
    let settings = args
        .settings(&cluster_id)
        .map_err(|e| RunError::Config(e.into()))?;
    let cluster: Arc<dyn Cluster> = Arc::new(kube);
    let sdk = SdkEc2::connect(SdkEc2Config {
        region: args.aws_region.clone(),
        call_timeout: args.ec2_call_timeout,
        ..Default::default()
    })
    .await?;
    let region = sdk.region().unwrap_or_default();
    let region_from = sdk.region_source().label();
    match sdk.caller_identity().await {
        Some(Ok(id)) => {
            tracing::info!(account = %id.account, arn = %id.arn, %region, "AWS credentials");
        }
        Some(Err(e)) => {
            tracing::warn!(error = %e, %region, "cannot tell who the AWS credentials are (sts:GetCallerIdentity); EC2 calls may fail the same way");
        }
        None => {}
    }
    let ec2: Arc<dyn Ec2> = Arc::new(sdk);
    tracing::info!(cluster = %settings.cluster.name, cluster_id = %settings.cluster.id, %identity, %region, region_from, leader_election = args.leader_election, "starting");
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);

    if !args.leader_election {
        let mut controller =
            Controller::start(cluster, ec2, settings, probes.ready.clone()).await?;
        tokio::select! {
            _ = &mut shutdown => {}
            _ = controller.ended() => return Err(tree_ended(&probes)),
        }
        controller.shutdown(STOP_GRACE).await;
        return Ok(());
    }

    let election = LeaderElectionConfig::from_environment(
        &args.leader_election_lease_name,
        args.leader_election_lease_duration,
        args.leader_election_renew_deadline,
    );
    run_when_leading(config, cluster, ec2, settings, election, &probes, shutdown).await
}

fn tree_ended(probes: &Probes) -> RunError {
    tracing::error!("the actor tree stopped unexpectedly; exiting");
    probes.alive.store(false, Ordering::Release);
    probes.ready.store(false, Ordering::Release);
    RunError::TreeEnded
}

/// Runs the actor tree only while this replica holds the leader Lease, until `shutdown`
/// resolves: the tree starts when leadership is won, stops (within a few seconds) when
/// it is lost, and the Lease is released on shutdown so a standby takes over at once.
/// The Lease gets a client of its own from `lease_config`, and no EC2 call is sent once
/// the renew deadline has passed since the last successful renewal
/// ([`crate::fence`]), whatever the tree is doing.
pub async fn run_when_leading(
    lease_config: kube::Config,
    cluster: Arc<dyn Cluster>,
    ec2: Arc<dyn Ec2>,
    settings: ControllerSettings,
    election: LeaderElectionConfig,
    probes: &Probes,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), RunError> {
    tokio::pin!(shutdown);
    let fence = Fence::new(election.renew_deadline);
    let client = lease::lease_client(lease_config, &election)
        .map_err(|e| ClusterError::Unavailable(format!("leader Lease client: {e}")))?;
    let ec2: Arc<dyn Ec2> = Arc::new(FencedEc2::new(ec2, fence.clone()));
    let (mut leading, elector) = election::spawn(client, election, fence);
    loop {
        // A standby is ready: it serves probes and waits.
        probes.ready.store(true, Ordering::Release);
        tokio::select! {
            _ = &mut shutdown => break,
            r = leading.wait_for(|l| *l) => if r.is_err() { break },
        }
        tracing::info!("leading: starting the controller");
        probes.ready.store(false, Ordering::Release);
        probes.terms.fetch_add(1, Ordering::AcqRel);
        metrics::counter!(crate::telemetry::metric::LEADER_TERMS_TOTAL).increment(1);
        let mut controller = Controller::start(
            cluster.clone(),
            ec2.clone(),
            settings.clone(),
            probes.ready.clone(),
        )
        .await?;
        let stop = tokio::select! {
            _ = &mut shutdown => Some(true),
            _ = leading.wait_for(|l| !*l) => Some(false),
            _ = controller.ended() => None,
        };
        let Some(stop) = stop else {
            // Give the Lease up at once so a standby takes over, then exit.
            drop(leading);
            let _ = elector.await;
            return Err(tree_ended(probes));
        };
        tracing::warn!(
            shutdown = stop,
            "no longer leading: stopping the controller"
        );
        controller.shutdown(STOP_GRACE).await;
        // A standby exports nothing stale: the gauges only a leader sets go to zero.
        crate::telemetry::term::end_term();
        if stop {
            break;
        }
    }
    // Dropping the receiver releases the Lease so a standby takes over at once.
    drop(leading);
    let _ = elector.await;
    Ok(())
}
