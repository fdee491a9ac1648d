//! The nodes' ENINodes as the root knows them: which NodeENI has which entries on which
//! node (each NodeENI is told of its own), and what each node's agent reports (folded
//! into the node views the NodeENIs see).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::k8s::{AgentReport, ENINodeView, NodeInterface};

/// Every ENINode seen.
#[derive(Default)]
pub struct ENINodes {
    by_node: HashMap<String, ENINodeView>,
    synced: bool,
}

/// What changed with one ENINode.
pub struct Changed {
    /// NodeENIs whose entries on the node changed, with their entries now.
    pub entries: Vec<(String, Vec<NodeInterface>)>,
    /// Whether the agent's report changed.
    pub report: bool,
    /// NodeENIs asking the node's agent to release DPDK devices, with what it reports of
    /// them now (sent whenever the entries or the report changed).
    pub releases: Vec<(String, AgentReport)>,
}

/// What `view`'s agent reports, as far as NodeENIs care.
#[allow(clippy::type_complexity)]
fn agent_says(
    view: &ENINodeView,
) -> (
    &BTreeMap<String, bool>,
    &BTreeSet<String>,
    &BTreeSet<String>,
) {
    (&view.configured_macs, &view.bound_macs, &view.released_macs)
}

/// What `view`'s agent reports of the ENIs NodeENI `nodeeni` asks it to release, if any.
fn releasing(view: &ENINodeView, nodeeni: &str) -> Option<AgentReport> {
    let asked: BTreeSet<String> = view
        .entries
        .get(nodeeni)?
        .iter()
        .filter(|e| e.dpdk.as_ref().is_some_and(|d| d.release))
        .map(|e| e.mac_address.to_ascii_lowercase())
        .collect();
    if asked.is_empty() {
        return None;
    }
    Some(AgentReport {
        bound: asked.intersection(&view.bound_macs).cloned().collect(),
        released: asked.intersection(&view.released_macs).cloned().collect(),
        asked,
    })
}

impl ENINodes {
    /// Whether the ENINodes were listed.
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// Replaces everything with a listing; the nodes whose report changed.
    pub fn resync(&mut self, list: Vec<ENINodeView>) -> Vec<String> {
        let before = std::mem::take(&mut self.by_node);
        self.by_node = list.into_iter().map(|v| (v.node.clone(), v)).collect();
        self.synced = true;
        let nodes: BTreeSet<&String> = before.keys().chain(self.by_node.keys()).collect();
        nodes
            .into_iter()
            .filter(|n| {
                before.get(*n).map(|v| &v.configured_macs)
                    != self.by_node.get(*n).map(|v| &v.configured_macs)
            })
            .cloned()
            .collect()
    }

    /// One ENINode changed (`None`: deleted).
    pub fn changed(&mut self, node: &str, view: Option<ENINodeView>) -> Changed {
        let old = match view {
            Some(v) => self.by_node.insert(node.to_string(), v),
            None => self.by_node.remove(node),
        };
        let new = self.by_node.get(node);
        let no_entries = BTreeMap::new();
        let old_entries = old.as_ref().map_or(&no_entries, |v| &v.entries);
        let new_entries = new.map_or(&no_entries, |v| &v.entries);
        let names: BTreeSet<&String> = old_entries.keys().chain(new_entries.keys()).collect();
        let entries: Vec<(String, Vec<NodeInterface>)> = names
            .into_iter()
            .filter(|n| old_entries.get(*n) != new_entries.get(*n))
            .map(|n| (n.clone(), new_entries.get(n).cloned().unwrap_or_default()))
            .collect();
        let report = old.as_ref().map(agent_says) != new.map(agent_says);
        let releases = match new {
            Some(v) if report || !entries.is_empty() => v
                .entries
                .keys()
                .filter_map(|n| Some((n.clone(), releasing(v, n)?)))
                .collect(),
            _ => Vec::new(),
        };
        Changed {
            entries,
            report,
            releases,
        }
    }

    /// What each node's agent reports of the ENIs NodeENI `nodeeni` asks it to release.
    pub fn releases_of(&self, nodeeni: &str) -> Vec<(String, AgentReport)> {
        self.by_node
            .iter()
            .filter_map(|(node, v)| Some((node.clone(), releasing(v, nodeeni)?)))
            .collect()
    }

    /// The entries of NodeENI `nodeeni`, by node.
    pub fn of(&self, nodeeni: &str) -> BTreeMap<String, Vec<NodeInterface>> {
        self.by_node
            .iter()
            .filter_map(|(node, v)| Some((node.clone(), v.entries.get(nodeeni)?.clone())))
            .collect()
    }

    /// What node `node`'s agent reports: MAC → configured.
    pub fn configured(&self, node: &str) -> BTreeMap<String, bool> {
        self.by_node
            .get(node)
            .map(|v| v.configured_macs.clone())
            .unwrap_or_default()
    }
}
