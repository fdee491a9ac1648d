//! The NodeENI actor: one per NodeENI. It holds the spec and the matching nodes, plans
//! the desired slots, runs one attachment actor per slot as a supervised child, hands
//! the ENIs of slots that disappear to the cleanup pool, writes the NodeENI's status
//! (the only writer), records Events, and owns the finalizer. The work itself is in
//! [`super::nodeeni_ops`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::time::Instant;

use super::attachment::{AttachmentMsg, SlotDeps, SlotReport, SlotTiming};
use super::cleanup::CleanupMsg;
use super::instances::InstanceBatcher;
use super::limited_ec2::LimitedEc2;
use super::nodeeni_ops as ops;
use crate::aws::Eni;
use crate::aws::resolve::Resolver;
use crate::k8s::status::Problem;
use crate::k8s::{Cluster, NodeENI, NodeENIStatus, NodeView, Notice};
use crate::plan::slots::{DesiredSlot, ResolvedSpec, SlotKey};
use crate::supervision::{ChildExit, Handle, RestartPolicy, RestartTracker};

/// Messages of a NodeENI actor.
pub enum NodeEniMsg {
    /// The NodeENI object changed (spec, deletion, finalizers, or its own status).
    Spec(Box<NodeENI>),
    /// Every node matching the selector (after the root's first or a new resync).
    Nodes(Vec<NodeView>),
    /// A node that matched before or matches now changed.
    Node(NodeView),
    /// A node that matched was deleted.
    NodeGone(String),
    /// A slot's progress.
    Report(SlotKey, SlotReport),
    /// An Event a slot wants recorded.
    SlotNotice(Notice),
    /// The cleanup pool finished with an ENI.
    Cleaned(String, Result<(), super::cleanup::CleanupError>),
    /// Resolve, sweep, reconcile children, progress a deletion.
    Tick,
    /// Write the status if it changed.
    Flush,
    /// Restart a failed slot.
    RestartSlot(SlotKey),
    /// The desired (instance, subnet) pairs, or `None` if not settled (orphan sweep).
    Desired(RpcReplyPort<Option<HashSet<(String, String)>>>),
}

/// What every NodeENI actor shares.
pub struct NodeEniDeps {
    /// The cluster.
    pub cluster: Arc<dyn Cluster>,
    /// EC2 at rollout priority.
    pub ec2: LimitedEc2,
    /// Name resolution and limits.
    pub resolver: Arc<Resolver>,
    /// Batched instance lookups.
    pub instances: InstanceBatcher,
    /// The cleanup pool.
    pub cleanup: Handle<CleanupMsg>,
    /// Cluster name (ownership).
    pub cluster_name: String,
    /// Slot timing.
    pub timing: SlotTiming,
    /// Restart policy for slots.
    pub restart: RestartPolicy,
    /// Full re-listing of this NodeENI's ENIs (drift and leak detection).
    pub resync_interval: Duration,
    /// Status writes are batched over this long.
    pub status_debounce: Duration,
}

/// How a NodeENI actor starts.
pub struct NodeEniArgs {
    /// The object.
    pub nodeeni: NodeENI,
    /// Matching nodes, when the root has them.
    pub nodes: Option<Vec<NodeView>>,
    /// Shared dependencies.
    pub deps: Arc<NodeEniDeps>,
}

/// One slot, from the NodeENI's side.
pub struct Slot {
    pub(super) desired: DesiredSlot,
    pub(super) actor: Option<ActorRef<AttachmentMsg>>,
    pub(super) report: Option<SlotReport>,
    pub(super) restarts: RestartTracker,
    pub(super) failing: bool,
    pub(super) since: Instant,
}

/// The actor's state.
pub struct NodeEniState {
    pub(super) deps: Arc<NodeEniDeps>,
    pub(super) slot_deps: Arc<SlotDeps>,
    pub(super) obj: NodeENI,
    pub(super) nodes: Option<BTreeMap<String, NodeView>>,
    pub(super) resolved: Option<ResolvedSpec>,
    pub(super) resolved_generation: Option<i64>,
    pub(super) problems: Vec<Problem>,
    pub(super) skipped: Vec<String>,
    pub(super) slots: BTreeMap<SlotKey, Slot>,
    pub(super) finalizer_ok: bool,
    pub(super) last_sweep: Option<Instant>,
    pub(super) swept: HashMap<SlotKey, Vec<Eni>>,
    pub(super) pending_cleanup: HashSet<String>,
    pub(super) incarnations: HashMap<SlotKey, u32>,
    pub(super) last_status: Option<NodeENIStatus>,
    pub(super) flush_scheduled: bool,
    pub(super) tick_at: Option<Instant>,
    pub(super) backoff: Duration,
}

impl NodeEniState {
    pub(super) fn name(&self) -> String {
        self.obj.metadata.name.clone().unwrap_or_default()
    }

    pub(super) fn generation(&self) -> i64 {
        self.obj.metadata.generation.unwrap_or(0)
    }

    pub(super) fn deleting(&self) -> bool {
        self.obj.metadata.deletion_timestamp.is_some()
    }

    /// Schedules a `Tick` after `delay`, unless one is due sooner.
    pub(super) fn tick_in(&mut self, myself: &ActorRef<NodeEniMsg>, delay: Duration) {
        let at = Instant::now() + delay;
        if self.tick_at.is_some_and(|t| t <= at) {
            return;
        }
        self.tick_at = Some(at);
        myself.send_after(delay, || NodeEniMsg::Tick);
    }

    /// Schedules a status write.
    pub(super) fn dirty(&mut self, myself: &ActorRef<NodeEniMsg>) {
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            myself.send_after(self.deps.status_debounce, || NodeEniMsg::Flush);
        }
    }
}

/// The actor.
pub struct NodeEniActor;

impl Actor for NodeEniActor {
    type Msg = NodeEniMsg;
    type State = NodeEniState;
    type Arguments = NodeEniArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<NodeEniMsg>,
        args: NodeEniArgs,
    ) -> Result<NodeEniState, ActorProcessingErr> {
        let deps = args.deps;
        let obj = args.nodeeni;
        let slot_deps = Arc::new(SlotDeps {
            ec2: deps.ec2.clone(),
            resolver: deps.resolver.clone(),
            instances: deps.instances.clone(),
            cleanup: deps.cleanup.clone(),
            cluster: deps.cluster_name.clone(),
            nodeeni_name: obj.metadata.name.clone().unwrap_or_default(),
            nodeeni_uid: obj.metadata.uid.clone().unwrap_or_default(),
            timing: deps.timing,
        });
        let mut st = NodeEniState {
            slot_deps,
            nodes: args
                .nodes
                .map(|n| n.into_iter().map(|v| (v.name.clone(), v)).collect()),
            last_status: obj.status.clone(),
            obj,
            resolved: None,
            resolved_generation: None,
            problems: Vec::new(),
            skipped: Vec::new(),
            slots: BTreeMap::new(),
            finalizer_ok: false,
            last_sweep: None,
            swept: HashMap::new(),
            pending_cleanup: HashSet::new(),
            incarnations: HashMap::new(),
            flush_scheduled: false,
            tick_at: None,
            backoff: Duration::from_millis(500),
            deps,
        };
        st.tick_in(&myself, Duration::ZERO);
        Ok(st)
    }

    async fn handle(
        &self,
        myself: ActorRef<NodeEniMsg>,
        msg: NodeEniMsg,
        st: &mut NodeEniState,
    ) -> Result<(), ActorProcessingErr> {
        let span = tracing::info_span!("nodeeni", name = %st.name());
        dispatch(myself, msg, st).instrument(span).await
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<NodeEniMsg>,
        evt: SupervisionEvent,
        st: &mut NodeEniState,
    ) -> Result<(), ActorProcessingErr> {
        let Some(exit) = ChildExit::of(evt) else {
            return Ok(());
        };
        let Some((key, slot)) = st.slots.iter_mut().find(|(_, s)| exit.is(s.actor.as_ref())) else {
            // A slot that was torn down on purpose.
            return Ok(());
        };
        slot.actor = None;
        let decision = exit.restart(
            &mut slot.restarts,
            &st.deps.restart,
            "attachment",
            &key.to_string(),
        );
        slot.failing = decision.over_budget;
        let key = key.clone();
        myself.send_after(decision.delay, move || NodeEniMsg::RestartSlot(key));
        st.dirty(&myself);
        Ok(())
    }
}

/// Routes one message to what handles it.
async fn dispatch(
    myself: ActorRef<NodeEniMsg>,
    msg: NodeEniMsg,
    st: &mut NodeEniState,
) -> Result<(), ActorProcessingErr> {
    match msg {
        NodeEniMsg::Spec(obj) => ops::on_spec(&myself, st, *obj),
        NodeEniMsg::Nodes(nodes) => {
            st.nodes = Some(nodes.into_iter().map(|v| (v.name.clone(), v)).collect());
            // A full node set can settle the plan for the first time.
            st.tick_in(&myself, Duration::ZERO);
        }
        NodeEniMsg::Node(view) => {
            let name = view.name.clone();
            if let Some(nodes) = &mut st.nodes {
                nodes.insert(name.clone(), view);
            }
            ops::replan(&myself, st, Some(&name)).await?;
        }
        NodeEniMsg::NodeGone(name) => {
            if let Some(nodes) = &mut st.nodes {
                nodes.remove(&name);
            }
            ops::replan(&myself, st, Some(&name)).await?;
        }
        NodeEniMsg::Report(key, report) => ops::on_report(&myself, st, key, report),
        NodeEniMsg::SlotNotice(notice) => {
            if let Err(e) = st.deps.cluster.publish(&st.obj, notice).await {
                tracing::debug!(error = %e, "could not record an Event");
            }
        }
        NodeEniMsg::Cleaned(eni_id, result) => ops::on_cleaned(&myself, st, eni_id, result).await,
        NodeEniMsg::Tick => {
            st.tick_at = None;
            ops::tick(&myself, st).await?;
        }
        NodeEniMsg::Flush => {
            st.flush_scheduled = false;
            ops::flush(&myself, st).await;
        }
        NodeEniMsg::RestartSlot(key) => ops::restart_slot(&myself, st, &key).await?,
        NodeEniMsg::Desired(reply) => {
            let settled = st.resolved.is_some() && st.nodes.is_some() && !st.deleting();
            let set = settled.then(|| {
                st.slots
                    .keys()
                    .map(|k| (k.instance_id.clone(), k.subnet_id.clone()))
                    .collect()
            });
            let _ = reply.send(set);
        }
    }
    Ok(())
}
