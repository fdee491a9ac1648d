//! The bodies of the controller's writes to the API server, shared by the `kube` adapter
//! (which sends them) and the in-memory cluster (which measures them), and the tally of
//! writes that `simulate` reports.

use serde::Serialize;
use serde_json::{Value, json};

use super::crd::NodeENIStatus;
use super::eninode::NodeInterface;

/// The merge patch of a NodeENI's status. Every field is written, empty lists included,
/// so that it replaces the whole status rather than leaving stale entries behind.
pub fn status_patch(status: &NodeENIStatus) -> Value {
    json!({
        "status": {
            "observedGeneration": status.observed_generation,
            "conditions": status.conditions,
            "attachments": status.attachments,
            "desiredCount": status.desired_count,
            "readyCount": status.ready_count,
            "failedCount": status.failed_count,
            "unlistedCount": status.unlisted_count,
        }
    })
}

/// The server-side apply of one NodeENI's entries on a node's ENINode, owned by the Node
/// when its UID is known (server-side apply drops the fields a manager applied before and
/// leaves out now, the owner included: entries are withdrawn by [`withdrawal`] instead).
pub fn eninode_apply(node: &str, node_uid: Option<&str>, interfaces: &[NodeInterface]) -> Value {
    let mut metadata = json!({"name": node});
    if let Some(uid) = node_uid.filter(|u| !u.is_empty()) {
        metadata["ownerReferences"] = json!([{
            "apiVersion": "v1", "kind": "Node", "name": node, "uid": uid,
        }]);
    }
    json!({
        "apiVersion": "networking.k8s.aws/v1alpha1",
        "kind": "ENINode",
        "metadata": metadata,
        "spec": {"interfaces": interfaces},
    })
}

/// The JSON patch operations that remove the NodeENI `nodeeni`'s entries from an
/// ENINode whose entries are `current`: for each, last first, a `test` of its ENI ID and
/// a `remove` (none when it has no entry there). Such a patch cannot create the object,
/// and fails whole if the list changed since it was read.
pub fn withdrawal(current: &[NodeInterface], nodeeni: &str) -> Vec<Value> {
    current
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, e)| e.node_eni == nodeeni)
        .flat_map(|(i, e)| {
            let path = format!("/spec/interfaces/{i}");
            [
                json!({"op": "test", "path": format!("{path}/eniID"), "value": e.eni_id}),
                json!({"op": "remove", "path": path}),
            ]
        })
        .collect()
}

/// The size of a body as sent.
pub fn body_bytes(body: &Value) -> usize {
    serde_json::to_vec(body).map_or(0, |v| v.len())
}

/// What the controller wrote to the API server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WriteTally {
    /// NodeENI status patches.
    pub status: u64,
    /// ENINode applies.
    pub eninode: u64,
    /// Finalizer changes.
    pub finalizer: u64,
    /// Events recorded: each a write, whether it made an Event or counted a repeat in
    /// one's series.
    pub events: u64,
    /// Event objects made (repeats counted in a series excluded).
    pub event_objects: u64,
    /// Node writes: `ENIsReady` conditions and startup taint removals.
    pub node: u64,
    /// The largest status patch or ENINode apply, in bytes.
    pub largest_write_bytes: usize,
    /// The largest a NodeENI object grew to (metadata, spec and status), in bytes.
    pub largest_nodeeni_bytes: usize,
}

impl WriteTally {
    /// Every write (Events included).
    pub fn total(&self) -> u64 {
        self.status + self.eninode + self.finalizer + self.events + self.node
    }

    /// The writes made since `before`; the largest sizes are those of the whole run.
    pub fn since(&self, before: &WriteTally) -> WriteTally {
        WriteTally {
            status: self.status - before.status,
            eninode: self.eninode - before.eninode,
            finalizer: self.finalizer - before.finalizer,
            events: self.events - before.events,
            event_objects: self.event_objects - before.event_objects,
            node: self.node - before.node,
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(eni: &str, nodeeni: &str) -> NodeInterface {
        NodeInterface {
            eni_id: eni.into(),
            mac_address: "02:00:00:00:00:01".into(),
            node_eni: nodeeni.into(),
            subnet_id: "subnet-1".into(),
            device_index: 1,
            network_card_index: 0,
            mtu: 0,
            private_ipv4_addresses: Vec::new(),
            ipv4_prefixes: Vec::new(),
            ipv6_addresses: Vec::new(),
            ipv6_prefixes: Vec::new(),
            source_dest_check: None,
            dpdk: None,
        }
    }

    #[test]
    fn a_withdrawal_tests_and_removes_only_the_nodeenis_entries_last_first() {
        let current = [
            entry("eni-a", "x"),
            entry("eni-b", "y"),
            entry("eni-c", "x"),
        ];
        assert_eq!(
            withdrawal(&current, "x"),
            vec![
                json!({"op": "test", "path": "/spec/interfaces/2/eniID", "value": "eni-c"}),
                json!({"op": "remove", "path": "/spec/interfaces/2"}),
                json!({"op": "test", "path": "/spec/interfaces/0/eniID", "value": "eni-a"}),
                json!({"op": "remove", "path": "/spec/interfaces/0"}),
            ]
        );
        assert!(withdrawal(&current, "z").is_empty());
    }
}
