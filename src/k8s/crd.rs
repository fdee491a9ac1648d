//! The `NodeENI` custom resource (`networking.k8s.aws/v1alpha1`).
//!
//! Field names are those of the Go controller's CRD, so existing YAML applies unchanged.
//! Validation happens at admission: OpenAPI constraints and CEL rules
//! (`x-kubernetes-validations`) in the generated schema reject a bad NodeENI with a
//! message naming the rule, before the controller ever sees it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use serde::{Deserialize, Serialize};

/// Default `deviceIndex`: the first index after the primary interface.
pub const DEFAULT_DEVICE_INDEX: i32 = 1;

fn default_device_index() -> i32 {
    DEFAULT_DEVICE_INDEX
}

/// At most this many `tags` per NodeENI (the controller's `plan::extra_tags` allows as
/// many in all: EC2 takes 50 tags per ENI and the controller writes 14).
pub const MAX_NODEENI_TAGS: usize = 30;

fn default_true() -> bool {
    true
}

/// Which nodes get which ENIs.
///
/// Every node whose labels contain all of `nodeSelector` gets one ENI per subnet, in
/// order, at device indices `deviceIndex`, `deviceIndex + 1`, ... on network card
/// `networkCardIndex`. Subnets are the union of `subnetID`, `subnetIDs`, `subnetName`
/// and `subnetNames`; security groups the union of `securityGroupIDs` and
/// `securityGroupNames`.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "networking.k8s.aws",
    version = "v1alpha1",
    kind = "NodeENI",
    plural = "nodeenis",
    singular = "nodeeni",
    shortname = "neni",
    status = "NodeENIStatus",
    derive = "PartialEq",
    doc = "NodeENI attaches extra AWS Elastic Network Interfaces to the nodes its nodeSelector matches.",
    printcolumn = r#"{"name":"Desired","type":"integer","jsonPath":".status.desiredCount","description":"ENIs that should be attached"}"#,
    printcolumn = r#"{"name":"Ready","type":"integer","jsonPath":".status.readyCount","description":"ENIs attached and ready"}"#,
    printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.failedCount","description":"ENIs that cannot progress"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason","description":"Reason of the Ready condition"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.subnetID) || has(self.subnetName) || (has(self.subnetIDs) && size(self.subnetIDs) > 0) || (has(self.subnetNames) && size(self.subnetNames) > 0)")
        .message("at least one of subnetID, subnetIDs, subnetName or subnetNames must be set")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("(has(self.securityGroupIDs) && size(self.securityGroupIDs) > 0) || (has(self.securityGroupNames) && size(self.securityGroupNames) > 0)")
        .message("at least one of securityGroupIDs or securityGroupNames must be set")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("!has(self.secondaryIPv4Count) || !has(self.ipv4PrefixCount) || self.secondaryIPv4Count + self.ipv4PrefixCount <= 49")
        .message("secondaryIPv4Count + ipv4PrefixCount must be at most 49: the largest instance types take 50 private IPv4 addresses per interface, the primary and each /28 prefix counting as one")
        .reason(Reason::FieldValueInvalid),
    validation = Rule::new("!has(self.ipv6AddressCount) || !has(self.ipv6PrefixCount) || self.ipv6AddressCount + self.ipv6PrefixCount <= 50")
        .message("ipv6AddressCount + ipv6PrefixCount must be at most 50: the largest instance types take 50 IPv6 addresses per interface, each /80 prefix counting as one")
        .reason(Reason::FieldValueInvalid),
    validation = Rule::new("(has(self.enableDPDK) && self.enableDPDK) == (has(oldSelf.enableDPDK) && oldSelf.enableDPDK) && (has(self.dpdkDriver) ? self.dpdkDriver : '') == (has(oldSelf.dpdkDriver) ? oldSelf.dpdkDriver : '')")
        .message("enableDPDK and dpdkDriver cannot change: a device bound for DPDK would be left bound, or rebound under a running process. Delete the NodeENI (its devices are released, then its ENIs detached) and create it again")
        .reason(Reason::FieldValueForbidden)
)]
pub struct NodeENISpec {
    /// Labels a node must carry (all of them, exact values) to get the ENIs.
    #[x_kube(validation = Rule::new("size(self) > 0").message("nodeSelector must name at least one label: an empty selector would give every node an ENI"))]
    pub node_selector: BTreeMap<String, String>,

    /// A subnet by ID.
    #[serde(rename = "subnetID", default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^subnet-[0-9a-f]{8,17}$"))]
    pub subnet_id: Option<String>,

    /// Subnets by ID; one ENI per subnet.
    #[serde(rename = "subnetIDs", default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(regex(pattern = r"^subnet-[0-9a-f]{8,17}$")))]
    pub subnet_ids: Vec<String>,

    /// A subnet by its `Name` tag. A name carried by one subnet per Availability Zone
    /// gives each node the subnet of its own zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub subnet_name: Option<String>,

    /// Subnets by `Name` tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(min = 1, max = 255)))]
    pub subnet_names: Vec<String>,

    /// Security groups by ID.
    #[serde(
        rename = "securityGroupIDs",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(length(max = 16), inner(regex(pattern = r"^sg-[0-9a-f]{8,17}$")))]
    pub security_group_ids: Vec<String>,

    /// Security groups by name (looked up in the subnet's VPC), or `Name` tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 1, max = 255)))]
    pub security_group_names: Vec<String>,

    /// Device index of the first ENI; later subnets take the following indices.
    #[serde(default = "default_device_index")]
    #[schemars(range(min = 1, max = 63))]
    pub device_index: i32,

    /// Whether EC2 deletes the ENI when the instance terminates.
    #[serde(default = "default_true")]
    pub delete_on_termination: bool,

    /// ENI description shown in the EC2 console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub description: Option<String>,

    /// MTU the node agent sets on the interface; 0 leaves the MTU alone.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == 0 || (self >= 576 && self <= 9001)").message("mtu must be 0 (leave the MTU alone) or between 576 and 9001"))]
    pub mtu: i32,

    /// Network card for the ENIs (multi-card instances such as p5 or c6in.32xlarge).
    #[serde(default)]
    #[schemars(range(min = 0, max = 31))]
    pub network_card_index: i32,

    /// Extra tags on every ENI made for this NodeENI (cost allocation, tag policies), over
    /// the controller's `eniTags` (a key set in both takes this value). Applied when an
    /// ENI is created: ENIs made before a change keep their tags. The controller's own
    /// keys (`Name`, `networking.k8s.aws/*`, `node.k8s.amazonaws.com/no_manage`), AWS's
    /// (`aws:*`) and those other managers mark their ENIs with (`kubernetes.io/cluster/*`,
    /// `eks:*`, `karpenter.sh/*`, ...) cannot be set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = MAX_NODEENI_TAGS))]
    #[x_kube(
        validation = Rule::new("self.all(k, size(k) >= 1 && size(k) <= 128)").message("tags: a key is 1 to 128 characters"),
        validation = Rule::new("self.all(k, size(self[k]) <= 256)").message("tags: a value is at most 256 characters"),
        validation = Rule::new("self.all(k, k != 'Name' && !k.startsWith('networking.k8s.aws/') && k != 'node.k8s.amazonaws.com/no_manage')").message("tags: Name, networking.k8s.aws/* and node.k8s.amazonaws.com/no_manage are the controller's own tags and cannot be set"),
        validation = Rule::new("self.all(k, !k.lowerAscii().startsWith('aws:'))").message("tags: keys starting with aws: are reserved by AWS"),
        validation = Rule::new("self.all(k, !k.startsWith('kubernetes.io/cluster/') && !k.startsWith('eks:') && k != 'node.k8s.amazonaws.com/instance_id' && k != 'node.k8s.amazonaws.com/createdAt' && !k.startsWith('cluster.k8s.amazonaws.com/') && !k.startsWith('karpenter.sh/') && !k.startsWith('io.cilium/'))").message("tags: kubernetes.io/cluster/*, eks:*, node.k8s.amazonaws.com/instance_id and createdAt, cluster.k8s.amazonaws.com/*, karpenter.sh/* and io.cilium/* mark other managers' ENIs and cannot be set"),
    )]
    pub tags: BTreeMap<String, String>,

    /// Secondary private IPv4 addresses on each ENI, so that pods behind ipvlan get
    /// VPC-routable addresses (listed per node on its ENINode). Set at creation; a change
    /// adds addresses, or removes the numerically highest ones (which may be in use: lower
    /// it only when no pod uses them). A node whose instance type takes fewer addresses per
    /// interface (the primary included) is reported, not tried. Unset: the controller
    /// leaves each ENI's addresses as they are (adopted ENIs, addresses assigned by hand).
    #[serde(
        rename = "secondaryIPv4Count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0, max = 49))]
    pub secondary_ipv4_count: Option<i32>,

    /// /28 IPv4 prefixes on each ENI (16 addresses each, for pods; each counts as one
    /// address against the instance type's per-interface limit, with the primary and
    /// `secondaryIPv4Count`). Given with the create when no secondary address is asked
    /// (EC2 takes one count or the other), else with one more assign call; a changed count
    /// converges like `secondaryIPv4Count` (the numerically highest prefixes go). Unset:
    /// each ENI's prefixes are left as they are.
    #[serde(
        rename = "ipv4PrefixCount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0, max = 49))]
    pub ipv4_prefix_count: Option<i32>,

    /// IPv6 addresses on each ENI (subnets with an IPv6 block: a subnet without one is
    /// reported, not tried). Given with the create; a changed count converges with one
    /// assign or unassign call (the numerically highest go). Unset: left as they are.
    #[serde(
        rename = "ipv6AddressCount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0, max = 50))]
    pub ipv6_address_count: Option<i32>,

    /// /80 IPv6 prefixes on each ENI; each counts as one address against the type's
    /// `Ipv6AddressesPerInterface`, with `ipv6AddressCount`. Given with the create when no
    /// IPv6 address is asked (EC2 takes one count or the other), else with one more assign
    /// call. Unset: left as they are.
    #[serde(
        rename = "ipv6PrefixCount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0, max = 50))]
    pub ipv6_prefix_count: Option<i32>,

    /// EC2's source/destination check on each ENI; `false` for routers, firewalls, NAT
    /// and other appliances that forward traffic not addressed to them. Unset: left as
    /// it is (EC2 creates ENIs with the check on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_dest_check: Option<bool>,

    /// ENA Express (AWS's SRD protocol) on each attachment. A node whose instance type
    /// does not support it is reported, not tried. Applied when an ENI is attached: ENIs
    /// attached before a change keep what they were attached with. Unset: EC2's default
    /// (off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ena_srd: Option<EnaSrdSpec>,

    /// ENA queues of each attachment, on instance types with flexible ENA queues (at
    /// most `MaximumEnaQueueCountPerInterface`: a node whose type takes fewer, or no
    /// count, is reported, not tried). Applied when an ENI is attached. Unset: the
    /// type's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 32").message("enaQueueCount must be between 1 and 32 (the most any instance type takes per interface)"))]
    pub ena_queue_count: Option<i32>,

    /// Connection tracking timeouts of each ENI (seconds), given with the create and
    /// changed on existing ENIs when they change; a timeout left out stays as it is
    /// (EC2's defaults: 432,000, 180 and 30). Unset: left as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_tracking: Option<ConnectionTrackingSpec>,

    /// Bind each ENI's PCI device to a userspace (DPDK) driver on its node instead of
    /// configuring its interface: the node agent finds the device from the ENI's MAC
    /// address, binds it through sysfs and records it in the ENINode status, and offers it
    /// to pods through the SR-IOV network device plugin when `dpdkResourceName` is set.
    #[serde(
        rename = "enableDPDK",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub enable_dpdk: bool,

    /// The driver DPDK ENIs' devices are bound to (its module loaded on the node);
    /// unset: `vfio-pci`.
    #[x_kube(validation = Rule::new("self.matches('^[a-zA-Z0-9_-]{0,64}$')").message("dpdkDriver must be a kernel driver name (letters, digits, '_' and '-')"))]
    #[serde(
        rename = "dpdkDriver",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dpdk_driver: Option<String>,

    /// The SR-IOV network device plugin resource (`prefix/name`, e.g.
    /// `intel.com/sriov_dpdk`) the bound devices are offered under; unset: bound, not
    /// offered.
    #[x_kube(validation = Rule::new("self == '' || self.matches('^([a-zA-Z0-9.-]+/)?[a-zA-Z0-9_]+$')").message("dpdkResourceName must be prefix/name, the name of letters, digits and '_' (what the SR-IOV device plugin accepts)"))]
    #[serde(
        rename = "dpdkResourceName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dpdk_resource_name: Option<String>,

    /// The PCI address of the device to bind (`0000:00:06.0`), when every node has the
    /// ENI at the same one; unset (recommended): the agent finds it from the ENI's MAC
    /// address. A device that is not the ENI's is never bound.
    #[x_kube(validation = Rule::new("self == '' || self.matches('^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}[.][0-7]$')").message("dpdkPCIAddress must be a PCI address like 0000:00:06.0"))]
    #[serde(
        rename = "dpdkPCIAddress",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dpdk_pci_address: Option<String>,
}

/// ENA Express on an attachment.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!self.udpEnabled || self.enabled")
        .message("enaSrd.udpEnabled needs enaSrd.enabled")
        .reason(Reason::FieldValueInvalid)
)]
pub struct EnaSrdSpec {
    /// ENA Express for TCP.
    #[serde(default)]
    pub enabled: bool,
    /// ENA Express for UDP too.
    #[serde(default)]
    pub udp_enabled: bool,
}

/// Connection tracking timeouts of an ENI, in seconds, within EC2's ranges.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionTrackingSpec {
    /// Established TCP flows, 60 to 432,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 60 && self <= 432000").message("connectionTracking.tcpEstablishedTimeout must be between 60 and 432000 seconds"))]
    pub tcp_established_timeout: Option<i32>,
    /// UDP flows seen in both directions more than once, 60 to 180.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 60 && self <= 180").message("connectionTracking.udpStreamTimeout must be between 60 and 180 seconds"))]
    pub udp_stream_timeout: Option<i32>,
    /// Other UDP flows, 30 to 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 30 && self <= 60").message("connectionTracking.udpTimeout must be between 30 and 60 seconds"))]
    pub udp_timeout: Option<i32>,
}

/// What the controller observed and did for one NodeENI.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeENIStatus {
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing` and `Degraded`, in the Kubernetes convention.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// One entry per ENI the controller manages for this NodeENI, up to a cap (see
    /// `unlistedCount`), sorted by node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<ENIAttachment>,
    /// ENIs that should exist (matching nodes × subnets in their zone).
    #[serde(default)]
    pub desired_count: i32,
    /// ENIs attached and ready.
    #[serde(default)]
    pub ready_count: i32,
    /// ENIs that cannot progress (`failed` attachments), listed or not.
    #[serde(default)]
    pub failed_count: i32,
    /// Slots left out of `attachments`, which lists at most
    /// [`crate::k8s::status::MAX_LISTED_ATTACHMENTS`] (problems first). Every node's
    /// ENIs are in its `ENINode`.
    #[serde(default)]
    pub unlisted_count: i32,
}

/// One managed ENI (field names as in the Go controller, plus MAC and network card).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ENIAttachment {
    /// Node name.
    #[serde(rename = "nodeID")]
    pub node_id: String,
    /// EC2 instance ID.
    #[serde(rename = "instanceID")]
    pub instance_id: String,
    /// ENI ID.
    #[serde(rename = "eniID", default, skip_serializing_if = "String::is_empty")]
    pub eni_id: String,
    /// Attachment ID.
    #[serde(
        rename = "attachmentID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub attachment_id: String,
    /// Subnet ID.
    #[serde(rename = "subnetID")]
    pub subnet_id: String,
    /// Subnet CIDR block.
    #[serde(
        rename = "subnetCIDR",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub subnet_cidr: String,
    /// MTU requested for the interface.
    #[serde(default)]
    pub mtu: i32,
    /// Device index.
    #[serde(default)]
    pub device_index: i32,
    /// Network card index.
    #[serde(default)]
    pub network_card_index: i32,
    /// MAC address: the node agent finds the interface by it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    /// Whether the node agent reports the interface up with its MTU applied (absent
    /// until an agent reports on the node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_configured: Option<bool>,
    /// Lifecycle state: `pending`, `creating`, `attaching`, `moving` (detached to re-attach
    /// at a changed `deviceIndex`), `attached` or `failed`.
    pub status: String,
    /// When this entry last changed (not rewritten when nothing changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<Time>,
}

/// The CRD as YAML: the text `deploy/crds/networking.k8s.aws_nodeenis.yaml` holds.
pub fn crd_yaml() -> Result<String, serde_saphyr::SerializeError> {
    serde_saphyr::to_string(&NodeENI::crd())
}

/// Every CRD of the project as one YAML stream (NodeENI, then ENINode): what
/// `eni-controller crd` prints.
pub fn all_crds_yaml() -> Result<String, serde_saphyr::SerializeError> {
    Ok(format!(
        "{}---\n{}",
        crd_yaml()?,
        super::eninode::crd_yaml()?
    ))
}
