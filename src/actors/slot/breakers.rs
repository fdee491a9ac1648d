//! The breakers of one NodeENI's slots (the rules are [`crate::plan::breaker`]): shared
//! by its slots, one per scope (the creates in one subnet, the attaches in one subnet),
//! with each slot's address so that the slots held are woken when a breaker closes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

use crate::actors::limiter::Gate;
use crate::aws::Ec2Error;
use crate::plan::breaker::{self, Admit, Breaker, Cause, Outcome};
use crate::plan::lifecycle::Action;
use crate::plan::outcome::Answer;
use crate::plan::refusal::Refused;
use crate::plan::slots::DesiredSlot;

/// Where a refusal blocks every slot alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Creates in a subnet.
    Create(String),
    /// Attaches of ENIs in a subnet.
    Attach(String),
}

impl Scope {
    /// The scope of `action`, if a refusal of it blocks the scope's other slots too.
    pub fn of(action: &Action, desired: &DesiredSlot) -> Option<Scope> {
        match action {
            Action::Create { .. } => Some(Scope::Create(desired.key.subnet_id.clone())),
            Action::Attach { .. } => Some(Scope::Attach(desired.key.subnet_id.clone())),
            _ => None,
        }
    }
}

/// How a held slot is woken.
pub type Wake = Box<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Book {
    open: HashMap<Scope, Option<Breaker>>,
    slots: HashMap<String, Wake>,
}

/// One NodeENI's breakers; cheap to clone, shared.
#[derive(Clone, Default)]
pub struct Breakers(Arc<Mutex<Book>>);

impl Breakers {
    fn lock(&self) -> MutexGuard<'_, Book> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot (`holder`) that may be held, and how to wake it.
    pub fn joined(&self, holder: &str, wake: Wake) {
        self.lock().slots.insert(holder.to_string(), wake);
    }

    /// A slot stopped: it holds no probe and is woken no more.
    pub fn left(&self, holder: &str) {
        let mut book = self.lock();
        book.slots.remove(holder);
        for b in book.open.values_mut() {
            breaker::left(b, holder);
        }
        book.open.retain(|_, b| b.is_some());
    }

    /// Whether `holder` may call in `scope` now.
    pub fn admit(&self, scope: &Scope, holder: &str, now: Instant) -> Admit {
        let mut book = self.lock();
        match book.open.get_mut(scope) {
            Some(b) => breaker::admit(b, holder, now),
            None => Admit::Go,
        }
    }

    /// How `holder`'s call in `scope` ended; the slots held are woken if it closed.
    pub fn answered(&self, scope: &Scope, holder: &str, outcome: Outcome, now: Instant) {
        let mut book = self.lock();
        let b = book.open.entry(scope.clone()).or_default();
        let woken = breaker::answered(b, holder, outcome, now, rand::random::<f64>());
        if b.is_none() {
            book.open.remove(scope);
        }
        for h in woken {
            if let Some(wake) = book.slots.get(&h) {
                wake();
            }
        }
    }
}

/// The gate of `holder`'s call in `scope`: once its token is granted, the call is
/// withheld if the breaker opened while it waited (and the slot is not its probe).
pub fn gate(breakers: &Breakers, scope: &Scope, holder: &str) -> Gate {
    let (breakers, scope, holder) = (breakers.clone(), scope.clone(), holder.to_string());
    Arc::new(
        move || match breakers.admit(&scope, &holder, Instant::now()) {
            Admit::Hold { cause, .. } => Err(Ec2Error::Withheld {
                cause: format!("{}: {}", cause.reason, cause.message),
            }),
            Admit::Go | Admit::Probe => Ok(()),
        },
    )
}

/// What `answer` to `action` tells the breaker of its scope.
pub fn outcome_of(answer: &Answer<Ec2Error>, action: &Action) -> Outcome {
    let Answer::Refused(r) = answer else {
        return Outcome::Passed;
    };
    match r.class {
        Refused::Permanent => Outcome::Refused(Cause {
            reason: match action {
                Action::Attach { .. } => "ENIAttachFailed",
                _ => "ENICreateFailed",
            },
            message: r.error.to_string(),
        }),
        Refused::Throttled | Refused::Transient | Refused::Withheld => Outcome::NotSent,
        _ => Outcome::Passed,
    }
}
