//! Device indices reserved on each instance by the slots placing ENIs there, across
//! every NodeENI: a slot reserves the index it placed its ENI at before creating it, so
//! that slots placing themselves against the same `DescribeInstances` answer neither
//! pick the same index nor together create more ENIs than the card takes.

use std::collections::BTreeMap;
use std::sync::Arc;

use dashmap::DashMap;

/// One instance's reservations: holder → (network card, device index).
pub type Book = BTreeMap<String, (u32, u32)>;

/// Every instance's reservations; cheap to clone, shared.
#[derive(Clone, Default)]
pub struct Reservations(Arc<DashMap<String, Book>>);

impl Reservations {
    /// Runs `f` on `instance`'s book while no other slot can change it (placing and
    /// reserving as one step); an emptied book is dropped.
    pub fn with<T>(&self, instance: &str, f: impl FnOnce(&mut Book) -> T) -> T {
        let out = {
            let mut book = self.0.entry(instance.to_string()).or_default();
            f(&mut book)
        };
        self.0.remove_if(instance, |_, b| b.is_empty());
        out
    }

    /// Drops `holder`'s reservation on `instance`.
    pub fn release(&self, instance: &str, holder: &str) {
        self.with(instance, |b| {
            b.remove(holder);
        });
    }

    /// Drops every reservation whose holder starts with `prefix` (a NodeENI's slots that
    /// died with it without releasing theirs).
    pub fn release_all(&self, prefix: &str) {
        for mut book in self.0.iter_mut() {
            book.retain(|h, _| !h.starts_with(prefix));
        }
        self.0.retain(|_, b| !b.is_empty());
    }

    /// Instances with reservations.
    #[cfg(test)]
    fn instances(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn books_hold_and_release_per_holder_and_vanish_when_empty() {
        let r = Reservations::default();
        r.with("i-1", |b| b.insert("a".into(), (0, 1)));
        r.with("i-1", |b| b.insert("b".into(), (0, 2)));
        let others = r.with("i-1", |b| {
            b.iter()
                .filter(|(h, _)| *h != "a")
                .map(|(_, v)| *v)
                .collect::<Vec<_>>()
        });
        assert_eq!(others, vec![(0, 2)]);
        r.release("i-1", "a");
        r.release("i-1", "b");
        assert_eq!(r.instances(), 0);
        // A NodeENI's slots that died without releasing theirs.
        r.with("i-1", |b| b.insert("uid-1/x".into(), (0, 1)));
        r.with("i-2", |b| b.insert("uid-1/y".into(), (0, 1)));
        r.with("i-2", |b| b.insert("uid-2/z".into(), (0, 2)));
        r.release_all("uid-1/");
        assert_eq!(r.instances(), 1);
    }
}
