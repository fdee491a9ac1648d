//! The switch-over from the Go controller once through moto and the real binary: ENIs
//! made the Go way (its tags, description and base-plus-position device indices over
//! three zones), its NodeENI with its finalizer and status, taken over without one call
//! that creates, attaches, detaches or deletes; deleting the NodeENI then removes them.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_multi_eni_controller::aws::ownership::legacy::go_made;
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};

use super::{Controller, Env, apply, kubectl, reqwest_like_get, setup_in, wait};

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// The EC2 calls the controller made, by action (every outcome), from its metrics.
fn calls(metrics: &str) -> BTreeMap<String, u64> {
    let mut by_action = BTreeMap::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("aws_multi_eni_ec2_calls_total{action=\"") else {
            continue;
        };
        let (action, rest) = rest.split_once('"').unwrap();
        let n: u64 = rest
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap() as u64;
        *by_action.entry(action.to_string()).or_default() += n;
    }
    by_action
}

/// Makes the ENI the Go controller made for `node` in `subnet`, attached at `index`.
async fn go_eni(env: &Env, node: &str, instance: &str, subnet: &str, index: i32) -> String {
    let (tags, description) = go_made("multus", node, subnet);
    let spec = tags
        .iter()
        .fold(
            TagSpecification::builder().resource_type(ResourceType::NetworkInterface),
            |b, (k, v)| b.tags(Tag::builder().key(k).value(v).build()),
        )
        .build();
    let eni = env
        .ec2
        .create_network_interface()
        .subnet_id(subnet)
        .groups(&env.net.security_group_id)
        .description(description)
        .tag_specifications(spec)
        .send()
        .await
        .unwrap()
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .unwrap()
        .to_string();
    env.ec2
        .attach_network_interface()
        .network_interface_id(&eni)
        .instance_id(instance)
        .device_index(index)
        .send()
        .await
        .unwrap();
    eni
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_go_controllers_enis_are_taken_over_through_moto_without_a_move() {
    let env = setup_in(&ZONES, 1).await;
    let mut made = Vec::new();
    for (i, (instance, zone)) in env.net.instances.iter().enumerate() {
        let position = ZONES.iter().position(|z| z == zone).unwrap();
        let subnet = &env.net.subnets[position].0;
        let index = 1 + i32::try_from(position).unwrap();
        let node = format!("node-{i}");
        made.push((
            go_eni(&env, &node, instance, subnet, index).await,
            instance.clone(),
            index,
            subnet.clone(),
        ));
    }
    let names: Vec<String> = ZONES.iter().map(|z| format!("multus-{z}")).collect();
    apply(
        &env,
        "go-nodeeni.yaml",
        &format!(
            "apiVersion: networking.k8s.aws/v1alpha1
kind: NodeENI
metadata:
  name: multus
  finalizers: [nodeeni.networking.k8s.aws/finalizer]
spec:
  nodeSelector:
    ng: multi-eni
  subnetNames: [{}]
  securityGroupIDs: [{}]
  deviceIndex: 1
  deleteOnTermination: false
  mtu: 9001
",
            names.join(", "),
            env.net.security_group_id
        ),
    );
    let attachments: Vec<String> = made
        .iter()
        .enumerate()
        .map(|(i, (eni, instance, index, subnet))| {
            format!(
                r#"{{"nodeID":"node-{i}","instanceID":"{instance}","eniID":"{eni}","subnetID":"{subnet}","deviceIndex":{index},"mtu":9001,"status":"attached"}}"#
            )
        })
        .collect();
    kubectl(
        &env.api,
        &[
            "patch",
            "neni",
            "multus",
            "--subresource=status",
            "--type=merge",
            "-p",
            &format!(
                r#"{{"status":{{"attachments":[{}]}}}}"#,
                attachments.join(",")
            ),
        ],
    );

    let c = Controller::start(&env, "go");
    wait(
        "3 adopted and ready",
        &c,
        Duration::from_secs(90),
        async || super::ready(&env) == (3, 3),
    )
    .await;
    let owned = super::owned(&env).await;
    for (eni, instance, index, _) in &made {
        assert!(
            owned.contains(&(eni.clone(), Some(instance.clone()), Some(*index))),
            "{eni} adopted where it was: {owned:?}"
        );
    }
    assert_eq!(owned.len(), 3, "nothing else made: {owned:?}");
    let metrics = reqwest_like_get(c.metrics, "/metrics").await;
    let by_action = calls(&metrics);
    for action in [
        "CreateNetworkInterface",
        "AttachNetworkInterface",
        "DetachNetworkInterface",
        "DeleteNetworkInterface",
    ] {
        assert_eq!(by_action.get(action), Some(&0), "{action}: {by_action:?}");
    }
    assert_eq!(by_action.get("CreateTags"), Some(&3), "{by_action:?}");
    eprintln!("EC2 calls of the take-over: {by_action:?}");
    let listed = kubectl(
        &env.api,
        &[
            "get",
            "eninodes",
            "-o",
            "jsonpath={range .items[*]}{.spec.interfaces[*].eniID}{\" \"}{end}",
        ],
    );
    for (eni, ..) in &made {
        assert!(
            listed.contains(eni.as_str()),
            "{eni} in an ENINode: {listed}"
        );
    }
    let finalizers = kubectl(
        &env.api,
        &[
            "get",
            "neni",
            "multus",
            "-o",
            "jsonpath={.metadata.finalizers}",
        ],
    );
    assert!(
        finalizers.contains(aws_multi_eni_controller::k8s::FINALIZER)
            && finalizers.contains("nodeeni.networking.k8s.aws/finalizer"),
        "both finalizers until the ENIs are gone: {finalizers}"
    );

    kubectl(&env.api, &["delete", "neni", "multus", "--wait=false"]);
    wait(
        "every ENI deleted",
        &c,
        Duration::from_secs(90),
        async || super::owned(&env).await.is_empty(),
    )
    .await;
    super::no_nodeeni_left(&env, &c).await;
    let by_action = calls(&reqwest_like_get(c.metrics, "/metrics").await);
    assert_eq!(
        by_action.get("DeleteNetworkInterface"),
        Some(&3),
        "{by_action:?}"
    );
}
