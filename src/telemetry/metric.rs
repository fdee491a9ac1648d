//! Every metric the binaries export, named once: the constant each call site records
//! under, its type, its HELP text and which binary exports it. Names and labels are a
//! public interface (dashboards and alerts use them): add, never rename.

/// The Prometheus type of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Which binary exports a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Exporter {
    /// `eni-controller`.
    Controller,
    /// `eni-agent`.
    Agent,
    Both,
}

/// A metric's name, type, HELP text and exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The full name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Its HELP text.
    pub help: &'static str,
    /// Who exports it.
    pub exporter: Exporter,
}

macro_rules! catalogue {
    ($( #[doc = $help:literal] $id:ident = $name:literal, $kind:ident, $who:ident; )*) => {
        $(
            #[doc = $help]
            pub const $id: &str = $name;
        )*
        /// Every metric.
        pub const ALL: &[Metric] = &[
            $( Metric { name: $name, kind: Kind::$kind, help: $help.trim_ascii(), exporter: Exporter::$who }, )*
        ];
    };
}

catalogue! {
    /// Version of the running binary (always 1).
    BUILD_INFO = "aws_multi_eni_build_info", Gauge, Both;
    /// EC2 API calls by action and outcome (ok or the error label).
    EC2_CALLS_TOTAL = "aws_multi_eni_ec2_calls_total", Counter, Controller;
    /// Duration of EC2 API calls by action.
    EC2_CALL_DURATION_SECONDS = "aws_multi_eni_ec2_call_duration_seconds", Histogram, Controller;
    /// Time EC2 calls waited for a rate-limit token, by action.
    EC2_TOKEN_WAIT_SECONDS = "aws_multi_eni_ec2_token_wait_seconds", Histogram, Controller;
    /// EC2 calls answered with a throttling error, by action.
    EC2_THROTTLES_TOTAL = "aws_multi_eni_ec2_throttles_total", Counter, Controller;
    /// Client-side rate per EC2 action: the share of EC2's refill believed left to it.
    EC2_RATE_LIMIT_PER_SECOND = "aws_multi_eni_ec2_rate_limit_per_second", Gauge, Controller;
    /// Burst per EC2 action the controller believes EC2's bucket holds for it.
    EC2_BURST_TOKENS = "aws_multi_eni_ec2_burst_tokens", Gauge, Controller;
    /// Calls waiting for a rate-limit token, by action.
    EC2_TOKEN_WAITERS = "aws_multi_eni_ec2_token_waiters", Gauge, Controller;
    /// ENI slots per NodeENI by state (desired, ready, failed).
    SLOTS = "aws_multi_eni_slots", Gauge, Controller;
    /// From a node matching a NodeENI to its ENI attached and configured.
    ATTACH_LATENCY_SECONDS = "aws_multi_eni_attach_latency_seconds", Histogram, Controller;
    /// From a node matching a NodeENI to its create call being issued (before the rate limiter's wait).
    LABEL_TO_CREATE_SECONDS = "aws_multi_eni_label_to_create_seconds", Histogram, Controller;
    /// ENIs waiting for a cleanup worker.
    CLEANUP_QUEUE_DEPTH = "aws_multi_eni_cleanup_queue_depth", Gauge, Controller;
    /// Time to detach and delete one ENI.
    CLEANUP_DURATION_SECONDS = "aws_multi_eni_cleanup_duration_seconds", Histogram, Controller;
    /// ENI cleanups by outcome (deleted, failed, refused).
    CLEANUPS_TOTAL = "aws_multi_eni_cleanups_total", Counter, Controller;
    /// Owned ENIs found orphaned by sweeps (counted per sweep).
    ORPHANS_FOUND_TOTAL = "aws_multi_eni_orphans_found_total", Counter, Controller;
    /// Orphaned ENIs queued for deletion after their grace period.
    ORPHANS_DELETED_TOTAL = "aws_multi_eni_orphans_deleted_total", Counter, Controller;
    /// ENIs with this cluster's name that the orphan sweep leaves alone, by reason (other_cluster_id: a namesake cluster's; no_cluster_id: no identity tag; unrecorded: a gone NodeENI's that is not on the ownership ledger), as of the last sweep.
    UNTOUCHED_ENIS = "aws_multi_eni_untouched_enis", Gauge, Controller;
    /// Actor restarts by kind of actor.
    ACTOR_RESTARTS_TOTAL = "aws_multi_eni_actor_restarts_total", Counter, Both;
    /// Panics anywhere in the process (each is a bug; supervised actors are restarted).
    PANICS_TOTAL = "aws_multi_eni_panics_total", Counter, Both;
    /// Kubernetes Events by outcome (recorded: a new Event or a repeat counted in its series; failed; dropped: the queue was full).
    EVENTS_TOTAL = "aws_multi_eni_events_total", Counter, Controller;
    /// Reconcile errors by error label.
    RECONCILE_ERRORS_TOTAL = "aws_multi_eni_reconcile_errors_total", Counter, Controller;
    /// Kubernetes watch events received, by resource and event (applied, deleted, resync).
    KUBE_WATCH_EVENTS_TOTAL = "aws_multi_eni_kube_watch_events_total", Counter, Both;
    /// 1 once a Kubernetes watch delivered its first listing, by resource (nodes, nodeenis, eninodes); 0 before, and while a watch that stopped is started again.
    KUBE_WATCH_SYNCED = "aws_multi_eni_kube_watch_synced", Gauge, Controller;
    /// Kubernetes watch errors by resource (each is retried).
    KUBE_WATCH_ERRORS_TOTAL = "aws_multi_eni_kube_watch_errors_total", Counter, Both;
    /// 1 while this replica holds the leader Lease.
    LEADER = "aws_multi_eni_leader", Gauge, Controller;
    /// Times this replica started its actor tree (once per leadership term): a rate above zero is a leadership that comes and goes.
    LEADER_TERMS_TOTAL = "aws_multi_eni_leader_terms_total", Counter, Controller;
    /// 1 while a NodeENI's Degraded condition is True.
    NODEENI_DEGRADED = "aws_multi_eni_nodeeni_degraded", Gauge, Controller;
    /// Nodes NodeENIs select, by the readiness of their ENIs (ready, pending, blocked), as the ENIsReady condition tells it.
    SELECTED_NODES = "aws_multi_eni_selected_nodes", Gauge, Controller;
    /// Attached ENIs of this node the agent should configure.
    AGENT_LINKS_MANAGED = "aws_multi_eni_agent_links_managed", Gauge, Agent;
    /// Attached ENIs of this node the agent has brought up with their MTU.
    AGENT_LINKS_CONFIGURED = "aws_multi_eni_agent_links_configured", Gauge, Agent;
    /// Changes the agent made, by change: to links (up, mtu), to DPDK ENIs' devices (bind, release), to the SR-IOV device plugin (device_plugin_config, device_plugin_restart).
    AGENT_LINK_CHANGES_TOTAL = "aws_multi_eni_agent_link_changes_total", Counter, Agent;
    /// Attached ENIs of this node whose NodeENI asks for DPDK.
    AGENT_DPDK_DEVICES_MANAGED = "aws_multi_eni_agent_dpdk_devices_managed", Gauge, Agent;
    /// Of them, devices bound to the driver asked for.
    AGENT_DPDK_DEVICES_BOUND = "aws_multi_eni_agent_dpdk_devices_bound", Gauge, Agent;
    /// Link events received from the kernel.
    AGENT_NETLINK_EVENTS_TOTAL = "aws_multi_eni_agent_netlink_events_total", Counter, Agent;
    /// Link reports written to this node's ENINode status.
    AGENT_REPORT_WRITES_TOTAL = "aws_multi_eni_agent_report_writes_total", Counter, Agent;
    /// Agent errors by error label (netlink, sysfs, the device plugin's configuration, API server).
    AGENT_ERRORS_TOTAL = "aws_multi_eni_agent_errors_total", Counter, Agent;
}

impl Metric {
    /// Whether `component`'s binary exports it.
    pub fn exported_by(&self, component: &str) -> bool {
        matches!(
            (self.exporter, component),
            (Exporter::Both, _) | (Exporter::Controller, "controller") | (Exporter::Agent, "agent")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prefixed_and_suffixed_by_type() {
        let mut seen = std::collections::BTreeSet::new();
        for m in ALL {
            assert!(seen.insert(m.name), "{} twice", m.name);
            assert!(m.name.starts_with("aws_multi_eni_"), "{}", m.name);
            assert!(!m.help.is_empty(), "{}", m.name);
            match m.kind {
                Kind::Counter => assert!(m.name.ends_with("_total"), "{}", m.name),
                Kind::Histogram => assert!(m.name.ends_with("_seconds"), "{}", m.name),
                Kind::Gauge => assert!(!m.name.ends_with("_total"), "{}", m.name),
            }
        }
    }

    #[test]
    fn the_readme_documents_every_metric() {
        let readme = include_str!("../../README.md");
        for m in ALL {
            let short = m.name.trim_start_matches("aws_multi_eni_");
            assert!(
                readme.contains(&format!("`{}", m.name)) || readme.contains(&format!("`{short}`")),
                "README.md's metric list misses {}",
                m.name
            );
        }
    }
}
