//! The [`Ec2`] port over `aws-sdk-ec2`: real AWS, or anything speaking the EC2 Query
//! API (moto, LocalStack) through the standard endpoint variables.
//!
//! Who retries: **the SDK does not.** Its retries are disabled so that every throttle
//! reaches the project's rate limiter, which slows that action's bucket down; retrying
//! inside the SDK would hide the throttles and keep spending tokens from a bucket EC2
//! has already said is empty. The callers (the lifecycle actors) retry transient errors
//! with backoff through the limiter. Each call has its own timeout.

mod addresses;
mod convert;
mod identity;
mod limits;

use identity::resolve_region;
pub use identity::{CallerIdentity, ConnectError, RegionSource};

use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ec2::types::{
    EnaSrdSpecification, EnaSrdUdpSpecification, NetworkInterfaceAttachmentChanges, ResourceType,
    TagSpecification,
};

use self::convert::{
    eni_filters, eni_from, filter, group_from, instance_from, map_err, subnet_from, tags_to,
};
use super::{
    AddressChange, AttachRequest, CreateEniRequest, Ec2, Ec2Error, Eni, EniFilter, EniLimits,
    Instance, Page, SecurityGroup, SecurityGroupLookup, Subnet, SubnetLookup, Tags,
};

/// How to reach EC2.
#[derive(Debug, Clone)]
pub struct SdkEc2Config {
    /// Region; else `AWS_DEFAULT_REGION`/profile, else instance metadata, else none (an
    /// error: no Region is guessed).
    pub region: Option<String>,
    /// Endpoint override; `AWS_ENDPOINT_URL_EC2` and `AWS_ENDPOINT_URL` are honoured
    /// without it.
    pub endpoint_url: Option<String>,
    /// Timeout of one call, including reading the answer.
    pub call_timeout: Duration,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Page size for filtered `DescribeNetworkInterfaces` (5 to 1000).
    pub page_size: i32,
    /// Fixed credentials instead of the SDK's chain (tests against moto, scripts).
    pub credentials: Option<aws_sdk_ec2::config::Credentials>,
}

impl Default for SdkEc2Config {
    fn default() -> Self {
        SdkEc2Config {
            region: None,
            endpoint_url: None,
            call_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            page_size: 1000,
            credentials: None,
        }
    }
}

/// [`Ec2`] backed by `aws-sdk-ec2`.
#[derive(Debug, Clone)]
pub struct SdkEc2 {
    client: aws_sdk_ec2::Client,
    page_size: i32,
    region_source: RegionSource,
    /// STS with the same credentials, Region and endpoint, for [`SdkEc2::caller_identity`].
    sts: Option<aws_sdk_sts::Client>,
}

impl SdkEc2 {
    /// Loads credentials and Region the standard way and builds the client, with SDK
    /// retries off and per-call timeouts on.
    pub async fn connect(config: SdkEc2Config) -> Result<Self, ConnectError> {
        let (region, region_source) = resolve_region(config.region.clone()).await?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(config.connect_timeout)
                    .operation_attempt_timeout(config.call_timeout)
                    .operation_timeout(config.call_timeout)
                    .build(),
            );
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = config.credentials.clone() {
            loader = loader.credentials_provider(credentials);
        }
        let shared = loader.load().await;
        Ok(SdkEc2 {
            region_source,
            sts: Some(aws_sdk_sts::Client::new(&shared)),
            ..Self::from_client(aws_sdk_ec2::Client::new(&shared), config.page_size)
        })
    }

    /// `sts:GetCallerIdentity` (needs no permission): the account and principal the
    /// credentials resolve to, said at start so that a wrong role shows before any
    /// `UnauthorizedOperation`. `None` for a client built with [`SdkEc2::from_client`].
    pub async fn caller_identity(&self) -> Option<Result<CallerIdentity, Ec2Error>> {
        let sts = self.sts.as_ref()?;
        let answer = sts.get_caller_identity().send().await;
        Some(match answer {
            Ok(out) => Ok(CallerIdentity {
                account: out.account().unwrap_or_default().to_string(),
                arn: out.arn().unwrap_or_default().to_string(),
            }),
            Err(e) => Err(Ec2Error::Other {
                code: "GetCallerIdentity".into(),
                message: aws_sdk_sts::error::DisplayErrorContext(e).to_string(),
            }),
        })
    }

    /// Where the Region came from.
    pub fn region_source(&self) -> RegionSource {
        self.region_source
    }

    /// Wraps a client built elsewhere.
    pub fn from_client(client: aws_sdk_ec2::Client, page_size: i32) -> Self {
        SdkEc2 {
            client,
            page_size: page_size.clamp(5, 1000),
            region_source: RegionSource::Configured,
            sts: None,
        }
    }

    /// The Region the client talks to.
    pub fn region(&self) -> Option<String> {
        self.client.config().region().map(|r| r.to_string())
    }

    fn missing(what: &str) -> Ec2Error {
        Ec2Error::Other {
            code: String::new(),
            message: format!("EC2 answer lacks {what}"),
        }
    }
}

#[async_trait]
impl Ec2 for SdkEc2 {
    async fn create_eni(&self, request: CreateEniRequest) -> Result<Eni, Ec2Error> {
        let mut call = self
            .client
            .create_network_interface()
            .subnet_id(&request.subnet_id)
            .set_groups(Some(request.security_group_ids.clone()))
            .description(&request.description)
            .client_token(request.client_token.as_str());
        if request.secondary_ipv4_count > 0 {
            call = call.secondary_private_ip_address_count(
                i32::try_from(request.secondary_ipv4_count).unwrap_or(i32::MAX),
            );
        }
        if request.ipv4_prefix_count > 0 {
            call = call
                .ipv4_prefix_count(i32::try_from(request.ipv4_prefix_count).unwrap_or(i32::MAX));
        }
        if request.ipv6_address_count > 0 {
            call = call
                .ipv6_address_count(i32::try_from(request.ipv6_address_count).unwrap_or(i32::MAX));
        }
        if request.ipv6_prefix_count > 0 {
            call = call
                .ipv6_prefix_count(i32::try_from(request.ipv6_prefix_count).unwrap_or(i32::MAX));
        }
        if let Some(c) = &request.connection_tracking {
            call = call.connection_tracking_specification(addresses::conntrack_request(c));
        }
        if !request.tags.is_empty() {
            call = call.tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::NetworkInterface)
                    .set_tags(Some(tags_to(&request.tags)))
                    .build(),
            );
        }
        let out = call.send().await.map_err(map_err)?;
        out.network_interface()
            .map(eni_from)
            .ok_or_else(|| Self::missing("the network interface"))
    }

    async fn attach_eni(&self, request: AttachRequest) -> Result<String, Ec2Error> {
        let index = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        let out = self
            .client
            .attach_network_interface()
            .network_interface_id(&request.eni_id)
            .instance_id(&request.instance_id)
            .device_index(index(request.device_index))
            // Always explicit: on multi-card instances EC2 has answered "device index in
            // use" for a free slot when the card index was left out.
            .network_card_index(index(request.network_card_index))
            .set_ena_srd_specification(request.ena.srd.map(|s| {
                EnaSrdSpecification::builder()
                    .ena_srd_enabled(s.enabled)
                    .ena_srd_udp_specification(
                        EnaSrdUdpSpecification::builder()
                            .ena_srd_udp_enabled(s.udp)
                            .build(),
                    )
                    .build()
            }))
            .set_ena_queue_count(request.ena.queue_count.map(index))
            .send()
            .await
            .map_err(map_err)?;
        out.attachment_id()
            .map(str::to_string)
            .ok_or_else(|| Self::missing("the attachment ID"))
    }

    async fn set_delete_on_termination(
        &self,
        eni_id: &str,
        attachment_id: &str,
        delete_on_termination: bool,
    ) -> Result<(), Ec2Error> {
        self.client
            .modify_network_interface_attribute()
            .network_interface_id(eni_id)
            .attachment(
                NetworkInterfaceAttachmentChanges::builder()
                    .attachment_id(attachment_id)
                    .delete_on_termination(delete_on_termination)
                    .build(),
            )
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn modify_security_groups(
        &self,
        eni_id: &str,
        security_group_ids: &[String],
    ) -> Result<(), Ec2Error> {
        self.client
            .modify_network_interface_attribute()
            .network_interface_id(eni_id)
            .set_groups(Some(security_group_ids.to_vec()))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn set_source_dest_check(&self, eni_id: &str, value: bool) -> Result<(), Ec2Error> {
        self.source_dest_check(eni_id, value).await
    }

    async fn set_connection_tracking(
        &self,
        eni_id: &str,
        value: &crate::plan::attributes::ConnectionTracking,
    ) -> Result<(), Ec2Error> {
        self.connection_tracking(eni_id, value).await
    }

    async fn change_addresses(&self, eni_id: &str, change: &AddressChange) -> Result<(), Ec2Error> {
        self.addresses(eni_id, change).await
    }

    async fn detach_eni(&self, attachment_id: &str, force: bool) -> Result<(), Ec2Error> {
        self.client
            .detach_network_interface()
            .attachment_id(attachment_id)
            .force(force)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_eni(&self, eni_id: &str) -> Result<(), Ec2Error> {
        self.client
            .delete_network_interface()
            .network_interface_id(eni_id)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn describe_enis(
        &self,
        filter: &EniFilter,
        next_token: Option<String>,
    ) -> Result<Page<Eni>, Ec2Error> {
        let mut call = self.client.describe_network_interfaces();
        // By ID: one call, whatever the account holds (a filter on the IDs would scan the
        // account a page at a time). EC2 refuses MaxResults with IDs.
        call = if filter.ids.is_empty() {
            call.set_next_token(next_token).max_results(self.page_size)
        } else {
            call.set_network_interface_ids(Some(filter.ids.clone()))
        };
        let filters = eni_filters(filter);
        if !filters.is_empty() {
            call = call.set_filters(Some(filters));
        }
        let out = call.send().await.map_err(map_err)?;
        Ok(Page {
            // Filtered again locally: cheap, and it keeps the semantics identical across
            // EC2, moto and the simulator.
            items: out
                .network_interfaces()
                .iter()
                .map(eni_from)
                .filter(|e| filter.matches(e))
                .collect(),
            next_token: out.next_token().map(str::to_string),
        })
    }

    async fn describe_instances(&self, instance_ids: &[String]) -> Result<Vec<Instance>, Ec2Error> {
        let out = self
            .client
            .describe_instances()
            .set_instance_ids(Some(instance_ids.to_vec()))
            .send()
            .await
            .map_err(map_err)?;
        Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(instance_from)
            .collect())
    }

    async fn describe_instance_type_limits(
        &self,
        instance_type: &str,
    ) -> Result<EniLimits, Ec2Error> {
        self.instance_type_limits(instance_type).await
    }

    async fn describe_subnets(&self, lookup: &SubnetLookup) -> Result<Vec<Subnet>, Ec2Error> {
        let call = self.client.describe_subnets();
        let call = match lookup {
            SubnetLookup::Ids(ids) => call.set_subnet_ids(Some(ids.clone())),
            SubnetLookup::Names(names) => call.filters(filter("tag:Name", names.iter().cloned())),
        };
        let out = call.send().await.map_err(map_err)?;
        Ok(out.subnets().iter().map(subnet_from).collect())
    }

    async fn describe_security_groups(
        &self,
        lookup: &SecurityGroupLookup,
    ) -> Result<Vec<SecurityGroup>, Ec2Error> {
        match lookup {
            SecurityGroupLookup::Ids(ids) => {
                let out = self
                    .client
                    .describe_security_groups()
                    .set_group_ids(Some(ids.clone()))
                    .send()
                    .await
                    .map_err(map_err)?;
                Ok(out.security_groups().iter().map(group_from).collect())
            }
            SecurityGroupLookup::Names { names, vpc_id } => {
                // By group name first, then (as the Go controller did) by the Name tag
                // for the names that matched no group name.
                let mut found: Vec<SecurityGroup> = Vec::new();
                let mut wanted: Vec<String> = names.clone();
                for key in ["group-name", "tag:Name"] {
                    if wanted.is_empty() {
                        break;
                    }
                    let mut call = self
                        .client
                        .describe_security_groups()
                        .filters(filter(key, wanted.iter().cloned()));
                    if let Some(vpc) = vpc_id {
                        call = call.filters(filter("vpc-id", [vpc.clone()]));
                    }
                    let out = call.send().await.map_err(map_err)?;
                    for g in out.security_groups() {
                        let tag_name = convert::tags_from(g.tags()).remove("Name");
                        wanted.retain(|n| {
                            Some(n.as_str()) != g.group_name() && Some(n) != tag_name.as_ref()
                        });
                        found.push(group_from(g));
                    }
                }
                Ok(found)
            }
        }
    }

    async fn tag_eni(&self, eni_id: &str, tags: &Tags) -> Result<(), Ec2Error> {
        self.client
            .create_tags()
            .resources(eni_id)
            .set_tags(Some(tags_to(tags)))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
