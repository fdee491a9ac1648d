//! A deleted NodeENI: its slots retire, its ENIs go, its entries leave the nodes'
//! ENINodes, and then its finalizer.

use ractor::{ActorProcessingErr, ActorRef};
use tokio::time::Instant;

use super::{NodeEniState, RETRY};
use crate::actors::nodeeni::msg::NodeEniMsg;
use crate::plan::nodeeni as rules;

impl NodeEniState {
    pub(super) async fn delete_progress(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
    ) -> Result<(), ActorProcessingErr> {
        self.cleanups.resend_stale(myself, Instant::now());
        for key in self.slots.keys() {
            self.retire(myself, key, "NodeENI deleted");
        }
        let listed = self.sweep().await;
        let nothing_listed = listed == Some(0);
        self.reap(myself);
        // Withdraws this NodeENI's entries from the nodes' ENINodes as its slots go.
        if !self.write_status().await {
            self.dirty(myself);
        }
        if rules::finalizer_may_go(
            nothing_listed,
            self.cleanups.pending(),
            self.slots.retiring(),
            self.interfaces.withdrawn(),
        ) {
            match self.deps.cluster.remove_finalizer(&self.name()).await {
                Ok(()) => {
                    tracing::info!("every ENI is gone; finalizer removed");
                    self.write_status().await;
                    crate::actors::nodeeni::status::clear_gauges(&self.name());
                    myself.stop(Some("NodeENI deleted".into()));
                    return Ok(());
                }
                Err(e) => tracing::warn!(error = %e, "could not remove the finalizer"),
            }
        }
        // While only failed teardowns wait for their backoff, nothing new can happen
        // sooner: no listing either.
        let wait = match self.cleanups.next_retry() {
            Some(at) if self.cleanups.pending() == 0 && self.slots.retiring() == 0 => {
                at.saturating_duration_since(Instant::now()).max(RETRY)
            }
            _ => RETRY,
        };
        self.tick_in(myself, wait);
        Ok(())
    }
}
