//! Nodes as the controller sees them: name, UID, labels, EC2 instance and zone.
//!
//! A real Node object is large (status with images, conditions, addresses; managed
//! fields). With thousands of nodes that is most of a controller's memory. Nodes are
//! therefore deserialised into [`SlimNode`], which declares only the metadata it reads
//! `spec.providerID`, the taints' keys and effects and this controller's own condition
//! (everything else in the JSON, managed fields and the rest of the status included, is
//! skipped while parsing or dropped at once), and kept as a [`NodeView`].

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Resource;
use serde::{Deserialize, Deserializer};

/// The zone label set by the cloud provider.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// The deprecated zone label, still set on older clusters.
pub const LEGACY_ZONE_LABEL: &str = "failure-domain.beta.kubernetes.io/zone";

/// The condition type the controller writes on the nodes NodeENIs select.
pub const ENIS_READY: &str = "networking.k8s.aws/ENIsReady";

/// A node's `networking.k8s.aws/ENIsReady` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCondition {
    /// `True` or `False`.
    pub ready: bool,
    /// CamelCase reason.
    pub reason: String,
    /// What holds the node back, or what is ready.
    pub message: String,
}

/// The parts of a Node the controller reads; the rest of the JSON is never allocated.
#[derive(Resource, Deserialize, Clone, Debug)]
#[resource(inherit = "Node")]
pub struct SlimNode {
    /// Object metadata: name, UID, resourceVersion, labels and deletion timestamp;
    /// nothing else is kept.
    #[serde(deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    /// `providerID` and the taints.
    #[serde(default)]
    pub spec: Option<SlimNodeSpec>,
    /// Only the `ENIsReady` condition.
    #[serde(default)]
    pub status: Option<SlimNodeStatus>,
}

/// The metadata fields a node view needs; serde skips the rest (notably managedFields).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SlimMeta {
    name: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
}

fn slim_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let m = SlimMeta::deserialize(d)?;
    Ok(ObjectMeta {
        name: m.name,
        uid: m.uid,
        resource_version: m.resource_version,
        labels: m.labels,
        creation_timestamp: m.creation_timestamp,
        deletion_timestamp: m.deletion_timestamp,
        ..ObjectMeta::default()
    })
}

/// `Node.spec` reduced to the provider ID and the taints.
#[derive(Deserialize, Clone, Debug, Default)]
pub struct SlimNodeSpec {
    /// `aws:///<zone>/<instance-id>` on EKS and other AWS clusters.
    #[serde(rename = "providerID", default)]
    pub provider_id: Option<String>,
    /// The taints, in the Node's order (a removal names its position).
    #[serde(default)]
    pub taints: Option<Vec<TaintKey>>,
}

/// A taint's key and effect (its value and time are not kept).
#[derive(Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct TaintKey {
    /// Its key.
    #[serde(default)]
    pub key: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    #[serde(default)]
    pub effect: String,
}

/// `Node.status` reduced to this controller's condition.
#[derive(Deserialize, Clone, Debug, Default)]
pub struct SlimNodeStatus {
    /// The `networking.k8s.aws/ENIsReady` condition, if the Node has one.
    #[serde(default, rename = "conditions", deserialize_with = "our_condition")]
    pub enis_ready: Option<NodeCondition>,
}

#[derive(Deserialize)]
struct AnyCondition {
    #[serde(rename = "type", default)]
    type_: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

fn our_condition<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NodeCondition>, D::Error> {
    let all: Option<Vec<AnyCondition>> = Option::deserialize(d)?;
    Ok(all
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == ENIS_READY)
        .map(|c| NodeCondition {
            ready: c.status == "True",
            reason: c.reason.unwrap_or_default(),
            message: c.message.unwrap_or_default(),
        }))
}

/// A node as planning needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    /// Node name.
    pub name: String,
    /// Node UID (a re-registered node gets a new one).
    pub uid: String,
    /// Labels, matched against `nodeSelector`.
    pub labels: BTreeMap<String, String>,
    /// EC2 instance behind the node, from `spec.providerID`.
    pub instance_id: Option<String>,
    /// Availability Zone, from the provider ID or the zone labels.
    pub zone: Option<String>,
    /// Whether the node is being deleted.
    pub deleting: bool,
    /// When the Node object was created (of several Nodes naming one instance, the
    /// newest gets its ENIs).
    pub created: Option<jiff::Timestamp>,
    /// What the node agent reports per MAC address (interface up with its MTU applied),
    /// from the node's ENINode: the root fills it in, the Node object has none.
    pub configured_macs: BTreeMap<String, bool>,
    /// Its taints' keys and effects, in order.
    pub taints: Vec<TaintKey>,
    /// Its `networking.k8s.aws/ENIsReady` condition.
    pub enis_ready: Option<NodeCondition>,
}

/// Splits an AWS provider ID (`aws:///us-east-1a/i-0123…`, also `aws://us-east-1a/i-…`)
/// into its zone (when present) and instance ID.
pub fn parse_provider_id(provider_id: &str) -> Option<(Option<String>, String)> {
    let rest = provider_id.strip_prefix("aws://")?;
    let mut parts = rest
        .trim_start_matches('/')
        .split('/')
        .filter(|p| !p.is_empty());
    let parts: Vec<&str> = parts.by_ref().collect();
    // EC2 instance IDs are `i-` and 8 or 17 hex digits; anything else would fail every
    // DescribeInstances batch it joined (`InvalidInstanceID.Malformed`).
    let instance = parts
        .last()
        .filter(|p| {
            p.strip_prefix("i-").is_some_and(|h| {
                !h.is_empty() && h.len() <= 17 && h.bytes().all(|b| b.is_ascii_hexdigit())
            })
        })?
        .to_string();
    let zone = (parts.len() >= 2).then(|| parts[parts.len() - 2].to_string());
    Some((zone, instance))
}

impl NodeView {
    /// Builds the view from the slim object.
    pub fn from_slim(node: SlimNode) -> Self {
        let meta = node.metadata;
        let labels = meta.labels.unwrap_or_default();
        let (provider_id, taints) = node
            .spec
            .map(|s| (s.provider_id, s.taints.unwrap_or_default()))
            .unwrap_or_default();
        let parsed = provider_id.as_deref().and_then(parse_provider_id);
        let (provider_zone, instance_id) = match parsed {
            Some((zone, instance)) => (zone, Some(instance)),
            None => (None, None),
        };
        let zone = provider_zone.or_else(|| {
            labels
                .get(ZONE_LABEL)
                .or_else(|| labels.get(LEGACY_ZONE_LABEL))
                .cloned()
        });
        NodeView {
            name: meta.name.unwrap_or_default(),
            uid: meta.uid.unwrap_or_default(),
            labels,
            instance_id,
            zone,
            deleting: meta.deletion_timestamp.is_some(),
            created: meta.creation_timestamp.map(|t| t.0),
            configured_macs: BTreeMap::new(),
            taints,
            enis_ready: node.status.and_then(|s| s.enis_ready),
        }
    }

    /// The view with only the labels whose keys are in `keys`.
    pub fn keeping(mut self, keys: &BTreeSet<String>) -> Self {
        self.labels.retain(|k, _| keys.contains(k));
        self
    }

    /// Builds the view from a full Node (tests, the in-memory cluster).
    pub fn from_node(node: &Node) -> Self {
        Self::from_slim(SlimNode {
            metadata: node.metadata.clone(),
            spec: node.spec.as_ref().map(|s| SlimNodeSpec {
                provider_id: s.provider_id.clone(),
                taints: s.taints.as_ref().map(|list| {
                    list.iter()
                        .map(|t| TaintKey {
                            key: t.key.clone(),
                            effect: t.effect.clone(),
                        })
                        .collect()
                }),
            }),
            status: node.status.as_ref().map(|s| SlimNodeStatus {
                enis_ready: s
                    .conditions
                    .iter()
                    .flatten()
                    .find(|c| c.type_ == ENIS_READY)
                    .map(|c| NodeCondition {
                        ready: c.status == "True",
                        reason: c.reason.clone().unwrap_or_default(),
                        message: c.message.clone().unwrap_or_default(),
                    }),
            }),
        })
    }
}

#[cfg(test)]
mod tests;
