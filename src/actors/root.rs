//! The root supervisor: starts the rate limiter, the cleanup pool and the watch tasks,
//! runs one NodeENI actor per NodeENI, routes node changes to the NodeENI actors whose
//! selector matched before or matches now, triggers the orphan sweep, and restarts any
//! child that fails without touching the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::task::JoinHandle;

use super::nodeeni::{NodeEniActor, NodeEniArgs, NodeEniDeps, NodeEniMsg};
use super::root_services::{Service, Services};
use super::settings::ControllerSettings;
use crate::aws::Ec2;
use crate::k8s::{Change, Cluster, NodeENI, NodeView};
use crate::plan::orphans::DesiredSnapshot;
use crate::plan::selector::matches;
use crate::supervision::ChildExit;
use crate::supervision::RestartTracker;

/// Messages of the root.
pub enum RootMsg {
    /// A NodeENI watch change.
    NodeEnis(Box<Change<NodeENI>>),
    /// A node watch change.
    Nodes(Change<NodeView>),
    /// Time for an orphan sweep.
    Sweep,
    /// Restart a failed NodeENI actor.
    RestartNodeEni(String),
    /// Restart a failed service (limiter or cleanup pool).
    RestartService(Service),
}

/// How the root starts.
pub struct RootArgs {
    /// The cluster.
    pub cluster: Arc<dyn Cluster>,
    /// EC2, unlimited (the root wraps it in the rate limiter).
    pub ec2: Arc<dyn Ec2>,
    /// Settings.
    pub settings: ControllerSettings,
    /// Set once both watches have delivered their first listing.
    pub synced: Arc<AtomicBool>,
}

struct Entry {
    obj: NodeENI,
    actor: Option<ActorRef<NodeEniMsg>>,
    restarts: RestartTracker,
}

/// The root's state.
pub struct RootState {
    cluster: Arc<dyn Cluster>,
    services: Services,
    deps: Arc<NodeEniDeps>,
    nodeenis: HashMap<String, Entry>,
    nodes: HashMap<String, NodeView>,
    nodes_synced: bool,
    nodeenis_synced: bool,
    synced: Arc<AtomicBool>,
    watches: Vec<JoinHandle<()>>,
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
        let Some(entry) = self.nodeenis.get(name) else {
            return Ok(());
        };
        let args = NodeEniArgs {
            nodeeni: entry.obj.clone(),
            nodes: self.nodes_synced.then(|| self.matching(&entry.obj)),
            deps: self.deps.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, NodeEniActor, args, myself.get_cell()).await?;
        if let Some(entry) = self.nodeenis.get_mut(name) {
            entry.actor = Some(actor);
        }
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
            .is_some_and(|e| e.obj.metadata.uid != obj.metadata.uid);
        if replaced {
            self.deleted(&name);
        }
        match self.nodeenis.get_mut(&name) {
            Some(entry) => {
                entry.obj = obj.clone();
                if let Some(a) = &entry.actor {
                    let _ = a.cast(NodeEniMsg::Spec(Box::new(obj)));
                }
            }
            None => {
                self.nodeenis.insert(
                    name.clone(),
                    Entry {
                        obj,
                        actor: None,
                        restarts: RestartTracker::default(),
                    },
                );
                self.start_nodeeni(myself, &name).await?;
            }
        }
        Ok(())
    }

    fn deleted(&mut self, name: &str) {
        if let Some(entry) = self.nodeenis.remove(name)
            && let Some(actor) = entry.actor
        {
            actor.stop(Some("NodeENI deleted".into()));
        }
    }

    fn node_changed(&mut self, view: Option<NodeView>, name: &str) {
        let old = match &view {
            Some(v) => self.nodes.insert(name.to_string(), v.clone()),
            None => self.nodes.remove(name),
        };
        for entry in self.nodeenis.values() {
            let sel = &entry.obj.spec.node_selector;
            let before = old.as_ref().is_some_and(|o| matches(sel, &o.labels));
            let now = view.as_ref().is_some_and(|v| matches(sel, &v.labels));
            let Some(actor) = &entry.actor else { continue };
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
        let (services, deps) =
            Services::start(args.settings, args.ec2, args.cluster.clone(), &myself).await?;
        let deps = Arc::new(deps);
        Ok(RootState {
            cluster: args.cluster,
            services,
            deps,
            nodeenis: HashMap::new(),
            nodes: HashMap::new(),
            nodes_synced: false,
            nodeenis_synced: false,
            synced: args.synced,
            watches: Vec::new(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<RootMsg>,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        let me = myself.clone();
        let mut nodes = st.cluster.nodes();
        st.watches.push(tokio::spawn(async move {
            while let Some(change) = nodes.next().await {
                if me.cast(RootMsg::Nodes(change)).is_err() {
                    break;
                }
            }
        }));
        let me = myself.clone();
        let mut nodeenis = st.cluster.nodeenis();
        st.watches.push(tokio::spawn(async move {
            while let Some(change) = nodeenis.next().await {
                if me.cast(RootMsg::NodeEnis(Box::new(change))).is_err() {
                    break;
                }
            }
        }));
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
        for w in &st.watches {
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
            RootMsg::Nodes(Change::Resync(list)) => {
                st.nodes = list.into_iter().map(|v| (v.name.clone(), v)).collect();
                st.nodes_synced = true;
                for entry in st.nodeenis.values() {
                    if let Some(a) = &entry.actor {
                        let _ = a.cast(NodeEniMsg::Nodes(st.matching(&entry.obj)));
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
                if st.nodeenis.get(&name).is_some_and(|e| e.actor.is_none()) {
                    st.start_nodeeni(&myself, &name).await?;
                }
            }
            RootMsg::RestartService(which) => st.services.restart(&myself, which).await?,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<RootMsg>,
        evt: SupervisionEvent,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        let Some(exit) = ChildExit::of(evt) else {
            return Ok(());
        };
        let policy = st.services.settings.restart;
        if let Some(which) = st.services.identify(&exit.cell) {
            let delay = exit
                .restart(
                    st.services.history(which),
                    &policy,
                    which.label(),
                    which.label(),
                )
                .delay;
            myself.send_after(delay, move || RootMsg::RestartService(which));
            return Ok(());
        }
        let Some((name, entry)) = st
            .nodeenis
            .iter_mut()
            .find(|(_, e)| exit.is(e.actor.as_ref()))
        else {
            return Ok(());
        };
        entry.actor = None;
        let deleted_cleanly =
            exit.failure.is_none() && entry.obj.metadata.deletion_timestamp.is_some();
        if deleted_cleanly {
            return Ok(());
        }
        let decision = exit.restart(&mut entry.restarts, &policy, "nodeeni", name);
        let name = name.clone();
        myself.send_after(decision.delay, move || RootMsg::RestartNodeEni(name));
        Ok(())
    }
}

/// Asks every NodeENI actor for its desired slots (concurrently, each with a timeout);
/// an actor that does not answer counts as not settled, so its ENIs are left alone.
async fn snapshot(st: &RootState) -> DesiredSnapshot {
    let asks = st.nodeenis.values().map(|e| {
        let uid = e.obj.metadata.uid.clone().unwrap_or_default();
        let actor = e.actor.clone();
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
