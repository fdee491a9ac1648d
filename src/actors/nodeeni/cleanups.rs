//! The ENIs a NodeENI handed to the cleanup pool and waits on.

use std::collections::HashMap;
use std::time::Duration;

use ractor::ActorRef;
use tokio::time::Instant;

use super::msg::NodeEniMsg;
use crate::actors::cleanup::{CleanupError, CleanupMsg, CleanupNotify};
use crate::k8s::{About, Notice};
use crate::supervision::{Handle, retry_delay};

/// How often requests not answered yet are checked against restarts of the pool (a
/// restarted pool lost them: they are sent again; a live pool holds them, and is never
/// asked twice).
pub const RESEND_AFTER: Duration = Duration::from_secs(30);

/// Teardowns requested and not yet answered, with the pool generation each was sent to;
/// and those that failed, not to be asked for again before their backoff is over.
pub struct Cleanups {
    pool: Handle<CleanupMsg>,
    /// The NodeENI's UID (its ENIs are torn down by it).
    uid: String,
    pending: HashMap<String, (&'static str, u64)>,
    failed: HashMap<String, Failed>,
}

struct Failed {
    count: u32,
    retry_at: Instant,
    error: String,
}

impl Cleanups {
    /// None pending, with the pool to ask for the NodeENI `uid`.
    pub fn new(pool: Handle<CleanupMsg>, uid: String) -> Self {
        Cleanups {
            pool,
            uid,
            pending: HashMap::new(),
            failed: HashMap::new(),
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
        if self.pending.contains_key(&eni_id) {
            return true;
        }
        if self
            .failed
            .get(&eni_id)
            .is_some_and(|f| f.retry_at > Instant::now())
        {
            // Failed before: asked for again once its backoff is over.
            return true;
        }
        self.send(me, eni_id, reason)
    }

    /// Whether the pool was asked to tear `eni_id` down and has not answered.
    pub fn asked(&self, eni_id: &str) -> bool {
        self.pending.contains_key(eni_id)
    }

    /// Sends again every request a restarted pool lost; `false` if the pool is
    /// restarting.
    pub fn resend_lost(&mut self, me: &ActorRef<NodeEniMsg>) -> bool {
        let now = self.pool.generation();
        let stale: Vec<(String, &'static str)> = self
            .pending
            .iter()
            .filter(|(_, (_, sent_to))| *sent_to < now)
            .map(|(id, (reason, _))| (id.clone(), *reason))
            .collect();
        stale
            .into_iter()
            .all(|(id, reason)| self.send(me, id, reason))
    }

    fn send(&mut self, me: &ActorRef<NodeEniMsg>, eni_id: String, reason: &'static str) -> bool {
        self.pending
            .insert(eni_id.clone(), (reason, self.pool.generation()));
        let requester = me.get_id();
        let me = me.clone();
        let sent = self.pool.cast(CleanupMsg::Clean {
            eni_id: eni_id.clone(),
            owner: Some(self.uid.clone()),
            reason,
            notify: Some(CleanupNotify {
                requester,
                tell: Box::new(move |id: &str, result| {
                    let _ = me.cast(NodeEniMsg::Cleaned(id.to_string(), result));
                }),
            }),
        });
        if !sent {
            self.pending.remove(&eni_id);
        }
        sent
    }

    /// The pool answered for `eni_id`: the Event that says how it went, or `None` for
    /// an answer to a request no longer pending (heard already).
    pub fn answered(&mut self, eni_id: &str, result: &Result<(), CleanupError>) -> Option<Notice> {
        self.pending.remove(eni_id)?;
        match result {
            Ok(()) => {
                self.failed.remove(eni_id);
            }
            Err(e) => {
                let count = self.failed.get(eni_id).map_or(1, |f| f.count + 1);
                let delay = retry_delay(
                    count,
                    Duration::from_secs(5),
                    Duration::from_secs(300),
                    rand::random::<f64>(),
                );
                let failed = Failed {
                    count,
                    retry_at: Instant::now() + delay,
                    error: e.to_string(),
                };
                self.failed.insert(eni_id.to_string(), failed);
            }
        }
        Some(
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
            .about(About::Eni(eni_id.to_string())),
        )
    }

    /// Forgets the failed teardowns of ENIs a listing no longer shows: deleted out of
    /// band (or by EC2 with their instance), they will not be asked for again, and must
    /// not be reported as failing forever.
    pub fn forget_unlisted(&mut self, listed: &std::collections::HashSet<String>) {
        self.failed.retain(|id, _| listed.contains(id));
    }

    /// When the earliest failed teardown may be asked for again.
    pub fn next_retry(&self) -> Option<Instant> {
        self.failed.values().map(|f| f.retry_at).min()
    }

    /// What keeps failing, in words (for the status), if anything does.
    pub fn failing(&self) -> Option<String> {
        let (id, f) = self.failed.iter().max_by_key(|(_, f)| f.retry_at)?;
        Some(format!(
            "{} ENIs could not be deleted and are retried with backoff; {id}: {}",
            self.failed.len(),
            f.error
        ))
    }

    /// Teardowns still pending.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}
