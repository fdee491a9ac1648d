//! Whether a node is ready for the pods that need its ENIs, and what to write on the
//! Node to say so: the `networking.k8s.aws/ENIsReady` condition and the removal of the
//! startup taint.
//!
//! Each NodeENI that selects a node says what it knows of that node's ENIs ([`Part`],
//! from [`part`]); the node's [`verdict`] joins the parts of every NodeENI selecting it
//! (a NodeENI that has said nothing yet holds it back); [`decide`] compares the verdict
//! with what the Node shows and says what to write. The taint is only ever removed: a
//! node that was ready once and loses an ENI shows it in the condition, and keeps its
//! pods.

use std::time::Duration;

/// The node's condition, as written or to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `True` or `False`.
    pub ready: bool,
    /// CamelCase reason.
    pub reason: String,
    /// What holds the node back, or what is ready.
    pub message: String,
}

/// What one NodeENI says of one node's ENIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// All its ENIs on the node are attached and the agent reports them configured.
    Ready {
        /// How many.
        interfaces: u32,
    },
    /// On its way: how many of the ENIs it wants there are ready (attached and
    /// configured); `wanted` 0 while they are not planned yet. Said in words that change
    /// only when an ENI gets ready, so a node that waits long is written once.
    Pending {
        /// ENIs attached and configured.
        ready: u32,
        /// ENIs it wants on the node (0: not planned yet).
        wanted: u32,
        /// Every ENI is attached and only the node agent's report is missing: the ENI
        /// it has not reported up (an agent that is not running never will).
        agent_silent: Option<String>,
    },
    /// It cannot progress without a change (reason, message).
    Blocked(String, String),
}

/// One slot of a node, as readiness needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    /// Its subnet.
    pub subnet: String,
    /// Its ENI, once known.
    pub eni: Option<String>,
    /// Attached at a device index, with the attributes the spec asks.
    pub attached: bool,
    /// What the node's agent reports for its interface.
    pub configured: Option<bool>,
    /// Why it cannot progress, if it cannot (reason, message).
    pub blocked: Option<(String, String)>,
}

/// What a NodeENI knows of one node it selects.
#[derive(Debug, Clone, Default)]
pub struct NodeFacts<'a> {
    /// Problems with the NodeENI as a whole (reason, message): no node gets an ENI.
    pub problems: &'a [(String, String)],
    /// Whether its spec is resolved and its nodes known.
    pub settled: bool,
    /// The node's slots.
    pub slots: Vec<SlotState>,
    /// Why subnets give the node no slot (reason, message).
    pub skips: Vec<(String, String)>,
    /// Whether the node waits for its instance to be read before it is planned.
    pub unread: bool,
}

/// What a NodeENI says of one node it selects, from what it knows.
pub fn part(facts: &NodeFacts<'_>) -> Part {
    let not_planned = Part::Pending {
        ready: 0,
        wanted: 0,
        agent_silent: None,
    };
    if let Some((reason, message)) = facts.problems.first() {
        return Part::Blocked(reason.clone(), message.clone());
    }
    if !facts.settled || facts.unread {
        return not_planned;
    }
    if let Some(s) = facts.slots.iter().find(|s| s.blocked.is_some()) {
        let (reason, message) = s.blocked.clone().unwrap_or_default();
        return Part::Blocked(reason, format!("subnet {}: {message}", s.subnet));
    }
    if facts.slots.is_empty() {
        return match facts.skips.first() {
            Some((reason, message)) => Part::Blocked(reason.clone(), message.clone()),
            None => not_planned,
        };
    }
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let wanted = count(facts.slots.len());
    let ready = count(
        facts
            .slots
            .iter()
            .filter(|s| s.attached && s.configured == Some(true))
            .count(),
    );
    if ready == wanted {
        return Part::Ready { interfaces: wanted };
    }
    let all_attached = facts.slots.iter().all(|s| s.attached);
    let agent_silent = facts
        .slots
        .iter()
        .find(|s| all_attached && s.configured != Some(true))
        .map(|s| {
            s.eni
                .clone()
                .unwrap_or_else(|| format!("the ENI in {}", s.subnet))
        });
    Part::Pending {
        ready,
        wanted,
        agent_silent,
    }
}

/// The reason of a condition that waits.
pub const PENDING: &str = "ENIsPending";
/// The reason of a ready condition.
pub const CONFIGURED: &str = "ENIsConfigured";
/// The reason of a node no NodeENI selects (any more).
pub const NOT_SELECTED: &str = "NoNodeENISelects";

/// A node's condition from what each NodeENI selecting it says (`None`: said nothing
/// yet), sorted by NodeENI name; `None` when no NodeENI selects it. A blocked part
/// wins over a pending one, so the reason says what needs a change.
pub fn verdict(parts: &[(&str, Option<&Part>)]) -> Option<Condition> {
    if parts.is_empty() {
        return None;
    }
    let mut interfaces = 0u32;
    let mut pending = None;
    for (nodeeni, part) in parts {
        match part {
            Some(Part::Blocked(reason, message)) => {
                return Some(Condition {
                    ready: false,
                    reason: reason.clone(),
                    message: format!("NodeENI {nodeeni}: {message}"),
                });
            }
            Some(Part::Ready { interfaces: n }) => interfaces = interfaces.saturating_add(*n),
            Some(Part::Pending {
                ready, wanted: 0, ..
            }) if *ready == 0 => {
                pending.get_or_insert_with(|| {
                    format!("NodeENI {nodeeni}: its ENIs are not planned yet")
                });
            }
            Some(Part::Pending { ready, wanted, .. }) => {
                pending.get_or_insert_with(|| {
                    format!("NodeENI {nodeeni}: {ready} of {wanted} ENI(s) attached and configured")
                });
            }
            None => {
                pending.get_or_insert_with(|| {
                    format!("NodeENI {nodeeni}: its ENIs are not planned yet")
                });
            }
        }
    }
    Some(match pending {
        Some(message) => Condition {
            ready: false,
            reason: PENDING.into(),
            message,
        },
        None => Condition {
            ready: true,
            reason: CONFIGURED.into(),
            message: format!(
                "{interfaces} ENI(s) of NodeENI {} attached and configured",
                parts.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ),
        },
    })
}

/// When every ENI a node waits for is attached and only the node agent's report is
/// missing, what to say (an agent that is not running on the node never reports: worth
/// a Warning Event once the node's quiet time is over, unlike ENIs still on their way,
/// which EC2's pacing may hold up for long at scale).
pub fn agent_silent(parts: &[(&str, Option<&Part>)]) -> Option<String> {
    let mut silent = None;
    for (nodeeni, part) in parts {
        match part {
            Some(Part::Ready { .. }) => {}
            Some(Part::Pending {
                agent_silent: Some(eni),
                ..
            }) => {
                silent.get_or_insert_with(|| {
                    format!("NodeENI {nodeeni}: every ENI is attached, but the node agent has not reported {eni} up (is it running on the node?)")
                });
            }
            _ => return None,
        }
    }
    silent
}

/// What to do about a node whose agent has not reported its attached ENIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    /// Say it in one Warning Event now.
    Warn,
    /// Look again after this long.
    CheckIn(Duration),
    /// Already said.
    Said,
}

/// Whether an agent silent for `silent_for` (counted from the moment every ENI of the
/// node was attached, not from the node's birth: a node whose ENIs arrive late, behind
/// EC2's pacing, gives its agent the same time) deserves its Warning after `quiet_for`.
pub fn silence(silent_for: Duration, quiet_for: Duration, warned: bool) -> Silence {
    if warned {
        Silence::Said
    } else if silent_for >= quiet_for {
        Silence::Warn
    } else {
        Silence::CheckIn(quiet_for - silent_for)
    }
}

/// What the Node shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Marks<'a> {
    /// Whether it carries the startup taint.
    pub tainted: bool,
    /// Its `ENIsReady` condition.
    pub condition: Option<&'a Condition>,
    /// How long ago it was created.
    pub age: Duration,
    /// Some NodeENI selecting it has said nothing of it yet (a restarted controller
    /// before its first round, a new NodeENI before its first).
    pub unspoken: bool,
}

/// What the controller may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writing {
    /// Remove this startup taint (`false`: never touch taints).
    pub taint: bool,
    /// Write the condition.
    pub condition: bool,
    /// How long a new node may wait before a `False` condition shows why (a healthy
    /// node gets its ENIs sooner, and its only writes are the `True` condition and the
    /// taint's removal).
    pub quiet_for: Duration,
}

/// What to write on one Node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeWrite {
    /// The condition to write, when it differs from the Node's.
    pub condition: Option<Condition>,
    /// Remove the startup taint.
    pub remove_taint: bool,
    /// The node is blocked: say so in a Warning Event too (once per new reason).
    pub warn: bool,
}

/// What to write on a Node showing `marks`, for its `verdict`.
pub fn decide(marks: Marks<'_>, verdict: Option<Condition>, writing: Writing) -> NodeWrite {
    let ready = verdict.as_ref().is_none_or(|v| v.ready);
    let remove_taint = writing.taint && marks.tainted && ready;
    let wanted = match verdict {
        // Nothing selects it: a condition it carries says so; none is added.
        None => marks.condition.map(|_| Condition {
            ready: true,
            reason: NOT_SELECTED.into(),
            message: "no NodeENI selects this node".into(),
        }),
        Some(v) if v.ready => Some(v),
        // A condition shown, and a NodeENI that has not spoken yet: kept until it
        // speaks, so that no restart flips a node's condition and back.
        Some(_) if marks.unspoken && marks.condition.is_some() => None,
        // Held back: shown at once if the node was told something already or is
        // blocked; a new node waiting normally stays quiet for a while.
        Some(v) => {
            let shown =
                marks.condition.is_some() || v.reason != PENDING || marks.age >= writing.quiet_for;
            shown.then_some(v)
        }
    };
    let condition = wanted.filter(|w| writing.condition && marks.condition != Some(w));
    // Only a node that needs a change is worth a Warning here (one whose agent is
    // silent is the caller's, with [`agent_silent`]).
    let warn = condition.as_ref().is_some_and(|c| {
        !c.ready
            && c.reason != PENDING
            && marks
                .condition
                .is_none_or(|old| old.reason != c.reason || old.ready)
    });
    NodeWrite {
        condition,
        remove_taint,
        warn,
    }
}

#[cfg(test)]
mod tests;
