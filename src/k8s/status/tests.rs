use super::*;

fn t(s: &str) -> Time {
    Time(s.parse().unwrap())
}

fn slot(node: &str, phase: SlotPhase) -> SlotSummary {
    SlotSummary {
        node: node.into(),
        instance_id: format!("i-{node}"),
        subnet_id: "subnet-1".into(),
        subnet_cidr: "10.0.1.0/24".into(),
        eni_id: Some(format!("eni-{node}")),
        attachment_id: Some(format!("eni-attach-{node}")),
        mac_address: Some("02:00:00:00:00:01".into()),
        device_index: Some(1),
        network_card: 0,
        mtu: 9001,
        interface_configured: None,
        phase,
    }
}

fn cond<'a>(s: &'a NodeENIStatus, t: &str) -> &'a Condition {
    s.conditions.iter().find(|c| c.type_ == t).unwrap()
}

#[test]
fn all_attached_is_ready_and_stable() {
    let s = build_status(
        3,
        &[
            slot("a", SlotPhase::Attached),
            slot("b", SlotPhase::Attached),
        ],
        &[],
        &[],
        None,
        t("2026-01-01T00:00:00Z"),
    );
    assert_eq!((s.desired_count, s.ready_count), (2, 2));
    assert_eq!(cond(&s, "Ready").status, "True");
    assert_eq!(cond(&s, "Ready").reason, "AllAttached");
    assert_eq!(cond(&s, "Progressing").status, "False");
    assert_eq!(cond(&s, "Degraded").status, "False");
    assert!(
        s.conditions
            .iter()
            .all(|c| c.observed_generation == Some(3))
    );
    assert_eq!(s.attachments[0].status, "attached");
    assert_eq!(s.attachments[0].mac_address, "02:00:00:00:00:01");
}

#[test]
fn an_unchanged_world_gives_an_identical_status() {
    let slots = [slot("a", SlotPhase::Attached)];
    let first = build_status(1, &slots, &[], &[], None, t("2026-01-01T00:00:00Z"));
    let again = build_status(1, &slots, &[], &[], Some(&first), t("2026-01-01T01:00:00Z"));
    assert_eq!(first, again, "no timestamp churn");
    // A change stamps only what changed.
    let moved = [slot("a", SlotPhase::Attaching)];
    let third = build_status(1, &moved, &[], &[], Some(&again), t("2026-01-01T02:00:00Z"));
    assert_eq!(
        cond(&third, "Ready").last_transition_time,
        t("2026-01-01T02:00:00Z")
    );
    assert_eq!(
        cond(&third, "Degraded").last_transition_time,
        t("2026-01-01T00:00:00Z")
    );
    assert_eq!(
        third.attachments[0].last_updated,
        Some(t("2026-01-01T02:00:00Z"))
    );
}

#[test]
fn problems_failures_and_skips_degrade() {
    let blocked = SlotPhase::Blocked(
        "AttachmentLimitExceeded".into(),
        "card 0 is full (3)".into(),
    );
    let s = build_status(
        1,
        &[slot("a", SlotPhase::Attached), slot("b", blocked)],
        &[],
        &["node c is in us-east-1b, subnet-1 in us-east-1a".into()],
        None,
        t("2026-01-01T00:00:00Z"),
    );
    assert_eq!(cond(&s, "Ready").status, "False");
    assert_eq!(cond(&s, "Ready").reason, "SomeFailed");
    assert_eq!(cond(&s, "Degraded").reason, "AttachmentLimitExceeded");
    assert!(cond(&s, "Degraded").message.contains("us-east-1b"));
    let spec = build_status(
        1,
        &[],
        &[(
            "DPDKNotSupported".into(),
            "enableDPDK is not supported".into(),
        )],
        &[],
        None,
        t("2026-01-01T00:00:00Z"),
    );
    assert_eq!(cond(&spec, "Ready").reason, "DPDKNotSupported");
    assert_eq!(cond(&spec, "Degraded").status, "True");
}

#[test]
fn no_matching_nodes_is_ready() {
    let s = build_status(1, &[], &[], &[], None, t("2026-01-01T00:00:00Z"));
    assert_eq!(cond(&s, "Ready").reason, "NoMatchingNodes");
    assert_eq!(cond(&s, "Ready").status, "True");
}
