//! The Kubernetes side: the `NodeENI` custom resource and, later, the cluster access the
//! actors use. Knows nothing of EC2.

pub mod crd;

pub use crd::{ENIAttachment, NodeENI, NodeENISpec, NodeENIStatus};
