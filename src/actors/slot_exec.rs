//! The acting half of the attachment actor: executing the action the lifecycle decided,
//! and updating what the slot knows from each answer.

use std::time::Duration;

use tokio::time::Instant;

use super::attachment::SlotState;
use super::slot_io::{edit, lost, observe_placement, owner, refresh, upsert};
use crate::aws::Missing;
use crate::aws::ownership::{TAG_CREATED_AT, TAG_DEVICE_INDEX};
use crate::aws::{
    AttachRequest, AttachmentStatus, CreateEniRequest, Ec2, Ec2Error, Eni, EniAttachment,
    EniStatus, Tags, describe_eni,
};
use crate::k8s::Notice;
use crate::plan::device_index::NoRoom;
use crate::plan::lifecycle::{Action, Blocker};

/// A create answered with an ENI older than this is checked: it may be the deleted ENI
/// of an earlier incarnation (EC2 answers a reused ClientToken with the original ENI).
const STALE_TOKEN_AGE: Duration = Duration::from_secs(600);

/// What to do after executing an action.
pub enum Outcome {
    /// Decide again now.
    Continue,
    /// Wait (backing off), then decide again.
    Poll,
    /// A retryable failure: back off, then decide again.
    Retry,
    /// Blocked: retry much later.
    Blocked,
}

fn created_at(st: &mut SlotState, incarnation: u32) -> String {
    if let Some((inc, ts)) = &st.created_at
        && *inc == incarnation
    {
        return ts.clone();
    }
    // To the minute: a retried create must repeat the same tags.
    let secs = jiff::Timestamp::now().as_second();
    let ts = jiff::Timestamp::from_second(secs - secs.rem_euclid(60))
        .map(|t| t.to_string())
        .unwrap_or_default();
    st.created_at = Some((incarnation, ts.clone()));
    ts
}

fn created_long_ago(eni: &Eni) -> bool {
    let Some(ts) = eni
        .tags
        .get(TAG_CREATED_AT)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    else {
        return false;
    };
    let age = jiff::Timestamp::now().duration_since(ts);
    age.as_secs() > STALE_TOKEN_AGE.as_secs() as i64
}

fn blocked(st: &mut SlotState, reason: &str, action: &str, e: &Ec2Error) -> Outcome {
    tracing::warn!(error = %e, reason, "slot blocked");
    st.notify(Notice::warning(
        reason,
        action,
        format!(
            "node {} subnet {}: {e}",
            st.desired.key.node, st.desired.key.subnet_id
        ),
    ));
    Outcome::Blocked
}

fn retry_or_block(st: &mut SlotState, reason: &str, action: &str, e: Ec2Error) -> Outcome {
    if e.is_retryable() {
        Outcome::Retry
    } else {
        blocked(st, reason, action, &e)
    }
}

/// Executes one lifecycle action.
pub async fn execute(st: &mut SlotState, action: Action) -> Outcome {
    match action {
        Action::Ready => Outcome::Continue,
        Action::Observe => match observe_placement(st).await {
            Ok(()) => Outcome::Continue,
            Err(_) => Outcome::Retry,
        },
        Action::Wait(_) => {
            let before = st.seen.clone();
            match refresh(st).await {
                Ok(()) if st.seen != before => Outcome::Continue,
                Ok(()) => Outcome::Poll,
                Err(_) => Outcome::Retry,
            }
        }
        Action::Blocked(Blocker::InstanceGone) => Outcome::Blocked,
        Action::Blocked(Blocker::NoRoom(_)) => {
            st.placement = None;
            Outcome::Blocked
        }
        Action::Create { incarnation } => create(st, incarnation).await,
        Action::Adopt { eni_id } => {
            let o = owner(st);
            let ts = created_at(st, st.memory.incarnation);
            let tags = o.tags(
                st.memory.incarnation,
                st.desired.preferred_device_index,
                &ts,
            );
            match st.deps.ec2.tag_eni(&eni_id, &tags).await {
                Ok(()) => {
                    edit(st, &eni_id, |e| e.tags.extend(tags.clone()));
                    st.memory.known = Some((eni_id.clone(), None));
                    st.notify(Notice::normal(
                        "ENIAdopted",
                        "Adopt",
                        format!(
                            "adopted {eni_id} made by the Go controller on node {}",
                            st.desired.key.node
                        ),
                    ));
                    Outcome::Continue
                }
                Err(e) if e.is_not_found() => {
                    lost(st, &eni_id);
                    Outcome::Continue
                }
                Err(e) => retry_or_block(st, "ENIAdoptFailed", "Adopt", e),
            }
        }
        Action::Attach {
            eni_id,
            device_index,
            card,
        } => attach(st, eni_id, device_index, card).await,
        Action::SetDeleteOnTermination {
            eni_id,
            attachment_id,
            value,
        } => {
            match st
                .deps
                .ec2
                .set_delete_on_termination(&eni_id, &attachment_id, value)
                .await
            {
                Ok(()) => {
                    edit(st, &eni_id, |e| {
                        if let Some(a) = &mut e.attachment {
                            a.delete_on_termination = value;
                        }
                    });
                    Outcome::Continue
                }
                Err(e) if e.is_not_found() => refresh(st)
                    .await
                    .map_or(Outcome::Retry, |()| Outcome::Retry),
                Err(e) => retry_or_block(st, "ENIModifyFailed", "Modify", e),
            }
        }
        Action::ModifyGroups { eni_id, groups } => {
            match st.deps.ec2.modify_security_groups(&eni_id, &groups).await {
                Ok(()) => {
                    edit(st, &eni_id, |e| e.security_group_ids = groups.clone());
                    st.notify(Notice::normal(
                        "ENISecurityGroupsChanged",
                        "Modify",
                        format!("{eni_id} now in {}", groups.join(",")),
                    ));
                    Outcome::Continue
                }
                Err(e) => retry_or_block(st, "ENIModifyFailed", "Modify", e),
            }
        }
        Action::Relocate {
            eni_id,
            attachment_id,
        } => match st.deps.ec2.detach_eni(&attachment_id, false).await {
            Ok(()) => {
                let instance_id = st.desired.key.instance_id.clone();
                edit(st, &eni_id, |e| {
                    e.status = EniStatus::Detaching;
                    if let Some(a) = &mut e.attachment {
                        a.status = AttachmentStatus::Detaching;
                        a.instance_id = Some(instance_id);
                    }
                });
                st.placement = None;
                st.notify(Notice::normal(
                    "ENIMoving",
                    "Detach",
                    format!("{eni_id} detached to move to the index the spec asks for"),
                ));
                Outcome::Poll
            }
            Err(e) if e.is_not_found() => refresh(st)
                .await
                .map_or(Outcome::Retry, |()| Outcome::Continue),
            Err(e) => retry_or_block(st, "ENIDetachFailed", "Detach", e),
        },
        Action::TagIntent { eni_id, index } => {
            let tags: Tags = [(TAG_DEVICE_INDEX.to_string(), index.to_string())].into();
            match st.deps.ec2.tag_eni(&eni_id, &tags).await {
                Ok(()) => {
                    edit(st, &eni_id, |e| e.tags.extend(tags));
                    Outcome::Continue
                }
                Err(e) => retry_or_block(st, "ENITagFailed", "Tag", e),
            }
        }
    }
}

async fn create(st: &mut SlotState, incarnation: u32) -> Outcome {
    if st.created_at.is_none() {
        metrics::histogram!(crate::telemetry::metric::LABEL_TO_CREATE_SECONDS)
            .record(st.desired_since.elapsed().as_secs_f64());
    }
    let o = owner(st);
    let ts = created_at(st, incarnation);
    let request = CreateEniRequest {
        subnet_id: st.desired.key.subnet_id.clone(),
        security_group_ids: st.desired.security_groups.clone(),
        description: st.desired.description.clone(),
        tags: o.tags(incarnation, st.desired.preferred_device_index, &ts),
        client_token: o.client_token(incarnation),
    };
    match st.deps.ec2.create_eni(request).await {
        Ok(eni) => {
            st.memory.incarnation = incarnation;
            if created_long_ago(&eni)
                && matches!(describe_eni(&st.deps.ec2, &eni.id).await, Ok(None))
            {
                // The token belonged to an ENI deleted long ago: move to a fresh one.
                st.memory.incarnation = incarnation + 1;
                st.memory.known = None;
                return Outcome::Continue;
            }
            st.memory.known = Some((eni.id.clone(), None));
            st.notify(Notice::normal(
                "ENICreated",
                "Create",
                format!(
                    "created {} in {} for node {}",
                    eni.id, st.desired.key.subnet_id, st.desired.key.node
                ),
            ));
            upsert(st, eni);
            Outcome::Continue
        }
        Err(Ec2Error::IdempotentParameterMismatch { .. }) => {
            // The token was used with other parameters (by a previous controller, or
            // before a spec change): its ENI exists or existed. Look for it by tags for
            // a while before moving on to the next incarnation.
            st.memory.incarnation = incarnation;
            st.memory.known = Some((String::new(), Some(Instant::now())));
            Outcome::Poll
        }
        Err(e) => retry_or_block(st, "ENICreateFailed", "Create", e),
    }
}

async fn attach(st: &mut SlotState, eni_id: String, device_index: u32, card: u32) -> Outcome {
    let request = AttachRequest {
        eni_id: eni_id.clone(),
        instance_id: st.desired.key.instance_id.clone(),
        device_index,
        network_card_index: card,
    };
    match st.deps.ec2.attach_eni(request).await {
        Ok(attachment_id) => {
            let instance_id = st.desired.key.instance_id.clone();
            edit(st, &eni_id, |e| {
                e.status = EniStatus::Attaching;
                e.attachment = Some(EniAttachment {
                    attachment_id,
                    instance_id: Some(instance_id),
                    device_index,
                    network_card_index: card,
                    status: AttachmentStatus::Attaching,
                    delete_on_termination: false,
                });
            });
            Outcome::Poll
        }
        Err(Ec2Error::DeviceIndexInUse { .. }) => {
            st.placement = None;
            Outcome::Retry
        }
        Err(Ec2Error::AttachmentLimitExceeded { .. }) => {
            st.placement = Some(Err(NoRoom::RefusedByEc2));
            Outcome::Continue
        }
        Err(Ec2Error::NotFound {
            what: Missing::Instance,
            ..
        }) => {
            st.instance_gone = true;
            Outcome::Continue
        }
        Err(Ec2Error::NotFound { .. }) => {
            let stale = st
                .seen
                .iter()
                .any(|e| e.id == eni_id && created_long_ago(e));
            lost(st, &eni_id);
            if stale && let Some((_, since)) = &mut st.memory.known {
                let now = Instant::now();
                *since = Some(
                    now.checked_sub(crate::plan::lifecycle::VISIBILITY_WINDOW)
                        .unwrap_or(now),
                );
            }
            Outcome::Continue
        }
        Err(Ec2Error::Conflict { .. }) => refresh(st)
            .await
            .map_or(Outcome::Retry, |()| Outcome::Retry),
        Err(e) => retry_or_block(st, "ENIAttachFailed", "Attach", e),
    }
}
