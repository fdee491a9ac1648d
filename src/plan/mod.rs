//! Pure decisions, no async and no I/O: which slots should exist, where their ENIs go,
//! and the next step of each slot's lifecycle. Every tricky rule (device indices, zones,
//! crash resume) is a table test here. Imports neither `aws` nor `k8s`: the actors
//! translate to and from plain values.

pub mod device_index;
pub mod lifecycle;
pub mod orphans;
pub mod selector;
pub mod slots;
