//! The in-memory cluster's Nodes: the test's own changes (create, label, delete) and the
//! controller's writes (the `ENIsReady` condition, and the removal of a taint at the
//! position it was seen, as the API server does them).

use super::MemoryCluster;
use crate::k8s::cluster::{Change, ClusterError};
use crate::k8s::node::{NodeCondition, NodeView, TaintKey};

/// Writes the condition (the node's other conditions are not modelled).
pub fn set_condition(node: &mut NodeView, condition: &NodeCondition) {
    node.enis_ready = Some(condition.clone());
}

/// Removes `taint` if it is at `index`; a conflict otherwise (the JSON patch's `test`).
pub fn remove_taint(
    node: &mut NodeView,
    taint: &TaintKey,
    index: usize,
) -> Result<(), ClusterError> {
    if node.taints.get(index) != Some(taint) {
        return Err(ClusterError::Conflict(format!(
            "node {}: taint {} is not at position {index}",
            node.name, taint.key
        )));
    }
    node.taints.remove(index);
    Ok(())
}

impl MemoryCluster {
    /// Changes a node as a write of the controller does (counted), and tells its
    /// watchers.
    pub(super) fn change_node(
        &self,
        name: &str,
        change: impl FnOnce(&mut NodeView) -> Result<(), ClusterError>,
    ) -> Result<(), ClusterError> {
        let mut s = self.lock();
        s.writes.node += 1;
        let node = s
            .nodes
            .get_mut(name)
            .ok_or_else(|| ClusterError::NotFound(format!("node {name}")))?;
        change(node)?;
        let node = node.clone();
        drop(s);
        let _ = self.node_tx.send(Change::Applied(node));
        Ok(())
    }

    /// A node as it is now.
    pub fn node(&self, name: &str) -> Option<NodeView> {
        self.lock().nodes.get(name).cloned()
    }

    /// Creates or replaces a node (one without a creation time is created now, or keeps
    /// the one it had).
    pub fn upsert_node(&self, mut node: NodeView) {
        let mut s = self.lock();
        if node.created.is_none() {
            node.created = Some(
                s.nodes
                    .get(&node.name)
                    .and_then(|old| old.created)
                    .unwrap_or_else(jiff::Timestamp::now),
            );
        }
        s.nodes.insert(node.name.clone(), node.clone());
        drop(s);
        let _ = self.node_tx.send(Change::Applied(node));
    }

    /// Sets (`Some`) or removes (`None`) one label on a node.
    pub fn label_node(&self, name: &str, key: &str, value: Option<&str>) {
        let mut s = self.lock();
        let Some(node) = s.nodes.get_mut(name) else {
            return;
        };
        match value {
            Some(v) => node.labels.insert(key.to_string(), v.to_string()),
            None => node.labels.remove(key),
        };
        let node = node.clone();
        drop(s);
        let _ = self.node_tx.send(Change::Applied(node));
    }

    /// Removes a node.
    pub fn delete_node(&self, name: &str) {
        let mut s = self.lock();
        let gone = s.nodes.remove(name);
        // The Node owns its ENINode: the garbage collector deletes it too.
        let eninode = s.eninodes.remove(name);
        drop(s);
        if let Some(node) = gone {
            let _ = self.node_tx.send(Change::Deleted(node));
        }
        if let Some(view) = eninode {
            let _ = self.eninode_tx.send(Change::Deleted(view));
        }
    }
}
