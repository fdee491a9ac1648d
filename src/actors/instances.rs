//! Coalesces the slots' instance lookups into batched `DescribeInstances` calls: every
//! slot placing an ENI needs its instance's interfaces, and a rollout to thousands of
//! nodes would otherwise spend one call per slot from a bucket refilling at 20/s.
//! Requests arriving within a short window share one call (up to 100 instances); up to
//! [`MAX_IN_FLIGHT`] calls run at once (each still waits for its token), so a large
//! rollout's lookups are not queued behind one another's latency. An instance EC2 does
//! not know costs its batch a call or two (the IDs EC2's answer names are left out, or
//! the batch is halved), and is then answered as unknown for a while without asking.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

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
        let unknown: Unknown = Arc::default();
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
                let (ec2, unknown) = (ec2.clone(), unknown.clone());
                tokio::spawn(async move {
                    answer(&*ec2, batch, &unknown).await;
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

/// How long an instance EC2 does not know is answered as unknown without asking again
/// (a Node naming an instance terminated long ago, whose slot looks every few seconds,
/// would otherwise fail a batch each time).
const UNKNOWN_FOR: Duration = Duration::from_secs(30);

/// The instances EC2 did not know, and when it said so.
type Unknown = Arc<Mutex<HashMap<String, Instant>>>;

async fn answer(ec2: &impl Ec2, batch: Vec<(String, Reply)>, unknown: &Unknown) {
    let now = Instant::now();
    let known_unknown = |id: &str| {
        let u = unknown.lock().unwrap_or_else(|p| p.into_inner());
        u.get(id)
            .is_some_and(|at| now.duration_since(*at) < UNKNOWN_FOR)
    };
    let mut ids: Vec<String> = batch
        .iter()
        .map(|(id, _)| id.clone())
        .filter(|id| !known_unknown(id))
        .collect();
    ids.sort();
    ids.dedup();
    let answers = read(ec2, ids).await;
    let mut u = unknown.lock().unwrap_or_else(|p| p.into_inner());
    u.retain(|_, at| now.duration_since(*at) < UNKNOWN_FOR);
    for (id, reply) in batch {
        let r = match answers.get(&id) {
            Some(r) => r.clone(),
            // Left out: not asked (known unknown) or not found.
            None => Ok(None),
        };
        if matches!(r, Ok(None)) {
            u.entry(id).or_insert(now);
        }
        let _ = reply.send(r);
    }
}

/// Reads `ids`: one call when EC2 knows them all; when it does not know (or cannot
/// parse) some, the IDs its message names are left out and the rest read again, and
/// a batch whose message names none is halved, so one unknown ID costs a call or two,
/// not one per instance of its batch. Instances not found are absent from the answer.
async fn read(
    ec2: &impl Ec2,
    ids: Vec<String>,
) -> HashMap<String, Result<Option<Instance>, Ec2Error>> {
    let mut out = HashMap::new();
    let mut todo = vec![ids];
    while let Some(batch) = todo.pop() {
        if batch.is_empty() {
            continue;
        }
        match ec2.describe_instances(&batch).await {
            Ok(found) => {
                for i in found {
                    out.insert(i.id.clone(), Ok(Some(i)));
                }
            }
            Err(e) if e.is_not_found() || e.label() == "invalid_parameter" => {
                if batch.len() == 1 {
                    let single = if e.is_not_found() { Ok(None) } else { Err(e) };
                    out.insert(batch[0].clone(), single);
                    continue;
                }
                let message = e.to_string();
                let named = crate::aws::by_id::ids_in(&message, "i-");
                if !e.is_not_found() {
                    for id in batch.iter().filter(|id| named.contains(&id.as_str())) {
                        out.insert(id.clone(), Err(e.clone()));
                    }
                }
                todo.extend(crate::aws::by_id::without_named(batch, &message, "i-"));
            }
            Err(e) => {
                for id in batch {
                    out.insert(id, Err(e.clone()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
