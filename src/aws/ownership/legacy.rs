//! Which ENIs the Go controller made: the only ENIs adopted without this project's
//! ownership tags.
//!
//! The Go controller's tags are plain and anyone with `ec2:CreateTags` can write them,
//! on the VPC CNI's ENIs too. An adopted ENI gets its security groups changed, may be
//! moved, is deleted with its NodeENI, and has its MTU set by the agent: so an ENI is taken
//! for the Go controller's only when everything about it is what that controller made for
//! this node, and nothing says another manager owns it.

use super::{LEGACY_TAG_SUBNET, TAG_NO_MANAGE};
use crate::aws::Eni;

/// Why an ENI with the Go controller's tags is not taken for one it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotGo {
    /// Not attached: the Go controller's ENIs are adopted where they are attached only.
    NotAttached,
    /// At device index 0: the instance's primary interface.
    Primary,
    /// Below the NodeENI's `deviceIndex`: the Go controller never put one there.
    BelowDeviceIndex,
    /// Its `Name` tag is not `nodeeni-<nodeeni>-<node>-<last 8 of subnet>`.
    NameTag,
    /// Its `SubnetID` tag names another subnet than the ENI's.
    SubnetTag,
    /// It lacks `node.k8s.amazonaws.com/no_manage=true`, which the Go controller always
    /// set.
    NoManageTag,
    /// Its description is neither the Go controller's default nor the NodeENI's.
    Description,
    /// Something marks it as another manager's (the VPC CNI's, Cilium's, EKS's).
    OtherManager,
}

/// What the NodeENI says a Go-controller ENI of it looks like.
#[derive(Debug, Clone, Copy)]
pub struct GoExpectations<'a> {
    /// The NodeENI's name.
    pub nodeeni: &'a str,
    /// Its `deviceIndex` (the first index it uses).
    pub base_device_index: u32,
    /// Its `description`, when set.
    pub description: Option<&'a str>,
}

/// Tag keys and description prefixes other ENI managers write.
const OTHER_MANAGER_TAGS: [&str; 5] = [
    "node.k8s.amazonaws.com/instance_id",
    "node.k8s.amazonaws.com/createdAt",
    "cluster.k8s.amazonaws.com/name",
    "eks:eni:owner",
    "io.cilium/node",
];
const OTHER_MANAGER_DESCRIPTIONS: [&str; 3] = ["aws-K8S-", "Cilium-CNI", "Amazon EKS"];

/// The `Name` tag the Go controller wrote.
fn go_name(nodeeni: &str, node: &str, subnet_id: &str) -> String {
    let suffix = subnet_id
        .get(subnet_id.len().saturating_sub(8)..)
        .unwrap_or(subnet_id);
    format!("nodeeni-{nodeeni}-{node}-{suffix}")
}

/// Whether `eni`, carrying the Go controller's tags for `node`, is one the Go controller
/// made for that node under the NodeENI `expect` describes.
pub fn made_by_go(eni: &Eni, node: &str, expect: &GoExpectations<'_>) -> Result<(), NotGo> {
    let tag = |k: &str| eni.tags.get(k).map(String::as_str);
    if OTHER_MANAGER_TAGS.iter().any(|k| eni.tags.contains_key(*k))
        || eni.tags.keys().any(|k| k.starts_with("aws:"))
        || OTHER_MANAGER_DESCRIPTIONS
            .iter()
            .any(|p| eni.description.starts_with(p))
    {
        return Err(NotGo::OtherManager);
    }
    let attachment = eni.attachment.as_ref().ok_or(NotGo::NotAttached)?;
    if attachment.device_index == 0 {
        return Err(NotGo::Primary);
    }
    if attachment.device_index < expect.base_device_index {
        return Err(NotGo::BelowDeviceIndex);
    }
    if tag(LEGACY_TAG_SUBNET).is_some_and(|s| s != eni.subnet_id) {
        return Err(NotGo::SubnetTag);
    }
    if tag("Name") != Some(go_name(expect.nodeeni, node, &eni.subnet_id).as_str()) {
        return Err(NotGo::NameTag);
    }
    if tag(TAG_NO_MANAGE) != Some("true") {
        return Err(NotGo::NoManageTag);
    }
    let default = format!("ENI created by nodeeni-controller for node {node}");
    if eni.description != default && Some(eni.description.as_str()) != expect.description {
        return Err(NotGo::Description);
    }
    Ok(())
}

/// The tags and description of an ENI the Go controller made for `node` in `subnet_id`
/// (what [`made_by_go`] accepts; tests seed them).
pub fn go_made(nodeeni: &str, node: &str, subnet_id: &str) -> (crate::aws::Tags, String) {
    let tags = [
        ("Name", go_name(nodeeni, node, subnet_id)),
        (
            super::LEGACY_TAG_MANAGED_BY,
            super::LEGACY_MANAGED_BY_VALUE.into(),
        ),
        (super::LEGACY_TAG_NODEENI, nodeeni.into()),
        (super::LEGACY_TAG_NODE, node.into()),
        (LEGACY_TAG_SUBNET, subnet_id.into()),
        (TAG_NO_MANAGE, "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    (
        tags,
        format!("ENI created by nodeeni-controller for node {node}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{AttachmentStatus, EniAttachment, EniStatus};

    fn eni(index: Option<u32>, edit: impl FnOnce(&mut Eni)) -> Eni {
        let (tags, description) = go_made("multus", "node-1", "subnet-0123456789abcdef0");
        let mut e = Eni {
            id: "eni-1".into(),
            mac_address: "02:00:00:00:00:01".into(),
            subnet_id: "subnet-0123456789abcdef0".into(),
            availability_zone: "us-east-1a".into(),
            vpc_id: "vpc-1".into(),
            private_ip: None,
            secondary_ips: Vec::new(),
            ipv4_prefixes: Vec::new(),
            ipv6_addresses: Vec::new(),
            ipv6_prefixes: Vec::new(),
            source_dest_check: true,
            connection_tracking: None,
            security_group_ids: vec![],
            description,
            status: EniStatus::InUse,
            attachment: index.map(|i| EniAttachment {
                attachment_id: "eni-attach-1".into(),
                instance_id: Some("i-1".into()),
                device_index: i,
                network_card_index: 0,
                status: AttachmentStatus::Attached,
                delete_on_termination: false,
                ena: Default::default(),
            }),
            tags,
        };
        edit(&mut e);
        e
    }

    #[test]
    fn only_what_the_go_controller_made_for_this_node_is_taken_for_its() {
        let expect = GoExpectations {
            nodeeni: "multus",
            base_device_index: 2,
            description: Some("multus ENI"),
        };
        let cases: Vec<(&str, Eni, Result<(), NotGo>)> = vec![
            ("genuine", eni(Some(2), |_| {}), Ok(())),
            ("bumped past a used index", eni(Some(5), |_| {}), Ok(())),
            (
                "the NodeENI's own description",
                eni(Some(2), |e| e.description = "multus ENI".into()),
                Ok(()),
            ),
            ("available", eni(None, |_| {}), Err(NotGo::NotAttached)),
            ("primary", eni(Some(0), |_| {}), Err(NotGo::Primary)),
            (
                "below deviceIndex",
                eni(Some(1), |_| {}),
                Err(NotGo::BelowDeviceIndex),
            ),
            (
                "the VPC CNI's ENI with forged tags",
                eni(Some(2), |e| {
                    e.tags
                        .insert("node.k8s.amazonaws.com/instance_id".into(), "i-1".into());
                }),
                Err(NotGo::OtherManager),
            ),
            (
                "the VPC CNI's description",
                eni(Some(2), |e| e.description = "aws-K8S-i-1".into()),
                Err(NotGo::OtherManager),
            ),
            (
                "made for another node",
                eni(Some(2), |e| {
                    e.tags
                        .insert("Name".into(), "nodeeni-multus-node-2-89abcdef0".into());
                }),
                Err(NotGo::NameTag),
            ),
            (
                "subnet tag of another subnet",
                eni(Some(2), |e| {
                    e.tags.insert(LEGACY_TAG_SUBNET.into(), "subnet-1".into());
                }),
                Err(NotGo::SubnetTag),
            ),
            (
                "without no_manage",
                eni(Some(2), |e| {
                    e.tags.remove(TAG_NO_MANAGE);
                }),
                Err(NotGo::NoManageTag),
            ),
            (
                "a hand-made description",
                eni(Some(2), |e| e.description = "database uplink".into()),
                Err(NotGo::Description),
            ),
        ];
        for (what, e, want) in cases {
            assert_eq!(made_by_go(&e, "node-1", &expect), want, "{what}");
        }
    }
}
