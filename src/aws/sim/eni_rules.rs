//! The rules EC2 applies to ENI calls: create (with ClientToken idempotency), attach
//! (zones, cards, device indices, limits), deleteOnTermination, detach and delete.

use tokio::time::Instant;

use super::world::{Settle, World, err};
use crate::aws::{
    AttachmentStatus, CreateEniRequest, Ec2Error, EnaAttach, Eni, EniAttachment, EniLimits,
    EniStatus, InstanceState,
};

impl World {
    pub(super) fn create_eni(&mut self, r: &CreateEniRequest) -> Result<Eni, Ec2Error> {
        let mut groups = r.security_group_ids.clone();
        groups.sort();
        let params = (
            r.subnet_id.clone(),
            groups,
            r.description.clone(),
            r.tags.clone(),
            r.secondary_ipv4_count,
        );
        if let Some((seen, eni)) = self.tokens.get(r.client_token.as_str()) {
            // EC2 answers a repeated token with the original result, even if that ENI has
            // since been deleted; with other parameters it refuses.
            return if *seen == params {
                Ok(eni.clone())
            } else {
                Err(err(
                    "IdempotentParameterMismatch",
                    "client token reused with different parameters",
                ))
            };
        }
        let subnet = self.subnets.get(&r.subnet_id).ok_or_else(|| {
            err(
                "InvalidSubnetID.NotFound",
                format!("The subnet ID '{}' does not exist", r.subnet_id),
            )
        })?;
        for g in &r.security_group_ids {
            match self.groups.get(g) {
                None => {
                    return Err(err(
                        "InvalidGroup.NotFound",
                        format!("The security group '{g}' does not exist"),
                    ));
                }
                Some(sg) if sg.vpc_id != subnet.subnet.vpc_id => {
                    return Err(err(
                        "InvalidParameterValue",
                        format!("security group {g} is in another VPC"),
                    ));
                }
                Some(_) => {}
            }
        }
        if r.description.len() > 255 {
            return Err(err(
                "InvalidParameterValue",
                "description longer than 255 characters",
            ));
        }
        if subnet.free < 1 + r.secondary_ipv4_count {
            return Err(err(
                "InsufficientFreeAddressesInSubnet",
                "no free addresses in the subnet",
            ));
        }
        let (id, mac) = (self.new_id("eni"), self.mac());
        let ip = self.take_address(&r.subnet_id)?;
        if r.secondary_ipv4_count > 0 && r.ipv4_prefix_count > 0 {
            return Err(err(
                "InvalidParameterCombination",
                "You can't specify a count of IPv4 prefixes if you've specified a count of private IPv4 addresses",
            ));
        }
        let secondary_ips = (0..r.secondary_ipv4_count)
            .map(|_| self.take_address(&r.subnet_id))
            .collect::<Result<Vec<_>, _>>()?;
        let ipv4_prefixes = (0..r.ipv4_prefix_count)
            .map(|_| self.take_prefix(&r.subnet_id))
            .collect::<Result<Vec<_>, _>>()?;
        if r.ipv6_address_count > 0 && r.ipv6_prefix_count > 0 {
            return Err(err(
                "InvalidParameterCombination",
                "You can't specify a count of IPv6 prefixes if you've specified a count of IPv6 addresses",
            ));
        }
        let ipv6_addresses = (0..r.ipv6_address_count)
            .map(|_| self.take_ipv6(&r.subnet_id, false))
            .collect::<Result<Vec<_>, _>>()?;
        let ipv6_prefixes = (0..r.ipv6_prefix_count)
            .map(|_| self.take_ipv6(&r.subnet_id, true))
            .collect::<Result<Vec<_>, _>>()?;
        let subnet = self
            .subnets
            .get(&r.subnet_id)
            .ok_or_else(|| err("InvalidSubnetID.NotFound", "gone"))?;
        let eni = Eni {
            id: id.clone(),
            mac_address: mac,
            subnet_id: r.subnet_id.clone(),
            availability_zone: subnet.subnet.availability_zone.clone(),
            vpc_id: subnet.subnet.vpc_id.clone(),
            private_ip: Some(ip),
            secondary_ips,
            ipv4_prefixes,
            ipv6_addresses,
            ipv6_prefixes,
            source_dest_check: true,
            connection_tracking: r.connection_tracking,
            security_group_ids: r.security_group_ids.clone(),
            description: r.description.clone(),
            status: EniStatus::Available,
            attachment: None,
            tags: r.tags.clone(),
        };
        self.enis.insert(id, eni.clone());
        self.tokens
            .insert(r.client_token.as_str().to_string(), (params, eni.clone()));
        Ok(eni)
    }

    pub(super) fn eni_mut(&mut self, eni_id: &str) -> Result<&mut Eni, Ec2Error> {
        self.enis.get_mut(eni_id).ok_or_else(|| {
            err(
                "InvalidNetworkInterfaceID.NotFound",
                format!("The networkInterface ID '{eni_id}' does not exist"),
            )
        })
    }

    pub(super) fn attach(
        &mut self,
        now: Instant,
        eni_id: &str,
        instance_id: &str,
        device: u32,
        card: u32,
        ena: EnaAttach,
    ) -> Result<String, Ec2Error> {
        let eni = self.eni_mut(eni_id)?.clone();
        let inst = self.instances.get(instance_id).ok_or_else(|| {
            err(
                "InvalidInstanceID.NotFound",
                format!("The instance ID '{instance_id}' does not exist"),
            )
        })?;
        if !matches!(inst.state, InstanceState::Running | InstanceState::Stopped) {
            return Err(err(
                "IncorrectInstanceState",
                format!("instance {instance_id} is not running or stopped"),
            ));
        }
        if eni.attachment.is_some() {
            return Err(err(
                "InvalidNetworkInterface.InUse",
                format!("Interface: [{eni_id}] in use."),
            ));
        }
        if eni.availability_zone != inst.az || eni.vpc_id != inst.vpc_id {
            return Err(err(
                "InvalidParameterCombination",
                format!(
                    "network interface {eni_id} and instance {instance_id} are not in the same availability zone"
                ),
            ));
        }
        let limits = self
            .instance_types
            .get(&inst.instance_type)
            .cloned()
            .unwrap_or(EniLimits::single_card(3));
        let Some(card_max) = limits.card(card) else {
            return Err(err(
                "InvalidParameterValue",
                format!(
                    "network card index {card} is not valid for {}",
                    inst.instance_type
                ),
            ));
        };
        if ena.srd.is_some_and(|s| s.enabled || s.udp) && limits.ena_srd_supported == Some(false) {
            return Err(err(
                "UnsupportedOperation",
                format!("ENA Express is not supported for {}", inst.instance_type),
            ));
        }
        if let (Some(asked), Some(max)) = (ena.queue_count, limits.ena_queues_per_interface)
            && asked > max
        {
            return Err(err(
                "InvalidParameterValue",
                format!(
                    "EnaQueueCount {asked} exceeds the maximum of {max} for {}",
                    inst.instance_type
                ),
            ));
        }
        if inst.slots.contains_key(&(card, device)) {
            return Err(err(
                "InvalidParameterValue",
                format!(
                    "Instance '{instance_id}' already has an interface attached at device index '{device}'."
                ),
            ));
        }
        let on_card = inst.slots.keys().filter(|(c, _)| *c == card).count() as u32;
        if on_card >= card_max {
            return Err(err(
                "AttachmentLimitExceeded",
                format!(
                    "Interface count {} exceeds the limit for {}",
                    on_card + 1,
                    inst.instance_type
                ),
            ));
        }
        let attachment_id = self.new_id("eni-attach");
        if let Some(inst) = self.instances.get_mut(instance_id) {
            inst.slots.insert((card, device), eni_id.to_string());
        }
        let e = self.eni_mut(eni_id)?;
        e.status = EniStatus::Attaching;
        e.attachment = Some(EniAttachment {
            attachment_id: attachment_id.clone(),
            instance_id: Some(instance_id.to_string()),
            device_index: device,
            network_card_index: card,
            status: AttachmentStatus::Attaching,
            delete_on_termination: false,
            ena,
        });
        self.attachment_to_eni
            .insert(attachment_id.clone(), eni_id.to_string());
        self.schedule(
            now + self.attach_delay,
            Settle::Attached,
            eni_id,
            &attachment_id,
        );
        Ok(attachment_id)
    }

    fn attachment_not_found(attachment_id: &str) -> Ec2Error {
        err(
            "InvalidAttachmentID.NotFound",
            format!("The attachment ID '{attachment_id}' does not exist"),
        )
    }

    pub(super) fn set_delete_on_termination(
        &mut self,
        eni_id: &str,
        attachment_id: &str,
        value: bool,
    ) -> Result<(), Ec2Error> {
        let eni = self.eni_mut(eni_id)?;
        match eni
            .attachment
            .as_mut()
            .filter(|a| a.attachment_id == attachment_id)
        {
            Some(a) => {
                a.delete_on_termination = value;
                Ok(())
            }
            None => Err(Self::attachment_not_found(attachment_id)),
        }
    }

    pub(super) fn detach(&mut self, now: Instant, attachment_id: &str) -> Result<(), Ec2Error> {
        let eni_id = self
            .attachment_to_eni
            .get(attachment_id)
            .cloned()
            .ok_or_else(|| Self::attachment_not_found(attachment_id))?;
        let delay = self.detach_delay;
        let eni = self.eni_mut(&eni_id)?;
        let Some(att) = eni.attachment.as_mut() else {
            return Err(Self::attachment_not_found(attachment_id));
        };
        if att.device_index == 0 && att.network_card_index == 0 {
            return Err(err(
                "OperationNotPermitted",
                "The network interface at device index 0 cannot be detached.",
            ));
        }
        if att.status == AttachmentStatus::Detaching {
            return Ok(());
        }
        att.status = AttachmentStatus::Detaching;
        eni.status = EniStatus::Detaching;
        self.schedule(now + delay, Settle::Detached, &eni_id, attachment_id);
        Ok(())
    }

    pub(super) fn delete(&mut self, eni_id: &str) -> Result<(), Ec2Error> {
        let eni = self.eni_mut(eni_id)?;
        if eni.attachment.is_some() {
            return Err(err(
                "InvalidNetworkInterface.InUse",
                format!("Interface: [{eni_id}] in use."),
            ));
        }
        let subnet_id = eni.subnet_id.clone();
        let addresses = 1 + eni.secondary_ips.len() as u32;
        self.remove_eni(eni_id);
        if let Some(s) = self.subnets.get_mut(&subnet_id) {
            s.free += addresses;
        }
        Ok(())
    }
}
