//! Table tests of what the answers to Create, Adopt and Attach do to a slot.

use std::time::Duration;

use tokio::time::Instant;

use super::{E, eni, refused, view_with};
use crate::plan::device_index::NoRoom;
use crate::plan::fixtures::{desired, wall};
use crate::plan::lifecycle::{Action, EniState, Known, VISIBILITY_WINDOW, Waiting};
use crate::plan::outcome::{Answer, Applied, Next, SlotEvent};
use crate::plan::refusal::Refused;
use crate::plan::slot_view::{InstanceSeen, SlotView};

fn attach() -> Action {
    Action::Attach {
        eni_id: "eni-1".into(),
        device_index: 1,
        card: 0,
    }
}

#[test]
fn attach_answers() {
    let now = Instant::now();
    struct Case {
        answer: Answer<E>,
        next: Next,
        check: fn(&SlotView),
    }
    let cases = [
        Case {
            answer: Answer::Attached {
                attachment_id: "att-1".into(),
            },
            next: Next::Poll,
            check: |v| {
                assert!(matches!(
                    &v.seen[0].state,
                    EniState::Attaching { attachment_id, device_index: 1, .. } if attachment_id == "att-1"
                ))
            },
        },
        Case {
            answer: refused(Refused::DeviceIndexInUse),
            next: Next::Retry,
            check: |v| assert_eq!(v.placement, None, "placed again"),
        },
        Case {
            answer: refused(Refused::AttachmentLimit),
            next: Next::Continue,
            check: |v| assert_eq!(v.placement, Some(Err(NoRoom::RefusedByEc2))),
        },
        Case {
            answer: refused(Refused::InstanceGone),
            next: Next::Retry,
            check: |v| {
                assert!(matches!(v.instance, InstanceSeen::Missing { .. }));
                assert!(!v.instance_gone(Instant::now()), "not gone at once");
            },
        },
        Case {
            answer: refused(Refused::NotFound),
            next: Next::Continue,
            check: |v| {
                assert!(v.seen.is_empty());
                assert!(v.memory.known.as_ref().unwrap().missing_since.is_some());
            },
        },
        Case {
            answer: refused(Refused::Conflict),
            next: Next::Retry,
            check: |v| assert!(!v.observed, "read again before the next step"),
        },
        Case {
            answer: refused(Refused::Transient),
            next: Next::RetrySoon,
            check: |v| assert_eq!(v.seen.len(), 1),
        },
        Case {
            answer: refused(Refused::Throttled),
            next: Next::Retry,
            check: |v| assert_eq!(v.seen.len(), 1),
        },
    ];
    for case in cases {
        let mut v = view_with(vec![eni("eni-1")]);
        v.placement = Some(Ok(1));
        v.memory.known = Some(Known::eni("eni-1", None));
        let applied = v.apply(&desired(), &attach(), case.answer.clone(), now, wall());
        assert_eq!(applied.next, case.next, "{:?}", case.answer);
        assert_eq!(applied.event, None);
        (case.check)(&v);
    }
    // A permanent failure blocks the slot and says why.
    let mut v = view_with(vec![eni("eni-1")]);
    let applied = v.apply(
        &desired(),
        &attach(),
        refused(Refused::Permanent),
        now,
        wall(),
    );
    assert_eq!(
        applied,
        Applied {
            next: Next::Blocked,
            event: Some(SlotEvent::Blocked {
                reason: "ENIAttachFailed",
                action: "Attach",
                error: "boom"
            })
        }
    );
}

#[test]
fn an_old_eni_that_vanished_on_attach_is_not_waited_for() {
    let now = Instant::now() + Duration::from_secs(3600);
    let mut old = eni("eni-1");
    old.created_at = Some(wall() - jiff::SignedDuration::from_secs(3600));
    let mut v = view_with(vec![old]);
    v.memory.known = Some(Known::eni("eni-1", None));
    v.apply(
        &desired(),
        &attach(),
        refused(Refused::NotFound),
        now,
        wall(),
    );
    let since = v.memory.known.as_ref().unwrap().missing_since.unwrap();
    assert!(now.duration_since(since) >= VISIBILITY_WINDOW);
    assert_eq!(
        v.decide(&desired(), now).action,
        Action::Observe,
        "replaced, not waited for"
    );
}

#[test]
fn create_answers() {
    let now = Instant::now();
    let create = Action::Create { incarnation: 2 };

    let mut v = view_with(vec![]);
    let applied = v.apply(
        &desired(),
        &create,
        Answer::<E>::Created {
            eni: Box::new(eni("eni-9")),
            long_gone: false,
        },
        now,
        wall(),
    );
    assert_eq!(applied.next, Next::Continue);
    assert_eq!(applied.event, Some(SlotEvent::Created("eni-9".into())));
    assert_eq!(v.memory.incarnation, 2);
    assert_eq!(v.memory.known, Some(Known::eni("eni-9", None)));
    assert_eq!(v.seen.len(), 1);

    // A token that named an ENI deleted long ago: on to a fresh incarnation.
    let mut v = view_with(vec![]);
    let applied = v.apply(
        &desired(),
        &create,
        Answer::<E>::Created {
            eni: Box::new(eni("eni-old")),
            long_gone: true,
        },
        now,
        wall(),
    );
    assert_eq!((applied.next, applied.event), (Next::Continue, None));
    assert_eq!((v.memory.incarnation, v.memory.known.clone()), (3, None));
    assert!(v.seen.is_empty());

    // A token reused with other parameters: its ENI is looked for by tags for a while.
    let mut v = view_with(vec![]);
    let applied = v.apply(
        &desired(),
        &create,
        refused(Refused::TokenReused),
        now,
        wall(),
    );
    assert_eq!(applied.next, Next::Poll);
    assert_eq!(
        v.memory.known,
        Some(Known {
            eni_id: None,
            missing_since: Some(now)
        })
    );
    assert_eq!(
        v.decide(&desired(), now).action,
        Action::Wait(Waiting::Visibility)
    );
    assert_eq!(
        v.decide(&desired(), now + VISIBILITY_WINDOW).action,
        Action::Observe,
        "then a fresh incarnation, once placed"
    );
}

#[test]
fn adoption_makes_a_go_eni_ours_at_the_current_incarnation() {
    let mut go = eni("eni-go");
    go.legacy = true;
    go.incarnation = None;
    go.intent_index = None;
    let mut v = view_with(vec![go]);
    v.memory.incarnation = 4;
    let adopt = Action::Adopt {
        eni_id: "eni-go".into(),
    };
    let applied = v.apply(
        &desired(),
        &adopt,
        Answer::<E>::Done,
        Instant::now(),
        wall(),
    );
    assert_eq!(applied.event, Some(SlotEvent::Adopted("eni-go".into())));
    let e = &v.seen[0];
    assert!(!e.legacy);
    assert_eq!(
        (e.incarnation, e.intent_index, e.intent_base),
        (Some(4), Some(1), Some(1))
    );
    assert_eq!(v.memory.known, Some(Known::eni("eni-go", None)));

    let mut v = view_with(vec![eni("eni-go")]);
    let applied = v.apply(
        &desired(),
        &adopt,
        refused(Refused::NotFound),
        Instant::now(),
        wall(),
    );
    assert_eq!(applied.next, Next::Continue);
    assert!(v.seen.is_empty());
}
