//! Table tests of the slot state machine, including the crash-resume cases: whatever
//! point a previous controller died at, the next decision continues from what EC2 shows.

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::plan::fixtures::{desired, eni_in};

fn eni(id: &str, state: EniState) -> SeenEni {
    eni_in(id, state)
}

fn attached(index: u32, card: u32, dot: bool) -> EniState {
    EniState::Attached {
        attachment_id: "eni-attach-1".into(),
        instance_id: "i-1".into(),
        device_index: index,
        card,
        delete_on_termination: dot,
    }
}

fn act(seen: &[SeenEni], placement: Option<Result<u32, NoRoom>>) -> Action {
    decide(
        &desired(),
        seen,
        placement,
        false,
        &SlotMemory::default(),
        Instant::now(),
    )
    .action
}

#[test]
fn crash_resume_table() {
    let attaching = EniState::Attaching {
        attachment_id: "eni-attach-1".into(),
        instance_id: "i-1".into(),
        device_index: 1,
        card: 0,
    };
    type Case = (
        &'static str,
        Vec<SeenEni>,
        Option<Result<u32, NoRoom>>,
        Action,
    );
    let cases: Vec<Case> = vec![
        (
            "nothing yet: learn where it would go first",
            vec![],
            None,
            Action::Observe,
        ),
        (
            "nothing yet, room known: create with incarnation 0",
            vec![],
            Some(Ok(1)),
            Action::Create { incarnation: 0 },
        ),
        (
            "nothing yet, no room: blocked, nothing created",
            vec![],
            Some(Err(NoRoom::CardFull { limit: 3 })),
            Action::Blocked(Blocker::NoRoom(NoRoom::CardFull { limit: 3 })),
        ),
        (
            "died after create: learn placement",
            vec![eni("eni-1", EniState::Available)],
            None,
            Action::Observe,
        ),
        (
            "died after create, placement known: attach",
            vec![eni("eni-1", EniState::Available)],
            Some(Ok(1)),
            Action::Attach {
                eni_id: "eni-1".into(),
                device_index: 1,
                card: 0,
            },
        ),
        (
            "died after attach call: wait",
            vec![eni("eni-1", attaching)],
            None,
            Action::Wait(Waiting::Attaching),
        ),
        (
            "died before deleteOnTermination: set it",
            vec![eni("eni-1", attached(1, 0, false))],
            None,
            Action::SetDeleteOnTermination {
                eni_id: "eni-1".into(),
                attachment_id: "eni-attach-1".into(),
                value: true,
            },
        ),
        (
            "everything done: ready",
            vec![eni("eni-1", attached(1, 0, true))],
            None,
            Action::Ready,
        ),
        (
            "no room on the card: blocked, not attempted",
            vec![eni("eni-1", EniState::Available)],
            Some(Err(NoRoom::CardFull { limit: 3 })),
            Action::Blocked(Blocker::NoRoom(NoRoom::CardFull { limit: 3 })),
        ),
    ];
    for (name, seen, placement, want) in cases {
        assert_eq!(act(&seen, placement), want, "{name}");
    }
}

#[test]
fn spec_changes_are_applied_in_place_or_by_moving() {
    let mut e = eni("eni-1", attached(1, 0, true));
    e.security_groups = vec!["sg-old".into()];
    assert_eq!(
        act(&[e], None),
        Action::ModifyGroups {
            eni_id: "eni-1".into(),
            groups: vec!["sg-1".into()]
        }
    );

    // deviceIndex changed from 1 to 4: move, once the new place is known.
    let mut d = desired();
    d.preferred_device_index = 4;
    let e = eni("eni-1", attached(1, 0, true));
    let m = SlotMemory::default();
    assert_eq!(
        decide(
            &d,
            std::slice::from_ref(&e),
            None,
            false,
            &m,
            Instant::now()
        )
        .action,
        Action::Observe
    );
    assert_eq!(
        decide(
            &d,
            std::slice::from_ref(&e),
            Some(Ok(4)),
            false,
            &m,
            Instant::now()
        )
        .action,
        Action::Relocate {
            eni_id: "eni-1".into(),
            attachment_id: "eni-attach-1".into()
        }
    );
    // Where it is is where it would go (index 4 taken by someone else): just re-tag.
    let mut at5 = eni("eni-1", attached(5, 0, true));
    at5.intent_index = Some(1);
    assert_eq!(
        decide(&d, &[at5], Some(Ok(5)), false, &m, Instant::now()).action,
        Action::TagIntent {
            eni_id: "eni-1".into(),
            index: 4,
            base: 4
        }
    );
    // No room elsewhere: keep working where it is.
    assert_eq!(
        decide(
            &d,
            std::slice::from_ref(&e),
            Some(Err(NoRoom::CardFull { limit: 3 })),
            false,
            &m,
            Instant::now()
        )
        .action,
        Action::Ready
    );
}

#[test]
fn only_a_changed_device_index_moves_a_live_interface() {
    let m = SlotMemory::default();
    let step = |d: &DesiredSlot, e: SeenEni, free: u32| {
        decide(d, &[e], Some(Ok(free)), false, &m, Instant::now()).action
    };
    let relocate = Action::Relocate {
        eni_id: "eni-1".into(),
        attachment_id: "eni-attach-1".into(),
    };
    // (what the ENI's tags say: preferred index, deviceIndex; where it is attached;
    //  the slot now: position in its zone, deviceIndex; moved?)
    type Case = (Option<u32>, Option<u32>, u32, u32, u32, bool);
    let cases: &[Case] = &[
        // Placed at 1 for deviceIndex 1; a subnet added before it in the zone makes it
        // second: it stays at 1 (the other takes the next free index).
        (Some(1), Some(1), 1, 1, 1, false),
        // The second subnet of the zone, at 2; the first was removed from the spec.
        (Some(2), Some(1), 2, 0, 1, false),
        // Adopted from the Go controller at 3 (its index over all zones' subnets): stays.
        (Some(1), Some(1), 3, 0, 1, false),
        // The user changed deviceIndex from 1 to 4: it moves.
        (Some(1), Some(1), 1, 0, 4, true),
        (Some(2), Some(1), 2, 1, 4, true),
        // Placed before the deviceIndex tag existed: the preferred index decides, as then.
        (Some(1), None, 1, 0, 1, false),
        (Some(1), None, 1, 1, 1, true),
        (None, None, 2, 1, 1, false),
    ];
    for &(intent, base, at, position, device_index, moves) in cases {
        let mut d = desired();
        d.position = position;
        d.preferred_device_index = device_index + position;
        let mut e = eni("eni-1", attached(at, 0, true));
        e.intent_index = intent;
        e.intent_base = base;
        let free = d.preferred_device_index + 10;
        let action = step(&d, e, free);
        assert_eq!(
            action == relocate,
            moves,
            "{intent:?} {base:?} at {at}, position {position}, deviceIndex {device_index}: {action:?}"
        );
        if !moves {
            let backfill = Action::TagIntent {
                eni_id: "eni-1".into(),
                index: d.preferred_device_index,
                base: device_index,
            };
            if base.is_some() {
                assert_eq!(action, Action::Ready);
            } else {
                assert_eq!(action, backfill, "the deviceIndex tag is recorded once");
            }
        }
    }
}

#[test]
fn the_check_is_set_before_the_attach() {
    let mut d = desired();
    d.source_dest_check = Some(false);
    let m = SlotMemory::default();
    let available = eni("eni-1", EniState::Available);
    let step = |placement| {
        decide(
            &d,
            std::slice::from_ref(&available),
            placement,
            false,
            &m,
            Instant::now(),
        )
        .action
    };
    assert_eq!(
        step(Some(Ok(1))),
        Action::SetSourceDestCheck {
            eni_id: "eni-1".into(),
            value: false
        }
    );
    assert_eq!(step(None), Action::Observe, "only where it can be attached");
    assert_eq!(
        step(Some(Err(NoRoom::NotThisCluster))),
        Action::Blocked(Blocker::NoRoom(NoRoom::NotThisCluster)),
        "no call for a refused node"
    );
    let mut unchecked = available;
    unchecked.source_dest_check = false;
    assert_eq!(
        decide(&d, &[unchecked], Some(Ok(1)), false, &m, Instant::now()).action,
        Action::Attach {
            eni_id: "eni-1".into(),
            device_index: 1,
            card: 0
        }
    );
}

#[test]
fn an_index_bumped_past_a_foreign_eni_is_not_moved_later() {
    // Attached at 2 because the VPC CNI had 1 when it was placed; the CNI has since let
    // 1 go. The spec did not change (intent tag 1 = preferred 1): no flap.
    let e = eni("eni-1", attached(2, 0, true));
    assert_eq!(act(&[e], Some(Ok(1))), Action::Ready);
}

#[test]
fn duplicates_are_discarded_keeping_the_attached_one() {
    let d = decide(
        &desired(),
        &[
            eni("eni-b", EniState::Available),
            eni("eni-a", attached(1, 0, true)),
        ],
        None,
        false,
        &SlotMemory::default(),
        Instant::now(),
    );
    assert_eq!(d.action, Action::Ready);
    assert_eq!(
        d.discard,
        vec![Discard {
            eni_id: "eni-b".into(),
            attachment_id: None
        }]
    );
}

#[test]
fn enis_attached_elsewhere_are_left_alone() {
    let moved = eni(
        "eni-x",
        EniState::Attached {
            attachment_id: "a".into(),
            instance_id: "i-other".into(),
            device_index: 1,
            card: 0,
            delete_on_termination: true,
        },
    );
    let d = decide(
        &desired(),
        &[moved],
        Some(Ok(1)),
        false,
        &SlotMemory::default(),
        Instant::now(),
    );
    assert_eq!(d.action, Action::Create { incarnation: 0 });
    assert!(d.discard.is_empty());
}

#[test]
fn legacy_enis_are_adopted_first() {
    let mut e = eni("eni-go", attached(1, 0, true));
    e.legacy = true;
    assert_eq!(
        act(&[e], None),
        Action::Adopt {
            eni_id: "eni-go".into()
        }
    );
}

#[test]
fn gone_instances_block_and_discard() {
    let d = decide(
        &desired(),
        &[eni("eni-1", EniState::Available)],
        None,
        true,
        &SlotMemory::default(),
        Instant::now(),
    );
    assert_eq!(d.action, Action::Blocked(Blocker::InstanceGone));
    assert_eq!(d.discard.len(), 1);
}

#[test]
fn an_invisible_known_eni_is_waited_for_then_replaced_with_a_new_token() {
    let now = Instant::now();
    let m = SlotMemory {
        incarnation: 2,
        known: Some(Known::eni("eni-1", Some(now))),
        ..SlotMemory::default()
    };
    assert_eq!(
        decide(
            &desired(),
            &[],
            None,
            false,
            &m,
            now + Duration::from_secs(5)
        )
        .action,
        Action::Wait(Waiting::Visibility)
    );
    assert_eq!(
        decide(
            &desired(),
            &[],
            Some(Ok(1)),
            false,
            &m,
            now + VISIBILITY_WINDOW
        )
        .action,
        Action::Create { incarnation: 3 }
    );
    // Just created, not yet seen missing: wait.
    let fresh = SlotMemory {
        incarnation: 0,
        known: Some(Known::eni("eni-1", None)),
        ..SlotMemory::default()
    };
    assert_eq!(
        decide(&desired(), &[], None, false, &fresh, now).action,
        Action::Wait(Waiting::Visibility)
    );
}
