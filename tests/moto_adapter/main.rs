//! The aws-sdk-ec2 adapter against a real EC2 Query API server (moto), through the real
//! SDK: every method of the port, and every error classification moto can produce.
//! Where moto differs from EC2 the test says so; those behaviours are covered by the
//! simulator's tests instead.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::process::Command;

use aws_multi_eni_controller::aws::{
    AttachRequest, ClientToken, CreateEniRequest, Ec2, EniFilter, EniStatus, InstanceState,
    SecurityGroupLookup, SubnetLookup, Tags, describe_all_enis, describe_eni, describe_enis_by_id,
    describe_instance,
    ownership::{self, SlotOwner},
    resolve::{Resolver, SecurityGroupRef, SubnetRef},
    sdk::{SdkEc2, SdkEc2Config},
};
use eni_testkit::moto::{MotoNetwork, MotoServer, build_network};

mod addresses;
mod recorded;

struct Env {
    moto: MotoServer,
    raw: aws_sdk_ec2::Client,
    ec2: SdkEc2,
    net: MotoNetwork,
}

async fn env() -> Env {
    let moto = MotoServer::start().expect("moto starts");
    let raw = moto.client();
    let net = build_network(
        &raw,
        "test-cluster",
        &["us-east-1a", "us-east-1b"],
        1,
        "m5.large",
    )
    .await
    .expect("network builds");
    let ec2 = SdkEc2::connect(SdkEc2Config {
        region: Some("us-east-1".into()),
        endpoint_url: Some(moto.endpoint()),
        credentials: test_credentials(),
        ..Default::default()
    })
    .await
    .expect("a Region is given");
    Env {
        moto,
        raw,
        ec2,
        net,
    }
}

fn request(net: &MotoNetwork, zone: usize, token: &str, tags: Tags) -> CreateEniRequest {
    CreateEniRequest {
        subnet_id: net.subnets[zone].0.clone(),
        security_group_ids: vec![net.security_group_id.clone()],
        description: "test".into(),
        tags,
        client_token: ClientToken::new(token),
        secondary_ipv4_count: 0,
        ipv4_prefix_count: 0,
        ipv6_address_count: 0,
        ipv6_prefix_count: 0,
        connection_tracking: None,
    }
}

fn owner(net: &MotoNetwork) -> SlotOwner {
    SlotOwner {
        cluster: aws_multi_eni_controller::aws::ownership::ClusterIdentity::new(
            "test-cluster",
            "test-cluster-uid",
        ),
        nodeeni_name: "multus".into(),
        nodeeni_uid: "uid-1".into(),
        node_name: "node-a".into(),
        instance_id: net.instances[0].0.clone(),
        subnet_id: net.subnets[0].0.clone(),
        slot: 0,
    }
}

/// moto accepts any key; given to the client directly, not through the environment
/// (setting the process environment races with the other tests' threads).
fn test_credentials() -> Option<aws_sdk_ec2::config::Credentials> {
    Some(aws_sdk_ec2::config::Credentials::new(
        "test", "test", None, None, "test",
    ))
}

#[tokio::test]
async fn full_eni_lifecycle_through_the_port() {
    let Env {
        raw,
        ec2,
        net,
        moto: _moto,
    } = env().await;
    let slot = owner(&net);
    let tags = slot.tags(0, 1, "2026-01-01T00:00:00Z");
    let eni = ec2
        .create_eni(request(&net, 0, slot.client_token(0).as_str(), tags))
        .await
        .expect("create");
    assert!(eni.id.starts_with("eni-"));
    assert!(!eni.mac_address.is_empty());
    assert_eq!(eni.subnet_id, net.subnets[0].0);
    assert_eq!(eni.availability_zone, "us-east-1a");
    assert!(eni.private_ip.is_some());
    assert_eq!(eni.status, EniStatus::Available);
    assert_eq!(
        eni.tags.get(ownership::TAG_NODEENI_UID).map(String::as_str),
        Some("uid-1")
    );

    // Found by its ownership tags, as adoption after a crash will do.
    let by_slot = describe_all_enis(&ec2, &slot.filter())
        .await
        .expect("describe by tags");
    assert_eq!(
        by_slot.iter().map(|e| &e.id).collect::<Vec<_>>(),
        vec![&eni.id]
    );
    let owned = describe_all_enis(&ec2, &ownership::owned_by("test-cluster"))
        .await
        .unwrap();
    assert_eq!(owned.len(), 1);
    assert!(
        describe_all_enis(&ec2, &ownership::owned_by("other"))
            .await
            .unwrap()
            .is_empty()
    );

    let instance_id = net.instances[0].0.clone();
    let attachment_id = ec2
        .attach_eni(AttachRequest {
            eni_id: eni.id.clone(),
            instance_id: instance_id.clone(),
            device_index: 1,
            network_card_index: 0,
            ena: Default::default(),
        })
        .await
        .expect("attach");
    assert!(attachment_id.starts_with("eni-attach-"));

    let attached = describe_eni(&ec2, &eni.id)
        .await
        .unwrap()
        .expect("still there");
    let a = attached.attachment.expect("attachment");
    assert_eq!(a.attachment_id, attachment_id);
    assert_eq!(a.instance_id.as_deref(), Some(instance_id.as_str()));
    assert_eq!(a.device_index, 1);
    // moto: attachments are immediate (EC2 passes through `attaching`).
    assert_eq!(attached.status, EniStatus::InUse);

    let on_instance = describe_all_enis(&ec2, &EniFilter::on_instance(&instance_id))
        .await
        .unwrap();
    assert!(on_instance.iter().any(|e| e.id == eni.id));
    assert!(
        on_instance.len() >= 2,
        "primary and secondary: {on_instance:?}"
    );

    let inst = describe_instance(&ec2, &instance_id)
        .await
        .expect("describe instance");
    assert_eq!(inst.state, InstanceState::Running);
    assert_eq!(inst.availability_zone, "us-east-1a");
    assert_eq!(inst.instance_type, "m5.large");
    // The instance's VPC and tags come over the wire: the trust check reads them.
    assert_eq!(inst.vpc_id, net.vpc_id);
    assert!(inst.in_cluster("test-cluster"), "{:?}", inst.tags);
    assert!(!inst.in_cluster("another-cluster"));
    assert!(
        inst.interfaces
            .iter()
            .any(|i| i.eni_id == eni.id && i.device_index == 1)
    );
    assert!(inst.interfaces.iter().any(|i| i.device_index == 0));

    // moto accepts the call but keeps deleteOnTermination false; the simulator's tests
    // cover the real behaviour.
    ec2.set_delete_on_termination(&eni.id, &attachment_id, true)
        .await
        .expect("modify attachment");

    let extra_group = raw
        .create_security_group()
        .group_name("extra")
        .description("extra")
        .vpc_id(&net.vpc_id)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let groups = vec![net.security_group_id.clone(), extra_group.clone()];
    ec2.modify_security_groups(&eni.id, &groups)
        .await
        .expect("modify groups");
    let modified = describe_eni(&ec2, &eni.id).await.unwrap().unwrap();
    let mut have = modified.security_group_ids.clone();
    have.sort();
    let mut want = groups.clone();
    want.sort();
    assert_eq!(have, want);

    let mut more = Tags::new();
    more.insert("adopted".into(), "yes".into());
    ec2.tag_eni(&eni.id, &more).await.expect("tag");
    let tagged = describe_all_enis(&ec2, &EniFilter::tagged("adopted", "yes"))
        .await
        .unwrap();
    assert_eq!(tagged.len(), 1);

    ec2.detach_eni(&attachment_id, true).await.expect("detach");
    let detached = describe_eni(&ec2, &eni.id).await.unwrap().unwrap();
    assert_eq!(detached.status, EniStatus::Available);
    let available = describe_all_enis(
        &ec2,
        &ownership::owned_by("test-cluster").with_status(EniStatus::Available),
    )
    .await
    .unwrap();
    assert_eq!(available.len(), 1);

    ec2.delete_eni(&eni.id).await.expect("delete");
    assert_eq!(describe_eni(&ec2, &eni.id).await.unwrap(), None);
}

#[tokio::test]
async fn lookups_by_id_and_name() {
    let e = env().await;
    let by_id = e
        .ec2
        .describe_subnets(&SubnetLookup::Ids(vec![e.net.subnets[1].0.clone()]))
        .await
        .unwrap();
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].availability_zone, "us-east-1b");
    assert_eq!(by_id[0].cidr, "10.0.2.0/24");
    assert_eq!(by_id[0].vpc_id, e.net.vpc_id);
    assert_eq!(by_id[0].name.as_deref(), Some("multus-us-east-1b"));
    let by_name = e
        .ec2
        .describe_subnets(&SubnetLookup::Names(vec!["multus-us-east-1a".into()]))
        .await
        .unwrap();
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0].id, e.net.subnets[0].0);

    let sg = e
        .ec2
        .describe_security_groups(&SecurityGroupLookup::Names {
            names: vec!["multus".into()],
            vpc_id: Some(e.net.vpc_id.clone()),
        })
        .await
        .unwrap();
    assert_eq!(
        sg.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
        vec![e.net.security_group_id.clone()]
    );
    let sg = e
        .ec2
        .describe_security_groups(&SecurityGroupLookup::Ids(vec![
            e.net.security_group_id.clone(),
        ]))
        .await
        .unwrap();
    assert_eq!(sg[0].name, "multus");

    let ids: Vec<String> = e.net.instances.iter().map(|(i, _)| i.clone()).collect();
    let both = e
        .ec2
        .describe_instances(&ids)
        .await
        .expect("several instances in one call");
    assert_eq!(both.len(), 2);
    assert!(both.iter().all(|i| ids.contains(&i.id)));
    let limits = e
        .ec2
        .describe_instance_type_limits("m5.large")
        .await
        .expect("instance type");
    assert_eq!(limits.max_interfaces, 3);
    assert_eq!(limits.card(0), Some(3));

    // The resolver caches in front of the adapter and keeps spec order.
    let resolver = Resolver::new(
        std::sync::Arc::new(e.ec2.clone()),
        std::time::Duration::from_secs(300),
        std::time::Duration::from_secs(30),
    );
    let subnets = resolver
        .subnets(
            &[
                SubnetRef::Name("multus-us-east-1b".into()),
                SubnetRef::Id(e.net.subnets[0].0.clone()),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        subnets.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![e.net.subnets[1].0.clone(), e.net.subnets[0].0.clone()]
    );
    let groups = resolver
        .security_groups(
            &[
                SecurityGroupRef::Name("multus".into()),
                SecurityGroupRef::Id(e.net.security_group_id.clone()),
            ],
            Some(&e.net.vpc_id),
        )
        .await
        .unwrap();
    assert_eq!(groups, vec![e.net.security_group_id.clone()]);
    assert_eq!(
        resolver
            .subnets(&[SubnetRef::Name("nope".into())], None)
            .await
            .unwrap_err()
            .label(),
        "subnet_not_found"
    );
}

#[tokio::test]
async fn errors_are_classified() {
    let e = env().await;
    let missing_eni = "eni-0123456789abcdef0";
    let err = e.ec2.delete_eni(missing_eni).await.unwrap_err();
    assert_eq!(err.label(), "not_found", "{err}");
    // A read by ID fails on an ID EC2 does not know, as EC2 does; the helpers turn that
    // into absence.
    let err = e
        .ec2
        .describe_enis(&EniFilter::by_ids([missing_eni]), None)
        .await
        .unwrap_err();
    assert_eq!(err.label(), "not_found", "{err}");
    assert_eq!(describe_eni(&e.ec2, missing_eni).await.unwrap(), None);
    let err = e
        .ec2
        .detach_eni("eni-attach-0123456789abcdef0", false)
        .await
        .unwrap_err();
    assert_eq!(err.label(), "not_found", "{err}");
    let err = e
        .ec2
        .describe_instances(&["i-0123456789abcdef0".to_string()])
        .await
        .unwrap_err();
    assert_eq!(err.label(), "not_found", "{err}");
    let err = e
        .ec2
        .create_eni(CreateEniRequest {
            subnet_id: "subnet-0123456789abcdef0".into(),
            ..request(&e.net, 0, "t1", Tags::new())
        })
        .await
        .unwrap_err();
    assert_eq!(err.label(), "not_found", "{err}");
    let err = e
        .ec2
        .describe_subnets(&SubnetLookup::Ids(vec!["subnet-0123456789abcdef0".into()]))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "not_found", "{err}");
    let err = e
        .ec2
        .describe_security_groups(&SecurityGroupLookup::Ids(vec![
            "sg-0123456789abcdef0".into(),
        ]))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "not_found", "{err}");
    // A malformed ID: EC2 answers `.Malformed` (invalid_parameter); moto answers
    // `.NotFound`. Either way the call fails without side effects.
    let err = e.ec2.delete_eni("not-an-eni").await.unwrap_err();
    assert!(
        matches!(err.label(), "not_found" | "invalid_parameter"),
        "{err}"
    );
    let err = e
        .ec2
        .describe_instance_type_limits("m5.nonsense")
        .await
        .unwrap_err();
    assert!(
        matches!(err.label(), "invalid_parameter" | "not_found"),
        "{err}"
    );

    // A reused ClientToken: EC2 returns the first ENI (or IdempotentParameterMismatch
    // when parameters differ); moto ignores tokens and makes a second ENI. The
    // simulator's tests cover EC2's behaviour.
    let first = e
        .ec2
        .create_eni(request(&e.net, 0, "same-token", Tags::new()))
        .await
        .unwrap();
    let second = e
        .ec2
        .create_eni(request(&e.net, 0, "same-token", Tags::new()))
        .await
        .unwrap();
    assert_ne!(
        first.id, second.id,
        "moto emulates ClientToken now: move this case to moto"
    );

    // Attaching at a used device index: EC2 answers device_index_in_use; moto accepts
    // it. Attaching an ENI that does not exist fails as not found on both.
    let err = e
        .ec2
        .attach_eni(AttachRequest {
            eni_id: missing_eni.into(),
            instance_id: e.net.instances[0].0.clone(),
            device_index: 1,
            network_card_index: 0,
            ena: Default::default(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.label(), "not_found", "{err}");
}

#[tokio::test]
async fn pages_are_followed() {
    let moto = MotoServer::start().unwrap();
    let net = build_network(
        &moto.client(),
        "test-cluster",
        &["us-east-1a"],
        0,
        "m5.large",
    )
    .await
    .unwrap();
    let ec2 = SdkEc2::connect(SdkEc2Config {
        region: Some("us-east-1".into()),
        endpoint_url: Some(moto.endpoint()),
        page_size: 5,
        credentials: test_credentials(),
        ..Default::default()
    })
    .await
    .expect("a Region is given");
    let mut tags = Tags::new();
    tags.insert(ownership::TAG_CLUSTER.into(), "paged".into());
    for i in 0..12 {
        ec2.create_eni(request(&net, 0, &format!("p{i}"), tags.clone()))
            .await
            .unwrap();
    }
    let all = describe_all_enis(&ec2, &ownership::owned_by("paged"))
        .await
        .unwrap();
    assert_eq!(all.len(), 12);
    let first = ec2
        .describe_enis(&ownership::owned_by("paged"), None)
        .await
        .unwrap();
    assert!(first.items.len() <= 12);

    // By ID: the ones that exist, in one page although the account holds more than a
    // page, with deleted IDs among them.
    let mut ids: Vec<String> = all.iter().take(8).map(|e| e.id.clone()).collect();
    for gone in &ids[..2] {
        ec2.delete_eni(gone).await.unwrap();
    }
    let page = ec2
        .describe_enis(&EniFilter::by_ids(ids[2..].to_vec()), None)
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.next_token), (6, None));
    ids.reverse();
    let mut found: Vec<String> = describe_enis_by_id(&ec2, &ids)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    found.sort();
    let mut want = ids[..6].to_vec();
    want.sort();
    assert_eq!(found, want);
}

/// The account and principal said at start come from `sts:GetCallerIdentity` on the same
/// endpoint, Region and credentials as EC2 (moto answers it as its default account).
#[tokio::test]
async fn the_caller_identity_comes_from_sts() {
    let e = env().await;
    let id = e
        .ec2
        .caller_identity()
        .await
        .expect("a connected client has STS")
        .expect("STS answers");
    assert_eq!(id.account, "123456789012");
    assert!(
        id.arn.starts_with("arn:aws:") && id.arn.contains("123456789012"),
        "{id:?}"
    );
}

#[tokio::test]
async fn region_and_endpoint_come_from_the_environment() {
    let e = env().await;
    // The library example, run as a user would, with only environment variables.
    let example = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|deps| deps.parent())
        .map(|debug| debug.join("examples").join("eni_lifecycle"))
        .unwrap();
    assert!(
        example.exists(),
        "{} not built (cargo builds examples with the tests)",
        example.display()
    );
    let out = Command::new(&example)
        .env("AWS_ENDPOINT_URL_EC2", e.moto.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("SUBNET_ID", &e.net.subnets[0].0)
        .env("SECURITY_GROUP_ID", &e.net.security_group_id)
        .env("INSTANCE_ID", &e.net.instances[0].0)
        .output()
        .expect("example runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "example failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("attached as eni-attach-"), "{stdout}");
    assert!(stdout.contains("deleted eni-"), "{stdout}");
    // Nothing left behind by the example.
    let left = e.raw.describe_network_interfaces().send().await.unwrap();
    assert!(
        left.network_interfaces()
            .iter()
            .all(|n| n.description() != Some("aws-multi-eni-controller library example"))
    );
}

/// Runs `examples/region` with only `env` set (besides PATH): what it printed, or what
/// it said when it stopped.
fn region_with(env: &[(&str, &str)]) -> Result<String, String> {
    let example = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|deps| deps.parent())
        .map(|debug| debug.join("examples").join("region"))
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(&example)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .envs(env.iter().copied())
        .output()
        .expect("examples/region runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

#[test]
fn the_region_comes_from_the_environment_else_instance_metadata_else_it_stops() {
    assert_eq!(
        region_with(&[("AWS_REGION", "eu-west-3")]).unwrap(),
        "eu-west-3 (AWS_REGION)"
    );
    // No Region anywhere: a message, not us-west-2 (every subnet would be "not found").
    let said = region_with(&[("AWS_EC2_METADATA_DISABLED", "true")]).unwrap_err();
    assert!(said.contains("no AWS Region: set AWS_REGION"), "{said}");
    // A stand-in instance metadata service (IMDSv2: a token, then the Region).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route(
            "/latest/api/token",
            axum::routing::put(|| async {
                (
                    [("x-aws-ec2-metadata-token-ttl-seconds", "21600")],
                    "a-token",
                )
            }),
        )
        .route(
            "/latest/meta-data/placement/region",
            axum::routing::get(|| async { "ap-southeast-2" }),
        );
    rt.spawn(async move { axum::serve(listener, app).await });
    let endpoint = format!("http://{addr}");
    assert_eq!(
        region_with(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint)]).unwrap(),
        "ap-southeast-2 (profile or instance metadata)",
        "from instance metadata"
    );
}
