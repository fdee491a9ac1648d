//! Starting and stopping the etcd and kube-apiserver processes of one test cluster.
//!
//! Both run from a keeper thread that lives until the cluster is dropped: the processes get
//! `SIGKILL` when that thread ends (Linux's parent-death signal is tied to the thread that
//! forked), so a test binary that exits, panics or is killed leaves none behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::Namespace;

use super::pki::Pki;
use crate::ports::free_port;

const READY_WITHIN: Duration = Duration::from_secs(120);
const DIR_PREFIX: &str = "eni-testkit-cluster-";

/// The running processes, owned by their keeper thread; dropping this stops them.
pub(crate) struct ControlPlane {
    dir: PathBuf,
    port: u16,
    pki: Pki,
    admin_token: String,
    stop: Option<mpsc::Sender<()>>,
    keeper: Option<std::thread::JoinHandle<()>>,
}

/// Removes the folders of earlier test processes that are gone (the shared cluster of a
/// test binary is never dropped, so its folder outlives it).
fn sweep_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(DIR_PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

pub(super) fn spawn(bin: &Path, args: &[String], log: &Path) -> anyhow::Result<Child> {
    use std::os::unix::process::CommandExt;
    let out = std::fs::File::create(log)?;
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
    cmd.spawn()
        .with_context(|| format!("starting {}", bin.display()))
}

/// Whether a start failed because a process could not bind its port.
fn port_taken(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<Exited>()
        .is_some_and(|e| e.tail.contains("address already in use"))
}

/// A process of the control plane exited while it was starting: what its log said last,
/// so that only a process's own bind failure is taken for a port taken.
#[derive(Debug)]
struct Exited {
    log: PathBuf,
    status: std::process::ExitStatus,
    tail: String,
}

impl std::fmt::Display for Exited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} exited with {}; its log ends:\n{}",
            self.log.display(),
            self.status,
            self.tail
        )
    }
}

impl std::error::Error for Exited {}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

struct Started {
    children: Vec<(Child, PathBuf)>,
}

impl Started {
    fn check_alive(&mut self) -> anyhow::Result<()> {
        for (child, log) in &mut self.children {
            if let Some(status) = child.try_wait()? {
                return Err(Exited {
                    log: log.clone(),
                    status,
                    tail: log_tail(log),
                }
                .into());
            }
        }
        Ok(())
    }

    fn stop(&mut self) {
        for (child, _) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Clone, Copy)]
struct Ports {
    etcd_client: u16,
    etcd_peer: u16,
    apiserver: u16,
}

fn etcd_args(dir: &Path, p: &Ports) -> Vec<String> {
    let client = format!("http://127.0.0.1:{}", p.etcd_client);
    let peer = format!("http://127.0.0.1:{}", p.etcd_peer);
    vec![
        "--name=testkit".into(),
        format!("--data-dir={}", dir.join("etcd").display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster=testkit={peer}"),
        "--unsafe-no-fsync".into(),
        "--log-level=warn".into(),
    ]
}

fn apiserver_args(dir: &Path, pki: &Pki, p: &Ports) -> Vec<String> {
    let path = |p: &Path| p.display().to_string();
    let issuer = "https://kubernetes.default.svc.cluster.local";
    vec![
        format!("--etcd-servers=http://127.0.0.1:{}", p.etcd_client),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={}", p.apiserver),
        format!("--cert-dir={}", dir.join("certs").display()),
        format!("--tls-cert-file={}", path(&pki.serving_cert)),
        format!("--tls-private-key-file={}", path(&pki.serving_key)),
        format!("--client-ca-file={}", path(&pki.ca_cert)),
        format!("--token-auth-file={}", dir.join("tokens.csv").display()),
        "--authorization-mode=Node,RBAC".into(),
        "--enable-admission-plugins=NodeRestriction".into(),
        format!("--service-account-issuer={issuer}"),
        format!("--api-audiences={issuer}"),
        format!(
            "--service-account-key-file={}",
            path(&pki.service_account_pub)
        ),
        format!(
            "--service-account-signing-key-file={}",
            path(&pki.service_account_key)
        ),
        "--service-cluster-ip-range=10.96.0.0/16".into(),
        "--endpoint-reconciler-type=none".into(),
        "--allow-privileged=true".into(),
        "--profiling=false".into(),
    ]
}

/// Waits for `/readyz` and the system namespaces, from a throw-away runtime (the keeper
/// thread has none, and the caller's may be single-threaded).
fn wait_ready(kubeconfig: &Path, started: &mut Started) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        started.check_alive()?;
        let probe = runtime.block_on(async {
            let client = super::client_from(kubeconfig).await?;
            let req = axum::http::Request::get("/readyz").body(Vec::new())?;
            let text = client.request_text(req).await?;
            anyhow::ensure!(text.trim() == "ok", "readyz: {text}");
            let namespaces: kube::Api<Namespace> = kube::Api::all(client);
            for ns in ["default", "kube-system"] {
                namespaces
                    .get_opt(ns)
                    .await?
                    .with_context(|| format!("namespace {ns} not yet created"))?;
            }
            anyhow::Ok(())
        });
        match probe {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                bail!("kube-apiserver not ready within {READY_WITHIN:?}: {e:#}")
            }
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Times a start is tried again with new ports when a process found its port taken (by
/// another process on the machine, between the pick and the bind).
const PORT_RETRIES: usize = 3;

impl ControlPlane {
    /// Starts etcd, then kube-apiserver, and returns once the API server is ready; a start
    /// that failed on a port taken meanwhile is tried again with new ports.
    pub(crate) fn start(bins: &Path) -> anyhow::Result<Self> {
        sweep_stale_dirs();
        let mut attempt = 0;
        loop {
            match Self::start_once(bins) {
                Err(e) if attempt < PORT_RETRIES && port_taken(&e) => attempt += 1,
                other => return other,
            }
        }
    }

    fn start_once(bins: &Path) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir()?
            .keep();
        let pki = Pki::write(&dir)?;
        let admin_token = uuid::Uuid::new_v4().simple().to_string();
        std::fs::write(
            dir.join("tokens.csv"),
            format!("{admin_token},admin,admin,system:masters\n"),
        )?;
        let ports = Ports {
            etcd_client: free_port()?,
            etcd_peer: free_port()?,
            apiserver: free_port()?,
        };
        let url = format!("https://127.0.0.1:{}", ports.apiserver);
        let kubeconfig = dir.join("probe.kubeconfig");
        std::fs::write(
            &kubeconfig,
            super::kubeconfig_yaml(&url, Some(&pki.ca_cert), Some(("admin", &admin_token))),
        )?;

        let (ready_tx, ready_rx) = mpsc::channel::<anyhow::Result<()>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (keeper_dir, keeper_bins, keeper_pki) = (dir.clone(), bins.to_path_buf(), pki.clone());
        let keeper = std::thread::Builder::new()
            .name("test-cluster".into())
            .spawn(move || {
                let mut started = Started {
                    children: Vec::new(),
                };
                let result = (|| {
                    let etcd_log = keeper_dir.join("etcd.log");
                    let etcd = spawn(
                        &keeper_bins.join("etcd"),
                        &etcd_args(&keeper_dir, &ports),
                        &etcd_log,
                    )?;
                    started.children.push((etcd, etcd_log));
                    let api_log = keeper_dir.join("kube-apiserver.log");
                    let api = spawn(
                        &keeper_bins.join("kube-apiserver"),
                        &apiserver_args(&keeper_dir, &keeper_pki, &ports),
                        &api_log,
                    )?;
                    started.children.push((api, api_log));
                    wait_ready(&kubeconfig, &mut started)
                })();
                let failed = result.is_err();
                let _ = ready_tx.send(result);
                if !failed {
                    // Until the cluster is dropped (or forever, for the shared one).
                    let _ = stop_rx.recv();
                }
                started.stop();
                let _ = std::fs::remove_dir_all(&keeper_dir);
            })?;
        ready_rx
            .recv()
            .context("the test cluster's keeper thread died")??;
        Ok(Self {
            dir,
            port: ports.apiserver,
            pki,
            admin_token,
            stop: Some(stop_tx),
            keeper: Some(keeper),
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub(crate) fn pki(&self) -> &Pki {
        &self.pki
    }

    pub(crate) fn admin_token(&self) -> &str {
        &self.admin_token
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_port_taken_is_tried_again() {
        use std::os::unix::process::ExitStatusExt;
        let exited = |tail: &str| -> anyhow::Error {
            Exited {
                log: PathBuf::from("etcd.log"),
                status: std::process::ExitStatus::from_raw(256),
                tail: tail.to_string(),
            }
            .into()
        };
        let etcd = exited(
            r#"{"level":"fatal","msg":"discovery failed","error":"listen tcp 127.0.0.1:42113: bind: address already in use"}"#,
        );
        let apiserver = exited("failed to listen on 127.0.0.1:40001: bind: address already in use")
            .context("starting kube-apiserver");
        let crashed = exited("panic: runtime error");
        // A client's error while waiting for readiness is not the process's bind.
        let unready = anyhow::anyhow!("connect: address already in use")
            .context("kube-apiserver not ready within 120s");
        let missing = anyhow::anyhow!("No such file or directory").context("starting etcd");
        for (error, want) in [
            (etcd, true),
            (apiserver, true),
            (crashed, false),
            (unready, false),
            (missing, false),
        ] {
            assert_eq!(port_taken(&error), want, "{error:#}");
        }
    }
}
