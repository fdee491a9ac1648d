//! The agent's supervisor: starts the reconciler, the netlink actor and the watch actor,
//! and restarts whichever fails (with backoff under a budget) without stopping the
//! others. A restarted reconciler is refilled from a fresh link dump and the current
//! NodeENIs.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, SpawnErr, SupervisionEvent};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::AgentCluster;
use super::actors::{
    Connector, Netlink, NetlinkArgs, NetlinkMsg, Reconciler, ReconcilerArgs, ReconcilerMsg, Watch,
    WatchArgs, WatchMsg,
};
use crate::supervision::{ChildExit, Handle, RestartPolicy, RestartTracker};

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
    /// Restart policy.
    pub restart: RestartPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Messages of the agent root.
pub struct RestartChild(Child);

/// The root's state.
pub struct AgentState {
    deps: AgentDeps,
    reconciler: Option<Handle<ReconcilerMsg>>,
    netlink: Option<ActorRef<NetlinkMsg>>,
    watch: Option<ActorRef<WatchMsg>>,
    restarts: [RestartTracker; 3],
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
                };
                let (r, _) = Actor::spawn_linked(None, Reconciler, args, me.get_cell()).await?;
                match &self.reconciler {
                    Some(h) => {
                        h.replace(r);
                        // Refill it: links from a fresh dump, the desired state again.
                        if let Some(n) = &self.netlink {
                            let _ = n.cast(NetlinkMsg::Redump);
                        }
                        if let Some(w) = &self.watch {
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
                    self.netlink = Some(
                        Actor::spawn_linked(None, Netlink, args, me.get_cell())
                            .await?
                            .0,
                    );
                } else {
                    let args = WatchArgs {
                        node: d.node.clone(),
                        default_mtu: d.default_mtu,
                        cluster: d.cluster.clone(),
                        reconciler,
                    };
                    self.watch = Some(
                        Actor::spawn_linked(None, Watch, args, me.get_cell())
                            .await?
                            .0,
                    );
                }
            }
        }
        Ok(())
    }

    /// Starts `child`, or schedules another try if it cannot start now.
    async fn start_or_retry(&mut self, me: &ActorRef<RestartChild>, child: Child) {
        if let Err(e) = self.start(me, child).await {
            tracing::error!(?child, error = %e, "agent actor could not start; retrying");
            self.retry(me, child);
        }
    }

    fn retry(&mut self, me: &ActorRef<RestartChild>, child: Child) {
        let delay = self.restarts[child as usize]
            .on_failure(&self.deps.restart, Instant::now())
            .delay;
        metrics::counter!(crate::telemetry::metric::ACTOR_RESTARTS_TOTAL, "kind" => child.kind())
            .increment(1);
        me.send_after(delay, move || RestartChild(child));
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
        let mut st = AgentState {
            deps,
            reconciler: None,
            netlink: None,
            watch: None,
            restarts: Default::default(),
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
        let Some(exit) = ChildExit::of(evt) else {
            return Ok(());
        };
        let child = if exit.is(st.reconciler.as_ref().map(|h| h.current()).as_ref()) {
            Child::Reconciler
        } else if exit.is(st.netlink.as_ref()) {
            st.netlink = None;
            Child::Netlink
        } else if exit.is(st.watch.as_ref()) {
            st.watch = None;
            Child::Watch
        } else {
            return Ok(());
        };
        let delay = exit
            .restart(
                &mut st.restarts[child as usize],
                &st.deps.restart,
                child.kind(),
                child.kind(),
            )
            .delay;
        myself.send_after(delay, move || RestartChild(child));
        Ok(())
    }
}

/// A running agent.
pub struct Agent {
    root: ActorRef<RestartChild>,
    join: JoinHandle<()>,
}

impl Agent {
    /// Starts the agent's actors.
    pub async fn start(deps: AgentDeps) -> Result<Self, SpawnErr> {
        let (root, join) = Actor::spawn(None, AgentRoot, deps).await?;
        Ok(Agent { root, join })
    }

    /// Stops every actor.
    pub async fn stop(self) {
        self.root.stop(Some("shutting down".into()));
        let _ = self.join.await;
    }
}
