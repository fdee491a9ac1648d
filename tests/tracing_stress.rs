//! A stress run for the tracing layer: many slots through panics and restarts, under the
//! production JSON log format at debug level (spans on every actor's work), on a
//! multi-threaded runtime. An earlier version of the actors held span guards across
//! `.await`, and tracing-subscriber panicked ("tried to clone a span that already
//! closed") about one run in seven. Every panic that is not the simulator's injected
//! one fails this test, and the rollout must converge with no duplicate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

#[path = "controller/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_multi_eni_controller::aws::Ec2Action;
use aws_multi_eni_controller::aws::sim::{Fault, ScriptedFault, SimConfig};

use harness::{World, settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_slots_restarting_under_json_logs_never_panic_in_tracing() {
    // The production JSON format (as `telemetry::init_tracing` builds it), at debug
    // level, written nowhere: the formatting and span bookkeeping run in full.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_target(true)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(std::io::sink)
        .try_init()
        .unwrap();
    let others = Arc::new(AtomicU32::new(0));
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (count, keep) = (others.clone(), seen.clone());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info.to_string();
        if !text.contains("injected panic") {
            count.fetch_add(1, Ordering::SeqCst);
            keep.lock().unwrap().push(text);
        }
        previous(info);
    }));

    for round in 0..3u64 {
        let mut w = World::new(
            SimConfig {
                seed: round + 1,
                ..SimConfig::default()
            },
            2,
        );
        w.add_nodes(40, &[("ng", "multi-eni")]);
        for (i, action) in [
            Ec2Action::AttachNetworkInterface,
            Ec2Action::CreateNetworkInterface,
            Ec2Action::ModifyNetworkInterfaceAttribute,
        ]
        .into_iter()
        .enumerate()
        {
            for nth in [3, 11, 29, 47] {
                w.sim.script_fault(ScriptedFault {
                    nth_mutating: nth + i as u64,
                    action: Some(action),
                    fault: Fault::Panic,
                });
            }
        }
        w.apply("multus", w.spec(2));
        let c = w.start(settings()).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while w.ready_count("multus") != Some((80, 80)) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: not converged: {:?}",
                w.ready_count("multus")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(w.owned().len(), 80, "round {round}: no duplicate");
        assert!(
            w.sim.count(None, Some("transient")) >= 12,
            "round {round}: the panics were injected"
        );
        c.stop().await;
    }
    assert_eq!(
        others.load(Ordering::SeqCst),
        0,
        "panics other than the injected ones: {:?}",
        seen.lock().unwrap()
    );
}
