//! Ownership and idempotency: how the controller recognises its own ENIs and makes a
//! retried or crashed create harmless.
//!
//! Three mechanisms work together so that a crash between any two EC2 calls neither
//! leaks nor duplicates an ENI:
//! - every ENI is tagged at creation (atomically, in the create call) with the cluster,
//!   the NodeENI, the node and instance, the subnet and the slot, so the next controller
//!   can find and adopt it;
//! - the create call carries a [`ClientToken`] derived from the slot, so repeating a
//!   create whose answer was lost returns the same ENI instead of a second one;
//! - anything not carrying this cluster's tags is never touched ([`Ownership::of`]).
//!
//! "This cluster" is a [`ClusterIdentity`]: the name users give it (`CLUSTER_NAME`,
//! readable, and easily the same in two clusters: the manifests ship an example value)
//! and an identity that cannot collide, the UID of the cluster's `kube-system`
//! namespace, read at start. Both are tagged on every ENI. An ENI with this cluster's
//! name and another identity belongs to a namesake cluster and is never touched; one
//! with the name and no identity was made before identity tags existed (or tagged by
//! hand): its own NodeENI, found by UID, may still manage it, but the account-wide
//! orphan sweep never deletes it.

use super::client_token::ClientToken;
use super::types::{EniFilter, Tags};

pub mod legacy;

/// Tag carrying the owning cluster's name; the ownership key (IAM policies can require it).
pub const TAG_CLUSTER: &str = "networking.k8s.aws/cluster";
/// Tag carrying the owning cluster's identity (the UID of its `kube-system` namespace):
/// two clusters of the same name never share it.
pub const TAG_CLUSTER_ID: &str = "networking.k8s.aws/cluster-id";
/// Tag carrying the NodeENI's name.
pub const TAG_NODEENI: &str = "networking.k8s.aws/nodeeni";
/// Tag carrying the NodeENI's UID (names can be reused; UIDs cannot).
pub const TAG_NODEENI_UID: &str = "networking.k8s.aws/nodeeni-uid";
/// Tag carrying the node's name.
pub const TAG_NODE: &str = "networking.k8s.aws/node";
/// Tag carrying the EC2 instance ID the ENI was made for.
pub const TAG_INSTANCE: &str = "networking.k8s.aws/instance-id";
/// Tag carrying the subnet ID.
pub const TAG_SUBNET: &str = "networking.k8s.aws/subnet-id";
/// Tag carrying the slot: the subnet's position in the NodeENI spec when created.
pub const TAG_SLOT: &str = "networking.k8s.aws/slot";
/// Tag carrying the device index the ENI was placed for (`deviceIndex` + position when
/// it was attached). An ENI stepped past an index someone else held keeps its place
/// unless the spec changes what it should be placed for: attached interfaces never move
/// just because another ENI went away.
pub const TAG_DEVICE_INDEX: &str = "networking.k8s.aws/device-index";
/// Tag carrying the NodeENI's `deviceIndex` when the ENI was placed (or adopted). Only a
/// change of it moves an attached ENI: a subnet added, removed or reordered in the spec
/// shifts the preferred index of the others, and moving a live interface for that would
/// rename it under the workloads using it. ENIs placed before this tag existed are judged
/// by [`TAG_DEVICE_INDEX`] alone.
pub const TAG_BASE_DEVICE_INDEX: &str = "networking.k8s.aws/base-device-index";
/// Tag carrying the incarnation: how many ENIs this slot had before this one.
pub const TAG_INCARNATION: &str = "networking.k8s.aws/incarnation";
/// Tag carrying the creation time (RFC 3339), for the orphan sweep's grace period.
pub const TAG_CREATED_AT: &str = "networking.k8s.aws/created-at";
/// Tag that tells the AWS VPC CNI to leave the ENI alone.
pub const TAG_NO_MANAGE: &str = "node.k8s.amazonaws.com/no_manage";

/// The Go controller's marker tag and value.
pub const LEGACY_TAG_MANAGED_BY: &str = "kubernetes.io/cluster/managed-by";
/// The Go controller's marker value.
pub const LEGACY_MANAGED_BY_VALUE: &str = "nodeeni-controller";
/// The Go controller's NodeENI name tag.
pub const LEGACY_TAG_NODEENI: &str = "NodeENI";
/// The Go controller's node name tag.
pub const LEGACY_TAG_NODE: &str = "Node";
/// The Go controller's subnet tag.
pub const LEGACY_TAG_SUBNET: &str = "SubnetID";

/// The tags that record where an ENI was placed: the preferred index `device_index`
/// and the NodeENI's `deviceIndex` then (`base`). Written with the create, on adoption and
/// when an ENI is re-placed; the only tags written again on an ENI this cluster owns.
pub fn intent_tags(device_index: u32, base: u32) -> Tags {
    [
        (TAG_DEVICE_INDEX.to_string(), device_index.to_string()),
        (TAG_BASE_DEVICE_INDEX.to_string(), base.to_string()),
    ]
    .into()
}

/// Who "this cluster" is, for ownership.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClusterIdentity {
    /// The cluster name (`CLUSTER_NAME`): the value of [`TAG_CLUSTER`].
    pub name: String,
    /// The identity that cannot collide (the `kube-system` namespace's UID): the value
    /// of [`TAG_CLUSTER_ID`].
    pub id: String,
}

impl ClusterIdentity {
    /// An identity from its two parts.
    pub fn new(name: impl Into<String>, id: impl Into<String>) -> Self {
        ClusterIdentity {
            name: name.into(),
            id: id.into(),
        }
    }
}

/// Everything that identifies one slot (one ENI of one NodeENI on one instance in one
/// subnet) and so one owned ENI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct SlotOwner {
    /// The owning cluster.
    pub cluster: ClusterIdentity,
    pub nodeeni_name: String,
    pub nodeeni_uid: String,
    pub node_name: String,
    /// EC2 instance behind the node; a replaced instance is a new slot.
    pub instance_id: String,
    pub subnet_id: String,
    /// The subnet's position in the spec (informational; see [`SlotOwner::client_token`]).
    pub slot: u32,
}

impl SlotOwner {
    /// The deterministic ClientToken of this slot's `incarnation`-th ENI.
    ///
    /// Derived from the cluster name, the NodeENI UID, the instance, the subnet and the
    /// incarnation. The incarnation counts the ENIs this slot had before (a label removed
    /// and added again makes a new ENI, which needs a fresh token because EC2 answers a
    /// reused token with the original, since deleted, ENI). The subnet's position is left
    /// out on purpose: reordering subnets in the spec moves ENIs, it does not replace them.
    /// The cluster identity is left out too: the NodeENI UID already tells two clusters
    /// apart, and tokens stay what they were before identity tags existed (a create
    /// retried across the upgrade still finds its ENI).
    pub fn client_token(&self, incarnation: u32) -> ClientToken {
        ClientToken::derived(&[
            &self.cluster.name,
            &self.nodeeni_uid,
            &self.instance_id,
            &self.subnet_id,
            &incarnation.to_string(),
        ])
    }

    /// Tags for this slot's ENI, applied in the create call itself. `device_index` is
    /// the preferred index the ENI is created for; `created_at` is an RFC 3339 time that
    /// must stay the same when a create is retried (the tags are part of the request, and
    /// a ClientToken reused with different tags is refused).
    pub fn tags(&self, incarnation: u32, device_index: u32, created_at: &str) -> Tags {
        let subnet_suffix = self
            .subnet_id
            .get(self.subnet_id.len().saturating_sub(8)..)
            .unwrap_or(&self.subnet_id);
        let mut name = format!(
            "nodeeni-{}-{}-{}",
            self.nodeeni_name, self.node_name, subnet_suffix
        );
        // EC2 tag values are limited to 256 characters.
        name.truncate(256);
        [
            ("Name", name),
            (TAG_CLUSTER, self.cluster.name.clone()),
            (TAG_CLUSTER_ID, self.cluster.id.clone()),
            (TAG_NODEENI, self.nodeeni_name.clone()),
            (TAG_NODEENI_UID, self.nodeeni_uid.clone()),
            (TAG_NODE, self.node_name.clone()),
            (TAG_INSTANCE, self.instance_id.clone()),
            (TAG_SUBNET, self.subnet_id.clone()),
            (TAG_SLOT, self.slot.to_string()),
            (TAG_INCARNATION, incarnation.to_string()),
            (TAG_DEVICE_INDEX, device_index.to_string()),
            (TAG_CREATED_AT, created_at.to_string()),
            (TAG_NO_MANAGE, "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Finds ENIs made for this slot (any incarnation).
    pub fn filter(&self) -> EniFilter {
        owned_by(&self.cluster.name)
            .and_tag(TAG_NODEENI_UID, &self.nodeeni_uid)
            .and_tag(TAG_INSTANCE, &self.instance_id)
            .and_tag(TAG_SUBNET, &self.subnet_id)
    }
}

/// Every ENI tagged with the cluster name `cluster` (whatever its identity).
pub fn owned_by(cluster: &str) -> EniFilter {
    EniFilter::tagged(TAG_CLUSTER, cluster)
}

/// Every ENI tagged with the cluster name `cluster` for one NodeENI.
pub fn owned_by_nodeeni(cluster: &str, nodeeni_uid: &str) -> EniFilter {
    owned_by(cluster).and_tag(TAG_NODEENI_UID, nodeeni_uid)
}

/// Every ENI made by the Go controller (any cluster: it did not record one).
pub fn made_by_go_controller() -> EniFilter {
    EniFilter::tagged(LEGACY_TAG_MANAGED_BY, LEGACY_MANAGED_BY_VALUE)
}

/// The ownership tags read back from an ENI owned by this cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct OwnedEni {
    pub nodeeni_name: String,
    pub nodeeni_uid: String,
    pub node_name: String,
    /// Instance ID it was made for.
    pub instance_id: String,
    pub subnet_id: String,
    /// Slot (subnet position at creation), if readable.
    pub slot: Option<u32>,
    /// Incarnation, if readable.
    pub incarnation: Option<u32>,
    /// Preferred device index it was placed for, if readable.
    pub device_index: Option<u32>,
    /// The NodeENI's `deviceIndex` when it was placed, if tagged.
    pub base_device_index: Option<u32>,
    /// Creation time as tagged (RFC 3339), if present.
    pub created_at: Option<String>,
}

/// Who an ENI belongs to, judged from its tags alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Made by this cluster's controller (name and identity match): ours to manage and
    /// delete.
    Owned(OwnedEni),
    /// This cluster's name but no identity tag: made before identity tags existed, or
    /// tagged by hand. Its NodeENI (matched by UID, which no other cluster has) may manage
    /// it; the orphan sweep never deletes it.
    Unverified(OwnedEni),
    /// This cluster's name with another identity: another cluster of the same name made
    /// it. Never touched; reported.
    Namesake {
        /// The identity it carries.
        cluster_id: String,
        /// What its tags say.
        eni: OwnedEni,
    },
    /// Made by this project for another cluster: never touched.
    OtherCluster(String),
    /// Made by the Go controller: may be adopted for a matching slot, never swept.
    LegacyGo {
        /// Its `NodeENI` tag.
        nodeeni_name: String,
        /// Its `Node` tag.
        node_name: String,
        /// Its `SubnetID` tag, when present.
        subnet_id: Option<String>,
    },
    /// Anything else (the VPC CNI's, the primary ENI, hand-made ones): never touched.
    Foreign,
}

impl Ownership {
    /// Classifies an ENI by its tags for the controller of `cluster`.
    pub fn of(tags: &Tags, cluster: &ClusterIdentity) -> Ownership {
        if let Some(owner) = tags.get(TAG_CLUSTER) {
            if *owner != cluster.name {
                return Ownership::OtherCluster(owner.clone());
            }
            let get = |k: &str| tags.get(k).cloned();
            return match (
                get(TAG_NODEENI),
                get(TAG_NODEENI_UID),
                get(TAG_NODE),
                get(TAG_INSTANCE),
                get(TAG_SUBNET),
            ) {
                (
                    Some(nodeeni_name),
                    Some(nodeeni_uid),
                    Some(node_name),
                    Some(instance_id),
                    Some(subnet_id),
                ) => {
                    let eni = OwnedEni {
                        nodeeni_name,
                        nodeeni_uid,
                        node_name,
                        instance_id,
                        subnet_id,
                        slot: get(TAG_SLOT).and_then(|s| s.parse().ok()),
                        incarnation: get(TAG_INCARNATION).and_then(|s| s.parse().ok()),
                        device_index: get(TAG_DEVICE_INDEX).and_then(|s| s.parse().ok()),
                        base_device_index: get(TAG_BASE_DEVICE_INDEX).and_then(|s| s.parse().ok()),
                        created_at: get(TAG_CREATED_AT),
                    };
                    match get(TAG_CLUSTER_ID) {
                        Some(id) if id == cluster.id => Ownership::Owned(eni),
                        Some(cluster_id) => Ownership::Namesake { cluster_id, eni },
                        None => Ownership::Unverified(eni),
                    }
                }
                // The cluster tag without the rest is not something this project writes:
                // someone copied the tag by hand. Treat it as not ours.
                _ => Ownership::Foreign,
            };
        }
        if tags.get(LEGACY_TAG_MANAGED_BY).map(String::as_str) == Some(LEGACY_MANAGED_BY_VALUE)
            && let (Some(nodeeni_name), Some(node_name)) =
                (tags.get(LEGACY_TAG_NODEENI), tags.get(LEGACY_TAG_NODE))
        {
            return Ownership::LegacyGo {
                nodeeni_name: nodeeni_name.clone(),
                node_name: node_name.clone(),
                subnet_id: tags.get(LEGACY_TAG_SUBNET).cloned(),
            };
        }
        Ownership::Foreign
    }

    /// The tags of an ENI its own NodeENI may manage: [`Ownership::Owned`] or
    /// [`Ownership::Unverified`] (the caller looked it up by NodeENI UID).
    pub fn managed(&self) -> Option<&OwnedEni> {
        match self {
            Ownership::Owned(o) | Ownership::Unverified(o) => Some(o),
            _ => None,
        }
    }

    /// The tags of an ENI the NodeENI whose UID is `uid` manages: this cluster's (as
    /// [`Ownership::managed`]), or one of this cluster's name and another identity that
    /// carries that UID. A NodeENI UID is this cluster's alone, so such an ENI was made
    /// by this cluster before its identity changed (`CLUSTER_ID` set or changed): it
    /// stays its NodeENI's, and only the account-wide orphan sweep, which has no UID to
    /// go by, leaves it alone.
    pub fn managed_by(&self, uid: &str) -> Option<&OwnedEni> {
        match self {
            Ownership::Owned(o) | Ownership::Unverified(o) => Some(o),
            Ownership::Namesake { eni, .. } if eni.nodeeni_uid == uid => Some(eni),
            _ => None,
        }
    }
}

/// Whether `tags` claim an ENI for the NodeENI `uid` of the cluster named `cluster`
/// (its cluster name and NodeENI UID tags), whether or not the rest of its ownership
/// tags are there: one that claims it but is not [`Ownership::managed_by`] it lost a tag
/// (removed by hand or by automation) and is reported, never touched, never replaced.
pub fn claims(tags: &Tags, cluster: &str, uid: &str) -> bool {
    tags.get(TAG_CLUSTER).is_some_and(|c| c == cluster)
        && tags.get(TAG_NODEENI_UID).is_some_and(|u| u == uid)
}

#[cfg(test)]
mod tests;
