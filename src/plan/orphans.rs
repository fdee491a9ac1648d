//! Which owned ENIs are orphans: made by this cluster for a NodeENI that no longer
//! exists, or left `available` for a slot nobody wants any more. Deletion is two-phase:
//! an ENI must be an orphan in two sweeps at least a grace period apart, so an ENI whose
//! NodeENI or node appeared between a snapshot and a describe is never deleted.
//!
//! Tags alone never condemn an ENI: one whose NodeENI is gone is deleted only if that
//! NodeENI's UID is on the ledger, which the controller writes before it creates any ENI
//! for it. An ENI tagged with a UID the controller never recorded (tags forged onto
//! someone else's ENI, or an ENI from before the ledger) is left alone and reported.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

/// An ENI carrying this cluster's ownership tags.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct OwnedEniView {
    pub eni_id: String,
    /// Its NodeENI's UID.
    pub nodeeni_uid: String,
    /// Its NodeENI's name (for reports).
    pub nodeeni_name: String,
    /// Instance it was made for.
    pub instance_id: String,
    pub subnet_id: String,
    /// Not attached.
    pub available: bool,
}

/// Every live NodeENI with its desired (instance, subnet) pairs; `None` when that
/// NodeENI has not settled its plan yet (its ENIs are then left alone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredSnapshot {
    /// NodeENI UID → desired (instance, subnet) pairs.
    pub live: HashMap<String, Option<HashSet<(String, String)>>>,
    /// The UIDs on the ledger: every NodeENI the controller ever created ENIs for, until
    /// the sweep forgets it.
    pub recorded: HashSet<String>,
}

/// What the sweep makes of one ENI carrying this cluster's ownership tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A live NodeENI wants it, or has not settled its plan: left alone.
    Wanted,
    /// Nobody wants it: deleted after the grace.
    Orphan,
    /// Its NodeENI is gone and was never on the ledger: the controller did not create it
    /// (or cannot prove it did), so it is left alone and reported.
    Unrecorded,
}

/// What `eni` is, given `snapshot`.
pub fn verdict(eni: &OwnedEniView, snapshot: &DesiredSnapshot) -> Verdict {
    match snapshot.live.get(&eni.nodeeni_uid) {
        None if snapshot.recorded.contains(&eni.nodeeni_uid) => Verdict::Orphan,
        None => Verdict::Unrecorded,
        Some(None) => Verdict::Wanted,
        Some(Some(desired)) => {
            if eni.available && !desired.contains(&(eni.instance_id.clone(), eni.subnet_id.clone()))
            {
                Verdict::Orphan
            } else {
                Verdict::Wanted
            }
        }
    }
}

/// Whether `eni` belongs to nobody in `snapshot` (and was made by this controller).
pub fn is_orphan(eni: &OwnedEniView, snapshot: &DesiredSnapshot) -> bool {
    verdict(eni, snapshot) == Verdict::Orphan
}

/// The recorded UIDs of gone NodeENIs that no listed ENI carries any more: the ledger
/// may forget them (after the same two sweeps a grace apart as a deletion, so an ENI a
/// listing missed once still finds its UID recorded).
pub fn forgettable(snapshot: &DesiredSnapshot, listed: &[OwnedEniView]) -> Vec<String> {
    let carried: HashSet<&str> = listed.iter().map(|e| e.nodeeni_uid.as_str()).collect();
    let mut out: Vec<String> = snapshot
        .recorded
        .iter()
        .filter(|uid| !snapshot.live.contains_key(*uid) && !carried.contains(uid.as_str()))
        .cloned()
        .collect();
    out.sort();
    out
}

/// Updates the first-seen marks with this sweep's orphans and returns those due for
/// deletion (orphans for at least `grace`). ENIs no longer orphaned lose their mark.
pub fn due_for_deletion(
    first_seen: &mut HashMap<String, Instant>,
    orphans: &[String],
    now: Instant,
    grace: Duration,
) -> Vec<String> {
    let current: HashSet<&String> = orphans.iter().collect();
    first_seen.retain(|id, _| current.contains(id));
    orphans
        .iter()
        .filter(|id| {
            let since = *first_seen.entry((*id).clone()).or_insert(now);
            now.duration_since(since) >= grace && since < now
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(uid: &str, instance: &str, available: bool) -> OwnedEniView {
        OwnedEniView {
            eni_id: format!("eni-{uid}-{instance}"),
            nodeeni_uid: uid.into(),
            nodeeni_name: "n".into(),
            instance_id: instance.into(),
            subnet_id: "subnet-1".into(),
            available,
        }
    }

    #[test]
    fn orphan_rules() {
        let mut snap = DesiredSnapshot::default();
        snap.recorded.insert("gone".into());
        snap.live.insert(
            "u1".into(),
            Some([("i-1".to_string(), "subnet-1".to_string())].into()),
        );
        snap.live.insert("u2".into(), None);
        assert!(
            is_orphan(&view("gone", "i-1", false), &snap),
            "NodeENI deleted: even attached ENIs go"
        );
        assert!(!is_orphan(&view("u1", "i-1", true), &snap), "desired slot");
        assert!(
            is_orphan(&view("u1", "i-2", true), &snap),
            "available, slot not desired"
        );
        assert!(
            !is_orphan(&view("u1", "i-2", false), &snap),
            "attached: its NodeENI tears it down"
        );
        assert!(
            !is_orphan(&view("u2", "i-9", true), &snap),
            "plan not settled: hands off"
        );
    }

    #[test]
    fn an_eni_of_a_nodeeni_never_recorded_is_never_an_orphan() {
        let mut snap = DesiredSnapshot::default();
        snap.recorded.insert("deleted".into());
        snap.live.insert("live".into(), Some(HashSet::new()));
        let table = [
            (view("deleted", "i-1", false), Verdict::Orphan),
            (view("deleted", "i-1", true), Verdict::Orphan),
            (view("made-up", "i-1", false), Verdict::Unrecorded),
            (view("made-up", "i-1", true), Verdict::Unrecorded),
            // A live NodeENI's UID is proof enough: it exists, and only available ENIs
            // it does not want are deleted (its own slots tear down attached ones).
            (view("live", "i-1", true), Verdict::Orphan),
            (view("live", "i-1", false), Verdict::Wanted),
        ];
        for (eni, want) in table {
            assert_eq!(verdict(&eni, &snap), want, "{eni:?}");
        }
    }

    #[test]
    fn the_ledger_forgets_a_gone_nodeeni_only_once_no_eni_carries_it() {
        let mut snap = DesiredSnapshot {
            recorded: ["gone-empty", "gone-left", "live"].map(String::from).into(),
            ..DesiredSnapshot::default()
        };
        snap.live.insert("live".into(), None);
        let listed = [view("gone-left", "i-1", true), view("made-up", "i-1", true)];
        assert_eq!(forgettable(&snap, &listed), vec!["gone-empty".to_string()]);
    }

    #[test]
    fn deletion_needs_two_sweeps_a_grace_apart() {
        let mut marks = HashMap::new();
        let t0 = Instant::now();
        let grace = Duration::from_secs(300);
        let ids = vec!["eni-a".to_string(), "eni-b".to_string()];
        assert!(due_for_deletion(&mut marks, &ids, t0, grace).is_empty());
        assert!(due_for_deletion(&mut marks, &ids, t0 + Duration::from_secs(60), grace).is_empty());
        // eni-b was adopted meanwhile: it loses its mark.
        let due = due_for_deletion(&mut marks, &ids[..1], t0 + grace, grace);
        assert_eq!(due, vec!["eni-a".to_string()]);
        assert!(!marks.contains_key("eni-b"));
        // Zero grace still needs a second sweep.
        let mut m2 = HashMap::new();
        assert!(due_for_deletion(&mut m2, &ids, t0, Duration::ZERO).is_empty());
        assert_eq!(
            due_for_deletion(&mut m2, &ids, t0 + Duration::from_millis(1), Duration::ZERO).len(),
            2
        );
    }
}
