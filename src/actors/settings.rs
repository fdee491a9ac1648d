//! The controller's tunables, with production defaults.

use std::time::Duration;

use super::limiter::LimiterStrategy;
use super::slot::SlotTiming;
use crate::aws::BucketTable;
use crate::aws::ownership::ClusterIdentity;
use crate::k8s::node::TaintKey;
use crate::plan::readiness::Writing;
use crate::plan::teardown::TeardownPolicy;
use crate::supervision::RestartPolicy;

/// Everything `eni-controller run` (and `simulate`) can tune.
#[derive(Debug, Clone)]
pub struct ControllerSettings {
    /// The cluster: its name and identity are tagged on every ENI it makes, and it
    /// touches no ENI that carries another.
    pub cluster: ClusterIdentity,
    /// Attach only to instances tagged as this cluster's (`kubernetes.io/cluster/<name>`
    /// or `eks:cluster-name`); instances of another VPC get nothing either way.
    pub require_instance_cluster_tag: bool,
    /// Extra tags on every ENI it creates (`--eni-tags`; checked at start), under each
    /// NodeENI's own `tags`.
    pub eni_tags: crate::plan::extra_tags::TagMap,
    /// How EC2 calls are paced (this project's per-action buckets in production).
    pub strategy: LimiterStrategy,
    /// EC2 buckets per action (AWS's defaults unless overridden).
    pub buckets: BucketTable,
    /// Fraction of each bucket's burst kept in reserve (absorbs timing jitter).
    pub bucket_reserve: f64,
    /// Cleanup workers (`MAX_CONCURRENT_ENI_CLEANUP`).
    pub max_concurrent_cleanup: usize,
    /// EC2 calls in flight at once (`MAX_CONCURRENT_RECONCILES`).
    pub max_in_flight: usize,
    /// How often owned ENIs are swept for orphans.
    pub orphan_sweep_interval: Duration,
    /// How long an ENI stays an orphan before it is deleted.
    pub orphan_grace: Duration,
    /// How often each NodeENI re-lists its ENIs (drift, leaks, manual changes).
    pub resync_interval: Duration,
    /// Status writes per NodeENI are batched over this long.
    pub status_debounce: Duration,
    /// How long resolved subnet and group names are trusted.
    pub resolve_ttl: Duration,
    /// Slot polling and retries.
    pub slot_timing: SlotTiming,
    /// Teardown polling.
    pub teardown: TeardownPolicy,
    /// Restart policy of every supervisor.
    pub restart: RestartPolicy,
    /// The startup taint removed from a node once its ENIs are ready (`None`: taints
    /// are never touched).
    pub startup_taint: Option<TaintKey>,
    /// Write the `networking.k8s.aws/ENIsReady` condition on the nodes NodeENIs select.
    pub node_condition: bool,
    /// How long a new node waits for its ENIs before a `False` condition shows why.
    pub readiness_quiet: Duration,
}

/// The startup taint's default key.
pub const STARTUP_TAINT_KEY: &str = "networking.k8s.aws/enis-not-ready";

impl ControllerSettings {
    /// What the readiness actor may write (`None`: nothing, it does not run).
    pub fn readiness(&self) -> Option<(Writing, TaintKey)> {
        let writing = Writing {
            taint: self.startup_taint.is_some(),
            condition: self.node_condition,
            quiet_for: self.readiness_quiet,
        };
        (writing.taint || writing.condition)
            .then(|| (writing, self.startup_taint.clone().unwrap_or_default()))
    }
}

impl Default for ControllerSettings {
    fn default() -> Self {
        ControllerSettings {
            cluster: ClusterIdentity::new("default", "default"),
            require_instance_cluster_tag: true,
            eni_tags: Default::default(),
            strategy: LimiterStrategy::PerAction,
            buckets: BucketTable::default(),
            bucket_reserve: 0.1,
            max_concurrent_cleanup: 3,
            max_in_flight: 32,
            orphan_sweep_interval: Duration::from_secs(120),
            orphan_grace: Duration::from_secs(300),
            resync_interval: Duration::from_secs(300),
            status_debounce: Duration::from_millis(500),
            resolve_ttl: Duration::from_secs(300),
            slot_timing: SlotTiming::default(),
            teardown: TeardownPolicy::default(),
            restart: RestartPolicy::default(),
            startup_taint: Some(TaintKey {
                key: STARTUP_TAINT_KEY.into(),
                effect: "NoSchedule".into(),
            }),
            node_condition: true,
            readiness_quiet: Duration::from_secs(120),
        }
    }
}
