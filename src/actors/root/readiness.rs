//! What the root tells the readiness actor: every Node change, the selectors of the
//! NodeENIs not being deleted (only when they change: a NodeENI's status write is a
//! change of the object too), and, once, that everything was listed. A restarted
//! readiness actor is told all of it again.

use std::collections::{BTreeMap, HashMap};

use super::msg::Watched;
use super::services::Services;
use super::watches::Watches;
use crate::actors::readiness::ReadinessMsg;
use crate::k8s::{NodeENI, NodeView};

/// What was told.
#[derive(Default)]
pub struct ReadinessFeed {
    selectors: Option<BTreeMap<String, BTreeMap<String, String>>>,
    synced: bool,
}

impl ReadinessFeed {
    /// Tells the selectors if they changed.
    pub fn selectors(&mut self, services: &Services, nodeenis: &HashMap<String, NodeENI>) {
        let now: BTreeMap<String, BTreeMap<String, String>> = nodeenis
            .iter()
            .filter(|(_, o)| o.metadata.deletion_timestamp.is_none())
            .map(|(n, o)| (n.clone(), o.spec.node_selector.clone()))
            .collect();
        if self.selectors.as_ref() != Some(&now)
            && services.readiness(ReadinessMsg::Selectors(now.clone()))
        {
            self.selectors = Some(now);
        }
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
            services.readiness(ReadinessMsg::Nodes(nodes.values().cloned().collect()));
        }
        self.selectors(services, nodeenis);
        self.synced(services, watches);
    }
}
