//! The EC2 rate-limiter actor: every EC2 call waits here for a grant of its action's
//! pace.
//!
//! One pace per EC2 action ([`crate::plan::pacing`]): a model of the part of EC2's
//! bucket for that action that is left to this controller. It starts from AWS's
//! published buckets (or the ones `EC2_RATE_LIMITS` tells), less a reserve so that
//! jitter in when calls reach EC2 never empties EC2's own bucket; untold, it probes the
//! burst instead of trusting it, and learns the bucket's depth and this controller's
//! share of the refill from the throttles it gets. A throttle empties the model; only
//! throttles that go on at the learned pace lower the rate (someone else is spending),
//! and a throttle-free spell raises it back. Waiting callers are served teardown first,
//! then rollout work, then background sweeps. The peers' fixed global bucket uses
//! `governor`'s arithmetic (see [`crate::clock`]).

use std::collections::VecDeque;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::time::Instant;

use crate::aws::{BucketSpec, Ec2Action};
use crate::clock::{TokenBucket, TokioClock};
use crate::plan::pacing::{Answer, Grant, Pace, PaceConfig};

mod ec2;
mod msg;

pub use ec2::{Gate, LimitedEc2};
pub use msg::{LimiterArgs, LimiterHandle, LimiterMsg, LimiterStrategy, Permit, Priority};

/// How one lane decides.
enum Pacing {
    /// This project's learned pace.
    Learned(Pace),
    /// A fixed bucket (the global-bucket peer).
    Fixed(TokenBucket),
}

impl Pacing {
    fn try_grant(&mut self, now: Instant) -> Result<Grant, Duration> {
        match self {
            Pacing::Learned(p) => p.try_grant(now),
            Pacing::Fixed(b) => b.try_take().map(|()| Grant::Token),
        }
    }
}

struct Lane {
    action: Ec2Action,
    pacing: Pacing,
    queues: [VecDeque<(RpcReplyPort<Permit>, Instant)>; 3],
    wake_scheduled: bool,
}

impl Lane {
    fn publish(&self) {
        if let Pacing::Learned(p) = &self.pacing {
            let action = self.action.as_str();
            metrics::gauge!(crate::telemetry::metric::EC2_RATE_LIMIT_PER_SECOND, "action" => action)
                .set(p.rate());
            metrics::gauge!(crate::telemetry::metric::EC2_BURST_TOKENS, "action" => action)
                .set(p.depth());
        }
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
}

impl LimiterState {
    fn lane(&mut self, action: Ec2Action) -> Option<&mut Lane> {
        if self.shared {
            return self.lanes.first_mut();
        }
        self.lanes.iter_mut().find(|l| l.action == action)
    }
}

fn lane(action: Ec2Action, pacing: Pacing) -> Lane {
    let lane = Lane {
        action,
        pacing,
        queues: Default::default(),
        wake_scheduled: false,
    };
    lane.publish();
    lane
}

fn grant(lane: &mut Lane, myself: &ActorRef<LimiterMsg>) {
    let now = Instant::now();
    while let Some(q) = lane.queues.iter_mut().find(|q| !q.is_empty()) {
        // Callers that gave up (their task ended) are skipped without a grant.
        if q.front().is_some_and(|(r, _)| r.is_closed()) {
            q.pop_front();
            continue;
        }
        match lane.pacing.try_grant(now) {
            Ok(grant) => {
                if let Some((reply, since)) = q.pop_front() {
                    metrics::histogram!(crate::telemetry::metric::EC2_TOKEN_WAIT_SECONDS, "action" => lane.action.as_str())
                        .record(now.duration_since(since).as_secs_f64());
                    let _ = reply.send(Permit { grant, at: now });
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
        let now = Instant::now();
        let reserve = args.reserve.clamp(0.0, 0.5);
        let lanes = match args.strategy {
            LimiterStrategy::PerAction => Ec2Action::ALL
                .into_iter()
                .map(|action| {
                    let assumed = args.buckets.get(action);
                    let config = PaceConfig {
                        ceiling: (f64::from(assumed.capacity) * (1.0 - reserve)).floor(),
                        refill: assumed.refill_per_second,
                        reserve,
                        told: args.buckets.told(action),
                    };
                    lane(action, Pacing::Learned(Pace::new(config, now)))
                })
                .collect(),
            LimiterStrategy::Global { qps, burst } => {
                vec![lane(
                    Ec2Action::DescribeNetworkInterfaces,
                    Pacing::Fixed(TokenBucket::new(
                        BucketSpec::new(burst.max(1), qps.max(1e-3)),
                        clock,
                    )),
                )]
            }
            LimiterStrategy::Unlimited => Vec::new(),
        };
        let shared = matches!(args.strategy, LimiterStrategy::Global { .. });
        Ok(LimiterState { lanes, shared })
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
                let now = Instant::now();
                let Some(lane) = state.lane(action) else {
                    let _ = reply.send(Permit {
                        grant: Grant::Token,
                        at: now,
                    });
                    return Ok(());
                };
                if lane.waiting() == 0
                    && let Ok(grant) = lane.pacing.try_grant(now)
                {
                    metrics::histogram!(crate::telemetry::metric::EC2_TOKEN_WAIT_SECONDS, "action" => action.as_str()).record(0.0);
                    let _ = reply.send(Permit { grant, at: now });
                    return Ok(());
                }
                lane.queues[priority as usize].push_back((reply, now));
                grant(lane, &myself);
            }
            LimiterMsg::Wake(action) => {
                if let Some(lane) = state.lanes.iter_mut().find(|l| l.action == action) {
                    lane.wake_scheduled = false;
                    grant(lane, &myself);
                }
            }
            LimiterMsg::Outcome {
                action,
                permit,
                answer,
            } => {
                if answer == Answer::Throttled {
                    metrics::counter!(crate::telemetry::metric::EC2_THROTTLES_TOTAL, "action" => action.as_str()).increment(1);
                }
                if let Some(lane) = state.lane(action)
                    && let Pacing::Learned(pace) = &mut lane.pacing
                {
                    let before = (pace.rate(), pace.depth());
                    pace.answered(permit.grant, permit.at, answer, Instant::now());
                    let after = (pace.rate(), pace.depth());
                    if after != before {
                        lane.publish();
                        if after.0 < before.0 {
                            tracing::warn!(%action, rate = after.0, "EC2 throttles go on at this pace: someone else spends from the bucket; keeping to the share left");
                        } else if after.1 < before.1 {
                            tracing::info!(%action, burst = after.1, "EC2's bucket is shallower than assumed");
                        }
                    }
                    // A grant may be due now (a probe's slot freed, a burst learned).
                    grant(lane, &myself);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
