//! The services beside the NodeENI actors: the EC2 rate limiter, the cleanup pool and
//! the readiness actor, started, supervised and restarted by the root behind
//! restart-proof handles.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorProcessingErr, SupervisionEvent};
use tokio::sync::Semaphore;

use crate::actors::cleanup::{CleanupArgs, CleanupMsg, CleanupPool, SweepFindings};
use crate::actors::instances::InstanceBatcher;
use crate::actors::limiter::{LimitedEc2, Limiter, LimiterArgs, LimiterMsg, Priority};
use crate::actors::nodeeni::NodeEniDeps;
use crate::actors::readiness::{Parts, ReadinessActor, ReadinessArgs, ReadinessDesk, ReadinessMsg};
use crate::actors::settings::ControllerSettings;
use crate::aws::Ec2;
use crate::aws::resolve::Resolver;
use crate::k8s::Cluster;
use crate::plan::orphans::DesiredSnapshot;
use crate::supervision::{Children, Handle, Outbox};

/// Which service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    /// The EC2 rate limiter.
    Limiter,
    /// The cleanup pool.
    Cleanup,
    /// The readiness actor.
    Readiness,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Limiter => "limiter",
            Service::Cleanup => "cleanup",
            Service::Readiness => "readiness",
        })
    }
}

/// The running services and what restarting them needs.
pub struct Services {
    pub settings: ControllerSettings,
    ec2: Arc<dyn Ec2>,
    in_flight: Arc<Semaphore>,
    limiter: Handle<LimiterMsg>,
    cleanup: Handle<CleanupMsg>,
    limiter_children: Children<Service>,
    cleanup_children: Children<Service>,
    findings: Outbox<SweepFindings>,
    cluster: Arc<dyn Cluster>,
    /// The readiness actor, unless it has nothing to write.
    readiness: Option<Handle<ReadinessMsg>>,
    readiness_children: Children<Service>,
    /// What the NodeENIs say of their nodes (outlives the readiness actor).
    pub parts: Parts,
}

fn limited(
    ec2: &Arc<dyn Ec2>,
    limiter: &Handle<LimiterMsg>,
    in_flight: &Arc<Semaphore>,
    p: Priority,
) -> LimitedEc2 {
    LimitedEc2::new(ec2.clone(), limiter.clone(), in_flight.clone(), p)
}

async fn spawn_limiter(
    settings: &ControllerSettings,
    root: &ActorCell,
) -> Result<ractor::ActorRef<LimiterMsg>, ActorProcessingErr> {
    let args = LimiterArgs {
        strategy: settings.strategy,
        buckets: settings.buckets.clone(),
        reserve: settings.bucket_reserve,
    };
    Ok(Actor::spawn_linked(None, Limiter, args, root.clone())
        .await?
        .0)
}

async fn spawn_cleanup(
    settings: &ControllerSettings,
    ec2: LimitedEc2,
    findings: Outbox<SweepFindings>,
    root: &ActorCell,
) -> Result<ractor::ActorRef<CleanupMsg>, ActorProcessingErr> {
    let args = CleanupArgs {
        ec2,
        cluster: settings.cluster.clone(),
        workers: settings.max_concurrent_cleanup,
        teardown: settings.teardown,
        orphan_grace: settings.orphan_grace,
        restart: settings.restart,
        findings,
    };
    Ok(Actor::spawn_linked(None, CleanupPool, args, root.clone())
        .await?
        .0)
}

async fn spawn_readiness(
    settings: &ControllerSettings,
    cluster: &Arc<dyn Cluster>,
    parts: &Parts,
    root: &ActorCell,
) -> Result<Option<ractor::ActorRef<ReadinessMsg>>, ActorProcessingErr> {
    let Some((writing, taint)) = settings.readiness() else {
        return Ok(None);
    };
    let args = ReadinessArgs {
        cluster: cluster.clone(),
        parts: parts.clone(),
        writing,
        taint,
    };
    Ok(Some(
        Actor::spawn_linked(None, ReadinessActor, args, root.clone())
            .await?
            .0,
    ))
}

impl Services {
    /// Starts the limiter and the cleanup pool under `root`, over `ec2` (the unlimited
    /// port: AWS, moto or the simulator), and returns them with what every NodeENI
    /// actor shares.
    pub async fn start(
        settings: ControllerSettings,
        ec2: Arc<dyn Ec2>,
        cluster: Arc<dyn Cluster>,
        findings: Outbox<SweepFindings>,
        root: &ActorCell,
    ) -> Result<(Self, NodeEniDeps), ActorProcessingErr> {
        let in_flight = Arc::new(Semaphore::new(settings.max_in_flight.max(1)));
        let limiter_ref = spawn_limiter(&settings, root).await?;
        let limiter = Handle::new(limiter_ref.clone());
        let cleanup_ref = spawn_cleanup(
            &settings,
            limited(&ec2, &limiter, &in_flight, Priority::Teardown),
            findings.clone(),
            root,
        )
        .await?;
        let cleanup = Handle::new(cleanup_ref.clone());
        let mut limiter_children = Children::new("limiter", settings.restart);
        limiter_children.started(Service::Limiter, &limiter_ref);
        let mut cleanup_children = Children::new("cleanup", settings.restart);
        cleanup_children.started(Service::Cleanup, &cleanup_ref);
        let parts = Parts::default();
        let mut readiness_children = Children::new("readiness", settings.restart);
        let readiness = spawn_readiness(&settings, &cluster, &parts, root)
            .await?
            .map(|actor| {
                readiness_children.started(Service::Readiness, &actor);
                Handle::new(actor)
            });
        let rollout = limited(&ec2, &limiter, &in_flight, Priority::Rollout);
        let deps = NodeEniDeps {
            readiness: ReadinessDesk::new(parts.clone(), readiness.clone()),
            cluster: cluster.clone(),
            resolver: Arc::new(Resolver::new(
                Arc::new(rollout.clone()),
                settings.resolve_ttl,
                Duration::from_secs(30),
            )),
            instances: InstanceBatcher::spawn(rollout.clone(), Duration::from_millis(20)),
            ec2: rollout,
            cleanup: cleanup.clone(),
            identity: settings.cluster.clone(),
            require_instance_cluster_tag: settings.require_instance_cluster_tag,
            eni_tags: Arc::new(settings.eni_tags.clone()),
            timing: settings.slot_timing,
            restart: settings.restart,
            resync_interval: settings.resync_interval,
            status_debounce: settings.status_debounce,
            census: Default::default(),
            resolve_ttl: settings.resolve_ttl,
            reservations: Default::default(),
        };
        let services = Services {
            settings,
            ec2,
            in_flight,
            limiter,
            cleanup,
            limiter_children,
            cleanup_children,
            findings,
            cluster,
            readiness,
            readiness_children,
            parts,
        };
        Ok((services, deps))
    }

    /// The service an exit belongs to, if any, and when to restart it.
    pub fn exited(&mut self, evt: &SupervisionEvent) -> Option<(Service, Duration)> {
        for children in [
            &mut self.limiter_children,
            &mut self.cleanup_children,
            &mut self.readiness_children,
        ] {
            if let Some(exited) = children.exited(evt) {
                let delay = children.restart(&exited).delay;
                return Some((exited.key, delay));
            }
        }
        None
    }

    /// Restarts a service and points its handle at the new actor.
    pub async fn restart(
        &mut self,
        root: &ActorCell,
        which: Service,
    ) -> Result<(), ActorProcessingErr> {
        match which {
            Service::Limiter => {
                let actor = spawn_limiter(&self.settings, root).await?;
                self.limiter_children.started(which, &actor);
                self.limiter.replace(actor);
            }
            Service::Cleanup => {
                let ec2 = limited(
                    &self.ec2,
                    &self.limiter,
                    &self.in_flight,
                    Priority::Teardown,
                );
                let actor = spawn_cleanup(&self.settings, ec2, self.findings.clone(), root).await?;
                self.cleanup_children.started(which, &actor);
                self.cleanup.replace(actor);
            }
            Service::Readiness => {
                let spawned =
                    spawn_readiness(&self.settings, &self.cluster, &self.parts, root).await?;
                if let (Some(actor), Some(handle)) = (spawned, &self.readiness) {
                    self.readiness_children.started(which, &actor);
                    handle.replace(actor);
                }
            }
        }
        Ok(())
    }

    /// Tells the readiness actor (if it runs); `false` if it is down (restarting: it is
    /// told everything again when it is back).
    pub fn readiness(&self, msg: ReadinessMsg) -> bool {
        self.readiness.as_ref().is_some_and(|h| h.cast(msg))
    }

    /// Starts an orphan sweep.
    pub fn sweep(&self, snapshot: DesiredSnapshot) {
        self.cleanup.cast(CleanupMsg::Sweep(snapshot));
    }
}
