//! The controller's actor tree (ractor):
//!
//! ```text
//! root ─┬─ limiter                 every EC2 call waits here for its action's token
//!       ├─ cleanup pool ── workers  detach + delete, de-duplicated; orphan sweep
//!       └─ NodeENI actor (one per NodeENI) ── slot actor (one per slot)
//! ```
//!
//! A folder or file per actor (`root`, `nodeeni`, `slot`, `cleanup`, `limiter`), each
//! with its messages in a leaf `msg` module. A child reports to its parent through an
//! [`crate::supervision::Outbox`] of its own event type, so no child imports its parent.
//! The rules every actor applies are in [`crate::plan`].
//!
//! Watches feed the root; the root routes to NodeENI actors; NodeENI actors plan slots
//! ([`crate::plan`]) and run a child per slot, which drives its lifecycle against the
//! rate-limited EC2 port. Every supervisor restarts failed children with backoff under
//! a budget ([`crate::supervision`]); a failure stays local to the failed actor.

pub mod cleanup;
pub mod instances;
pub mod limiter;
pub mod nodeeni;
pub mod readiness;
mod refusal;
pub mod root;
pub mod settings;
pub mod slot;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ractor::{Actor, ActorRef, SpawnErr};
use tokio::task::JoinHandle;

use crate::aws::Ec2;
use crate::k8s::Cluster;
pub use root::{RootActor, RootArgs, RootMsg};
pub use settings::ControllerSettings;

/// A running actor tree.
pub struct Controller {
    root: ActorRef<RootMsg>,
    join: JoinHandle<()>,
    synced: Arc<AtomicBool>,
    ended: bool,
}

impl Controller {
    /// Starts the tree against `cluster` and `ec2`; `synced` turns true once both watches
    /// delivered their first listing (and false when the tree stops).
    pub async fn start(
        cluster: Arc<dyn Cluster>,
        ec2: Arc<dyn Ec2>,
        settings: ControllerSettings,
        synced: Arc<AtomicBool>,
    ) -> Result<Self, SpawnErr> {
        let args = RootArgs {
            cluster,
            ec2,
            settings,
            synced: synced.clone(),
        };
        let (root, join) = Actor::spawn(None, RootActor, args).await?;
        Ok(Controller {
            root,
            join,
            synced,
            ended: false,
        })
    }

    /// Whether both watches delivered their first listing (readiness).
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Resolves when the tree has ended without being asked to (the root failed): the
    /// caller must not go on as if it were working.
    pub async fn ended(&mut self) {
        if !self.ended {
            let _ = (&mut self.join).await;
            self.ended = true;
            // A killed root runs no `post_stop`: readiness must not outlive it.
            self.synced.store(false, Ordering::Release);
        }
    }

    /// Stops gracefully: every actor finishes its current step, children first.
    pub async fn stop(self) {
        self.root.stop(Some("shutting down".into()));
        if !self.ended {
            let _ = self.join.await;
        }
    }

    /// Stops gracefully, but no longer than `grace`: then abruptly.
    pub async fn shutdown(self, grace: std::time::Duration) {
        self.root.stop(Some("shutting down".into()));
        let Controller {
            root,
            mut join,
            ended,
            ..
        } = self;
        if !ended && tokio::time::timeout(grace, &mut join).await.is_err() {
            root.kill();
            let _ = join.await;
        }
    }

    /// Stops abruptly, as a crash would: in-flight calls are abandoned mid-way.
    pub async fn kill(self) {
        self.root.kill();
        if !self.ended {
            let _ = self.join.await;
        }
    }

    /// The root actor (tests).
    pub fn root(&self) -> &ActorRef<RootMsg> {
        &self.root
    }
}
