//! The in-memory ownership ledger: NodeENI UID → name, and whether the API server
//! refuses the ConfigMap (a test's fault).

use std::collections::{BTreeMap, HashSet};

use crate::k8s::ClusterError;

#[derive(Default)]
pub(super) struct Ledger {
    /// NodeENI UID → name, as stored now.
    pub owners: BTreeMap<String, String>,
    /// Every read and write fails.
    pub refused: bool,
}

impl Ledger {
    fn open(&mut self) -> Result<&mut BTreeMap<String, String>, ClusterError> {
        if self.refused {
            return Err(ClusterError::Unavailable("the ledger is refused".into()));
        }
        Ok(&mut self.owners)
    }

    pub fn record(&mut self, uid: &str, name: &str) -> Result<(), ClusterError> {
        self.open()?.insert(uid.into(), name.into());
        Ok(())
    }

    pub fn recorded(&mut self) -> Result<HashSet<String>, ClusterError> {
        Ok(self.open()?.keys().cloned().collect())
    }

    pub fn forget(&mut self, uids: &[String]) -> Result<(), ClusterError> {
        let owners = self.open()?;
        for uid in uids {
            owners.remove(uid);
        }
        Ok(())
    }
}
