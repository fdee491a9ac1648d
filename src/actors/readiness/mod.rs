//! The readiness actor: tells each node NodeENIs select whether its ENIs are ready for
//! the pods that need them, in its `networking.k8s.aws/ENIsReady` condition, and removes
//! the startup taint from a node once they are. The rules are
//! [`crate::plan::readiness`]; what each NodeENI says of its nodes comes through the
//! shared [`Parts`], the Nodes and selectors from the root.
//!
//! It decides nothing until the root has listed Nodes, NodeENIs and ENINodes (before
//! that, a node no NodeENI seems to select would lose its taint). A node it wrote is
//! taken to show what was written until the watch says otherwise, so a check repeated
//! before the watch catches up writes nothing again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::time::Instant;

mod msg;
mod parts;
mod tally;
use tally::Tally;

pub use msg::{ReadinessMsg, Selectors};
pub use parts::{Parts, ReadinessDesk};

use crate::k8s::node::{NodeCondition, TaintKey};
use crate::k8s::{Cluster, ClusterError, NodeView, Notice, ObjectRef};
use crate::plan::readiness::{
    Condition, Marks, NodeWrite, PENDING, Silence, Writing, agent_silent, decide, silence, verdict,
};
use crate::plan::selector::matches;
use crate::supervision::retry_delay;

/// How the readiness actor starts.
pub struct ReadinessArgs {
    /// Where Nodes are written.
    pub cluster: Arc<dyn Cluster>,
    /// What the NodeENIs say.
    pub parts: Parts,
    /// What may be written.
    pub writing: Writing,
    /// The startup taint removed from ready nodes (`writing.taint` says whether).
    pub taint: TaintKey,
}

/// The readiness actor.
pub struct ReadinessActor;

/// Its state.
pub struct ReadinessState {
    cluster: Arc<dyn Cluster>,
    parts: Parts,
    writing: Writing,
    taint: TaintKey,
    nodes: HashMap<String, NodeView>,
    selectors: BTreeMap<String, BTreeMap<String, String>>,
    synced: bool,
    /// Failed writes in a row, per node.
    failures: HashMap<String, u32>,
    /// Nodes waiting quietly, with a check due when their quiet time is over.
    quiet: HashSet<String>,
    /// When each node was first seen.
    seen: HashMap<String, Instant>,
    /// What was written on each node and the watch has not shown yet.
    expected: HashMap<String, Expected>,
    /// Each selected node's state, counted in `aws_multi_eni_selected_nodes`.
    tally: Tally,
    /// Nodes whose every ENI is attached and whose agent has not reported them yet.
    silent: HashMap<String, Silent>,
}

/// A node's agent silent about its attached ENIs: since when, and what was done.
struct Silent {
    since: Instant,
    warned: bool,
    /// A check is due when its quiet time after the attach is over.
    timer: bool,
}

/// Writes the watch has not shown yet: until it does (or [`EXPECTED_FOR`] passes), a
/// Node seen without them is an older version, and is taken to show them (else each
/// echo of the first of two writes would make both again).
struct Expected {
    condition: Option<NodeCondition>,
    taint_gone: bool,
    since: Instant,
}

/// How long a write may take to show on the watch.
const EXPECTED_FOR: Duration = Duration::from_secs(30);

impl ReadinessState {
    /// Takes in a Node from the watch, with the writes it does not show yet.
    fn seen_node(&mut self, mut view: NodeView) {
        let name = view.name.clone();
        self.seen.entry(name.clone()).or_insert_with(Instant::now);
        if let Some(e) = self.expected.get(&name) {
            let shows = e
                .condition
                .as_ref()
                .is_none_or(|c| view.enis_ready.as_ref() == Some(c))
                && (!e.taint_gone || !view.taints.contains(&self.taint));
            if shows || e.since.elapsed() >= EXPECTED_FOR {
                self.expected.remove(&name);
            } else {
                if e.condition.is_some() {
                    view.enis_ready.clone_from(&e.condition);
                }
                if e.taint_gone {
                    view.taints.retain(|t| *t != self.taint);
                }
            }
        }
        self.nodes.insert(name, view);
    }
}

impl ReadinessState {
    fn check(&mut self, me: &ActorRef<ReadinessMsg>, node: &str) -> Option<NodeCall> {
        if !self.synced {
            return None;
        }
        let view = self.nodes.get(node)?;
        if view.deleting {
            return None;
        }
        let said = self.parts.of(node);
        let parts: Vec<(&str, Option<&crate::plan::readiness::Part>)> = self
            .selectors
            .iter()
            .filter(|(_, sel)| matches(sel, &view.labels))
            .map(|(name, _)| (name.as_str(), said.get(name)))
            .collect();
        let verdict = verdict(&parts);
        let silent = agent_silent(&parts);
        self.tally.set(node, verdict.as_ref());
        // The Node's age by its creation time, or since this actor first saw it (on
        // tokio's clock, which tests pause), whichever is longer.
        let created_ago = view
            .created
            .map(|c| jiff::Timestamp::now().duration_since(c))
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or(Duration::ZERO);
        let seen_ago = self.seen.get(node).map_or(Duration::ZERO, |t| t.elapsed());
        let age = created_ago.max(seen_ago);
        let shown = view.enis_ready.as_ref().map(|c| Condition {
            ready: c.ready,
            reason: c.reason.clone(),
            message: c.message.clone(),
        });
        let marks = Marks {
            tainted: view.taints.contains(&self.taint),
            condition: shown.as_ref(),
            age,
            unspoken: parts.iter().any(|(_, p)| p.is_none()),
        };
        let pending_quietly =
            verdict.as_ref().is_some_and(|v| v.reason == PENDING) && marks.condition.is_none();
        let write = decide(marks, verdict, self.writing);
        // A node whose every ENI is attached but whose agent stays silent for its quiet
        // time after that: one Warning Event (until it is ready again).
        let warn_silent = match silent {
            Some(message) => {
                let s = self.silent.entry(node.to_string()).or_insert(Silent {
                    since: Instant::now(),
                    warned: false,
                    timer: false,
                });
                match silence(s.since.elapsed(), self.writing.quiet_for, s.warned) {
                    Silence::Warn => {
                        s.warned = true;
                        Some(message)
                    }
                    Silence::CheckIn(after) if !s.timer => {
                        s.timer = true;
                        let name = node.to_string();
                        me.send_after(after, move || ReadinessMsg::QuietOver(name));
                        None
                    }
                    Silence::CheckIn(_) | Silence::Said => None,
                }
            }
            None => {
                self.silent.remove(node);
                None
            }
        };
        if pending_quietly
            && write.condition.is_none()
            && age < self.writing.quiet_for
            && self.quiet.insert(node.to_string())
        {
            let name = node.to_string();
            me.send_after(self.writing.quiet_for - age, move || {
                ReadinessMsg::QuietOver(name)
            });
        }
        if let Some(message) = warn_silent {
            let on = ObjectRef {
                name: node.to_string(),
                uid: view.uid.clone(),
            };
            let cluster = self.cluster.clone();
            tokio::spawn(async move {
                let notice = Notice::warning("ENIsNotReady", "Reconcile", message);
                if let Err(e) = cluster.publish_on_node(&on, notice).await {
                    tracing::debug!(node = %on.name, error = %e, "could not record the Event");
                }
            });
        }
        if write == NodeWrite::default() {
            return None;
        }
        Some(NodeCall {
            node: ObjectRef {
                name: node.to_string(),
                uid: view.uid.clone(),
            },
            transition: view.enis_ready.as_ref().map(|c| c.ready)
                != write.condition.as_ref().map(|c| c.ready),
            taint_at: view.taints.iter().position(|t| *t == self.taint),
            condition: write.condition.map(|c| NodeCondition {
                ready: c.ready,
                reason: c.reason,
                message: c.message,
            }),
            remove_taint: write.remove_taint,
            warn: write.warn,
        })
    }

    /// Makes the writes; on success the node is taken to show them.
    async fn run(&mut self, me: &ActorRef<ReadinessMsg>, call: NodeCall) {
        let name = call.node.name.clone();
        match call.execute(&*self.cluster, &self.taint).await {
            Ok(()) => {
                self.failures.remove(&name);
                if let Some(view) = self.nodes.get_mut(&name) {
                    if let Some(c) = &call.condition {
                        view.enis_ready = Some(c.clone());
                    }
                    if call.remove_taint {
                        view.taints.retain(|t| *t != self.taint);
                    }
                }
                self.expected.insert(
                    name,
                    Expected {
                        condition: call.condition,
                        taint_gone: call.remove_taint,
                        since: Instant::now(),
                    },
                );
            }
            Err(e) => {
                let failures = self.failures.entry(name.clone()).or_default();
                *failures += 1;
                let delay = retry_delay(
                    *failures,
                    Duration::from_secs(1),
                    Duration::from_secs(60),
                    rand::random::<f64>(),
                );
                tracing::warn!(node = %name, error = %e, ?delay, "could not write the node's readiness");
                metrics::counter!(crate::telemetry::metric::RECONCILE_ERRORS_TOTAL, "error" => e.label())
                    .increment(1);
                me.send_after(delay, move || ReadinessMsg::Check(vec![name]));
            }
        }
    }
}

/// The writes one node needs.
struct NodeCall {
    node: ObjectRef,
    /// The condition to write.
    condition: Option<NodeCondition>,
    /// Remove the startup taint.
    remove_taint: bool,
    /// Say it in a Warning Event too.
    warn: bool,
    transition: bool,
    /// Where the taint was seen.
    taint_at: Option<usize>,
}

impl NodeCall {
    async fn execute(&self, cluster: &dyn Cluster, taint: &TaintKey) -> Result<(), ClusterError> {
        if let Some(c) = &self.condition {
            cluster
                .set_node_condition(&self.node.name, c, self.transition)
                .await?;
            if self.warn {
                let notice = Notice::warning("ENIsNotReady", "Reconcile", c.message.clone());
                if let Err(e) = cluster.publish_on_node(&self.node, notice).await {
                    tracing::debug!(node = %self.node.name, error = %e, "could not record the Event");
                }
            }
        }
        if let (true, Some(at)) = (self.remove_taint, self.taint_at) {
            cluster
                .remove_node_taint(&self.node.name, taint, at)
                .await?;
            tracing::info!(node = %self.node.name, taint = %taint.key, "ENIs ready: startup taint removed");
        }
        Ok(())
    }
}

impl Actor for ReadinessActor {
    type Msg = ReadinessMsg;
    type State = ReadinessState;
    type Arguments = ReadinessArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<ReadinessMsg>,
        args: ReadinessArgs,
    ) -> Result<ReadinessState, ActorProcessingErr> {
        Ok(ReadinessState {
            cluster: args.cluster,
            parts: args.parts,
            writing: args.writing,
            taint: args.taint,
            nodes: HashMap::new(),
            selectors: BTreeMap::new(),
            synced: false,
            failures: HashMap::new(),
            quiet: HashSet::new(),
            seen: HashMap::new(),
            expected: HashMap::new(),
            tally: Tally::default(),
            silent: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<ReadinessMsg>,
        msg: ReadinessMsg,
        st: &mut ReadinessState,
    ) -> Result<(), ActorProcessingErr> {
        let nodes: Vec<String> = match msg {
            ReadinessMsg::Nodes(list, selectors) => {
                if let Some(selectors) = selectors {
                    st.selectors = selectors;
                }
                let names: HashSet<&String> = list.iter().map(|v| &v.name).collect();
                st.nodes.retain(|n, _| names.contains(n));
                st.seen.retain(|n, _| names.contains(n));
                st.expected.retain(|n, _| names.contains(n));
                st.silent.retain(|n, _| names.contains(n));
                for view in list {
                    st.seen_node(view);
                }
                st.nodes.keys().cloned().collect()
            }
            ReadinessMsg::Node(view) => {
                let name = view.name.clone();
                st.seen_node(*view);
                vec![name]
            }
            ReadinessMsg::NodeGone(name) => {
                st.tally.set(&name, None);
                st.nodes.remove(&name);
                st.failures.remove(&name);
                st.seen.remove(&name);
                st.expected.remove(&name);
                st.silent.remove(&name);
                Vec::new()
            }
            ReadinessMsg::Selectors(selectors) => {
                st.selectors = selectors;
                st.nodes.keys().cloned().collect()
            }
            ReadinessMsg::Synced => {
                st.synced = true;
                st.nodes.keys().cloned().collect()
            }
            ReadinessMsg::Check(nodes) => nodes,
            ReadinessMsg::QuietOver(node) => {
                st.quiet.remove(&node);
                if let Some(s) = st.silent.get_mut(&node) {
                    s.timer = false;
                }
                vec![node]
            }
        };
        for node in nodes {
            if let Some(call) = st.check(&myself, &node) {
                st.run(&myself, call).await;
            }
        }
        Ok(())
    }
}
