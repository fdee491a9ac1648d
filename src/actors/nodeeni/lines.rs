//! The status lines of a NodeENI's last round, kept so that a round rebuilds only the
//! lines whose slot changed. A round walks every slot; building every line anew (a dozen
//! strings copied per slot) was the largest part of a large NodeENI's work. Lines are
//! kept by slot key: when lines were kept by position, one slot gone in the middle made
//! every line after it be built again, and their nodes' ENINode entries looked at again.

/// What a slot's line is built from: the version of its record (its desired state and
/// last report; versions are never reused, so a slot that went and came back under the
/// same key never matches its old line) and the rest of [`super::status::summary`]'s
/// inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInputs {
    /// The record's version.
    pub version: u64,
    /// Whether the slot's actor keeps failing.
    pub failing: bool,
    /// The NodeENI's MTU.
    pub mtu: i32,
    /// What the node's agent reports of the slot's interface.
    pub configured: Option<bool>,
}

/// The last round's lines, in slot order, each with its slot's key and what it was built
/// from.
pub struct Lines<K, L> {
    keys: Vec<K>,
    inputs: Vec<LineInputs>,
    lines: Vec<L>,
}

impl<K, L> Default for Lines<K, L> {
    fn default() -> Self {
        Lines {
            keys: Vec::new(),
            inputs: Vec::new(),
            lines: Vec::new(),
        }
    }
}

impl<K: Ord + Clone, L> Lines<K, L> {
    /// Brings the lines to `slots` (each with its key and inputs, in key order): a slot's
    /// kept line stays when its inputs are the same, otherwise `build` makes it again.
    /// Lines are matched by key, so a slot coming or going costs its own line only, not
    /// the lines after it. `touched` sees every line that changed: the one replaced or
    /// dropped, and the one built (so that whoever derives something from the lines
    /// redoes only their part).
    pub fn refresh<'k, T>(
        &mut self,
        slots: impl Iterator<Item = (&'k K, LineInputs, T)>,
        mut build: impl FnMut(T) -> L,
        mut touched: impl FnMut(&L),
    ) where
        K: 'k,
    {
        let mut slots = slots.peekable();
        // In place while the slots are the kept ones, in the same order (most rounds).
        let mut i = 0;
        while i < self.keys.len() {
            let Some((_, inputs, slot)) = slots.next_if(|(k, ..)| **k == self.keys[i]) else {
                break;
            };
            if self.inputs[i] != inputs {
                touched(&self.lines[i]);
                self.lines[i] = build(slot);
                touched(&self.lines[i]);
                self.inputs[i] = inputs;
            }
            i += 1;
        }
        // From the first slot that came or went on, the rest is merged by key.
        let mut kept = self
            .keys
            .split_off(i)
            .into_iter()
            .zip(self.inputs.split_off(i))
            .zip(self.lines.split_off(i))
            .peekable();
        for (key, inputs, slot) in slots {
            while let Some((_, gone)) = kept.next_if(|((k, _), _)| k < key) {
                touched(&gone);
            }
            let (key, line) = match kept.next_if(|((k, _), _)| k == key) {
                Some(((k, was), line)) if was == inputs => (k, line),
                Some(((k, _), old)) => {
                    touched(&old);
                    let line = build(slot);
                    touched(&line);
                    (k, line)
                }
                None => {
                    let line = build(slot);
                    touched(&line);
                    (key.clone(), line)
                }
            };
            self.keys.push(key);
            self.inputs.push(inputs);
            self.lines.push(line);
        }
        for (_, gone) in kept {
            touched(&gone);
        }
    }

    /// The lines as last refreshed.
    pub fn lines(&self) -> &[L] {
        &self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(version: u64) -> LineInputs {
        LineInputs {
            version,
            failing: false,
            mtu: 9001,
            configured: None,
        }
    }

    /// A table row: the slots of a round, the lines touched.
    type Touches<'a> = (Vec<(LineInputs, &'a str)>, Vec<&'a str>);

    /// A table row: the slots of a round, the lines expected, how many are built.
    type Round<'a> = (Vec<(LineInputs, &'a str)>, Vec<&'a str>, usize);

    /// One round over `slots` (inputs, text; a slot's key is its text's first letter):
    /// the lines, how many were built, and the lines touched (replaced, dropped or built),
    /// sorted.
    fn round(
        book: &mut Lines<String, String>,
        slots: &[(LineInputs, &str)],
    ) -> (Vec<String>, usize, Vec<String>) {
        let keys: Vec<String> = slots.iter().map(|(_, t)| t[..1].to_string()).collect();
        let mut built = 0;
        let mut touched = Vec::new();
        book.refresh(
            slots.iter().zip(&keys).map(|((i, t), k)| (k, *i, *t)),
            |t| {
                built += 1;
                t.to_string()
            },
            |l| touched.push(l.clone()),
        );
        touched.sort();
        (book.lines().to_vec(), built, touched)
    }

    #[test]
    fn a_round_rebuilds_only_the_lines_whose_inputs_changed() {
        let mut book = Lines::default();
        let a = (inputs(1), "a");
        let b = (inputs(2), "b");
        let c = (inputs(3), "c");
        let b2 = (inputs(4), "b2");
        let failing = (
            LineInputs {
                failing: true,
                ..inputs(1)
            },
            "a failing",
        );
        let configured = (
            LineInputs {
                configured: Some(true),
                ..inputs(3)
            },
            "c configured",
        );
        let mtu = (
            LineInputs {
                mtu: 1500,
                ..inputs(2)
            },
            "b 1500",
        );
        // (slots this round, lines expected, lines built)
        let rounds: Vec<Round> = vec![
            (vec![a, b, c], vec!["a", "b", "c"], 3),
            (vec![a, b, c], vec!["a", "b", "c"], 0),
            (vec![a, b2, c], vec!["a", "b2", "c"], 1),
            (
                vec![failing, b2, configured],
                vec!["a failing", "b2", "c configured"],
                2,
            ),
            // A slot gone in the middle costs no other line.
            (
                vec![failing, configured],
                vec!["a failing", "c configured"],
                0,
            ),
            (vec![a, c], vec!["a", "c"], 2),
            // Nor does one come in the middle.
            (vec![a, mtu, c], vec!["a", "b 1500", "c"], 1),
            (vec![a], vec!["a"], 0),
            (vec![], vec![], 0),
        ];
        for (n, (slots, expected, built)) in rounds.into_iter().enumerate() {
            let (lines, made, _) = round(&mut book, &slots);
            assert_eq!(lines, expected, "round {n}");
            assert_eq!(made, built, "round {n}: lines built");
        }
    }

    #[test]
    fn every_line_built_replaced_or_dropped_is_touched_and_no_other() {
        let mut book = Lines::default();
        let a = (inputs(1), "a");
        let b = (inputs(2), "b");
        let c = (inputs(3), "c");
        let b2 = (inputs(4), "b2");
        // (slots this round, lines touched)
        let rounds: Vec<Touches> = vec![
            (vec![a, b, c], vec!["a", "b", "c"]),
            (vec![a, b, c], vec![]),
            // Replaced: the old line and the new one.
            (vec![a, b2, c], vec!["b", "b2"]),
            // Dropped at the end.
            (vec![a, b2], vec!["c"]),
            // Dropped in the middle: that line only.
            (vec![b2], vec!["a"]),
            (vec![], vec!["b2"]),
            (vec![a, c], vec!["a", "c"]),
            // Come in the middle: that line only.
            (vec![a, b, c], vec!["b"]),
        ];
        for (n, (slots, want)) in rounds.into_iter().enumerate() {
            let (_, _, touched) = round(&mut book, &slots);
            assert_eq!(touched, want, "round {n}");
        }
    }

    #[test]
    fn random_rounds_keep_exactly_the_lines_a_rebuild_would_make() {
        use std::collections::BTreeMap;
        let mut dice = crate::plan::fixtures::Dice(0x2545_f491_4f6c_dd1d);
        let mut roll = |n: u64| dice.roll(n);
        let mut book: Lines<String, String> = Lines::default();
        let mut before: BTreeMap<String, u64> = BTreeMap::new();
        for step in 0..500 {
            // Each of 8 keys is present or not; present ones keep their version or not.
            let mut now: BTreeMap<String, u64> = BTreeMap::new();
            for k in 0..8 {
                if roll(4) == 0 {
                    continue;
                }
                let key = format!("{k}");
                let version = match before.get(&key) {
                    Some(v) if roll(3) != 0 => *v,
                    _ => roll(1_000),
                };
                now.insert(key, version);
            }
            let text = |k: &String, v: &u64| format!("{k}@{v}");
            let mut built = 0;
            let mut touched = Vec::new();
            book.refresh(
                now.iter().map(|(k, v)| (k, inputs(*v), text(k, v))),
                |t| {
                    built += 1;
                    t
                },
                |l| touched.push(l.clone()),
            );
            let want: Vec<String> = now.iter().map(|(k, v)| text(k, v)).collect();
            assert_eq!(book.lines(), want.as_slice(), "step {step}");
            let old: Vec<String> = before.iter().map(|(k, v)| text(k, v)).collect();
            let mut changed: Vec<String> = old
                .iter()
                .filter(|l| !want.contains(l))
                .chain(want.iter().filter(|l| !old.contains(l)))
                .cloned()
                .collect();
            changed.sort();
            touched.sort();
            assert_eq!(touched, changed, "step {step}: touched");
            assert_eq!(
                built,
                want.iter().filter(|l| !old.contains(l)).count(),
                "step {step}: built"
            );
            before = now;
        }
    }
}
