//! Node selection: `nodeSelector` is an exact-match label set, as in the Go controller.

use std::collections::BTreeMap;

/// Whether `labels` carry every `selector` label with the same value. An empty selector
/// matches nothing: the CRD rejects it, and matching every node by accident is costly.
pub fn matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
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
}
