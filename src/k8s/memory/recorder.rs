//! kube-runtime's Event recorder as the in-memory cluster models it: repeats of one Event
//! within the recorder's cache lifetime are counted in that Event's series, not stored as
//! new Event objects.

use std::collections::HashMap;

use tokio::time::Instant;

use crate::k8s::cluster::{About, Notice};
use crate::k8s::writes::WriteTally;

/// What makes two Events one (kube-runtime's recorder): the object, type, reason,
/// action and related object, but not the note.
type EventKey = (String, bool, String, String, Option<About>);

/// How long the recorder remembers an Event to count repeats in its series.
const SERIES_TTL: std::time::Duration = std::time::Duration::from_secs(6 * 60);

/// Every Event object recorded, and the recorder's cache.
#[derive(Default)]
pub struct EventLog {
    /// Every Event object: NodeENI name, the notice, how many times it was recorded.
    pub events: Vec<(String, Notice, u32)>,
    /// An Event's key → its place in `events`, last recorded.
    series: HashMap<EventKey, (usize, Instant)>,
}

impl EventLog {
    /// Records `notice` on NodeENI `nodeeni` at `now`: a new Event object, or a repeat
    /// in the series of one recorded less than [`SERIES_TTL`] ago; counted in `tally`.
    pub fn record(&mut self, nodeeni: &str, notice: Notice, now: Instant, tally: &mut WriteTally) {
        tally.events += 1;
        let key: EventKey = (
            nodeeni.to_string(),
            notice.warning,
            notice.reason.clone(),
            notice.action.clone(),
            notice.about.clone(),
        );
        match self.series.get(&key).copied() {
            Some((at, seen)) if now.duration_since(seen) < SERIES_TTL => {
                self.events[at].2 += 1;
                self.series.insert(key, (at, now));
            }
            _ => {
                tally.event_objects += 1;
                let at = self.events.len();
                self.events.push((nodeeni.to_string(), notice, 1));
                self.series.insert(key, (at, now));
            }
        }
    }
}
