//! Whether a DPDK ENI held before its teardown may go: its node's agent is asked to
//! return the device to its kernel driver first (the ENINode entry says `release`), so
//! that no device is pulled from under a running DPDK process; the wait is bounded.

use std::time::Duration;

/// How long a DPDK ENI waits for its agent's release before it is detached anyway,
/// from the agent's first report of the ask.
pub const RELEASE_WAIT: Duration = Duration::from_secs(60);

/// How long the ask itself may take to reach the node's ENINode (a restarted
/// controller's status rounds are held up to 5 minutes) before the wait is counted
/// from the hold.
pub const ASK_GRACE: Duration = Duration::from_secs(300);

/// What the node's agent says of the ENI's device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentSays {
    /// Whether the node is still known (a Node gone takes its agent with it).
    pub node_known: bool,
    /// Whether it reports the device bound to its userspace driver.
    pub bound: bool,
    /// Whether it reports the device released.
    pub released: bool,
}

/// The next step of a held ENI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Keep waiting for the agent.
    Wait,
    /// Tear it down: the device is back on its kernel driver.
    Released,
    /// Tear it down: its device was never bound (or no agent reports it), nothing to
    /// release.
    NotBound,
    /// Tear it down: the Node is gone, and its agent with it.
    NodeGone,
    /// Tear it down, and say so: the agent did not release it within [`RELEASE_WAIT`].
    TimedOut,
}

/// The step for an ENI held `waited` so far; `first` on the first report of the agent
/// that answers the ask (before that, nothing is known of the device).
pub fn release(first: bool, agent: AgentSays, waited: Duration, limit: Duration) -> Release {
    if !agent.node_known {
        return Release::NodeGone;
    }
    if agent.released {
        return Release::Released;
    }
    if first && !agent.bound {
        return Release::NotBound;
    }
    if waited >= limit {
        return Release::TimedOut;
    }
    Release::Wait
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases() {
        let says = |node_known, bound, released| AgentSays {
            node_known,
            bound,
            released,
        };
        let s = Duration::from_secs;
        let cases = [
            (
                "bound: wait",
                true,
                says(true, true, false),
                s(0),
                Release::Wait,
            ),
            (
                "still bound",
                false,
                says(true, true, false),
                s(30),
                Release::Wait,
            ),
            (
                "released",
                false,
                says(true, false, true),
                s(5),
                Release::Released,
            ),
            (
                "released at once",
                true,
                says(true, false, true),
                s(0),
                Release::Released,
            ),
            (
                "never bound",
                true,
                says(true, false, false),
                s(0),
                Release::NotBound,
            ),
            (
                "the node is gone",
                false,
                says(false, true, false),
                s(5),
                Release::NodeGone,
            ),
            (
                "too long",
                false,
                says(true, true, false),
                s(60),
                Release::TimedOut,
            ),
            (
                "not bound later: a failed release, wait",
                false,
                says(true, false, false),
                s(30),
                Release::Wait,
            ),
        ];
        for (name, first, agent, waited, expected) in cases {
            assert_eq!(
                release(first, agent, waited, RELEASE_WAIT),
                expected,
                "{name}"
            );
        }
    }
}
