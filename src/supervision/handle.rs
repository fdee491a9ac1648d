//! A handle to a supervised actor that survives the actor's restarts: the supervisor
//! swaps the new reference in, and every holder of the handle reaches the new actor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use ractor::{ActorRef, Message};

/// A restart-proof reference to an actor.
pub struct Handle<M: Message>(Arc<(RwLock<ActorRef<M>>, AtomicU64)>);

impl<M: Message> Clone for Handle<M> {
    fn clone(&self) -> Self {
        Handle(self.0.clone())
    }
}

impl<M: Message> Handle<M> {
    /// Wraps a running actor.
    pub fn new(actor: ActorRef<M>) -> Self {
        Handle(Arc::new((RwLock::new(actor), AtomicU64::new(0))))
    }

    /// Points every holder at a restarted actor.
    pub fn replace(&self, actor: ActorRef<M>) {
        *self.0.0.write().unwrap_or_else(|p| p.into_inner()) = actor;
        self.0.1.fetch_add(1, Ordering::AcqRel);
    }

    /// The current actor.
    pub fn current(&self) -> ActorRef<M> {
        self.0.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many times the actor was replaced: what was sent to an earlier generation
    /// died with it.
    pub fn generation(&self) -> u64 {
        self.0.1.load(Ordering::Acquire)
    }

    /// Sends without waiting; `false` if the actor is gone (restarting).
    pub fn cast(&self, msg: M) -> bool {
        self.current().cast(msg).is_ok()
    }
}
