//! Secondary private IPv4 addresses and the source/destination check through the real
//! SDK against moto, which keeps both (it ignores prefixes and per-type limits: the
//! simulator covers those), and the per-interface address limit from moto's
//! `DescribeInstanceTypes` data.

use aws_multi_eni_controller::aws::{AddressChange, Ec2, SubnetLookup, describe_eni};

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

/// IPv6 on a dual-stack subnet through the real SDK: moto keeps IPv6 addresses (not
/// prefixes: those are in the recorded requests' test).
#[tokio::test]
async fn ipv6_addresses_round_trip_on_a_dual_stack_subnet() {
    let Env {
        ec2,
        raw,
        net,
        moto: _moto,
    } = env().await;
    let vpc = raw
        .associate_vpc_cidr_block()
        .vpc_id(&net.vpc_id)
        .amazon_provided_ipv6_cidr_block(true)
        .send()
        .await
        .expect("an IPv6 block for the VPC");
    let vpc_block = vpc
        .ipv6_cidr_block_association()
        .and_then(|a| a.ipv6_cidr_block())
        .expect("the VPC's block")
        .to_string();
    // The VPC's /56 gives the subnet its first /64.
    let subnet_block = vpc_block.replace("/56", "/64");
    raw.associate_subnet_cidr_block()
        .subnet_id(&net.subnets[0].0)
        .ipv6_cidr_block(&subnet_block)
        .send()
        .await
        .expect("an IPv6 block for the subnet");
    let subnets = ec2
        .describe_subnets(&SubnetLookup::Ids(vec![
            net.subnets[0].0.clone(),
            net.subnets[1].0.clone(),
        ]))
        .await
        .unwrap();
    let dual = subnets.iter().find(|s| s.id == net.subnets[0].0).unwrap();
    let single = subnets.iter().find(|s| s.id == net.subnets[1].0).unwrap();
    assert_eq!(dual.ipv6_cidr.as_deref(), Some(subnet_block.as_str()));
    assert_eq!(single.ipv6_cidr, None);

    let slot = owner(&net);
    let mut create = request(
        &net,
        0,
        slot.client_token(0).as_str(),
        slot.tags(0, 1, "2026-01-01T00:00:00Z"),
    );
    create.ipv6_address_count = 2;
    let eni = ec2.create_eni(create).await.expect("create");
    assert_eq!(eni.ipv6_addresses.len(), 2, "{eni:?}");
    ec2.change_addresses(&eni.id, &AddressChange::AssignIpv6 { count: 1 })
        .await
        .expect("assign");
    let three = describe_eni(&ec2, &eni.id).await.unwrap().unwrap();
    assert_eq!(three.ipv6_addresses.len(), 3, "{three:?}");
    let last = three.ipv6_addresses[2..].to_vec();
    ec2.change_addresses(&eni.id, &AddressChange::UnassignIpv6 { addresses: last })
        .await
        .expect("unassign");
    let two = describe_eni(&ec2, &eni.id).await.unwrap().unwrap();
    assert_eq!(two.ipv6_addresses, eni.ipv6_addresses);

    let limits = ec2.describe_instance_type_limits("m5.large").await.unwrap();
    assert_eq!(limits.ipv6_per_interface, Some(10), "{limits:?}");
}
