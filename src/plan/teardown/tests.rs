//! Table tests of the teardown rules.

use super::*;

type E = &'static str;
type Answered = Result<(), Refusal<E>>;

fn att(id: &str) -> Seen {
    Seen::Attached {
        attachment_id: id.into(),
    }
}

#[test]
fn inspecting_picks_the_one_call_the_eni_needs() {
    let cases: Vec<(Seen, Result<Step, StepResult<E>>)> = vec![
        (Seen::Gone, Err(StepResult::Gone)),
        (Seen::NotOwned, Err(StepResult::NotOwned)),
        (
            Seen::Detaching {
                attachment_id: Some("a".into()),
            },
            Err(StepResult::Detaching),
        ),
        (
            att("a"),
            Ok(Step::Detach {
                attachment_id: "a".into(),
                force: false,
            }),
        ),
        (Seen::Available, Ok(Step::Delete)),
    ];
    for (seen, want) in cases {
        assert_eq!(inspect::<E>(&seen), want, "{seen:?}");
    }
}

#[test]
fn call_answers_map_to_step_results() {
    let detach = Step::Detach {
        attachment_id: "a".into(),
        force: false,
    };
    let r = |class| Err(Refusal::new(class, "e"));
    let cases: Vec<(&Step, Answered, StepResult<E>)> = vec![
        (&Step::Delete, Ok(()), StepResult::Gone),
        (&Step::Delete, r(Refused::NotFound), StepResult::Gone),
        (&Step::Delete, r(Refused::Conflict), StepResult::Detaching),
        (
            &Step::Delete,
            r(Refused::Transient),
            StepResult::RetrySoon("e"),
        ),
        (&Step::Delete, r(Refused::Throttled), StepResult::Retry("e")),
        (
            &Step::Delete,
            r(Refused::Permanent),
            StepResult::Failed("e"),
        ),
        (&detach, Ok(()), StepResult::Detaching),
        (&detach, r(Refused::NotFound), StepResult::Detaching),
        (&detach, r(Refused::Conflict), StepResult::Retry("e")),
        (&detach, r(Refused::Transient), StepResult::RetrySoon("e")),
        (&detach, r(Refused::Throttled), StepResult::Retry("e")),
        (&detach, r(Refused::Permanent), StepResult::Failed("e")),
    ];
    for (step, answer, want) in cases {
        assert_eq!(
            after_call(step, answer.clone()),
            want,
            "{step:?} {answer:?}"
        );
    }
}

#[test]
fn failed_steps_back_off_doubling_to_a_cap_then_give_up() {
    let policy = TeardownPolicy::default();
    let t0 = Instant::now();
    let mut job = Job::queued(t0);
    job.stepping(t0);
    let delays: Vec<JobNext<E>> = (0..5)
        .map(|_| on_step(&mut job, StepResult::Retry("slow"), t0, &policy))
        .collect();
    assert_eq!(
        delays,
        [2, 4, 8, 10, 10].map(|s| JobNext::RetryIn(Duration::from_secs(s)))
    );
    // A transient failure is tried again soon, whatever came before.
    let mut fresh = Job::queued(t0);
    fresh.stepping(t0);
    let soon: Vec<JobNext<E>> = (0..5)
        .map(|_| on_step(&mut fresh, StepResult::RetrySoon("5xx"), t0, &policy))
        .collect();
    assert_eq!(
        soon,
        [250, 500, 1000, 2000, 2000].map(|ms| JobNext::RetryIn(Duration::from_millis(ms)))
    );
    let late = t0 + policy.give_up_after;
    assert_eq!(
        on_step(&mut job, StepResult::Retry("slow"), late, &policy),
        JobNext::Finish(Err(TeardownError::GaveUp {
            after: policy.give_up_after,
            last: Some("slow"),
        }))
    );
    // A job that waited in the queue longer than the give-up time, then failed its first
    // step, is retried; it gives up only after enough failed steps and time since its
    // first step.
    let queued_long = Job::queued(t0);
    let first = t0 + policy.give_up_after * 2;
    let mut waited = queued_long;
    waited.stepping(first);
    let mut nexts = Vec::new();
    for k in 0..MIN_ATTEMPTS {
        let at = first + policy.give_up_after * k / (MIN_ATTEMPTS - 1);
        nexts.push(on_step(
            &mut waited,
            StepResult::RetrySoon("5xx"),
            at,
            &policy,
        ));
    }
    assert!(
        nexts[..nexts.len() - 1]
            .iter()
            .all(|n| matches!(n, JobNext::RetryIn(_))),
        "{nexts:?}"
    );
    assert_eq!(
        nexts.last(),
        Some(&JobNext::Finish(Err(TeardownError::GaveUp {
            after: policy.give_up_after,
            last: Some("5xx"),
        })))
    );
    // Many failed steps in a short while are retried too.
    let mut quick = Job::queued(t0);
    quick.stepping(t0);
    for k in 0..20 {
        let next = on_step(
            &mut quick,
            StepResult::Retry("slow"),
            t0 + Duration::from_secs(k),
            &policy,
        );
        assert!(matches!(next, JobNext::RetryIn(_)), "{k}: {next:?}");
    }
    for (result, want) in [
        (StepResult::Gone, JobNext::Finish(Ok(()))),
        (
            StepResult::NotOwned,
            JobNext::Finish(Err(TeardownError::NotOwned)),
        ),
        (
            StepResult::Failed("denied"),
            JobNext::Finish(Err(TeardownError::Failed("denied"))),
        ),
        (StepResult::Detaching, JobNext::Watch),
    ] {
        assert_eq!(on_step(&mut job, result, t0, &policy), want);
    }
}

#[test]
fn a_detach_is_forced_once_after_a_while_then_given_up() {
    let policy = TeardownPolicy::default();
    let t0 = Instant::now();
    let mut w = Watch {
        since: t0,
        forced: false,
    };
    assert_eq!(on_poll::<E>(&mut w, &att("a"), t0, &policy), PollNext::Wait);
    assert_eq!(
        on_poll::<E>(&mut w, &att("a"), t0 + policy.force_after, &policy),
        PollNext::Run(Step::Detach {
            attachment_id: "a".into(),
            force: true
        })
    );
    assert!(w.forced);
    assert_eq!(
        on_poll::<E>(&mut w, &att("a"), t0 + policy.force_after, &policy),
        PollNext::Wait,
        "forced once"
    );
    let stuck = Seen::Detaching {
        attachment_id: None,
    };
    assert_eq!(
        on_poll::<E>(&mut w, &stuck, t0 + policy.give_up_after, &policy),
        PollNext::Finish(Err(TeardownError::GaveUp {
            after: policy.give_up_after,
            last: None
        }))
    );
    assert_eq!(
        on_poll::<E>(&mut w, &Seen::Available, t0, &policy),
        PollNext::Run(Step::Delete)
    );
    assert_eq!(
        on_poll::<E>(&mut w, &Seen::Gone, t0, &policy),
        PollNext::Finish(Ok(()))
    );
    assert_eq!(
        on_poll::<E>(&mut w, &Seen::NotOwned, t0, &policy),
        PollNext::Finish(Err(TeardownError::NotOwned))
    );
}

#[test]
fn error_labels_are_the_metric_outcomes() {
    for (e, label) in [
        (TeardownError::<E>::NotOwned, "refused"),
        (
            TeardownError::GaveUp {
                after: Duration::from_secs(1),
                last: Some("x"),
            },
            "failed",
        ),
        (TeardownError::Failed("x"), "failed"),
    ] {
        assert_eq!(e.label(), label);
        assert!(crate::telemetry::series::CLEANUP_OUTCOMES.contains(&e.label()));
    }
    let stuck = TeardownError::<E>::GaveUp {
        after: Duration::from_secs(600),
        last: None,
    };
    assert!(stuck.to_string().contains("still not detached"));
}
