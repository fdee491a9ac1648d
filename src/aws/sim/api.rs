//! The [`Ec2`] port implemented by the simulator: each method is one simulated call.

use async_trait::async_trait;

use crate::plan::attributes::ConnectionTracking;

use super::Ec2Simulator;
use super::world::err;
use crate::aws::{
    AddressChange, AttachRequest, CreateEniRequest, Ec2, Ec2Action, Ec2Error, Eni, EniFilter,
    EniLimits, Instance, Page, SecurityGroup, SecurityGroupLookup, Subnet, SubnetLookup, Tags,
};

#[async_trait]
impl Ec2 for Ec2Simulator {
    async fn create_eni(&self, request: CreateEniRequest) -> Result<Eni, Ec2Error> {
        // Logged as instance/subnet when the ENI is made for an instance (reports use it).
        let target = match request.tags.get(crate::aws::ownership::TAG_INSTANCE) {
            Some(i) => format!("{i}/{}", request.subnet_id),
            None => request.subnet_id.clone(),
        };
        self.call(Ec2Action::CreateNetworkInterface, &target, |w, now| {
            let eni = w.create_eni(&request)?;
            w.created.entry(eni.id.clone()).or_insert(now);
            Ok(eni)
        })
        .await
    }

    async fn attach_eni(&self, r: AttachRequest) -> Result<String, Ec2Error> {
        self.call(Ec2Action::AttachNetworkInterface, &r.eni_id, |w, now| {
            w.attach(
                now,
                &r.eni_id,
                &r.instance_id,
                r.device_index,
                r.network_card_index,
                r.ena,
            )
        })
        .await
    }

    async fn set_delete_on_termination(
        &self,
        eni_id: &str,
        attachment_id: &str,
        delete_on_termination: bool,
    ) -> Result<(), Ec2Error> {
        self.call(
            Ec2Action::ModifyNetworkInterfaceAttribute,
            eni_id,
            |w, _| w.set_delete_on_termination(eni_id, attachment_id, delete_on_termination),
        )
        .await
    }

    async fn set_source_dest_check(&self, eni_id: &str, value: bool) -> Result<(), Ec2Error> {
        self.call(
            Ec2Action::ModifyNetworkInterfaceAttribute,
            eni_id,
            |w, _| w.set_source_dest_check(eni_id, value),
        )
        .await
    }

    async fn set_connection_tracking(
        &self,
        eni_id: &str,
        value: &ConnectionTracking,
    ) -> Result<(), Ec2Error> {
        self.call(
            Ec2Action::ModifyNetworkInterfaceAttribute,
            eni_id,
            |w, _| w.set_connection_tracking(eni_id, value),
        )
        .await
    }

    async fn change_addresses(&self, eni_id: &str, change: &AddressChange) -> Result<(), Ec2Error> {
        self.call(change.action(), eni_id, |w, now| {
            w.change_addresses(now, eni_id, change)
        })
        .await
    }

    async fn modify_security_groups(
        &self,
        eni_id: &str,
        security_group_ids: &[String],
    ) -> Result<(), Ec2Error> {
        self.call(
            Ec2Action::ModifyNetworkInterfaceAttribute,
            eni_id,
            |w, _| {
                let vpc = w.eni_mut(eni_id)?.vpc_id.clone();
                for g in security_group_ids {
                    match w.groups.get(g) {
                        Some(sg) if sg.vpc_id == vpc => {}
                        Some(_) => {
                            return Err(err(
                                "InvalidParameterValue",
                                format!("{g} is in another VPC"),
                            ));
                        }
                        None => {
                            return Err(err(
                                "InvalidGroup.NotFound",
                                format!("The security group '{g}' does not exist"),
                            ));
                        }
                    }
                }
                w.eni_mut(eni_id)?.security_group_ids = security_group_ids.to_vec();
                Ok(())
            },
        )
        .await
    }

    async fn detach_eni(&self, attachment_id: &str, _force: bool) -> Result<(), Ec2Error> {
        self.call(
            Ec2Action::DetachNetworkInterface,
            attachment_id,
            |w, now| w.detach(now, attachment_id),
        )
        .await
    }

    async fn delete_eni(&self, eni_id: &str) -> Result<(), Ec2Error> {
        self.call(Ec2Action::DeleteNetworkInterface, eni_id, |w, _| {
            w.delete(eni_id)
        })
        .await
    }

    async fn describe_enis(
        &self,
        filter: &EniFilter,
        next_token: Option<String>,
    ) -> Result<Page<Eni>, Ec2Error> {
        let page_size = self.config.page_size.max(1);
        let lag = self.config.listing_lag;
        // Reads by ID see every ENI; listings by tag or other filters lag behind creates.
        let by_id_only = !filter.ids.is_empty();
        self.call(Ec2Action::DescribeNetworkInterfaces, "", |w, now| {
            if by_id_only {
                // Like EC2: IDs are looked up directly (one call, no pages), and one
                // unknown ID fails the call, naming the unknown ones.
                let unknown: Vec<&str> = filter
                    .ids
                    .iter()
                    .filter(|id| !w.enis.contains_key(*id))
                    .map(String::as_str)
                    .collect();
                return match unknown.as_slice() {
                    [] => Ok(Page {
                        items: filter
                            .ids
                            .iter()
                            .filter_map(|id| w.enis.get(id))
                            .filter(|e| filter.matches(e))
                            .map(|e| w.described(e, now))
                            .collect(),
                        next_token: None,
                    }),
                    [one] => Err(err(
                        "InvalidNetworkInterfaceID.NotFound",
                        format!("The networkInterface ID '{one}' does not exist"),
                    )),
                    many => Err(err(
                        "InvalidNetworkInterfaceID.NotFound",
                        format!(
                            "The networkInterface IDs '{}' do not exist",
                            many.join(", ")
                        ),
                    )),
                };
            }
            let skip: usize = match next_token.as_deref() {
                None | Some("") => 0,
                Some(t) => t
                    .parse()
                    .map_err(|_| err("InvalidPaginationToken", format!("bad token {t:?}")))?,
            };
            let listed = |e: &&Eni| {
                by_id_only
                    || w.created
                        .get(&e.id)
                        .is_none_or(|t| now.duration_since(*t) >= lag)
            };
            // Like EC2: a page scans `page_size` interfaces of the account and returns
            // those matching the filter, so a filtered page may be short or empty while
            // a next token says more follow.
            let scanned: Vec<&Eni> = w.enis.values().skip(skip).take(page_size + 1).collect();
            let more = scanned.len() > page_size;
            let items: Vec<Eni> = scanned
                .into_iter()
                .take(page_size)
                .filter(|e| filter.matches(e))
                .filter(listed)
                .map(|e| w.described(e, now))
                .collect();
            let next_token = more.then(|| (skip + page_size).to_string());
            Ok(Page { items, next_token })
        })
        .await
    }

    async fn describe_instances(&self, instance_ids: &[String]) -> Result<Vec<Instance>, Ec2Error> {
        let target = instance_ids.first().cloned().unwrap_or_default();
        self.call(Ec2Action::DescribeInstances, &target, |w, now| {
            instance_ids
                .iter()
                .map(|id| {
                    let well_formed = id
                        .strip_prefix("i-")
                        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()));
                    match w.instances.get(id).and_then(|i| i.visible_from) {
                        // Like EC2: one malformed ID fails the whole call.
                        _ if !well_formed => Err(super::world::err(
                            "InvalidInstanceID.Malformed",
                            format!("Invalid id: \"{id}\""),
                        )),
                        Some(from) if now < from => Err(super::world::err(
                            "InvalidInstanceID.NotFound",
                            format!("The instance ID '{id}' does not exist"),
                        )),
                        _ => w.instance_view(id),
                    }
                })
                .collect()
        })
        .await
    }

    async fn describe_instance_type_limits(
        &self,
        instance_type: &str,
    ) -> Result<EniLimits, Ec2Error> {
        self.call(Ec2Action::DescribeInstanceTypes, instance_type, |w, _| {
            w.instance_types.get(instance_type).cloned().ok_or_else(|| {
                err(
                    "InvalidInstanceType",
                    format!(
                        "The following supplied instance types do not exist: [{instance_type}]"
                    ),
                )
            })
        })
        .await
    }

    async fn describe_subnets(&self, lookup: &SubnetLookup) -> Result<Vec<Subnet>, Ec2Error> {
        self.call(Ec2Action::DescribeSubnets, "", |w, _| match lookup {
            SubnetLookup::Ids(ids) => ids
                .iter()
                .map(|id| {
                    w.subnets.get(id).map(|s| s.subnet.clone()).ok_or_else(|| {
                        err(
                            "InvalidSubnetID.NotFound",
                            format!("The subnet ID '{id}' does not exist"),
                        )
                    })
                })
                .collect(),
            SubnetLookup::Names(names) => Ok(w
                .subnets
                .values()
                .filter(|s| s.subnet.name.as_ref().is_some_and(|n| names.contains(n)))
                .map(|s| s.subnet.clone())
                .collect()),
        })
        .await
    }

    async fn describe_security_groups(
        &self,
        lookup: &SecurityGroupLookup,
    ) -> Result<Vec<SecurityGroup>, Ec2Error> {
        self.call(Ec2Action::DescribeSecurityGroups, "", |w, _| match lookup {
            SecurityGroupLookup::Ids(ids) => ids
                .iter()
                .map(|id| {
                    w.groups.get(id).cloned().ok_or_else(|| {
                        err(
                            "InvalidGroup.NotFound",
                            format!("The security group '{id}' does not exist"),
                        )
                    })
                })
                .collect(),
            SecurityGroupLookup::Names { names, vpc_id } => Ok(w
                .groups
                .values()
                .filter(|g| names.contains(&g.name))
                .filter(|g| vpc_id.as_ref().is_none_or(|v| *v == g.vpc_id))
                .cloned()
                .collect()),
        })
        .await
    }

    async fn tag_eni(&self, eni_id: &str, tags: &Tags) -> Result<(), Ec2Error> {
        self.call(Ec2Action::CreateTags, eni_id, |w, _| {
            let eni = w.eni_mut(eni_id)?;
            eni.tags
                .extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            Ok(())
        })
        .await
    }
}
