//! An in-process stand-in for kube-apiserver, serving real HTTP on 127.0.0.1 so the
//! project's Kubernetes code can be tested with the real `kube` client, kube-runtime's
//! watcher, kube-lease-manager and `kubectl`, on a machine where no real apiserver runs.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let server = eni_testkit::apiserver::TestApiServer::start().await?;
//! let client = server.client()?;
//! server.faults().drop_watches();
//! # Ok(()) }
//! ```

mod admission;
mod delete;
mod discovery;
mod error;
mod faults;
mod handlers;
mod list;
mod meta;
mod openapi;
mod ops;
mod params;
mod patch;
mod render;
mod resources;
mod selector;
mod ssa;
mod store;
mod table;
mod watch;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::{any, get};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use error::ApiError;
pub use faults::Faults;
pub use table::human_duration;

use admission::Validation;
use error::ApiResult;
use faults::FaultState;
use ops::WriteOpts;
use store::{State, StoreLimits};

/// Tunables of a [`TestApiServer`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Changes kept for watch resumption (older resourceVersions answer `410 Gone`).
    pub history: usize,
    /// Changes a watch may lag behind before it is cut off with `410`.
    pub watch_buffer: usize,
    /// How often watches with `allowWatchBookmarks=true` get a BOOKMARK.
    pub bookmark_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            port: 0,
            history: 20_000,
            watch_buffer: 65_536,
            bookmark_interval: Duration::from_secs(1),
        }
    }
}

/// State shared by every handler.
pub(crate) struct Shared {
    state: Mutex<State>,
    faults: FaultState,
    drop_watches: tokio::sync::watch::Sender<u64>,
    bookmark_interval: Duration,
}

impl Shared {
    /// The store, or `500` if a panic poisoned its lock.
    pub(crate) fn lock(&self) -> ApiResult<MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| ApiError::internal("store lock poisoned"))
    }
}

/// A running test API server; stops when dropped.
pub struct TestApiServer {
    url: String,
    shared: Arc<Shared>,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
    task: JoinHandle<()>,
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/version", get(discovery::version))
        .route("/api", get(discovery::api))
        .route("/api/v1", get(discovery::core_resources))
        .route("/api/v1/{*rest}", any(handlers::core))
        .route("/apis", get(discovery::groups))
        .route("/apis/{group}", get(discovery::group))
        .route("/apis/{group}/{version}", get(discovery::group_resources))
        .route("/apis/{group}/{version}/{*rest}", any(handlers::grouped))
        .route("/openapi/v3", get(openapi::index))
        .route("/openapi/v3/{*path}", get(openapi::group_version))
        .fallback(handlers::not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            faults::inject,
        ))
        .with_state(shared)
}

fn kubeconfig_yaml(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: eni-testkit\n  cluster:\n    server: {url}\nusers:\n- name: eni-testkit\n  user: {{}}\ncontexts:\n- name: eni-testkit\n  context:\n    cluster: eni-testkit\n    user: eni-testkit\n    namespace: default\ncurrent-context: eni-testkit\n"
    )
}

impl TestApiServer {
    /// Starts a server with default settings on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(ServerConfig::default()).await
    }

    /// Starts a server with `config`; must run inside a tokio runtime.
    pub async fn start_with(config: ServerConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .await
            .context("binding the test API server")?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let (drop_watches, _) = tokio::sync::watch::channel(0u64);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(StoreLimits {
                history: config.history,
                broadcast: config.watch_buffer,
            })),
            faults: FaultState::default(),
            drop_watches,
            bookmark_interval: config.bookmark_interval,
        });
        seed_namespaces(&shared).map_err(|e| anyhow::anyhow!("{e}"))?;
        let dir = tempfile::tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(&url))?;
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "test API server stopped");
            }
        });
        Ok(Self {
            url,
            shared,
            kubeconfig,
            dir,
            task,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A `kube::Client` for this server (no auth, plain HTTP).
    pub fn client(&self) -> anyhow::Result<kube::Client> {
        let config = kube::Config::new(self.url.parse()?);
        Ok(kube::Client::try_from(config)?)
    }

    /// Path of a kubeconfig file pointing at this server (context namespace `default`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A `kubectl` command set up for this server: `KUBECONFIG` is the server's
    /// kubeconfig and kubectl's discovery cache is private to the server.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(std::env::var_os("KUBECTL").unwrap_or_else(|| "kubectl".into()));
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("kube-cache"))
            .env("HOME", self.dir.path());
        cmd
    }

    /// The handle for injecting faults.
    pub fn faults(&self) -> Faults {
        Faults {
            shared: self.shared.clone(),
        }
    }

    /// The last committed resourceVersion of the whole server.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().map(|s| s.rv).unwrap_or_default()
    }

    /// Registers the CustomResourceDefinition in the YAML file at `path` through the API,
    /// as `kubectl create -f` would.
    pub async fn register_crd(&self, path: &Path) -> anyhow::Result<()> {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&text)?;
        kube::Api::<CustomResourceDefinition>::all(self.client()?)
            .create(&kube::api::PostParams::default(), &crd)
            .await?;
        Ok(())
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        self.shared.drop_watches.send_modify(|g| *g += 1);
        self.task.abort();
    }
}

/// The namespaces every cluster has.
fn seed_namespaces(shared: &Shared) -> ApiResult<()> {
    let mut state = shared.lock()?;
    let rt = state
        .registry
        .get("", "v1", "namespaces")
        .ok_or_else(|| ApiError::internal("namespaces are not registered"))?;
    let opts = WriteOpts {
        manager: "eni-testkit".into(),
        dry_run: false,
        validation: Validation::Ignore,
        subresource: None,
    };
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        ops::create(&mut state, &rt, None, obj, &opts, None)?;
    }
    Ok(())
}
