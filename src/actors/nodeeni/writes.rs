//! A NodeENI's writes to the API server: its status (only when it changed) and its
//! entries on the nodes' ENINodes (only where they differ from what its slots show).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tokio::time::Instant;

use super::fleet::Fleet;
use super::interfaces::{EntriesRound, Interfaces};
use super::readiness::{self, Spoken};
use super::selection::Selection;
use super::status::StatusBook;
use crate::actors::readiness::ReadinessDesk;
use crate::k8s::status::{Concerns, SlotSummary, build_status};
use crate::k8s::{Cluster, DpdkRequest, NodeENIStatus, NodeInterface};
use crate::plan::nodeeni::hold_round;

/// The status and the ENINode entries, as last written or seen, and what the NodeENI
/// last said of its nodes' readiness.
pub struct Writes {
    /// Whether the actor started over a status already written (a restart).
    carried: bool,
    /// When the actor started.
    started: Instant,
    status: StatusBook,
    interfaces: Interfaces,
    spoken: Spoken,
}

/// What one round of writes is made from.
pub struct Round<'a> {
    /// The NodeENI's name.
    pub name: &'a str,
    /// Its generation.
    pub generation: i64,
    /// Every slot's line, in node order.
    pub slots: &'a [SlotSummary],
    /// What the status reports beside the slots.
    pub concerns: &'a Concerns,
    /// The (node, subnet) of the slots that have not reported yet.
    pub unreported: &'a [(String, String)],
    /// What each ENI's agent is asked to do for DPDK.
    pub dpdk: Option<&'a DpdkRequest>,
    /// Entries of ENIs held for their devices' release (node, entry asking for it).
    pub releasing: Vec<(&'a String, &'a NodeInterface)>,
}

/// What the NodeENI's components hold that a round is built from.
pub struct Sources<'a> {
    /// The NodeENI's name.
    pub name: &'a str,
    /// Its generation.
    pub generation: i64,
    /// What each ENI's agent is asked to do for DPDK ([`crate::k8s::NodeENISpec::dpdk_request`]).
    pub dpdk: Option<&'a DpdkRequest>,
    /// Every slot's line ([`super::slots::Slots::refresh_lines`]).
    pub lines: &'a [SlotSummary],
    /// The nodes whose lines changed since the last refresh.
    pub changed: BTreeSet<String>,
    /// Its slots, skips and teardowns.
    pub fleet: &'a Fleet,
    /// Its nodes.
    pub selection: &'a Selection,
    /// Whether it is being deleted.
    pub deleting: bool,
    /// Whether its ledger entry and finalizer are in place.
    pub finalized: bool,
    /// Where it says how ready its nodes are.
    pub desk: &'a ReadinessDesk,
}

/// Said in the status while the ENINode watch has not listed.
const ENINODES_UNLISTED: &str = "the ENINodes have not been listed yet (is the ENINode CRD installed, and may the controller list and watch ENINodes?): no node's ENIs are written for its agent, and a deleted NodeENI keeps its finalizer until they are";

impl Writes {
    /// Builds a round from `src` (every slot's line, and the concerns beside them) and
    /// writes it (see [`Writes::write`]); `false` also while the round is held for slots
    /// that have not reported since a restart ([`hold_round`]: the caller tries again).
    pub async fn write_from(&mut self, cluster: &dyn Cluster, src: Sources<'_>) -> bool {
        // Kept for the round that writes, however many are held before it.
        self.interfaces.changed(src.changed);
        let unreported = src.fleet.slots.unreported();
        let known = src.selection.planned();
        if hold_round(
            self.carried,
            known,
            unreported.len(),
            self.started.elapsed(),
        ) {
            return false;
        }
        let selection = src.selection;
        let slots = src.lines;
        let mut concerns =
            src.fleet
                .concerns(selection.problems().to_vec(), src.deleting, src.finalized);
        if !self.known() {
            concerns.pending.push(ENINODES_UNLISTED.into());
        }
        if src.desk.on() {
            let parts = readiness::parts(slots, selection, &src.fleet.skips, src.deleting);
            self.spoken.say(src.desk, src.name, parts);
        }
        let round = Round {
            name: src.name,
            generation: src.generation,
            slots,
            concerns: &concerns,
            unreported: &unreported,
            dpdk: src.dpdk,
            releasing: src.fleet.releases.entries().collect(),
        };
        self.write(cluster, round, |n| selection.uid(n)).await
    }

    /// Starting from the status the object carries; ENINodes not listed yet.
    pub fn new(status: Option<NodeENIStatus>) -> Self {
        Writes {
            carried: status.is_some(),
            started: Instant::now(),
            status: StatusBook::new(status),
            interfaces: Interfaces::default(),
            spoken: Spoken::default(),
        }
    }

    /// Builds the status and writes it if it differs from the last one written, then
    /// brings the nodes' entries to what the slots show (`owner` gives a node's UID);
    /// `false` if a write failed (the caller retries).
    pub async fn write(
        &mut self,
        cluster: &dyn Cluster,
        round: Round<'_>,
        owner: impl Fn(&str) -> Option<String>,
    ) -> bool {
        let now = Time(jiff::Timestamp::now());
        let status = build_status(
            round.generation,
            round.slots,
            round.concerns,
            self.status.last(),
            now,
        );
        let status_ok = self
            .status
            .write(cluster, round.name, status, round.slots)
            .await;
        let entries = EntriesRound {
            nodeeni: round.name,
            slots: round.slots,
            dpdk: round.dpdk,
            releasing: round.releasing,
            unreported: round.unreported,
        };
        let entries_ok = self.interfaces.round(cluster, entries, owner).await;
        status_ok && entries_ok
    }

    /// Node → this NodeENI's entries there, as last written or seen.
    pub fn applied(&self) -> &BTreeMap<String, Vec<NodeInterface>> {
        self.interfaces.applied()
    }

    /// Whether this NodeENI has entries on `node`'s ENINode (gone with the Node).
    pub fn on_node(&self, node: &str) -> bool {
        self.interfaces.applied().contains_key(node)
    }

    /// How long to wait before writing again after failed rounds, from `base`.
    pub fn retry_in(&self, base: std::time::Duration) -> std::time::Duration {
        self.status
            .retry_in(base)
            .max(self.interfaces.retry_in(base))
    }

    /// Every node's entries of this NodeENI, as listed.
    pub fn seen_all(&mut self, all: BTreeMap<String, Vec<NodeInterface>>) {
        self.interfaces.seen_all(all);
    }

    /// One node's entries of this NodeENI, as its ENINode shows them now.
    pub fn seen(&mut self, node: String, entries: Vec<NodeInterface>) {
        self.interfaces.seen(node, entries);
    }

    /// Whether the ENINodes were listed (until then no entry is written).
    pub fn known(&self) -> bool {
        self.interfaces.known()
    }

    /// Whether no entry of this NodeENI is left on any node.
    pub fn withdrawn(&self) -> bool {
        self.interfaces.withdrawn()
    }
}
