//! Building a NodeENI's status from per-slot summaries: attachments, counts and the
//! `Ready`, `Progressing` and `Degraded` conditions.
//!
//! Pure and deterministic: timestamps (`lastTransitionTime`, `lastUpdated`) are carried
//! over from the previous status unless the thing they stamp changed, so an unchanged
//! world produces an identical status and the controller writes nothing.

use std::collections::HashMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::crd::{ENIAttachment, NodeENIStatus};

/// Where a slot's lifecycle is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotPhase {
    /// Not started.
    Pending,
    /// Creating (or adopting) the ENI.
    Creating,
    /// Attaching.
    Attaching,
    /// Detaching to re-attach at the index a changed `deviceIndex` (or card) asks for.
    Moving,
    /// Attached and configured as the spec asks.
    Attached,
    /// Cannot progress (reason, message): no room on the card, instance gone, EC2 refusing.
    Blocked(String, String),
}

impl SlotPhase {
    fn label(&self) -> &'static str {
        match self {
            SlotPhase::Pending => "pending",
            SlotPhase::Creating => "creating",
            SlotPhase::Attaching => "attaching",
            SlotPhase::Moving => "moving",
            SlotPhase::Attached => "attached",
            SlotPhase::Blocked(..) => "failed",
        }
    }
}

/// One slot, as status reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct SlotSummary {
    /// Node name.
    pub node: String,
    pub instance_id: String,
    pub subnet_id: String,
    pub subnet_cidr: String,
    /// ENI, once known.
    pub eni_id: Option<String>,
    /// Attachment, once attached.
    pub attachment_id: Option<String>,
    /// MAC address, once known.
    pub mac_address: Option<String>,
    /// Device index, once attached.
    pub device_index: Option<u32>,
    /// Private IPv4 addresses, the primary first (listed on the ENINode, not in the
    /// NodeENI's status).
    pub ipv4_addresses: Vec<String>,
    /// /28 IPv4 prefixes (listed on the ENINode only).
    pub ipv4_prefixes: Vec<String>,
    /// IPv6 addresses (listed on the ENINode only).
    pub ipv6_addresses: Vec<String>,
    /// /80 IPv6 prefixes (listed on the ENINode only).
    pub ipv6_prefixes: Vec<String>,
    /// Source/destination check, once known.
    pub source_dest_check: Option<bool>,
    pub network_card: u32,
    /// MTU requested by the spec.
    pub mtu: i32,
    /// The node agent's report for this interface, if any.
    pub interface_configured: Option<bool>,
    pub phase: SlotPhase,
}

/// A problem with the NodeENI as a whole (reason, message), e.g. a subnet name that
/// resolves to nothing, or DPDK requested.
pub type Problem = (String, String);

const MAX_MESSAGE: usize = 1000;

fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    generation: i64,
    now: &Time,
    previous: Option<&NodeENIStatus>,
) -> Condition {
    let status = if ok { "True" } else { "False" }.to_string();
    let mut message = message;
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    let last_transition_time = previous
        .and_then(|p| p.conditions.iter().find(|c| c.type_ == type_))
        .filter(|c| c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    Condition {
        type_: type_.into(),
        status,
        reason: reason.into(),
        message,
        last_transition_time,
        observed_generation: Some(generation),
    }
}

/// Previous attachments by (node, instance, subnet): a slot's identity.
type PreviousIndex<'a> = HashMap<(&'a str, &'a str, &'a str), &'a ENIAttachment>;

fn attachment(s: &SlotSummary, now: &Time, previous: &PreviousIndex<'_>) -> ENIAttachment {
    let before = previous.get(&(
        s.node.as_str(),
        s.instance_id.as_str(),
        s.subnet_id.as_str(),
    ));
    let mut a = ENIAttachment {
        node_id: s.node.clone(),
        instance_id: s.instance_id.clone(),
        eni_id: s.eni_id.clone().unwrap_or_default(),
        attachment_id: s.attachment_id.clone().unwrap_or_default(),
        subnet_id: s.subnet_id.clone(),
        subnet_cidr: s.subnet_cidr.clone(),
        mtu: s.mtu,
        device_index: s.device_index.map_or(0, |i| i as i32),
        network_card_index: s.network_card as i32,
        mac_address: s.mac_address.clone().unwrap_or_default(),
        interface_configured: s.interface_configured,
        status: s.phase.label().into(),
        last_updated: before.and_then(|b| b.last_updated.clone()),
    };
    // Unchanged since the previous status: keep its time; otherwise it changed now.
    if before.is_none_or(|b| **b != a) {
        a.last_updated = Some(now.clone());
    }
    a
}

/// At most this many attachments are listed in a NodeENI's status: at about 400 bytes
/// each, a NodeENI over thousands of nodes would otherwise outgrow what the API server
/// stores for one object (and every status write would carry all of it).
pub const MAX_LISTED_ATTACHMENTS: usize = 100;

/// At most this many bytes of attachments (as JSON) are listed, so that long node names
/// cannot push a status write past 64 KiB either.
pub const MAX_LISTED_BYTES: usize = 48 * 1024;

/// Which slots come first when not all can be listed: failed ones, then those on their
/// way, then attached ones; by node within each.
fn listing_order(s: &SlotSummary) -> (u8, &str, Option<u32>, &str) {
    let rank = match s.phase {
        SlotPhase::Blocked(..) => 0,
        SlotPhase::Attached => 2,
        _ => 1,
    };
    (rank, &s.node, s.device_index, &s.subnet_id)
}

/// [`listing_order`], then the slot's position.
fn order_of<'a>(
    &(i, s): &(usize, &'a SlotSummary),
) -> ((u8, &'a str, Option<u32>, &'a str), usize) {
    (listing_order(s), i)
}

/// The attachments listed in the status: the first by [`listing_order`] within the caps
/// (every slot's when they fit), sorted by node, device index and subnet.
fn listed(slots: &[SlotSummary], now: &Time, previous: &PreviousIndex<'_>) -> Vec<ENIAttachment> {
    // Only the first MAX_LISTED_ATTACHMENTS can be listed: those are picked in linear
    // time and only they are sorted (sorting all of a large NodeENI's slots every round
    // was 8% of a 10,000-node label flip). Ties keep the slots' order, as a stable sort.
    let mut order: Vec<(usize, &SlotSummary)> = slots.iter().enumerate().collect();
    if order.len() > MAX_LISTED_ATTACHMENTS {
        order.select_nth_unstable_by(MAX_LISTED_ATTACHMENTS, |a, b| order_of(a).cmp(&order_of(b)));
        order.truncate(MAX_LISTED_ATTACHMENTS);
    }
    order.sort_unstable_by(|a, b| order_of(a).cmp(&order_of(b)));
    let mut bytes = 0;
    let mut out = Vec::new();
    for (_, s) in order {
        if out.len() == MAX_LISTED_ATTACHMENTS {
            break;
        }
        let a = attachment(s, now, previous);
        bytes += serde_json::to_vec(&a).map_or(MAX_LISTED_BYTES, |v| v.len() + 1);
        if bytes > MAX_LISTED_BYTES {
            break;
        }
        out.push(a);
    }
    out.sort_by(|a, b| {
        (&a.node_id, a.device_index, &a.subnet_id).cmp(&(&b.node_id, b.device_index, &b.subnet_id))
    });
    out
}

/// Nodes named per cause in the `Degraded` condition, at most.
const NAMED_PER_CAUSE: usize = 3;

/// The blocked slots grouped by cause (reason and message), most slots first: each
/// cause once, with how many slots it blocks and the first few of them, so that one
/// refusal blocking a thousand slots reads as one line.
fn blocked_causes(blocked: &[&SlotSummary]) -> Vec<Problem> {
    let mut by_cause: std::collections::BTreeMap<(&str, &str), Vec<&SlotSummary>> =
        std::collections::BTreeMap::new();
    for s in blocked {
        if let SlotPhase::Blocked(reason, msg) = &s.phase {
            by_cause.entry((reason, msg)).or_default().push(s);
        }
    }
    let mut causes: Vec<_> = by_cause.into_iter().collect();
    causes.sort_by_key(|(_, slots)| std::cmp::Reverse(slots.len()));
    causes
        .into_iter()
        .map(|((reason, msg), slots)| {
            let named: Vec<String> = slots
                .iter()
                .take(NAMED_PER_CAUSE)
                .map(|s| format!("{} in {}", s.node, s.subnet_id))
                .collect();
            let more = slots.len().saturating_sub(NAMED_PER_CAUSE);
            let who = if more > 0 {
                format!("{} and {more} more", named.join(", "))
            } else {
                named.join(", ")
            };
            let count = match slots.len() {
                1 => "1 slot".to_string(),
                n => format!("{n} slots"),
            };
            (
                reason.to_string(),
                format!("{reason} blocks {count} ({who}): {msg}"),
            )
        })
        .collect()
}

/// What a NodeENI's status reports beside its slots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Concerns {
    /// Problems with the NodeENI as a whole (the first decides `Ready`'s reason).
    pub problems: Vec<Problem>,
    /// Matching nodes that get no ENI, by reason (they degrade it).
    pub skipped: Vec<Problem>,
    /// What the NodeENI waits for before all of its slots can be planned or started,
    /// in words: not ready yet, but nothing wrong.
    pub pending: Vec<String>,
}

/// The status for `generation` given every desired slot and the `concerns` beside them,
/// keeping timestamps from `previous`.
pub fn build_status(
    generation: i64,
    slots: &[SlotSummary],
    concerns: &Concerns,
    previous: Option<&NodeENIStatus>,
    now: Time,
) -> NodeENIStatus {
    let (problems, skipped) = (&concerns.problems, &concerns.skipped);
    let desired = slots.len();
    let ready = slots
        .iter()
        .filter(|s| s.phase == SlotPhase::Attached)
        .count();
    let blocked: Vec<&SlotSummary> = slots
        .iter()
        .filter(|s| matches!(s.phase, SlotPhase::Blocked(..)))
        .collect();
    let moving = desired - ready - blocked.len();
    let index: PreviousIndex<'_> = previous
        .iter()
        .flat_map(|p| &p.attachments)
        .map(|b| {
            (
                (
                    b.node_id.as_str(),
                    b.instance_id.as_str(),
                    b.subnet_id.as_str(),
                ),
                b,
            )
        })
        .collect();
    let attachments = listed(slots, &now, &index);
    let unlisted = desired - attachments.len();

    let (ready_reason, ready_msg) = if let Some((reason, msg)) = problems.first() {
        (reason.as_str(), msg.clone())
    } else if !concerns.pending.is_empty() {
        ("Pending", concerns.pending.join("; "))
    } else if desired == 0 {
        (
            "NoMatchingNodes",
            "no node matches the nodeSelector".to_string(),
        )
    } else if ready == desired {
        ("AllAttached", format!("{ready}/{desired} ENIs attached"))
    } else if !blocked.is_empty() && moving == 0 {
        (
            "SomeFailed",
            format!("{ready}/{desired} ENIs attached, {} failed", blocked.len()),
        )
    } else {
        ("Attaching", format!("{ready}/{desired} ENIs attached"))
    };
    let all_ready = problems.is_empty() && concerns.pending.is_empty() && ready == desired;

    let mut degraded: Vec<(String, String)> = problems.to_vec();
    degraded.extend(blocked_causes(&blocked));
    let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
    for (reason, msg) in skipped {
        match by_reason.iter_mut().find(|(r, _)| r == reason) {
            Some((_, msgs)) => msgs.push(msg),
            None => by_reason.push((reason, vec![msg])),
        }
    }
    for (reason, msgs) in by_reason {
        degraded.push((reason.to_string(), msgs.join("; ")));
    }
    let degraded_cond = match degraded.first() {
        Some((reason, _)) => {
            let msg = degraded
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            condition("Degraded", true, reason, msg, generation, &now, previous)
        }
        None => condition(
            "Degraded",
            false,
            "AsExpected",
            "no problems".into(),
            generation,
            &now,
            previous,
        ),
    };
    let progressing = if moving > 0 || !concerns.pending.is_empty() {
        condition(
            "Progressing",
            true,
            "Reconciling",
            if moving > 0 {
                format!("{moving} ENIs being created, attached or moved")
            } else {
                concerns.pending.join("; ")
            },
            generation,
            &now,
            previous,
        )
    } else {
        condition(
            "Progressing",
            false,
            "Stable",
            "nothing in progress".into(),
            generation,
            &now,
            previous,
        )
    };
    NodeENIStatus {
        observed_generation: Some(generation),
        conditions: vec![
            condition(
                "Ready",
                all_ready,
                ready_reason,
                ready_msg,
                generation,
                &now,
                previous,
            ),
            progressing,
            degraded_cond,
        ],
        attachments,
        desired_count: desired as i32,
        ready_count: ready as i32,
        failed_count: blocked.len() as i32,
        unlisted_count: unlisted as i32,
    }
}

#[cfg(test)]
mod tests;
