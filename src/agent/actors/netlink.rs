//! The netlink actor: the link dump, the kernel's link events, and the only writer of
//! link changes.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::msg::{Connector, NetlinkMsg, ReconcilerMsg};
use crate::agent::links::Links;
use crate::supervision::{Forwarding, Handle, forward};
use crate::telemetry::metric;

/// Arguments of the netlink actor.
#[allow(missing_docs)]
pub struct NetlinkArgs {
    /// Opens netlink.
    pub connect: Connector,
    pub reconciler: Handle<ReconcilerMsg>,
}

/// The netlink actor's state.
pub struct NetlinkState {
    links: Arc<dyn Links>,
    reconciler: Handle<ReconcilerMsg>,
    events: Forwarding,
}

/// The netlink actor.
pub struct Netlink;

impl Actor for Netlink {
    type Msg = NetlinkMsg;
    type State = NetlinkState;
    type Arguments = NetlinkArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<NetlinkMsg>,
        args: NetlinkArgs,
    ) -> Result<NetlinkState, ActorProcessingErr> {
        let (links, stream) = (args.connect)()?;
        // Subscribe first, then dump: no change between the two is missed.
        let events = forward(
            stream,
            myself.clone(),
            NetlinkMsg::Event,
            NetlinkMsg::EventsEnded,
        );
        let all = links.dump().await?;
        args.reconciler
            .cast(ReconcilerMsg::Links(all, myself.clone()));
        Ok(NetlinkState {
            links,
            reconciler: args.reconciler,
            events,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<NetlinkMsg>,
        st: &mut NetlinkState,
    ) -> Result<(), ActorProcessingErr> {
        st.events.stop();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<NetlinkMsg>,
        msg: NetlinkMsg,
        st: &mut NetlinkState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            NetlinkMsg::Redump => {
                let all = st.links.dump().await?;
                st.reconciler.cast(ReconcilerMsg::Links(all, myself));
            }
            NetlinkMsg::EventsEnded => {
                return Err("the kernel's link event stream ended".into());
            }
            NetlinkMsg::Event(e) => {
                metrics::counter!(metric::AGENT_NETLINK_EVENTS_TOTAL).increment(1);
                st.reconciler.cast(ReconcilerMsg::Link(e));
            }
            NetlinkMsg::Apply {
                mac,
                index,
                up,
                mtu,
            } => {
                tracing::info!(%mac, index, up, ?mtu, "configuring interface");
                match st.links.set(index, up, mtu).await {
                    Ok(()) => {
                        if up {
                            metrics::counter!(metric::AGENT_LINK_CHANGES_TOTAL, "change" => "up")
                                .increment(1);
                        }
                        if mtu.is_some() {
                            metrics::counter!(metric::AGENT_LINK_CHANGES_TOTAL, "change" => "mtu")
                                .increment(1);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(%mac, error = %e, "could not configure interface");
                        metrics::counter!(metric::AGENT_ERRORS_TOTAL, "error" => e.label())
                            .increment(1);
                        st.reconciler
                            .cast(ReconcilerMsg::Failed(mac, e.to_string()));
                    }
                }
            }
        }
        Ok(())
    }
}
