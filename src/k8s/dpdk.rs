//! What a NodeENI's `enableDPDK` asks of its nodes' agents: the request each of its
//! ENINode entries carries.

use super::crd::NodeENISpec;
use super::eninode::DpdkRequest;

/// The driver a DPDK ENI's device is bound to when the NodeENI names none.
pub const DEFAULT_DPDK_DRIVER: &str = "vfio-pci";

impl NodeENISpec {
    /// What its ENIs' agents are asked for DPDK; `None` unless it sets `enableDPDK`. An empty
    /// `dpdkDriver` is the default driver; an empty resource name or PCI address is none.
    pub fn dpdk_request(&self) -> Option<DpdkRequest> {
        if !self.enable_dpdk {
            return None;
        }
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Some(DpdkRequest {
            driver: given(&self.dpdk_driver).unwrap_or_else(|| DEFAULT_DPDK_DRIVER.to_string()),
            resource_name: given(&self.dpdk_resource_name),
            pci_address: given(&self.dpdk_pci_address).map(|p| p.to_ascii_lowercase()),
            release: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        enable: bool,
        driver: Option<&str>,
        resource: Option<&str>,
        pci: Option<&str>,
    ) -> NodeENISpec {
        let mut s: NodeENISpec = serde_json::from_value(serde_json::json!({
            "nodeSelector": {"ng": "dpdk"},
            "subnetID": "subnet-1",
            "securityGroupIDs": ["sg-1"],
        }))
        .unwrap();
        s.enable_dpdk = enable;
        s.dpdk_driver = driver.map(str::to_string);
        s.dpdk_resource_name = resource.map(str::to_string);
        s.dpdk_pci_address = pci.map(str::to_string);
        s
    }

    #[test]
    fn requests() {
        let req = |driver: &str, resource: Option<&str>, pci: Option<&str>| {
            Some(DpdkRequest {
                driver: driver.into(),
                resource_name: resource.map(str::to_string),
                pci_address: pci.map(str::to_string),
                release: false,
            })
        };
        let cases = [
            (
                "off",
                spec(false, Some("vfio-pci"), Some("a.com/b"), None),
                None,
            ),
            (
                "defaults",
                spec(true, None, None, None),
                req("vfio-pci", None, None),
            ),
            (
                "empty is unset",
                spec(true, Some(" "), Some(""), Some("")),
                req("vfio-pci", None, None),
            ),
            (
                "as given, the address lower-cased",
                spec(
                    true,
                    Some("igb_uio"),
                    Some("intel.com/sriov_dpdk"),
                    Some("0000:00:0A.0"),
                ),
                req(
                    "igb_uio",
                    Some("intel.com/sriov_dpdk"),
                    Some("0000:00:0a.0"),
                ),
            ),
        ];
        for (name, s, expected) in cases {
            assert_eq!(s.dpdk_request(), expected, "{name}");
        }
    }
}
