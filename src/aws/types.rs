//! The values the EC2 port speaks: plain data, independent of any SDK.

use crate::plan::attributes::ConnectionTracking;
use std::collections::BTreeMap;

use super::client_token::ClientToken;

/// Tags on an EC2 resource, key to value.
pub type Tags = BTreeMap<String, String>;

/// What to create: one ENI in one subnet.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateEniRequest {
    /// The subnet the ENI lives in (and so its Availability Zone).
    pub subnet_id: String,
    /// Security groups, by ID.
    pub security_group_ids: Vec<String>,
    /// Free text shown in the console.
    pub description: String,
    /// Tags applied atomically at creation (ownership tags included).
    pub tags: Tags,
    /// Idempotency token: the same token never creates a second ENI.
    pub client_token: ClientToken,
    /// Secondary private IPv4 addresses to create it with (`SecondaryPrivateIpAddressCount`;
    /// 0: none).
    pub secondary_ipv4_count: u32,
    /// /28 IPv4 prefixes to create it with (`Ipv4PrefixCount`; 0: none). EC2 takes this or
    /// `secondary_ipv4_count`, not both.
    pub ipv4_prefix_count: u32,
    /// IPv6 addresses to create it with (`Ipv6AddressCount`; 0: none).
    pub ipv6_address_count: u32,
    /// /80 IPv6 prefixes to create it with (`Ipv6PrefixCount`; 0: none). EC2 takes this
    /// or `ipv6_address_count`, not both.
    pub ipv6_prefix_count: u32,
    /// Connection tracking timeouts to create it with (`ConnectionTrackingSpecification`;
    /// `None`: EC2's defaults).
    pub connection_tracking: Option<ConnectionTracking>,
}

/// A change of an ENI's secondary addresses: one EC2 call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressChange {
    /// `AssignPrivateIpAddresses`: this many more secondary private IPv4 addresses, EC2
    /// picks them from the subnet.
    AssignIpv4 {
        /// How many.
        count: u32,
    },
    /// `UnassignPrivateIpAddresses`: these secondary private IPv4 addresses go back to
    /// the subnet.
    UnassignIpv4 {
        /// Which.
        addresses: Vec<String>,
    },
    /// `AssignPrivateIpAddresses` with `Ipv4PrefixCount`: this many more /28 prefixes
    /// (EC2 picks them; never in the same call as addresses).
    AssignIpv4Prefixes {
        /// How many.
        count: u32,
    },
    /// `UnassignPrivateIpAddresses` with `Ipv4Prefixes`: these prefixes go back.
    UnassignIpv4Prefixes {
        /// Which (`a.b.c.d/28`).
        prefixes: Vec<String>,
    },
    /// `AssignIpv6Addresses` with `Ipv6AddressCount`.
    AssignIpv6 {
        /// How many.
        count: u32,
    },
    /// `UnassignIpv6Addresses` with `Ipv6Addresses`.
    UnassignIpv6 {
        /// Which.
        addresses: Vec<String>,
    },
    /// `AssignIpv6Addresses` with `Ipv6PrefixCount`: this many more /80 prefixes (never
    /// in the same call as addresses).
    AssignIpv6Prefixes {
        /// How many.
        count: u32,
    },
    /// `UnassignIpv6Addresses` with `Ipv6Prefixes`.
    UnassignIpv6Prefixes {
        /// Which (`…/80`).
        prefixes: Vec<String>,
    },
}

impl AddressChange {
    /// The EC2 action the change is.
    pub fn action(&self) -> super::Ec2Action {
        match self {
            AddressChange::AssignIpv4 { .. } | AddressChange::AssignIpv4Prefixes { .. } => {
                super::Ec2Action::AssignPrivateIpAddresses
            }
            AddressChange::UnassignIpv4 { .. } | AddressChange::UnassignIpv4Prefixes { .. } => {
                super::Ec2Action::UnassignPrivateIpAddresses
            }
            AddressChange::AssignIpv6 { .. } | AddressChange::AssignIpv6Prefixes { .. } => {
                super::Ec2Action::AssignIpv6Addresses
            }
            AddressChange::UnassignIpv6 { .. } | AddressChange::UnassignIpv6Prefixes { .. } => {
                super::Ec2Action::UnassignIpv6Addresses
            }
        }
    }
}

/// The state of an ENI as EC2 reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EniStatus {
    /// Not attached; can be attached or deleted.
    Available,
    /// Being attached.
    Attaching,
    /// Attached to an instance.
    InUse,
    /// Being detached.
    Detaching,
    /// Associated with another service (not used by this project).
    Associated,
    /// A value this project does not know.
    Unknown,
}

impl EniStatus {
    /// Parses EC2's spelling (`available`, `in-use`, ...).
    pub fn parse(s: &str) -> Self {
        match s {
            "available" => EniStatus::Available,
            "attaching" => EniStatus::Attaching,
            "in-use" => EniStatus::InUse,
            "detaching" => EniStatus::Detaching,
            "associated" => EniStatus::Associated,
            _ => EniStatus::Unknown,
        }
    }

    /// EC2's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EniStatus::Available => "available",
            EniStatus::Attaching => "attaching",
            EniStatus::InUse => "in-use",
            EniStatus::Detaching => "detaching",
            EniStatus::Associated => "associated",
            EniStatus::Unknown => "unknown",
        }
    }
}

/// The state of an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AttachmentStatus {
    /// Attach requested, not finished.
    Attaching,
    /// Attached: the instance sees the interface.
    Attached,
    /// Detach requested, not finished.
    Detaching,
    Detached,
    /// A value this project does not know.
    Unknown,
}

impl AttachmentStatus {
    /// Parses EC2's spelling.
    pub fn parse(s: &str) -> Self {
        match s {
            "attaching" => AttachmentStatus::Attaching,
            "attached" => AttachmentStatus::Attached,
            "detaching" => AttachmentStatus::Detaching,
            "detached" => AttachmentStatus::Detached,
            _ => AttachmentStatus::Unknown,
        }
    }

    /// EC2's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentStatus::Attaching => "attaching",
            AttachmentStatus::Attached => "attached",
            AttachmentStatus::Detaching => "detaching",
            AttachmentStatus::Detached => "detached",
            AttachmentStatus::Unknown => "unknown",
        }
    }
}

/// Where an ENI is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EniAttachment {
    /// `eni-attach-…`, needed to detach or to change deleteOnTermination.
    pub attachment_id: String,
    /// The instance, when attached to one.
    pub instance_id: Option<String>,
    /// Device index on the network card.
    pub device_index: u32,
    /// Network card index (0 on single-card instances).
    pub network_card_index: u32,
    /// Attachment state.
    pub status: AttachmentStatus,
    /// Whether EC2 deletes the ENI when the instance terminates.
    pub delete_on_termination: bool,
    /// ENA settings it was attached with, as EC2 reports them.
    pub ena: EnaAttach,
}

/// An ENI as described by EC2.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Eni {
    /// `eni-…`.
    pub id: String,
    /// MAC address; the node agent finds the link by it.
    pub mac_address: String,
    pub subnet_id: String,
    /// Availability Zone (the subnet's).
    pub availability_zone: String,
    pub vpc_id: String,
    /// Primary private IPv4 address.
    pub private_ip: Option<String>,
    /// Secondary private IPv4 addresses, in the order EC2 lists them.
    pub secondary_ips: Vec<String>,
    /// /28 IPv4 prefixes (`a.b.c.d/28`), in the order EC2 lists them.
    pub ipv4_prefixes: Vec<String>,
    /// IPv6 addresses, in the order EC2 lists them.
    pub ipv6_addresses: Vec<String>,
    /// /80 IPv6 prefixes, in the order EC2 lists them.
    pub ipv6_prefixes: Vec<String>,
    /// Whether EC2 drops traffic not addressed to or from the ENI (EC2's default: true).
    pub source_dest_check: bool,
    /// Its connection tracking timeouts (`ConnectionTrackingConfiguration`; `None`: none
    /// set, EC2's defaults apply).
    pub connection_tracking: Option<ConnectionTracking>,
    pub security_group_ids: Vec<String>,
    pub description: String,
    /// ENI state.
    pub status: EniStatus,
    /// Current attachment, if any.
    pub attachment: Option<EniAttachment>,
    pub tags: Tags,
}

/// Which ENIs to describe. Criteria combine with AND; empty criteria match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EniFilter {
    /// Only these ENI IDs: read by ID, one call (see [`crate::aws::describe_enis_by_id`]).
    pub ids: Vec<String>,
    /// Only ENIs with all these tags.
    pub tags: Vec<TagFilter>,
    /// Only ENIs attached to this instance.
    pub instance_id: Option<String>,
    /// Only ENIs in this state.
    pub status: Option<EniStatus>,
    /// Only ENIs in this subnet.
    pub subnet_id: Option<String>,
}

/// A tag condition in an [`EniFilter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagFilter {
    /// The tag `key` has exactly `value`.
    Equals(String, String),
    /// The tag `key` is present, whatever its value.
    Exists(String),
}

impl EniFilter {
    /// ENIs with these IDs.
    pub fn by_ids<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> Self {
        EniFilter {
            ids: ids.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// ENIs attached to `instance_id`.
    pub fn on_instance(instance_id: impl Into<String>) -> Self {
        EniFilter {
            instance_id: Some(instance_id.into()),
            ..Default::default()
        }
    }

    /// ENIs carrying tag `key` = `value`.
    pub fn tagged(key: impl Into<String>, value: impl Into<String>) -> Self {
        EniFilter {
            tags: vec![TagFilter::Equals(key.into(), value.into())],
            ..Default::default()
        }
    }

    /// Adds a tag condition.
    pub fn and_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push(TagFilter::Equals(key.into(), value.into()));
        self
    }

    /// Restricts to one state.
    pub fn with_status(mut self, status: EniStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Whether `eni` satisfies every criterion (simulator and client-side filtering).
    pub fn matches(&self, eni: &Eni) -> bool {
        (self.ids.is_empty() || self.ids.contains(&eni.id))
            && self.tags.iter().all(|t| match t {
                TagFilter::Equals(k, v) => eni.tags.get(k) == Some(v),
                TagFilter::Exists(k) => eni.tags.contains_key(k),
            })
            && self.instance_id.as_ref().is_none_or(|i| {
                eni.attachment.as_ref().and_then(|a| a.instance_id.as_ref()) == Some(i)
            })
            && self.status.is_none_or(|s| s == eni.status)
            && self.subnet_id.as_ref().is_none_or(|s| *s == eni.subnet_id)
    }
}

/// One page of a describe call; pass `next_token` back to get the next page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Token for the next page; `None` on the last page.
    pub next_token: Option<String>,
}

/// Where to attach an ENI.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct AttachRequest {
    pub eni_id: String,
    pub instance_id: String,
    /// Device index on the card (0 is the primary interface of card 0).
    pub device_index: u32,
    /// Network card index (0 on single-card instances).
    pub network_card_index: u32,
    /// ENA settings of the attachment (EC2's defaults when unset).
    pub ena: EnaAttach,
}

/// ENA settings given to an attachment (`EnaSrdSpecification`, `EnaQueueCount`); unset:
/// EC2's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnaAttach {
    /// ENA Express.
    pub srd: Option<crate::plan::interface_limits::EnaSrd>,
    /// ENA queues.
    pub queue_count: Option<u32>,
}

/// A subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Subnet {
    /// `subnet-…`.
    pub id: String,
    pub availability_zone: String,
    /// IPv4 CIDR block.
    pub cidr: String,
    /// Its IPv6 CIDR block, if it has one (IPv6 addresses and prefixes need it).
    pub ipv6_cidr: Option<String>,
    pub vpc_id: String,
    /// The `Name` tag, if any.
    pub name: Option<String>,
}

/// How to look subnets up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubnetLookup {
    /// By `subnet-…` IDs.
    Ids(Vec<String>),
    /// By the `Name` tag.
    Names(Vec<String>),
}

/// A security group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct SecurityGroup {
    /// `sg-…`.
    pub id: String,
    /// Group name.
    pub name: String,
    pub vpc_id: String,
}

/// How to look security groups up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityGroupLookup {
    /// By `sg-…` IDs.
    Ids(Vec<String>),
    /// By group name (then the `Name` tag), within a VPC when given: names are unique
    /// only per VPC.
    Names {
        /// Names to find.
        names: Vec<String>,
        /// Restrict to this VPC.
        vpc_id: Option<String>,
    },
}
