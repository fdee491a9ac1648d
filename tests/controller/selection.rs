//! Which nodes get ENIs when the selection changes under the controller: a selector
//! edited, a node whose instance is in another VPC, two Node objects on one instance.

use std::time::Duration;

use aws_multi_eni_controller::aws::Eni;
use aws_multi_eni_controller::aws::sim::SimConfig;

use super::harness::{CLUSTER, World, ZONE, eventually, settings};

/// The owned ENIs attached to `instance`.
fn on(w: &World, instance: &str) -> Vec<Eni> {
    w.owned()
        .into_iter()
        .filter(|e| e.attachment.as_ref().and_then(|a| a.instance_id.as_deref()) == Some(instance))
        .collect()
}

fn selecting(w: &World, key: &str) -> aws_multi_eni_controller::k8s::NodeENISpec {
    let mut spec = w.spec(1);
    spec.node_selector = [(key.to_string(), "1".to_string())].into();
    spec
}

#[tokio::test(start_paused = true)]
async fn an_edited_selector_plans_the_nodes_it_selects_now() {
    let mut w = World::new(SimConfig::default(), 1);
    let n1 = w.add_node("n1", "m5.xlarge", &[("a", "1")]);
    let n2 = w.add_node("n2", "m5.xlarge", &[("b", "1")]);
    w.apply("multus", selecting(&w, "a"));
    let c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    assert_eq!(on(&w, &n1).len(), 1);
    w.apply("multus", selecting(&w, "b"));
    eventually("n2 has its ENI", Duration::from_secs(60), || {
        on(&w, &n2).len() == 1 && on(&w, &n1).is_empty()
    })
    .await;
    w.until_ready("multus", 1).await;
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_node_unselected_meanwhile_is_not_planned_from_its_old_labels() {
    let mut w = World::new(SimConfig::default(), 1);
    let n1 = w.add_node("n1", "m5.xlarge", &[("a", "1")]);
    let n2 = w.add_node("n2", "m5.xlarge", &[("b", "1")]);
    w.apply("multus", selecting(&w, "a"));
    let c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    w.apply("multus", selecting(&w, "b"));
    eventually("n2 has its ENI", Duration::from_secs(60), || {
        on(&w, &n2).len() == 1 && on(&w, &n1).is_empty()
    })
    .await;
    // n1 loses its label while the selector names another; then the selector comes back.
    w.cluster.label_node("n1", "a", None);
    tokio::time::sleep(Duration::from_secs(5)).await;
    w.apply("multus", selecting(&w, "a"));
    eventually("n2's ENI gone", Duration::from_secs(120), || {
        on(&w, &n2).is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(on(&w, &n1), vec![], "n1 matches nothing: it gets nothing");
    assert_eq!(w.ready_count("multus"), Some((0, 0)));
    c.stop().await;
}

/// Three nodes in the cluster's VPC and one whose instance is in another VPC of the
/// account, subnets named: the three get their ENIs whichever node is looked at first,
/// and whether or not the other VPC has a subnet of the same name.
#[tokio::test(start_paused = true)]
async fn a_node_in_another_vpc_stops_no_one_else() {
    for namesake_subnet in [true, false] {
        for foreign_name in ["a-foreign", "z-foreign"] {
            let mut w = World::new(SimConfig::default(), 1);
            w.add_nodes(3, &[("ng", "multi-eni")]);
            let other = w
                .sim
                .add_subnet_in_another_vpc(ZONE, "10.50.0.0/16", Some("elsewhere"));
            if namesake_subnet {
                w.sim
                    .add_subnet_in_another_vpc(ZONE, "10.51.0.0/16", Some("multus-0"));
            }
            let inst = w
                .sim
                .launch_cluster_instance(CLUSTER, "m5.xlarge", &other.id)
                .unwrap();
            w.add_node_on(foreign_name, &inst.id, &[("ng", "multi-eni")]);
            let mut spec = w.spec(1);
            spec.subnet_ids = vec![];
            spec.subnet_names = vec!["multus-0".into()];
            w.apply("multus", spec);
            let c = w.start(settings()).await;
            eventually(
                &format!("3 attached (namesake {namesake_subnet}, {foreign_name})"),
                Duration::from_secs(300),
                || w.attached_pairs().len() == 3,
            )
            .await;
            let pairs = w.attached_pairs();
            assert!(
                pairs.iter().all(|(_, s, _)| *s == w.subnets[0].id),
                "{pairs:?}"
            );
            assert!(on(&w, &inst.id).is_empty(), "nothing on the foreign node");
            c.stop().await;
        }
    }
}

/// A kubelet re-registered under a new name while the old Node object lingers: both
/// Nodes point at one instance, which keeps one ENI; deleting the stale Node leaves it.
#[tokio::test(start_paused = true)]
async fn two_nodes_on_one_instance_share_its_eni_and_the_stale_one_takes_nothing_away() {
    let mut w = World::new(SimConfig::default(), 1);
    let inst = w.add_node("a", "m5.xlarge", &[("ng", "multi-eni")]);
    w.apply("multus", w.spec(1));
    let c = w.start(settings()).await;
    w.until_ready("multus", 1).await;
    let ids = |w: &World| on(w, &inst).into_iter().map(|e| e.id).collect::<Vec<_>>();
    let before = ids(&w);
    assert_eq!(before.len(), 1);
    w.add_node_on("b", &inst, &[("ng", "multi-eni")]);
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(ids(&w), before, "one ENI on the instance, unchanged");
    w.cluster.delete_node("a");
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(ids(&w), before, "the live node keeps the same ENI");
    c.stop().await;
}

/// A restart with named subnets: until each node's instance is read (its VPC says which
/// subnet of the name it gets), its slots are not planned, and its ENIs are not taken for
/// unwanted.
#[tokio::test(start_paused = true)]
async fn a_restart_with_named_subnets_keeps_every_eni() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(20, &[("ng", "multi-eni")]);
    let mut spec = w.spec(1);
    spec.subnet_ids = vec![];
    spec.subnet_names = vec!["multus-0".into()];
    w.apply("multus", spec);
    let c = w.start(settings()).await;
    w.until_ready("multus", 20).await;
    c.kill().await;
    let c = w.start(settings()).await;
    w.until_ready("multus", 20).await;
    tokio::time::sleep(Duration::from_secs(600)).await;
    use aws_multi_eni_controller::aws::Ec2Action;
    assert_eq!(
        w.sim.count(Some(Ec2Action::DetachNetworkInterface), None),
        0,
        "an ENI was detached after the restart"
    );
    assert_eq!(w.attached_pairs().len(), 20);
    c.stop().await;
}

/// Nodes are stored with only the labels some selector names, and listed once at the
/// start (after the NodeENIs); a NodeENI naming a new label key lists them again, and
/// one naming a key already kept does not.
#[tokio::test(start_paused = true)]
async fn nodes_are_listed_again_only_for_a_label_key_no_selector_named() {
    let mut w = World::new(SimConfig::default(), 1);
    let n1 = w.add_node("n1", "m5.xlarge", &[("a", "1"), ("b", "1")]);
    let n2 = w.add_node("n2", "m5.xlarge", &[("a", "1")]);
    w.apply("by-a", selecting(&w, "a"));
    let c = w.start(settings()).await;
    w.until_ready("by-a", 2).await;
    assert_eq!(
        w.cluster.node_lists(),
        1,
        "the Nodes are listed once at the start"
    );
    let mut by_b = selecting(&w, "b");
    by_b.device_index = 2;
    w.apply("by-b", by_b);
    w.until_ready("by-b", 1).await;
    assert_eq!(w.cluster.node_lists(), 2, "listed again for the key b");
    assert_eq!(on(&w, &n1).len(), 2);
    assert_eq!(on(&w, &n2).len(), 1);
    let mut also_a = selecting(&w, "a");
    also_a.device_index = 3;
    w.apply("also-a", also_a);
    w.until_ready("also-a", 2).await;
    assert_eq!(w.cluster.node_lists(), 2, "a is kept: no listing");
    c.stop().await;
}

/// A selector edited to a label the stored nodes were stripped of is applied only with
/// the Nodes listed again: the nodes both selectors select keep their ENIs (planned from
/// the stripped nodes, the actor would have torn them down and made them again).
#[tokio::test(start_paused = true)]
async fn a_selector_edited_to_a_new_label_key_keeps_the_enis_it_still_selects() {
    let mut w = World::new(SimConfig::default(), 1);
    let n1 = w.add_node("n1", "m5.xlarge", &[("a", "1"), ("b", "1")]);
    let n2 = w.add_node("n2", "m5.xlarge", &[("a", "1")]);
    w.apply("multus", selecting(&w, "a"));
    let c = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    let kept = on(&w, &n1)[0].id.clone();
    w.cluster.slow_node_lists(Duration::from_secs(20));
    w.apply("multus", selecting(&w, "b"));
    eventually("n2's ENI gone", Duration::from_secs(120), || {
        on(&w, &n2).is_empty()
    })
    .await;
    w.until_ready("multus", 1).await;
    assert_eq!(w.cluster.node_lists(), 2);
    let now: Vec<String> = on(&w, &n1).into_iter().map(|e| e.id).collect();
    assert_eq!(now, [kept], "n1's ENI stayed");
    c.stop().await;
}
