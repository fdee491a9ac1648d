//! The Kubernetes side: the `NodeENI` custom resource, nodes, the cluster port with its
//! `kube` and in-memory implementations, status building, and leader election. Knows
//! nothing of EC2.

pub mod cluster;
pub mod crd;
pub mod dpdk;
#[cfg(feature = "controller")]
pub mod election;
pub mod eninode;
pub mod kube_cluster;
#[cfg(feature = "controller")]
pub mod lease;
pub mod ledger;
pub mod memory;
pub mod node;
pub mod node_writes;
pub mod status;
pub mod watch;
pub mod writes;

pub use cluster::{
    About, AgentReport, Change, Cluster, ClusterError, ENINodeView, FINALIZER, Notice, ObjectRef,
};
pub use crd::{
    ConnectionTrackingSpec, ENIAttachment, EnaSrdSpec, NodeENI, NodeENISpec, NodeENIStatus,
};
pub use eninode::{
    DpdkReport, DpdkRequest, ENINode, ENINodeSpec, ENINodeStatus, InterfaceReport, NodeInterface,
};
pub use node::NodeView;
