//! What the readiness actor receives.

use std::collections::BTreeMap;

use crate::k8s::NodeView;

/// Each NodeENI's `nodeSelector`, by NodeENI name.
pub type Selectors = BTreeMap<String, BTreeMap<String, String>>;

/// Messages of the readiness actor.
pub enum ReadinessMsg {
    /// Every node, after a (re-)listing: whatever is not in it is gone; with the
    /// selectors when they changed meanwhile (taken in before any node is decided on:
    /// the nodes were listed for them).
    Nodes(Vec<NodeView>, Option<Selectors>),
    /// A node changed.
    Node(Box<NodeView>),
    /// A node was deleted.
    NodeGone(String),
    /// The selectors of every NodeENI not being deleted: a node one matches waits for
    /// its ENIs.
    Selectors(Selectors),
    /// Nodes, NodeENIs and ENINodes were all listed: nodes may be decided on.
    Synced,
    /// Decide on these nodes again (a part changed, a quiet time passed, a retry).
    Check(Vec<String>),
    /// A node's quiet time is over: a `False` condition may show now.
    QuietOver(String),
}
