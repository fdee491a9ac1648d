//! Test-only parts of aws-multi-eni-controller, shared by its tests and benchmarks:
//! - [`cluster`]: a real etcd + kube-apiserver (built by `scripts/kube-bins.sh`), admin and
//!   ServiceAccount clients, and its own `kubectl`;
//! - [`fixtures`]: objects shaped like a real EKS cluster's, for measurements;
//! - [`http`]: a plain GET of the binaries' `/metrics` and probes;
//! - [`moto`]: starts the moto EC2 server and builds networks in it;
//! - [`ports`]: TCP ports for the processes tests start, outside the ephemeral range;
//! - [`prometheus`]: a real Prometheus server scraping the binaries, read through its API;
//! - [`throttled`]: moto behind a layer enforcing EC2's token buckets;

pub mod cluster;
pub mod fixtures;
pub mod http;
pub mod moto;
pub mod ports;
pub mod prometheus;
pub mod throttled;
