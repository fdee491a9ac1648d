//! The messages of the agent's actors (a leaf: the actors import it, not each other).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::stream::BoxStream;
use ractor::ActorRef;

use crate::agent::desired::{DesiredLink, LinkState};
use crate::agent::links::{LinkError, LinkEvent, Links};
use crate::k8s::{Change, ENINode};

/// Messages of the reconciler.
pub enum ReconcilerMsg {
    /// This node's desired interfaces, complete.
    Desired(BTreeMap<String, DesiredLink>),
    /// Every link, from a fresh dump, and the netlink actor to ask for changes.
    Links(Vec<LinkState>, ActorRef<NetlinkMsg>),
    /// One link changed or went away.
    Link(LinkEvent),
    /// A change on the link with this MAC failed.
    Failed(String, String),
    /// Retry writing the report.
    Report,
    /// A failed link change's backoff is over.
    Retry,
    /// A failed device change's backoff is over.
    DevicesRetry,
}

/// Messages of the netlink actor.
pub enum NetlinkMsg {
    /// A kernel event.
    Event(LinkEvent),
    /// The kernel's event stream ended: the actor fails and is started again.
    EventsEnded,
    /// Dump every link again for the reconciler (after it restarted).
    Redump,
    /// Apply a change to a link (for the interface with `mac`).
    Apply {
        /// MAC (for error reports).
        mac: String,
        /// Interface index.
        index: u32,
        /// Bring it up.
        up: bool,
        /// Set this MTU.
        mtu: Option<u32>,
    },
}

/// Messages of the watch actor.
pub enum WatchMsg {
    /// A change of this node's ENINode.
    Change(Box<Change<ENINode>>),
    /// Send the reconciler the desired interfaces again (after it restarted).
    Resend,
    /// The ENINode watch ended: the actor fails and is started again.
    Ended,
}

/// Opens the netlink port: request handle plus event stream.
pub type Connector = Arc<
    dyn Fn() -> Result<(Arc<dyn Links>, BoxStream<'static, LinkEvent>), LinkError> + Send + Sync,
>;
