//! The root supervisor: starts the rate limiter, the cleanup pool and the watch tasks,
//! runs one NodeENI actor per NodeENI, routes node changes to the NodeENI actors whose
//! selector matched before or matches now, triggers the orphan sweep, and restarts any
//! child that fails without touching the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::task::JoinHandle;

mod eninodes;
mod services;

use super::cleanup::SweepFindings;
use super::nodeeni::{InterfacesSeen, NodeEniActor, NodeEniArgs, NodeEniDeps, NodeEniMsg};
use super::settings::ControllerSettings;
use crate::aws::Ec2;
use crate::k8s::{Change, Cluster, ENINodeView, NodeENI, NodeView, Notice};
use crate::plan::orphans::DesiredSnapshot;
use crate::plan::selector::matches;
use crate::supervision::{Children, Outbox, forward};
use eninodes::ENINodes;
use services::{Service, Services};

/// Messages of the root.
pub enum RootMsg {
    /// A NodeENI watch change.
    NodeEnis(Box<Change<NodeENI>>),
    /// A node watch change.
    Nodes(Change<NodeView>),
    /// An ENINode watch change.
    ENINodes(Change<ENINodeView>),
    /// Time for an orphan sweep.
    Sweep,
    /// Restart a failed NodeENI actor.
    RestartNodeEni(String),
    /// Restart a failed service (limiter or cleanup pool).
    RestartService(Service),
    /// A watch's forwarding ended (its stream ended or panicked): watch again.
    WatchEnded(Watched),
    /// The orphan sweep found ENIs to report.
    Swept(SweepFindings),
}

impl From<SweepFindings> for RootMsg {
    fn from(f: SweepFindings) -> Self {
        RootMsg::Swept(f)
    }
}

/// What the root watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// Nodes.
    Nodes,
    /// NodeENIs.
    NodeEnis,
    /// ENINodes.
    ENINodes,
}

/// How the root starts.
#[allow(missing_docs)]
pub struct RootArgs {
    pub cluster: Arc<dyn Cluster>,
    /// EC2, unlimited (the root wraps it in the rate limiter).
    pub ec2: Arc<dyn Ec2>,
    pub settings: ControllerSettings,
    /// Set once both watches have delivered their first listing.
    pub synced: Arc<AtomicBool>,
}

/// The root's state.
pub struct RootState {
    cluster: Arc<dyn Cluster>,
    services: Services,
    deps: Arc<NodeEniDeps>,
    nodeenis: HashMap<String, NodeENI>,
    children: Children<String>,
    nodes: HashMap<String, NodeView>,
    nodes_synced: bool,
    nodeenis_synced: bool,
    eninodes: ENINodes,
    synced: Arc<AtomicBool>,
    watches: [Option<JoinHandle<()>>; 3],
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
            nodes: self.nodes_synced.then(|| self.matching(obj)),
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
        let known = self.nodeenis.insert(name.clone(), obj.clone()).is_some();
        if !known {
            return self.start_nodeeni(myself, &name).await;
        }
        if let Some(a) = self.children.get::<NodeEniMsg>(&name) {
            let _ = a.cast(NodeEniMsg::Spec(Box::new(obj)));
        }
        Ok(())
    }

    fn deleted(&mut self, name: &str) {
        self.nodeenis.remove(name);
        self.children.stop(&name.to_string(), "NodeENI deleted");
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

    /// Starts (again) forwarding one watch into the root.
    fn watch(&mut self, myself: &ActorRef<RootMsg>, what: Watched) {
        let me = myself.clone();
        let ended = RootMsg::WatchEnded(what);
        let task = match what {
            Watched::Nodes => forward(self.cluster.nodes(), me, RootMsg::Nodes, ended),
            Watched::NodeEnis => forward(
                self.cluster.nodeenis(),
                me,
                |c| RootMsg::NodeEnis(Box::new(c)),
                ended,
            ),
            Watched::ENINodes => forward(self.cluster.eninodes(), me, RootMsg::ENINodes, ended),
        };
        if let Some(old) = self.watches[what as usize].replace(task) {
            old.abort();
        }
    }

    /// Tells each NodeENI of the same name about a namesake cluster's ENI the sweep found
    /// (the warning and the metric are the pool's): an Event, so `kubectl describe`
    /// shows that a cluster of this name exists elsewhere in the account.
    fn report(&self, findings: SweepFindings) {
        for u in findings.namesakes {
            let Some(obj) = self.nodeenis.get(&u.nodeeni_name).cloned() else {
                continue;
            };
            let cluster = self.cluster.clone();
            let notice = Notice::warning(
                "NamesakeClusterENI",
                "Sweep",
                format!(
                    "ENI {} carries this cluster's name and NodeENI name but another cluster's identity ({}): \
                     another cluster of the same name shares this account; the ENI is left alone",
                    u.eni_id,
                    match &u.why {
                        super::cleanup::Why::OtherClusterId(id) => id.as_str(),
                        super::cleanup::Why::NoClusterId => "none",
                    }
                ),
            );
            tokio::spawn(async move {
                if let Err(e) = cluster.publish(&obj, notice).await {
                    tracing::debug!(error = %e, "could not record an Event");
                }
            });
        }
    }

    fn mark_synced(&self) {
        if self.nodes_synced && self.nodeenis_synced {
            self.synced.store(true, Ordering::Release);
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
            nodes_synced: false,
            nodeenis_synced: false,
            synced: args.synced,
            eninodes: ENINodes::default(),
            watches: [None, None, None],
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<RootMsg>,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        st.watch(&myself, Watched::Nodes);
        st.watch(&myself, Watched::NodeEnis);
        st.watch(&myself, Watched::ENINodes);
        myself.send_after(st.services.settings.orphan_sweep_interval, || {
            RootMsg::Sweep
        });
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<RootMsg>,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        for w in st.watches.iter().flatten() {
            w.abort();
        }
        st.synced.store(false, Ordering::Release);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<RootMsg>,
        msg: RootMsg,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RootMsg::NodeEnis(change) => match *change {
                Change::Applied(obj) => st.applied(&myself, obj).await?,
                Change::Deleted(obj) => st.deleted(&obj.metadata.name.unwrap_or_default()),
                Change::Resync(list) => {
                    let names: Vec<String> = list
                        .iter()
                        .filter_map(|o| o.metadata.name.clone())
                        .collect();
                    let gone: Vec<String> = st
                        .nodeenis
                        .keys()
                        .filter(|n| !names.contains(n))
                        .cloned()
                        .collect();
                    for name in gone {
                        st.deleted(&name);
                    }
                    for obj in list {
                        st.applied(&myself, obj).await?;
                    }
                    st.nodeenis_synced = true;
                    st.mark_synced();
                }
            },
            RootMsg::Nodes(Change::Applied(view)) => {
                let name = view.name.clone();
                st.node_changed(Some(view), &name);
            }
            RootMsg::Nodes(Change::Deleted(view)) => st.node_changed(None, &view.name),
            RootMsg::ENINodes(change) => st.eninodes_changed(change),
            RootMsg::Nodes(Change::Resync(list)) => {
                st.nodes = list
                    .into_iter()
                    .map(|mut v| {
                        v.configured_macs = st.eninodes.configured(&v.name);
                        (v.name.clone(), v)
                    })
                    .collect();
                st.nodes_synced = true;
                for (name, obj) in &st.nodeenis {
                    if let Some(a) = st.children.get::<NodeEniMsg>(name) {
                        let _ = a.cast(NodeEniMsg::Nodes(st.matching(obj)));
                    }
                }
                st.mark_synced();
            }
            RootMsg::Sweep => {
                myself.send_after(st.services.settings.orphan_sweep_interval, || {
                    RootMsg::Sweep
                });
                if st.nodes_synced && st.nodeenis_synced {
                    let snapshot = snapshot(st).await;
                    st.services.sweep(snapshot);
                }
            }
            RootMsg::RestartNodeEni(name) => {
                if st.nodeenis.contains_key(&name) && st.children.down(&name) {
                    st.start_nodeeni(&myself, &name).await?;
                }
            }
            RootMsg::WatchEnded(what) => {
                tracing::warn!(?what, "a watch stopped; watching again");
                metrics::counter!(crate::telemetry::metric::ACTOR_RESTARTS_TOTAL, "kind" => "watch")
                    .increment(1);
                st.watch(&myself, what);
            }
            RootMsg::Swept(findings) => st.report(findings),
            RootMsg::RestartService(which) => {
                st.services.restart(&myself.get_cell(), which).await?
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

/// Asks every NodeENI actor for its desired slots (concurrently, each with a timeout);
/// an actor that does not answer counts as not settled, so its ENIs are left alone.
async fn snapshot(st: &RootState) -> DesiredSnapshot {
    let asks = st.nodeenis.iter().map(|(name, obj)| {
        let uid = obj.metadata.uid.clone().unwrap_or_default();
        let actor = st.children.get::<NodeEniMsg>(name);
        async move {
            let set = match actor {
                Some(a) => match a
                    .call(NodeEniMsg::Desired, Some(std::time::Duration::from_secs(5)))
                    .await
                {
                    Ok(ractor::rpc::CallResult::Success(set)) => set,
                    _ => None,
                },
                None => None,
            };
            (uid, set)
        }
    });
    DesiredSnapshot {
        live: futures::future::join_all(asks).await.into_iter().collect(),
    }
}
