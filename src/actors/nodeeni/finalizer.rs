//! A NodeENI's finalizer and its entry on the ownership ledger: both in place before any
//! ENI is created for it, retried with backoff while the API server refuses. The entry
//! goes on the ledger first, so an ENI the controller creates always has a recorded owner
//! (and one a crash leaves behind can be swept once the NodeENI is gone).

use std::time::Duration;

use crate::k8s::{Cluster, ClusterError};

const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(30);

/// Whether the ledger entry and the finalizer are in place, and the wait before asking
/// again.
pub struct Finalizer {
    recorded: bool,
    placed: bool,
    backoff: Duration,
}

impl Default for Finalizer {
    fn default() -> Self {
        Finalizer {
            recorded: false,
            placed: false,
            backoff: FIRST_RETRY,
        }
    }
}

impl Finalizer {
    /// Whether the ledger entry and the finalizer are known to be in place.
    pub fn placed(&self) -> bool {
        self.recorded && self.placed
    }

    /// Records the NodeENI (`uid`, `name`) on the ledger and puts the finalizer on it,
    /// unless known to be done; on failure, how long to wait before trying again
    /// (doubling to half a minute).
    pub async fn ensure(
        &mut self,
        cluster: &dyn Cluster,
        uid: &str,
        name: &str,
    ) -> Result<(), Duration> {
        let done = match self.record(cluster, uid, name).await {
            Ok(()) if !self.placed => cluster
                .add_finalizer(name)
                .await
                .map_err(|e| ("finalizer", e)),
            other => other,
        };
        match done {
            Ok(()) => {
                self.placed = true;
                self.backoff = FIRST_RETRY;
                Ok(())
            }
            Err((what, e)) => {
                tracing::warn!(error = %e, what, "could not put the NodeENI on the ledger or add the finalizer; no ENI is created before both are in place");
                Err(self.next_wait())
            }
        }
    }

    /// Once a deleted NodeENI's ENIs are all gone: removes the finalizer, after making
    /// sure the NodeENI is on the ledger (so an ENI the deletion could not see is still
    /// swept later); whether it is removed.
    pub async fn release(&mut self, cluster: &dyn Cluster, uid: &str, name: &str) -> bool {
        if let Err((what, e)) = self.record(cluster, uid, name).await {
            tracing::warn!(error = %e, what, "could not put the NodeENI on the ledger; the finalizer stays until it is");
            return false;
        }
        match cluster.remove_finalizer(name).await {
            Ok(()) => {
                tracing::info!("every ENI is gone; finalizer removed");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not remove the finalizer");
                false
            }
        }
    }

    async fn record(
        &mut self,
        cluster: &dyn Cluster,
        uid: &str,
        name: &str,
    ) -> Result<(), (&'static str, ClusterError)> {
        if !self.recorded {
            cluster
                .record_owner(uid, name)
                .await
                .map_err(|e| ("ledger", e))?;
            self.recorded = true;
        }
        Ok(())
    }

    fn next_wait(&mut self) -> Duration {
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(LAST_RETRY);
        wait
    }
}
