//! The NodeENI actor's listings of its ENIs, and the slot each listed ENI belongs to.

use crate::actors::limiter::LimitedEc2;
use crate::aws::ownership::legacy::{GoExpectations, made_by_go};
use crate::aws::ownership::{ClusterIdentity, claims};
use crate::aws::{Ec2Error, Eni, Ownership, describe_all_enis, ownership};
use crate::plan::slots::Place;

/// Which slot an ENI listed by the NodeENI `uid` is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// One the NodeENI manages (or a Go-controller ENI it adopts), at this place.
    Managed(Place),
    /// One that claims the NodeENI but lost another of its ownership tags: reported,
    /// never touched, never counted as the NodeENI's.
    Unmanaged,
}

/// Which slot an ENI is for, from its tags: the NodeENI's ENIs by their ownership tags,
/// the Go controller's (when attached, and only when everything about it is what the Go
/// controller made: [`made_by_go`]) by where it is attached and its `SubnetID` tag;
/// `None` for anything else.
pub fn listed(
    e: &Eni,
    cluster: &ClusterIdentity,
    uid: &str,
    go: &GoExpectations<'_>,
) -> Option<Listed> {
    let ownership = Ownership::of(&e.tags, cluster);
    if let Some(o) = ownership.managed_by(uid) {
        return Some(Listed::Managed(Place {
            instance_id: o.instance_id.clone(),
            subnet_id: o.subnet_id.clone(),
        }));
    }
    match ownership {
        Ownership::LegacyGo {
            node_name,
            subnet_id,
            ..
        } => {
            if let Err(why) = made_by_go(e, &node_name, go) {
                tracing::info!(eni = %e.id, node = %node_name, ?why, "an ENI with the Go controller's tags is not one it made: left alone");
                return None;
            }
            Some(Listed::Managed(Place {
                instance_id: e.attachment.as_ref()?.instance_id.clone()?,
                subnet_id: subnet_id.unwrap_or_else(|| e.subnet_id.clone()),
            }))
        }
        _ if claims(&e.tags, &cluster.name, uid) => Some(Listed::Unmanaged),
        _ => None,
    }
}

/// Lists this NodeENI's ENIs, and with `with_go` the Go controller's ENIs for it too
/// (a failure of either fails the listing: a slot must never start without knowing of a
/// Go-controller ENI it should adopt).
pub async fn list_enis(
    ec2: &LimitedEc2,
    cluster: &ClusterIdentity,
    uid: &str,
    name: &str,
    with_go: bool,
) -> Result<Vec<Eni>, Ec2Error> {
    let mut enis = describe_all_enis(ec2, &ownership::owned_by_nodeeni(&cluster.name, uid)).await?;
    if with_go {
        let legacy =
            ownership::made_by_go_controller().and_tag(ownership::LEGACY_TAG_NODEENI, name);
        enis.extend(describe_all_enis(ec2, &legacy).await?);
    }
    Ok(enis)
}

/// Whether an ENI carries the ownership tags of the NodeENI `uid` (the Go controller's
/// are adopted, never reaped).
pub fn owned(e: &Eni, cluster: &ClusterIdentity, uid: &str) -> bool {
    Ownership::of(&e.tags, cluster).managed_by(uid).is_some()
}
