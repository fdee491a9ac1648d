//! The controller's writes to Nodes: its `ENIsReady` condition (a strategic merge
//! patch of the status subresource, keyed by condition type, so the kubelet's and
//! others' conditions stay as they are) and the removal of one taint (a JSON patch that
//! `test`s the taint at the position it was seen, so a taint list changed meanwhile is
//! a conflict, never a removal of someone else's taint).

use serde_json::{Value, json};

use super::node::TaintKey;
use super::node::{ENIS_READY, NodeCondition};

/// The status patch that writes `condition` at `now` (RFC 3339); its
/// `lastTransitionTime` only when its status changed (`transition`), so a new message
/// keeps the time the status last flipped.
pub fn condition_patch(condition: &NodeCondition, transition: bool, now: &str) -> Value {
    let mut c = json!({
        "type": ENIS_READY,
        "status": if condition.ready { "True" } else { "False" },
        "reason": condition.reason,
        "message": condition.message,
        "lastHeartbeatTime": now,
    });
    if transition {
        c["lastTransitionTime"] = json!(now);
    }
    json!({"status": {"conditions": [c]}})
}

/// The JSON patch that removes `taint`, seen at position `index`.
pub fn taint_removal(taint: &TaintKey, index: usize) -> Value {
    let at = format!("/spec/taints/{index}");
    json!([
        {"op": "test", "path": format!("{at}/key"), "value": taint.key},
        {"op": "test", "path": format!("{at}/effect"), "value": taint.effect},
        {"op": "remove", "path": at},
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_message_keeps_the_transition_time() {
        let c = NodeCondition {
            ready: false,
            reason: "ENIsPending".into(),
            message: "NodeENI a: not planned yet".into(),
        };
        let flipped = condition_patch(&c, true, "2026-01-01T00:00:00Z");
        let same = condition_patch(&c, false, "2026-01-01T00:00:00Z");
        let cond = &flipped["status"]["conditions"][0];
        assert_eq!(cond["type"], ENIS_READY);
        assert_eq!(cond["status"], "False");
        assert_eq!(cond["lastTransitionTime"], "2026-01-01T00:00:00Z");
        assert!(same["status"]["conditions"][0]["lastTransitionTime"].is_null());
    }

    #[test]
    fn a_taint_is_removed_only_where_it_was_seen() {
        let ops = taint_removal(
            &TaintKey {
                key: "k".into(),
                effect: "NoSchedule".into(),
            },
            2,
        );
        assert_eq!(ops[0]["path"], "/spec/taints/2/key");
        assert_eq!(ops[1]["value"], "NoSchedule");
        assert_eq!(ops[2], json!({"op": "remove", "path": "/spec/taints/2"}));
    }
}
