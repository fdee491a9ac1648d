//! moto behind an EC2 throttling layer (`throttling_proxy.py`): per-action token buckets
//! with AWS's refill and a chosen share of AWS's capacity, EC2's own
//! `RequestLimitExceeded` answers when one is empty, and optional 500s (half after moto
//! applied the call). moto throttles nothing on its own; this is how the real SDK client
//! and the real controller are measured against EC2's buckets.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::moto::{MotoServer, free_port};

/// Calls the layer saw for one action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActionStats {
    /// Calls that reached the layer.
    pub calls: u64,
    /// Answered `RequestLimitExceeded`.
    pub throttled: u64,
    /// Answered a 500 (injected).
    pub failed: u64,
}

/// One request as the layer saw it arrive.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// The EC2 action.
    pub action: String,
    /// When it arrived, Unix seconds.
    pub at: f64,
    /// `ok`, `throttle`, `fail-before` or `fail-after`.
    pub verdict: String,
}

/// moto with the throttling layer in front; both killed on drop.
pub struct ThrottledMoto {
    /// The moto server behind (unthrottled: set the network up through it).
    pub moto: MotoServer,
    proxy: Child,
    port: u16,
}

fn python() -> PathBuf {
    // The venv's interpreter sits beside its moto_server.
    let moto = crate::moto::moto_binary();
    moto.parent()
        .map(|d| d.join("python"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

impl ThrottledMoto {
    /// Starts moto and the layer with buckets of `capacity_scale` × AWS's capacity and
    /// `fault_rate` of admitted calls failing.
    pub fn start(capacity_scale: f64, fault_rate: f64) -> anyhow::Result<Self> {
        let moto = MotoServer::start()?;
        let port = free_port()?;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("throttling_proxy.py");
        let proxy = Command::new(python())
            .arg(&script)
            .args(["--port", &port.to_string()])
            .args(["--upstream", &format!("127.0.0.1:{}", moto.port())])
            .args(["--capacity-scale", &capacity_scale.to_string()])
            .args(["--fault-rate", &fault_rate.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", script.display()))?;
        let mut me = ThrottledMoto { moto, proxy, port };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = me.proxy.try_wait()? {
                bail!("the throttling layer exited early with {status}");
            }
            if Instant::now() > deadline {
                bail!("the throttling layer did not listen on {addr} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(me)
    }

    /// The throttled endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The layer's own answer at `path`, parsed.
    fn ask(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: proxy\r\n\r\n").as_bytes())?;
        let mut text = String::new();
        s.read_to_string(&mut text)?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .context("no body")?;
        Ok(serde_json::from_str(body)?)
    }

    /// Every request's parameters as the client sent them, in order (also those moto
    /// ignores: prefixes, ENA settings, conntrack).
    pub fn requests(&self) -> anyhow::Result<Vec<BTreeMap<String, String>>> {
        let mut all: Vec<BTreeMap<String, String>> =
            serde_json::from_value(self.ask("/__proxy/requests")?)?;
        for r in &mut all {
            r.retain(|k, _| !k.starts_with("__"));
        }
        Ok(all)
    }

    /// Every request's action, when it arrived and what the layer did with it, in order.
    pub fn arrivals(&self) -> anyhow::Result<Vec<Arrival>> {
        let all: Vec<BTreeMap<String, String>> =
            serde_json::from_value(self.ask("/__proxy/requests")?)?;
        Ok(all
            .into_iter()
            .map(|mut r| Arrival {
                action: r.remove("Action").unwrap_or_default(),
                at: r.get("__at").and_then(|t| t.parse().ok()).unwrap_or(0.0),
                verdict: r.remove("__verdict").unwrap_or_default(),
            })
            .collect())
    }

    /// What the layer saw so far, by action.
    pub fn stats(&self) -> anyhow::Result<BTreeMap<String, ActionStats>> {
        let raw: BTreeMap<String, [u64; 3]> = serde_json::from_value(self.ask("/__proxy/stats")?)?;
        Ok(raw
            .into_iter()
            .map(|(a, [calls, throttled, failed])| {
                (
                    a,
                    ActionStats {
                        calls,
                        throttled,
                        failed,
                    },
                )
            })
            .collect())
    }
}

impl Drop for ThrottledMoto {
    fn drop(&mut self) {
        let _ = self.proxy.kill();
        let _ = self.proxy.wait();
    }
}
