//! What a slot sees of its ENIs and remembers between steps: the inputs of
//! [`super::decide`].

use std::time::Duration;

use tokio::time::Instant;

use crate::plan::attributes::{ConnectionTracking, PendingAddresses};

/// How long an ENI this actor created or saw may stay invisible before it is taken to be
/// gone (EC2 describes are eventually consistent for seconds, not minutes).
pub const VISIBILITY_WINDOW: Duration = Duration::from_secs(60);

/// Where an ENI is, as far as this slot is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum EniState {
    /// Not attached.
    Available,
    /// Attaching to `instance_id`.
    Attaching {
        attachment_id: String,
        instance_id: String,
        device_index: u32,
        card: u32,
    },
    /// Attached to `instance_id`.
    Attached {
        attachment_id: String,
        instance_id: String,
        device_index: u32,
        card: u32,
        /// deleteOnTermination.
        delete_on_termination: bool,
    },
    /// Detaching from `instance_id`.
    Detaching {
        attachment_id: String,
        instance_id: String,
    },
}

impl EniState {
    pub(super) fn instance(&self) -> Option<&str> {
        match self {
            EniState::Available => None,
            EniState::Attaching { instance_id, .. }
            | EniState::Attached { instance_id, .. }
            | EniState::Detaching { instance_id, .. } => Some(instance_id),
        }
    }

    /// The attachment, if any.
    pub fn attachment_id(&self) -> Option<&str> {
        match self {
            EniState::Available => None,
            EniState::Attaching { attachment_id, .. }
            | EniState::Attached { attachment_id, .. }
            | EniState::Detaching { attachment_id, .. } => Some(attachment_id),
        }
    }

    /// The device index, while attaching or attached.
    pub fn device_index(&self) -> Option<u32> {
        match self {
            EniState::Attaching { device_index, .. } | EniState::Attached { device_index, .. } => {
                Some(*device_index)
            }
            EniState::Available | EniState::Detaching { .. } => None,
        }
    }

    pub(super) fn rank(&self) -> u8 {
        match self {
            EniState::Attached { .. } => 3,
            EniState::Attaching { .. } => 2,
            EniState::Detaching { .. } => 1,
            EniState::Available => 0,
        }
    }
}

/// An ENI seen for a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenEni {
    /// ENI ID.
    pub id: String,
    /// MAC address.
    pub mac: String,
    /// Where it is.
    pub state: EniState,
    /// Security group IDs, sorted.
    pub security_groups: Vec<String>,
    /// Its primary private IPv4 address, when EC2 said.
    pub primary_ip: Option<String>,
    /// Its secondary private IPv4 addresses, in EC2's order.
    pub secondary_ips: Vec<String>,
    /// Its /28 IPv4 prefixes, in EC2's order.
    pub ipv4_prefixes: Vec<String>,
    /// Its IPv6 addresses, in EC2's order.
    pub ipv6_addresses: Vec<String>,
    /// Its /80 IPv6 prefixes, in EC2's order.
    pub ipv6_prefixes: Vec<String>,
    /// Its source/destination check.
    pub source_dest_check: bool,
    /// Its connection tracking timeouts, as EC2 shows them (`None`: none set).
    pub connection_tracking: Option<ConnectionTracking>,
    /// The preferred device index it was placed for (its intent tag), if tagged.
    pub intent_index: Option<u32>,
    /// The NodeENI's `deviceIndex` when it was placed, if tagged: when present, only a
    /// change of it moves the ENI.
    pub intent_base: Option<u32>,
    /// Its incarnation tag, if tagged.
    pub incarnation: Option<u32>,
    /// Made by the Go controller and not yet tagged as this cluster's.
    pub legacy: bool,
    /// Its creation-time tag, if tagged (a create answered with an old ENI may have
    /// reused the token of one deleted long ago).
    pub created_at: Option<jiff::Timestamp>,
    /// It claims this slot (this cluster's name, this NodeENI's UID) but lost another of
    /// its ownership tags: never touched, never replaced, reported.
    pub unmanaged: bool,
}

/// What the slot's actor remembers between steps (lost on restart, by design: every
/// field only speeds things up or breaks ties).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotMemory {
    /// Incarnation to create with next.
    pub incarnation: u32,
    /// An ENI this actor created or adopted, which describes may not show yet.
    pub known: Option<Known>,
    /// An address call describes may not show yet.
    pub pending_addresses: Option<PendingAddresses>,
    /// A prefix call describes may not show yet.
    pub pending_prefixes: Option<PendingAddresses>,
    /// An IPv6 address call describes may not show yet.
    pub pending_ipv6: Option<PendingAddresses>,
    /// An IPv6 prefix call describes may not show yet.
    pub pending_ipv6_prefixes: Option<PendingAddresses>,
    /// The connection tracking this actor set on an ENI: not set again for the same ENI
    /// and timeouts, whatever describes show (an EC2 that does not report them would
    /// otherwise be asked forever).
    pub connection_tracking_set: Option<(String, ConnectionTracking)>,
}

/// An ENI the slot knows exists (or existed), whether or not describes show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Its ID; `None` when only its existence is known (its ClientToken was refused as
    /// reused with other parameters, so an ENI was made with it before).
    pub eni_id: Option<String>,
    /// Since when describes have not shown it.
    pub missing_since: Option<Instant>,
}

impl Known {
    /// An ENI known by ID, visible now (`missing_since: None`) or not.
    pub fn eni(id: impl Into<String>, missing_since: Option<Instant>) -> Self {
        Known {
            eni_id: Some(id.into()),
            missing_since,
        }
    }
}
