use super::*;

fn node(name: &str, instance: &str, zone: Option<&str>, vpc: Option<&str>) -> NodeInput {
    NodeInput {
        name: name.into(),
        labels: [("ng".to_string(), "a".to_string())].into(),
        instance_id: Some(instance.into()),
        zone: zone.map(Into::into),
        vpc: vpc.map(Into::into),
        created: None,
    }
}

fn subnet(id: &str, zone: &str, vpc: &str) -> SubnetInput {
    SubnetInput {
        id: id.into(),
        zone: zone.into(),
        vpc: vpc.into(),
        cidr: "10.0.0.0/24".into(),
        security_groups: vec![format!("sg-of-{vpc}")],
        ipv6: false,
    }
}

fn spec(subnets: Vec<SubnetInput>, by_vpc: bool) -> ResolvedSpec {
    ResolvedSpec {
        selector: [("ng".to_string(), "a".to_string())].into(),
        subnets,
        by_vpc,
        base_device_index: 1,
        network_card: 0,
        delete_on_termination: true,
        description: "d".into(),
        tags: Default::default(),
        secondary_ipv4: None,
        ipv4_prefixes: None,
        ipv6_addresses: None,
        ipv6_prefixes: None,
        source_dest_check: None,
        ena_srd: None,
        ena_queue_count: None,
        connection_tracking: None,
    }
}

/// (node, subnet, preferred index, groups) of each planned slot.
fn planned(p: &SlotPlan) -> Vec<(String, String, u32, String)> {
    p.slots
        .values()
        .map(|d| {
            (
                d.key.node.clone(),
                d.key.subnet_id.clone(),
                d.preferred_device_index,
                d.security_groups.join(","),
            )
        })
        .collect()
}

#[test]
fn a_node_gets_the_subnets_of_its_zone_at_consecutive_indices() {
    let s = spec(
        vec![
            subnet("s-a1", "a", "vpc-1"),
            subnet("s-b1", "b", "vpc-1"),
            subnet("s-a2", "a", "vpc-1"),
        ],
        false,
    );
    let nodes = [
        node("n", "i-1", Some("a"), None),
        node("m", "i-2", None, None),
    ];
    let p = plan_slots(&s, &nodes);
    let mut got = planned(&p);
    got.sort();
    assert_eq!(
        got,
        [
            ("m", "s-a1", 1),
            ("m", "s-a2", 3),
            ("m", "s-b1", 2),
            ("n", "s-a1", 1),
            ("n", "s-a2", 2),
        ]
        .map(|(n, s, i)| (n.to_string(), s.to_string(), i, "sg-of-vpc-1".to_string()))
    );
    assert!(p.skipped.is_empty(), "{:?}", p.skipped);
}

#[test]
fn named_subnets_go_to_nodes_of_their_vpc_and_others_are_told_why() {
    // One name, one subnet in each of two VPCs; the groups resolved in each.
    let s = spec(
        vec![subnet("s-1", "a", "vpc-1"), subnet("s-2", "a", "vpc-2")],
        true,
    );
    for order in [["x", "y", "z", "w"], ["w", "z", "y", "x"]] {
        let mut nodes = vec![
            node("x", "i-1", Some("a"), Some("vpc-1")),
            node("y", "i-2", Some("a"), Some("vpc-2")),
            node("z", "i-3", Some("a"), Some("vpc-3")),
            node("w", "i-4", Some("a"), None),
        ];
        nodes.sort_by_key(|n| order.iter().position(|o| *o == n.name));
        let p = plan_slots(&s, &nodes);
        assert_eq!(
            planned(&p),
            [
                ("x", "s-1", 1, "sg-of-vpc-1"),
                ("y", "s-2", 1, "sg-of-vpc-2")
            ]
            .map(|(n, s, i, g)| (n.to_string(), s.to_string(), i, g.to_string()))
        );
        let mut skipped = p.skipped.clone();
        skipped.sort_by(|a, b| a.node().cmp(b.node()));
        assert_eq!(
            skipped,
            vec![
                Skip::VpcUnknown { node: "w".into() },
                Skip::NoSubnetInVpc {
                    node: "z".into(),
                    vpc: "vpc-3".into()
                },
            ]
        );
    }
}

#[test]
fn of_two_nodes_on_one_instance_the_newest_gets_the_slot() {
    let s = spec(vec![subnet("s-1", "a", "vpc-1")], false);
    let at = |secs: i64| Some(jiff::Timestamp::from_second(secs).unwrap());
    let mut old = node("old", "i-1", Some("a"), None);
    old.created = at(100);
    let mut new = node("new", "i-1", Some("a"), None);
    new.created = at(200);
    for nodes in [[old.clone(), new.clone()], [new.clone(), old.clone()]] {
        let p = plan_slots(&s, &nodes);
        assert_eq!(
            p.slots.keys().map(|k| k.node.as_str()).collect::<Vec<_>>(),
            ["new"]
        );
        assert_eq!(
            p.skipped,
            vec![Skip::SharedInstance {
                node: "old".into(),
                with: "new".into()
            }]
        );
    }
}

#[test]
fn a_node_served_in_its_zone_is_not_reported_for_the_other_zones_subnets() {
    // One subnet per zone (the multi-zone pattern): nothing to report for a node that got
    // its zone's subnet; one entry for a node in a zone the NodeENI does not cover.
    let s = spec(
        vec![
            subnet("s-a", "a", "vpc-1"),
            subnet("s-b", "b", "vpc-1"),
            subnet("s-c", "c", "vpc-1"),
        ],
        false,
    );
    let nodes = [
        node("in-a", "i-1", Some("a"), None),
        node("in-b", "i-2", Some("b"), None),
        node("in-d", "i-3", Some("d"), None),
    ];
    let p = plan_slots(&s, &nodes);
    assert_eq!(
        planned(&p)
            .into_iter()
            .map(|(n, s, i, _)| (n, s, i))
            .collect::<Vec<_>>(),
        [("in-a", "s-a", 1), ("in-b", "s-b", 1)].map(|(n, s, i)| (n.to_string(), s.to_string(), i))
    );
    assert_eq!(
        p.skipped,
        [Skip::NoSubnetInZone {
            node: "in-d".into(),
            node_zone: "d".into()
        }]
    );
}
