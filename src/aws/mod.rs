//! The EC2 port: the small trait every EC2 call goes through, its value types, errors,
//! ownership rules, and the implementations behind it.
//!
//! - [`sdk::SdkEc2`] talks to AWS (or anything speaking the EC2 Query API, like moto or
//!   LocalStack) through `aws-sdk-ec2`;
//! - [`sim::Ec2Simulator`] is an in-process EC2 with AWS's throttling buckets, latencies,
//!   attachment state transitions and fault injection, for tests, benchmarks and
//!   `eni-controller simulate`;
//! - [`resolve::Resolver`] caches the lookups that rarely change (subnets, security
//!   groups, instance type limits) in front of either.
//!
//! This module knows nothing about Kubernetes. One trait method is one EC2 API call, so
//! a rate limiter wrapped around the trait sees exactly what EC2's throttling sees.
//!
//! # Example
//!
//! ```no_run
//! use aws_multi_eni_controller::aws::{
//!     AttachRequest, ClientToken, CreateEniRequest, Ec2, sdk::{SdkEc2, SdkEc2Config},
//! };
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let ec2 = SdkEc2::connect(SdkEc2Config::default()).await?;
//! let eni = ec2
//!     .create_eni(CreateEniRequest {
//!         subnet_id: "subnet-0123456789abcdef0".into(),
//!         security_group_ids: vec!["sg-0123456789abcdef0".into()],
//!         description: "example".into(),
//!         tags: Default::default(),
//!         client_token: ClientToken::new("example-1"),
//!         secondary_ipv4_count: 0,
//!         ipv4_prefix_count: 0,
//!         ipv6_address_count: 0,
//!         ipv6_prefix_count: 0,
//!         connection_tracking: None,
//!     })
//!     .await?;
//! let attachment_id = ec2
//!     .attach_eni(AttachRequest {
//!         eni_id: eni.id.clone(),
//!         instance_id: "i-0123456789abcdef0".into(),
//!         device_index: 1,
//!         network_card_index: 0,
//!         ena: Default::default(),
//!     })
//!     .await?;
//! ec2.detach_eni(&attachment_id, false).await?;
//! # Ok(())
//! # }
//! ```

pub mod action;
pub mod by_id;
pub mod client_token;
pub mod error;
pub mod fenced;
pub mod instance;
pub mod ownership;
pub mod resolve;
pub mod sdk;
pub mod sim;
pub mod types;

use async_trait::async_trait;

pub use action::{BucketSpec, BucketTable, Ec2Action};
pub use by_id::{describe_eni, describe_enis_by_id};
pub use client_token::ClientToken;
pub use error::{Ec2Error, Missing};
pub use fenced::FencedEc2;
pub use instance::*;
pub use ownership::{Ownership, SlotOwner};
pub use types::*;

/// The EC2 calls the controller makes; one method is one API call.
///
/// Implemented by the AWS SDK adapter, the simulator, and decorators (rate limiting,
/// caching) that wrap another implementation. Object safe, so the same actor code holds
/// an `Arc<dyn Ec2>` whatever is behind it.
#[async_trait]
pub trait Ec2: Send + Sync + 'static {
    /// `CreateNetworkInterface` with tags and a ClientToken; returns the new ENI (or,
    /// for a repeated token, the ENI the first call created).
    async fn create_eni(&self, request: CreateEniRequest) -> Result<Eni, Ec2Error>;

    /// `AttachNetworkInterface`; returns the attachment ID.
    async fn attach_eni(&self, request: AttachRequest) -> Result<String, Ec2Error>;

    /// `ModifyNetworkInterfaceAttribute` on the attachment's deleteOnTermination.
    async fn set_delete_on_termination(
        &self,
        eni_id: &str,
        attachment_id: &str,
        delete_on_termination: bool,
    ) -> Result<(), Ec2Error>;

    /// `ModifyNetworkInterfaceAttribute` replacing the ENI's security groups.
    async fn modify_security_groups(
        &self,
        eni_id: &str,
        security_group_ids: &[String],
    ) -> Result<(), Ec2Error>;

    /// `ModifyNetworkInterfaceAttribute` on the ENI's source/destination check.
    async fn set_source_dest_check(&self, eni_id: &str, value: bool) -> Result<(), Ec2Error>;

    /// `ModifyNetworkInterfaceAttribute` on the ENI's connection tracking timeouts (those
    /// `value` sets; the others stay).
    async fn set_connection_tracking(
        &self,
        eni_id: &str,
        value: &crate::plan::attributes::ConnectionTracking,
    ) -> Result<(), Ec2Error>;

    /// Adds or removes secondary addresses (one call: [`AddressChange::action`]).
    async fn change_addresses(&self, eni_id: &str, change: &AddressChange) -> Result<(), Ec2Error>;

    /// `DetachNetworkInterface`; `force` detaches even if the OS does not release it.
    async fn detach_eni(&self, attachment_id: &str, force: bool) -> Result<(), Ec2Error>;

    /// `DeleteNetworkInterface`.
    async fn delete_eni(&self, eni_id: &str) -> Result<(), Ec2Error>;

    /// `DescribeNetworkInterfaces`, one page. See [`describe_all_enis`] for every page.
    /// A read naming IDs (`filter.ids`) is one call, never paginated, and fails with
    /// `NotFound` when EC2 does not know one of them, as EC2 does: see
    /// [`describe_enis_by_id`].
    async fn describe_enis(
        &self,
        filter: &EniFilter,
        next_token: Option<String>,
    ) -> Result<Page<Eni>, Ec2Error>;

    /// `DescribeInstances` for these instances (one call, any number of IDs); `NotFound`
    /// if EC2 does not know one of them, as EC2 answers.
    async fn describe_instances(&self, instance_ids: &[String]) -> Result<Vec<Instance>, Ec2Error>;

    /// `DescribeInstanceTypes` for one type: its ENI limits per network card.
    async fn describe_instance_type_limits(
        &self,
        instance_type: &str,
    ) -> Result<EniLimits, Ec2Error>;

    /// `DescribeSubnets` by ID or `Name` tag.
    async fn describe_subnets(&self, lookup: &SubnetLookup) -> Result<Vec<Subnet>, Ec2Error>;

    /// `DescribeSecurityGroups` by ID or name.
    async fn describe_security_groups(
        &self,
        lookup: &SecurityGroupLookup,
    ) -> Result<Vec<SecurityGroup>, Ec2Error>;

    /// `CreateTags` on one ENI (used to mark adopted ENIs as owned).
    async fn tag_eni(&self, eni_id: &str, tags: &Tags) -> Result<(), Ec2Error>;
}

/// Describes every ENI matching `filter`, following pages; each page is one call to `ec2`
/// (and so passes through whatever rate limiter wraps it).
pub async fn describe_all_enis(ec2: &dyn Ec2, filter: &EniFilter) -> Result<Vec<Eni>, Ec2Error> {
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let page = ec2.describe_enis(filter, token).await?;
        all.extend(page.items);
        match page.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(all),
        }
    }
}

/// Describes one instance; `NotFound` when EC2 does not know it.
pub async fn describe_instance(ec2: &dyn Ec2, instance_id: &str) -> Result<Instance, Ec2Error> {
    ec2.describe_instances(&[instance_id.to_string()])
        .await?
        .into_iter()
        .find(|i| i.id == instance_id)
        .ok_or_else(|| Ec2Error::NotFound {
            what: error::Missing::Instance,
            code: "InvalidInstanceID.NotFound".into(),
            message: format!("instance {instance_id} not found"),
        })
}
