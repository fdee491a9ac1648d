//! What one slot costs in memory at 100,000 slots, and what dominates it: the actor
//! (ractor's cell and its tokio task), the actor's mailbox (ractor's ports: two unbounded
//! tokio channels, each allocating its first block of 32 messages when made, and two
//! oneshots), or what the controller remembers of the slot (the slot's state in its
//! task, the NodeENI's books of it: desired slots, reports, status lines, ENINode
//! entries).
//!
//! A counting global allocator measures three things in one process:
//! - N idle actors linked to one supervisor, as the NodeENI links its slots;
//! - N mailboxes alone (the same channels over the same message types);
//! - `simulate` at each node count in `SLOT_MEMORY_NODES` (default `50000,100000`; one
//!   NodeENI, one ENI per node, two zones), in an account with a hundred times AWS's
//!   buckets (told) so that the controller, not EC2, sets the pace: the heap the actor
//!   tree frees when it stops is what it held ([`simulate::heap`]). The simulated world,
//!   its call log and the metrics recorder are not in it.
//!
//! The growth between two node counts, divided by the slots added, is one slot's cost
//! without the tree's fixed part.
//!
//! `cargo bench --bench slot_memory`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // test code: a failed assumption is a failed test

use std::alloc::System;

use aws_multi_eni_controller::actors::slot::{SlotReport, SlotUpdate};
use aws_multi_eni_controller::config::SimulateArgs;
use aws_multi_eni_controller::k8s::status::SlotSummary;
use aws_multi_eni_controller::plan::slots::DesiredSlot;
use aws_multi_eni_controller::simulate;
use cap::Cap;
use clap::Parser;
use ractor::{Actor, ActorProcessingErr, ActorRef};

#[global_allocator]
static HEAP: Cap<System> = Cap::new(System, usize::MAX);

const ACTORS: usize = 100_000;
const MIB: f64 = 1024.0 * 1024.0;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: SimulateArgs,
}

struct Idle;

impl Actor for Idle {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

/// Heap bytes per idle actor linked to one supervisor.
async fn per_actor(n: usize) -> f64 {
    let (supervisor, _) = Actor::spawn(None, Idle, ()).await.expect("supervisor");
    let mut actors = Vec::with_capacity(n);
    let before = HEAP.allocated();
    for _ in 0..n {
        let (a, join) = Actor::spawn_linked(None, Idle, (), supervisor.get_cell())
            .await
            .expect("actor");
        actors.push((a, join));
    }
    let held = HEAP.allocated() - before;
    for (a, join) in actors {
        a.stop(None);
        join.await.expect("stops");
    }
    supervisor.stop(None);
    held as f64 / n as f64
}

/// Heap bytes per value `make` returns, `n` of them alive at once.
fn per_value<T>(n: usize, make: impl Fn() -> T) -> f64 {
    let mut values = Vec::with_capacity(n);
    let before = HEAP.allocated();
    for _ in 0..n {
        values.push(make());
    }
    let held = HEAP.allocated() - before;
    drop(values);
    held as f64 / n as f64
}

/// Heap bytes per ractor mailbox: its message and supervision channels and its signal
/// and stop oneshots.
fn per_mailbox(n: usize) -> f64 {
    use ractor::message::BoxedMessage;
    use tokio::sync::{mpsc, oneshot};
    per_value(n, || {
        (
            mpsc::unbounded_channel::<BoxedMessage>(),
            mpsc::unbounded_channel::<ractor::SupervisionEvent>(),
            oneshot::channel::<ractor::Signal>(),
            oneshot::channel::<String>(),
        )
    })
}

fn node_counts() -> Vec<usize> {
    std::env::var("SLOT_MEMORY_NODES")
        .unwrap_or_else(|_| "50000,100000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let actor = rt.block_on(per_actor(ACTORS));
    let mailbox = rt.block_on(async { per_mailbox(ACTORS) });
    drop(rt);

    println!(
        "| nodes | slots | converged | ratio to floor | controller heap MiB | bytes per slot | wall s | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut held = Vec::new();
    for nodes in node_counts() {
        let argv = [
            "simulate".to_string(),
            "--nodes".into(),
            nodes.to_string(),
            "--zones".into(),
            "2".into(),
            "--account".into(),
            "large-buckets".into(),
            "--told".into(),
            "--json".into(),
        ];
        let args = Cli::parse_from(argv).args;
        let probe = || HEAP.allocated();
        let r = simulate::run_with_heap(&args, Some(&probe)).expect("simulation runs");
        let h = r.controller_heap.expect("measured");
        println!(
            "| {nodes} | {} | {} | {:.3} | {:.1} | {:.0} | {:.1} | {:.0} |",
            h.slots,
            r.converged,
            r.ratio_to_floor,
            h.held_bytes as f64 / MIB,
            h.bytes_per_slot,
            r.wall_seconds,
            r.peak_rss_bytes as f64 / MIB
        );
        assert!(r.converged && r.duplicates == 0 && r.leaks == 0, "{r:?}");
        held.push(h);
    }
    let marginal = match held.as_slice() {
        [.., a, b] if b.slots > a.slots => {
            (b.held_bytes as f64 - a.held_bytes as f64) / (b.slots - a.slots) as f64
        }
        [.., b] => b.bytes_per_slot,
        [] => return,
    };
    let remembered = marginal - actor;
    println!();
    println!("| part of one slot | bytes | share |");
    println!("|---|---|---|");
    for (part, bytes) in [
        (
            "actor: ractor's cell, its task, the supervision link",
            actor - mailbox,
        ),
        (
            "mailbox: two unbounded channels' first blocks, two oneshots",
            mailbox,
        ),
        (
            "remembered: the slot's state, the NodeENI's books of it",
            remembered,
        ),
        ("one slot, as the controller grew", marginal),
    ] {
        println!("| {part} | {bytes:.0} | {:.0}% |", bytes * 100.0 / marginal);
    }
    println!();
    println!(
        "Inline sizes of what is remembered per slot (bytes, heap they point to not included): DesiredSlot {}, SlotReport {}, SlotSummary {}, SlotUpdate {}.",
        std::mem::size_of::<DesiredSlot>(),
        std::mem::size_of::<SlotReport>(),
        std::mem::size_of::<SlotSummary>(),
        std::mem::size_of::<SlotUpdate>(),
    );
}
