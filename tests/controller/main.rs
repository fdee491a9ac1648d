//! The actor tree end to end on the in-memory cluster and the EC2 simulator, under
//! tokio's paused clock: rollouts, label flips, spec changes, node churn, deletion,
//! crash safety, supervision, foreign ENIs and orphans.

mod harness;

mod crash;
mod lifecycle;
mod safety;
