//! Options of `eni-controller run` and `eni-controller simulate`.

use std::time::Duration;

use clap::Args;

use super::TelemetryArgs;
use crate::actors::ControllerSettings;
use crate::aws::ownership::ClusterIdentity;
use crate::aws::{BucketTable, action::BucketOverrideError};

/// Options of `eni-controller run`.
#[derive(Debug, Clone, Args)]
pub struct ControllerArgs {
    /// Name of this cluster: every ENI is tagged with it, and only ENIs carrying it are
    /// ever detached or deleted.
    #[arg(long, env = "CLUSTER_NAME", value_parser = cluster_name)]
    pub cluster_name: String,
    /// Identity of this cluster, tagged on every ENI next to its name so that two
    /// clusters of the same name in one account never touch each other's ENIs. Default:
    /// the UID of the `kube-system` namespace, read at start. Set it only to keep the
    /// identity across a rebuilt control plane.
    #[arg(long, env = "CLUSTER_ID", value_parser = cluster_id)]
    pub cluster_id: Option<String>,
    /// Attach only to instances that carry this cluster's tag
    /// (`kubernetes.io/cluster/<CLUSTER_NAME>` or `eks:cluster-name=<CLUSTER_NAME>`);
    /// instances outside the VPC of the NodeENI's subnets get nothing either way.
    #[arg(long, env = "REQUIRE_INSTANCE_CLUSTER_TAG", default_value_t = true, action = clap::ArgAction::Set)]
    pub require_instance_cluster_tag: bool,
    /// Extra tags every ENI is created with, as a JSON object (`{"CostCenter":"1234"}`):
    /// for cost allocation and tag policies. A NodeENI's `tags` override them key by key.
    /// The controller's own keys (`Name`, `networking.k8s.aws/*`,
    /// `node.k8s.amazonaws.com/no_manage`) and `aws:*` are refused.
    #[arg(long, env = "ENI_TAGS", default_value = "", value_parser = super::tags::eni_tags)]
    pub eni_tags: crate::plan::extra_tags::TagMap,
    /// AWS Region (else the SDK's chain: `AWS_DEFAULT_REGION`, profile, instance metadata;
    /// else the controller stops with a message: no Region is guessed).
    #[arg(long, env = "AWS_REGION")]
    pub aws_region: Option<String>,
    /// Cleanup workers detaching and deleting ENIs in parallel.
    #[arg(long, env = "MAX_CONCURRENT_ENI_CLEANUP", default_value_t = 3)]
    pub max_concurrent_eni_cleanup: usize,
    /// EC2 calls in flight at once (the rate limiter paces them; this bounds bursts).
    #[arg(long, env = "MAX_CONCURRENT_RECONCILES", default_value_t = 32)]
    pub max_concurrent_reconciles: usize,
    /// Per-action EC2 buckets when the account's differ from AWS's defaults, as
    /// `Action=capacity/rate,...` (e.g. `CreateNetworkInterface=200/10`).
    #[arg(long, env = "EC2_RATE_LIMITS", default_value = "")]
    pub ec2_rate_limits: String,
    /// Fraction of each bucket's burst left unused, absorbing timing jitter (0 to 0.5).
    #[arg(long, env = "EC2_BUCKET_RESERVE", default_value_t = 0.1)]
    pub ec2_bucket_reserve: f64,
    /// Timeout of one EC2 call.
    #[arg(long, env = "EC2_CALL_TIMEOUT", default_value = "10s", value_parser = short_timeout)]
    pub ec2_call_timeout: Duration,
    /// How often ENIs owned by this cluster are swept for orphans.
    #[arg(long, env = "ORPHAN_SWEEP_INTERVAL", default_value = "2m", value_parser = period)]
    pub orphan_sweep_interval: Duration,
    /// How long an ENI must stay an orphan before the sweep deletes it.
    #[arg(long, env = "ORPHAN_GRACE_PERIOD", default_value = "5m", value_parser = grace)]
    pub orphan_grace_period: Duration,
    /// ConfigMap (in `POD_NAMESPACE`) of the ownership ledger: every NodeENI the
    /// controller may have made ENIs for. The sweep deletes a gone NodeENI's ENIs only
    /// if it is on the ledger.
    #[arg(long, env = "OWNERSHIP_LEDGER_NAME", default_value = crate::k8s::ledger::DEFAULT_LEDGER_NAME)]
    pub ownership_ledger_name: String,
    /// How often each NodeENI re-lists its ENIs to catch drift and manual changes.
    #[arg(long, env = "RECONCILE_PERIOD", default_value = "5m", value_parser = period)]
    pub reconcile_period: Duration,
    /// Elect a leader among replicas on a Lease (only the leader acts).
    #[arg(long, env = "ENABLE_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Name of the leader election Lease (in `POD_NAMESPACE`).
    #[arg(long, env = "LEADER_ELECTION_LEASE_NAME", default_value = crate::k8s::lease::DEFAULT_LEASE_NAME)]
    pub leader_election_lease_name: String,
    /// How long a leader's lease lasts without renewal.
    #[arg(long, env = "LEADER_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = short_timeout)]
    pub leader_election_lease_duration: Duration,
    /// How long the leader keeps acting after its last successful renewal (by its own
    /// monotonic clock): no EC2 call is issued later than this. Must be shorter than the
    /// lease duration; the lease is renewed every third of this.
    #[arg(long, env = "LEADER_ELECTION_RENEW_DEADLINE", default_value = "10s", value_parser = short_timeout)]
    pub leader_election_renew_deadline: Duration,
    /// Replicas of the controller's Deployment (the chart passes its `replicas`): more
    /// than one needs leader election.
    #[arg(long, env = "CONTROLLER_REPLICAS", default_value_t = 1)]
    pub replicas: u32,
    /// Deadline of one Kubernetes API call (watches excepted).
    #[arg(long, env = "KUBE_API_TIMEOUT", default_value = "10s", value_parser = short_timeout)]
    pub kube_api_timeout: Duration,
    /// Node readiness: the startup taint and the condition.
    #[command(flatten)]
    pub readiness: super::ReadinessArgs,
    /// Logging and metrics.
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// A cluster name: the value of an EC2 tag (1 to 256 characters) and part of the
/// instance tag key `kubernetes.io/cluster/<name>`.
fn cluster_name(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() || t.len() > 200 || t.chars().any(|c| c.is_control() || c == '/') {
        return Err("must be 1 to 200 characters, without '/' or control characters".into());
    }
    Ok(t.to_string())
}

/// A cluster identity: a tag value of 1 to 256 printable characters.
fn cluster_id(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() || t.len() > 256 || t.chars().any(char::is_control) {
        return Err("must be 1 to 256 printable characters".into());
    }
    Ok(t.to_string())
}

/// A duration between `min` and `max` (humantime syntax: `90s`, `5m`, `1h`).
fn bounded(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d < min || d > max {
        return Err(format!(
            "{} is out of range: must be between {} and {}",
            humantime::format_duration(d),
            humantime::format_duration(min),
            humantime::format_duration(max)
        ));
    }
    Ok(d)
}

/// A period of repeated work: 0 would busy-loop, and a huge one overflows timers.
fn period(text: &str) -> Result<Duration, String> {
    bounded(text, Duration::from_secs(1), Duration::from_secs(24 * 3600))
}

/// A grace period: 0 is allowed (act at the next look), at most a week.
fn grace(text: &str) -> Result<Duration, String> {
    bounded(text, Duration::ZERO, Duration::from_secs(7 * 24 * 3600))
}

/// A timeout or lease of seconds to minutes.
fn short_timeout(text: &str) -> Result<Duration, String> {
    bounded(text, Duration::from_secs(1), Duration::from_secs(300))
}

/// Options that are valid one by one but not together.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An EC2 bucket override did not parse.
    #[error(transparent)]
    Buckets(#[from] BucketOverrideError),
    /// The renew deadline does not leave the lease time to pass to another replica.
    #[error(
        "LEADER_ELECTION_RENEW_DEADLINE ({deadline}) must be shorter than LEADER_ELECTION_LEASE_DURATION ({lease}) by at least the EC2 connect timeout (3s): an EC2 call let through just before the renew deadline may still be connecting until then"
    )]
    RenewDeadline {
        /// The deadline given.
        deadline: String,
        /// The lease given.
        lease: String,
    },
    /// Several replicas without leader election would all act at once.
    #[error(
        "CONTROLLER_REPLICAS is {0} but ENABLE_LEADER_ELECTION is false: every replica would act at once; elect a leader, or run one replica"
    )]
    ReplicasWithoutElection(u32),
}

/// How long an EC2 call may still be connecting after the fence let it through: the
/// lease must outlast the renew deadline by this much, or a call could reach EC2 after
/// another replica took over.
pub const EC2_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

impl ControllerArgs {
    /// Checks what the options say together (each was checked on its own by clap).
    pub fn check(&self) -> Result<(), ConfigError> {
        if !self.leader_election && self.replicas > 1 {
            return Err(ConfigError::ReplicasWithoutElection(self.replicas));
        }
        if self.leader_election_renew_deadline + EC2_CONNECT_TIMEOUT
            > self.leader_election_lease_duration
        {
            return Err(ConfigError::RenewDeadline {
                deadline: humantime::format_duration(self.leader_election_renew_deadline)
                    .to_string(),
                lease: humantime::format_duration(self.leader_election_lease_duration).to_string(),
            });
        }
        BucketTable::default().with_overrides(&self.ec2_rate_limits)?;
        Ok(())
    }

    /// The actor tree's settings for the cluster whose identity is `cluster_id`.
    pub fn settings(&self, cluster_id: &str) -> Result<ControllerSettings, BucketOverrideError> {
        Ok(ControllerSettings {
            cluster: ClusterIdentity::new(&self.cluster_name, cluster_id),
            require_instance_cluster_tag: self.require_instance_cluster_tag,
            eni_tags: self.eni_tags.clone(),
            buckets: BucketTable::default().with_overrides(&self.ec2_rate_limits)?,
            bucket_reserve: self.ec2_bucket_reserve.clamp(0.0, 0.5),
            max_concurrent_cleanup: self.max_concurrent_eni_cleanup.max(1),
            max_in_flight: self.max_concurrent_reconciles.max(1),
            orphan_sweep_interval: self.orphan_sweep_interval,
            orphan_grace: self.orphan_grace_period,
            resync_interval: self.reconcile_period,
            startup_taint: self.readiness.startup_taint.0.clone(),
            node_condition: self.readiness.node_condition,
            readiness_quiet: self.readiness.readiness_quiet,
            ..ControllerSettings::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ControllerArgs,
    }

    fn parse(extra: &[&str]) -> Result<ControllerArgs, String> {
        let argv = ["eni-controller", "--cluster-name", "c"]
            .into_iter()
            .chain(extra.iter().copied());
        Cli::try_parse_from(argv)
            .map(|c| c.args)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn durations_out_of_range_stop_the_binary_with_a_message() {
        for (flag, value, ok) in [
            ("--reconcile-period", "0s", false),
            ("--reconcile-period", "1000000000h", false),
            ("--reconcile-period", "30s", true),
            ("--orphan-sweep-interval", "0", false),
            ("--orphan-sweep-interval", "2m", true),
            ("--orphan-grace-period", "0s", true),
            ("--orphan-grace-period", "30d", false),
            ("--leader-election-lease-duration", "0s", false),
            ("--ec2-call-timeout", "1h", false),
            ("--reconcile-period", "soon", false),
        ] {
            let r = parse(&[flag, value]);
            assert_eq!(r.is_ok(), ok, "{flag} {value}: {r:?}");
            if let Err(e) = r {
                assert!(e.contains(flag), "the message names the option: {e}");
            }
        }
        let e = parse(&["--reconcile-period", "0s"]).unwrap_err();
        assert!(e.contains("between 1s and 1day"), "{e}");
    }

    #[test]
    fn cluster_names_and_ids_must_fit_a_tag() {
        for (args, ok) in [
            (&["--cluster-id", "5c1e-uid"][..], true),
            (&["--cluster-id", " "][..], false),
            (&["--cluster-name", "a/b"][..], false),
            (&["--cluster-name", ""][..], false),
        ] {
            assert_eq!(parse(args).is_ok(), ok, "{args:?}");
        }
        let a = parse(&[]).unwrap();
        assert_eq!(a.cluster_id, None, "read from kube-system by default");
        assert!(
            a.require_instance_cluster_tag,
            "instance check on by default"
        );
        let s = a.settings("uid-1").unwrap();
        assert_eq!(s.cluster, ClusterIdentity::new("c", "uid-1"));
    }

    #[test]
    fn a_renew_deadline_not_shorter_than_the_lease_stops_the_binary() {
        let ok = parse(&[]).unwrap();
        assert!(ok.check().is_ok());
        let bad = parse(&[
            "--leader-election-lease-duration",
            "10s",
            "--leader-election-renew-deadline",
            "10s",
        ])
        .unwrap();
        let e = bad.check().unwrap_err().to_string();
        assert!(e.contains("LEADER_ELECTION_RENEW_DEADLINE"), "{e}");
        assert!(e.contains("shorter than"), "{e}");
        // Shorter, but not by the EC2 connect timeout.
        let tight = parse(&[
            "--leader-election-lease-duration",
            "3s",
            "--leader-election-renew-deadline",
            "2s",
        ])
        .unwrap();
        assert!(tight.check().is_err());
        let enough = parse(&[
            "--leader-election-lease-duration",
            "5s",
            "--leader-election-renew-deadline",
            "2s",
        ])
        .unwrap();
        assert!(enough.check().is_ok());
    }

    #[test]
    fn two_replicas_without_leader_election_stop_the_binary() {
        let two = parse(&["--replicas", "2", "--leader-election", "false"]).unwrap();
        let e = two.check().unwrap_err().to_string();
        assert!(e.contains("CONTROLLER_REPLICAS is 2"), "{e}");
        assert!(parse(&["--replicas", "2"]).unwrap().check().is_ok());
        let one = parse(&["--replicas", "1", "--leader-election", "false"]).unwrap();
        assert!(one.check().is_ok());
    }
}
