//! The NodeENI's status from its slots, and the gauges that mirror it.

use std::time::Duration;

use crate::actors::slot::SlotReport;
use crate::k8s::status::{SlotPhase, SlotSummary};
use crate::k8s::{Cluster, ClusterError, NodeENIStatus};
use crate::plan::slots::DesiredSlot;
use crate::supervision::retry_delay;

/// What a node's agent reports of a slot's interface, from its report (by MAC, any
/// case) and the agent's `configured_macs` (by lowercase MAC).
pub fn configured(
    report: Option<&SlotReport>,
    configured_macs: Option<&std::collections::BTreeMap<String, bool>>,
) -> Option<bool> {
    let mac = report?.mac_address.as_ref()?;
    let macs = configured_macs?;
    if mac.bytes().any(|b| b.is_ascii_uppercase()) {
        macs.get(&mac.to_ascii_lowercase()).copied()
    } else {
        macs.get(mac).copied()
    }
}

/// One slot's line in the status; `configured`: see [`configured`].
pub fn summary(
    desired: &DesiredSlot,
    report: Option<&SlotReport>,
    failing: bool,
    mtu: i32,
    configured: Option<bool>,
) -> SlotSummary {
    let phase = if failing {
        SlotPhase::Blocked(
            "SlotFailing".into(),
            "the slot's actor keeps failing; retrying slowly".into(),
        )
    } else {
        report.map_or(SlotPhase::Pending, |r| r.phase.clone())
    };
    let key = &desired.key;
    SlotSummary {
        node: key.node.clone(),
        instance_id: key.instance_id.clone(),
        subnet_id: key.subnet_id.clone(),
        subnet_cidr: desired.subnet_cidr.clone(),
        eni_id: report.and_then(|r| r.eni_id.clone()),
        attachment_id: report.and_then(|r| r.attachment_id.clone()),
        mac_address: report.and_then(|r| r.mac_address.clone()),
        device_index: report.and_then(|r| r.device_index),
        ipv4_addresses: report.map(|r| r.ipv4_addresses.clone()).unwrap_or_default(),
        ipv4_prefixes: report.map(|r| r.ipv4_prefixes.clone()).unwrap_or_default(),
        ipv6_addresses: report.map(|r| r.ipv6_addresses.clone()).unwrap_or_default(),
        ipv6_prefixes: report.map(|r| r.ipv6_prefixes.clone()).unwrap_or_default(),
        source_dest_check: report.and_then(|r| r.source_dest_check),
        network_card: desired.network_card,
        mtu,
        interface_configured: configured,
        phase,
    }
}

/// Sets `aws_multi_eni_slots{nodeeni,state}` and `aws_multi_eni_nodeeni_degraded` from a
/// status about to be written.
pub fn record_gauges(name: &str, status: &NodeENIStatus, slots: &[SlotSummary]) {
    let failed = slots
        .iter()
        .filter(|s| matches!(s.phase, SlotPhase::Blocked(..)))
        .count() as f64;
    let degraded = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Degraded" && c.status == "True");
    crate::telemetry::term::set_nodeeni(
        name,
        crate::telemetry::term::NodeEniGauges {
            desired: f64::from(status.desired_count),
            ready: f64::from(status.ready_count),
            failed,
            degraded,
        },
    );
}

/// Zeroes a deleted NodeENI's gauges, so that no alert keeps firing for it.
pub fn clear_gauges(name: &str) {
    crate::telemetry::term::clear_nodeeni(name);
}

/// The status last written, so that an unchanged status is not written again.
pub struct StatusBook {
    last: Option<NodeENIStatus>,
    /// Writes refused in a row.
    failures: u32,
}

impl StatusBook {
    /// Starting from the status the object carries.
    pub fn new(last: Option<NodeENIStatus>) -> Self {
        StatusBook { last, failures: 0 }
    }

    /// The status last written.
    pub fn last(&self) -> Option<&NodeENIStatus> {
        self.last.as_ref()
    }

    /// How long to wait before writing again after refused writes: from `base`,
    /// doubling to half a minute.
    pub fn retry_in(&self, base: Duration) -> Duration {
        retry_delay(
            self.failures,
            base,
            Duration::from_secs(30),
            rand::random::<f64>(),
        )
    }

    /// Records the gauges and writes `status` if it changed; `false` if the write failed
    /// (the caller retries).
    pub async fn write(
        &mut self,
        cluster: &dyn Cluster,
        name: &str,
        status: NodeENIStatus,
        slots: &[SlotSummary],
    ) -> bool {
        record_gauges(name, &status, slots);
        if self.last.as_ref() == Some(&status) {
            return true;
        }
        match cluster.patch_status(name, &status).await {
            Ok(()) => {
                self.last = Some(status);
                self.failures = 0;
                true
            }
            Err(ClusterError::NotFound(_)) => true,
            Err(e) => {
                self.failures += 1;
                tracing::warn!(error = %e, "could not write the status");
                metrics::counter!(crate::telemetry::metric::RECONCILE_ERRORS_TOTAL, "error" => e.label())
                    .increment(1);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;
    use crate::k8s::status::{Concerns, build_status};

    fn gauges(snapshot: metrics_util::debugging::Snapshot) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = snapshot
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| match value {
                DebugValue::Gauge(v) => {
                    let labels: Vec<String> = key
                        .key()
                        .labels()
                        .map(|l| format!("{}={}", l.key(), l.value()))
                        .collect();
                    Some((format!("{}{{{}}}", key.key().name(), labels.join(",")), v.0))
                }
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn a_deleted_nodeenis_gauges_go_to_zero() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let blocked = SlotSummary {
                node: "n".into(),
                instance_id: "i".into(),
                subnet_id: "s".into(),
                subnet_cidr: "10.0.0.0/24".into(),
                eni_id: None,
                attachment_id: None,
                mac_address: None,
                device_index: None,
                ipv4_addresses: Vec::new(),
                ipv4_prefixes: Vec::new(),
                ipv6_addresses: Vec::new(),
                ipv6_prefixes: Vec::new(),
                source_dest_check: None,
                network_card: 0,
                mtu: 0,
                interface_configured: None,
                phase: SlotPhase::Blocked("InstanceGone".into(), "gone".into()),
            };
            let now =
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH);
            let status = build_status(
                1,
                std::slice::from_ref(&blocked),
                &Concerns::default(),
                None,
                now,
            );
            record_gauges("multus", &status, &[blocked]);
        });
        let before = gauges(snapshotter.snapshot());
        assert!(
            before.contains(&("aws_multi_eni_nodeeni_degraded{nodeeni=multus}".into(), 1.0)),
            "{before:?}"
        );
        metrics::with_local_recorder(&recorder, || clear_gauges("multus"));
        let after = gauges(snapshotter.snapshot());
        assert_eq!(after.len(), 4, "{after:?}");
        assert!(after.iter().all(|(_, v)| *v == 0.0), "{after:?}");
    }
}
