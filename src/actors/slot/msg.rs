//! What a slot actor is started with, receives, and tells its NodeENI.

use std::sync::Arc;
use std::time::Duration;

use ractor::ActorId;
use tokio::time::Instant;

use crate::actors::cleanup::CleanupMsg;
use crate::actors::instances::InstanceBatcher;
use crate::actors::limiter::LimitedEc2;
use crate::aws::Eni;
use crate::aws::resolve::Resolver;
use crate::k8s::Notice;
use crate::k8s::status::SlotPhase;
use crate::plan::lifecycle::SlotMemory;
use crate::plan::slots::{DesiredSlot, SlotKey};
use crate::supervision::{Handle, Outbox};

/// Timing of a slot's polling and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotTiming {
    /// First wait before checking an attach or detach.
    pub poll_initial: Duration,
    /// Longest wait between checks.
    pub poll_max: Duration,
    /// Longest wait before retrying a failed (throttled, transient) call; the wait
    /// starts at `poll_initial` and doubles.
    pub retry_max: Duration,
    /// Longest wait before stepping a blocked slot again; the wait starts at a minute
    /// and doubles ([`crate::plan::refusal::blocked_retry`]), spread by jitter.
    pub blocked_max: Duration,
}

impl Default for SlotTiming {
    fn default() -> Self {
        SlotTiming {
            poll_initial: Duration::from_secs(1),
            poll_max: Duration::from_secs(10),
            retry_max: Duration::from_secs(10),
            blocked_max: Duration::from_secs(600),
        }
    }
}

/// What every slot of a NodeENI shares.
pub struct SlotDeps {
    /// EC2 at rollout priority.
    pub ec2: LimitedEc2,
    /// Cached instance-type limits.
    pub resolver: Arc<Resolver>,
    /// Batched instance lookups.
    pub instances: InstanceBatcher,
    /// Where surplus ENIs go.
    pub cleanup: Handle<CleanupMsg>,
    /// The owning cluster (ownership tags).
    pub cluster: crate::aws::ownership::ClusterIdentity,
    /// Attach only to instances tagged as this cluster's.
    pub require_instance_cluster_tag: bool,
    /// The NodeENI's name (ownership tags, logs).
    pub nodeeni_name: String,
    /// The NodeENI's UID (ownership tags, ClientTokens).
    pub nodeeni_uid: String,
    /// Polling and retries.
    pub timing: SlotTiming,
    /// Device indices reserved on each instance, shared by every slot.
    pub reservations: super::reservations::Reservations,
    /// The breakers of this NodeENI's slots.
    pub breakers: super::breakers::Breakers,
}

/// A slot's progress as its NodeENI shows it in the status.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct SlotReport {
    /// Where the slot is.
    pub phase: SlotPhase,
    /// The slot's ENI, once known.
    pub eni_id: Option<String>,
    pub mac_address: Option<String>,
    pub attachment_id: Option<String>,
    /// Its device index, when attached.
    pub device_index: Option<u32>,
    /// Its private IPv4 addresses, the primary first.
    pub ipv4_addresses: Vec<String>,
    /// Its /28 IPv4 prefixes.
    pub ipv4_prefixes: Vec<String>,
    /// Its IPv6 addresses.
    pub ipv6_addresses: Vec<String>,
    /// Its /80 IPv6 prefixes.
    pub ipv6_prefixes: Vec<String>,
    /// Its source/destination check, once known.
    pub source_dest_check: Option<bool>,
    /// The incarnation the next create would use.
    pub incarnation: u32,
}

/// What a slot tells its NodeENI.
pub enum SlotUpdate {
    /// The slot's progress changed (the actor that reports it, so that a retired slot's
    /// late report is never taken for its successor's).
    Report(ActorId, SlotKey, SlotReport),
    /// An Event to record on the NodeENI.
    Notice(Notice),
    /// The node's instance is in this zone (its Node carries no zone label).
    Zone {
        /// The node.
        node: String,
        /// Its instance's Availability Zone.
        zone: String,
    },
    /// The slot was retired: every ENI it has or may have made, for teardown. It stops
    /// right after.
    Retired {
        /// The slot actor that answers.
        actor: ActorId,
        /// Its slot.
        key: SlotKey,
        /// The ENIs.
        enis: Vec<String>,
    },
}

/// Messages of a slot.
pub enum SlotMsg {
    /// The desired slot changed (spec change).
    Update(Box<DesiredSlot>),
    /// ENIs seen for this slot by the NodeENI's sweep, which started at the instant
    /// given (ignored if the slot changed something since).
    Observed(Vec<Eni>, Instant),
    /// Take the next step, if this is the step timer that counts (its number).
    Step(u64),
    /// Step now: a breaker that held this slot closed.
    Wake,
    /// The slot is no longer desired: once the step under way has finished, hand back
    /// every ENI it has or may have made, then stop.
    Retire,
}

/// How a slot starts.
pub struct SlotArgs {
    /// What it should become.
    pub desired: DesiredSlot,
    /// ENIs already seen for it (`None`: look first).
    pub seen: Option<Vec<Eni>>,
    /// Remembered incarnation.
    pub memory: SlotMemory,
    /// When the slot became desired (for latency metrics).
    pub desired_since: Instant,
    /// Shared dependencies.
    pub deps: Arc<SlotDeps>,
    /// Where its reports and Events go.
    pub updates: Outbox<SlotUpdate>,
}
