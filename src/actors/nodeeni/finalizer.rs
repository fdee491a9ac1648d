//! A NodeENI's finalizer: put in place before any ENI is created for it, retried with
//! backoff while the API server refuses.

use std::time::Duration;

use crate::k8s::Cluster;

const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(30);

/// Whether the finalizer is in place, and the wait before asking again.
pub struct Finalizer {
    placed: bool,
    backoff: Duration,
}

impl Default for Finalizer {
    fn default() -> Self {
        Finalizer {
            placed: false,
            backoff: FIRST_RETRY,
        }
    }
}

impl Finalizer {
    /// Whether the finalizer is known to be in place.
    pub fn placed(&self) -> bool {
        self.placed
    }

    /// Puts the finalizer on `name` unless it is known to be there; on failure, how long
    /// to wait before trying again (doubling to half a minute).
    pub async fn ensure(&mut self, cluster: &dyn Cluster, name: &str) -> Result<(), Duration> {
        if self.placed {
            return Ok(());
        }
        match cluster.add_finalizer(name).await {
            Ok(()) => {
                self.placed = true;
                self.backoff = FIRST_RETRY;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not add the finalizer; no ENI is created before it is in place");
                let wait = self.backoff;
                self.backoff = (self.backoff * 2).min(LAST_RETRY);
                Err(wait)
            }
        }
    }
}
