//! DPDK on the real API server and real links: a stand-in for the kernel's PCI side
//! (binding a device to `vfio-pci` takes its interface away, as the kernel does: here the
//! veth is deleted in the namespace, so the agent sees the real netlink event; releasing
//! it brings the interface back), the agent's report in its ENINode, the device plugin's
//! configuration in a real file, and the chart's RBAC and admission policy for restarting
//! the plugin's pod on the agent's node only.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_multi_eni_controller::agent::devices::DevicePlugin;
use aws_multi_eni_controller::agent::pci::{PciDevices, PciError};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::DeleteParams;

use super::*;

const DPDK_MAC: &str = "02:00:00:00:03:06";
const PLAIN_MAC: &str = "02:00:00:00:03:07";
const PCI: &str = "0000:00:06.0";
const PLUGIN_NS: &str = "eni-dpdk-plugin";

/// One PCI device per veth given; bound to `vfio-pci`, its veth is deleted.
struct HotplugPci {
    netns: String,
    /// PCI address → (interface name, MAC, driver now).
    devices: Mutex<BTreeMap<String, (String, String, String)>>,
    binds: AtomicU32,
    looks: AtomicU32,
}

impl HotplugPci {
    fn new(ns: &Netns, devices: &[(&str, &str, &str)]) -> Arc<HotplugPci> {
        Arc::new(HotplugPci {
            netns: ns.0.clone(),
            devices: Mutex::new(
                devices
                    .iter()
                    .map(|(pci, name, mac)| {
                        (
                            pci.to_string(),
                            (name.to_string(), mac.to_string(), "ena".into()),
                        )
                    })
                    .collect(),
            ),
            binds: AtomicU32::new(0),
            looks: AtomicU32::new(0),
        })
    }
}

#[async_trait]
impl PciDevices for HotplugPci {
    async fn address_of(&self, netdev: &str) -> Option<String> {
        let devices = self.devices.lock().unwrap();
        devices
            .iter()
            .find(|(_, (name, _, driver))| name == netdev && driver == "ena")
            .map(|(pci, _)| pci.clone())
    }
    async fn driver_of(&self, pci: &str) -> Result<Option<String>, PciError> {
        self.looks.fetch_add(1, Ordering::SeqCst);
        let devices = self.devices.lock().unwrap();
        let (_, _, driver) = devices
            .get(pci)
            .ok_or_else(|| PciError::NoDevice(pci.into()))?;
        Ok(Some(driver.clone()))
    }
    async fn macs_of(&self, pci: &str) -> Vec<String> {
        let devices = self.devices.lock().unwrap();
        devices
            .get(pci)
            .filter(|(_, _, driver)| driver == "ena")
            .map(|(_, mac, _)| vec![mac.clone()])
            .unwrap_or_default()
    }
    async fn bind(&self, pci: &str, driver: Option<&str>) -> Result<Option<String>, PciError> {
        self.binds.fetch_add(1, Ordering::SeqCst);
        let mut devices = self.devices.lock().unwrap();
        let (name, mac, now) = devices
            .get_mut(pci)
            .ok_or_else(|| PciError::NoDevice(pci.into()))?;
        match driver {
            Some("vfio-pci") => {
                ip(&["-n", &self.netns, "link", "del", name]);
                *now = "vfio-pci".into();
            }
            Some(other) => return Err(PciError::NoDriver(other.into())),
            None => {
                veth_in(&self.netns, name, mac);
                *now = "ena".into();
            }
        }
        Ok(Some(now.clone()))
    }
}

/// The chart's DPDK objects (the plugin's namespace: [`PLUGIN_NS`]), applied as rendered.
fn apply_chart_dpdk_rbac(cluster: &TestCluster) {
    let python = std::env::var_os("HELM_PYTHON").map_or_else(
        || {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap())
                .join(".cache/aws-multi-eni-controller/venv/bin/python")
        },
        std::path::PathBuf::from,
    );
    let values =
        json!({"agent": {"dpdk": {"enabled": true, "devicePlugin": {"namespace": PLUGIN_NS}}}});
    let out = Command::new(python)
        .arg(repo("scripts/render_chart.py"))
        .arg("--values")
        .arg(repo("deploy/manifests/values.yaml"))
        .args(["--set-json", &values.to_string()])
        .output()
        .expect("python runs (scripts/test.sh makes the venv)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&String::from_utf8_lossy(&out.stdout)).expect("YAML");
    let wanted: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            let name = d["metadata"]["name"].as_str().unwrap_or_default();
            name.ends_with("-device-plugin") || name.ends_with("-own-node-pods")
        })
        .collect();
    assert_eq!(wanted.len(), 4, "Role, RoleBinding, policy and its binding");
    for doc in wanted {
        cluster
            .run_kubectl(&["apply", "-f", "-"], Some(&doc.to_string()))
            .map(|o| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)))
            .unwrap();
    }
}

/// This node's two ENIs; the first is DPDK (`release` asks for its device back).
async fn dpdk_entries(env: &Env, release: bool) {
    let object = json!({
        "apiVersion": "networking.k8s.aws/v1alpha1", "kind": "ENINode",
        "metadata": {"name": env.node},
        "spec": {"interfaces": [
            {"eniID": "eni-dpdk", "macAddress": DPDK_MAC, "nodeENI": "dpdk",
             "subnetID": "subnet-12345678", "deviceIndex": 1,
             "dpdk": {"driver": "vfio-pci", "resourceName": "aws.com/ena_dpdk", "release": release}},
            {"eniID": "eni-plain", "macAddress": PLAIN_MAC, "nodeENI": "multus",
             "subnetID": "subnet-12345678", "deviceIndex": 2, "mtu": 9001},
        ]},
    });
    Api::<ENINode>::all(env.admin.clone())
        .patch(
            &env.node,
            &PatchParams::apply("agent-test").force(),
            &Patch::Apply(&object),
        )
        .await
        .unwrap();
}

async fn plugin_pod(admin: &Client, name: &str, node: &str) {
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": PLUGIN_NS, "labels": {"app": "sriovdp"}},
        "spec": {"nodeName": node, "containers": [{"name": "sriovdp", "image": "sriovdp:test"}]}
    }))
    .unwrap();
    Api::<Pod>::namespaced(admin.clone(), PLUGIN_NS)
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
}

/// Whether the pod is being deleted (no kubelet runs here to finish it).
async fn terminating(admin: &Client, name: &str) -> bool {
    Api::<Pod>::namespaced(admin.clone(), PLUGIN_NS)
        .get_opt(name)
        .await
        .unwrap()
        .is_none_or(|p| p.metadata.deletion_timestamp.is_some())
}

fn deps(env: &Env, ns: &Netns, pci: &Arc<HotplugPci>, config: &std::path::Path) -> AgentDeps {
    let path = ns.path();
    let connect: Connector = Arc::new(move || {
        RtLinks::connect_in(&path).map(|(l, e)| (Arc::new(l) as Arc<dyn Links>, e))
    });
    AgentDeps {
        node: env.node.clone(),
        default_mtu: 0,
        cluster: Arc::new(KubeCluster::new(env.agent.clone(), Some("agent-a".into()))),
        connect,
        pci: pci.clone(),
        device_plugin: Some(DevicePlugin {
            config: config.to_path_buf(),
            namespace: PLUGIN_NS.into(),
            selector: "app=sriovdp".into(),
        }),
        restart: RestartPolicy::default(),
    }
}

fn offered(config: &std::path::Path) -> Value {
    std::fs::read_to_string(config)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpdk_enis_device_is_bound_offered_kept_across_a_restart_and_released() {
    let ns = Netns::new();
    ns.veth("ens6", DPDK_MAC);
    ns.veth("ens7", PLAIN_MAC);
    let env = setup("dpdk").await;
    let cluster = TestCluster::shared().expect("test cluster");
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": PLUGIN_NS}})).unwrap();
    let _ = Api::<Namespace>::all(env.admin.clone())
        .create(&PostParams::default(), &namespace)
        .await;
    // No controller-manager runs here to make the namespace's default ServiceAccount.
    let sa: k8s_openapi::api::core::v1::ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap();
    let _ =
        Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(env.admin.clone(), PLUGIN_NS)
            .create(&PostParams::default(), &sa)
            .await;
    apply_chart_dpdk_rbac(cluster);
    plugin_pod(&env.admin, "sriovdp-here", &env.node).await;
    plugin_pod(&env.admin, "sriovdp-there", "another-node").await;
    // An admission policy takes effect a moment after it is created: until the agent's
    // token is refused another node's pod (a dry run changes nothing), nothing starts.
    let start = Instant::now();
    loop {
        let dry = DeleteParams {
            dry_run: true,
            ..DeleteParams::default()
        };
        let refused = Api::<Pod>::namespaced(env.agent.clone(), PLUGIN_NS)
            .delete("sriovdp-there", &dry)
            .await
            .map(|_| ())
            .map_err(refusal);
        if refused
            .as_ref()
            .is_err_and(|e| e.contains("only pods of the node its pod runs on"))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the policy did not refuse within 30 s: {refused:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    dpdk_entries(&env, false).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pcidp/config.json");
    let pci = HotplugPci::new(
        &ns,
        &[(PCI, "ens6", DPDK_MAC), ("0000:00:07.0", "ens7", PLAIN_MAC)],
    );
    let agent = Agent::start(deps(&env, &ns, &pci, &config)).await.unwrap();

    eventually("the device bound and reported", async || {
        let r = report(&env).await;
        r.get(DPDK_MAC).is_some_and(|i| {
            i.configured
                && i.dpdk.as_ref().is_some_and(|d| {
                    d.bound
                        && d.pci_address.as_deref() == Some(PCI)
                        && d.kernel_driver.as_deref() == Some("ena")
                        && d.driver.as_deref() == Some("vfio-pci")
                })
        }) && r.get(PLAIN_MAC).is_some_and(|i| i.configured)
    })
    .await;
    assert_eq!(
        ns.state("ens7"),
        (true, 9001),
        "the plain ENI is configured as before"
    );
    assert_eq!(
        ns.state("ens6"),
        (false, 0),
        "the DPDK ENI's interface is gone"
    );
    let list = &offered(&config)["resourceList"];
    assert_eq!(list[0]["resourcePrefix"], "aws.com");
    assert_eq!(list[0]["resourceName"], "ena_dpdk");
    assert_eq!(list[0]["selectors"]["pciAddresses"], json!([PCI]));
    assert_eq!(list[0]["selectors"]["drivers"], json!(["vfio-pci"]));
    eventually("the plugin's pod on this node restarted", async || {
        terminating(&env.admin, "sriovdp-here").await
    })
    .await;
    assert!(
        !terminating(&env.admin, "sriovdp-there").await,
        "another node's plugin pod is left alone"
    );
    // The agent's own token may not delete another node's pod: the chart's policy.
    let refused = Api::<Pod>::namespaced(env.agent.clone(), PLUGIN_NS)
        .delete("sriovdp-there", &DeleteParams::default())
        .await
        .map(|_| ())
        .map_err(refusal);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("only pods of the node its pod runs on")),
        "{refused:?}"
    );

    // A restarted agent finds the device from its report: no bind, no plugin restart.
    agent.stop().await;
    plugin_pod(&env.admin, "sriovdp-here-2", &env.node).await;
    let looks = pci.looks.load(Ordering::SeqCst);
    let agent = Agent::start(deps(&env, &ns, &pci, &config)).await.unwrap();
    eventually(
        "the restarted agent looked at the device twice",
        async || pci.looks.load(Ordering::SeqCst) >= looks + 2,
    )
    .await;
    assert_eq!(pci.binds.load(Ordering::SeqCst), 1, "bound once in all");
    assert!(
        !terminating(&env.admin, "sriovdp-here-2").await,
        "nothing to reread"
    );
    assert!(report(&env).await[DPDK_MAC].configured);

    // Released before a detach: back on its kernel driver, withdrawn from the plugin.
    dpdk_entries(&env, true).await;
    eventually("released and reported", async || {
        report(&env).await.get(DPDK_MAC).is_some_and(|i| {
            i.configured && i.dpdk.as_ref().is_some_and(|d| d.released && !d.bound)
        })
    })
    .await;
    eventually("the interface is back", async || ns.state("ens6").1 == 1500).await;
    assert_eq!(offered(&config)["resourceList"], json!([]));
    eventually("the plugin's pod restarted again", async || {
        terminating(&env.admin, "sriovdp-here-2").await
    })
    .await;
    agent.stop().await;
}
