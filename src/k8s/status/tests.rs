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
        ipv4_addresses: Vec::new(),
        ipv4_prefixes: Vec::new(),
        ipv6_addresses: Vec::new(),
        ipv6_prefixes: Vec::new(),
        source_dest_check: None,
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
        &Concerns::default(),
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
    let first = build_status(
        1,
        &slots,
        &Concerns::default(),
        None,
        t("2026-01-01T00:00:00Z"),
    );
    let again = build_status(
        1,
        &slots,
        &Concerns::default(),
        Some(&first),
        t("2026-01-01T01:00:00Z"),
    );
    assert_eq!(first, again, "no timestamp churn");
    // A change stamps only what changed.
    let moved = [slot("a", SlotPhase::Attaching)];
    let third = build_status(
        1,
        &moved,
        &Concerns::default(),
        Some(&again),
        t("2026-01-01T02:00:00Z"),
    );
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
fn one_cause_blocking_many_slots_is_named_once_with_their_count() {
    let full = || SlotPhase::Blocked("ENICreateFailed".into(), "no free addresses".into());
    let denied = SlotPhase::Blocked("ENIAttachFailed".into(), "not authorized".into());
    let mut slots: Vec<SlotSummary> = (0..1000)
        .map(|i| slot(&format!("n{i:04}"), full()))
        .collect();
    slots.push(slot("z", denied));
    let s = build_status(
        1,
        &slots,
        &Concerns::default(),
        None,
        t("2026-01-01T00:00:00Z"),
    );
    let d = cond(&s, "Degraded");
    assert_eq!(d.reason, "ENICreateFailed");
    assert_eq!(
        d.message,
        "ENICreateFailed blocks 1000 slots (n0000 in subnet-1, n0001 in subnet-1, n0002 in subnet-1 and 997 more): no free addresses; \
         ENIAttachFailed blocks 1 slot (z in subnet-1): not authorized"
    );
    assert_eq!(s.failed_count, 1001);
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
        &Concerns {
            skipped: vec![(
                "SubnetZoneMismatch".into(),
                "node c is in us-east-1b, subnet-1 in us-east-1a".into(),
            )],
            ..Concerns::default()
        },
        None,
        t("2026-01-01T00:00:00Z"),
    );
    assert_eq!(cond(&s, "Ready").status, "False");
    assert_eq!(cond(&s, "Ready").reason, "SomeFailed");
    assert_eq!(cond(&s, "Degraded").reason, "AttachmentLimitExceeded");
    assert!(cond(&s, "Degraded").message.contains("us-east-1b"));
    assert!(
        cond(&s, "Degraded")
            .message
            .contains("AttachmentLimitExceeded blocks 1 slot (b in subnet-1): card 0 is full (3)"),
        "{}",
        cond(&s, "Degraded").message
    );
    let spec = build_status(
        1,
        &[],
        &Concerns {
            problems: vec![("InvalidTags".into(), "tag key aws:x is reserved".into())],
            ..Concerns::default()
        },
        None,
        t("2026-01-01T00:00:00Z"),
    );
    assert_eq!(cond(&spec, "Ready").reason, "InvalidTags");
    assert_eq!(cond(&spec, "Degraded").status, "True");
}

#[test]
fn no_matching_nodes_is_ready() {
    let s = build_status(
        1,
        &[],
        &Concerns::default(),
        None,
        t("2026-01-01T00:00:00Z"),
    );
    assert_eq!(cond(&s, "Ready").reason, "NoMatchingNodes");
    assert_eq!(cond(&s, "Ready").status, "True");
}

fn many(n: usize, phase: impl Fn(usize) -> SlotPhase) -> Vec<SlotSummary> {
    (0..n)
        .map(|i| slot(&format!("node-{i:05}"), phase(i)))
        .collect()
}

#[test]
fn a_large_nodeeni_lists_a_bounded_number_of_attachments_problems_first() {
    let failed = || SlotPhase::Blocked("InstanceGone".into(), "gone".into());
    let slots = many(20_000, |i| match i % 1000 {
        7 => failed(),
        8 => SlotPhase::Attaching,
        _ => SlotPhase::Attached,
    });
    let s = build_status(
        1,
        &slots,
        &Concerns::default(),
        None,
        t("2026-01-01T00:00:00Z"),
    );
    assert_eq!(s.attachments.len(), MAX_LISTED_ATTACHMENTS);
    assert_eq!(s.desired_count, 20_000);
    assert_eq!(s.failed_count, 20);
    assert_eq!(s.unlisted_count, 20_000 - MAX_LISTED_ATTACHMENTS as i32);
    let count = |st: &str| s.attachments.iter().filter(|a| a.status == st).count();
    assert_eq!((count("failed"), count("attaching")), (20, 20));
    assert_eq!(count("attached"), MAX_LISTED_ATTACHMENTS - 40);
    let names: Vec<&str> = s.attachments.iter().map(|a| a.node_id.as_str()).collect();
    assert!(names.is_sorted(), "listed by node: {names:?}");
    let bytes = serde_json::to_vec(&s).unwrap().len();
    assert!(bytes < 64 * 1024, "{bytes} bytes");
}

#[test]
fn long_node_names_are_listed_within_the_byte_cap() {
    let mut slots = many(MAX_LISTED_ATTACHMENTS, |_| SlotPhase::Attached);
    for s in &mut slots {
        s.node = format!("{}.{}", s.node, "x".repeat(240));
        s.instance_id = "i-0123456789abcdef0".into();
    }
    let s = build_status(
        1,
        &slots,
        &Concerns::default(),
        None,
        t("2026-01-01T00:00:00Z"),
    );
    let listed = serde_json::to_vec(&s.attachments).unwrap().len();
    assert!(listed <= MAX_LISTED_BYTES, "{listed} bytes");
    assert!(s.unlisted_count > 0);
    assert_eq!(
        s.attachments.len() + s.unlisted_count as usize,
        MAX_LISTED_ATTACHMENTS
    );
}

#[test]
fn a_small_nodeeni_lists_every_attachment() {
    let slots = many(MAX_LISTED_ATTACHMENTS, |_| SlotPhase::Attached);
    let s = build_status(
        1,
        &slots,
        &Concerns::default(),
        None,
        t("2026-01-01T00:00:00Z"),
    );
    assert_eq!(s.attachments.len(), MAX_LISTED_ATTACHMENTS);
    assert_eq!(s.unlisted_count, 0);
    assert_eq!(s.attachments[0].node_id, "node-00000");
}

#[test]
fn the_slots_listed_are_the_first_of_a_stable_sort_of_all() {
    let mut dice = crate::plan::fixtures::Dice(0x9e37_79b9_7f4a_7c15);
    let mut roll = |n: u64| dice.roll(n);
    let now = t("2026-01-01T00:00:00Z");
    for n in [0, 1, 99, 100, 101, 1_000] {
        let mut slots = Vec::new();
        for _ in 0..n {
            let phase = match roll(5) {
                0 => SlotPhase::Blocked("InstanceGone".into(), "gone".into()),
                1 => SlotPhase::Attaching,
                _ => SlotPhase::Attached,
            };
            // Few names, so that many slots tie on node, device index and subnet.
            let mut line = slot(&format!("node-{}", roll(40)), phase);
            line.instance_id = format!("i-{}", roll(1_000_000));
            line.device_index = Some(u32::try_from(roll(2)).unwrap());
            slots.push(line);
        }
        let mut reference: Vec<&SlotSummary> = slots.iter().collect();
        reference.sort_by(|a, b| listing_order(a).cmp(&listing_order(b)));
        let want: Vec<ENIAttachment> = {
            let mut bytes = 0;
            let mut out = Vec::new();
            for s in reference.into_iter().take(MAX_LISTED_ATTACHMENTS) {
                let a = attachment(s, &now, &PreviousIndex::default());
                bytes += serde_json::to_vec(&a).unwrap().len() + 1;
                if bytes > MAX_LISTED_BYTES {
                    break;
                }
                out.push(a);
            }
            out.sort_by(|a, b| {
                (&a.node_id, a.device_index, &a.subnet_id).cmp(&(
                    &b.node_id,
                    b.device_index,
                    &b.subnet_id,
                ))
            });
            out
        };
        let got = listed(&slots, &now, &PreviousIndex::default());
        assert_eq!(got, want, "{n} slots");
    }
}
