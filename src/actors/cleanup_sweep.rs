//! The cleanup pool's listings, run off the pool's handler: the batched poll of
//! detaching ENIs, and the orphan sweep over every ENI this cluster owns.

use ractor::ActorRef;
use tokio::time::Instant;

use super::cleanup::{CleanupArgs, CleanupMsg, CleanupState};
use super::limiter::Priority;
use crate::aws::{Ec2, Eni, EniFilter, EniStatus, Ownership, describe_all_enis, ownership};
use crate::plan::orphans::{DesiredSnapshot, OwnedEniView, due_for_deletion, is_orphan};

/// IDs per describe when polling detaching ENIs (EC2 takes up to 200 filter values).
const POLL_BATCH: usize = 200;

/// Describes the detaching ENIs in batches, in a task, and reports to the pool.
pub fn poll(pool: &ActorRef<CleanupMsg>, args: &CleanupArgs, ids: Vec<String>) {
    let ec2 = args.ec2.clone();
    let me = pool.clone();
    tokio::spawn(async move {
        let mut found = Vec::new();
        for chunk in ids.chunks(POLL_BATCH) {
            match describe_all_enis(&ec2 as &dyn Ec2, &EniFilter::by_ids(chunk.iter().cloned()))
                .await
            {
                Ok(enis) => found.extend(enis),
                Err(e) => {
                    let _ = me.cast(CleanupMsg::Polled(ids.clone(), Err(e.to_string())));
                    return;
                }
            }
        }
        let _ = me.cast(CleanupMsg::Polled(ids, Ok(found)));
    });
}

/// Starts an orphan sweep (one at a time), listing at background priority.
pub fn start(pool: &ActorRef<CleanupMsg>, st: &mut CleanupState, snapshot: DesiredSnapshot) {
    if st.sweeping {
        return;
    }
    st.sweeping = true;
    let ec2 = st.args.ec2.with_priority(Priority::Background);
    let filter = ownership::owned_by(&st.args.cluster);
    let me = pool.clone();
    tokio::spawn(async move {
        let listed = describe_all_enis(&ec2, &filter).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "orphan sweep could not list ENIs");
            Vec::new()
        });
        let _ = me.cast(CleanupMsg::SweepListed(snapshot, listed));
    });
}

/// Queues the ENIs that stayed orphans for the grace period.
pub fn listed(st: &mut CleanupState, snapshot: DesiredSnapshot, enis: Vec<Eni>) {
    st.sweeping = false;
    let orphans: Vec<String> = enis
        .iter()
        .filter_map(|e| match Ownership::of(&e.tags, &st.args.cluster) {
            Ownership::Owned(o) => Some(OwnedEniView {
                eni_id: e.id.clone(),
                nodeeni_uid: o.nodeeni_uid,
                instance_id: o.instance_id,
                subnet_id: o.subnet_id,
                available: e.status == EniStatus::Available,
            }),
            _ => None,
        })
        .filter(|v| is_orphan(v, &snapshot))
        .map(|v| v.eni_id)
        .collect();
    metrics::counter!(crate::telemetry::metric::ORPHANS_FOUND_TOTAL)
        .increment(orphans.len() as u64);
    let due = due_for_deletion(
        &mut st.orphan_marks,
        &orphans,
        Instant::now(),
        st.args.orphan_grace,
    );
    for eni_id in due {
        tracing::info!(eni = %eni_id, "deleting orphaned ENI");
        metrics::counter!(crate::telemetry::metric::ORPHANS_DELETED_TOTAL).increment(1);
        st.enqueue(eni_id, None);
    }
}
