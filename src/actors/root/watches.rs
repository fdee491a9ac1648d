//! The root's three watches (Nodes, NodeENIs, ENINodes): the tasks forwarding them into
//! the root, whether each delivered its first listing, and the readiness that follows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ractor::ActorRef;
use tokio::task::JoinHandle;

use super::msg::{RootMsg, Watched};
use crate::k8s::Cluster;
use crate::supervision::forward;

/// The watch tasks and what they delivered.
pub struct Watches {
    tasks: [Option<JoinHandle<()>>; 3],
    synced: [bool; 3],
    ready: Arc<AtomicBool>,
}

impl Watches {
    /// None running; `ready` turns true once the Node and NodeENI watches listed.
    pub fn new(ready: Arc<AtomicBool>) -> Self {
        Watches {
            tasks: [None, None, None],
            synced: [false; 3],
            ready,
        }
    }

    /// Starts (again) forwarding one watch into the root.
    pub fn start(&mut self, me: &ActorRef<RootMsg>, cluster: &dyn Cluster, what: Watched) {
        let me = me.clone();
        let ended = RootMsg::WatchEnded(what);
        let task = match what {
            Watched::Nodes => forward(cluster.nodes(), me, RootMsg::Nodes, ended),
            Watched::NodeEnis => forward(
                cluster.nodeenis(),
                me,
                |c| RootMsg::NodeEnis(Box::new(c)),
                ended,
            ),
            Watched::ENINodes => forward(cluster.eninodes(), me, RootMsg::ENINodes, ended),
        };
        if let Some(old) = self.tasks[what as usize].replace(task) {
            old.abort();
        }
    }

    /// `what` delivered a listing.
    pub fn listed(&mut self, what: Watched) {
        self.synced[what as usize] = true;
        if self.is_synced(Watched::Nodes) && self.is_synced(Watched::NodeEnis) {
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
            w.abort();
        }
        self.ready.store(false, Ordering::Release);
    }
}
