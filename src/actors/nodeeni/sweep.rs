//! A NodeENI's re-listing of its ENIs: when it last ran (or why it failed), and what it
//! found per place until the slots take it (running slots as observations, starting
//! slots as their first knowledge, the rest reaped); ENIs that claim the NodeENI but
//! lost some of their ownership tags are set apart, to be reported.

use std::collections::{BTreeSet, HashMap, HashSet};

use tokio::time::Instant;

use super::io::{self, Listed};
use super::slots::Slots;
use crate::actors::limiter::LimitedEc2;
use crate::aws::ownership::ClusterIdentity;
use crate::aws::ownership::legacy::GoExpectations;
use crate::aws::{Ec2Error, Eni};
use crate::plan::nodeeni::{SweptEni, starting_knowledge};
use crate::plan::slots::Place;

/// The last sweep and what it found that no slot took yet.
#[derive(Default)]
pub struct Sweep {
    last: Option<Instant>,
    /// A listing succeeded at least once (an invalidated one included).
    once: bool,
    found: HashMap<Place, Vec<Eni>>,
    /// Places whose findings went to a slot since the last listing.
    taken: HashSet<Place>,
    /// Every ENI the last listing showed, by ID.
    listed: HashSet<String>,
    /// The ENIs the last listing showed that claim the NodeENI but are not its.
    unmanaged: BTreeSet<String>,
    /// Listings failed in a row, and the last failure.
    failures: u32,
    failure: Option<Ec2Error>,
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
    /// an ENI of a place no slot of this actor ran since then can only be one it listed.
    pub fn swept_once(&self) -> bool {
        self.once
    }

    /// Forgets the last sweep, so that the next tick sweeps (something may have been
    /// created or left behind since).
    pub fn invalidate(&mut self) {
        self.last = None;
    }

    /// Why the last listing failed, if it did.
    pub fn failure(&self) -> Option<&Ec2Error> {
        self.failure.as_ref()
    }

    /// How long to wait before listing again after failed listings: a second doubling
    /// to half a minute.
    pub fn retry_in(&self) -> std::time::Duration {
        crate::supervision::retry_delay(
            self.failures,
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(30),
            rand::random::<f64>(),
        )
    }

    /// Lists the ENIs and files them by place; returns when the listing started (slots
    /// ignore it if they changed something since) and how many of the NodeENI's own
    /// ENIs it showed.
    pub async fn run(&mut self, l: Listing<'_>) -> Result<(Instant, usize), Ec2Error> {
        let started = Instant::now();
        let enis = match io::list_enis(l.ec2, l.cluster, l.uid, l.name, l.with_go).await {
            Ok(enis) => enis,
            Err(e) => {
                self.failures += 1;
                self.failure = Some(e.clone());
                return Err(e);
            }
        };
        self.failures = 0;
        self.failure = None;
        self.last = Some(Instant::now());
        self.once = true;
        self.found.clear();
        self.taken.clear();
        self.unmanaged.clear();
        self.listed = enis.iter().map(|e| e.id.clone()).collect();
        let mut count = 0;
        for e in enis {
            match io::listed(&e, l.cluster, l.uid, &l.go) {
                Some(Listed::Managed(place)) => {
                    count += 1;
                    self.found.entry(place).or_default().push(e);
                }
                Some(Listed::Unmanaged) => {
                    self.unmanaged.insert(e.id);
                }
                None => {}
            }
        }
        Ok((started, count))
    }

    /// Lists as [`Sweep::run`] does and gives every running slot of `slots` what the
    /// listing found at its place, as a fresh observation (nothing, for a slot whose ENI
    /// may have been deleted out of band); how many of the NodeENI's own ENIs it showed,
    /// or `None` if listing failed.
    pub async fn list_for(&mut self, l: Listing<'_>, slots: &Slots) -> Option<usize> {
        let (started, count) = match self.run(l).await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(error = %e, "could not list this NodeENI's ENIs");
                return None;
            }
        };
        for (place, key) in slots.running_places() {
            let enis = self.found.remove(&place).unwrap_or_default();
            self.taken.insert(place);
            slots.observed(&key, enis, started);
        }
        Some(count)
    }

    /// Every ENI the last listing showed, by ID.
    pub fn listed(&self) -> &HashSet<String> {
        &self.listed
    }

    /// The ENIs the last listing showed that claim the NodeENI but are not its.
    pub fn unmanaged(&self) -> &BTreeSet<String> {
        &self.unmanaged
    }

    /// What a slot starting at `place` knows of its ENIs
    /// ([`crate::plan::nodeeni::starting_knowledge`]); the findings are taken.
    pub fn knowledge(&mut self, place: &Place) -> Option<Vec<Eni>> {
        let found = self.found.remove(place);
        let ran_since = !self.taken.insert(place.clone());
        starting_knowledge(found, ran_since)
    }

    /// Everything not taken, for reaping.
    pub fn drain(&mut self, cluster: &ClusterIdentity, uid: &str) -> HashMap<Place, Vec<SweptEni>> {
        self.found
            .drain()
            .map(|(p, enis)| {
                let enis = enis
                    .iter()
                    .map(|e| SweptEni {
                        eni_id: e.id.clone(),
                        owned: io::owned(e, cluster, uid),
                    })
                    .collect();
                (p, enis)
            })
            .collect()
    }
}
