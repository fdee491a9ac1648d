//! A NodeENI's entries on the nodes' ENINodes: what it last wrote or saw on each node,
//! and the writes that bring every node to what its slots show.

use std::collections::{BTreeMap, BTreeSet};

use crate::k8s::status::SlotSummary;
use crate::k8s::{Cluster, ClusterError, DpdkRequest, NodeInterface};
use crate::plan::interfaces::{carry_unreported, scope, writes_among};

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
    /// Nodes whose entries may differ from what the slots show (their lines changed,
    /// their ENINode changed, or their write failed); `None`: every node (at the start,
    /// after a listing of the ENINodes, after the DPDK request changed).
    stale: Option<BTreeSet<String>>,
    /// The DPDK request the last round wrote.
    dpdk: Option<DpdkRequest>,
    /// Nodes with an entry held for a release in the last round.
    releasing: BTreeSet<String>,
}

/// What a round of ENINode writes is made from.
pub struct EntriesRound<'a> {
    /// The NodeENI's name.
    pub nodeeni: &'a str,
    /// Every slot's line, in node order (as [`super::slots::Slots`] keeps them).
    pub slots: &'a [SlotSummary],
    /// What each ENI's agent is asked to do for DPDK.
    pub dpdk: Option<&'a DpdkRequest>,
    /// Entries of ENIs held for their devices' release (node, entry asking for it).
    pub releasing: Vec<(&'a String, &'a NodeInterface)>,
    /// The (node, subnet) of the slots that have not reported yet.
    pub unreported: &'a [(String, String)],
}

/// The entry of one slot's line, if its ENI is known at a device index.
fn entry(nodeeni: &str, s: &SlotSummary, dpdk: Option<&DpdkRequest>) -> Option<NodeInterface> {
    let (Some(eni), Some(mac), Some(index)) = (&s.eni_id, &s.mac_address, s.device_index) else {
        return None;
    };
    Some(NodeInterface {
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
    })
}

/// This NodeENI's entries on the nodes of `nodes`, from its slots in node order: every
/// slot with an ENI at a device index (each node's lines found by a binary search, not a
/// walk of every slot).
pub fn desired_on(
    nodeeni: &str,
    slots: &[SlotSummary],
    dpdk: Option<&DpdkRequest>,
    nodes: &BTreeSet<String>,
) -> BTreeMap<String, Vec<NodeInterface>> {
    let mut out = BTreeMap::new();
    for node in nodes {
        let from = slots.partition_point(|s| s.node < *node);
        let to = from + slots[from..].partition_point(|s| s.node == *node);
        let mut list: Vec<NodeInterface> = slots[from..to]
            .iter()
            .filter_map(|s| entry(nodeeni, s, dpdk))
            .collect();
        if !list.is_empty() {
            list.sort();
            out.insert(node.clone(), list);
        }
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

    /// Every node's entries of this NodeENI, as listed: the next round looks at every
    /// node.
    pub fn seen_all(&mut self, all: BTreeMap<String, Vec<NodeInterface>>) {
        self.known = true;
        self.applied = all.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        self.stale = None;
    }

    /// One node's entries of this NodeENI, as the ENINode shows them now: the next round
    /// looks at that node.
    pub fn seen(&mut self, node: String, entries: Vec<NodeInterface>) {
        self.changed([node.clone()]);
        self.record(node, entries);
    }

    /// Marks `nodes` for the next round to look at (their slots' lines changed).
    pub fn changed(&mut self, nodes: impl IntoIterator<Item = String>) {
        if let Some(stale) = &mut self.stale {
            stale.extend(nodes);
        }
    }

    fn record(&mut self, node: String, mut entries: Vec<NodeInterface>) {
        entries.sort();
        if entries.is_empty() {
            self.applied.remove(&node);
        } else {
            self.applied.insert(node, entries);
        }
    }

    /// Brings the ENINodes to what the slots show: looks at the nodes that may have
    /// changed since the last round (every node after a listing or a new DPDK request)
    /// and writes those that differ (see [`Interfaces::write`]). Nothing is looked at or
    /// written before the ENINodes were listed.
    pub async fn round(
        &mut self,
        cluster: &dyn Cluster,
        round: EntriesRound<'_>,
        uid: impl Fn(&str) -> Option<String>,
    ) -> bool {
        if !self.known {
            return true;
        }
        if self.dpdk.as_ref() != round.dpdk {
            self.dpdk = round.dpdk.cloned();
            self.stale = None;
        }
        let releasing: BTreeSet<String> =
            round.releasing.iter().map(|(n, _)| (*n).clone()).collect();
        let among = scope(self.stale.take(), &releasing, &self.releasing).unwrap_or_else(|| {
            // Every node: those with slots, with entries written, or with a release held.
            let slots = round.slots.iter().map(|s| s.node.clone());
            slots
                .chain(self.applied.keys().cloned())
                .chain(releasing.iter().cloned())
                .collect()
        });
        self.stale = Some(BTreeSet::new());
        self.releasing = releasing;
        let mut desired = desired_on(round.nodeeni, round.slots, round.dpdk, &among);
        for (node, entry) in round.releasing {
            let list = desired.entry(node.clone()).or_default();
            list.push(entry.clone());
            list.sort();
        }
        let unreported: Vec<(String, String)> = round
            .unreported
            .iter()
            .filter(|(n, _)| among.contains(n))
            .cloned()
            .collect();
        carry_unreported(&mut desired, &self.applied, &unreported, |e| &e.subnet_id);
        let nodes = writes_among(&desired, &self.applied, &among);
        self.write(cluster, round.nodeeni, &desired, nodes, uid)
            .await
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

    /// Writes `nodes` with their entries in `desired` (none: withdrawn); `uid` gives a
    /// node's UID (the object's owner). `false` if a write failed (the caller retries,
    /// and the next round looks at that node again); a node whose writes are refused (a
    /// webhook, a policy) holds up no other node's.
    async fn write(
        &mut self,
        cluster: &dyn Cluster,
        nodeeni: &str,
        desired: &BTreeMap<String, Vec<NodeInterface>>,
        nodes: Vec<String>,
        uid: impl Fn(&str) -> Option<String>,
    ) -> bool {
        let empty = Vec::new();
        let mut failed = false;
        for node in nodes {
            let entries = desired.get(&node).unwrap_or(&empty);
            let owner = uid(&node);
            match cluster
                .apply_interfaces(&node, owner.as_deref(), nodeeni, entries)
                .await
            {
                Ok(()) => self.record(node, entries.clone()),
                Err(e @ ClusterError::NotFound(_)) => {
                    tracing::debug!(%node, error = %e, "no ENINode to withdraw from");
                    self.applied.remove(&node);
                    // Looked at again, as a round over every node would.
                    self.changed([node.clone()]);
                }
                Err(e) => {
                    tracing::warn!(%node, error = %e, "could not write the node's ENINode");
                    self.changed([node.clone()]);
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

#[cfg(test)]
mod tests;
