//! DPDK ENIs held back from their teardown until their node's agent has returned the
//! device to its kernel driver ([`crate::plan::dpdk::release`] decides): while held, the
//! ENI's entry stays on the node's ENINode with `release: true`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use crate::k8s::{About, AgentReport, NodeInterface, Notice};
use crate::plan::dpdk::{ASK_GRACE, AgentSays, RELEASE_WAIT, Release, release};

/// One held ENI.
struct Held {
    node: String,
    /// Its entry, asking for the release.
    entry: NodeInterface,
    /// Why it is torn down (passed on to the cleanup pool).
    reason: &'static str,
    since: Instant,
    /// When its agent's first report of the ask came, if one did.
    heard: Option<Instant>,
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

/// The DPDK ENIs of a NodeENI as last applied, those held, and what their agents last
/// reported of the asks.
#[derive(Default)]
pub struct Releases {
    /// ENI → (node, entry): DPDK entries written to the nodes' ENINodes.
    applied: HashMap<String, (String, NodeInterface)>,
    held: BTreeMap<String, Held>,
    /// Node → its agent's last report of the releases asked there (kept while any is
    /// asked: a hold made after a restart finds the answer here).
    reports: HashMap<String, AgentReport>,
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
                heard: None,
            },
        );
        true
    }

    /// Forgets `eni_id`'s entry (its teardown was asked for: it is not held again).
    pub fn forget(&mut self, eni_id: &str) {
        self.applied.remove(eni_id);
    }

    /// The entries to write for the held ENIs: node → entries asking for the release.
    pub fn entries(&self) -> impl Iterator<Item = (&String, &NodeInterface)> {
        self.held.values().map(|h| (&h.node, &h.entry))
    }

    /// ENIs held.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// What `node`'s agent reports now of the asks there: the held ENIs it lets go.
    pub fn agent(&mut self, node: &str, report: &AgentReport) -> Vec<Let> {
        if report.asked.is_empty() {
            self.reports.remove(node);
        } else {
            self.reports.insert(node.to_string(), report.clone());
        }
        self.settle(Some(node), |_| true)
    }

    /// The held ENIs whose agent answered, whose wait is over or whose node is gone
    /// (`node_known` says which nodes still have an ENINode).
    pub fn due(&mut self, node_known: impl Fn(&str) -> bool) -> Vec<Let> {
        self.settle(None, node_known)
    }

    /// When the next held ENI's wait is over.
    pub fn next_due(&self) -> Option<Duration> {
        let now = Instant::now();
        self.held
            .values()
            .map(|h| deadline(h).saturating_duration_since(now))
            .min()
    }

    /// Lets go of the held ENIs (of `only` node, or all) that may go.
    fn settle(&mut self, only: Option<&str>, node_known: impl Fn(&str) -> bool) -> Vec<Let> {
        let now = Instant::now();
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for (eni, h) in &mut self.held {
            if only.is_some_and(|n| n != h.node) {
                continue;
            }
            let mac = h.entry.mac_address.to_ascii_lowercase();
            // Only a report whose entry asks for the release answers the ask.
            let report = self.reports.get(&h.node).filter(|r| r.asked.contains(&mac));
            let first = report.is_some() && h.heard.is_none();
            if first {
                h.heard = Some(now);
            }
            let agent = AgentSays {
                node_known: node_known(&h.node),
                bound: report.is_some_and(|r| r.bound.contains(&mac)),
                released: report.is_some_and(|r| r.released.contains(&mac)),
            };
            let limit = deadline(h).saturating_duration_since(h.since);
            let step = release(first, agent, now.saturating_duration_since(h.since), limit);
            if step == Release::Wait {
                continue;
            }
            gone.push(eni.clone());
            let notice = (step == Release::TimedOut).then(|| {
                Notice::warning(
                    "DPDKReleaseTimeout",
                    "Detach",
                    format!(
                        "the agent on node {} did not return {eni}'s device to its kernel driver within {} s of being asked; detaching it anyway",
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
        let asked_nodes: std::collections::HashSet<&String> =
            self.held.values().map(|h| &h.node).collect();
        self.reports
            .retain(|n, r| !r.asked.is_empty() || asked_nodes.contains(n));
        out
    }
}

/// When a held ENI's wait is over: [`RELEASE_WAIT`] after its agent's first report of
/// the ask, or after the hold plus [`ASK_GRACE`] while no report came.
fn deadline(h: &Held) -> Instant {
    match h.heard {
        Some(at) => at + RELEASE_WAIT,
        None => h.since + ASK_GRACE + RELEASE_WAIT,
    }
}
