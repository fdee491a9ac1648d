//! The nodes a NodeENI plans for: the matching nodes as the root last told of them, and
//! the zones learned from their instances for nodes without a zone label.

use std::collections::{BTreeMap, HashMap};

use super::io;
use crate::k8s::NodeView;
use crate::plan::selector::matches;
use crate::plan::slots::NodeInput;

/// The matching nodes (`None` until the root's first listing) and learned zones.
#[derive(Default)]
pub struct Nodes {
    by_name: Option<BTreeMap<String, NodeView>>,
    zones: HashMap<String, String>,
}

impl Nodes {
    /// Starting from the root's listing, if it has one.
    pub fn new(listed: Option<Vec<NodeView>>) -> Self {
        Nodes {
            by_name: listed.map(by_name),
            zones: HashMap::new(),
        }
    }

    /// Whether every matching node is known (the plan can settle).
    pub fn known(&self) -> bool {
        self.by_name.is_some()
    }

    /// Every matching node, replacing what was known.
    pub fn replace(&mut self, listed: Vec<NodeView>) {
        self.by_name = Some(by_name(listed));
    }

    /// A node changed (`view`) or went away (`None`); whether it matches `selector` now.
    /// A node that stopped matching is kept for one plan (its slots are retired by it)
    /// and then dropped with [`Nodes::drop_unless_matching`].
    pub fn changed(
        &mut self,
        name: &str,
        view: Option<NodeView>,
        selector: &BTreeMap<String, String>,
    ) -> bool {
        let matching = view.as_ref().is_some_and(|v| matches(selector, &v.labels));
        if let Some(nodes) = &mut self.by_name {
            match view {
                Some(v) => nodes.insert(name.to_string(), v),
                None => nodes.remove(name),
            };
        }
        matching
    }

    /// Drops `name` if it did not match: one that stopped matching is not told of again
    /// (not even its deletion), so it must not linger.
    pub fn drop_unless_matching(&mut self, name: &str, matching: bool) {
        if !matching && let Some(nodes) = &mut self.by_name {
            nodes.remove(name);
        }
    }

    /// Records the zone of `node`'s instance; whether it was news.
    pub fn learned_zone(&mut self, node: &str, zone: String) -> bool {
        if self.zones.get(node) == Some(&zone) {
            return false;
        }
        self.zones.insert(node.to_string(), zone);
        true
    }

    /// The planner's view of every node (`only = None`) or of one.
    pub fn inputs(&self, only: Option<&str>) -> Option<Vec<NodeInput>> {
        let nodes = self.by_name.as_ref()?;
        let input = |v: &NodeView| io::to_node_input(v, self.zones.get(&v.name));
        Some(match only {
            Some(name) => nodes.get(name).map(input).into_iter().collect(),
            None => nodes.values().map(input).collect(),
        })
    }

    /// The matching nodes by name, if known.
    pub fn all(&self) -> Option<&BTreeMap<String, NodeView>> {
        self.by_name.as_ref()
    }
}

fn by_name(nodes: Vec<NodeView>) -> BTreeMap<String, NodeView> {
    nodes.into_iter().map(|v| (v.name.clone(), v)).collect()
}
