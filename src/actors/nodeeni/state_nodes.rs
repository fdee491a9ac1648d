//! What news of a NodeENI's nodes does to its actor's state: the matching nodes listed,
//! a node changed or gone, a node's zone and its instance's whereabouts learned, and what
//! the nodes' ENINodes show of the NodeENI.

use std::time::Duration;

use ractor::{ActorProcessingErr, ActorRef};

use super::msg::{InterfacesSeen, NodeEniMsg};
use super::nodes::Whereabouts;
use super::state::NodeEniState;
use crate::k8s::NodeView;

impl NodeEniState {
    /// A node's zone learned from its instance: it is planned again in that zone.
    pub(super) async fn on_node_zone(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        node: String,
        zone: String,
    ) -> Result<(), ActorProcessingErr> {
        if !self.selection.learned_zone(&node, zone) {
            return Ok(());
        }
        self.replan(myself, Some(&node)).await
    }

    /// Where nodes' instances are: names resolve in a VPC not seen before, nodes are
    /// planned in theirs.
    pub(super) async fn on_instances_read(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        read: Vec<(String, Whereabouts)>,
    ) -> Result<(), ActorProcessingErr> {
        let next = self.selection.read_done(read);
        self.tick_in(myself, next);
        self.replan(myself, None).await
    }

    /// The matching nodes, all of them: after the root's first listing or a re-listing,
    /// or when the selector changed.
    pub(super) fn on_nodes(&mut self, myself: &ActorRef<NodeEniMsg>, nodes: Vec<NodeView>) {
        self.selection.nodes(nodes, &self.obj.spec.node_selector);
        self.tick_in(myself, Duration::ZERO);
    }

    /// A node changed (`view`) or went away (`None`).
    pub(super) async fn on_node(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        name: String,
        view: Option<NodeView>,
    ) -> Result<(), ActorProcessingErr> {
        let matching = self
            .selection
            .node(&name, view, &self.obj.spec.node_selector);
        if matching {
            self.selection.read(myself, &self.deps, &self.obj.spec);
        }
        self.replan(myself, Some(&name)).await?;
        self.selection.drop_unless_matching(&name, matching);
        Ok(())
    }

    /// What the nodes' ENINodes show of this NodeENI: written again where that differs
    /// from what its slots say.
    pub(super) fn on_interfaces(&mut self, myself: &ActorRef<NodeEniMsg>, seen: InterfacesSeen) {
        match seen {
            InterfacesSeen::All(all) => self.writes.seen_all(all),
            InterfacesSeen::Node(node, entries) => self.writes.seen(node, entries),
        }
        if self.obj.spec.enable_dpdk {
            self.fleet.releases.set_applied(self.writes.applied());
        }
        self.dirty(myself);
    }
}
