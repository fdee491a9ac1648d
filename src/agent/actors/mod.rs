//! The agent's actors: a watch actor (NodeENIs → this node's desired interfaces), a
//! netlink actor (link dump, link events, and the only writer of link changes), and one
//! reconciler actor that compares the two, asks the netlink actor for changes, and
//! reports on the Node. One reconciler rather than an actor per link: link changes take
//! microseconds, and one actor sees every link at once (a MAC moving between links, a
//! link appearing after its attachment) without coordination. The root restarts any of
//! them with backoff; the others keep running.

mod msg;
mod netlink;
mod reconciler;
mod watch;

pub use msg::{Connector, NetlinkMsg, ReconcilerMsg, WatchMsg};
pub use netlink::{Netlink, NetlinkArgs, NetlinkState};
pub use reconciler::{Reconciler, ReconcilerArgs, ReconcilerState};
pub use watch::{Watch, WatchArgs, WatchState};
