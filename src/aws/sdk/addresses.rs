//! The calls on an ENI's addresses and attributes beyond its groups and attachment.

use aws_sdk_ec2::types::AttributeBooleanValue;

use super::SdkEc2;
use super::convert::map_err;
use crate::aws::{AddressChange, Ec2Error};

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
