//! Leader election on a `coordination.k8s.io/v1` Lease (with the `kube-lease-manager`
//! crate), so that of several replicas exactly one acts.
//!
//! The elector publishes "am I the leader" on a watch channel. It steps down (publishes
//! `false`) the moment it cannot confirm the lease, on any API error, rather than keep
//! acting on a lease it may have lost. When the receiver is dropped (shutdown) the lease
//! is released so a standby takes over at once instead of waiting for expiry.
//!
//! Stepping down needs an answer, and a half-open connection gives none. So the Lease
//! has a client of its own ([`lease_client`]) whose every call times out, and a
//! [`Fence`] that does not wait for anyone: each successful write of the Lease confirms
//! leadership as of when it was sent, and EC2 calls stop once the renew deadline has
//! passed since the last confirmation (by this process's monotonic clock), well before
//! the lease could pass to another replica. The lease is renewed every third of the
//! renew deadline, so two renewals may fail before the fence closes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use kube::Client;
use kube::client::ClientBuilder;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::fence::Fence;

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
/// ([`LeaderElectionConfig::call_timeout`]), and every successful write of a Lease
/// confirms `fence`.
pub fn lease_client(
    mut config: kube::Config,
    cfg: &LeaderElectionConfig,
    fence: Fence,
) -> Result<Client, kube::Error> {
    let timeout = cfg.call_timeout();
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    config.reset_reader_on_write = true;
    Ok(ClientBuilder::try_from(config)?
        .with_layer(&Confirming(fence))
        .build())
}

/// A tower layer that confirms the fence on each successful write of a Lease, as of
/// when the write was sent.
#[derive(Clone)]
struct Confirming(Fence);

impl<S> tower::Layer<S> for Confirming {
    type Service = ConfirmingService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConfirmingService {
            inner,
            fence: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct ConfirmingService<S> {
    inner: S,
    fence: Fence,
}

/// Whether a request writes a Lease (an acquisition or renewal when it succeeds).
fn writes_lease<B>(req: &http::Request<B>) -> bool {
    matches!(
        *req.method(),
        http::Method::PATCH | http::Method::PUT | http::Method::POST
    ) && req.uri().path().contains("/leases")
}

impl<S, B, RB> tower::Service<http::Request<B>> for ConfirmingService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let write = writes_lease(&req);
        let sent_at = Instant::now();
        let answer = self.inner.call(req);
        let fence = self.fence.clone();
        Box::pin(async move {
            let resp = answer.await?;
            if write && resp.status().is_success() {
                fence.confirmed(sent_at);
            }
            Ok(resp)
        })
    }
}

async fn build(
    client: &Client,
    cfg: &LeaderElectionConfig,
) -> Result<LeaseManager, kube_lease_manager::LeaseManagerError> {
    let duration = cfg.lease_duration.as_secs().max(2);
    // The crate renews `grace` before expiry: every `renew_period`.
    let grace = duration
        .saturating_sub(cfg.renew_period().as_secs())
        .clamp(1, duration - 1);
    LeaseManagerBuilder::new(client.clone(), &cfg.lease_name)
        .with_namespace(&cfg.namespace)
        .with_identity(&cfg.identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
}

/// Starts electing over `client` (made by [`lease_client`] with the same `fence`). The
/// receiver reads `true` while this replica leads, and `fence` follows; drop the receiver
/// to release the lease and stop the task.
pub fn spawn(
    client: Client,
    cfg: LeaderElectionConfig,
    fence: Fence,
) -> (watch::Receiver<bool>, JoinHandle<()>) {
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
                        fence.leading(false);
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
                            fence.leading(leading);
                            tx.send_replace(leading);
                        }
                        Err(e) => {
                            // Cannot confirm the lease: stop acting now, then start over
                            // with a fresh manager (which re-reads who holds the lease).
                            tracing::warn!(error = %e, "lost contact with the leader Lease; stepping down");
                            metrics::gauge!(crate::telemetry::metric::LEADER).set(0.0);
                            fence.leading(false);
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

    #[test]
    fn only_writes_of_a_lease_confirm() {
        let req = |m: http::Method, path: &str| {
            http::Request::builder()
                .method(m)
                .uri(path)
                .body(())
                .unwrap()
        };
        let lease = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l";
        assert!(writes_lease(&req(http::Method::PATCH, lease)));
        assert!(writes_lease(&req(http::Method::PUT, lease)));
        assert!(!writes_lease(&req(http::Method::GET, lease)));
        assert!(!writes_lease(&req(
            http::Method::PATCH,
            "/apis/networking.k8s.aws/v1alpha1/nodeenis/x/status"
        )));
    }
}
