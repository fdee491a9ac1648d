//! Table tests of the slot state machine, including the crash-resume cases: whatever
//! point a previous controller died at, the next decision continues from what EC2 shows.
//! Those of when a live interface is relocated are in `relocation`.

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::plan::fixtures::{desired, eni_in};

mod relocation;

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
