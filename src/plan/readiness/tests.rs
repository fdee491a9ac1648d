use super::*;

fn slot(subnet: &str, eni: Option<&str>, attached: bool, configured: Option<bool>) -> SlotState {
    SlotState {
        subnet: subnet.into(),
        eni: eni.map(str::to_string),
        attached,
        configured,
        blocked: None,
    }
}

fn settled(slots: Vec<SlotState>) -> NodeFacts<'static> {
    NodeFacts {
        settled: true,
        slots,
        ..NodeFacts::default()
    }
}

#[test]
fn a_nodeenis_part_is_ready_only_when_every_eni_is_attached_and_configured() {
    let problems = vec![(
        "SubnetNotFound".to_string(),
        "no subnet named x".to_string(),
    )];
    let mut blocked = slot("s-2", None, false, None);
    blocked.blocked = Some(("NoFreeDeviceIndex".into(), "card 0 is full".into()));
    let pending = |ready, wanted, agent_silent: Option<&str>| Part::Pending {
        ready,
        wanted,
        agent_silent: agent_silent.map(str::to_string),
    };
    let cases: Vec<(&str, NodeFacts<'_>, Part)> = vec![
        (
            "spec problem",
            NodeFacts {
                problems: &problems,
                ..settled(vec![slot("s-1", Some("eni-1"), true, Some(true))])
            },
            Part::Blocked("SubnetNotFound".into(), "no subnet named x".into()),
        ),
        ("not settled", NodeFacts::default(), pending(0, 0, None)),
        (
            "instance unread",
            NodeFacts {
                unread: true,
                ..settled(Vec::new())
            },
            pending(0, 0, None),
        ),
        (
            "one slot blocked",
            settled(vec![slot("s-1", Some("eni-1"), true, Some(true)), blocked]),
            Part::Blocked(
                "NoFreeDeviceIndex".into(),
                "subnet s-2: card 0 is full".into(),
            ),
        ),
        (
            "only skips: never gets an ENI",
            NodeFacts {
                skips: vec![("SubnetZoneMismatch".into(), "no subnet in zone b".into())],
                ..settled(Vec::new())
            },
            Part::Blocked("SubnetZoneMismatch".into(), "no subnet in zone b".into()),
        ),
        ("nothing planned", settled(Vec::new()), pending(0, 0, None)),
        (
            "not created",
            settled(vec![slot("s-1", None, false, None)]),
            pending(0, 1, None),
        ),
        (
            "one of two attached: the agent is not waited for yet",
            settled(vec![
                slot("s-1", Some("eni-1"), true, None),
                slot("s-2", Some("eni-2"), false, None),
            ]),
            pending(0, 2, None),
        ),
        (
            "attached, agent silent",
            settled(vec![slot("s-1", Some("eni-1"), true, None)]),
            pending(0, 1, Some("eni-1")),
        ),
        (
            "attached, agent not done with the second",
            settled(vec![
                slot("s-1", Some("eni-1"), true, Some(true)),
                slot("s-2", Some("eni-2"), true, Some(false)),
            ]),
            pending(1, 2, Some("eni-2")),
        ),
        (
            "ready",
            settled(vec![
                slot("s-1", Some("eni-1"), true, Some(true)),
                slot("s-2", Some("eni-2"), true, Some(true)),
            ]),
            Part::Ready { interfaces: 2 },
        ),
    ];
    for (what, facts, want) in cases {
        assert_eq!(part(&facts), want, "{what}");
    }
}

#[test]
fn a_node_is_ready_when_every_nodeeni_selecting_it_says_so() {
    let ready = Part::Ready { interfaces: 1 };
    let waiting = Part::Pending {
        ready: 0,
        wanted: 1,
        agent_silent: None,
    };
    let blocked = Part::Blocked("NoFreeDeviceIndex".into(), "card 0 is full".into());
    let cond = |ready, reason: &str, message: &str| Condition {
        ready,
        reason: reason.into(),
        message: message.into(),
    };
    type Case<'a> = (&'a str, Vec<(&'a str, Option<&'a Part>)>, Option<Condition>);
    let cases: Vec<Case<'_>> = vec![
        ("selected by none", vec![], None),
        (
            "all ready",
            vec![("a", Some(&ready)), ("b", Some(&ready))],
            Some(cond(
                true,
                CONFIGURED,
                "2 ENI(s) of NodeENI a, b attached and configured",
            )),
        ),
        (
            "one has not spoken",
            vec![("a", Some(&ready)), ("b", None)],
            Some(cond(
                false,
                PENDING,
                "NodeENI b: its ENIs are not planned yet",
            )),
        ),
        (
            "waiting",
            vec![("a", Some(&waiting)), ("b", Some(&ready))],
            Some(cond(
                false,
                PENDING,
                "NodeENI a: 0 of 1 ENI(s) attached and configured",
            )),
        ),
        (
            "blocked wins over waiting",
            vec![("a", Some(&waiting)), ("b", Some(&blocked))],
            Some(cond(
                false,
                "NoFreeDeviceIndex",
                "NodeENI b: card 0 is full",
            )),
        ),
    ];
    for (what, parts, want) in cases {
        assert_eq!(verdict(&parts), want, "{what}");
    }
    let silent = Part::Pending {
        ready: 0,
        wanted: 1,
        agent_silent: Some("eni-7".into()),
    };
    assert_eq!(
        agent_silent(&[("a", Some(&ready)), ("b", Some(&silent))]),
        Some("NodeENI b: every ENI is attached, but the node agent has not reported eni-7 up (is it running on the node?)".into())
    );
    assert_eq!(
        agent_silent(&[("a", Some(&waiting)), ("b", Some(&silent))]),
        None,
        "an ENI still on its way: the agent is not the one holding the node"
    );
    assert_eq!(agent_silent(&[("a", Some(&ready))]), None);
}

#[test]
fn the_node_is_written_only_when_it_shows_something_else() {
    let writing = Writing {
        taint: true,
        condition: true,
        quiet_for: Duration::from_secs(120),
    };
    let ready = Condition {
        ready: true,
        reason: CONFIGURED.into(),
        message: "1 ENI(s) of NodeENI a attached and configured".into(),
    };
    let pending = Condition {
        ready: false,
        reason: PENDING.into(),
        message: "NodeENI a: its ENIs are not planned yet".into(),
    };
    let blocked = Condition {
        ready: false,
        reason: "NoFreeDeviceIndex".into(),
        message: "NodeENI a: card 0 is full".into(),
    };
    let unselected = Condition {
        ready: true,
        reason: NOT_SELECTED.into(),
        message: "no NodeENI selects this node".into(),
    };
    let young = Duration::from_secs(10);
    let old = Duration::from_secs(600);
    let marks = |tainted, condition, age| Marks {
        tainted,
        condition,
        age,
        unspoken: false,
    };
    let unspoken = |condition| Marks {
        unspoken: true,
        ..marks(false, condition, old)
    };
    let write = |condition: Option<&Condition>, remove_taint, warn| NodeWrite {
        condition: condition.cloned(),
        remove_taint,
        warn,
    };
    type Case<'a> = (
        &'a str,
        Marks<'a>,
        Option<&'a Condition>,
        Writing,
        NodeWrite,
    );
    let no_taint = Writing {
        taint: false,
        ..writing
    };
    let no_condition = Writing {
        condition: false,
        ..writing
    };
    let cases: Vec<Case<'_>> = vec![
        (
            "new node on its way: quiet",
            marks(true, None, young),
            Some(&pending),
            writing,
            write(None, false, false),
        ),
        (
            "past its quiet time: shown (EC2 may be pacing it: no Event)",
            marks(true, None, old),
            Some(&pending),
            writing,
            write(Some(&pending), false, false),
        ),
        (
            "shown already: not again",
            marks(true, Some(&pending), old),
            Some(&pending),
            writing,
            write(None, false, false),
        ),
        (
            "blocked: shown at once",
            marks(true, None, young),
            Some(&blocked),
            writing,
            write(Some(&blocked), false, true),
        ),
        (
            "ready: condition and taint",
            marks(true, None, young),
            Some(&ready),
            writing,
            write(Some(&ready), true, false),
        ),
        (
            "ready, shown, untainted: nothing",
            marks(false, Some(&ready), old),
            Some(&ready),
            writing,
            write(None, false, false),
        ),
        (
            "ready, a NodeENI not heard from yet (a restart): kept as it is",
            unspoken(Some(&ready)),
            Some(&pending),
            writing,
            write(None, false, false),
        ),
        (
            "blocked, a NodeENI not heard from yet: kept as it is",
            unspoken(Some(&blocked)),
            Some(&pending),
            writing,
            write(None, false, false),
        ),
        (
            "ready once, an ENI lost: the condition says it, the taint stays off",
            marks(false, Some(&ready), old),
            Some(&pending),
            writing,
            write(Some(&pending), false, false),
        ),
        (
            "selected by none, tainted: nothing to wait for",
            marks(true, None, young),
            None,
            writing,
            write(None, true, false),
        ),
        (
            "selected no more: its condition says so",
            marks(false, Some(&ready), old),
            None,
            writing,
            write(Some(&unselected), false, false),
        ),
        (
            "selected by none, never marked: untouched",
            marks(false, None, old),
            None,
            writing,
            write(None, false, false),
        ),
        (
            "taints not ours to touch",
            marks(true, None, young),
            Some(&ready),
            no_taint,
            write(Some(&ready), false, false),
        ),
        (
            "no condition written",
            marks(true, None, old),
            Some(&ready),
            no_condition,
            write(None, true, false),
        ),
    ];
    for (what, m, v, w, want) in cases {
        assert_eq!(decide(m, v.cloned(), w), want, "{what}");
    }
}

#[test]
fn an_agent_is_silent_only_a_quiet_time_after_the_attach() {
    let quiet = Duration::from_secs(120);
    let cases = [
        ("just attached", 0, false, Silence::CheckIn(quiet)),
        (
            "ten seconds on",
            10,
            false,
            Silence::CheckIn(Duration::from_secs(110)),
        ),
        ("the quiet time over", 120, false, Silence::Warn),
        ("long silent", 900, false, Silence::Warn),
        ("said once", 900, true, Silence::Said),
    ];
    for (what, secs, warned, want) in cases {
        assert_eq!(
            silence(Duration::from_secs(secs), quiet, warned),
            want,
            "{what}"
        );
    }
}
