//! What `simulate` reads from the simulator's call log: when each slot's first create
//! reached EC2, and the log itself written out (`--call-log`).

use std::time::Duration;

use super::world::SimWorld;
use crate::aws::Ec2Action;

/// For each slot, milliseconds from `offset` (since the simulator started) to its first
/// create call reaching EC2 after it.
pub fn first_creates_after(w: &SimWorld, offset: Duration) -> Vec<f64> {
    let mut seen = std::collections::HashSet::new();
    w.sim
        .calls()
        .into_iter()
        .filter(|c| c.action == Ec2Action::CreateNetworkInterface && c.at >= offset)
        .filter(|c| seen.insert(c.target.clone()))
        .map(|c| (c.at - offset).as_secs_f64() * 1000.0)
        .collect()
}

/// Every call the simulator answered, one JSON object per line.
pub fn write_call_log(w: &SimWorld, path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for c in w.sim.calls() {
        let line = serde_json::json!({
            "at": c.at.as_secs_f64(),
            "action": c.action.as_str(),
            "outcome": c.outcome,
            "target": c.target,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}
