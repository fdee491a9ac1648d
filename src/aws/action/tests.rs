use super::*;

#[test]
fn defaults_match_the_published_buckets() {
    let t = BucketTable::default();
    assert_eq!(
        t.get(Ec2Action::CreateNetworkInterface),
        BucketSpec::new(100, 5.0)
    );
    assert_eq!(
        t.get(Ec2Action::AttachNetworkInterface),
        BucketSpec::new(50, 5.0)
    );
    assert_eq!(
        t.get(Ec2Action::DescribeNetworkInterfaces),
        BucketSpec::new(100, 20.0)
    );
    assert_eq!(t.get(Ec2Action::CreateTags), BucketSpec::new(100, 10.0));
}

#[test]
fn overrides_parse_and_reject_nonsense() {
    let t = BucketTable::default()
        .with_overrides("createnetworkinterface=200/10, DetachNetworkInterface=60/6")
        .unwrap();
    assert_eq!(
        t.get(Ec2Action::CreateNetworkInterface),
        BucketSpec::new(200, 10.0)
    );
    assert_eq!(
        t.get(Ec2Action::DetachNetworkInterface),
        BucketSpec::new(60, 6.0)
    );
    for bad in [
        "Create=1/1",
        "CreateTags=0/1",
        "CreateTags=5/0",
        "CreateTags:5/1",
    ] {
        assert!(BucketTable::default().with_overrides(bad).is_err(), "{bad}");
    }
}

#[test]
fn floor_counts_only_calls_beyond_the_burst() {
    let b = BucketSpec::new(100, 5.0);
    assert_eq!(b.floor_seconds(100), 0.0);
    assert_eq!(b.floor_seconds(1100), 200.0);
}

#[test]
fn names_round_trip() {
    for a in Ec2Action::ALL {
        assert_eq!(a.as_str().parse::<Ec2Action>().unwrap(), a);
    }
    assert!(!Ec2Action::DescribeInstances.is_mutating());
    assert!(Ec2Action::CreateTags.is_mutating());
}
