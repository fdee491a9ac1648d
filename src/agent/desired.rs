//! What the agent wants for each interface, decided purely from its node's ENINode:
//! which MAC addresses are this node's ENIs, which MTU each should have, which link is
//! the ENI's own device, and what to change on it to get there.

use std::collections::BTreeMap;

use crate::k8s::{DpdkReport, DpdkRequest, ENINode, InterfaceReport};

/// The smallest MTU the agent ever sets (IPv4's minimum reassembly size).
pub const MIN_MTU: u32 = 576;

/// An interface this node should have configured.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct DesiredLink {
    /// MAC address, lower-case `aa:bb:...`.
    pub mac: String,
    pub eni_id: String,
    /// The NodeENI it belongs to.
    pub nodeeni: String,
    /// Requested MTU; 0 leaves the MTU alone.
    pub mtu: u32,
    /// DPDK: its device is bound to a userspace driver; its interface is not configured.
    pub dpdk: Option<DpdkRequest>,
    /// What the agent reported of its device before (the ENINode status), so that a
    /// restarted agent finds a device whose interface is gone.
    pub recorded: Option<DpdkReport>,
}

/// A network link as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// MAC address, lower-case.
    pub mac: String,
    /// Current MTU.
    pub mtu: u32,
    /// The largest MTU the driver accepts (`IFLA_MAX_MTU`), when it reports one.
    pub max_mtu: Option<u32>,
    /// Administratively up.
    pub up: bool,
    /// The link kind the kernel reports (`IFLA_INFO_KIND`: `vlan`, `bridge`, `veth`,
    /// ...); `None` for a device a NIC driver made, which is what an ENI shows up as.
    pub kind: Option<String>,
}

/// Why no link is picked for an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoLink {
    /// No link carries the MAC address (yet).
    Missing,
    /// More than one device (not a VLAN, bridge, bond or other link stacked on one)
    /// carries it: the agent does not guess.
    Ambiguous,
}

impl LinkState {
    /// Whether this link can be an ENI: a device of a NIC driver (no link kind), or a
    /// veth (what stands in for a NIC inside a network namespace). VLAN children, bonds,
    /// bridges, macvlans and the like share their device's MAC and are never an ENI.
    pub fn is_device(&self) -> bool {
        matches!(self.kind.as_deref(), None | Some("veth"))
    }
}

/// The link that is the ENI with MAC `mac` (lower-case) among `links`.
pub fn pick<'a>(
    links: impl IntoIterator<Item = &'a LinkState>,
    mac: &str,
) -> Result<&'a LinkState, NoLink> {
    let mut found = links.into_iter().filter(|l| l.mac == mac && l.is_device());
    match (found.next(), found.next()) {
        (Some(l), None) => Ok(l),
        (Some(_), Some(_)) => Err(NoLink::Ambiguous),
        (None, _) => Err(NoLink::Missing),
    }
}

/// Changes needed on one link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkChange {
    /// Bring it up.
    pub up: bool,
    /// Set this MTU.
    pub mtu: Option<u32>,
}

impl LinkChange {
    /// Whether anything needs doing.
    pub fn is_empty(&self) -> bool {
        !self.up && self.mtu.is_none()
    }
}

/// Lower-cases a MAC address so `02:AB:..` and `02:ab:..` compare equal.
pub fn normalize_mac(mac: &str) -> String {
    mac.trim().to_ascii_lowercase()
}

/// This node's ENIs (from every NodeENI), by MAC. `default_mtu` replaces an MTU of 0
/// (itself 0 by default: leave the MTU alone).
pub fn desired_links(eninode: Option<&ENINode>, default_mtu: u32) -> BTreeMap<String, DesiredLink> {
    let mut out = BTreeMap::new();
    let recorded: BTreeMap<String, &DpdkReport> = eninode
        .and_then(|e| e.status.as_ref())
        .iter()
        .flat_map(|s| &s.interfaces)
        .filter_map(|r| Some((normalize_mac(&r.mac_address), r.dpdk.as_ref()?)))
        .collect();
    for i in eninode.iter().flat_map(|e| &e.spec.interfaces) {
        if i.mac_address.is_empty() {
            continue;
        }
        let mac = normalize_mac(&i.mac_address);
        let mtu = match u32::try_from(i.mtu).unwrap_or(0) {
            0 => default_mtu,
            m => m,
        };
        let before = recorded.get(&mac).map(|r| (*r).clone());
        out.entry(mac.clone()).or_insert(DesiredLink {
            mac,
            eni_id: i.eni_id.clone(),
            nodeeni: i.node_eni.clone(),
            mtu,
            dpdk: i.dpdk.clone(),
            recorded: before,
        });
    }
    out
}

/// The MTU to set for `requested` on a link whose maximum is `max`: 0 means leave the
/// MTU alone; otherwise at least [`MIN_MTU`] and at most the link's maximum.
pub fn target_mtu(requested: u32, max: Option<u32>) -> Option<u32> {
    if requested == 0 {
        return None;
    }
    let mut mtu = requested.max(MIN_MTU);
    if let Some(max) = max.filter(|m| *m > 0) {
        mtu = mtu.min(max);
    }
    Some(mtu)
}

/// What to change on `link` so it matches `desired`.
pub fn plan(desired: &DesiredLink, link: &LinkState) -> LinkChange {
    LinkChange {
        up: !link.up,
        mtu: target_mtu(desired.mtu, link.max_mtu).filter(|m| *m != link.mtu),
    }
}

/// The report for `desired`, given its link (or why there is none) after changes.
pub fn report(
    desired: &DesiredLink,
    link: Result<&LinkState, NoLink>,
    error: Option<String>,
) -> InterfaceReport {
    let base = InterfaceReport {
        eni_id: desired.eni_id.clone(),
        mac_address: desired.mac.clone(),
        node_eni: desired.nodeeni.clone(),
        interface: None,
        configured: false,
        mtu: None,
        mtu_clamped: false,
        message: None,
        dpdk: None,
    };
    let link = match link {
        Ok(l) => l,
        Err(NoLink::Missing) => {
            return InterfaceReport {
                message: Some("no interface with this MAC address yet".into()),
                ..base
            };
        }
        Err(NoLink::Ambiguous) => {
            return InterfaceReport {
                message: Some(
                    "several network devices carry this MAC address: none is configured".into(),
                ),
                ..base
            };
        }
    };
    let pending = plan(desired, link);
    let clamped =
        target_mtu(desired.mtu, link.max_mtu).is_some_and(|t| t < desired.mtu.max(MIN_MTU));
    let done = pending.is_empty() && error.is_none();
    let message = error
        .or_else(|| (!pending.is_empty()).then(|| "being configured".to_string()))
        .or_else(|| {
            clamped.then(|| {
                format!(
                    "MTU {} asked, {} set: the interface's maximum",
                    desired.mtu, link.mtu
                )
            })
        });
    InterfaceReport {
        interface: Some(link.name.clone()),
        mtu: Some(link.mtu),
        configured: done,
        mtu_clamped: clamped,
        message,
        ..base
    }
}

#[cfg(test)]
mod tests;
