//! Table tests of a NodeENI's decisions.

use super::*;

fn key(node: &str, subnet: &str) -> SlotKey {
    SlotKey {
        node: node.into(),
        instance_id: format!("i-{node}"),
        subnet_id: subnet.into(),
    }
}

fn slot(node: &str, subnet: &str, groups: &[&str]) -> DesiredSlot {
    DesiredSlot {
        key: key(node, subnet),
        zone: "us-east-1a".into(),
        vpc: "vpc-1".into(),
        subnet_cidr: "10.0.0.0/24".into(),
        subnet_ipv6: false,
        position: 0,
        preferred_device_index: 1,
        network_card: 0,
        security_groups: groups.iter().map(|g| g.to_string()).collect(),
        delete_on_termination: true,
        description: "d".into(),
        tags: Default::default(),
        secondary_ipv4: None,
        ipv4_prefixes: None,
        ipv6_addresses: None,
        ipv6_prefixes: None,
        source_dest_check: None,
        ena_srd: None,
        ena_queue_count: None,
        connection_tracking: None,
    }
}

fn map(slots: &[DesiredSlot]) -> BTreeMap<SlotKey, DesiredSlot> {
    slots.iter().map(|s| (s.key.clone(), s.clone())).collect()
}

#[test]
fn a_new_plan_starts_updates_and_retires_only_what_changed_in_scope() {
    let running = map(&[
        slot("a", "s1", &["sg-1"]),
        slot("a", "s2", &["sg-1"]),
        slot("b", "s1", &["sg-1"]),
    ]);
    let planned = map(&[
        slot("a", "s1", &["sg-2"]),
        slot("c", "s1", &["sg-1"]),
        slot("b", "s1", &["sg-1"]),
    ]);
    let all = slot_changes(&running, planned.clone(), None);
    assert_eq!(all.start, vec![slot("c", "s1", &["sg-1"])]);
    assert_eq!(all.update, vec![slot("a", "s1", &["sg-2"])]);
    assert_eq!(all.retire, vec![key("a", "s2")]);

    // Re-planning node b alone leaves node a's slots be.
    let only_b = map(&[]);
    let changes = slot_changes(&running, only_b, Some(&["b".to_string()].into()));
    assert_eq!(changes.retire, vec![key("b", "s1")]);
    assert!(changes.start.is_empty() && changes.update.is_empty());
}

#[test]
fn a_retired_slot_hands_back_its_eni_and_moves_its_token_on() {
    let with_eni = LastReport {
        eni_id: Some("eni-1"),
        incarnation: 2,
    };
    let without = LastReport {
        eni_id: None,
        incarnation: 2,
    };
    // (last report, started with) → (next incarnation, clean)
    let cases = [
        (None, 0, 1, None),
        (None, 4, 5, None),
        (Some(with_eni), 0, 3, Some("eni-1")),
        // A create may be in flight without a report: the token moves on all the same.
        (Some(without), 2, 3, None),
        (Some(without), 5, 6, None),
    ];
    for (last, started, incarnation, clean) in cases {
        let r = retire(last, started);
        assert_eq!(r.incarnation, incarnation, "{last:?} {started}");
        assert_eq!(r.clean.as_deref(), clean, "{last:?} {started}");
    }
    // Handed over to another Node object of the same instance: nothing goes, the token
    // stays.
    assert_eq!(
        hand_over(Some(with_eni), 0),
        Retired {
            incarnation: 2,
            clean: None
        }
    );
    assert_eq!(starting_incarnation(Some(3), Some(1)), 3);
    assert_eq!(starting_incarnation(None, Some(1)), 1);
    assert_eq!(starting_incarnation(None, None), 0);
}

#[test]
fn no_slot_starts_before_a_listing_succeeded() {
    assert!(!may_start_slots(false));
    assert!(may_start_slots(true));
}

#[test]
fn only_a_first_listing_of_a_nodeeni_the_go_controller_reconciled_looks_for_its_enis() {
    for (first, deleting, go_finalizer, looks) in [
        (true, false, true, true),
        (true, false, false, false),
        (false, false, true, false),
        (true, true, true, false),
    ] {
        assert_eq!(
            looks_for_go_enis(first, deleting, go_finalizer),
            looks,
            "first {first}, deleting {deleting}, Go finalizer {go_finalizer}"
        );
    }
}

#[test]
fn retired_incarnations_are_forgotten_once_a_reused_token_is_recognisable() {
    let t0 = Instant::now();
    assert!(keep_incarnation(t0, t0));
    assert!(keep_incarnation(t0, t0 + INCARNATION_MEMORY / 2));
    assert!(!keep_incarnation(t0, t0 + INCARNATION_MEMORY));
    assert!(INCARNATION_MEMORY > crate::plan::slot_view::STALE_TOKEN_AGE);
}

#[test]
fn a_starting_slot_trusts_the_last_sweep_unless_a_slot_ran_at_its_place_since() {
    assert_eq!(starting_knowledge(Some(vec![1]), false), Some(vec![1]));
    assert_eq!(starting_knowledge(Some(vec![1]), true), Some(vec![1]));
    assert_eq!(starting_knowledge::<u8>(None, false), Some(Vec::new()));
    assert_eq!(starting_knowledge::<u8>(None, true), None, "it looks first");
}

#[test]
fn only_owned_enis_of_unwanted_slots_are_reaped() {
    let running: std::collections::HashSet<Place> = [key("a", "s1").place()].into();
    let eni = |id: &str, owned| SweptEni {
        eni_id: id.into(),
        owned,
    };
    let swept: HashMap<Place, Vec<SweptEni>> = [
        (key("a", "s1").place(), vec![eni("eni-wanted", true)]),
        (
            key("gone", "s1").place(),
            vec![eni("eni-b", true), eni("eni-go", false)],
        ),
        (key("gone", "s2").place(), vec![eni("eni-a", true)]),
    ]
    .into();
    assert_eq!(reap(swept, &running), vec!["eni-a", "eni-b"]);
}

#[test]
fn the_finalizer_waits_for_a_listing_every_teardown_every_retiring_slot_and_the_entries() {
    for (listed, pending, retiring, withdrawn, may) in [
        (true, 0, 0, true, true),
        (false, 0, 0, true, false),
        (true, 1, 0, true, false),
        (true, 0, 1, true, false),
        (true, 0, 0, false, false),
    ] {
        assert_eq!(finalizer_may_go(listed, pending, retiring, withdrawn), may);
    }
}

#[test]
fn resync_timing() {
    let now = Instant::now();
    let every = Duration::from_secs(300);
    assert!(sweep_due(None, now, every));
    assert!(!sweep_due(Some(now), now, every));
    assert!(sweep_due(Some(now), now + every, every));
    let secs = Duration::from_secs;
    let cases = [
        ("healthy: the resync", Trouble::None, every, every),
        ("a spec problem: a tenth", Trouble::Spec, every, secs(30)),
        ("at least 5 s", Trouble::Spec, secs(10), secs(5)),
        (
            "EC2 did not answer: 1 s",
            Trouble::Unanswered(0),
            every,
            secs(1),
        ),
        ("then doubling", Trouble::Unanswered(3), every, secs(8)),
        (
            "up to the problem cadence",
            Trouble::Unanswered(5),
            every,
            secs(30),
        ),
        ("however long", Trouble::Unanswered(40), every, secs(30)),
    ];
    for (what, trouble, resync, want) in cases {
        assert_eq!(next_tick(trouble, resync), want, "{what}");
    }
}

#[test]
fn re_planning_one_node_replaces_only_its_skip_reasons() {
    let no_instance = |n: &str| Skip::NoInstance { node: n.into() };
    let mut skips = Skips::default();
    skips.replace(None, vec![no_instance("a"), no_instance("b")]);
    skips.replace(
        Some(&["a".to_string()].into()),
        vec![Skip::NoSubnetInZone {
            node: "a".into(),
            node_zone: "us-east-1c".into(),
        }],
    );
    let words = |s: &Skips| -> Vec<String> { s.messages().into_iter().map(|(_, m)| m).collect() };
    assert_eq!(
        words(&skips),
        vec![
            "node a is in us-east-1c, where this NodeENI has no subnet",
            "node b has no AWS provider ID",
        ]
    );
    skips.replace(Some(&["b".to_string()].into()), vec![]);
    assert_eq!(skips.messages().len(), 1);
    // A node name that starts like another's is its own node.
    skips.replace(None, vec![no_instance("node-1"), no_instance("node-10")]);
    skips.replace(Some(&["node-1".to_string()].into()), vec![]);
    assert_eq!(words(&skips), vec!["node node-10 has no AWS provider ID"]);
    // Reasons: a node in a VPC without the named subnets is told so; one whose
    // instance was not read yet only waits.
    skips.replace(
        None,
        vec![
            Skip::NoSubnetInVpc {
                node: "x".into(),
                vpc: "vpc-2".into(),
            },
            Skip::VpcUnknown { node: "y".into() },
            Skip::SharedInstance {
                node: "z".into(),
                with: "w".into(),
            },
        ],
    );
    let reasons: Vec<String> = skips.messages().into_iter().map(|(r, _)| r).collect();
    assert_eq!(reasons, ["InstanceNotInVPC", "SharedInstance"]);
    assert_eq!(skips.pending(), 1);
}

#[test]
fn status_rounds_space_out_in_proportion_beyond_each_nodeenis_share_of_ten_thousand_slots() {
    let half = Duration::from_millis(500);
    let s = Duration::from_secs;
    // (debounce, slots, NodeENIs in the controller, interval)
    let cases: &[(Duration, usize, usize, Duration)] = &[
        (half, 0, 1, half),
        (half, 1, 1, half),
        (half, 10_000, 1, half),
        (half, 20_000, 1, s(1)),
        (half, 100_000, 1, s(5)),
        (half, 200_000, 1, s(10)),
        // No seat counted (not expected) is counted as alone.
        (half, 20_000, 0, s(1)),
        // Twenty NodeENIs of 10,000 slots: 500 each per debounce, so 20 debounces.
        (half, 10_000, 20, s(10)),
        (half, 5_000, 20, s(5)),
        (half, 2_500, 20, Duration::from_millis(2_500)),
        // A small NodeENI beside large ones keeps the plain debounce.
        (half, 10, 20, half),
        (half, 500, 20, half),
        // Never longer than ten seconds...
        (half, 1_000_000, 1, s(10)),
        (half, 100_000, 20, s(10)),
        // ...unless the debounce asked for is longer itself.
        (s(30), 1_000_000, 1, s(30)),
        (Duration::ZERO, 100_000, 20, Duration::ZERO),
    ];
    for (debounce, slots, nodeenis, want) in cases {
        assert_eq!(
            status_interval(*debounce, *slots, *nodeenis),
            *want,
            "{debounce:?} with {slots} slots, one of {nodeenis} NodeENIs"
        );
    }
}

#[test]
fn a_restarted_actor_holds_its_rounds_until_its_nodes_are_listed_and_its_slots_report() {
    let s = Duration::from_secs;
    let cases = [
        ("restart, slots unreported", true, true, 5, s(1), true),
        ("restart, every slot reported", true, true, 0, s(1), false),
        (
            "restart, a slot silent past the hold",
            true,
            true,
            1,
            s(60),
            false,
        ),
        (
            "restart over 100,000 ENIs, known again after 36 s",
            true,
            true,
            9,
            s(36),
            true,
        ),
        ("restart, nodes not listed yet", true, false, 0, s(60), true),
        ("restart, nodes never listed", true, false, 0, s(300), false),
        ("new NodeENI: written at once", false, false, 5, s(0), false),
    ];
    for (what, carried, known, unreported, since, hold) in cases {
        assert_eq!(
            hold_round(carried, known, unreported, since),
            hold,
            "{what}"
        );
    }
}

#[test]
fn a_retiring_slot_hands_over_only_to_a_slot_that_stays_at_its_place() {
    // Two Node objects of one instance: the same place under two node names.
    let twin = |node: &str, instance: &str| SlotKey {
        node: node.into(),
        instance_id: instance.into(),
        subnet_id: "s1".into(),
    };
    let (old, new, other) = (twin("a", "i-1"), twin("a2", "i-1"), twin("b", "i-2"));
    let desired = [old.clone(), new.clone(), other.clone()];
    let slots_at = |p: &Place| desired.iter().filter(|k| k.place() == *p).count();
    let cases: [(&str, Vec<SlotKey>, Vec<bool>); 6] = [
        ("nothing retires", vec![], vec![]),
        (
            "the old Node object goes, the new one stays",
            vec![old.clone()],
            vec![true],
        ),
        (
            "both Node objects go",
            vec![old.clone(), new.clone()],
            vec![false, false],
        ),
        (
            "the only slot at its place goes",
            vec![other.clone()],
            vec![false],
        ),
        (
            "a key named twice counts once",
            vec![old.clone(), old.clone()],
            vec![true, true],
        ),
        (
            "one of the twins and another place go",
            vec![new, other],
            vec![true, false],
        ),
    ];
    for (what, retiring, want) in cases {
        assert_eq!(handed_over(&retiring, slots_at), want, "{what}");
    }
}
