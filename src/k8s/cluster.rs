//! The cluster port: everything the actors need from Kubernetes, behind one small trait
//! so the same actor code runs against a real API server ([`super::kube_cluster`]) and
//! the in-memory cluster ([`super::memory`]) used by tests and `simulate`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use async_trait::async_trait;
use futures::stream::BoxStream;
use thiserror::Error;

use super::crd::{NodeENI, NodeENIStatus};
use super::eninode::{ENINode, NodeInterface};
use super::node::{NodeCondition, NodeView, TaintKey};

/// The finalizer this controller puts on every NodeENI before it creates an ENI, and
/// removes once every ENI it owns for that NodeENI is gone.
pub const FINALIZER: &str = "networking.k8s.aws/nodeeni-cleanup";

/// The Go controller's finalizer. A NodeENI created under the Go controller carries it;
/// this controller removes it together with its own after cleanup, so replacing the Go
/// controller never leaves NodeENIs stuck in deletion.
pub const LEGACY_FINALIZER: &str = "nodeeni.networking.k8s.aws/finalizer";

/// A change seen on a watch.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Change<T> {
    /// The complete current set, after a start or a re-list: whatever is not in it is
    /// gone (its deletion may have happened while the watch was down).
    Resync(Vec<T>),
    /// Created or updated.
    Applied(T),
    Deleted(T),
}

/// A node's ENINode as the controller reads it back: the entries each NodeENI wrote, and
/// what the node's agent reports.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ENINodeView {
    /// The node (and object) name.
    pub node: String,
    /// NodeENI name → the entries it wrote, sorted by ENI ID.
    pub entries: BTreeMap<String, Vec<NodeInterface>>,
    /// MAC address (lower-case) → whether the agent has it up with its MTU.
    pub configured_macs: BTreeMap<String, bool>,
    /// MAC addresses (lower-case) of DPDK ENIs whose device the agent reports bound.
    pub bound_macs: BTreeSet<String>,
    /// MAC addresses (lower-case) of DPDK ENIs whose device the agent reports returned to
    /// its kernel driver, as asked before a teardown.
    pub released_macs: BTreeSet<String>,
}

/// What a node's agent reports of the ENIs a NodeENI asks it to release.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentReport {
    /// The MACs whose entries ask for the release (what the report is of).
    pub asked: BTreeSet<String>,
    /// Of them, those whose device the agent reports bound.
    pub bound: BTreeSet<String>,
    /// Of them, those whose device it reports released.
    pub released: BTreeSet<String>,
}

impl ENINodeView {
    /// The view of an object.
    pub fn from_object(o: ENINode) -> Self {
        let mut entries: BTreeMap<String, Vec<NodeInterface>> = BTreeMap::new();
        for i in o.spec.interfaces {
            entries.entry(i.node_eni.clone()).or_default().push(i);
        }
        for list in entries.values_mut() {
            list.sort();
        }
        let reports = o.status.map(|s| s.interfaces).unwrap_or_default();
        ENINodeView {
            node: o.metadata.name.unwrap_or_default(),
            entries,
            bound_macs: reports
                .iter()
                .filter(|r| r.dpdk.as_ref().is_some_and(|d| d.bound))
                .map(|r| r.mac_address.to_ascii_lowercase())
                .collect(),
            released_macs: reports
                .iter()
                .filter(|r| r.dpdk.as_ref().is_some_and(|d| d.released))
                .map(|r| r.mac_address.to_ascii_lowercase())
                .collect(),
            configured_macs: reports
                .into_iter()
                .map(|r| (r.mac_address.to_ascii_lowercase(), r.configured))
                .collect(),
        }
    }
}

/// A Kubernetes Event to record on a NodeENI.
///
/// Events that agree in type, reason, action and [`About`] are one Event: repeats are
/// counted in its series (the API server keeps the first note), so whatever the note
/// names must be in `about` too, or an Event would name the wrong ENI or node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `Warning` instead of `Normal`.
    pub warning: bool,
    /// Short CamelCase reason (`ENICreated`, `ENIAttachFailed`, ...).
    pub reason: String,
    /// What was done (`Create`, `Attach`, `Detach`, `Delete`, `Reconcile`).
    pub action: String,
    /// Human-readable detail: node, ENI, subnet, error.
    pub note: String,
    /// What the Event is about besides its NodeENI (its `related` object).
    pub about: Option<About>,
}

/// The thing an Event is about, besides its NodeENI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum About {
    /// One ENI.
    Eni(String),
    /// One slot: a node and a subnet (before it has an ENI, or whatever ENI it has).
    Slot {
        /// The node.
        node: String,
        /// The subnet.
        subnet: String,
    },
}

impl Notice {
    /// A `Normal` event.
    pub fn normal(reason: &str, action: &str, note: impl Into<String>) -> Self {
        Notice {
            warning: false,
            reason: reason.into(),
            action: action.into(),
            note: note.into(),
            about: None,
        }
    }

    /// The same event, about `about`.
    pub fn about(self, about: About) -> Self {
        Notice {
            about: Some(about),
            ..self
        }
    }

    /// A `Warning` event.
    pub fn warning(reason: &str, action: &str, note: impl Into<String>) -> Self {
        Notice {
            warning: true,
            ..Self::normal(reason, action, note)
        }
    }
}

/// An object as an Event names it (a NodeENI, or a Node: the call says which).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// Its name.
    pub name: String,
    /// Its UID.
    pub uid: String,
}

impl ObjectRef {
    /// The reference to `nodeeni`.
    pub fn of(nodeeni: &NodeENI) -> Self {
        ObjectRef {
            name: nodeeni.metadata.name.clone().unwrap_or_default(),
            uid: nodeeni.metadata.uid.clone().unwrap_or_default(),
        }
    }
}

/// A failed call to the cluster.
#[derive(Debug, Clone, Error)]
pub enum ClusterError {
    /// The object changed since it was read (409), or a patch precondition failed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The object does not exist (any more).
    #[error("not found: {0}")]
    NotFound(String),
    /// The API server refused the request (4xx other than the above).
    #[error("rejected by the API server ({code} {reason}): {message}")]
    Rejected {
        /// HTTP status.
        code: u16,
        /// Status reason.
        reason: String,
        /// Status message.
        message: String,
    },
    /// The API server is unavailable, overloaded (429, 5xx) or unreachable: retry later.
    #[error("API server unavailable: {0}")]
    Unavailable(String),
}

impl ClusterError {
    /// Every value [`ClusterError::label`] answers (metrics start each at zero).
    pub const LABELS: [&'static str; 4] = ["conflict", "not_found", "rejected", "unavailable"];

    /// A stable label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            ClusterError::Conflict(_) => "conflict",
            ClusterError::NotFound(_) => "not_found",
            ClusterError::Rejected { .. } => "rejected",
            ClusterError::Unavailable(_) => "unavailable",
        }
    }

    /// Whether retrying the same call later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ClusterError::Conflict(_) | ClusterError::Unavailable(_)
        )
    }
}

/// The name this controller reports Events and field ownership under, and labels what it
/// creates with.
pub const CONTROLLER_NAME: &str = "aws-multi-eni-controller";

/// What the controller reads from and writes to Kubernetes.
#[async_trait]
pub trait Cluster: Send + Sync + 'static {
    /// NodeENI changes, starting with a [`Change::Resync`] of every NodeENI. The stream
    /// never ends and never fails: watch errors are retried with backoff inside and end
    /// in another resync.
    fn nodeenis(&self) -> BoxStream<'static, Change<NodeENI>>;

    /// Node changes, like [`Cluster::nodeenis`]; each view keeps only the labels whose
    /// keys are in `labels` (dropped as each Node is read, before a listing is gathered:
    /// an EKS Node has about twenty labels, a selector names one or two).
    fn nodes(&self, labels: &BTreeSet<String>) -> BoxStream<'static, Change<NodeView>>;

    /// ENINode changes, like [`Cluster::nodeenis`].
    fn eninodes(&self) -> BoxStream<'static, Change<ENINodeView>>;

    /// Sets the entries the NodeENI `nodeeni` has on node `node`'s ENINode to
    /// `interfaces`, leaving other NodeENIs' entries alone; creates the object, owned by
    /// the Node (`node_uid`), if it does not exist. With no `interfaces` it withdraws the
    /// NodeENI's entries, keeping the owner, and never creates the object.
    async fn apply_interfaces(
        &self,
        node: &str,
        node_uid: Option<&str>,
        nodeeni: &str,
        interfaces: &[NodeInterface],
    ) -> Result<(), ClusterError>;

    /// Replaces the NodeENI's status (status subresource).
    async fn patch_status(&self, name: &str, status: &NodeENIStatus) -> Result<(), ClusterError>;

    /// Adds [`FINALIZER`] if it is not there yet.
    async fn add_finalizer(&self, name: &str) -> Result<(), ClusterError>;

    /// Removes [`FINALIZER`] and [`LEGACY_FINALIZER`].
    async fn remove_finalizer(&self, name: &str) -> Result<(), ClusterError>;

    /// Records a Kubernetes Event on the NodeENI `nodeeni` (its name and UID), or counts a
    /// repeat of one in its series.
    async fn publish(&self, nodeeni: &ObjectRef, notice: Notice) -> Result<(), ClusterError>;

    /// Puts the NodeENI `uid` (named `name`) on the ownership ledger (see
    /// [`crate::k8s::ledger`]), creating the ledger if need be. Idempotent.
    async fn record_owner(&self, uid: &str, name: &str) -> Result<(), ClusterError>;

    /// Every NodeENI UID on the ownership ledger.
    async fn recorded_owners(&self) -> Result<HashSet<String>, ClusterError>;

    /// Takes `uids` off the ownership ledger.
    async fn forget_owners(&self, uids: &[String]) -> Result<(), ClusterError>;

    /// Writes node `node`'s `networking.k8s.aws/ENIsReady` condition (status
    /// subresource), leaving its other conditions alone; `transition`: its status
    /// differs from the one the node showed (its `lastTransitionTime` is now).
    async fn set_node_condition(
        &self,
        node: &str,
        condition: &NodeCondition,
        transition: bool,
    ) -> Result<(), ClusterError>;

    /// Removes the taint `taint` from node `node`, whose taints showed it at position
    /// `index`; [`ClusterError::Conflict`] if the node's taints changed since (nothing is
    /// removed then).
    async fn remove_node_taint(
        &self,
        node: &str,
        taint: &TaintKey,
        index: usize,
    ) -> Result<(), ClusterError>;

    /// Records a Kubernetes Event on the Node `node` (its name and UID).
    async fn publish_on_node(&self, node: &ObjectRef, notice: Notice) -> Result<(), ClusterError>;
}
