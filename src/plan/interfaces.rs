//! Which nodes' ENINode entries a NodeENI writes: those where what it wants listed there
//! differs from what it last wrote or saw there (nothing and an empty list are the same).
//! A node it no longer wants anything on is written once more, empty, which withdraws
//! its entries.

use std::collections::BTreeMap;

/// The nodes to write, in name order.
pub fn writes<T: PartialEq>(
    desired: &BTreeMap<String, Vec<T>>,
    applied: &BTreeMap<String, Vec<T>>,
) -> Vec<String> {
    let empty = Vec::new();
    let mut nodes: Vec<String> = desired
        .keys()
        .chain(applied.keys())
        .filter(|n| desired.get(*n).unwrap_or(&empty) != applied.get(*n).unwrap_or(&empty))
        .cloned()
        .collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(writes(&desired, &applied), want, "{what}");
        }
    }
}
