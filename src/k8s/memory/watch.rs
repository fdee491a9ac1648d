//! Watches of the in-memory cluster: a resync, then every change broadcast.

use futures::{StreamExt, stream::BoxStream};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::k8s::cluster::Change;

/// Subscribes first, then snapshots, so no change between the two is lost; a lagging
/// subscriber is brought back in line with a new resync.
pub fn watch<T: Clone + Send + 'static>(
    rx: broadcast::Receiver<Change<T>>,
    snapshot: impl Fn() -> Vec<T> + Send + 'static,
) -> BoxStream<'static, Change<T>> {
    let first = Change::Resync(snapshot());
    let rest = BroadcastStream::new(rx).map(move |item| match item {
        Ok(change) => change,
        Err(BroadcastStreamRecvError::Lagged(_)) => Change::Resync(snapshot()),
    });
    futures::stream::once(async move { first })
        .chain(rest)
        .boxed()
}
