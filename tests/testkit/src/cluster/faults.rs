//! Faults the real kube-apiserver does not produce on demand, injected by a plain-HTTP
//! proxy in front of it: watch connections cut, `429` and `500` answers, expired
//! resourceVersions, slow answers, and a server that stops answering altogether. Everything else is the real server's answer,
//! passed through byte for byte (the client's own `Authorization` header included, so
//! RBAC still applies).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let cluster = eni_testkit::cluster::TestCluster::shared()?;
//! let proxy = cluster.fault_proxy().await?;
//! let client = proxy.client().await?;
//! proxy.faults().drop_watches();
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::json;
use tokio::task::JoinHandle;

/// Pending faults, shared by the handle and the proxy.
struct FaultState {
    fail: AtomicU32,
    throttle: AtomicU32,
    retry_after_secs: AtomicU32,
    expire: AtomicU32,
    delay_ms: AtomicU64,
    cut_watches: tokio::sync::watch::Sender<u64>,
    stalled: tokio::sync::watch::Sender<bool>,
}

impl FaultState {
    /// Waits while the proxy is stalled.
    async fn unstalled(&self) {
        let mut rx = self.stalled.subscribe();
        let _ = rx.wait_for(|s| !*s).await;
    }
}

/// A test's handle on the proxy's faults.
#[derive(Clone)]
pub struct Faults {
    state: Arc<FaultState>,
}

impl Faults {
    /// Ends every open watch now (the client sees its stream end and re-watches).
    pub fn drop_watches(&self) {
        self.state.cut_watches.send_modify(|g| *g += 1);
    }

    /// Answers the next `n` requests with `500 InternalError`.
    pub fn fail_next(&self, n: u32) {
        self.state.fail.fetch_add(n, Ordering::SeqCst);
    }

    /// Answers the next `n` requests with `429 TooManyRequests` and `Retry-After: 1`.
    pub fn throttle_next(&self, n: u32) {
        self.throttle_next_with_retry_after(n, 1);
    }

    /// Answers the next `n` requests with `429` and `Retry-After: retry_after_secs`.
    pub fn throttle_next_with_retry_after(&self, n: u32, retry_after_secs: u32) {
        self.state
            .retry_after_secs
            .store(retry_after_secs, Ordering::SeqCst);
        self.state.throttle.fetch_add(n, Ordering::SeqCst);
    }

    /// Answers the next watch that resumes from a resourceVersion as the real server does
    /// after a compaction: `200`, then one `ERROR` event with `410 Expired`.
    pub fn expire_resource_versions(&self) {
        self.state.expire.fetch_add(1, Ordering::SeqCst);
    }

    /// Stops answering (or, with `false`, answers again): requests hang, open watches
    /// deliver nothing, and no connection is closed, as a half-open connection looks to
    /// the client. Nothing the client sends meanwhile reaches the server.
    pub fn stall(&self, stalled: bool) {
        self.state.stalled.send_replace(stalled);
    }

    /// Delays every answer by `delay` (zero turns it off): a server that has stopped
    /// answering, as a half-open connection looks to the client.
    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    url: String,
    faults: Faults,
    dir: PathBuf,
    admin_kubeconfig: PathBuf,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct Proxy {
    upstream: kube::Client,
    state: Arc<FaultState>,
}

fn take_one(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "code": code.as_u16()});
    (code, axum::Json(body)).into_response()
}

fn is_watch(req: &Request) -> bool {
    req.uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"))
}

fn resumes(req: &Request) -> bool {
    req.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|kv| kv.starts_with("resourceVersion=") && kv != "resourceVersion=")
    })
}

async fn forward(State(proxy): State<Proxy>, req: Request) -> Response {
    let state = &proxy.state;
    state.unstalled().await;
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if take_one(&state.throttle) {
        let mut resp = status(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "injected: too many requests",
        );
        let secs = state.retry_after_secs.load(Ordering::SeqCst).to_string();
        if let Ok(v) = HeaderValue::from_str(&secs) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    if take_one(&state.fail) {
        return status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "injected: internal error",
        );
    }
    let watch = is_watch(&req);
    if watch && resumes(&req) && take_one(&state.expire) {
        let event = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
            "metadata": {}, "status": "Failure", "message": "injected: too old resource version",
            "reason": "Expired", "code": 410}});
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{event}\n"),
        )
            .into_response();
    }
    let (parts, body) = req.into_parts();
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
    };
    let upstream = axum::http::Request::from_parts(parts, kube::client::Body::from(bytes));
    let answer = match proxy.upstream.send(upstream).await {
        Ok(a) => a,
        Err(e) => {
            return status(
                StatusCode::BAD_GATEWAY,
                "InternalError",
                &format!("proxy: {e}"),
            );
        }
    };
    // An answer the server gave while the proxy stalled is held back too.
    state.unstalled().await;
    let (parts, body) = answer.into_parts();
    if !watch {
        return Response::from_parts(parts, Body::new(body));
    }
    let mut cut = state.cut_watches.subscribe();
    let held = proxy.state.clone();
    let stream = body
        .into_data_stream()
        .then(move |chunk| {
            let held = held.clone();
            async move {
                held.unstalled().await;
                chunk
            }
        })
        .take_until(async move {
            let _ = cut.changed().await;
        })
        .boxed();
    Response::from_parts(parts, Body::from_stream(stream))
}

impl FaultProxy {
    /// Starts a proxy to the server at `url` (trusting `ca_cert`) on a free port; must run
    /// inside a tokio runtime, which then serves it.
    pub(crate) async fn start(
        url: &str,
        ca_cert: &Path,
        dir: &Path,
        admin_token: &str,
    ) -> anyhow::Result<Self> {
        let dir = dir.join(format!("proxy-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let upstream_config = dir.join("upstream.kubeconfig");
        std::fs::write(
            &upstream_config,
            super::kubeconfig_yaml(url, Some(ca_cert), None),
        )?;
        let upstream = super::client_from(&upstream_config).await?;
        let (cut_watches, _) = tokio::sync::watch::channel(0);
        let (stalled, _) = tokio::sync::watch::channel(false);
        let state = Arc::new(FaultState {
            fail: AtomicU32::new(0),
            throttle: AtomicU32::new(0),
            retry_after_secs: AtomicU32::new(1),
            expire: AtomicU32::new(0),
            delay_ms: AtomicU64::new(0),
            cut_watches,
            stalled,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let proxy_url = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new().fallback(forward).with_state(Proxy {
            upstream,
            state: state.clone(),
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let admin_kubeconfig = dir.join("admin.kubeconfig");
        std::fs::write(
            &admin_kubeconfig,
            super::kubeconfig_yaml(&proxy_url, None, Some(("admin", admin_token))),
        )?;
        Ok(Self {
            url: proxy_url,
            faults: Faults { state },
            dir,
            admin_kubeconfig,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The handle for injecting faults.
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    /// A client of the proxy with the admin token.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        super::client_from(&self.admin_kubeconfig).await
    }

    /// The proxy's admin kubeconfig (plain HTTP; the proxy forwards the token).
    pub fn kubeconfig(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// Writes a kubeconfig for the proxy with `token` and returns its path.
    pub fn kubeconfig_with_token(&self, user: &str, token: &str) -> anyhow::Result<PathBuf> {
        let path = self
            .dir
            .join(format!("{}.kubeconfig", uuid::Uuid::new_v4().simple()));
        std::fs::write(
            &path,
            super::kubeconfig_yaml(&self.url, None, Some((user, token))),
        )?;
        Ok(path)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.faults.drop_watches();
        self.task.abort();
    }
}
