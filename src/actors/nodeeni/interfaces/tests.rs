//! A round that looks only at the nodes that may have changed leaves every ENINode as a
//! round that looks at every node would, through slots coming and going, reports,
//! restarts' unreported slots, entries edited by someone else, refused writes, DPDK
//! requests and held releases.

use std::collections::{BTreeMap, BTreeSet};

use super::{EntriesRound, Interfaces};
use crate::k8s::memory::MemoryCluster;
use crate::k8s::status::{SlotPhase, SlotSummary};
use crate::k8s::{DpdkRequest, NodeInterface};
use crate::plan::fixtures::Dice;

const NODEENI: &str = "multus";

/// One slot's line: with an ENI of `version` once it has one.
fn line(node: &str, subnet: &str, version: Option<u32>) -> SlotSummary {
    let eni = version.map(|v| format!("eni-{node}-{subnet}-{v}"));
    SlotSummary {
        node: node.into(),
        instance_id: format!("i-{node}"),
        subnet_id: subnet.into(),
        subnet_cidr: "10.0.0.0/24".into(),
        eni_id: eni.clone(),
        attachment_id: eni.as_ref().map(|e| format!("attach-{e}")),
        mac_address: version.map(|v| format!("0A:00:00:00:{v:02X}:01")),
        device_index: version.map(|_| if subnet == "s0" { 1 } else { 2 }),
        ipv4_addresses: Vec::new(),
        ipv4_prefixes: Vec::new(),
        ipv6_addresses: Vec::new(),
        ipv6_prefixes: Vec::new(),
        source_dest_check: None,
        network_card: 0,
        mtu: 9001,
        interface_configured: None,
        phase: SlotPhase::Pending,
    }
}

/// The world both writers see: slots (node, subnet) → ENI version (`None`: no ENI
/// yet), the slots not reported since a restart, the entries held for a release.
#[derive(Default)]
struct World {
    slots: BTreeMap<(String, String), Option<u32>>,
    unreported: BTreeSet<(String, String)>,
    releasing: Vec<(String, NodeInterface)>,
    dpdk: Option<DpdkRequest>,
}

impl World {
    fn lines(&self) -> Vec<SlotSummary> {
        self.slots
            .iter()
            .map(|((n, s), v)| line(n, s, *v))
            .collect()
    }

    fn unreported(&self) -> Vec<(String, String)> {
        self.unreported.iter().cloned().collect()
    }
}

fn node_of(dice: &mut Dice) -> String {
    format!("node-{}", dice.roll(8))
}

fn subnet_of(dice: &mut Dice) -> String {
    format!("s{}", dice.roll(2))
}

/// One round of `writer` over `world` in `cluster`.
async fn round(writer: &mut Interfaces, cluster: &MemoryCluster, world: &World) -> bool {
    let lines = world.lines();
    let unreported = world.unreported();
    let releasing = world.releasing.iter().map(|(n, e)| (n, e)).collect();
    let entries = EntriesRound {
        nodeeni: NODEENI,
        slots: &lines,
        dpdk: world.dpdk.as_ref(),
        releasing,
        unreported: &unreported,
    };
    writer.round(cluster, entries, |_| None).await
}

fn eninodes(cluster: &MemoryCluster) -> BTreeMap<String, Vec<NodeInterface>> {
    (0..8)
        .map(|n| format!("node-{n}"))
        .filter_map(|n| {
            let view = cluster.eninode(&n)?;
            let list = view.entries.get(NODEENI).cloned().unwrap_or_default();
            (!list.is_empty()).then_some((n, list))
        })
        .collect()
}

#[tokio::test]
async fn a_round_over_the_changed_nodes_leaves_every_eninode_as_a_round_over_all() {
    for seed in [1_u64, 7, 42, 1_000_003] {
        let mut dice = Dice(seed);
        let mut world = World::default();
        // The writer under test, and one that looks at every node in every round.
        let (scoped, full) = (MemoryCluster::new(), MemoryCluster::new());
        let (mut writer, mut oracle) = (Interfaces::default(), Interfaces::default());
        writer.seen_all(BTreeMap::new());
        oracle.seen_all(BTreeMap::new());
        let mut version = 0;
        for step in 0..400 {
            let node = node_of(&mut dice);
            let subnet = subnet_of(&mut dice);
            let key = (node.clone(), subnet.clone());
            let mut changed = BTreeSet::new();
            match dice.roll(10) {
                // A slot gets a (new) ENI, or a slot starts without one.
                0..=2 => {
                    version += 1;
                    let v = (dice.roll(3) > 0).then_some(version);
                    world.slots.insert(key.clone(), v);
                    world.unreported.remove(&key);
                    changed.insert(node.clone());
                }
                // A slot goes.
                3 if world.slots.contains_key(&key) => {
                    world.slots.remove(&key);
                    world.unreported.remove(&key);
                    changed.insert(node.clone());
                }
                // A restart: the slot has not reported, so its line has no ENI.
                4 if world.slots.contains_key(&key) => {
                    world.slots.insert(key.clone(), None);
                    world.unreported.insert(key);
                    changed.insert(node.clone());
                }
                // Someone else edits the node's entries (both writers see it).
                5 => {
                    let edited = [line(&node, "s9", Some(99))]
                        .iter()
                        .filter_map(|s| super::entry(NODEENI, s, None))
                        .collect::<Vec<_>>();
                    for (cluster, writer) in [(&scoped, &mut writer), (&full, &mut oracle)] {
                        cluster.refuse_eninode(&node, false);
                        use crate::k8s::Cluster;
                        cluster
                            .apply_interfaces(&node, None, NODEENI, &edited)
                            .await
                            .unwrap();
                        writer.seen(node.clone(), edited.clone());
                    }
                }
                // A webhook refuses the node's writes for a while, or stops refusing.
                6 => {
                    let refuse = dice.roll(2) == 0;
                    scoped.refuse_eninode(&node, refuse);
                    full.refuse_eninode(&node, refuse);
                }
                // The DPDK request changes (every entry changes with it).
                7 => {
                    world.dpdk = (dice.roll(2) == 0).then(|| DpdkRequest {
                        driver: "vfio-pci".into(),
                        resource_name: None,
                        pci_address: None,
                        release: false,
                    });
                }
                // An entry held for its device's release, or a release let go.
                8 => {
                    if world.releasing.is_empty() {
                        let held = line(&node, "s7", Some(70));
                        if let Some(e) = super::entry(NODEENI, &held, world.dpdk.as_ref()) {
                            world.releasing.push((node.clone(), e));
                        }
                    } else {
                        world.releasing.clear();
                    }
                }
                // A round with nothing new.
                _ => {}
            }
            writer.changed(changed);
            let ok_scoped = round(&mut writer, &scoped, &world).await;
            let ok_full = round(&mut oracle, &full, &world).await;
            // The oracle looks at every node in every round.
            oracle.stale = None;
            assert_eq!(
                ok_scoped, ok_full,
                "seed {seed}, step {step}: round outcome"
            );
            assert_eq!(
                eninodes(&scoped),
                eninodes(&full),
                "seed {seed}, step {step}: ENINodes"
            );
            assert_eq!(
                writer.applied, oracle.applied,
                "seed {seed}, step {step}: what each writer remembers"
            );
        }
        assert!(
            scoped.eninode_writes() <= full.eninode_writes(),
            "seed {seed}: {} writes looking at changed nodes, {} looking at all",
            scoped.eninode_writes(),
            full.eninode_writes()
        );
    }
}

#[tokio::test]
async fn a_round_with_nothing_changed_looks_at_no_node_and_writes_nothing() {
    let cluster = MemoryCluster::new();
    let mut writer = Interfaces::default();
    writer.seen_all(BTreeMap::new());
    let mut world = World::default();
    for n in 0..8 {
        world
            .slots
            .insert((format!("node-{n}"), "s0".into()), Some(n + 1));
    }
    assert!(round(&mut writer, &cluster, &world).await);
    assert_eq!(
        cluster.eninode_writes(),
        8,
        "the first round writes every node"
    );
    // Nothing changed: the round looks at no node (and the slots' lines are not read).
    assert_eq!(writer.stale, Some(BTreeSet::new()));
    let before = cluster.eninode_writes();
    assert!(round(&mut writer, &cluster, &world).await);
    assert_eq!(cluster.eninode_writes(), before);
    // One node's line changed: that node alone is written.
    world.slots.insert(("node-3".into(), "s0".into()), Some(40));
    writer.changed(["node-3".to_string()]);
    assert!(round(&mut writer, &cluster, &world).await);
    assert_eq!(cluster.eninode_writes(), before + 1);
    assert_eq!(
        cluster.eninode("node-3").unwrap().entries[NODEENI][0].eni_id,
        "eni-node-3-s0-40"
    );
}
