//! The services beside the NodeENI actors: the EC2 rate limiter and the cleanup pool,
//! started, identified and restarted by the root.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use tokio::sync::Semaphore;

use super::cleanup::{CleanupArgs, CleanupMsg, CleanupPool};
use super::instances::InstanceBatcher;
use super::limited_ec2::LimitedEc2;
use super::limiter::{Limiter, LimiterArgs, LimiterMsg, Priority};
use super::nodeeni::NodeEniDeps;
use super::root::RootMsg;
use super::settings::ControllerSettings;
use crate::aws::Ec2;
use crate::aws::resolve::Resolver;
use crate::k8s::Cluster;
use crate::plan::orphans::DesiredSnapshot;
use crate::supervision::Handle;
use crate::supervision::RestartTracker;

/// Which service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The EC2 rate limiter.
    Limiter,
    /// The cleanup pool.
    Cleanup,
}

impl Service {
    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Service::Limiter => "limiter",
            Service::Cleanup => "cleanup",
        }
    }
}

/// The running services and what restarting them needs.
pub struct Services {
    /// Settings.
    pub settings: ControllerSettings,
    ec2: Arc<dyn Ec2>,
    in_flight: Arc<Semaphore>,
    limiter: Handle<LimiterMsg>,
    cleanup: Handle<CleanupMsg>,
    limiter_restarts: RestartTracker,
    cleanup_restarts: RestartTracker,
}

async fn spawn_limiter(
    settings: &ControllerSettings,
    root: &ActorRef<RootMsg>,
) -> Result<ActorRef<LimiterMsg>, ActorProcessingErr> {
    let args = LimiterArgs {
        strategy: settings.strategy,
        buckets: settings.buckets.clone(),
        reserve: settings.bucket_reserve,
    };
    Ok(Actor::spawn_linked(None, Limiter, args, root.get_cell())
        .await?
        .0)
}

async fn spawn_cleanup(
    settings: &ControllerSettings,
    ec2: LimitedEc2,
    root: &ActorRef<RootMsg>,
) -> Result<ActorRef<CleanupMsg>, ActorProcessingErr> {
    let args = CleanupArgs {
        ec2,
        cluster: settings.cluster_name.clone(),
        workers: settings.max_concurrent_cleanup,
        teardown: settings.teardown,
        orphan_grace: settings.orphan_grace,
        restart: settings.restart,
    };
    Ok(
        Actor::spawn_linked(None, CleanupPool, args, root.get_cell())
            .await?
            .0,
    )
}

impl Services {
    /// Starts the limiter and the cleanup pool under `root`, over `ec2` (the unlimited
    /// port: AWS, moto or the simulator), and returns them with what every NodeENI
    /// actor shares.
    pub async fn start(
        settings: ControllerSettings,
        ec2: Arc<dyn Ec2>,
        cluster: Arc<dyn Cluster>,
        root: &ActorRef<RootMsg>,
    ) -> Result<(Self, NodeEniDeps), ActorProcessingErr> {
        let in_flight = Arc::new(Semaphore::new(settings.max_in_flight.max(1)));
        let limiter = Handle::new(spawn_limiter(&settings, root).await?);
        let limited = |p| LimitedEc2::new(ec2.clone(), limiter.clone(), in_flight.clone(), p);
        let cleanup =
            Handle::new(spawn_cleanup(&settings, limited(Priority::Teardown), root).await?);
        let rollout = limited(Priority::Rollout);
        let deps = NodeEniDeps {
            cluster,
            resolver: Arc::new(Resolver::new(
                Arc::new(rollout.clone()),
                settings.resolve_ttl,
                Duration::from_secs(30),
            )),
            instances: InstanceBatcher::spawn(rollout.clone(), Duration::from_millis(20)),
            ec2: rollout,
            cleanup: cleanup.clone(),
            cluster_name: settings.cluster_name.clone(),
            timing: settings.slot_timing,
            restart: settings.restart,
            resync_interval: settings.resync_interval,
            status_debounce: settings.status_debounce,
        };
        let services = Services {
            settings,
            ec2,
            in_flight,
            limiter,
            cleanup,
            limiter_restarts: RestartTracker::default(),
            cleanup_restarts: RestartTracker::default(),
        };
        Ok((services, deps))
    }

    /// Which service `cell` is, if any.
    pub fn identify(&self, cell: &ActorCell) -> Option<Service> {
        let id = cell.get_id();
        if self.limiter.current().get_id() == id {
            Some(Service::Limiter)
        } else if self.cleanup.current().get_id() == id {
            Some(Service::Cleanup)
        } else {
            None
        }
    }

    /// The restart history of a service.
    pub fn history(&mut self, which: Service) -> &mut RestartTracker {
        match which {
            Service::Limiter => &mut self.limiter_restarts,
            Service::Cleanup => &mut self.cleanup_restarts,
        }
    }

    /// Restarts a service and points its handle at the new actor.
    pub async fn restart(
        &mut self,
        root: &ActorRef<RootMsg>,
        which: Service,
    ) -> Result<(), ActorProcessingErr> {
        match which {
            Service::Limiter => self
                .limiter
                .replace(spawn_limiter(&self.settings, root).await?),
            Service::Cleanup => {
                let ec2 = LimitedEc2::new(
                    self.ec2.clone(),
                    self.limiter.clone(),
                    self.in_flight.clone(),
                    Priority::Teardown,
                );
                self.cleanup
                    .replace(spawn_cleanup(&self.settings, ec2, root).await?);
            }
        }
        Ok(())
    }

    /// Starts an orphan sweep.
    pub fn sweep(&self, snapshot: DesiredSnapshot) {
        self.cleanup.cast(CleanupMsg::Sweep(snapshot));
    }
}
