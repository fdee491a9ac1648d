//! What the root is started with and receives.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::services::Service;
use crate::actors::cleanup::SweepFindings;
use crate::actors::settings::ControllerSettings;
use crate::aws::Ec2;
use crate::k8s::{Change, Cluster, ENINodeView, NodeENI, NodeView};

/// Messages of the root.
pub enum RootMsg {
    /// A NodeENI watch change.
    NodeEnis(Box<Change<NodeENI>>),
    /// A node watch change.
    Nodes(Change<NodeView>),
    /// An ENINode watch change.
    ENINodes(Change<ENINodeView>),
    /// Time for an orphan sweep.
    Sweep,
    /// Restart a failed NodeENI actor.
    RestartNodeEni(String),
    /// Restart a failed service (limiter or cleanup pool).
    RestartService(Service),
    /// A watch's forwarding ended (its stream ended or panicked): watch again (after a
    /// backoff).
    WatchEnded(Watched),
    /// Watch again, now.
    Rewatch(Watched),
    /// The orphan sweep found ENIs to report.
    Swept(SweepFindings),
}

impl From<SweepFindings> for RootMsg {
    fn from(f: SweepFindings) -> Self {
        RootMsg::Swept(f)
    }
}

/// What the root watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// Nodes.
    Nodes,
    /// NodeENIs.
    NodeEnis,
    /// ENINodes.
    ENINodes,
}

/// How the root starts.
#[allow(missing_docs)]
pub struct RootArgs {
    pub cluster: Arc<dyn Cluster>,
    /// EC2, unlimited (the root wraps it in the rate limiter).
    pub ec2: Arc<dyn Ec2>,
    pub settings: ControllerSettings,
    /// Set once both watches have delivered their first listing.
    pub synced: Arc<AtomicBool>,
}
