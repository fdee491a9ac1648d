//! An in-process EC2 behind the [`Ec2`] port, for large, deterministic, fault-injected
//! runs: tests, benchmarks and `eni-controller simulate`.
//!
//! It behaves like EC2 where the controller's correctness and speed depend on it:
//! per-action token buckets ([`crate::aws::BucketTable`], AWS's defaults unless told
//! otherwise) answering `RequestLimitExceeded` when empty; a latency per call;
//! attachments passing through `attaching` and `detaching`; ENI limits per instance type
//! and network card; device-index conflicts; Availability Zone checks; ClientToken
//! idempotency including the parameter-mismatch error; deleteOnTermination on instance
//! termination; injected faults; and a log of every call.
//!
//! All timing uses tokio's clock: under `tokio::time::pause()` a simulation of thousands
//! of nodes runs in seconds of wall time.

mod address_rules;
mod catalog;
mod eni_rules;
mod faults;
mod log;
mod setup;
mod world;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::time::Instant;

use self::faults::FaultInjector;
pub use self::faults::{Fault, FaultRates, ScriptedFault};
use self::log::CallLog;
pub use self::log::{CallRecord, OK};
use self::world::World;
use crate::aws::{BucketTable, Ec2Action, Ec2Error};
use crate::clock::{TokenBucket, TokioClock};

mod api;

/// Per-call latency: a base per kind of call, spread uniformly by `jitter` (a fraction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyModel {
    /// Base latency of `Describe*` calls.
    pub describe: Duration,
    /// Base latency of mutating calls.
    pub mutate: Duration,
    /// Uniform spread: a call takes `base × (1 ± jitter)`.
    pub jitter: f64,
}

impl Default for LatencyModel {
    fn default() -> Self {
        LatencyModel {
            describe: Duration::from_millis(100),
            mutate: Duration::from_millis(200),
            jitter: 0.5,
        }
    }
}

impl LatencyModel {
    /// No latency at all (unit tests of logic).
    pub fn zero() -> Self {
        LatencyModel {
            describe: Duration::ZERO,
            mutate: Duration::ZERO,
            jitter: 0.0,
        }
    }

    /// The same base for every call.
    pub fn uniform(base: Duration) -> Self {
        LatencyModel {
            describe: base,
            mutate: base,
            jitter: 0.5,
        }
    }
}

/// How the simulated EC2 behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Token buckets per action.
    pub buckets: BucketTable,
    /// Call latency.
    pub latency: LatencyModel,
    /// Time an attachment spends `attaching`.
    pub attach_delay: Duration,
    /// Time an attachment spends `detaching` (EC2 takes 2 to 3 s).
    pub detach_delay: Duration,
    /// How long a call that "times out" takes before failing (the client's timeout).
    pub timeout: Duration,
    /// Random faults.
    pub faults: FaultRates,
    /// Page size of `DescribeNetworkInterfaces`.
    pub page_size: usize,
    /// How long a new ENI stays out of filtered `DescribeNetworkInterfaces` listings
    /// (EC2's list calls are eventually consistent; by-ID reads are not affected here).
    pub listing_lag: Duration,
    /// How long describes show an ENI's secondary addresses as they were before an
    /// address call.
    pub address_lag: Duration,
    /// Seed of every random choice (latency jitter, faults).
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            buckets: BucketTable::default(),
            latency: LatencyModel::default(),
            attach_delay: Duration::from_secs(1),
            detach_delay: Duration::from_millis(2500),
            timeout: Duration::from_secs(10),
            faults: FaultRates::default(),
            page_size: 1000,
            listing_lag: Duration::ZERO,
            address_lag: Duration::ZERO,
            seed: 1,
        }
    }
}

struct Inner {
    world: World,
    log: CallLog,
    faults: FaultInjector,
    rng: SmallRng,
    applied: u64,
    hang_after: Option<u64>,
    /// Calls of another client of the account, and how many EC2 throttled, by action.
    others: std::collections::BTreeMap<Ec2Action, (u64, u64)>,
}

/// The in-process EC2. Cheap to clone; clones share one world.
#[derive(Clone)]
pub struct Ec2Simulator {
    inner: Arc<Mutex<Inner>>,
    buckets: Arc<Vec<(Ec2Action, TokenBucket)>>,
    config: Arc<SimConfig>,
    origin: Instant,
    vpc_id: Arc<str>,
    applied: Arc<watch::Sender<u64>>,
    concurrency: Arc<Mutex<Concurrency>>,
}

/// Calls in flight by action, now and at most, and those their caller gave up on.
#[derive(Default)]
struct Concurrency {
    now: HashMap<Ec2Action, u64>,
    most: HashMap<Ec2Action, u64>,
    all_now: u64,
    all_most: u64,
    abandoned: u64,
}

/// Counts one call in flight until dropped (also when the caller gives up, which
/// counts as abandoned unless the call was answered).
struct InFlight(Arc<Mutex<Concurrency>>, Ec2Action, bool);

impl InFlight {
    fn start(c: &Arc<Mutex<Concurrency>>, action: Ec2Action) -> Self {
        let mut g = c.lock().unwrap_or_else(|p| p.into_inner());
        let n = g.now.entry(action).or_default();
        *n += 1;
        let n = *n;
        let most = g.most.entry(action).or_default();
        *most = (*most).max(n);
        g.all_now += 1;
        g.all_most = g.all_most.max(g.all_now);
        InFlight(c.clone(), action, false)
    }

    fn answered(&mut self) {
        self.2 = true;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = g.now.get_mut(&self.1) {
            *n = n.saturating_sub(1);
        }
        g.all_now = g.all_now.saturating_sub(1);
        if !self.2 {
            g.abandoned += 1;
        }
    }
}

impl std::fmt::Debug for Ec2Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ec2Simulator")
            .field("vpc_id", &self.vpc_id)
            .finish()
    }
}

impl Ec2Simulator {
    /// A fresh account with one VPC and the built-in instance types.
    pub fn new(config: SimConfig) -> Self {
        let clock = TokioClock::new();
        let buckets = Ec2Action::ALL
            .into_iter()
            .map(|a| (a, TokenBucket::new(config.buckets.get(a), clock)))
            .collect();
        let mut world = World::new(config.attach_delay, config.detach_delay);
        world.address_lag = config.address_lag;
        let vpc_id = world.new_id("vpc");
        for (name, limits) in catalog::builtin_instance_types() {
            world.instance_types.insert(name.to_string(), limits);
        }
        let faults = FaultInjector::new(config.faults);
        Ec2Simulator {
            inner: Arc::new(Mutex::new(Inner {
                world,
                log: CallLog::default(),
                faults,
                rng: SmallRng::seed_from_u64(config.seed),
                applied: 0,
                hang_after: None,
                others: Default::default(),
            })),
            buckets: Arc::new(buckets),
            config: Arc::new(config),
            origin: Instant::now(),
            vpc_id: vpc_id.into(),
            applied: Arc::new(watch::channel(0).0),
            concurrency: Arc::default(),
        }
    }

    /// The most calls that were in flight at once: of `action`, or of any action.
    pub fn most_in_flight(&self, action: Option<Ec2Action>) -> u64 {
        let g = self.concurrency.lock().unwrap_or_else(|p| p.into_inner());
        match action {
            Some(a) => g.most.get(&a).copied().unwrap_or(0),
            None => g.all_most,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    fn latency(&self, action: Ec2Action) -> Duration {
        let m = self.config.latency;
        let base = if action.is_mutating() {
            m.mutate
        } else {
            m.describe
        };
        if base.is_zero() || m.jitter <= 0.0 {
            return base;
        }
        let f: f64 = self.lock().rng.random_range(-1.0..=1.0);
        base.mul_f64((1.0 + f * m.jitter.min(1.0)).max(0.0))
    }

    /// Runs one API call: latency, bucket, faults, then `op` on the world.
    async fn call<T>(
        &self,
        action: Ec2Action,
        target: &str,
        op: impl FnOnce(&mut World, Instant) -> Result<T, Ec2Error>,
    ) -> Result<T, Ec2Error> {
        let mut in_flight = InFlight::start(&self.concurrency, action);
        let latency = self.latency(action);
        tokio::time::sleep(latency / 2).await;
        let now = Instant::now();
        let at = now.duration_since(self.origin);
        let bucket = self
            .buckets
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, b)| b);
        if bucket.is_some_and(|b| b.try_take().is_err()) {
            self.lock()
                .log
                .push(at, action, "throttled", target.to_string());
            tokio::time::sleep(latency - latency / 2).await;
            in_flight.answered();
            return Err(throttle());
        }
        let answered = {
            let mut g = self.lock();
            let inner = &mut *g;
            // A crash point: this call never gets an answer (see `hang_after`).
            if inner.hang_after.is_some_and(|k| inner.applied >= k) {
                None
            } else {
                let fault = inner.faults.decide(action, &mut inner.rng);
                let result = match fault {
                    Some(Fault::Panic) => Err(Ec2Error::transient("injected panic")),
                    Some(Fault::Throttle) => Err(throttle()),
                    Some(Fault::Unauthorized) => Err(Ec2Error::classify(
                        "UnauthorizedOperation",
                        "You are not authorized to perform this operation.",
                        Some(403),
                    )),
                    Some(Fault::Transient) => Err(Ec2Error::classify(
                        "InternalError",
                        "An internal error has occurred",
                        Some(500),
                    )),
                    Some(Fault::TimeoutBeforeApply) => {
                        Err(Ec2Error::transient("EC2 call timed out"))
                    }
                    Some(Fault::TimeoutAfterApply | Fault::ErrorAfterApply) | None => {
                        inner.world.settle(now);
                        let r = op(&mut inner.world, now);
                        if r.is_ok() && action.is_mutating() {
                            inner.applied += 1;
                        }
                        match fault {
                            Some(Fault::ErrorAfterApply) => r.and(Err(Ec2Error::classify(
                                "InternalError",
                                "An internal error has occurred",
                                Some(500),
                            ))),
                            Some(_) => r.and(Err(Ec2Error::transient("EC2 call timed out"))),
                            None => r,
                        }
                    }
                };
                let outcome = result.as_ref().map_or_else(|e| e.label(), |_| OK);
                inner.log.push(at, action, outcome, target.to_string());
                Some((fault, result, inner.applied))
            }
        };
        let Some((fault, result, applied)) = answered else {
            return std::future::pending().await;
        };
        self.applied
            .send_if_modified(|n| std::mem::replace(n, applied) != applied);
        // The simulator's panic fault exists to prove supervision restarts a failed actor.
        #[allow(clippy::panic)]
        if fault == Some(Fault::Panic) {
            panic!("injected panic in {action} (simulator fault)");
        }
        let tail = match fault {
            Some(Fault::TimeoutBeforeApply | Fault::TimeoutAfterApply) => self.config.timeout,
            _ => latency - latency / 2,
        };
        tokio::time::sleep(tail).await;
        in_flight.answered();
        result
    }
}

fn throttle() -> Ec2Error {
    Ec2Error::classify("RequestLimitExceeded", "Request limit exceeded.", Some(503))
}
