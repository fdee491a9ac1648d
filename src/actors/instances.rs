//! Coalesces the slots' instance lookups into batched `DescribeInstances` calls: every
//! slot placing an ENI needs its instance's interfaces, and a rollout to thousands of
//! nodes would otherwise spend one call per slot from a bucket refilling at 20/s.
//! Requests arriving within a short window share one call (up to 100 instances); up to
//! [`MAX_IN_FLIGHT`] calls run at once (each still waits for its token), so a large
//! rollout's lookups are not queued behind one another's latency.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::aws::{Ec2, Ec2Error, Instance};

const MAX_BATCH: usize = 100;
/// Batches looked up at once; while all are busy, new requests gather into fuller batches.
pub const MAX_IN_FLIGHT: usize = 16;

type Reply = oneshot::Sender<Result<Option<Instance>, Ec2Error>>;

/// A handle to the batching task; cheap to clone. The task ends with the last handle.
#[derive(Clone)]
pub struct InstanceBatcher {
    tx: mpsc::UnboundedSender<(String, Reply)>,
}

impl InstanceBatcher {
    /// Starts the batching task over `ec2`, gathering requests for `window`.
    pub fn spawn(ec2: impl Ec2, window: Duration) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, Reply)>();
        let ec2 = Arc::new(ec2);
        let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let mut batch = vec![first];
                let deadline = tokio::time::sleep(window);
                tokio::pin!(deadline);
                while batch.len() < MAX_BATCH {
                    tokio::select! {
                        _ = &mut deadline => break,
                        next = rx.recv() => match next {
                            Some(r) => batch.push(r),
                            None => break,
                        },
                    }
                }
                let ec2 = ec2.clone();
                tokio::spawn(async move {
                    answer(&*ec2, batch).await;
                    drop(slot);
                });
            }
        });
        InstanceBatcher { tx }
    }

    /// The instance, `None` if EC2 does not know it (terminated long ago, or never).
    pub async fn get(&self, instance_id: &str) -> Result<Option<Instance>, Ec2Error> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((instance_id.to_string(), reply))
            .map_err(|_| Ec2Error::transient("instance lookups are shutting down"))?;
        rx.await
            .unwrap_or_else(|_| Err(Ec2Error::transient("instance lookup dropped")))
    }
}

async fn answer(ec2: &impl Ec2, batch: Vec<(String, Reply)>) {
    let mut ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    ids.dedup();
    match ec2.describe_instances(&ids).await {
        Ok(found) => {
            let by_id: HashMap<String, Instance> =
                found.into_iter().map(|i| (i.id.clone(), i)).collect();
            for (id, reply) in batch {
                let _ = reply.send(Ok(by_id.get(&id).cloned()));
            }
        }
        // One unknown or malformed ID fails the whole call: ask for each on its own.
        Err(e) if (e.is_not_found() || e.label() == "invalid_parameter") && ids.len() > 1 => {
            let mut single: HashMap<String, Result<Option<Instance>, Ec2Error>> = HashMap::new();
            for id in ids {
                let r = match ec2.describe_instances(std::slice::from_ref(&id)).await {
                    Ok(mut v) => Ok(v.pop()),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e),
                };
                single.insert(id, r);
            }
            for (id, reply) in batch {
                let r = single.get(&id).cloned().unwrap_or(Ok(None));
                let _ = reply.send(r);
            }
        }
        Err(e) if e.is_not_found() => {
            for (_, reply) in batch {
                let _ = reply.send(Ok(None));
            }
        }
        Err(e) => {
            for (_, reply) in batch {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests;
