use super::*;
use crate::k8s::{ENINode, ENINodeSpec, NodeInterface};

fn entry(nodeeni: &str, mac: &str, mtu: i32) -> NodeInterface {
    NodeInterface {
        eni_id: format!("eni-{mac}"),
        mac_address: mac.into(),
        node_eni: nodeeni.into(),
        subnet_id: "subnet-12345678".into(),
        device_index: 1,
        network_card_index: 0,
        mtu,
        private_ipv4_addresses: Vec::new(),
        ipv4_prefixes: Vec::new(),
        ipv6_addresses: Vec::new(),
        ipv6_prefixes: Vec::new(),
        source_dest_check: None,
        dpdk: None,
    }
}

fn link(mac: &str, mtu: u32, up: bool) -> LinkState {
    LinkState {
        index: 7,
        name: "ens6".into(),
        mac: mac.into(),
        mtu,
        max_mtu: Some(9216),
        up,
        kind: None,
    }
}

#[test]
fn this_nodes_enis_with_a_mac() {
    let eninode = ENINode::new(
        "me",
        ENINodeSpec {
            interfaces: vec![
                entry("a", "02:AA:00:00:00:01", 9001),
                entry("a", "", 1500),
                entry("b", "02:aa:00:00:00:03", 0),
            ],
        },
    );
    let d = desired_links(Some(&eninode), 0);
    assert_eq!(
        d.keys().cloned().collect::<Vec<_>>(),
        vec!["02:aa:00:00:00:01", "02:aa:00:00:00:03"]
    );
    assert_eq!(d["02:aa:00:00:00:01"].mtu, 9001);
    assert_eq!(d["02:aa:00:00:00:01"].nodeeni, "a");
    assert_eq!(d["02:aa:00:00:00:03"].mtu, 0, "0 leaves the MTU alone");
    assert_eq!(
        desired_links(Some(&eninode), 1500)["02:aa:00:00:00:03"].mtu,
        1500,
        "unless a default is set"
    );
    assert!(desired_links(None, 1500).is_empty(), "no ENINode: nothing");
}

#[test]
fn mtu_is_clamped_to_the_floor_and_the_link_maximum() {
    assert_eq!(target_mtu(0, Some(9000)), None);
    assert_eq!(target_mtu(100, None), Some(576));
    assert_eq!(target_mtu(9001, Some(9216)), Some(9001));
    assert_eq!(target_mtu(9001, Some(1500)), Some(1500));
    assert_eq!(target_mtu(70_000, Some(65_535)), Some(65_535));
    assert_eq!(
        target_mtu(9001, Some(0)),
        Some(9001),
        "0 means the driver reports no maximum"
    );
}

#[test]
fn plans_only_what_differs_and_reports_it() {
    let d = DesiredLink {
        mac: "02:aa:00:00:00:01".into(),
        eni_id: "eni-1".into(),
        nodeeni: "a".into(),
        mtu: 9001,
        dpdk: None,
        recorded: None,
    };
    assert_eq!(
        plan(&d, &link(&d.mac, 1500, false)),
        LinkChange {
            up: true,
            mtu: Some(9001)
        }
    );
    assert!(plan(&d, &link(&d.mac, 9001, true)).is_empty());
    let r = report(&d, Ok(&link(&d.mac, 9001, true)), None);
    assert!(r.configured);
    assert!(!r.mtu_clamped);
    assert_eq!(r.interface.as_deref(), Some("ens6"));
    assert!(!report(&d, Err(NoLink::Missing), None).configured);
    assert!(!report(&d, Err(NoLink::Ambiguous), None).configured);
    assert!(!report(&d, Ok(&link(&d.mac, 9001, true)), Some("EPERM".into())).configured);
}

#[test]
fn an_mtu_held_down_by_the_link_maximum_is_reported_as_clamped() {
    let d = DesiredLink {
        mac: "02:aa:00:00:00:01".into(),
        eni_id: "eni-1".into(),
        nodeeni: "a".into(),
        mtu: 9001,
        dpdk: None,
        recorded: None,
    };
    let small = LinkState {
        max_mtu: Some(1500),
        ..link(&d.mac, 1500, true)
    };
    assert!(plan(&d, &small).is_empty(), "nothing more can be done");
    let r = report(&d, Ok(&small), None);
    assert!(r.mtu_clamped);
    assert_eq!(r.mtu, Some(1500));
    assert!(
        r.message
            .as_deref()
            .is_some_and(|m| m.contains("9001") && m.contains("1500")),
        "{r:?}"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["mtuClamped"], true);
    let unclamped = serde_json::to_value(report(&d, Ok(&link(&d.mac, 9001, true)), None)).unwrap();
    assert!(unclamped.get("mtuClamped").is_none(), "left out when false");
}

#[test]
fn the_enis_own_device_is_picked_never_a_link_stacked_on_it() {
    let mac = "02:aa:00:00:00:01";
    let kind = |index, k: Option<&str>| LinkState {
        index,
        kind: k.map(String::from),
        ..link(mac, 1500, false)
    };
    let eni = kind(3, None);
    let vlan = kind(4, Some("vlan"));
    let bridge = kind(5, Some("bridge"));
    let bond = kind(6, Some("bond"));
    let macvlan = kind(7, Some("macvlan"));
    let all = [
        vlan.clone(),
        bridge.clone(),
        eni.clone(),
        bond.clone(),
        macvlan.clone(),
    ];
    assert_eq!(pick(&all, mac).map(|l| l.index), Ok(3));
    assert_eq!(
        pick(&[vlan, bridge, bond, macvlan], mac).err(),
        Some(NoLink::Missing)
    );
    let veth = kind(8, Some("veth"));
    assert_eq!(
        pick(std::slice::from_ref(&veth), mac).map(|l| l.index),
        Ok(8)
    );
    assert_eq!(pick(&[eni, veth], mac).err(), Some(NoLink::Ambiguous));
    assert_eq!(pick(&all, "02:aa:00:00:00:02").err(), Some(NoLink::Missing));
}
