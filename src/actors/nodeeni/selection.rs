//! What a NodeENI selects: its matching nodes ([`Nodes`]), its spec resolved for them
//! ([`Resolved`]), and the reads of their instances that named subnets need
//! ([`Reads`]); and the plan of slots these make.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ractor::ActorRef;

use super::msg::{NodeEniDeps, NodeEniMsg};
use super::nodes::{Nodes, Whereabouts};
use super::reads::Reads;
use super::spec::{Inputs, Resolved, names_subnets};
use crate::k8s::status::Problem;
use crate::k8s::{NodeENISpec, NodeView};
use crate::plan::slots::{SlotPlan, plan_slots};

/// The matching nodes, the resolved spec, and the reads under way.
pub struct Selection {
    nodes: Nodes,
    resolved: Resolved,
    reads: Reads,
    /// Every node was planned at least once (the slots stand for the nodes).
    planned: bool,
}

impl Selection {
    /// Starting from the root's listing of matching nodes, if it has one.
    pub fn new(listed: Option<Vec<NodeView>>, selector: &BTreeMap<String, String>) -> Self {
        Selection {
            nodes: Nodes::new(listed, selector),
            resolved: Resolved::default(),
            reads: Reads::default(),
            planned: false,
        }
    }

    /// Whether every node was planned at least once: until then the slots say nothing of
    /// the nodes (a restarted actor holds its status round).
    pub fn planned(&self) -> bool {
        self.planned
    }

    /// Whether the spec was resolved and every matching node is known.
    pub fn settled(&self) -> bool {
        self.resolved.spec.is_some() && self.nodes.known()
    }

    /// What holds the spec back, for when to look again.
    pub fn trouble(&self) -> crate::plan::nodeeni::Trouble {
        self.resolved.trouble()
    }

    /// The problems resolving the spec met.
    pub fn problems(&self) -> &[Problem] {
        &self.resolved.problems
    }

    /// The plan of every node (`only = None`), or of `only` and the nodes that share its
    /// instance, with the nodes it covers; `None` until settled.
    pub fn plan(&mut self, only: Option<&str>) -> Option<(SlotPlan, Option<BTreeSet<String>>)> {
        let scope = only.map(|n| self.nodes.scope(n));
        let inputs = self.nodes.inputs(scope.as_ref())?;
        let plan = plan_slots(self.resolved.spec.as_ref()?, &inputs);
        self.planned |= only.is_none();
        Some((plan, scope))
    }

    /// Reads the instances whose VPC named subnets need and that are not read yet.
    pub fn read(&mut self, me: &ActorRef<NodeEniMsg>, deps: &NodeEniDeps, spec: &NodeENISpec) {
        if names_subnets(spec) {
            self.reads.read(me, &deps.instances, self.nodes.unread());
        }
    }

    /// Resolves the spec again where needed (see [`Resolved::refresh`]).
    pub async fn refresh(
        &mut self,
        deps: &NodeEniDeps,
        name: &str,
        spec: &NodeENISpec,
        generation: i64,
    ) {
        self.resolved
            .refresh(Inputs {
                resolver: &deps.resolver,
                name,
                spec,
                generation,
                vpcs: self.nodes.vpcs(),
                ttl: deps.resolve_ttl,
                eni_tags: &deps.eni_tags,
            })
            .await;
    }

    /// A round of reads answered; how soon to tick (at once when a VPC was news).
    pub fn read_done(&mut self, read: Vec<(String, Whereabouts)>) -> Duration {
        self.reads.done();
        if self.nodes.learned(read) {
            Duration::ZERO
        } else {
            // EC2 did not know some instance (yet): ask again a little later.
            Duration::from_secs(5)
        }
    }

    /// The matching nodes, all of them.
    pub fn nodes(&mut self, listed: Vec<NodeView>, selector: &BTreeMap<String, String>) {
        self.nodes.replace(listed, selector);
    }

    /// A node changed (`view`) or went away (`None`); whether it matches now (see
    /// [`Nodes::changed`]).
    pub fn node(
        &mut self,
        name: &str,
        view: Option<NodeView>,
        selector: &BTreeMap<String, String>,
    ) -> bool {
        self.nodes.changed(name, view, selector)
    }

    /// See [`Nodes::drop_unless_matching`].
    pub fn drop_unless_matching(&mut self, name: &str, matching: bool) {
        self.nodes.drop_unless_matching(name, matching);
    }

    /// Records the zone of `node`'s instance; whether it was news.
    pub fn learned_zone(&mut self, node: &str, zone: String) -> bool {
        self.nodes.learned_zone(node, zone)
    }

    /// The matching nodes' names (none until they are known).
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.names()
    }

    /// A matching node's UID.
    pub fn uid(&self, name: &str) -> Option<String> {
        self.nodes.uid(name)
    }

    /// What the matching nodes' agents report, for names asked in name order (as slots
    /// are kept).
    pub fn configured_in_order<'a>(
        &'a self,
    ) -> impl FnMut(&str) -> Option<&'a BTreeMap<String, bool>> + 'a {
        self.nodes.configured_in_order()
    }
}
