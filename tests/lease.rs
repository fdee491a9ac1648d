//! The leader Lease on the real kube-apiserver, its traffic through the fault proxy: a
//! 429 and a slow renewal leave the leader leading and its actor tree running; a holder
//! whose wall clock is years off is not taken over from while it renews; a renewal after
//! another replica took the Lease fails, and the old leader steps down. (The last two
//! elect on Leases of their own names, as the admin: the controller's RBAC allows only
//! the default name.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_multi_eni_controller::actors::ControllerSettings;
use aws_multi_eni_controller::aws::Ec2;
use aws_multi_eni_controller::aws::ownership::ClusterIdentity;
use aws_multi_eni_controller::aws::sim::{Ec2Simulator, SimConfig};
use aws_multi_eni_controller::fence::Fence;
use aws_multi_eni_controller::k8s::Cluster;
use aws_multi_eni_controller::k8s::election;
use aws_multi_eni_controller::k8s::kube_cluster::KubeCluster;
use aws_multi_eni_controller::k8s::lease::{self, LeaderElectionConfig};
use aws_multi_eni_controller::k8s::ledger::DEFAULT_LEDGER_NAME;
use aws_multi_eni_controller::run::run_when_leading;
use aws_multi_eni_controller::telemetry::Probes;
use eni_testkit::cluster::{CONTROLLER_SA, NAMESPACE, TestCluster, config_from};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::time::Instant;

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

async fn until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn election(lease: &str, identity: &str, duration: u64, deadline: u64) -> LeaderElectionConfig {
    LeaderElectionConfig {
        lease_name: lease.into(),
        namespace: NAMESPACE.into(),
        identity: identity.into(),
        lease_duration: Duration::from_secs(duration),
        renew_deadline: Duration::from_secs(deadline),
    }
}

/// The controller's kubeconfig through `proxy` (`None`: straight to the server).
async fn controller_config(
    cluster: &TestCluster,
    proxy: Option<&eni_testkit::cluster::FaultProxy>,
) -> kube::Config {
    let token = cluster
        .service_account_token(NAMESPACE, CONTROLLER_SA)
        .await
        .unwrap();
    let user = format!("system:serviceaccount:{NAMESPACE}:{CONTROLLER_SA}");
    let path = match proxy {
        Some(p) => p.kubeconfig_with_token(&user, &token).unwrap(),
        None => cluster.kubeconfig_for_token(&user, &token).unwrap(),
    };
    config_from(&path).await.unwrap()
}

fn trace() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A server of the test's own, with the manifests and both CRDs: for tests that run the
/// actor tree (it watches every object of its kinds) on the default Lease name (the only
/// one the controller's RBAC allows).
async fn private_cluster() -> TestCluster {
    let cluster = TestCluster::start().unwrap();
    cluster.install_deploy(&repo("")).expect("manifests");
    for crd in ["nodeenis", "eninodes"] {
        cluster
            .install_crd(&repo(&format!("deploy/crds/networking.k8s.aws_{crd}.yaml")))
            .await
            .unwrap();
    }
    cluster
}

fn setup() -> &'static TestCluster {
    trace();
    let cluster = TestCluster::shared().expect("test cluster");
    cluster.install_deploy(&repo("")).expect("manifests");
    cluster
}

/// Records every value the elector publishes.
fn recorded(mut rx: tokio::sync::watch::Receiver<bool>) -> Arc<Mutex<Vec<bool>>> {
    let seen = Arc::new(Mutex::new(vec![*rx.borrow()]));
    let out = seen.clone();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            out.lock().unwrap().push(*rx.borrow_and_update());
        }
    });
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_and_a_slow_renewal_leave_the_leader_leading() {
    trace();
    // A private server: the controller's RBAC allows only the default Lease name, and its
    // tree watches every object of its kinds.
    let cluster = private_cluster().await;
    let proxy = cluster.fault_proxy().await.unwrap();
    // Only the Lease goes through the proxy: its faults hit renewals alone.
    let lease_config = controller_config(&cluster, Some(&proxy)).await;
    let direct = kube::Client::try_from(controller_config(&cluster, None).await).unwrap();
    let kube: Arc<dyn Cluster> = Arc::new(
        KubeCluster::new(direct, Some("lease-a".into()))
            .with_ledger(NAMESPACE, DEFAULT_LEDGER_NAME),
    );
    let ec2: Arc<dyn Ec2> = Arc::new(Ec2Simulator::new(SimConfig::default()));
    let settings = ControllerSettings {
        cluster: ClusterIdentity::new("lease-test", "lease-test-uid"),
        ..ControllerSettings::default()
    };
    let cfg = election(lease::DEFAULT_LEASE_NAME, "lease-a", 15, 10);
    let renew = cfg.renew_period();
    let slow = cfg.call_timeout() + Duration::from_millis(700);
    let probes = Probes::default();
    let terms = probes.terms.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run_when_leading(lease_config, kube, ec2, settings, cfg, &probes, async {
            let _ = stop_rx.await;
        })
        .await
    });
    until("the tree runs", Duration::from_secs(60), || {
        terms.load(Ordering::Acquire) == 1
    })
    .await;
    proxy.faults().throttle_next(1);
    tokio::time::sleep(renew * 2).await;
    proxy.faults().set_delay(slow);
    tokio::time::sleep(slow + Duration::from_millis(300)).await;
    proxy.faults().set_delay(Duration::ZERO);
    tokio::time::sleep(renew * 2).await;
    let started = terms.load(Ordering::Acquire);
    let _ = stop_tx.send(());
    task.await.unwrap().unwrap();
    assert_eq!(
        started, 1,
        "the actor tree was started {started} times around a 429 and a slow renewal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_whose_clock_is_years_off_is_not_taken_over_from_while_it_renews() {
    let cluster = setup();
    let admin = cluster.client().await.unwrap();
    let leases: Api<Lease> = Api::namespaced(admin, NAMESPACE);
    let name = "lease-skew";
    // Another replica holds the Lease and renews every second, its clock in 1970.
    let write = move |n: u64| {
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"holderIdentity": "skewed", "leaseDurationSeconds": 3,
                     "renewTime": format!("1970-01-01T00:00:{:02}.000000Z", n % 60)},
        })
    };
    let params = PatchParams::apply("skewed-replica").force();
    leases
        .patch(name, &params, &Patch::Apply(&write(0)))
        .await
        .unwrap();
    let renewing = {
        let leases = leases.clone();
        tokio::spawn(async move {
            for n in 1.. {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = leases.patch(name, &params, &Patch::Apply(&write(n))).await;
            }
        })
    };
    let cfg = election(name, "standby", 3, 2);
    let client =
        lease::lease_client(config_from(cluster.kubeconfig()).await.unwrap(), &cfg).unwrap();
    let fence = Fence::new(cfg.renew_deadline);
    let (rx, task) = election::spawn(client, cfg, fence);
    let seen = recorded(rx);
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![false],
        "a standby took over from a holder that kept renewing"
    );
    // The holder stops renewing: the standby takes over a lease duration later.
    renewing.abort();
    until("the standby leads", Duration::from_secs(10), || {
        seen.lock().unwrap().contains(&true)
    })
    .await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_after_a_takeover_fails_and_the_old_leader_steps_down() {
    let cluster = setup();
    let admin = cluster.client().await.unwrap();
    let leases: Api<Lease> = Api::namespaced(admin, NAMESPACE);
    let name = "lease-takeover";
    let cfg = election(name, "old", 6, 4);
    let fence = Fence::new(cfg.renew_deadline);
    let client =
        lease::lease_client(config_from(cluster.kubeconfig()).await.unwrap(), &cfg).unwrap();
    let renew = cfg.renew_period();
    let (rx, task) = election::spawn(client, cfg, fence.clone());
    let seen = recorded(rx);
    until("leading", Duration::from_secs(10), || {
        seen.lock().unwrap().contains(&true)
    })
    .await;
    // Another replica takes the Lease (as it would after the old one's silence).
    let taken = json!({"spec": {"holderIdentity": "new", "leaseTransitions": 7}});
    leases
        .patch(name, &PatchParams::default(), &Patch::Merge(&taken))
        .await
        .unwrap();
    until("the old leader steps down", renew * 3, || {
        seen.lock().unwrap().last() == Some(&false)
    })
    .await;
    assert!(!fence.is_open(Instant::now()), "its fence is closed");
    let lease = leases.get(name).await.unwrap();
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("new"),
        "the old leader's renewal did not overwrite the new holder"
    );
    task.abort();
}

/// The per-NodeENI gauges of `nodeenis` in the exporter's rendering (what Prometheus
/// scrapes): (series, value), e.g. (`aws_multi_eni_slots{nodeeni="a",state="ready"}`, 1).
fn nodeeni_gauges(scrape: &str, nodeenis: &[&str]) -> Vec<(String, f64)> {
    scrape
        .lines()
        .filter(|l| {
            l.starts_with("aws_multi_eni_slots{")
                || l.starts_with("aws_multi_eni_nodeeni_degraded{")
        })
        .filter(|l| {
            nodeenis
                .iter()
                .any(|n| l.contains(&format!("nodeeni=\"{n}\"")))
        })
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// A leader with a Ready NodeENI and a Degraded one loses its Lease to another replica and
/// stays up as a standby: its per-NodeENI gauges go to zero, so alerts that take the
/// maximum over replicas stop firing once the new leader has fixed things.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_loses_the_lease_exports_nothing_stale() {
    use aws_multi_eni_controller::k8s::NodeENI;
    use k8s_openapi::api::core::v1::Node;
    use kube::api::PostParams;

    trace();
    // The binary's own recorder and exporter: the test reads what Prometheus would scrape.
    let exporter = aws_multi_eni_controller::telemetry::install_metrics("controller")
        .expect("the only recorder of this test binary");
    // The shared server (no other test of this file runs a tree there, and they elect on
    // Leases of other names): one server fewer starting beside the others' timings.
    let cluster = setup();
    for crd in ["nodeenis", "eninodes"] {
        cluster
            .install_crd(&repo(&format!("deploy/crds/networking.k8s.aws_{crd}.yaml")))
            .await
            .unwrap();
    }
    let admin = cluster.client().await.unwrap();
    let sim = Ec2Simulator::new(SimConfig::default());
    let nodes_subnet = sim.add_subnet("us-east-1a", "10.0.0.0/16", None);
    sim.add_subnet("us-east-1a", "10.1.0.0/16", Some("multus"));
    sim.add_security_group("multus");
    let instance = sim
        .launch_cluster_instance("stale-test", "m5.xlarge", &nodes_subnet.id)
        .unwrap();
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-0", "labels": {"ng": "multi-eni"}},
        "spec": {"providerID": format!("aws:///us-east-1a/{}", instance.id)}
    }))
    .unwrap();
    Api::<Node>::all(admin.clone())
        .create(&PostParams::default(), &node)
        .await
        .unwrap();
    let nodeenis: Api<NodeENI> = Api::all(admin.clone());
    for (name, subnet) in [
        ("stale-ready", "multus"),
        ("stale-broken", "no-such-subnet"),
    ] {
        let obj: NodeENI = serde_json::from_value(json!({
            "apiVersion": "networking.k8s.aws/v1alpha1", "kind": "NodeENI", "metadata": {"name": name},
            "spec": {"nodeSelector": {"ng": "multi-eni"}, "subnetName": subnet, "securityGroupNames": ["multus"]}
        }))
        .unwrap();
        nodeenis.create(&PostParams::default(), &obj).await.unwrap();
    }

    let name = lease::DEFAULT_LEASE_NAME;
    let cfg = election(name, "stale-a", 6, 4);
    let renew = cfg.renew_period();
    let lease_config = controller_config(cluster, None).await;
    let kube: Arc<dyn Cluster> = Arc::new(
        KubeCluster::new(
            kube::Client::try_from(lease_config.clone()).unwrap(),
            Some("stale-a".into()),
        )
        .with_ledger(NAMESPACE, DEFAULT_LEDGER_NAME),
    );
    let ec2: Arc<dyn Ec2> = Arc::new(sim.clone());
    let settings = ControllerSettings {
        cluster: ClusterIdentity::new("stale-test", "stale-test-uid"),
        status_debounce: Duration::from_millis(100),
        ..ControllerSettings::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run_when_leading(
            lease_config,
            kube,
            ec2,
            settings,
            cfg,
            &Probes::default(),
            async {
                let _ = stop_rx.await;
            },
        )
        .await
    });
    let watched = ["stale-ready", "stale-broken"];
    let has = |series: &str, value: f64| {
        nodeeni_gauges(&exporter.render(), &watched)
            .iter()
            .any(|(s, v)| s == series && *v == value)
    };
    until(
        "the leader's gauges say Ready and Degraded",
        Duration::from_secs(60),
        || {
            has(
                r#"aws_multi_eni_slots{nodeeni="stale-ready",state="ready"}"#,
                1.0,
            ) && has(
                r#"aws_multi_eni_nodeeni_degraded{nodeeni="stale-broken"}"#,
                1.0,
            )
        },
    )
    .await;

    // Another replica takes the Lease; this one steps down and stays up.
    let leases: Api<Lease> = Api::namespaced(admin, NAMESPACE);
    // It holds it for an hour, so this replica does not take it back during the test.
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(jiff::Timestamp::now());
    let taken = json!({"spec": {"holderIdentity": "stale-b", "leaseTransitions": 9,
                                "leaseDurationSeconds": 3600, "renewTime": now}});
    leases
        .patch(name, &PatchParams::default(), &Patch::Merge(&taken))
        .await
        .unwrap();
    until(
        "every per-NodeENI gauge at zero",
        renew * 3 + Duration::from_secs(10),
        || {
            let g = nodeeni_gauges(&exporter.render(), &watched);
            g.len() == 8 && g.iter().all(|(_, v)| *v == 0.0)
        },
    )
    .await;
    assert!(!task.is_finished(), "the old leader stays up as a standby");
    let _ = stop_tx.send(());
    task.await.unwrap().unwrap();
}
