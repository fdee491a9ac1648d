//! A NodeENI's entries on the nodes' ENINodes: what it last wrote or saw on each node,
//! and the writes that bring every node to what its slots show.

use std::collections::BTreeMap;

use crate::k8s::status::SlotSummary;
use crate::k8s::{Cluster, ClusterError, DpdkRequest, NodeInterface};
use crate::plan::interfaces::writes;

/// What the ENINodes say of this NodeENI.
#[derive(Default)]
pub struct Interfaces {
    /// Whether the ENINodes were listed: until then nothing is written (what is there is
    /// not known, and writing every node blindly would cost one write per node).
    known: bool,
    /// Node → this NodeENI's entries there, as last written or seen.
    applied: BTreeMap<String, Vec<NodeInterface>>,
    /// Write rounds that failed in a row.
    failures: u32,
}

/// This NodeENI's entries per node, from its slots: every slot with an ENI at a device
/// index.
pub fn desired(
    nodeeni: &str,
    slots: &[SlotSummary],
    dpdk: Option<&DpdkRequest>,
) -> BTreeMap<String, Vec<NodeInterface>> {
    let mut out: BTreeMap<String, Vec<NodeInterface>> = BTreeMap::new();
    for s in slots {
        let (Some(eni), Some(mac), Some(index)) = (&s.eni_id, &s.mac_address, s.device_index)
        else {
            continue;
        };
        out.entry(s.node.clone()).or_default().push(NodeInterface {
            eni_id: eni.clone(),
            mac_address: mac.to_ascii_lowercase(),
            node_eni: nodeeni.to_string(),
            subnet_id: s.subnet_id.clone(),
            device_index: i32::try_from(index).unwrap_or(i32::MAX),
            network_card_index: i32::try_from(s.network_card).unwrap_or(0),
            mtu: s.mtu,
            private_ipv4_addresses: s.ipv4_addresses.clone(),
            ipv4_prefixes: s.ipv4_prefixes.clone(),
            ipv6_addresses: s.ipv6_addresses.clone(),
            ipv6_prefixes: s.ipv6_prefixes.clone(),
            source_dest_check: s.source_dest_check,
            dpdk: dpdk.cloned(),
        });
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

impl Interfaces {
    /// How long to wait before writing again after failed rounds: from `base`, doubling
    /// to half a minute.
    pub fn retry_in(&self, base: std::time::Duration) -> std::time::Duration {
        crate::supervision::retry_delay(
            self.failures,
            base,
            std::time::Duration::from_secs(30),
            rand::random::<f64>(),
        )
    }

    /// Every node's entries of this NodeENI, as listed.
    pub fn seen_all(&mut self, all: BTreeMap<String, Vec<NodeInterface>>) {
        self.known = true;
        self.applied = all.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    }

    /// One node's entries of this NodeENI, as the ENINode shows them now.
    pub fn seen(&mut self, node: String, mut entries: Vec<NodeInterface>) {
        entries.sort();
        if entries.is_empty() {
            self.applied.remove(&node);
        } else {
            self.applied.insert(node, entries);
        }
    }

    /// Node → this NodeENI's entries there, as last written or seen.
    pub fn applied(&self) -> &BTreeMap<String, Vec<NodeInterface>> {
        &self.applied
    }

    /// Whether the ENINodes were listed.
    pub fn known(&self) -> bool {
        self.known
    }

    /// Whether no entry of this NodeENI is left on any node (a deleted NodeENI keeps its
    /// finalizer until then).
    pub fn withdrawn(&self) -> bool {
        self.known && self.applied.is_empty()
    }

    /// Writes the nodes whose entries differ from `desired`; `uid` gives a node's UID
    /// (the object's owner). `false` if a write failed (the caller retries); a node whose
    /// writes are refused (a webhook, a policy) holds up no other node's.
    pub async fn write(
        &mut self,
        cluster: &dyn Cluster,
        nodeeni: &str,
        desired: &BTreeMap<String, Vec<NodeInterface>>,
        uid: impl Fn(&str) -> Option<String>,
    ) -> bool {
        if !self.known {
            return true;
        }
        let empty = Vec::new();
        let mut failed = false;
        for node in writes(desired, &self.applied) {
            let entries = desired.get(&node).unwrap_or(&empty);
            let owner = uid(&node);
            match cluster
                .apply_interfaces(&node, owner.as_deref(), nodeeni, entries)
                .await
            {
                Ok(()) => self.seen(node, entries.clone()),
                Err(e @ ClusterError::NotFound(_)) => {
                    tracing::debug!(%node, error = %e, "no ENINode to withdraw from");
                    self.applied.remove(&node);
                }
                Err(e) => {
                    tracing::warn!(%node, error = %e, "could not write the node's ENINode");
                    metrics::counter!(crate::telemetry::metric::RECONCILE_ERRORS_TOTAL, "error" => e.label())
                        .increment(1);
                    failed = true;
                }
            }
        }
        // Counted per round: the retries of a node refused every time back off.
        self.failures = if failed { self.failures + 1 } else { 0 };
        !failed
    }
}
