use super::*;

#[test]
fn provider_ids_parse() {
    assert_eq!(
        parse_provider_id("aws:///us-east-1a/i-0123456789abcdef0"),
        Some((Some("us-east-1a".into()), "i-0123456789abcdef0".into()))
    );
    assert_eq!(
        parse_provider_id("aws://us-west-2b/i-1"),
        Some((Some("us-west-2b".into()), "i-1".into()))
    );
    assert_eq!(parse_provider_id("aws:///i-1"), Some((None, "i-1".into())));
    assert_eq!(parse_provider_id("gce://p/z/n"), None);
    assert_eq!(parse_provider_id("aws:///us-east-1a/fargate-ip-1"), None);
    assert_eq!(parse_provider_id("aws:///us-east-1a/i-not-hex"), None);
    assert_eq!(parse_provider_id("aws:///us-east-1a/i-"), None);
    assert_eq!(
        parse_provider_id("aws:///us-east-1a/i-0123456789abcdef01"),
        None,
        "18 digits"
    );
}

#[test]
fn slim_node_ignores_status_and_reads_zone() {
    let json = serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n1", "uid": "u1",
                     "annotations": {"networking.k8s.aws/eni-links": "{\"02:AA:00:00:00:01\":{\"configured\":true}}"},
                     "labels": {"ng": "multi-eni", "topology.kubernetes.io/zone": "us-east-1b"},
                     "managedFields": [{"manager": "kubelet"}]},
        "spec": {"providerID": "aws:///us-east-1a/i-0abc", "podCIDR": "10.0.0.0/24"},
        "status": {"images": [{"names": ["x"], "sizeBytes": 1}], "capacity": {"cpu": "2"}}
    });
    let slim: SlimNode = serde_json::from_value(json).unwrap();
    let v = NodeView::from_slim(slim);
    assert_eq!(v.instance_id.as_deref(), Some("i-0abc"));
    assert_eq!(
        v.zone.as_deref(),
        Some("us-east-1a"),
        "the provider ID wins"
    );
    assert!(!v.deleting);
    assert_eq!(v.labels.get("ng").map(String::as_str), Some("multi-eni"));
    assert!(
        v.configured_macs.is_empty(),
        "the agent reports on the ENINode, not the Node"
    );
}

#[test]
fn slim_metadata_keeps_what_watches_need_and_nothing_else() {
    let json = serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n1", "uid": "u1", "resourceVersion": "42",
                     "deletionTimestamp": "2026-11-23T10:00:00Z",
                     "annotations": {"networking.k8s.aws/eni-links": "{}",
                                     "node.alpha.kubernetes.io/ttl": "0"},
                     "labels": {"ng": "multi-eni"},
                     "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}]}
    });
    let slim: SlimNode = serde_json::from_value(json).unwrap();
    let m = &slim.metadata;
    assert_eq!(
        m.resource_version.as_deref(),
        Some("42"),
        "watch resumption"
    );
    assert!(m.deletion_timestamp.is_some());
    assert_eq!(m.managed_fields, None);
    assert_eq!(m.annotations, None, "no annotation is kept");
    assert!(NodeView::from_slim(slim).deleting);
}

#[test]
fn slim_node_keeps_the_taints_in_order_and_only_our_condition() {
    let json = serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n1", "uid": "u1"},
        "spec": {"providerID": "aws:///us-east-1a/i-0abc", "taints": [
            {"key": "a", "effect": "NoExecute", "value": "x", "timeAdded": "2026-01-01T00:00:00Z"},
            {"key": "networking.k8s.aws/enis-not-ready", "effect": "NoSchedule"}
        ]},
        "status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"},
            {"type": "networking.k8s.aws/ENIsReady", "status": "False", "reason": "ENIsPending", "message": "waiting"}
        ]}
    });
    let v = NodeView::from_slim(serde_json::from_value(json).unwrap());
    let keys: Vec<&str> = v.taints.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, ["a", "networking.k8s.aws/enis-not-ready"]);
    assert_eq!(
        v.enis_ready,
        Some(NodeCondition {
            ready: false,
            reason: "ENIsPending".into(),
            message: "waiting".into()
        })
    );
    let bare = serde_json::json!({"metadata": {"name": "n2"}, "status": {}});
    let v = NodeView::from_slim(serde_json::from_value(bare).unwrap());
    assert!(v.taints.is_empty() && v.enis_ready.is_none());
}
