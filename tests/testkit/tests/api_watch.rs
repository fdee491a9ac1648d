//! Raw watches on the test API server: resumption, bookmarks, `410 Gone`, timeouts,
//! streaming lists, selector semantics, and cutting off a watcher that falls behind.

mod common;

use std::time::Duration;

use common::*;
use eni_testkit::apiserver::{ServerConfig, TestApiServer};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, VersionMatch, WatchEvent,
    WatchParams,
};
use serde_json::json;

#[tokio::test]
async fn watch_resumes_from_a_resource_version() {
    let server = TestApiServer::start().await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    let pp = PostParams::default();
    let a = nodes.create(&pp, &node("a", &[])).await.unwrap();
    let from = a.metadata.resource_version.unwrap();
    nodes.create(&pp, &node("b", &[])).await.unwrap();
    nodes
        .patch("a", &PatchParams::default(), &labels("x"))
        .await
        .unwrap();
    nodes.delete("b", &DeleteParams::default()).await.unwrap();

    let mut stream = nodes
        .watch(&WatchParams::default(), &from)
        .await
        .unwrap()
        .boxed();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(next_change(&mut stream).await);
    }
    let want = [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
        .map(|(k, n)| (k.to_string(), n.to_string()));
    assert_eq!(seen, want);
    // And it goes on with live changes.
    nodes.create(&pp, &node("c", &[])).await.unwrap();
    assert_eq!(next_change(&mut stream).await, ("ADDED".into(), "c".into()));
}

#[tokio::test]
async fn bookmarks_carry_progress() {
    let config = ServerConfig {
        bookmark_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let server = TestApiServer::start_with(config).await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    let created = nodes
        .create(&PostParams::default(), &node("a", &[]))
        .await
        .unwrap();
    let rv = created.metadata.resource_version.unwrap();
    let mut stream = nodes
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    loop {
        if let WatchEvent::Bookmark(b) = next_event(&mut stream).await {
            let at: u64 = b.metadata.resource_version.parse().unwrap();
            assert!(at >= rv.parse().unwrap());
            break;
        }
    }
}

#[tokio::test]
async fn expired_resource_versions_answer_gone() {
    let server = TestApiServer::start().await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    let old = nodes
        .create(&PostParams::default(), &node("a", &[]))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    nodes
        .create(&PostParams::default(), &node("b", &[]))
        .await
        .unwrap();
    server.faults().expire_resource_versions();

    let mut stream = nodes
        .watch(&WatchParams::default(), &old)
        .await
        .unwrap()
        .boxed();
    match next_event(&mut stream).await {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410, got {other:?}"),
    }
    let exact = ListParams::default().at(&old).matching(VersionMatch::Exact);
    assert_eq!(api_err(nodes.list(&exact).await).0, 410);
    // Lists from "any" version and watches from the current one still work.
    let list = nodes.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 2);
    let mut stream = nodes
        .watch(
            &WatchParams::default(),
            &list.metadata.resource_version.unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    nodes
        .create(&PostParams::default(), &node("c", &[]))
        .await
        .unwrap();
    assert_eq!(next_change(&mut stream).await, ("ADDED".into(), "c".into()));
}

#[tokio::test]
async fn history_limit_expires_old_versions() {
    let config = ServerConfig {
        history: 5,
        ..Default::default()
    };
    let server = TestApiServer::start_with(config).await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    let old = nodes
        .create(&PostParams::default(), &node("a", &[]))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    for i in 0..10 {
        nodes
            .patch("a", &PatchParams::default(), &labels(&i.to_string()))
            .await
            .unwrap();
    }
    let mut stream = nodes
        .watch(&WatchParams::default(), &old)
        .await
        .unwrap()
        .boxed();
    assert!(matches!(next_event(&mut stream).await, WatchEvent::Error(e) if e.code == 410));
}

#[tokio::test]
async fn timeout_seconds_ends_the_watch() {
    let server = TestApiServer::start().await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    let wp = WatchParams::default().timeout(1).disable_bookmarks();
    let mut stream = nodes.watch(&wp, "0").await.unwrap().boxed();
    let end = tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("the watch ends in time");
    assert!(end.is_none());
}

#[tokio::test]
async fn streaming_list_sends_every_object_then_the_end_bookmark() {
    let server = TestApiServer::start().await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    for n in ["a", "b", "c"] {
        nodes
            .create(&PostParams::default(), &node(n, &[]))
            .await
            .unwrap();
    }
    let mut stream = nodes
        .watch(&WatchParams::streaming_lists(), "0")
        .await
        .unwrap()
        .boxed();
    let mut added = Vec::new();
    loop {
        match next_event(&mut stream).await {
            WatchEvent::Added(n) => added.push(n.metadata.name.unwrap()),
            WatchEvent::Bookmark(b) => {
                if b.metadata
                    .annotations
                    .get("k8s.io/initial-events-end")
                    .map(String::as_str)
                    == Some("true")
                {
                    break;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(added, ["a", "b", "c"]);
    nodes
        .create(&PostParams::default(), &node("d", &[]))
        .await
        .unwrap();
    assert_eq!(next_change(&mut stream).await, ("ADDED".into(), "d".into()));
}

#[tokio::test]
async fn selector_watches_see_objects_enter_and_leave() {
    let server = TestApiServer::start().await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    nodes
        .create(&PostParams::default(), &node("a", &[("ng", "multi-eni")]))
        .await
        .unwrap();
    let wp = WatchParams::default().labels("ng=multi-eni");
    let mut stream = nodes.watch(&wp, "0").await.unwrap().boxed();
    assert_eq!(next_change(&mut stream).await, ("ADDED".into(), "a".into()));
    nodes
        .create(&PostParams::default(), &node("other", &[("ng", "x")]))
        .await
        .unwrap();
    nodes
        .patch("a", &PatchParams::default(), &labels("x"))
        .await
        .unwrap();
    assert_eq!(
        next_change(&mut stream).await,
        ("DELETED".into(), "a".into())
    );
    nodes
        .patch("other", &PatchParams::default(), &labels("multi-eni"))
        .await
        .unwrap();
    assert_eq!(
        next_change(&mut stream).await,
        ("ADDED".into(), "other".into())
    );
    nodes
        .patch(
            "other",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"k": "v"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        next_change(&mut stream).await,
        ("MODIFIED".into(), "other".into())
    );
}

#[tokio::test]
async fn a_watcher_that_falls_behind_is_cut_off_with_gone() {
    let config = ServerConfig {
        watch_buffer: 16,
        ..Default::default()
    };
    let server = TestApiServer::start_with(config).await.unwrap();
    let nodes: Api<Node> = Api::all(server.client().unwrap());
    let wp = WatchParams::default().disable_bookmarks();
    let mut stream = nodes.watch(&wp, "0").await.unwrap().boxed();
    // Big objects, so the socket buffers cannot hide the backlog.
    let filler = "x".repeat(64 * 1024);
    for i in 0..600 {
        let mut n = node(&format!("n{i}"), &[]);
        n.metadata.annotations = Some([("filler".to_string(), filler.clone())].into());
        nodes.create(&PostParams::default(), &n).await.unwrap();
    }
    loop {
        match next_event(&mut stream).await {
            WatchEvent::Error(e) => {
                assert_eq!(e.code, 410);
                break;
            }
            WatchEvent::Added(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
