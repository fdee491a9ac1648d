//! The reconciler's DPDK part: brings each DPDK ENI's PCI device to the driver its
//! NodeENI asks for ([`super::dpdk`] decides, [`super::pci`] acts), remembers what it saw
//! for the report, and offers the bound devices to the SR-IOV network device plugin
//! ([`super::device_plugin`]), restarting the plugin's pod on this node when its
//! configuration changed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::AgentCluster;
use super::desired::DesiredLink;
use super::device_plugin::{self, Offer};
use super::dpdk::{self, DeviceSeen, DeviceStep};
use super::pci::{PciDevices, PciError, valid_address};
use crate::k8s::{DpdkReport, InterfaceReport};
use crate::supervision::retry_delay;
use crate::telemetry::metric;

/// Where the SR-IOV network device plugin's configuration is, and how to find its pods.
#[derive(Debug, Clone)]
pub struct DevicePlugin {
    /// Its configuration file (`/etc/pcidp/config.json`).
    pub config: PathBuf,
    /// The namespace of its pods.
    pub namespace: String,
    /// The label selector of its pods (`app=sriovdp`).
    pub selector: String,
}

/// The DPDK devices of this node's ENIs, as last seen and changed.
pub struct Devices {
    pci: Arc<dyn PciDevices>,
    plugin: Option<DevicePlugin>,
    /// By MAC: the device's report after the last look.
    seen: BTreeMap<String, DpdkReport>,
    /// By MAC: why the device is not where it should be.
    errors: BTreeMap<String, String>,
    /// By MAC: failed changes in a row, and not again before when.
    failing: HashMap<String, (u32, Instant)>,
    /// The offer last written to the plugin's configuration (`None`: not yet).
    offered: Option<BTreeMap<String, Offer>>,
    /// Why the plugin's configuration could not be written, if it could not.
    plugin_error: Option<String>,
    /// A configuration was written and the plugin's pod on this node not restarted yet.
    restart_pending: bool,
}

/// The longest wait between tries of a device change that fails (a driver module that
/// is not loaded is looked for again this rarely).
const MAX_RETRY: Duration = Duration::from_secs(300);

impl Devices {
    /// DPDK devices through `pci`, offered through `plugin` when given.
    pub fn new(pci: Arc<dyn PciDevices>, plugin: Option<DevicePlugin>) -> Self {
        Devices {
            pci,
            plugin,
            seen: BTreeMap::new(),
            errors: BTreeMap::new(),
            failing: HashMap::new(),
            offered: None,
            plugin_error: None,
            restart_pending: false,
        }
    }

    /// Looks at and changes every DPDK ENI's device in `desired` (`link_name` gives the
    /// name of the ENI's interface, while it has one), then updates the plugin's
    /// configuration. Returns when to look again, if a change failed.
    pub async fn reconcile(
        &mut self,
        desired: &BTreeMap<String, DesiredLink>,
        link_name: impl Fn(&str) -> Option<String>,
        cluster: &dyn AgentCluster,
        node: &str,
    ) -> Option<Duration> {
        let now = Instant::now();
        let mut retry: Option<Duration> = None;
        self.seen.retain(|mac, _| desired.contains_key(mac));
        self.errors.retain(|mac, _| desired.contains_key(mac));
        self.failing.retain(|mac, _| desired.contains_key(mac));
        for d in desired.values() {
            let Some(want) = &d.dpdk else { continue };
            if !self.pci.enabled() {
                self.errors
                    .insert(d.mac.clone(), PciError::Disabled.to_string());
                continue;
            }
            if let Some((_, at)) = self.failing.get(&d.mac).filter(|(_, at)| *at > now) {
                retry = Some(retry.map_or(*at - now, |r| r.min(*at - now)));
                continue;
            }
            let recorded = self.seen.get(&d.mac).or(d.recorded.as_ref()).cloned();
            let link_pci = match link_name(&d.mac) {
                Some(name) => self.pci.address_of(&name).await,
                None => None,
            };
            let address = dpdk::address(want, link_pci.as_deref(), recorded.as_ref());
            let device = match &address {
                None => Ok(None),
                Some(a) if !valid_address(a) => {
                    Err(format!("dpdkPCIAddress {a} is not a PCI address"))
                }
                Some(a) => self.look(a).await.map(Some).map_err(|e| e.to_string()),
            };
            let device = match device {
                Ok(device) => device,
                Err(why) => {
                    self.errors.insert(d.mac.clone(), why);
                    continue;
                }
            };
            // Err((retry, why)): a refusal is not retried (nothing changes until the
            // ENINode or the links do), a failed change is, backing off.
            let outcome = match dpdk::step(&d.mac, want, recorded.as_ref(), device.as_ref()) {
                DeviceStep::Wait | DeviceStep::Keep => Ok(()),
                DeviceStep::Refuse(why) => Err((false, why)),
                DeviceStep::Bind { pci, driver } => self
                    .change(&pci, Some(&driver))
                    .await
                    .map_err(|why| (true, why)),
                DeviceStep::Release { pci } => {
                    self.change(&pci, None).await.map_err(|why| (true, why))
                }
            };
            // What it is now, after any change.
            let after = match &device {
                Some(dev) => self.look(&dev.pci).await.ok().or_else(|| device.clone()),
                None => None,
            };
            let own = device
                .as_ref()
                .is_some_and(|dev| dpdk::is_own(&d.mac, dev, recorded.as_ref()));
            let report = dpdk::report(
                want,
                recorded.as_ref(),
                device.as_ref(),
                after.as_ref(),
                own,
            );
            self.seen.insert(d.mac.clone(), report);
            match outcome {
                Ok(()) => {
                    self.errors.remove(&d.mac);
                    self.failing.remove(&d.mac);
                }
                Err((again, why)) => {
                    if again {
                        let delay = self.failed(&d.mac);
                        retry = Some(retry.map_or(delay, |r| r.min(delay)));
                    }
                    self.errors.insert(d.mac.clone(), why);
                }
            }
        }
        let bound = self.seen.values().filter(|r| r.bound).count();
        let managed = desired.values().filter(|d| d.dpdk.is_some()).count();
        metrics::gauge!(metric::AGENT_DPDK_DEVICES_MANAGED).set(managed as f64);
        metrics::gauge!(metric::AGENT_DPDK_DEVICES_BOUND).set(bound as f64);
        if let Some(again) = self.offer(desired, cluster, node).await {
            retry = Some(retry.map_or(again, |r| r.min(again)));
        }
        retry
    }

    /// The device at `pci` now.
    async fn look(&self, pci: &str) -> Result<DeviceSeen, PciError> {
        Ok(DeviceSeen {
            pci: pci.to_string(),
            driver: self.pci.driver_of(pci).await?,
            macs: self.pci.macs_of(pci).await,
        })
    }

    /// Binds `pci` to `driver` (`None`: its own), counted and logged.
    async fn change(&self, pci: &str, driver: Option<&str>) -> Result<(), String> {
        let change = if driver.is_some() { "bind" } else { "release" };
        tracing::info!(%pci, ?driver, "{change} of a DPDK ENI's device");
        match self.pci.bind(pci, driver).await {
            Ok(_) => {
                metrics::counter!(metric::AGENT_LINK_CHANGES_TOTAL, "change" => change)
                    .increment(1);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(%pci, error = %e, "{change} of a DPDK ENI's device failed");
                metrics::counter!(metric::AGENT_ERRORS_TOTAL, "error" => e.label()).increment(1);
                Err(e.to_string())
            }
        }
    }

    /// Records a failed change on `mac`'s device: when to try again.
    fn failed(&mut self, mac: &str) -> Duration {
        let failures = self.failing.get(mac).map_or(1, |(n, _)| n + 1);
        let delay = retry_delay(failures, Duration::from_secs(2), MAX_RETRY, 0.5);
        self.failing
            .insert(mac.to_string(), (failures, Instant::now() + delay));
        delay
    }

    /// Writes the plugin's configuration when the bound devices' offer changed, and
    /// restarts the plugin's pod on this node when the file changed.
    /// When to try again, if the plugin's pod could not be restarted.
    async fn offer(
        &mut self,
        desired: &BTreeMap<String, DesiredLink>,
        cluster: &dyn AgentCluster,
        node: &str,
    ) -> Option<Duration> {
        let Some(plugin) = &self.plugin else {
            return None;
        };
        let mut offered: BTreeMap<String, Offer> = BTreeMap::new();
        for (mac, r) in &self.seen {
            let (Some(resource), Some(pci), Some(driver)) =
                (&r.resource_name, &r.pci_address, &r.driver)
            else {
                continue;
            };
            if !r.bound || desired.get(mac).and_then(|d| d.dpdk.as_ref()).is_none() {
                continue;
            }
            let offer = offered.entry(resource.clone()).or_default();
            offer.drivers.insert(driver.clone());
            offer.pci_addresses.insert(pci.clone());
        }
        if self.offered.as_ref() == Some(&offered) {
            return self.restart_if_pending(cluster, node).await;
        }
        let asked = desired
            .values()
            .any(|d| d.dpdk.as_ref().is_some_and(|w| w.resource_name.is_some()));
        if offered.is_empty() && !asked && self.offered.is_none() {
            // Nothing offered now or asked for: a node without DPDK ENIs gets no file.
            let recorded = desired.values().any(|d| {
                d.recorded
                    .as_ref()
                    .is_some_and(|r| r.resource_name.is_some())
            });
            if !recorded {
                self.offered = Some(offered);
                return None;
            }
        }
        // Every resource this agent offers or offered: the ENIs' asks and reports.
        let managed: BTreeSet<String> = desired
            .values()
            .flat_map(|d| {
                let asked = d.dpdk.as_ref().and_then(|w| w.resource_name.clone());
                let recorded = d.recorded.as_ref().and_then(|r| r.resource_name.clone());
                asked.into_iter().chain(recorded)
            })
            .chain(self.offered.iter().flat_map(|o| o.keys().cloned()))
            .filter(|r| device_plugin::valid_resource(r))
            .collect();
        let offered_valid: BTreeMap<String, Offer> = offered
            .iter()
            .filter(|(r, _)| device_plugin::valid_resource(r))
            .map(|(r, o)| (r.clone(), o.clone()))
            .collect();
        match device_plugin::update(&plugin.config, &managed, &offered_valid) {
            Ok(changed) => {
                self.plugin_error = None;
                self.offered = Some(offered);
                if changed {
                    metrics::counter!(metric::AGENT_LINK_CHANGES_TOTAL, "change" => "device_plugin_config")
                        .increment(1);
                    self.restart_pending = true;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not write the device plugin's configuration");
                metrics::counter!(metric::AGENT_ERRORS_TOTAL, "error" => e.label()).increment(1);
                self.plugin_error = Some(e.to_string());
            }
        }
        self.restart_if_pending(cluster, node).await
    }

    /// Restarts the plugin's pod on this node if a written configuration waits for it;
    /// when to try again if that failed.
    async fn restart_if_pending(
        &mut self,
        cluster: &dyn AgentCluster,
        node: &str,
    ) -> Option<Duration> {
        if !self.restart_pending {
            return None;
        }
        if self.restart_plugin(cluster, node).await {
            self.restart_pending = false;
            return None;
        }
        Some(Duration::from_secs(30))
    }

    /// Whether the plugin's pods on this node were deleted (or there were none).
    async fn restart_plugin(&self, cluster: &dyn AgentCluster, node: &str) -> bool {
        let Some(plugin) = &self.plugin else {
            return true;
        };
        match cluster
            .restart_device_plugin(node, &plugin.namespace, &plugin.selector)
            .await
        {
            Ok(0) => {
                tracing::info!(
                    namespace = %plugin.namespace, selector = %plugin.selector,
                    "device plugin configuration written; no plugin pod on this node to restart"
                );
                true
            }
            Ok(n) => {
                tracing::info!(
                    pods = n,
                    "device plugin configuration written; its pod on this node restarted to read it"
                );
                metrics::counter!(metric::AGENT_LINK_CHANGES_TOTAL, "change" => "device_plugin_restart")
                    .increment(1);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not restart the device plugin's pod on this node; trying again in 30 s");
                metrics::counter!(metric::AGENT_ERRORS_TOTAL, "error" => e.label()).increment(1);
                false
            }
        }
    }

    /// The report of DPDK ENI `d`, whose interface is `interface` while it has one.
    pub fn report(&self, d: &DesiredLink, interface: Option<String>) -> InterfaceReport {
        let want = d.dpdk.as_ref();
        let seen = self.seen.get(&d.mac).or(d.recorded.as_ref()).cloned();
        let done = seen.as_ref().is_some_and(|s| {
            if want.is_some_and(|w| w.release) {
                s.released
            } else {
                s.bound
            }
        });
        let error = self.errors.get(&d.mac).cloned();
        let offered = seen
            .as_ref()
            .and_then(|s| s.resource_name.as_ref())
            .is_some();
        let message = error
            .or_else(|| {
                (done && offered)
                    .then(|| self.plugin_error.clone())
                    .flatten()
            })
            .or_else(|| {
                (!done).then(|| match (&seen, want) {
                    (Some(s), Some(w)) if s.pci_address.is_some() && !w.release => {
                        format!("being bound to {}", w.driver)
                    }
                    (Some(s), Some(w)) if s.pci_address.is_some() && w.release => {
                        "being returned to its kernel driver".to_string()
                    }
                    _ => "no interface with this MAC address yet".to_string(),
                })
            });
        InterfaceReport {
            eni_id: d.eni_id.clone(),
            mac_address: d.mac.clone(),
            node_eni: d.nodeeni.clone(),
            interface,
            configured: done && !self.errors.contains_key(&d.mac),
            mtu: None,
            mtu_clamped: false,
            message,
            dpdk: seen,
        }
    }
}

#[cfg(test)]
mod tests;
