//! A NodeENI's Events, recorded off the actor's handler: a bounded queue drained by a
//! task of its own, so that an API server slow to take Events never holds up the
//! actor's slots, status or finalizer. When the queue is full, Events are dropped and
//! counted rather than waited for.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::k8s::{Cluster, Notice, ObjectRef};
use crate::telemetry::metric::EVENTS_TOTAL;

/// Events waiting to be recorded, at most.
const QUEUE: usize = 1024;

/// The queue; the task ends when the publisher is dropped and the queue is drained.
pub struct Publisher {
    tx: mpsc::Sender<Notice>,
}

impl Publisher {
    /// Starts recording Events on `nodeeni` through `cluster`.
    pub fn spawn(cluster: Arc<dyn Cluster>, nodeeni: ObjectRef) -> Self {
        let (tx, mut rx) = mpsc::channel::<Notice>(QUEUE);
        tokio::spawn(async move {
            while let Some(notice) = rx.recv().await {
                let outcome = match cluster.publish(&nodeeni, notice).await {
                    Ok(()) => "recorded",
                    Err(e) => {
                        tracing::debug!(error = %e, "could not record an Event");
                        "failed"
                    }
                };
                metrics::counter!(EVENTS_TOTAL, "outcome" => outcome).increment(1);
            }
        });
        Publisher { tx }
    }

    /// Queues `notice`; dropped (and counted) if the queue is full.
    pub fn publish(&self, notice: Notice) {
        if self.tx.try_send(notice).is_err() {
            metrics::counter!(EVENTS_TOTAL, "outcome" => "dropped").increment(1);
        }
    }
}
