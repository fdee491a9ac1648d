//! The rules EC2 applies to an ENI's addresses, /28 prefixes, source/destination check
//! and connection tracking: addresses and prefixes come from the subnet's free ones, an
//! attached ENI takes at most its instance type's `Ipv4AddressesPerInterface` (a prefix
//! counting as one), and an unassigned address or prefix goes back to the subnet.

use std::net::Ipv4Addr;

use tokio::time::Instant;

use super::world::{World, err};
use crate::aws::{AddressChange, Ec2Error, Eni};
use crate::plan::attributes::ConnectionTracking;

impl World {
    /// The subnet's next free address.
    pub(super) fn take_address(&mut self, subnet_id: &str) -> Result<String, Ec2Error> {
        let subnet = self
            .subnets
            .get_mut(subnet_id)
            .ok_or_else(|| err("InvalidSubnetID.NotFound", "gone"))?;
        if subnet.free == 0 {
            return Err(err(
                "InsufficientFreeAddressesInSubnet",
                "no free addresses in the subnet",
            ));
        }
        let ip = Ipv4Addr::from(subnet.base.wrapping_add(subnet.next_host));
        subnet.next_host += 1;
        subnet.free -= 1;
        Ok(ip.to_string())
    }

    /// The subnet's next free /28 prefix (16 addresses, aligned to 16).
    pub(super) fn take_prefix(&mut self, subnet_id: &str) -> Result<String, Ec2Error> {
        let subnet = self
            .subnets
            .get_mut(subnet_id)
            .ok_or_else(|| err("InvalidSubnetID.NotFound", "gone"))?;
        let start = subnet.next_host.div_ceil(16) * 16;
        let used = start - subnet.next_host + 16;
        if subnet.free < used {
            return Err(err(
                "InsufficientCidrBlocks",
                "There aren't sufficient contiguous free addresses in the subnet for a /28 prefix",
            ));
        }
        subnet.next_host = start + 16;
        subnet.free -= used;
        Ok(format!(
            "{}/28",
            Ipv4Addr::from(subnet.base.wrapping_add(start))
        ))
    }

    /// The subnet's next IPv6 address (`prefix: false`) or /80 prefix from its IPv6
    /// block; refused on a subnet without one, as EC2 does.
    pub(super) fn take_ipv6(&mut self, subnet_id: &str, prefix: bool) -> Result<String, Ec2Error> {
        let subnet = self
            .subnets
            .get_mut(subnet_id)
            .ok_or_else(|| err("InvalidSubnetID.NotFound", "gone"))?;
        let Some(block) = subnet.subnet.ipv6_cidr.clone() else {
            return Err(err(
                "InvalidParameterValue",
                format!("Subnet {subnet_id} does not have an IPv6 CIDR block"),
            ));
        };
        subnet.ipv6_next += 1;
        let n = subnet.ipv6_next;
        // A /64 block: `a:b:c:d::/64`; addresses `a:b:c:d::n`, prefixes `a:b:c:d:n::/80`.
        let head = block.split("::").next().unwrap_or(&block).to_string();
        Ok(if prefix {
            format!("{head}:{n:x}::/80")
        } else {
            format!("{head}::{:x}", 0x1000 + n)
        })
    }

    /// The IPv6 addresses an ENI's instance type takes per interface, when attached to a
    /// known type.
    fn ipv6_limit(&self, eni_id: &str) -> Option<u32> {
        let instance = self
            .enis
            .get(eni_id)?
            .attachment
            .as_ref()?
            .instance_id
            .clone()?;
        let instance_type = &self.instances.get(&instance)?.instance_type;
        self.instance_types.get(instance_type)?.ipv6_per_interface
    }

    /// The private IPv4 addresses an ENI's instance type takes per interface, when it is
    /// attached to a known type.
    fn ipv4_limit(&self, eni_id: &str) -> Option<u32> {
        let instance = self
            .enis
            .get(eni_id)?
            .attachment
            .as_ref()?
            .instance_id
            .clone()?;
        let instance_type = &self.instances.get(&instance)?.instance_type;
        self.instance_types.get(instance_type)?.ipv4_per_interface
    }

    /// `eni` as describes show it at `now`: its addresses of before its last address
    /// call while that call is within the lag.
    pub(super) fn described(&self, eni: &Eni, now: Instant) -> Eni {
        let mut shown = eni.clone();
        if let Some((before, at)) = self.addresses_before.get(&eni.id)
            && now.duration_since(*at) < self.address_lag
        {
            shown.secondary_ips = before.clone();
        }
        shown
    }

    pub(super) fn change_addresses(
        &mut self,
        now: Instant,
        eni_id: &str,
        change: &AddressChange,
    ) -> Result<(), Ec2Error> {
        let eni = self.eni_mut(eni_id)?;
        let subnet_id = eni.subnet_id.clone();
        let before = eni.secondary_ips.clone();
        self.addresses_before
            .insert(eni_id.to_string(), (before, now));
        let eni = self.eni_mut(eni_id)?;
        // The primary, each secondary address and each prefix count as one.
        let taken = 1 + eni.secondary_ips.len() as u32 + eni.ipv4_prefixes.len() as u32;
        let taken_v6 = eni.ipv6_addresses.len() as u32 + eni.ipv6_prefixes.len() as u32;
        match change {
            AddressChange::AssignIpv6 { count } | AddressChange::AssignIpv6Prefixes { count } => {
                let prefix = matches!(change, AddressChange::AssignIpv6Prefixes { .. });
                if let Some(limit) = self.ipv6_limit(eni_id)
                    && taken_v6 + count > limit
                {
                    return Err(err(
                        "InvalidParameterValue",
                        format!(
                            "Number of IPv6 addresses will exceed limit {limit} for the interface"
                        ),
                    ));
                }
                let items = (0..*count)
                    .map(|_| self.take_ipv6(&subnet_id, prefix))
                    .collect::<Result<Vec<_>, _>>()?;
                let eni = self.eni_mut(eni_id)?;
                if prefix {
                    eni.ipv6_prefixes.extend(items);
                } else {
                    eni.ipv6_addresses.extend(items);
                }
            }
            AddressChange::UnassignIpv6 { addresses: items }
            | AddressChange::UnassignIpv6Prefixes { prefixes: items } => {
                let list = if matches!(change, AddressChange::UnassignIpv6Prefixes { .. }) {
                    &mut eni.ipv6_prefixes
                } else {
                    &mut eni.ipv6_addresses
                };
                if let Some(a) = items.iter().find(|a| !list.contains(a)) {
                    return Err(err(
                        "InvalidParameterValue",
                        format!("{a} is not assigned to interface {eni_id}"),
                    ));
                }
                list.retain(|a| !items.contains(a));
            }
            AddressChange::AssignIpv4Prefixes { count } => {
                if let Some(limit) = self.ipv4_limit(eni_id)
                    && taken + count > limit
                {
                    return Err(err(
                        "PrivateIpAddressLimitExceeded",
                        format!(
                            "Number of private addresses will exceed limit {limit} for the interface"
                        ),
                    ));
                }
                let prefixes = (0..*count)
                    .map(|_| self.take_prefix(&subnet_id))
                    .collect::<Result<Vec<_>, _>>()?;
                self.eni_mut(eni_id)?.ipv4_prefixes.extend(prefixes);
            }
            AddressChange::UnassignIpv4Prefixes { prefixes } => {
                if let Some(p) = prefixes.iter().find(|p| !eni.ipv4_prefixes.contains(p)) {
                    return Err(err(
                        "InvalidParameterValue",
                        format!("Prefix {p} is not assigned to interface {eni_id}"),
                    ));
                }
                eni.ipv4_prefixes.retain(|p| !prefixes.contains(p));
                if let Some(s) = self.subnets.get_mut(&subnet_id) {
                    s.free += 16 * prefixes.len() as u32;
                }
            }
            AddressChange::AssignIpv4 { count } => {
                let after = taken + count;
                if let Some(limit) = self.ipv4_limit(eni_id)
                    && after > limit
                {
                    return Err(err(
                        "PrivateIpAddressLimitExceeded",
                        format!(
                            "Number of private addresses will exceed limit {limit} for the interface"
                        ),
                    ));
                }
                let ips = (0..*count)
                    .map(|_| self.take_address(&subnet_id))
                    .collect::<Result<Vec<_>, _>>()?;
                self.eni_mut(eni_id)?.secondary_ips.extend(ips);
            }
            AddressChange::UnassignIpv4 { addresses } => {
                if let Some(a) = addresses.iter().find(|a| !eni.secondary_ips.contains(a)) {
                    return Err(err(
                        "InvalidParameterValue",
                        format!(
                            "Some of the specified addresses are not assigned to interface {eni_id}: {a}"
                        ),
                    ));
                }
                eni.secondary_ips.retain(|a| !addresses.contains(a));
                if let Some(s) = self.subnets.get_mut(&subnet_id) {
                    s.free += addresses.len() as u32;
                }
            }
        }
        Ok(())
    }

    pub(super) fn set_source_dest_check(
        &mut self,
        eni_id: &str,
        value: bool,
    ) -> Result<(), Ec2Error> {
        self.eni_mut(eni_id)?.source_dest_check = value;
        Ok(())
    }

    /// `ModifyNetworkInterfaceAttribute` `ConnectionTrackingSpecification`: the timeouts
    /// `value` sets replace those of the ENI; the others stay.
    pub(super) fn set_connection_tracking(
        &mut self,
        eni_id: &str,
        value: &ConnectionTracking,
    ) -> Result<(), Ec2Error> {
        let e = self.eni_mut(eni_id)?;
        let mut now = e.connection_tracking.unwrap_or_default();
        now.tcp_established = value.tcp_established.or(now.tcp_established);
        now.udp_stream = value.udp_stream.or(now.udp_stream);
        now.udp = value.udp.or(now.udp);
        e.connection_tracking = Some(now);
        Ok(())
    }
}
