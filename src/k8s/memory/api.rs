//! The [`Cluster`] port implemented by the in-memory cluster: watches that resync then
//! follow every change, writes counted and sized as the real adapter's would be, Events
//! through the modelled recorder, the ownership ledger, and the controller's Node writes.

use std::collections::{BTreeSet, HashSet};

use async_trait::async_trait;
use futures::{StreamExt, stream::BoxStream};

use super::MemoryCluster;
use super::nodes;
use super::watch::watch;
use crate::k8s::cluster::{
    Change, Cluster, ClusterError, ENINodeView, FINALIZER, LEGACY_FINALIZER, Notice, ObjectRef,
};
use crate::k8s::crd::{NodeENI, NodeENIStatus};
use crate::k8s::eninode::NodeInterface;
use crate::k8s::node::{NodeCondition, NodeView, TaintKey};
use crate::k8s::writes::{body_bytes, eninode_apply, status_patch};

#[async_trait]
impl Cluster for MemoryCluster {
    fn nodeenis(&self) -> BoxStream<'static, Change<NodeENI>> {
        let me = self.clone();
        watch(self.nodeeni_tx.subscribe(), move || {
            me.lock().nodeenis.values().cloned().collect()
        })
    }

    fn nodes(&self, labels: &BTreeSet<String>) -> BoxStream<'static, Change<NodeView>> {
        let me = self.clone();
        let listing = self.lock().node_list_time;
        let (keys, snapshot_keys) = (labels.clone(), labels.clone());
        let stream = watch(self.node_tx.subscribe(), move || {
            let mut s = me.lock();
            s.node_lists += 1;
            s.nodes
                .values()
                .map(|v| v.clone().keeping(&snapshot_keys))
                .collect()
        })
        .map(move |change| match change {
            Change::Applied(v) => Change::Applied(v.keeping(&keys)),
            Change::Deleted(v) => Change::Deleted(v.keeping(&keys)),
            Change::Resync(list) => Change::Resync(list),
        });
        futures::stream::once(async move {
            tokio::time::sleep(listing).await;
            stream
        })
        .flatten()
        .boxed()
    }

    fn eninodes(&self) -> BoxStream<'static, Change<ENINodeView>> {
        if self.lock().eninodes.withheld {
            return futures::stream::pending().boxed();
        }
        let me = self.clone();
        watch(self.eninode_tx.subscribe(), move || {
            me.lock().eninodes.all()
        })
    }

    async fn apply_interfaces(
        &self,
        node: &str,
        node_uid: Option<&str>,
        nodeeni: &str,
        interfaces: &[NodeInterface],
    ) -> Result<(), ClusterError> {
        let bytes = body_bytes(&eninode_apply(node, node_uid, interfaces));
        let mut s = self.lock();
        s.writes.eninode += 1;
        s.writes.largest_write_bytes = s.writes.largest_write_bytes.max(bytes);
        // A withdrawal never creates an ENINode (the real adapter's is conditional).
        let view = s.eninodes.apply(node, nodeeni, interfaces)?;
        drop(s);
        if let Some(view) = view {
            let _ = self.eninode_tx.send(Change::Applied(view));
        }
        Ok(())
    }

    async fn patch_status(&self, name: &str, status: &NodeENIStatus) -> Result<(), ClusterError> {
        let bytes = body_bytes(&status_patch(status));
        let mut s = self.lock();
        s.writes.status += 1;
        s.writes.largest_write_bytes = s.writes.largest_write_bytes.max(bytes);
        if s.refuse_status {
            return Err(ClusterError::Rejected {
                code: 422,
                reason: "Invalid".into(),
                message: format!("NodeENI.networking.k8s.aws \"{name}\" is invalid"),
            });
        }
        let obj = s
            .nodeenis
            .get_mut(name)
            .ok_or_else(|| ClusterError::NotFound(format!("nodeeni {name}")))?;
        obj.status = Some(status.clone());
        let changed = obj.clone();
        let size = serde_json::to_vec(&changed).map_or(0, |v| v.len());
        s.writes.largest_nodeeni_bytes = s.writes.largest_nodeeni_bytes.max(size);
        drop(s);
        let _ = self.nodeeni_tx.send(Change::Applied(changed));
        Ok(())
    }

    async fn add_finalizer(&self, name: &str) -> Result<(), ClusterError> {
        self.update_finalizers(name, |list| {
            if !list.iter().any(|f| f == FINALIZER) {
                list.push(FINALIZER.to_string());
            }
        })
    }

    async fn remove_finalizer(&self, name: &str) -> Result<(), ClusterError> {
        match self.update_finalizers(name, |list| {
            list.retain(|f| f != FINALIZER && f != LEGACY_FINALIZER)
        }) {
            Err(ClusterError::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    async fn publish(&self, nodeeni: &ObjectRef, notice: Notice) -> Result<(), ClusterError> {
        let mut s = self.lock();
        let s = &mut *s;
        s.recorder.record(
            &nodeeni.name,
            notice,
            tokio::time::Instant::now(),
            &mut s.writes,
        );
        Ok(())
    }

    async fn record_owner(&self, uid: &str, name: &str) -> Result<(), ClusterError> {
        self.lock().ledger.record(uid, name)
    }

    async fn recorded_owners(&self) -> Result<HashSet<String>, ClusterError> {
        self.lock().ledger.recorded()
    }

    async fn forget_owners(&self, uids: &[String]) -> Result<(), ClusterError> {
        self.lock().ledger.forget(uids)
    }

    async fn set_node_condition(
        &self,
        node: &str,
        condition: &NodeCondition,
        _transition: bool,
    ) -> Result<(), ClusterError> {
        self.change_node(node, |n| {
            nodes::set_condition(n, condition);
            Ok(())
        })
    }

    async fn remove_node_taint(
        &self,
        node: &str,
        taint: &TaintKey,
        index: usize,
    ) -> Result<(), ClusterError> {
        self.change_node(node, |n| nodes::remove_taint(n, taint, index))
    }

    async fn publish_on_node(&self, node: &ObjectRef, notice: Notice) -> Result<(), ClusterError> {
        let mut s = self.lock();
        let s = &mut *s;
        let key = format!("Node/{}", node.name);
        s.recorder
            .record(&key, notice, tokio::time::Instant::now(), &mut s.writes);
        Ok(())
    }
}
