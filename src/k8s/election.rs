//! The elector: reads and writes the leader Lease as [`crate::plan::election`] decides,
//! every write conditioned on the resourceVersion last read, every time on this
//! process's monotonic clock. It publishes whether this replica leads, opens the
//! [`Fence`] with each renewal that succeeded (as of when it was sent), and releases the
//! Lease when asked to stop so that a standby takes over at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::lease::LeaderElectionConfig;
use crate::fence::Fence;
use crate::plan::election::{Record, Seen, Step, Timing, decide};

/// One replica's election.
pub struct Elector {
    api: Api<Lease>,
    cfg: LeaderElectionConfig,
    fence: Fence,
    tx: watch::Sender<bool>,
    seen: Seen,
    /// The Lease as last read or written (what a conditioned write starts from).
    lease: Option<Lease>,
    leading: bool,
    /// When the last write that succeeded was sent.
    last_write: Option<Instant>,
}

fn record(lease: &Lease, default: Duration) -> Record {
    let spec = lease.spec.as_ref();
    Record {
        holder: spec.and_then(|s| s.holder_identity.clone()),
        lease_duration: spec
            .and_then(|s| s.lease_duration_seconds)
            .and_then(|s| u64::try_from(s).ok())
            .map_or(default, Duration::from_secs),
        version: lease.metadata.resource_version.clone().unwrap_or_default(),
    }
}

impl Elector {
    /// An election over `client` for `cfg`, publishing on `tx` and opening `fence`.
    pub fn new(
        client: Client,
        cfg: LeaderElectionConfig,
        fence: Fence,
        tx: watch::Sender<bool>,
    ) -> Self {
        Elector {
            api: Api::namespaced(client, &cfg.namespace),
            cfg,
            fence,
            tx,
            seen: Seen::default(),
            lease: None,
            leading: false,
            last_write: None,
        }
    }

    fn timing(&self) -> Timing {
        Timing {
            renew_period: self.cfg.renew_period(),
            retry_period: self.cfg.renew_period(),
        }
    }

    fn set_leading(&mut self, leading: bool) {
        if self.leading == leading {
            return;
        }
        self.leading = leading;
        tracing::info!(identity = %self.cfg.identity, leading, "leadership changed");
        metrics::gauge!(crate::telemetry::metric::LEADER).set(if leading { 1.0 } else { 0.0 });
        self.fence.leading(leading);
        self.tx.send_replace(leading);
    }

    /// Runs until the receiver is dropped; then releases the Lease if it holds it.
    ///
    /// A standby reads the Lease every retry period. The holder does not read: it knows
    /// the Lease from its own last write, and a renewal conditioned on that version fails
    /// (409) if anyone else wrote since; only then does it read.
    pub async fn run(mut self) {
        let mut read = true;
        loop {
            if self.tx.is_closed() {
                break;
            }
            if read && let Err(e) = self.read().await {
                tracing::warn!(error = %e, "cannot read the leader Lease; trying again");
            }
            let closes = self.fence.closes_at().flatten();
            let now = Instant::now();
            let step = decide(
                &self.seen,
                &self.cfg.identity,
                self.leading,
                closes,
                self.last_write,
                now,
                self.timing(),
            );
            match step {
                Step::WaitUntil(t) => {
                    tokio::select! {
                        _ = self.tx.closed() => break,
                        _ = tokio::time::sleep_until(t) => {}
                    }
                    read = !self.leading;
                }
                Step::StepDown => {
                    tracing::warn!(
                        "the leader Lease is another's, or could not be renewed within the renew deadline: stepping down"
                    );
                    self.set_leading(false);
                    read = true;
                }
                Step::Create | Step::Acquire | Step::Renew => match self.write(step).await {
                    Ok(()) => read = false,
                    // Someone else wrote the Lease meanwhile: read it again at once.
                    Err(kube::Error::Api(s)) if s.code == 409 => read = true,
                    Err(e) => {
                        tracing::warn!(error = %e, leading = self.leading, "could not write the leader Lease; trying again (leading goes on until the renew deadline)");
                        tokio::select! {
                            _ = self.tx.closed() => break,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                        read = !self.leading;
                    }
                },
            }
        }
        self.release().await;
    }

    async fn read(&mut self) -> Result<(), kube::Error> {
        let got = self.timed(self.api.get_opt(&self.cfg.lease_name)).await?;
        let default = self.cfg.lease_duration;
        self.seen
            .observe(got.as_ref().map(|l| record(l, default)), Instant::now());
        self.lease = got;
        Ok(())
    }

    async fn timed<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, kube::Error> {
        match tokio::time::timeout(self.cfg.call_timeout(), call).await {
            Ok(r) => r,
            Err(_) => Err(kube::Error::Service(
                "the leader Lease call timed out".into(),
            )),
        }
    }

    /// Creates, takes or renews the Lease, conditioned on the version last read.
    async fn write(&mut self, step: Step) -> Result<(), kube::Error> {
        let sent = Instant::now();
        let now = MicroTime(jiff::Timestamp::now());
        let me = self.cfg.identity.clone();
        let seconds = i32::try_from(self.cfg.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let mut lease = self.lease.clone().unwrap_or_else(|| Lease {
            metadata: ObjectMeta {
                name: Some(self.cfg.lease_name.clone()),
                namespace: Some(self.cfg.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: None,
        });
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if step != Step::Renew {
            let taking = spec.holder_identity.as_deref() != Some(me.as_str());
            if taking {
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            }
            spec.holder_identity = Some(me);
            spec.acquire_time = Some(now.clone());
        }
        spec.renew_time = Some(now);
        spec.lease_duration_seconds = Some(seconds);
        let params = PostParams::default();
        let written = match step {
            Step::Create => self.timed(self.api.create(&params, &lease)).await?,
            _ => {
                let name = self.cfg.lease_name.clone();
                self.timed(self.api.replace(&name, &params, &lease)).await?
            }
        };
        let default = self.cfg.lease_duration;
        self.seen.observe(Some(record(&written, default)), sent);
        self.lease = Some(written);
        self.last_write = Some(sent);
        self.fence.confirmed(sent);
        self.set_leading(true);
        Ok(())
    }

    /// Gives the Lease up (if this replica holds it), so that a standby takes over at
    /// once instead of after the lease duration.
    async fn release(&mut self) {
        let was_leading = self.leading;
        self.set_leading(false);
        if !was_leading {
            return;
        }
        let Some(mut lease) = self.lease.clone() else {
            return;
        };
        if let Some(spec) = &mut lease.spec {
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
        }
        let name = self.cfg.lease_name.clone();
        if let Err(e) = self
            .timed(self.api.replace(&name, &PostParams::default(), &lease))
            .await
        {
            tracing::warn!(error = %e, "could not release the leader Lease");
        }
    }
}

/// Starts electing over `client` (made by [`super::lease::lease_client`]). The receiver reads `true`
/// while this replica leads, and `fence` follows; drop the receiver to release the Lease
/// and stop the task.
pub fn spawn(
    client: Client,
    cfg: LeaderElectionConfig,
    fence: Fence,
) -> (watch::Receiver<bool>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let elector = Elector::new(client, cfg, fence, tx);
    (rx, tokio::spawn(elector.run()))
}
