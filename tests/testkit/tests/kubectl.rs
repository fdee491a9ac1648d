//! `kubectl` of the cluster's own version against the real kube-apiserver, as a user
//! drives it: installing the CRD, applying the samples, printing with the CRD's columns,
//! labelling a node, patching status, deleting, and a rejected NodeENI showing the CEL
//! rules' messages. It counts every NodeENI, so it has a cluster of its own.

mod common;

use std::process::Output;

use common::repo;
use eni_testkit::cluster::TestCluster;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::DynamicObject;

fn kubectl(server: &TestCluster, args: &[&str], stdin: Option<&str>) -> Output {
    server
        .run_kubectl(args, stdin)
        .expect("kubectl runs (scripts/kube-bins.sh builds it)")
}

/// Runs kubectl off the async runtime and expects success; answers stdout.
async fn ok(server: &TestCluster, args: &[&str], stdin: Option<&str>) -> String {
    let out = tokio::task::block_in_place(|| kubectl(server, args, stdin));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        !stderr.contains("error"),
        "kubectl {args:?} complained:\n{stderr}"
    );
    stdout.into_owned()
}

const NODE: &str = "apiVersion: v1
kind: Node
metadata:
  name: ip-10-0-1-10.ec2.internal
  labels:
    node.kubernetes.io/instance-type: m5.large
spec:
  providerID: aws:///us-east-1a/i-0123456789abcdef0
";

const BAD: &str = "apiVersion: networking.k8s.aws/v1alpha1
kind: NodeENI
metadata:
  name: bad
spec:
  nodeSelector:
    ng: multi-eni
  securityGroupIDs: [sg-05da196f3314d4af8]
  mtu: 100
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_manages_nodeenis_end_to_end() {
    let server = tokio::task::spawn_blocking(TestCluster::start)
        .await
        .unwrap()
        .expect("test cluster");
    let client = server.client().await.unwrap();
    let crd = repo(common::CRD_FILE);
    let out = ok(&server, &["apply", "-f", crd.to_str().unwrap()], None).await;
    assert!(
        out.contains(
            "customresourcedefinition.apiextensions.k8s.io/nodeenis.networking.k8s.aws created"
        ),
        "{out}"
    );

    let mut samples: Vec<_> = std::fs::read_dir(repo("deploy/samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    samples.sort();
    let mut names = Vec::new();
    for path in &samples {
        let out = ok(&server, &["apply", "-f", path.to_str().unwrap()], None).await;
        for line in out.lines() {
            assert!(line.ends_with(" created"), "{out}");
            names.push(
                line.split_whitespace()
                    .next()
                    .unwrap()
                    .trim_start_matches("nodeeni.networking.k8s.aws/")
                    .to_string(),
            );
        }
    }
    // Applying again changes nothing.
    let again = ok(
        &server,
        &["apply", "-f", samples[0].to_str().unwrap()],
        None,
    )
    .await;
    assert!(again.contains("unchanged"), "{again}");

    let table = ok(&server, &["get", "neni"], None).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "DESIRED", "READY", "FAILED", "STATUS", "AGE"]
    );
    assert_eq!(table.lines().count(), names.len() + 1, "{table}");
    assert!(names.len() > samples.len(), "a sample holds two NodeENIs");

    let yaml = ok(
        &server,
        &["get", "neni", "multus-multi-subnet", "-o", "yaml"],
        None,
    )
    .await;
    let obj: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(obj["kind"], "NodeENI");
    assert_eq!(obj["spec"]["mtu"], 9001);
    assert_eq!(obj["spec"]["networkCardIndex"], 0, "defaulted");

    ok(&server, &["apply", "-f", "-"], Some(NODE)).await;
    ok(
        &server,
        &["label", "node", "ip-10-0-1-10.ec2.internal", "ng=multi-eni"],
        None,
    )
    .await;
    let node = Api::<Node>::all(client.clone())
        .get("ip-10-0-1-10.ec2.internal")
        .await
        .unwrap();
    assert_eq!(node.metadata.labels.unwrap()["ng"], "multi-eni");
    let nodes = ok(&server, &["get", "nodes"], None).await;
    let header: Vec<&str> = nodes.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "{nodes}"
    );
    let by_label = ok(
        &server,
        &["get", "nodes", "-l", "ng=multi-eni", "-o", "name"],
        None,
    )
    .await;
    assert_eq!(by_label.trim(), "node/ip-10-0-1-10.ec2.internal");

    let status = r#"{"status":{"desiredCount":2,"readyCount":1,"conditions":[{"type":"Ready","status":"False","reason":"Attaching","message":"1 of 2 attached","lastTransitionTime":"2025-01-01T00:00:00Z"}]}}"#;
    ok(
        &server,
        &[
            "patch",
            "neni",
            "multus-multi-subnet",
            "--subresource=status",
            "--type=merge",
            "-p",
            status,
        ],
        None,
    )
    .await;
    let row = ok(
        &server,
        &["get", "neni", "multus-multi-subnet", "--no-headers"],
        None,
    )
    .await;
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[..5],
        ["multus-multi-subnet", "2", "1", "0", "Attaching"],
        "{row}"
    );

    let deleted = ok(&server, &["delete", "neni", "efa-card-1"], None).await;
    assert!(deleted.contains("deleted"), "{deleted}");
    let nenis: Api<DynamicObject> = Api::all_with(client.clone(), &common::nodeeni_resource());
    assert!(nenis.get_opt("efa-card-1").await.unwrap().is_none());

    let out = tokio::task::block_in_place(|| kubectl(&server, &["apply", "-f", "-"], Some(BAD)));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(r#"The NodeENI "bad" is invalid"#),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("at least one of subnetID, subnetIDs, subnetName or subnetNames must be set"),
        "{stderr}"
    );
    assert!(
        stderr.contains("mtu must be 0 (leave the MTU alone) or between 576 and 9001"),
        "{stderr}"
    );
    assert!(nenis.get_opt("bad").await.unwrap().is_none());
    assert!(
        names.contains(&"data-plane-network".to_string()),
        "{names:?}"
    );

    // The README's query for one NodeENI's ENIs across the nodes' ENINodes.
    let eninode_crd = repo("deploy/crds/networking.k8s.aws_eninodes.yaml");
    ok(
        &server,
        &["apply", "-f", eninode_crd.to_str().unwrap()],
        None,
    )
    .await;
    ok(&server, &["apply", "-f", "-"], Some(ENINODES)).await;
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let query = readme
        .lines()
        .find_map(|l| l.strip_prefix("kubectl get eninodes -o jsonpath='"))
        .and_then(|l| l.strip_suffix('\''))
        .expect("the README's ENINode query");
    let jsonpath = format!("jsonpath={query}");
    let out = ok(&server, &["get", "eninodes", "-o", &jsonpath], None).await;
    assert_eq!(
        out,
        "ip-10-0-1-10.ec2.internal\teni-0aaaaaaaaaaaaaaa1\nip-10-0-1-11.ec2.internal\teni-0bbbbbbbbbbbbbbb1\n",
        "{out}"
    );
}

const ENINODES: &str = r#"
apiVersion: networking.k8s.aws/v1alpha1
kind: ENINode
metadata: {name: ip-10-0-1-10.ec2.internal}
spec:
  interfaces:
  - {eniID: eni-0aaaaaaaaaaaaaaa1, macAddress: "02:00:00:00:00:01", nodeENI: multus, subnetID: subnet-0a, deviceIndex: 1, networkCardIndex: 0, mtu: 9001}
  - {eniID: eni-0aaaaaaaaaaaaaaa2, macAddress: "02:00:00:00:00:02", nodeENI: storage, subnetID: subnet-0b, deviceIndex: 2, networkCardIndex: 0, mtu: 0}
---
apiVersion: networking.k8s.aws/v1alpha1
kind: ENINode
metadata: {name: ip-10-0-1-11.ec2.internal}
spec:
  interfaces:
  - {eniID: eni-0bbbbbbbbbbbbbbb1, macAddress: "02:00:00:00:00:03", nodeENI: multus, subnetID: subnet-0a, deviceIndex: 1, networkCardIndex: 0, mtu: 9001}
"#;
