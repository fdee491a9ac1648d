//! The SR-IOV network device plugin's configuration (`/etc/pcidp/config.json` by
//! default): the agent offers the DPDK devices it bound as one resource per
//! `dpdkResourceName`, merged with the entries it did not write, and replaces the file
//! atomically (a temporary file in the same directory, then a rename), so the plugin
//! never reads half a file.
//!
//! The plugin reads its configuration only when it starts (SIGHUP stops it like any other
//! signal; k8snetworkplumbingwg/sriov-network-device-plugin#276), which is why the SR-IOV
//! network operator deletes the plugin's pod on the node after a change; the agent does
//! the same, for the pods of this node only ([`super::AgentCluster::restart_device_plugin`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};
use thiserror::Error;

/// The prefix the plugin gives a resource that names none (its `--resource-prefix`).
pub const DEFAULT_PREFIX: &str = "intel.com";

/// A failed configuration update.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The file holds something that is not the plugin's configuration: it is left as
    /// it is.
    #[error("{path} is not a device plugin configuration ({why}): left as it is")]
    Unreadable {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        error: String,
    },
}

impl ConfigError {
    /// Every value [`ConfigError::label`] answers (metrics start each at zero).
    pub const LABELS: [&'static str; 2] =
        ["device_plugin_config_unreadable", "device_plugin_config_io"];

    /// A stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            ConfigError::Unreadable { .. } => "device_plugin_config_unreadable",
            ConfigError::Io { .. } => "device_plugin_config_io",
        }
    }
}

/// The devices offered under one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offer {
    /// The drivers they are bound to.
    pub drivers: BTreeSet<String>,
    /// Their PCI addresses.
    pub pci_addresses: BTreeSet<String>,
}

/// `prefix/name` as (prefix, name); a name without a prefix gets the plugin's default.
pub fn split(resource: &str) -> (&str, &str) {
    resource
        .rsplit_once('/')
        .unwrap_or((DEFAULT_PREFIX, resource))
}

/// Whether `resource` is one the plugin accepts: its name of letters, digits and `_`.
pub fn valid_resource(resource: &str) -> bool {
    let (prefix, name) = split(resource);
    !prefix.is_empty()
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn full_name(entry: &Value) -> Option<String> {
    let name = entry.get("resourceName")?.as_str()?;
    let prefix = entry
        .get("resourcePrefix")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_PREFIX);
    Some(format!("{prefix}/{name}"))
}

/// The configuration `existing` (the file's text; `None`: no file) with the entries of
/// the resources in `managed` (this agent's, now or before) replaced by `offered`
/// (resources with no device get no entry). Every other entry and key is kept as it is.
/// `Ok(None)`: nothing changes.
pub fn merged(
    existing: Option<&str>,
    managed: &BTreeSet<String>,
    offered: &BTreeMap<String, Offer>,
) -> Result<Option<String>, String> {
    if existing.is_none() && offered.values().all(|o| o.pci_addresses.is_empty()) {
        // Nothing to offer and no file: none is made.
        return Ok(None);
    }
    let mut root: Value = match existing.map(str::trim) {
        None | Some("") => json!({"resourceList": []}),
        Some(text) => serde_json::from_str(text).map_err(|e| e.to_string())?,
    };
    let Some(object) = root.as_object_mut() else {
        return Err("not a JSON object".into());
    };
    let list = object
        .entry("resourceList")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(list) = list.as_array_mut() else {
        return Err("resourceList is not a list".into());
    };
    let before = list.clone();
    list.retain(|e| {
        full_name(e).is_none_or(|n| !managed.contains(&n) && !offered.contains_key(&n))
    });
    for (resource, offer) in offered {
        if offer.pci_addresses.is_empty() {
            continue;
        }
        let (prefix, name) = split(resource);
        list.push(json!({
            "resourceName": name,
            "resourcePrefix": prefix,
            "selectors": {
                "drivers": offer.drivers,
                "pciAddresses": offer.pci_addresses,
            },
        }));
    }
    if *list == before && existing.is_some() {
        return Ok(None);
    }
    let mut text = serde_json::to_string_pretty(&root).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(Some(text))
}

/// Merges `offered` into the configuration at `path` ([`merged`]) and replaces the file
/// atomically when it changes. `Ok(true)`: it changed.
pub fn update(
    path: &Path,
    managed: &BTreeSet<String>,
    offered: &BTreeMap<String, Offer>,
) -> Result<bool, ConfigError> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| ConfigError::Io {
        path: shown.clone(),
        error: e.to_string(),
    };
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(e)),
    };
    let text = match merged(existing.as_deref(), managed, offered) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(false),
        Err(why) => {
            return Err(ConfigError::Unreadable {
                path: shown.clone(),
                why,
            });
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut file = tempfile::Builder::new()
        .prefix(".config.json.")
        .tempfile_in(dir)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.as_file().sync_all().map_err(io)?;
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(true)
}

#[cfg(test)]
mod tests;
