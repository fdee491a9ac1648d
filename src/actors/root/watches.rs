//! The root's three watches (Nodes, NodeENIs, ENINodes): the tasks forwarding them into
//! the root (a watch that stops is started again after a backoff), whether each
//! delivered its first listing, and the readiness that follows.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ractor::ActorRef;

use super::msg::{RootMsg, Watched};
use crate::k8s::Cluster;
use crate::supervision::{Forwarding, forward};
use crate::telemetry::metric::KUBE_WATCH_SYNCED;

/// The watch tasks and what they delivered.
pub struct Watches {
    tasks: [Option<Forwarding>; 3],
    synced: [bool; 3],
    /// Restarts of each watch since it last listed.
    restarts: [u32; 3],
    ready: Arc<AtomicBool>,
}

fn resource(what: Watched) -> &'static str {
    match what {
        Watched::Nodes => "nodes",
        Watched::NodeEnis => "nodeenis",
        Watched::ENINodes => "eninodes",
    }
}

const ALL: [Watched; 3] = [Watched::Nodes, Watched::NodeEnis, Watched::ENINodes];

impl Watches {
    /// None running; `ready` turns true once every watch listed (ENINodes included:
    /// without them no entry is written and no NodeENI deletion can finish).
    pub fn new(ready: Arc<AtomicBool>) -> Self {
        for what in ALL {
            metrics::gauge!(KUBE_WATCH_SYNCED, "resource" => resource(what)).set(0.0);
        }
        Watches {
            tasks: [None, None, None],
            synced: [false; 3],
            restarts: [0; 3],
            ready,
        }
    }

    /// `what` stopped: how long to wait before watching it again (1 s doubling to a
    /// minute, jittered, while it keeps stopping before it lists).
    pub fn ended(&mut self, what: Watched) -> std::time::Duration {
        let n = &mut self.restarts[what as usize];
        *n += 1;
        crate::supervision::retry_delay(
            *n,
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(60),
            rand::random::<f64>(),
        )
    }

    /// Starts (again) forwarding one watch into the root; Nodes keep only the labels of
    /// `node_labels`.
    pub fn start(
        &mut self,
        me: &ActorRef<RootMsg>,
        cluster: &dyn Cluster,
        what: Watched,
        node_labels: &BTreeSet<String>,
    ) {
        let me = me.clone();
        let ended = RootMsg::WatchEnded(what);
        let task = match what {
            Watched::Nodes => forward(cluster.nodes(node_labels), me, RootMsg::Nodes, ended),
            Watched::NodeEnis => forward(
                cluster.nodeenis(),
                me,
                |c| RootMsg::NodeEnis(Box::new(c)),
                ended,
            ),
            Watched::ENINodes => forward(cluster.eninodes(), me, RootMsg::ENINodes, ended),
        };
        if let Some(old) = self.tasks[what as usize].replace(task) {
            old.stop();
        }
    }

    /// Whether `what` is watched (started, and not stopped).
    pub fn started(&self, what: Watched) -> bool {
        self.tasks[what as usize].is_some()
    }

    /// Watches `what` again from a new listing: not synced until it delivered it.
    pub fn relist(
        &mut self,
        me: &ActorRef<RootMsg>,
        cluster: &dyn Cluster,
        what: Watched,
        node_labels: &BTreeSet<String>,
    ) {
        self.synced[what as usize] = false;
        metrics::gauge!(KUBE_WATCH_SYNCED, "resource" => resource(what)).set(0.0);
        self.start(me, cluster, what, node_labels);
    }

    /// `what` delivered a listing.
    pub fn listed(&mut self, what: Watched) {
        self.synced[what as usize] = true;
        self.restarts[what as usize] = 0;
        metrics::gauge!(KUBE_WATCH_SYNCED, "resource" => resource(what)).set(1.0);
        if ALL.iter().all(|w| self.is_synced(*w)) {
            self.ready.store(true, Ordering::Release);
        }
    }

    /// Whether `what` delivered a listing.
    pub fn is_synced(&self, what: Watched) -> bool {
        self.synced[what as usize]
    }

    /// Stops every watch; not ready any more.
    pub fn stop(&mut self) {
        for w in self.tasks.iter().flatten() {
            w.stop();
        }
        for what in ALL {
            metrics::gauge!(KUBE_WATCH_SYNCED, "resource" => resource(what)).set(0.0);
        }
        self.ready.store(false, Ordering::Release);
    }
}
