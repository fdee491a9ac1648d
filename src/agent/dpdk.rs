//! What the agent does with a DPDK ENI's PCI device, decided purely from what it was
//! asked (the ENINode entry's `dpdk`), what it recorded before (the ENINode status: the
//! interface is gone once its device is bound, so a restarted agent finds the device
//! there) and what sysfs shows now.
//!
//! A device is only ever touched when it is this ENI's: its network interface carries
//! the ENI's MAC address, or it has no interface and is the device this agent recorded
//! for the ENI after seeing it with that MAC (its kernel driver is recorded with it). A
//! `dpdkPCIAddress` naming another interface's device (the primary's, an NVMe disk's) is
//! refused, never bound, and nothing of it is recorded.

use crate::k8s::{DpdkReport, DpdkRequest};

/// A device as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSeen {
    /// PCI address.
    pub pci: String,
    /// The driver it is bound to (`None`: unbound).
    pub driver: Option<String>,
    /// The MAC addresses of its network interfaces (none while a userspace driver has it).
    pub macs: Vec<String>,
}

/// What to do with one DPDK ENI's device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStep {
    /// Nothing is known yet (no interface with the MAC, no device recorded).
    Wait,
    /// Nothing to do: it is where it should be.
    Keep,
    /// Bind `pci` to `driver`.
    Bind {
        /// PCI address.
        pci: String,
        /// The driver asked for.
        driver: String,
    },
    /// Return `pci` to its kernel driver.
    Release {
        /// PCI address.
        pci: String,
    },
    /// Leave it alone and say why.
    Refuse(String),
}

/// The PCI address to look at for the ENI with `mac`: the one the NodeENI names, else
/// the device of the ENI's interface, else the one recorded before.
pub fn address(
    want: &DpdkRequest,
    link_pci: Option<&str>,
    recorded: Option<&DpdkReport>,
) -> Option<String> {
    want.pci_address
        .clone()
        .or_else(|| link_pci.map(str::to_string))
        .or_else(|| recorded.and_then(|r| r.pci_address.clone()))
}

/// Whether `device` is the ENI with `mac`'s own, by the rules above.
pub fn is_own(mac: &str, device: &DeviceSeen, recorded: Option<&DpdkReport>) -> bool {
    owned(mac, device, recorded).is_ok()
}

fn owned(mac: &str, device: &DeviceSeen, recorded: Option<&DpdkReport>) -> Result<(), String> {
    if !device.macs.is_empty() {
        return if device.macs.iter().any(|m| m == mac) {
            Ok(())
        } else {
            Err(format!(
                "PCI device {} is the interface with MAC {}, not this ENI's: left alone",
                device.pci,
                device.macs.join(", ")
            ))
        };
    }
    // Recorded with the kernel driver it had: seen with this ENI's MAC before.
    if recorded.is_some_and(|r| {
        r.pci_address.as_deref() == Some(device.pci.as_str()) && r.kernel_driver.is_some()
    }) {
        return Ok(());
    }
    Err(format!(
        "PCI device {} has no network interface, and this agent did not bind it: whether it is this ENI's cannot be told, so it is left alone",
        device.pci
    ))
}

/// The step for the ENI with `mac`, given its device as seen now (`None`: no address
/// known yet).
pub fn step(
    mac: &str,
    want: &DpdkRequest,
    recorded: Option<&DpdkReport>,
    device: Option<&DeviceSeen>,
) -> DeviceStep {
    let Some(device) = device else {
        return DeviceStep::Wait;
    };
    let wanted = device.driver.as_deref() == Some(want.driver.as_str());
    // Already on the driver asked for and not this agent's doing: someone prepared the
    // node (or an earlier agent lost its report); keep it as it is.
    let prepared = wanted && device.macs.is_empty();
    if let Err(why) = owned(mac, device, recorded)
        && (!prepared || want.release)
    {
        return DeviceStep::Refuse(why);
    }
    match (want.release, wanted) {
        (true, true) => DeviceStep::Release {
            pci: device.pci.clone(),
        },
        (true, false) | (false, true) => DeviceStep::Keep,
        (false, false) => DeviceStep::Bind {
            pci: device.pci.clone(),
            driver: want.driver.clone(),
        },
    }
}

/// The report for the device: as it was `before` the step and is `after` it; `own`:
/// whether it is known to be this ENI's ([`is_own`]). Of a device not known to be, only
/// what was recorded before is kept (a later look must not take it for this ENI's), and
/// it is reported bound only when it already was on the driver asked for (a node
/// prepared by hand or by the Go controller: kept, never released by this agent).
pub fn report(
    want: &DpdkRequest,
    recorded: Option<&DpdkReport>,
    before: Option<&DeviceSeen>,
    after: Option<&DeviceSeen>,
    own: bool,
) -> DpdkReport {
    let device = after;
    let driver = device.and_then(|d| d.driver.clone());
    let bound = driver.as_deref() == Some(want.driver.as_str());
    if !own {
        return DpdkReport {
            pci_address: match bound {
                true => device.map(|d| d.pci.clone()),
                false => recorded.and_then(|r| r.pci_address.clone()),
            },
            driver: driver.filter(|_| bound),
            kernel_driver: recorded.and_then(|r| r.kernel_driver.clone()),
            resource_name: want.resource_name.clone().filter(|_| bound),
            bound,
            released: want.release && !bound,
        };
    }
    // The kernel driver to return to: the one recorded, else the one it had before when
    // that was not the userspace driver.
    let kernel_driver = recorded.and_then(|r| r.kernel_driver.clone()).or_else(|| {
        [before, after]
            .into_iter()
            .flatten()
            .filter_map(|d| d.driver.clone())
            .find(|d| *d != want.driver)
    });
    DpdkReport {
        pci_address: device
            .map(|d| d.pci.clone())
            .or_else(|| recorded.and_then(|r| r.pci_address.clone())),
        driver,
        kernel_driver,
        resource_name: want.resource_name.clone().filter(|_| bound),
        bound,
        // Not on the userspace driver (or never found): nothing holds the ENI back.
        released: want.release && !bound,
    }
}

#[cfg(test)]
mod tests;
