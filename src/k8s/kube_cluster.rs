//! The cluster port over the real `kube` client: watches with backoff and resyncs,
//! status patches on the status subresource, the finalizer, and Events.
//!
//! Every call but the watches has a deadline ([`KubeCluster::with_api_timeout`]): a
//! connection that goes half-open must fail the call, not hang it. Watches are guarded
//! by kube-runtime's idle timeout instead and restart on their own. The port's methods
//! are in `api`.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Recorder, Reporter};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use super::cluster::ClusterError;
use super::crd::NodeENI;
use super::eninode::ENINode;
use super::ledger::{DEFAULT_LEDGER_NAME, Ledger};
use super::node::SlimNode;
pub use super::watch::changes_of;

pub use super::cluster::CONTROLLER_NAME;

mod api;

/// How long one API call (not a watch) may take by default.
pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(10);

/// [`Cluster`](super::cluster::Cluster) backed by a Kubernetes API server.
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    nodeenis: Api<NodeENI>,
    nodes: Api<SlimNode>,
    eninodes: Api<ENINode>,
    recorder: Recorder,
    ledger: Ledger,
    timeout: Duration,
}

/// Maps a `kube` error onto the port's error.
pub fn cluster_error(e: kube::Error) -> ClusterError {
    match e {
        kube::Error::Api(status) => match status.code {
            404 => ClusterError::NotFound(status.message),
            409 => ClusterError::Conflict(status.message),
            // A failed JSON-patch `test` is how a lost optimistic race shows up.
            422 if status.message.contains("test") => ClusterError::Conflict(status.message),
            429 | 500..=599 => {
                ClusterError::Unavailable(format!("{} {}", status.code, status.message))
            }
            code => ClusterError::Rejected {
                code,
                reason: status.reason,
                message: status.message,
            },
        },
        other => ClusterError::Unavailable(other.to_string()),
    }
}

impl KubeCluster {
    /// Wraps a client; Events are reported as this controller, instance `instance`
    /// (usually the pod name). The ownership ledger is [`DEFAULT_LEDGER_NAME`] in the
    /// `default` namespace until [`KubeCluster::with_ledger`] says otherwise.
    pub fn new(client: Client, instance: Option<String>) -> Self {
        let reporter = Reporter {
            controller: CONTROLLER_NAME.into(),
            instance,
        };
        KubeCluster {
            client: client.clone(),
            nodeenis: Api::all(client.clone()),
            nodes: Api::all(client.clone()),
            eninodes: Api::all(client.clone()),
            recorder: Recorder::new(client.clone(), reporter),
            ledger: Ledger::new(client, "default", DEFAULT_LEDGER_NAME),
            timeout: DEFAULT_API_TIMEOUT,
        }
    }

    /// The same cluster with the ownership ledger in ConfigMap `name` of `namespace`.
    pub fn with_ledger(self, namespace: &str, name: &str) -> Self {
        let ledger = Ledger::new(self.client.clone(), namespace, name);
        KubeCluster { ledger, ..self }
    }

    /// The same cluster with another deadline for each API call.
    pub fn with_api_timeout(self, timeout: Duration) -> Self {
        KubeCluster { timeout, ..self }
    }

    /// Runs one API call within the deadline; a call that runs out of time is
    /// [`ClusterError::Unavailable`] (retried like any outage).
    pub async fn timed<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ClusterError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r.map_err(cluster_error),
            Err(_) => Err(ClusterError::Unavailable(format!(
                "the API server did not answer within {}",
                humantime::format_duration(self.timeout)
            ))),
        }
    }

    /// The UID of the `kube-system` namespace: this cluster's identity, which no other
    /// cluster shares (and which survives every restart of the controller).
    pub async fn kube_system_uid(&self) -> Result<String, ClusterError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns = self.timed(api.get("kube-system")).await?;
        ns.metadata
            .uid
            .ok_or_else(|| ClusterError::Unavailable("the kube-system namespace has no UID".into()))
    }

    /// The underlying client (leader election uses it too).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// A client from `config`.
    pub fn from_config(
        config: kube::Config,
        instance: Option<String>,
    ) -> Result<Self, ClusterError> {
        let client = Client::try_from(config)
            .map_err(|e| ClusterError::Unavailable(format!("Kubernetes client: {e}")))?;
        Ok(Self::new(client, instance))
    }

    /// A client from the in-cluster configuration or `KUBECONFIG`.
    pub async fn connect(instance: Option<String>) -> Result<Self, ClusterError> {
        let client = Client::try_default()
            .await
            .map_err(|e| ClusterError::Unavailable(format!("no Kubernetes configuration: {e}")))?;
        Ok(Self::new(client, instance))
    }

    async fn finalizers(&self, name: &str) -> Result<Vec<String>, ClusterError> {
        let obj = self.timed(self.nodeenis.get(name)).await?;
        Ok(obj.finalizers().to_vec())
    }

    /// Replaces the finalizer list if it is still `current` (JSON-patch `test`), so a
    /// concurrent change is never overwritten.
    async fn swap_finalizers(
        &self,
        name: &str,
        current: &[String],
        next: Vec<String>,
    ) -> Result<(), ClusterError> {
        let current_value = if current.is_empty() {
            Value::Null
        } else {
            json!(current)
        };
        let patch: json_patch::Patch = serde_json::from_value(json!([
            {"op": "test", "path": "/metadata/finalizers", "value": current_value},
            {"op": if current.is_empty() { "add" } else { "replace" }, "path": "/metadata/finalizers", "value": next},
        ]))
        .map_err(|e| ClusterError::Rejected { code: 0, reason: "BadPatch".into(), message: e.to_string() })?;
        self.timed(
            self.nodeenis
                .patch(name, &PatchParams::default(), &Patch::<()>::Json(patch)),
        )
        .await?;
        Ok(())
    }
}
