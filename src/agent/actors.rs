//! The agent's actors: a watch actor (NodeENIs → this node's desired interfaces), a
//! netlink actor (link dump, link events, and the only writer of link changes), and one
//! reconciler actor that compares the two, asks the netlink actor for changes, and
//! reports on the Node. One reconciler rather than an actor per link: link changes take
//! microseconds, and one actor sees every link at once (a MAC moving between links, a
//! link appearing after its attachment) without coordination. The root restarts any of
//! them with backoff; the others keep running.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::desired::{DesiredLink, LinkReport, LinkState, desired_links, plan, report};
use super::links::{LinkError, LinkEvent, Links};
use super::{AgentCluster, REPORT_ANNOTATION};
use crate::k8s::{Change, NodeENI};
use crate::supervision::{Handle, forward, retry_delay};
use crate::telemetry::metric;

/// Opens the netlink port: request handle plus event stream.
pub type Connector = Arc<
    dyn Fn() -> Result<(Arc<dyn Links>, BoxStream<'static, LinkEvent>), LinkError> + Send + Sync,
>;

/// Messages of the reconciler.
pub enum ReconcilerMsg {
    /// This node's desired interfaces, complete.
    Desired(BTreeMap<String, DesiredLink>),
    /// Every link, from a fresh dump, and the netlink actor to ask for changes.
    Links(Vec<LinkState>, ActorRef<NetlinkMsg>),
    /// One link changed or went away.
    Link(LinkEvent),
    /// A change on the link with this MAC failed.
    Failed(String, String),
    /// Retry writing the report.
    Report,
    /// A failed link change's backoff is over.
    Retry,
}

/// Messages of the netlink actor.
pub enum NetlinkMsg {
    /// A kernel event.
    Event(LinkEvent),
    /// Dump every link again for the reconciler (after it restarted).
    Redump,
    /// Apply a change to a link (for the interface with `mac`).
    Apply {
        /// MAC (for error reports).
        mac: String,
        /// Interface index.
        index: u32,
        /// Bring it up.
        up: bool,
        /// Set this MTU.
        mtu: Option<u32>,
    },
}

/// The reconciler's state.
pub struct ReconcilerState {
    node: String,
    cluster: Arc<dyn AgentCluster>,
    desired: BTreeMap<String, DesiredLink>,
    links: HashMap<u32, LinkState>,
    netlink: Option<ActorRef<NetlinkMsg>>,
    errors: HashMap<String, String>,
    reported: Option<String>,
    retry_scheduled: bool,
    /// Links whose change failed: how often, and not to be tried again before when.
    failing: HashMap<String, (u32, Instant)>,
}

/// The reconciler actor.
pub struct Reconciler;

impl ReconcilerState {
    fn link_for(&self, mac: &str) -> Option<&LinkState> {
        self.links.values().find(|l| l.mac == mac)
    }

    fn reconcile(&mut self) {
        let now = Instant::now();
        for d in self.desired.values() {
            let Some(link) = self.link_for(&d.mac) else {
                continue;
            };
            if self.failing.get(&d.mac).is_some_and(|(_, at)| *at > now) {
                continue;
            }
            let change = plan(d, link);
            if change.is_empty() {
                continue;
            }
            if let Some(n) = &self.netlink {
                let _ = n.cast(NetlinkMsg::Apply {
                    mac: d.mac.clone(),
                    index: link.index,
                    up: change.up,
                    mtu: change.mtu,
                });
            }
        }
        let configured = self
            .desired
            .values()
            .filter(|d| self.link_for(&d.mac).is_some_and(|l| plan(d, l).is_empty()))
            .count();
        metrics::gauge!(metric::AGENT_LINKS_MANAGED).set(self.desired.len() as f64);
        metrics::gauge!(metric::AGENT_LINKS_CONFIGURED).set(configured as f64);
    }

    async fn write_report(&mut self, myself: &ActorRef<ReconcilerMsg>) {
        let reports: BTreeMap<&String, LinkReport> = self
            .desired
            .iter()
            .map(|(mac, d)| {
                (
                    mac,
                    report(d, self.link_for(mac), self.errors.get(mac).cloned()),
                )
            })
            .collect();
        let Ok(json) = serde_json::to_string(&reports) else {
            return;
        };
        if self.reported.as_ref() == Some(&json) {
            return;
        }
        match self
            .cluster
            .annotate_node(&self.node, REPORT_ANNOTATION, &json)
            .await
        {
            Ok(()) => {
                metrics::counter!(metric::AGENT_REPORT_WRITES_TOTAL).increment(1);
                self.reported = Some(json);
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not report on the Node; retrying");
                metrics::counter!(metric::AGENT_ERRORS_TOTAL, "error" => e.label()).increment(1);
                if !self.retry_scheduled {
                    self.retry_scheduled = true;
                    myself.send_after(Duration::from_secs(5), || ReconcilerMsg::Report);
                }
            }
        }
    }
}

/// A fraction in `[0, 1)` that differs between links: their retries spread apart.
fn jitter(mac: &str) -> f64 {
    let h = mac.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h % 1000) as f64 / 1000.0
}

/// Arguments of the reconciler.
pub struct ReconcilerArgs {
    /// This node's name.
    pub node: String,
    /// Where reports go.
    pub cluster: Arc<dyn AgentCluster>,
}

impl Actor for Reconciler {
    type Msg = ReconcilerMsg;
    type State = ReconcilerState;
    type Arguments = ReconcilerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<ReconcilerMsg>,
        args: ReconcilerArgs,
    ) -> Result<ReconcilerState, ActorProcessingErr> {
        Ok(ReconcilerState {
            node: args.node,
            cluster: args.cluster,
            desired: BTreeMap::new(),
            links: HashMap::new(),
            netlink: None,
            errors: HashMap::new(),
            reported: None,
            retry_scheduled: false,
            failing: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<ReconcilerMsg>,
        msg: ReconcilerMsg,
        st: &mut ReconcilerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ReconcilerMsg::Desired(d) => st.desired = d,
            ReconcilerMsg::Links(all, netlink) => {
                st.links = all.into_iter().map(|l| (l.index, l)).collect();
                st.netlink = Some(netlink);
            }
            ReconcilerMsg::Link(LinkEvent::Changed(l)) => {
                st.errors.remove(&l.mac);
                st.failing.remove(&l.mac);
                st.links.insert(l.index, l);
            }
            ReconcilerMsg::Link(LinkEvent::Removed(index)) => {
                st.links.remove(&index);
            }
            ReconcilerMsg::Failed(mac, error) => {
                // Not again at once: the same change would fail the same way.
                let failures = st.failing.get(&mac).map_or(1, |(n, _)| n + 1);
                let delay = retry_delay(
                    failures,
                    Duration::from_secs(1),
                    Duration::from_secs(60),
                    jitter(&mac),
                );
                st.failing
                    .insert(mac.clone(), (failures, Instant::now() + delay));
                myself.send_after(delay, || ReconcilerMsg::Retry);
                st.errors.insert(mac, error);
            }
            ReconcilerMsg::Report => st.retry_scheduled = false,
            ReconcilerMsg::Retry => {}
        }
        st.reconcile();
        st.write_report(&myself).await;
        Ok(())
    }
}

/// Arguments of the netlink actor.
#[allow(missing_docs)]
pub struct NetlinkArgs {
    /// Opens netlink.
    pub connect: Connector,
    pub reconciler: Handle<ReconcilerMsg>,
}

/// The netlink actor's state.
pub struct NetlinkState {
    links: Arc<dyn Links>,
    reconciler: Handle<ReconcilerMsg>,
    events: JoinHandle<()>,
}

/// The netlink actor.
pub struct Netlink;

impl Actor for Netlink {
    type Msg = NetlinkMsg;
    type State = NetlinkState;
    type Arguments = NetlinkArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<NetlinkMsg>,
        args: NetlinkArgs,
    ) -> Result<NetlinkState, ActorProcessingErr> {
        let (links, stream) = (args.connect)()?;
        // Subscribe first, then dump: no change between the two is missed.
        let events = forward(stream, myself.clone(), NetlinkMsg::Event);
        let all = links.dump().await?;
        args.reconciler
            .cast(ReconcilerMsg::Links(all, myself.clone()));
        Ok(NetlinkState {
            links,
            reconciler: args.reconciler,
            events,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<NetlinkMsg>,
        st: &mut NetlinkState,
    ) -> Result<(), ActorProcessingErr> {
        st.events.abort();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<NetlinkMsg>,
        msg: NetlinkMsg,
        st: &mut NetlinkState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            NetlinkMsg::Redump => {
                let all = st.links.dump().await?;
                st.reconciler.cast(ReconcilerMsg::Links(all, myself));
            }
            NetlinkMsg::Event(e) => {
                metrics::counter!(metric::AGENT_NETLINK_EVENTS_TOTAL).increment(1);
                st.reconciler.cast(ReconcilerMsg::Link(e));
            }
            NetlinkMsg::Apply {
                mac,
                index,
                up,
                mtu,
            } => {
                tracing::info!(%mac, index, up, ?mtu, "configuring interface");
                match st.links.set(index, up, mtu).await {
                    Ok(()) => {
                        if up {
                            metrics::counter!(metric::AGENT_LINK_CHANGES_TOTAL, "change" => "up")
                                .increment(1);
                        }
                        if mtu.is_some() {
                            metrics::counter!(metric::AGENT_LINK_CHANGES_TOTAL, "change" => "mtu")
                                .increment(1);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(%mac, error = %e, "could not configure interface");
                        metrics::counter!(metric::AGENT_ERRORS_TOTAL, "error" => e.label())
                            .increment(1);
                        st.reconciler
                            .cast(ReconcilerMsg::Failed(mac, e.to_string()));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Arguments of the watch actor.
#[allow(missing_docs)]
pub struct WatchArgs {
    /// This node's name.
    pub node: String,
    /// MTU for attachments that ask for none (0: leave alone).
    pub default_mtu: u32,
    /// Where NodeENIs come from.
    pub cluster: Arc<dyn AgentCluster>,
    pub reconciler: Handle<ReconcilerMsg>,
}

/// Messages of the watch actor.
pub enum WatchMsg {
    /// A NodeENI watch change.
    Change(Box<Change<NodeENI>>),
    /// Send the reconciler the desired interfaces again (after it restarted).
    Resend,
}

/// The watch actor's state.
pub struct WatchState {
    args: WatchArgs,
    nodeenis: BTreeMap<String, NodeENI>,
    task: JoinHandle<()>,
}

/// The watch actor: keeps every NodeENI, sends the reconciler this node's share.
pub struct Watch;

impl Actor for Watch {
    type Msg = WatchMsg;
    type State = WatchState;
    type Arguments = WatchArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<WatchMsg>,
        args: WatchArgs,
    ) -> Result<WatchState, ActorProcessingErr> {
        let task = forward(args.cluster.nodeenis(), myself, |c| {
            WatchMsg::Change(Box::new(c))
        });
        Ok(WatchState {
            args,
            nodeenis: BTreeMap::new(),
            task,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<WatchMsg>,
        st: &mut WatchState,
    ) -> Result<(), ActorProcessingErr> {
        st.task.abort();
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<WatchMsg>,
        msg: WatchMsg,
        st: &mut WatchState,
    ) -> Result<(), ActorProcessingErr> {
        let name = |n: &NodeENI| n.metadata.name.clone().unwrap_or_default();
        if let WatchMsg::Change(change) = msg {
            match *change {
                Change::Resync(all) => {
                    st.nodeenis = all.into_iter().map(|n| (name(&n), n)).collect()
                }
                Change::Applied(n) => {
                    st.nodeenis.insert(name(&n), n);
                }
                Change::Deleted(n) => {
                    st.nodeenis.remove(&name(&n));
                }
            }
        }
        let all: Vec<NodeENI> = st.nodeenis.values().cloned().collect();
        let desired = desired_links(&st.args.node, &all, st.args.default_mtu);
        st.args.reconciler.cast(ReconcilerMsg::Desired(desired));
        Ok(())
    }
}
