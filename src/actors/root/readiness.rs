//! What the root tells the readiness actor: every Node change, the selectors of the
//! NodeENIs not being deleted (only when they change: a NodeENI's status write is a
//! change of the object too), and, once, that everything was listed. A restarted
//! readiness actor is told all of it again.

use std::collections::HashMap;

use super::msg::Watched;
use super::services::Services;
use super::watches::Watches;
use crate::actors::readiness::{ReadinessMsg, Selectors};
use crate::k8s::{NodeENI, NodeView};

/// What was told.
#[derive(Default)]
pub struct ReadinessFeed {
    selectors: Option<Selectors>,
    synced: bool,
}

impl ReadinessFeed {
    /// Tells the selectors if they changed.
    pub fn selectors(&mut self, services: &Services, nodeenis: &HashMap<String, NodeENI>) {
        if let Some(now) = self.changed(nodeenis)
            && services.readiness(ReadinessMsg::Selectors(now.clone()))
        {
            self.selectors = Some(now);
        }
    }

    /// Tells every node after a listing, with the selectors if they changed (in one
    /// message: apart, the nodes would be decided on once against the other).
    pub fn nodes(
        &mut self,
        services: &Services,
        nodes: &HashMap<String, NodeView>,
        nodeenis: &HashMap<String, NodeENI>,
    ) {
        let now = self.changed(nodeenis);
        let all = nodes.values().cloned().collect();
        if services.readiness(ReadinessMsg::Nodes(all, now.clone())) && now.is_some() {
            self.selectors = now;
        }
    }

    /// The selectors of the NodeENIs not being deleted, if they differ from those told.
    fn changed(&self, nodeenis: &HashMap<String, NodeENI>) -> Option<Selectors> {
        let now: Selectors = nodeenis
            .iter()
            .filter(|(_, o)| o.metadata.deletion_timestamp.is_none())
            .map(|(n, o)| (n.clone(), o.spec.node_selector.clone()))
            .collect();
        (self.selectors.as_ref() != Some(&now)).then_some(now)
    }

    /// Tells, once, that every watch has listed.
    pub fn synced(&mut self, services: &Services, watches: &Watches) {
        let all = [Watched::Nodes, Watched::NodeEnis, Watched::ENINodes]
            .into_iter()
            .all(|w| watches.is_synced(w));
        if all && !self.synced && services.readiness(ReadinessMsg::Synced) {
            self.synced = true;
        }
    }

    /// A NodeENI is gone: what it said of its nodes goes, and they are checked again.
    pub fn forget(&self, services: &Services, nodeeni: &str) {
        let nodes = services.parts.forget(nodeeni);
        if !nodes.is_empty() {
            services.readiness(ReadinessMsg::Check(nodes));
        }
    }

    /// The readiness actor started again: tells it everything.
    pub fn restarted(
        &mut self,
        services: &Services,
        nodes: &HashMap<String, NodeView>,
        nodeenis: &HashMap<String, NodeENI>,
        watches: &Watches,
    ) {
        *self = ReadinessFeed::default();
        if watches.is_synced(Watched::Nodes) {
            self.nodes(services, nodes, nodeenis);
        }
        self.selectors(services, nodeenis);
        self.synced(services, watches);
    }
}
