//! The node agent against the real kernel: network namespaces and veth pairs made by the
//! test (`ip netns add`, this kernel has no dummy links), the agent's real rtnetlink code
//! running in the namespace, each node's ENINode and the report in its status on the real
//! kube-apiserver. The agent talks to the API server as its ServiceAccount, with the RBAC
//! and admission policy that `deploy/` ships. The tests share one cluster: each has its
//! own Node.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_multi_eni_controller::agent::actors::Connector;
use aws_multi_eni_controller::agent::links::{Links, RtLinks};
use aws_multi_eni_controller::agent::{Agent, AgentDeps};
use aws_multi_eni_controller::k8s::kube_cluster::KubeCluster;
use aws_multi_eni_controller::k8s::{ENINode, InterfaceReport};
use aws_multi_eni_controller::supervision::RestartPolicy;
use eni_testkit::cluster::{AGENT_SA, NAMESPACE, TestCluster};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

mod dpdk;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A network namespace deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!(
            "eni-agent-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        Netns(name)
    }

    fn path(&self) -> std::path::PathBuf {
        std::path::PathBuf::from("/var/run/netns").join(&self.0)
    }

    /// A veth pair `name` / `name-p`; `name` gets `mac`, both start down at MTU 1500.
    fn veth(&self, name: &str, mac: &str) {
        veth_in(&self.0, name, mac);
    }

    fn set(&self, name: &str, args: &[&str]) {
        let mut all = vec!["-n", &self.0, "link", "set", name];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// (up, mtu) of a link, read with `ip -j`.
    fn state(&self, name: &str) -> (bool, u64) {
        let out = Command::new("ip")
            .args(["-n", &self.0, "-j", "link", "show", name])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let link = &v[0];
        let up = link["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "UP"));
        (up, link["mtu"].as_u64().unwrap_or(0))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A veth pair `name` / `name-p` in namespace `netns`; `name` gets `mac`.
fn veth_in(netns: &str, name: &str, mac: &str) {
    let peer = format!("{name}-p");
    ip(&[
        "-n", netns, "link", "add", name, "type", "veth", "peer", "name", &peer,
    ]);
    ip(&["-n", netns, "link", "set", name, "address", mac]);
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {args:?}: {} (the agent tests need root)",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn eventually<F: AsyncFnMut() -> bool>(what: &str, mut check: F) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: not within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One test's objects: its Node, an admin client for the test's own writes (the
/// controller's, here) and the agent's ServiceAccount client.
struct Env {
    admin: Client,
    agent: Client,
    node: String,
}

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

async fn setup(tag: &str) -> Env {
    let cluster = TestCluster::shared().expect("test cluster");
    cluster
        .install_crd(&repo("deploy/crds/networking.k8s.aws_nodeenis.yaml"))
        .await
        .expect("CRD");
    cluster
        .install_crd(&repo("deploy/crds/networking.k8s.aws_eninodes.yaml"))
        .await
        .expect("CRD");
    cluster
        .install_deploy(&repo(""))
        .expect("the plain manifests");
    let admin = cluster.client().await.unwrap();
    let node = format!("agent-{tag}");
    let obj: Node = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}),
    )
    .unwrap();
    Api::<Node>::all(admin.clone())
        .create(&PostParams::default(), &obj)
        .await
        .unwrap();
    let agent = agent_on(cluster, &admin, &node).await;
    Env { admin, agent, node }
}

/// A client with the token the agent's DaemonSet pod on `node` has: its ServiceAccount's,
/// bound to that pod (the pod is only stored: no kubelet runs it).
async fn agent_on(cluster: &TestCluster, admin: &Client, node: &str) -> Client {
    let ns = NAMESPACE;
    let pod_name = format!("eni-agent-{node}");
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod_name, "namespace": ns},
        "spec": {"nodeName": node, "serviceAccountName": AGENT_SA,
                 "containers": [{"name": "agent", "image": "eni-agent:test"}]}
    }))
    .unwrap();
    Api::<Pod>::namespaced(admin.clone(), ns)
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
    let token = cluster.pod_token(ns, &pod_name).await.unwrap();
    cluster.client_for_token(AGENT_SA, &token).await.unwrap()
}

/// Lists ENIs (node, MAC, MTU) on their nodes' ENINodes, as the controller does (one
/// field manager: each call replaces the entries of the last).
async fn attachments(env: &Env, list: &[(&str, &str, i64)]) {
    let api: Api<ENINode> = Api::all(env.admin.clone());
    let mut by_node: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    by_node.entry(env.node.as_str()).or_default();
    for (node, mac, mtu) in list {
        by_node.entry(node).or_default().push(json!({
            "eniID": format!("eni-{}", &mac[12..]), "macAddress": mac, "nodeENI": "multus",
            "subnetID": "subnet-12345678", "deviceIndex": 1, "mtu": mtu,
        }));
    }
    for (node, interfaces) in by_node {
        let object = json!({
            "apiVersion": "networking.k8s.aws/v1alpha1", "kind": "ENINode",
            "metadata": {"name": node}, "spec": {"interfaces": interfaces},
        });
        api.patch(
            node,
            &PatchParams::apply("agent-test").force(),
            &Patch::Apply(&object),
        )
        .await
        .unwrap();
    }
}

async fn start_agent(env: &Env, ns: &Netns) -> Agent {
    let path = ns.path();
    let connect: Connector = Arc::new(move || {
        RtLinks::connect_in(&path).map(|(l, e)| (Arc::new(l) as Arc<dyn Links>, e))
    });
    Agent::start(AgentDeps {
        node: env.node.clone(),
        default_mtu: 0,
        cluster: Arc::new(KubeCluster::new(env.agent.clone(), Some("agent-a".into()))),
        connect,
        pci: Arc::new(aws_multi_eni_controller::agent::pci::NoDpdk),
        device_plugin: None,
        restart: RestartPolicy::default(),
    })
    .await
    .unwrap()
}

async fn report(env: &Env) -> BTreeMap<String, InterfaceReport> {
    let eninode = Api::<ENINode>::all(env.admin.clone())
        .get_opt(&env.node)
        .await
        .unwrap();
    eninode
        .and_then(|e| e.status)
        .map(|s| {
            s.interfaces
                .into_iter()
                .map(|r| (r.mac_address.clone(), r))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configures_only_this_nodes_links_by_mac_and_reports() {
    let ns = Netns::new();
    ns.veth("eth0", "02:00:00:00:00:a0");
    ns.veth("ens6", "02:00:00:00:00:06");
    ns.veth("ens7", "02:00:00:00:00:07");
    ns.veth("ens8", "02:00:00:00:00:08");
    ns.veth("ens9", "02:00:00:00:00:09");
    ns.veth("other", "02:00:00:00:00:99");
    let env = setup("only-this-node").await;
    let me = env.node.as_str();
    attachments(
        &env,
        &[
            (me, "02:00:00:00:00:06", 9001),
            (me, "02:00:00:00:00:07", 70_000),
            (me, "02:00:00:00:00:08", 0),
            (me, "02:00:00:00:00:09", 100),
            ("another-node", "02:00:00:00:00:99", 9001),
        ],
    )
    .await;
    let agent = start_agent(&env, &ns).await;
    eventually("ens6 up at 9001", async || ns.state("ens6") == (true, 9001)).await;
    eventually("ens7 clamped to the veth maximum", async || {
        ns.state("ens7") == (true, 65_535)
    })
    .await;
    eventually("ens8 up, MTU left alone", async || {
        ns.state("ens8") == (true, 1500)
    })
    .await;
    eventually("ens9 raised to 576", async || {
        ns.state("ens9") == (true, 576)
    })
    .await;
    assert_eq!(ns.state("eth0"), (false, 1500), "the primary is untouched");
    assert_eq!(
        ns.state("other"),
        (false, 1500),
        "another node's MAC is untouched"
    );
    assert_eq!(
        ns.state("ens6-p"),
        (false, 1500),
        "peers (unknown MACs) are untouched"
    );
    eventually("reported on the Node", async || {
        let r = report(&env).await;
        r.len() == 4
            && r.values().all(|l| l.configured)
            && r["02:00:00:00:00:06"].interface.as_deref() == Some("ens6")
    })
    .await;
    // What `kubectl get eninodes` shows: counts (a `[*]` column showed the first ENI only).
    let cluster = TestCluster::shared().expect("test cluster");
    let out = cluster
        .run_kubectl(&["get", "eninode", me, "--no-headers"], None)
        .expect("kubectl runs");
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(columns[..3], [me, "4", "4"], "NAME ENIS CONFIGURED: {line}");
    let r = report(&env).await;
    assert!(
        r["02:00:00:00:00:07"].mtu_clamped,
        "70000 asked, the veth maximum set: reported as clamped"
    );
    assert!(!r["02:00:00:00:00:06"].mtu_clamped);

    // Someone takes ens6 down and changes its MTU: the next netlink event restores it.
    ns.set("ens6", &["down"]);
    ns.set("ens6", &["mtu", "1400"]);
    eventually("ens6 restored", async || ns.state("ens6") == (true, 9001)).await;
    agent.stop().await;
}

/// A bridge and a macvlan child carry the ENI's MAC too (as VLAN children and bonds do;
/// this kernel builds neither): only the device itself is configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enis_own_device_is_configured_not_the_links_sharing_its_mac() {
    let ns = Netns::new();
    let mac = "02:00:00:00:02:06";
    ns.veth("ens6", mac);
    ip(&[
        "-n", &ns.0, "link", "add", "link", "ens6", "name", "ens6.mv", "address", mac, "type",
        "macvlan", "mode", "passthru",
    ]);
    ip(&[
        "-n", &ns.0, "link", "add", "br6", "address", mac, "type", "bridge",
    ]);
    let env = setup("stacked-links").await;
    let me = env.node.as_str();
    attachments(&env, &[(me, mac, 9001)]).await;
    let agent = start_agent(&env, &ns).await;
    eventually("the device up at 9001", async || {
        ns.state("ens6") == (true, 9001)
    })
    .await;
    eventually("reported as the device", async || {
        report(&env)
            .await
            .get(mac)
            .is_some_and(|l| l.configured && l.interface.as_deref() == Some("ens6"))
    })
    .await;
    assert_eq!(ns.state("br6"), (false, 1500), "the bridge is left alone");
    assert_eq!(
        ns.state("ens6.mv"),
        (false, 1500),
        "the macvlan is left alone"
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_before_link_and_link_before_attachment_both_end_configured() {
    let ns = Netns::new();
    ns.veth("ens6", "02:00:00:00:01:06");
    let env = setup("either-order").await;
    let me = env.node.as_str();
    let agent = start_agent(&env, &ns).await;
    // The link exists before its attachment.
    attachments(&env, &[(me, "02:00:00:00:01:06", 9001)]).await;
    eventually(
        "existing link configured when its attachment arrives",
        async || ns.state("ens6") == (true, 9001),
    )
    .await;
    // The attachment exists before its link (the ENI is still being attached).
    attachments(
        &env,
        &[
            (me, "02:00:00:00:01:06", 9001),
            (me, "02:00:00:00:01:07", 1500),
        ],
    )
    .await;
    eventually("reported as waiting for its link", async || {
        report(&env)
            .await
            .get("02:00:00:00:01:07")
            .is_some_and(|r| !r.configured && r.interface.is_none())
    })
    .await;
    ns.veth("ens7", "02:00:00:00:01:07");
    eventually(
        "the new link configured from its netlink event",
        async || ns.state("ens7") == (true, 1500),
    )
    .await;
    eventually("reported configured", async || {
        report(&env)
            .await
            .get("02:00:00:00:01:07")
            .is_some_and(|r| r.configured)
    })
    .await;
    agent.stop().await;
}

type LinkResult = Result<(), aws_multi_eni_controller::agent::links::LinkError>;

/// The real netlink, with every change first passed to `before`: it may panic (a bug in
/// the I/O layer), refuse (answer an error), or let the change through (`None`).
struct Faulty {
    inner: RtLinks,
    before: Box<dyn Fn() -> Option<LinkResult> + Send + Sync>,
}

#[async_trait::async_trait]
impl Links for Faulty {
    async fn dump(
        &self,
    ) -> Result<
        Vec<aws_multi_eni_controller::agent::desired::LinkState>,
        aws_multi_eni_controller::agent::links::LinkError,
    > {
        self.inner.dump().await
    }
    async fn set(&self, index: u32, up: bool, mtu: Option<u32>) -> LinkResult {
        match (self.before)() {
            Some(answer) => answer,
            None => self.inner.set(index, up, mtu).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_netlink_actor_restarts_and_the_work_completes() {
    let ns = Netns::new();
    ns.veth("ens6", "02:00:00:00:02:06");
    let env = setup("netlink-restart").await;
    attachments(&env, &[(env.node.as_str(), "02:00:00:00:02:06", 9001)]).await;
    let path = ns.path();
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let connects = Arc::new(AtomicU32::new(0));
    let counted = connects.clone();
    let connect: Connector = Arc::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        let armed = first.swap(false, Ordering::SeqCst);
        let armed = std::sync::atomic::AtomicBool::new(armed);
        let before = Box::new(move || {
            assert!(
                !armed.swap(false, Ordering::SeqCst),
                "injected netlink panic"
            );
            None
        });
        RtLinks::connect_in(&path)
            .map(|(inner, e)| (Arc::new(Faulty { inner, before }) as Arc<dyn Links>, e))
    });
    let agent = Agent::start(AgentDeps {
        node: env.node.clone(),
        default_mtu: 0,
        cluster: Arc::new(KubeCluster::new(env.agent.clone(), Some("agent-a".into()))),
        connect,
        pci: Arc::new(aws_multi_eni_controller::agent::pci::NoDpdk),
        device_plugin: None,
        restart: RestartPolicy {
            initial_backoff: Duration::from_millis(100),
            ..RestartPolicy::default()
        },
    })
    .await
    .unwrap();
    eventually("configured after the restart", async || {
        ns.state("ens6") == (true, 9001)
    })
    .await;
    eventually("reported", async || {
        report(&env)
            .await
            .get("02:00:00:00:02:06")
            .is_some_and(|r| r.configured)
    })
    .await;
    assert_eq!(
        connects.load(Ordering::SeqCst),
        2,
        "the netlink actor failed once and was restarted"
    );
    agent.stop().await;
}

fn refusal(e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} {}", s.code, s.message),
        other => panic!("the server did not answer: {other}"),
    }
}

/// What the shipped RBAC and admission policy let an agent's token do to a node's
/// ENINode status.
async fn write_report(client: &Client, node: &str) -> Result<(), String> {
    let patch = json!({"status": {"interfaces": [], "configuredCount": 0}});
    Api::<ENINode>::all(client.clone())
        .patch_status(node, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map(|_| ())
        .map_err(refusal)
}

#[tokio::test]
async fn an_agent_may_report_only_on_its_own_node() {
    let env = setup("rbac-own").await;
    let other = setup("rbac-other").await;
    attachments(&env, &[(other.node.as_str(), "02:00:00:00:0a:01", 9001)]).await;
    write_report(&env.agent, &env.node)
        .await
        .expect("the agent reports on its own node");
    // An admission policy takes effect a moment after it is created, as in any cluster.
    let start = Instant::now();
    let refused = loop {
        match write_report(&env.agent, &other.node).await {
            Err(refused) => break refused,
            Ok(()) => {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "another node's report was accepted for 30 s"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert!(
        refused.starts_with("403") && refused.contains("only on the node its pod runs on"),
        "{refused}"
    );
    // Its RBAC gives it no write of an ENINode's spec, and nothing of Nodes.
    let spec = json!({"spec": {"interfaces": []}});
    let refused = Api::<ENINode>::all(env.agent.clone())
        .patch(&env.node, &PatchParams::default(), &Patch::Merge(spec))
        .await
        .map(|_| ())
        .map_err(refusal)
        .expect_err("its own ENINode's spec");
    assert!(refused.starts_with("403"), "{refused}");
    let label = json!({"metadata": {"labels": {"ng": "multi-eni"}}});
    let refused = Api::<Node>::all(env.agent.clone())
        .patch(&env.node, &PatchParams::default(), &Patch::Merge(label))
        .await
        .map(|_| ())
        .map_err(refusal)
        .expect_err("its own Node");
    assert!(refused.starts_with("403"), "{refused}");
    let cluster = TestCluster::shared().unwrap();
    let unbound = cluster
        .service_account_client(NAMESPACE, AGENT_SA)
        .await
        .unwrap();
    let refused = write_report(&unbound, &env.node)
        .await
        .expect_err("a token bound to no pod");
    assert!(refused.starts_with("403"), "{refused}");
    let own = Api::<ENINode>::all(env.agent.clone()).get(&env.node).await;
    assert!(own.is_ok(), "the agent reads its ENINode: {own:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_kernel_refuses_is_retried_with_backoff_and_reported() {
    let ns = Netns::new();
    ns.veth("ens6", "02:00:00:00:03:06");
    let env = setup("netlink-refused").await;
    attachments(&env, &[(env.node.as_str(), "02:00:00:00:03:06", 9001)]).await;
    let path = ns.path();
    let tries = Arc::new(AtomicU32::new(0));
    let counted = tries.clone();
    let connect: Connector = Arc::new(move || {
        let tries = counted.clone();
        // Refuses every change, counting them.
        let before = Box::new(move || {
            tries.fetch_add(1, Ordering::SeqCst);
            Some(Err(
                aws_multi_eni_controller::agent::links::LinkError::Request(
                    "Operation not permitted".into(),
                ),
            ))
        });
        RtLinks::connect_in(&path)
            .map(|(inner, e)| (Arc::new(Faulty { inner, before }) as Arc<dyn Links>, e))
    });
    let agent = Agent::start(AgentDeps {
        node: env.node.clone(),
        default_mtu: 0,
        cluster: Arc::new(KubeCluster::new(env.agent.clone(), Some("agent-a".into()))),
        connect,
        pci: Arc::new(aws_multi_eni_controller::agent::pci::NoDpdk),
        device_plugin: None,
        restart: RestartPolicy::default(),
    })
    .await
    .unwrap();
    eventually("the refusal reported", async || {
        report(&env)
            .await
            .get("02:00:00:00:03:06")
            .is_some_and(|r| {
                r.message
                    .as_deref()
                    .is_some_and(|e| e.contains("not permitted"))
            })
    })
    .await;
    // Not a measurement of speed: a retry at once would make thousands of tries in this
    // window, a backoff from one second a handful.
    let before = tries.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = tries.load(Ordering::SeqCst) - before;
    assert!(
        (1..=4).contains(&during),
        "{during} tries in 3 s after the first refusals"
    );
    agent.stop().await;
}

/// The agent on a node whose only address is IPv6: `/metrics` and the probes answer on
/// it, at the address the chart's `BIND_HOST` gives (run in a namespace with nothing else).
#[test]
fn metrics_are_served_on_an_ipv6_only_node() {
    use std::os::fd::AsFd;

    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: aws_multi_eni_controller::config::AgentArgs,
    }

    let ns = Netns::new();
    ns.veth("v6", "02:00:00:00:06:01");
    for link in ["lo", "v6", "v6-p"] {
        ns.set(link, &["up"]);
    }
    ip(&[
        "-n",
        &ns.0,
        "addr",
        "add",
        "fd00:ec2::5/64",
        "dev",
        "v6",
        "nodad",
    ]);
    let path = ns.path();
    let pages = std::thread::spawn(move || {
        let f = std::fs::File::open(&path).unwrap();
        nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let args = Cli::parse_from(["eni-agent", "--node-name=n", "--bind-host=fd00:ec2::5"]);
            let (m, h) = args.args.listen_addrs();
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::with_local_recorder(&recorder, || {
                metrics::counter!("aws_multi_eni_agent_ipv6_probe_total").increment(1);
            });
            let probes = aws_multi_eni_controller::telemetry::Probes::default();
            aws_multi_eni_controller::telemetry::serve(handle, probes, m, h)
                .await
                .unwrap();
            let mut pages = Vec::new();
            for (addr, path) in [(m, "/metrics"), (h, "/healthz")] {
                let answer = eni_testkit::http::get(addr, path).await.unwrap();
                pages.push((addr.to_string(), answer));
            }
            pages
        })
    })
    .join()
    .unwrap();
    assert_eq!(pages[0].0, "[fd00:ec2::5]:61780");
    assert_eq!(pages[0].1.status, 200, "{}", pages[0].1.body);
    assert!(
        pages[0]
            .1
            .body
            .contains("aws_multi_eni_agent_ipv6_probe_total 1"),
        "{}",
        pages[0].1.body
    );
    assert_eq!(pages[1].0, "[fd00:ec2::5]:61781");
    assert_eq!(pages[1].1.status, 200, "{}", pages[1].1.body);
}
