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

    /// Sends; `false` if the receiver is gone.
    pub fn send(&self, event: E) -> bool {
        (self.0)(event)
    }
}

/// Forwards every item of `stream` into `actor`, wrapped by `wrap`, until the stream ends
/// or the actor is gone; abort the returned task to stop earlier. When the task ends for
/// any reason (the stream ended, or it panicked), `ended` is sent: a watch that stops
/// must never stop the work silently.
pub fn forward<T, M>(
    mut stream: futures::stream::BoxStream<'static, T>,
    actor: ActorRef<M>,
    wrap: impl Fn(T) -> M + Send + 'static,
    ended: M,
) -> tokio::task::JoinHandle<()>
where
    T: Send + 'static,
    M: Message,
{
    use futures::StreamExt;
    let guard = EndNotice(Some((actor.clone(), ended)));
    tokio::spawn(async move {
        let _guard = guard;
        while let Some(item) = stream.next().await {
            if actor.cast(wrap(item)).is_err() {
                break;
            }
        }
    })
}

/// Sends its message when dropped: at the end of a forwarding task, also on a panic.
struct EndNotice<M: Message>(Option<(ActorRef<M>, M)>);

impl<M: Message> Drop for EndNotice<M> {
    fn drop(&mut self) {
        if let Some((actor, msg)) = self.0.take() {
            let _ = actor.cast(msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::{Actor, ActorProcessingErr};

    struct Collect(tokio::sync::mpsc::UnboundedSender<Option<u32>>);

    impl Actor for Collect {
        type Msg = Option<u32>;
        type State = ();
        type Arguments = ();

        async fn pre_start(
            &self,
            _: ActorRef<Option<u32>>,
            _: (),
        ) -> Result<(), ActorProcessingErr> {
            Ok(())
        }

        async fn handle(
            &self,
            _: ActorRef<Option<u32>>,
            msg: Option<u32>,
            _: &mut (),
        ) -> Result<(), ActorProcessingErr> {
            let _ = self.0.send(msg);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_stream_that_panics_ends_with_the_end_notice() {
        use futures::StreamExt;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (actor, _) = Actor::spawn(None, Collect(tx), ()).await.unwrap();
        let stream = futures::stream::iter([1u32, 2, 3])
            .map(|n| {
                assert!(n < 3, "a bug in the watch");
                n
            })
            .boxed();
        let task = forward(stream, actor.clone(), Some, None);
        assert!(task.await.is_err(), "the task panicked");
        let mut got = Vec::new();
        while let Some(m) = rx.recv().await {
            got.push(m);
            if m.is_none() {
                break;
            }
        }
        assert_eq!(got, vec![Some(1), Some(2), None]);
        actor.stop(None);
    }
}
