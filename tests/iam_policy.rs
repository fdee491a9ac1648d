//! deploy/iam/policy.json and ownership-guard.json against the code: every EC2 action the
//! controller can call is granted, the conditions name the tag keys and values the code
//! really writes, and (evaluated with IAM's rules for the operators the policies use)
//! no principal forges ownership tags: another never writes one, and the controller
//! never tags an ENI it did not create as its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::collections::BTreeSet;

use aws_multi_eni_controller::aws::Ec2Action;
use aws_multi_eni_controller::aws::ownership::{
    LEGACY_MANAGED_BY_VALUE, LEGACY_TAG_MANAGED_BY, SlotOwner, TAG_BASE_DEVICE_INDEX, TAG_CLUSTER,
    TAG_CLUSTER_ID, TAG_DEVICE_INDEX, intent_tags,
};
use aws_multi_eni_controller::plan::extra_tags::OTHER_MANAGERS_KEYS;
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
        .chain(intent_tags(1, 1).into_keys())
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

    // Creating and adopting write the controller's keys and the user's extra tags: any
    // key but those other managers mark their ENIs with.
    let create = &statement(&policy, "CreateOwnedENI")["Condition"];
    assert_eq!(create["StringEquals"][&owned_request], "${CLUSTER_NAME}");
    let tagging = &statement(&policy, "TagOnlyWhileCreating")["Condition"];
    assert_eq!(
        tagging["StringEquals"]["ec2:CreateAction"],
        "CreateNetworkInterface"
    );
    let adopting = &statement(&policy, "AdoptGoControllerENI")["Condition"];
    for condition in [create, tagging, adopting] {
        assert_eq!(
            strings(&condition["ForAllValues:StringNotLike"]["aws:TagKeys"]),
            OTHER_MANAGERS_KEYS,
            "{condition}"
        );
    }

    let retag = &statement(&policy, "RetagOwnedENIWithoutOwnershipKeys")["Condition"];
    assert_eq!(retag["StringEquals"][&owned_resource], "${CLUSTER_NAME}");
    assert_eq!(
        strings(&retag["ForAllValues:StringEquals"]["aws:TagKeys"]),
        [TAG_DEVICE_INDEX, TAG_BASE_DEVICE_INDEX],
        "the intent tags, the only ones written again"
    );
    assert_eq!(
        intent_tags(1, 1).into_keys().collect::<Vec<_>>(),
        [TAG_BASE_DEVICE_INDEX, TAG_DEVICE_INDEX]
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

/// A request to EC2 as IAM's conditions see it.
#[derive(Default)]
struct Request<'a> {
    action: &'a str,
    principal: &'a str,
    /// The tags the resource carries.
    resource_tags: &'a [(&'a str, &'a str)],
    /// The tag keys the request adds or removes.
    tag_keys: &'a [&'a str],
    /// The tags the request writes, where their values matter.
    request_tags: &'a [(&'a str, &'a str)],
    /// `ec2:CreateAction`, when the tags come with a create.
    create_action: Option<&'a str>,
}

fn glob(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        Some((pre, post)) => {
            value.starts_with(pre)
                && value[pre.len()..].len() >= post.len()
                && value.ends_with(post)
        }
        None => pattern == value,
    }
}

/// The values of context key `key` for `r` (none: the key is missing).
fn context(r: &Request<'_>, key: &str) -> Vec<String> {
    let key = key.replace("${CLUSTER_NAME}", "c");
    if key == "aws:TagKeys" {
        return r.tag_keys.iter().map(|k| k.to_string()).collect();
    }
    if key == "ec2:CreateAction" {
        return r.create_action.iter().map(|a| a.to_string()).collect();
    }
    if key == "aws:PrincipalArn" {
        return vec![r.principal.to_string()];
    }
    if let Some(tag) = key.strip_prefix("aws:RequestTag/") {
        return r
            .request_tags
            .iter()
            .filter(|(k, _)| *k == tag)
            .map(|(_, v)| v.to_string())
            .collect();
    }
    if let Some(tag) = key.strip_prefix("aws:ResourceTag/") {
        return r
            .resource_tags
            .iter()
            .filter(|(k, _)| *k == tag)
            .map(|(_, v)| v.to_string())
            .collect();
    }
    Vec::new()
}

/// Whether one condition block holds for `r` (the operators the policies use).
fn holds(operator: &str, block: &Value, r: &Request<'_>) -> bool {
    block.as_object().unwrap().iter().all(|(key, want)| {
        let want: Vec<String> = strings(want)
            .into_iter()
            .map(|w| {
                w.replace("${CLUSTER_NAME}", "c")
                    .replace("${CONTROLLER_ROLE_ARN}", CONTROLLER)
            })
            .collect();
        let have = context(r, key);
        let any =
            |m: &dyn Fn(&str, &str) -> bool| have.iter().any(|h| want.iter().any(|w| m(w, h)));
        match operator {
            "StringEquals" | "ForAnyValue:StringEquals" => any(&|w, h| w == h),
            "ForAnyValue:StringLike" | "ArnLike" => any(&|w, h| glob(w, h)),
            // Every value of the request's set is like none of the patterns.
            "ForAllValues:StringNotLike" => have.iter().all(|h| !want.iter().any(|w| glob(w, h))),
            "StringNotEquals" => !any(&|w, h| w == h),
            "ArnNotLike" => !any(&|w, h| glob(w, h)),
            "ForAllValues:StringEquals" => have.iter().all(|h| want.contains(h)),
            "Null" => want.iter().all(|w| (w == "true") == have.is_empty()),
            other => panic!("an operator this check does not know: {other}"),
        }
    })
}

/// Whether the statements of `policy` with `effect` match `r` (ENI resources only).
fn matches(policy: &Value, effect: &str, r: &Request<'_>) -> bool {
    policy["Statement"].as_array().unwrap().iter().any(|s| {
        s["Effect"] == effect
            && strings(&s["Action"]).iter().any(|a| a == r.action)
            && strings(&s["Resource"])
                .iter()
                .any(|res| res.contains("network-interface"))
            && s["Condition"]
                .as_object()
                .is_none_or(|c| c.iter().all(|(op, block)| holds(op, block, r)))
    })
}

fn guard() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/iam/ownership-guard.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const CONTROLLER: &str = "arn:aws:iam::1:role/controller";
const NODE_ROLE: &str = "arn:aws:iam::1:role/eks-node";

#[test]
fn no_one_forges_ownership_tags_and_the_controller_writes_only_its_own() {
    let (own, guard) = (policy(), guard());
    let ownership: Vec<&str> = vec![
        TAG_CLUSTER,
        TAG_CLUSTER_ID,
        aws_multi_eni_controller::aws::ownership::TAG_NODEENI,
        aws_multi_eni_controller::aws::ownership::TAG_NODEENI_UID,
        aws_multi_eni_controller::aws::ownership::TAG_NODE,
        aws_multi_eni_controller::aws::ownership::TAG_INSTANCE,
        aws_multi_eni_controller::aws::ownership::TAG_SUBNET,
    ];
    let victim: &[(&str, &str)] = &[("Name", "vpc-cni secondary ENI")];
    let owned: &[(&str, &str)] = &[(TAG_CLUSTER, "c"), (TAG_CLUSTER_ID, "c-uid")];
    let go: &[(&str, &str)] = &[(LEGACY_TAG_MANAGED_BY, LEGACY_MANAGED_BY_VALUE)];
    let tag = |principal, resource_tags, tag_keys| Request {
        action: "ec2:CreateTags",
        principal,
        resource_tags,
        tag_keys,
        ..Request::default()
    };
    // Another principal (a node role any host-network pod reaches) writes no ownership
    // key on any ENI, first time or not, nor removes one; other tags are its business.
    for key in &ownership {
        for tags in [victim, owned] {
            let one = std::slice::from_ref(key);
            assert!(matches(&guard, "Deny", &tag(NODE_ROLE, tags, one)), "{key}");
            let delete = Request {
                action: "ec2:DeleteTags",
                ..tag(NODE_ROLE, tags, one)
            };
            assert!(matches(&guard, "Deny", &delete), "{key}");
        }
    }
    assert!(!matches(&guard, "Deny", &tag(NODE_ROLE, victim, &["Name"])));
    assert!(!matches(
        &guard,
        "Deny",
        &tag(CONTROLLER, victim, &[TAG_CLUSTER])
    ));
    // The controller's own policy never lets it tag an ENI it did not create as its own,
    // nor change an ownership key later; only the Go controller's ENIs are adopted, and
    // only the intent tag is written again.
    let all: Vec<&str> = ownership.clone();
    assert!(matches(&own, "Deny", &tag(CONTROLLER, victim, &all)));
    assert!(!matches(&own, "Allow", &tag(CONTROLLER, victim, &all)));
    for key in &ownership {
        let one = std::slice::from_ref(key);
        assert!(matches(&own, "Deny", &tag(CONTROLLER, owned, one)), "{key}");
    }
    let adopt_keys: Vec<String> = written_tag_keys().into_iter().collect();
    let adopt_keys: Vec<&str> = adopt_keys.iter().map(String::as_str).collect();
    let ours: &[(&str, &str)] = &[(TAG_CLUSTER, "c")];
    let adopt = Request {
        request_tags: ours,
        ..tag(CONTROLLER, go, &adopt_keys)
    };
    assert!(matches(&own, "Allow", &adopt) && !matches(&own, "Deny", &adopt));
    let intent = tag(
        CONTROLLER,
        owned,
        &[TAG_DEVICE_INDEX, TAG_BASE_DEVICE_INDEX],
    );
    assert!(matches(&own, "Allow", &intent) && !matches(&own, "Deny", &intent));
    // A user's cost tags come with the create and with an adoption; tags other managers
    // mark their ENIs with never do, nor later on an owned ENI.
    let with_extra: Vec<&str> = adopt_keys
        .iter()
        .copied()
        .chain(["CostCenter", "team"])
        .collect();
    let create_extra = Request {
        create_action: Some("CreateNetworkInterface"),
        request_tags: ours,
        ..tag(CONTROLLER, &[], &with_extra)
    };
    assert!(matches(&own, "Allow", &create_extra) && !matches(&own, "Deny", &create_extra));
    let adopt_extra = Request {
        request_tags: ours,
        ..tag(CONTROLLER, go, &with_extra)
    };
    assert!(matches(&own, "Allow", &adopt_extra) && !matches(&own, "Deny", &adopt_extra));
    for foreign in [
        "kubernetes.io/cluster/c",
        "eks:eni:owner",
        "karpenter.sh/nodepool",
    ] {
        let keys: Vec<&str> = adopt_keys.iter().copied().chain([foreign]).collect();
        let refused = !matches(
            &own,
            "Allow",
            &Request {
                action: "ec2:CreateTags",
                principal: CONTROLLER,
                tag_keys: &keys,
                create_action: Some("CreateNetworkInterface"),
                request_tags: ours,
                ..Request::default()
            },
        );
        assert!(refused, "{foreign}");
    }
    assert!(!matches(
        &own,
        "Allow",
        &tag(CONTROLLER, owned, &[TAG_DEVICE_INDEX, "CostCenter"])
    ));
    let create = Request {
        create_action: Some("CreateNetworkInterface"),
        request_tags: ours,
        ..tag(CONTROLLER, &[], &adopt_keys)
    };
    assert!(
        matches(&own, "Allow", &create),
        "tags written by the create itself"
    );
    assert!(
        !matches(&own, "Deny", &create),
        "tags written by the create itself"
    );
    // Every key ownership needs is protected.
    let protected = strings(
        &statement(&own, "NoOneElseChangesOwnership")["Condition"]["ForAnyValue:StringEquals"]["aws:TagKeys"],
    );
    for key in &ownership {
        assert!(
            protected.contains(&key.to_string()),
            "{key} is not protected"
        );
    }
}

#[test]
fn the_attach_condition_names_the_instance_tag_values_the_code_accepts() {
    use aws_multi_eni_controller::aws::CLUSTER_TAG_VALUES;
    let own = policy();
    let attach = &statement(&own, "AttachToClusterInstances")["Condition"]["StringEquals"];
    let values = strings(&attach["aws:ResourceTag/kubernetes.io/cluster/${CLUSTER_NAME}"]);
    assert_eq!(values, CLUSTER_TAG_VALUES);
}

/// Actions that name the instance as a resource (the Service Authorization Reference for
/// Amazon EC2): IAM checks them against `instance/*` too, so each needs a grant there.
/// `ModifyNetworkInterfaceAttribute` does when it changes an attachment's
/// deleteOnTermination.
const ACTIONS_ON_INSTANCES: [&str; 3] = [
    "ec2:AttachNetworkInterface",
    "ec2:DetachNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
];

#[test]
fn actions_that_touch_the_instance_are_granted_on_the_clusters_instances() {
    let own = policy();
    for sid in ["AttachToClusterInstances", "AttachToEKSClusterInstances"] {
        let s = statement(&own, sid);
        assert_eq!(strings(&s["Resource"]), ["arn:aws:ec2:*:*:instance/*"]);
        assert_eq!(strings(&s["Action"]), ACTIONS_ON_INSTANCES, "{sid}");
    }
    let on_enis = strings(&statement(&own, "ManageOwnedENI")["Action"]);
    for action in ACTIONS_ON_INSTANCES {
        assert!(
            on_enis.iter().any(|a| a == action),
            "{action} on owned ENIs"
        );
    }
}
