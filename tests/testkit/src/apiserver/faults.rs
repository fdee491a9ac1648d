//! Fault injection: what a test can make the server do to its clients (drop watches,
//! fail or throttle requests, slow every answer, expire resourceVersions), to check
//! that controllers and watchers recover without losing events.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::StatusDetails;

use super::Shared;
use super::error::ApiError;

/// Pending faults, shared by the handle and the HTTP middleware.
#[derive(Debug, Default)]
pub struct FaultState {
    fail: AtomicU32,
    throttle: AtomicU32,
    retry_after: AtomicU32,
    delay: Mutex<Duration>,
}

impl FaultState {
    fn take(counter: &AtomicU32) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn delay(&self) -> Duration {
        self.delay.lock().map(|d| *d).unwrap_or_default()
    }
}

/// A test's handle on the server's faults (`server.faults()`).
#[derive(Clone)]
pub struct Faults {
    pub(crate) shared: Arc<Shared>,
}

impl Faults {
    /// Ends every open watch now (the client sees its stream end and re-watches).
    pub fn drop_watches(&self) {
        self.shared.drop_watches.send_modify(|g| *g += 1);
    }

    /// Answers the next `n` requests with `500 InternalError`.
    pub fn fail_next(&self, n: u32) {
        self.shared.faults.fail.fetch_add(n, Ordering::SeqCst);
    }

    /// Answers the next `n` requests with `429 TooManyRequests` and `Retry-After: 1`.
    pub fn throttle_next(&self, n: u32) {
        self.throttle_next_with_retry_after(n, 1);
    }

    /// Answers the next `n` requests with `429` and `Retry-After: retry_after_secs`.
    pub fn throttle_next_with_retry_after(&self, n: u32, retry_after_secs: u32) {
        let faults = &self.shared.faults;
        faults.retry_after.store(retry_after_secs, Ordering::SeqCst);
        faults.throttle.fetch_add(n, Ordering::SeqCst);
    }

    /// Delays every response by `delay` (zero turns it off).
    pub fn set_delay(&self, delay: Duration) {
        if let Ok(mut d) = self.shared.faults.delay.lock() {
            *d = delay;
        }
    }

    /// Forgets the watch history: the next watch or exact list from any older
    /// resourceVersion answers `410 Gone`.
    pub fn expire_resource_versions(&self) {
        if let Ok(mut state) = self.shared.state.lock() {
            state.expire();
        }
    }

    /// Requests still to be failed with `500` and `429`.
    pub fn pending(&self) -> (u32, u32) {
        let f = &self.shared.faults;
        (
            f.fail.load(Ordering::SeqCst),
            f.throttle.load(Ordering::SeqCst),
        )
    }
}

/// Middleware applying the pending faults to each request.
pub async fn inject(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let faults = &shared.faults;
    let delay = faults.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if FaultState::take(&faults.fail) {
        return ApiError::internal("injected fault: internal error").into_response();
    }
    if FaultState::take(&faults.throttle) {
        let secs = faults.retry_after.load(Ordering::SeqCst);
        let mut err = ApiError::new(
            429,
            "TooManyRequests",
            "injected fault: too many requests, please try again later",
        );
        err.retry_after = Some(secs);
        err.details = Some(Box::new(StatusDetails {
            retry_after_seconds: i32::try_from(secs).ok(),
            ..Default::default()
        }));
        return err.into_response();
    }
    next.run(req).await
}
