//! The `ENINode` custom resource (`networking.k8s.aws/v1alpha1`): one per node, named
//! after it, listing the ENIs attached to that node (written by the controller) and how
//! the node's agent configured each (written by that agent, in the status).
//!
//! It is what the agent reads and writes instead of every NodeENI: an agent watches only
//! its own node's object, and may write only its status (a ValidatingAdmissionPolicy
//! checks the node name its pod-bound token carries). Each NodeENI writes its own entries
//! with server-side apply under a field manager of its own ([`field_manager`]), so the
//! API server merges several NodeENIs' ENIs on one node and removes a NodeENI's entries
//! when it applies them away. The Node owns the object: it goes with the Node.

use kube::{CustomResource, CustomResourceExt, KubeSchema};
use serde::{Deserialize, Serialize};

/// The ENIs of one node.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "networking.k8s.aws",
    version = "v1alpha1",
    kind = "ENINode",
    plural = "eninodes",
    singular = "eninode",
    shortname = "enin",
    status = "ENINodeStatus",
    derive = "PartialEq",
    doc = "ENINode lists the ENIs attached to the node of the same name, and how its node agent configured them.",
    printcolumn = r#"{"name":"ENIs","type":"integer","jsonPath":".status.eniCount","description":"ENIs of the spec, as the node's agent last read it"}"#,
    printcolumn = r#"{"name":"Configured","type":"integer","jsonPath":".status.configuredCount","description":"Of them, interfaces up with their MTU"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ENINodeSpec {
    /// The ENIs attached to this node, one entry per ENI, from every NodeENI.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["eniID"]))]
    pub interfaces: Vec<NodeInterface>,
}

/// One ENI attached to the node.
#[derive(
    Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct NodeInterface {
    /// ENI ID.
    #[serde(rename = "eniID")]
    pub eni_id: String,
    /// MAC address: the agent finds the interface by it.
    pub mac_address: String,
    /// The NodeENI it belongs to.
    #[serde(rename = "nodeENI")]
    pub node_eni: String,
    /// Subnet ID.
    #[serde(rename = "subnetID")]
    pub subnet_id: String,
    /// Device index.
    pub device_index: i32,
    /// Network card index.
    #[serde(default)]
    pub network_card_index: i32,
    /// MTU to set (0: leave it alone, unless the agent has a default).
    #[serde(default)]
    pub mtu: i32,
    /// The ENI's private IPv4 addresses, the primary first (for an IPAM: Whereabouts
    /// ranges, a static IPAM).
    #[serde(
        rename = "privateIPv4Addresses",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub private_ipv4_addresses: Vec<String>,
    /// The ENI's /28 IPv4 prefixes (`a.b.c.d/28`, 16 addresses each).
    #[serde(
        rename = "ipv4Prefixes",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ipv4_prefixes: Vec<String>,
    /// The ENI's IPv6 addresses.
    #[serde(
        rename = "ipv6Addresses",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ipv6_addresses: Vec<String>,
    /// The ENI's /80 IPv6 prefixes.
    #[serde(
        rename = "ipv6Prefixes",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ipv6_prefixes: Vec<String>,
    /// Whether EC2 checks the source and destination of its traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_dest_check: Option<bool>,
    /// Bind the ENI's PCI device to a userspace (DPDK) driver instead of configuring its
    /// interface: the NodeENI's `enableDPDK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpdk: Option<DpdkRequest>,
}

/// What the node's agent is asked to do with a DPDK ENI's PCI device.
#[derive(
    Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct DpdkRequest {
    /// The driver to bind the device to (`vfio-pci` unless the NodeENI names another).
    pub driver: String,
    /// The SR-IOV network device plugin resource (`prefix/name`) offering the device to
    /// pods; unset: the device is bound but not offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// The PCI address the NodeENI names (`dpdkPCIAddress`); unset: the agent finds the
    /// device from the ENI's MAC address.
    #[serde(
        rename = "pciAddress",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub pci_address: Option<String>,
    /// Return the device to its kernel driver (the controller asks before it detaches
    /// the ENI, and waits for the agent's report).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub release: bool,
}

/// How the node's agent configured the ENIs.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ENINodeStatus {
    /// One entry per ENI of the spec.
    #[serde(default)]
    pub interfaces: Vec<InterfaceReport>,
    /// Interfaces up with their MTU applied.
    #[serde(default)]
    pub configured_count: i32,
    /// ENIs in the spec when the agent reported (`interfaces` has one entry each): the
    /// `ENIs` column, a count because a `[*]` column shows only the first match.
    #[serde(default)]
    pub eni_count: i32,
}

/// How one ENI's interface stands on the node.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceReport {
    /// ENI ID.
    #[serde(rename = "eniID")]
    pub eni_id: String,
    /// MAC address.
    pub mac_address: String,
    /// The NodeENI it belongs to.
    #[serde(rename = "nodeENI")]
    pub node_eni: String,
    /// The interface name, once the link exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Up, with the MTU applied.
    pub configured: bool,
    /// Its MTU now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "int32"))]
    pub mtu: Option<u32>,
    /// The interface's maximum is below the MTU asked for: the MTU is that maximum.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mtu_clamped: bool,
    /// Why it is not configured, or what to know about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For a DPDK ENI: its PCI device and the driver it is bound to. Kept here so that a
    /// restarted agent knows which device it bound (the interface is gone once bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpdk: Option<DpdkReport>,
}

/// How a DPDK ENI's PCI device stands on the node.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DpdkReport {
    /// The device's PCI address (`0000:00:06.0`), once found.
    #[serde(
        rename = "pciAddress",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub pci_address: Option<String>,
    /// The driver the device is bound to now (none: unbound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// The kernel network driver it had before the agent bound it (`ena`): where it goes
    /// back when released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_driver: Option<String>,
    /// The device plugin resource it is offered under, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Bound to the driver asked for.
    pub bound: bool,
    /// Returned to its kernel driver after the controller asked (`release`): the ENI
    /// may be detached.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub released: bool,
}

/// The field manager a NodeENI's entries are applied under: the NodeENI's name, at most
/// 128 characters in all, as the API server asks. A name of more than 100 characters is
/// cut to 80 and followed by a hash of the whole name, so that two NodeENIs never share
/// a manager (each would remove the other's entries, and they would write forever).
pub fn field_manager(nodeeni: &str) -> String {
    use sha2::Digest;
    const PREFIX: &str = "aws-multi-eni-controller/";
    if nodeeni.len() <= 100 {
        return format!("{PREFIX}{nodeeni}");
    }
    let mut cut = 80;
    while !nodeeni.is_char_boundary(cut) {
        cut -= 1;
    }
    let hash = sha2::Sha256::digest(nodeeni.as_bytes());
    format!("{PREFIX}{}-{}", &nodeeni[..cut], hex::encode(&hash[..8]))
}

/// The CRD as YAML: what `eni-controller crd` prints after NodeENI's and `deploy/crds/`
/// holds.
pub fn crd_yaml() -> Result<String, serde_saphyr::SerializeError> {
    serde_saphyr::to_string(&crd())
}

/// The CRD, with `spec` optional and defaulted: when the last NodeENI withdraws its
/// entries, server-side apply leaves no field of `spec` owned, and the object must stay
/// valid (its status is the agent's). No `required: []` is left behind: the API server
/// drops an empty list, and a CRD applied with it never matches what the server keeps,
/// which turns every other owner of the CRD into a server-side apply conflict.
pub fn crd()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    let mut crd = ENINode::crd();
    for v in &mut crd.spec.versions {
        if let Some(schema) = v
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            if let Some(required) = schema.required.as_mut() {
                required.retain(|r| r != "spec");
            }
            if schema.required.as_ref().is_some_and(Vec::is_empty) {
                schema.required = None;
            }
            if let Some(spec) = schema.properties.as_mut().and_then(|p| p.get_mut("spec")) {
                spec.default = Some(
                    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSON(
                        serde_json::json!({"interfaces": []}),
                    ),
                );
            }
        }
    }
    crd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_merge_by_eni_id_and_managers_fit() {
        let crd = serde_json::to_value(crd()).unwrap();
        let list = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
            ["interfaces"];
        assert_eq!(list["x-kubernetes-list-type"], "map");
        assert_eq!(list["x-kubernetes-list-map-keys"][0], "eniID");
        assert_eq!(crd["spec"]["scope"], "Cluster");
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        assert_eq!(schema.get("required"), None, "no empty required list");
        let mtu = &schema["properties"]["status"]["properties"]["interfaces"]["items"]["properties"]
            ["mtu"];
        assert_eq!(mtu["format"], "int32", "a format the API server knows");
        assert!(field_manager(&"n".repeat(253)).len() <= 128);
        assert_eq!(field_manager("multus"), "aws-multi-eni-controller/multus");
        // Long names alike in their first 100 characters get managers of their own.
        let (a, b) = (
            format!("{}-a", "n".repeat(150)),
            format!("{}-b", "n".repeat(150)),
        );
        assert_ne!(field_manager(&a), field_manager(&b));
        assert!(field_manager(&a).len() <= 128 && field_manager(&b).len() <= 128);
        assert_eq!(field_manager(&a), field_manager(&a), "stable");
    }
}
