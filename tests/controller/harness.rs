//! A simulated cluster: EC2 simulator + in-memory Kubernetes, and helpers to drive and
//! check the controller.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use aws_multi_eni_controller::actors::{Controller, ControllerSettings};
use aws_multi_eni_controller::aws::ownership::{ClusterIdentity, TAG_CLUSTER, TAG_NODEENI_UID};
use aws_multi_eni_controller::aws::sim::{Ec2Simulator, SimConfig};
use aws_multi_eni_controller::aws::{Ec2, Eni, Subnet};
use aws_multi_eni_controller::k8s::memory::MemoryCluster;
use aws_multi_eni_controller::k8s::{Cluster, NodeENI, NodeENISpec, NodeView};
use tokio::time::Instant;

pub const CLUSTER: &str = "test-cluster";
/// Its identity (what the UID of its kube-system namespace would be).
pub const CLUSTER_ID: &str = "test-cluster-uid";

/// The cluster's name and identity.
pub fn identity() -> ClusterIdentity {
    ClusterIdentity::new(CLUSTER, CLUSTER_ID)
}
pub const ZONE: &str = "us-east-1a";

pub struct World {
    pub sim: Ec2Simulator,
    pub cluster: MemoryCluster,
    pub subnets: Vec<Subnet>,
    pub node_subnet: Subnet,
    pub group: String,
    pub instances: BTreeMap<String, String>,
}

pub fn settings() -> ControllerSettings {
    ControllerSettings {
        cluster: identity(),
        orphan_sweep_interval: Duration::from_secs(30),
        orphan_grace: Duration::from_secs(60),
        resync_interval: Duration::from_secs(60),
        status_debounce: Duration::from_millis(200),
        // No agent reports here: the readiness tests turn it on.
        startup_taint: None,
        node_condition: false,
        ..ControllerSettings::default()
    }
}

impl World {
    pub fn new(config: SimConfig, extra_subnets: usize) -> Self {
        let sim = Ec2Simulator::new(config);
        let node_subnet = sim.add_subnet(ZONE, "10.0.0.0/16", Some("nodes"));
        let subnets = (0..extra_subnets.max(1))
            .map(|i| {
                sim.add_subnet(
                    ZONE,
                    &format!("10.{}.0.0/16", i + 1),
                    Some(&format!("multus-{i}")),
                )
            })
            .collect();
        let group = sim.add_security_group("multus").id;
        World {
            sim,
            cluster: MemoryCluster::new(),
            subnets,
            node_subnet,
            group,
            instances: BTreeMap::new(),
        }
    }

    /// Another cluster in the same account: the same EC2 (subnets, group), its own
    /// Kubernetes and nodes.
    pub fn sharing_account(&self) -> World {
        World {
            sim: self.sim.clone(),
            cluster: MemoryCluster::new(),
            subnets: self.subnets.clone(),
            node_subnet: self.node_subnet.clone(),
            group: self.group.clone(),
            instances: BTreeMap::new(),
        }
    }

    /// Registers node `name` with `labels` on an instance launched elsewhere.
    pub fn add_node_on(&mut self, name: &str, instance_id: &str, labels: &[(&str, &str)]) {
        self.instances
            .insert(name.to_string(), instance_id.to_string());
        self.cluster.upsert_node(NodeView {
            name: name.into(),
            uid: format!("uid-{name}"),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            instance_id: Some(instance_id.into()),
            zone: Some(ZONE.into()),
            deleting: false,
            created: None,
            configured_macs: BTreeMap::new(),
            taints: Vec::new(),
            enis_ready: None,
        });
    }

    /// Launches an instance in `subnet` (and so its zone) and registers its node.
    pub fn add_node_in(&mut self, name: &str, subnet: &Subnet, labels: &[(&str, &str)]) -> String {
        let inst = self
            .sim
            .launch_cluster_instance(CLUSTER, "m5.xlarge", &subnet.id)
            .expect("instance");
        self.add_node_on(name, &inst.id, labels);
        let mut view = self
            .cluster
            .node_views()
            .into_iter()
            .find(|n| n.name == name)
            .expect("node registered");
        view.zone = Some(subnet.availability_zone.clone());
        self.cluster.upsert_node(view);
        inst.id
    }

    /// Launches an instance and registers its node with `labels`.
    pub fn add_node(&mut self, name: &str, instance_type: &str, labels: &[(&str, &str)]) -> String {
        let inst = self
            .sim
            .launch_cluster_instance(CLUSTER, instance_type, &self.node_subnet.id)
            .expect("instance");
        self.add_node_on(name, &inst.id, labels);
        inst.id
    }

    pub fn add_nodes(&mut self, n: usize, labels: &[(&str, &str)]) {
        for i in 0..n {
            self.add_node(&format!("node-{i:04}"), "m5.xlarge", labels);
        }
    }

    pub fn spec(&self, subnets: usize) -> NodeENISpec {
        NodeENISpec {
            node_selector: [("ng".to_string(), "multi-eni".to_string())].into(),
            subnet_id: None,
            subnet_ids: self
                .subnets
                .iter()
                .take(subnets)
                .map(|s| s.id.clone())
                .collect(),
            subnet_name: None,
            subnet_names: vec![],
            security_group_ids: vec![self.group.clone()],
            security_group_names: vec![],
            device_index: 1,
            delete_on_termination: true,
            description: None,
            mtu: 9001,
            network_card_index: 0,
            tags: Default::default(),
            secondary_ipv4_count: None,
            ipv4_prefix_count: None,
            ipv6_address_count: None,
            ipv6_prefix_count: None,
            source_dest_check: None,
            ena_srd: None,
            ena_queue_count: None,
            connection_tracking: None,
            enable_dpdk: false,
            dpdk_driver: None,
            dpdk_resource_name: None,
            dpdk_pci_address: None,
        }
    }

    pub fn apply(&self, name: &str, spec: NodeENISpec) -> NodeENI {
        self.cluster.apply_nodeeni(NodeENI::new(name, spec))
    }

    /// Applies a NodeENI as the Go controller left it: with its finalizer (it adds that
    /// before it makes any ENI).
    pub fn apply_go(&self, name: &str, spec: NodeENISpec) -> NodeENI {
        let mut nodeeni = NodeENI::new(name, spec);
        nodeeni.metadata.finalizers = Some(vec![
            aws_multi_eni_controller::k8s::cluster::LEGACY_FINALIZER.to_string(),
        ]);
        self.cluster.apply_nodeeni(nodeeni)
    }

    pub async fn start(&self, settings: ControllerSettings) -> Controller {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let cluster: Arc<dyn Cluster> = Arc::new(self.cluster.clone());
        let ec2: Arc<dyn Ec2> = Arc::new(self.sim.clone());
        Controller::start(cluster, ec2, settings, Arc::new(AtomicBool::new(false)))
            .await
            .expect("controller starts")
    }

    /// ENIs carrying this cluster's ownership tag.
    pub fn owned(&self) -> Vec<Eni> {
        self.sim
            .enis()
            .into_iter()
            .filter(|e| e.tags.get(TAG_CLUSTER).map(String::as_str) == Some(CLUSTER))
            .collect()
    }

    pub fn owned_by(&self, nodeeni: &NodeENI) -> Vec<Eni> {
        let uid = nodeeni.metadata.uid.clone().unwrap_or_default();
        self.owned()
            .into_iter()
            .filter(|e| e.tags.get(TAG_NODEENI_UID) == Some(&uid))
            .collect()
    }

    /// (instance, subnet) of every owned ENI attached to its instance.
    pub fn attached_pairs(&self) -> Vec<(String, String, u32)> {
        let mut v: Vec<_> = self
            .owned()
            .into_iter()
            .filter_map(|e| {
                let a = e.attachment?;
                Some((a.instance_id?, e.subnet_id, a.device_index))
            })
            .collect();
        v.sort();
        v
    }

    /// Waits (simulated time) until the NodeENI `name` reports `n` of `n` ENIs ready;
    /// answers how long that took.
    pub async fn until_ready(&self, name: &str, n: i32) -> Duration {
        eventually(&format!("{n} ready"), Duration::from_secs(3600), || {
            self.ready_count(name) == Some((n, n))
        })
        .await
    }

    /// Waits (simulated time) until the NodeENI `name` is gone (its finalizer released).
    pub async fn until_gone(&self, name: &str) {
        eventually(&format!("{name} gone"), Duration::from_secs(1800), || {
            self.cluster.nodeeni(name).is_none()
        })
        .await;
    }

    /// Seeds an ENI the Go controller made for `node` in `subnet` (its tags and
    /// description), attached to `instance` at device index 1.
    pub fn seed_go_eni(&self, node: &str, instance: &str, subnet: &str) -> Eni {
        let (tags, description) =
            aws_multi_eni_controller::aws::ownership::legacy::go_made("multus", node, subnet);
        self.seed_attached(subnet, &description, tags, instance, 1)
    }

    /// Seeds an ENI with `description` and `tags`, attached to `instance` at `index`.
    pub fn seed_attached(
        &self,
        subnet: &str,
        description: &str,
        tags: aws_multi_eni_controller::aws::Tags,
        instance: &str,
        index: u32,
    ) -> Eni {
        let eni = self
            .sim
            .seed_described_eni(subnet, description, tags)
            .expect("seed");
        self.sim
            .seed_attach(&aws_multi_eni_controller::aws::AttachRequest {
                eni_id: eni.id.clone(),
                instance_id: instance.to_string(),
                device_index: index,
                network_card_index: 0,
                ena: Default::default(),
            })
            .expect("attach");
        eni
    }

    pub fn ready_count(&self, name: &str) -> Option<(i32, i32)> {
        let s = self.cluster.nodeeni(name)?.status?;
        Some((s.desired_count, s.ready_count))
    }
}

/// Polls `check` every simulated second until it holds or `limit` (simulated) passes.
pub async fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if check() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{what}: not reached within {limit:?} (simulated)"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
