//! The watch actor: follows this node's ENINode (only it) and sends the reconciler the
//! interfaces it lists.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::msg::{ReconcilerMsg, WatchMsg};
use crate::agent::AgentCluster;
use crate::agent::desired::desired_links;
use crate::k8s::{Change, ENINode};
use crate::supervision::{Forwarding, Handle, forward};

/// Arguments of the watch actor.
#[allow(missing_docs)]
pub struct WatchArgs {
    /// This node's name.
    pub node: String,
    /// MTU for attachments that ask for none (0: leave alone).
    pub default_mtu: u32,
    /// Where the ENINode comes from.
    pub cluster: Arc<dyn AgentCluster>,
    pub reconciler: Handle<ReconcilerMsg>,
}

/// The watch actor's state.
pub struct WatchState {
    args: WatchArgs,
    eninode: Option<ENINode>,
    task: Forwarding,
}

/// The watch actor: follows this node's ENINode, sends the reconciler its interfaces.
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
            args.cluster.eninode(&args.node),
            myself,
            |c| WatchMsg::Change(Box::new(c)),
            WatchMsg::Ended,
        );
        Ok(WatchState {
            args,
            eninode: None,
            task,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<WatchMsg>,
        st: &mut WatchState,
    ) -> Result<(), ActorProcessingErr> {
        st.task.stop();
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<WatchMsg>,
        msg: WatchMsg,
        st: &mut WatchState,
    ) -> Result<(), ActorProcessingErr> {
        if matches!(msg, WatchMsg::Ended) {
            return Err("the ENINode watch ended".into());
        }
        if let WatchMsg::Change(change) = msg {
            let mine = |e: &ENINode| e.metadata.name.as_deref() == Some(st.args.node.as_str());
            match *change {
                Change::Resync(all) => st.eninode = all.into_iter().find(mine),
                Change::Applied(e) if mine(&e) => st.eninode = Some(e),
                Change::Deleted(e) if mine(&e) => st.eninode = None,
                _ => {}
            }
        }
        let desired = desired_links(st.eninode.as_ref(), st.args.default_mtu);
        st.args.reconciler.cast(ReconcilerMsg::Desired(desired));
        Ok(())
    }
}
