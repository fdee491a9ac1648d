//! docs/migrating-from-go.md, every command block in order, over the two ways the Go
//! controller is installed: its Helm chart (the CRD from the chart's `crds/`) and
//! `kubectl apply` of its manifests. Then its rollback.

use std::path::Path;

use super::{NAMESPACE, RELEASE, Tools, repo, sh_blocks, start};

const GO_FINALIZER: &str = "nodeeni.networking.k8s.aws/finalizer";

/// The Go controller's two workloads as its chart and manifests name them (images are
/// never pulled: the test cluster has no kubelet).
fn go_workloads(namespace: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: eni-controller
  namespace: {namespace}
  labels: {{app: eni-controller}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: eni-controller}}}}
  template:
    metadata: {{labels: {{app: eni-controller}}}}
    spec:
      containers:
      - name: manager
        image: ghcr.io/johnlam90/aws-multi-eni-controller:v1.3.8
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: eni-manager
  namespace: {namespace}
  labels: {{app: eni-manager}}
spec:
  selector: {{matchLabels: {{app: eni-manager}}}}
  template:
    metadata: {{labels: {{app: eni-manager}}}}
    spec:
      hostNetwork: true
      containers:
      - name: eni-manager
        image: ghcr.io/johnlam90/aws-multi-eni-controller:v1.3.8
"
    )
}

/// A Go-era NodeENI, with the Go controller's finalizer.
const GO_NODEENI: &str = "apiVersion: networking.k8s.aws/v1alpha1
kind: NodeENI
metadata:
  name: multus
  finalizers: [nodeeni.networking.k8s.aws/finalizer]
spec:
  nodeSelector:
    ng: multi-eni
  subnetNames: [multus-a, multus-b, multus-c]
  securityGroupIDs: [sg-0123456789abcdef0]
  deviceIndex: 1
  mtu: 9001
";

/// The Go chart as far as the switch-over sees it: its CRD in `crds/`, its workloads.
fn go_chart(dir: &Path) {
    std::fs::create_dir_all(dir.join("crds")).unwrap();
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: aws-multi-eni-controller\nversion: 1.3.8\nappVersion: v1.3.8\n",
    )
    .unwrap();
    std::fs::copy(
        repo("tests/fixtures/go-controller/nodeenis-crd.yaml"),
        dir.join("crds/networking.k8s.aws_nodeenis_crd.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/workloads.yaml"),
        go_workloads("{{ .Release.Namespace }}"),
    )
    .unwrap();
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum GoInstall {
    Helm,
    Manifests,
}

fn run_the_guide(how: GoInstall) {
    let cluster = start();
    let tools = Tools::new(&cluster);
    let chart = cluster.dir().join("go-chart");
    let manifests = cluster.dir().join("go-controller.yaml");
    go_chart(&chart);
    std::fs::write(&manifests, go_workloads(NAMESPACE)).unwrap();
    match how {
        GoInstall::Helm => {
            tools.helm_ok(&[
                "install",
                RELEASE,
                chart.to_str().unwrap(),
                "-n",
                NAMESPACE,
                "--create-namespace",
            ]);
        }
        GoInstall::Manifests => {
            tools.kubectl(&["create", "namespace", NAMESPACE]);
            let crd = repo("tests/fixtures/go-controller/nodeenis-crd.yaml");
            tools.kubectl(&["apply", "-f", crd.to_str().unwrap()]);
            tools.kubectl(&["apply", "-f", manifests.to_str().unwrap()]);
        }
    }
    tools.kubectl(&[
        "wait",
        "--for=condition=Established",
        "crd/nodeenis.networking.k8s.aws",
    ]);
    tools.kubectl_stdin(&["apply", "-f", "-"], GO_NODEENI);
    tools.kubectl(&[
        "patch",
        "neni",
        "multus",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"attachments":[{"nodeID":"node-a","instanceID":"i-0123456789abcdef0","eniID":"eni-0123456789abcdef0","attachmentID":"eni-attach-0123456789abcdef0","subnetID":"subnet-0123456789abcdef0","subnetCIDR":"10.1.0.0/24","mtu":9001,"deviceIndex":1,"status":"attached"}]}}"#,
    ]);

    let guide = std::fs::read_to_string(repo("docs/migrating-from-go.md")).unwrap();
    let blocks = sh_blocks(&guide, None);
    let variables = format!(
        "GO_RELEASE={RELEASE}\nGO_NAMESPACE={NAMESPACE}\nGO_CHART={}\nGO_VERSION=1.3.8\nGO_MANIFESTS={}\nNAMESPACE={NAMESPACE}\nCLUSTER_NAME=my-eks-cluster\nROLE_ARN=arn:aws:iam::111122223333:role/aws-multi-eni-controller\n",
        chart.display(),
        manifests.display()
    );
    let wanted = |comment: &Option<String>| match comment.as_deref() {
        Some("go: helm") => how == GoInstall::Helm,
        Some("go: manifests") => how == GoInstall::Manifests,
        _ => true,
    };
    let runs: Vec<&String> = blocks
        .iter()
        .filter(|(c, _)| !c.as_deref().is_some_and(|c| c.starts_with("variables")))
        .filter(|(c, _)| wanted(c))
        .map(|(_, b)| b)
        .collect();
    assert!(
        blocks
            .iter()
            .any(|(c, _)| c.as_deref().is_some_and(|c| c.starts_with("variables"))),
        "the guide sets its variables in one block"
    );
    // Stop, check, take over, install, verify; then the rollback.
    let rollback_at = runs
        .iter()
        .position(|b| b.starts_with("helm uninstall aws-multi-eni-controller"))
        .expect("the rollback block");
    for block in &runs[..rollback_at] {
        tools.sh(&format!("{variables}{block}"));
    }

    // Installed, owning the CRDs, which are this project's; the Go workloads gone; the
    // NodeENI as it was.
    let status = tools.helm_ok(&["status", RELEASE, "-n", NAMESPACE]);
    assert!(status.contains("STATUS: deployed"), "{status}");
    let crd = tools.kubectl(&["get", "crd", "nodeenis.networking.k8s.aws", "-o", "json"]);
    assert!(crd.contains("x-kubernetes-validations") && crd.contains("\"conditions\""));
    assert!(crd.contains("\"meta.helm.sh/release-name\": \"aws-multi-eni-controller\""));
    assert!(!crd.contains("kubectl-client-side-apply"), "no other owner");
    assert!(!crd.contains("last-applied-configuration"));
    let workloads = tools.kubectl(&["-n", NAMESPACE, "get", "deployment,daemonset", "-o", "name"]);
    assert!(
        !workloads.contains("/eni-controller\n") && !workloads.contains("/eni-manager\n"),
        "{workloads}"
    );
    let nodeeni = tools.kubectl(&["get", "neni", "multus", "-o", "json"]);
    assert!(nodeeni.contains(GO_FINALIZER) && nodeeni.contains("eni-0123456789abcdef0"));

    // A later chart version's CRD change upgrades: nothing else owns a field of it.
    tools.upgrade(
        "charts/aws-multi-eni-controller",
        Some("additionalLabels.team=net"),
    );
    let labels = tools.kubectl(&[
        "get",
        "crd",
        "nodeenis.networking.k8s.aws",
        "-o",
        "jsonpath={.metadata.labels.team}",
    ]);
    assert_eq!(labels, "net");

    // As if this controller had run: its finalizer beside the Go one, a tag set.
    tools.kubectl(&[
        "patch",
        "neni",
        "multus",
        "--type=merge",
        "-p",
        &format!(
            r#"{{"metadata":{{"finalizers":["{GO_FINALIZER}","{}"]}},"spec":{{"tags":{{"CostCenter":"1234"}}}}}}"#,
            aws_multi_eni_controller::k8s::FINALIZER
        ),
    ]);
    for block in &runs[rollback_at..] {
        tools.sh(&format!("{variables}{block}"));
    }
    let finalizers = tools.kubectl(&[
        "get",
        "neni",
        "multus",
        "-o",
        "jsonpath={.metadata.finalizers}",
    ]);
    assert_eq!(finalizers, format!("[\"{GO_FINALIZER}\"]"));
    let nodeeni = tools.kubectl(&["get", "neni", "multus", "-o", "json"]);
    assert!(
        nodeeni.contains("CostCenter"),
        "the CRD stayed this project's: {nodeeni}"
    );
    let workloads = tools.kubectl(&["-n", NAMESPACE, "get", "deployment,daemonset", "-o", "name"]);
    assert!(
        workloads.contains("deployment.apps/eni-controller")
            && workloads.contains("daemonset.apps/eni-manager"),
        "the Go controller is back: {workloads}"
    );
}

#[test]
fn the_migration_guide_over_a_go_controller_installed_with_helm() {
    run_the_guide(GoInstall::Helm);
}

#[test]
fn the_migration_guide_over_a_go_controller_installed_with_kubectl_apply() {
    run_the_guide(GoInstall::Manifests);
}
