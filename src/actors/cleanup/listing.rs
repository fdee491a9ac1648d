//! The pool's listings, run in tasks off the pool's handler: the batched inspection of
//! new teardowns and poll of detaching ENIs, and the orphan sweep's listing of every
//! ENI this cluster owns.

use ractor::ActorRef;

use super::msg::CleanupMsg;
use super::msg::{Untouched, Why};
use crate::actors::limiter::{LimitedEc2, Priority};
use crate::aws::Eni;
use crate::aws::ownership::ClusterIdentity;
use crate::aws::{Ec2, EniStatus, Ownership, describe_all_enis, describe_enis_by_id, ownership};
use crate::plan::orphans::{DesiredSnapshot, OwnedEniView};

/// IDs per describe when inspecting or polling ENIs.
pub const BATCH: usize = 200;

/// Reads up to [`BATCH`] ENIs to inspect with one describe (more when some are gone:
/// EC2 names them and the rest are read again), in a task, and reports to the pool.
pub fn inspect(pool: &ActorRef<CleanupMsg>, ec2: &LimitedEc2, ids: Vec<String>) {
    let ec2 = ec2.clone();
    let me = pool.clone();
    tokio::spawn(async move {
        let found = describe_enis_by_id(&ec2 as &dyn Ec2, &ids).await;
        let _ = me.cast(CleanupMsg::Inspected(ids, found));
    });
}

/// Describes `ids` in batches, in a task, and reports to the pool.
pub fn poll(pool: &ActorRef<CleanupMsg>, ec2: &LimitedEc2, ids: Vec<String>) {
    let ec2 = ec2.clone();
    let me = pool.clone();
    tokio::spawn(async move {
        let mut found = Vec::new();
        for chunk in ids.chunks(BATCH) {
            match describe_enis_by_id(&ec2 as &dyn Ec2, chunk).await {
                Ok(enis) => found.extend(enis),
                Err(e) => {
                    let _ = me.cast(CleanupMsg::Polled(ids, Err(e)));
                    return;
                }
            }
        }
        let _ = me.cast(CleanupMsg::Polled(ids, Ok(found)));
    });
}

/// Lists every ENI this cluster owns at background priority, in a task, for the sweep.
pub fn list_owned(
    pool: &ActorRef<CleanupMsg>,
    ec2: &LimitedEc2,
    cluster: &ClusterIdentity,
    snapshot: DesiredSnapshot,
) {
    let ec2 = ec2.with_priority(Priority::Background);
    let filter = ownership::owned_by(&cluster.name);
    let me = pool.clone();
    tokio::spawn(async move {
        // A failed listing is not an empty one: it must not clear the grace marks.
        let listed = describe_all_enis(&ec2, &filter).await;
        let _ = me.cast(CleanupMsg::SweepListed(snapshot, listed));
    });
}

/// What the sweep listed, split by ownership.
#[derive(Debug, Default, PartialEq)]
pub struct Swept {
    /// ENIs with this cluster's name and identity: candidates for the orphan rules.
    pub owned: Vec<OwnedEniView>,
    /// ENIs with this cluster's name that the sweep leaves alone.
    pub untouched: Vec<Untouched>,
}

/// Splits the sweep's listing (everything tagged with this cluster's name).
pub fn split(enis: &[Eni], cluster: &ClusterIdentity) -> Swept {
    let mut out = Swept::default();
    for e in enis {
        match Ownership::of(&e.tags, cluster) {
            Ownership::Owned(o) => out.owned.push(OwnedEniView {
                eni_id: e.id.clone(),
                nodeeni_uid: o.nodeeni_uid,
                nodeeni_name: o.nodeeni_name,
                instance_id: o.instance_id,
                subnet_id: o.subnet_id,
                available: e.status == EniStatus::Available,
            }),
            Ownership::Namesake { cluster_id, eni } => out.untouched.push(Untouched {
                eni_id: e.id.clone(),
                nodeeni_name: eni.nodeeni_name,
                why: Why::OtherClusterId(cluster_id),
            }),
            Ownership::Unverified(o) => out.untouched.push(Untouched {
                eni_id: e.id.clone(),
                nodeeni_name: o.nodeeni_name,
                why: Why::NoClusterId,
            }),
            _ => {}
        }
    }
    out
}
