//! ENINodes as the in-memory cluster stores them: each NodeENI's entries apart (as
//! server-side apply keeps each field manager's), and the agent's status.

use std::collections::{BTreeMap, BTreeSet};

use crate::k8s::ClusterError;
use crate::k8s::cluster::ENINodeView;
use crate::k8s::eninode::{ENINode, ENINodeSpec, ENINodeStatus, NodeInterface};

/// One ENINode: NodeENI → the entries it applied, and the agent's status.
type StoredENINode = (BTreeMap<String, Vec<NodeInterface>>, Option<ENINodeStatus>);

/// The ENINode `node` as the API server would show it.
fn eninode_view(node: &str, (entries, status): &StoredENINode) -> ENINodeView {
    let mut spec = ENINodeSpec::default();
    for list in entries.values() {
        spec.interfaces.extend(list.iter().cloned());
    }
    let mut obj = ENINode::new(node, spec);
    obj.status = status.clone();
    ENINodeView::from_object(obj)
}

/// Every ENINode, and the faults a test sets on them.
#[derive(Default)]
pub struct ENINodeStore {
    stored: BTreeMap<String, StoredENINode>,
    /// Nodes whose ENINode writes an admission webhook refuses.
    refused: BTreeSet<String>,
    /// The ENINode watch delivers nothing (the CRD missing, or RBAC).
    pub withheld: bool,
}

impl ENINodeStore {
    /// `node`'s ENINode as the API server would show it.
    pub fn view(&self, node: &str) -> Option<ENINodeView> {
        self.stored.get(node).map(|e| eninode_view(node, e))
    }

    /// Every ENINode.
    pub fn all(&self) -> Vec<ENINodeView> {
        self.stored
            .iter()
            .map(|(n, e)| eninode_view(n, e))
            .collect()
    }

    /// Deletes `node`'s ENINode; what it was.
    pub fn remove(&mut self, node: &str) -> Option<ENINodeView> {
        self.stored.remove(node).map(|e| eninode_view(node, &e))
    }

    /// Writes the agent's report into `node`'s status, creating the ENINode.
    pub fn report(&mut self, node: &str, status: ENINodeStatus) -> ENINodeView {
        let e = self.stored.entry(node.to_string()).or_default();
        e.1 = Some(status);
        eninode_view(node, e)
    }

    /// Refuses every write to `node`'s ENINode from now on, or stops.
    pub fn refuse(&mut self, node: &str, refuse: bool) {
        if refuse {
            self.refused.insert(node.to_string());
        } else {
            self.refused.remove(node);
        }
    }

    /// Sets NodeENI `nodeeni`'s entries on `node`'s ENINode (none: withdraws them); the
    /// ENINode as it is now, or `None` for a withdrawal from an ENINode that does not
    /// exist (never created, as the real adapter's withdrawal is conditional).
    pub fn apply(
        &mut self,
        node: &str,
        nodeeni: &str,
        interfaces: &[NodeInterface],
    ) -> Result<Option<ENINodeView>, ClusterError> {
        if self.refused.contains(node) {
            return Err(ClusterError::Rejected {
                code: 403,
                reason: "Forbidden".into(),
                message: format!("admission webhook denied the ENINode {node}"),
            });
        }
        if interfaces.is_empty() && !self.stored.contains_key(node) {
            return Ok(None);
        }
        let e = self.stored.entry(node.to_string()).or_default();
        if interfaces.is_empty() {
            e.0.remove(nodeeni);
        } else {
            e.0.insert(nodeeni.to_string(), interfaces.to_vec());
        }
        Ok(Some(eninode_view(node, e)))
    }
}
