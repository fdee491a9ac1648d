//! A NodeENI's slots: the record of each desired slot, the slot actors running them
//! (supervised children), and the incarnation each key's next slot starts from.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::time::Instant;

use super::msg::NodeEniMsg;
use super::status;
use crate::actors::slot::{SlotActor, SlotArgs, SlotDeps, SlotMsg, SlotReport};
use crate::aws::Eni;
use crate::k8s::NodeView;
use crate::k8s::status::SlotSummary;
use crate::plan::lifecycle::SlotMemory;
use crate::plan::nodeeni::{self as rules, LastReport};
use crate::plan::slots::{DesiredSlot, SlotKey};
use crate::supervision::{Children, Outbox, RestartPolicy};

/// One desired slot, from the NodeENI's side.
struct SlotRecord {
    desired: DesiredSlot,
    report: Option<SlotReport>,
    since: Instant,
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
    /// Nothing new.
    Same,
    /// The slot was retired while its last step ran: this ENI must go too.
    Orphaned(Option<String>),
}

/// The slots of one NodeENI.
pub struct Slots {
    deps: Arc<SlotDeps>,
    records: BTreeMap<SlotKey, SlotRecord>,
    children: Children<SlotKey>,
    /// Slot actors told to retire that have not handed back their ENIs yet.
    retiring: HashMap<ActorId, SlotKey>,
    incarnations: HashMap<SlotKey, (u32, Instant)>,
}

impl Slots {
    /// No slots yet; slot actors restart under `restart`.
    pub fn new(deps: Arc<SlotDeps>, restart: RestartPolicy) -> Self {
        Slots {
            deps,
            records: BTreeMap::new(),
            // The `kind` label value is the slot actor's former name: a public interface.
            children: Children::new("attachment", restart),
            retiring: HashMap::new(),
            incarnations: HashMap::new(),
        }
    }

    /// The desired state of every running slot, by key.
    pub fn desired(&self) -> &BTreeMap<SlotKey, impl AsRef<DesiredSlot>> {
        &self.records
    }

    /// Whether `key` is a desired slot.
    pub fn contains(&self, key: &SlotKey) -> bool {
        self.records.contains_key(key)
    }

    /// Every desired slot's key.
    pub fn keys(&self) -> Vec<SlotKey> {
        self.records.keys().cloned().collect()
    }

    /// Starts a new slot, knowing `seen` of its ENIs.
    pub async fn start(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        desired: DesiredSlot,
        seen: Option<Vec<Eni>>,
    ) -> Result<(), ActorProcessingErr> {
        let key = desired.key.clone();
        let record = SlotRecord {
            desired,
            report: None,
            since: Instant::now(),
        };
        self.records.insert(key.clone(), record);
        self.spawn(myself, &key, seen).await
    }

    async fn spawn(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        key: &SlotKey,
        seen: Option<Vec<Eni>>,
    ) -> Result<(), ActorProcessingErr> {
        let Some(rec) = self.records.get(key) else {
            return Ok(());
        };
        let incarnation = rules::starting_incarnation(
            self.incarnations.get(key).map(|(inc, _)| *inc),
            rec.report.as_ref().map(|r| r.incarnation),
        );
        let args = SlotArgs {
            desired: rec.desired.clone(),
            seen,
            memory: SlotMemory {
                incarnation,
                known: None,
            },
            desired_since: rec.since,
            deps: self.deps.clone(),
            updates: Outbox::to(myself),
        };
        let (actor, _) = Actor::spawn_linked(None, SlotActor, args, myself.get_cell()).await?;
        self.children.started(key.clone(), &actor);
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
            let _ = a.cast(SlotMsg::Update(desired.clone()));
        }
        if let Some(rec) = self.records.get_mut(&desired.key) {
            rec.desired = desired;
        }
    }

    /// Hands a running slot what a sweep found for it.
    pub fn observed(&self, key: &SlotKey, enis: Vec<Eni>, started: Instant) {
        if let Some(a) = self.children.get::<SlotMsg>(key) {
            let _ = a.cast(SlotMsg::Observed(enis, started));
        }
    }

    /// Retires a slot no longer desired: a running slot finishes its step and hands
    /// back its ENIs ([`Slots::retired`]); returns the ENI its last report named.
    pub fn retire(&mut self, key: &SlotKey, why: &str) -> Option<String> {
        let rec = self.records.remove(key)?;
        match self.children.get::<SlotMsg>(key) {
            Some(actor) if actor.cast(SlotMsg::Retire).is_ok() => {
                self.children.forget(key);
                self.retiring.insert(actor.get_id(), key.clone());
            }
            _ => self.children.stop(key, why),
        }
        let retired = rules::retire(rec.report.as_ref().map(|r| LastReport {
            eni_id: r.eni_id.as_deref(),
            incarnation: r.incarnation,
        }));
        if let Some(inc) = retired.incarnation {
            self.incarnations.insert(key.clone(), (inc, Instant::now()));
        }
        retired.clean
    }

    /// Takes in a slot's report.
    pub fn reported(&mut self, key: &SlotKey, report: SlotReport) -> Reported {
        match self.records.get_mut(key) {
            Some(rec) if rec.report.as_ref() != Some(&report) => {
                rec.report = Some(report);
                Reported::Changed
            }
            Some(_) => Reported::Same,
            None => Reported::Orphaned(report.eni_id),
        }
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
        let delay = self.children.restart(&exited).delay;
        Some((exited.key, delay))
    }

    /// Starts a failed slot again if it is still desired and down.
    pub async fn restart(
        &mut self,
        myself: &ActorRef<NodeEniMsg>,
        key: &SlotKey,
    ) -> Result<(), ActorProcessingErr> {
        if self.records.contains_key(key) && self.children.down(key) {
            self.spawn(myself, key, None).await?;
        }
        Ok(())
    }

    /// Every slot's line in the status.
    pub fn summaries(
        &self,
        mtu: i32,
        nodes: Option<&BTreeMap<String, NodeView>>,
    ) -> Vec<SlotSummary> {
        self.records
            .iter()
            .map(|(k, rec)| {
                let node = nodes.and_then(|n| n.get(&k.node));
                status::summary(
                    &rec.desired,
                    rec.report.as_ref(),
                    self.children.over_budget(k),
                    mtu,
                    node.map(|n| &n.configured_macs),
                )
            })
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
