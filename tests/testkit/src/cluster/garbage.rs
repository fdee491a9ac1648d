//! kube-controller-manager running its garbage collector only: what deletes the objects
//! a deleted owner owned (ownerReferences), as a real cluster does. Built by
//! `scripts/kube-bins.sh` from the same Kubernetes module as the API server.

use std::process::Child;

use anyhow::Context;

use super::TestCluster;

/// A running garbage collector; dropping it stops it (it also dies with the thread that
/// started it).
pub struct GarbageCollector {
    child: Child,
}

impl TestCluster {
    /// Starts kube-controller-manager with only the `garbagecollector` controller, as
    /// the admin, with no leader election and no serving port.
    pub fn start_garbage_collector(&self) -> anyhow::Result<GarbageCollector> {
        let bin = self.bins.join("kube-controller-manager");
        anyhow::ensure!(
            bin.is_file(),
            "{} is missing: run scripts/kube-bins.sh",
            bin.display()
        );
        let kubeconfig = self.kubeconfig().display().to_string();
        let args = [
            format!("--kubeconfig={kubeconfig}"),
            format!("--authentication-kubeconfig={kubeconfig}"),
            format!("--authorization-kubeconfig={kubeconfig}"),
            "--controllers=garbagecollector".to_string(),
            "--use-service-account-credentials=false".to_string(),
            "--leader-elect=false".to_string(),
            "--secure-port=0".to_string(),
            "--v=1".to_string(),
        ];
        let log = self.dir.join("kube-controller-manager.log");
        let child =
            super::process::spawn(&bin, &args, &log).context("starting kube-controller-manager")?;
        Ok(GarbageCollector { child })
    }
}

impl Drop for GarbageCollector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
