//! A NodeENI's decisions over its slots, pure: which slot actors to start, update and
//! retire after a new plan, what a retired slot leaves behind, which swept ENIs nobody
//! wants, and when the finalizer may go.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use super::slots::{DesiredSlot, Place, Skip, SlotKey};

/// How the running slots must change to match a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotChanges {
    /// New slots.
    pub start: Vec<DesiredSlot>,
    /// Running slots whose desired state changed.
    pub update: Vec<DesiredSlot>,
    /// Running slots no longer wanted.
    pub retire: Vec<SlotKey>,
}

/// Compares the running slots with `planned`; with `only`, the plan covers those nodes
/// and slots of other nodes are left as they are.
pub fn slot_changes<T: AsRef<DesiredSlot>>(
    running: &BTreeMap<SlotKey, T>,
    planned: BTreeMap<SlotKey, DesiredSlot>,
    only: Option<&BTreeSet<String>>,
) -> SlotChanges {
    let in_scope: Box<dyn Iterator<Item = &SlotKey>> = match only {
        None => Box::new(running.keys()),
        // Keys sort by node first: one node's slots are one range.
        Some(nodes) => Box::new(nodes.iter().flat_map(|node| {
            running
                .range(SlotKey::first_of(node)..)
                .map(|(k, _)| k)
                .take_while(move |k| k.node == *node)
        })),
    };
    let retire = in_scope
        .filter(|k| !planned.contains_key(*k))
        .cloned()
        .collect();
    let mut changes = SlotChanges {
        retire,
        ..SlotChanges::default()
    };
    for (key, desired) in planned {
        match running.get(&key) {
            None => changes.start.push(desired),
            Some(current) if *current.as_ref() != desired => changes.update.push(desired),
            Some(_) => {}
        }
    }
    changes
}

/// Which of `retiring` (keys of desired slots) hand their place over to a
/// slot that stays: another Node object of the same instance. `slots_at` counts the
/// desired slots at a place, the retiring ones among them. Walks only `retiring`, so a
/// one-node replan stays O(that node) however many slots the NodeENI has.
pub fn handed_over(retiring: &[SlotKey], slots_at: impl Fn(&Place) -> usize) -> Vec<bool> {
    let mut leaving: HashMap<Place, usize> = HashMap::new();
    for key in retiring.iter().collect::<BTreeSet<_>>() {
        *leaving.entry(key.place()).or_default() += 1;
    }
    retiring
        .iter()
        .map(|key| {
            let place = key.place();
            slots_at(&place) > leaving.get(&place).copied().unwrap_or(0)
        })
        .collect()
}

/// What a slot's last report said, as its retirement needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastReport<'a> {
    /// Its ENI, if it reported one.
    pub eni_id: Option<&'a str>,
    /// The incarnation its next create would have used.
    pub incarnation: u32,
}

/// What a retired slot leaves behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retired {
    /// The incarnation the next slot at the same place starts from.
    pub incarnation: u32,
    /// The ENI to tear down.
    pub clean: Option<String>,
}

/// Decides what a slot retired from the plan leaves behind, from its last report and
/// the incarnation it started with: its ENI goes, and the next slot at its place
/// creates under a new ClientToken, always: the retired slot may have a create in
/// flight that has not reported yet, and two slots must never share a token (the
/// second would be answered with the first one's ENI, which its teardown deletes).
pub fn retire(last: Option<LastReport<'_>>, started_with: u32) -> Retired {
    let reported = last.map_or(started_with, |l| l.incarnation.max(started_with));
    Retired {
        incarnation: reported + 1,
        clean: last.and_then(|l| l.eni_id).map(str::to_string),
    }
}

/// Decides what a slot handed over to another Node object on the same instance leaves
/// behind (the place stays desired): its ENI stays for the next slot, which goes on
/// with the same incarnation.
pub fn hand_over(last: Option<LastReport<'_>>, started_with: u32) -> Retired {
    Retired {
        incarnation: last.map_or(started_with, |l| l.incarnation.max(started_with)),
        clean: None,
    }
}

/// How long a retired slot's incarnation is remembered, so that a slot of the same key
/// creates under a new ClientToken. Past it, a reused token is recognised by the age of
/// the ENI it names ([`STALE_TOKEN_AGE`]), or refused when the create's parameters
/// differ, which costs a create call per slot: so it must outlast any teardown (10,000
/// ENIs take over half an hour at EC2's default detach and delete rates; half an hour of
/// memory made every slot of a 10,000-node label flip spend a create on a refused token).
/// Bounded all the same: one small entry per key retired in the last six hours.
///
/// [`STALE_TOKEN_AGE`]: super::slot_view::STALE_TOKEN_AGE
pub const INCARNATION_MEMORY: Duration = Duration::from_secs(6 * 3600);

/// Whether the incarnation a slot left at `retired_at` is still worth remembering.
pub fn keep_incarnation(retired_at: Instant, now: Instant) -> bool {
    now.duration_since(retired_at) < INCARNATION_MEMORY
}

/// The incarnation a starting slot creates with: what a retired slot left, else what a
/// failed actor last reported, else 0.
pub fn starting_incarnation(left_by_retired: Option<u32>, last_reported: Option<u32>) -> u32 {
    left_by_retired.or(last_reported).unwrap_or(0)
}

/// Whether new slots may start: only once a listing of the NodeENI's ENIs (the Go
/// controller's included) succeeded, so that an ENI to adopt is never duplicated.
pub fn may_start_slots(swept_once: bool) -> bool {
    swept_once
}

/// Whether a listing of the NodeENI's ENIs also looks for the Go controller's for it:
/// on the actor's first listing, not while it is being deleted, and only when the
/// NodeENI carries the Go controller's finalizer. The Go controller adds that
/// finalizer before it makes any ENI, and this controller removes it only with the
/// NodeENI, so a NodeENI without it has no Go-made ENI; looking anyway is a second scan
/// of the account's interfaces on every start (200 pages at 100,000 nodes).
pub fn looks_for_go_enis(first_listing: bool, deleting: bool, go_finalizer: bool) -> bool {
    first_listing && !deleting && go_finalizer
}

/// What a starting slot knows of its ENIs: what the last sweep found at its place; or,
/// if it found nothing there, that there are none, unless a slot ran at that place
/// since the sweep (it may have made one the sweep did not see: the new slot looks
/// first, `None`). Slots start only after a sweep ([`may_start_slots`]).
pub fn starting_knowledge<E>(found: Option<Vec<E>>, ran_since: bool) -> Option<Vec<E>> {
    match (found, ran_since) {
        (Some(found), _) => Some(found),
        (None, false) => Some(Vec::new()),
        (None, true) => None,
    }
}

/// An ENI a sweep found for a slot key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweptEni {
    /// Its ID.
    pub eni_id: String,
    /// Carries this cluster's ownership tags (the Go controller's are adopted, never
    /// reaped).
    pub owned: bool,
}

/// The swept ENIs of places no running slot has: to be torn down.
pub fn reap(
    swept: HashMap<Place, Vec<SweptEni>>,
    running: &std::collections::HashSet<Place>,
) -> Vec<String> {
    let mut out: Vec<String> = swept
        .into_iter()
        .filter(|(p, _)| !running.contains(p))
        .flat_map(|(_, enis)| enis)
        .filter(|e| e.owned)
        .map(|e| e.eni_id)
        .collect();
    out.sort();
    out
}

/// Whether a deleted NodeENI may lose its finalizer: a listing of its ENIs showed none,
/// no teardown is still running, every retired slot handed back what it made (a
/// create under way when the slot was retired completes, and a listing may not show its
/// ENI yet), and its entries are gone from every node's ENINode. An ENI whose deletion
/// keeps failing holds the finalizer.
pub fn finalizer_may_go(
    nothing_listed: bool,
    cleanups_pending: usize,
    slots_retiring: usize,
    entries_withdrawn: bool,
) -> bool {
    nothing_listed && cleanups_pending == 0 && slots_retiring == 0 && entries_withdrawn
}

/// Whether a full re-listing of the NodeENI's ENIs is due.
pub fn sweep_due(last: Option<Instant>, now: Instant, interval: Duration) -> bool {
    last.is_none_or(|t| now.duration_since(t) >= interval)
}

/// What holds the spec back, as far as when to look again goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// Nothing.
    None,
    /// The spec itself: a name that resolves to nothing, a denied look-up.
    Spec,
    /// EC2 did not answer a look-up (a 500, a throttle, a timeout), for the `n`th tick in
    /// a row (from 0): nothing is known to be wrong with the spec.
    Unanswered(u32),
}

/// When to look again: at the resync interval; a tenth of it (at least 5 s) while the
/// spec has problems, so a wrong name is not looked up in a storm; and 1 s doubling up to
/// that cadence while EC2 did not answer, so a controller that restarts into one failed
/// call resumes within seconds (at the problem cadence it waited 30 s).
pub fn next_tick(trouble: Trouble, resync: Duration) -> Duration {
    let problem = Duration::from_secs(5).max(resync / 10);
    match trouble {
        Trouble::None => resync,
        Trouble::Spec => problem,
        Trouble::Unanswered(n) => Duration::from_secs(1)
            .saturating_mul(1u32 << n.min(16))
            .min(problem),
    }
}

/// How long a restarted NodeENI actor holds its status round for slots that have not
/// reported yet (see [`hold_round`]): over 100,000 ENIs a restart took 36 s (simulated)
/// to know every slot again.
pub const HOLD_AFTER_START: Duration = Duration::from_secs(60);

/// How long a restarted NodeENI actor holds its status round while its nodes are not
/// listed yet: a listing of 100,000 Nodes may take the API server's 30 s objective and
/// more.
pub const HOLD_FOR_NODES: Duration = Duration::from_secs(300);

/// Whether a status round waits: the actor started over a status it did not write (a
/// restarted controller) and its nodes are not listed and planned yet (for at most
/// [`HOLD_FOR_NODES`]),
/// or some slots have not reported yet (for at most [`HOLD_AFTER_START`]). Written then,
/// the status would count no node or those slots not ready, each node's ENINode entries
/// would be withdrawn, and all of it would flip back a moment later; a new NodeENI (no
/// status yet) is written at once.
pub fn hold_round(
    carried_status: bool,
    nodes_planned: bool,
    unreported: usize,
    since_start: Duration,
) -> bool {
    carried_status
        && ((!nodes_planned && since_start < HOLD_FOR_NODES)
            || (unreported > 0 && since_start < HOLD_AFTER_START))
}

/// Slots the controller's status rounds cover in one debounce, shared equally by its
/// NodeENIs: past its share, a NodeENI's rounds come further apart.
pub const SLOTS_PER_DEBOUNCE: usize = 10_000;

/// The longest wait between status rounds, however many slots.
pub const LONGEST_STATUS_INTERVAL: Duration = Duration::from_secs(10);

/// How long a NodeENI with `slots` slots, one of `nodeenis` NodeENI actors in the
/// controller, gathers changes before its status round (the status, the nodes' ENINode
/// entries and what it tells readiness): `debounce` up to its share of
/// [`SLOTS_PER_DEBOUNCE`] (all of it when alone), then in proportion (alone with 100,000
/// slots: 10 debounces; one of 20 with 10,000 each: 20), never more than
/// [`LONGEST_STATUS_INTERVAL`]. A round walks every slot, so at a fixed interval its cost
/// grew with the slots and a rollout's rounds with the slots too: the controller's work
/// grew with their square (half the CPU of a 2,000-node rollout was rounds). Spaced by
/// their shares, the rounds of every NodeENI together walk at most
/// [`SLOTS_PER_DEBOUNCE`] slots per debounce whatever their number and sizes (until the
/// ten-second cap), and a small NodeENI beside large ones keeps the plain debounce; a
/// large one beside many small ones is spaced as if all were its size (a share is by
/// count, not by size: simple, and never over the budget).
pub fn status_interval(debounce: Duration, slots: usize, nodeenis: usize) -> Duration {
    let share = SLOTS_PER_DEBOUNCE as f64 / nodeenis.max(1) as f64;
    let scale = (slots as f64 / share).max(1.0);
    debounce
        .mul_f64(scale)
        .min(LONGEST_STATUS_INTERVAL.max(debounce))
}

/// The node/subnet pairs skipped by planning, by node, so that re-planning one node
/// replaces that node's reasons only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skips(BTreeMap<String, Vec<Skip>>);

impl Skips {
    /// Takes in a plan's skips: for every node (`only: None`) or for some.
    pub fn replace(&mut self, only: Option<&BTreeSet<String>>, fresh: Vec<Skip>) {
        match only {
            None => self.0.clear(),
            Some(nodes) => {
                for node in nodes {
                    self.0.remove(node);
                }
            }
        }
        for s in fresh {
            self.0.entry(s.node().to_string()).or_default().push(s);
        }
    }

    /// Every reason a node gets no ENI, as (reason, words), by node (those that only
    /// wait for something to be read are [`Skips::pending`]).
    pub fn messages(&self) -> Vec<(String, String)> {
        self.0
            .values()
            .flatten()
            .filter_map(|s| {
                let reason = match s {
                    Skip::VpcUnknown { .. } => return None,
                    Skip::NoSubnetInVpc { .. } => "InstanceNotInVPC",
                    Skip::SharedInstance { .. } => "SharedInstance",
                    Skip::NoInstance { .. } | Skip::NoSubnetInZone { .. } => "SubnetZoneMismatch",
                };
                Some((reason.to_string(), s.to_string()))
            })
            .collect()
    }

    /// Why subnets give `node` no slot (reason, words), and whether it waits for its
    /// instance to be read.
    pub fn of(&self, node: &str) -> (Vec<(String, String)>, bool) {
        let Some(skips) = self.0.get(node) else {
            return (Vec::new(), false);
        };
        let unread = skips.iter().any(|s| matches!(s, Skip::VpcUnknown { .. }));
        let only = Skips(BTreeMap::from([(node.to_string(), skips.clone())]));
        (only.messages(), unread)
    }

    /// The nodes that wait for their instance to be read before they are planned.
    pub fn pending(&self) -> usize {
        self.0
            .values()
            .filter(|v| v.iter().any(|s| matches!(s, Skip::VpcUnknown { .. })))
            .count()
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::NoInstance { node } => write!(f, "node {node} has no AWS provider ID"),
            Skip::NoSubnetInZone { node, node_zone } => write!(
                f,
                "node {node} is in {node_zone}, where this NodeENI has no subnet"
            ),
            Skip::VpcUnknown { node } => {
                write!(f, "node {node}'s instance has not been read yet")
            }
            Skip::NoSubnetInVpc { node, vpc } => write!(
                f,
                "node {node}'s instance is in {vpc}, where no subnet has the names this NodeENI gives: nothing is attached to it"
            ),
            Skip::SharedInstance { node, with } => write!(
                f,
                "node {node} names the same instance as the newer node {with}, which gets its ENIs"
            ),
        }
    }
}

#[cfg(test)]
mod tests;
