//! The NodeENI actor: one per NodeENI. It holds the spec and the matching nodes, runs one
//! slot actor per desired slot as a supervised child, hands the ENIs of slots that
//! disappear to the cleanup pool, writes the NodeENI's status (the only writer), records
//! Events, and owns the finalizer. What to start, retire, reap and when the finalizer
//! may go is decided in [`crate::plan::nodeeni`]; the state's handling of each message
//! is in [`state`] (of news of the nodes in [`state_nodes`], of released DPDK devices in
//! [`state_releases`]).

mod census;
mod cleanups;
mod finalizer;
mod fleet;
mod fleet_teardowns;
mod in_order;
mod interfaces;
mod io;
mod lines;
mod msg;
mod nodes;
mod publisher;
mod readiness;
mod reads;
mod releases;
mod selection;
mod slots;
mod spec;
mod state;
mod state_nodes;
mod state_releases;
mod status;
mod sweep;
mod timers;
mod unmanaged;
mod writes;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tracing::Instrument;

pub use census::NodeEniCensus;
pub use msg::{InterfacesSeen, NodeEniArgs, NodeEniDeps, NodeEniMsg};
use state::NodeEniState;

/// The actor.
pub struct NodeEniActor;

impl Actor for NodeEniActor {
    type Msg = NodeEniMsg;
    type State = NodeEniState;
    type Arguments = NodeEniArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<NodeEniMsg>,
        args: NodeEniArgs,
    ) -> Result<NodeEniState, ActorProcessingErr> {
        Ok(NodeEniState::new(&myself, args))
    }

    async fn handle(
        &self,
        myself: ActorRef<NodeEniMsg>,
        msg: NodeEniMsg,
        st: &mut NodeEniState,
    ) -> Result<(), ActorProcessingErr> {
        let span = st.span();
        dispatch(myself, msg, st).instrument(span).await
    }

    /// Stops the slots before the actor goes: each finishes the step under way.
    async fn post_stop(
        &self,
        myself: ActorRef<NodeEniMsg>,
        _st: &mut NodeEniState,
    ) -> Result<(), ActorProcessingErr> {
        myself
            .stop_children_and_wait(Some("NodeENI actor stopping".into()), None)
            .await;
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<NodeEniMsg>,
        evt: SupervisionEvent,
        st: &mut NodeEniState,
    ) -> Result<(), ActorProcessingErr> {
        st.on_slot_exit(&myself, evt);
        Ok(())
    }
}

/// Routes one message to the state's handler for it.
async fn dispatch(
    myself: ActorRef<NodeEniMsg>,
    msg: NodeEniMsg,
    st: &mut NodeEniState,
) -> Result<(), ActorProcessingErr> {
    match msg {
        NodeEniMsg::Spec(obj) => st.on_spec(&myself, *obj),
        NodeEniMsg::Nodes(nodes) => st.on_nodes(&myself, nodes),
        NodeEniMsg::Node(view) => st.on_node(&myself, view.name.clone(), Some(view)).await?,
        NodeEniMsg::NodeGone(name) => st.on_node(&myself, name, None).await?,
        NodeEniMsg::Report(actor, key, report) => st.on_report(&myself, actor, key, report),
        NodeEniMsg::SlotNotice(notice) => st.publish(notice),
        NodeEniMsg::SlotRetired(actor, key, enis) => st.on_slot_retired(&myself, actor, &key, enis),
        NodeEniMsg::NodeZone(node, zone) => st.on_node_zone(&myself, node, zone).await?,
        NodeEniMsg::Cleaned(eni_id, result) => st.on_cleaned(&myself, eni_id, result),
        NodeEniMsg::Tick => st.on_tick(&myself).await?,
        NodeEniMsg::Interfaces(seen) => st.on_interfaces(&myself, seen),
        NodeEniMsg::Agent(node, report) => st.on_agent(&myself, &node, &report),
        NodeEniMsg::InstancesRead(read) => st.on_instances_read(&myself, read).await?,
        NodeEniMsg::Flush => st.on_flush(&myself).await,
        NodeEniMsg::RestartSlot(key) => st.restart_slot(&myself, &key).await?,
        NodeEniMsg::Desired(reply) => {
            let _ = reply.send(st.desired_pairs());
        }
    }
    Ok(())
}
