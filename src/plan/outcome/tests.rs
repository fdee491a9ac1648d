//! Table tests of what each answer does to a slot; those of the answers to Create, Adopt
//! and Attach are in `acquisition`.

use super::*;
use crate::plan::device_index::{CardLimit, NoRoom};
use crate::plan::fixtures::{desired, eni_in, wall};
use crate::plan::lifecycle::{Known, SeenEni, SlotMemory, Waiting};
use crate::plan::slot_view::{INSTANCE_GRACE, InstanceFacts, InstanceSeen};

mod acquisition;

type E = &'static str;

fn eni(id: &str) -> SeenEni {
    eni_in(id, EniState::Available)
}

fn refused(class: Refused) -> Answer<E> {
    Answer::Refused(Refusal::new(class, "boom"))
}

fn view_with(seen: Vec<SeenEni>) -> SlotView {
    SlotView::new(Some(seen), SlotMemory::default())
}

#[test]
fn modifications_update_what_the_slot_saw() {
    let now = Instant::now();
    let mut attached = eni("eni-1");
    attached.state = EniState::Attached {
        attachment_id: "att-1".into(),
        instance_id: "i-1".into(),
        device_index: 1,
        card: 0,
        delete_on_termination: false,
    };
    let dot = Action::SetDeleteOnTermination {
        eni_id: "eni-1".into(),
        attachment_id: "att-1".into(),
        value: true,
    };
    let mut v = view_with(vec![attached.clone()]);
    assert_eq!(
        v.apply(&desired(), &dot, Answer::<E>::Done, now, wall())
            .next,
        Next::Continue
    );
    assert!(matches!(
        v.seen[0].state,
        EniState::Attached {
            delete_on_termination: true,
            ..
        }
    ));
    let applied = v.apply(&desired(), &dot, refused(Refused::NotFound), now, wall());
    assert_eq!((applied.next, v.observed), (Next::Retry, false));

    let groups = Action::ModifyGroups {
        eni_id: "eni-1".into(),
        groups: vec!["sg-2".into(), "sg-0".into()],
    };
    let mut v = view_with(vec![attached.clone()]);
    let applied = v.apply(&desired(), &groups, Answer::<E>::Done, now, wall());
    assert!(matches!(applied.event, Some(SlotEvent::GroupsChanged(..))));
    assert_eq!(v.seen[0].security_groups, vec!["sg-0", "sg-2"]);

    let relocate = Action::Relocate {
        eni_id: "eni-1".into(),
        attachment_id: "att-1".into(),
    };
    let mut v = view_with(vec![attached.clone()]);
    v.placement = Some(Ok(4));
    let applied = v.apply(&desired(), &relocate, Answer::<E>::Done, now, wall());
    assert_eq!(applied.next, Next::Poll);
    assert_eq!(applied.event, Some(SlotEvent::Moving("eni-1".into())));
    assert!(matches!(v.seen[0].state, EniState::Detaching { .. }));
    assert_eq!(v.placement, None);
    let mut v = view_with(vec![attached.clone()]);
    let applied = v.apply(
        &desired(),
        &relocate,
        refused(Refused::NotFound),
        now,
        wall(),
    );
    assert_eq!((applied.next, v.observed), (Next::Continue, false));

    let tag = Action::TagIntent {
        eni_id: "eni-1".into(),
        index: 3,
        base: 2,
    };
    let mut v = view_with(vec![attached]);
    v.apply(&desired(), &tag, Answer::<E>::Done, now, wall());
    assert_eq!(
        (v.seen[0].intent_index, v.seen[0].intent_base),
        (Some(3), Some(2))
    );
}

#[test]
fn observing_places_the_slot_around_what_others_hold() {
    let now = Instant::now();
    let facts = |gone, limit| {
        Answer::<E>::Instance(Some(InstanceFacts {
            gone,
            interfaces: vec![
                (0, 0, "eni-primary".into()),
                (0, 1, "eni-cni".into()),
                (0, 2, "eni-1".into()),
                (1, 3, "eni-other-card".into()),
            ],
            limit,
            zone: "us-east-1a".into(),
            vpc: "vpc-1".into(),
            in_cluster: true,
            interface: Default::default(),
        }))
    };
    let trust = |vpc: &str, in_cluster| {
        Answer::<E>::Instance(Some(InstanceFacts {
            gone: false,
            interfaces: vec![],
            limit: CardLimit::Max(4),
            zone: "us-east-1a".into(),
            vpc: vpc.into(),
            in_cluster,
            interface: Default::default(),
        }))
    };
    let cases = [
        (facts(false, CardLimit::Max(4)), Some(Ok(2)), false),
        (
            facts(false, CardLimit::Max(2)),
            Some(Err(NoRoom::CardFull { limit: 2 })),
            false,
        ),
        (
            facts(false, CardLimit::NoSuchCard),
            Some(Err(NoRoom::NoSuchCard)),
            false,
        ),
        (facts(true, CardLimit::Max(4)), None, true),
        (
            Answer::Instance(Some(InstanceFacts {
                gone: false,
                interfaces: vec![],
                limit: CardLimit::Max(4),
                zone: "us-east-1b".into(),
                vpc: "vpc-1".into(),
                in_cluster: true,
                interface: Default::default(),
            })),
            Some(Err(NoRoom::OtherZone)),
            false,
        ),
        // Another VPC's or another cluster's instance gets nothing, room or not.
        (trust("vpc-2", true), Some(Err(NoRoom::OtherVpc)), false),
        (trust("vpc-2", false), Some(Err(NoRoom::OtherVpc)), false),
        (
            trust("vpc-1", false),
            Some(Err(NoRoom::NotThisCluster)),
            false,
        ),
    ];
    for (answer, placement, gone) in cases {
        // The slot's own ENI (at 2) does not count as taken.
        let mut v = view_with(vec![eni("eni-1")]);
        let applied = v.apply(&desired(), &Action::Observe, answer.clone(), now, wall());
        assert_eq!(applied.next, Next::Continue);
        assert_eq!(
            (v.placement, v.instance_gone(now)),
            (placement, gone),
            "{answer:?}"
        );
    }
}

#[test]
fn an_instance_ec2_does_not_know_is_looked_at_again_before_it_counts_as_gone() {
    let t0 = Instant::now();
    let mut v = view_with(vec![eni("eni-1")]);
    let observe = Action::Observe;
    let missing = || Answer::<E>::Instance(None);
    // Right after a launch EC2 may not know the instance yet: retried, ENIs kept.
    let applied = v.apply(&desired(), &observe, missing(), t0, wall());
    assert_eq!(applied.next, Next::Retry);
    assert!(!v.instance_gone(t0));
    assert_eq!(v.decide(&desired(), t0).discard, vec![]);
    // Still unknown past the grace period: gone, its ENIs discarded.
    let late = t0 + INSTANCE_GRACE;
    let applied = v.apply(&desired(), &observe, missing(), late, wall());
    assert_eq!(applied.next, Next::Continue);
    let d = v.decide(&desired(), late);
    assert_eq!(d.action, Action::Blocked(Blocker::InstanceGone));
    assert_eq!(d.discard.len(), 1);
    // A blocked slot looks again later: an instance that is back is used.
    v.apply(&desired(), &d.action, Answer::<E>::Done, late, wall());
    assert_eq!(v.instance, InstanceSeen::Unknown);
    assert_eq!(v.decide(&desired(), late).action, Action::Observe);
    let mut v = view_with(vec![]);
    let applied = v.apply(
        &desired(),
        &Action::Observe,
        refused(Refused::Transient),
        t0,
        wall(),
    );
    assert_eq!(applied.next, Next::RetrySoon);
    let applied = v.apply(
        &desired(),
        &Action::Observe,
        refused(Refused::Throttled),
        t0,
        wall(),
    );
    assert_eq!(applied.next, Next::Retry);
}

#[test]
fn rereads_find_keep_and_lose_enis() {
    let now = Instant::now();
    let wait = Action::Wait(Waiting::Attaching);
    let mut v = view_with(vec![]);
    let applied = v.apply(
        &desired(),
        &wait,
        Answer::<E>::Refreshed(Refreshed::ByTags(vec![eni("eni-1")])),
        now,
        wall(),
    );
    assert_eq!(applied.next, Next::Continue, "something changed");
    assert_eq!(v.memory.known, Some(Known::eni("eni-1", None)));
    assert_eq!(v.ids_to_read(), vec!["eni-1"]);
    let same = Answer::<E>::Refreshed(Refreshed::ById {
        found: vec![eni("eni-1")],
        missing: vec![],
    });
    assert_eq!(
        v.apply(&desired(), &wait, same, now, wall()).next,
        Next::Poll
    );
    let gone = Answer::<E>::Refreshed(Refreshed::ById {
        found: vec![],
        missing: vec!["eni-1".into()],
    });
    v.apply(&desired(), &wait, gone, now, wall());
    assert!(v.seen.is_empty());
    assert_eq!(v.memory.known, Some(Known::eni("eni-1", Some(now))));
    assert_eq!(v.ids_to_read(), vec!["eni-1"], "still looked for by ID");
    v.discard("eni-1");
    assert_eq!(v.memory.known, None);
    assert!(v.ids_to_read().is_empty());
}

#[test]
fn blocked_slots_wait_long_and_place_again() {
    let mut v = view_with(vec![]);
    v.placement = Some(Err(NoRoom::CardFull { limit: 3 }));
    let a = Action::Blocked(Blocker::NoRoom(NoRoom::CardFull { limit: 3 }));
    let applied: Applied<E> = v.apply(&desired(), &a, Answer::<E>::Done, Instant::now(), wall());
    assert_eq!((applied.next, v.placement), (Next::Blocked, None));
}
