//! Which nodes' ENINode entries a NodeENI writes: those where what it wants listed there
//! differs from what it last wrote or saw there (nothing and an empty list are the same).
//! A node it no longer wants anything on is written once more, empty, which withdraws
//! its entries; but a slot that has not reported yet (a restarted controller learning
//! its slots again) is not known to have nothing: what the node lists for it stays.
//!
//! A round looks only at the nodes that may have changed (their slots' lines, their
//! ENINode, a write that failed, an entry held for a release); every node after a
//! listing of the ENINodes or a change that touches every entry.

use std::collections::{BTreeMap, BTreeSet};

/// The nodes of `among` to write (their entries differ from what was last written or
/// seen), in name order.
pub fn writes_among<T: PartialEq>(
    desired: &BTreeMap<String, Vec<T>>,
    applied: &BTreeMap<String, Vec<T>>,
    among: &BTreeSet<String>,
) -> Vec<String> {
    let empty = Vec::new();
    among
        .iter()
        .filter(|n| desired.get(*n).unwrap_or(&empty) != applied.get(*n).unwrap_or(&empty))
        .cloned()
        .collect()
}

/// The nodes a round looks at: those `stale` names (`None`: every node) and those with
/// an entry held for a release in this round or the last (a release let go changes its
/// node's entries without a line changing).
pub fn scope(
    stale: Option<BTreeSet<String>>,
    releasing_now: &BTreeSet<String>,
    releasing_before: &BTreeSet<String>,
) -> Option<BTreeSet<String>> {
    let mut nodes = stale?;
    nodes.extend(releasing_now.iter().cloned());
    nodes.extend(releasing_before.iter().cloned());
    Some(nodes)
}

/// Carries into `desired` the entries `applied` lists for the `unreported` slots (node,
/// subnet), which say nothing yet: not known is not gone, and withdrawing them would
/// take every node's interfaces away and back at each restart of the controller.
pub fn carry_unreported<T: Clone + Ord>(
    desired: &mut BTreeMap<String, Vec<T>>,
    applied: &BTreeMap<String, Vec<T>>,
    unreported: &[(String, String)],
    subnet_of: impl Fn(&T) -> &str,
) {
    for (node, subnet) in unreported {
        let Some(listed) = applied.get(node) else {
            continue;
        };
        let carried: Vec<T> = listed
            .iter()
            .filter(|e| subnet_of(e) == subnet)
            .cloned()
            .collect();
        if carried.is_empty() {
            continue;
        }
        let entries = desired.entry(node.clone()).or_default();
        for e in carried {
            if !entries.contains(&e) {
                entries.push(e);
            }
        }
        entries.sort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreported_slot_keeps_what_its_node_lists_for_it() {
        type Entries = BTreeMap<String, Vec<(&'static str, u32)>>;
        fn of<'a>(e: &'a (&'static str, u32)) -> &'a str {
            e.0
        }
        let applied: Entries = [
            ("a".to_string(), vec![("s1", 1), ("s2", 2)]),
            ("b".to_string(), vec![("s1", 3)]),
        ]
        .into();
        type Case = (
            &'static str,
            Entries,
            &'static [(&'static str, &'static str)],
            Entries,
        );
        let cases: Vec<Case> = vec![
            (
                "restart: nothing reported yet, everything kept",
                Entries::new(),
                &[("a", "s1"), ("a", "s2"), ("b", "s1")],
                applied.clone(),
            ),
            (
                "one slot of a node reported, the other kept",
                [("a".to_string(), vec![("s1", 9)])].into(),
                &[("a", "s2")],
                [("a".to_string(), vec![("s1", 9), ("s2", 2)])].into(),
            ),
            (
                "a new slot has nothing listed to keep",
                Entries::new(),
                &[("c", "s1")],
                Entries::new(),
            ),
            (
                "every slot reported: nothing carried (b's entry goes)",
                [("a".to_string(), vec![("s1", 1), ("s2", 2)])].into(),
                &[],
                [("a".to_string(), vec![("s1", 1), ("s2", 2)])].into(),
            ),
        ];
        for (what, mut desired, unreported, want) in cases {
            let unreported: Vec<(String, String)> = unreported
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect();
            carry_unreported(&mut desired, &applied, &unreported, of);
            assert_eq!(desired, want, "{what}");
        }
        let mut restarted = Entries::new();
        let all: Vec<(String, String)> = [("a", "s1"), ("a", "s2"), ("b", "s1")]
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
        carry_unreported(&mut restarted, &applied, &all, of);
        let every: BTreeSet<String> = applied.keys().cloned().collect();
        assert!(
            writes_among(&restarted, &applied, &every).is_empty(),
            "a restart writes no node"
        );
    }

    fn map(entries: &[(&str, &[u32])]) -> BTreeMap<String, Vec<u32>> {
        entries
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect()
    }

    #[test]
    fn only_differences_are_written_and_unwanted_nodes_are_emptied() {
        type Case = (
            &'static str,
            BTreeMap<String, Vec<u32>>,
            BTreeMap<String, Vec<u32>>,
            &'static [&'static str],
        );
        let cases: [Case; 6] = [
            ("nothing", map(&[]), map(&[]), &[]),
            ("as written", map(&[("a", &[1])]), map(&[("a", &[1])]), &[]),
            ("new node", map(&[("a", &[1])]), map(&[]), &["a"]),
            (
                "changed",
                map(&[("a", &[1, 2])]),
                map(&[("a", &[1])]),
                &["a"],
            ),
            ("no longer wanted", map(&[]), map(&[("b", &[3])]), &["b"]),
            (
                "empty is nothing",
                map(&[("a", &[])]),
                map(&[("c", &[]), ("d", &[4])]),
                &["d"],
            ),
        ];
        for (what, desired, applied, want) in cases {
            let every: BTreeSet<String> = desired.keys().chain(applied.keys()).cloned().collect();
            assert_eq!(writes_among(&desired, &applied, &every), want, "{what}");
        }
    }

    fn set(nodes: &[&str]) -> BTreeSet<String> {
        nodes.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_scoped_round_writes_only_the_differences_among_its_nodes() {
        let desired = map(&[("a", &[1]), ("b", &[2]), ("c", &[3])]);
        let applied = map(&[("a", &[1]), ("b", &[9]), ("d", &[4])]);
        // (nodes looked at, nodes written)
        let cases: [(&[&str], &[&str]); 5] = [
            (&[], &[]),
            (&["a"], &[]),
            (&["b"], &["b"]),
            (&["a", "c", "d"], &["c", "d"]),
            (&["e"], &[]),
        ];
        for (among, want) in cases {
            assert_eq!(
                writes_among(&desired, &applied, &set(among)),
                want,
                "{among:?}"
            );
        }
    }

    #[test]
    fn a_round_looks_at_stale_nodes_and_releases_or_at_every_node() {
        // (stale, releasing now, releasing before, looked at)
        type Case = (
            Option<&'static [&'static str]>,
            &'static [&'static str],
            &'static [&'static str],
            Option<&'static [&'static str]>,
        );
        let cases: [Case; 5] = [
            (None, &["a"], &["b"], None),
            (Some(&[]), &[], &[], Some(&[])),
            (Some(&["a"]), &[], &[], Some(&["a"])),
            (Some(&["a"]), &["b"], &[], Some(&["a", "b"])),
            (Some(&[]), &["b"], &["c"], Some(&["b", "c"])),
        ];
        for (stale, now, before, want) in cases {
            assert_eq!(
                scope(stale.map(set), &set(now), &set(before)),
                want.map(set),
                "{stale:?} {now:?} {before:?}"
            );
        }
    }
}
