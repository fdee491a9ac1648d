//! The [`Ec2`] port behind the leader's [`Fence`]: each call checks the fence right
//! before it is sent, and is refused ([`Ec2Error::Fenced`], never sent) once this replica
//! can no longer be sure it leads.

use std::sync::Arc;

use async_trait::async_trait;

use crate::plan::attributes::ConnectionTracking;
use tokio::time::Instant;

use super::{
    AddressChange, AttachRequest, CreateEniRequest, Ec2, Ec2Error, Eni, EniFilter, EniLimits,
    Instance, Page, SecurityGroup, SecurityGroupLookup, Subnet, SubnetLookup, Tags,
};
use crate::fence::Fence;

/// `inner`, called only while `fence` is open.
pub struct FencedEc2 {
    inner: Arc<dyn Ec2>,
    fence: Fence,
}

impl FencedEc2 {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Ec2>, fence: Fence) -> Self {
        FencedEc2 { inner, fence }
    }

    fn check(&self) -> Result<(), Ec2Error> {
        if self.fence.is_open(Instant::now()) {
            Ok(())
        } else {
            Err(Ec2Error::Fenced)
        }
    }
}

#[async_trait]
impl Ec2 for FencedEc2 {
    async fn create_eni(&self, request: CreateEniRequest) -> Result<Eni, Ec2Error> {
        self.check()?;
        self.inner.create_eni(request).await
    }

    async fn attach_eni(&self, request: AttachRequest) -> Result<String, Ec2Error> {
        self.check()?;
        self.inner.attach_eni(request).await
    }

    async fn set_delete_on_termination(
        &self,
        eni_id: &str,
        attachment_id: &str,
        value: bool,
    ) -> Result<(), Ec2Error> {
        self.check()?;
        self.inner
            .set_delete_on_termination(eni_id, attachment_id, value)
            .await
    }

    async fn modify_security_groups(
        &self,
        eni_id: &str,
        groups: &[String],
    ) -> Result<(), Ec2Error> {
        self.check()?;
        self.inner.modify_security_groups(eni_id, groups).await
    }

    async fn set_source_dest_check(&self, eni_id: &str, value: bool) -> Result<(), Ec2Error> {
        self.check()?;
        self.inner.set_source_dest_check(eni_id, value).await
    }

    async fn set_connection_tracking(
        &self,
        eni_id: &str,
        value: &ConnectionTracking,
    ) -> Result<(), Ec2Error> {
        self.check()?;
        self.inner.set_connection_tracking(eni_id, value).await
    }

    async fn change_addresses(&self, eni_id: &str, change: &AddressChange) -> Result<(), Ec2Error> {
        self.check()?;
        self.inner.change_addresses(eni_id, change).await
    }

    async fn detach_eni(&self, attachment_id: &str, force: bool) -> Result<(), Ec2Error> {
        self.check()?;
        self.inner.detach_eni(attachment_id, force).await
    }

    async fn delete_eni(&self, eni_id: &str) -> Result<(), Ec2Error> {
        self.check()?;
        self.inner.delete_eni(eni_id).await
    }

    async fn describe_enis(
        &self,
        filter: &EniFilter,
        next_token: Option<String>,
    ) -> Result<Page<Eni>, Ec2Error> {
        self.check()?;
        self.inner.describe_enis(filter, next_token).await
    }

    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Instance>, Ec2Error> {
        self.check()?;
        self.inner.describe_instances(ids).await
    }

    async fn describe_instance_type_limits(&self, t: &str) -> Result<EniLimits, Ec2Error> {
        self.check()?;
        self.inner.describe_instance_type_limits(t).await
    }

    async fn describe_subnets(&self, lookup: &SubnetLookup) -> Result<Vec<Subnet>, Ec2Error> {
        self.check()?;
        self.inner.describe_subnets(lookup).await
    }

    async fn describe_security_groups(
        &self,
        lookup: &SecurityGroupLookup,
    ) -> Result<Vec<SecurityGroup>, Ec2Error> {
        self.check()?;
        self.inner.describe_security_groups(lookup).await
    }

    async fn tag_eni(&self, eni_id: &str, tags: &Tags) -> Result<(), Ec2Error> {
        self.check()?;
        self.inner.tag_eni(eni_id, tags).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::aws::sim::{Ec2Simulator, SimConfig};

    #[tokio::test(start_paused = true)]
    async fn nothing_is_sent_once_the_fence_closes() {
        let sim = Ec2Simulator::new(SimConfig::default());
        let subnet = sim.add_subnet("us-east-1a", "10.0.0.0/24", Some("s"));
        let fence = Fence::new(Duration::from_secs(10));
        let ec2 = FencedEc2::new(Arc::new(sim.clone()), fence.clone());
        let lookup = SubnetLookup::Ids(vec![subnet.id.clone()]);
        assert!(matches!(
            ec2.describe_subnets(&lookup).await,
            Err(Ec2Error::Fenced)
        ));
        fence.confirmed(Instant::now());
        fence.leading(true);
        assert_eq!(ec2.describe_subnets(&lookup).await.unwrap().len(), 1);
        let sent = sim.calls().len();
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(matches!(
            ec2.describe_subnets(&lookup).await,
            Err(Ec2Error::Fenced)
        ));
        assert_eq!(
            sim.calls().len(),
            sent,
            "the refused call never reached EC2"
        );
    }
}
