//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas
//! exactly one acts: its configuration and the Lease's own client (the elector task is
//! [`super::election`]; its rules are [`crate::plan::election`]).
//!
//! No wall clocks are compared across replicas, and every write of the Lease is
//! conditioned on the version last read. The holder renews every third of the renew
//! deadline and keeps leading through renewals that fail or are slow: each successful
//! write confirms the [`Fence`] as of when it was sent, and EC2 calls stop once the
//! renew deadline has passed since then (by this process's monotonic clock), well before
//! the lease could pass to another replica. It steps down when the fence closes, or when
//! it reads the Lease held by another. When the receiver is dropped (shutdown) the Lease
//! is released so a standby takes over at once instead of waiting for it to expire.

use std::time::Duration;

use kube::Client;

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
    /// How long this replica acts after its last successful renewal (shorter than the
    /// lease); it renews every third of this.
    pub renew_deadline: Duration,
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
        renew_deadline: Duration,
    ) -> Self {
        LeaderElectionConfig {
            lease_name: lease_name.into(),
            namespace: pod_namespace(),
            identity: pod_identity(),
            lease_duration,
            renew_deadline,
        }
    }

    /// How often the holder renews: a third of the renew deadline, in whole seconds (the
    /// Lease's unit), at least one.
    pub fn renew_period(&self) -> Duration {
        Duration::from_secs((self.renew_deadline.as_secs() / 3).max(1))
    }

    /// The deadline of one call to the Lease: a failed renewal must leave time for
    /// another before the fence closes.
    pub fn call_timeout(&self) -> Duration {
        (self.renew_deadline / 3).max(Duration::from_millis(500))
    }
}

/// A client for the Lease alone, from `config`: every call has a deadline
/// ([`LeaderElectionConfig::call_timeout`]), so that a half-open connection fails a
/// renewal instead of hanging it.
pub fn lease_client(
    mut config: kube::Config,
    cfg: &LeaderElectionConfig,
) -> Result<Client, kube::Error> {
    let timeout = cfg.call_timeout();
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    config.reset_reader_on_write = true;
    Client::try_from(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(lease: u64, deadline: u64) -> LeaderElectionConfig {
        LeaderElectionConfig {
            lease_name: "l".into(),
            namespace: "ns".into(),
            identity: "me".into(),
            lease_duration: Duration::from_secs(lease),
            renew_deadline: Duration::from_secs(deadline),
        }
    }

    #[test]
    fn renewals_leave_room_for_a_failure_before_the_fence_closes() {
        let c = cfg(15, 10);
        assert_eq!(c.renew_period(), Duration::from_secs(3));
        assert!(c.call_timeout() * 2 + c.renew_period() <= c.renew_deadline);
        assert_eq!(cfg(3, 2).renew_period(), Duration::from_secs(1));
    }
}
