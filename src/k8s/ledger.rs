//! The ownership ledger: a ConfigMap in the controller's namespace naming every NodeENI
//! (UID → name) the controller may have created ENIs for. The controller writes a
//! NodeENI's entry before it creates any ENI for it and keeps it after the NodeENI is
//! gone, until no ENI carries the UID any more; the orphan sweep deletes an ENI of a gone
//! NodeENI only if its UID is here. Tags are only a claim (anyone allowed `CreateTags`
//! can write them); the ledger is the controller's own memory of what it made.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Map, Value};

/// The ConfigMap's name unless configured.
pub const DEFAULT_LEDGER_NAME: &str = "aws-multi-eni-controller-ledger";

/// The ledger's ConfigMap, in one namespace.
#[derive(Clone)]
pub struct Ledger {
    api: Api<ConfigMap>,
    name: String,
}

impl Ledger {
    /// The ConfigMap `name` in `namespace`.
    pub fn new(client: Client, namespace: &str, name: &str) -> Self {
        Ledger {
            api: Api::namespaced(client, namespace),
            name: name.into(),
        }
    }

    /// Adds or overwrites entries (`None` removes one) with a merge patch: no read, no
    /// conflict with a concurrent change of other entries. Fails with 404 when the
    /// ConfigMap does not exist yet.
    pub async fn patch(&self, entries: &[(&str, Option<&str>)]) -> Result<(), kube::Error> {
        let data: Map<String, Value> = entries
            .iter()
            .map(|(uid, name)| (uid.to_string(), name.map_or(Value::Null, Value::from)))
            .collect();
        let patch = serde_json::json!({ "data": data });
        self.api
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// Creates the ConfigMap with one entry.
    pub async fn create(&self, uid: &str, nodeeni: &str) -> Result<(), kube::Error> {
        let labels = BTreeMap::from([(
            "app.kubernetes.io/managed-by".to_string(),
            super::cluster::CONTROLLER_NAME.to_string(),
        )]);
        let object = ConfigMap {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(uid.to_string(), nodeeni.to_string())])),
            ..ConfigMap::default()
        };
        self.api.create(&PostParams::default(), &object).await?;
        Ok(())
    }

    /// The UIDs on the ledger (none while the ConfigMap does not exist).
    pub async fn uids(&self) -> Result<HashSet<String>, kube::Error> {
        Ok(self
            .api
            .get_opt(&self.name)
            .await?
            .and_then(|c| c.data)
            .map(|d| d.into_keys().collect())
            .unwrap_or_default())
    }
}
