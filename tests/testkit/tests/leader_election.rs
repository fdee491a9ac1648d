//! Leader election through the real kube-apiserver with kube-lease-manager, which relies
//! on server-side apply conflicts: one holder at a time, and takeover when the holder
//! releases the Lease or stops renewing it. The tests share one cluster, each with its own
//! Lease.

mod common;

use std::time::{Duration, Instant};

use common::eventually;
use eni_testkit::cluster::TestCluster;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch::Receiver;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(30);

/// A manager renewing `grace` seconds before its `duration`-second lease expires.
async fn manager(
    server: &TestCluster,
    lease: &str,
    identity: &str,
    duration: u64,
    grace: u64,
) -> LeaseManager {
    LeaseManagerBuilder::new(server.client().await.unwrap(), lease)
        .with_namespace("kube-system")
        .with_identity(identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
        .unwrap()
}

type Running = (
    Receiver<bool>,
    JoinHandle<kube_lease_manager::Result<LeaseManager>>,
);

async fn holder(server: &TestCluster, lease: &str) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(server.client().await.unwrap(), "kube-system");
    leases
        .get(lease)
        .await
        .unwrap()
        .spec
        .and_then(|s| s.holder_identity)
}

/// Starts two managers and waits until one leads; answers (leader, follower).
async fn elect(
    server: &TestCluster,
    lease: &str,
    duration: u64,
    grace: u64,
) -> ((String, Running), (String, Running)) {
    let a = manager(server, lease, "a", duration, grace)
        .await
        .watch()
        .await;
    let b = manager(server, lease, "b", duration, grace)
        .await
        .watch()
        .await;
    let leader = eventually(WAIT, "a leader", || async {
        match (*a.0.borrow(), *b.0.borrow()) {
            (true, false) => Some("a"),
            (false, true) => Some("b"),
            (true, true) => panic!("two leaders at once"),
            (false, false) => None,
        }
    })
    .await;
    assert_eq!(holder(server, lease).await.as_deref(), Some(leader));
    if leader == "a" {
        (("a".into(), a), ("b".into(), b))
    } else {
        (("b".into(), b), ("a".into(), a))
    }
}

/// Watches both managers across a renewal: never two leaders, and the leader keeps
/// its lease (its renewal goes through). The lease is long enough (6 s, renewed 2 s
/// before expiry) that a slow machine does not make the leader lose it.
async fn assert_stable_leader(leader: &Running, follower: &Running) {
    let until = Instant::now() + Duration::from_secs(5);
    let (mut l, mut f) = (leader.0.clone(), follower.0.clone());
    while Instant::now() < until {
        assert!(*l.borrow_and_update(), "the leader kept its lease");
        assert!(
            !*f.borrow_and_update(),
            "the follower never leads meanwhile"
        );
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            tokio::select! { _ = l.changed() => {}, _ = f.changed() => {} }
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_lease_passes_to_the_other_manager() {
    let server = TestCluster::shared().unwrap();
    let lease = "released-lease";
    let ((_, leader), (follower_id, follower)) = elect(server, lease, 6, 2).await;
    assert_stable_leader(&leader, &follower).await;

    // Dropping the receiver makes the leader's task release the lease and exit.
    let (rx, task) = leader;
    drop(rx);
    task.await.unwrap().unwrap();
    eventually(WAIT, "the follower to take over", || async {
        (*follower.0.borrow()).then_some(())
    })
    .await;
    assert_eq!(holder(server, lease).await, Some(follower_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_lease_passes_to_the_other_manager() {
    let server = TestCluster::shared().unwrap();
    let lease = "expired-lease";
    let ((_, leader), (follower_id, follower)) = elect(server, lease, 2, 1).await;

    // The leader dies without releasing: the lease expires and the follower takes it.
    leader.1.abort();
    let _ = leader.1.await;
    eventually(WAIT, "the follower to take over", || async {
        (*follower.0.borrow()).then_some(())
    })
    .await;
    assert_eq!(holder(server, lease).await, Some(follower_id));
}
