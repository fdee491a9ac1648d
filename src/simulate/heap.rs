//! What the controller itself holds at the end of a simulation, apart from the simulated
//! world in the same process: the live heap just before the actor tree stops, less the
//! live heap once it has stopped (everything the tree held is freed with it; the world,
//! its call log and the metrics recorder stay).
//!
//! The process's allocator has to be asked: a caller that counts allocations (the
//! `slot_memory` benchmark's global allocator) passes a probe; `eni-controller simulate`
//! has none and reports nothing.

use std::time::Duration;

use serde::Serialize;

use crate::actors::Controller;

/// Live heap bytes of the process, as its allocator counts them.
pub type HeapProbe<'a> = &'a dyn Fn() -> usize;

/// The controller's share of the heap at the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ControllerHeap {
    /// Bytes freed when the actor tree stopped.
    pub held_bytes: u64,
    /// Slots the tree kept (ENIs the world wanted at the end).
    pub slots: u64,
    /// `held_bytes / slots`.
    pub bytes_per_slot: f64,
}

/// Stops `controller`, measuring with `probe` (if any) what it held.
pub async fn stop_measured(
    controller: Controller,
    probe: Option<HeapProbe<'_>>,
    slots: u64,
) -> Option<ControllerHeap> {
    let before = probe.map(|p| p());
    controller.stop().await;
    let (probe, before) = probe.zip(before)?;
    // Tasks the tree leaves behind (timers, watch forwarders, the limiter's waiters) see
    // their channels closed and end on their next poll.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = before.saturating_sub(probe()) as u64;
    Some(ControllerHeap {
        held_bytes: held,
        slots,
        bytes_per_slot: held as f64 / slots.max(1) as f64,
    })
}
