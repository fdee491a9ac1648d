//! A NodeENI's spec as the planner needs it: subnet and group names resolved (again
//! after the resolver's TTL), and the problems met on the way.
//!
//! Named subnets resolve in each VPC the matching nodes' instances are in, and a node
//! gets its own VPC's ([`ResolvedSpec::by_vpc`]); named security groups resolve in the
//! VPC of each subnet. No VPC is ever taken from one node for all the others.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use crate::aws::Subnet;
use crate::aws::resolve::{ResolveError, Resolver, SecurityGroupRef, SubnetRef};
use crate::k8s::NodeENISpec;
use crate::k8s::status::Problem;
use crate::plan::attributes::ConnectionTracking;
use crate::plan::extra_tags::{TagMap, merged};
use crate::plan::interface_limits::EnaSrd;
use crate::plan::nodeeni::Trouble;
use crate::plan::slots::{ResolvedSpec, SubnetInput};

/// The resolved spec and what it took.
#[derive(Default)]
pub struct Resolved {
    /// The planner's spec (`None`: never resolved; a failed resolution keeps the last).
    pub spec: Option<ResolvedSpec>,
    /// Problems to report, as (reason, message).
    pub problems: Vec<Problem>,
    generation: Option<i64>,
    at: Option<Instant>,
    /// The VPCs names were resolved in.
    vpcs: BTreeSet<String>,
    /// Resolutions in a row that failed only because EC2 did not answer.
    unanswered: u32,
}

/// The reason of a problem that is EC2 not answering a look-up (a 500, a throttle, a
/// timeout), not anything wrong with the spec.
pub const UNANSWERED: &str = "EC2Unavailable";

/// What resolving needs.
pub struct Inputs<'a> {
    /// Names and limits.
    pub resolver: &'a Resolver,
    /// The NodeENI's name.
    pub name: &'a str,
    /// Its spec.
    pub spec: &'a NodeENISpec,
    /// Its generation.
    pub generation: i64,
    /// The VPCs of the matching nodes' instances, as far as known.
    pub vpcs: BTreeSet<String>,
    /// How long a resolution is trusted.
    pub ttl: Duration,
    /// The controller's extra ENI tags.
    pub eni_tags: &'a TagMap,
}

/// Whether `spec` names subnets (they then resolve per VPC).
pub fn names_subnets(spec: &NodeENISpec) -> bool {
    spec.subnet_name.is_some() || !spec.subnet_names.is_empty()
}

impl Resolved {
    /// Resolves again if the spec changed, problems remain, the TTL passed, or the
    /// nodes' instances are in a VPC names were not resolved in yet.
    pub async fn refresh(&mut self, i: Inputs<'_>) {
        let stale = self.at.is_none_or(|t| t.elapsed() >= i.ttl);
        let vpcs = if names_subnets(i.spec) {
            i.vpcs
        } else {
            BTreeSet::new()
        };
        if self.generation == Some(i.generation)
            && self.problems.is_empty()
            && !stale
            && self.vpcs == vpcs
        {
            return;
        }
        let (resolved, problems) = resolve(i.resolver, i.name, i.spec, &vpcs, i.eni_tags).await;
        if resolved.is_some() {
            self.spec = resolved;
            self.generation = Some(i.generation);
            self.at = Some(Instant::now());
            self.vpcs = vpcs;
        }
        self.problems = problems;
        self.unanswered = match self.trouble() {
            Trouble::Unanswered(_) => self.unanswered.saturating_add(1),
            _ => 0,
        };
    }

    /// What holds the spec back, for when to look again: EC2 not answering (counted in
    /// a row from 0), the spec itself, or nothing.
    pub fn trouble(&self) -> Trouble {
        match &self.problems[..] {
            [] => Trouble::None,
            p if p.iter().all(|(reason, _)| reason == UNANSWERED) => {
                Trouble::Unanswered(self.unanswered.saturating_sub(1))
            }
            _ => Trouble::Spec,
        }
    }
}

/// Resolves subnet and security group names; on failure the caller keeps the previous
/// resolution (so a typo or an EC2 hiccup never tears slots down) and reports the problem.
async fn resolve(
    resolver: &Resolver,
    name: &str,
    spec: &NodeENISpec,
    vpcs: &BTreeSet<String>,
    eni_tags: &TagMap,
) -> (Option<ResolvedSpec>, Vec<Problem>) {
    let mut problems = Vec::new();
    let tags = match merged(eni_tags, &spec.tags) {
        Ok(tags) => std::sync::Arc::new(tags),
        Err(e) => {
            // Nothing is created with tags the user did not mean; what runs stays.
            problems.push(("InvalidTags".to_string(), e.to_string()));
            return (None, problems);
        }
    };
    match subnets_and_groups(resolver, spec, vpcs).await {
        Ok(subnets) => {
            let resolved = ResolvedSpec {
                selector: spec.node_selector.clone(),
                subnets,
                by_vpc: names_subnets(spec),
                base_device_index: u32::try_from(spec.device_index).unwrap_or(1).max(1),
                network_card: u32::try_from(spec.network_card_index).unwrap_or(0),
                delete_on_termination: spec.delete_on_termination,
                description: spec
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("aws-multi-eni-controller: NodeENI {name}")),
                tags,
                secondary_ipv4: spec
                    .secondary_ipv4_count
                    .map(|n| u32::try_from(n).unwrap_or(0)),
                ipv4_prefixes: spec
                    .ipv4_prefix_count
                    .map(|n| u32::try_from(n).unwrap_or(0)),
                ipv6_addresses: spec
                    .ipv6_address_count
                    .map(|n| u32::try_from(n).unwrap_or(0)),
                ipv6_prefixes: spec
                    .ipv6_prefix_count
                    .map(|n| u32::try_from(n).unwrap_or(0)),
                source_dest_check: spec.source_dest_check,
                ena_srd: spec.ena_srd.map(|s| EnaSrd {
                    enabled: s.enabled,
                    udp: s.udp_enabled,
                }),
                ena_queue_count: spec.ena_queue_count.map(|n| u32::try_from(n).unwrap_or(0)),
                connection_tracking: spec.connection_tracking.map(|c| {
                    let secs = |v: Option<i32>| v.and_then(|n| u32::try_from(n).ok());
                    ConnectionTracking {
                        tcp_established: secs(c.tcp_established_timeout),
                        udp_stream: secs(c.udp_stream_timeout),
                        udp: secs(c.udp_timeout),
                    }
                }),
            };
            (Some(resolved), problems)
        }
        Err(e) => {
            let (reason, hint) = match e.label() {
                "subnet_not_found" => ("SubnetNotFound", ""),
                "security_group_not_found" => ("SecurityGroupNotFound", ""),
                "unauthorized" => (
                    "EC2AccessDenied",
                    " (the controller's IAM role lacks a permission: see deploy/iam/)",
                ),
                _ => (UNANSWERED, ""),
            };
            metrics::counter!(crate::telemetry::metric::RECONCILE_ERRORS_TOTAL, "error" => e.label())
                .increment(1);
            problems.push((reason.to_string(), format!("{e}{hint}")));
            (None, problems)
        }
    }
}

/// The spec's subnets (IDs first, then names, each in spec order; names in every VPC of
/// `vpcs` that has them), each with its security groups resolved in its VPC.
async fn subnets_and_groups(
    resolver: &Resolver,
    spec: &NodeENISpec,
    vpcs: &BTreeSet<String>,
) -> Result<Vec<SubnetInput>, ResolveError> {
    let by_id: Vec<SubnetRef> = spec
        .subnet_id
        .iter()
        .chain(&spec.subnet_ids)
        .map(|s| SubnetRef::Id(s.clone()))
        .collect();
    let by_name: Vec<SubnetRef> = spec
        .subnet_name
        .iter()
        .chain(&spec.subnet_names)
        .map(|s| SubnetRef::Name(s.clone()))
        .collect();
    let mut subnets: Vec<Subnet> = resolver.subnets(&by_id, None).await?;
    let mut missing = None;
    for vpc in vpcs.iter().filter(|_| !by_name.is_empty()) {
        match resolver.subnets(&by_name, Some(vpc)).await {
            Ok(found) => subnets.extend(found),
            // That VPC has no subnet of some name: its nodes are told so, alone.
            Err(e @ ResolveError::SubnetNotFound(_)) => missing = Some(e),
            Err(e) => return Err(e),
        }
    }
    let named = subnets.len() > by_id.len() || by_name.is_empty() || vpcs.is_empty();
    if let (false, Some(e)) = (named, missing) {
        return Err(e);
    }
    let groups: Vec<SecurityGroupRef> = spec
        .security_group_ids
        .iter()
        .map(|s| SecurityGroupRef::Id(s.clone()))
        .chain(
            spec.security_group_names
                .iter()
                .map(|s| SecurityGroupRef::Name(s.clone())),
        )
        .collect();
    let mut out = Vec::new();
    for s in subnets {
        let mut security_groups = resolver.security_groups(&groups, Some(&s.vpc_id)).await?;
        security_groups.sort();
        security_groups.dedup();
        out.push(SubnetInput {
            id: s.id,
            zone: s.availability_zone,
            vpc: s.vpc_id,
            cidr: s.cidr,
            security_groups,
            ipv6: s.ipv6_cidr.is_some(),
        });
    }
    Ok(out)
}
