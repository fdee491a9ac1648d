//! Setting the simulated account up and looking inside it. None of these are EC2 calls:
//! they bypass buckets, latency, faults and the call log.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::world::SimInstance;
use super::{CallRecord, Ec2Simulator, FaultRates, ScriptedFault};
use crate::aws::{
    AttachRequest, ClientToken, CreateEniRequest, Ec2Action, Ec2Error, Eni, EniLimits, Instance,
    InstanceState, SecurityGroup, Subnet, Tags,
};

impl Ec2Simulator {
    /// When the simulator started: call log times count from here.
    pub fn started_at(&self) -> Instant {
        self.origin
    }

    /// The account's default VPC.
    pub fn vpc_id(&self) -> &str {
        &self.vpc_id
    }

    /// Adds a subnet in `az` with an optional `Name` tag.
    pub fn add_subnet(&self, az: &str, cidr: &str, name: Option<&str>) -> Subnet {
        self.lock().world.add_subnet(&self.vpc_id, az, cidr, name)
    }

    /// Gives a subnet an IPv6 block (`a:b:c:d::/64`); answers the subnet as describes show
    /// it now.
    pub fn add_ipv6_block(&self, subnet_id: &str, cidr: &str) -> Option<Subnet> {
        let mut g = self.lock();
        let s = g.world.subnets.get_mut(subnet_id)?;
        s.subnet.ipv6_cidr = Some(cidr.to_string());
        Some(s.subnet.clone())
    }

    /// Adds a subnet in another VPC of the account (another cluster's, say).
    pub fn add_subnet_in_another_vpc(&self, az: &str, cidr: &str, name: Option<&str>) -> Subnet {
        let mut g = self.lock();
        let vpc = g.world.new_id("vpc");
        g.world.add_subnet(&vpc, az, cidr, name)
    }

    /// Deletes a security group (the simulator does not check that it is unused).
    pub fn remove_security_group(&self, id: &str) {
        self.lock().world.groups.remove(id);
    }

    /// Adds a security group to the default VPC.
    pub fn add_security_group(&self, name: &str) -> SecurityGroup {
        let mut g = self.lock();
        let group = SecurityGroup {
            id: g.world.new_id("sg"),
            name: name.to_string(),
            vpc_id: self.vpc_id.to_string(),
        };
        g.world.groups.insert(group.id.clone(), group.clone());
        group
    }

    /// Teaches the simulator an instance type's ENI limits.
    pub fn add_instance_type(&self, name: &str, limits: EniLimits) {
        self.lock()
            .world
            .instance_types
            .insert(name.to_string(), limits);
    }

    /// Launches a running instance whose primary ENI (device 0, card 0, deleted on
    /// termination) is in `subnet_id`, tagged as a member of no cluster.
    pub fn launch_instance(
        &self,
        instance_type: &str,
        subnet_id: &str,
    ) -> Result<Instance, Ec2Error> {
        self.launch_tagged_instance(instance_type, subnet_id, Tags::new())
    }

    /// Launches an instance of the cluster named `cluster` (tagged
    /// `kubernetes.io/cluster/<cluster>=owned`, as EKS node groups are).
    pub fn launch_cluster_instance(
        &self,
        cluster: &str,
        instance_type: &str,
        subnet_id: &str,
    ) -> Result<Instance, Ec2Error> {
        let tags = [(crate::aws::cluster_tag_key(cluster), "owned".to_string())].into();
        self.launch_tagged_instance(instance_type, subnet_id, tags)
    }

    /// Launches an instance with `tags`, like [`Ec2Simulator::launch_instance`].
    pub fn launch_tagged_instance(
        &self,
        instance_type: &str,
        subnet_id: &str,
        tags: Tags,
    ) -> Result<Instance, Ec2Error> {
        let mut g = self.lock();
        let w = &mut g.world;
        let subnet = w
            .subnets
            .get(subnet_id)
            .map(|s| s.subnet.clone())
            .ok_or_else(|| super::world::err("InvalidSubnetID.NotFound", subnet_id))?;
        let id = w.new_id("i");
        w.instances.insert(
            id.clone(),
            SimInstance {
                id: id.clone(),
                instance_type: instance_type.to_string(),
                az: subnet.availability_zone.clone(),
                vpc_id: subnet.vpc_id.clone(),
                state: InstanceState::Running,
                tags,
                slots: BTreeMap::new(),
                visible_from: None,
            },
        );
        let primary = w.create_eni(&CreateEniRequest {
            subnet_id: subnet.id.clone(),
            security_group_ids: vec![],
            description: format!("Primary network interface of {id}"),
            tags: Tags::new(),
            client_token: ClientToken::new(format!("primary-{id}")),
            secondary_ipv4_count: 0,
            ipv4_prefix_count: 0,
            ipv6_address_count: 0,
            ipv6_prefix_count: 0,
            connection_tracking: None,
        })?;
        let now = Instant::now();
        let attachment = w.attach(now, &primary.id, &id, 0, 0, Default::default())?;
        w.set_delete_on_termination(&primary.id, &attachment, true)?;
        w.settle(now + w.attach_delay);
        w.instance_view(&id)
    }

    /// Refuses every call of `action` as `UnauthorizedOperation` (`denied`), or stops.
    pub fn deny(&self, action: Ec2Action, denied: bool) {
        let mut g = self.lock();
        if denied {
            g.faults.denied.insert(action);
        } else {
            g.faults.denied.remove(&action);
        }
    }

    /// Keeps an instance out of `DescribeInstances` answers (`NotFound`) for `lag`, as
    /// EC2 may right after a launch.
    pub fn hide_instance(&self, instance_id: &str, lag: Duration) {
        let until = Instant::now() + lag;
        if let Some(i) = self.lock().world.instances.get_mut(instance_id) {
            i.visible_from = Some(until);
        }
    }

    /// Terminates an instance now (as EC2 would after a scale-in or spot reclaim).
    pub fn terminate_instance(&self, instance_id: &str) -> Result<(), Ec2Error> {
        self.lock().world.terminate(instance_id)
    }

    /// Creates an ENI directly, as someone else would (tests of foreign ENIs).
    pub fn seed_eni(&self, subnet_id: &str, tags: Tags) -> Result<Eni, Ec2Error> {
        self.seed_described_eni(subnet_id, "seeded", tags)
    }

    /// Creates an ENI with `description` and `tags` directly, like
    /// [`Ec2Simulator::seed_eni`].
    pub fn seed_described_eni(
        &self,
        subnet_id: &str,
        description: &str,
        tags: Tags,
    ) -> Result<Eni, Ec2Error> {
        let mut g = self.lock();
        let token = g.world.new_id("seed");
        g.world.create_eni(&CreateEniRequest {
            subnet_id: subnet_id.to_string(),
            security_group_ids: vec![],
            description: description.into(),
            tags,
            client_token: ClientToken::new(token),
            secondary_ipv4_count: 0,
            ipv4_prefix_count: 0,
            ipv6_address_count: 0,
            ipv6_prefix_count: 0,
            connection_tracking: None,
        })
    }

    /// Attaches an ENI directly, already settled (tests of foreign or pre-existing ENIs).
    pub fn seed_attach(&self, r: &AttachRequest) -> Result<String, Ec2Error> {
        let mut g = self.lock();
        let now = Instant::now();
        let id = g.world.attach(
            now,
            &r.eni_id,
            &r.instance_id,
            r.device_index,
            r.network_card_index,
            r.ena,
        )?;
        let later = now + g.world.attach_delay;
        g.world.settle(later);
        Ok(id)
    }

    /// Removes a tag from an ENI, as someone else would by hand (nothing is logged).
    pub fn untag_eni(&self, eni_id: &str, key: &str) {
        let mut g = self.lock();
        let untagged = g
            .world
            .enis
            .get_mut(eni_id)
            .and_then(|e| e.tags.remove(key))
            .is_some();
        g.world.removed += u64::from(untagged);
    }

    /// Deletes an ENI out of band, as someone else would (or EC2 with its instance),
    /// whatever the faults and permissions (nothing is logged).
    pub fn remove_eni(&self, eni_id: &str) {
        self.lock().world.remove_eni(eni_id);
    }

    /// How many ENIs were ever removed from the account (deleted, with their instance
    /// or out of band) or untagged by hand: a cheap check of whether a count of ENIs by
    /// their tags can have gone down since it was made.
    pub fn enis_removed(&self) -> u64 {
        self.lock().world.removed
    }

    /// Calls of `action` in flight now (sent and not answered yet).
    pub fn in_flight(&self, action: Ec2Action) -> u64 {
        let g = self.concurrency.lock().unwrap_or_else(|p| p.into_inner());
        g.now.get(&action).copied().unwrap_or(0)
    }

    /// Calls whose caller gave up before the answer came (a controller killed mid-call).
    pub fn abandoned(&self) -> u64 {
        let g = self.concurrency.lock().unwrap_or_else(|p| p.into_inner());
        g.abandoned
    }

    /// Every ENI in the account, as of now.
    pub fn enis(&self) -> Vec<Eni> {
        self.with_enis(|enis| enis.cloned().collect())
    }

    /// `f` over every ENI in the account as of now, without copying them (the
    /// simulation's audit reads 10,000s of ENIs four times a simulated second).
    pub fn with_enis<T>(&self, f: impl FnOnce(&mut dyn Iterator<Item = &Eni>) -> T) -> T {
        let mut g = self.lock();
        g.world.settle(Instant::now());
        f(&mut g.world.enis.values())
    }

    /// One instance as of now, without making a call.
    pub fn instance(&self, instance_id: &str) -> Option<Instance> {
        let mut g = self.lock();
        g.world.settle(Instant::now());
        g.world.instance_view(instance_id).ok()
    }

    /// Every call made so far.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.lock().log.records().to_vec()
    }

    /// Calls of `action` (every action when `None`) that ended with `outcome` (any
    /// outcome when `None`; `"ok"`, `"throttled"`, ... otherwise).
    pub fn count(&self, action: Option<Ec2Action>, outcome: Option<&str>) -> u64 {
        self.lock().log.count(action, outcome)
    }

    /// Calls so far by action and outcome (`"Action/outcome"`), failed ones only.
    pub fn failures(&self) -> std::collections::BTreeMap<String, u64> {
        self.lock()
            .log
            .counts()
            .iter()
            .filter(|((_, o), _)| *o != "ok")
            .map(|((a, o), n)| (format!("{}/{o}", a.as_str()), *n))
            .collect()
    }

    /// How many mutating calls EC2 has applied so far.
    pub fn applied_mutations(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until EC2 has applied at least `k` mutating calls (crash tests stop the
    /// controller right after the k-th).
    pub async fn until_applied(&self, k: u64) {
        let mut rx = self.applied.subscribe();
        let _ = rx.wait_for(|n| *n >= k).await.map(|_| ());
    }

    /// A crash point for tests: once `k` mutating calls have been applied, every further
    /// call hangs without an answer, freezing EC2 exactly after the k-th mutation while
    /// the test kills the controller. `None` lifts it.
    pub fn hang_after(&self, k: Option<u64>) {
        self.lock().hang_after = k;
    }

    /// Replaces the random fault rates.
    pub fn set_fault_rates(&self, rates: FaultRates) {
        self.lock().faults.rates = rates;
    }

    /// Spends one token of `action`'s bucket as another client of the account does (the
    /// VPC CNI, a script): not this controller's call, so not logged. `false` when EC2
    /// throttles it.
    pub fn spend_as_other(&self, action: Ec2Action) -> bool {
        let ok = self
            .buckets
            .iter()
            .find(|(a, _)| *a == action)
            .is_none_or(|(_, b)| b.try_take().is_ok());
        let mut g = self.lock();
        let n = g.others.entry(action).or_default();
        n.0 += 1;
        n.1 += u64::from(!ok);
        ok
    }

    /// The other client's calls so far and how many were throttled, over every action.
    pub fn other_calls(&self) -> (u64, u64) {
        self.lock()
            .others
            .values()
            .fold((0, 0), |(c, t), (c2, t2)| (c + c2, t + t2))
    }

    /// Schedules a fault on a coming call, counted from now.
    pub fn script_fault(&self, fault: ScriptedFault) {
        self.lock().faults.script(fault);
    }
}
