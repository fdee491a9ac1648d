//! A real Prometheus server (Debian's `prometheus` package, which the README's test command
//! installs) that scrapes the binaries under test every second and evaluates a rules file,
//! with its HTTP API read back: instant queries, alerts and rule health.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::moto::free_port;

/// One scrape job: its name and its targets, each `127.0.0.1:<port>` with its own labels
/// (what service discovery would add: `pod`, `node`, `namespace`, `cluster`).
#[derive(Debug, Clone)]
pub struct Job {
    /// `job_name`.
    pub name: String,
    /// (port on 127.0.0.1, labels) per target.
    pub targets: Vec<(u16, Vec<(String, String)>)>,
}

/// A running Prometheus server; stopped on drop.
pub struct PrometheusServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// A sample of an instant query: the series' labels and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The labels (`__name__` when the query keeps it).
    pub labels: serde_json::Map<String, Value>,
    /// The value.
    pub value: f64,
}

/// An alert Prometheus holds: its labels and state (`pending` or `firing`).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Its labels, `alertname` among them.
    pub labels: serde_json::Map<String, Value>,
    /// `pending` or `firing`.
    pub state: String,
}

impl PrometheusServer {
    /// The `prometheus` binary: `$ENI_PROMETHEUS`, else the one on `PATH`.
    pub fn binary() -> PathBuf {
        std::env::var_os("ENI_PROMETHEUS")
            .map_or_else(|| PathBuf::from("prometheus"), PathBuf::from)
    }

    /// Writes a configuration scraping `jobs` every second and evaluating `rules` every
    /// second into `dir`, starts the server on a free port, and waits (up to 60 s) until it
    /// is ready.
    pub fn start(dir: &Path, jobs: &[Job], rules: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, config_text(jobs, rules))?;
        let log = dir.join("prometheus.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new(Self::binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("prometheus starts (scripts/test.sh installs Debian's prometheus)")?;
        let server = PrometheusServer { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "prometheus not listening within 60 s:\n{}",
                    server.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// The last 30 lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    async fn api(&self, path: &str) -> anyhow::Result<Value> {
        let answer = crate::http::get(("127.0.0.1", self.port), path).await?;
        let body: Value = serde_json::from_str(&answer.body)
            .with_context(|| format!("{path}: {} {}", answer.status, answer.body))?;
        if body["status"] != "success" {
            bail!("{path}: {}", body);
        }
        Ok(body["data"].clone())
    }

    /// Whether `/-/ready` answers 200 (the TSDB is open and the rules are loaded).
    pub async fn ready(&self) -> bool {
        crate::http::get(("127.0.0.1", self.port), "/-/ready")
            .await
            .is_ok_and(|a| a.status == 200)
    }

    /// An instant query at the present: its samples (NaN values included), or the error
    /// Prometheus gives for the expression.
    pub async fn query(&self, expr: &str) -> anyhow::Result<Vec<Sample>> {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", expr)
            .finish();
        let data = self.api(&format!("/api/v1/query?{q}")).await?;
        let result = data["result"].as_array().cloned().unwrap_or_default();
        let scalar = |v: &Value| v[1].as_str().and_then(|s| s.parse::<f64>().ok());
        Ok(match data["resultType"].as_str() {
            Some("vector") => result
                .iter()
                .filter_map(|s| {
                    Some(Sample {
                        labels: s["metric"].as_object().cloned().unwrap_or_default(),
                        value: scalar(&s["value"])?,
                    })
                })
                .collect(),
            Some("scalar") => scalar(&data["result"])
                .map(|value| Sample {
                    labels: serde_json::Map::new(),
                    value,
                })
                .into_iter()
                .collect(),
            _ => Vec::new(),
        })
    }

    /// The alerts Prometheus holds now, pending and firing.
    pub async fn alerts(&self) -> anyhow::Result<Vec<Alert>> {
        let data = self.api("/api/v1/alerts").await?;
        Ok(data["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|a| Alert {
                labels: a["labels"].as_object().cloned().unwrap_or_default(),
                state: a["state"].as_str().unwrap_or_default().to_string(),
            })
            .collect())
    }

    /// Every loaded alerting rule: (name, health, last error).
    pub async fn rules(&self) -> anyhow::Result<Vec<(String, String, String)>> {
        let data = self.api("/api/v1/rules?type=alert").await?;
        let mut out = Vec::new();
        for group in data["groups"].as_array().cloned().unwrap_or_default() {
            for rule in group["rules"].as_array().cloned().unwrap_or_default() {
                out.push((
                    rule["name"].as_str().unwrap_or_default().to_string(),
                    rule["health"].as_str().unwrap_or_default().to_string(),
                    rule["lastError"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        Ok(out)
    }

    /// The health of every scrape target: (job, `127.0.0.1:<port>`, health).
    pub async fn targets(&self) -> anyhow::Result<Vec<(String, String, String)>> {
        let data = self.api("/api/v1/targets?state=active").await?;
        Ok(data["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|t| {
                let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
                (
                    s("scrapePool"),
                    t["labels"]["instance"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    s("health"),
                )
            })
            .collect())
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration: every job scraped each second, the rules evaluated each second.
fn config_text(jobs: &[Job], rules: &Path) -> String {
    let mut jobs_json = Vec::new();
    for job in jobs {
        let targets: Vec<Value> = job
            .targets
            .iter()
            .map(|(port, labels)| {
                let labels: serde_json::Map<String, Value> = labels
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                serde_json::json!({"targets": [format!("127.0.0.1:{port}")], "labels": labels})
            })
            .collect();
        jobs_json.push(serde_json::json!({
            "job_name": job.name,
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "static_configs": targets,
        }));
    }
    // JSON is YAML: no YAML writer needed for a configuration this size.
    serde_json::json!({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [rules.display().to_string()],
        "scrape_configs": jobs_json,
    })
    .to_string()
}
