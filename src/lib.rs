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
//!
//! `aws` never imports `k8s` and `k8s` never imports `aws`; only `actors` joins them.

pub mod actors;
pub mod agent;
pub mod aws;
pub mod clock;
pub mod config;
pub mod k8s;
pub mod plan;
pub mod run;
pub mod simulate;
pub mod telemetry;
