//! How many NodeENI actors this controller runs. Their status rounds share one budget of
//! work (a round walks every slot of its NodeENI), so each spaces its rounds by its
//! share of it: [`crate::plan::nodeeni::status_interval`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The count of NodeENI actors, shared by all of them.
#[derive(Clone, Default)]
pub struct NodeEniCensus(Arc<AtomicUsize>);

/// One NodeENI actor's place in the count, held for the actor's life: it leaves the count
/// when dropped, with the actor's state, however the actor ends (stopped or failed).
pub struct CensusSeat(Arc<AtomicUsize>);

impl NodeEniCensus {
    /// Counts one more NodeENI actor until the seat is dropped.
    pub fn enter(&self) -> CensusSeat {
        self.0.fetch_add(1, Ordering::Relaxed);
        CensusSeat(self.0.clone())
    }
}

impl CensusSeat {
    /// How many NodeENI actors run now, this one included.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed).max(1)
    }
}

impl Drop for CensusSeat {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_count_the_actors_until_they_are_dropped() {
        let census = NodeEniCensus::default();
        let a = census.enter();
        assert_eq!(a.count(), 1);
        let b = census.clone().enter();
        assert_eq!((a.count(), b.count()), (2, 2));
        drop(b);
        assert_eq!(a.count(), 1);
    }
}
