use super::*;

const S: Duration = Duration::from_secs(1);

fn timing() -> Timing {
    Timing {
        renew_period: 3 * S,
        retry_period: 2 * S,
    }
}

fn seen(holder: Option<&str>, changed_at: Instant) -> Seen {
    Seen {
        record: Some(Record {
            holder: holder.map(Into::into),
            lease_duration: 15 * S,
            version: "1".into(),
        }),
        changed_at: Some(changed_at),
    }
}

#[tokio::test(start_paused = true)]
async fn the_holder_renews_through_failed_renewals_until_its_fence_closes() {
    let t0 = Instant::now();
    let me = seen(Some("me"), t0);
    let fence = Some(t0 + 10 * S);
    let cases = [
        // (now, last successful write) → step
        (t0, Some(t0), Step::WaitUntil(t0 + 3 * S)),
        (t0 + 3 * S, Some(t0), Step::Renew),
        // Renewals failed at 3 s and 6 s: still leading, still renewing.
        (t0 + 7 * S, Some(t0), Step::Renew),
        (t0 + 9 * S, Some(t0), Step::Renew),
        (t0 + 10 * S, Some(t0), Step::StepDown),
    ];
    for (now, last, want) in cases {
        assert_eq!(
            decide(&me, "me", true, fence, last, now, timing()),
            want,
            "{now:?}"
        );
    }
    // The record says someone else holds it: step down at once.
    let other = seen(Some("other"), t0);
    assert_eq!(
        decide(&other, "me", true, fence, Some(t0), t0, timing()),
        Step::StepDown
    );
    let none = Seen::default();
    assert_eq!(
        decide(&none, "me", true, fence, Some(t0), t0, timing()),
        Step::StepDown
    );
}

#[tokio::test(start_paused = true)]
async fn a_standby_takes_over_only_after_a_lease_duration_without_change_on_its_own_clock() {
    let t0 = Instant::now();
    // Whatever the holder's renewTime says (its clock may be years off), only when the
    // record last changed here counts.
    let other = seen(Some("other"), t0);
    assert_eq!(
        decide(&other, "me", false, None, None, t0, timing()),
        Step::WaitUntil(t0 + 2 * S)
    );
    assert_eq!(
        decide(&other, "me", false, None, None, t0 + 14 * S, timing()),
        Step::WaitUntil(t0 + 15 * S)
    );
    assert_eq!(
        decide(&other, "me", false, None, None, t0 + 15 * S, timing()),
        Step::Acquire
    );
    // A change restarts the count.
    let mut s = other.clone();
    s.observe(
        Some(Record {
            holder: Some("other".into()),
            lease_duration: 15 * S,
            version: "2".into(),
        }),
        t0 + 14 * S,
    );
    assert_eq!(s.changed_at, Some(t0 + 14 * S));
    assert_eq!(
        decide(&s, "me", false, None, None, t0 + 15 * S, timing()),
        Step::WaitUntil(t0 + 17 * S)
    );
    // The same version again is no change.
    let before = s.changed_at;
    let record = s.record.clone();
    s.observe(record, t0 + 20 * S);
    assert_eq!(s.changed_at, before);
    // Released, or still ours from before a step-down: take it (conditioned); none: make it.
    assert_eq!(
        decide(&seen(None, t0), "me", false, None, None, t0, timing()),
        Step::Acquire
    );
    assert_eq!(
        decide(&seen(Some(""), t0), "me", false, None, None, t0, timing()),
        Step::Acquire
    );
    assert_eq!(
        decide(&seen(Some("me"), t0), "me", false, None, None, t0, timing()),
        Step::Acquire
    );
    assert_eq!(
        decide(&Seen::default(), "me", false, None, None, t0, timing()),
        Step::Create
    );
}
