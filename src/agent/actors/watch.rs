//! The watch actor: keeps every NodeENI and sends the reconciler this node's share.

use std::collections::BTreeMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::task::JoinHandle;

use super::msg::{ReconcilerMsg, WatchMsg};
use crate::agent::AgentCluster;
use crate::agent::desired::desired_links;
use crate::k8s::{Change, NodeENI};
use crate::supervision::{Handle, forward};

/// Arguments of the watch actor.
#[allow(missing_docs)]
pub struct WatchArgs {
    /// This node's name.
    pub node: String,
    /// MTU for attachments that ask for none (0: leave alone).
    pub default_mtu: u32,
    /// Where NodeENIs come from.
    pub cluster: Arc<dyn AgentCluster>,
    pub reconciler: Handle<ReconcilerMsg>,
}

/// The watch actor's state.
pub struct WatchState {
    args: WatchArgs,
    nodeenis: BTreeMap<String, NodeENI>,
    task: JoinHandle<()>,
}

/// The watch actor: keeps every NodeENI, sends the reconciler this node's share.
pub struct Watch;

impl Actor for Watch {
    type Msg = WatchMsg;
    type State = WatchState;
    type Arguments = WatchArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<WatchMsg>,
        args: WatchArgs,
    ) -> Result<WatchState, ActorProcessingErr> {
        let task = forward(
            args.cluster.nodeenis(),
            myself,
            |c| WatchMsg::Change(Box::new(c)),
            WatchMsg::Ended,
        );
        Ok(WatchState {
            args,
            nodeenis: BTreeMap::new(),
            task,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<WatchMsg>,
        st: &mut WatchState,
    ) -> Result<(), ActorProcessingErr> {
        st.task.abort();
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<WatchMsg>,
        msg: WatchMsg,
        st: &mut WatchState,
    ) -> Result<(), ActorProcessingErr> {
        let name = |n: &NodeENI| n.metadata.name.clone().unwrap_or_default();
        if matches!(msg, WatchMsg::Ended) {
            return Err("the NodeENI watch ended".into());
        }
        if let WatchMsg::Change(change) = msg {
            match *change {
                Change::Resync(all) => {
                    st.nodeenis = all.into_iter().map(|n| (name(&n), n)).collect()
                }
                Change::Applied(n) => {
                    st.nodeenis.insert(name(&n), n);
                }
                Change::Deleted(n) => {
                    st.nodeenis.remove(&name(&n));
                }
            }
        }
        let all: Vec<NodeENI> = st.nodeenis.values().cloned().collect();
        let desired = desired_links(&st.args.node, &all, st.args.default_mtu);
        st.args.reconciler.cast(ReconcilerMsg::Desired(desired));
        Ok(())
    }
}
