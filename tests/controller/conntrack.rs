//! Connection tracking timeouts: given with the create (no extra call), changed on
//! attached ENIs with one modify each when the spec changes, and never asked again for
//! the same ENI and timeouts.

use std::time::Duration;

use aws_multi_eni_controller::aws::Ec2Action;
use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::k8s::ConnectionTrackingSpec;
use aws_multi_eni_controller::plan::attributes::ConnectionTracking;

use super::harness::{World, eventually, settings};

const LABEL: &[(&str, &str)] = &[("ng", "multi-eni")];

fn modifies(w: &World) -> u64 {
    w.sim
        .count(Some(Ec2Action::ModifyNetworkInterfaceAttribute), None)
}

#[tokio::test(start_paused = true)]
async fn timeouts_go_with_the_create_and_follow_a_change() {
    let mut w = World::new(SimConfig::default(), 1);
    w.add_nodes(2, LABEL);
    let mut spec = w.spec(1);
    spec.connection_tracking = Some(ConnectionTrackingSpec {
        tcp_established_timeout: Some(3600),
        ..Default::default()
    });
    w.apply("multus", spec.clone());
    let controller = w.start(settings()).await;
    w.until_ready("multus", 2).await;
    let first = ConnectionTracking {
        tcp_established: Some(3600),
        udp_stream: None,
        udp: None,
    };
    for eni in w.owned() {
        assert_eq!(eni.connection_tracking, Some(first), "{}", eni.id);
    }
    assert_eq!(
        modifies(&w),
        2,
        "deleteOnTermination only: the timeouts came with the create"
    );

    spec.connection_tracking = Some(ConnectionTrackingSpec {
        tcp_established_timeout: Some(7200),
        udp_timeout: Some(45),
        ..Default::default()
    });
    w.apply("multus", spec);
    let second = ConnectionTracking {
        tcp_established: Some(7200),
        udp_stream: None,
        udp: Some(45),
    };
    eventually("changed on both", Duration::from_secs(120), || {
        w.owned()
            .iter()
            .all(|e| e.connection_tracking == Some(second))
    })
    .await;
    assert_eq!(modifies(&w), 4, "one modify per ENI");
    tokio::time::sleep(Duration::from_secs(1800)).await;
    assert_eq!(modifies(&w), 4, "nothing more once it shows");
    controller.stop().await;
}
