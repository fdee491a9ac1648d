//! What a NodeENI actor is started with and receives.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorId, RpcReplyPort};

use super::nodes::Whereabouts;
use crate::actors::cleanup::{CleanupError, CleanupMsg};
use crate::actors::instances::InstanceBatcher;
use crate::actors::limiter::LimitedEc2;
use crate::actors::slot::{Breakers, Reservations, SlotDeps, SlotReport, SlotTiming, SlotUpdate};
use crate::aws::resolve::Resolver;
use crate::k8s::{Cluster, NodeENI, NodeInterface, NodeView, Notice};
use crate::plan::slots::SlotKey;
use crate::supervision::{Handle, RestartPolicy};

/// Messages of a NodeENI actor.
pub enum NodeEniMsg {
    /// The NodeENI object changed (spec, deletion, finalizers, or its own status).
    Spec(Box<NodeENI>),
    /// Every node matching the selector (after the root's first or a new resync).
    Nodes(Vec<NodeView>),
    /// A node that matched before or matches now changed.
    Node(NodeView),
    /// A node that matched was deleted.
    NodeGone(String),
    /// A slot's progress, from the slot actor that reports it.
    Report(ActorId, SlotKey, SlotReport),
    /// An Event a slot wants recorded.
    SlotNotice(Notice),
    /// A retired slot's ENIs (it stops right after).
    SlotRetired(ActorId, SlotKey, Vec<String>),
    /// A node's zone, learned from its instance (the Node carries no zone label).
    NodeZone(String, String),
    /// The cleanup pool finished with an ENI.
    Cleaned(String, Result<(), CleanupError>),
    /// Resolve, sweep, reconcile children, progress a deletion.
    Tick,
    /// Write the status if it changed.
    Flush,
    /// Start a failed slot again.
    RestartSlot(SlotKey),
    /// The desired (instance, subnet) pairs, or `None` if not settled (orphan sweep).
    Desired(RpcReplyPort<Option<HashSet<(String, String)>>>),
    /// What the nodes' ENINodes show of this NodeENI.
    Interfaces(InterfacesSeen),
    /// What a node's agent reports of the DPDK devices this NodeENI asked it to release.
    Agent(String, crate::k8s::AgentReport),
    /// Where the matching nodes' instances are (VPC and zone), as read; those EC2 did not
    /// know are left out.
    InstancesRead(Vec<(String, Whereabouts)>),
}

/// What the nodes' ENINodes show of one NodeENI's entries.
#[derive(Debug, Clone)]
pub enum InterfacesSeen {
    /// Every node's, after a listing (nodes without entries left out).
    All(std::collections::BTreeMap<String, Vec<NodeInterface>>),
    /// One node's now (empty: none).
    Node(String, Vec<NodeInterface>),
}

impl From<SlotUpdate> for NodeEniMsg {
    fn from(update: SlotUpdate) -> Self {
        match update {
            SlotUpdate::Report(actor, key, report) => NodeEniMsg::Report(actor, key, report),
            SlotUpdate::Notice(notice) => NodeEniMsg::SlotNotice(notice),
            SlotUpdate::Retired { actor, key, enis } => NodeEniMsg::SlotRetired(actor, key, enis),
            SlotUpdate::Zone { node, zone } => NodeEniMsg::NodeZone(node, zone),
        }
    }
}

/// What every NodeENI actor shares.
#[allow(missing_docs)]
pub struct NodeEniDeps {
    pub cluster: Arc<dyn Cluster>,
    /// EC2 at rollout priority.
    pub ec2: LimitedEc2,
    /// Name resolution and limits.
    pub resolver: Arc<Resolver>,
    /// Batched instance lookups.
    pub instances: InstanceBatcher,
    /// The cleanup pool.
    pub cleanup: Handle<CleanupMsg>,
    /// The owning cluster (ownership).
    pub identity: crate::aws::ownership::ClusterIdentity,
    /// Attach only to instances tagged as this cluster's.
    pub require_instance_cluster_tag: bool,
    /// The controller's extra ENI tags (under each NodeENI's own).
    pub eni_tags: Arc<crate::plan::extra_tags::TagMap>,
    /// Slot polling and retries.
    pub timing: SlotTiming,
    /// Restart policy for slots.
    pub restart: RestartPolicy,
    /// Full re-listing of this NodeENI's ENIs (drift and leak detection).
    pub resync_interval: Duration,
    /// Status writes are batched over this long.
    pub status_debounce: Duration,
    /// The NodeENI actors running, which share the budget of status-round work.
    pub census: super::census::NodeEniCensus,
    /// How long resolved subnet and group names are trusted.
    pub resolve_ttl: Duration,
    /// Device indices reserved on each instance, shared by every NodeENI's slots.
    pub reservations: Reservations,
    /// Where each NodeENI says how ready its nodes' ENIs are.
    pub readiness: crate::actors::readiness::ReadinessDesk,
}

impl NodeEniDeps {
    /// What the slots of the NodeENI `name` (UID `uid`) share.
    pub fn for_slots(&self, name: String, uid: String) -> SlotDeps {
        SlotDeps {
            ec2: self.ec2.clone(),
            resolver: self.resolver.clone(),
            instances: self.instances.clone(),
            cleanup: self.cleanup.clone(),
            cluster: self.identity.clone(),
            require_instance_cluster_tag: self.require_instance_cluster_tag,
            nodeeni_name: name,
            nodeeni_uid: uid,
            timing: self.timing,
            reservations: self.reservations.clone(),
            breakers: Breakers::default(),
        }
    }
}

/// How a NodeENI actor starts.
pub struct NodeEniArgs {
    /// The object.
    pub nodeeni: NodeENI,
    /// Matching nodes, when the root has them.
    pub nodes: Option<Vec<NodeView>>,
    /// Shared dependencies.
    pub deps: Arc<NodeEniDeps>,
}
