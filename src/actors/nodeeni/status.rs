//! The NodeENI's status from its slots, and the gauges that mirror it.

use crate::actors::slot::SlotReport;
use crate::k8s::status::{SlotPhase, SlotSummary};
use crate::k8s::{Cluster, ClusterError, NodeENIStatus};
use crate::plan::slots::DesiredSlot;

/// One slot's line in the status.
pub fn summary(
    desired: &DesiredSlot,
    report: Option<&SlotReport>,
    failing: bool,
    mtu: i32,
    configured_macs: Option<&std::collections::BTreeMap<String, bool>>,
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
        network_card: desired.network_card,
        mtu,
        interface_configured: report
            .and_then(|r| r.mac_address.as_ref())
            .and_then(|mac| configured_macs?.get(&mac.to_ascii_lowercase()).copied()),
        phase,
    }
}

/// Sets `aws_multi_eni_slots{nodeeni,state}` and `aws_multi_eni_nodeeni_degraded` from a
/// status about to be written.
pub fn record_gauges(name: &str, status: &NodeENIStatus, slots: &[SlotSummary]) {
    use crate::telemetry::metric::{NODEENI_DEGRADED, SLOTS};
    let failed = slots
        .iter()
        .filter(|s| matches!(s.phase, SlotPhase::Blocked(..)))
        .count() as f64;
    for (state, value) in [
        ("desired", f64::from(status.desired_count)),
        ("ready", f64::from(status.ready_count)),
        ("failed", failed),
    ] {
        metrics::gauge!(SLOTS, "nodeeni" => name.to_string(), "state" => state).set(value);
    }
    let degraded = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Degraded" && c.status == "True");
    metrics::gauge!(NODEENI_DEGRADED, "nodeeni" => name.to_string()).set(if degraded {
        1.0
    } else {
        0.0
    });
}

/// The status last written, so that an unchanged status is not written again.
pub struct StatusBook {
    last: Option<NodeENIStatus>,
}

impl StatusBook {
    /// Starting from the status the object carries.
    pub fn new(last: Option<NodeENIStatus>) -> Self {
        StatusBook { last }
    }

    /// The status last written.
    pub fn last(&self) -> Option<&NodeENIStatus> {
        self.last.as_ref()
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
                true
            }
            Err(ClusterError::NotFound(_)) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not write the status");
                metrics::counter!(crate::telemetry::metric::RECONCILE_ERRORS_TOTAL, "error" => e.label())
                    .increment(1);
                false
            }
        }
    }
}
