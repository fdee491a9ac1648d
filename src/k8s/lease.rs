//! Leader election on a `coordination.k8s.io/v1` Lease (with the `kube-lease-manager`
//! crate), so that of several replicas exactly one acts.
//!
//! The elector publishes "am I the leader" on a watch channel. It steps down (publishes
//! `false`) the moment it cannot confirm the lease, on any API error, rather than keep
//! acting on a lease it may have lost: a replica that cannot renew stops acting well
//! within the lease duration, and another can take over when the lease expires. When
//! the receiver is dropped (shutdown) the lease is released so a standby takes over at
//! once instead of waiting for expiry.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where the Lease lives and how this replica identifies itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct LeaderElectionConfig {
    pub lease_name: String,
    /// Lease namespace.
    pub namespace: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease stays valid after its last renewal.
    pub lease_duration: Duration,
    /// How long before expiry the holder renews.
    pub renew_grace: Duration,
}

/// The default Lease name.
pub const DEFAULT_LEASE_NAME: &str = "aws-multi-eni-controller-leader";

const NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The namespace to hold the Lease in: `POD_NAMESPACE`, else the in-cluster namespace
/// file, else `default`.
pub fn pod_namespace() -> String {
    non_empty(std::env::var("POD_NAMESPACE").ok())
        .or_else(|| non_empty(std::fs::read_to_string(NAMESPACE_FILE).ok()))
        .unwrap_or_else(|| "default".into())
}

/// This replica's identity: `POD_NAME`, else the host name, else a fixed fallback.
pub fn pod_identity() -> String {
    non_empty(std::env::var("POD_NAME").ok())
        .or_else(|| non_empty(std::env::var("HOSTNAME").ok()))
        .or_else(|| non_empty(std::fs::read_to_string("/proc/sys/kernel/hostname").ok()))
        .unwrap_or_else(|| "aws-multi-eni-controller".into())
}

impl LeaderElectionConfig {
    /// The Lease in this pod's namespace, named `lease_name`, with this pod's identity.
    pub fn from_environment(
        lease_name: &str,
        lease_duration: Duration,
        renew_grace: Duration,
    ) -> Self {
        LeaderElectionConfig {
            lease_name: lease_name.into(),
            namespace: pod_namespace(),
            identity: pod_identity(),
            lease_duration,
            renew_grace,
        }
    }
}

async fn build(
    client: &Client,
    cfg: &LeaderElectionConfig,
) -> Result<LeaseManager, kube_lease_manager::LeaseManagerError> {
    let duration = cfg.lease_duration.as_secs().max(2);
    let grace = cfg.renew_grace.as_secs().clamp(1, duration - 1);
    LeaseManagerBuilder::new(client.clone(), &cfg.lease_name)
        .with_namespace(&cfg.namespace)
        .with_identity(&cfg.identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
}

/// Starts electing. The receiver reads `true` while this replica leads; drop it to
/// release the lease and stop the task.
pub fn spawn(client: Client, cfg: LeaderElectionConfig) -> (watch::Receiver<bool>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut backoff = Duration::from_millis(500);
        loop {
            let manager = match build(&client, &cfg).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach the leader Lease; retrying");
                    tokio::select! {
                        _ = tx.closed() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            };
            loop {
                tokio::select! {
                    _ = tx.closed() => {
                        if let Err(e) = manager.release().await {
                            tracing::warn!(error = %e, "could not release the leader Lease");
                        }
                        return;
                    }
                    changed = manager.changed() => match changed {
                        Ok(leading) => {
                            backoff = Duration::from_millis(500);
                            tracing::info!(identity = %cfg.identity, leading, "leadership changed");
                            metrics::gauge!(crate::telemetry::metric::LEADER).set(if leading { 1.0 } else { 0.0 });
                            tx.send_replace(leading);
                        }
                        Err(e) => {
                            // Cannot confirm the lease: stop acting now, then start over
                            // with a fresh manager (which re-reads who holds the lease).
                            tracing::warn!(error = %e, "lost contact with the leader Lease; stepping down");
                            metrics::gauge!(crate::telemetry::metric::LEADER).set(0.0);
                            tx.send_replace(false);
                            break;
                        }
                    }
                }
            }
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    });
    (rx, task)
}
