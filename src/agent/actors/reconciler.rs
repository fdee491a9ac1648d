//! The reconciler: compares this node's desired interfaces with the links, asks the
//! netlink actor for changes (backing off per link when the kernel refuses one), and
//! reports in the node's ENINode status.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::time::Instant;

use super::msg::{NetlinkMsg, ReconcilerMsg};
use crate::agent::AgentCluster;
use crate::agent::desired::{DesiredLink, LinkState, pick, plan, report};
use crate::agent::devices::{DevicePlugin, Devices};
use crate::agent::links::LinkEvent;
use crate::agent::pci::PciDevices;
use crate::k8s::ENINodeStatus;
use crate::supervision::retry_delay;
use crate::telemetry::metric;

/// The reconciler's state.
pub struct ReconcilerState {
    node: String,
    cluster: Arc<dyn AgentCluster>,
    desired: BTreeMap<String, DesiredLink>,
    links: HashMap<u32, LinkState>,
    netlink: Option<ActorRef<NetlinkMsg>>,
    errors: HashMap<String, String>,
    reported: Option<ENINodeStatus>,
    retry_scheduled: bool,
    /// Links whose change failed: how often, and not to be tried again before when.
    failing: HashMap<String, (u32, Instant)>,
    /// The DPDK ENIs' devices.
    devices: Devices,
    /// When the devices are looked at again after a failed change, if that is planned.
    devices_retry: Option<Instant>,
}

/// The reconciler actor.
pub struct Reconciler;

impl ReconcilerState {
    /// The ENI's own device for `mac`: never a VLAN, bridge or bond sharing its MAC.
    fn link_for(&self, mac: &str) -> Option<&LinkState> {
        pick(self.links.values(), mac).ok()
    }

    fn reconcile(&mut self) {
        let now = Instant::now();
        // A DPDK ENI's device is bound, not configured (see `Devices`).
        for d in self.desired.values().filter(|d| d.dpdk.is_none()) {
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
        let links = self.desired.values().filter(|d| d.dpdk.is_none());
        let configured = links
            .clone()
            .filter(|d| self.link_for(&d.mac).is_some_and(|l| plan(d, l).is_empty()))
            .count();
        metrics::gauge!(metric::AGENT_LINKS_MANAGED).set(links.count() as f64);
        metrics::gauge!(metric::AGENT_LINKS_CONFIGURED).set(configured as f64);
    }

    async fn write_report(&mut self, myself: &ActorRef<ReconcilerMsg>) {
        let interfaces: Vec<_> = self
            .desired
            .iter()
            .map(|(mac, d)| match d.dpdk {
                Some(_) => self
                    .devices
                    .report(d, self.link_for(mac).map(|l| l.name.clone())),
                None => report(
                    d,
                    pick(self.links.values(), mac),
                    self.errors.get(mac).cloned(),
                ),
            })
            .collect();
        let status = ENINodeStatus {
            configured_count: i32::try_from(interfaces.iter().filter(|i| i.configured).count())
                .unwrap_or(i32::MAX),
            eni_count: i32::try_from(interfaces.len()).unwrap_or(i32::MAX),
            interfaces,
        };
        if self.reported.as_ref() == Some(&status) {
            return;
        }
        if self.desired.is_empty() && self.reported.is_none() {
            // Nothing to report on, and maybe no ENINode to report in.
            self.reported = Some(status);
            return;
        }
        match self.cluster.report(&self.node, &status).await {
            Ok(()) => {
                metrics::counter!(metric::AGENT_REPORT_WRITES_TOTAL).increment(1);
                self.reported = Some(status);
            }
            // The ENINode went (its last ENI did): nothing is left to report on.
            Err(crate::k8s::ClusterError::NotFound(_)) => self.reported = Some(status),
            Err(e) => {
                tracing::warn!(error = %e, "could not report in the ENINode; retrying");
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
    use std::hash::{Hash, Hasher};
    // `DefaultHasher::new()` has fixed keys: the same MAC spreads the same way each time.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    mac.hash(&mut h);
    (h.finish() % 1000) as f64 / 1000.0
}

/// Arguments of the reconciler.
pub struct ReconcilerArgs {
    /// This node's name.
    pub node: String,
    /// Where reports go.
    pub cluster: Arc<dyn AgentCluster>,
    /// The PCI devices (for DPDK ENIs).
    pub pci: Arc<dyn PciDevices>,
    /// The SR-IOV network device plugin the bound devices are offered to, if any.
    pub device_plugin: Option<DevicePlugin>,
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
            devices: Devices::new(args.pci, args.device_plugin),
            devices_retry: None,
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
            ReconcilerMsg::DevicesRetry => st.devices_retry = None,
        }
        st.reconcile();
        let links = &st.links;
        let again = st
            .devices
            .reconcile(
                &st.desired,
                |mac| pick(links.values(), mac).ok().map(|l| l.name.clone()),
                &*st.cluster,
                &st.node,
            )
            .await;
        if let Some(delay) = again {
            let at = Instant::now() + delay;
            if st.devices_retry.is_none_or(|planned| at < planned) {
                st.devices_retry = Some(at);
                myself.send_after(delay, || ReconcilerMsg::DevicesRetry);
            }
        }
        st.write_report(&myself).await;
        Ok(())
    }
}
