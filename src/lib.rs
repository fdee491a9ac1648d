//! # aws-multi-eni-controller
//!
//! A Kubernetes controller that gives nodes extra AWS Elastic Network Interfaces. A
//! cluster-scoped `NodeENI` resource names a node selector, subnets and security groups;
//! every matching node gets one ENI per subnet, attached at consecutive device indices,
//! and loses them when it stops matching or the NodeENI is deleted.
//!
//! It never leaks or duplicates an ENI, even when it crashes between two EC2 calls:
//! creates carry a deterministic ClientToken, every ENI is tagged with its owner at
//! creation, existing ENIs are adopted before anything is created, and orphans are swept.
//!
//! ## Modules
//! - [`aws`]: the EC2 port (a small trait), its `aws-sdk-ec2` adapter, the in-process
//!   EC2 simulator, ownership tags and ClientTokens, cached name resolution.
//! - [`k8s`]: the `NodeENI` custom resource and the cluster side.
//! - [`plan`]: pure decisions (desired slots, device indices, the slot lifecycle).
//! - [`actors`]: the supervised actor tree that joins the two.
//! - [`agent`]: the node agent (`eni-agent`): links configured over netlink by MAC.
//! - [`simulate`]: the embedded simulation (`eni-controller simulate`) and benchmark.
//! - [`clock`]: token buckets on tokio's clock, shared by the simulator and the limiter.
//! - [`supervision`], [`telemetry`], [`shutdown`], [`config`]: what both binaries share.
//!
//! `aws` never imports `k8s` and `k8s` never imports `aws`; only `actors` joins them.
//! The node agent uses neither `aws` nor `actors`: without the default `controller`
//! feature the crate builds the agent alone, without aws-sdk-ec2 (the test command checks
//! that it does).

// Lints: `[lints]` in Cargo.toml (no unwrap, expect or panic outside tests; docs on
// every public item).

#[cfg(feature = "controller")]
pub mod actors;
pub mod agent;
#[cfg(feature = "controller")]
pub mod aws;
#[cfg(feature = "controller")]
pub mod clock;
pub mod config;
#[cfg(feature = "controller")]
pub mod fence;
pub mod k8s;
#[cfg(feature = "controller")]
pub mod plan;
#[cfg(feature = "controller")]
pub mod run;
pub mod shutdown;
#[cfg(feature = "controller")]
pub mod simulate;
pub mod supervision;
pub mod telemetry;
