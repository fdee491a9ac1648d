//! The node labels the root keeps: only those some NodeENI's `nodeSelector` names. An
//! EKS Node carries about twenty labels (most of a node view's memory at 50,000 nodes);
//! selectors name one or two. A NodeENI naming a key the stored nodes were stripped of
//! makes the root list the Nodes again (see [`KeptLabels::update`]).

use std::collections::{BTreeSet, HashMap};

use crate::k8s::{NodeENI, NodeView};
use crate::plan::selector::{keep_named, named_keys};

/// The label keys kept of every node.
#[derive(Default)]
pub struct KeptLabels {
    keys: BTreeSet<String>,
}

impl KeptLabels {
    /// Takes in the NodeENIs' selectors; whether one names a key not kept until now (the
    /// stored nodes lack it: the Nodes must be listed again before anyone plans with it).
    pub fn update(&mut self, nodeenis: &HashMap<String, NodeENI>) -> bool {
        let now = named_keys(nodeenis.values().map(|o| &o.spec.node_selector));
        let grew = !now.is_subset(&self.keys);
        self.keys = now;
        grew
    }

    /// The keys kept.
    pub fn keys(&self) -> &BTreeSet<String> {
        &self.keys
    }

    /// Drops the labels of `view` no selector names (the watch drops them as it reads
    /// each Node; a watch started before the selectors shrank keeps a few more).
    pub fn strip(&self, view: &mut NodeView) {
        keep_named(&mut view.labels, &self.keys);
    }
}
