//! Logs, metrics and probes: the tracing subscriber, the Prometheus recorder with every
//! metric described, and the HTTP endpoints `/metrics`, `/healthz` and `/readyz`.

pub mod metric;
pub mod series;
#[cfg(feature = "controller")]
pub mod term;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use thiserror::Error;
use tokio::task::JoinHandle;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Why telemetry could not start.
#[derive(Debug, Error)]
pub enum TelemetryError {
    /// The log filter does not parse.
    #[error("invalid log level {0:?}: {1}")]
    Filter(String, String),
    /// A recorder or subscriber is already installed.
    #[error("telemetry already initialised: {0}")]
    AlreadyInstalled(String),
    /// An address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

impl TelemetryError {
    /// A stable label.
    pub fn label(&self) -> &'static str {
        match self {
            TelemetryError::Filter(..) => "invalid_log_level",
            TelemetryError::AlreadyInstalled(_) => "already_installed",
            TelemetryError::Bind(..) => "bind_failed",
        }
    }
}

/// Installs the global tracing subscriber. `RUST_LOG` wins over `level` when set.
pub fn init_tracing(format: LogFormat, level: &str) -> Result<(), TelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => {
            EnvFilter::try_new(&v).map_err(|e| TelemetryError::Filter(v, e.to_string()))?
        }
        _ => EnvFilter::try_new(level)
            .map_err(|e| TelemetryError::Filter(level.into(), e.to_string()))?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))
}

/// Latency buckets (seconds) for every `_seconds` histogram: from a fast EC2 call to a
/// slow rollout under throttling.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// The metric recorder for this process, with every metric described. Returns a handle
/// that renders the Prometheus text format.
pub fn install_metrics(component: &'static str) -> Result<PrometheusHandle, TelemetryError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?
        .install_recorder()
        .map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?;
    describe_metrics(component);
    metrics::gauge!(metric::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "component" => component).set(1.0);
    Ok(handle)
}

/// HELP texts of the metrics `component`'s binary exports, each described once from
/// [`metric::ALL`].
pub fn describe_metrics(component: &str) {
    for m in metric::ALL.iter().filter(|m| m.exported_by(component)) {
        match m.kind {
            metric::Kind::Counter => describe_counter!(m.name, m.help),
            metric::Kind::Gauge => describe_gauge!(m.name, m.help),
            metric::Kind::Histogram => describe_histogram!(m.name, m.help),
        }
    }
}

/// Counts every panic of the process in `aws_multi_eni_panics_total`, then reports it
/// as before (the previous hook runs too). A supervised actor that panics is restarted;
/// a panic elsewhere (a spawned task) would otherwise pass unnoticed.
pub fn count_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        metrics::counter!(metric::PANICS_TOTAL).increment(1);
        previous(info);
    }));
}

/// What the probes answer.
#[derive(Clone)]
pub struct Probes {
    /// `/readyz` answers 200 while this is true.
    pub ready: Arc<AtomicBool>,
    /// `/healthz` answers 200 while this is true: false once the actor tree died, so
    /// the kubelet restarts a process that would otherwise look healthy doing nothing.
    pub alive: Arc<AtomicBool>,
    /// How many times this replica started its actor tree: once per leadership term
    /// (and `aws_multi_eni_leader_terms_total`).
    pub terms: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for Probes {
    fn default() -> Self {
        Probes {
            ready: Arc::new(AtomicBool::new(false)),
            alive: Arc::new(AtomicBool::new(true)),
            terms: Arc::default(),
        }
    }
}

async fn alive(State(probes): State<Probes>) -> StatusCode {
    if probes.alive.load(Ordering::Acquire) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

async fn metrics_page(State(handle): State<PrometheusHandle>) -> String {
    handle.render()
}

async fn ready(State(probes): State<Probes>) -> StatusCode {
    if probes.ready.load(Ordering::Acquire) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Serves `/metrics` on `metrics_addr` and the probes on `health_addr` (one listener
/// when they are equal). Returns once bound.
pub async fn serve(
    handle: PrometheusHandle,
    probes: Probes,
    metrics_addr: SocketAddr,
    health_addr: SocketAddr,
) -> Result<Vec<JoinHandle<()>>, TelemetryError> {
    let metrics = Router::new()
        .route("/metrics", get(metrics_page))
        .with_state(handle);
    let health = Router::new()
        .route("/healthz", get(alive))
        .route("/readyz", get(ready))
        .with_state(probes);
    let apps = if metrics_addr == health_addr {
        vec![(metrics_addr, metrics.merge(health))]
    } else {
        vec![(metrics_addr, metrics), (health_addr, health)]
    };
    let mut tasks = Vec::new();
    for (addr, app) in apps {
        let listener = listen(addr).await?;
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "telemetry server stopped");
            }
        }));
    }
    Ok(tasks)
}

/// Binds `addr`; `[::]` on a kernel without IPv6 (booted with `ipv6.disable=1`) falls
/// back to `0.0.0.0` at the same port, said in the log.
async fn listen(addr: SocketAddr) -> Result<tokio::net::TcpListener, TelemetryError> {
    match tokio::net::TcpListener::bind(addr).await {
        Err(e) if addr.ip() == std::net::Ipv6Addr::UNSPECIFIED && no_ipv6(&e) => {
            let v4 = SocketAddr::from(([0, 0, 0, 0], addr.port()));
            tracing::warn!(%addr, fallback = %v4, error = %e, "no IPv6 on this host: listening on IPv4 only");
            tokio::net::TcpListener::bind(v4)
                .await
                .map_err(|e| TelemetryError::Bind(v4, e))
        }
        r => r.map_err(|e| TelemetryError::Bind(addr, e)),
    }
}

/// Whether a bind failed because the host has no IPv6 (EAFNOSUPPORT, EADDRNOTAVAIL).
fn no_ipv6(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::AddrNotAvailable
        || e.raw_os_error() == Some(nix::errno::Errno::EAFNOSUPPORT as i32)
}

#[cfg(test)]
mod panic_tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    #[test]
    fn panics_are_counted() {
        super::count_panics();
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let _ = std::panic::catch_unwind(|| panic!("a bug"));
        });
        let counted: Vec<_> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(k, ..)| k.key().name() == super::metric::PANICS_TOTAL)
            .map(|(.., v)| v)
            .collect();
        assert_eq!(counted, vec![DebugValue::Counter(1)]);
    }
}
