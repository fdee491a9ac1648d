//! The ENIs a NodeENI handed to the cleanup pool and waits on.

use std::collections::HashSet;

use ractor::ActorRef;

use super::msg::NodeEniMsg;
use crate::actors::cleanup::{CleanupError, CleanupMsg};
use crate::k8s::Notice;
use crate::supervision::Handle;

/// Teardowns requested and not yet answered.
pub struct Cleanups {
    pool: Handle<CleanupMsg>,
    pending: HashSet<String>,
}

impl Cleanups {
    /// None pending, with the pool to ask.
    pub fn new(pool: Handle<CleanupMsg>) -> Self {
        Cleanups {
            pool,
            pending: HashSet::new(),
        }
    }

    /// Asks the pool to tear `eni_id` down (once) and to tell `me` when it is done;
    /// `false` if the pool is restarting (ask again later).
    pub fn request(
        &mut self,
        me: &ActorRef<NodeEniMsg>,
        eni_id: String,
        reason: &'static str,
    ) -> bool {
        if !self.pending.insert(eni_id.clone()) {
            return true;
        }
        let me = me.clone();
        let sent = self.pool.cast(CleanupMsg::Clean {
            eni_id: eni_id.clone(),
            reason,
            notify: Some(Box::new(move |id: &str, result| {
                let _ = me.cast(NodeEniMsg::Cleaned(id.to_string(), result));
            })),
        });
        if !sent {
            self.pending.remove(&eni_id);
        }
        sent
    }

    /// The pool answered for `eni_id`: the Event that says how it went.
    pub fn answered(&mut self, eni_id: &str, result: &Result<(), CleanupError>) -> Notice {
        self.pending.remove(eni_id);
        match result {
            Ok(()) => Notice::normal(
                "ENIDeleted",
                "Delete",
                format!("{eni_id} detached and deleted"),
            ),
            Err(e) => Notice::warning(
                "ENIDeletionFailed",
                "Delete",
                format!("{eni_id}: {e}; will retry"),
            ),
        }
    }

    /// Teardowns still pending.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}
