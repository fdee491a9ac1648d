//! The NodeENI CRD: the committed YAML matches what the code generates, the real
//! kube-apiserver accepts it as users install it (`kubectl apply`), every sample is
//! admitted, and every validation rule (OpenAPI constraints and CEL rules, evaluated by
//! the server's cel-go) rejects what it should with its own message. Objects are sent
//! with server-side dry-run, so tests sharing the cluster leave nothing behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_multi_eni_controller::actors::settings::STARTUP_TAINT_KEY;
use aws_multi_eni_controller::k8s::node::ENIS_READY;
use aws_multi_eni_controller::k8s::{NodeENI, crd::crd_yaml};
use eni_testkit::cluster::TestCluster;
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

const CRD_FILE: &str = "deploy/crds/networking.k8s.aws_nodeenis.yaml";
const CHART_CRD_FILE: &str =
    "charts/aws-multi-eni-controller/files/crds/networking.k8s.aws_nodeenis.yaml";
const ENINODE_CRD_FILE: &str = "deploy/crds/networking.k8s.aws_eninodes.yaml";
const CHART_ENINODE_CRD_FILE: &str =
    "charts/aws-multi-eni-controller/files/crds/networking.k8s.aws_eninodes.yaml";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The shared cluster with the committed CRD installed.
async fn cluster() -> &'static TestCluster {
    let cluster = TestCluster::shared().expect("test cluster");
    cluster
        .install_crd(&repo(CRD_FILE))
        .await
        .expect("the real server accepts the committed CRD");
    cluster
}

/// NodeENIs as the server sends them, before our types parse them.
async fn raw_api() -> Api<DynamicObject> {
    let client = cluster().await.client().await.expect("client");
    let resource = ApiResource {
        group: "networking.k8s.aws".into(),
        version: "v1alpha1".into(),
        api_version: "networking.k8s.aws/v1alpha1".into(),
        kind: "NodeENI".into(),
        plural: "nodeenis".into(),
    };
    Api::all_with(client, &resource)
}

/// Creates `object` with server-side dry-run: the admitted object, or the server's
/// message.
async fn admit(object: &Value) -> Result<Value, String> {
    let api = raw_api().await;
    let object: DynamicObject = serde_json::from_value(object.clone()).expect("object");
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    match api.create(&dry_run, &object).await {
        Ok(admitted) => Ok(serde_json::to_value(admitted).expect("serialises")),
        Err(kube::Error::Api(status)) => Err(status.message),
        Err(e) => panic!("the server did not answer: {e}"),
    }
}

#[test]
fn committed_crds_match_the_generated_ones() {
    let nodeeni = crd_yaml().expect("CRD serialises");
    let eninode = aws_multi_eni_controller::k8s::eninode::crd_yaml().expect("CRD serialises");
    for (file, generated, kind) in [
        (CRD_FILE, &nodeeni, "nodeeni"),
        (CHART_CRD_FILE, &nodeeni, "nodeeni"),
        (ENINODE_CRD_FILE, &eninode, "eninode"),
        (CHART_ENINODE_CRD_FILE, &eninode, "eninode"),
    ] {
        assert!(
            read(file) == *generated,
            "{file} is stale: regenerate it with `cargo run --bin eni-controller -- crd --kind {kind} > {file}`"
        );
    }
}

fn crd_command(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_eni-controller"))
        .arg("crd")
        .args(args)
        .output()
        .expect("eni-controller runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn crd_subcommand_prints_the_committed_crds() {
    assert_eq!(crd_command(&["--kind", "nodeeni"]), read(CRD_FILE));
    assert_eq!(crd_command(&["--kind", "eninode"]), read(ENINODE_CRD_FILE));
    assert_eq!(
        crd_command(&[]),
        format!("{}---\n{}", read(CRD_FILE), read(ENINODE_CRD_FILE))
    );
}

/// The real server takes the ENINode CRD, and merges two managers' entries by eniID as
/// server-side apply promises: each NodeENI's apply leaves the other's entries alone,
/// and an apply without an entry withdraws it.
#[tokio::test]
async fn eninode_entries_of_two_managers_merge_and_withdraw() {
    use aws_multi_eni_controller::k8s::eninode::{ENINode, field_manager};
    use kube::api::{Patch, PatchParams};
    let cluster = cluster().await;
    cluster
        .install_crd(&repo(ENINODE_CRD_FILE))
        .await
        .expect("the real server accepts the ENINode CRD");
    let api: Api<ENINode> = Api::all(cluster.client().await.unwrap());
    let apply = |manager: &str, entries: Value| {
        let api = api.clone();
        let params = PatchParams::apply(&field_manager(manager)).force();
        let object = json!({
            "apiVersion": "networking.k8s.aws/v1alpha1", "kind": "ENINode",
            "metadata": {"name": "crd-merge-node"}, "spec": {"interfaces": entries},
        });
        async move {
            api.patch("crd-merge-node", &params, &Patch::Apply(&object))
                .await
                .unwrap()
        }
    };
    let entry = |eni: &str, nodeeni: &str| {
        json!({"eniID": eni, "macAddress": "02:00:00:00:00:01",
        "nodeENI": nodeeni, "subnetID": "subnet-12345678", "deviceIndex": 1, "mtu": 9001})
    };
    apply("multus", json!([entry("eni-a", "multus")])).await;
    apply("storage", json!([entry("eni-b", "storage")])).await;
    let ids = |o: ENINode| {
        o.spec
            .interfaces
            .into_iter()
            .map(|i| i.eni_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(api.get("crd-merge-node").await.unwrap()),
        ["eni-a", "eni-b"]
    );
    apply("multus", json!([])).await;
    assert_eq!(ids(api.get("crd-merge-node").await.unwrap()), ["eni-b"]);
    api.delete("crd-merge-node", &Default::default())
        .await
        .unwrap();
}

/// node-readiness-controller's rule (its CRD is not installed here, and the rule is not
/// among the NodeENI samples a user applies): it gates on the controller's condition and
/// the chart's default taint.
#[test]
fn the_node_readiness_rule_gates_on_the_controllers_condition() {
    let text = std::fs::read_to_string(repo("deploy/node-readiness/enis-ready-rule.yaml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).expect("YAML");
    assert_eq!(doc["kind"], "NodeReadinessRule");
    let spec = &doc["spec"];
    assert_eq!(spec["conditions"][0]["type"], ENIS_READY);
    assert_eq!(spec["conditions"][0]["requiredStatus"], "True");
    assert_eq!(spec["taint"]["key"], STARTUP_TAINT_KEY);
    assert_eq!(spec["enforcementMode"], "bootstrap-only");
}

#[tokio::test]
async fn every_sample_is_admitted_and_parses() {
    let mut seen = 0;
    for entry in std::fs::read_dir(repo("deploy/samples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("sample is YAML");
        for doc in docs {
            let admitted = admit(&doc)
                .await
                .unwrap_or_else(|e| panic!("{} rejected: {e:?}", path.display()));
            let parsed: NodeENI = serde_json::from_value(admitted)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            assert!(!parsed.spec.node_selector.is_empty());
            seen += 1;
        }
    }
    assert!(seen >= 5, "expected the samples, found {seen}");
}

fn base() -> Value {
    json!({
        "apiVersion": "networking.k8s.aws/v1alpha1",
        "kind": "NodeENI",
        "metadata": {"name": "t"},
        "spec": {
            "nodeSelector": {"ng": "multi-eni"},
            "subnetID": "subnet-0f59b4f14737be9ad",
            "securityGroupIDs": ["sg-05da196f3314d4af8"]
        }
    })
}

fn with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut v = base();
    edit(v["spec"].as_object_mut().unwrap());
    v
}

#[tokio::test]
async fn defaults_are_applied_like_the_go_crd() {
    let admitted = admit(&base()).await.expect("base object is valid");
    let spec = &admitted["spec"];
    assert_eq!(spec["deviceIndex"], 1);
    assert_eq!(spec["deleteOnTermination"], true);
    assert_eq!(spec["mtu"], 0);
    assert_eq!(spec["networkCardIndex"], 0);
    assert_eq!(
        spec.get("sourceDestCheck"),
        None,
        "unset: the ENI's check is left alone"
    );
    assert_eq!(
        spec.get("secondaryIPv4Count"),
        None,
        "unset: addresses left alone"
    );
}

#[tokio::test]
async fn each_rule_rejects_with_its_message() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "no subnet source",
            with(|s| {
                s.remove("subnetID");
            }),
            "at least one of subnetID, subnetIDs, subnetName or subnetNames must be set",
        ),
        (
            "empty subnet lists",
            with(|s| {
                s.remove("subnetID");
                s.insert("subnetIDs".into(), json!([]));
                s.insert("subnetNames".into(), json!([]));
            }),
            "at least one of subnetID, subnetIDs, subnetName or subnetNames must be set",
        ),
        (
            "no security group source",
            with(|s| {
                s.remove("securityGroupIDs");
            }),
            "at least one of securityGroupIDs or securityGroupNames must be set",
        ),
        (
            "empty node selector",
            with(|s| {
                s.insert("nodeSelector".into(), json!({}));
            }),
            "nodeSelector must name at least one label",
        ),
        (
            "missing node selector",
            with(|s| {
                s.remove("nodeSelector");
            }),
            "spec.nodeSelector: Required value",
        ),
        (
            "device index 0",
            with(|s| {
                s.insert("deviceIndex".into(), json!(0));
            }),
            "greater than or equal to 1",
        ),
        (
            "mtu too small",
            with(|s| {
                s.insert("mtu".into(), json!(575));
            }),
            "mtu must be 0",
        ),
        (
            "mtu too large",
            with(|s| {
                s.insert("mtu".into(), json!(9002));
            }),
            "mtu must be 0",
        ),
        (
            "malformed subnet ID",
            with(|s| {
                s.insert("subnetID".into(), json!("sn-123"));
            }),
            "should match '^subnet-",
        ),
        (
            "malformed subnet ID in list",
            with(|s| {
                s.insert(
                    "subnetIDs".into(),
                    json!(["subnet-0f59b4f14737be9ad", "subnet-XYZ"]),
                );
            }),
            "spec.subnetIDs[1]",
        ),
        (
            "malformed security group ID",
            with(|s| {
                s.insert("securityGroupIDs".into(), json!(["group-1"]));
            }),
            "should match '^sg-",
        ),
        (
            "card index too large",
            with(|s| {
                s.insert("networkCardIndex".into(), json!(32));
            }),
            "less than or equal to 31",
        ),
        (
            "card index negative",
            with(|s| {
                s.insert("networkCardIndex".into(), json!(-1));
            }),
            "greater than or equal to 0",
        ),
        (
            "a tag key of the controller's",
            with(|s| {
                s.insert(
                    "tags".into(),
                    json!({"CostCenter": "1", "networking.k8s.aws/cluster": "other"}),
                );
            }),
            "are the controller's own tags and cannot be set",
        ),
        (
            "the Name tag",
            with(|s| {
                s.insert("tags".into(), json!({"Name": "mine"}));
            }),
            "are the controller's own tags and cannot be set",
        ),
        (
            "an aws: tag key",
            with(|s| {
                s.insert("tags".into(), json!({"AWS:createdBy": "me"}));
            }),
            "reserved by AWS",
        ),
        (
            "an empty tag key",
            with(|s| {
                s.insert("tags".into(), json!({"": "x"}));
            }),
            "tags: a key is 1 to 128 characters",
        ),
        (
            "another manager's tag key",
            with(|s| {
                s.insert(
                    "tags".into(),
                    json!({"kubernetes.io/cluster/prod": "owned"}),
                );
            }),
            "mark other managers' ENIs",
        ),
        (
            "a tag value too long",
            with(|s| {
                s.insert("tags".into(), json!({"CostCenter": "v".repeat(257)}));
            }),
            "tags: a value is at most 256 characters",
        ),
        (
            "too many tags",
            with(|s| {
                let many: serde_json::Map<String, Value> =
                    (0..31).map(|i| (format!("k{i}"), json!("v"))).collect();
                s.insert("tags".into(), Value::Object(many));
            }),
            "spec.tags: Too many",
        ),
        (
            "too many secondary addresses",
            with(|s| {
                s.insert("secondaryIPv4Count".into(), json!(50));
            }),
            "less than or equal to 49",
        ),
        (
            "negative secondary addresses",
            with(|s| {
                s.insert("secondaryIPv4Count".into(), json!(-1));
            }),
            "greater than or equal to 0",
        ),
        (
            "more addresses and prefixes than any type takes",
            with(|s| {
                s.insert("secondaryIPv4Count".into(), json!(25));
                s.insert("ipv4PrefixCount".into(), json!(25));
            }),
            "secondaryIPv4Count + ipv4PrefixCount must be at most 49",
        ),
        (
            "more IPv6 addresses and prefixes than any type takes",
            with(|s| {
                s.insert("ipv6AddressCount".into(), json!(30));
                s.insert("ipv6PrefixCount".into(), json!(21));
            }),
            "ipv6AddressCount + ipv6PrefixCount must be at most 50",
        ),
        (
            "too many IPv6 addresses",
            with(|s| {
                s.insert("ipv6AddressCount".into(), json!(51));
            }),
            "less than or equal to 50",
        ),
        (
            "negative prefixes",
            with(|s| {
                s.insert("ipv4PrefixCount".into(), json!(-1));
            }),
            "greater than or equal to 0",
        ),
        (
            "ENA Express for UDP alone",
            with(|s| {
                s.insert("enaSrd".into(), json!({"udpEnabled": true}));
            }),
            "enaSrd.udpEnabled needs enaSrd.enabled",
        ),
        (
            "no ENA queue",
            with(|s| {
                s.insert("enaQueueCount".into(), json!(0));
            }),
            "enaQueueCount must be between 1 and 32",
        ),
        (
            "more ENA queues than any type takes",
            with(|s| {
                s.insert("enaQueueCount".into(), json!(33));
            }),
            "enaQueueCount must be between 1 and 32",
        ),
        (
            "a TCP timeout under a minute",
            with(|s| {
                s.insert(
                    "connectionTracking".into(),
                    json!({"tcpEstablishedTimeout": 59}),
                );
            }),
            "connectionTracking.tcpEstablishedTimeout must be between 60 and 432000 seconds",
        ),
        (
            "a UDP stream timeout over three minutes",
            with(|s| {
                s.insert(
                    "connectionTracking".into(),
                    json!({"udpStreamTimeout": 181}),
                );
            }),
            "connectionTracking.udpStreamTimeout must be between 60 and 180 seconds",
        ),
        (
            "a UDP timeout under 30 s",
            with(|s| {
                s.insert("connectionTracking".into(), json!({"udpTimeout": 29}));
            }),
            "connectionTracking.udpTimeout must be between 30 and 60 seconds",
        ),
        (
            "mtu as a string",
            with(|s| {
                s.insert("mtu".into(), json!("9001"));
            }),
            "must be of type integer",
        ),
    ];
    for (name, object, expected) in cases {
        let message = admit(&object).await.expect_err(name);
        assert!(
            message.contains(expected),
            "{name}: expected an error containing {expected:?}, got {message:?}"
        );
    }
}

#[tokio::test]
async fn boundary_values_are_accepted() {
    let thirty: serde_json::Map<String, Value> = (0..30)
        .map(|i| (format!("{}{i}", "k".repeat(126)), json!("v".repeat(256))))
        .collect();
    admit(&with(|s| {
        s.insert("tags".into(), Value::Object(thirty));
    }))
    .await
    .expect("30 tags with 128-character keys and 256-character values");
    for (srd, queues) in [
        (json!({"enabled": true}), 1),
        (json!({"enabled": true, "udpEnabled": true}), 32),
        (json!({"enabled": false}), 8),
    ] {
        let admitted = admit(&with(|s| {
            s.insert("enaSrd".into(), srd.clone());
            s.insert("enaQueueCount".into(), json!(queues));
        }))
        .await
        .unwrap_or_else(|e| panic!("{srd} {queues}: {e}"));
        let parsed: NodeENI = serde_json::from_value(admitted).unwrap();
        assert_eq!(
            parsed.spec.ena_srd.map(|s| s.enabled),
            srd["enabled"].as_bool()
        );
        assert_eq!(parsed.spec.ena_queue_count, Some(queues));
    }
    admit(&with(|s| {
        s.insert("secondaryIPv4Count".into(), json!(24));
        s.insert("ipv4PrefixCount".into(), json!(25));
    }))
    .await
    .expect("24 addresses and 25 prefixes: 50 with the primary");
    admit(&with(|s| {
        s.insert("ipv6AddressCount".into(), json!(25));
        s.insert("ipv6PrefixCount".into(), json!(25));
    }))
    .await
    .expect("25 IPv6 addresses and 25 /80 prefixes");
    for timeouts in [
        json!({"tcpEstablishedTimeout": 60, "udpStreamTimeout": 60, "udpTimeout": 30}),
        json!({"tcpEstablishedTimeout": 432000, "udpStreamTimeout": 180, "udpTimeout": 60}),
        json!({}),
    ] {
        admit(&with(|s| {
            s.insert("connectionTracking".into(), timeouts.clone());
        }))
        .await
        .unwrap_or_else(|e| panic!("{timeouts}: {e}"));
    }
    for mtu in [0, 576, 1500, 9001] {
        admit(&with(|s| {
            s.insert("mtu".into(), json!(mtu));
        }))
        .await
        .unwrap_or_else(|e| panic!("mtu {mtu}: {e:?}"));
    }
    for (field, value) in [
        ("subnetNames", json!(["multus"])),
        ("subnetName", json!("multus")),
        ("securityGroupNames", json!(["multus"])),
        ("networkCardIndex", json!(31)),
        ("deviceIndex", json!(63)),
        ("subnetID", json!("subnet-0123abcd")),
    ] {
        let obj = with(|s| {
            s.insert(field.into(), value.clone());
        });
        admit(&obj)
            .await
            .unwrap_or_else(|e| panic!("{field}={value}: {e:?}"));
    }
    // Names alone are enough sources.
    let names_only = with(|s| {
        s.remove("subnetID");
        s.remove("securityGroupIDs");
        s.insert("subnetNames".into(), json!(["a"]));
        s.insert("securityGroupNames".into(), json!(["b"]));
    });
    admit(&names_only).await.expect("names only");
}

#[tokio::test]
async fn status_carries_the_go_field_names() {
    let status = json!({
        "observedGeneration": 3,
        "desiredCount": 1,
        "readyCount": 1,
        "failedCount": 0,
        "unlistedCount": 0,
        "attachments": [{
            "nodeID": "ip-10-0-1-5", "instanceID": "i-0123456789abcdef0", "eniID": "eni-1",
            "attachmentID": "eni-attach-1", "subnetID": "subnet-0123abcd", "subnetCIDR": "10.0.1.0/24",
            "mtu": 9001, "deviceIndex": 1, "status": "attached", "macAddress": "02:00:00:00:00:01",
            "networkCardIndex": 0, "lastUpdated": "2026-01-01T00:00:00Z"
        }],
        "conditions": [{"type": "Ready", "status": "True", "reason": "AllAttached", "message": "1/1",
                        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 3}]
    });
    let api = raw_api().await;
    let name = "crd-status-fields";
    let _ = api.delete(name, &Default::default()).await;
    let mut obj = base();
    obj["metadata"]["name"] = json!(name);
    let created: DynamicObject = serde_json::from_value(obj).unwrap();
    api.create(&PostParams::default(), &created).await.unwrap();
    let patched = api
        .patch_status(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({ "status": status })),
        )
        .await
        .expect("status is valid");
    api.delete(name, &Default::default()).await.unwrap();
    let patched = serde_json::to_value(patched).unwrap();
    assert_eq!(patched["status"], status, "no status field is pruned");
    let parsed: NodeENI = serde_json::from_value(patched).unwrap();
    let st = parsed.status.unwrap();
    assert_eq!(st.attachments[0].eni_id, "eni-1");
    assert_eq!(st.attachments[0].mac_address, "02:00:00:00:00:01");
}

/// What a NodeENI's update is answered: the admitted spec, or the server's message.
async fn update(name: &str, spec: Value) -> Result<(), String> {
    let api = raw_api().await;
    let patch = json!({"spec": spec});
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(patch),
    )
    .await
    .map(|_| ())
    .map_err(|e| match e {
        kube::Error::Api(s) => s.message,
        other => panic!("the server did not answer: {other}"),
    })
}

#[tokio::test]
async fn enable_dpdk_and_its_driver_cannot_change_on_a_nodeeni() {
    const REFUSED: &str = "enableDPDK and dpdkDriver cannot change";
    let api = raw_api().await;
    for (name, dpdk) in [("crd-dpdk-off", false), ("crd-dpdk-on", true)] {
        let _ = api.delete(name, &Default::default()).await;
        let mut obj = with(|s| {
            if dpdk {
                s.insert("enableDPDK".into(), json!(true));
            }
        });
        obj["metadata"]["name"] = json!(name);
        let created: DynamicObject = serde_json::from_value(obj).unwrap();
        api.create(&PostParams::default(), &created).await.unwrap();
    }
    // Turned on, or off: refused (a device would be rebound or left bound).
    let on = update("crd-dpdk-off", json!({"enableDPDK": true})).await;
    assert!(on.as_ref().is_err_and(|m| m.contains(REFUSED)), "{on:?}");
    let off = update("crd-dpdk-on", json!({"enableDPDK": false})).await;
    assert!(off.as_ref().is_err_and(|m| m.contains(REFUSED)), "{off:?}");
    let driver = update("crd-dpdk-on", json!({"dpdkDriver": "igb_uio"})).await;
    assert!(
        driver.as_ref().is_err_and(|m| m.contains(REFUSED)),
        "{driver:?}"
    );
    // Anything else still changes; `enableDPDK: false` written out is no change.
    update(
        "crd-dpdk-on",
        json!({"mtu": 9001, "dpdkResourceName": "intel.com/sriov_dpdk"}),
    )
    .await
    .expect("other fields change");
    update("crd-dpdk-off", json!({"enableDPDK": false, "mtu": 1500}))
        .await
        .expect("false written out is what it was");
    for name in ["crd-dpdk-off", "crd-dpdk-on"] {
        api.delete(name, &Default::default()).await.unwrap();
    }
}
