//! Instances as ENI placement sees them: state, zone, attached interfaces, and the ENI
//! limits of their type per network card.

use super::types::{AttachmentStatus, Tags};

/// The lifecycle state of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum InstanceState {
    /// Launching.
    Pending,
    Running,
    /// Terminating.
    ShuttingDown,
    /// Gone (stays visible for a while).
    Terminated,
    Stopping,
    /// Stopped; ENIs stay attached.
    Stopped,
    /// A value this project does not know.
    Unknown,
}

impl InstanceState {
    /// Parses EC2's spelling.
    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => InstanceState::Pending,
            "running" => InstanceState::Running,
            "shutting-down" => InstanceState::ShuttingDown,
            "terminated" => InstanceState::Terminated,
            "stopping" => InstanceState::Stopping,
            "stopped" => InstanceState::Stopped,
            _ => InstanceState::Unknown,
        }
    }

    /// Whether the instance is going or gone, so its ENIs can only be cleaned up.
    pub fn is_gone(self) -> bool {
        matches!(
            self,
            InstanceState::ShuttingDown | InstanceState::Terminated
        )
    }
}

/// An interface as seen from its instance.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct InstanceInterface {
    pub eni_id: String,
    pub attachment_id: String,
    /// Device index on its card.
    pub device_index: u32,
    pub network_card_index: u32,
    /// Attachment state.
    pub status: AttachmentStatus,
    pub mac_address: String,
}

/// An instance, as far as ENI placement cares.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Instance {
    /// `i-…`.
    pub id: String,
    /// Instance type, e.g. `m5.large`; decides the ENI limits.
    pub instance_type: String,
    pub availability_zone: String,
    pub vpc_id: String,
    /// Lifecycle state.
    pub state: InstanceState,
    /// Every attached interface, the primary included.
    pub interfaces: Vec<InstanceInterface>,
    /// The instance's tags (the cluster tags among them).
    pub tags: Tags,
}

/// The EKS tag naming an instance's cluster (managed node groups, Karpenter).
pub const TAG_EKS_CLUSTER_NAME: &str = "eks:cluster-name";

/// The values of `kubernetes.io/cluster/<cluster>` that make an instance a cluster's (the
/// IAM policy's attach condition names the same).
pub const CLUSTER_TAG_VALUES: [&str; 2] = ["owned", "shared"];

/// The tag key `kubernetes.io/cluster/<cluster>` that EKS, Karpenter, eksctl and the
/// cloud provider put on a cluster's instances (value `owned` or `shared`).
pub fn cluster_tag_key(cluster: &str) -> String {
    format!("kubernetes.io/cluster/{cluster}")
}

impl Instance {
    /// Whether the instance is tagged as a member of the cluster named `cluster`:
    /// `kubernetes.io/cluster/<cluster>` (`owned` or `shared`) or
    /// `eks:cluster-name=<cluster>`.
    pub fn in_cluster(&self, cluster: &str) -> bool {
        let k8s = self
            .tags
            .get(&cluster_tag_key(cluster))
            .is_some_and(|v| CLUSTER_TAG_VALUES.contains(&v.as_str()));
        k8s || self
            .tags
            .get(TAG_EKS_CLUSTER_NAME)
            .is_some_and(|v| v == cluster)
    }
}

/// How many interfaces one network card takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkCardLimit {
    /// Card index.
    pub index: u32,
    /// Maximum interfaces on that card, the primary included.
    pub max_interfaces: u32,
}

/// ENI limits of an instance type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EniLimits {
    /// Maximum interfaces on the instance.
    pub max_interfaces: u32,
    /// Per network card limits (one entry on single-card types).
    pub cards: Vec<NetworkCardLimit>,
    /// Private IPv4 addresses one interface takes, the primary included
    /// (`Ipv4AddressesPerInterface`); `None` when EC2 did not say.
    pub ipv4_per_interface: Option<u32>,
    /// IPv6 addresses one interface takes (`Ipv6AddressesPerInterface`, a /80 prefix
    /// counting as one); `None`: not said.
    pub ipv6_per_interface: Option<u32>,
    /// Whether the type supports ENA Express (`EnaSrdSupported`); `None`: not said.
    pub ena_srd_supported: Option<bool>,
    /// ENA queues one interface may be given (`MaximumEnaQueueCountPerInterface`, the
    /// least over its cards; 0 where the type has no flexible ENA queues); `None`: not
    /// said.
    pub ena_queues_per_interface: Option<u32>,
}

impl EniLimits {
    /// A single-card type taking `max` interfaces.
    pub fn single_card(max: u32) -> Self {
        EniLimits {
            max_interfaces: max,
            cards: vec![NetworkCardLimit {
                index: 0,
                max_interfaces: max,
            }],
            ipv4_per_interface: None,
            ena_srd_supported: None,
            ena_queues_per_interface: None,
            ipv6_per_interface: None,
        }
    }

    /// The same, taking `addresses` private IPv4 addresses per interface.
    pub fn with_ipv4_per_interface(mut self, addresses: u32) -> Self {
        self.ipv4_per_interface = Some(addresses);
        self
    }

    /// The limit of card `index`, or `None` if the type has no such card.
    pub fn card(&self, index: u32) -> Option<u32> {
        self.cards
            .iter()
            .find(|c| c.index == index)
            .map(|c| c.max_interfaces)
    }
}
