//! A slot's calls to EC2: reading its ENIs and instance, and executing the action the
//! lifecycle decided, each answered as a typed [`Answer`] for
//! [`SlotView::apply`](crate::plan::slot_view::SlotView::apply). Nothing here changes what the slot knows.

use jiff::Timestamp;

use super::msg::SlotDeps;
use crate::actors::limiter::LimitedEc2;
use crate::actors::refusal::classified;
use crate::aws::ownership::{ClusterIdentity, TAG_CREATED_AT, claims, intent_tags};
use crate::aws::{
    AddressChange, AttachRequest, AttachmentStatus, CreateEniRequest, Ec2, Ec2Error, EnaAttach,
    Eni, Ownership, SlotOwner, Tags, describe_all_enis, describe_eni, describe_enis_by_id,
};
use crate::plan::device_index::CardLimit;
use crate::plan::interface_limits::InterfaceLimits;
use crate::plan::lifecycle::{Action, EniState, SeenEni};
use crate::plan::outcome::Answer;
use crate::plan::slot_view::{InstanceFacts, Refreshed, SlotView, created_long_ago};
use crate::plan::slots::DesiredSlot;

/// The ownership of the slot's ENIs (tags, ClientToken, look-up filter).
pub fn owner(deps: &SlotDeps, desired: &DesiredSlot) -> SlotOwner {
    SlotOwner {
        cluster: deps.cluster.clone(),
        nodeeni_name: deps.nodeeni_name.clone(),
        nodeeni_uid: deps.nodeeni_uid.clone(),
        node_name: desired.key.node.clone(),
        instance_id: desired.key.instance_id.clone(),
        subnet_id: desired.key.subnet_id.clone(),
        slot: desired.position,
    }
}

/// An ENI as the lifecycle of a slot of the NodeENI `uid` sees it; `None` for one that
/// is neither this NodeENI's, nor one that claims it (see [`claims`]), nor the Go
/// controller's.
pub fn to_seen(e: &Eni, cluster: &ClusterIdentity, uid: &str) -> Option<SeenEni> {
    let ownership = Ownership::of(&e.tags, cluster);
    let (intent_index, intent_base, incarnation, legacy, unmanaged) = match &ownership {
        Ownership::LegacyGo { .. } => (None, None, None, true, false),
        o => match o.managed_by(uid) {
            Some(o) => (
                o.device_index,
                o.base_device_index,
                o.incarnation,
                false,
                false,
            ),
            None if claims(&e.tags, &cluster.name, uid) => (None, None, None, false, true),
            None => return None,
        },
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
        primary_ip: e.private_ip.clone(),
        secondary_ips: e.secondary_ips.clone(),
        ipv4_prefixes: e.ipv4_prefixes.clone(),
        ipv6_addresses: e.ipv6_addresses.clone(),
        ipv6_prefixes: e.ipv6_prefixes.clone(),
        source_dest_check: e.source_dest_check,
        connection_tracking: e.connection_tracking,
        intent_index,
        intent_base,
        incarnation,
        legacy,
        created_at: e.tags.get(TAG_CREATED_AT).and_then(|t| t.parse().ok()),
        unmanaged,
    })
}

/// The ENIs of a list that belong to the lifecycle of a slot of the NodeENI `uid`.
pub fn to_seen_all(enis: &[Eni], cluster: &ClusterIdentity, uid: &str) -> Vec<SeenEni> {
    enis.iter()
        .filter_map(|e| to_seen(e, cluster, uid))
        .collect()
}

/// Re-reads the slot's ENIs: by ID when known, by the slot's ownership tags otherwise.
pub async fn refresh(
    deps: &SlotDeps,
    desired: &DesiredSlot,
    view: &SlotView,
) -> Result<Refreshed, Ec2Error> {
    let ids = view.ids_to_read();
    if ids.is_empty() {
        let found = describe_all_enis(&deps.ec2, &owner(deps, desired).filter()).await?;
        return Ok(Refreshed::ByTags(to_seen_all(
            &found,
            &deps.cluster,
            &deps.nodeeni_uid,
        )));
    }
    let enis = describe_enis_by_id(&deps.ec2, &ids).await?;
    let missing = ids
        .into_iter()
        .filter(|id| !enis.iter().any(|e| e.id == *id))
        .collect();
    let found = enis
        .iter()
        .flat_map(|e| to_seen(e, &deps.cluster, &deps.nodeeni_uid))
        .collect();
    Ok(Refreshed::ById { found, missing })
}

/// Reads the slot's instance and its type's limit on the slot's card.
async fn observe(
    deps: &SlotDeps,
    desired: &DesiredSlot,
) -> Result<Option<InstanceFacts>, Ec2Error> {
    let Some(inst) = deps.instances.get(&desired.key.instance_id).await? else {
        return Ok(None);
    };
    let (limit, interface) = match deps.resolver.limits(&inst.instance_type).await {
        Ok(l) => (
            l.card(desired.network_card)
                .map_or(CardLimit::NoSuchCard, CardLimit::Max),
            InterfaceLimits {
                ipv4: l.ipv4_per_interface,
                ena_srd: l.ena_srd_supported,
                ena_queues: l.ena_queues_per_interface,
                ipv6: l.ipv6_per_interface,
            },
        ),
        Err(_) => (CardLimit::Unknown, InterfaceLimits::default()),
    };
    Ok(Some(InstanceFacts {
        gone: inst.state.is_gone(),
        interfaces: inst
            .interfaces
            .iter()
            .map(|i| (i.network_card_index, i.device_index, i.eni_id.clone()))
            .collect(),
        limit,
        zone: inst.availability_zone.clone(),
        vpc: inst.vpc_id.clone(),
        in_cluster: !deps.require_instance_cluster_tag || inst.in_cluster(&deps.cluster.name),
        interface,
    }))
}

/// The tags a slot writes on the ENI it creates or adopts: the user's extra tags, then
/// the ownership tags `own` and where it is placed for (the controller's keys always win).
fn slot_tags(desired: &DesiredSlot, own: Tags) -> Tags {
    let mut tags: Tags = desired.tags.as_ref().clone();
    tags.extend(own);
    tags.extend(intent_tags(
        desired.preferred_device_index,
        desired.base_device_index(),
    ));
    tags
}

fn done(r: Result<(), Ec2Error>) -> Answer<Ec2Error> {
    match classified(r) {
        Ok(()) => Answer::Done,
        Err(r) => Answer::Refused(r),
    }
}

async fn create(
    ec2: &LimitedEc2,
    deps: &SlotDeps,
    desired: &DesiredSlot,
    incarnation: u32,
    stamp: Option<Timestamp>,
    wall: Timestamp,
) -> Answer<Ec2Error> {
    let o = owner(deps, desired);
    let stamp = stamp.unwrap_or(wall).to_string();
    let tags = slot_tags(
        desired,
        o.tags(incarnation, desired.preferred_device_index, &stamp),
    );
    let request = CreateEniRequest {
        subnet_id: desired.key.subnet_id.clone(),
        security_group_ids: desired.security_groups.clone(),
        description: desired.description.clone(),
        tags: tags.clone(),
        client_token: o.client_token(incarnation),
        secondary_ipv4_count: desired.secondary_ipv4.unwrap_or(0),
        // EC2 takes one count or the other at create: prefixes asked beside addresses
        // follow with one assign (the slot's next step).
        ipv4_prefix_count: match desired.secondary_ipv4 {
            Some(n) if n > 0 => 0,
            _ => desired.ipv4_prefixes.unwrap_or(0),
        },
        // Likewise for IPv6 (and none on a subnet without an IPv6 block: such a slot
        // is refused before it creates).
        ipv6_address_count: desired.ipv6_addresses.unwrap_or(0),
        ipv6_prefix_count: match desired.ipv6_addresses {
            Some(n) if n > 0 => 0,
            _ => desired.ipv6_prefixes.unwrap_or(0),
        },
        connection_tracking: desired.connection_tracking,
    };
    match classified(ec2.create_eni(request).await) {
        Ok(mut eni) => {
            // EC2 applies the request's tags with the create; an answer without them
            // still names this incarnation's ENI.
            if eni.tags.is_empty() {
                eni.tags = tags;
            }
            let Some(seen) = to_seen(&eni, &deps.cluster, &deps.nodeeni_uid) else {
                return Answer::Done;
            };
            let long_gone = created_long_ago(&seen, wall)
                && matches!(describe_eni(&deps.ec2, &eni.id).await, Ok(None));
            Answer::Created {
                eni: Box::new(seen),
                long_gone,
            }
        }
        Err(r) => Answer::Refused(r),
    }
}

/// Executes `action` through `ec2`; `stamp` is the creation-time tag it writes, if any.
pub async fn execute(
    ec2: &LimitedEc2,
    deps: &SlotDeps,
    desired: &DesiredSlot,
    view: &SlotView,
    action: &Action,
    stamp: Option<Timestamp>,
    wall: Timestamp,
) -> Answer<Ec2Error> {
    match action {
        Action::Ready | Action::Blocked(_) => Answer::Done,
        Action::Observe => match classified(observe(deps, desired).await) {
            Ok(facts) => Answer::Instance(facts),
            Err(r) => Answer::Refused(r),
        },
        Action::Wait(_) => match classified(refresh(deps, desired, view).await) {
            Ok(r) => Answer::Refreshed(r),
            Err(r) => Answer::Refused(r),
        },
        Action::Create { incarnation } => {
            create(ec2, deps, desired, *incarnation, stamp, wall).await
        }
        Action::Adopt { eni_id } => {
            let stamp = stamp.unwrap_or(wall).to_string();
            let own = owner(deps, desired).tags(
                view.memory.incarnation,
                desired.preferred_device_index,
                &stamp,
            );
            done(ec2.tag_eni(eni_id, &slot_tags(desired, own)).await)
        }
        Action::Attach {
            eni_id,
            device_index,
            card,
        } => {
            let request = AttachRequest {
                eni_id: eni_id.clone(),
                instance_id: desired.key.instance_id.clone(),
                device_index: *device_index,
                network_card_index: *card,
                ena: EnaAttach {
                    srd: desired.ena_srd,
                    queue_count: desired.ena_queue_count,
                },
            };
            match classified(ec2.attach_eni(request).await) {
                Ok(attachment_id) => Answer::Attached { attachment_id },
                Err(r) => Answer::Refused(r),
            }
        }
        Action::SetDeleteOnTermination {
            eni_id,
            attachment_id,
            value,
        } => done(
            ec2.set_delete_on_termination(eni_id, attachment_id, *value)
                .await,
        ),
        Action::ModifyGroups { eni_id, groups } => {
            done(ec2.modify_security_groups(eni_id, groups).await)
        }
        Action::Relocate { attachment_id, .. } => done(ec2.detach_eni(attachment_id, false).await),
        Action::SetSourceDestCheck { eni_id, value } => {
            done(ec2.set_source_dest_check(eni_id, *value).await)
        }
        Action::SetConnectionTracking { eni_id, value } => {
            done(ec2.set_connection_tracking(eni_id, value).await)
        }
        Action::AssignIpv4 { eni_id, count } => done(
            ec2.change_addresses(eni_id, &AddressChange::AssignIpv4 { count: *count })
                .await,
        ),
        Action::AssignIpv4Prefixes { eni_id, count } => done(
            ec2.change_addresses(eni_id, &AddressChange::AssignIpv4Prefixes { count: *count })
                .await,
        ),
        Action::UnassignIpv4Prefixes { eni_id, prefixes } => done(
            ec2.change_addresses(
                eni_id,
                &AddressChange::UnassignIpv4Prefixes {
                    prefixes: prefixes.clone(),
                },
            )
            .await,
        ),
        Action::AssignIpv6 {
            eni_id,
            count,
            prefixes,
        } => {
            let change = if *prefixes {
                AddressChange::AssignIpv6Prefixes { count: *count }
            } else {
                AddressChange::AssignIpv6 { count: *count }
            };
            done(ec2.change_addresses(eni_id, &change).await)
        }
        Action::UnassignIpv6 {
            eni_id,
            items,
            prefixes,
        } => {
            let change = if *prefixes {
                AddressChange::UnassignIpv6Prefixes {
                    prefixes: items.clone(),
                }
            } else {
                AddressChange::UnassignIpv6 {
                    addresses: items.clone(),
                }
            };
            done(ec2.change_addresses(eni_id, &change).await)
        }
        Action::UnassignIpv4 { eni_id, addresses } => done(
            ec2.change_addresses(
                eni_id,
                &AddressChange::UnassignIpv4 {
                    addresses: addresses.clone(),
                },
            )
            .await,
        ),
        Action::TagIntent {
            eni_id,
            index,
            base,
        } => done(ec2.tag_eni(eni_id, &intent_tags(*index, *base)).await),
    }
}
