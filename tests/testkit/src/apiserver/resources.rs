//! The resource types the server serves: a fixed set of built-ins and whatever
//! CustomResourceDefinitions register, each described once so discovery, OpenAPI,
//! storage, validation and table printing all agree.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

use super::error::{ApiError, ApiResult};

/// One `additionalPrinterColumns` entry of a CRD version.
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type: `integer`, `number`, `string`, `boolean` or `date`.
    pub type_: String,
    /// OpenAPI format, if any.
    pub format: String,
    /// Column description.
    pub description: String,
    /// Simple JSONPath relative to the object, e.g. `.status.readyCount`.
    pub json_path: String,
    /// 0 for the default view, more for `-o wide`.
    pub priority: i32,
}

/// A servable resource (one group/version/plural).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// API group, empty for the core group.
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Plural resource name used in URLs.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Kind of its objects.
    pub kind: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Short names for kubectl (`neni`).
    pub short_names: Vec<String>,
    /// Categories for kubectl (`all`).
    pub categories: Vec<String>,
    /// Whether `.../status` is a separate subresource.
    pub status_subresource: bool,
    /// Table columns besides `Name` (custom resources only).
    pub printer_columns: Vec<PrinterColumn>,
    /// The CRD's `openAPIV3Schema` for this version (custom resources only).
    pub schema: Option<Value>,
    /// Name of the CRD that registered it (custom resources only).
    pub crd: Option<String>,
}

impl ResourceType {
    fn builtin(group: &str, plural: &str, kind: &str, namespaced: bool, short: &[&str]) -> Self {
        Self {
            group: group.into(),
            version: "v1".into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            kind: kind.into(),
            namespaced,
            short_names: short.iter().map(|s| s.to_string()).collect(),
            categories: Vec::new(),
            status_subresource: false,
            printer_columns: Vec::new(),
            schema: None,
            crd: None,
        }
    }

    /// `apiVersion` of its objects (`v1`, `networking.k8s.aws/v1alpha1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` (or `plural` for the core group), as in error messages.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Kind of its lists.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Whether this is a CRD-defined resource.
    pub fn is_custom(&self) -> bool {
        self.crd.is_some()
    }
}

/// Every resource the server currently serves, keyed by (group, version, plural).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    types: BTreeMap<(String, String, String), Arc<ResourceType>>,
}

/// Groups always served, in discovery order.
pub const BUILTIN_GROUPS: [&str; 3] = [
    "apiextensions.k8s.io",
    "coordination.k8s.io",
    "events.k8s.io",
];

impl Registry {
    /// The built-in resources: nodes, namespaces, events, leases and CRDs.
    pub fn with_builtins() -> Self {
        let mut nodes = ResourceType::builtin("", "nodes", "Node", false, &["no"]);
        nodes.status_subresource = true;
        let mut namespaces = ResourceType::builtin("", "namespaces", "Namespace", false, &["ns"]);
        namespaces.status_subresource = true;
        let mut crds = ResourceType::builtin(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            false,
            &["crd", "crds"],
        );
        crds.status_subresource = true;
        crds.categories = vec!["api-extensions".into()];
        let mut reg = Self::default();
        for rt in [
            nodes,
            namespaces,
            ResourceType::builtin("", "events", "Event", true, &["ev"]),
            ResourceType::builtin("events.k8s.io", "events", "Event", true, &["ev"]),
            ResourceType::builtin("coordination.k8s.io", "leases", "Lease", true, &[]),
            crds,
        ] {
            reg.insert(rt);
        }
        reg
    }

    fn insert(&mut self, rt: ResourceType) {
        let key = (rt.group.clone(), rt.version.clone(), rt.plural.clone());
        self.types.insert(key, Arc::new(rt));
    }

    /// The resource served at `/apis/group/version/plural`.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// The resources of one group/version, in name order.
    pub fn in_group_version(&self, group: &str, version: &str) -> Vec<Arc<ResourceType>> {
        self.types
            .values()
            .filter(|rt| rt.group == group && rt.version == version)
            .cloned()
            .collect()
    }

    /// Every served group (core excluded) with its versions, preferred first.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = BUILTIN_GROUPS
            .iter()
            .map(|g| (g.to_string(), vec!["v1".to_string()]))
            .collect();
        for rt in self.types.values().filter(|rt| rt.is_custom()) {
            match groups.iter_mut().find(|(g, _)| *g == rt.group) {
                Some((_, versions)) if !versions.contains(&rt.version) => {
                    versions.push(rt.version.clone())
                }
                Some(_) => {}
                None => groups.push((rt.group.clone(), vec![rt.version.clone()])),
            }
        }
        groups
    }

    /// Registers (or re-registers) every served version of a CRD.
    pub fn register_crd(&mut self, crd: &Value) -> ApiResult<()> {
        let types = crd_resource_types(crd)?;
        let name = types
            .first()
            .and_then(|t| t.crd.clone())
            .unwrap_or_default();
        self.unregister_crd(&name);
        for rt in types {
            self.insert(rt);
        }
        Ok(())
    }

    /// Removes every version a CRD registered.
    pub fn unregister_crd(&mut self, name: &str) {
        self.types.retain(|_, rt| rt.crd.as_deref() != Some(name));
    }
}

/// The resource types one CRD object declares (its served versions).
pub fn crd_resource_types(crd: &Value) -> ApiResult<Vec<ResourceType>> {
    let parsed: CustomResourceDefinition = serde_json::from_value(crd.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid CustomResourceDefinition: {e}")))?;
    let name = parsed.metadata.name.clone().unwrap_or_default();
    let spec = &parsed.spec;
    let expected = format!("{}.{}", spec.names.plural, spec.group);
    if name != expected {
        return Err(ApiError::new(
            422,
            "Invalid",
            format!(
                "CustomResourceDefinition.apiextensions.k8s.io \"{name}\" is invalid: metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
            ),
        ));
    }
    let mut out = Vec::new();
    for v in spec.versions.iter().filter(|v| v.served) {
        let schema = v
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?
            .unwrap_or_else(|| serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
        let columns = v
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| PrinterColumn {
                name: c.name.clone(),
                type_: c.type_.clone(),
                format: c.format.clone().unwrap_or_default(),
                description: c.description.clone().unwrap_or_default(),
                json_path: c.json_path.clone(),
                priority: c.priority.unwrap_or(0),
            })
            .collect();
        out.push(ResourceType {
            group: spec.group.clone(),
            version: v.name.clone(),
            plural: spec.names.plural.clone(),
            singular: spec
                .names
                .singular
                .clone()
                .unwrap_or_else(|| spec.names.kind.to_lowercase()),
            kind: spec.names.kind.clone(),
            namespaced: spec.scope == "Namespaced",
            short_names: spec.names.short_names.clone().unwrap_or_default(),
            categories: spec.names.categories.clone().unwrap_or_default(),
            status_subresource: v.subresources.as_ref().is_some_and(|s| s.status.is_some()),
            printer_columns: columns,
            schema: Some(schema),
            crd: Some(name.clone()),
        });
    }
    Ok(out)
}
