//! Command-line and environment options of the binaries (clap derive, every option also
//! read from an environment variable; the Go controller's names where they exist).

use std::net::SocketAddr;

use clap::{Args, ValueEnum};

#[cfg(feature = "controller")]
mod controller;
#[cfg(feature = "controller")]
pub use controller::{
    Account, ConfigError, ControllerArgs, FaultMix, Scenario, SimulateArgs, Strategy,
};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log pipelines).
    Json,
}

/// Logging and metrics options shared by both binaries.
#[derive(Debug, Clone, Args)]
pub struct TelemetryArgs {
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log level or filter (`RUST_LOG` syntax, e.g. `info,aws_multi_eni_controller=debug`).
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Address of the Prometheus `/metrics` endpoint.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Address of `/healthz` and `/readyz` (may equal the metrics address).
    #[arg(long, env = "HEALTH_ADDR", default_value = "0.0.0.0:8081")]
    pub health_addr: SocketAddr,
}

/// Options of `eni-agent`.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// This node's name (from the downward API).
    #[arg(long, env = "NODE_NAME")]
    pub node_name: String,
    /// MTU for attachments whose NodeENI asks for none; 0 leaves their MTU alone.
    #[arg(long, env = "DEFAULT_MTU", default_value_t = 0)]
    pub default_mtu: u32,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log level or filter (`RUST_LOG` syntax).
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Address of `/metrics` (host network: keep clear of other agents' ports).
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:61780")]
    pub metrics_addr: SocketAddr,
    /// Address of `/healthz` and `/readyz`.
    #[arg(long, env = "HEALTH_ADDR", default_value = "0.0.0.0:61781")]
    pub health_addr: SocketAddr,
}
