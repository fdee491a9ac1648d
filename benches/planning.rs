//! Micro-benchmarks of the pure planning path over a 5,000-node cluster: reading nodes as
//! the watch delivers them (realistic EKS JSON into the slim node view), matching
//! `nodeSelector`s, planning one and twenty NodeENIs' slots, placing device indices and
//! deciding a slot's next step.
//!
//! `cargo bench --bench planning`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // test code: a failed assumption is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;

use aws_multi_eni_controller::k8s::NodeView;
use aws_multi_eni_controller::k8s::node::SlimNode;
use aws_multi_eni_controller::plan::device_index::{CardLimit, CardOccupancy, place};
use aws_multi_eni_controller::plan::lifecycle::{SlotMemory, decide};
use aws_multi_eni_controller::plan::selector::matches;
use aws_multi_eni_controller::plan::slots::{NodeInput, ResolvedSpec, SubnetInput, plan_slots};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use eni_testkit::fixtures::{NodeShape, eks_node};
use tokio::time::Instant;

const NODES: usize = 5_000;
const GROUPS: usize = 50;
const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// The cluster as the API server sends it: one JSON document per node.
fn cluster_json() -> Vec<Vec<u8>> {
    (0..NODES)
        .map(|i| {
            let node = eks_node(&NodeShape::nth(i, GROUPS, &ZONES), &[]);
            serde_json::to_vec(&node).expect("node serialises")
        })
        .collect()
}

fn to_input(v: &NodeView) -> NodeInput {
    NodeInput {
        name: v.name.clone(),
        labels: v.labels.clone(),
        instance_id: v.instance_id.clone(),
        zone: v.zone.clone(),
        vpc: None,
        created: None,
    }
}

fn nodes(json: &[Vec<u8>]) -> Vec<NodeInput> {
    json.iter()
        .map(|bytes| {
            let slim: SlimNode = serde_json::from_slice(bytes).expect("node parses");
            to_input(&NodeView::from_slim(slim))
        })
        .collect()
}

/// NodeENI `k` of twenty: one node group (a fiftieth of the cluster), two subnets.
fn spec(k: usize) -> ResolvedSpec {
    ResolvedSpec {
        selector: BTreeMap::from([("eks.amazonaws.com/nodegroup".to_string(), format!("ng-{k}"))]),
        subnets: ZONES[..2]
            .iter()
            .enumerate()
            .map(|(z, zone)| SubnetInput {
                id: format!("subnet-{k:08x}{z:09x}"),
                zone: zone.to_string(),
                vpc: "vpc-1".into(),
                cidr: format!("10.{k}.{z}.0/24"),
                security_groups: vec!["sg-0123456789abcdef0".into()],
                ipv6: false,
            })
            .collect(),
        by_vpc: false,
        base_device_index: 1,
        network_card: 0,
        delete_on_termination: true,
        description: format!("multus {k}"),
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

fn ingest(c: &mut Criterion) {
    let json = cluster_json();
    let bytes: usize = json.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(20);
    g.bench_function("slim_nodes_from_5000_eks_nodes", |b| {
        b.iter(|| black_box(nodes(black_box(&json))))
    });
    g.finish();
}

fn selection_and_planning(c: &mut Criterion) {
    let nodes = nodes(&cluster_json());
    let one = spec(7);
    let twenty: Vec<ResolvedSpec> = (0..20).map(spec).collect();
    let mut g = c.benchmark_group("plan");
    g.throughput(Throughput::Elements(NODES as u64));
    g.bench_function("selector_match_5000_nodes", |b| {
        b.iter(|| {
            nodes
                .iter()
                .filter(|n| matches(black_box(&one.selector), &n.labels))
                .count()
        })
    });
    g.bench_function("plan_slots_1_nodeeni_5000_nodes", |b| {
        b.iter(|| black_box(plan_slots(black_box(&one), &nodes)))
    });
    g.bench_function("plan_slots_20_nodeenis_5000_nodes", |b| {
        b.iter(|| {
            twenty
                .iter()
                .map(|s| plan_slots(s, &nodes).slots.len())
                .sum::<usize>()
        })
    });
    g.finish();

    let plan = plan_slots(&one, &nodes);
    assert!(!plan.slots.is_empty(), "the NodeENI selects nodes");
    let mut g = c.benchmark_group("slot");
    g.throughput(Throughput::Elements(plan.slots.len() as u64));
    g.bench_function("place_and_decide_every_slot_of_a_nodeeni", |b| {
        let occupancy = CardOccupancy {
            taken: BTreeSet::from([0]),
            limit: CardLimit::Max(4),
        };
        b.iter_batched(
            Instant::now,
            |now| {
                plan.slots
                    .values()
                    .map(|slot| {
                        let at = place(slot.preferred_device_index, &occupancy);
                        decide(slot, &[], Some(at), false, &SlotMemory::default(), now)
                    })
                    .count()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, ingest, selection_and_planning);
criterion_main!(benches);
