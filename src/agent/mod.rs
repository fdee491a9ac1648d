//! The node agent (`eni-agent`, one per node): brings the ENIs attached to its node up
//! and sets their MTU over netlink, and reports how each one stands on its Node.
//!
//! The agent reads only its own node's ENINode (a watch by name): the ENIs attached to
//! this node, from every NodeENI. An ENI is matched to a link by MAC address, and only to
//! the ENI's own device (never a VLAN, bridge or bond sharing the MAC), so the primary
//! interface and every link whose MAC matches no ENI of this node are never touched. It
//! is event-driven: an ENINode change or a netlink link event (a link appearing, or
//! someone taking it down or changing its MTU) triggers reconciliation; there is no
//! polling loop.
//!
//! The report is the ENINode's status: per ENI the interface name, its MTU, whether it
//! is configured (and whether the MTU was clamped). It is written only when it changes,
//! and the agent's token may write only its own node's (an admission policy).

pub mod actors;
pub mod desired;
pub mod device_plugin;
pub mod devices;
pub mod dpdk;
pub mod links;
pub mod pci;
mod root;
mod run;

use async_trait::async_trait;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use serde_json::json;

use crate::k8s::kube_cluster::KubeCluster;
use crate::k8s::{Change, ClusterError, ENINode, ENINodeStatus};
pub use root::{Agent, AgentDeps};
pub use run::run_agent;

/// What the agent needs from Kubernetes.
#[async_trait]
pub trait AgentCluster: Send + Sync + 'static {
    /// Changes of node `node`'s ENINode, and of no other (starting with a resync; never
    /// ending).
    fn eninode(&self, node: &str) -> BoxStream<'static, Change<ENINode>>;
    /// Writes the report into node `node`'s ENINode status.
    async fn report(&self, node: &str, status: &ENINodeStatus) -> Result<(), ClusterError>;
    /// Deletes the pods in `namespace` matching label `selector` that run on node `node`
    /// (and no other node's): the SR-IOV network device plugin's, which reads its
    /// configuration only when it starts; its DaemonSet starts it again. How many.
    async fn restart_device_plugin(
        &self,
        node: &str,
        namespace: &str,
        selector: &str,
    ) -> Result<usize, ClusterError>;
}

#[async_trait]
impl AgentCluster for KubeCluster {
    fn eninode(&self, node: &str) -> BoxStream<'static, Change<ENINode>> {
        let api: Api<ENINode> = Api::all(self.client());
        crate::k8s::kube_cluster::changes_of(
            api,
            "eninodes",
            &format!("metadata.name={node}"),
            |o| o,
        )
    }

    async fn report(&self, node: &str, status: &ENINodeStatus) -> Result<(), ClusterError> {
        let api: Api<ENINode> = Api::all(self.client());
        let patch = json!({"status": status});
        self.timed(api.patch_status(node, &PatchParams::default(), &Patch::Merge(&patch)))
            .await?;
        Ok(())
    }

    async fn restart_device_plugin(
        &self,
        node: &str,
        namespace: &str,
        selector: &str,
    ) -> Result<usize, ClusterError> {
        let api: Api<Pod> = Api::namespaced(self.client(), namespace);
        let on_node = ListParams::default()
            .labels(selector)
            .fields(&format!("spec.nodeName={node}"));
        let pods = self.timed(api.list(&on_node)).await?;
        let mut deleted = 0;
        for pod in pods {
            // The field selector already says so; a pod of another node is never deleted.
            if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) != Some(node) {
                continue;
            }
            let Some(name) = pod.metadata.name else {
                continue;
            };
            let uid = pod.metadata.uid;
            // Only the pod listed: a replacement made since is left alone.
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid,
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match self.timed(api.delete(&name, &dp)).await {
                Ok(_) => deleted += 1,
                Err(ClusterError::NotFound(_) | ClusterError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}
