//! Table tests of what a slot knows.

use super::*;
use crate::plan::fixtures::{eni_in, wall};

#[test]
fn a_retried_create_repeats_its_creation_tag_and_a_new_incarnation_gets_a_new_one() {
    let mut v = SlotView::default();
    let t0 = wall() + jiff::SignedDuration::from_secs(17);
    let first = v.stamp_for(&Action::Create { incarnation: 0 }, t0).unwrap();
    assert_eq!(first.as_second() % 60, 0, "to the minute");
    let later = t0 + jiff::SignedDuration::from_secs(300);
    assert_eq!(
        v.stamp_for(&Action::Create { incarnation: 0 }, later),
        Some(first)
    );
    assert_ne!(
        v.stamp_for(&Action::Create { incarnation: 1 }, later),
        Some(first)
    );
    assert_eq!(v.stamp_for(&Action::Observe, later), None);
}

#[test]
fn the_primary_eni_is_the_one_on_the_instance_else_an_unattached_one() {
    let on = |id: &str, instance: &str| {
        eni_in(
            id,
            EniState::Attached {
                attachment_id: format!("att-{id}"),
                instance_id: instance.into(),
                device_index: 1,
                card: 0,
                delete_on_termination: true,
            },
        )
    };
    let free = eni_in("eni-free", EniState::Available);
    let cases = [
        (vec![free.clone(), on("eni-on", "i-1")], Some("eni-on")),
        (
            vec![on("eni-elsewhere", "i-2"), free.clone()],
            Some("eni-free"),
        ),
        (vec![on("eni-elsewhere", "i-2")], None),
        (vec![], None),
    ];
    for (seen, want) in cases {
        let v = SlotView::new(Some(seen), SlotMemory::default());
        assert_eq!(v.primary("i-1").map(|e| e.id.as_str()), want);
    }
}

#[test]
fn eni_age_is_judged_by_its_creation_tag() {
    let mut e = eni_in("eni-1", EniState::Available);
    assert!(!created_long_ago(&e, wall()), "untagged: not old");
    e.created_at = Some(wall() - jiff::SignedDuration::from_secs(60));
    assert!(!created_long_ago(&e, wall()));
    e.created_at = Some(wall() - jiff::SignedDuration::from_secs(3600));
    assert!(created_long_ago(&e, wall()));
}

#[test]
fn an_eni_with_no_room_is_given_up_after_the_grace_period() {
    use crate::plan::device_index::NoRoom;
    use crate::plan::fixtures::desired;
    let t0 = Instant::now();
    let mut v = SlotView::new(
        Some(vec![eni_in("eni-1", EniState::Available)]),
        SlotMemory::default(),
    );
    v.placement = Some(Err(NoRoom::CardFull { limit: 3 }));
    let (d, given_up) = v.next(&desired(), t0);
    assert!(matches!(d.action, Action::Blocked(Blocker::NoRoom(_))));
    assert_eq!((d.discard.len(), given_up), (0, None), "kept at first");
    // A blocked slot looks at its instance again now and then: the clock runs on.
    v.placement = None;
    assert_eq!(
        v.next(&desired(), t0 + UNATTACHABLE_GRACE / 4).0.action,
        Action::Observe
    );
    v.placement = Some(Err(NoRoom::CardFull { limit: 3 }));
    let (d, given_up) = v.next(&desired(), t0 + UNATTACHABLE_GRACE / 2);
    assert_eq!((d.discard.len(), given_up), (0, None));
    let (d, given_up) = v.next(&desired(), t0 + UNATTACHABLE_GRACE);
    assert_eq!(d.discard.len(), 1);
    assert_eq!(given_up.as_deref(), Some("eni-1"));
    // Room again: the attach is tried, the clock keeps running (EC2 may refuse it, as
    // when the type's limits were not known), and stops once the ENI is attached.
    let mut v = SlotView::new(
        Some(vec![eni_in("eni-1", EniState::Available)]),
        SlotMemory::default(),
    );
    v.placement = Some(Err(NoRoom::CardFull { limit: 3 }));
    v.next(&desired(), t0);
    v.placement = Some(Ok(1));
    assert!(matches!(
        v.next(&desired(), t0).0.action,
        Action::Attach { .. }
    ));
    assert!(v.unattachable.is_some());
    v.seen = vec![eni_in(
        "eni-1",
        EniState::Attached {
            attachment_id: "a".into(),
            instance_id: "i-1".into(),
            device_index: 1,
            card: 0,
            delete_on_termination: true,
        },
    )];
    v.next(&desired(), t0);
    assert_eq!(v.unattachable, None);
}

#[test]
fn an_eni_ec2_keeps_refusing_to_attach_is_given_up_on_too() {
    use crate::plan::device_index::NoRoom;
    use crate::plan::fixtures::desired;
    let t0 = Instant::now();
    let mut v = SlotView::new(
        Some(vec![eni_in("eni-1", EniState::Available)]),
        SlotMemory::default(),
    );
    // Limits unknown: each minute the slot looks, tries to attach, and EC2 refuses.
    let mut given_up = None;
    for minute in 0..=10u32 {
        let at = t0 + std::time::Duration::from_secs(60) * minute;
        v.placement = None;
        assert_eq!(v.next(&desired(), at).0.action, Action::Observe);
        v.placement = Some(Ok(1));
        assert!(matches!(
            v.next(&desired(), at).0.action,
            Action::Attach { .. }
        ));
        v.placement = Some(Err(NoRoom::RefusedByEc2));
        given_up = v.next(&desired(), at).1;
        if given_up.is_some() {
            assert_eq!(at, t0 + UNATTACHABLE_GRACE, "given up at the grace period");
            break;
        }
    }
    assert_eq!(given_up.as_deref(), Some("eni-1"));
}
