//! What every NodeENI says of the nodes it selects ([`Part`]s), shared by the NodeENI
//! actors, which write their own, and the readiness actor, which reads them. It outlives
//! a restart of either: a restarted readiness actor reads what was said, and a NodeENI
//! actor started again replaces its own parts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use dashmap::DashMap;

use super::msg::ReadinessMsg;
use crate::plan::readiness::Part;
use crate::supervision::Handle;

/// Node → NodeENI → what it says.
#[derive(Clone, Default)]
pub struct Parts(Arc<DashMap<String, BTreeMap<String, Part>>>);

impl Parts {
    /// Sets what `nodeeni` says: `now` for its nodes, nothing for the others it spoke of
    /// (`before`); the nodes whose part changed.
    pub fn say(
        &self,
        nodeeni: &str,
        now: &BTreeMap<String, Part>,
        before: &BTreeSet<String>,
    ) -> Vec<String> {
        let mut changed = Vec::new();
        for (node, part) in now {
            // A read first: most rounds change few nodes, and an entry takes the shard's
            // write lock and a copy of the name.
            if self
                .0
                .get(node)
                .is_some_and(|e| e.get(nodeeni) == Some(part))
            {
                continue;
            }
            self.0
                .entry(node.clone())
                .or_default()
                .insert(nodeeni.to_string(), part.clone());
            changed.push(node.clone());
        }
        for node in before.iter().filter(|n| !now.contains_key(*n)) {
            if self.remove(node, nodeeni) {
                changed.push(node.clone());
            }
        }
        changed
    }

    /// Forgets everything `nodeeni` said (it is gone); the nodes it spoke of, sorted.
    pub fn forget(&self, nodeeni: &str) -> Vec<String> {
        let mut nodes: Vec<String> = self
            .0
            .iter()
            .filter(|e| e.value().contains_key(nodeeni))
            .map(|e| e.key().clone())
            .collect();
        nodes.sort();
        nodes
            .into_iter()
            .filter(|n| self.remove(n, nodeeni))
            .collect()
    }

    fn remove(&self, node: &str, nodeeni: &str) -> bool {
        let removed = self
            .0
            .get_mut(node)
            .is_some_and(|mut e| e.remove(nodeeni).is_some());
        self.0.remove_if(node, |_, e| e.is_empty());
        removed
    }

    /// What every NodeENI says of `node`.
    pub fn of(&self, node: &str) -> BTreeMap<String, Part> {
        self.0.get(node).map(|e| e.clone()).unwrap_or_default()
    }
}

/// What a NodeENI actor holds to speak of its nodes: the shared parts and the readiness
/// actor to tell of a change. Disabled (no startup taint, no condition): says nothing.
#[derive(Clone)]
pub struct ReadinessDesk {
    parts: Parts,
    actor: Option<Handle<ReadinessMsg>>,
}

impl ReadinessDesk {
    /// Speaking into `parts`, telling `actor` (`None`: readiness is off).
    pub fn new(parts: Parts, actor: Option<Handle<ReadinessMsg>>) -> Self {
        ReadinessDesk { parts, actor }
    }

    /// A desk that says nothing (readiness off, tests).
    pub fn off() -> Self {
        Self::new(Parts::default(), None)
    }

    /// Whether anyone listens.
    pub fn on(&self) -> bool {
        self.actor.is_some()
    }

    /// `nodeeni` says `now` (and nothing more of `before`'s other nodes); the readiness
    /// actor checks the nodes that changed.
    pub fn say(&self, nodeeni: &str, now: &BTreeMap<String, Part>, before: &BTreeSet<String>) {
        let Some(actor) = &self.actor else {
            return;
        };
        let changed = self.parts.say(nodeeni, now, before);
        if !changed.is_empty() {
            actor.cast(ReadinessMsg::Check(changed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nodeeni_replaces_only_its_own_parts() {
        let parts = Parts::default();
        let ready = Part::Ready { interfaces: 1 };
        let waiting = Part::Pending {
            ready: 0,
            wanted: 1,
            agent_silent: None,
        };
        let now: BTreeMap<String, Part> = [
            ("n1".to_string(), ready.clone()),
            ("n2".into(), waiting.clone()),
        ]
        .into();
        assert_eq!(parts.say("a", &now, &BTreeSet::new()), ["n1", "n2"]);
        assert_eq!(parts.say("b", &now, &BTreeSet::new()), ["n1", "n2"]);
        assert!(
            parts.say("a", &now, &BTreeSet::new()).is_empty(),
            "unchanged"
        );
        let fewer: BTreeMap<String, Part> = [("n1".to_string(), ready.clone())].into();
        let before: BTreeSet<String> = now.keys().cloned().collect();
        assert_eq!(parts.say("a", &fewer, &before), ["n2"]);
        assert_eq!(parts.of("n2").len(), 1, "b's part stays");
        assert_eq!(parts.forget("b"), ["n1", "n2"]);
        assert!(parts.of("n2").is_empty());
        assert_eq!(parts.of("n1"), [("a".to_string(), ready)].into());
    }
}
