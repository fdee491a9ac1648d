//! What moto accepts and keeps nothing of (/28 prefixes, ENA Express, the queue count,
//! connection tracking) through the real SDK: what the adapter sends is read from the raw requests
//! in front of moto; the types' ENA limits come from moto's `DescribeInstanceTypes`
//! data.

use aws_multi_eni_controller::aws::sdk::{SdkEc2, SdkEc2Config};
use aws_multi_eni_controller::aws::{AddressChange, AttachRequest, Ec2, EnaAttach};
use aws_multi_eni_controller::plan::attributes::ConnectionTracking;
use aws_multi_eni_controller::plan::interface_limits::EnaSrd;
use eni_testkit::moto::build_network;
use eni_testkit::throttled::ThrottledMoto;

use super::{owner, request, test_credentials};

#[tokio::test]
async fn the_sdk_sends_what_moto_keeps_nothing_of() {
    // Buckets far above anything this test spends: only the recording matters.
    let layer = ThrottledMoto::start(1000.0, 0.0).expect("moto and the layer start");
    let raw = layer.moto.client();
    let net = build_network(&raw, "test-cluster", &["us-east-1a"], 1, "c6in.32xlarge")
        .await
        .expect("network builds");
    let ec2 = SdkEc2::connect(SdkEc2Config {
        region: Some("us-east-1".into()),
        endpoint_url: Some(layer.endpoint()),
        credentials: test_credentials(),
        ..Default::default()
    })
    .await
    .expect("a Region is given");
    let slot = owner(&net);
    let mut create = request(
        &net,
        0,
        slot.client_token(0).as_str(),
        slot.tags(0, 1, "2026-01-01T00:00:00Z"),
    );
    create.ipv4_prefix_count = 2;
    create.connection_tracking = Some(ConnectionTracking {
        tcp_established: Some(3600),
        udp_stream: None,
        udp: Some(45),
    });
    let eni = ec2.create_eni(create).await.expect("create");
    ec2.set_connection_tracking(
        &eni.id,
        &ConnectionTracking {
            tcp_established: None,
            udp_stream: Some(120),
            udp: None,
        },
    )
    .await
    .expect("moto accepts the modify");
    ec2.change_addresses(&eni.id, &AddressChange::AssignIpv4Prefixes { count: 1 })
        .await
        .expect("moto accepts the prefix assign");
    ec2.change_addresses(
        &eni.id,
        &AddressChange::UnassignIpv4Prefixes {
            prefixes: vec!["10.0.0.16/28".into()],
        },
    )
    .await
    .expect("moto accepts the prefix unassign");
    // moto refuses IPv6 on this IPv4-only subnet only by ignoring it; the request is what
    // matters here.
    let _ = ec2
        .change_addresses(&eni.id, &AddressChange::AssignIpv6Prefixes { count: 2 })
        .await;
    ec2.attach_eni(AttachRequest {
        eni_id: eni.id.clone(),
        instance_id: net.instances[0].0.clone(),
        device_index: 1,
        network_card_index: 0,
        ena: EnaAttach {
            srd: Some(EnaSrd {
                enabled: true,
                udp: true,
            }),
            queue_count: Some(8),
        },
    })
    .await
    .expect("moto accepts the attach");

    let sent = layer.requests().expect("the recording");
    let of = |action: &str| {
        sent.iter()
            .find(|r| r.get("Action").map(String::as_str) == Some(action))
            .unwrap_or_else(|| panic!("{action} went through the layer"))
            .clone()
    };
    let created = of("CreateNetworkInterface");
    assert_eq!(
        created
            .get("ConnectionTrackingSpecification.TcpEstablishedTimeout")
            .map(String::as_str),
        Some("3600"),
        "{created:?}"
    );
    assert_eq!(
        created
            .get("ConnectionTrackingSpecification.UdpTimeout")
            .map(String::as_str),
        Some("45")
    );
    assert!(
        !created.contains_key("ConnectionTrackingSpecification.UdpStreamTimeout"),
        "a timeout left out is not sent: {created:?}"
    );
    assert_eq!(
        created.get("Ipv4PrefixCount").map(String::as_str),
        Some("2"),
        "{created:?}"
    );
    assert!(!created.contains_key("SecondaryPrivateIpAddressCount"));
    let assigned = of("AssignPrivateIpAddresses");
    assert_eq!(
        assigned.get("Ipv4PrefixCount").map(String::as_str),
        Some("1"),
        "{assigned:?}"
    );
    assert!(!assigned.contains_key("SecondaryPrivateIpAddressCount"));
    let unassigned = of("UnassignPrivateIpAddresses");
    assert!(
        unassigned
            .iter()
            .any(|(k, v)| k.starts_with("Ipv4Prefix") && v == "10.0.0.16/28"),
        "{unassigned:?}"
    );
    let v6 = of("AssignIpv6Addresses");
    assert_eq!(
        v6.get("Ipv6PrefixCount").map(String::as_str),
        Some("2"),
        "{v6:?}"
    );
    assert!(!v6.contains_key("Ipv6AddressCount"));
    let modified = of("ModifyNetworkInterfaceAttribute");
    assert_eq!(
        modified
            .get("ConnectionTrackingSpecification.UdpStreamTimeout")
            .map(String::as_str),
        Some("120"),
        "{modified:?}"
    );
    assert_eq!(
        modified.len(),
        4,
        "Action, Version, the ENI and the one timeout: {modified:?}"
    );
    let attach = sent
        .iter()
        .find(|r| r.get("Action").map(String::as_str) == Some("AttachNetworkInterface"))
        .expect("the attach went through the layer");
    for (param, value) in [
        ("NetworkInterfaceId", eni.id.as_str()),
        ("DeviceIndex", "1"),
        ("NetworkCardIndex", "0"),
        ("EnaSrdSpecification.EnaSrdEnabled", "true"),
        (
            "EnaSrdSpecification.EnaSrdUdpSpecification.EnaSrdUdpEnabled",
            "true",
        ),
        ("EnaQueueCount", "8"),
    ] {
        assert_eq!(
            attach.get(param).map(String::as_str),
            Some(value),
            "{param} in {attach:?}"
        );
    }

    // An attach without ENA settings sends none (EC2's defaults stay).
    let plain = ec2
        .create_eni(request(
            &net,
            0,
            slot.client_token(1).as_str(),
            slot.tags(1, 2, "2026-01-01T00:00:00Z"),
        ))
        .await
        .expect("create");
    ec2.attach_eni(AttachRequest {
        eni_id: plain.id.clone(),
        instance_id: net.instances[0].0.clone(),
        device_index: 2,
        network_card_index: 0,
        ena: EnaAttach::default(),
    })
    .await
    .expect("attach");
    let sent = layer.requests().expect("the recording");
    let second = sent
        .iter()
        .rfind(|r| r.get("Action").map(String::as_str) == Some("AttachNetworkInterface"))
        .unwrap();
    assert!(second.keys().all(|k| !k.starts_with("Ena")), "{second:?}");

    // The types' ENA limits, from DescribeInstanceTypes.
    let big = ec2
        .describe_instance_type_limits("c6in.32xlarge")
        .await
        .unwrap();
    assert_eq!(big.ena_srd_supported, Some(true), "{big:?}");
    assert!(
        big.ena_queues_per_interface.is_some_and(|q| q >= 8),
        "{big:?}"
    );
    let plain_type = ec2.describe_instance_type_limits("m5.large").await.unwrap();
    assert_eq!(plain_type.ena_srd_supported, Some(false), "{plain_type:?}");
}
