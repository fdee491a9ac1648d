//! A NodeENI actor's two timers: its next tick (resolve, sweep, reconcile; the earliest
//! asked for wins) and its debounced status write, spaced by the NodeENI's share of the
//! controller's round work (its seat in the [`super::census`]).

use std::time::Duration;

use ractor::ActorRef;
use tokio::time::Instant;

use super::census::CensusSeat;
use super::msg::NodeEniMsg;
use crate::plan::nodeeni::status_interval;

/// When the next `Tick` and `Flush` are due.
pub struct Timers {
    tick_at: Option<Instant>,
    flush_scheduled: bool,
    debounce: Duration,
    seat: CensusSeat,
}

impl Timers {
    /// No timer set; status writes are batched over `debounce` at least; `seat` counts
    /// this NodeENI among those sharing the round budget.
    pub fn new(debounce: Duration, seat: CensusSeat) -> Self {
        Timers {
            tick_at: None,
            flush_scheduled: false,
            debounce,
            seat,
        }
    }

    /// Schedules a `Tick` after `delay`, unless one is due sooner.
    pub fn tick_in(&mut self, me: &ActorRef<NodeEniMsg>, delay: Duration) {
        let at = Instant::now() + delay;
        if self.tick_at.is_some_and(|t| t <= at) {
            return;
        }
        self.tick_at = Some(at);
        me.send_after(delay, || NodeEniMsg::Tick);
    }

    /// The scheduled tick arrived.
    pub fn ticked(&mut self) {
        self.tick_at = None;
    }

    /// Schedules a status write after the debounce (spaced out for a NodeENI of many
    /// `slots` among many NodeENIs: [`status_interval`]), unless one is scheduled.
    pub fn dirty(&mut self, me: &ActorRef<NodeEniMsg>, slots: usize) {
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            let wait = status_interval(self.debounce, slots, self.seat.count());
            me.send_after(wait, || NodeEniMsg::Flush);
        }
    }

    /// The scheduled write arrived.
    pub fn flushed(&mut self) {
        self.flush_scheduled = false;
    }

    /// A write failed: try again after `wait`.
    pub fn flush_again(&mut self, me: &ActorRef<NodeEniMsg>, wait: Duration) {
        self.flush_scheduled = true;
        me.send_after(wait, || NodeEniMsg::Flush);
    }

    /// The debounce of status writes (the base of their retry backoff).
    pub fn debounce(&self) -> Duration {
        self.debounce
    }
}
