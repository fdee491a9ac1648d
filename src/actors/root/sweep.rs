//! The root's part in the orphan sweep: the snapshot of what every NodeENI wants (the
//! pool deletes only what none wants), and the Events for what the sweep found.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::actors::cleanup::{SweepFindings, Why};
use crate::actors::nodeeni::NodeEniMsg;
use crate::k8s::{About, Cluster, NodeENI, Notice, ObjectRef};
use crate::plan::orphans::DesiredSnapshot;
use crate::supervision::Children;

/// How long a NodeENI actor may take to say what it wants before it counts as unsettled.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// Asks every NodeENI actor for its desired slots (concurrently, each with a timeout),
/// and reads the ownership ledger; an actor that does not answer counts as not settled,
/// so its ENIs are left alone. No snapshot (no sweep this time) when the ledger cannot
/// be read: without it no gone NodeENI's ENI may be deleted.
pub async fn snapshot(
    cluster: &Arc<dyn Cluster>,
    nodeenis: &HashMap<String, NodeENI>,
    children: &Children<String>,
) -> Option<DesiredSnapshot> {
    let asks = nodeenis.iter().map(|(name, obj)| {
        let uid = obj.metadata.uid.clone().unwrap_or_default();
        let actor = children.get::<NodeEniMsg>(name);
        async move {
            let set = match actor {
                Some(a) => match a.call(NodeEniMsg::Desired, Some(ASK_TIMEOUT)).await {
                    Ok(ractor::rpc::CallResult::Success(set)) => set,
                    _ => None,
                },
                None => None,
            };
            (uid, set)
        }
    });
    let (live, recorded) =
        futures::future::join(futures::future::join_all(asks), cluster.recorded_owners()).await;
    match recorded {
        Ok(recorded) => Some(DesiredSnapshot {
            live: live.into_iter().collect(),
            recorded,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the ownership ledger; no orphan sweep this time");
            None
        }
    }
}

/// Tells each NodeENI of the same name about a namesake cluster's ENI the sweep found
/// (the warning and the metric are the pool's): an Event, so `kubectl describe` shows
/// that a cluster of this name exists elsewhere in the account; and takes the gone
/// NodeENIs no ENI carries any more off the ledger. In tasks, off the root's handler.
pub fn report(
    cluster: &Arc<dyn Cluster>,
    nodeenis: &HashMap<String, NodeENI>,
    findings: SweepFindings,
) {
    if !findings.forget.is_empty() {
        let cluster = cluster.clone();
        let uids = findings.forget;
        tokio::spawn(async move {
            match cluster.forget_owners(&uids).await {
                Ok(()) => tracing::info!(
                    ?uids,
                    "no ENI of these deleted NodeENIs is left; off the ledger"
                ),
                Err(e) => {
                    tracing::debug!(error = %e, "could not update the ownership ledger; the next sweep tries again")
                }
            }
        });
    }
    for u in findings.namesakes {
        let Some(obj) = nodeenis.get(&u.nodeeni_name).cloned() else {
            continue;
        };
        let cluster = cluster.clone();
        let about = About::Eni(u.eni_id.clone());
        let notice = Notice::warning(
            "NamesakeClusterENI",
            "Sweep",
            format!(
                "ENI {} carries this cluster's name and NodeENI name but another cluster's identity ({}): \
                 another cluster of the same name shares this account; the ENI is left alone",
                u.eni_id,
                match &u.why {
                    Why::OtherClusterId(id) => id.as_str(),
                    Why::NoClusterId | Why::Unrecorded => "none",
                }
            ),
        )
        .about(about);
        tokio::spawn(async move {
            if let Err(e) = cluster.publish(&ObjectRef::of(&obj), notice).await {
                tracing::debug!(error = %e, "could not record an Event");
            }
        });
    }
}
