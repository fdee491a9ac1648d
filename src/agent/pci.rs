//! The sysfs port of the node agent for DPDK: which PCI device an interface is, which
//! driver a device is bound to, and rebinding a device to another driver. [`SysfsPci`]
//! implements it over the kernel's sysfs (`/sys`, or another root for tests), by the
//! kernel's documented protocol (`Documentation/ABI/testing/sysfs-bus-pci`): write the
//! driver's name to the device's `driver_override`, unbind the device from its driver,
//! then ask the bus to probe it (`drivers_probe`). No script, no `ip`.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use thiserror::Error;

/// A failed sysfs operation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PciError {
    /// No PCI device at that address.
    #[error("no PCI device {0}")]
    NoDevice(String),
    /// The driver is not loaded (its module is missing or not loaded on the node).
    #[error("driver {0} is not loaded on this node (its module: modprobe {0})")]
    NoDriver(String),
    /// The kernel refused a write, or a read failed.
    #[error("{path}: {error}")]
    Io {
        /// The sysfs file.
        path: String,
        /// What the kernel answered.
        error: String,
    },
    /// The agent runs without DPDK.
    #[error(
        "this node's agent does not bind DPDK devices (it runs without DPDK: chart value agent.dpdk.enabled)"
    )]
    Disabled,
    /// The device ended up on another driver than the one asked for.
    #[error("device {pci} is bound to {now}, not {wanted}, after probing")]
    NotBound {
        /// PCI address.
        pci: String,
        /// The driver asked for.
        wanted: String,
        /// The driver it is on ("none" when unbound).
        now: String,
    },
}

impl PciError {
    /// Every value [`PciError::label`] answers (metrics start each at zero).
    pub const LABELS: [&'static str; 5] = [
        "pci_no_device",
        "pci_no_driver",
        "pci_io",
        "pci_not_bound",
        "pci_disabled",
    ];

    /// A stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            PciError::NoDevice(_) => "pci_no_device",
            PciError::NoDriver(_) => "pci_no_driver",
            PciError::Io { .. } => "pci_io",
            PciError::NotBound { .. } => "pci_not_bound",
            PciError::Disabled => "pci_disabled",
        }
    }
}

/// What the agent does with PCI devices.
#[async_trait]
pub trait PciDevices: Send + Sync + 'static {
    /// Whether devices may be looked at and bound at all (`false`: the agent runs
    /// without DPDK).
    fn enabled(&self) -> bool {
        true
    }
    /// The PCI address of network interface `netdev` (its `device` link), if it is a PCI
    /// device.
    async fn address_of(&self, netdev: &str) -> Option<String>;
    /// The driver device `pci` is bound to now (`Ok(None)`: unbound).
    async fn driver_of(&self, pci: &str) -> Result<Option<String>, PciError>;
    /// The MAC addresses of the network interfaces device `pci` has now (none once bound
    /// to a userspace driver).
    async fn macs_of(&self, pci: &str) -> Vec<String>;
    /// Binds device `pci` to `driver`; `None` returns it to the driver the kernel picks
    /// for it (its own). Returns the driver it is bound to after.
    async fn bind(&self, pci: &str, driver: Option<&str>) -> Result<Option<String>, PciError>;
}

/// [`PciDevices`] of an agent without DPDK: every look is refused, so each DPDK ENI is
/// reported not configured with the reason, and nothing is read or written.
#[derive(Debug, Clone, Copy)]
pub struct NoDpdk;

#[async_trait]
impl PciDevices for NoDpdk {
    fn enabled(&self) -> bool {
        false
    }
    async fn address_of(&self, _netdev: &str) -> Option<String> {
        None
    }
    async fn driver_of(&self, _pci: &str) -> Result<Option<String>, PciError> {
        Err(PciError::Disabled)
    }
    async fn macs_of(&self, _pci: &str) -> Vec<String> {
        Vec::new()
    }
    async fn bind(&self, _pci: &str, _driver: Option<&str>) -> Result<Option<String>, PciError> {
        Err(PciError::Disabled)
    }
}

/// [`PciDevices`] over sysfs under `root` (`/sys` on a node).
#[derive(Debug, Clone)]
pub struct SysfsPci {
    root: PathBuf,
}

impl SysfsPci {
    /// The port over sysfs mounted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SysfsPci { root: root.into() }
    }

    fn device(&self, pci: &str) -> PathBuf {
        self.root.join("bus/pci/devices").join(pci)
    }

    /// Writes `value` to sysfs file `path` (one `write`, as the kernel expects).
    async fn write(path: PathBuf, value: String) -> Result<(), PciError> {
        let shown = path.display().to_string();
        tokio::task::spawn_blocking(move || std::fs::write(&path, value.as_bytes()))
            .await
            .map_err(|e| PciError::Io {
                path: shown.clone(),
                error: e.to_string(),
            })?
            .map_err(|e| PciError::Io {
                path: shown,
                error: e.to_string(),
            })
    }
}

impl SysfsPci {
    /// Clears `pci`'s override and probes it: the kernel binds its own driver, if none has
    /// it.
    async fn restore(&self, device: &Path, pci: &str) -> Result<(), PciError> {
        Self::write(device.join("driver_override"), "\n".to_string()).await?;
        Self::write(self.root.join("bus/pci/drivers_probe"), pci.to_string()).await
    }
}

/// The last component of the target of symlink `path`.
fn link_name(path: &Path) -> Option<String> {
    let target = std::fs::read_link(path).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

/// Whether `pci` looks like a PCI address (`0000:00:06.0`): it becomes part of a path.
pub fn valid_address(pci: &str) -> bool {
    let b = pci.as_bytes();
    b.len() == 12
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b':',
            10 => *c == b'.',
            _ => c.is_ascii_hexdigit(),
        })
}

#[async_trait]
impl PciDevices for SysfsPci {
    async fn address_of(&self, netdev: &str) -> Option<String> {
        if netdev.is_empty() || netdev.contains('/') {
            return None;
        }
        let device = self.root.join("class/net").join(netdev).join("device");
        let subsystem = link_name(&device.join("subsystem"))?;
        let pci = link_name(&device)?;
        (subsystem == "pci" && valid_address(&pci)).then_some(pci)
    }

    async fn driver_of(&self, pci: &str) -> Result<Option<String>, PciError> {
        let device = self.device(pci);
        if !valid_address(pci) || !device.exists() {
            return Err(PciError::NoDevice(pci.to_string()));
        }
        Ok(link_name(&device.join("driver")))
    }

    async fn macs_of(&self, pci: &str) -> Vec<String> {
        if !valid_address(pci) {
            return Vec::new();
        }
        let Ok(dir) = std::fs::read_dir(self.device(pci).join("net")) else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("address")).ok())
            .map(|m| super::desired::normalize_mac(&m))
            .collect()
    }

    async fn bind(&self, pci: &str, driver: Option<&str>) -> Result<Option<String>, PciError> {
        let now = self.driver_of(pci).await?;
        if let Some(d) = driver
            && (d.is_empty()
                || d.contains('/')
                || !self.root.join("bus/pci/drivers").join(d).is_dir())
        {
            return Err(PciError::NoDriver(d.to_string()));
        }
        let device = self.device(pci);
        // An empty line clears the override: the kernel matches the device by its IDs.
        let over = driver.map_or_else(|| "\n".to_string(), str::to_string);
        Self::write(device.join("driver_override"), over).await?;
        if now.is_some()
            && let Err(e) = Self::write(device.join("driver/unbind"), pci.to_string()).await
        {
            // Still on its driver: the override must not outlive the failed change.
            let _ = self.restore(&device, pci).await;
            return Err(e);
        }
        let probed = Self::write(self.root.join("bus/pci/drivers_probe"), pci.to_string()).await;
        let after = self.driver_of(pci).await?;
        match driver {
            Some(d) if probed.is_err() || after.as_deref() != Some(d) => {
                // The driver did not take it (no IOMMU group, say): the device goes back
                // to its own driver rather than staying without one, its interface gone.
                let restored = self.restore(&device, pci).await;
                if let Err(e) = &restored {
                    tracing::warn!(%pci, error = %e, "could not give the device back to its own driver");
                }
                probed?;
                Err(PciError::NotBound {
                    pci: pci.to_string(),
                    wanted: d.to_string(),
                    now: after.unwrap_or_else(|| "none".into()),
                })
            }
            _ => probed.map(|()| after),
        }
    }
}

#[cfg(test)]
mod tests;
