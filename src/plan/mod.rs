//! The whole life of an ENI, as pure decisions: no async, no I/O, time passed in.
//! Imports neither `aws` nor `k8s`; the actors translate to and from these plain values,
//! execute what is decided and bring back the answers. Every rule has a table test.
//!
//! ## The life of an ENI
//!
//! 1. **Wanted.** A NodeENI's selector matches a node ([`selector::matches`]); the
//!    node gets one slot per subnet in its zone, at consecutive device indices from
//!    `deviceIndex` ([`slots::plan_slots`]). The NodeENI compares the plan with its
//!    running slots ([`nodeeni::slot_changes`]) and starts, updates or retires slot
//!    actors; a new slot starts from what the last sweep found for it
//!    ([`nodeeni::starting_knowledge`]) and the incarnation a retired one left
//!    ([`nodeeni::starting_incarnation`]).
//! 2. **Created and attached.** Each step of a slot is [`lifecycle::decide`]: from what
//!    EC2 shows and what the slot remembers, the one next action: adopt a Go-controller
//!    ENI, create with the incarnation's ClientToken (only once a free device index is
//!    known: [`device_index::place`]), attach, fix deleteOnTermination, security groups
//!    or the index, wait, or report a blocker; surplus and stale ENIs are discarded.
//!    EC2's answer to the action, classed by [`refusal::Refused`], goes to
//!    [`slot_view::SlotView::apply`], which updates what the slot knows (the ENI it made,
//!    placement, instance gone, a reused ClientToken, an invisible ENI's grace) and
//!    says when to step again.
//! 3. **Unwanted.** A slot that leaves the plan is retired ([`nodeeni::retire`]): its
//!    ENI goes to the cleanup pool and its key's next ClientToken moves on. A sweep's
//!    ENIs that no slot wants are reaped ([`nodeeni::reap`]); owned ENIs of NodeENIs or
//!    slots nobody has any more are orphans ([`orphans::is_orphan`]), deleted after a
//!    grace period ([`orphans::due_for_deletion`]).
//! 4. **Torn down.** [`teardown::inspect`] picks the call an ENI needs (detach or
//!    delete, or nothing for one that is gone or not this cluster's);
//!    [`teardown::after_call`] reads the answer, [`teardown::on_step`] retries with
//!    backoff or gives up, and [`teardown::on_poll`] deletes a detached ENI, forces a
//!    stuck detach once, or gives up.
//! 5. **Gone.** A deleted NodeENI keeps its finalizer until its ENIs were listed and no
//!    teardown is pending ([`nodeeni::finalizer_may_go`]).
//!
//! Beside the life of each ENI, a NodeENI lists its attached ENIs on each node's
//! ENINode, where that node's agent reads them; [`interfaces::writes`] says which nodes'
//! entries to write (and a node it no longer wants anything on is written empty).

pub mod attributes;
pub mod breaker;
pub mod device_index;
pub mod dpdk;
pub mod election;
pub mod extra_tags;
pub mod interface_limits;
pub mod interfaces;
pub mod lifecycle;
pub mod nodeeni;
pub mod orphans;
pub mod outcome;
pub mod pacing;
pub mod readiness;
pub mod refusal;
pub mod selector;
pub mod slot_view;
pub mod slots;
pub mod teardown;

#[cfg(test)]
pub(crate) mod fixtures;
