//! The `sdk-adaptive` peer: EC2 called as a user of the Rust SDK in adaptive retry mode
//! (`RetryConfig::adaptive()`, aws-smithy-runtime 1.16) gets it, with no other limit.
//! One [`CubicLimiter`] for every call of the client (the SDK keeps one per service and
//! Region); the initial request waits until the limiter has a token; up to 3 attempts
//! per call; a retry waits what the limiter asks for its 5 or 10 tokens (at most 20 s),
//! else the SDK's jittered exponential backoff; a retry quota of 500 (5 per retry, given
//! back when the retried call succeeds). Throttles and transient failures (5xx,
//! timeouts) are retried; nothing else is. The `pacing_moto` benchmark runs the real
//! SDK the same way, through moto behind a throttling layer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::cubic::{Attempt, CubicLimiter, backoff};
use crate::aws::{
    AddressChange, AttachRequest, CreateEniRequest, Ec2, Ec2Error, Eni, EniFilter, EniLimits,
    Instance, Page, SecurityGroup, SecurityGroupLookup, Subnet, SubnetLookup, Tags,
};

const MAX_ATTEMPTS: u32 = 3;
const MAX_BACKOFF: Duration = Duration::from_secs(20);
const RETRY_QUOTA: u32 = 500;
const RETRY_COST: u32 = 5;

struct Client {
    limiter: CubicLimiter,
    quota: u32,
}

/// EC2 behind the SDK's adaptive retry mode.
#[derive(Clone)]
pub struct SdkAdaptiveEc2 {
    inner: Arc<dyn Ec2>,
    client: Arc<Mutex<Client>>,
    origin: Instant,
}

impl SdkAdaptiveEc2 {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Ec2>) -> Self {
        SdkAdaptiveEc2 {
            inner,
            client: Arc::new(Mutex::new(Client {
                limiter: CubicLimiter::new(0.0),
                quota: RETRY_QUOTA,
            })),
            origin: Instant::now(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Client, f64) -> T) -> T {
        let now = self.origin.elapsed().as_secs_f64();
        let mut g = self.client.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g, now)
    }

    async fn run<T, F, Fut>(&self, mut call: F) -> Result<T, Ec2Error>
    where
        F: FnMut() -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, Ec2Error>> + Send,
    {
        while let Some(d) = self.with(|c, now| c.limiter.acquire(now, Attempt::Initial)) {
            tokio::time::sleep(d).await;
        }
        let mut attempt = 1;
        let mut held = 0;
        loop {
            let result = call().await;
            let throttled = result.as_ref().is_err_and(Ec2Error::is_throttle);
            let retry = match &result {
                Err(e) if e.is_throttle() || matches!(e, Ec2Error::Transient { .. }) => {
                    attempt < MAX_ATTEMPTS
                }
                _ => false,
            };
            let delay = self.with(|c, now| {
                c.limiter.update(now, throttled);
                if result.is_ok() {
                    c.quota = (c.quota + held).min(RETRY_QUOTA);
                }
                if !retry || c.quota < RETRY_COST {
                    return None;
                }
                c.quota -= RETRY_COST;
                let kind = if throttled {
                    Attempt::RetryAfterThrottle
                } else {
                    Attempt::Retry
                };
                Some(
                    c.limiter
                        .acquire(now, kind)
                        .map(|d| d.min(MAX_BACKOFF))
                        .unwrap_or_else(|| backoff(attempt, rand::random::<f64>())),
                )
            });
            let Some(delay) = delay else {
                return result;
            };
            held = RETRY_COST;
            attempt += 1;
            tokio::time::sleep(delay).await;
        }
    }
}

#[async_trait]
impl Ec2 for SdkAdaptiveEc2 {
    async fn create_eni(&self, request: CreateEniRequest) -> Result<Eni, Ec2Error> {
        self.run(|| self.inner.create_eni(request.clone())).await
    }

    async fn attach_eni(&self, request: AttachRequest) -> Result<String, Ec2Error> {
        self.run(|| self.inner.attach_eni(request.clone())).await
    }

    async fn set_delete_on_termination(
        &self,
        eni_id: &str,
        attachment_id: &str,
        value: bool,
    ) -> Result<(), Ec2Error> {
        self.run(|| {
            self.inner
                .set_delete_on_termination(eni_id, attachment_id, value)
        })
        .await
    }

    async fn modify_security_groups(
        &self,
        eni_id: &str,
        groups: &[String],
    ) -> Result<(), Ec2Error> {
        self.run(|| self.inner.modify_security_groups(eni_id, groups))
            .await
    }

    async fn set_source_dest_check(&self, eni_id: &str, value: bool) -> Result<(), Ec2Error> {
        self.run(|| self.inner.set_source_dest_check(eni_id, value))
            .await
    }

    async fn set_connection_tracking(
        &self,
        eni_id: &str,
        value: &crate::plan::attributes::ConnectionTracking,
    ) -> Result<(), Ec2Error> {
        self.run(|| self.inner.set_connection_tracking(eni_id, value))
            .await
    }

    async fn change_addresses(&self, eni_id: &str, change: &AddressChange) -> Result<(), Ec2Error> {
        self.run(|| self.inner.change_addresses(eni_id, change))
            .await
    }

    async fn detach_eni(&self, attachment_id: &str, force: bool) -> Result<(), Ec2Error> {
        self.run(|| self.inner.detach_eni(attachment_id, force))
            .await
    }

    async fn delete_eni(&self, eni_id: &str) -> Result<(), Ec2Error> {
        self.run(|| self.inner.delete_eni(eni_id)).await
    }

    async fn describe_enis(
        &self,
        filter: &EniFilter,
        next_token: Option<String>,
    ) -> Result<Page<Eni>, Ec2Error> {
        self.run(|| self.inner.describe_enis(filter, next_token.clone()))
            .await
    }

    async fn describe_instances(&self, instance_ids: &[String]) -> Result<Vec<Instance>, Ec2Error> {
        self.run(|| self.inner.describe_instances(instance_ids))
            .await
    }

    async fn describe_instance_type_limits(
        &self,
        instance_type: &str,
    ) -> Result<EniLimits, Ec2Error> {
        self.run(|| self.inner.describe_instance_type_limits(instance_type))
            .await
    }

    async fn describe_subnets(&self, lookup: &SubnetLookup) -> Result<Vec<Subnet>, Ec2Error> {
        self.run(|| self.inner.describe_subnets(lookup)).await
    }

    async fn describe_security_groups(
        &self,
        lookup: &SecurityGroupLookup,
    ) -> Result<Vec<SecurityGroup>, Ec2Error> {
        self.run(|| self.inner.describe_security_groups(lookup))
            .await
    }

    async fn tag_eni(&self, eni_id: &str, tags: &Tags) -> Result<(), Ec2Error> {
        self.run(|| self.inner.tag_eni(eni_id, tags)).await
    }
}
