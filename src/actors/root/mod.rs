//! The root supervisor: starts the rate limiter, the cleanup pool and the watch tasks,
//! runs one NodeENI actor per NodeENI, routes node changes to the NodeENI actors whose
//! selector matched before or matches now, triggers the orphan sweep, and restarts any
//! child that fails without touching the others.

use std::collections::HashMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

mod eninodes;
mod labels;
mod msg;
mod readiness;
mod services;
mod state;
mod sweep;
mod watches;

use super::nodeeni::NodeEniMsg;
use crate::actors::readiness::ReadinessMsg;
use crate::k8s::Change;
use crate::supervision::{Children, Outbox};
use eninodes::ENINodes;
use labels::KeptLabels;
pub use msg::{RootArgs, RootMsg, Watched};
use readiness::ReadinessFeed;
use services::{Service, Services};
pub use state::RootState;
use watches::Watches;

/// The root actor.
pub struct RootActor;

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
            labels: KeptLabels::default(),
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
        for what in [Watched::NodeEnis, Watched::ENINodes] {
            st.watches
                .start(&myself, &*st.cluster, what, st.labels.keys());
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
                // While the Nodes are (re)listed, a new selector could name labels the
                // stored nodes lack: the readiness actor hears it with the listing.
                if st.watches.is_synced(Watched::Nodes) {
                    st.readiness.selectors(&st.services, &st.nodeenis);
                }
            }
            RootMsg::Nodes(Change::Applied(mut view)) => {
                st.labels.strip(&mut view);
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
                        st.labels.strip(&mut v);
                        (v.name.clone(), v)
                    })
                    .collect();
                st.watches.listed(Watched::Nodes);
                st.readiness.nodes(&st.services, &st.nodes, &st.nodeenis);
                st.readiness.synced(&st.services, &st.watches);
                for (name, obj) in &st.nodeenis {
                    if let Some(a) = st.children.get::<NodeEniMsg>(name) {
                        // A new selector withheld during the listing goes first.
                        let _ = a.cast(NodeEniMsg::Spec(Box::new(obj.clone())));
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
            RootMsg::Rewatch(what) => {
                st.watches
                    .start(&myself, &*st.cluster, what, st.labels.keys())
            }
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
