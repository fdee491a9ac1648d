//! Node selection: `nodeSelector` is an exact-match label set, as in the Go controller.

use std::collections::{BTreeMap, BTreeSet};

/// Whether `labels` carry every `selector` label with the same value. An empty selector
/// matches nothing: the CRD rejects it, and matching every node by accident is costly.
pub fn matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
}

/// The label keys `selectors` name: the only labels of a node that planning reads (its
/// zone is read from the provider ID or the zone label before labels are dropped).
pub fn named_keys<'a>(
    selectors: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
) -> BTreeSet<String> {
    selectors
        .into_iter()
        .flat_map(|s| s.keys().cloned())
        .collect()
}

/// Drops from `labels` every label whose key is not in `keys`: what [`matches`] answers
/// for a selector naming only keys of `keys` stays the same.
pub fn keep_named(labels: &mut BTreeMap<String, String>, keys: &BTreeSet<String>) {
    labels.retain(|k, _| keys.contains(k));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn exact_label_matching() {
        let labels = map(&[("ng", "multi-eni"), ("zone", "a")]);
        assert!(matches(&map(&[("ng", "multi-eni")]), &labels));
        assert!(matches(
            &map(&[("ng", "multi-eni"), ("zone", "a")]),
            &labels
        ));
        assert!(!matches(
            &map(&[("ng", "multi-eni"), ("zone", "b")]),
            &labels
        ));
        assert!(!matches(&map(&[("ng", "other")]), &labels));
        assert!(!matches(&map(&[("missing", "x")]), &labels));
        assert!(
            !matches(&map(&[]), &labels),
            "empty selector matches nothing"
        );
    }

    #[test]
    fn a_node_keeps_only_the_labels_some_selector_names_and_matches_the_same() {
        let selectors = [
            map(&[("ng", "multi-eni")]),
            map(&[("ng", "dpdk"), ("tier", "edge")]),
            map(&[("role", "fw")]),
        ];
        let keys = named_keys(&selectors);
        assert_eq!(
            keys.iter().map(String::as_str).collect::<Vec<_>>(),
            ["ng", "role", "tier"]
        );
        for labels in [
            map(&[
                ("ng", "multi-eni"),
                ("kubernetes.io/hostname", "ip-10-0-0-1"),
            ]),
            map(&[("ng", "dpdk"), ("tier", "edge"), ("arch", "arm64")]),
            map(&[("ng", "dpdk"), ("role", "fw")]),
            map(&[("zone", "a")]),
        ] {
            let mut kept = labels.clone();
            keep_named(&mut kept, &keys);
            assert!(kept.keys().all(|k| keys.contains(k)), "{kept:?}");
            for sel in &selectors {
                assert_eq!(
                    matches(sel, &kept),
                    matches(sel, &labels),
                    "{sel:?} on {labels:?}"
                );
            }
        }
        assert!(named_keys(&[]).is_empty());
    }
}
