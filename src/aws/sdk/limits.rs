//! `DescribeInstanceTypes`: an instance type's ENI limits per network card, its private
//! IPv4 addresses per interface, ENA Express and flexible ENA queues.

use aws_sdk_ec2::types::{FlexibleEnaQueuesSupport, InstanceType};

use super::SdkEc2;
use super::convert::map_err;
use crate::aws::{Ec2Error, EniLimits, NetworkCardLimit};

impl SdkEc2 {
    /// The limits of `instance_type`; `NotFound` when EC2 gives no network information.
    pub(super) async fn instance_type_limits(
        &self,
        instance_type: &str,
    ) -> Result<EniLimits, Ec2Error> {
        let out = self
            .client
            .describe_instance_types()
            .instance_types(InstanceType::from(instance_type))
            .send()
            .await
            .map_err(map_err)?;
        let info = out
            .instance_types()
            .first()
            .and_then(|t| t.network_info())
            .ok_or_else(|| Ec2Error::NotFound {
                what: crate::aws::Missing::InstanceType,
                code: "InvalidInstanceType.NotFound".into(),
                message: format!("no network information for instance type {instance_type}"),
            })?;
        let max = info
            .maximum_network_interfaces()
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(0);
        let cards: Vec<NetworkCardLimit> = info
            .network_cards()
            .iter()
            .filter_map(|c| {
                Some(NetworkCardLimit {
                    index: u32::try_from(c.network_card_index()?).ok()?,
                    max_interfaces: u32::try_from(c.maximum_network_interfaces()?).ok()?,
                })
            })
            .collect();
        let ipv4 = info
            .ipv4_addresses_per_interface()
            .and_then(|n| u32::try_from(n).ok());
        // Queues per interface: the least any card allows, where the type has flexible
        // queues at all (else it takes no count).
        let ena_queues = match info.flexible_ena_queues_support() {
            Some(FlexibleEnaQueuesSupport::Supported) => info
                .network_cards()
                .iter()
                .filter_map(|c| u32::try_from(c.maximum_ena_queue_count_per_interface()?).ok())
                .min(),
            Some(_) => Some(0),
            None => None,
        };
        let base = if cards.is_empty() {
            EniLimits::single_card(max)
        } else {
            EniLimits {
                max_interfaces: max,
                cards,
                ..EniLimits::single_card(max)
            }
        };
        Ok(EniLimits {
            ipv4_per_interface: ipv4,
            ena_srd_supported: info.ena_srd_supported(),
            ena_queues_per_interface: ena_queues,
            ipv6_per_interface: info
                .ipv6_addresses_per_interface()
                .and_then(|n| u32::try_from(n).ok()),
            ..base
        })
    }
}
