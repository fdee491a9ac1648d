//! Series every scrape shows from the start, at zero: a counter that has never moved is
//! otherwise missing, so `rate()` has no baseline, `absent()`-style alerts misfire and
//! dashboards show "no data" where the truth is "none". Only label values known up front
//! are set here; others appear with their first event.

/// Outcomes of `aws_multi_eni_cleanups_total`.
pub const CLEANUP_OUTCOMES: [&str; 3] = ["deleted", "failed", "refused"];
/// Kinds of `aws_multi_eni_actor_restarts_total` under the NodeENI actors.
pub const RESTART_KINDS: [&str; 3] = ["nodeeni", "attachment", "cleanup_worker"];
/// Outcomes of `aws_multi_eni_events_total`.
pub const EVENT_OUTCOMES: [&str; 3] = ["recorded", "failed", "dropped"];
/// States of `aws_multi_eni_selected_nodes`.
pub const READINESS_STATES: [&str; 3] = ["ready", "pending", "blocked"];
/// Outcomes of `aws_multi_eni_ec2_calls_total` started at zero for every action: `ok`, and
/// the two that alerts count with `increase()`, which misses a series' first sample.
pub const EC2_OUTCOMES: [&str; 3] = ["ok", "unauthorized", "fenced"];
/// Resources of the controller's watches.
pub const WATCHED: [&str; 2] = ["nodes", "nodeenis"];

/// The controller's series.
#[cfg(feature = "controller")]
pub fn zero_controller() {
    metrics::counter!(crate::telemetry::metric::PANICS_TOTAL).increment(0);
    for action in crate::aws::Ec2Action::ALL {
        let a = action.as_str();
        for outcome in EC2_OUTCOMES {
            metrics::counter!(crate::telemetry::metric::EC2_CALLS_TOTAL, "action" => a, "outcome" => outcome)
                .increment(0);
        }
        metrics::counter!(crate::telemetry::metric::EC2_THROTTLES_TOTAL, "action" => a)
            .increment(0);
        metrics::gauge!(crate::telemetry::metric::EC2_TOKEN_WAITERS, "action" => a).set(0.0);
    }
    for outcome in CLEANUP_OUTCOMES {
        metrics::counter!(crate::telemetry::metric::CLEANUPS_TOTAL, "outcome" => outcome)
            .increment(0);
    }
    for outcome in EVENT_OUTCOMES {
        metrics::counter!(crate::telemetry::metric::EVENTS_TOTAL, "outcome" => outcome)
            .increment(0);
    }
    for kind in RESTART_KINDS {
        metrics::counter!(crate::telemetry::metric::ACTOR_RESTARTS_TOTAL, "kind" => kind)
            .increment(0);
    }
    for error in crate::k8s::ClusterError::LABELS {
        metrics::counter!(crate::telemetry::metric::RECONCILE_ERRORS_TOTAL, "error" => error)
            .increment(0);
    }
    for resource in WATCHED {
        metrics::counter!(crate::telemetry::metric::KUBE_WATCH_ERRORS_TOTAL, "resource" => resource)
            .increment(0);
    }
    metrics::counter!(crate::telemetry::metric::ORPHANS_FOUND_TOTAL).increment(0);
    metrics::counter!(crate::telemetry::metric::ORPHANS_DELETED_TOTAL).increment(0);
    for reason in crate::actors::cleanup::Why::LABELS {
        metrics::gauge!(crate::telemetry::metric::UNTOUCHED_ENIS, "reason" => reason).set(0.0);
    }
    for state in READINESS_STATES {
        metrics::gauge!(crate::telemetry::metric::SELECTED_NODES, "state" => state).set(0.0);
    }
    metrics::gauge!(crate::telemetry::metric::CLEANUP_QUEUE_DEPTH).set(0.0);
    // Histograms too: registered with no observation, they are exported with empty
    // buckets, so the first rollout's latencies show in `rate()` (a bucket series that
    // appears at 1 has no increase to show).
    for histogram in [
        crate::telemetry::metric::ATTACH_LATENCY_SECONDS,
        crate::telemetry::metric::LABEL_TO_CREATE_SECONDS,
        crate::telemetry::metric::CLEANUP_DURATION_SECONDS,
    ] {
        let _ = metrics::histogram!(histogram);
    }
    metrics::gauge!(crate::telemetry::metric::LEADER).set(0.0);
    metrics::counter!(crate::telemetry::metric::LEADER_TERMS_TOTAL).increment(0);
}

/// The node agent's series.
pub fn zero_agent() {
    metrics::counter!(crate::telemetry::metric::PANICS_TOTAL).increment(0);
    metrics::gauge!(crate::telemetry::metric::AGENT_LINKS_MANAGED).set(0.0);
    metrics::gauge!(crate::telemetry::metric::AGENT_LINKS_CONFIGURED).set(0.0);
    metrics::counter!(crate::telemetry::metric::AGENT_NETLINK_EVENTS_TOTAL).increment(0);
    metrics::counter!(crate::telemetry::metric::AGENT_REPORT_WRITES_TOTAL).increment(0);
    metrics::gauge!(crate::telemetry::metric::AGENT_DPDK_DEVICES_MANAGED).set(0.0);
    metrics::gauge!(crate::telemetry::metric::AGENT_DPDK_DEVICES_BOUND).set(0.0);
    for change in [
        "up",
        "mtu",
        "bind",
        "release",
        "device_plugin_config",
        "device_plugin_restart",
    ] {
        metrics::counter!(crate::telemetry::metric::AGENT_LINK_CHANGES_TOTAL, "change" => change)
            .increment(0);
    }
    let errors = crate::agent::links::LinkError::LABELS
        .into_iter()
        .chain(crate::agent::pci::PciError::LABELS)
        .chain(crate::agent::device_plugin::ConfigError::LABELS)
        .chain(crate::k8s::ClusterError::LABELS);
    for error in errors {
        metrics::counter!(crate::telemetry::metric::AGENT_ERRORS_TOTAL, "error" => error)
            .increment(0);
    }
}

#[cfg(test)]
mod tests {
    use crate::agent::links::LinkError;
    use crate::k8s::ClusterError;

    #[test]
    fn every_error_label_is_started_at_zero() {
        let cluster = [
            ClusterError::Conflict("x".into()),
            ClusterError::NotFound("x".into()),
            ClusterError::Rejected {
                code: 422,
                reason: "Invalid".into(),
                message: "x".into(),
            },
            ClusterError::Unavailable("x".into()),
        ];
        for e in &cluster {
            assert!(ClusterError::LABELS.contains(&e.label()), "{e}");
        }
        #[cfg(feature = "controller")]
        {
            use crate::aws::Ec2Error;
            let unauthorized = Ec2Error::Unauthorized {
                code: "UnauthorizedOperation".into(),
                message: "x".into(),
            };
            for e in [unauthorized, Ec2Error::Fenced] {
                assert!(super::EC2_OUTCOMES.contains(&e.label()), "{e}");
            }
        }
        for e in [
            LinkError::Connect("x".into()),
            LinkError::Request("x".into()),
        ] {
            assert!(LinkError::LABELS.contains(&e.label()), "{e}");
        }
        use crate::agent::device_plugin::ConfigError;
        use crate::agent::pci::PciError;
        for e in [
            PciError::NoDevice("x".into()),
            PciError::NoDriver("x".into()),
            PciError::Io {
                path: "x".into(),
                error: "x".into(),
            },
            PciError::Disabled,
            PciError::NotBound {
                pci: "x".into(),
                wanted: "x".into(),
                now: "x".into(),
            },
        ] {
            assert!(PciError::LABELS.contains(&e.label()), "{e}");
        }
        for e in [
            ConfigError::Unreadable {
                path: "x".into(),
                why: "x".into(),
            },
            ConfigError::Io {
                path: "x".into(),
                error: "x".into(),
            },
        ] {
            assert!(ConfigError::LABELS.contains(&e.label()), "{e}");
        }
    }
}
