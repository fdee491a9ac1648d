//! Coalesces the slots' instance lookups into batched `DescribeInstances` calls: every
//! slot placing an ENI needs its instance's interfaces, and a rollout to thousands of
//! nodes would otherwise spend one call per slot from a bucket refilling at 20/s.
//! Requests arriving within a short window share one call (up to 100 instances).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::aws::{Ec2, Ec2Error, Instance};

const MAX_BATCH: usize = 100;

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
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
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
                answer(&ec2, batch).await;
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
        // One unknown ID fails the whole call: ask for each on its own.
        Err(e) if e.is_not_found() && ids.len() > 1 => {
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
