//! The calls on an ENI's addresses and attributes beyond its groups and attachment:
//! secondary addresses, the source/destination check, connection tracking.

use aws_sdk_ec2::types::{AttributeBooleanValue, ConnectionTrackingSpecificationRequest};

use super::SdkEc2;
use super::convert::map_err;
use crate::aws::{AddressChange, Ec2Error};
use crate::plan::attributes::ConnectionTracking;

/// The SDK's `ConnectionTrackingSpecification` of `c` (only the timeouts it sets).
pub(super) fn conntrack_request(c: &ConnectionTracking) -> ConnectionTrackingSpecificationRequest {
    let secs = |v: Option<u32>| v.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
    ConnectionTrackingSpecificationRequest::builder()
        .set_tcp_established_timeout(secs(c.tcp_established))
        .set_udp_stream_timeout(secs(c.udp_stream))
        .set_udp_timeout(secs(c.udp))
        .build()
}

impl SdkEc2 {
    /// `ModifyNetworkInterfaceAttribute` with `SourceDestCheck` (one attribute per call,
    /// as EC2 requires).
    pub(super) async fn source_dest_check(
        &self,
        eni_id: &str,
        value: bool,
    ) -> Result<(), Ec2Error> {
        self.client
            .modify_network_interface_attribute()
            .network_interface_id(eni_id)
            .source_dest_check(AttributeBooleanValue::builder().value(value).build())
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// `ModifyNetworkInterfaceAttribute` with `ConnectionTrackingSpecification`.
    pub(super) async fn connection_tracking(
        &self,
        eni_id: &str,
        value: &ConnectionTracking,
    ) -> Result<(), Ec2Error> {
        self.client
            .modify_network_interface_attribute()
            .network_interface_id(eni_id)
            .connection_tracking_specification(conntrack_request(value))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// `AssignPrivateIpAddresses` or `UnassignPrivateIpAddresses`.
    pub(super) async fn addresses(
        &self,
        eni_id: &str,
        change: &AddressChange,
    ) -> Result<(), Ec2Error> {
        match change {
            AddressChange::AssignIpv4 { count } => {
                self.client
                    .assign_private_ip_addresses()
                    .network_interface_id(eni_id)
                    .secondary_private_ip_address_count(i32::try_from(*count).unwrap_or(i32::MAX))
                    .send()
                    .await
                    .map_err(map_err)?;
            }
            AddressChange::AssignIpv4Prefixes { count } => {
                self.client
                    .assign_private_ip_addresses()
                    .network_interface_id(eni_id)
                    .ipv4_prefix_count(i32::try_from(*count).unwrap_or(i32::MAX))
                    .send()
                    .await
                    .map_err(map_err)?;
            }
            AddressChange::UnassignIpv4Prefixes { prefixes } => {
                self.client
                    .unassign_private_ip_addresses()
                    .network_interface_id(eni_id)
                    .set_ipv4_prefixes(Some(prefixes.clone()))
                    .send()
                    .await
                    .map_err(map_err)?;
            }
            AddressChange::AssignIpv6 { count } => {
                self.client
                    .assign_ipv6_addresses()
                    .network_interface_id(eni_id)
                    .ipv6_address_count(i32::try_from(*count).unwrap_or(i32::MAX))
                    .send()
                    .await
                    .map_err(map_err)?;
            }
            AddressChange::AssignIpv6Prefixes { count } => {
                self.client
                    .assign_ipv6_addresses()
                    .network_interface_id(eni_id)
                    .ipv6_prefix_count(i32::try_from(*count).unwrap_or(i32::MAX))
                    .send()
                    .await
                    .map_err(map_err)?;
            }
            AddressChange::UnassignIpv6 { addresses } => {
                self.client
                    .unassign_ipv6_addresses()
                    .network_interface_id(eni_id)
                    .set_ipv6_addresses(Some(addresses.clone()))
                    .send()
                    .await
                    .map_err(map_err)?;
            }
            AddressChange::UnassignIpv6Prefixes { prefixes } => {
                self.client
                    .unassign_ipv6_addresses()
                    .network_interface_id(eni_id)
                    .set_ipv6_prefixes(Some(prefixes.clone()))
                    .send()
                    .await
                    .map_err(map_err)?;
            }
            AddressChange::UnassignIpv4 { addresses } => {
                self.client
                    .unassign_private_ip_addresses()
                    .network_interface_id(eni_id)
                    .set_private_ip_addresses(Some(addresses.clone()))
                    .send()
                    .await
                    .map_err(map_err)?;
            }
        }
        Ok(())
    }
}
