//! Secondary private IPv4 addresses and the source/destination check through the real
//! SDK against moto, which keeps both (it ignores prefixes and per-type limits: the
//! simulator covers those), and the per-interface address limit from moto's
//! `DescribeInstanceTypes` data.

use aws_multi_eni_controller::aws::{AddressChange, Ec2, describe_eni};

use super::{Env, env, owner, request};

#[tokio::test]
async fn addresses_and_the_check_round_trip_through_the_sdk() {
    let Env {
        ec2,
        net,
        moto: _moto,
        ..
    } = env().await;
    let slot = owner(&net);
    let mut create = request(
        &net,
        0,
        slot.client_token(0).as_str(),
        slot.tags(0, 1, "2026-01-01T00:00:00Z"),
    );
    create.secondary_ipv4_count = 3;
    let eni = ec2.create_eni(create).await.expect("create");
    assert_eq!(eni.secondary_ips.len(), 3, "{eni:?}");
    assert!(eni.source_dest_check, "EC2's default");
    let primary = eni.private_ip.clone().unwrap();
    assert!(!eni.secondary_ips.contains(&primary), "the primary apart");

    ec2.change_addresses(&eni.id, &AddressChange::AssignIpv4 { count: 2 })
        .await
        .expect("assign");
    let five = describe_eni(&ec2, &eni.id).await.unwrap().unwrap();
    assert_eq!(five.secondary_ips.len(), 5);
    assert_eq!(&five.secondary_ips[..3], &eni.secondary_ips[..]);

    let last: Vec<String> = five.secondary_ips[3..].to_vec();
    ec2.change_addresses(
        &eni.id,
        &AddressChange::UnassignIpv4 {
            addresses: last.clone(),
        },
    )
    .await
    .expect("unassign");
    let three = describe_eni(&ec2, &eni.id).await.unwrap().unwrap();
    assert_eq!(three.secondary_ips, eni.secondary_ips);
    assert_eq!(three.private_ip, Some(primary));

    ec2.set_source_dest_check(&eni.id, false)
        .await
        .expect("modify");
    let unchecked = describe_eni(&ec2, &eni.id).await.unwrap().unwrap();
    assert!(!unchecked.source_dest_check);

    let limits = ec2.describe_instance_type_limits("m5.large").await.unwrap();
    assert_eq!(limits.ipv4_per_interface, Some(10), "{limits:?}");
}
