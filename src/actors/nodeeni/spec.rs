//! A NodeENI's spec as the planner needs it: subnet and group names resolved (again
//! after the resolver's TTL, and in the VPC of the cluster's instances), and the
//! problems met on the way.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::io;
use crate::actors::instances::InstanceBatcher;
use crate::aws::resolve::Resolver;
use crate::k8s::status::Problem;
use crate::k8s::{NodeENISpec, NodeView};
use crate::plan::slots::ResolvedSpec;

/// The resolved spec and what it took.
#[derive(Default)]
pub struct Resolved {
    /// The planner's spec (`None`: never resolved; a failed resolution keeps the last).
    pub spec: Option<ResolvedSpec>,
    /// Problems to report, as (reason, message).
    pub problems: Vec<Problem>,
    generation: Option<i64>,
    at: Option<Instant>,
    /// The VPC of the cluster's instances, once looked up.
    vpc: Option<String>,
}

/// What resolving needs.
pub struct Inputs<'a> {
    /// Names and limits.
    pub resolver: &'a Resolver,
    /// Instance look-ups (for the VPC).
    pub instances: &'a InstanceBatcher,
    /// The NodeENI's name.
    pub name: &'a str,
    /// Its spec.
    pub spec: &'a NodeENISpec,
    /// Its generation.
    pub generation: i64,
    /// The matching nodes, if known.
    pub nodes: Option<&'a BTreeMap<String, NodeView>>,
    /// How long a resolution is trusted.
    pub ttl: Duration,
}

impl Resolved {
    /// Resolves again if the spec changed, problems remain, or the TTL passed.
    pub async fn refresh(&mut self, i: Inputs<'_>) {
        self.learn_vpc(&i).await;
        let stale = self.at.is_none_or(|t| t.elapsed() >= i.ttl);
        if self.generation == Some(i.generation) && self.problems.is_empty() && !stale {
            return;
        }
        let r = io::resolve(i.resolver, i.name, i.spec, self.vpc.as_deref()).await;
        if r.resolved.is_some() {
            self.spec = r.resolved;
            self.generation = Some(i.generation);
            self.at = Some(Instant::now());
        }
        self.problems = r.problems;
    }

    /// Looks up the VPC of the cluster's instances (from a matching node's instance)
    /// when subnets are named: names then resolve in that VPC only.
    async fn learn_vpc(&mut self, i: &Inputs<'_>) {
        let named = i.spec.subnet_name.is_some() || !i.spec.subnet_names.is_empty();
        if self.vpc.is_some() || !named {
            return;
        }
        let Some(instance) = i
            .nodes
            .and_then(|n| n.values().find_map(|v| v.instance_id.clone()))
        else {
            return;
        };
        if let Ok(Some(found)) = i.instances.get(&instance).await
            && !found.vpc_id.is_empty()
        {
            self.vpc = Some(found.vpc_id);
            // Resolved again, in that VPC.
            self.at = None;
        }
    }
}
