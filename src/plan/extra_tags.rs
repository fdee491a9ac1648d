//! The user's tags on the ENIs the controller makes: the controller's `--eni-tags` and a
//! NodeENI's `tags`, checked and merged. The CRD refuses a reserved key at admission;
//! this check also covers the controller's flag, and a NodeENI written while an older
//! CRD (without the rules) was installed.

use std::collections::BTreeMap;

/// Tags as key → value.
pub type TagMap = BTreeMap<String, String>;

/// At most this many extra tags per ENI: EC2 takes 50 per resource and the controller
/// writes 14 of its own.
pub const MAX_EXTRA_TAGS: usize = 30;

/// Key patterns (`*` at the end: any suffix) that other ENI managers (EKS and the VPC
/// CNI, Karpenter, Cilium) tag their ENIs with. The controller never writes them: an ENI
/// of ours must never look like theirs. The IAM policy denies them too.
pub const OTHER_MANAGERS_KEYS: [&str; 7] = [
    "kubernetes.io/cluster/*",
    "eks:*",
    "node.k8s.amazonaws.com/instance_id",
    "node.k8s.amazonaws.com/createdAt",
    "cluster.k8s.amazonaws.com/*",
    "karpenter.sh/*",
    "io.cilium/*",
];

/// Why a set of extra tags cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagProblem {
    /// The key is the controller's own (`Name`, `networking.k8s.aws/*`,
    /// `node.k8s.amazonaws.com/no_manage`) or AWS's (`aws:*`).
    #[error(
        "tag key {0:?} is reserved: Name, networking.k8s.aws/*, node.k8s.amazonaws.com/no_manage and aws:* are the controller's or AWS's"
    )]
    Reserved(String),
    /// The key is one other ENI managers mark their ENIs with.
    #[error(
        "tag key {0:?} marks another manager's ENIs (kubernetes.io/cluster/*, eks:*, node.k8s.amazonaws.com/instance_id or createdAt, cluster.k8s.amazonaws.com/*, karpenter.sh/*, io.cilium/*)"
    )]
    OtherManager(String),
    /// The key is empty or longer than EC2's 128 characters.
    #[error("tag key {0:?} must be 1 to 128 characters")]
    KeyLength(String),
    /// The value is longer than EC2's 256 characters.
    #[error("the value of tag {0:?} is longer than 256 characters")]
    ValueLength(String),
    /// More tags than fit beside the controller's.
    #[error("{0} extra tags: at most {MAX_EXTRA_TAGS} fit beside the controller's own")]
    TooMany(usize),
}

impl TagProblem {
    /// Stable label (metrics, reasons).
    pub fn label(&self) -> &'static str {
        match self {
            TagProblem::Reserved(_) => "reserved_key",
            TagProblem::OtherManager(_) => "other_manager_key",
            TagProblem::KeyLength(_) => "key_length",
            TagProblem::ValueLength(_) => "value_length",
            TagProblem::TooMany(_) => "too_many",
        }
    }
}

/// Whether `key` is one the controller or AWS writes.
pub fn is_reserved(key: &str) -> bool {
    key == "Name"
        || key.starts_with("networking.k8s.aws/")
        || key == "node.k8s.amazonaws.com/no_manage"
        || key.to_ascii_lowercase().starts_with("aws:")
}

/// Whether `key` is one another ENI manager marks its ENIs with.
pub fn is_other_managers(key: &str) -> bool {
    OTHER_MANAGERS_KEYS
        .iter()
        .any(|p| match p.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => key == *p,
        })
}

/// Checks one set of extra tags.
pub fn check(tags: &TagMap) -> Result<(), TagProblem> {
    if tags.len() > MAX_EXTRA_TAGS {
        return Err(TagProblem::TooMany(tags.len()));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(TagProblem::KeyLength(k.clone()));
        }
        if is_reserved(k) {
            return Err(TagProblem::Reserved(k.clone()));
        }
        if is_other_managers(k) {
            return Err(TagProblem::OtherManager(k.clone()));
        }
        if v.chars().count() > 256 {
            return Err(TagProblem::ValueLength(k.clone()));
        }
    }
    Ok(())
}

/// The extra tags of a NodeENI's ENIs: the controller's, overridden key by key by the
/// NodeENI's, checked together.
pub fn merged(controller: &TagMap, nodeeni: &TagMap) -> Result<TagMap, TagProblem> {
    let mut all = controller.clone();
    all.extend(nodeeni.iter().map(|(k, v)| (k.clone(), v.clone())));
    check(&all)?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> TagMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_crd_allows_as_many_tags_as_fit() {
        // plan may not import k8s; the test may.
        assert_eq!(crate::k8s::crd::MAX_NODEENI_TAGS, MAX_EXTRA_TAGS);
    }

    #[test]
    fn the_nodeenis_value_wins_over_the_controllers() {
        let controller = map(&[("CostCenter", "1234"), ("Team", "net")]);
        let nodeeni = map(&[("Team", "telco"), ("App", "upf")]);
        assert_eq!(
            merged(&controller, &nodeeni),
            Ok(map(&[
                ("App", "upf"),
                ("CostCenter", "1234"),
                ("Team", "telco")
            ]))
        );
        assert_eq!(merged(&TagMap::new(), &TagMap::new()), Ok(TagMap::new()));
    }

    #[test]
    fn reserved_keys_and_ec2_limits_are_refused() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: &[Case<'_>] = &[
            (&[("CostCenter", "1")], None),
            (&[("kubernetes.io/role", "x")], None),
            (&[("Name", "mine")], Some("reserved_key")),
            (
                &[("networking.k8s.aws/cluster", "other")],
                Some("reserved_key"),
            ),
            (
                &[("node.k8s.amazonaws.com/no_manage", "false")],
                Some("reserved_key"),
            ),
            (
                &[("aws:cloudformation:stack-name", "x")],
                Some("reserved_key"),
            ),
            (&[("AWS:Foo", "x")], Some("reserved_key")),
            (&[("", "x")], Some("key_length")),
            (
                &[("kubernetes.io/cluster/prod", "owned")],
                Some("other_manager_key"),
            ),
            (
                &[("eks:eni:owner", "eks-vpc-resource-controller")],
                Some("other_manager_key"),
            ),
            (
                &[("node.k8s.amazonaws.com/instance_id", "i-1")],
                Some("other_manager_key"),
            ),
            (&[("node.k8s.amazonaws.com/owner", "me")], None),
            (&[("karpenter.sh/nodepool", "x")], Some("other_manager_key")),
            (&[("io.cilium/node", "x")], Some("other_manager_key")),
        ];
        for (tags, want) in cases {
            let got = check(&map(tags)).err().map(|p| p.label());
            assert_eq!(got, *want, "{tags:?}");
        }
        let long_key = "k".repeat(129);
        assert_eq!(
            check(&map(&[(&long_key, "v")])).map_err(|p| p.label()),
            Err("key_length")
        );
        let long_value = "v".repeat(257);
        assert_eq!(
            check(&map(&[("k", &long_value)])).map_err(|p| p.label()),
            Err("value_length")
        );
        let many: TagMap = (0..=MAX_EXTRA_TAGS)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        assert_eq!(check(&many), Err(TagProblem::TooMany(MAX_EXTRA_TAGS + 1)));
        let split = |range: std::ops::Range<usize>| -> TagMap {
            range.map(|i| (format!("k{i}"), String::new())).collect()
        };
        assert_eq!(
            merged(&split(0..20), &split(20..31)).map_err(|p| p.label()),
            Err("too_many"),
            "the limit counts both sets together"
        );
    }
}
