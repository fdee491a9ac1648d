//! The NodeENI actor's state letting go of the DPDK ENIs held back from their teardown:
//! when a node's agent reports their devices released, when their wait is over, or when
//! their node is gone.

use ractor::ActorRef;

use super::msg::NodeEniMsg;
use super::releases::Let;
use super::state::NodeEniState;
use crate::k8s::AgentReport;

impl NodeEniState {
    /// What a node's agent reports of the devices it was asked to release: the ENIs it
    /// let go are torn down.
    pub(super) fn on_agent(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        node: &str,
        report: &AgentReport,
    ) {
        let lets = self.fleet.releases.agent(node, report);
        self.let_go(myself, lets);
    }

    /// Tears down the held DPDK ENIs whose wait is over, or whose node is gone.
    pub(super) fn release_due(&mut self, myself: &ActorRef<NodeEniMsg>) {
        if self.fleet.releases.held() == 0 {
            return;
        }
        let writes = &self.writes;
        let lets = self.fleet.releases.due(|node| writes.on_node(node));
        self.let_go(myself, lets);
    }

    fn let_go(&mut self, myself: &ActorRef<NodeEniMsg>, lets: Vec<Let>) {
        if lets.is_empty() && self.fleet.releases.held() == 0 {
            return;
        }
        let (notices, next) = self.fleet.let_go(myself, lets);
        for n in notices {
            self.publish(n);
        }
        self.follow(myself, next);
    }
}
