//! The alerts and the dashboard on a running Prometheus: a real server scrapes two
//! controller replicas and an agent (the real binaries) every second while a user rolls a
//! NodeENI out, breaks and fixes a second one, removes a node's label, and the leader
//! freezes long enough to lose its Lease and then wakes up as a standby. Through
//! Prometheus's HTTP API: the chart's rules load and are healthy, every alert expression
//! and every dashboard query (its variables substituted) evaluates, every dashboard query
//! returns data at some point, and the alert the scenario breaks fires and is resolved
//! after the failover, with nothing stale left on the replica that lost the Lease.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use eni_testkit::prometheus::{Job, PrometheusServer};
use serde_json::Value;

use super::*;

/// Every query of the dashboard: (panel title, expression with the variables substituted
/// as Grafana does for "All" and a 1-minute step).
fn dashboard_queries() -> Vec<(String, String)> {
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("charts/aws-multi-eni-controller/files/dashboard.json"))
            .unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let mut expr = target["expr"].as_str().unwrap().to_string();
            for var in ["cluster", "job", "namespace", "nodeeni", "node"] {
                expr = expr.replace(&format!("\"${var}\""), "\".*\"");
            }
            expr = expr
                .replace("$__rate_interval", "1m")
                .replace("$__range", "10m");
            assert!(!expr.contains('$'), "a variable left in {expr}");
            out.push((panel["title"].as_str().unwrap().to_string(), expr));
        }
    }
    // The variables' own queries: `label_values(selector, label)` lists the label's values.
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(def) = var["definition"].as_str() {
            let inner = def
                .strip_prefix("label_values(")
                .and_then(|d| d.strip_suffix(')'))
                .unwrap();
            let (selector, label) = inner.rsplit_once(", ").unwrap();
            let mut selector = selector.to_string();
            for v in ["cluster", "job", "namespace"] {
                selector = selector.replace(&format!("\"${v}\""), "\".*\"");
            }
            out.push((
                format!("variable {}", var["name"].as_str().unwrap()),
                format!("count by ({label}) ({selector})"),
            ));
        }
    }
    out
}

/// The chart's rules with the `for` of the alerts the scenario drives shortened to a
/// second (their expressions unchanged; promtool's unit tests cover each `for`).
fn rules_file(env: &Env, fast: &[&str]) -> std::path::PathBuf {
    let text =
        std::fs::read_to_string(repo("charts/aws-multi-eni-controller/files/alerts.yaml")).unwrap();
    let mut doc: Value = serde_saphyr::from_str(&text).unwrap();
    for group in doc["groups"].as_array_mut().unwrap() {
        for rule in group["rules"].as_array_mut().unwrap() {
            if fast.contains(&rule["alert"].as_str().unwrap()) {
                rule["for"] = Value::String("1s".into());
            }
        }
    }
    let path = env.dir.join("alerts.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

/// Queries that returned a sample that is a number (not NaN), by (panel, expression).
struct Coverage {
    queries: Vec<(String, String)>,
    data: BTreeSet<usize>,
}

impl Coverage {
    /// Runs every query once: each must evaluate; those with data are remembered.
    async fn sample(&mut self, prom: &PrometheusServer) {
        for (i, (panel, expr)) in self.queries.iter().enumerate() {
            let samples = prom
                .query(expr)
                .await
                .unwrap_or_else(|e| panic!("panel {panel:?}: `{expr}` does not evaluate: {e}"));
            if samples.iter().any(|s| !s.value.is_nan()) {
                self.data.insert(i);
            }
        }
    }
}

fn label<'a>(s: &'a eni_testkit::prometheus::Sample, key: &str) -> &'a str {
    s.labels
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

async fn firing(prom: &PrometheusServer, alert: &str) -> Vec<BTreeMap<String, String>> {
    prom.alerts()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.state == "firing" && a.labels["alertname"] == alert)
        .map(|a| {
            a.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .collect()
}

fn signal(c: &Controller, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &c.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig}");
}

const BROKEN: &str = "apiVersion: networking.k8s.aws/v1alpha1
kind: NodeENI
metadata:
  name: broken
spec:
  nodeSelector:
    ng: multi-eni
  subnetName: no-such-subnet
  securityGroupNames: [multus]
  deviceIndex: 2
  deleteOnTermination: false
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_binaries_and_runs_every_alert_and_dashboard_query() {
    let env = setup(2).await;
    let replicas = [Controller::start(&env, "a"), Controller::start(&env, "b")];
    let agent = Agent::start(&env).await;
    let common = |extra: (&str, &str)| {
        vec![
            ("cluster".to_string(), CLUSTER.to_string()),
            ("namespace".to_string(), NAMESPACE.to_string()),
            (extra.0.to_string(), extra.1.to_string()),
        ]
    };
    let jobs = [
        Job {
            name: "aws-multi-eni-controller".into(),
            targets: vec![
                (replicas[0].metrics, common(("pod", "controller-a"))),
                (replicas[1].metrics, common(("pod", "controller-b"))),
            ],
        },
        Job {
            name: "aws-multi-eni-agent".into(),
            targets: vec![(agent.metrics, common(("node", "agent-probe")))],
        },
    ];
    let rules = rules_file(&env, &["AwsMultiEniNodeENIDegraded"]);
    let dir = env.dir.clone();
    let prom = tokio::task::spawn_blocking(move || PrometheusServer::start(&dir, &jobs, &rules))
        .await
        .unwrap()
        .unwrap();
    let deadline = Duration::from_secs(60);
    wait("Prometheus ready", &replicas[0], deadline, async || {
        prom.ready().await
    })
    .await;
    wait("every target scraped", &replicas[0], deadline, async || {
        let t = prom.targets().await.unwrap();
        t.len() == 3 && t.iter().all(|(.., health)| health == "up")
    })
    .await;

    // The chart's rules load, and every one evaluates without error.
    let alerts_yaml: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repo("charts/aws-multi-eni-controller/files/alerts.yaml"))
            .unwrap(),
    )
    .unwrap();
    let exprs: Vec<(String, String)> = alerts_yaml["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .map(|r| {
            (
                r["alert"].as_str().unwrap().to_string(),
                r["expr"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    wait(
        "every rule evaluated and healthy",
        &replicas[0],
        deadline,
        async || {
            let r = prom.rules().await.unwrap();
            r.len() == exprs.len() && r.iter().all(|(_, health, _)| health == "ok")
        },
    )
    .await;
    for (name, expr) in &exprs {
        prom.query(expr)
            .await
            .unwrap_or_else(|e| panic!("{name}: `{expr}` does not evaluate: {e}"));
    }
    let mut coverage = Coverage {
        queries: dashboard_queries(),
        data: BTreeSet::new(),
    };

    // A rollout: quiet, every panel's query evaluates.
    apply(&env, "nodeeni.yaml", NODEENI);
    wait(
        "the rollout Ready",
        &replicas[0],
        Duration::from_secs(90),
        async || ready(&env) == (2, 2),
    )
    .await;
    coverage.sample(&prom).await;
    let noisy: Vec<_> = prom
        .alerts()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.state == "firing")
        .collect();
    assert!(
        noisy.is_empty(),
        "no alert fires on a healthy rollout: {noisy:?}"
    );

    // A NodeENI whose subnet cannot be resolved: Degraded, and the alert fires.
    apply(&env, "broken.yaml", BROKEN);
    wait(
        "NodeENIDegraded firing for broken",
        &replicas[0],
        deadline,
        async || {
            firing(&prom, "AwsMultiEniNodeENIDegraded")
                .await
                .iter()
                .any(|a| a["nodeeni"] == "broken")
        },
    )
    .await;
    coverage.sample(&prom).await;

    // node-1 loses its label: its ENI is detached and deleted (a cleanup).
    kubectl(&env.api, &["label", "node", "node-1", "ng-"]);
    wait(
        "node-1's ENI cleaned up",
        &replicas[0],
        Duration::from_secs(90),
        async || owned(&env).await.len() == 1,
    )
    .await;
    wait("the cleanup scraped", &replicas[0], deadline, async || {
        prom.query("sum(aws_multi_eni_cleanups_total{outcome=\"deleted\"}) > 0")
            .await
            .is_ok_and(|s| !s.is_empty())
    })
    .await;
    coverage.sample(&prom).await;

    // The leader freezes past its Lease (a stalled process), the standby takes over, and
    // the old leader wakes up as a standby.
    let holder = leader(&env);
    let old = ["controller-a", "controller-b"]
        .iter()
        .position(|id| *id == holder)
        .unwrap_or_else(|| panic!("a replica holds the Lease, not {holder:?}"));
    let new = 1 - old;
    signal(&replicas[old], "-STOP");
    wait(
        "the standby took the Lease",
        &replicas[new],
        deadline,
        async || leader(&env) == format!("controller-{}", ["a", "b"][new]),
    )
    .await;
    signal(&replicas[old], "-CONT");
    let old_pod = format!("controller-{}", ["a", "b"][old]);
    wait(
        "the old leader steps down",
        &replicas[old],
        deadline,
        async || {
            prom.query(&format!("aws_multi_eni_leader{{pod=\"{old_pod}\"}} == 0"))
                .await
                .is_ok_and(|s| !s.is_empty())
        },
    )
    .await;
    // Still broken under the new leader: the alert still fires, from the new leader.
    wait(
        "the new leader reports broken Degraded",
        &replicas[new],
        deadline,
        async || {
            prom.query(&format!(
                "aws_multi_eni_nodeeni_degraded{{nodeeni=\"broken\", pod=\"controller-{}\"}} == 1",
                ["a", "b"][new]
            ))
            .await
            .is_ok_and(|s| !s.is_empty())
        },
    )
    .await;

    // The user fixes it (deletes the broken NodeENI): resolved, although the old leader
    // once said Degraded and is still scraped.
    kubectl(&env.api, &["delete", "neni", "broken", "--wait=false"]);
    wait(
        "NodeENIDegraded resolved",
        &replicas[new],
        Duration::from_secs(90),
        async || {
            // Neither firing nor pending.
            prom.alerts()
                .await
                .unwrap()
                .iter()
                .all(|a| a.labels["alertname"] != "AwsMultiEniNodeENIDegraded")
        },
    )
    .await;
    let stale = prom
        .query(&format!(
            "{{__name__=~\"aws_multi_eni_(slots|nodeeni_degraded|selected_nodes|cleanup_queue_depth|ec2_token_waiters|untouched_enis|kube_watch_synced)\", pod=\"{old_pod}\"}} != 0"
        ))
        .await
        .unwrap();
    assert!(
        stale.is_empty(),
        "the replica that lost the Lease exports nothing stale: {:?}",
        stale
            .iter()
            .map(|s| (label(s, "__name__").to_string(), s.labels.clone(), s.value))
            .collect::<Vec<_>>()
    );
    let up: Vec<_> = prom
        .query(&format!("up{{pod=\"{old_pod}\"}} == 1"))
        .await
        .unwrap();
    assert!(
        !up.is_empty(),
        "the old leader is still scraped, as a standby"
    );
    coverage.sample(&prom).await;

    // Every dashboard query returned data at some point of the scenario.
    let empty: Vec<&(String, String)> = coverage
        .queries
        .iter()
        .enumerate()
        .filter(|(i, _)| !coverage.data.contains(i))
        .map(|(_, q)| q)
        .collect();
    assert!(
        empty.is_empty(),
        "dashboard queries that never returned data: {empty:#?}"
    );
}
