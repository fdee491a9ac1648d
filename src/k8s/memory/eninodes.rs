//! ENINodes as the in-memory cluster stores them: each NodeENI's entries apart (as
//! server-side apply keeps each field manager's), and the agent's status.

use std::collections::BTreeMap;

use crate::k8s::cluster::ENINodeView;
use crate::k8s::eninode::{ENINode, ENINodeSpec, ENINodeStatus, NodeInterface};

/// One ENINode: NodeENI → the entries it applied, and the agent's status.
pub type StoredENINode = (BTreeMap<String, Vec<NodeInterface>>, Option<ENINodeStatus>);

/// The ENINode `node` as the API server would show it.
pub fn eninode_view(node: &str, (entries, status): &StoredENINode) -> ENINodeView {
    let mut spec = ENINodeSpec::default();
    for list in entries.values() {
        spec.interfaces.extend(list.iter().cloned());
    }
    let mut obj = ENINode::new(node, spec);
    obj.status = status.clone();
    ENINodeView::from_object(obj)
}

/// Sets NodeENI `nodeeni`'s entries on `node`'s ENINode (none: withdraws them), creating
/// the ENINode; the ENINode as it is now.
pub fn apply(
    stored: &mut BTreeMap<String, StoredENINode>,
    node: &str,
    nodeeni: &str,
    interfaces: &[NodeInterface],
) -> ENINodeView {
    let e = stored.entry(node.to_string()).or_default();
    if interfaces.is_empty() {
        e.0.remove(nodeeni);
    } else {
        e.0.insert(nodeeni.to_string(), interfaces.to_vec());
    }
    eninode_view(node, e)
}
