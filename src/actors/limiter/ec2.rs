//! The [`Ec2`] port wrapped so that every call first gets a token from the limiter
//! actor, then runs within the in-flight bound, and is measured: calls by action and
//! outcome, latency, and throttles fed back to the limiter.

use std::sync::Arc;
use tokio::time::Instant;

use async_trait::async_trait;

use crate::plan::attributes::ConnectionTracking;
use tokio::sync::Semaphore;

use super::msg::{LimiterHandle, Priority};
use crate::aws::{
    AddressChange, AttachRequest, CreateEniRequest, Ec2, Ec2Action, Ec2Error, Eni, EniFilter,
    EniLimits, Instance, Page, SecurityGroup, SecurityGroupLookup, Subnet, SubnetLookup, Tags,
};
use crate::plan::pacing::Answer;

/// Asked once a call's token is granted, right before it is sent: `Err` withholds the
/// call (the token is handed back, nothing is sent, the error is the call's answer).
pub type Gate = Arc<dyn Fn() -> Result<(), Ec2Error> + Send + Sync>;

/// Rate-limited, measured EC2 for one kind of work (its [`Priority`]).
#[derive(Clone)]
pub struct LimitedEc2 {
    inner: Arc<dyn Ec2>,
    limiter: LimiterHandle,
    in_flight: Arc<Semaphore>,
    priority: Priority,
    gate: Option<Gate>,
}

impl LimitedEc2 {
    /// Wraps `inner`; `in_flight` bounds calls running at once across all priorities.
    pub fn new(
        inner: Arc<dyn Ec2>,
        limiter: LimiterHandle,
        in_flight: Arc<Semaphore>,
        priority: Priority,
    ) -> Self {
        LimitedEc2 {
            inner,
            limiter,
            in_flight,
            priority,
            gate: None,
        }
    }

    /// The same EC2, whose calls ask `gate` once their token is granted (a call that
    /// waited for its token may no longer be wanted when it gets one).
    pub fn gated(&self, gate: Gate) -> Self {
        LimitedEc2 {
            gate: Some(gate),
            ..self.clone()
        }
    }

    /// The same EC2 at another priority.
    pub fn with_priority(&self, priority: Priority) -> Self {
        LimitedEc2 {
            priority,
            ..self.clone()
        }
    }

    async fn run<T, F, Fut>(&self, action: Ec2Action, call: F) -> Result<T, Ec2Error>
    where
        F: FnOnce() -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, Ec2Error>> + Send,
    {
        let Some(permit) = self.limiter.acquire(action, self.priority).await else {
            return Err(Ec2Error::transient("EC2 rate limiter is restarting"));
        };
        if let Some(Err(withheld)) = self.gate.as_ref().map(|g| g()) {
            self.limiter.outcome(action, permit, Answer::Unused);
            return Err(withheld);
        }
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| Ec2Error::transient("controller shutting down"))?;
        let started = Instant::now();
        let result = call().await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.label(),
        };
        metrics::counter!(crate::telemetry::metric::EC2_CALLS_TOTAL, "action" => action.as_str(), "outcome" => outcome).increment(1);
        metrics::histogram!(crate::telemetry::metric::EC2_CALL_DURATION_SECONDS, "action" => action.as_str())
            .record(started.elapsed().as_secs_f64());
        let answer = match &result {
            Err(e) if e.is_throttle() => Answer::Throttled,
            Err(Ec2Error::Transient { .. } | Ec2Error::Fenced) => Answer::Unknown,
            _ => Answer::Spent,
        };
        self.limiter.outcome(action, permit, answer);
        result
    }
}

#[async_trait]
impl Ec2 for LimitedEc2 {
    async fn create_eni(&self, request: CreateEniRequest) -> Result<Eni, Ec2Error> {
        self.run(Ec2Action::CreateNetworkInterface, || {
            self.inner.create_eni(request)
        })
        .await
    }

    async fn attach_eni(&self, request: AttachRequest) -> Result<String, Ec2Error> {
        self.run(Ec2Action::AttachNetworkInterface, || {
            self.inner.attach_eni(request)
        })
        .await
    }

    async fn set_delete_on_termination(
        &self,
        eni_id: &str,
        attachment_id: &str,
        value: bool,
    ) -> Result<(), Ec2Error> {
        self.run(Ec2Action::ModifyNetworkInterfaceAttribute, || {
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
        self.run(Ec2Action::ModifyNetworkInterfaceAttribute, || {
            self.inner.modify_security_groups(eni_id, groups)
        })
        .await
    }

    async fn set_source_dest_check(&self, eni_id: &str, value: bool) -> Result<(), Ec2Error> {
        self.run(Ec2Action::ModifyNetworkInterfaceAttribute, || {
            self.inner.set_source_dest_check(eni_id, value)
        })
        .await
    }

    async fn set_connection_tracking(
        &self,
        eni_id: &str,
        value: &ConnectionTracking,
    ) -> Result<(), Ec2Error> {
        self.run(Ec2Action::ModifyNetworkInterfaceAttribute, || {
            self.inner.set_connection_tracking(eni_id, value)
        })
        .await
    }

    async fn change_addresses(&self, eni_id: &str, change: &AddressChange) -> Result<(), Ec2Error> {
        self.run(change.action(), || {
            self.inner.change_addresses(eni_id, change)
        })
        .await
    }

    async fn detach_eni(&self, attachment_id: &str, force: bool) -> Result<(), Ec2Error> {
        self.run(Ec2Action::DetachNetworkInterface, || {
            self.inner.detach_eni(attachment_id, force)
        })
        .await
    }

    async fn delete_eni(&self, eni_id: &str) -> Result<(), Ec2Error> {
        self.run(Ec2Action::DeleteNetworkInterface, || {
            self.inner.delete_eni(eni_id)
        })
        .await
    }

    async fn describe_enis(
        &self,
        filter: &EniFilter,
        next_token: Option<String>,
    ) -> Result<Page<Eni>, Ec2Error> {
        self.run(Ec2Action::DescribeNetworkInterfaces, || {
            self.inner.describe_enis(filter, next_token)
        })
        .await
    }

    async fn describe_instances(&self, instance_ids: &[String]) -> Result<Vec<Instance>, Ec2Error> {
        self.run(Ec2Action::DescribeInstances, || {
            self.inner.describe_instances(instance_ids)
        })
        .await
    }

    async fn describe_instance_type_limits(
        &self,
        instance_type: &str,
    ) -> Result<EniLimits, Ec2Error> {
        self.run(Ec2Action::DescribeInstanceTypes, || {
            self.inner.describe_instance_type_limits(instance_type)
        })
        .await
    }

    async fn describe_subnets(&self, lookup: &SubnetLookup) -> Result<Vec<Subnet>, Ec2Error> {
        self.run(Ec2Action::DescribeSubnets, || {
            self.inner.describe_subnets(lookup)
        })
        .await
    }

    async fn describe_security_groups(
        &self,
        lookup: &SecurityGroupLookup,
    ) -> Result<Vec<SecurityGroup>, Ec2Error> {
        self.run(Ec2Action::DescribeSecurityGroups, || {
            self.inner.describe_security_groups(lookup)
        })
        .await
    }

    async fn tag_eni(&self, eni_id: &str, tags: &Tags) -> Result<(), Ec2Error> {
        self.run(Ec2Action::CreateTags, || self.inner.tag_eni(eni_id, tags))
            .await
    }
}
