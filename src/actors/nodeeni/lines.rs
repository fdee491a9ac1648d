//! The status lines of a NodeENI's last round, kept so that a round rebuilds only the
//! lines whose slot changed. A round walks every slot; building every line anew (a dozen
//! strings copied per slot) was the largest part of a large NodeENI's work.

/// What a slot's line is built from: the version of its record (its desired state and
/// last report; versions are never reused, so another slot in the same position never
/// matches) and the rest of [`super::status::summary`]'s inputs.
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

/// The last round's lines, in slot order, with what each was built from.
pub struct Lines<L> {
    inputs: Vec<LineInputs>,
    lines: Vec<L>,
}

impl<L> Default for Lines<L> {
    fn default() -> Self {
        Lines {
            inputs: Vec::new(),
            lines: Vec::new(),
        }
    }
}

impl<L> Lines<L> {
    /// Brings the lines to `slots` (each with its inputs), in order: the line kept at a
    /// position stays when its inputs are the same, otherwise `build` makes it again.
    /// `touched` sees every line that changed: the one replaced or dropped, and the one
    /// built (so that whoever derives something from the lines redoes only their part).
    pub fn refresh<T>(
        &mut self,
        slots: impl Iterator<Item = (LineInputs, T)>,
        mut build: impl FnMut(T) -> L,
        mut touched: impl FnMut(&L),
    ) {
        let mut n = 0;
        for (i, (inputs, slot)) in slots.enumerate() {
            n = i + 1;
            match self.inputs.get(i) {
                Some(kept) if *kept == inputs => {}
                Some(_) => {
                    touched(&self.lines[i]);
                    self.lines[i] = build(slot);
                    touched(&self.lines[i]);
                    self.inputs[i] = inputs;
                }
                None => {
                    self.lines.push(build(slot));
                    if let Some(line) = self.lines.last() {
                        touched(line);
                    }
                    self.inputs.push(inputs);
                }
            }
        }
        for line in self.lines.get(n..).unwrap_or_default() {
            touched(line);
        }
        self.lines.truncate(n);
        self.inputs.truncate(n);
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

    /// One round over `slots` (version, text): the lines, how many were built, and the
    /// lines touched (replaced, dropped or built), sorted.
    fn round(
        book: &mut Lines<String>,
        slots: &[(LineInputs, &str)],
    ) -> (Vec<String>, usize, Vec<String>) {
        let mut built = 0;
        let mut touched = Vec::new();
        book.refresh(
            slots.iter().map(|(i, t)| (*i, *t)),
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
            // A slot removed in the middle: the ones after it moved, and versions are
            // never reused, so they are built again at their new positions.
            (vec![a, c], vec!["a", "c"], 2),
            (vec![a, mtu, c], vec!["a", "b 1500", "c"], 2),
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
            // Dropped in the middle: the line after it moved into its place.
            (vec![b2], vec!["a", "b2", "b2"]),
            (vec![], vec!["b2"]),
        ];
        for (n, (slots, want)) in rounds.into_iter().enumerate() {
            let (_, _, touched) = round(&mut book, &slots);
            assert_eq!(touched, want, "round {n}");
        }
    }
}
