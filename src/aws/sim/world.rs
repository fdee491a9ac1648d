//! The simulated EC2 world: subnets, groups, instances and ENIs, and the rules EC2
//! applies to them. Every method is synchronous and takes the current (tokio) time;
//! the simulator wraps them with latency, throttling and faults.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::time::Instant;

use crate::aws::{
    AttachmentStatus, Ec2Error, Eni, EniLimits, EniStatus, Instance, InstanceInterface,
    InstanceState, SecurityGroup, Subnet, Tags,
};

pub(super) fn err(code: &str, message: impl Into<String>) -> Ec2Error {
    Ec2Error::classify(code, &message.into(), Some(400))
}

pub(super) struct SimSubnet {
    pub(super) subnet: Subnet,
    pub(super) base: u32,
    pub(super) next_host: u32,
    pub(super) free: u32,
    /// IPv6 addresses and /80 prefixes handed out so far (from its IPv6 block).
    pub(super) ipv6_next: u32,
}

pub(super) struct SimInstance {
    pub(super) id: String,
    pub(super) instance_type: String,
    pub(super) az: String,
    pub(super) vpc_id: String,
    pub(super) state: InstanceState,
    pub(super) tags: Tags,
    /// (card, device index) -> ENI ID, including attaching and detaching ones.
    pub(super) slots: BTreeMap<(u32, u32), String>,
    /// `DescribeInstances` does not know it before then (EC2's consistency lag).
    pub(super) visible_from: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Settle {
    Attached,
    Detached,
}

/// An attachment transition due at `at` (ordered by time, then by scheduling order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    at: Instant,
    seq: u64,
    kind: Settle,
    eni_id: String,
    attachment_id: String,
}

/// What a ClientToken's create asked for: subnet, sorted groups, description, tags and
/// secondary address count.
pub(super) type CreateParams = (String, Vec<String>, String, Tags, u32);

/// The whole simulated account in one Region.
#[derive(Default)]
pub(super) struct World {
    next_id: u64,
    pub(super) subnets: BTreeMap<String, SimSubnet>,
    pub(super) groups: BTreeMap<String, SecurityGroup>,
    pub(super) instance_types: HashMap<String, EniLimits>,
    pub(super) instances: BTreeMap<String, SimInstance>,
    pub(super) enis: BTreeMap<String, Eni>,
    /// How many times an ENI was removed from `enis` ([`World::remove_eni`]) or lost a
    /// tag by hand: what can lower a count of ENIs by their tags.
    pub(super) removed: u64,
    pub(super) attachment_to_eni: HashMap<String, String>,
    pub(super) tokens: HashMap<String, (CreateParams, Eni)>,
    /// When each ENI was created (for the listing lag).
    pub(super) created: HashMap<String, Instant>,
    pending: BinaryHeap<Reverse<Pending>>,
    pub(super) attach_delay: Duration,
    pub(super) detach_delay: Duration,
    /// How long describes keep showing an ENI's secondary addresses as they were before
    /// an address call (EC2's describes are eventually consistent).
    pub(super) address_lag: Duration,
    /// ENI → its secondary addresses before its last address call, and when it was made.
    pub(super) addresses_before: HashMap<String, (Vec<String>, Instant)>,
}

impl World {
    pub(super) fn new(attach_delay: Duration, detach_delay: Duration) -> Self {
        World {
            attach_delay,
            detach_delay,
            ..Default::default()
        }
    }

    /// Removes an ENI from the account, counting it.
    pub(super) fn remove_eni(&mut self, eni_id: &str) -> Option<Eni> {
        let eni = self.enis.remove(eni_id);
        self.removed += u64::from(eni.is_some());
        eni
    }

    pub(super) fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        // Spread the counter so IDs look like EC2's 17 hex digits.
        format!(
            "{prefix}-{:017x}",
            0x0a5e_0000_0000_u64 + self.next_id * 0x1_0001
        )
    }

    pub(super) fn mac(&mut self) -> String {
        self.next_id += 1;
        let b = self.next_id.to_be_bytes();
        format!(
            "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[3], b[4], b[5], b[6], b[7]
        )
    }

    pub(super) fn add_subnet(
        &mut self,
        vpc_id: &str,
        az: &str,
        cidr: &str,
        name: Option<&str>,
    ) -> Subnet {
        let (base, prefix) = cidr
            .split_once('/')
            .and_then(|(a, p)| Some((a.parse::<Ipv4Addr>().ok()?, p.parse::<u32>().ok()?)))
            .unwrap_or((Ipv4Addr::new(10, 0, 0, 0), 24));
        let size = 1u32.checked_shl(32 - prefix.min(28)).unwrap_or(u32::MAX);
        let subnet = Subnet {
            id: self.new_id("subnet"),
            availability_zone: az.to_string(),
            cidr: cidr.to_string(),
            vpc_id: vpc_id.to_string(),
            name: name.map(str::to_string),
            ipv6_cidr: None,
        };
        self.subnets.insert(
            subnet.id.clone(),
            SimSubnet {
                subnet: subnet.clone(),
                base: u32::from(base),
                next_host: 4,
                free: size.saturating_sub(5),
                ipv6_next: 0,
            },
        );
        subnet
    }

    /// Advances attach/detach transitions that are due at `now`.
    pub(super) fn settle(&mut self, now: Instant) {
        while self.pending.peek().is_some_and(|Reverse(p)| p.at <= now) {
            let Some(Reverse(Pending {
                kind,
                eni_id,
                attachment_id,
                ..
            })) = self.pending.pop()
            else {
                break;
            };
            let Some(eni) = self.enis.get_mut(&eni_id) else {
                continue;
            };
            let Some(att) = eni
                .attachment
                .as_mut()
                .filter(|a| a.attachment_id == attachment_id)
            else {
                continue;
            };
            match kind {
                Settle::Attached if att.status == AttachmentStatus::Attaching => {
                    att.status = AttachmentStatus::Attached;
                    eni.status = EniStatus::InUse;
                }
                Settle::Detached if att.status == AttachmentStatus::Detaching => {
                    let instance = att.instance_id.clone().unwrap_or_default();
                    let slot = (att.network_card_index, att.device_index);
                    eni.attachment = None;
                    eni.status = EniStatus::Available;
                    self.attachment_to_eni.remove(&attachment_id);
                    if let Some(i) = self.instances.get_mut(&instance) {
                        i.slots.remove(&slot);
                    }
                }
                _ => {}
            }
        }
    }

    pub(super) fn schedule(
        &mut self,
        at: Instant,
        kind: Settle,
        eni_id: &str,
        attachment_id: &str,
    ) {
        self.next_id += 1;
        self.pending.push(Reverse(Pending {
            at,
            seq: self.next_id,
            kind,
            eni_id: eni_id.into(),
            attachment_id: attachment_id.into(),
        }));
    }

    pub(super) fn instance_view(&self, instance_id: &str) -> Result<Instance, Ec2Error> {
        let i = self.instances.get(instance_id).ok_or_else(|| {
            err(
                "InvalidInstanceID.NotFound",
                format!("The instance ID '{instance_id}' does not exist"),
            )
        })?;
        let interfaces = i
            .slots
            .values()
            .filter_map(|id| self.enis.get(id))
            .filter_map(|e| {
                let a = e.attachment.as_ref()?;
                Some(InstanceInterface {
                    eni_id: e.id.clone(),
                    attachment_id: a.attachment_id.clone(),
                    device_index: a.device_index,
                    network_card_index: a.network_card_index,
                    status: a.status,
                    mac_address: e.mac_address.clone(),
                })
            })
            .collect();
        Ok(Instance {
            id: i.id.clone(),
            instance_type: i.instance_type.clone(),
            availability_zone: i.az.clone(),
            vpc_id: i.vpc_id.clone(),
            state: i.state,
            interfaces,
            tags: i.tags.clone(),
        })
    }

    /// Terminates an instance: ENIs with deleteOnTermination go with it, the others are
    /// detached and left `available`.
    pub(super) fn terminate(&mut self, instance_id: &str) -> Result<(), Ec2Error> {
        let inst = self.instances.get_mut(instance_id).ok_or_else(|| {
            err(
                "InvalidInstanceID.NotFound",
                format!("The instance ID '{instance_id}' does not exist"),
            )
        })?;
        inst.state = InstanceState::Terminated;
        let slots = std::mem::take(&mut inst.slots);
        for eni_id in slots.into_values() {
            let Some(eni) = self.enis.get_mut(&eni_id) else {
                continue;
            };
            let doomed = eni
                .attachment
                .as_ref()
                .is_some_and(|a| a.delete_on_termination);
            if let Some(a) = eni.attachment.take() {
                self.attachment_to_eni.remove(&a.attachment_id);
            }
            eni.status = EniStatus::Available;
            if doomed {
                self.delete(&eni_id)?;
            }
        }
        Ok(())
    }
}
