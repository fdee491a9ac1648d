//! The pace against a model of EC2's bucket (a token bucket that starts full, shared
//! with another client), calls answered at once, time stepped by hand.

use super::*;

/// EC2's bucket for one action, and another client spending from it.
struct Ec2Bucket {
    capacity: f64,
    refill: f64,
    tokens: f64,
    /// Tokens per second the other client takes.
    other: f64,
    other_owed: f64,
}

impl Ec2Bucket {
    fn new(capacity: f64, refill: f64, other: f64) -> Self {
        Ec2Bucket {
            capacity,
            refill,
            tokens: capacity,
            other,
            other_owed: 0.0,
        }
    }

    fn tick(&mut self, dt: f64) {
        self.tokens = (self.tokens + self.refill * dt).min(self.capacity);
        self.other_owed += self.other * dt;
        while self.other_owed >= 1.0 && self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.other_owed -= 1.0;
        }
    }

    fn call(&mut self) -> bool {
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Run {
    granted: u32,
    throttled: u32,
    seconds: f64,
}

/// Asks for `calls` calls as fast as the pace allows, answering each at once (every
/// `throttle_every`-th call is throttled whatever the bucket holds, when set).
fn run(pace: &mut Pace, ec2: &mut Ec2Bucket, calls: u32, throttle_every: Option<u32>) -> Run {
    let start = Instant::now();
    let mut now = start;
    let step = Duration::from_millis(10);
    let (mut granted, mut throttled, mut n) = (0, 0, 0);
    while granted < calls {
        while let Ok(grant) = pace.try_grant(now) {
            n += 1;
            let random = throttle_every.is_some_and(|k| n % k == 0);
            let ok = !random && ec2.call();
            let answer = if ok {
                granted += 1;
                Answer::Spent
            } else {
                throttled += 1;
                Answer::Throttled
            };
            let before = pace.rate();
            pace.answered(grant, now, answer, now);
            if std::env::var("PACE_DEBUG").is_ok()
                && (answer == Answer::Throttled || pace.rate() != before)
            {
                eprintln!(
                    "{:.2} {:?} {:?} rate {:.2} depth {:.0} ec2 {:.2}",
                    now.duration_since(start).as_secs_f64(),
                    grant,
                    answer,
                    pace.rate(),
                    pace.depth(),
                    ec2.tokens
                );
            }
            if granted == calls {
                break;
            }
        }
        now += step;
        ec2.tick(step.as_secs_f64());
    }
    Run {
        granted,
        throttled,
        seconds: now.duration_since(start).as_secs_f64(),
    }
}

fn untold(ceiling: f64, refill: f64) -> PaceConfig {
    PaceConfig {
        ceiling,
        refill,
        reserve: 0.1,
        told: false,
    }
}

#[test]
fn told_buckets_are_spent_at_once_and_nothing_is_probed() {
    let mut pace = Pace::new(
        PaceConfig {
            told: true,
            ..untold(90.0, 5.0)
        },
        Instant::now(),
    );
    let mut ec2 = Ec2Bucket::new(100.0, 5.0, 0.0);
    let r = run(&mut pace, &mut ec2, 90, None);
    assert_eq!((r.throttled, r.seconds < 0.05), (0, true));
    assert_eq!(pace.depth(), 90.0);
}

#[test]
fn an_untold_pace_finds_the_depth_of_a_bucket_a_tenth_of_the_assumed_one() {
    // Assumed 100 less the reserve; EC2's is 10 deep.
    let mut pace = Pace::new(untold(90.0, 5.0), Instant::now());
    let mut ec2 = Ec2Bucket::new(10.0, 5.0, 0.0);
    let r = run(&mut pace, &mut ec2, 100, None);
    assert!(
        r.throttled <= MAX_PROBES,
        "the probe costs at most its calls in flight: {}",
        r.throttled
    );
    assert!((8.0..=10.0).contains(&pace.depth()), "{}", pace.depth());
    assert_eq!(pace.rate(), 5.0, "a throttle does not lower the refill");
    // The floor: 90 calls beyond the burst at 5/s.
    assert!(r.seconds <= 18.0 * 1.1, "{} s", r.seconds);
}

#[test]
fn an_untold_pace_grows_to_the_full_assumed_burst_without_a_throttle() {
    let mut pace = Pace::new(untold(90.0, 5.0), Instant::now());
    let mut ec2 = Ec2Bucket::new(100.0, 5.0, 0.0);
    let r = run(&mut pace, &mut ec2, 200, None);
    assert_eq!(r.throttled, 0);
    assert_eq!(pace.depth(), 90.0);
    // Floor 20 s (100 beyond the 100 burst at 5/s); the reserve costs 2 s.
    assert!(r.seconds <= 22.5, "{} s", r.seconds);
}

#[test]
fn throttles_at_the_learned_pace_find_the_share_left_by_another_client() {
    // Another client spends 40% of the refill: 3 of 5 per second are left.
    let mut pace = Pace::new(untold(90.0, 5.0), Instant::now());
    let mut ec2 = Ec2Bucket::new(100.0, 5.0, 2.0);
    let r = run(&mut pace, &mut ec2, 1500, None);
    // It keeps to 90% of the share, creeps up while EC2's bucket holds what it left, and
    // falls back to 90% at the first throttle of a creep.
    assert!(
        (2.4..=3.8).contains(&pace.rate()),
        "the share: {}",
        pace.rate()
    );
    let share = f64::from(r.throttled) / f64::from(r.granted + r.throttled);
    assert!(share < 0.03, "throttled {} of {}", r.throttled, r.granted);
    // The floor: 1400 calls beyond the burst at the 3/s left.
    let floor = 1400.0 / 3.0;
    assert!(r.seconds <= 1.15 * floor, "{} s, floor {floor}", r.seconds);
}

#[test]
fn random_throttles_do_not_lower_the_rate() {
    // One call in 30 throttled whatever the bucket holds.
    let mut pace = Pace::new(untold(90.0, 5.0), Instant::now());
    let mut ec2 = Ec2Bucket::new(100.0, 5.0, 0.0);
    let _ = run(&mut pace, &mut ec2, 600, Some(30));
    assert!(pace.rate() >= 4.5, "{}", pace.rate());
}

#[test]
fn throttles_of_calls_granted_before_the_bucket_was_known_empty_are_echoes() {
    let t0 = Instant::now();
    let mut pace = Pace::new(
        PaceConfig {
            told: true,
            ..untold(10.0, 5.0)
        },
        t0,
    );
    let grants: Vec<Grant> = (0..5).map(|_| pace.try_grant(t0).unwrap()).collect();
    // All five reached an empty bucket (someone else had spent it): the first answer
    // says the bucket held at least five fewer than believed; the others are echoes.
    let later = t0 + Duration::from_millis(100);
    for g in &grants {
        pace.answered(*g, t0, Answer::Throttled, later);
    }
    assert_eq!(pace.depth(), 5.0, "one throttle's worth of learning");
    assert_eq!(pace.rate(), 5.0);
}

#[test]
fn a_lowered_rate_creeps_back_once_the_other_client_stops() {
    let mut pace = Pace::new(untold(90.0, 5.0), Instant::now());
    let mut ec2 = Ec2Bucket::new(100.0, 5.0, 2.0);
    let _ = run(&mut pace, &mut ec2, 300, None);
    let lowered = pace.rate();
    assert!(lowered < 3.5, "{lowered}");
    ec2.other = 0.0;
    let _ = run(&mut pace, &mut ec2, 1500, None);
    assert!(pace.rate() >= 4.5, "{} after {lowered}", pace.rate());
}

#[test]
fn a_grant_never_used_is_handed_back() {
    let t0 = Instant::now();
    let mut pace = Pace::new(
        PaceConfig {
            told: true,
            ..untold(3.0, 1.0)
        },
        t0,
    );
    for _ in 0..3 {
        assert_eq!(pace.try_grant(t0), Ok(Grant::Token));
    }
    assert!(pace.try_grant(t0).is_err(), "the burst is spent");
    // Two of the three calls were withdrawn before they were sent.
    pace.answered(Grant::Token, t0, Answer::Unused, t0);
    pace.answered(Grant::Token, t0, Answer::Unused, t0);
    assert_eq!(pace.try_grant(t0), Ok(Grant::Token));
    assert_eq!(pace.try_grant(t0), Ok(Grant::Token));
    assert!(pace.try_grant(t0).is_err());
    assert_eq!(pace.depth(), 3.0, "nothing learned from them");
}
