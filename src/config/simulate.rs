//! Options of `eni-controller simulate`: the simulated cluster, account and faults.

use std::time::Duration;

use clap::{Args, ValueEnum};

/// Scenario of `eni-controller simulate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Every node matches from the start: create and attach every ENI.
    Rollout,
    /// After a rollout, every node loses its label, then gets it back.
    LabelFlip,
    /// After a rollout, a fifth of the nodes are replaced by new instances.
    NodeChurn,
    /// After a rollout, every NodeENI is deleted.
    DeleteAll,
    /// After a rollout, the controller is stopped and a new one started over the same
    /// cluster and account (a crash, an upgrade, a new leader). Measures how long it
    /// takes to know every slot again, the EC2 calls that costs, and the mutating calls
    /// it makes in the five minutes after (none are needed: nothing changed).
    Restart,
    /// Every node's NodeENI names a subnet with 11 free addresses, so all but 11 slots
    /// are refused for an hour; a minute in, another NodeENI rolls out to 100 other
    /// nodes on a roomy subnet. Measures that rollout against its floor and the creates
    /// spent on the full subnet after the first minute.
    FullSubnet,
}

/// How the simulated controller paces EC2 calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// This project: one learned pace per EC2 action (`plan::pacing`).
    PerAction,
    /// One shared bucket (`--qps`, `--burst`), as Cilium's operator does.
    GlobalBucket,
    /// No client limiter; throttled calls are retried after 1 s, doubling.
    NoLimiter,
    /// The AWS SDKs' adaptive retry mode (a CUBIC-paced client bucket for every call,
    /// 3 attempts), under no other limit.
    SdkAdaptive,
}

/// The account the simulated EC2 stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Account {
    /// AWS's published buckets, all the controller's.
    Default,
    /// Buckets a tenth as deep as AWS's defaults (same refill).
    SmallBuckets,
    /// AWS's buckets, with another client steadily spending `--other-share` of each
    /// action's refill and bursting a tenth of the bucket every 30 s.
    SharedAccount,
    /// Buckets a hundred times as deep and as fast as AWS's defaults: EC2 does not bound
    /// the run, the controller does (what the controller costs per slot, quickly).
    LargeBuckets,
}

/// Which faults `--fault-rate` injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultMix {
    /// Equal parts 500s, throttles and timeouts (half of them after EC2 applied the call).
    Uniform,
    /// 500s only, half of them after EC2 applied the call.
    ServerErrors,
}

/// Options of `eni-controller simulate`.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Nodes in the simulated cluster.
    #[arg(long, env = "SIM_NODES", default_value_t = 300)]
    pub nodes: usize,
    /// NodeENIs, each selecting every node with its own subnets.
    #[arg(long, env = "SIM_NODEENIS", default_value_t = 1)]
    pub nodeenis: usize,
    /// Subnets per NodeENI (ENIs per node and NodeENI).
    #[arg(long, env = "SIM_SUBNETS", default_value_t = 1)]
    pub subnets: usize,
    /// Availability Zones: nodes are spread over them in turn, and each of a NodeENI's
    /// subnets is one subnet per zone (a /16 holds 65,531 ENIs: 100,000 nodes need two).
    #[arg(long, env = "SIM_ZONES", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=20))]
    pub zones: u16,
    /// Each NodeENI's `secondaryIPv4Count`.
    #[arg(long, env = "SIM_SECONDARY_IPV4_COUNT", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=49))]
    pub secondary_ipv4_count: u32,
    /// Launch the nodes with the startup taint, run a node agent on each (it reports its
    /// ENIs configured as soon as they are listed), and measure the controller's Node
    /// writes (the `ENIsReady` condition and the taint's removal).
    #[arg(long, env = "SIM_NODE_READINESS", default_value_t = false, action = clap::ArgAction::Set)]
    pub node_readiness: bool,
    /// Each NodeENI's `sourceDestCheck` (false: one more modify call per ENI).
    #[arg(long, env = "SIM_SOURCE_DEST_CHECK", default_value_t = true, action = clap::ArgAction::Set)]
    pub source_dest_check: bool,
    /// Median latency of one EC2 call (uniformly spread by ±50%).
    #[arg(long, env = "SIM_LATENCY", default_value = "150ms", value_parser = humantime::parse_duration)]
    pub latency: Duration,
    /// Probability of an injected fault per EC2 call (transient errors, throttles, timeouts).
    #[arg(long, env = "SIM_FAULT_RATE", default_value_t = 0.0)]
    pub fault_rate: f64,
    /// What happens.
    #[arg(long, env = "SIM_SCENARIO", value_enum, default_value = "rollout")]
    pub scenario: Scenario,
    /// Which faults `--fault-rate` injects.
    #[arg(long, env = "SIM_FAULT_MIX", value_enum, default_value = "uniform")]
    pub fault_mix: FaultMix,
    /// How EC2 calls are paced.
    #[arg(long, env = "SIM_STRATEGY", value_enum, default_value = "per-action")]
    pub strategy: Strategy,
    /// The account EC2 stands for: its buckets, and who else spends from them.
    #[arg(long, env = "SIM_ACCOUNT", value_enum, default_value = "default")]
    pub account: Account,
    /// Tell the controller the account's real buckets (as `EC2_RATE_LIMITS` does).
    #[arg(long, env = "SIM_TOLD")]
    pub told: bool,
    /// Share of each action's refill the other client of `shared-account` spends.
    #[arg(long, env = "SIM_OTHER_SHARE", default_value_t = 0.4)]
    pub other_share: f64,
    /// Refill per second of `--strategy global-bucket`.
    #[arg(long, default_value_t = 4.0)]
    pub qps: f64,
    /// Burst of `--strategy global-bucket`.
    #[arg(long, default_value_t = 20)]
    pub burst: u32,
    /// Seed of every random choice.
    #[arg(long, env = "SIM_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object instead of a report in words.
    #[arg(long)]
    pub json: bool,
    /// Write every EC2 call the simulator answered to this file, one JSON object per
    /// line (`at` in simulated seconds, action, outcome, target).
    #[arg(long)]
    pub call_log: Option<std::path::PathBuf>,
}
