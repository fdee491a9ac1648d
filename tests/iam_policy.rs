//! deploy/iam/policy.json against the code: every EC2 action the controller can call is
//! granted, and the conditions name the tag keys and values the code really writes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::collections::BTreeSet;

use aws_multi_eni_controller::aws::Ec2Action;
use aws_multi_eni_controller::aws::ownership::{
    LEGACY_MANAGED_BY_VALUE, LEGACY_TAG_MANAGED_BY, SlotOwner, TAG_CLUSTER, TAG_CLUSTER_ID,
    TAG_DEVICE_INDEX,
};
use serde_json::Value;

fn policy() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/iam/policy.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}"))
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// The tags a created ENI carries, as the code makes them.
fn written_tag_keys() -> BTreeSet<String> {
    let owner = SlotOwner {
        cluster: aws_multi_eni_controller::aws::ownership::ClusterIdentity::new("c", "c-uid"),
        nodeeni_name: "n".into(),
        nodeeni_uid: "u".into(),
        node_name: "node".into(),
        instance_id: "i-0123456789abcdef0".into(),
        subnet_id: "subnet-0123abcd".into(),
        slot: 0,
    };
    owner
        .tags(0, 1, "2026-01-01T00:00:00Z")
        .into_keys()
        .collect()
}

#[test]
fn every_action_the_code_calls_is_allowed() {
    let policy = policy();
    let allowed: BTreeSet<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| strings(&s["Action"]))
        .collect();
    for action in Ec2Action::ALL {
        let name = format!("ec2:{}", action.as_str());
        assert!(allowed.contains(&name), "{name} is not granted");
    }
    let describe = strings(&statement(&policy, "Describe")["Action"]);
    assert!(
        describe.iter().all(|a| a.starts_with("ec2:Describe")),
        "only Describe* is unconditioned: {describe:?}"
    );
    for s in policy["Statement"].as_array().unwrap() {
        if s["Sid"] != "Describe" {
            assert!(s["Condition"].is_object(), "{} is conditioned", s["Sid"]);
        }
    }
}

#[test]
fn the_conditions_name_the_tags_the_code_writes() {
    let policy = policy();
    let keys = written_tag_keys();
    let owned_request = format!("aws:RequestTag/{TAG_CLUSTER}");
    let owned_resource = format!("aws:ResourceTag/{TAG_CLUSTER}");

    let create = &statement(&policy, "CreateOwnedENI")["Condition"];
    assert_eq!(create["StringEquals"][&owned_request], "${CLUSTER_NAME}");
    let allowed: BTreeSet<String> = strings(&create["ForAllValues:StringEquals"]["aws:TagKeys"])
        .into_iter()
        .collect();
    assert_eq!(
        allowed, keys,
        "the create allow-lists exactly the keys it writes"
    );

    let tagging = &statement(&policy, "TagOnlyWhileCreating")["Condition"];
    assert_eq!(
        tagging["StringEquals"]["ec2:CreateAction"],
        "CreateNetworkInterface"
    );
    let allowed: BTreeSet<String> = strings(&tagging["ForAllValues:StringEquals"]["aws:TagKeys"])
        .into_iter()
        .collect();
    assert_eq!(allowed, keys);

    let retag = &statement(&policy, "RetagOwnedENIWithoutOwnershipKeys")["Condition"];
    assert_eq!(retag["StringEquals"][&owned_resource], "${CLUSTER_NAME}");
    assert_eq!(
        strings(&retag["ForAllValues:StringEquals"]["aws:TagKeys"]),
        [TAG_DEVICE_INDEX]
    );

    let adopt = &statement(&policy, "AdoptGoControllerENI")["Condition"];
    assert_eq!(
        adopt["StringEquals"][format!("aws:ResourceTag/{LEGACY_TAG_MANAGED_BY}")],
        LEGACY_MANAGED_BY_VALUE
    );
    assert_eq!(adopt["Null"][&owned_resource], "true", "only unowned ENIs");

    let manage = &statement(&policy, "ManageOwnedENI")["Condition"];
    assert_eq!(manage["StringEquals"][&owned_resource], "${CLUSTER_NAME}");

    let deny = statement(&policy, "NoOneElseChangesOwnership");
    assert_eq!(deny["Effect"], "Deny");
    let protected = strings(&deny["Condition"]["ForAnyValue:StringEquals"]["aws:TagKeys"]);
    assert!(protected.contains(&TAG_CLUSTER.to_string()));
    assert!(
        protected.contains(&TAG_CLUSTER_ID.to_string()),
        "the identity that keeps namesake clusters apart cannot be re-tagged"
    );
    assert!(
        protected.iter().all(|k| keys.contains(k)),
        "protects keys the code writes: {protected:?}"
    );
    assert!(
        !protected.contains(&TAG_DEVICE_INDEX.to_string()),
        "the intent tag the code re-writes is not protected"
    );
}
