//! Command-line and environment options of the binaries (clap derive, every option also
//! read from an environment variable; the Go controller's names where they exist).

use std::net::{IpAddr, SocketAddr};

use clap::{Args, ValueEnum};

#[cfg(feature = "controller")]
mod controller;
#[cfg(feature = "controller")]
mod readiness;
#[cfg(feature = "controller")]
mod simulate;
#[cfg(feature = "controller")]
mod tags;
#[cfg(feature = "controller")]
pub use controller::{ConfigError, ControllerArgs};
#[cfg(feature = "controller")]
pub use readiness::ReadinessArgs;
#[cfg(feature = "controller")]
pub use simulate::{Account, FaultMix, Scenario, SimulateArgs, Strategy};

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
    /// Address of the Prometheus `/metrics` endpoint (`[::]`: every IPv6 and IPv4
    /// address; IPv4 only where the kernel has no IPv6).
    #[arg(long, env = "METRICS_ADDR", default_value = "[::]:8080")]
    pub metrics_addr: SocketAddr,
    /// Address of `/healthz` and `/readyz` (may equal the metrics address).
    #[arg(long, env = "HEALTH_ADDR", default_value = "[::]:8081")]
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
    #[arg(long, env = "METRICS_ADDR", default_value = "[::]:61780")]
    pub metrics_addr: SocketAddr,
    /// Address of `/healthz` and `/readyz`.
    #[arg(long, env = "HEALTH_ADDR", default_value = "[::]:61781")]
    pub health_addr: SocketAddr,
    /// Listen on this address only, at the ports of `METRICS_ADDR` and `HEALTH_ADDR`
    /// (the chart gives the node's own IP, IPv4 or IPv6: the ENIs the agent brings up
    /// carry other networks).
    #[arg(long, env = "BIND_HOST")]
    pub bind_host: Option<IpAddr>,
    /// Bind DPDK ENIs' devices (NodeENIs with `enableDPDK`): needs write access to sysfs
    /// (a privileged container). Off: such ENIs are reported not configured, and why.
    #[arg(long, env = "DPDK", default_value_t = false, action = clap::ArgAction::Set)]
    pub dpdk: bool,
    /// Where sysfs is mounted.
    #[arg(long, env = "SYSFS_ROOT", default_value = "/sys")]
    pub sysfs_root: std::path::PathBuf,
    /// The SR-IOV network device plugin's configuration file the bound devices are
    /// offered in; empty: they are bound, not offered.
    #[arg(
        long,
        env = "DEVICE_PLUGIN_CONFIG",
        default_value = "/etc/pcidp/config.json"
    )]
    pub device_plugin_config: String,
    /// The namespace of the device plugin's pods (restarted on this node after the
    /// configuration changed: the plugin reads it only when it starts).
    #[arg(long, env = "DEVICE_PLUGIN_NAMESPACE", default_value = "kube-system")]
    pub device_plugin_namespace: String,
    /// The label selector of the device plugin's pods.
    #[arg(long, env = "DEVICE_PLUGIN_SELECTOR", default_value = "app=sriovdp")]
    pub device_plugin_selector: String,
}

impl AgentArgs {
    /// The device plugin the bound devices are offered to: none without DPDK or without
    /// a configuration file.
    pub fn device_plugin(&self) -> Option<crate::agent::devices::DevicePlugin> {
        (self.dpdk && !self.device_plugin_config.trim().is_empty()).then(|| {
            crate::agent::devices::DevicePlugin {
                config: self.device_plugin_config.trim().into(),
                namespace: self.device_plugin_namespace.clone(),
                selector: self.device_plugin_selector.clone(),
            }
        })
    }

    /// Where `/metrics` and the probes listen: their addresses, on `bind_host` if given.
    pub fn listen_addrs(&self) -> (SocketAddr, SocketAddr) {
        let on = |a: SocketAddr| self.bind_host.map_or(a, |ip| SocketAddr::new(ip, a.port()));
        (on(self.metrics_addr), on(self.health_addr))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::AgentArgs;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: AgentArgs,
    }

    fn listen(extra: &[&str]) -> (String, String) {
        let mut argv = vec!["eni-agent", "--node-name", "n"];
        argv.extend_from_slice(extra);
        let (m, h) = Cli::parse_from(argv).args.listen_addrs();
        (m.to_string(), h.to_string())
    }

    #[test]
    fn the_agent_listens_on_its_node_ip_of_either_family() {
        let cases: [(&[&str], (&str, &str)); 4] = [
            (&[], ("[::]:61780", "[::]:61781")),
            (
                &["--bind-host", "10.0.3.7"],
                ("10.0.3.7:61780", "10.0.3.7:61781"),
            ),
            (
                &["--bind-host", "fd00:ec2::5"],
                ("[fd00:ec2::5]:61780", "[fd00:ec2::5]:61781"),
            ),
            (
                &[
                    "--bind-host",
                    "fd00:ec2::5",
                    "--metrics-addr",
                    "0.0.0.0:9100",
                ],
                ("[fd00:ec2::5]:9100", "[fd00:ec2::5]:61781"),
            ),
        ];
        for (args, (m, h)) in cases {
            assert_eq!(listen(args), (m.to_string(), h.to_string()), "{args:?}");
        }
    }
}
