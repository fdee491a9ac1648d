//! The cleanup pool's messages and what it answers with.

use ractor::RpcReplyPort;

use super::worker::StepDone;
use crate::aws::{Ec2Error, Eni};
use crate::plan::orphans::DesiredSnapshot;
use crate::plan::teardown::{Step, TeardownError};

/// Why a cleanup did not delete its ENI, typed from the worker's step to the NodeENI that
/// asked (its Event and retry); [`TeardownError::label`] is the metric outcome.
pub type CleanupError = TeardownError<Ec2Error>;

/// Called once with the outcome of a cleanup.
pub type Tell = Box<dyn FnOnce(&str, Result<(), CleanupError>) + Send>;

/// Who waits on a cleanup, and how it is told the outcome (once).
pub struct CleanupNotify {
    /// The actor that asked: it is told once however often it asks.
    pub requester: ractor::ActorId,
    /// Called with the outcome.
    pub tell: Tell,
}

/// Messages of the pool.
#[allow(missing_docs)]
pub enum CleanupMsg {
    /// Detach and delete an ENI.
    Clean {
        eni_id: String,
        /// The NodeENI UID it was listed by, if any: an ENI that carries it is torn down
        /// even if its cluster identity tag differs ([`crate::aws::Ownership::managed_by`]).
        owner: Option<String>,
        /// Why (for logs).
        reason: &'static str,
        /// Told the outcome (a request repeated by the same requester replaces its
        /// listener: one answer per requester).
        notify: Option<CleanupNotify>,
    },
    /// A worker finished a step.
    Stepped(StepDone),
    /// Run a step again after a backoff.
    Requeue(String, Step),
    /// A batched inspection's answer: the IDs asked, and the ENIs found (an ID not
    /// among them is gone) or why none were.
    Inspected(Vec<String>, Result<Vec<Eni>, Ec2Error>),
    /// Time to check the detaching ENIs.
    Poll,
    /// What the check found: the IDs asked, and the ENIs found or why none were.
    Polled(Vec<String>, Result<Vec<Eni>, Ec2Error>),
    /// Sweep for orphans against the desired state.
    Sweep(DesiredSnapshot),
    /// The sweep's listing, or why it failed.
    SweepListed(DesiredSnapshot, Result<Vec<Eni>, Ec2Error>),
    /// Start a failed worker again.
    RestartWorker(usize),
    /// ENIs being cleaned up (tests, metrics).
    Pending(RpcReplyPort<usize>),
}

impl From<StepDone> for CleanupMsg {
    fn from(done: StepDone) -> Self {
        CleanupMsg::Stepped(done)
    }
}

/// Why the sweep leaves an ENI with this cluster's name alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// It carries another cluster identity: a cluster of the same name made it.
    OtherClusterId(String),
    /// It carries no cluster identity: made before identity tags existed, or tagged by
    /// hand. Its own NodeENI may still manage it.
    NoClusterId,
    /// Its NodeENI is gone and was never on the ledger: nothing shows this controller
    /// made it (its tags may be forged, or it predates the ledger).
    Unrecorded,
}

impl Why {
    /// Every value [`Why::label`] answers (the gauge starts each at zero).
    pub const LABELS: [&'static str; 3] = ["other_cluster_id", "no_cluster_id", "unrecorded"];

    /// A stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Why::OtherClusterId(_) => "other_cluster_id",
            Why::NoClusterId => "no_cluster_id",
            Why::Unrecorded => "unrecorded",
        }
    }
}

/// An ENI with this cluster's name that the sweep left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untouched {
    /// `eni-…`.
    pub eni_id: String,
    /// The NodeENI name it is tagged with.
    pub nodeeni_name: String,
    /// Why it is not this cluster's to delete.
    pub why: Why,
}

/// What a sweep found that its parent should report (Events on NodeENIs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepFindings {
    /// ENIs of namesake clusters, first seen in this sweep.
    pub namesakes: Vec<Untouched>,
    /// Gone NodeENIs' UIDs the ledger may forget: no ENI carried them in two sweeps a
    /// grace apart.
    pub forget: Vec<String>,
}
