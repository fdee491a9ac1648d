//! End to end with the real binary: `eni-controller run` against the real kube-apiserver
//! (as its ServiceAccount, with the RBAC `deploy/` ships, from a KUBECONFIG file) and moto
//! (EC2), driven by `kubectl` as a user would. The controller watches every NodeENI and
//! Node, so each test has a cluster of its own.
//!
//! moto differs from EC2 in ways that matter here: it keeps deleteOnTermination false
//! whatever is asked (so the NodeENI asks for false), attaches and detaches instantly,
//! and ignores ClientTokens (so crash recovery rests on the ownership tags alone, which
//! moto does search consistently).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod migration;
mod prometheus;
mod restart;

use eni_testkit::cluster::{AGENT_SA, CONTROLLER_SA, NAMESPACE, TestCluster};
use eni_testkit::moto::{MotoNetwork, MotoServer, build_network, free_port};
use serde_json::json;

const CLUSTER: &str = "e2e";

struct Env {
    api: TestCluster,
    controller_kubeconfig: PathBuf,
    moto: MotoServer,
    ec2: aws_sdk_ec2::Client,
    net: MotoNetwork,
    dir: PathBuf,
}

fn kubectl(api: &TestCluster, args: &[&str]) -> String {
    api.kubectl_ok(args).unwrap()
}

fn apply(env: &Env, name: &str, yaml: &str) {
    let path = env.dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    kubectl(&env.api, &["apply", "-f", path.to_str().unwrap()]);
}

fn repo(path: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

async fn setup(nodes_per_zone: usize) -> Env {
    setup_in(&["us-east-1a"], nodes_per_zone).await
}

/// A cluster of its own, moto with `nodes_per_zone` cluster instances in each of `zones`
/// (and a subnet named `multus-<zone>` per zone), and a Node per instance labelled
/// `ng=multi-eni`.
async fn setup_in(zones: &[&str], nodes_per_zone: usize) -> Env {
    let api = tokio::task::spawn_blocking(TestCluster::start)
        .await
        .unwrap()
        .expect("test cluster");
    kubectl(
        &api,
        &[
            "apply",
            "-f",
            repo("deploy/crds/networking.k8s.aws_nodeenis.yaml")
                .to_str()
                .unwrap(),
        ],
    );
    api.install_deploy(&repo("")).unwrap();
    let controller_kubeconfig = api
        .service_account_kubeconfig(NAMESPACE, CONTROLLER_SA)
        .await
        .unwrap();
    let moto = MotoServer::start().unwrap();
    let ec2 = moto.client();
    let net = build_network(&ec2, CLUSTER, zones, nodes_per_zone, "m5.large")
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("eni-e2e-{}", free_port().unwrap()));
    std::fs::create_dir_all(&dir).unwrap();
    let env = Env {
        api,
        controller_kubeconfig,
        moto,
        ec2,
        net,
        dir,
    };
    kubectl(
        &env.api,
        &[
            "wait",
            "--for=condition=Established",
            "crd/nodeenis.networking.k8s.aws",
        ],
    );
    for (i, (instance, zone)) in env.net.instances.iter().enumerate() {
        let yaml = format!(
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-{i}\n  labels:\n    ng: multi-eni\nspec:\n  providerID: aws:///{zone}/{instance}\n  taints:\n  - key: networking.k8s.aws/enis-not-ready\n    effect: NoSchedule\n"
        );
        apply(&env, &format!("node-{i}.yaml"), &yaml);
    }
    env
}

const NODEENI: &str = "apiVersion: networking.k8s.aws/v1alpha1
kind: NodeENI
metadata:
  name: multus
spec:
  nodeSelector:
    ng: multi-eni
  subnetName: multus-us-east-1a
  securityGroupNames: [multus]
  deviceIndex: 1
  deleteOnTermination: false
  mtu: 9001
";

struct Controller {
    child: Child,
    log: PathBuf,
    metrics: u16,
}

impl Controller {
    fn start(env: &Env, tag: &str) -> Controller {
        let metrics = free_port().unwrap();
        let log = env.dir.join(format!("controller-{tag}.log"));
        // Logs go to stdout, panics and start-up errors to stderr: one file, one offset.
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_eni-controller"))
            .args(["run", "--cluster-name", CLUSTER])
            .env("KUBECONFIG", &env.controller_kubeconfig)
            .env("AWS_ENDPOINT_URL_EC2", env.moto.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("METRICS_ADDR", format!("127.0.0.1:{metrics}"))
            .env("HEALTH_ADDR", format!("127.0.0.1:{metrics}"))
            .env("POD_NAMESPACE", NAMESPACE)
            .env("POD_NAME", format!("controller-{tag}"))
            .env("LEADER_ELECTION_LEASE_DURATION", "5s")
            .env("LEADER_ELECTION_RENEW_DEADLINE", "2s")
            .env("LOG_LEVEL", "info,aws_multi_eni_controller=debug")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("controller starts");
        Controller {
            child,
            log,
            metrics,
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (ENI, instance, device index) of every ENI tagged for this cluster, from moto.
async fn owned(env: &Env) -> Vec<(String, Option<String>, Option<i32>)> {
    eni_testkit::moto::cluster_enis(&env.ec2, CLUSTER)
        .await
        .unwrap()
}

async fn wait<F: AsyncFnMut() -> bool>(what: &str, c: &Controller, limit: Duration, mut check: F) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < limit,
            "{what}: not within {limit:?}\n--- controller log ---\n{}",
            c.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until no NodeENI is left (their finalizers released).
async fn no_nodeeni_left(env: &Env, c: &Controller) {
    wait("the NodeENI gone", c, Duration::from_secs(60), async || {
        kubectl(&env.api, &["get", "neni", "-o", "name"])
            .trim()
            .is_empty()
    })
    .await;
}

fn ready(env: &Env) -> (i64, i64) {
    let out = kubectl(
        &env.api,
        &[
            "get",
            "neni",
            "multus",
            "-o",
            "jsonpath={.status.desiredCount} {.status.readyCount}",
        ],
    );
    let mut it = out.split_whitespace().map(|s| s.parse().unwrap_or(-1));
    (it.next().unwrap_or(-1), it.next().unwrap_or(-1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_rolls_out_relabels_and_deletes() {
    let env = setup(3).await;
    apply(&env, "nodeeni.yaml", NODEENI);
    let c = Controller::start(&env, "0");
    wait(
        "3 ENIs attached in moto",
        &c,
        Duration::from_secs(90),
        async || {
            let o = owned(&env).await;
            o.len() == 3 && o.iter().all(|(_, i, d)| i.is_some() && *d == Some(1))
        },
    )
    .await;
    wait("NodeENI Ready", &c, Duration::from_secs(30), async || {
        ready(&env) == (3, 3)
    })
    .await;
    let table = kubectl(&env.api, &["get", "neni"]);
    assert!(
        table.contains("DESIRED") && table.contains("AllAttached"),
        "{table}"
    );
    let macs = kubectl(
        &env.api,
        &[
            "get",
            "neni",
            "multus",
            "-o",
            "jsonpath={.status.attachments[*].macAddress}",
        ],
    );
    assert_eq!(macs.split_whitespace().count(), 3, "{macs}");

    // node-0's agent reports its interface up (written as the agent would): the
    // controller removes node-0's startup taint and says it is ready; the others wait.
    let eni = kubectl(
        &env.api,
        &[
            "get",
            "eninode",
            "node-0",
            "-o",
            "jsonpath={.spec.interfaces[0].eniID} {.spec.interfaces[0].macAddress}",
        ],
    );
    let (eni, mac) = eni.trim().split_once(' ').expect("node-0's ENINode entry");
    let report = json!({"status": {"interfaces": [{
        "eniID": eni, "macAddress": mac, "nodeENI": "multus", "interface": "ens6",
        "configured": true, "mtu": 9001
    }], "configuredCount": 1, "eniCount": 1}});
    kubectl(
        &env.api,
        &[
            "patch",
            "eninode",
            "node-0",
            "--subresource=status",
            "--type=merge",
            "-p",
            &report.to_string(),
        ],
    );
    let taints_of = |node: &str| {
        kubectl(
            &env.api,
            &["get", "node", node, "-o", "jsonpath={.spec.taints[*].key}"],
        )
    };
    wait(
        "node-0's startup taint removed",
        &c,
        Duration::from_secs(30),
        async || !taints_of("node-0").contains("networking.k8s.aws/enis-not-ready"),
    )
    .await;
    let condition = kubectl(
        &env.api,
        &[
            "get",
            "node",
            "node-0",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"networking.k8s.aws/ENIsReady\")].reason}",
        ],
    );
    assert_eq!(condition.trim(), "ENIsConfigured");
    assert!(taints_of("node-1").contains("networking.k8s.aws/enis-not-ready"));

    let metrics = reqwest_like_get(c.metrics, "/metrics").await;
    assert!(
        metrics.contains("aws_multi_eni_selected_nodes{state=\"ready\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "aws_multi_eni_ec2_calls_total{action=\"CreateNetworkInterface\",outcome=\"ok\"} 3"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "aws_multi_eni_kube_watch_events_total{resource=\"nodes\",event=\"resync\"} 1"
        ),
        "the initial node listing is counted: {metrics}"
    );
    check_with_promtool(&env, &metrics);
    // Answered 200 (checked inside): leading and synced.
    reqwest_like_get(c.metrics, "/readyz").await;
    let agent = Agent::start(&env).await;
    let agent_metrics = agent.scrape().await;
    check_with_promtool(&env, &agent_metrics);
    every_metric_the_rules_and_dashboard_name_is_exported(&[&metrics, &agent_metrics]);
    drop(agent);

    kubectl(&env.api, &["label", "node", "node-1", "ng-"]);
    wait(
        "node-1's ENI deleted",
        &c,
        Duration::from_secs(60),
        async || owned(&env).await.len() == 2,
    )
    .await;
    wait("status follows", &c, Duration::from_secs(30), async || {
        ready(&env) == (2, 2)
    })
    .await;

    kubectl(&env.api, &["delete", "neni", "multus", "--wait=false"]);
    no_nodeeni_left(&env, &c).await;
    let entries = kubectl(
        &env.api,
        &[
            "get",
            "eninodes",
            "-o",
            "jsonpath={.items[*].spec.interfaces[*].eniID}",
        ],
    );
    assert!(
        entries.trim().is_empty(),
        "its ENIs left every ENINode: {entries}"
    );
    assert!(
        owned(&env).await.is_empty(),
        "every ENI was gone before the finalizer was released"
    );
    let events = kubectl(
        &env.api,
        &[
            "get",
            "events.events.k8s.io",
            "-A",
            "-o",
            "jsonpath={.items[*].reason}",
        ],
    );
    assert!(
        events.contains("ENICreated") && events.contains("ENIDeleted"),
        "{events}"
    );
}

/// The Lease holder's identity (its `POD_NAME`), if any.
fn leader(env: &Env) -> String {
    kubectl(
        &env.api,
        &[
            "get",
            "lease",
            "-n",
            NAMESPACE,
            aws_multi_eni_controller::k8s::lease::DEFAULT_LEASE_NAME,
            "-o",
            "jsonpath={.spec.holderIdentity}",
            "--ignore-not-found",
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_the_leader_mid_rollout_and_the_standby_finishes_without_duplicates() {
    let env = setup(6).await;
    apply(&env, "nodeeni.yaml", NODEENI);
    let mut replicas = vec![Controller::start(&env, "a"), Controller::start(&env, "b")];
    wait(
        "the rollout under way",
        &replicas[0],
        Duration::from_secs(90),
        async || !owned(&env).await.is_empty(),
    )
    .await;
    let holder = leader(&env);
    let index = ["controller-a", "controller-b"]
        .iter()
        .position(|id| *id == holder)
        .unwrap_or_else(|| panic!("a replica holds the Lease, not {holder:?}"));
    replicas.remove(index).kill9();
    let standby = replicas.remove(0);
    wait(
        "6 ENIs, one per node",
        &standby,
        Duration::from_secs(120),
        async || {
            let o = owned(&env).await;
            let mut instances: Vec<_> = o.iter().filter_map(|(_, i, _)| i.clone()).collect();
            instances.sort();
            instances.dedup();
            o.len() == 6 && instances.len() == 6
        },
    )
    .await;
    wait(
        "NodeENI Ready",
        &standby,
        Duration::from_secs(30),
        async || ready(&env) == (6, 6),
    )
    .await;
    assert_ne!(leader(&env), holder, "the standby took the Lease over");
}

/// The real `eni-agent` binary for a node with no ENIs, holding the token its DaemonSet pod
/// would (bound to a pod on that node); it configures nothing, but serves its metrics.
struct Agent {
    child: Child,
    metrics: u16,
}

impl Agent {
    async fn start(env: &Env) -> Agent {
        let node = "agent-probe";
        let yaml = format!(
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: {node}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: eni-agent-probe\n  namespace: {NAMESPACE}\nspec:\n  nodeName: {node}\n  serviceAccountName: {AGENT_SA}\n  containers:\n  - name: agent\n    image: eni-agent:test\n"
        );
        apply(env, "agent-probe.yaml", &yaml);
        let token = env
            .api
            .pod_token(NAMESPACE, "eni-agent-probe")
            .await
            .unwrap();
        let kubeconfig = env.api.kubeconfig_for_token(AGENT_SA, &token).unwrap();
        let metrics = free_port().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_eni-agent"))
            .env("KUBECONFIG", kubeconfig)
            .env("NODE_NAME", node)
            .env("METRICS_ADDR", format!("127.0.0.1:{metrics}"))
            .env("HEALTH_ADDR", format!("127.0.0.1:{metrics}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(env.dir.join("agent.log")).unwrap())
            .spawn()
            .expect("eni-agent starts");
        Agent { child, metrics }
    }

    /// `/metrics`, once the agent has read its node's (empty) attachments.
    async fn scrape(&self) -> String {
        let start = Instant::now();
        loop {
            if let Ok(text) =
                tokio::time::timeout(Duration::from_secs(5), try_get(self.metrics, "/metrics"))
                    .await
                && let Some(text) = text
                && text.contains("aws_multi_eni_agent_links_managed")
            {
                return text;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the agent served no metrics within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The metric names in every PromQL expression of the alert rules and the dashboard
/// appear in the scrapes of the real binaries.
fn every_metric_the_rules_and_dashboard_name_is_exported(scrapes: &[&str]) {
    let exported: std::collections::BTreeSet<&str> = scrapes
        .iter()
        .flat_map(|s| s.lines())
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let rules =
        std::fs::read_to_string(repo("charts/aws-multi-eni-controller/files/alerts.yaml")).unwrap();
    let rules: serde_json::Value = serde_saphyr::from_str(&rules).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("charts/aws-multi-eni-controller/files/dashboard.json"))
            .unwrap(),
    )
    .unwrap();
    let mut exprs: Vec<String> = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .map(|r| r["expr"].as_str().unwrap().to_string())
        .collect();
    exprs.extend(
        dashboard["panels"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
            .map(|t| t["expr"].as_str().unwrap().to_string()),
    );
    let mut named = 0;
    for expr in &exprs {
        let mut rest = expr.as_str();
        while let Some(at) = rest.find("aws_multi_eni_") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            let name = &tail[..end];
            assert!(
                exported.contains(name),
                "{name} (in `{expr}`) is not exported by the controller or the agent"
            );
            named += 1;
            rest = &tail[end..];
        }
    }
    assert!(named > 30, "{named} metric references checked");

    // And the README documents every metric the binaries export.
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    for name in &exported {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        let short = base.trim_start_matches("aws_multi_eni_");
        assert!(
            readme.contains(&format!("`{base}")) || readme.contains(&format!("`{short}`")),
            "README.md's metric list misses {base}"
        );
    }
}

/// The body of a `200` answer to GET http://127.0.0.1:port/path, if any.
async fn try_get(port: u16, path: &str) -> Option<String> {
    let answer = eni_testkit::http::get(("127.0.0.1", port), path)
        .await
        .ok()?;
    (answer.status == 200).then_some(answer.body)
}

/// The body of GET http://127.0.0.1:port/path, which must answer 200.
async fn reqwest_like_get(port: u16, path: &str) -> String {
    let answer = eni_testkit::http::get(("127.0.0.1", port), path)
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    answer.body
}

/// `promtool check metrics` on the scrape, when promtool is installed (the README's
/// test command installs it).
fn check_with_promtool(env: &Env, scrape: &str) {
    let path = env.dir.join("scrape.txt");
    std::fs::write(&path, scrape).unwrap();
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .expect("promtool is installed (scripts/test.sh installs the prometheus package)");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_killed_mid_rollout_resumes_at_once_under_its_own_name() {
    let r = restart::run(restart::Case {
        nodes: 30,
        subnets: 1,
        capacity_scale: 0.02,
        kill_at: 0.34,
    })
    .await
    .unwrap();
    eprintln!(
        "{} ENIs, {} at the kill, first call {:?} s after the restart, rollout {:.1} s (floor {:.1} s)",
        r.enis, r.at_kill, r.resumed_after, r.rollout_seconds, r.floor
    );
    assert!(r.converged, "{r:#?}");
    assert!(r.at_kill < r.enis, "killed mid-rollout: {r:#?}");
    assert_eq!(r.owned, r.enis, "no duplicate and none missing: {r:#?}");
    assert_eq!(r.distinct_attachments, r.enis, "{r:#?}");
    // It used to send nothing for 30 s after a restart; it goes on within seconds (the
    // bound leaves room for a slow machine, not for the old pause).
    let resumed = r.resumed_after.expect("calls after the restart");
    assert!(
        resumed < 10.0,
        "first call {resumed:.1} s after the restart: {r:#?}"
    );
}
