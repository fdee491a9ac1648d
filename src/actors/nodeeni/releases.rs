//! DPDK ENIs held back from their teardown until their node's agent has returned the
//! device to its kernel driver ([`crate::plan::dpdk::release`] decides): while held, the
//! ENI's entry stays on the node's ENINode with `release: true`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use crate::k8s::{About, AgentReport, NodeInterface, Notice};
use crate::plan::dpdk::{AgentSays, RELEASE_WAIT, Release, release};

/// One held ENI.
struct Held {
    node: String,
    /// Its entry, asking for the release.
    entry: NodeInterface,
    /// Why it is torn down (passed on to the cleanup pool).
    reason: &'static str,
    since: Instant,
    /// Whether an agent report came since it was held.
    heard: bool,
}

/// An ENI whose hold is over: tear it down.
pub struct Let {
    /// The ENI.
    pub eni_id: String,
    /// Why it is torn down.
    pub reason: &'static str,
    /// The Event to record, if any (a release that did not come in time).
    pub notice: Option<Notice>,
}

/// The DPDK ENIs of a NodeENI as last applied, and those held.
#[derive(Default)]
pub struct Releases {
    /// ENI → (node, entry): DPDK entries written to the nodes' ENINodes.
    applied: HashMap<String, (String, NodeInterface)>,
    held: BTreeMap<String, Held>,
}

impl Releases {
    /// Takes in the entries applied on every node (only DPDK ones are kept, those already
    /// asking for the release too: after a restart, a teardown holds them again).
    pub fn set_applied(&mut self, applied: &BTreeMap<String, Vec<NodeInterface>>) {
        self.applied = applied
            .iter()
            .flat_map(|(node, list)| list.iter().map(move |e| (node, e)))
            .filter(|(_, e)| e.dpdk.is_some())
            .map(|(node, e)| (e.eni_id.clone(), (node.clone(), e.clone())))
            .collect();
    }

    /// Holds `eni_id` if it is a DPDK ENI whose entry was applied (its agent may have
    /// bound its device); `false`: tear it down now.
    pub fn hold(&mut self, eni_id: &str, reason: &'static str) -> bool {
        if self.held.contains_key(eni_id) {
            return true;
        }
        let Some((node, mut entry)) = self.applied.remove(eni_id) else {
            return false;
        };
        if let Some(d) = entry.dpdk.as_mut() {
            d.release = true;
        }
        tracing::info!(eni = eni_id, %node, "asking the node's agent to release the DPDK device before the teardown");
        self.held.insert(
            eni_id.to_string(),
            Held {
                node,
                entry,
                reason,
                since: Instant::now(),
                heard: false,
            },
        );
        true
    }

    /// The entries to write for the held ENIs: node → entries asking for the release.
    pub fn entries(&self) -> impl Iterator<Item = (&String, &NodeInterface)> {
        self.held.values().map(|h| (&h.node, &h.entry))
    }

    /// ENIs held.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// What `node`'s agent reports now: the held ENIs it lets go.
    pub fn agent(&mut self, node: &str, report: &AgentReport) -> Vec<Let> {
        let now = Instant::now();
        self.settle(now, true, |h| {
            (h.node == node).then(|| {
                let mac = h.entry.mac_address.to_ascii_lowercase();
                AgentSays {
                    node_known: true,
                    configured: report.configured.get(&mac).copied(),
                    released: report.released.contains(&mac),
                }
            })
        })
    }

    /// The held ENIs whose wait is over or whose node is gone (`node_known` says which
    /// nodes still have an ENINode).
    pub fn due(&mut self, node_known: impl Fn(&str) -> bool) -> Vec<Let> {
        let now = Instant::now();
        self.settle(now, false, |h| {
            Some(AgentSays {
                node_known: node_known(&h.node),
                // Only the wait and the node count here: no report is heard.
                configured: None,
                released: false,
            })
        })
    }

    /// When the next held ENI's wait is over.
    pub fn next_due(&self) -> Option<Duration> {
        let now = Instant::now();
        self.held
            .values()
            .map(|h| (h.since + RELEASE_WAIT).saturating_duration_since(now))
            .min()
    }

    /// Lets go of the held ENIs `says` says may go; `hearing`: `says` is an agent's
    /// report (the first one heard since the hold still tells whether the device was
    /// bound at all).
    fn settle(
        &mut self,
        now: Instant,
        hearing: bool,
        says: impl Fn(&Held) -> Option<AgentSays>,
    ) -> Vec<Let> {
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for (eni, h) in &mut self.held {
            let Some(agent) = says(h) else { continue };
            let first = hearing && !h.heard;
            h.heard |= hearing;
            let step = release(
                first,
                agent,
                now.saturating_duration_since(h.since),
                RELEASE_WAIT,
            );
            if step == Release::Wait {
                continue;
            }
            gone.push(eni.clone());
            let notice = (step == Release::TimedOut).then(|| {
                Notice::warning(
                    "DPDKReleaseTimeout",
                    "Detach",
                    format!(
                        "the agent on node {} did not return {eni}'s device to its kernel driver within {} s; detaching it anyway",
                        h.node,
                        RELEASE_WAIT.as_secs()
                    ),
                )
                .about(About::Eni(eni.clone()))
            });
            out.push(Let {
                eni_id: eni.clone(),
                reason: h.reason,
                notice,
            });
        }
        for eni in gone {
            self.held.remove(&eni);
        }
        out
    }
}
