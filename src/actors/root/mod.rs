//! The root supervisor: starts the rate limiter, the cleanup pool and the watch tasks,
//! runs one NodeENI actor per NodeENI, routes node changes to the NodeENI actors whose
//! selector matched before or matches now, triggers the orphan sweep, and restarts any
//! child that fails without touching the others.

use std::collections::HashMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

mod eninodes;
mod msg;
mod readiness;
mod services;
mod sweep;
mod watches;

use super::nodeeni::{InterfacesSeen, NodeEniActor, NodeEniArgs, NodeEniDeps, NodeEniMsg};
use crate::actors::readiness::ReadinessMsg;
use crate::k8s::{Change, Cluster, ENINodeView, NodeENI, NodeView};
use crate::plan::selector::matches;
use crate::supervision::{Children, Outbox};
use eninodes::ENINodes;
pub use msg::{RootArgs, RootMsg, Watched};
use readiness::ReadinessFeed;
use services::{Service, Services};
use watches::Watches;

/// The root's state.
pub struct RootState {
    cluster: Arc<dyn Cluster>,
    services: Services,
    deps: Arc<NodeEniDeps>,
    nodeenis: HashMap<String, NodeENI>,
    children: Children<String>,
    nodes: HashMap<String, NodeView>,
    eninodes: ENINodes,
    watches: Watches,
    readiness: ReadinessFeed,
}

/// The root actor.
pub struct RootActor;

impl RootState {
    fn matching(&self, obj: &NodeENI) -> Vec<NodeView> {
        self.nodes
            .values()
            .filter(|n| matches(&obj.spec.node_selector, &n.labels))
            .cloned()
            .collect()
    }

    async fn start_nodeeni(
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

    async fn applied(
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
        let Some(before) = before else {
            return self.start_nodeeni(myself, &name).await;
        };
        if let Some(a) = self.children.get::<NodeEniMsg>(&name) {
            let reselected = before.spec.node_selector != obj.spec.node_selector;
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

    async fn nodeeni_changed(
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
            }
        }
        Ok(())
    }

    fn deleted(&mut self, name: &str) {
        self.nodeenis.remove(name);
        self.children.stop(&name.to_string(), "NodeENI deleted");
        self.readiness.forget(&self.services, name);
    }

    fn node_changed(&mut self, mut view: Option<NodeView>, name: &str) {
        if let Some(v) = &mut view {
            v.configured_macs = self.eninodes.configured(name);
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
    fn eninodes_changed(&mut self, change: Change<ENINodeView>) {
        let reported: Vec<String> = match change {
            Change::Resync(list) => {
                self.watches.listed(Watched::ENINodes);
                self.readiness.synced(&self.services, &self.watches);
                let reported = self.eninodes.resync(list);
                for name in self.nodeenis.keys() {
                    if let Some(a) = self.children.get::<NodeEniMsg>(name) {
                        let all = self.eninodes.of(name);
                        let _ = a.cast(NodeEniMsg::Interfaces(InterfacesSeen::All(all)));
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
    fn eninode_changed(&mut self, node: String, view: Option<ENINodeView>) -> Vec<String> {
        let changed = self.eninodes.changed(&node, view);
        for (nodeeni, entries) in changed.entries {
            if let Some(a) = self.children.get::<NodeEniMsg>(&nodeeni) {
                let seen = InterfacesSeen::Node(node.clone(), entries);
                let _ = a.cast(NodeEniMsg::Interfaces(seen));
            }
        }
        if changed.report {
            vec![node]
        } else {
            Vec::new()
        }
    }
}

impl Actor for RootActor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = RootArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RootMsg>,
        args: RootArgs,
    ) -> Result<RootState, ActorProcessingErr> {
        let restart = args.settings.restart;
        let (services, deps) = Services::start(
            args.settings,
            args.ec2,
            args.cluster.clone(),
            Outbox::to(&myself),
            &myself.get_cell(),
        )
        .await?;
        let deps = Arc::new(deps);
        Ok(RootState {
            cluster: args.cluster,
            services,
            deps,
            nodeenis: HashMap::new(),
            children: Children::new("nodeeni", restart),
            nodes: HashMap::new(),
            eninodes: ENINodes::default(),
            watches: Watches::new(args.synced),
            readiness: ReadinessFeed::default(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<RootMsg>,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        for what in [Watched::Nodes, Watched::NodeEnis, Watched::ENINodes] {
            st.watches.start(&myself, &*st.cluster, what);
        }
        myself.send_after(st.services.settings.orphan_sweep_interval, || {
            RootMsg::Sweep
        });
        Ok(())
    }

    /// Stops the children before the root goes (ractor kills whatever is left): each
    /// finishes the step under way, its own children first.
    async fn post_stop(
        &self,
        myself: ActorRef<RootMsg>,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        st.watches.stop();
        myself
            .stop_children_and_wait(Some("shutting down".into()), None)
            .await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<RootMsg>,
        msg: RootMsg,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RootMsg::NodeEnis(change) => {
                st.nodeeni_changed(&myself, *change).await?;
                st.readiness.selectors(&st.services, &st.nodeenis);
            }
            RootMsg::Nodes(Change::Applied(view)) => {
                let name = view.name.clone();
                st.services
                    .readiness(ReadinessMsg::Node(Box::new(view.clone())));
                st.node_changed(Some(view), &name);
            }
            RootMsg::Nodes(Change::Deleted(view)) => {
                st.services
                    .readiness(ReadinessMsg::NodeGone(view.name.clone()));
                st.node_changed(None, &view.name);
            }
            RootMsg::ENINodes(change) => st.eninodes_changed(change),
            RootMsg::Nodes(Change::Resync(list)) => {
                st.nodes = list
                    .into_iter()
                    .map(|mut v| {
                        v.configured_macs = st.eninodes.configured(&v.name);
                        (v.name.clone(), v)
                    })
                    .collect();
                st.watches.listed(Watched::Nodes);
                st.services
                    .readiness(ReadinessMsg::Nodes(st.nodes.values().cloned().collect()));
                st.readiness.synced(&st.services, &st.watches);
                for (name, obj) in &st.nodeenis {
                    if let Some(a) = st.children.get::<NodeEniMsg>(name) {
                        let _ = a.cast(NodeEniMsg::Nodes(st.matching(obj)));
                    }
                }
            }
            RootMsg::Sweep => {
                myself.send_after(st.services.settings.orphan_sweep_interval, || {
                    RootMsg::Sweep
                });
                if st.watches.is_synced(Watched::Nodes)
                    && st.watches.is_synced(Watched::NodeEnis)
                    && let Some(snapshot) =
                        sweep::snapshot(&st.cluster, &st.nodeenis, &st.children).await
                {
                    st.services.sweep(snapshot);
                }
            }
            RootMsg::RestartNodeEni(name) => {
                if st.nodeenis.contains_key(&name) && st.children.down(&name) {
                    st.start_nodeeni(&myself, &name).await?;
                }
            }
            RootMsg::WatchEnded(what) => {
                let delay = st.watches.ended(what);
                tracing::warn!(?what, ?delay, "a watch stopped; watching again");
                metrics::counter!(crate::telemetry::metric::ACTOR_RESTARTS_TOTAL, "kind" => "watch")
                    .increment(1);
                myself.send_after(delay, move || RootMsg::Rewatch(what));
            }
            RootMsg::Rewatch(what) => st.watches.start(&myself, &*st.cluster, what),
            RootMsg::Swept(findings) => sweep::report(&st.cluster, &st.nodeenis, findings),
            RootMsg::RestartService(which) => {
                st.services.restart(&myself.get_cell(), which).await?;
                if which == Service::Readiness {
                    st.readiness
                        .restarted(&st.services, &st.nodes, &st.nodeenis, &st.watches);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<RootMsg>,
        evt: SupervisionEvent,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some((which, delay)) = st.services.exited(&evt) {
            myself.send_after(delay, move || RootMsg::RestartService(which));
            return Ok(());
        }
        let Some(exited) = st.children.exited(&evt) else {
            return Ok(());
        };
        let deleted_cleanly = exited.failure.is_none()
            && st
                .nodeenis
                .get(&exited.key)
                .is_some_and(|o| o.metadata.deletion_timestamp.is_some());
        if deleted_cleanly {
            return Ok(());
        }
        let delay = st.children.restart(&exited).delay;
        let name = exited.key;
        myself.send_after(delay, move || RootMsg::RestartNodeEni(name));
        Ok(())
    }
}
