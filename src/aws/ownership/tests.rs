//! Tokens, tags and ownership classification.
use super::*;

fn prod() -> ClusterIdentity {
    ClusterIdentity::new("prod", "5c1e0d2a-kube-system-uid")
}

fn owner() -> SlotOwner {
    SlotOwner {
        cluster: prod(),
        nodeeni_name: "multus".into(),
        nodeeni_uid: "0b5e6c1e-3f6a-4a63-9d7e-1a2b3c4d5e6f".into(),
        node_name: "ip-10-0-1-5.ec2.internal".into(),
        instance_id: "i-0123456789abcdef0".into(),
        subnet_id: "subnet-0123456789abcdef0".into(),
        slot: 0,
    }
}

#[test]
fn token_is_deterministic_bounded_and_sensitive_to_every_input() {
    let o = owner();
    let t = o.client_token(0);
    assert_eq!(t, o.client_token(0));
    assert_eq!(t.as_str().len(), 64);
    assert!(t.as_str().is_ascii());
    assert_ne!(t, o.client_token(1));
    let variants = [
        SlotOwner {
            cluster: ClusterIdentity::new("dev", prod().id),
            ..o.clone()
        },
        SlotOwner {
            nodeeni_uid: "x".into(),
            ..o.clone()
        },
        SlotOwner {
            instance_id: "i-1".into(),
            ..o.clone()
        },
        SlotOwner {
            subnet_id: "subnet-1".into(),
            ..o.clone()
        },
    ];
    for v in variants {
        assert_ne!(v.client_token(0), t, "{v:?}");
    }
    // The identity is not part of the token: tokens are the same before and after
    // identity tags, and the NodeENI UID already differs between clusters.
    assert_eq!(
        SlotOwner {
            cluster: ClusterIdentity::new("prod", "another-uid"),
            ..o.clone()
        }
        .client_token(0),
        t
    );
    // Reordering subnets (the slot position) keeps the ENI's identity.
    assert_eq!(
        SlotOwner {
            slot: 3,
            ..o.clone()
        }
        .client_token(0),
        t
    );
}

#[test]
fn tags_round_trip_through_ownership() {
    let o = owner();
    let tags = o.tags(2, 1, "2026-01-01T00:00:00Z");
    assert_eq!(tags.get(TAG_NO_MANAGE).map(String::as_str), Some("true"));
    assert!(tags.values().all(|v| v.len() <= 256));
    assert_eq!(tags.get(TAG_CLUSTER_ID), Some(&prod().id));
    match Ownership::of(&tags, &prod()) {
        Ownership::Owned(e) => {
            assert_eq!(e.nodeeni_uid, o.nodeeni_uid);
            assert_eq!(e.instance_id, o.instance_id);
            assert_eq!(e.subnet_id, o.subnet_id);
            assert_eq!(e.incarnation, Some(2));
            assert_eq!(e.slot, Some(0));
            assert_eq!(e.device_index, Some(1));
        }
        other => panic!("expected owned, got {other:?}"),
    }
    assert_eq!(
        Ownership::of(&tags, &ClusterIdentity::new("staging", prod().id)),
        Ownership::OtherCluster("prod".into())
    );
}

#[test]
fn foreign_and_legacy_enis_are_recognised() {
    let cni: Tags = [("node.k8s.amazonaws.com/instance_id", "i-1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(Ownership::of(&cni, &prod()), Ownership::Foreign);
    assert_eq!(Ownership::of(&Tags::new(), &prod()), Ownership::Foreign);
    let half: Tags = [(TAG_CLUSTER, "prod")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(Ownership::of(&half, &prod()), Ownership::Foreign);
    let go: Tags = [
        (LEGACY_TAG_MANAGED_BY, LEGACY_MANAGED_BY_VALUE),
        (LEGACY_TAG_NODEENI, "multus"),
        (LEGACY_TAG_NODE, "node-1"),
        (LEGACY_TAG_SUBNET, "subnet-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(
        Ownership::of(&go, &prod()),
        Ownership::LegacyGo {
            nodeeni_name: "multus".into(),
            node_name: "node-1".into(),
            subnet_id: Some("subnet-1".into())
        }
    );
}

#[test]
fn the_same_name_with_another_identity_or_none_is_not_owned() {
    let o = owner();
    let mut tags = o.tags(0, 1, "2026-01-01T00:00:00Z");
    let namesake = ClusterIdentity::new("prod", "another-clusters-uid");
    match Ownership::of(&tags, &namesake) {
        Ownership::Namesake { cluster_id, eni } => {
            assert_eq!(cluster_id, prod().id);
            assert_eq!(eni.nodeeni_uid, o.nodeeni_uid);
        }
        other => panic!("expected a namesake's ENI, got {other:?}"),
    }
    assert!(Ownership::of(&tags, &namesake).managed().is_none());
    // Made before identity tags existed (or tagged by hand): its NodeENI may manage it.
    tags.remove(TAG_CLUSTER_ID);
    let unverified = Ownership::of(&tags, &prod());
    assert!(
        matches!(unverified, Ownership::Unverified(_)),
        "{unverified:?}"
    );
    assert_eq!(
        unverified.managed().map(|e| e.nodeeni_uid.as_str()),
        Some(o.nodeeni_uid.as_str())
    );
}

#[test]
fn foreign_tokens_are_shaped_to_fit() {
    assert_eq!(ClientToken::new("abc").as_str(), "abc");
    let long = ClientToken::new("x".repeat(100));
    assert_eq!(long.as_str().len(), 64);
    let filter = owner().filter();
    assert_eq!(filter.tags.len(), 4);
}
