//! What a NodeENI writes to the API server: its status, and its entries on the nodes'
//! ENINodes, debounced and retried with backoff.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use ractor::ActorRef;

use super::NodeEniState;
use crate::actors::nodeeni::interfaces;
use crate::actors::nodeeni::msg::{InterfacesSeen, NodeEniMsg};
use crate::k8s::status::build_status;

impl NodeEniState {
    /// Builds the status and writes it if it differs from the last one written; `false`
    /// if the write failed (the caller retries).
    pub(super) async fn write_status(&mut self) -> bool {
        let slots = self.slots.summaries(self.obj.spec.mtu, self.nodes.as_ref());
        let mut problems = self.resolved.problems.clone();
        if let Some(msg) = self.cleanups.failing() {
            problems.push(("ENIDeletionFailed".into(), msg));
        }
        if self.deleting() {
            let pending = self.cleanups.pending();
            let msg = format!("{pending} ENIs still being detached and deleted");
            problems.insert(0, ("Deleting".into(), msg));
        }
        let now = Time(jiff::Timestamp::now());
        let skipped = self.skips.messages();
        let status = build_status(
            self.generation(),
            &slots,
            &problems,
            &skipped,
            self.written.last(),
            now,
        );
        let name = self.name();
        let status_ok = self
            .written
            .write(&*self.deps.cluster, &name, status, &slots)
            .await;
        let desired = interfaces::desired(&name, &slots);
        let nodes = &self.nodes;
        let entries_ok = self
            .interfaces
            .write(&*self.deps.cluster, &name, &desired, |n| {
                nodes.as_ref()?.get(n).map(|v| v.uid.clone())
            })
            .await;
        status_ok && entries_ok
    }

    /// What the nodes' ENINodes show of this NodeENI: written again where that differs
    /// from what its slots say.
    pub(in crate::actors::nodeeni) fn on_interfaces(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        seen: InterfacesSeen,
    ) {
        match seen {
            InterfacesSeen::All(all) => self.interfaces.seen_all(all),
            InterfacesSeen::Node(node, entries) => self.interfaces.seen(node, entries),
        }
        self.dirty(myself);
    }

    /// The scheduled status write.
    pub(in crate::actors::nodeeni) async fn on_flush(&mut self, myself: &ActorRef<NodeEniMsg>) {
        self.flush_scheduled = false;
        if !self.write_status().await {
            let base = self.deps.status_debounce;
            let wait = self
                .written
                .retry_in(base)
                .max(self.interfaces.retry_in(base));
            self.flush_scheduled = true;
            myself.send_after(wait, || NodeEniMsg::Flush);
        }
    }
}
