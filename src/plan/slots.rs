//! Which slots should exist: one per matching node and per subnet in the node's zone.
//!
//! A slot is one ENI of one NodeENI on one EC2 instance in one subnet. Its identity is
//! (node, instance, subnet): a node whose instance was replaced gets new slots.

use std::collections::BTreeMap;

use super::selector::matches;

/// The identity of a slot within one NodeENI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub struct SlotKey {
    /// Node name.
    pub node: String,
    /// EC2 instance behind the node.
    pub instance_id: String,
    pub subnet_id: String,
}

impl SlotKey {
    /// The smallest key of `node`'s slots (keys sort by node first).
    pub fn first_of(node: &str) -> Self {
        SlotKey {
            node: node.to_string(),
            instance_id: String::new(),
            subnet_id: String::new(),
        }
    }
}

impl std::fmt::Display for SlotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.node, self.instance_id, self.subnet_id)
    }
}

/// A node, as planning needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct NodeInput {
    /// Node name.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Instance ID from the provider ID, if the node has one.
    pub instance_id: Option<String>,
    /// Availability Zone, if known.
    pub zone: Option<String>,
}

/// A resolved subnet, as planning needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetInput {
    /// Subnet ID.
    pub id: String,
    /// Its Availability Zone.
    pub zone: String,
    /// Its VPC: only instances in it get an ENI of it.
    pub vpc: String,
    /// Its CIDR (reported in status).
    pub cidr: String,
}

/// A NodeENI spec after subnet and security group names were resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSpec {
    /// Node selector.
    pub selector: BTreeMap<String, String>,
    /// Subnets in spec order, de-duplicated.
    pub subnets: Vec<SubnetInput>,
    /// Security group IDs, sorted and de-duplicated.
    pub security_groups: Vec<String>,
    /// `deviceIndex`: the index of a node's first slot.
    pub base_device_index: u32,
    /// `networkCardIndex`.
    pub network_card: u32,
    /// `deleteOnTermination`.
    pub delete_on_termination: bool,
    /// ENI description.
    pub description: String,
}

/// A slot that should exist, with everything needed to create and attach its ENI.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct DesiredSlot {
    pub key: SlotKey,
    /// Zone of the node (and subnet).
    pub zone: String,
    /// The subnet's VPC: the instance must be in it.
    pub vpc: String,
    pub subnet_cidr: String,
    /// Position among this node's subnets (those in its zone), from 0.
    pub position: u32,
    /// `base_device_index + position`: where the ENI goes when nothing else is there.
    pub preferred_device_index: u32,
    pub network_card: u32,
    /// Security group IDs, sorted.
    pub security_groups: Vec<String>,
    /// deleteOnTermination.
    pub delete_on_termination: bool,
    /// ENI description.
    pub description: String,
}

impl AsRef<DesiredSlot> for DesiredSlot {
    fn as_ref(&self) -> &DesiredSlot {
        self
    }
}

/// Why a matching node gets no ENI in a subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Skip {
    /// The node has no AWS provider ID (yet): no instance to attach to.
    NoInstance {
        /// Node name.
        node: String,
    },
    /// The subnet is in another zone than the node; EC2 would refuse the attachment.
    ZoneMismatch {
        /// Node name.
        node: String,
        node_zone: String,
        subnet: String,
        subnet_zone: String,
    },
    /// None of the subnets is in the node's zone.
    NoSubnetInZone {
        /// Node name.
        node: String,
        node_zone: String,
    },
}

impl Skip {
    /// The node skipped.
    pub fn node(&self) -> &str {
        match self {
            Skip::NoInstance { node }
            | Skip::ZoneMismatch { node, .. }
            | Skip::NoSubnetInZone { node, .. } => node,
        }
    }
}

/// The desired slots of one NodeENI, and the matching nodes that cannot have some.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotPlan {
    /// Slots that should exist.
    pub slots: BTreeMap<SlotKey, DesiredSlot>,
    /// Reported, never attempted.
    pub skipped: Vec<Skip>,
}

/// Plans the slots of `spec` over `nodes` (any nodes; non-matching ones are ignored).
///
/// A node's position count starts at 0 for the first subnet *in its zone*, so a subnet
/// name carried by one subnet per zone puts every node's ENI at `deviceIndex`. A node
/// whose zone is unknown is planned against every subnet (EC2 will tell).
pub fn plan_slots<'a>(
    spec: &ResolvedSpec,
    nodes: impl IntoIterator<Item = &'a NodeInput>,
) -> SlotPlan {
    let mut out = SlotPlan::default();
    for node in nodes {
        if !matches(&spec.selector, &node.labels) {
            continue;
        }
        let Some(instance_id) = &node.instance_id else {
            out.skipped.push(Skip::NoInstance {
                node: node.name.clone(),
            });
            continue;
        };
        let mut position = 0u32;
        for subnet in &spec.subnets {
            if let Some(zone) = &node.zone
                && *zone != subnet.zone
            {
                out.skipped.push(Skip::ZoneMismatch {
                    node: node.name.clone(),
                    node_zone: zone.clone(),
                    subnet: subnet.id.clone(),
                    subnet_zone: subnet.zone.clone(),
                });
                continue;
            }
            let key = SlotKey {
                node: node.name.clone(),
                instance_id: instance_id.clone(),
                subnet_id: subnet.id.clone(),
            };
            out.slots.insert(
                key.clone(),
                DesiredSlot {
                    key,
                    zone: subnet.zone.clone(),
                    vpc: subnet.vpc.clone(),
                    subnet_cidr: subnet.cidr.clone(),
                    position,
                    preferred_device_index: spec.base_device_index + position,
                    network_card: spec.network_card,
                    security_groups: spec.security_groups.clone(),
                    delete_on_termination: spec.delete_on_termination,
                    description: spec.description.clone(),
                },
            );
            position += 1;
        }
        if position == 0
            && let Some(zone) = &node.zone
            && !spec.subnets.is_empty()
        {
            out.skipped
                .retain(|s| !matches!(s, Skip::ZoneMismatch { node: n, .. } if *n == node.name));
            out.skipped.push(Skip::NoSubnetInZone {
                node: node.name.clone(),
                node_zone: zone.clone(),
            });
        }
    }
    out
}
