//! A real Kubernetes control plane for tests: etcd and kube-apiserver, built from the
//! Kubernetes Go modules by `scripts/kube-bins.sh`, started on free 127.0.0.1 ports with a
//! CA made for the run, a static admin token, `Node,RBAC` authorization, service-account
//! signing keys (so tests mint real ServiceAccount tokens) and the admission plugins a
//! real cluster runs (ValidatingAdmissionPolicy and NodeRestriction among them).
//! There is no scheduler or kubelet: no pod runs, as in controller-runtime's envtest. A
//! test that needs objects of deleted owners collected starts kube-controller-manager
//! with its garbage collector only ([`TestCluster::start_garbage_collector`]).
//!
//! Starting costs seconds, so a test binary shares one cluster ([`TestCluster::shared`])
//! and its tests keep apart by the names of their objects. A test whose controller owns
//! every object of a kind in the cluster (it watches all Nodes and NodeENIs) starts its
//! own ([`TestCluster::start`]).
//!
//! The binaries come from `$ENI_KUBE_BINS`, else
//! `~/.cache/aws-multi-eni-controller/kube-bins/current` (what the script links).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let cluster = eni_testkit::cluster::TestCluster::shared()?;
//! let admin = cluster.client().await?;
//! let agent = cluster.service_account_client("eni-controller-system", "eni-agent").await?;
//! # Ok(()) }
//! ```

mod faults;
mod garbage;
mod pki;
mod process;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use anyhow::Context;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

pub use faults::{FaultProxy, Faults};
pub use garbage::GarbageCollector;
use process::ControlPlane;

/// Kubernetes version of the built binaries (what k8s-openapi's `latest` feature speaks).
pub const KUBE_VERSION: &str = "v1.37.2";

/// Namespace of the plain manifests in `deploy/manifests` (the chart rendered with its
/// defaults), and the ServiceAccounts they create.
pub const NAMESPACE: &str = "eni-controller-system";
/// The controller's ServiceAccount in [`NAMESPACE`].
pub const CONTROLLER_SA: &str = "aws-multi-eni-controller";
/// The node agent's ServiceAccount in [`NAMESPACE`].
pub const AGENT_SA: &str = "aws-multi-eni-controller-agent";

/// A running etcd + kube-apiserver. Dropping a cluster from [`TestCluster::start`] stops
/// its processes; the shared one lives as long as the test binary (its processes die with
/// it: they are started with a parent-death signal).
pub struct TestCluster {
    url: String,
    dir: PathBuf,
    ca_cert: PathBuf,
    admin_kubeconfig: PathBuf,
    admin_token: String,
    bins: PathBuf,
    _control_plane: ControlPlane,
}

static SHARED: OnceLock<Result<TestCluster, String>> = OnceLock::new();

/// Folder with `etcd`, `kube-apiserver` and `kubectl`.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("ENI_KUBE_BINS") {
        Some(d) => PathBuf::from(d),
        None => {
            let home = std::env::var_os("HOME").context("HOME is not set")?;
            PathBuf::from(home).join(".cache/aws-multi-eni-controller/kube-bins/current")
        }
    };
    for bin in ["etcd", "kube-apiserver", "kubectl"] {
        anyhow::ensure!(
            dir.join(bin).is_file(),
            "{} is missing: run scripts/kube-bins.sh (the README's test command does), or set ENI_KUBE_BINS",
            dir.join(bin).display()
        );
    }
    Ok(dir)
}

/// A kubeconfig for `url`, trusting `ca` (for HTTPS), authenticating with `(user, token)`
/// or not at all.
fn kubeconfig_yaml(url: &str, ca: Option<&Path>, user: Option<(&str, &str)>) -> String {
    let ca = ca
        .map(|p| format!("    certificate-authority: {}\n", p.display()))
        .unwrap_or_default();
    let (name, auth) = match user {
        Some((name, token)) => (name, format!("  user:\n    token: {token}\n")),
        None => ("anonymous", "  user: {}\n".to_string()),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: eni-testkit\n  cluster:\n    server: {url}\n{ca}users:\n- name: {name}\n{auth}contexts:\n- name: eni-testkit\n  context:\n    cluster: eni-testkit\n    user: {name}\n    namespace: default\ncurrent-context: eni-testkit\n"
    )
}

impl TestCluster {
    /// The cluster shared by every test of this test binary, started on first use.
    pub fn shared() -> anyhow::Result<&'static TestCluster> {
        SHARED
            .get_or_init(|| Self::start().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("the shared test cluster did not start: {e}"))
    }

    /// Starts a private cluster and waits until it is ready (blocking: a few seconds).
    pub fn start() -> anyhow::Result<TestCluster> {
        let bins = bin_dir()?;
        let control_plane = ControlPlane::start(&bins)?;
        let dir = control_plane.dir().to_path_buf();
        let url = control_plane.url();
        let ca_cert = control_plane.pki().ca_cert.clone();
        let admin_kubeconfig = dir.join("admin.kubeconfig");
        std::fs::write(
            &admin_kubeconfig,
            kubeconfig_yaml(
                &url,
                Some(&ca_cert),
                Some(("admin", control_plane.admin_token())),
            ),
        )?;
        Ok(TestCluster {
            url,
            dir,
            ca_cert,
            admin_kubeconfig,
            admin_token: control_plane.admin_token().to_string(),
            bins,
            _control_plane: control_plane,
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A client with the admin token (group `system:masters`).
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        client_from(&self.admin_kubeconfig).await
    }

    /// The admin kubeconfig (context namespace `default`).
    pub fn kubeconfig(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// A `kubectl` of the cluster's own version with the admin kubeconfig; its discovery
    /// cache is private to the cluster.
    pub fn kubectl(&self) -> Command {
        self.kubectl_with(&self.admin_kubeconfig)
    }

    /// Runs the admin `kubectl` with `args`, writing `stdin` to it when given, and
    /// answers what it printed and its exit status (blocking).
    pub fn run_kubectl(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<Output> {
        use std::io::Write;
        let mut child = self
            .kubectl()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting kubectl")?;
        if let Some(input) = stdin
            && let Some(mut pipe) = child.stdin.take()
        {
            pipe.write_all(input.as_bytes())?;
        }
        drop(child.stdin.take());
        Ok(child.wait_with_output()?)
    }

    /// Runs the admin `kubectl` with `args` (blocking): what it printed, or an error with
    /// what it said on stderr when it failed.
    pub fn kubectl_ok(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self
            .kubectl()
            .args(args)
            .output()
            .context("starting kubectl")?;
        if !out.status.success() {
            anyhow::bail!("kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `kubectl` with another kubeconfig, such as a ServiceAccount's.
    pub fn kubectl_with(&self, kubeconfig: &Path) -> Command {
        let mut cmd = Command::new(self.bins.join("kubectl"));
        cmd.env("KUBECONFIG", kubeconfig)
            .env("KUBECACHEDIR", self.dir.join("kube-cache"))
            .env("HOME", &self.dir);
        cmd
    }

    /// Mints a token for an existing ServiceAccount (TokenRequest, valid one hour) and
    /// writes a kubeconfig for it; returns the kubeconfig's path.
    pub async fn service_account_kubeconfig(
        &self,
        namespace: &str,
        name: &str,
    ) -> anyhow::Result<PathBuf> {
        let token = self.service_account_token(namespace, name).await?;
        self.kubeconfig_for_token(&format!("system:serviceaccount:{namespace}:{name}"), &token)
    }

    /// A client authenticated as the ServiceAccount `namespace/name`.
    pub async fn service_account_client(
        &self,
        namespace: &str,
        name: &str,
    ) -> anyhow::Result<kube::Client> {
        client_from(&self.service_account_kubeconfig(namespace, name).await?).await
    }

    /// Mints a ServiceAccount token (TokenRequest, valid one hour).
    pub async fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
    ) -> anyhow::Result<String> {
        self.token_request(namespace, name, None).await
    }

    /// Mints the token the kubelet would mount into pod `namespace/pod`: its
    /// ServiceAccount's, bound to the pod, so it carries the pod's node name
    /// (`authentication.kubernetes.io/node-name`) when the pod names a node.
    pub async fn pod_token(&self, namespace: &str, pod: &str) -> anyhow::Result<String> {
        let pods: Api<Pod> = Api::namespaced(self.client().await?, namespace);
        let found = pods.get(pod).await?;
        let account = found
            .spec
            .and_then(|s| s.service_account_name)
            .unwrap_or_else(|| "default".into());
        let bound = BoundObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(pod.into()),
            uid: found.metadata.uid,
        };
        self.token_request(namespace, &account, Some(bound)).await
    }

    async fn token_request(
        &self,
        namespace: &str,
        name: &str,
        bound: Option<BoundObjectReference>,
    ) -> anyhow::Result<String> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client().await?, namespace);
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(3600),
                bound_object_ref: bound,
                ..Default::default()
            }),
            ..Default::default()
        };
        let answer = api
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .with_context(|| format!("minting a token for {namespace}/{name}"))?;
        answer
            .status
            .and_then(|s| s.token)
            .context("TokenRequest answered without a token")
    }

    /// Writes a kubeconfig for this cluster that authenticates with `token`.
    pub fn kubeconfig_for_token(&self, user: &str, token: &str) -> anyhow::Result<PathBuf> {
        let path = self
            .dir
            .join(format!("{}.kubeconfig", uuid::Uuid::new_v4().simple()));
        std::fs::write(
            &path,
            kubeconfig_yaml(&self.url, Some(&self.ca_cert), Some((user, token))),
        )?;
        Ok(path)
    }

    /// A client of this cluster that authenticates with `token`.
    pub async fn client_for_token(&self, user: &str, token: &str) -> anyhow::Result<kube::Client> {
        client_from(&self.kubeconfig_for_token(user, token)?).await
    }

    /// Installs the CustomResourceDefinition in the YAML file at `path` as
    /// `kubectl apply` would (server-side apply), and waits until it is Established.
    /// Installing the same file again is a no-op, so tests sharing a cluster may all call it.
    pub async fn install_crd(&self, path: &Path) -> anyhow::Result<()> {
        self.apply_file(path)?;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&text)?;
        let name = crd.metadata.name.context("CRD without a name")?;
        let out = self
            .kubectl()
            .args(["wait", "--for=condition=Established", "--timeout=60s"])
            .arg(format!("crd/{name}"))
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "CRD {name} not established: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// `kubectl apply -f` of a manifest file as admin (the objects a user's cluster has).
    pub fn apply_file(&self, path: &Path) -> anyhow::Result<()> {
        let out = self
            .kubectl()
            .args(["apply", "--server-side", "--force-conflicts", "-f"])
            .arg(path)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "kubectl apply -f {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// Applies the plain manifests users apply (`deploy/manifests`: the namespace, then the
    /// chart rendered with its defaults: CRD, RBAC, admission policy, Deployment and
    /// DaemonSet) from the repository at `repo`. Nothing runs them (there is no kubelet):
    /// tests run the binaries themselves with these ServiceAccounts' tokens.
    pub fn install_deploy(&self, repo: &Path) -> anyhow::Result<()> {
        self.apply_file(&repo.join("deploy/manifests/namespace.yaml"))?;
        self.apply_file(&repo.join("deploy/manifests/aws-multi-eni-controller.yaml"))
    }

    /// A fault-injecting plain-HTTP proxy in front of this cluster, served by the calling
    /// test's runtime (see [`FaultProxy`]).
    pub async fn fault_proxy(&self) -> anyhow::Result<FaultProxy> {
        FaultProxy::start(&self.url, &self.ca_cert, &self.dir, &self.admin_token).await
    }

    /// A private folder that lives as long as the cluster.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The client configuration a kubeconfig file describes.
pub async fn config_from(kubeconfig: &Path) -> anyhow::Result<kube::Config> {
    let file = Kubeconfig::read_from(kubeconfig)?;
    Ok(kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await?)
}

async fn client_from(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    Ok(kube::Client::try_from(config_from(kubeconfig).await?)?)
}
