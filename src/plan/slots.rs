//! Which slots should exist: one per matching node and per subnet in the node's zone.
//!
//! A slot is one ENI of one NodeENI on one EC2 instance in one subnet. Its key is
//! (node, instance, subnet): a node whose instance was replaced gets new slots. Its ENI
//! belongs to its *place*, (instance, subnet): the ClientToken and the ownership tags a
//! slot looks its ENI up by name the place, not the node, so two Node objects on one
//! instance share one slot (the newest Node's), and a slot that passes from one Node
//! object to another keeps its ENI.

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

impl SlotKey {
    /// Where the slot's ENI lives: (instance, subnet).
    pub fn place(&self) -> Place {
        Place {
            instance_id: self.instance_id.clone(),
            subnet_id: self.subnet_id.clone(),
        }
    }
}

/// Where a slot's ENI lives: one instance, one subnet (see the module's doc).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub struct Place {
    pub instance_id: String,
    pub subnet_id: String,
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
    /// The VPC of its instance, if known.
    pub vpc: Option<String>,
    /// When the Node object was created (the newest of several on one instance gets
    /// the slot).
    pub created: Option<jiff::Timestamp>,
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
    /// The security group IDs of ENIs in it (named groups resolve in its VPC), sorted.
    pub security_groups: Vec<String>,
    /// Whether it has an IPv6 CIDR block.
    pub ipv6: bool,
}

/// A NodeENI spec after subnet and security group names were resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSpec {
    /// Node selector.
    pub selector: BTreeMap<String, String>,
    /// Subnets in spec order, de-duplicated.
    pub subnets: Vec<SubnetInput>,
    /// Whether the subnets were named (resolved in each VPC the nodes' instances are
    /// in): a node then gets only its own VPC's, and waits until its VPC is known.
    pub by_vpc: bool,
    /// `deviceIndex`: the index of a node's first slot.
    pub base_device_index: u32,
    /// `networkCardIndex`.
    pub network_card: u32,
    /// `deleteOnTermination`.
    pub delete_on_termination: bool,
    /// ENI description.
    pub description: String,
    /// Extra tags for the ENIs it creates (the controller's and the NodeENI's, checked).
    pub tags: std::sync::Arc<crate::plan::extra_tags::TagMap>,
    /// `secondaryIPv4Count`: secondary private IPv4 addresses on each ENI (`None`: left
    /// as they are).
    pub secondary_ipv4: Option<u32>,
    /// `ipv4PrefixCount`: /28 prefixes on each ENI (`None`: left as they are).
    pub ipv4_prefixes: Option<u32>,
    /// `ipv6AddressCount`: IPv6 addresses on each ENI (`None`: left as they are).
    pub ipv6_addresses: Option<u32>,
    /// `ipv6PrefixCount`: /80 IPv6 prefixes on each ENI (`None`: left as they are).
    pub ipv6_prefixes: Option<u32>,
    /// `sourceDestCheck` (`None`: left as it is).
    pub source_dest_check: Option<bool>,
    /// `enaSrd`, given at attach (`None`: EC2's default).
    pub ena_srd: Option<EnaSrd>,
    /// `enaQueueCount`, given at attach (`None`: the type's default).
    pub ena_queue_count: Option<u32>,
    /// `connectionTracking`, given at create and converged (`None`: left as it is).
    pub connection_tracking: Option<ConnectionTracking>,
}

/// ENA Express (SRD) on an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnaSrd {
    /// SRD for TCP.
    pub enabled: bool,
    /// SRD for UDP too (needs `enabled`).
    pub udp: bool,
}

/// Connection tracking timeouts of an ENI, in seconds; `None`: not set (EC2's default,
/// `plan::attributes::CONNTRACK_DEFAULTS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ConnectionTracking {
    /// Established TCP flows (60 to 432,000).
    pub tcp_established: Option<u32>,
    /// UDP flows seen in both directions more than once (60 to 180).
    pub udp_stream: Option<u32>,
    /// Other UDP flows (30 to 60).
    pub udp: Option<u32>,
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
    /// Whether its subnet has an IPv6 block.
    pub subnet_ipv6: bool,
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
    /// Extra tags for the ENIs it creates (the controller's and the NodeENI's, checked).
    pub tags: std::sync::Arc<crate::plan::extra_tags::TagMap>,
    /// `secondaryIPv4Count`: secondary private IPv4 addresses on each ENI (`None`: left
    /// as they are).
    pub secondary_ipv4: Option<u32>,
    /// `ipv4PrefixCount`: /28 prefixes on each ENI (`None`: left as they are).
    pub ipv4_prefixes: Option<u32>,
    /// `ipv6AddressCount`: IPv6 addresses on each ENI (`None`: left as they are).
    pub ipv6_addresses: Option<u32>,
    /// `ipv6PrefixCount`: /80 IPv6 prefixes on each ENI (`None`: left as they are).
    pub ipv6_prefixes: Option<u32>,
    /// `sourceDestCheck` (`None`: left as it is).
    pub source_dest_check: Option<bool>,
    /// `enaSrd`, given at attach (`None`: EC2's default).
    pub ena_srd: Option<EnaSrd>,
    /// `enaQueueCount`, given at attach (`None`: the type's default).
    pub ena_queue_count: Option<u32>,
    /// `connectionTracking`, given at create and converged (`None`: left as it is).
    pub connection_tracking: Option<ConnectionTracking>,
}

impl DesiredSlot {
    /// The NodeENI's `deviceIndex` (the first index its slots go to).
    pub fn base_device_index(&self) -> u32 {
        self.preferred_device_index.saturating_sub(self.position)
    }
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
    /// None of the subnets is in the node's zone (EC2 refuses an attachment across
    /// zones). Subnets of other zones are not reported for a node that has one in its
    /// own: they serve the nodes of their zones.
    NoSubnetInZone {
        /// Node name.
        node: String,
        node_zone: String,
    },
    /// The subnets are named, and the VPC of the node's instance is not known yet.
    VpcUnknown {
        /// Node name.
        node: String,
    },
    /// The subnets are named, and no subnet of that name is in the node's VPC.
    NoSubnetInVpc {
        /// Node name.
        node: String,
        vpc: String,
    },
    /// A newer Node object names the same instance: that one gets the instance's ENIs.
    SharedInstance {
        /// Node name.
        node: String,
        /// The newer Node.
        with: String,
    },
}

impl Skip {
    /// The node skipped.
    pub fn node(&self) -> &str {
        match self {
            Skip::NoInstance { node }
            | Skip::NoSubnetInZone { node, .. }
            | Skip::VpcUnknown { node }
            | Skip::NoSubnetInVpc { node, .. }
            | Skip::SharedInstance { node, .. } => node,
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

/// Of several matching Node objects on one instance, the one that gets its slots: the
/// newest (a kubelet that registered again under a new name), then the last by name.
fn owners<'a>(
    spec: &ResolvedSpec,
    nodes: &[&'a NodeInput],
) -> std::collections::HashMap<&'a str, &'a str> {
    let mut owner: std::collections::HashMap<&str, &NodeInput> = Default::default();
    for n in nodes.iter().filter(|n| matches(&spec.selector, &n.labels)) {
        let Some(instance) = n.instance_id.as_deref() else {
            continue;
        };
        let e = owner.entry(instance).or_insert(n);
        if (n.created, &n.name) > (e.created, &e.name) {
            *e = n;
        }
    }
    owner
        .into_iter()
        .map(|(i, n)| (i, n.name.as_str()))
        .collect()
}

/// Plans the slots of `spec` over `nodes` (any nodes; non-matching ones are ignored).
///
/// A node's position count starts at 0 for the first subnet *in its zone*, so a subnet
/// name carried by one subnet per zone puts every node's ENI at `deviceIndex`. A node
/// whose zone is unknown is planned against every subnet (EC2 will tell). With named
/// subnets ([`ResolvedSpec::by_vpc`]) a node gets those of its own VPC only.
pub fn plan_slots<'a>(
    spec: &ResolvedSpec,
    nodes: impl IntoIterator<Item = &'a NodeInput>,
) -> SlotPlan {
    let mut out = SlotPlan::default();
    let nodes: Vec<&NodeInput> = nodes.into_iter().collect();
    let owners = owners(spec, &nodes);
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
        if let Some(owner) = owners.get(instance_id.as_str())
            && *owner != node.name
        {
            out.skipped.push(Skip::SharedInstance {
                node: node.name.clone(),
                with: owner.to_string(),
            });
            continue;
        }
        let subnets: Vec<&SubnetInput> = match (&node.vpc, spec.by_vpc) {
            (_, false) => spec.subnets.iter().collect(),
            (None, true) => {
                out.skipped.push(Skip::VpcUnknown {
                    node: node.name.clone(),
                });
                continue;
            }
            (Some(vpc), true) => {
                let mine: Vec<&SubnetInput> =
                    spec.subnets.iter().filter(|s| s.vpc == *vpc).collect();
                if mine.is_empty() {
                    out.skipped.push(Skip::NoSubnetInVpc {
                        node: node.name.clone(),
                        vpc: vpc.clone(),
                    });
                    continue;
                }
                mine
            }
        };
        let mut position = 0u32;
        for subnet in subnets.iter().copied() {
            if node.zone.as_ref().is_some_and(|zone| *zone != subnet.zone) {
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
                    security_groups: subnet.security_groups.clone(),
                    delete_on_termination: spec.delete_on_termination,
                    description: spec.description.clone(),
                    tags: spec.tags.clone(),
                    secondary_ipv4: spec.secondary_ipv4,
                    ipv4_prefixes: spec.ipv4_prefixes,
                    ipv6_addresses: spec.ipv6_addresses,
                    ipv6_prefixes: spec.ipv6_prefixes,
                    subnet_ipv6: subnet.ipv6,
                    source_dest_check: spec.source_dest_check,
                    ena_srd: spec.ena_srd,
                    ena_queue_count: spec.ena_queue_count,
                    connection_tracking: spec.connection_tracking,
                },
            );
            position += 1;
        }
        if position == 0
            && let Some(zone) = &node.zone
            && !subnets.is_empty()
        {
            out.skipped.push(Skip::NoSubnetInZone {
                node: node.name.clone(),
                node_zone: zone.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
