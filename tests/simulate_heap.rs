//! `simulate::run_with_heap`: with a heap probe, the report says what the controller
//! held at the end apart from the simulated world; without one, nothing. A test binary
//! of its own: the counting allocator is process-wide, and no other test may allocate
//! while the controller's heap is measured.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::alloc::System;

use aws_multi_eni_controller::config::SimulateArgs;
use aws_multi_eni_controller::simulate;
use cap::Cap;
use clap::Parser;

#[global_allocator]
static HEAP: Cap<System> = Cap::new(System, usize::MAX);

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: SimulateArgs,
}

fn args(nodes: usize) -> SimulateArgs {
    let nodes = nodes.to_string();
    Cli::parse_from([
        "simulate",
        "--nodes",
        &nodes,
        "--account",
        "large-buckets",
        "--told",
        "--json",
    ])
    .args
}

#[test]
fn the_controllers_heap_is_measured_apart_from_the_world_and_grows_with_its_slots() {
    let plain = simulate::run(&args(20)).expect("runs");
    assert!(plain.converged, "{plain:?}");
    assert_eq!(plain.controller_heap, None, "no probe, no figure");

    let probe = || HEAP.allocated();
    let mut held = Vec::new();
    for nodes in [100, 400] {
        let r = simulate::run_with_heap(&args(nodes), Some(&probe)).expect("runs");
        assert!(r.converged && r.duplicates == 0 && r.leaks == 0, "{r:?}");
        let h = r.controller_heap.expect("measured");
        assert_eq!(h.slots, nodes as u64, "one ENI per node");
        assert!(h.held_bytes > 0, "{h:?}");
        assert_eq!(h.bytes_per_slot, h.held_bytes as f64 / h.slots as f64);
        held.push(h.held_bytes);
    }
    assert!(
        held[1] > held[0],
        "four times the slots, more held: {held:?}"
    );
}
