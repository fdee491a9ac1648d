//! The simulated cluster: an EC2 simulator with AWS's buckets and a latency model, an
//! in-memory Kubernetes with labelled nodes and NodeENIs, and what a converged state
//! looks like.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::sim::{Ec2Simulator, FaultRates, LatencyModel, SimConfig};
use crate::aws::{BucketTable, EniLimits, Subnet};
use crate::config::{Account, FaultMix, Scenario, SimulateArgs};
use crate::k8s::memory::MemoryCluster;
use crate::k8s::{NodeENI, NodeENISpec, NodeView};

/// The cluster name the simulated controller runs as.
pub const CLUSTER: &str = "simulated";
/// The zones' names, in the order nodes are spread over them.
const ZONE_LETTERS: &str = "abcdefghijklmnopqrst";
const LABEL: (&str, &str) = ("ng", "multi-eni");
/// The label value, and the name, of `full-subnet`'s other NodeENI.
pub const ROOMY: &str = "roomy";

/// The simulated account and cluster.
pub struct SimWorld {
    /// EC2.
    pub sim: Ec2Simulator,
    /// Kubernetes.
    pub cluster: MemoryCluster,
    /// One per zone: where the nodes' instances run.
    node_subnets: Vec<Subnet>,
    /// Per NodeENI, per subnet position, one per zone (zone varies fastest).
    subnets: Vec<Subnet>,
    /// ENIs per node (NodeENIs × subnets each).
    per_node: usize,
    /// Nodes launched so far (the next one goes to zone `launched % zones`).
    launched: usize,
    group: String,
    instance_type: String,
    /// Node name → instance ID.
    pub nodes: BTreeMap<String, String>,
    /// NodeENI names.
    pub nodeenis: Vec<String>,
    /// `full-subnet`'s other nodes (name → instance ID), under the NodeENI [`ROOMY`].
    pub roomy: BTreeMap<String, String>,
    /// EC2's real buckets.
    pub buckets: BucketTable,
    /// The share of each action's refill left to the controller.
    pub share_left: f64,
    other_client: Vec<tokio::task::JoinHandle<()>>,
    /// Nodes are launched with the startup taint (and agents run: `--node-readiness`).
    tainted: bool,
}

impl Drop for SimWorld {
    fn drop(&mut self) {
        for t in &self.other_client {
            t.abort();
        }
    }
}

impl SimWorld {
    /// Builds the account and cluster for `args` (nodes labelled, NodeENIs applied).
    pub fn build(args: &SimulateArgs) -> SimWorld {
        let latency = LatencyModel {
            describe: args.latency / 2,
            mutate: args.latency,
            jitter: 0.5,
        };
        let buckets = match args.account {
            Account::SmallBuckets => BucketTable::default().scaled(0.1, 1.0),
            Account::LargeBuckets => BucketTable::default().scaled(100.0, 100.0),
            Account::Default | Account::SharedAccount => BucketTable::default(),
        };
        let other_share = match args.account {
            Account::SharedAccount => args.other_share.clamp(0.0, 0.9),
            _ => 0.0,
        };
        let sim = Ec2Simulator::new(SimConfig {
            buckets: buckets.clone(),
            latency,
            faults: match args.fault_mix {
                FaultMix::Uniform => FaultRates::uniform(args.fault_rate),
                FaultMix::ServerErrors => FaultRates::server_errors(args.fault_rate),
            },
            seed: args.seed,
            ..SimConfig::default()
        });
        let other_client = super::other_client::spawn(&sim, &buckets, other_share);
        let per_node = (args.nodeenis * args.subnets + 1) as u32;
        let instance_type = "sim.node".to_string();
        sim.add_instance_type(
            &instance_type,
            EniLimits::single_card(per_node.max(2)).with_ipv4_per_interface(50),
        );
        let zones = usize::from(args.zones).clamp(1, ZONE_LETTERS.len());
        let node_subnets: Vec<Subnet> = (0..zones)
            .map(|z| sim.add_subnet(&zone(z), &format!("{}.0.0.0/8", 11 + z), Some("nodes")))
            .collect();
        // In `full-subnet`, the first subnet has 11 free addresses (a /28).
        let prefix = |i: usize| match args.scenario {
            Scenario::FullSubnet if i == 0 => 28,
            _ => 16,
        };
        let subnets: Vec<Subnet> = (0..args.nodeenis * args.subnets * zones)
            .map(|i| {
                sim.add_subnet(
                    &zone(i % zones),
                    &format!("10.{}.0.0/{}", 1 + i % 230, prefix(i)),
                    Some(&format!("multus-{}", i / zones)),
                )
            })
            .collect();
        let group = sim.add_security_group("multus").id;
        let mut world = SimWorld {
            sim,
            cluster: MemoryCluster::new(),
            node_subnets,
            subnets,
            per_node: args.nodeenis * args.subnets,
            launched: 0,
            group,
            instance_type,
            nodes: BTreeMap::new(),
            nodeenis: Vec::new(),
            roomy: BTreeMap::new(),
            buckets,
            share_left: 1.0 - other_share,
            other_client,
            tainted: args.node_readiness,
        };
        if args.node_readiness {
            let agents = super::readiness::spawn_agents(world.cluster.clone());
            world.other_client.push(agents);
        }
        for i in 0..args.nodes {
            world.add_node(&format!("node-{i:05}"));
        }
        for k in 0..args.nodeenis {
            let name = format!("sim-{k}");
            let per = args.subnets * zones;
            let subnet_ids: Vec<String> = world.subnets[k * per..(k + 1) * per]
                .iter()
                .map(|s| s.id.clone())
                .collect();
            let spec: Result<NodeENISpec, _> = serde_json::from_value(serde_json::json!({
                "nodeSelector": {LABEL.0: LABEL.1},
                "subnetIDs": subnet_ids,
                "securityGroupIDs": [world.group],
                "deviceIndex": 1 + k * args.subnets,
                "secondaryIPv4Count": args.secondary_ipv4_count,
                "sourceDestCheck": args.source_dest_check,
            }));
            if let Ok(spec) = spec {
                world.cluster.apply_nodeeni(NodeENI::new(&name, spec));
                world.nodeenis.push(name);
            }
        }
        world
    }

    /// Launches an instance and registers its labelled node.
    pub fn add_node(&mut self, name: &str) {
        let home = &self.node_subnets[self.launched % self.node_subnets.len()];
        self.launched += 1;
        let Ok(inst) = self
            .sim
            .launch_cluster_instance(CLUSTER, &self.instance_type, &home.id)
        else {
            return;
        };
        let zone = Some(home.availability_zone.clone());
        self.nodes.insert(name.to_string(), inst.id.clone());
        let taints = if self.tainted {
            vec![super::readiness::startup_taint()]
        } else {
            Vec::new()
        };
        self.cluster.upsert_node(NodeView {
            name: name.to_string(),
            uid: format!("uid-{name}-{}", inst.id),
            labels: [(LABEL.0.to_string(), LABEL.1.to_string())].into(),
            instance_id: Some(inst.id),
            zone,
            deleting: false,
            created: None,
            configured_macs: BTreeMap::new(),
            taints,
            enis_ready: None,
        });
    }

    /// Adds `n` nodes labelled `ng=roomy` and a NodeENI `roomy` selecting them, on a
    /// subnet of its own; the ENIs it should end with.
    pub fn add_roomy(&mut self, n: usize) -> usize {
        let home = &self.node_subnets[0];
        let subnet = self
            .sim
            .add_subnet(&home.availability_zone, "10.251.0.0/16", Some("roomy"));
        for i in 0..n {
            let name = format!("roomy-{i:05}");
            let Ok(inst) = self
                .sim
                .launch_cluster_instance(CLUSTER, &self.instance_type, &home.id)
            else {
                continue;
            };
            self.cluster.upsert_node(NodeView {
                name: name.clone(),
                uid: format!("uid-{name}-{}", inst.id),
                labels: [(LABEL.0.to_string(), ROOMY.to_string())].into(),
                instance_id: Some(inst.id.clone()),
                zone: Some(home.availability_zone.clone()),
                deleting: false,
                created: None,
                configured_macs: BTreeMap::new(),
                taints: Vec::new(),
                enis_ready: None,
            });
            self.roomy.insert(name, inst.id.clone());
        }
        let spec: Result<NodeENISpec, _> = serde_json::from_value(serde_json::json!({
            "nodeSelector": {LABEL.0: ROOMY},
            "subnetIDs": [subnet.id],
            "securityGroupIDs": [self.group],
            "deviceIndex": 1 + self.per_node,
        }));
        if let Ok(spec) = spec {
            self.cluster.apply_nodeeni(NodeENI::new(ROOMY, spec));
        }
        n
    }

    /// The full subnet of `full-subnet`.
    pub fn first_subnet(&self) -> Option<&Subnet> {
        self.subnets.first()
    }

    /// Sets or removes the label on every node.
    pub fn label_all(&self, on: bool) {
        for name in self.nodes.keys() {
            self.cluster
                .label_node(name, LABEL.0, on.then_some(LABEL.1));
        }
    }

    /// Replaces `n` nodes: their instances terminate, new ones join under new names.
    pub fn churn(&mut self, n: usize) {
        let victims: Vec<(String, String)> = self
            .nodes
            .iter()
            .take(n)
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect();
        for (name, instance) in victims {
            let _ = self.sim.terminate_instance(&instance);
            self.cluster.delete_node(&name);
            self.nodes.remove(&name);
            self.add_node(&format!("{name}-r"));
        }
    }

    /// (desired, ready) summed over every NodeENI still present.
    pub fn progress(&self) -> (i64, i64) {
        self.nodeenis
            .iter()
            .filter_map(|n| {
                self.cluster.with_nodeeni(n, |o| {
                    o.status
                        .as_ref()
                        .map(|s| (i64::from(s.desired_count), i64::from(s.ready_count)))
                })?
            })
            .fold((0, 0), |(d, r), (dn, rn)| (d + dn, r + rn))
    }

    /// The ENIs the controller should end with: one per labelled node, NodeENI and subnet.
    pub fn expected(&self, labelled: bool) -> usize {
        if labelled {
            self.nodes.len() * self.per_node
        } else {
            0
        }
    }
}

/// The name of zone `z` (`us-east-1a`, `us-east-1b`, ...).
fn zone(z: usize) -> String {
    let letter = ZONE_LETTERS.chars().nth(z).unwrap_or('a');
    format!("us-east-1{letter}")
}

/// The least simulated time a scenario may run before it is declared stuck.
pub const MIN_TIME_LIMIT: Duration = Duration::from_secs(6 * 3600);

/// How long simulated time may run before a scenario whose EC2 floor is `floor_seconds`
/// is declared stuck: six hours, or four times the floor when that is longer (a slow
/// strategy may take several times the floor; the limit only has to tell stuck from slow).
pub fn time_limit(floor_seconds: f64) -> Duration {
    let scaled =
        Duration::try_from_secs_f64(floor_seconds.max(0.0) * 4.0).unwrap_or(MIN_TIME_LIMIT);
    scaled.max(MIN_TIME_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_limit_grows_with_the_floor() {
        for (floor, limit) in [
            (0.0, MIN_TIME_LIMIT),
            (190.0, MIN_TIME_LIMIT),
            (5_400.0, MIN_TIME_LIMIT),
            // 20 NodeENIs over 10,000 nodes: 200,000 attaches at 5 per second.
            (40_000.0, Duration::from_secs(160_000)),
            (f64::NAN, MIN_TIME_LIMIT),
        ] {
            assert_eq!(time_limit(floor), limit, "floor {floor}");
        }
    }
}
