//! The cluster port over the real `kube` client: watches with backoff and resyncs,
//! status patches on the status subresource, the finalizer, and Events.
//!
//! Every call but the watches has a deadline ([`KubeCluster::with_api_timeout`]): a
//! connection that goes half-open must fail the call, not hang it. Watches are guarded
//! by kube-runtime's idle timeout instead and restart on their own.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::{Namespace, ObjectReference};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher::Config as WatcherConfig;
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};

use super::cluster::{
    About, Change, Cluster, ClusterError, ENINodeView, FINALIZER, LEGACY_FINALIZER, Notice,
    ObjectRef,
};
use super::crd::{NodeENI, NodeENIStatus};
use super::eninode::{ENINode, NodeInterface, field_manager};
use super::ledger::{DEFAULT_LEDGER_NAME, Ledger};
use super::node::{NodeCondition, NodeView, SlimNode, TaintKey};
use super::node_writes::{condition_patch, taint_removal};
pub use super::watch::changes_of;
use super::watch::{NODE_PAGE_SIZE, changes, watch_changes};

pub use super::cluster::CONTROLLER_NAME;

/// How long one API call (not a watch) may take by default.
pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(10);

/// [`Cluster`] backed by a Kubernetes API server.
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

/// The `related` object of an Event about `about`: an ENI (not a Kubernetes object: a
/// kind and a name), or a node's slot in one subnet (the Node, with the subnet as the
/// field path), so that the recorder counts repeats of one slot's Event in its series
/// and never merges two slots' Events.
fn related(about: &About) -> ObjectReference {
    match about {
        About::Eni(id) => ObjectReference {
            kind: Some("NetworkInterface".into()),
            name: Some(id.clone()),
            ..ObjectReference::default()
        },
        About::Slot { node, subnet } => ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.clone()),
            field_path: Some(format!("subnet/{subnet}")),
            ..ObjectReference::default()
        },
    }
}

/// The Event of a notice (its `related` object from what it is about).
fn event_of(notice: Notice) -> Event {
    Event {
        type_: if notice.warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        secondary: notice.about.as_ref().map(related),
        reason: notice.reason,
        note: Some(notice.note),
        action: notice.action,
    }
}

fn without_managed_fields(mut n: NodeENI) -> NodeENI {
    n.metadata.managed_fields = None;
    n
}

#[async_trait]
impl Cluster for KubeCluster {
    fn nodeenis(&self) -> BoxStream<'static, Change<NodeENI>> {
        changes(self.nodeenis.clone(), "nodeenis", without_managed_fields)
    }

    fn nodes(&self, labels: &BTreeSet<String>) -> BoxStream<'static, Change<NodeView>> {
        // An EKS Node is about 14 KB of JSON and each list page is read whole before it is
        // parsed: pages of 500 (kube-runtime's default) held 7 MB at once.
        let config = WatcherConfig::default().page_size(NODE_PAGE_SIZE);
        let keys = labels.clone();
        watch_changes(self.nodes.clone(), "nodes", config, move |node| {
            NodeView::from_slim(node).keeping(&keys)
        })
    }

    fn eninodes(&self) -> BoxStream<'static, Change<ENINodeView>> {
        changes(self.eninodes.clone(), "eninodes", ENINodeView::from_object)
    }

    async fn apply_interfaces(
        &self,
        node: &str,
        node_uid: Option<&str>,
        nodeeni: &str,
        interfaces: &[NodeInterface],
    ) -> Result<(), ClusterError> {
        // Server-side apply under the NodeENI's own field manager: the server merges
        // the entries of every NodeENI (the list is a map keyed by eniID), and drops
        // this NodeENI's entries that this apply no longer names.
        if !interfaces.is_empty() {
            let params = PatchParams::apply(&field_manager(nodeeni)).force();
            let object = super::writes::eninode_apply(node, node_uid, interfaces);
            self.timed(self.eninodes.patch(node, &params, &Patch::Apply(&object)))
                .await?;
            return Ok(());
        }
        // A withdrawal: a JSON patch that removes exactly this NodeENI's entries as
        // read (each `test`ed first), which never creates an ENINode (one collected with
        // its Node stays gone: a server-side apply would make it again, even one naming
        // the version read) and leaves every other field, the owner included, as it is.
        let Some(current) = self.timed(self.eninodes.get_opt(node)).await? else {
            return Ok(());
        };
        let ops = super::writes::withdrawal(&current.spec.interfaces, nodeeni);
        if ops.is_empty() {
            return Ok(());
        }
        let patch: json_patch::Patch =
            serde_json::from_value(Value::Array(ops)).map_err(|e| ClusterError::Rejected {
                code: 0,
                reason: "BadPatch".into(),
                message: e.to_string(),
            })?;
        let params = PatchParams {
            field_manager: Some(field_manager(nodeeni)),
            ..PatchParams::default()
        };
        match self
            .timed(
                self.eninodes
                    .patch(node, &params, &Patch::<()>::Json(patch)),
            )
            .await
        {
            Ok(_) | Err(ClusterError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn patch_status(&self, name: &str, status: &NodeENIStatus) -> Result<(), ClusterError> {
        let patch = super::writes::status_patch(status);
        self.timed(self.nodeenis.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        ))
        .await?;
        Ok(())
    }

    async fn add_finalizer(&self, name: &str) -> Result<(), ClusterError> {
        let current = self.finalizers(name).await?;
        if current.iter().any(|f| f == FINALIZER) {
            return Ok(());
        }
        let mut next = current.clone();
        next.push(FINALIZER.to_string());
        self.swap_finalizers(name, &current, next).await
    }

    async fn remove_finalizer(&self, name: &str) -> Result<(), ClusterError> {
        let current = match self.finalizers(name).await {
            Err(ClusterError::NotFound(_)) => return Ok(()),
            other => other?,
        };
        let next: Vec<String> = current
            .iter()
            .filter(|f| *f != FINALIZER && *f != LEGACY_FINALIZER)
            .cloned()
            .collect();
        if next.len() == current.len() {
            return Ok(());
        }
        match self.swap_finalizers(name, &current, next).await {
            Err(ClusterError::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    async fn publish(&self, nodeeni: &ObjectRef, notice: Notice) -> Result<(), ClusterError> {
        let event = event_of(notice);
        let regarding = ObjectReference {
            api_version: Some(NodeENI::api_version(&()).into_owned()),
            kind: Some(NodeENI::kind(&()).into_owned()),
            name: Some(nodeeni.name.clone()),
            uid: Some(nodeeni.uid.clone()),
            ..ObjectReference::default()
        };
        self.timed(self.recorder.publish(&event, &regarding)).await
    }

    async fn record_owner(&self, uid: &str, name: &str) -> Result<(), ClusterError> {
        match self.timed(self.ledger.patch(&[(uid, Some(name))])).await {
            Err(ClusterError::NotFound(_)) => {}
            other => return other,
        }
        match self.timed(self.ledger.create(uid, name)).await {
            // Created meanwhile (by a replica that just lost the lead): add to it.
            Err(ClusterError::Conflict(_)) => {
                self.timed(self.ledger.patch(&[(uid, Some(name))])).await
            }
            other => other,
        }
    }

    async fn recorded_owners(&self) -> Result<HashSet<String>, ClusterError> {
        self.timed(self.ledger.uids()).await
    }

    async fn forget_owners(&self, uids: &[String]) -> Result<(), ClusterError> {
        let entries: Vec<(&str, Option<&str>)> = uids.iter().map(|u| (u.as_str(), None)).collect();
        match self.timed(self.ledger.patch(&entries)).await {
            Err(ClusterError::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    async fn set_node_condition(
        &self,
        node: &str,
        condition: &NodeCondition,
        transition: bool,
    ) -> Result<(), ClusterError> {
        let now = jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or_default();
        let patch = condition_patch(condition, transition, &now.to_string());
        self.timed(self.nodes.patch_status(
            node,
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        ))
        .await?;
        Ok(())
    }

    async fn remove_node_taint(
        &self,
        node: &str,
        taint: &TaintKey,
        index: usize,
    ) -> Result<(), ClusterError> {
        let patch: json_patch::Patch = serde_json::from_value(taint_removal(taint, index))
            .map_err(|e| ClusterError::Rejected {
                code: 0,
                reason: "BadPatch".into(),
                message: e.to_string(),
            })?;
        // A 422 here is the `test` failing (or the position gone): the taints changed.
        match self
            .timed(
                self.nodes
                    .patch(node, &PatchParams::default(), &Patch::<()>::Json(patch)),
            )
            .await
        {
            Err(ClusterError::Rejected {
                code: 422, message, ..
            }) => Err(ClusterError::Conflict(message)),
            other => other.map(|_| ()),
        }
    }

    async fn publish_on_node(&self, node: &ObjectRef, notice: Notice) -> Result<(), ClusterError> {
        let event = event_of(notice);
        let regarding = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.name.clone()),
            uid: Some(node.uid.clone()),
            ..ObjectReference::default()
        };
        self.timed(self.recorder.publish(&event, &regarding)).await
    }
}
