//! Conversions between `aws-sdk-ec2` types and the port's own values and errors.

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types as sdk;

use crate::plan::attributes::ConnectionTracking;
use crate::plan::interface_limits::EnaSrd;

use crate::aws::{
    AttachmentStatus, Ec2Error, EnaAttach, Eni, EniAttachment, EniFilter, EniStatus, Instance,
    InstanceInterface, InstanceState, SecurityGroup, Subnet, TagFilter, Tags,
};

/// Maps any SDK failure to the port's error, keeping EC2's code and message.
pub(super) fn map_err<E>(err: SdkError<E, HttpResponse>) -> Ec2Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) => Ec2Error::transient("EC2 call timed out"),
        SdkError::DispatchFailure(failure) => {
            if failure.is_user() {
                Ec2Error::Other {
                    code: String::new(),
                    message: format!("request could not be sent: {failure:?}"),
                }
            } else {
                Ec2Error::transient(format!("request could not be sent: {failure:?}"))
            }
        }
        SdkError::ResponseError(_) => Ec2Error::transient("unreadable response from EC2"),
        SdkError::ServiceError(ctx) => Ec2Error::classify(
            ctx.err().code().unwrap_or_default(),
            ctx.err().message().unwrap_or_default(),
            Some(ctx.raw().status().as_u16()),
        ),
        SdkError::ConstructionFailure(_) => Ec2Error::Other {
            code: String::new(),
            message: format!(
                "request could not be built: {}",
                aws_sdk_ec2::error::DisplayErrorContext(&err)
            ),
        },
        _ => Ec2Error::Other {
            code: err.code().unwrap_or_default().to_string(),
            message: aws_sdk_ec2::error::DisplayErrorContext(&err).to_string(),
        },
    }
}

fn to_u32(v: Option<i32>) -> u32 {
    v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

pub(super) fn tags_from(tags: &[sdk::Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

pub(super) fn tags_to(tags: &Tags) -> Vec<sdk::Tag> {
    tags.iter()
        .map(|(k, v)| sdk::Tag::builder().key(k).value(v).build())
        .collect()
}

pub(super) fn filter(name: &str, values: impl IntoIterator<Item = String>) -> sdk::Filter {
    sdk::Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

/// EC2 filters for an [`EniFilter`] (its IDs go in `NetworkInterfaceIds`, not here).
pub(super) fn eni_filters(f: &EniFilter) -> Vec<sdk::Filter> {
    let mut out = Vec::new();
    for t in &f.tags {
        match t {
            TagFilter::Equals(k, v) => out.push(filter(&format!("tag:{k}"), [v.clone()])),
            TagFilter::Exists(k) => out.push(filter("tag-key", [k.clone()])),
        }
    }
    if let Some(i) = &f.instance_id {
        out.push(filter("attachment.instance-id", [i.clone()]));
    }
    if let Some(s) = f.status {
        out.push(filter("status", [s.as_str().to_string()]));
    }
    if let Some(s) = &f.subnet_id {
        out.push(filter("subnet-id", [s.clone()]));
    }
    out
}

pub(super) fn eni_from(n: &sdk::NetworkInterface) -> Eni {
    Eni {
        id: n.network_interface_id().unwrap_or_default().to_string(),
        mac_address: n.mac_address().unwrap_or_default().to_string(),
        subnet_id: n.subnet_id().unwrap_or_default().to_string(),
        availability_zone: n.availability_zone().unwrap_or_default().to_string(),
        vpc_id: n.vpc_id().unwrap_or_default().to_string(),
        private_ip: n.private_ip_address().map(str::to_string),
        secondary_ips: n
            .private_ip_addresses()
            .iter()
            .filter(|a| a.primary() != Some(true))
            .filter_map(|a| a.private_ip_address().map(str::to_string))
            .collect(),
        ipv4_prefixes: n
            .ipv4_prefixes()
            .iter()
            .filter_map(|p| p.ipv4_prefix().map(str::to_string))
            .collect(),
        ipv6_addresses: n
            .ipv6_addresses()
            .iter()
            .filter_map(|a| a.ipv6_address().map(str::to_string))
            .collect(),
        ipv6_prefixes: n
            .ipv6_prefixes()
            .iter()
            .filter_map(|p| p.ipv6_prefix().map(str::to_string))
            .collect(),
        source_dest_check: n.source_dest_check().unwrap_or(true),
        connection_tracking: n.connection_tracking_configuration().map(|c| {
            let secs = |v: Option<i32>| v.and_then(|n| u32::try_from(n).ok());
            ConnectionTracking {
                tcp_established: secs(c.tcp_established_timeout()),
                udp_stream: secs(c.udp_stream_timeout()),
                udp: secs(c.udp_timeout()),
            }
        }),
        security_group_ids: n
            .groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect(),
        description: n.description().unwrap_or_default().to_string(),
        status: n
            .status()
            .map(|s| EniStatus::parse(s.as_str()))
            .unwrap_or(EniStatus::Unknown),
        attachment: n.attachment().map(|a| EniAttachment {
            attachment_id: a.attachment_id().unwrap_or_default().to_string(),
            instance_id: a.instance_id().map(str::to_string),
            device_index: to_u32(a.device_index()),
            network_card_index: to_u32(a.network_card_index()),
            status: a
                .status()
                .map(|s| AttachmentStatus::parse(s.as_str()))
                .unwrap_or(AttachmentStatus::Unknown),
            delete_on_termination: a.delete_on_termination().unwrap_or(false),
            ena: EnaAttach {
                srd: a.ena_srd_specification().map(|s| EnaSrd {
                    enabled: s.ena_srd_enabled().unwrap_or(false),
                    udp: s
                        .ena_srd_udp_specification()
                        .and_then(|u| u.ena_srd_udp_enabled())
                        .unwrap_or(false),
                }),
                queue_count: a.ena_queue_count().and_then(|n| u32::try_from(n).ok()),
            },
        }),
        tags: tags_from(n.tag_set()),
    }
}

pub(super) fn instance_from(i: &sdk::Instance) -> Instance {
    Instance {
        id: i.instance_id().unwrap_or_default().to_string(),
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        availability_zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_string(),
        vpc_id: i.vpc_id().unwrap_or_default().to_string(),
        tags: tags_from(i.tags()),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| InstanceState::parse(n.as_str()))
            .unwrap_or(InstanceState::Unknown),
        interfaces: i
            .network_interfaces()
            .iter()
            .map(|n| {
                let a = n.attachment();
                InstanceInterface {
                    eni_id: n.network_interface_id().unwrap_or_default().to_string(),
                    attachment_id: a
                        .and_then(|a| a.attachment_id())
                        .unwrap_or_default()
                        .to_string(),
                    device_index: to_u32(a.and_then(|a| a.device_index())),
                    network_card_index: to_u32(a.and_then(|a| a.network_card_index())),
                    status: a
                        .and_then(|a| a.status())
                        .map(|s| AttachmentStatus::parse(s.as_str()))
                        .unwrap_or(AttachmentStatus::Unknown),
                    mac_address: n.mac_address().unwrap_or_default().to_string(),
                }
            })
            .collect(),
    }
}

pub(super) fn subnet_from(s: &sdk::Subnet) -> Subnet {
    Subnet {
        id: s.subnet_id().unwrap_or_default().to_string(),
        availability_zone: s.availability_zone().unwrap_or_default().to_string(),
        cidr: s.cidr_block().unwrap_or_default().to_string(),
        vpc_id: s.vpc_id().unwrap_or_default().to_string(),
        name: tags_from(s.tags()).remove("Name"),
        ipv6_cidr: s
            .ipv6_cidr_block_association_set()
            .iter()
            // Any block but one going away or failed (moto reports its subnets' state
            // oddly: read as "not gone").
            .find(|a| {
                a.ipv6_cidr_block_state()
                    .and_then(|st| st.state())
                    .is_none_or(|st| {
                        !matches!(
                            st.as_str(),
                            "disassociating" | "disassociated" | "failing" | "failed"
                        )
                    })
            })
            .and_then(|a| a.ipv6_cidr_block().map(str::to_string)),
    }
}

pub(super) fn group_from(g: &sdk::SecurityGroup) -> SecurityGroup {
    SecurityGroup {
        id: g.group_id().unwrap_or_default().to_string(),
        name: g.group_name().unwrap_or_default().to_string(),
        vpc_id: g.vpc_id().unwrap_or_default().to_string(),
    }
}
