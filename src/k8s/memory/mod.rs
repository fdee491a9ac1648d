//! An in-memory cluster behind the [`Cluster`](crate::k8s::cluster::Cluster) port, for
//! actor tests and `simulate`; the port's methods are in `api`.
//!
//! It keeps NodeENIs and nodes in maps, honours finalizers and deletion timestamps,
//! bumps generations on spec changes, and broadcasts changes to every watcher. A watcher
//! that falls too far behind gets a fresh [`Change::Resync`], as a real watch would after
//! a 410. Events and status writes are recorded for assertions.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use tokio::sync::broadcast;

mod api;
mod eninodes;
mod ledger;
mod nodes;
mod recorder;
mod watch;

use eninodes::ENINodeStore;
use recorder::EventLog;

use crate::k8s::cluster::{Change, ClusterError, ENINodeView, Notice};
use crate::k8s::crd::NodeENI;
use crate::k8s::eninode::ENINodeStatus;
use crate::k8s::node::NodeView;
use crate::k8s::writes::WriteTally;

const CHANNEL_CAPACITY: usize = 65_536;

#[derive(Default)]
struct State {
    nodeenis: BTreeMap<String, NodeENI>,
    nodes: BTreeMap<String, NodeView>,
    recorder: EventLog,
    /// The ownership ledger.
    ledger: ledger::Ledger,
    writes: WriteTally,
    next_uid: u64,
    refuse_status: bool,
    eninodes: ENINodeStore,
    /// Listings of every Node (a watch's first resync, or a lagging watcher's).
    node_lists: u64,
    /// How long a watch takes to deliver its listing of the Nodes.
    node_list_time: std::time::Duration,
}

/// The in-memory cluster. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MemoryCluster {
    state: Arc<Mutex<State>>,
    nodeeni_tx: broadcast::Sender<Change<NodeENI>>,
    node_tx: broadcast::Sender<Change<NodeView>>,
    eninode_tx: broadcast::Sender<Change<ENINodeView>>,
}

impl Default for MemoryCluster {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryCluster {
    /// An empty cluster.
    pub fn new() -> Self {
        // Each cluster hands out UIDs of its own, as real clusters do: two in-memory
        // clusters in one account (one process) never share a NodeENI UID.
        static CLUSTERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = CLUSTERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        MemoryCluster {
            state: Arc::new(Mutex::new(State {
                next_uid: (n & 0xffff) << 32,
                ..State::default()
            })),
            nodeeni_tx: broadcast::channel(CHANNEL_CAPACITY).0,
            node_tx: broadcast::channel(CHANNEL_CAPACITY).0,
            eninode_tx: broadcast::channel(CHANNEL_CAPACITY).0,
        }
    }

    /// A node's ENINode as stored now.
    pub fn eninode(&self, node: &str) -> Option<ENINodeView> {
        let s = self.lock();
        s.eninodes.view(node)
    }

    /// How many ENINode writes the controller made.
    pub fn eninode_writes(&self) -> u64 {
        self.lock().writes.eninode
    }

    /// Every write the controller made, and the largest.
    pub fn writes(&self) -> WriteTally {
        self.lock().writes
    }

    /// Writes a node agent's report into the node's ENINode status (as the agent would).
    pub fn report_interfaces(&self, node: &str, status: ENINodeStatus) {
        let mut s = self.lock();
        let view = s.eninodes.report(node, status);
        drop(s);
        let _ = self.eninode_tx.send(Change::Applied(view));
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates or updates a NodeENI as `kubectl apply` would: a new one gets a UID and
    /// generation 1; a spec change bumps the generation; status and finalizers are kept.
    pub fn apply_nodeeni(&self, mut nodeeni: NodeENI) -> NodeENI {
        let mut s = self.lock();
        let name = nodeeni.name_any();
        match s.nodeenis.get(&name) {
            Some(old) => {
                let meta = &mut nodeeni.metadata;
                meta.uid = old.metadata.uid.clone();
                meta.finalizers = old.metadata.finalizers.clone();
                meta.deletion_timestamp = old.metadata.deletion_timestamp.clone();
                meta.creation_timestamp = old.metadata.creation_timestamp.clone();
                let g = old.metadata.generation.unwrap_or(1);
                meta.generation = Some(if old.spec == nodeeni.spec { g } else { g + 1 });
                nodeeni.status = old.status.clone();
            }
            None => {
                s.next_uid += 1;
                let meta = &mut nodeeni.metadata;
                meta.uid = Some(format!("00000000-0000-4000-8000-{:012x}", s.next_uid));
                meta.generation = Some(1);
                meta.creation_timestamp = Some(Time(jiff::Timestamp::now()));
            }
        }
        s.nodeenis.insert(name, nodeeni.clone());
        let _ = self.nodeeni_tx.send(Change::Applied(nodeeni.clone()));
        nodeeni
    }

    /// Deletes a NodeENI: with finalizers it is only marked for deletion.
    pub fn delete_nodeeni(&self, name: &str) {
        let mut s = self.lock();
        let Some(obj) = s.nodeenis.get_mut(name) else {
            return;
        };
        if obj.finalizers().is_empty() {
            let gone = s.nodeenis.remove(name);
            drop(s);
            if let Some(gone) = gone {
                let _ = self.nodeeni_tx.send(Change::Deleted(gone));
            }
        } else if obj.metadata.deletion_timestamp.is_none() {
            obj.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::now()));
            let changed = obj.clone();
            drop(s);
            let _ = self.nodeeni_tx.send(Change::Applied(changed));
        }
    }

    /// A NodeENI as stored now.
    pub fn nodeeni(&self, name: &str) -> Option<NodeENI> {
        self.lock().nodeenis.get(name).cloned()
    }

    /// `f` of a NodeENI as stored, without a copy (a NodeENI over thousands of nodes
    /// is large, and the simulation looks at it four times a simulated second).
    pub fn with_nodeeni<R>(&self, name: &str, f: impl FnOnce(&NodeENI) -> R) -> Option<R> {
        self.lock().nodeenis.get(name).map(f)
    }

    /// Makes every watch take `time` to deliver its listing of the Nodes (as an API
    /// server does with many).
    pub fn slow_node_lists(&self, time: std::time::Duration) {
        self.lock().node_list_time = time;
    }

    /// How many times a watch listed every Node.
    pub fn node_lists(&self) -> u64 {
        self.lock().node_lists
    }

    /// Every node as stored now.
    pub fn node_views(&self) -> Vec<NodeView> {
        self.lock().nodes.values().cloned().collect()
    }

    /// Every Event recorded so far, with the NodeENI name: one per Event object (a
    /// repeat counted in an Event's series shows once, with its first note).
    pub fn events(&self) -> Vec<(String, Notice)> {
        self.lock()
            .recorder
            .events
            .iter()
            .map(|(n, e, _)| (n.clone(), e.clone()))
            .collect()
    }

    /// Every Event object with how many times it was recorded.
    pub fn event_series(&self) -> Vec<(String, Notice, u32)> {
        self.lock().recorder.events.clone()
    }

    /// Fails every ledger read and write (as an API server that refuses the ConfigMap), or
    /// stops.
    pub fn refuse_ledger(&self, refuse: bool) {
        self.lock().ledger.refused = refuse;
    }

    /// The ownership ledger as stored now: NodeENI UID → name.
    pub fn ledger(&self) -> BTreeMap<String, String> {
        self.lock().ledger.owners.clone()
    }

    /// How many status writes the controller made.
    pub fn status_writes(&self) -> u64 {
        self.lock().writes.status
    }

    /// Makes the ENINode watch deliver nothing from now on (as when the ENINode CRD is
    /// not installed, or the controller may not list ENINodes).
    pub fn withhold_eninodes(&self) {
        self.lock().eninodes.withheld = true;
    }

    /// Refuses every status write (as an API server refuses a status it finds invalid or
    /// too large), or stops; refused writes count in [`MemoryCluster::status_writes`].
    pub fn refuse_status(&self, refuse: bool) {
        self.lock().refuse_status = refuse;
    }

    /// Refuses every ENINode write for `node` (as a policy webhook would), or stops.
    pub fn refuse_eninode(&self, node: &str, refuse: bool) {
        self.lock().eninodes.refuse(node, refuse);
    }

    fn update_finalizers(
        &self,
        name: &str,
        edit: impl FnOnce(&mut Vec<String>),
    ) -> Result<(), ClusterError> {
        let mut s = self.lock();
        let obj = s
            .nodeenis
            .get_mut(name)
            .ok_or_else(|| ClusterError::NotFound(format!("nodeeni {name}")))?;
        let mut list = obj.metadata.finalizers.take().unwrap_or_default();
        let before = list.clone();
        edit(&mut list);
        obj.metadata.finalizers = (!list.is_empty()).then_some(list.clone());
        if list == before {
            return Ok(());
        }
        let gone = list.is_empty() && obj.metadata.deletion_timestamp.is_some();
        let change = if gone {
            s.nodeenis.remove(name).map(Change::Deleted)
        } else {
            Some(Change::Applied(obj.clone()))
        };
        s.writes.finalizer += 1;
        drop(s);
        if let Some(c) = change {
            let _ = self.nodeeni_tx.send(c);
        }
        Ok(())
    }
}
