//! The observing half of the attachment actor: reading a slot's ENIs and instance from
//! EC2 (through the rate-limited port) and turning them into the lifecycle's values.

use std::collections::BTreeSet;

use tokio::time::Instant;

use super::attachment::SlotState;
use crate::aws::{
    AttachmentStatus, Ec2Error, Eni, Ownership, SlotOwner, describe_all_enis, describe_eni,
};
use crate::k8s::status::SlotPhase;
use crate::plan::device_index::{CardOccupancy, NoRoom, place};
use crate::plan::lifecycle::{Action, Blocker, EniState, SeenEni, Waiting};

pub(super) fn owner(st: &SlotState) -> SlotOwner {
    SlotOwner {
        cluster: st.deps.cluster.clone(),
        nodeeni_name: st.deps.nodeeni_name.clone(),
        nodeeni_uid: st.deps.nodeeni_uid.clone(),
        node_name: st.desired.key.node.clone(),
        instance_id: st.desired.key.instance_id.clone(),
        subnet_id: st.desired.key.subnet_id.clone(),
        slot: st.desired.position,
    }
}

fn to_seen(e: &Eni, cluster: &str) -> Option<SeenEni> {
    let (intent_index, incarnation, legacy) = match Ownership::of(&e.tags, cluster) {
        Ownership::Owned(o) => (o.device_index, o.incarnation, false),
        Ownership::LegacyGo { .. } => (None, None, true),
        _ => return None,
    };
    let state = match &e.attachment {
        Some(a) => {
            let instance_id = a.instance_id.clone().unwrap_or_default();
            let attachment_id = a.attachment_id.clone();
            match a.status {
                AttachmentStatus::Attaching => EniState::Attaching {
                    attachment_id,
                    instance_id,
                    device_index: a.device_index,
                    card: a.network_card_index,
                },
                AttachmentStatus::Detaching => EniState::Detaching {
                    attachment_id,
                    instance_id,
                },
                AttachmentStatus::Detached => EniState::Available,
                _ => EniState::Attached {
                    attachment_id,
                    instance_id,
                    device_index: a.device_index,
                    card: a.network_card_index,
                    delete_on_termination: a.delete_on_termination,
                },
            }
        }
        None => EniState::Available,
    };
    let mut security_groups = e.security_group_ids.clone();
    security_groups.sort();
    Some(SeenEni {
        id: e.id.clone(),
        mac: e.mac_address.clone(),
        state,
        security_groups,
        intent_index,
        incarnation,
        legacy,
    })
}

/// The slot's ENIs as the lifecycle sees them.
pub fn seen_view(st: &SlotState) -> Vec<SeenEni> {
    st.seen
        .iter()
        .filter_map(|e| to_seen(e, &st.deps.cluster))
        .collect()
}

/// The ENI the slot works with: attached to its instance if any, else the first.
pub fn primary(st: &SlotState) -> Option<&Eni> {
    let instance = &st.desired.key.instance_id;
    st.seen
        .iter()
        .find(|e| e.attachment.as_ref().and_then(|a| a.instance_id.as_ref()) == Some(instance))
        .or_else(|| st.seen.iter().find(|e| e.attachment.is_none()))
}

/// The phase reported while `action` is the next step.
pub fn phase_of(action: &Action) -> SlotPhase {
    match action {
        Action::Create { .. } | Action::Adopt { .. } | Action::Wait(Waiting::Visibility) => {
            SlotPhase::Creating
        }
        Action::Ready => SlotPhase::Attached,
        Action::Blocked(Blocker::NoRoom(NoRoom::CardFull { limit })) => SlotPhase::Blocked(
            "AttachmentLimitExceeded".into(),
            format!("no free device index: the network card takes {limit} interfaces"),
        ),
        Action::Blocked(Blocker::NoRoom(NoRoom::NoSuchCard)) => SlotPhase::Blocked(
            "NoSuchNetworkCard".into(),
            "the instance type has no network card with the NodeENI's networkCardIndex".into(),
        ),
        Action::Blocked(Blocker::NoRoom(NoRoom::RefusedByEc2)) => SlotPhase::Blocked(
            "AttachmentLimitExceeded".into(),
            "EC2 refused another interface on the network card".into(),
        ),
        Action::Blocked(Blocker::InstanceGone) => SlotPhase::Blocked(
            "InstanceGone".into(),
            "the node's EC2 instance is terminated".into(),
        ),
        _ => SlotPhase::Attaching,
    }
}

pub(super) fn upsert(st: &mut SlotState, eni: Eni) {
    match st.seen.iter_mut().find(|e| e.id == eni.id) {
        Some(slot) => *slot = eni,
        None => st.seen.push(eni),
    }
}

pub(super) fn edit(st: &mut SlotState, eni_id: &str, f: impl FnOnce(&mut Eni)) {
    if let Some(e) = st.seen.iter_mut().find(|e| e.id == eni_id) {
        f(e);
    }
}

pub(super) fn lost(st: &mut SlotState, eni_id: &str) {
    st.seen.retain(|e| e.id != eni_id);
    if let Some((known, since)) = &mut st.memory.known
        && known == eni_id
    {
        since.get_or_insert_with(Instant::now);
    }
}

/// Re-reads the slot's ENIs: by ID when known, by the slot's ownership tags otherwise.
pub async fn refresh(st: &mut SlotState) -> Result<(), Ec2Error> {
    let mut ids: Vec<String> = st.seen.iter().map(|e| e.id.clone()).collect();
    if let Some((id, _)) = &st.memory.known
        && !id.is_empty()
        && !ids.contains(id)
    {
        ids.push(id.clone());
    }
    if ids.is_empty() {
        st.seen = describe_all_enis(&st.deps.ec2, &owner(st).filter()).await?;
        if let Some(found) = st.seen.first().map(|e| e.id.clone()) {
            st.memory.known = Some((found, None));
        }
        return Ok(());
    }
    for id in ids {
        match describe_eni(&st.deps.ec2, &id).await? {
            Some(e) => {
                if let Some((known, since)) = &mut st.memory.known
                    && *known == e.id
                {
                    *since = None;
                }
                upsert(st, e);
            }
            None => lost(st, &id),
        }
    }
    Ok(())
}

/// Reads the instance: whether it is gone, and where this slot's ENI can go.
pub(super) async fn observe_placement(st: &mut SlotState) -> Result<(), Ec2Error> {
    let Some(inst) = st.deps.instances.get(&st.desired.key.instance_id).await? else {
        st.instance_gone = true;
        return Ok(());
    };
    if inst.state.is_gone() {
        st.instance_gone = true;
        return Ok(());
    }
    let limits = st.deps.resolver.limits(&inst.instance_type).await.ok();
    let card = st.desired.network_card;
    let mine: Vec<&str> = st.seen.iter().map(|e| e.id.as_str()).collect();
    let taken: BTreeSet<u32> = inst
        .interfaces
        .iter()
        .filter(|i| i.network_card_index == card && !mine.contains(&i.eni_id.as_str()))
        .map(|i| i.device_index)
        .collect();
    let limit = limits.as_ref().map(|l| l.card(card).unwrap_or(0));
    st.placement = Some(place(
        st.desired.preferred_device_index,
        &CardOccupancy { taken, limit },
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_slot_says_why_in_its_own_words() {
        for (no_room, reason, says) in [
            (
                NoRoom::CardFull { limit: 3 },
                "AttachmentLimitExceeded",
                "takes 3 interfaces",
            ),
            (NoRoom::NoSuchCard, "NoSuchNetworkCard", "no network card"),
            (
                NoRoom::RefusedByEc2,
                "AttachmentLimitExceeded",
                "EC2 refused",
            ),
        ] {
            match phase_of(&Action::Blocked(Blocker::NoRoom(no_room))) {
                SlotPhase::Blocked(r, m) => {
                    assert_eq!(r, reason);
                    assert!(m.contains(says), "{m}");
                    assert!(!m.contains("takes 0"), "{m}");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
