//! A NodeENI's re-listing of its ENIs: when it last ran, and what it found per slot
//! until the slots take it (running slots as observations, starting slots as their
//! first knowledge, the rest reaped).

use std::collections::{HashMap, HashSet};

use tokio::time::Instant;

use super::io;
use super::slots::Slots;
use crate::actors::limiter::LimitedEc2;
use crate::aws::ownership::ClusterIdentity;
use crate::aws::ownership::legacy::GoExpectations;
use crate::aws::{Ec2Error, Eni};
use crate::plan::nodeeni::SweptEni;
use crate::plan::slots::SlotKey;

/// The last sweep and what it found that no slot took yet.
#[derive(Default)]
pub struct Sweep {
    last: Option<Instant>,
    /// A listing succeeded at least once (an invalidated one included).
    once: bool,
    found: HashMap<SlotKey, Vec<Eni>>,
    /// Every ENI the last listing showed, by ID.
    listed: HashSet<String>,
}

/// What a sweep lists.
pub struct Listing<'a> {
    /// Rate-limited EC2.
    pub ec2: &'a LimitedEc2,
    /// The owning cluster.
    pub cluster: &'a ClusterIdentity,
    /// The NodeENI's UID.
    pub uid: &'a str,
    /// The NodeENI's name (the Go controller's tag).
    pub name: &'a str,
    /// Look for the Go controller's ENIs too.
    pub with_go: bool,
    /// What the Go controller's ENIs of this NodeENI look like.
    pub go: GoExpectations<'a>,
}

impl Sweep {
    /// When the last sweep finished.
    pub fn last(&self) -> Option<Instant> {
        self.last
    }

    /// Whether a listing ever succeeded: what new slots need before they start, since
    /// an ENI of a key no slot of this actor ran since then can only be one it listed.
    pub fn swept_once(&self) -> bool {
        self.once
    }

    /// Forgets the last sweep, so that the next tick sweeps (something may have been
    /// created or left behind since).
    pub fn invalidate(&mut self) {
        self.last = None;
    }

    /// Lists the ENIs and files them by slot; returns when the listing started (slots
    /// ignore it if they changed something since) and how many ENIs it showed.
    pub async fn run(&mut self, l: Listing<'_>) -> Result<(Instant, usize), Ec2Error> {
        let started = Instant::now();
        let enis = io::list_enis(l.ec2, l.cluster, l.uid, l.name, l.with_go).await?;
        let count = enis.len();
        self.last = Some(Instant::now());
        self.once = true;
        self.found.clear();
        self.listed = enis.iter().map(|e| e.id.clone()).collect();
        for e in enis {
            if let Some(key) = io::slot_key_of(&e, l.cluster, &l.go) {
                self.found.entry(key).or_default().push(e);
            }
        }
        Ok((started, count))
    }

    /// Lists as [`Sweep::run`] does and gives every running slot of `slots` what the
    /// listing found for it, as a fresh observation (nothing, for a slot whose ENI may
    /// have been deleted out of band); how many ENIs it showed, or `None` if listing
    /// failed.
    pub async fn list_for(&mut self, l: Listing<'_>, slots: &Slots) -> Option<usize> {
        let (started, count) = match self.run(l).await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(error = %e, "could not list this NodeENI's ENIs");
                return None;
            }
        };
        let mut found = self.take_claimed(|k| slots.contains(k));
        let found_keys: HashSet<SlotKey> = found.iter().map(|(k, _)| k.clone()).collect();
        for key in slots.keys() {
            if !found_keys.contains(&key) {
                found.push((key, Vec::new()));
            }
        }
        for (key, enis) in found {
            slots.observed(&key, enis, started);
        }
        Some(count)
    }

    /// Every ENI the last listing showed, by ID.
    pub fn listed(&self) -> &HashSet<String> {
        &self.listed
    }

    /// What the last sweep found for `key`, taken.
    pub fn take(&mut self, key: &SlotKey) -> Option<Vec<Eni>> {
        self.found.remove(key)
    }

    /// The keys found by the last sweep that `has` claims, with their ENIs, taken.
    pub fn take_claimed(&mut self, has: impl Fn(&SlotKey) -> bool) -> Vec<(SlotKey, Vec<Eni>)> {
        let keys: Vec<SlotKey> = self.found.keys().filter(|k| has(k)).cloned().collect();
        keys.into_iter()
            .filter_map(|k| self.found.remove(&k).map(|e| (k, e)))
            .collect()
    }

    /// Everything not taken, for reaping.
    pub fn drain(&mut self, cluster: &ClusterIdentity) -> HashMap<SlotKey, Vec<SweptEni>> {
        self.found
            .drain()
            .map(|(k, enis)| {
                let enis = enis
                    .iter()
                    .map(|e| SweptEni {
                        eni_id: e.id.clone(),
                        owned: io::owned(e, cluster),
                    })
                    .collect();
                (k, enis)
            })
            .collect()
    }
}
