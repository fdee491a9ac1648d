//! Fault injection for the EC2 simulator: random failures at given rates, and scripted
//! ones ("the 7th mutating call times out after EC2 applied it").

use std::collections::HashMap;

use rand::Rng;
use rand::rngs::SmallRng;

use crate::aws::Ec2Action;

/// What goes wrong with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A 500 `InternalError`; EC2 did nothing.
    Transient,
    /// `RequestLimitExceeded`; EC2 did nothing.
    Throttle,
    /// The client gave up before EC2 received the call; EC2 did nothing.
    TimeoutBeforeApply,
    /// EC2 applied the call but the answer was lost: the case idempotency exists for.
    TimeoutAfterApply,
    /// EC2 applied the call, then answered a 500 `InternalError`.
    ErrorAfterApply,
    /// The calling task panics (a bug in an I/O layer); EC2 did nothing. Supervision
    /// tests use it to fail one actor.
    Panic,
    /// `UnauthorizedOperation`: the credentials lack the permission; EC2 did nothing.
    /// Retrying the same call does not help.
    Unauthorized,
}

/// Random failure rates, each a probability per call in `[0, 1]`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultRates {
    /// Probability of [`Fault::Transient`].
    pub transient: f64,
    /// Probability of [`Fault::Throttle`] (on top of real bucket throttling).
    pub throttle: f64,
    /// Probability of a timeout; half are [`Fault::TimeoutAfterApply`].
    pub timeout: f64,
    /// Probability of [`Fault::ErrorAfterApply`].
    pub error_after_apply: f64,
    /// Only mutating calls fail when set.
    pub mutating_only: bool,
}

impl FaultRates {
    /// Spreads `rate` evenly over transient errors, throttles and timeouts.
    pub fn uniform(rate: f64) -> Self {
        let each = rate.clamp(0.0, 1.0) / 3.0;
        FaultRates {
            transient: each,
            throttle: each,
            timeout: each,
            error_after_apply: 0.0,
            mutating_only: false,
        }
    }

    /// `rate` of calls failing with a 500, half of them after EC2 applied the call; no
    /// throttles, no timeouts.
    pub fn server_errors(rate: f64) -> Self {
        let half = rate.clamp(0.0, 1.0) / 2.0;
        FaultRates {
            transient: half,
            error_after_apply: half,
            ..FaultRates::default()
        }
    }
}

/// A fault on the `nth` mutating call that reaches EC2 (1-based, counting from when the
/// script was added), or on the `nth` call of one action when `action` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptedFault {
    /// Which call, 1-based.
    pub nth_mutating: u64,
    /// Count only calls of this action (mutating calls of any action when `None`).
    pub action: Option<Ec2Action>,
    /// What happens.
    pub fault: Fault,
}

/// Decides, call by call, whether a fault happens.
#[derive(Debug, Default)]
pub(super) struct FaultInjector {
    pub(super) rates: FaultRates,
    scripted: Vec<(u64, ScriptedFault)>,
    mutating: u64,
    per_action: HashMap<Ec2Action, u64>,
    /// Actions the credentials lack: every call is refused as unauthorized.
    pub(super) denied: std::collections::HashSet<Ec2Action>,
}

impl FaultInjector {
    pub(super) fn new(rates: FaultRates) -> Self {
        FaultInjector {
            rates,
            ..Default::default()
        }
    }

    /// Schedules `fault`, counting from the calls made so far.
    pub(super) fn script(&mut self, fault: ScriptedFault) {
        let so_far = match fault.action {
            Some(a) => self.per_action.get(&a).copied().unwrap_or(0),
            None => self.mutating,
        };
        self.scripted.push((so_far + fault.nth_mutating, fault));
    }

    /// The fault for a call of `action` that reached EC2, if any.
    pub(super) fn decide(&mut self, action: Ec2Action, rng: &mut SmallRng) -> Option<Fault> {
        let nth_of_action = {
            let n = self.per_action.entry(action).or_default();
            *n += 1;
            *n
        };
        if action.is_mutating() {
            self.mutating += 1;
        }
        if self.denied.contains(&action) {
            return Some(Fault::Unauthorized);
        }
        let mutating = self.mutating;
        if let Some(pos) = self.scripted.iter().position(|(at, f)| match f.action {
            Some(a) => a == action && *at == nth_of_action,
            None => action.is_mutating() && *at == mutating,
        }) {
            return Some(self.scripted.remove(pos).1.fault);
        }
        let r = self.rates;
        if r.mutating_only && !action.is_mutating() {
            return None;
        }
        let x: f64 = rng.random();
        if x < r.transient {
            Some(Fault::Transient)
        } else if x < r.transient + r.throttle {
            Some(Fault::Throttle)
        } else if x < r.transient + r.throttle + r.timeout / 2.0 {
            Some(Fault::TimeoutBeforeApply)
        } else if x < r.transient + r.throttle + r.timeout {
            Some(Fault::TimeoutAfterApply)
        } else if x < r.transient + r.throttle + r.timeout + r.error_after_apply {
            Some(Fault::ErrorAfterApply)
        } else {
            None
        }
    }
}
