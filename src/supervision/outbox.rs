//! A child's way to talk to whoever supervises it without knowing who that is: the child
//! defines the events it emits, the parent converts them into its own messages. No
//! child module imports its parent's message type.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// A forwarding task (see [`forward`]).
pub struct Forwarding {
    task: tokio::task::JoinHandle<()>,
    /// Set when stopped on purpose: no end notice then.
    quiet: Arc<AtomicBool>,
}

impl Forwarding {
    /// Stops forwarding without the end notice (whoever stops it knows, and may have
    /// started its replacement already).
    pub fn stop(&self) {
        self.quiet.store(true, Ordering::Release);
        self.task.abort();
    }

    /// The task, to wait for its end.
    pub fn into_task(self) -> tokio::task::JoinHandle<()> {
        self.task
    }
}

/// Forwards every item of `stream` into `actor`, wrapped by `wrap`, until the stream ends
/// or the actor is gone, or [`Forwarding::stop`]. When the task ends for any other
/// reason (the stream ended, or it panicked), `ended` is sent: a watch that stops must
/// never stop the work silently.
pub fn forward<T, M>(
    mut stream: futures::stream::BoxStream<'static, T>,
    actor: ActorRef<M>,
    wrap: impl Fn(T) -> M + Send + 'static,
    ended: M,
) -> Forwarding
where
    T: Send + 'static,
    M: Message,
{
    use futures::StreamExt;
    let quiet = Arc::new(AtomicBool::new(false));
    let guard = EndNotice(Some((actor.clone(), ended)), quiet.clone());
    let task = tokio::spawn(async move {
        let _guard = guard;
        while let Some(item) = stream.next().await {
            if actor.cast(wrap(item)).is_err() {
                break;
            }
        }
    });
    Forwarding { task, quiet }
}

/// Sends its message when dropped, unless told to keep quiet: at the end of a
/// forwarding task, also on a panic.
struct EndNotice<M: Message>(Option<(ActorRef<M>, M)>, Arc<AtomicBool>);

impl<M: Message> Drop for EndNotice<M> {
    fn drop(&mut self) {
        if self.1.load(Ordering::Acquire) {
            return;
        }
        if let Some((actor, msg)) = self.0.take() {
            let _ = actor.cast(msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
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
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (actor, _) = Actor::spawn(None, Collect(tx), ()).await.unwrap();
        let stream = futures::stream::iter([1u32, 2, 3])
            .map(|n| {
                assert!(n < 3, "a bug in the watch");
                n
            })
            .boxed();
        let task = forward(stream, actor.clone(), Some, None).into_task();
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

    /// A forwarding stopped on purpose (a watch replaced by a new listing) sends no end
    /// notice: its owner would take it for a watch that died and start another.
    #[tokio::test]
    async fn a_forwarding_stopped_on_purpose_sends_no_end_notice() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (actor, _) = Actor::spawn(None, Collect(tx), ()).await.unwrap();
        let stopped = forward(
            futures::stream::pending().boxed(),
            actor.clone(),
            Some,
            None,
        );
        let ended = forward(
            futures::stream::iter([7u32]).boxed(),
            actor.clone(),
            Some,
            None,
        );
        stopped.stop();
        let _ = stopped.into_task().await;
        let _ = ended.into_task().await;
        // Both notices (if any) were cast when the tasks ended: a marker cast now comes
        // after them.
        actor.cast(Some(99)).unwrap();
        let mut got = Vec::new();
        while let Some(m) = rx.recv().await {
            if m == Some(99) {
                break;
            }
            got.push(m);
        }
        assert_eq!(
            got,
            vec![Some(7), None],
            "one end notice: the stream that ended"
        );
        actor.stop(None);
    }
}
