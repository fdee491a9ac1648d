//! The actor tree end to end on the in-memory cluster and the EC2 simulator, under
//! tokio's paused clock: rollouts, label flips, spec changes, node churn, deletion,
//! crash safety, supervision, foreign ENIs and orphans.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

mod harness;

mod addresses;
mod churn;
mod conntrack;
mod crash;
mod dpdk;
mod ena;
mod holes;
mod ipv6;
mod lifecycle;
mod lookups;
mod migration;
mod prefixes;
mod pressure;
mod readiness;
mod safety;
mod selection;
mod teardown_crash;
mod trust;
