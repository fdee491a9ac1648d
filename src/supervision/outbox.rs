//! A child's way to talk to whoever supervises it without knowing who that is: the child
//! defines the events it emits, the parent converts them into its own messages. No
//! child module imports its parent's message type.

use std::sync::Arc;

use ractor::{ActorRef, Message};

/// A typed, cloneable sender of `E` to one actor whose messages can be made from `E`.
pub struct Outbox<E>(Arc<dyn Fn(E) -> bool + Send + Sync>);

impl<E> Clone for Outbox<E> {
    fn clone(&self) -> Self {
        Outbox(self.0.clone())
    }
}

impl<E: Send + 'static> Outbox<E> {
    /// Events go to `actor`, converted with `From`.
    pub fn to<M: Message + From<E>>(actor: &ActorRef<M>) -> Self {
        let actor = actor.clone();
        Outbox(Arc::new(move |e| actor.cast(M::from(e)).is_ok()))
    }

    /// Events go to `f` (tests, or a receiver that is not an actor).
    pub fn from_fn(f: impl Fn(E) -> bool + Send + Sync + 'static) -> Self {
        Outbox(Arc::new(f))
    }

    /// Sends; `false` if the receiver is gone.
    pub fn send(&self, event: E) -> bool {
        (self.0)(event)
    }
}

/// Forwards every item of `stream` into `actor`, wrapped by `wrap`, until the stream ends
/// or the actor is gone; abort the returned task to stop earlier.
pub fn forward<T, M>(
    mut stream: futures::stream::BoxStream<'static, T>,
    actor: ActorRef<M>,
    wrap: impl Fn(T) -> M + Send + 'static,
) -> tokio::task::JoinHandle<()>
where
    T: Send + 'static,
    M: Message,
{
    use futures::StreamExt;
    tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            if actor.cast(wrap(item)).is_err() {
                break;
            }
        }
    })
}
