use super::*;

fn cause(m: &str) -> Cause {
    Cause {
        reason: "ENICreateFailed",
        message: m.into(),
    }
}

fn hold_until(a: &Admit) -> Option<Instant> {
    match a {
        Admit::Hold { until, .. } => Some(*until),
        _ => None,
    }
}

#[test]
fn the_probe_interval_doubles_to_a_cap_and_is_spread_by_jitter() {
    for (refused, jitter, secs) in [
        (1, 1.0, 60.0),
        (1, 0.0, 30.0),
        (2, 1.0, 120.0),
        (3, 1.0, 240.0),
        (4, 1.0, 480.0),
        (5, 1.0, 600.0),
        (40, 1.0, 600.0),
        (40, 0.5, 450.0),
    ] {
        assert_eq!(
            probe_interval(refused, jitter).as_secs_f64(),
            secs,
            "{refused} {jitter}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn one_refusal_holds_everyone_but_one_probe_per_interval() {
    let t0 = Instant::now();
    let mut b = None;
    assert_eq!(admit(&mut b, "a", t0), Admit::Go);
    assert_eq!(admit(&mut b, "b", t0), Admit::Go);
    // a is refused: the breaker opens; b, answered later, was sent before and changes
    // nothing.
    answered(&mut b, "a", Outcome::Refused(cause("full")), t0, 1.0);
    answered(&mut b, "b", Outcome::Refused(cause("full")), t0, 1.0);
    let first = t0 + FIRST_PROBE;
    for who in ["a", "b", "c"] {
        assert_eq!(hold_until(&admit(&mut b, who, t0)), Some(first), "{who}");
    }
    // Once due, the first to ask probes; the others wait for its answer.
    assert_eq!(admit(&mut b, "c", first), Admit::Probe);
    assert_eq!(admit(&mut b, "c", first), Admit::Probe, "asking again");
    assert_eq!(
        hold_until(&admit(&mut b, "a", first)),
        Some(first + PROBE_LOST_AFTER)
    );
    // Refused again: the next probe comes after twice the wait, and anyone may take it.
    answered(
        &mut b,
        "c",
        Outcome::Refused(cause("still full")),
        first,
        1.0,
    );
    let second = first + FIRST_PROBE * 2;
    let open = b.as_ref().unwrap();
    assert_eq!((open.refused, open.next_probe), (2, second));
    assert_eq!(open.cause.message, "still full");
    assert_eq!(hold_until(&admit(&mut b, "c", first)), Some(second));
    assert_eq!(admit(&mut b, "a", second), Admit::Probe);
    // The probe gets through: the breaker closes and the held slots are woken.
    let woken = answered(&mut b, "a", Outcome::Passed, second, 1.0);
    assert_eq!(woken, ["b".to_string(), "c".to_string()].into());
    assert_eq!(b, None);
    assert_eq!(admit(&mut b, "b", second), Admit::Go);
}

#[tokio::test(start_paused = true)]
async fn a_lost_or_withdrawn_probe_frees_the_next() {
    let t0 = Instant::now();
    let mut b = None;
    answered(&mut b, "a", Outcome::Refused(cause("full")), t0, 1.0);
    let due = t0 + FIRST_PROBE;
    assert_eq!(admit(&mut b, "a", due), Admit::Probe);
    // Not sent after all (held at the gate, or throttled): another slot may probe.
    answered(&mut b, "a", Outcome::NotSent, due, 1.0);
    assert_eq!(admit(&mut b, "b", due), Admit::Probe);
    // b's slot stops with its probe out.
    left(&mut b, "b");
    assert_eq!(admit(&mut b, "c", due), Admit::Probe);
    // c never answers: after a while, d takes over.
    let later = due + PROBE_LOST_AFTER;
    assert!(hold_until(&admit(&mut b, "d", due)).is_some());
    assert_eq!(admit(&mut b, "d", later), Admit::Probe);
}

#[tokio::test(start_paused = true)]
async fn a_call_that_passes_while_open_closes_it() {
    let t0 = Instant::now();
    let mut b = None;
    answered(&mut b, "a", Outcome::Refused(cause("full")), t0, 1.0);
    assert!(hold_until(&admit(&mut b, "b", t0)).is_some());
    // A call sent before the breaker opened succeeds: whatever refused is gone.
    let woken = answered(&mut b, "c", Outcome::Passed, t0, 1.0);
    assert_eq!(woken, ["a".to_string(), "b".to_string()].into());
    assert_eq!(b, None);
}
