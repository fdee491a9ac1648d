//! The root's state: the NodeENIs and their actors, the nodes (with only the labels
//! some selector names), the ENINodes, the watches; and how each watched change is
//! routed to the NodeENI actors it concerns.

use std::collections::HashMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::eninodes::ENINodes;
use super::labels::KeptLabels;
use super::msg::{RootMsg, Watched};
use super::readiness::ReadinessFeed;
use super::services::Services;
use super::watches::Watches;
use crate::actors::nodeeni::{InterfacesSeen, NodeEniActor, NodeEniArgs, NodeEniDeps, NodeEniMsg};
use crate::k8s::{Change, Cluster, ENINodeView, NodeENI, NodeView};
use crate::plan::selector::matches;
use crate::supervision::Children;

/// The root's state.
pub struct RootState {
    pub(super) cluster: Arc<dyn Cluster>,
    pub(super) services: Services,
    pub(super) deps: Arc<NodeEniDeps>,
    pub(super) nodeenis: HashMap<String, NodeENI>,
    pub(super) children: Children<String>,
    /// The nodes, with only the labels some selector names.
    pub(super) nodes: HashMap<String, NodeView>,
    pub(super) labels: KeptLabels,
    pub(super) eninodes: ENINodes,
    pub(super) watches: Watches,
    pub(super) readiness: ReadinessFeed,
}

impl RootState {
    pub(super) fn matching(&self, obj: &NodeENI) -> Vec<NodeView> {
        self.nodes
            .values()
            .filter(|n| matches(&obj.spec.node_selector, &n.labels))
            .cloned()
            .collect()
    }

    pub(super) async fn start_nodeeni(
        &mut self,
        myself: &ActorRef<RootMsg>,
        name: &str,
    ) -> Result<(), ActorProcessingErr> {
        let Some(obj) = self.nodeenis.get(name) else {
            return Ok(());
        };
        let args = NodeEniArgs {
            nodeeni: obj.clone(),
            nodes: self
                .watches
                .is_synced(Watched::Nodes)
                .then(|| self.matching(obj)),
            deps: self.deps.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, NodeEniActor, args, myself.get_cell()).await?;
        if self.eninodes.synced() {
            let _ = actor.cast(NodeEniMsg::Interfaces(InterfacesSeen::All(
                self.eninodes.of(name),
            )));
        }
        self.children.started(name.to_string(), &actor);
        Ok(())
    }

    pub(super) async fn applied(
        &mut self,
        myself: &ActorRef<RootMsg>,
        obj: NodeENI,
    ) -> Result<(), ActorProcessingErr> {
        let name = obj.metadata.name.clone().unwrap_or_default();
        let replaced = self
            .nodeenis
            .get(&name)
            .is_some_and(|o| o.metadata.uid != obj.metadata.uid);
        if replaced {
            self.deleted(&name);
        }
        let before = self.nodeenis.insert(name.clone(), obj.clone());
        if self.labels.update(&self.nodeenis) && self.watches.started(Watched::Nodes) {
            tracing::info!(nodeeni = %name, "a selector names a label the nodes were stored without: listing the Nodes again");
            self.watches
                .relist(myself, &*self.cluster, Watched::Nodes, self.labels.keys());
        }
        let Some(before) = before else {
            return self.start_nodeeni(myself, &name).await;
        };
        if let Some(a) = self.children.get::<NodeEniMsg>(&name) {
            let reselected = before.spec.node_selector != obj.spec.node_selector;
            if reselected && !self.watches.is_synced(Watched::Nodes) {
                // Told with the Nodes' listing: until then the stored nodes may lack the
                // labels the new selector names, and the actor would retire their slots.
                return Ok(());
            }
            let matching =
                (reselected && self.watches.is_synced(Watched::Nodes)).then(|| self.matching(&obj));
            let _ = a.cast(NodeEniMsg::Spec(Box::new(obj)));
            // A new selector matches other nodes: the actor plans from those, not from
            // the nodes the old one matched.
            if let Some(nodes) = matching {
                let _ = a.cast(NodeEniMsg::Nodes(nodes));
            }
        }
        Ok(())
    }

    pub(super) async fn nodeeni_changed(
        &mut self,
        myself: &ActorRef<RootMsg>,
        change: Change<NodeENI>,
    ) -> Result<(), ActorProcessingErr> {
        match change {
            Change::Applied(obj) => self.applied(myself, obj).await?,
            Change::Deleted(obj) => self.deleted(&obj.metadata.name.unwrap_or_default()),
            Change::Resync(list) => {
                let names: Vec<String> = list
                    .iter()
                    .filter_map(|o| o.metadata.name.clone())
                    .collect();
                let gone: Vec<String> = self
                    .nodeenis
                    .keys()
                    .filter(|n| !names.contains(n))
                    .cloned()
                    .collect();
                for name in gone {
                    self.deleted(&name);
                }
                for obj in list {
                    self.applied(myself, obj).await?;
                }
                self.watches.listed(Watched::NodeEnis);
                self.readiness.synced(&self.services, &self.watches);
                // Nodes are listed once the selectors are known: each keeps only the
                // labels they name.
                if !self.watches.started(Watched::Nodes) {
                    self.watches
                        .start(myself, &*self.cluster, Watched::Nodes, self.labels.keys());
                }
            }
        }
        Ok(())
    }

    pub(super) fn deleted(&mut self, name: &str) {
        self.nodeenis.remove(name);
        self.labels.update(&self.nodeenis);
        self.children.stop(&name.to_string(), "NodeENI deleted");
        self.readiness.forget(&self.services, name);
    }

    pub(super) fn node_changed(&mut self, mut view: Option<NodeView>, name: &str) {
        if let Some(v) = &mut view {
            v.configured_macs = self.eninodes.configured(name);
            self.labels.strip(v);
        }
        let old = match &view {
            Some(v) => self.nodes.insert(name.to_string(), v.clone()),
            None => self.nodes.remove(name),
        };
        for (nodeeni, obj) in &self.nodeenis {
            let sel = &obj.spec.node_selector;
            let before = old.as_ref().is_some_and(|o| matches(sel, &o.labels));
            let now = view.as_ref().is_some_and(|v| matches(sel, &v.labels));
            let Some(actor) = self.children.get::<NodeEniMsg>(nodeeni) else {
                continue;
            };
            match &view {
                Some(v) if before || now => {
                    let _ = actor.cast(NodeEniMsg::Node(v.clone()));
                }
                None if before => {
                    let _ = actor.cast(NodeEniMsg::NodeGone(name.to_string()));
                }
                _ => {}
            }
        }
    }

    /// ENINodes changed: each NodeENI hears of its entries, and a node whose agent
    /// report changed is seen again by the NodeENIs it matters to.
    pub(super) fn eninodes_changed(&mut self, change: Change<ENINodeView>) {
        let reported: Vec<String> = match change {
            Change::Resync(list) => {
                self.watches.listed(Watched::ENINodes);
                self.readiness.synced(&self.services, &self.watches);
                let reported = self.eninodes.resync(list);
                for (name, obj) in &self.nodeenis {
                    if let Some(a) = self.children.get::<NodeEniMsg>(name) {
                        let all = self.eninodes.of(name);
                        let _ = a.cast(NodeEniMsg::Interfaces(InterfacesSeen::All(all)));
                        // Only a DPDK NodeENI asks for releases.
                        if obj.spec.enable_dpdk {
                            for (node, report) in self.eninodes.releases_of(name) {
                                let _ = a.cast(NodeEniMsg::Agent(node, report));
                            }
                        }
                    }
                }
                reported
            }
            Change::Applied(view) => self.eninode_changed(view.node.clone(), Some(view)),
            Change::Deleted(view) => self.eninode_changed(view.node, None),
        };
        for node in reported {
            if let Some(v) = self.nodes.get(&node).cloned() {
                self.node_changed(Some(v), &node);
            }
        }
    }

    /// One ENINode changed; answers the node if its report changed.
    pub(super) fn eninode_changed(
        &mut self,
        node: String,
        view: Option<ENINodeView>,
    ) -> Vec<String> {
        let changed = self.eninodes.changed(&node, view);
        for (nodeeni, entries) in changed.entries {
            if let Some(a) = self.children.get::<NodeEniMsg>(&nodeeni) {
                let seen = InterfacesSeen::Node(node.clone(), entries);
                let _ = a.cast(NodeEniMsg::Interfaces(seen));
            }
        }
        for (nodeeni, report) in changed.releases {
            if let Some(a) = self.children.get::<NodeEniMsg>(&nodeeni) {
                let _ = a.cast(NodeEniMsg::Agent(node.clone(), report));
            }
        }
        if changed.report {
            vec![node]
        } else {
            Vec::new()
        }
    }
}
