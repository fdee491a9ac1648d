//! The EC2 rate-limiter actor: every EC2 call waits here for a token of its action's
//! bucket.
//!
//! One bucket per EC2 action, defaulting to AWS's published buckets, minus a small
//! reserve so that jitter in when calls reach EC2 never empties EC2's own bucket. Waiting
//! callers are served teardown first, then rollout work, then background sweeps. A
//! throttled answer doubles the price of that action's calls (halving its rate, down to
//! an eighth); the price then decays back by a fifth every five throttle-free seconds.
//! The bucket arithmetic is `governor`'s (see [`crate::clock`]).

use std::collections::VecDeque;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::time::Instant;

use crate::aws::{BucketSpec, Ec2Action};
use crate::clock::{TokenBucket, TokioClock};

mod ec2;
mod msg;

pub use ec2::LimitedEc2;
pub use msg::{LimiterArgs, LimiterHandle, LimiterMsg, LimiterStrategy, Priority};

const CELLS_PER_TOKEN: u32 = 100;
const MAX_PRICE: f64 = 8.0;
const DECAY_EVERY: Duration = Duration::from_secs(5);
const DECAY_FACTOR: f64 = 0.8;

struct Lane {
    action: Ec2Action,
    spec: BucketSpec,
    bucket: TokenBucket,
    price: f64,
    last_throttle: Option<Instant>,
    last_decay: Instant,
    queues: [VecDeque<(RpcReplyPort<()>, Instant)>; 3],
    wake_scheduled: bool,
}

impl Lane {
    fn cells(&self) -> u32 {
        (f64::from(CELLS_PER_TOKEN) * self.price).round() as u32
    }

    fn decay(&mut self, now: Instant) {
        while self.price > 1.0
            && now.duration_since(self.last_decay) >= DECAY_EVERY
            && self
                .last_throttle
                .is_none_or(|t| now.duration_since(t) >= DECAY_EVERY)
        {
            self.price = (self.price * DECAY_FACTOR).max(1.0);
            self.last_decay += DECAY_EVERY;
            self.publish_rate();
        }
        if self.price <= 1.0 {
            self.last_decay = now;
        }
    }

    fn publish_rate(&self) {
        metrics::gauge!(crate::telemetry::metric::EC2_RATE_LIMIT_PER_SECOND, "action" => self.action.as_str())
            .set(self.spec.refill_per_second / self.price);
    }

    fn waiting(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }
}

/// The limiter actor.
pub struct Limiter;

/// Its state: one lane per action (one shared lane for a global bucket, none when
/// unlimited).
pub struct LimiterState {
    lanes: Vec<Lane>,
    shared: bool,
    adaptive: bool,
}

impl LimiterState {
    fn lane(&mut self, action: Ec2Action) -> Option<&mut Lane> {
        if self.shared {
            return self.lanes.first_mut();
        }
        self.lanes.iter_mut().find(|l| l.action == action)
    }
}

fn lane(action: Ec2Action, spec: BucketSpec, clock: TokioClock) -> Lane {
    let lane = Lane {
        action,
        spec,
        bucket: TokenBucket::with_cells(spec, CELLS_PER_TOKEN, clock),
        price: 1.0,
        last_throttle: None,
        last_decay: Instant::now(),
        queues: Default::default(),
        wake_scheduled: false,
    };
    lane.publish_rate();
    lane
}

fn grant(lane: &mut Lane, myself: &ActorRef<LimiterMsg>) {
    let now = Instant::now();
    lane.decay(now);
    while let Some(q) = lane.queues.iter_mut().find(|q| !q.is_empty()) {
        // Callers that gave up (their task ended) are skipped without a token.
        if q.front().is_some_and(|(r, _)| r.is_closed()) {
            q.pop_front();
            continue;
        }
        let cells = (f64::from(CELLS_PER_TOKEN) * lane.price).round() as u32;
        match lane.bucket.try_take_cells(cells) {
            Ok(()) => {
                if let Some((reply, since)) = q.pop_front() {
                    metrics::histogram!(crate::telemetry::metric::EC2_TOKEN_WAIT_SECONDS, "action" => lane.action.as_str())
                        .record(now.duration_since(since).as_secs_f64());
                    let _ = reply.send(());
                }
            }
            Err(wait) => {
                if !lane.wake_scheduled {
                    lane.wake_scheduled = true;
                    let action = lane.action;
                    myself.send_after(wait.max(Duration::from_millis(1)), move || {
                        LimiterMsg::Wake(action)
                    });
                }
                break;
            }
        }
    }
    metrics::gauge!(crate::telemetry::metric::EC2_TOKEN_WAITERS, "action" => lane.action.as_str())
        .set(lane.waiting() as f64);
}

impl Actor for Limiter {
    type Msg = LimiterMsg;
    type State = LimiterState;
    type Arguments = LimiterArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<LimiterMsg>,
        args: LimiterArgs,
    ) -> Result<LimiterState, ActorProcessingErr> {
        let clock = TokioClock::new();
        let reserve = args.reserve.clamp(0.0, 0.5);
        let lanes = match args.strategy {
            LimiterStrategy::PerAction => Ec2Action::ALL
                .into_iter()
                .map(|action| {
                    let aws = args.buckets.get(action);
                    let capacity =
                        ((f64::from(aws.capacity) * (1.0 - reserve)).floor() as u32).max(1);
                    lane(
                        action,
                        BucketSpec::new(capacity, aws.refill_per_second),
                        clock,
                    )
                })
                .collect(),
            LimiterStrategy::Global { qps, burst } => {
                vec![lane(
                    Ec2Action::DescribeNetworkInterfaces,
                    BucketSpec::new(burst.max(1), qps.max(1e-3)),
                    clock,
                )]
            }
            LimiterStrategy::Unlimited => Vec::new(),
        };
        let shared = matches!(args.strategy, LimiterStrategy::Global { .. });
        let adaptive = args.strategy == LimiterStrategy::PerAction;
        Ok(LimiterState {
            lanes,
            shared,
            adaptive,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<LimiterMsg>,
        msg: LimiterMsg,
        state: &mut LimiterState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            LimiterMsg::Acquire {
                action,
                priority,
                reply,
            } => {
                let Some(lane) = state.lane(action) else {
                    let _ = reply.send(());
                    return Ok(());
                };
                lane.decay(Instant::now());
                if lane.waiting() == 0 && lane.bucket.try_take_cells(lane.cells()).is_ok() {
                    metrics::histogram!(crate::telemetry::metric::EC2_TOKEN_WAIT_SECONDS, "action" => action.as_str()).record(0.0);
                    let _ = reply.send(());
                    return Ok(());
                }
                lane.queues[priority as usize].push_back((reply, Instant::now()));
                grant(lane, &myself);
            }
            LimiterMsg::Wake(action) => {
                if let Some(lane) = state.lanes.iter_mut().find(|l| l.action == action) {
                    lane.wake_scheduled = false;
                    grant(lane, &myself);
                }
            }
            LimiterMsg::Outcome { action, throttled } => {
                if throttled {
                    metrics::counter!(crate::telemetry::metric::EC2_THROTTLES_TOTAL, "action" => action.as_str()).increment(1);
                }
                if throttled
                    && state.adaptive
                    && let Some(lane) = state.lane(action)
                {
                    let now = Instant::now();
                    lane.price = (lane.price * 2.0).min(MAX_PRICE);
                    lane.last_throttle = Some(now);
                    lane.last_decay = now;
                    lane.publish_rate();
                    tracing::warn!(%action, rate = lane.spec.refill_per_second / lane.price, "EC2 throttled; slowing this action down");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
