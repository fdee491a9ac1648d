//! Throttling buckets, attachment transitions, placement rules, tokens, termination.

use std::time::Duration;

use aws_multi_eni_controller::aws::sim::SimConfig;
use aws_multi_eni_controller::aws::{
    AttachmentStatus, BucketTable, Ec2, Ec2Action, EniFilter, EniStatus, InstanceState,
    describe_eni, describe_instance,
};

use super::{attach, create, quiet, world};

#[tokio::test(start_paused = true)]
async fn buckets_throttle_at_the_published_rates() {
    let w = world(quiet());
    let mut ok = 0;
    for i in 0..101 {
        if w.sim
            .create_eni(create(&w, &w.subnet_a, &format!("t{i}")))
            .await
            .is_ok()
        {
            ok += 1;
        }
    }
    assert_eq!(ok, 100, "CreateNetworkInterface bursts 100");
    assert_eq!(
        w.sim
            .count(Some(Ec2Action::CreateNetworkInterface), Some("throttled")),
        1
    );
    let err = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "x"))
        .await
        .unwrap_err();
    assert!(err.is_throttle(), "{err}");
    tokio::time::advance(Duration::from_secs(2)).await;
    let mut refilled = 0;
    for i in 0..20 {
        if w.sim
            .create_eni(create(&w, &w.subnet_a, &format!("r{i}")))
            .await
            .is_ok()
        {
            refilled += 1;
        }
    }
    assert_eq!(refilled, 10, "2 s at 5/s");
    // Other actions have their own buckets and are unaffected.
    assert!(
        w.sim
            .describe_enis(&EniFilter::default(), None)
            .await
            .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn bucket_overrides_apply() {
    let buckets = BucketTable::default()
        .with_overrides("CreateNetworkInterface=3/1")
        .unwrap();
    let w = world(SimConfig { buckets, ..quiet() });
    let results: Vec<bool> = {
        let mut v = Vec::new();
        for i in 0..4 {
            v.push(
                w.sim
                    .create_eni(create(&w, &w.subnet_a, &format!("o{i}")))
                    .await
                    .is_ok(),
            );
        }
        v
    };
    assert_eq!(results, vec![true, true, true, false]);
}

#[tokio::test(start_paused = true)]
async fn attachments_pass_through_transient_states() {
    let w = world(quiet());
    let inst = w.sim.launch_instance("m5.large", &w.subnet_a.id).unwrap();
    let eni = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "a"))
        .await
        .unwrap();
    let att = w
        .sim
        .attach_eni(attach(&eni.id, &inst.id, 1, 0))
        .await
        .unwrap();
    let e = describe_eni(&w.sim, &eni.id).await.unwrap().unwrap();
    assert_eq!(e.status, EniStatus::Attaching);
    assert_eq!(
        e.attachment.as_ref().unwrap().status,
        AttachmentStatus::Attaching
    );
    tokio::time::advance(w.sim.config().attach_delay).await;
    let e = describe_eni(&w.sim, &eni.id).await.unwrap().unwrap();
    assert_eq!(e.status, EniStatus::InUse);
    assert_eq!(
        e.attachment.as_ref().unwrap().status,
        AttachmentStatus::Attached
    );

    w.sim
        .set_delete_on_termination(&eni.id, &att, true)
        .await
        .unwrap();
    assert!(
        describe_eni(&w.sim, &eni.id)
            .await
            .unwrap()
            .unwrap()
            .attachment
            .unwrap()
            .delete_on_termination
    );

    w.sim.detach_eni(&att, false).await.unwrap();
    assert_eq!(
        describe_eni(&w.sim, &eni.id).await.unwrap().unwrap().status,
        EniStatus::Detaching
    );
    let err = w.sim.delete_eni(&eni.id).await.unwrap_err();
    assert_eq!(err.label(), "conflict", "deleting while detaching: {err}");
    // Detaching again is harmless.
    w.sim.detach_eni(&att, false).await.unwrap();
    tokio::time::advance(w.sim.config().detach_delay).await;
    assert_eq!(
        describe_eni(&w.sim, &eni.id).await.unwrap().unwrap().status,
        EniStatus::Available
    );
    let err = w.sim.detach_eni(&att, false).await.unwrap_err();
    assert_eq!(err.label(), "not_found");
    w.sim.delete_eni(&eni.id).await.unwrap();
    assert_eq!(describe_eni(&w.sim, &eni.id).await.unwrap(), None);
    assert_eq!(
        w.sim.delete_eni(&eni.id).await.unwrap_err().label(),
        "not_found"
    );
}

#[tokio::test(start_paused = true)]
async fn placement_rules_match_ec2() {
    let w = world(quiet());
    let inst = w.sim.launch_instance("m5.large", &w.subnet_a.id).unwrap();
    assert_eq!(inst.interfaces.len(), 1, "primary ENI");
    let e1 = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "1"))
        .await
        .unwrap();
    let e2 = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "2"))
        .await
        .unwrap();
    let e3 = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "3"))
        .await
        .unwrap();
    let other_zone = w
        .sim
        .create_eni(create(&w, &w.subnet_b, "b"))
        .await
        .unwrap();

    let err = w
        .sim
        .attach_eni(attach(&other_zone.id, &inst.id, 1, 0))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "invalid_parameter", "{err}");

    w.sim
        .attach_eni(attach(&e1.id, &inst.id, 1, 0))
        .await
        .unwrap();
    // Still attaching, yet the index is taken.
    let err = w
        .sim
        .attach_eni(attach(&e2.id, &inst.id, 1, 0))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "device_index_in_use", "{err}");
    let err = w
        .sim
        .attach_eni(attach(&e1.id, &inst.id, 2, 0))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "conflict", "already attached: {err}");
    w.sim
        .attach_eni(attach(&e2.id, &inst.id, 2, 0))
        .await
        .unwrap();
    let err = w
        .sim
        .attach_eni(attach(&e3.id, &inst.id, 3, 0))
        .await
        .unwrap_err();
    assert_eq!(
        err.label(),
        "attachment_limit_exceeded",
        "m5.large takes 3: {err}"
    );
    let err = w
        .sim
        .attach_eni(attach(&e3.id, &inst.id, 3, 1))
        .await
        .unwrap_err();
    assert_eq!(
        err.label(),
        "invalid_parameter",
        "m5.large has one card: {err}"
    );
    let err = w
        .sim
        .attach_eni(attach(&e3.id, "i-00000000000000000", 1, 0))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "not_found");

    let primary = &inst.interfaces[0];
    let err = w
        .sim
        .detach_eni(&primary.attachment_id, true)
        .await
        .unwrap_err();
    assert_eq!(
        err.label(),
        "invalid_parameter",
        "the primary cannot be detached: {err}"
    );

    let big = w
        .sim
        .launch_instance("c6in.32xlarge", &w.subnet_a.id)
        .unwrap();
    let limits = w
        .sim
        .describe_instance_type_limits("c6in.32xlarge")
        .await
        .unwrap();
    assert_eq!(limits.card(1), Some(8));
    w.sim
        .attach_eni(attach(&e3.id, &big.id, 1, 1))
        .await
        .unwrap();
    let view = describe_instance(&w.sim, &big.id).await.unwrap();
    assert!(
        view.interfaces
            .iter()
            .any(|i| i.eni_id == e3.id && i.network_card_index == 1)
    );
    assert_eq!(
        w.sim
            .describe_instance_type_limits("x9.huge")
            .await
            .unwrap_err()
            .label(),
        "invalid_parameter"
    );
}

#[tokio::test(start_paused = true)]
async fn client_tokens_are_idempotent() {
    let w = world(quiet());
    let first = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "tok"))
        .await
        .unwrap();
    let again = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "tok"))
        .await
        .unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(w.sim.enis().len(), 1);
    let mut changed = create(&w, &w.subnet_a, "tok");
    changed.description = "other".into();
    let err = w.sim.create_eni(changed).await.unwrap_err();
    assert_eq!(err.label(), "idempotent_parameter_mismatch");
    // After the ENI is gone, the token still answers with it: a new ENI needs a new token.
    w.sim.delete_eni(&first.id).await.unwrap();
    let stale = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "tok"))
        .await
        .unwrap();
    assert_eq!(stale.id, first.id);
    assert_eq!(describe_eni(&w.sim, &stale.id).await.unwrap(), None);
    assert!(w.sim.enis().is_empty());
}

#[tokio::test(start_paused = true)]
async fn termination_honours_delete_on_termination() {
    let w = world(quiet());
    let inst = w.sim.launch_instance("m5.xlarge", &w.subnet_a.id).unwrap();
    let keep = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "keep"))
        .await
        .unwrap();
    let drop = w
        .sim
        .create_eni(create(&w, &w.subnet_a, "drop"))
        .await
        .unwrap();
    w.sim
        .attach_eni(attach(&keep.id, &inst.id, 1, 0))
        .await
        .unwrap();
    let att = w
        .sim
        .attach_eni(attach(&drop.id, &inst.id, 2, 0))
        .await
        .unwrap();
    w.sim
        .set_delete_on_termination(&drop.id, &att, true)
        .await
        .unwrap();
    w.sim.terminate_instance(&inst.id).unwrap();
    let left: Vec<String> = w.sim.enis().into_iter().map(|e| e.id).collect();
    assert_eq!(
        left,
        vec![keep.id.clone()],
        "primary and deleteOnTermination ENI are gone"
    );
    assert_eq!(
        describe_eni(&w.sim, &keep.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        EniStatus::Available
    );
    assert_eq!(
        describe_instance(&w.sim, &inst.id).await.unwrap().state,
        InstanceState::Terminated
    );
}
