//! The [`Cluster`] port implemented over the real `kube` client: the watches, the
//! ENINode applies and withdrawals, status patches, the finalizer, Events (each with its
//! `related` object), the ownership ledger, and the Node writes.

use std::collections::{BTreeSet, HashSet};

use async_trait::async_trait;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::runtime::watcher::Config as WatcherConfig;
use serde_json::Value;

use super::KubeCluster;
use crate::k8s::cluster::{
    About, Change, Cluster, ClusterError, ENINodeView, FINALIZER, LEGACY_FINALIZER, Notice,
    ObjectRef,
};
use crate::k8s::crd::{NodeENI, NodeENIStatus};
use crate::k8s::eninode::{NodeInterface, field_manager};
use crate::k8s::node::{NodeCondition, NodeView, TaintKey};
use crate::k8s::node_writes::{condition_patch, taint_removal};
use crate::k8s::watch::{NODE_PAGE_SIZE, changes, watch_changes};
use crate::k8s::writes;

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
            let object = writes::eninode_apply(node, node_uid, interfaces);
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
        let ops = writes::withdrawal(&current.spec.interfaces, nodeeni);
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
        let patch = writes::status_patch(status);
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
