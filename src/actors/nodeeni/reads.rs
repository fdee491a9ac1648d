//! A NodeENI's reads of its nodes' instances (their VPC and zone), in a task off the
//! actor's handler, one round at a time; the instance batcher makes each round a few
//! `DescribeInstances` calls of up to 100 instances.

use ractor::ActorRef;

use super::msg::NodeEniMsg;
use super::nodes::Whereabouts;
use crate::actors::instances::InstanceBatcher;

/// Whether a round of reads is under way.
#[derive(Default)]
pub struct Reads {
    reading: bool,
}

impl Reads {
    /// Reads where `instances` are, unless a round is under way or there is nothing to
    /// read; the answer comes as [`NodeEniMsg::InstancesRead`].
    pub fn read(
        &mut self,
        me: &ActorRef<NodeEniMsg>,
        batcher: &InstanceBatcher,
        instances: Vec<String>,
    ) {
        if self.reading || instances.is_empty() {
            return;
        }
        self.reading = true;
        let (me, batcher) = (me.clone(), batcher.clone());
        tokio::spawn(async move {
            let asks = instances.into_iter().map(|id| {
                let batcher = batcher.clone();
                async move { (id.clone(), batcher.get(&id).await) }
            });
            let read = futures::future::join_all(asks)
                .await
                .into_iter()
                .filter_map(|(id, found)| match found {
                    Ok(Some(i)) if !i.vpc_id.is_empty() => Some((
                        id,
                        Whereabouts {
                            vpc: i.vpc_id,
                            zone: i.availability_zone,
                        },
                    )),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::debug!(instance = %id, error = %e, "could not read an instance yet");
                        None
                    }
                })
                .collect();
            let _ = me.cast(NodeEniMsg::InstancesRead(read));
        });
    }

    /// The round's answer arrived.
    pub fn done(&mut self) {
        self.reading = false;
    }
}
