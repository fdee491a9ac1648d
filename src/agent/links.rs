//! The netlink port of the node agent: dump links, follow link events, bring a link up
//! and set its MTU. [`RtLinks`] implements it over `rtnetlink`.

use std::os::fd::AsFd;
use std::path::Path;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use rtnetlink::{Handle, LinkUnspec, MulticastGroup, new_connection, new_multicast_connection};
use thiserror::Error;

use super::desired::{LinkState, normalize_mac};

/// A failed netlink operation.
#[derive(Debug, Clone, Error)]
pub enum LinkError {
    /// Opening the netlink socket (or entering the namespace) failed.
    #[error("cannot open netlink: {0}")]
    Connect(String),
    /// The kernel refused a request.
    #[error("netlink request failed: {0}")]
    Request(String),
}

impl LinkError {
    /// Every value [`LinkError::label`] answers (metrics start each at zero).
    pub const LABELS: [&'static str; 2] = ["netlink_connect", "netlink_request"];

    /// A stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            LinkError::Connect(_) => "netlink_connect",
            LinkError::Request(_) => "netlink_request",
        }
    }
}

/// A change the kernel announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// A link appeared or changed (flags, MTU, address).
    Changed(LinkState),
    /// A link disappeared.
    Removed(u32),
}

/// What the agent does with links.
#[async_trait]
pub trait Links: Send + Sync + 'static {
    /// Every link now.
    async fn dump(&self) -> Result<Vec<LinkState>, LinkError>;
    /// Brings link `index` up (when `up`) and sets its MTU (when given).
    async fn set(&self, index: u32, up: bool, mtu: Option<u32>) -> Result<(), LinkError>;
}

fn mac_string(bytes: &[u8]) -> String {
    normalize_mac(
        &bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// Reads a kernel link message.
pub fn link_state(msg: &LinkMessage) -> LinkState {
    let mut s = LinkState {
        index: msg.header.index,
        name: String::new(),
        mac: String::new(),
        mtu: 0,
        max_mtu: None,
        up: msg.header.flags.contains(LinkFlags::Up),
        kind: None,
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => s.name = n.clone(),
            LinkAttribute::Address(a) => s.mac = mac_string(a),
            LinkAttribute::Mtu(m) => s.mtu = *m,
            LinkAttribute::MaxMtu(m) => s.max_mtu = Some(*m),
            LinkAttribute::LinkInfo(infos) => {
                s.kind = infos.iter().find_map(|i| match i {
                    LinkInfo::Kind(k) => Some(k.to_string()),
                    _ => None,
                });
            }
            _ => {}
        }
    }
    s
}

fn to_event(msg: NetlinkMessage<RouteNetlinkMessage>) -> Option<LinkEvent> {
    match msg.payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
            Some(LinkEvent::Changed(link_state(&l)))
        }
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
            Some(LinkEvent::Removed(l.header.index))
        }
        _ => None,
    }
}

/// [`Links`] over rtnetlink, in the namespace the sockets were opened in.
#[derive(Clone)]
pub struct RtLinks {
    handle: Handle,
}

impl RtLinks {
    /// Opens a request socket and a link-event socket in the current network namespace
    /// (the node's, for the DaemonSet with host networking). Must run inside a tokio
    /// runtime; the sockets' tasks are spawned on it.
    pub fn connect() -> Result<(RtLinks, BoxStream<'static, LinkEvent>), LinkError> {
        let (conn, handle, _) = new_connection().map_err(|e| LinkError::Connect(e.to_string()))?;
        tokio::spawn(conn);
        let (events_conn, _h, messages) = new_multicast_connection(&[MulticastGroup::Link])
            .map_err(|e| LinkError::Connect(e.to_string()))?;
        tokio::spawn(events_conn);
        let events = messages
            .filter_map(|(m, _)| futures::future::ready(to_event(m)))
            .boxed();
        Ok((RtLinks { handle }, events))
    }

    /// Like [`RtLinks::connect`], for the network namespace at `netns` (e.g.
    /// `/var/run/netns/NAME`): the sockets are opened from a thread that entered it, and
    /// keep working in it from any thread. Used to manage a namespace other than the
    /// process's own, as the tests do.
    pub fn connect_in(netns: &Path) -> Result<(RtLinks, BoxStream<'static, LinkEvent>), LinkError> {
        let file = std::fs::File::open(netns)
            .map_err(|e| LinkError::Connect(format!("{}: {e}", netns.display())))?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|e| LinkError::Connect(e.to_string()))?;
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| LinkError::Connect(format!("setns {}: {e}", netns.display())))?;
                let _enter = runtime.enter();
                Self::connect()
            })
            .join()
            .map_err(|_| LinkError::Connect("namespace thread panicked".into()))?
        })
    }
}

#[async_trait]
impl Links for RtLinks {
    async fn dump(&self) -> Result<Vec<LinkState>, LinkError> {
        let mut stream = self.handle.link().get().execute();
        let mut out = Vec::new();
        while let Some(msg) = stream.next().await {
            out.push(link_state(
                &msg.map_err(|e| LinkError::Request(e.to_string()))?,
            ));
        }
        Ok(out)
    }

    async fn set(&self, index: u32, up: bool, mtu: Option<u32>) -> Result<(), LinkError> {
        let mut builder = LinkUnspec::new_with_index(index);
        if up {
            builder = builder.up();
        }
        if let Some(m) = mtu {
            builder = builder.mtu(m);
        }
        self.handle
            .link()
            .set(builder.build())
            .execute()
            .await
            .map_err(|e| LinkError::Request(e.to_string()))
    }
}
