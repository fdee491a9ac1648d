//! Look-ups in a map by names asked in the map's own order (a NodeENI's slots are kept in
//! node order, and a round reads each slot's node): each look-up steps on from the last
//! instead of searching the whole map, a merge of two sorted walks. A name asked out of
//! order, or one the map does not hold, is searched for, so every answer is the map's.

use std::collections::BTreeMap;
use std::collections::btree_map::Iter;
use std::iter::Peekable;

/// A cursor over a map keyed by name (`None`: no map, every answer `None`).
pub struct InOrder<'a, V> {
    map: Option<&'a BTreeMap<String, V>>,
    rest: Option<Peekable<Iter<'a, String, V>>>,
}

impl<'a, V> InOrder<'a, V> {
    /// A cursor at the start of `map`.
    pub fn new(map: Option<&'a BTreeMap<String, V>>) -> Self {
        InOrder {
            map,
            rest: map.map(|m| m.iter().peekable()),
        }
    }

    /// What `map` holds for `name`.
    pub fn get(&mut self, name: &str) -> Option<&'a V> {
        let map = self.map?;
        let rest = self.rest.as_mut()?;
        while rest.next_if(|(k, _)| k.as_str() < name).is_some() {}
        match rest.peek() {
            Some((k, v)) if k.as_str() == name => Some(*v),
            // Not next in order: not in the map, or asked out of order.
            _ => map.get(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_is_the_maps_in_order_or_not() {
        let map: BTreeMap<String, u32> = [("b", 2), ("d", 4), ("f", 6)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        // (names asked in turn, what is answered)
        let cases: [(&[&str], &[Option<u32>]); 6] = [
            (&["b", "d", "f"], &[Some(2), Some(4), Some(6)]),
            // A node with several slots is asked several times.
            (&["b", "b", "d", "d"], &[Some(2), Some(2), Some(4), Some(4)]),
            // Names the map does not hold, between and past its keys.
            (
                &["a", "c", "d", "e", "g"],
                &[None, None, Some(4), None, None],
            ),
            // Out of order: searched for.
            (&["f", "b", "d"], &[Some(6), Some(2), Some(4)]),
            (&["d", "a", "f", "b"], &[Some(4), None, Some(6), Some(2)]),
            (&[], &[]),
        ];
        for (asked, want) in cases {
            let mut cursor = InOrder::new(Some(&map));
            let got: Vec<Option<u32>> = asked.iter().map(|n| cursor.get(n).copied()).collect();
            assert_eq!(got, want, "{asked:?}");
        }
        let mut none: InOrder<'_, u32> = InOrder::new(None);
        assert_eq!(none.get("b"), None);
    }
}
