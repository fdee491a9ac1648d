//! The nodes a NodeENI plans for: the matching nodes as the root last told of them, kept
//! as small as planning and the status allow (the labels its selector names, not every
//! label; no other part of the Node), and what their instances told: the zone of a node
//! without a zone label, and the VPC its instance is in (named subnets resolve there).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::in_order::InOrder;
use crate::k8s::NodeView;
use crate::plan::selector::matches;
use crate::plan::slots::NodeInput;

/// A matching node, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Kept {
    uid: String,
    /// Only the labels the selector names.
    labels: BTreeMap<String, String>,
    instance_id: Option<String>,
    zone: Option<String>,
    deleting: bool,
    created: Option<jiff::Timestamp>,
    configured_macs: BTreeMap<String, bool>,
}

fn kept(v: NodeView, selector: &BTreeMap<String, String>) -> (String, Kept) {
    let labels = v
        .labels
        .into_iter()
        .filter(|(k, _)| selector.contains_key(k))
        .collect();
    let node = Kept {
        uid: v.uid,
        labels,
        instance_id: v.instance_id,
        zone: v.zone,
        deleting: v.deleting,
        created: v.created,
        configured_macs: v.configured_macs,
    };
    (v.name, node)
}

/// What an instance told about where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whereabouts {
    /// Its VPC.
    pub vpc: String,
    /// Its Availability Zone.
    pub zone: String,
}

/// Forgets that `name` is a Node object of `instance`.
fn unindex(
    by_instance: &mut HashMap<String, BTreeSet<String>>,
    instance: Option<&str>,
    name: &str,
) {
    let Some(i) = instance else {
        return;
    };
    if let Some(names) = by_instance.get_mut(i) {
        names.remove(name);
        if names.is_empty() {
            by_instance.remove(i);
        }
    }
}

/// The matching nodes (`None` until the root's first listing) and what their instances
/// told.
#[derive(Default)]
pub struct Nodes {
    by_name: Option<BTreeMap<String, Kept>>,
    /// Instance → the names of its Node objects among them (a one-node plan's scope
    /// without walking every node).
    by_instance: HashMap<String, BTreeSet<String>>,
    /// Zones of nodes without a zone label, learned from their instances.
    zones: HashMap<String, String>,
    /// Instance → its VPC.
    vpcs: HashMap<String, String>,
}

impl Nodes {
    /// Starting from the root's listing, if it has one.
    pub fn new(listed: Option<Vec<NodeView>>, selector: &BTreeMap<String, String>) -> Self {
        let mut n = Nodes::default();
        if let Some(listed) = listed {
            n.replace(listed, selector);
        }
        n
    }

    /// Whether every matching node is known (the plan can settle).
    pub fn known(&self) -> bool {
        self.by_name.is_some()
    }

    /// Every matching node, replacing what was known (a first listing, a re-listing,
    /// or the nodes a changed selector matches).
    pub fn replace(&mut self, listed: Vec<NodeView>, selector: &BTreeMap<String, String>) {
        let by_name: BTreeMap<String, Kept> = listed
            .into_iter()
            .filter(|v| matches(selector, &v.labels))
            .map(|v| kept(v, selector))
            .collect();
        self.by_instance.clear();
        for (name, k) in &by_name {
            if let Some(i) = &k.instance_id {
                self.by_instance
                    .entry(i.clone())
                    .or_default()
                    .insert(name.clone());
            }
        }
        self.by_name = Some(by_name);
    }

    fn insert(&mut self, name: String, node: Kept) {
        let Some(nodes) = &mut self.by_name else {
            return;
        };
        if let Some(i) = &node.instance_id {
            self.by_instance
                .entry(i.clone())
                .or_default()
                .insert(name.clone());
        }
        let instance = node.instance_id.clone();
        if let Some(old) = nodes.insert(name.clone(), node)
            && old.instance_id != instance
        {
            unindex(&mut self.by_instance, old.instance_id.as_deref(), &name);
        }
    }

    fn remove(&mut self, name: &str) {
        if let Some(old) = self.by_name.as_mut().and_then(|n| n.remove(name)) {
            unindex(&mut self.by_instance, old.instance_id.as_deref(), name);
        }
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
        match view {
            Some(v) => {
                let (name, node) = kept(v, selector);
                self.insert(name, node);
            }
            None => self.remove(name),
        }
        matching
    }

    /// Drops `name` if it did not match: one that stopped matching is not told of again
    /// (not even its deletion), so it must not linger.
    pub fn drop_unless_matching(&mut self, name: &str, matching: bool) {
        if !matching {
            self.remove(name);
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

    /// Records where instances are; whether a VPC was news.
    pub fn learned(&mut self, read: Vec<(String, Whereabouts)>) -> bool {
        let mut news = false;
        let nodes_of: HashMap<&str, Vec<&str>> = self
            .by_name
            .iter()
            .flatten()
            .filter_map(|(n, k)| Some((k.instance_id.as_deref()?, n.as_str())))
            .fold(HashMap::new(), |mut m, (i, n)| {
                m.entry(i).or_default().push(n);
                m
            });
        let mut zones = Vec::new();
        for (instance, at) in read {
            for node in nodes_of.get(instance.as_str()).into_iter().flatten() {
                zones.push((node.to_string(), at.zone.clone()));
            }
            news |= self.vpcs.insert(instance, at.vpc).is_none();
        }
        for (node, zone) in zones {
            self.learned_zone(&node, zone);
        }
        news
    }

    /// The instances of matching nodes whose VPC is not known yet.
    pub fn unread(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .by_name
            .iter()
            .flatten()
            .filter(|(_, k)| !k.deleting)
            .filter_map(|(_, k)| k.instance_id.clone())
            .filter(|i| !self.vpcs.contains_key(i))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The VPCs the matching nodes' instances are in, as far as known.
    pub fn vpcs(&self) -> BTreeSet<String> {
        self.by_name
            .iter()
            .flatten()
            .filter_map(|(_, k)| self.vpcs.get(k.instance_id.as_ref()?).cloned())
            .collect()
    }

    /// The nodes planned together with `name`: it, and every other matching node that
    /// names the same instance (which of them gets its slots depends on all).
    pub fn scope(&self, name: &str) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = [name.to_string()].into();
        let instance = self
            .by_name
            .as_ref()
            .and_then(|n| n.get(name))
            .and_then(|k| k.instance_id.as_ref());
        if let Some(names) = instance.and_then(|i| self.by_instance.get(i)) {
            out.extend(names.iter().cloned());
        }
        out
    }

    /// The planner's view of every node (`only = None`) or of some.
    pub fn inputs(&self, only: Option<&BTreeSet<String>>) -> Option<Vec<NodeInput>> {
        let nodes = self.by_name.as_ref()?;
        let input = |(name, k): (&String, &Kept)| NodeInput {
            name: name.clone(),
            labels: k.labels.clone(),
            instance_id: if k.deleting {
                None
            } else {
                k.instance_id.clone()
            },
            zone: k.zone.clone().or_else(|| self.zones.get(name).cloned()),
            vpc: k
                .instance_id
                .as_ref()
                .and_then(|i| self.vpcs.get(i))
                .cloned(),
            created: k.created,
        };
        Some(match only {
            Some(names) => names
                .iter()
                .filter_map(|n| nodes.get_key_value(n))
                .map(input)
                .collect(),
            None => nodes.iter().map(input).collect(),
        })
    }

    /// The matching nodes' names.
    pub fn names(&self) -> Vec<String> {
        self.by_name
            .as_ref()
            .map(|n| n.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// A matching node's UID (its ENINode's owner).
    pub fn uid(&self, name: &str) -> Option<String> {
        Some(self.by_name.as_ref()?.get(name)?.uid.clone())
    }

    /// What the matching nodes' agents report (MAC → configured), for names asked in name
    /// order: each read steps on from the last ([`InOrder`]).
    pub fn configured_in_order<'a>(
        &'a self,
    ) -> impl FnMut(&str) -> Option<&'a BTreeMap<String, bool>> + 'a {
        let mut nodes = InOrder::new(self.by_name.as_ref());
        move |name| Some(&nodes.get(name)?.configured_macs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, labels: &[(&str, &str)]) -> NodeView {
        NodeView {
            name: name.into(),
            uid: format!("uid-{name}"),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            instance_id: Some(format!("i-{name}")),
            zone: None,
            deleting: false,
            created: None,
            configured_macs: BTreeMap::new(),
            taints: Vec::new(),
            enis_ready: None,
        }
    }

    #[test]
    fn only_the_labels_the_selector_names_are_kept() {
        let selector: BTreeMap<String, String> = [("ng".to_string(), "a".to_string())].into();
        let many: Vec<(String, String)> = (0..60)
            .map(|i| (format!("label-{i}"), "x".repeat(60)))
            .chain([("ng".to_string(), "a".to_string())])
            .collect();
        let labels: Vec<(&str, &str)> =
            many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let nodes = Nodes::new(Some(vec![view("n1", &labels), view("n2", &[])]), &selector);
        let inputs = nodes.inputs(None).unwrap();
        assert_eq!(inputs.len(), 1, "only matching nodes are kept");
        assert_eq!(inputs[0].labels, selector);
        assert_eq!(nodes.uid("n1").as_deref(), Some("uid-n1"));
    }

    #[test]
    fn a_new_selector_replaces_the_nodes_and_instances_tell_their_vpc_and_zone() {
        let a: BTreeMap<String, String> = [("a".to_string(), "1".to_string())].into();
        let b: BTreeMap<String, String> = [("b".to_string(), "1".to_string())].into();
        let all = vec![view("n1", &[("a", "1")]), view("n2", &[("b", "1")])];
        let mut nodes = Nodes::new(Some(all.clone()), &a);
        assert_eq!(nodes.unread(), vec!["i-n1".to_string()]);
        nodes.replace(all, &b);
        let names: Vec<String> = nodes
            .inputs(None)
            .unwrap()
            .into_iter()
            .map(|n| n.name)
            .collect();
        assert_eq!(names, vec!["n2".to_string()]);
        let at = Whereabouts {
            vpc: "vpc-1".into(),
            zone: "us-east-1b".into(),
        };
        assert!(nodes.learned(vec![("i-n2".into(), at)]));
        let n2 = &nodes.inputs(Some(&nodes.scope("n2"))).unwrap()[0];
        assert_eq!(
            (n2.vpc.as_deref(), n2.zone.as_deref()),
            (Some("vpc-1"), Some("us-east-1b"))
        );
        assert_eq!(nodes.vpcs(), ["vpc-1".to_string()].into());
        assert!(nodes.unread().is_empty());
    }

    #[test]
    fn a_nodes_scope_is_every_node_object_of_its_instance() {
        let sel: BTreeMap<String, String> = [("a".to_string(), "1".to_string())].into();
        let on = |name: &str, instance: &str| NodeView {
            instance_id: Some(instance.into()),
            ..view(name, &[("a", "1")])
        };
        let scope = |nodes: &Nodes, n: &str| nodes.scope(n).into_iter().collect::<Vec<_>>();
        let mut nodes = Nodes::new(Some(vec![on("old", "i-1"), on("other", "i-2")]), &sel);
        assert_eq!(scope(&nodes, "old"), ["old"]);
        // A second Node object of the same instance (re-registered under a new name).
        nodes.changed("new", Some(on("new", "i-1")), &sel);
        assert_eq!(scope(&nodes, "old"), ["new", "old"]);
        assert_eq!(scope(&nodes, "new"), ["new", "old"]);
        assert_eq!(scope(&nodes, "other"), ["other"]);
        // One moved to another instance, one gone, one that stopped matching.
        nodes.changed("new", Some(on("new", "i-2")), &sel);
        assert_eq!(scope(&nodes, "old"), ["old"]);
        assert_eq!(scope(&nodes, "other"), ["new", "other"]);
        nodes.changed("old", None, &sel);
        assert_eq!(
            scope(&nodes, "old"),
            ["old"],
            "a gone node is its own scope"
        );
        let unlabelled = NodeView {
            instance_id: Some("i-2".into()),
            ..view("new", &[])
        };
        let matching = nodes.changed("new", Some(unlabelled), &sel);
        assert!(!matching);
        assert_eq!(
            scope(&nodes, "other"),
            ["new", "other"],
            "kept for one plan"
        );
        nodes.drop_unless_matching("new", matching);
        assert_eq!(scope(&nodes, "other"), ["other"]);
    }
}
