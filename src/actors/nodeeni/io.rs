//! The NodeENI actor's reads, and its translations between the cluster's and EC2's
//! values and the planner's plain ones: nodes, the resolved spec, slot keys of ENIs.

use crate::actors::limiter::LimitedEc2;
use crate::aws::ownership::ClusterIdentity;
use crate::aws::ownership::legacy::{GoExpectations, made_by_go};
use crate::aws::resolve::{ResolveError, Resolver, SecurityGroupRef, SubnetRef};
use crate::aws::{Ec2Error, Eni, Ownership, describe_all_enis, ownership};
use crate::k8s::status::Problem;
use crate::k8s::{NodeENISpec, NodeView};
use crate::plan::slots::{NodeInput, ResolvedSpec, SlotKey, SubnetInput};

/// The planner's view of a node; `learned_zone` stands in when the Node carries no zone
/// label (the zone its instance is in, as EC2 said).
pub fn to_node_input(v: &NodeView, learned_zone: Option<&String>) -> NodeInput {
    NodeInput {
        name: v.name.clone(),
        labels: v.labels.clone(),
        instance_id: if v.deleting {
            None
        } else {
            v.instance_id.clone()
        },
        zone: v.zone.clone().or_else(|| learned_zone.cloned()),
    }
}

/// The slot an ENI belongs to, from its tags: this cluster's ENIs by their ownership
/// tags, the Go controller's (when attached, and only when everything about it is what
/// the Go controller made: [`made_by_go`]) by its `Node` and `SubnetID` tags.
pub fn slot_key_of(e: &Eni, cluster: &ClusterIdentity, go: &GoExpectations<'_>) -> Option<SlotKey> {
    match Ownership::of(&e.tags, cluster) {
        Ownership::Owned(o) | Ownership::Unverified(o) => Some(SlotKey {
            node: o.node_name,
            instance_id: o.instance_id,
            subnet_id: o.subnet_id,
        }),
        Ownership::LegacyGo {
            node_name,
            subnet_id,
            ..
        } => {
            if let Err(why) = made_by_go(e, &node_name, go) {
                tracing::info!(eni = %e.id, node = %node_name, ?why, "an ENI with the Go controller's tags is not one it made: left alone");
                return None;
            }
            Some(SlotKey {
                node: node_name,
                instance_id: e.attachment.as_ref()?.instance_id.clone()?,
                subnet_id: subnet_id.unwrap_or_else(|| e.subnet_id.clone()),
            })
        }
        _ => None,
    }
}

/// The outcome of resolving a spec: the planner's spec if names resolved, and the
/// problems to report.
pub struct Resolution {
    /// The resolved spec (`None`: keep the previous one).
    pub resolved: Option<ResolvedSpec>,
    /// Problems, as (reason, message).
    pub problems: Vec<Problem>,
}

/// Resolves subnet and security group names; on failure the caller keeps the previous
/// resolution (so a typo or an EC2 hiccup never tears slots down) and reports the problem.
pub async fn resolve(
    resolver: &Resolver,
    name: &str,
    spec: &NodeENISpec,
    vpc: Option<&str>,
) -> Resolution {
    let mut problems = Vec::new();
    if spec.enable_dpdk {
        problems.push((
            "DPDKNotSupported".to_string(),
            "enableDPDK is set, but this controller does not bind DPDK drivers; the ENIs are attached as plain interfaces".to_string(),
        ));
    }
    let subnet_refs: Vec<SubnetRef> = spec
        .subnet_id
        .iter()
        .chain(&spec.subnet_ids)
        .map(|s| SubnetRef::Id(s.clone()))
        .chain(
            spec.subnet_name
                .iter()
                .chain(&spec.subnet_names)
                .map(|s| SubnetRef::Name(s.clone())),
        )
        .collect();
    let group_refs: Vec<SecurityGroupRef> = spec
        .security_group_ids
        .iter()
        .map(|s| SecurityGroupRef::Id(s.clone()))
        .chain(
            spec.security_group_names
                .iter()
                .map(|s| SecurityGroupRef::Name(s.clone())),
        )
        .collect();
    let resolved = async {
        let subnets = resolver.subnets(&subnet_refs, vpc).await?;
        let vpc = subnets.first().map(|s| s.vpc_id.clone());
        let mut groups = resolver
            .security_groups(&group_refs, vpc.as_deref())
            .await?;
        groups.sort();
        groups.dedup();
        Ok::<_, ResolveError>((subnets, groups))
    }
    .await;
    match resolved {
        Ok((subnets, groups)) => Resolution {
            resolved: Some(ResolvedSpec {
                selector: spec.node_selector.clone(),
                subnets: subnets
                    .into_iter()
                    .map(|s| SubnetInput {
                        id: s.id,
                        zone: s.availability_zone,
                        vpc: s.vpc_id,
                        cidr: s.cidr,
                    })
                    .collect(),
                security_groups: groups,
                base_device_index: u32::try_from(spec.device_index).unwrap_or(1).max(1),
                network_card: u32::try_from(spec.network_card_index).unwrap_or(0),
                delete_on_termination: spec.delete_on_termination,
                description: spec
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("aws-multi-eni-controller: NodeENI {name}")),
            }),
            problems,
        },
        Err(e) => {
            let reason = match e.label() {
                "subnet_not_found" => "SubnetNotFound",
                "security_group_not_found" => "SecurityGroupNotFound",
                _ => "EC2Unavailable",
            };
            metrics::counter!(crate::telemetry::metric::RECONCILE_ERRORS_TOTAL, "error" => e.label())
                .increment(1);
            problems.push((reason.to_string(), e.to_string()));
            Resolution {
                resolved: None,
                problems,
            }
        }
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

/// Whether an ENI carries this cluster's ownership tags (with this cluster's identity,
/// or none: it was listed by this NodeENI's UID).
pub fn owned(e: &Eni, cluster: &ClusterIdentity) -> bool {
    Ownership::of(&e.tags, cluster).managed().is_some()
}
