//! Table tests of when the slot state machine relocates a live interface (detaches it to
//! attach it elsewhere): a spec change is applied in place or by moving, only a changed
//! deviceIndex moves an ENI, and an index bumped past a foreign ENI is never moved back.

use tokio::time::Instant;

use super::{act, attached, eni};
use crate::plan::device_index::NoRoom;
use crate::plan::fixtures::desired;
use crate::plan::lifecycle::{Action, SeenEni, SlotMemory, decide};
use crate::plan::slots::DesiredSlot;

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
fn an_index_bumped_past_a_foreign_eni_is_not_moved_later() {
    // Attached at 2 because the VPC CNI had 1 when it was placed; the CNI has since let
    // 1 go. The spec did not change (intent tag 1 = preferred 1): no flap.
    let e = eni("eni-1", attached(2, 0, true));
    assert_eq!(act(&[e], Some(Ok(1))), Action::Ready);
}
