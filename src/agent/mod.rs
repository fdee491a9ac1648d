//! The node agent (`eni-agent`, one per node): brings the ENIs attached to its node up
//! and sets their MTU over netlink, and reports how each one stands on its Node.
//!
//! An attachment is matched to a link by MAC address only (from the NodeENI status), so
//! the primary interface and every link whose MAC matches no attachment of this node are
//! never touched. It is event-driven: a NodeENI change or a netlink link event (a link
//! appearing, or someone taking it down or changing its MTU) triggers reconciliation;
//! there is no polling loop.
//!
//! The report is the Node annotation [`REPORT_ANNOTATION`]: a JSON object keyed by MAC
//! address with the ENI, its NodeENI, the interface name, its MTU and whether it is
//! configured. It is written only when it changes.

pub mod actors;
pub mod desired;
pub mod links;
mod root;
mod run;

use async_trait::async_trait;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::k8s::kube_cluster::KubeCluster;
use crate::k8s::{Change, Cluster, ClusterError, NodeENI};
pub use root::{Agent, AgentDeps};
pub use run::run_agent;

/// The Node annotation carrying the agent's report (the controller reads it too).
pub const REPORT_ANNOTATION: &str = crate::k8s::node::LINK_REPORT_ANNOTATION;

/// What the agent needs from Kubernetes.
#[async_trait]
pub trait AgentCluster: Send + Sync + 'static {
    /// NodeENI changes (starting with a resync; never ending).
    fn nodeenis(&self) -> BoxStream<'static, Change<NodeENI>>;
    /// Sets annotation `key` on Node `node`.
    async fn annotate_node(&self, node: &str, key: &str, value: &str) -> Result<(), ClusterError>;
}

#[async_trait]
impl AgentCluster for KubeCluster {
    fn nodeenis(&self) -> BoxStream<'static, Change<NodeENI>> {
        Cluster::nodeenis(self)
    }

    async fn annotate_node(&self, node: &str, key: &str, value: &str) -> Result<(), ClusterError> {
        let api: Api<Node> = Api::all(self.client());
        let patch = json!({"metadata": {"annotations": {key: value}}});
        self.timed(api.patch(node, &PatchParams::default(), &Patch::Merge(&patch)))
            .await?;
        Ok(())
    }
}
