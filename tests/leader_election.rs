//! Controller instances against the real kube-apiserver (and one simulated EC2), each as
//! the controller's ServiceAccount with the RBAC `deploy/` ships: only the Lease holder
//! acts, when it stops the standby takes over, and a leader cut off from the API server
//! sends no EC2 call after its renew deadline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_multi_eni_controller::actors::ControllerSettings;
use aws_multi_eni_controller::actors::slot::SlotTiming;
use aws_multi_eni_controller::aws::ownership::ClusterIdentity;
use aws_multi_eni_controller::aws::sim::{Ec2Simulator, LatencyModel, SimConfig};
use aws_multi_eni_controller::aws::*;
use aws_multi_eni_controller::k8s::kube_cluster::KubeCluster;
use aws_multi_eni_controller::k8s::lease::LeaderElectionConfig;
use aws_multi_eni_controller::k8s::ledger::DEFAULT_LEDGER_NAME;
use aws_multi_eni_controller::k8s::{Cluster, NodeENI};
use aws_multi_eni_controller::run::run_when_leading;
use aws_multi_eni_controller::telemetry::Probes;
use eni_testkit::cluster::{CONTROLLER_SA, NAMESPACE, TestCluster, config_from};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, PostParams};
use serde_json::json;
use tokio::time::Instant;

/// The simulator, counting who calls it and when.
struct Tracked {
    sim: Ec2Simulator,
    calls: AtomicU64,
    first_last: Mutex<Option<(Instant, Instant)>>,
}

impl Tracked {
    fn note(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut fl = self.first_last.lock().unwrap();
        *fl = Some(fl.map_or((now, now), |(f, _)| (f, now)));
    }
}

#[async_trait]
impl Ec2 for Tracked {
    async fn create_eni(&self, r: CreateEniRequest) -> Result<Eni, Ec2Error> {
        self.note();
        self.sim.create_eni(r).await
    }
    async fn attach_eni(&self, r: AttachRequest) -> Result<String, Ec2Error> {
        self.note();
        self.sim.attach_eni(r).await
    }
    async fn set_delete_on_termination(&self, e: &str, a: &str, v: bool) -> Result<(), Ec2Error> {
        self.note();
        self.sim.set_delete_on_termination(e, a, v).await
    }
    async fn modify_security_groups(&self, e: &str, g: &[String]) -> Result<(), Ec2Error> {
        self.note();
        self.sim.modify_security_groups(e, g).await
    }
    async fn set_source_dest_check(&self, e: &str, v: bool) -> Result<(), Ec2Error> {
        self.note();
        self.sim.set_source_dest_check(e, v).await
    }
    async fn set_connection_tracking(
        &self,
        e: &str,
        v: &aws_multi_eni_controller::plan::attributes::ConnectionTracking,
    ) -> Result<(), Ec2Error> {
        self.note();
        self.sim.set_connection_tracking(e, v).await
    }
    async fn change_addresses(&self, e: &str, c: &AddressChange) -> Result<(), Ec2Error> {
        self.note();
        self.sim.change_addresses(e, c).await
    }
    async fn detach_eni(&self, a: &str, f: bool) -> Result<(), Ec2Error> {
        self.note();
        self.sim.detach_eni(a, f).await
    }
    async fn delete_eni(&self, e: &str) -> Result<(), Ec2Error> {
        self.note();
        self.sim.delete_eni(e).await
    }
    async fn describe_enis(&self, f: &EniFilter, t: Option<String>) -> Result<Page<Eni>, Ec2Error> {
        self.note();
        self.sim.describe_enis(f, t).await
    }
    async fn describe_instances(&self, i: &[String]) -> Result<Vec<Instance>, Ec2Error> {
        self.note();
        self.sim.describe_instances(i).await
    }
    async fn describe_instance_type_limits(&self, t: &str) -> Result<EniLimits, Ec2Error> {
        self.note();
        self.sim.describe_instance_type_limits(t).await
    }
    async fn describe_subnets(&self, l: &SubnetLookup) -> Result<Vec<Subnet>, Ec2Error> {
        self.note();
        self.sim.describe_subnets(l).await
    }
    async fn describe_security_groups(
        &self,
        l: &SecurityGroupLookup,
    ) -> Result<Vec<SecurityGroup>, Ec2Error> {
        self.note();
        self.sim.describe_security_groups(l).await
    }
    async fn tag_eni(&self, e: &str, t: &Tags) -> Result<(), Ec2Error> {
        self.note();
        self.sim.tag_eni(e, t).await
    }
}

async fn eventually<F: AsyncFnMut() -> bool>(what: &str, limit: Duration, mut check: F) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const CLUSTER: &str = "le-test";

fn settings() -> ControllerSettings {
    ControllerSettings {
        cluster: ClusterIdentity::new(CLUSTER, "le-test-uid"),
        status_debounce: Duration::from_millis(100),
        slot_timing: SlotTiming {
            poll_initial: Duration::from_millis(100),
            poll_max: Duration::from_millis(500),
            retry_max: Duration::from_millis(500),
            blocked_max: Duration::from_secs(5),
        },
        ..ControllerSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_acts_and_a_standby_takes_over() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = TestCluster::shared().unwrap();
    server
        .install_crd(&repo.join("deploy/crds/networking.k8s.aws_nodeenis.yaml"))
        .await
        .expect("CRD");
    server.install_deploy(repo).expect("the plain manifests");
    let client = server.client().await.unwrap();
    let controller_config = config_from(
        &server
            .service_account_kubeconfig(NAMESPACE, CONTROLLER_SA)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let controller = kube::Client::try_from(controller_config.clone()).unwrap();

    let sim = Ec2Simulator::new(SimConfig {
        latency: LatencyModel::zero(),
        attach_delay: Duration::from_millis(100),
        detach_delay: Duration::from_millis(100),
        ..SimConfig::default()
    });
    let nodes_subnet = sim.add_subnet("us-east-1a", "10.0.0.0/16", None);
    let multus = sim.add_subnet("us-east-1a", "10.1.0.0/16", Some("multus"));
    sim.add_security_group("multus");
    let nodes: Api<Node> = Api::all(client.clone());
    let add_node = |name: String| {
        let inst = sim
            .launch_cluster_instance(CLUSTER, "m5.xlarge", &nodes_subnet.id)
            .unwrap();
        serde_json::from_value::<Node>(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"ng": "multi-eni"}},
            "spec": {"providerID": format!("aws:///us-east-1a/{}", inst.id)}
        }))
        .unwrap()
    };
    for i in 0..2 {
        nodes
            .create(&PostParams::default(), &add_node(format!("node-{i}")))
            .await
            .unwrap();
    }
    let nodeenis: Api<NodeENI> = Api::all(client.clone());
    let obj: NodeENI = serde_json::from_value(json!({
        "apiVersion": "networking.k8s.aws/v1alpha1", "kind": "NodeENI", "metadata": {"name": "multus"},
        "spec": {"nodeSelector": {"ng": "multi-eni"}, "subnetName": "multus", "securityGroupNames": ["multus"]}
    }))
    .unwrap();
    nodeenis.create(&PostParams::default(), &obj).await.unwrap();

    let mut replicas = Vec::new();
    for id in ["replica-a", "replica-b"] {
        let tracked = Arc::new(Tracked {
            sim: sim.clone(),
            calls: AtomicU64::new(0),
            first_last: Mutex::new(None),
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let election = LeaderElectionConfig {
            lease_name: aws_multi_eni_controller::k8s::lease::DEFAULT_LEASE_NAME.into(),
            namespace: NAMESPACE.into(),
            identity: id.into(),
            lease_duration: Duration::from_secs(3),
            renew_deadline: Duration::from_secs(2),
        };
        let cluster: Arc<dyn Cluster> = Arc::new(
            KubeCluster::new(controller.clone(), Some(id.into()))
                .with_ledger(NAMESPACE, DEFAULT_LEDGER_NAME),
        );
        let ec2: Arc<dyn Ec2> = tracked.clone();
        let c = controller_config.clone();
        let task = tokio::spawn(async move {
            run_when_leading(
                c,
                cluster,
                ec2,
                settings(),
                election,
                &Probes::default(),
                async {
                    let _ = stop_rx.await;
                },
            )
            .await
        });
        replicas.push((tracked, stop_tx, task));
    }

    let ready = |n: i32| {
        let api = nodeenis.clone();
        async move || {
            api.get("multus")
                .await
                .ok()
                .and_then(|o| o.status)
                .is_some_and(|s| s.desired_count == n && s.ready_count == n)
        }
    };
    eventually("2 ENIs ready", Duration::from_secs(60), ready(2)).await;
    let acting: Vec<bool> = replicas
        .iter()
        .map(|(t, _, _)| t.calls.load(Ordering::Relaxed) > 0)
        .collect();
    assert_eq!(
        acting.iter().filter(|a| **a).count(),
        1,
        "exactly one replica called EC2: {acting:?}"
    );
    let leader = acting.iter().position(|a| *a).unwrap();
    let standby = 1 - leader;

    // The leader stops (releasing the Lease); the standby takes over and handles a new node.
    let (leader_ec2, stop, task) = replicas.remove(leader);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    let (left_at, standby_ec2) = (
        leader_ec2.first_last.lock().unwrap().unwrap().1,
        &replicas[0].0,
    );
    nodes
        .create(&PostParams::default(), &add_node("node-2".into()))
        .await
        .unwrap();
    eventually(
        "3 ENIs ready under the new leader",
        Duration::from_secs(60),
        ready(3),
    )
    .await;
    let (first, _) = standby_ec2
        .first_last
        .lock()
        .unwrap()
        .expect("the standby acts");
    assert!(
        first > left_at,
        "the replicas never acted at the same time (standby {standby})"
    );
    assert_eq!(
        sim.enis()
            .iter()
            .filter(|e| e.subnet_id == multus.id)
            .count(),
        3,
        "no duplicate ENI across the hand-over"
    );
    let _ = replicas.remove(0).1.send(());
}

/// The leader's API server stops answering (a half-open connection: requests hang,
/// watches go quiet, nothing is closed) while it is rolling ENIs out. It must send no EC2
/// call later than its renew deadline after the stall began, although its actors keep
/// running on their frozen view; once the server answers again it finishes the work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_api_server_sends_no_ec2_call_after_its_renew_deadline() {
    const NODES: usize = 30;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let renew_deadline = Duration::from_secs(2);
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // A private server: this test's controller watches every Node and NodeENI.
    let server = TestCluster::start().unwrap();
    server
        .install_crd(&repo.join("deploy/crds/networking.k8s.aws_nodeenis.yaml"))
        .await
        .expect("CRD");
    server.install_deploy(repo).expect("the plain manifests");
    let admin = server.client().await.unwrap();
    let proxy = server.fault_proxy().await.unwrap();
    let token = server
        .service_account_token(NAMESPACE, CONTROLLER_SA)
        .await
        .unwrap();
    let user = format!("system:serviceaccount:{NAMESPACE}:{CONTROLLER_SA}");
    let config = config_from(&proxy.kubeconfig_with_token(&user, &token).unwrap())
        .await
        .unwrap();

    // Slow attachments: the slots still have attachments to poll when the server goes
    // quiet, so without a fence they would go on calling EC2.
    let sim = Ec2Simulator::new(SimConfig {
        latency: LatencyModel::zero(),
        attach_delay: Duration::from_secs(10),
        detach_delay: Duration::from_millis(100),
        ..SimConfig::default()
    });
    let nodes_subnet = sim.add_subnet("us-east-1a", "10.0.0.0/16", None);
    sim.add_subnet("us-east-1a", "10.1.0.0/16", Some("multus"));
    sim.add_security_group("multus");
    let nodes: Api<Node> = Api::all(admin.clone());
    for i in 0..NODES {
        let inst = sim
            .launch_cluster_instance(CLUSTER, "m5.xlarge", &nodes_subnet.id)
            .unwrap();
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("node-{i}"), "labels": {"ng": "multi-eni"}},
            "spec": {"providerID": format!("aws:///us-east-1a/{}", inst.id)}
        }))
        .unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
    }
    let nodeenis: Api<NodeENI> = Api::all(admin.clone());
    let obj: NodeENI = serde_json::from_value(json!({
        "apiVersion": "networking.k8s.aws/v1alpha1", "kind": "NodeENI", "metadata": {"name": "multus"},
        "spec": {"nodeSelector": {"ng": "multi-eni"}, "subnetName": "multus", "securityGroupNames": ["multus"]}
    }))
    .unwrap();
    nodeenis.create(&PostParams::default(), &obj).await.unwrap();

    let tracked = Arc::new(Tracked {
        sim: sim.clone(),
        calls: AtomicU64::new(0),
        first_last: Mutex::new(None),
    });
    let election = LeaderElectionConfig {
        lease_name: aws_multi_eni_controller::k8s::lease::DEFAULT_LEASE_NAME.into(),
        namespace: NAMESPACE.into(),
        identity: "replica-a".into(),
        lease_duration: Duration::from_secs(3),
        renew_deadline,
    };
    let cluster: Arc<dyn Cluster> = Arc::new(
        KubeCluster::from_config(config.clone(), Some("replica-a".into()))
            .unwrap()
            .with_api_timeout(Duration::from_secs(2))
            .with_ledger(NAMESPACE, DEFAULT_LEDGER_NAME),
    );
    let ec2: Arc<dyn Ec2> = tracked.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run_when_leading(
            config,
            cluster,
            ec2,
            settings(),
            election,
            &Probes::default(),
            async {
                let _ = stop_rx.await;
            },
        )
        .await
    });

    // Leading and creating: the server goes quiet.
    eventually(
        "the leader creates ENIs",
        Duration::from_secs(60),
        async || {
            sim.calls()
                .iter()
                .any(|c| c.action == Ec2Action::CreateNetworkInterface)
        },
    )
    .await;
    proxy.faults().stall(true);
    let stalled_at = Instant::now();
    // Watch the fence close, and stay closed for a while after.
    tokio::time::sleep(renew_deadline * 3).await;
    let last = tracked.first_last.lock().unwrap().unwrap().1;
    assert!(
        last <= stalled_at + renew_deadline,
        "an EC2 call was sent {:?} after the server stopped answering (renew deadline {renew_deadline:?})",
        last - stalled_at
    );
    let attaching = sim
        .enis()
        .iter()
        .filter(|e| {
            e.attachment
                .as_ref()
                .is_some_and(|a| a.status == AttachmentStatus::Attaching)
        })
        .count();
    assert!(
        attaching > 0,
        "the slots still had attachments to poll when the fence closed"
    );

    // The server answers again: the replica leads again and finishes, without duplicates.
    proxy.faults().stall(false);
    eventually(
        "every ENI ready once the server answers",
        Duration::from_secs(120),
        async || {
            nodeenis
                .get("multus")
                .await
                .ok()
                .and_then(|o| o.status)
                .is_some_and(|s| s.desired_count == NODES as i32 && s.ready_count == NODES as i32)
        },
    )
    .await;
    let made = sim
        .enis()
        .iter()
        .filter(|e| e.subnet_id != nodes_subnet.id)
        .count();
    assert_eq!(made, NODES, "one ENI per node, no duplicate");
    let _ = stop_tx.send(());
    task.await.unwrap().unwrap();
}
