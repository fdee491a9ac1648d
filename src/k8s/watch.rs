//! Watches as streams of [`Change`]s: the initial listing and every re-list become one
//! `Resync`; errors are counted and retried with backoff inside, so a stream never ends.

use futures::{StreamExt, stream::BoxStream};
use kube::Resource;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Config as WatcherConfig};
use serde::de::DeserializeOwned;

use super::cluster::Change;

/// Nodes per list page (see [`Cluster::nodes`](super::Cluster::nodes)).
pub(super) const NODE_PAGE_SIZE: u32 = 100;

/// Turns a watcher into a never-ending stream of [`Change`]s: the initial listing (and
/// every re-list after an error, a 410 or a dropped connection) becomes one `Resync`;
/// errors are counted and retried with kube-runtime's default backoff.
pub(super) fn changes<K, T>(
    api: Api<K>,
    resource: &'static str,
    map: fn(K) -> T,
) -> BoxStream<'static, Change<T>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    T: Send + 'static,
{
    watch_changes(api, resource, WatcherConfig::default(), map)
}

/// Like [`changes`], for the objects the field selector `fields` picks (e.g.
/// `metadata.name=<name>`: one object).
pub fn changes_of<K, T>(
    api: Api<K>,
    resource: &'static str,
    fields: &str,
    map: fn(K) -> T,
) -> BoxStream<'static, Change<T>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    T: Send + 'static,
{
    watch_changes(api, resource, WatcherConfig::default().fields(fields), map)
}

pub(super) fn watch_changes<K, T>(
    api: Api<K>,
    resource: &'static str,
    config: WatcherConfig,
    map: impl Fn(K) -> T + Send + 'static,
) -> BoxStream<'static, Change<T>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    T: Send + 'static,
{
    let mut initial: Vec<T> = Vec::new();
    watcher::watcher(api, config)
        .default_backoff()
        .filter_map(move |event| {
            let out = match event {
                Ok(watcher::Event::Init) => {
                    initial.clear();
                    None
                }
                Ok(watcher::Event::InitApply(obj)) => {
                    initial.push(map(obj));
                    None
                }
                Ok(watcher::Event::InitDone) => {
                    counted(resource, "resync");
                    Some(Change::Resync(std::mem::take(&mut initial)))
                }
                Ok(watcher::Event::Apply(obj)) => {
                    counted(resource, "applied");
                    Some(Change::Applied(map(obj)))
                }
                Ok(watcher::Event::Delete(obj)) => {
                    counted(resource, "deleted");
                    Some(Change::Deleted(map(obj)))
                }
                Err(e) => {
                    tracing::warn!(resource, error = %e, "watch failed; retrying with backoff");
                    metrics::counter!(crate::telemetry::metric::KUBE_WATCH_ERRORS_TOTAL, "resource" => resource)
                        .increment(1);
                    None
                }
            };
            futures::future::ready(out)
        })
        .boxed()
}

fn counted(resource: &'static str, event: &'static str) {
    metrics::counter!(crate::telemetry::metric::KUBE_WATCH_EVENTS_TOTAL, "resource" => resource, "event" => event)
        .increment(1);
}
