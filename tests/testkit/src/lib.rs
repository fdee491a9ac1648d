//! Test-only parts of aws-multi-eni-controller, shared by its tests and benchmarks:
//! - [`fixtures`]: objects shaped like a real EKS cluster's, for measurements;
//! - [`moto`]: starts the moto EC2 server and builds networks in it;
//! - [`schema`]: admits custom resources against a CRD schema as kube-apiserver does
//!   (pruning, defaults, OpenAPI constraints, CEL rules);
//! - [`apiserver`]: an in-process HTTP stand-in for kube-apiserver for the `kube`
//!   client, kube-runtime's watcher and `kubectl`.

pub mod apiserver;
pub mod fixtures;
pub mod moto;
pub mod schema;
