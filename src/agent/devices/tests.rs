//! [`Devices`] over an in-memory stand-in for the kernel's PCI devices (binding moves a
//! device to the driver, and its interface goes away while a userspace driver has it),
//! a real device plugin configuration file in a temporary directory, and a cluster that
//! counts the plugin restarts it is asked for.

use std::sync::Mutex;

use async_trait::async_trait;
use futures::stream::BoxStream;

use super::*;
use crate::k8s::{Change, ClusterError, DpdkRequest, ENINode, ENINodeStatus};

const MAC: &str = "02:00:00:00:00:06";
const PCI: &str = "0000:00:06.0";
const PRIMARY: &str = "0000:00:05.0";
const NVME: &str = "0000:00:04.0";

#[derive(Clone)]
struct Device {
    driver: Option<String>,
    own: String,
    mac: String,
    netdev: String,
}

/// The kernel's side: devices by address, the drivers loaded, and every bind asked for.
#[derive(Default)]
struct Kernel {
    devices: Mutex<BTreeMap<String, Device>>,
    drivers: Mutex<BTreeSet<String>>,
    binds: Mutex<Vec<(String, Option<String>)>>,
}

impl Kernel {
    fn node(vfio: bool) -> Arc<Kernel> {
        let k = Kernel::default();
        for (pci, mac, netdev) in [(PRIMARY, "02:00:00:00:00:05", "ens5"), (PCI, MAC, "ens6")] {
            k.devices.lock().unwrap().insert(
                pci.into(),
                Device {
                    driver: Some("ena".into()),
                    own: "ena".into(),
                    mac: mac.into(),
                    netdev: netdev.into(),
                },
            );
        }
        // The root volume's NVMe controller: a PCI device with no network interface.
        k.devices.lock().unwrap().insert(
            NVME.into(),
            Device {
                driver: Some("nvme".into()),
                own: "nvme".into(),
                mac: String::new(),
                netdev: String::new(),
            },
        );
        k.drivers.lock().unwrap().insert("ena".into());
        if vfio {
            k.drivers.lock().unwrap().insert("vfio-pci".into());
        }
        Arc::new(k)
    }

    fn driver(&self, pci: &str) -> Option<String> {
        self.devices.lock().unwrap()[pci].driver.clone()
    }

    fn binds(&self) -> usize {
        self.binds.lock().unwrap().len()
    }
}

#[async_trait]
impl PciDevices for Kernel {
    async fn address_of(&self, netdev: &str) -> Option<String> {
        let devices = self.devices.lock().unwrap();
        devices
            .iter()
            .find(|(_, d)| d.netdev == netdev && d.driver.as_deref() == Some(d.own.as_str()))
            .map(|(pci, _)| pci.clone())
    }
    async fn driver_of(&self, pci: &str) -> Result<Option<String>, PciError> {
        let devices = self.devices.lock().unwrap();
        let d = devices
            .get(pci)
            .ok_or_else(|| PciError::NoDevice(pci.into()))?;
        Ok(d.driver.clone())
    }
    async fn macs_of(&self, pci: &str) -> Vec<String> {
        let devices = self.devices.lock().unwrap();
        devices
            .get(pci)
            .filter(|d| d.driver.as_deref() == Some(d.own.as_str()) && !d.mac.is_empty())
            .map(|d| vec![d.mac.clone()])
            .unwrap_or_default()
    }
    async fn bind(&self, pci: &str, driver: Option<&str>) -> Result<Option<String>, PciError> {
        self.binds
            .lock()
            .unwrap()
            .push((pci.into(), driver.map(str::to_string)));
        if let Some(d) = driver
            && !self.drivers.lock().unwrap().contains(d)
        {
            return Err(PciError::NoDriver(d.into()));
        }
        let mut devices = self.devices.lock().unwrap();
        let dev = devices
            .get_mut(pci)
            .ok_or_else(|| PciError::NoDevice(pci.into()))?;
        dev.driver = Some(driver.map_or_else(|| dev.own.clone(), str::to_string));
        Ok(dev.driver.clone())
    }
}

/// Counts the device plugin restarts done; refuses the next one when told to.
#[derive(Default)]
struct Restarts(
    Mutex<Vec<(String, String, String)>>,
    std::sync::atomic::AtomicBool,
);

#[async_trait]
impl AgentCluster for Restarts {
    fn eninode(&self, _node: &str) -> BoxStream<'static, Change<ENINode>> {
        Box::pin(futures::stream::pending())
    }
    async fn report(&self, _node: &str, _status: &ENINodeStatus) -> Result<(), ClusterError> {
        Ok(())
    }
    async fn restart_device_plugin(
        &self,
        node: &str,
        namespace: &str,
        selector: &str,
    ) -> Result<usize, ClusterError> {
        if self.1.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Err(ClusterError::Unavailable(
                "the API server did not answer".into(),
            ));
        }
        self.0
            .lock()
            .unwrap()
            .push((node.into(), namespace.into(), selector.into()));
        Ok(1)
    }
}

fn want(release: bool, pci: Option<&str>) -> DpdkRequest {
    DpdkRequest {
        driver: "vfio-pci".into(),
        resource_name: Some("aws.com/ena_dpdk".into()),
        pci_address: pci.map(str::to_string),
        release,
    }
}

fn desired(
    dpdk: Option<DpdkRequest>,
    recorded: Option<DpdkReport>,
) -> BTreeMap<String, DesiredLink> {
    BTreeMap::from([(
        MAC.to_string(),
        DesiredLink {
            mac: MAC.into(),
            eni_id: "eni-6".into(),
            nodeeni: "dpdk".into(),
            mtu: 0,
            dpdk,
            recorded,
        },
    )])
}

/// The interface name of the link with the MAC, while the device has its kernel driver.
fn link_name(kernel: &Kernel) -> impl Fn(&str) -> Option<String> + '_ {
    move |mac: &str| {
        let devices = kernel.devices.lock().unwrap();
        devices
            .values()
            .find(|d| d.mac == mac && d.driver.as_deref() == Some(d.own.as_str()))
            .map(|d| d.netdev.clone())
    }
}

struct Setup {
    kernel: Arc<Kernel>,
    cluster: Restarts,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(vfio: bool) -> Setup {
        Setup {
            kernel: Kernel::node(vfio),
            cluster: Restarts::default(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    fn devices(&self) -> Devices {
        Devices::new(
            self.kernel.clone(),
            Some(DevicePlugin {
                config: self.config(),
                namespace: "kube-system".into(),
                selector: "app=sriovdp".into(),
            }),
        )
    }

    async fn pass(
        &self,
        devices: &mut Devices,
        d: &BTreeMap<String, DesiredLink>,
    ) -> Option<Duration> {
        devices
            .reconcile(d, link_name(&self.kernel), &self.cluster, "node-1")
            .await
    }

    fn offered(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.config()).unwrap()).unwrap()
    }

    fn restarts(&self) -> usize {
        self.cluster.0.lock().unwrap().len()
    }
}

#[tokio::test]
async fn binds_the_enis_device_once_offers_it_and_a_restart_keeps_it() {
    let s = Setup::new(true);
    let mut devices = s.devices();
    let d = desired(Some(want(false, None)), None);
    assert_eq!(s.pass(&mut devices, &d).await, None);
    assert_eq!(s.kernel.driver(PCI).as_deref(), Some("vfio-pci"));
    assert_eq!(
        s.kernel.driver(PRIMARY).as_deref(),
        Some("ena"),
        "untouched"
    );
    let r = devices.report(&d[MAC], None);
    assert!(r.configured, "{r:?}");
    let dpdk = r.dpdk.clone().unwrap();
    assert_eq!(dpdk.pci_address.as_deref(), Some(PCI));
    assert_eq!(dpdk.kernel_driver.as_deref(), Some("ena"));
    assert_eq!(dpdk.resource_name.as_deref(), Some("aws.com/ena_dpdk"));
    let config = s.offered();
    assert_eq!(
        config["resourceList"][0]["selectors"]["pciAddresses"][0],
        PCI
    );
    assert_eq!(
        s.cluster.0.lock().unwrap()[0],
        ("node-1".into(), "kube-system".into(), "app=sriovdp".into())
    );
    // Nothing changed: nothing is done again.
    s.pass(&mut devices, &d).await;
    assert_eq!((s.kernel.binds(), s.restarts()), (1, 1));

    // A restarted agent starts from its report: no bind, no write, no restart.
    let mut restarted = s.devices();
    let d = desired(Some(want(false, None)), r.dpdk);
    s.pass(&mut restarted, &d).await;
    assert_eq!((s.kernel.binds(), s.restarts()), (1, 1));
    assert!(restarted.report(&d[MAC], None).configured);
}

#[tokio::test]
async fn a_release_returns_the_device_and_withdraws_the_offer() {
    let s = Setup::new(true);
    let mut devices = s.devices();
    let d = desired(Some(want(false, None)), None);
    s.pass(&mut devices, &d).await;
    let recorded = devices.report(&d[MAC], None).dpdk;
    let d = desired(Some(want(true, None)), recorded);
    s.pass(&mut devices, &d).await;
    assert_eq!(s.kernel.driver(PCI).as_deref(), Some("ena"));
    let r = devices.report(&d[MAC], Some("ens6".into()));
    assert!(r.configured && r.dpdk.as_ref().unwrap().released, "{r:?}");
    assert_eq!(s.offered()["resourceList"], serde_json::json!([]));
    assert_eq!(s.restarts(), 2, "offered, then withdrawn");
}

#[tokio::test]
async fn a_missing_driver_is_reported_and_tried_again_only_after_a_backoff() {
    let s = Setup::new(false);
    let mut devices = s.devices();
    let d = desired(Some(want(false, None)), None);
    let again = s.pass(&mut devices, &d).await.expect("a retry is planned");
    assert!(again >= Duration::from_secs(1), "{again:?}");
    let r = devices.report(&d[MAC], Some("ens6".into()));
    assert!(!r.configured);
    assert!(
        r.message
            .as_deref()
            .unwrap()
            .contains("driver vfio-pci is not loaded"),
        "{r:?}"
    );
    // Events before the backoff is over try nothing.
    for _ in 0..5 {
        s.pass(&mut devices, &d).await;
    }
    assert_eq!(s.kernel.binds(), 1);
    assert_eq!(s.kernel.driver(PCI).as_deref(), Some("ena"));
    assert!(!s.config().exists(), "nothing bound, nothing offered");
}

#[tokio::test]
async fn a_pci_address_of_another_interface_is_never_bound() {
    let s = Setup::new(true);
    let mut devices = s.devices();
    let d = desired(Some(want(false, Some(PRIMARY))), None);
    assert_eq!(s.pass(&mut devices, &d).await, None, "not retried");
    assert_eq!(s.kernel.binds(), 0);
    let r = devices.report(&d[MAC], None);
    assert!(!r.configured);
    assert!(r.message.unwrap().contains("not this ENI's"));
    // Not a PCI address at all.
    let d = desired(Some(want(false, Some("../../x"))), None);
    s.pass(&mut devices, &d).await;
    assert!(
        devices
            .report(&d[MAC], None)
            .message
            .unwrap()
            .contains("not a PCI address")
    );
    assert_eq!(s.kernel.binds(), 0);
}

#[tokio::test]
async fn a_node_without_dpdk_enis_gets_no_file_and_an_agent_without_dpdk_says_so() {
    let s = Setup::new(true);
    let mut devices = s.devices();
    s.pass(&mut devices, &desired(None, None)).await;
    assert!(!s.config().exists());
    assert_eq!(s.restarts(), 0);

    let mut off = Devices::new(Arc::new(crate::agent::pci::NoDpdk), None);
    let d = desired(Some(want(false, None)), None);
    s.pass(&mut off, &d).await;
    let r = off.report(&d[MAC], Some("ens6".into()));
    assert!(!r.configured);
    assert!(r.message.unwrap().contains("agent.dpdk.enabled"));
    assert_eq!(s.kernel.binds(), 0);
}

#[tokio::test]
async fn a_plugin_restart_that_failed_is_tried_again() {
    let s = Setup::new(true);
    s.cluster.1.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut devices = s.devices();
    let d = desired(Some(want(false, None)), None);
    let again = s.pass(&mut devices, &d).await;
    assert_eq!(
        again,
        Some(Duration::from_secs(30)),
        "the restart is tried again"
    );
    assert_eq!(s.restarts(), 0);
    s.pass(&mut devices, &d).await;
    assert_eq!(s.restarts(), 1, "restarted once the API server answered");
    assert_eq!(s.pass(&mut devices, &d).await, None);
    assert_eq!(s.restarts(), 1, "and not again");
}

#[tokio::test]
async fn a_device_refused_once_is_refused_again_after_the_report() {
    // dpdkPCIAddress names the root volume's NVMe controller (no interface): refused, and
    // the next pass, which starts from the report, refuses it again.
    let s = Setup::new(true);
    let mut devices = s.devices();
    let mut d = desired(Some(want(false, Some(NVME))), None);
    for _ in 0..3 {
        s.pass(&mut devices, &d).await;
        let r = devices.report(&d[MAC], None);
        assert!(!r.configured);
        assert!(r.message.unwrap().contains("left alone"));
        // A restarted agent reads the same report back.
        d = desired(Some(want(false, Some(NVME))), r.dpdk);
        devices = s.devices();
    }
    assert_eq!(s.kernel.binds(), 0);
    assert_eq!(s.kernel.driver(NVME).as_deref(), Some("nvme"));
}
