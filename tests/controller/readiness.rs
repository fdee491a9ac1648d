//! Nodes that wait for their interfaces: the startup taint goes only once the agent
//! reports every ENI configured, the `ENIsReady` condition says why a node waits, and a
//! blocked node says so at once and keeps its taint.

use std::time::Duration;

use aws_multi_eni_controller::actors::settings::{ControllerSettings, STARTUP_TAINT_KEY};
use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::k8s::node::NodeCondition as Condition;
use aws_multi_eni_controller::k8s::node::TaintKey;
use aws_multi_eni_controller::k8s::{ENINodeStatus, InterfaceReport};
use aws_multi_eni_controller::plan::readiness::{CONFIGURED, NOT_SELECTED, PENDING};

use super::harness::{World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

fn startup() -> TaintKey {
    TaintKey {
        key: STARTUP_TAINT_KEY.into(),
        effect: "NoSchedule".into(),
    }
}

fn other() -> TaintKey {
    TaintKey {
        key: "example.com/other".into(),
        effect: "NoExecute".into(),
    }
}

fn with_readiness() -> ControllerSettings {
    let d = ControllerSettings::default();
    ControllerSettings {
        startup_taint: d.startup_taint,
        node_condition: true,
        readiness_quiet: Duration::from_secs(120),
        ..settings()
    }
}

/// `n` labelled nodes launched with someone else's taint and the startup taint.
fn tainted_world(n: usize) -> World {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(n, LABEL);
    for i in 0..n {
        let mut v = w.cluster.node(&format!("node-{i:04}")).unwrap();
        v.taints = vec![other(), startup()];
        w.cluster.upsert_node(v);
    }
    w
}

fn taints(w: &World, node: &str) -> Vec<TaintKey> {
    w.cluster.node(node).unwrap().taints
}

fn condition(w: &World, node: &str) -> Option<Condition> {
    w.cluster.node(node).unwrap().enis_ready
}

/// The node's agent reports each of its ENIs up (`true`) or not.
fn agent_reports(w: &World, node: &str, configured: bool) {
    let view = w.cluster.eninode(node).expect("ENINode written");
    let interfaces: Vec<InterfaceReport> = view
        .entries
        .values()
        .flatten()
        .map(|i| InterfaceReport {
            eni_id: i.eni_id.clone(),
            mac_address: i.mac_address.clone(),
            node_eni: i.node_eni.clone(),
            interface: Some("ens6".into()),
            configured,
            mtu: Some(9001),
            mtu_clamped: false,
            message: None,
            dpdk: None,
        })
        .collect();
    let n = i32::try_from(interfaces.len()).unwrap();
    w.cluster.report_interfaces(
        node,
        ENINodeStatus {
            interfaces,
            configured_count: if configured { n } else { 0 },
            eni_count: n,
        },
    );
}

fn warnings_on(w: &World, node: &str) -> Vec<String> {
    w.cluster
        .events()
        .into_iter()
        .filter(|(on, n)| on == &format!("Node/{node}") && n.warning && n.reason == "ENIsNotReady")
        .map(|(_, n)| n.note)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_startup_taint_goes_only_once_the_agent_reports_every_eni_configured() {
    let w = tainted_world(2);
    w.apply("multus", w.spec(1));
    let _controller = w.start(with_readiness()).await;
    w.until_ready("multus", 2).await;
    eventually("both ENIs on the ENINodes", Duration::from_secs(60), || {
        (0..2).all(|i| w.cluster.eninode(&format!("node-{i:04}")).is_some())
    })
    .await;
    // Attached, but no agent has spoken: both keep their taints, and a new node waits
    // quietly (no condition yet, no write).
    for node in ["node-0000", "node-0001"] {
        assert_eq!(taints(&w, node), [other(), startup()], "{node}");
        assert_eq!(condition(&w, node), None, "{node}");
    }
    assert_eq!(w.cluster.writes().node, 0);

    agent_reports(&w, "node-0000", false);
    agent_reports(&w, "node-0000", true);
    eventually("node-0000 ready", Duration::from_secs(30), || {
        taints(&w, "node-0000") == [other()]
    })
    .await;
    let ready = condition(&w, "node-0000").expect("condition written");
    assert!(ready.ready && ready.reason == CONFIGURED, "{ready:?}");
    assert_eq!(
        ready.message,
        "1 ENI(s) of NodeENI multus attached and configured"
    );
    assert_eq!(taints(&w, "node-0001"), [other(), startup()]);
    assert_eq!(
        w.cluster.writes().node,
        2,
        "a healthy node costs two writes: its condition and its taint"
    );

    // node-0001's quiet time passes with its ENI attached and its agent silent: its
    // condition says how far it is, and one Event names the silent agent.
    eventually("node-0001 shows why", Duration::from_secs(180), || {
        condition(&w, "node-0001").is_some() && !warnings_on(&w, "node-0001").is_empty()
    })
    .await;
    let waiting = condition(&w, "node-0001").unwrap();
    assert!(!waiting.ready && waiting.reason == PENDING, "{waiting:?}");
    assert_eq!(
        waiting.message,
        "NodeENI multus: 0 of 1 ENI(s) attached and configured"
    );
    let eni = w.cluster.eninode("node-0001").unwrap().entries["multus"][0]
        .eni_id
        .clone();
    assert_eq!(
        warnings_on(&w, "node-0001"),
        [format!(
            "NodeENI multus: every ENI is attached, but the node agent has not reported {eni} up (is it running on the node?)"
        )]
    );
    assert_eq!(taints(&w, "node-0001"), [other(), startup()]);

    // An interface goes down on the ready node: the condition says so; the taint is
    // never put back on a running node.
    agent_reports(&w, "node-0000", false);
    eventually("node-0000 not ready", Duration::from_secs(30), || {
        condition(&w, "node-0000").is_some_and(|c| !c.ready)
    })
    .await;
    assert_eq!(taints(&w, "node-0000"), [other()]);
    assert_eq!(
        condition(&w, "node-0000").unwrap().message,
        "NodeENI multus: 0 of 1 ENI(s) attached and configured"
    );

    // Nothing changes: nothing is written.
    let before = w.cluster.writes().node;
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(
        w.cluster.writes().node,
        before,
        "no write while nothing changes"
    );
}

#[tokio::test(start_paused = true)]
async fn a_blocked_node_keeps_its_taint_and_says_why_at_once() {
    let w = tainted_world(1);
    let mut spec = w.spec(1);
    spec.subnet_ids = Vec::new();
    spec.subnet_names = vec!["no-such-subnet".into()];
    w.apply("multus", spec);
    let _controller = w.start(with_readiness()).await;
    eventually("blocked shown", Duration::from_secs(60), || {
        condition(&w, "node-0000").is_some()
    })
    .await;
    let blocked = condition(&w, "node-0000").unwrap();
    assert!(!blocked.ready, "{blocked:?}");
    assert_eq!(blocked.reason, "SubnetNotFound", "{blocked:?}");
    assert!(
        blocked.message.starts_with("NodeENI multus: "),
        "{blocked:?}"
    );
    assert_eq!(warnings_on(&w, "node-0000").len(), 1);
    assert_eq!(taints(&w, "node-0000"), [other(), startup()]);
}

#[tokio::test(start_paused = true)]
async fn a_node_nothing_selects_has_nothing_to_wait_for() {
    let mut w = tainted_world(1);
    w.add_node("unselected", "m5.xlarge", &[("ng", "plain")]);
    let mut v = w.cluster.node("unselected").unwrap();
    v.taints = vec![startup()];
    w.cluster.upsert_node(v);
    w.apply("multus", w.spec(1));
    let _controller = w.start(with_readiness()).await;
    eventually("unselected untainted", Duration::from_secs(30), || {
        taints(&w, "unselected").is_empty()
    })
    .await;
    assert_eq!(condition(&w, "unselected"), None, "no condition added");
    // The selected node gets ready, then stops matching: its condition says so.
    w.until_ready("multus", 1).await;
    eventually("ENINode written", Duration::from_secs(60), || {
        w.cluster.eninode("node-0000").is_some()
    })
    .await;
    agent_reports(&w, "node-0000", true);
    eventually("ready", Duration::from_secs(30), || {
        condition(&w, "node-0000").is_some_and(|c| c.ready)
    })
    .await;
    w.cluster.label_node("node-0000", "ng", None);
    eventually("not selected", Duration::from_secs(60), || {
        condition(&w, "node-0000").is_some_and(|c| c.reason == NOT_SELECTED)
    })
    .await;
}

/// A node past its quiet time whose ENI only now gets attached (a NodeENI applied late,
/// or EC2's pacing at scale): its agent reporting ten seconds after the attach is no
/// silence, and earns no Warning Event. Silence is counted from the attach.
#[tokio::test(start_paused = true)]
async fn an_agent_that_reports_soon_after_a_late_attach_is_not_called_silent() {
    let w = tainted_world(1);
    let _controller = w.start(with_readiness()).await;
    // The node is five minutes old when a NodeENI first selects it.
    tokio::time::sleep(Duration::from_secs(300)).await;
    w.apply("multus", w.spec(1));
    w.until_ready("multus", 1).await;
    eventually("ENINode written", Duration::from_secs(60), || {
        w.cluster.eninode("node-0000").is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    agent_reports(&w, "node-0000", true);
    eventually("untainted", Duration::from_secs(30), || {
        taints(&w, "node-0000") == [other()]
    })
    .await;
    assert_eq!(warnings_on(&w, "node-0000"), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_restarted_controller_leaves_ready_nodes_as_they_are() {
    let w = tainted_world(3);
    w.apply("multus", w.spec(1));
    let c = w.start(with_readiness()).await;
    w.until_ready("multus", 3).await;
    eventually("the ENINodes written", Duration::from_secs(60), || {
        (0..3).all(|i| w.cluster.eninode(&format!("node-{i:04}")).is_some())
    })
    .await;
    for i in 0..3 {
        agent_reports(&w, &format!("node-{i:04}"), true);
    }
    eventually("every node ready", Duration::from_secs(60), || {
        (0..3).all(|i| {
            let node = format!("node-{i:04}");
            condition(&w, &node).is_some_and(|c| c.ready) && taints(&w, &node) == [other()]
        })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    c.stop().await;
    let before = w.cluster.writes();
    let c = w.start(with_readiness()).await;
    tokio::time::sleep(Duration::from_secs(300)).await;
    let after = w.cluster.writes().since(&before);
    assert_eq!(
        (after.node, after.status, after.eninode, after.events),
        (0, 0, 0, 0),
        "nothing rewritten, nothing flipped: {after:?}"
    );
    for i in 0..3 {
        let node = format!("node-{i:04}");
        assert!(condition(&w, &node).is_some_and(|c| c.ready), "{node}");
    }
    c.stop().await;
}

/// A selector edited to a label the stored nodes were stripped of (the Nodes are listed
/// again, slowly): the readiness of the node both selectors select does not flip.
#[tokio::test(start_paused = true)]
async fn a_selector_edited_to_a_new_label_key_leaves_a_ready_node_ready() {
    let w = tainted_world(1);
    w.cluster.label_node("node-0000", "pool", Some("a"));
    w.apply("multus", w.spec(1));
    let _controller = w.start(with_readiness()).await;
    w.until_ready("multus", 1).await;
    eventually("the ENI on the ENINode", Duration::from_secs(60), || {
        w.cluster.eninode("node-0000").is_some()
    })
    .await;
    agent_reports(&w, "node-0000", true);
    eventually("node-0000 ready", Duration::from_secs(30), || {
        taints(&w, "node-0000") == [other()]
    })
    .await;
    let writes = w.cluster.writes().node;
    w.cluster.slow_node_lists(Duration::from_secs(20));
    let mut spec = w.spec(1);
    spec.node_selector = [("pool".to_string(), "a".to_string())].into();
    w.apply("multus", spec);
    eventually("listed again", Duration::from_secs(60), || {
        w.cluster.node_lists() == 2
    })
    .await;
    // Past the listing and the readiness actor's quiet time.
    tokio::time::sleep(Duration::from_secs(180)).await;
    let ready = condition(&w, "node-0000").expect("condition");
    assert!(ready.ready && ready.reason == CONFIGURED, "{ready:?}");
    assert_eq!(w.cluster.writes().node, writes, "no Node write");
}
