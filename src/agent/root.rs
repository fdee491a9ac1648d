//! The agent's supervisor: starts the reconciler, the netlink actor and the watch actor,
//! and restarts whichever fails (with backoff under a budget) without stopping the
//! others. A restarted reconciler is refilled from a fresh link dump and the current
//! NodeENIs.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, SpawnErr, SupervisionEvent};
use tokio::task::JoinHandle;

use super::AgentCluster;
use super::actors::{
    Connector, Netlink, NetlinkArgs, NetlinkMsg, Reconciler, ReconcilerArgs, ReconcilerMsg, Watch,
    WatchArgs, WatchMsg,
};
use super::devices::DevicePlugin;
use super::pci::PciDevices;
use crate::supervision::{Children, Handle, RestartPolicy};

/// What the agent runs with.
#[derive(Clone)]
pub struct AgentDeps {
    /// This node's name.
    pub node: String,
    /// MTU for attachments that ask for none (0: leave alone).
    pub default_mtu: u32,
    /// Kubernetes.
    pub cluster: Arc<dyn AgentCluster>,
    /// Opens netlink.
    pub connect: Connector,
    /// The PCI devices (for DPDK ENIs).
    pub pci: Arc<dyn PciDevices>,
    /// The SR-IOV network device plugin the bound devices are offered to, if any.
    pub device_plugin: Option<DevicePlugin>,
    /// Restart policy.
    pub restart: RestartPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Child {
    Reconciler,
    Netlink,
    Watch,
}

impl Child {
    /// The `kind` label of `aws_multi_eni_actor_restarts_total`.
    fn kind(self) -> &'static str {
        match self {
            Child::Reconciler => "agent_reconciler",
            Child::Netlink => "agent_netlink",
            Child::Watch => "agent_watch",
        }
    }
}

impl std::fmt::Display for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

/// Messages of the agent root.
pub struct RestartChild(Child);

/// The root's state.
pub struct AgentState {
    deps: AgentDeps,
    reconciler: Option<Handle<ReconcilerMsg>>,
    /// One record per child: each child's restarts carry its own `kind` label.
    children: [Children<Child>; 3],
}

/// The agent root actor.
pub struct AgentRoot;

impl AgentState {
    async fn start(&mut self, me: &ActorRef<RestartChild>, child: Child) -> Result<(), SpawnErr> {
        let d = &self.deps;
        match child {
            Child::Reconciler => {
                let args = ReconcilerArgs {
                    node: d.node.clone(),
                    cluster: d.cluster.clone(),
                    pci: d.pci.clone(),
                    device_plugin: d.device_plugin.clone(),
                };
                let (r, _) = Actor::spawn_linked(None, Reconciler, args, me.get_cell()).await?;
                self.children[child as usize].started(child, &r);
                match &self.reconciler {
                    Some(h) => {
                        h.replace(r);
                        // Refill it: links from a fresh dump, the desired state again.
                        if let Some(n) = self.netlink() {
                            let _ = n.cast(NetlinkMsg::Redump);
                        }
                        if let Some(w) = self.watch() {
                            let _ = w.cast(WatchMsg::Resend);
                        }
                    }
                    None => self.reconciler = Some(Handle::new(r)),
                }
            }
            Child::Netlink | Child::Watch => {
                let Some(reconciler) = self.reconciler.clone() else {
                    return Ok(());
                };
                if child == Child::Netlink {
                    let args = NetlinkArgs {
                        connect: d.connect.clone(),
                        reconciler,
                    };
                    let (n, _) = Actor::spawn_linked(None, Netlink, args, me.get_cell()).await?;
                    self.children[child as usize].started(child, &n);
                } else {
                    let args = WatchArgs {
                        node: d.node.clone(),
                        default_mtu: d.default_mtu,
                        cluster: d.cluster.clone(),
                        reconciler,
                    };
                    let (w, _) = Actor::spawn_linked(None, Watch, args, me.get_cell()).await?;
                    self.children[child as usize].started(child, &w);
                }
            }
        }
        Ok(())
    }

    /// Starts `child`, or schedules another try if it cannot start now.
    async fn start_or_retry(&mut self, me: &ActorRef<RestartChild>, child: Child) {
        if let Err(e) = self.start(me, child).await {
            tracing::error!(?child, error = %e, "agent actor could not start; retrying");
            self.retry(me, child, &e.to_string());
        }
    }

    fn retry(&mut self, me: &ActorRef<RestartChild>, child: Child, error: &str) {
        let delay = self.children[child as usize]
            .failed_to_start(child, error)
            .delay;
        me.send_after(delay, move || RestartChild(child));
    }

    fn netlink(&self) -> Option<ActorRef<NetlinkMsg>> {
        self.children[Child::Netlink as usize].get(&Child::Netlink)
    }

    fn watch(&self) -> Option<ActorRef<WatchMsg>> {
        self.children[Child::Watch as usize].get(&Child::Watch)
    }
}

impl Actor for AgentRoot {
    type Msg = RestartChild;
    type State = AgentState;
    type Arguments = AgentDeps;

    async fn pre_start(
        &self,
        myself: ActorRef<RestartChild>,
        deps: AgentDeps,
    ) -> Result<AgentState, ActorProcessingErr> {
        let children = [Child::Reconciler, Child::Netlink, Child::Watch]
            .map(|c| Children::new(c.kind(), deps.restart));
        let mut st = AgentState {
            deps,
            reconciler: None,
            children,
        };
        st.start(&myself, Child::Reconciler).await?;
        st.start_or_retry(&myself, Child::Netlink).await;
        st.start_or_retry(&myself, Child::Watch).await;
        Ok(st)
    }

    async fn handle(
        &self,
        myself: ActorRef<RestartChild>,
        RestartChild(child): RestartChild,
        st: &mut AgentState,
    ) -> Result<(), ActorProcessingErr> {
        st.start_or_retry(&myself, child).await;
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<RestartChild>,
        evt: SupervisionEvent,
        st: &mut AgentState,
    ) -> Result<(), ActorProcessingErr> {
        for children in &mut st.children {
            if let Some(exited) = children.exited(&evt) {
                let delay = children.restart(&exited).delay;
                let child = exited.key;
                myself.send_after(delay, move || RestartChild(child));
                break;
            }
        }
        Ok(())
    }
}

/// A running agent.
pub struct Agent {
    root: ActorRef<RestartChild>,
    join: JoinHandle<()>,
    ended: bool,
}

impl Agent {
    /// Starts the agent's actors.
    pub async fn start(deps: AgentDeps) -> Result<Self, SpawnErr> {
        let (root, join) = Actor::spawn(None, AgentRoot, deps).await?;
        Ok(Agent {
            root,
            join,
            ended: false,
        })
    }

    /// Stops every actor.
    pub async fn stop(self) {
        self.root.stop(Some("shutting down".into()));
        if !self.ended {
            let _ = self.join.await;
        }
    }

    /// Resolves when the agent's actors ended without being asked to.
    pub async fn ended(&mut self) {
        if !self.ended {
            let _ = (&mut self.join).await;
            self.ended = true;
        }
    }
}
