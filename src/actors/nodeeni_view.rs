//! Translations for the NodeENI actor between the cluster's and EC2's values and the
//! planner's plain ones: nodes, the resolved spec, slot keys of ENIs, and the status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::nodeeni::NodeEniState;
use crate::aws::resolve::{SecurityGroupRef, SubnetRef};
use crate::aws::{Eni, Ownership};
use crate::k8s::NodeView;
use crate::k8s::status::{SlotPhase, SlotSummary, build_status};
use crate::plan::slots::{NodeInput, ResolvedSpec, Skip, SlotKey, SubnetInput};

/// The planner's view of a node.
pub fn to_node_input(v: &NodeView) -> NodeInput {
    NodeInput {
        name: v.name.clone(),
        labels: v.labels.clone(),
        instance_id: if v.deleting {
            None
        } else {
            v.instance_id.clone()
        },
        zone: v.zone.clone(),
    }
}

/// Why a node/subnet pair was skipped, in words (starts with `node <name> `).
pub fn skip_message(s: &Skip) -> String {
    match s {
        Skip::NoInstance { node } => format!("node {node} has no AWS provider ID"),
        Skip::ZoneMismatch {
            node,
            node_zone,
            subnet,
            subnet_zone,
        } => {
            format!("node {node} is in {node_zone}, subnet {subnet} in {subnet_zone}")
        }
        Skip::NoSubnetInZone { node, node_zone } => {
            format!("node {node} is in {node_zone}, where this NodeENI has no subnet")
        }
    }
}

/// The slot an ENI belongs to, from its tags: this cluster's ENIs by their ownership
/// tags, the Go controller's (when attached) by its `Node` and `SubnetID` tags.
pub fn slot_key_of(e: &Eni, cluster: &str) -> Option<SlotKey> {
    match Ownership::of(&e.tags, cluster) {
        Ownership::Owned(o) => Some(SlotKey {
            node: o.node_name,
            instance_id: o.instance_id,
            subnet_id: o.subnet_id,
        }),
        Ownership::LegacyGo {
            node_name,
            subnet_id,
            ..
        } => Some(SlotKey {
            node: node_name,
            instance_id: e.attachment.as_ref()?.instance_id.clone()?,
            subnet_id: subnet_id.unwrap_or_else(|| e.subnet_id.clone()),
        }),
        _ => None,
    }
}

/// Resolves subnet and security group names; on failure keeps the previous resolution
/// (so a typo or an EC2 hiccup never tears slots down) and records the problem.
pub async fn resolve(st: &mut NodeEniState) {
    let spec = st.obj.spec.clone();
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
    let resolver = &st.deps.resolver;
    let resolved = async {
        let subnets = resolver.subnets(&subnet_refs).await?;
        let vpc = subnets.first().map(|s| s.vpc_id.clone());
        let mut groups = resolver
            .security_groups(&group_refs, vpc.as_deref())
            .await?;
        groups.sort();
        groups.dedup();
        Ok::<_, crate::aws::resolve::ResolveError>((subnets, groups))
    }
    .await;
    match resolved {
        Ok((subnets, groups)) => {
            let name = st.name();
            st.resolved = Some(ResolvedSpec {
                selector: spec.node_selector.clone(),
                subnets: subnets
                    .into_iter()
                    .map(|s| SubnetInput {
                        id: s.id,
                        zone: s.availability_zone,
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
            });
            st.resolved_generation = Some(st.generation());
        }
        Err(e) => {
            let reason = match e.label() {
                "subnet_not_found" => "SubnetNotFound",
                "security_group_not_found" => "SecurityGroupNotFound",
                _ => "EC2Unavailable",
            };
            metrics::counter!(crate::telemetry::metric::RECONCILE_ERRORS_TOTAL, "error" => e.label())
                .increment(1);
            problems.push((reason.to_string(), e.to_string()));
        }
    }
    st.problems = problems;
}

fn summary(st: &NodeEniState, key: &SlotKey, slot: &super::nodeeni::Slot) -> SlotSummary {
    let report = slot.report.as_ref();
    let phase = if slot.failing {
        SlotPhase::Blocked(
            "SlotFailing".into(),
            "the slot's actor keeps failing; retrying slowly".into(),
        )
    } else {
        report.map_or(SlotPhase::Pending, |r| r.phase.clone())
    };
    SlotSummary {
        node: key.node.clone(),
        instance_id: key.instance_id.clone(),
        subnet_id: key.subnet_id.clone(),
        subnet_cidr: slot.desired.subnet_cidr.clone(),
        eni_id: report.and_then(|r| r.eni_id.clone()),
        attachment_id: report.and_then(|r| r.attachment_id.clone()),
        mac_address: report.and_then(|r| r.mac_address.clone()),
        device_index: report.and_then(|r| r.device_index),
        network_card: slot.desired.network_card,
        mtu: st.obj.spec.mtu,
        interface_configured: report.and_then(|r| r.mac_address.as_ref()).and_then(|mac| {
            st.nodes
                .as_ref()?
                .get(&key.node)?
                .configured_macs
                .get(&mac.to_ascii_lowercase())
                .copied()
        }),
        phase,
    }
}

/// Builds the status and writes it if it differs from the last one written; `false` if
/// the write failed (the caller retries).
pub async fn write_status(st: &mut NodeEniState) -> bool {
    let slots: Vec<SlotSummary> = st.slots.iter().map(|(k, s)| summary(st, k, s)).collect();
    let mut problems = st.problems.clone();
    if st.deleting() {
        problems.insert(
            0,
            (
                "Deleting".into(),
                format!(
                    "{} ENIs still being detached and deleted",
                    st.pending_cleanup.len()
                ),
            ),
        );
    }
    let status = build_status(
        st.generation(),
        &slots,
        &problems,
        &st.skipped,
        st.last_status.as_ref(),
        Time(jiff::Timestamp::now()),
    );
    let name = st.name();
    let desired = f64::from(status.desired_count);
    let ready = f64::from(status.ready_count);
    let failed = slots
        .iter()
        .filter(|s| matches!(s.phase, SlotPhase::Blocked(..)))
        .count() as f64;
    metrics::gauge!(crate::telemetry::metric::SLOTS, "nodeeni" => name.clone(), "state" => "desired")
        .set(desired);
    metrics::gauge!(crate::telemetry::metric::SLOTS, "nodeeni" => name.clone(), "state" => "ready")
        .set(ready);
    metrics::gauge!(crate::telemetry::metric::SLOTS, "nodeeni" => name.clone(), "state" => "failed")
        .set(failed);
    let degraded = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Degraded" && c.status == "True");
    metrics::gauge!(crate::telemetry::metric::NODEENI_DEGRADED, "nodeeni" => name.clone())
        .set(if degraded { 1.0 } else { 0.0 });
    if st.last_status.as_ref() == Some(&status) {
        return true;
    }
    match st.deps.cluster.patch_status(&name, &status).await {
        Ok(()) => {
            st.last_status = Some(status);
            true
        }
        Err(crate::k8s::ClusterError::NotFound(_)) => true,
        Err(e) => {
            tracing::warn!(error = %e, "could not write the status");
            metrics::counter!(crate::telemetry::metric::RECONCILE_ERRORS_TOTAL, "error" => e.label())
                .increment(1);
            false
        }
    }
}
