//! The limiter's messages, its configuration, and the handle callers wait on.

use ractor::RpcReplyPort;
use tokio::time::Instant;

use crate::aws::{BucketTable, Ec2Action};
use crate::plan::pacing::{Answer, Grant};
use crate::supervision::Handle;

/// Who is waiting: served in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Detaching and deleting ENIs nobody wants (frees capacity, ends leaks).
    Teardown = 0,
    /// Creating and attaching ENIs users asked for.
    Rollout = 1,
    /// Orphan sweeps and drift checks.
    Background = 2,
}

/// Messages of the limiter.
#[allow(missing_docs)]
pub enum LimiterMsg {
    /// Wait for a token of `action`; the reply is the grant.
    Acquire {
        /// The EC2 action about to be called.
        action: Ec2Action,
        /// Queue position.
        priority: Priority,
        /// Answered when the call may go.
        reply: RpcReplyPort<Permit>,
    },
    /// How a granted call ended.
    Outcome {
        action: Ec2Action,
        /// The grant it went with.
        permit: Permit,
        answer: Answer,
    },
    /// Internal: tokens may be available for `action`.
    Wake(Ec2Action),
}

/// A call's leave to go: how and when it was granted (handed back with its outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    /// Within the believed bucket, or probing beyond it.
    pub grant: Grant,
    /// When it was granted.
    pub at: Instant,
}

/// How EC2 calls are paced: this project's way, or a peer's (for side-by-side
/// comparisons in `eni-controller simulate`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(missing_docs)]
pub enum LimiterStrategy {
    /// One learned pace per EC2 action (this project: [`crate::plan::pacing`]).
    PerAction,
    /// One bucket shared by every call, fixed (as Cilium's operator does).
    Global {
        /// Refill per second.
        qps: f64,
        burst: u32,
    },
    /// No client-side limit: throttles are only retried with backoff (as the Go
    /// controller does).
    Unlimited,
}

/// How the limiter is configured.
#[derive(Debug, Clone)]
pub struct LimiterArgs {
    /// Which pacing.
    pub strategy: LimiterStrategy,
    /// Per-action buckets (AWS's defaults unless the account has other limits).
    pub buckets: BucketTable,
    /// Fraction of each bucket's capacity left unused as a safety margin (0.0 to 0.5).
    pub reserve: f64,
}

/// A restart-proof handle to the limiter.
pub type LimiterHandle = Handle<LimiterMsg>;

impl Handle<LimiterMsg> {
    /// Waits for leave to call; `None` if the limiter is gone (the caller should retry
    /// later).
    pub async fn acquire(&self, action: Ec2Action, priority: Priority) -> Option<Permit> {
        match self
            .current()
            .call(
                |reply| LimiterMsg::Acquire {
                    action,
                    priority,
                    reply,
                },
                None,
            )
            .await
        {
            Ok(ractor::rpc::CallResult::Success(permit)) => Some(permit),
            _ => None,
        }
    }

    /// Reports how a granted call ended.
    pub fn outcome(&self, action: Ec2Action, permit: Permit, answer: Answer) {
        self.cast(LimiterMsg::Outcome {
            action,
            permit,
            answer,
        });
    }
}
