//! The in-memory object store: every object of every resource behind one lock, one
//! resourceVersion counter for the whole server, and a bounded history of changes that
//! watches resume from (older resourceVersions answer `410 Gone`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use serde_json::Value;
use tokio::sync::broadcast;

use super::resources::{Registry, ResourceType};
use super::selector::Filter;
use super::ssa::FieldOwners;

/// Storage key: (group, plural, namespace, name); namespace is empty when cluster-scoped.
pub type ObjKey = (String, String, String, String);

/// Builds the storage key of an object of `rt`.
pub fn key(rt: &ResourceType, namespace: &str, name: &str) -> ObjKey {
    (
        rt.group.clone(),
        rt.plural.clone(),
        namespace.to_string(),
        name.to_string(),
    )
}

/// One stored object with its field owners.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The object as last written (its `metadata.resourceVersion` is current).
    pub value: Value,
    /// Which field manager owns each leaf (for server-side apply).
    pub owners: FieldOwners,
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created.
    Added,
    /// Updated.
    Modified,
    /// Removed.
    Deleted,
}

/// One committed change, as kept in the history and fanned out to watches.
#[derive(Debug)]
pub struct Change {
    /// The resourceVersion the change committed at.
    pub rv: u64,
    /// Group of the object's resource.
    pub group: String,
    /// Plural of the object's resource.
    pub plural: String,
    /// Added, modified or deleted.
    pub kind: ChangeKind,
    /// The object after the change (for deletions: as it was, with the deletion's rv).
    pub object: Value,
    /// The object before the change (so selector watches can see objects leave).
    pub old: Option<Value>,
    /// `object` serialised once, shared by every watch that sends it unchanged.
    pub encoded: OnceLock<Bytes>,
}

impl Change {
    /// `object` as JSON, serialised on first use.
    pub fn json(&self) -> &Bytes {
        self.encoded
            .get_or_init(|| Bytes::from(serde_json::to_vec(&self.object).unwrap_or_default()))
    }

    /// Whether the change concerns the resource `rt` (any version).
    pub fn is_for(&self, rt: &ResourceType) -> bool {
        self.group == rt.group && self.plural == rt.plural
    }
}

/// Tunables of the store.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    /// Changes kept for watch resumption.
    pub history: usize,
    /// Changes a watch may fall behind before it is cut off with `410`.
    pub broadcast: usize,
}

/// Everything the server knows, guarded by one mutex (never held across an await).
pub struct State {
    /// Last committed resourceVersion.
    pub rv: u64,
    /// Served resource types.
    pub registry: Registry,
    /// Objects by key.
    pub objects: BTreeMap<ObjKey, Stored>,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// Changes at or below this resourceVersion are no longer in the history.
    pub compacted: u64,
    tx: broadcast::Sender<Arc<Change>>,
}

impl State {
    /// An empty store with the built-in resources.
    pub fn new(limits: StoreLimits) -> Self {
        let (tx, _) = broadcast::channel(limits.broadcast.max(16));
        Self {
            rv: 1,
            registry: Registry::with_builtins(),
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit: limits.history.max(1),
            compacted: 0,
            tx,
        }
    }

    /// Allocates the next resourceVersion.
    pub fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Records a committed change and sends it to every watch.
    pub fn emit(&mut self, change: Change) {
        let change = Arc::new(change);
        self.history.push_back(change.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(change);
    }

    /// Forgets the whole history: every resourceVersion handed out so far now answers
    /// `410 Gone` (the counter moves on by one, so a fresh list's version is not expired).
    pub fn expire(&mut self) {
        self.rv += 1;
        self.history.clear();
        self.compacted = self.rv;
    }

    /// Whether `rv` is older than the history (so resuming from it is impossible).
    pub fn is_expired(&self, rv: u64) -> bool {
        rv < self.compacted
    }

    /// Changes after `rv`, oldest first (the caller has checked `is_expired`).
    pub fn history_since(&self, rv: u64) -> Vec<Arc<Change>> {
        let start = self.history.partition_point(|c| c.rv <= rv);
        self.history.range(start..).cloned().collect()
    }

    /// A receiver of every change committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    /// Objects of `rt` passing `filter`, in (namespace, name) order, starting after
    /// `after` (a (namespace, name) pair) when paginating.
    pub fn list<'a>(
        &'a self,
        rt: &'a ResourceType,
        filter: &'a Filter,
        after: Option<(String, String)>,
    ) -> impl Iterator<Item = &'a Stored> + 'a {
        let start = match (&after, &filter.namespace) {
            (Some((ns, name)), _) => (
                rt.group.clone(),
                rt.plural.clone(),
                ns.clone(),
                name.clone(),
            ),
            (None, Some(ns)) => (
                rt.group.clone(),
                rt.plural.clone(),
                ns.clone(),
                String::new(),
            ),
            (None, None) => (
                rt.group.clone(),
                rt.plural.clone(),
                String::new(),
                String::new(),
            ),
        };
        self.objects
            .range(start..)
            .skip_while(move |(k, _)| {
                after
                    .as_ref()
                    .is_some_and(|(ns, n)| k.2 == *ns && k.3 == *n)
            })
            .take_while(move |(k, _)| {
                k.0 == rt.group
                    && k.1 == rt.plural
                    && filter.namespace.as_ref().is_none_or(|ns| k.2 == *ns)
            })
            .map(|(_, v)| v)
            .filter(move |s| filter.matches(&s.value))
    }
}
