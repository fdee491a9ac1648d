//! A NodeENI's slots: the record of each desired slot (planned, and once allowed,
//! running as a supervised slot actor), the incarnation each place's next slot starts
//! from, and the slots retired that have not handed back their ENIs yet.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::time::Instant;

use super::lines::{LineInputs, Lines};
use super::msg::NodeEniMsg;
use super::status;
use crate::actors::slot::{SlotActor, SlotArgs, SlotDeps, SlotMsg, SlotReport};
use crate::aws::Eni;
use crate::k8s::status::SlotSummary;
use crate::plan::lifecycle::SlotMemory;
use crate::plan::nodeeni::{self as rules, LastReport};
use crate::plan::slots::{DesiredSlot, Place, SlotKey};
use crate::supervision::{Children, Outbox, RestartPolicy};

/// One desired slot, from the NodeENI's side.
struct SlotRecord {
    desired: DesiredSlot,
    report: Option<SlotReport>,
    /// Changes whenever `desired` or `report` does ([`Slots::next_version`]).
    version: u64,
    since: Instant,
    /// The slot actor running it (`None`: planned, not started yet).
    actor: Option<ActorId>,
    /// The incarnation its actor started with.
    started_with: u32,
}

impl AsRef<DesiredSlot> for SlotRecord {
    fn as_ref(&self) -> &DesiredSlot {
        &self.desired
    }
}

/// What a slot's report changed.
pub enum Reported {
    /// The status must be written again.
    Changed,
    /// Nothing new (or a report from an actor that no longer runs the slot).
    Same,
}

/// The slots of one NodeENI.
pub struct Slots {
    deps: Arc<SlotDeps>,
    records: BTreeMap<SlotKey, SlotRecord>,
    /// The records without a running actor (planned, or exited): what
    /// [`Slots::waiting`] looks at, so that a one-node replan does not walk every slot.
    unstarted: BTreeSet<SlotKey>,
    /// How many records each place has.
    places: HashMap<Place, usize>,
    children: Children<SlotKey>,
    /// Slot actors told to retire that have not handed back their ENIs yet.
    retiring: HashMap<ActorId, SlotKey>,
    incarnations: HashMap<Place, (u32, Instant)>,
    /// The last version given to a record.
    versions: u64,
    /// Every slot's status line, as last refreshed.
    lines: Lines<SlotKey, SlotSummary>,
}

impl Slots {
    /// No slots yet; slot actors restart under `restart`.
    pub fn new(deps: Arc<SlotDeps>, restart: RestartPolicy) -> Self {
        Slots {
            deps,
            records: BTreeMap::new(),
            unstarted: BTreeSet::new(),
            places: HashMap::new(),
            // The `kind` label value is the slot actor's former name: a public interface.
            children: Children::new("attachment", restart),
            retiring: HashMap::new(),
            incarnations: HashMap::new(),
            versions: 0,
            lines: Lines::default(),
        }
    }

    /// A version no record had before.
    fn next_version(&mut self) -> u64 {
        self.versions += 1;
        self.versions
    }

    /// The desired state of every slot, by key.
    pub fn desired(&self) -> &BTreeMap<SlotKey, impl AsRef<DesiredSlot>> {
        &self.records
    }

    /// How many slots are desired.
    pub fn count(&self) -> usize {
        self.records.len()
    }

    /// Whether `key` is a desired slot.
    pub fn contains(&self, key: &SlotKey) -> bool {
        self.records.contains_key(key)
    }

    /// Every desired slot's key.
    pub fn keys(&self) -> Vec<SlotKey> {
        self.records.keys().cloned().collect()
    }

    /// Every desired slot's place.
    pub fn places(&self) -> HashSet<Place> {
        self.places.keys().cloned().collect()
    }

    /// Whether a desired slot is at `place`.
    pub fn has_place(&self, place: &Place) -> bool {
        self.places.contains_key(place)
    }

    /// How many desired slots are at `place`.
    pub fn count_at(&self, place: &Place) -> usize {
        self.places.get(place).copied().unwrap_or(0)
    }

    fn insert_record(&mut self, key: SlotKey, record: SlotRecord) {
        self.unstarted.insert(key.clone());
        if self.records.insert(key.clone(), record).is_none() {
            *self.places.entry(key.place()).or_default() += 1;
        }
    }

    fn remove_record(&mut self, key: &SlotKey) -> Option<SlotRecord> {
        let rec = self.records.remove(key)?;
        self.unstarted.remove(key);
        let place = key.place();
        if let Some(n) = self.places.get_mut(&place) {
            *n -= 1;
            if *n == 0 {
                self.places.remove(&place);
            }
        }
        Some(rec)
    }

    /// The places of the running slots, with their keys.
    pub fn running_places(&self) -> Vec<(Place, SlotKey)> {
        self.records
            .iter()
            .filter(|(_, r)| r.actor.is_some())
            .map(|(k, _)| (k.place(), k.clone()))
            .collect()
    }

    /// Records a desired slot that may not start yet.
    pub fn plan(&mut self, desired: DesiredSlot) {
        let key = desired.key.clone();
        let record = SlotRecord {
            desired,
            report: None,
            version: self.next_version(),
            since: Instant::now(),
            actor: None,
            started_with: 0,
        };
        self.insert_record(key, record);
    }

    /// The planned slots not started yet.
    pub fn waiting(&self) -> Vec<SlotKey> {
        self.unstarted
            .iter()
            .filter(|k| {
                self.records.get(*k).is_some_and(|r| r.actor.is_none())
                    && self.children.get::<SlotMsg>(k).is_none()
            })
            .cloned()
            .collect()
    }

    /// Starts a planned slot, knowing `seen` of its ENIs (`None`: it looks first).
    pub async fn start(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        key: &SlotKey,
        seen: Option<Vec<Eni>>,
    ) -> Result<(), ActorProcessingErr> {
        let Some(rec) = self.records.get(key) else {
            return Ok(());
        };
        let incarnation = rules::starting_incarnation(
            self.incarnations.get(&key.place()).map(|(inc, _)| *inc),
            rec.report.as_ref().map(|r| r.incarnation),
        );
        let args = SlotArgs {
            desired: rec.desired.clone(),
            seen,
            memory: SlotMemory {
                incarnation,
                ..SlotMemory::default()
            },
            desired_since: rec.since,
            deps: self.deps.clone(),
            updates: Outbox::to(myself),
        };
        let (actor, _) = Actor::spawn_linked(None, SlotActor, args, myself.get_cell()).await?;
        self.children.started(key.clone(), &actor);
        if let Some(rec) = self.records.get_mut(key) {
            rec.actor = Some(actor.get_id());
            rec.started_with = incarnation;
        }
        self.unstarted.remove(key);
        Ok(())
    }

    /// Forgets the incarnations of slots retired long ago.
    pub fn prune(&mut self, now: Instant) {
        self.incarnations
            .retain(|_, (_, at)| rules::keep_incarnation(*at, now));
    }

    /// Tells a running slot its new desired state.
    pub fn update(&mut self, desired: DesiredSlot) {
        if let Some(a) = self.children.get::<SlotMsg>(&desired.key) {
            let _ = a.cast(SlotMsg::Update(Box::new(desired.clone())));
        }
        let version = self.next_version();
        if let Some(rec) = self.records.get_mut(&desired.key) {
            rec.desired = desired;
            rec.version = version;
        }
    }

    /// Hands a running slot what a sweep found for it.
    pub fn observed(&self, key: &SlotKey, enis: Vec<Eni>, started: Instant) {
        if let Some(a) = self.children.get::<SlotMsg>(key) {
            let _ = a.cast(SlotMsg::Observed(enis, started));
        }
    }

    /// Retires a slot no longer desired: a running slot finishes its step and hands
    /// back its ENIs ([`Slots::retired`]); returns the ENI its last report named, to
    /// tear down. With `handed_over`, another slot takes its place (another Node object
    /// of the same instance): nothing is torn down and the token stays.
    pub fn retire(&mut self, key: &SlotKey, why: &str, handed_over: bool) -> Option<String> {
        let rec = self.remove_record(key)?;
        match self.children.get::<SlotMsg>(key) {
            Some(actor) if actor.cast(SlotMsg::Retire).is_ok() => {
                self.children.forget(key);
                self.retiring.insert(actor.get_id(), key.clone());
            }
            _ => self.children.stop(key, why),
        }
        let last = rec.report.as_ref().map(|r| LastReport {
            eni_id: r.eni_id.as_deref(),
            incarnation: r.incarnation,
        });
        let retired = if handed_over {
            rules::hand_over(last, rec.started_with)
        } else {
            rules::retire(last, rec.started_with)
        };
        if rec.actor.is_some() || rec.report.is_some() {
            self.incarnations
                .insert(key.place(), (retired.incarnation, Instant::now()));
        }
        retired.clean
    }

    /// Takes in a slot's report, if `actor` still runs the slot.
    pub fn reported(&mut self, actor: &ActorId, key: &SlotKey, report: SlotReport) -> Reported {
        let fresh = self.records.get(key).is_some_and(|rec| {
            rec.actor.as_ref() == Some(actor) && rec.report.as_ref() != Some(&report)
        });
        if !fresh {
            return Reported::Same;
        }
        let version = self.next_version();
        if let Some(rec) = self.records.get_mut(key) {
            rec.report = Some(report);
            rec.version = version;
        }
        Reported::Changed
    }

    /// Whether a desired slot's last report names `eni_id` as its ENI.
    pub fn names(&self, eni_id: &str) -> bool {
        self.records
            .values()
            .any(|r| r.report.as_ref().and_then(|r| r.eni_id.as_deref()) == Some(eni_id))
    }

    /// A retired slot handed back its ENIs.
    pub fn retired(&mut self, actor: &ActorId) {
        self.retiring.remove(actor);
    }

    /// Retired slots that have not answered yet.
    pub fn retiring(&self) -> usize {
        self.retiring.len()
    }

    /// A child exited: which slot, and when to start it again (`None`: not a slot that
    /// is still wanted). A retiring slot that died before answering counts as answered:
    /// the next listing finds what it made.
    pub fn exited(&mut self, evt: &SupervisionEvent) -> Option<(SlotKey, std::time::Duration)> {
        if let Some(cell) = exit_cell(evt)
            && self.retiring.remove(&cell.get_id()).is_some()
        {
            return None;
        }
        let exited = self.children.exited(evt)?;
        if let Some(rec) = self.records.get_mut(&exited.key) {
            rec.actor = None;
            self.unstarted.insert(exited.key.clone());
        }
        let delay = self.children.restart(&exited).delay;
        Some((exited.key, delay))
    }

    /// Starts a failed slot again if it is still desired and down (it looks first).
    pub async fn restart(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        key: &SlotKey,
    ) -> Result<(), ActorProcessingErr> {
        if self.records.contains_key(key) && self.children.down(key) {
            self.start(myself, key, None).await?;
        }
        Ok(())
    }

    /// Brings every slot's line in the status up to date, building again only the
    /// lines whose record, failing state, MTU or agent report changed since the last
    /// refresh; `configured` gives what a node's agent reports, asked in node order.
    /// Adds to `changed` the nodes of every line built, replaced or dropped.
    pub fn refresh_lines<'a>(
        &mut self,
        mtu: i32,
        mut configured: impl FnMut(&str) -> Option<&'a BTreeMap<String, bool>>,
        changed: &mut BTreeSet<String>,
    ) {
        let over_budget = self.children.over_budget_keys();
        let slots = self.records.iter().map(|(k, rec)| {
            let failing = over_budget.contains(k);
            let agent = status::configured(rec.report.as_ref(), configured(&k.node));
            let inputs = LineInputs {
                version: rec.version,
                failing,
                mtu,
                configured: agent,
            };
            (k, inputs, (rec, failing, agent))
        });
        self.lines.refresh(
            slots,
            |(rec, failing, agent)| {
                status::summary(&rec.desired, rec.report.as_ref(), failing, mtu, agent)
            },
            |line| {
                if !changed.contains(&line.node) {
                    changed.insert(line.node.clone());
                }
            },
        );
    }

    /// Every slot's line in the status, as [`Slots::refresh_lines`] last made them.
    pub fn lines(&self) -> &[SlotSummary] {
        self.lines.lines()
    }

    /// The (node, subnet) of every slot that has not reported yet.
    pub fn unreported(&self) -> Vec<(String, String)> {
        self.records
            .iter()
            .filter(|(_, r)| r.report.is_none())
            .map(|(k, _)| (k.node.clone(), k.subnet_id.clone()))
            .collect()
    }

    /// The desired (instance, subnet) pairs.
    pub fn pairs(&self) -> HashSet<(String, String)> {
        self.records
            .keys()
            .map(|k| (k.instance_id.clone(), k.subnet_id.clone()))
            .collect()
    }
}

fn exit_cell(evt: &SupervisionEvent) -> Option<&ractor::ActorCell> {
    match evt {
        SupervisionEvent::ActorFailed(cell, _) | SupervisionEvent::ActorTerminated(cell, _, _) => {
            Some(cell)
        }
        _ => None,
    }
}
