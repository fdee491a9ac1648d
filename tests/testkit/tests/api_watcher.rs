//! kube-runtime's `watcher` converging on the server's state across injected faults
//! (dropped watches, 410s, 500s, 429s), and many concurrent watchers.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use eni_testkit::apiserver::TestApiServer;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, ListParams, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_watchers_see_every_object() {
    let server = TestApiServer::start().await.unwrap();
    let client = server.client().unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    const WATCHERS: usize = 40;
    const OBJECTS: usize = 2000;
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let stream = nodes
            .watch(&WatchParams::default(), "0")
            .await
            .unwrap()
            .boxed();
        watchers.push(tokio::spawn(async move {
            let mut stream = stream;
            let mut added = 0;
            while added < OBJECTS {
                if let WatchEvent::Added(_) = next_event(&mut stream).await {
                    added += 1;
                }
            }
            added
        }));
    }
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let nodes = nodes.clone();
            tokio::spawn(async move {
                for i in 0..OBJECTS / 4 {
                    nodes
                        .create(&PostParams::default(), &node(&format!("w{w}-{i}"), &[]))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    for w in watchers {
        assert_eq!(w.await.unwrap(), OBJECTS);
    }
}

/// Name → resourceVersion of every node on the server.
async fn server_state(nodes: &Api<Node>) -> BTreeMap<String, String> {
    nodes
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| {
            (
                n.metadata.name.unwrap(),
                n.metadata.resource_version.unwrap(),
            )
        })
        .collect()
}

async fn watcher_converges_across_faults(config: watcher::Config) {
    let server = TestApiServer::start().await.unwrap();
    let client = server.client().unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    let faults = server.faults();
    let (reader, writer) = reflector::store::<Node>();
    let stream = reflector(writer, watcher(nodes.clone(), config).default_backoff());
    // Count the errors the watcher reports, to check each fault really reached it.
    let errors = Arc::new(AtomicUsize::new(0));
    let seen = errors.clone();
    let task = tokio::spawn(stream.for_each(move |r| {
        if r.is_err() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        async {}
    }));
    reader.wait_until_ready().await.unwrap();

    let observed = || {
        reader
            .state()
            .iter()
            .map(|n| {
                (
                    n.metadata.name.clone().unwrap(),
                    n.metadata.resource_version.clone().unwrap(),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let converge = |what: &'static str| {
        let nodes = nodes.clone();
        async move {
            eventually(WAIT, what, || {
                let nodes = nodes.clone();
                async move {
                    let want = server_state(&nodes).await;
                    (observed() == want).then_some(())
                }
            })
            .await
        }
    };
    let wait_faults_consumed = || async {
        eventually(WAIT, "faults consumed", || async {
            (faults.pending() == (0, 0)).then_some(())
        })
        .await
    };
    let pp = PostParams::default();
    for i in 0..20 {
        nodes
            .create(&pp, &node(&format!("n{i}"), &[]))
            .await
            .unwrap();
    }
    converge("initial objects").await;

    faults.drop_watches();
    for i in 0..10 {
        nodes
            .patch(
                &format!("n{i}"),
                &PatchParams::default(),
                &labels("dropped"),
            )
            .await
            .unwrap();
    }
    converge("changes across a dropped watch").await;

    let before = errors.load(Ordering::SeqCst);
    faults.expire_resource_versions();
    faults.drop_watches();
    for i in 10..15 {
        nodes
            .delete(&format!("n{i}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    converge("changes across 410 Gone").await;
    assert!(
        errors.load(Ordering::SeqCst) > before,
        "the watcher saw the 410"
    );
    let before = errors.load(Ordering::SeqCst);

    faults.fail_next(3);
    faults.drop_watches();
    wait_faults_consumed().await;
    for i in 20..25 {
        nodes
            .create(&pp, &node(&format!("n{i}"), &[]))
            .await
            .unwrap();
    }
    converge("changes across 500s").await;
    assert!(
        errors.load(Ordering::SeqCst) > before,
        "the watcher saw the 500s"
    );

    faults.throttle_next(2);
    faults.drop_watches();
    wait_faults_consumed().await;
    for i in 0..5 {
        nodes
            .patch(
                &format!("n{i}"),
                &PatchParams::default(),
                &labels("throttled"),
            )
            .await
            .unwrap();
    }
    nodes.delete("n20", &DeleteParams::default()).await.unwrap();
    converge("changes across 429s").await;
    task.abort();
}

#[tokio::test]
async fn watcher_list_watch_survives_faults() {
    watcher_converges_across_faults(watcher::Config::default()).await;
}

#[tokio::test]
async fn watcher_paginated_list_watch_survives_faults() {
    watcher_converges_across_faults(watcher::Config::default().page_size(3)).await;
}

#[tokio::test]
async fn watcher_streaming_list_survives_faults() {
    watcher_converges_across_faults(watcher::Config::default().streaming_lists()).await;
}

#[tokio::test]
async fn watcher_sees_custom_resources() {
    let server = TestApiServer::start().await.unwrap();
    let client = server.client().unwrap();
    let nenis = install_crd(&client).await;
    let stream = watcher::watcher(nenis.clone(), watcher::Config::default()).applied_objects();
    let mut stream = stream.boxed();
    nenis
        .create(&PostParams::default(), &nodeeni("a"))
        .await
        .unwrap();
    let first = tokio::time::timeout(WAIT, stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.metadata.name.as_deref(), Some("a"));
    assert_eq!(first.data["spec"]["deviceIndex"], 1);
}

#[tokio::test]
async fn metadata_watcher_sees_objects() {
    let server = TestApiServer::start().await.unwrap();
    let client = server.client().unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    let metas: Api<kube::core::PartialObjectMeta<Node>> = Api::all(client);
    let mut stream = watcher(metas, watcher::Config::default())
        .applied_objects()
        .boxed();
    nodes
        .create(&PostParams::default(), &node("a", &[("ng", "multi-eni")]))
        .await
        .unwrap();
    let first = tokio::time::timeout(WAIT, stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.metadata.name.as_deref(), Some("a"));
    assert_eq!(first.metadata.labels.unwrap()["ng"], "multi-eni");
}
