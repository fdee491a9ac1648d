//! What the NodeENI actor does: plan slots, start and retire slot actors, sweep this
//! NodeENI's ENIs, write status, and tear everything down on deletion.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::time::Instant;

use super::attachment::{AttachmentActor, AttachmentArgs, AttachmentMsg, SlotReport};
use super::cleanup::CleanupMsg;
use super::nodeeni::{NodeEniMsg, NodeEniState, Slot};
use super::nodeeni_view::{resolve, skip_message, slot_key_of, to_node_input, write_status};
use crate::aws::{Eni, Ownership, describe_all_enis, ownership};
use crate::k8s::NodeENI;
use crate::plan::lifecycle::SlotMemory;
use crate::plan::slots::{SlotKey, plan_slots};

const RETRY: Duration = Duration::from_secs(5);

/// A newer version of the object arrived.
pub fn on_spec(myself: &ActorRef<NodeEniMsg>, st: &mut NodeEniState, obj: NodeENI) {
    let changed = obj.spec != st.obj.spec || obj.metadata.generation != st.obj.metadata.generation;
    let now_deleting = obj.metadata.deletion_timestamp.is_some() && !st.deleting();
    st.obj = obj;
    if changed || now_deleting {
        st.tick_in(myself, Duration::ZERO);
    }
}

/// Re-plans every node (`only = None`) or one node, and reconciles the slot actors.
pub async fn replan(
    myself: &ActorRef<NodeEniMsg>,
    st: &mut NodeEniState,
    only: Option<&str>,
) -> Result<(), ActorProcessingErr> {
    if st.deleting() || !st.finalizer_ok {
        return Ok(());
    }
    let (Some(resolved), Some(nodes)) = (&st.resolved, &st.nodes) else {
        return Ok(());
    };
    let inputs: Vec<_> = match only {
        Some(name) => nodes.get(name).map(to_node_input).into_iter().collect(),
        None => nodes.values().map(to_node_input).collect(),
    };
    let plan = plan_slots(resolved, &inputs);
    let in_scope = |k: &SlotKey| only.is_none_or(|n| k.node == n);
    let gone: Vec<SlotKey> = st
        .slots
        .keys()
        .filter(|k| in_scope(k) && !plan.slots.contains_key(*k))
        .cloned()
        .collect();
    for key in gone {
        retire(myself, st, key, "slot no longer desired");
    }
    for (key, desired) in plan.slots {
        match st.slots.get_mut(&key) {
            Some(slot) if slot.desired != desired => {
                slot.desired = desired.clone();
                if let Some(a) = &slot.actor {
                    let _ = a.cast(AttachmentMsg::Update(desired));
                }
            }
            Some(_) => {}
            None => {
                // A slot the last sweep found nothing for starts from that knowledge instead
                // of describing its ENIs again.
                let seen = st
                    .swept
                    .remove(&key)
                    .or_else(|| st.last_sweep.map(|_| Vec::new()));
                st.slots.insert(
                    key.clone(),
                    Slot {
                        desired,
                        actor: None,
                        report: None,
                        restarts: Default::default(),
                        failing: false,
                        since: Instant::now(),
                    },
                );
                spawn(myself, st, &key, seen).await?;
            }
        }
    }
    let fresh = plan.skipped.iter().map(skip_message);
    match only {
        None => st.skipped = fresh.collect(),
        Some(name) => {
            let prefix = format!("node {name} ");
            st.skipped.retain(|m| !m.starts_with(&prefix));
            st.skipped.extend(fresh);
        }
    }
    st.dirty(myself);
    Ok(())
}

async fn spawn(
    myself: &ActorRef<NodeEniMsg>,
    st: &mut NodeEniState,
    key: &SlotKey,
    seen: Option<Vec<Eni>>,
) -> Result<(), ActorProcessingErr> {
    let Some(slot) = st.slots.get(key) else {
        return Ok(());
    };
    let incarnation = st
        .incarnations
        .get(key)
        .copied()
        .or(slot.report.as_ref().map(|r| r.incarnation))
        .unwrap_or(0);
    let args = AttachmentArgs {
        desired: slot.desired.clone(),
        seen,
        memory: SlotMemory {
            incarnation,
            known: None,
        },
        desired_since: slot.since,
        deps: st.slot_deps.clone(),
        parent: myself.clone(),
    };
    let (actor, _) = Actor::spawn_linked(None, AttachmentActor, args, myself.get_cell()).await?;
    if let Some(slot) = st.slots.get_mut(key) {
        slot.actor = Some(actor);
    }
    Ok(())
}

/// Hands an ENI to the cleanup pool, once, and hears back when it is gone.
pub fn clean(
    myself: &ActorRef<NodeEniMsg>,
    st: &mut NodeEniState,
    eni_id: String,
    reason: &'static str,
) {
    if !st.pending_cleanup.insert(eni_id.clone()) {
        return;
    }
    let me = myself.clone();
    let sent = st.deps.cleanup.cast(CleanupMsg::Clean {
        eni_id: eni_id.clone(),
        reason,
        notify: Some(Box::new(move |id: &str, result| {
            let _ = me.cast(NodeEniMsg::Cleaned(id.to_string(), result));
        })),
    });
    if !sent {
        // The pool is restarting: the next tick retries.
        st.pending_cleanup.remove(&eni_id);
        st.tick_in(myself, RETRY);
    }
}

fn retire(myself: &ActorRef<NodeEniMsg>, st: &mut NodeEniState, key: SlotKey, why: &'static str) {
    let Some(slot) = st.slots.remove(&key) else {
        return;
    };
    if let Some(actor) = &slot.actor {
        actor.stop(Some(why.into()));
    }
    if let Some(r) = &slot.report {
        if let Some(eni) = &r.eni_id {
            // A later ENI for this slot needs a fresh ClientToken.
            st.incarnations.insert(key.clone(), r.incarnation + 1);
            clean(myself, st, eni.clone(), why);
        } else {
            st.incarnations.insert(key.clone(), r.incarnation);
        }
    }
    // Anything created in the retired slot's last step shows up in a sweep soon.
    st.last_sweep = None;
    st.tick_in(myself, Duration::from_secs(30));
}

/// A slot reported progress.
pub fn on_report(
    myself: &ActorRef<NodeEniMsg>,
    st: &mut NodeEniState,
    key: SlotKey,
    report: SlotReport,
) {
    match st.slots.get_mut(&key) {
        Some(slot) => {
            if slot.report.as_ref() != Some(&report) {
                slot.report = Some(report);
                st.dirty(myself);
            }
        }
        None => {
            // A slot torn down while its last step was in flight: its ENI goes too.
            if let Some(eni) = report.eni_id {
                clean(myself, st, eni, "slot no longer desired");
            }
        }
    }
}

/// The cleanup pool finished an ENI.
pub async fn on_cleaned(
    myself: &ActorRef<NodeEniMsg>,
    st: &mut NodeEniState,
    eni_id: String,
    result: Result<(), super::cleanup::CleanupError>,
) {
    st.pending_cleanup.remove(&eni_id);
    let note = match &result {
        Ok(()) => crate::k8s::Notice::normal(
            "ENIDeleted",
            "Delete",
            format!("{eni_id} detached and deleted"),
        ),
        Err(e) => crate::k8s::Notice::warning(
            "ENIDeletionFailed",
            "Delete",
            format!("{eni_id}: {e}; will retry"),
        ),
    };
    if let Err(e) = st.deps.cluster.publish(&st.obj, note).await {
        tracing::debug!(error = %e, "could not record an Event");
    }
    if result.is_err() || (st.deleting() && st.pending_cleanup.is_empty()) {
        st.last_sweep = None;
        st.tick_in(
            myself,
            if result.is_err() {
                RETRY
            } else {
                Duration::ZERO
            },
        );
    }
}

/// Lists this NodeENI's ENIs (and, on the first sweep, the Go controller's ENIs for
/// it) by slot: running slots get them as fresh observations, slots about to start keep
/// them in `swept`, and [`reap`] hands the rest to the cleanup pool.
async fn sweep(st: &mut NodeEniState) -> bool {
    let uid = st.slot_deps.nodeeni_uid.clone();
    let owned = ownership::owned_by_nodeeni(&st.deps.cluster_name, &uid);
    let started = Instant::now();
    let mut enis = match describe_all_enis(&st.deps.ec2, &owned).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "could not list this NodeENI's ENIs");
            return false;
        }
    };
    if st.last_sweep.is_none() && !st.deleting() {
        let legacy =
            ownership::made_by_go_controller().and_tag(ownership::LEGACY_TAG_NODEENI, st.name());
        match describe_all_enis(&st.deps.ec2, &legacy).await {
            Ok(found) => enis.extend(found),
            Err(e) => tracing::debug!(error = %e, "could not list Go-controller ENIs"),
        }
    }
    st.last_sweep = Some(Instant::now());
    st.swept.clear();
    for e in enis {
        if let Some(key) = slot_key_of(&e, &st.deps.cluster_name) {
            st.swept.entry(key).or_default().push(e);
        }
    }
    let running: Vec<SlotKey> = st
        .swept
        .keys()
        .filter(|k| st.slots.contains_key(*k))
        .cloned()
        .collect();
    for key in running {
        if let (Some(enis), Some(slot)) = (st.swept.remove(&key), st.slots.get(&key))
            && let Some(a) = &slot.actor
        {
            let _ = a.cast(AttachmentMsg::Observed(enis, started));
        }
    }
    true
}

/// Hands the swept ENIs of slots nobody wants to the cleanup pool. Only this cluster's
/// ENIs: the Go controller's are adopted by desired slots or left alone.
fn reap(myself: &ActorRef<NodeEniMsg>, st: &mut NodeEniState) {
    let unwanted: Vec<Eni> = st
        .swept
        .drain()
        .filter(|(k, _)| !st.slots.contains_key(k))
        .flat_map(|(_, enis)| enis)
        .collect();
    for e in unwanted {
        if matches!(
            Ownership::of(&e.tags, &st.deps.cluster_name),
            Ownership::Owned(_)
        ) {
            clean(myself, st, e.id, "not desired");
        }
    }
}

/// Resolve, sweep, reconcile; or progress a deletion.
pub async fn tick(
    myself: &ActorRef<NodeEniMsg>,
    st: &mut NodeEniState,
) -> Result<(), ActorProcessingErr> {
    if st.deleting() {
        return delete_progress(myself, st).await;
    }
    if !st.finalizer_ok {
        match st.deps.cluster.add_finalizer(&st.name()).await {
            Ok(()) => st.finalizer_ok = true,
            Err(e) => {
                tracing::warn!(error = %e, "could not add the finalizer; no ENI is created before it is in place");
                let d = st.backoff;
                st.backoff = (st.backoff * 2).min(Duration::from_secs(30));
                st.tick_in(myself, d);
                return Ok(());
            }
        }
    }
    if st.resolved_generation != Some(st.generation()) || !st.problems.is_empty() {
        resolve(st).await;
    }
    let due = st
        .last_sweep
        .is_none_or(|t| t.elapsed() >= st.deps.resync_interval);
    let settled = st.resolved.is_some() && st.nodes.is_some();
    let swept = settled && due && sweep(st).await;
    replan(myself, st, None).await?;
    if swept {
        reap(myself, st);
    }
    st.backoff = Duration::from_millis(500);
    let next = if st.problems.is_empty() {
        st.deps.resync_interval
    } else {
        RETRY.max(st.deps.resync_interval / 10)
    };
    st.tick_in(myself, next);
    st.dirty(myself);
    Ok(())
}

async fn delete_progress(
    myself: &ActorRef<NodeEniMsg>,
    st: &mut NodeEniState,
) -> Result<(), ActorProcessingErr> {
    let keys: Vec<SlotKey> = st.slots.keys().cloned().collect();
    for key in keys {
        retire(myself, st, key, "NodeENI deleted");
    }
    let listed = sweep(st).await;
    reap(myself, st);
    st.dirty(myself);
    if listed && st.pending_cleanup.is_empty() {
        match st.deps.cluster.remove_finalizer(&st.name()).await {
            Ok(()) => {
                tracing::info!("every ENI is gone; finalizer removed");
                write_status(st).await;
                myself.stop(Some("NodeENI deleted".into()));
                return Ok(());
            }
            Err(e) => tracing::warn!(error = %e, "could not remove the finalizer"),
        }
    }
    st.tick_in(myself, RETRY);
    Ok(())
}

/// Restarts a failed slot actor if the slot is still desired.
pub async fn restart_slot(
    myself: &ActorRef<NodeEniMsg>,
    st: &mut NodeEniState,
    key: &SlotKey,
) -> Result<(), ActorProcessingErr> {
    if st.slots.get(key).is_some_and(|s| s.actor.is_none()) && !st.deleting() {
        spawn(myself, st, key, None).await?;
    }
    Ok(())
}

/// Writes the status if it changed.
pub async fn flush(myself: &ActorRef<NodeEniMsg>, st: &mut NodeEniState) {
    if !write_status(st).await {
        st.dirty(myself);
    }
}
