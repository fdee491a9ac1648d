//! The Helm chart, rendered by Helm v4's own engine (PyPI `helm-python-sdk`, through
//! `scripts/render_chart.py`): `helm lint --strict`, renders for the defaults and for
//! non-default values, the values schema refusing wrong values, the rendered CRD equal to
//! the generated one, `deploy/manifests` equal to the default render, and what the chart
//! renders accepted by the real kube-apiserver (created for real, Pod Security levels
//! checked by the server's own admission).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use eni_testkit::cluster::TestCluster;
use serde_json::{Value, json};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The Python with helm-python-sdk: `$HELM_PYTHON`, else the README's test venv.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("HELM_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").expect("HOME");
    PathBuf::from(home).join(".cache/aws-multi-eni-controller/venv/bin/python")
}

/// Lints and renders the chart with `values` over the defaults: {template path: text},
/// or Helm's message.
fn render(values: Value) -> Result<BTreeMap<String, String>, String> {
    let out = Command::new(python())
        .arg(repo("scripts/render_chart.py"))
        .args(["--lint", "--json", "--set-json"])
        .arg(values.to_string())
        .output()
        .expect("python runs (scripts/test.sh makes the venv with helm-python-sdk)");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).expect("render_chart.py prints JSON"))
}

/// Every object the render holds, parsed.
fn objects(rendered: &BTreeMap<String, String>) -> Vec<Value> {
    rendered
        .iter()
        .filter(|(path, _)| !path.ends_with("NOTES.txt"))
        .flat_map(|(_, text)| serde_saphyr::from_multiple::<Value>(text).expect("YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn kinds(objects: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    k.sort();
    k
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}: {:?}", kinds(objects));
    found[0]
}

fn base() -> Value {
    json!({"clusterName": "chart-test"})
}

fn with(extra: Value) -> Value {
    let mut v = base();
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[test]
fn deploy_manifests_are_the_default_render() {
    let out = Command::new(python())
        .arg(repo("scripts/render_chart.py"))
        .arg("--values")
        .arg(repo("deploy/manifests/values.yaml"))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed =
        std::fs::read_to_string(repo("deploy/manifests/aws-multi-eni-controller.yaml")).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "deploy/manifests/aws-multi-eni-controller.yaml is stale: regenerate it with \
         scripts/render_chart.py --values deploy/manifests/values.yaml > deploy/manifests/aws-multi-eni-controller.yaml"
    );
}

#[test]
fn the_rendered_crd_is_the_generated_one_and_kept() {
    let objects = objects(&render(base()).unwrap());
    let crds: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .collect();
    assert_eq!(crds.len(), 2, "NodeENI and ENINode");
    for (generated, name) in [
        (
            aws_multi_eni_controller::k8s::crd::crd_yaml().unwrap(),
            "nodeenis.networking.k8s.aws",
        ),
        (
            aws_multi_eni_controller::k8s::eninode::crd_yaml().unwrap(),
            "eninodes.networking.k8s.aws",
        ),
    ] {
        let mut crd = (*crds.iter().find(|c| c["metadata"]["name"] == name).unwrap()).clone();
        assert_eq!(
            crd["metadata"]["annotations"]["helm.sh/resource-policy"],
            "keep"
        );
        let meta = crd["metadata"].as_object_mut().unwrap();
        meta.remove("labels");
        meta.remove("annotations");
        let generated: Value = serde_saphyr::from_str(&generated).unwrap();
        // Helm's toYaml writes `63.0` as `63`: the same number.
        assert!(
            numbers_as_floats(crd) == numbers_as_floats(generated),
            "the chart's CRD {name} differs from `eni-controller crd`: regenerate \
             charts/aws-multi-eni-controller/files/crds/ with `eni-controller crd --kind`"
        );
    }

    let unkept = objects_of(with(json!({"crds": {"keep": false}})));
    for crd in unkept
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
    {
        assert!(crd["metadata"]["annotations"].is_null());
    }
    let none = objects_of(with(json!({"crds": {"enabled": false}})));
    assert!(!kinds(&none).contains(&"CustomResourceDefinition".to_string()));
}

#[test]
fn the_defaults_render_both_components_and_no_monitoring() {
    let objects = objects(&render(base()).unwrap());
    let k = kinds(&objects);
    for kind in [
        "ClusterRole",
        "ClusterRoleBinding",
        "DaemonSet",
        "Deployment",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ] {
        assert!(k.contains(&kind.to_string()), "{kind} in {k:?}");
    }
    for kind in [
        "ServiceMonitor",
        "PodMonitor",
        "PrometheusRule",
        "ConfigMap",
    ] {
        assert!(!k.contains(&kind.to_string()), "{kind} is off by default");
    }
    let dep = one(&objects, "Deployment");
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["image"], "ghcr.io/aws-multi-eni-controller/aws-multi-eni-controller:0.1.0",
        "the tag defaults to the appVersion"
    );
    let env = c["env"].as_array().unwrap();
    assert!(env.contains(&json!({"name": "CLUSTER_NAME", "value": "chart-test"})));
}

#[test]
fn monitoring_renders_when_the_operator_api_is_there_or_not_required() {
    let on = json!({
        "serviceMonitor": {"enabled": true, "additionalLabels": {"release": "kps"}},
        "podMonitor": {"enabled": true, "additionalLabels": {"release": "kps"}},
        "prometheusRule": {"enabled": true, "additionalLabels": {"release": "kps"}},
        "dashboards": {"enabled": true, "namespace": "monitoring"}
    });
    // Helm's offline render sees no monitoring.coreos.com API: only the dashboard.
    let offline = objects(&render(with(json!({"monitoring": on.clone()}))).unwrap());
    let k = kinds(&offline);
    assert!(k.contains(&"ConfigMap".to_string()));
    assert!(!k.contains(&"ServiceMonitor".to_string()), "{k:?}");

    let mut monitoring = on;
    monitoring["requireOperatorAPI"] = json!(false);
    let objects = objects(&render(with(json!({ "monitoring": monitoring }))).unwrap());
    for kind in ["ServiceMonitor", "PodMonitor", "PrometheusRule"] {
        assert_eq!(one(&objects, kind)["metadata"]["labels"]["release"], "kps");
    }
    let pm = one(&objects, "PodMonitor");
    assert!(
        pm["spec"]["podMetricsEndpoints"][0]["relabelings"]
            .to_string()
            .contains("__meta_kubernetes_pod_node_name"),
        "the node name becomes a label"
    );
    let rule = one(&objects, "PrometheusRule");
    let alerts: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repo("charts/aws-multi-eni-controller/files/alerts.yaml"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        rule["spec"]["groups"], alerts["groups"],
        "the rules file, unchanged"
    );
    let cm = one(&objects, "ConfigMap");
    assert_eq!(cm["metadata"]["namespace"], "monitoring");
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    let dashboard: Value = serde_json::from_str(
        cm["data"]["aws-multi-eni-controller.json"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(dashboard["templating"]["list"][0]["name"], "datasource");

    // A mirror of the runbooks and another cluster label reach the rules and the dashboard.
    monitoring["prometheusRule"]["runbookBaseURL"] =
        json!("https://wiki.example.com/eni/runbooks/");
    monitoring["dashboards"]["clusterLabel"] = json!("k8s_cluster");
    let mirrored = self::objects(&render(with(json!({ "monitoring": monitoring }))).unwrap());
    let rule = one(&mirrored, "PrometheusRule");
    let rules: Vec<&Value> = rule["spec"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    for r in &rules {
        let name = r["alert"].as_str().unwrap().to_lowercase();
        assert_eq!(
            r["annotations"]["runbook_url"],
            format!("https://wiki.example.com/eni/runbooks#{name}")
        );
    }
    let text = one(&mirrored, "ConfigMap")["data"]["aws-multi-eni-controller.json"]
        .as_str()
        .unwrap()
        .to_string();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let mut filtered = 0;
    for p in dashboard["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap();
            assert!(
                expr.contains("k8s_cluster=~\"$cluster\"")
                    && !expr.replace("k8s_cluster=~", "").contains("cluster=~"),
                "{expr}"
            );
            filtered += 1;
        }
    }
    assert!(filtered > 30, "{filtered} queries");
    let cluster = &dashboard["templating"]["list"][1];
    assert_eq!(
        cluster["definition"],
        "label_values(aws_multi_eni_build_info, k8s_cluster)"
    );
}

#[test]
fn non_default_values_reach_the_objects() {
    let values = with(json!({
        "awsRegion": "eu-west-1",
        "eniTags": {"CostCenter": "1234", "team": "net"},
        "additionalLabels": {"team": "net"},
        "controller": {
            "replicas": 1,
            "image": {"tag": "1.2.3", "digest": format!("sha256:{}", "a".repeat(64))},
            "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/eni"}},
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
            "ec2RateLimits": "CreateNetworkInterface=20/2",
            "leaderElection": {"leaseName": "my-lease"}
        },
        "agent": {"metricsPort": 62000, "defaultMTU": 9001}
    }));
    let objects = objects(&render(values).unwrap());
    assert!(
        !kinds(&objects).contains(&"PodDisruptionBudget".to_string()),
        "no PDB with one replica"
    );
    assert!(
        objects
            .iter()
            .all(|o| o["metadata"]["labels"]["team"] == "net")
    );
    let dep = one(&objects, "Deployment");
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["image"],
        format!(
            "ghcr.io/aws-multi-eni-controller/aws-multi-eni-controller:1.2.3@sha256:{}",
            "a".repeat(64)
        )
    );
    assert_eq!(c["resources"]["requests"]["memory"], "1Gi");
    let env = c["env"].as_array().unwrap();
    for (name, value) in [
        ("AWS_REGION", "eu-west-1"),
        ("EC2_RATE_LIMITS", "CreateNetworkInterface=20/2"),
        ("LEADER_ELECTION_LEASE_NAME", "my-lease"),
        ("ENI_TAGS", r#"{"CostCenter":"1234","team":"net"}"#),
    ] {
        assert!(
            env.contains(&json!({"name": name, "value": value})),
            "{name}"
        );
    }
    let role = objects
        .iter()
        .find(|o| {
            o["kind"] == "Role"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("-leader-election"))
        })
        .expect("the Lease Role");
    assert!(role.to_string().contains("my-lease"));
    let sa = objects
        .iter()
        .find(|o| {
            o["kind"] == "ServiceAccount" && o["metadata"]["name"] == "aws-multi-eni-controller"
        })
        .expect("the controller's ServiceAccount");
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/eni"
    );
    let ds = one(&objects, "DaemonSet");
    let agent = &ds["spec"]["template"]["spec"]["containers"][0];
    assert!(
        agent["env"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "METRICS_ADDR", "value": "[::]:62000"}))
    );
    assert!(
        agent["env"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "DEFAULT_MTU", "value": "9001"}))
    );

    // Node readiness off: no Node writes, and no RBAC for them.
    let quiet = objects_of(with(json!({"nodeReadiness": {
        "startupTaint": {"key": ""}, "condition": false, "quietPeriod": "5m"
    }})));
    let env = one(&quiet, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"].clone();
    for (name, value) in [
        ("STARTUP_TAINT", ""),
        ("NODE_CONDITION", "false"),
        ("READINESS_QUIET", "5m"),
    ] {
        assert!(
            env.as_array()
                .unwrap()
                .contains(&json!({"name": name, "value": value})),
            "{name}"
        );
    }
    let role = quiet
        .iter()
        .find(|o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == "aws-multi-eni-controller")
        .expect("the controller's ClusterRole");
    let node_verbs: Vec<&Value> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == "nodes" || x == "nodes/status")
        })
        .flat_map(|r| r["verbs"].as_array().unwrap())
        .collect();
    assert_eq!(node_verbs, [&json!("get"), &json!("list"), &json!("watch")]);

    let without_agent = objects_of(with(json!({"agent": {"enabled": false}})));
    assert!(!kinds(&without_agent).contains(&"DaemonSet".to_string()));
    assert!(
        !without_agent
            .iter()
            .any(|o| o["metadata"]["name"] == "aws-multi-eni-controller-agent-own-node"),
        "the agent's policy goes with it"
    );
}

fn numbers_as_floats(v: Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.into_iter().map(numbers_as_floats).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| (k, numbers_as_floats(x)))
                .collect(),
        ),
        other => other,
    }
}

fn objects_of(values: Value) -> Vec<Value> {
    objects(&render(values).unwrap())
}

#[test]
fn wrong_values_are_refused_with_a_message() {
    let cases = [
        (json!({}), "clusterName is required"),
        (
            with(json!({"bogus": 1})),
            "additional properties 'bogus' not allowed",
        ),
        (with(json!({"controller": {"replicas": "two"}})), "replicas"),
        (
            with(json!({"controller": {"logFormat": "xml"}})),
            "logFormat",
        ),
        (
            with(json!({"controller": {"image": {"digest": "latest"}}})),
            "digest",
        ),
        (
            with(json!({"agent": {"metricsPort": 70000}})),
            "metricsPort",
        ),
        (
            with(json!({"controller": {"orphanGracePeriod": "five minutes"}})),
            "orphanGracePeriod",
        ),
        (
            with(json!({"monitoring": {"serviceMonitor": {"enabld": true}}})),
            "enabld",
        ),
        (
            with(
                json!({"monitoring": {"prometheusRule": {"runbookBaseURL": "docs/runbooks.md#x"}}}),
            ),
            "runbookBaseURL",
        ),
        (
            with(json!({"monitoring": {"dashboards": {"clusterLabel": "k8s-cluster"}}})),
            "clusterLabel",
        ),
        (
            with(json!({"eniTags": {"networking.k8s.aws/cluster": "other"}})),
            "eniTags",
        ),
        (with(json!({"eniTags": {"Name": "mine"}})), "eniTags"),
        (
            with(json!({"eniTags": {"eks:cluster-name": "x"}})),
            "eniTags",
        ),
        (with(json!({"eniTags": {"CostCenter": 1234}})), "eniTags"),
        (
            with(json!({"nodeReadiness": {"startupTaint": {"effect": "NoScheduel"}}})),
            "effect",
        ),
        (
            with(json!({"nodeReadiness": {"startupTaint": {"key": "bad key"}}})),
            "key",
        ),
        (
            with(json!({"nodeReadiness": {"quietPeriod": "soon"}})),
            "quietPeriod",
        ),
        // Two replicas (the default) without leader election would both act.
        (
            with(json!({"controller": {"leaderElection": {"enabled": false}}})),
            "replicas",
        ),
    ];
    for (values, expected) in cases {
        let refused = render(values.clone()).expect_err(&values.to_string());
        assert!(refused.contains(expected), "{values}: {refused}");
    }
    // One replica may run without.
    let single = with(json!({"controller": {"replicas": 1, "leaderElection": {"enabled": false}}}));
    let objects = objects_of(single);
    let env = &one(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "CONTROLLER_REPLICAS" && e["value"] == "1"),
        "{env}"
    );
}

fn kubectl_ok(cluster: &TestCluster, args: &[&str], stdin: Option<&str>) -> String {
    let out = cluster.run_kubectl(args, stdin).expect("kubectl runs");
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "kubectl {args:?}: {o}{e}");
    o + &e
}

/// What the controller's token may change on a Node beyond RBAC's verbs (the chart's
/// ValidatingAdmissionPolicy): remove the startup taint and write its own condition;
/// never labels, annotations, cordon, a new taint or the kubelet's conditions.
fn the_controllers_node_writes_are_only_its_taint_and_condition(cluster: &TestCluster, sa: &str) {
    let node = "node-writes";
    kubectl_ok(
        cluster,
        &["create", "-f", "-"],
        Some(
            &json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": node, "labels": {"ng": "multi-eni"}},
                "spec": {"taints": [
                    {"key": "networking.k8s.aws/enis-not-ready", "effect": "NoSchedule"},
                    {"key": "example.com/other", "effect": "NoExecute"}
                ]}
            })
            .to_string(),
        ),
    );
    kubectl_ok(
        cluster,
        &[
            "patch",
            "node",
            node,
            "--subresource=status",
            "--type=strategic",
            "-p",
            r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"ok"}]}}"#,
        ],
        None,
    );
    let as_controller = |args: &[&str]| {
        let mut all = vec!["--as", sa];
        all.extend_from_slice(args);
        let out = cluster.run_kubectl(&all, None).expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // (Status writes are tried with the controller's own client in tests/kube_adapter.rs:
    // kubectl reads nodes/status before patching it, which the controller may not.)
    let refused: [(&[&str], &str); 4] = [
        (
            &["label", "node", node, "team=net"],
            "labels or annotations",
        ),
        (&["annotate", "node", node, "a=b"], "labels or annotations"),
        (&["cordon", node], "cordon"),
        (
            &["taint", "node", node, "new=x:NoSchedule"],
            "never add one",
        ),
    ];
    // The policy is in force once the API server has loaded it: poll for the first
    // refusal, then every other is immediate.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (ok, err) = as_controller(refused[0].0);
        if !ok {
            assert!(err.contains(refused[0].1), "{err}");
            break;
        }
        kubectl_ok(cluster, &["label", "node", node, "team-"], None);
        assert!(
            std::time::Instant::now() < deadline,
            "the policy never took effect"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // (`kubectl cordon` exits 0 when the patch is refused: the message is what counts,
    // and the Node read back.)
    for (args, says) in &refused[1..] {
        let (_, err) = as_controller(args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let unschedulable = kubectl_ok(
        cluster,
        &["get", "node", node, "-o", "jsonpath={.spec.unschedulable}"],
        None,
    );
    assert_eq!(unschedulable.trim(), "", "not cordoned");
    let (ok, err) = as_controller(&[
        "taint",
        "node",
        node,
        "networking.k8s.aws/enis-not-ready:NoSchedule-",
    ]);
    assert!(ok, "{err}");
    let taints = kubectl_ok(
        cluster,
        &["get", "node", node, "-o", "jsonpath={.spec.taints[*].key}"],
        None,
    );
    assert!(
        taints.contains("example.com/other") && !taints.contains("enis-not-ready"),
        "{taints}"
    );
}

/// A Pod made from a workload's template, in `namespace`, as YAML.
fn pod_from(workload: &Value, name: &str, namespace: &str) -> String {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": workload["spec"]["template"]["spec"],
    });
    serde_json::to_string(&pod).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_api_server_accepts_the_chart_and_enforces_pod_security() {
    let cluster = tokio::task::spawn_blocking(TestCluster::start)
        .await
        .unwrap()
        .expect("test cluster");
    // The values of the chart README's install section.
    let rendered = render(json!({
        "clusterName": "my-eks-cluster",
        "controller": {"serviceAccount": {"annotations": {
            "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/aws-multi-eni-controller"
        }}}
    }))
    .unwrap();
    let text: String = rendered
        .iter()
        .filter(|(p, _)| !p.ends_with("NOTES.txt"))
        .map(|(_, t)| format!("---\n{t}\n"))
        .collect();
    kubectl_ok(
        &cluster,
        &["create", "namespace", "eni-controller-system"],
        None,
    );
    kubectl_ok(
        &cluster,
        &[
            "label",
            "namespace",
            "eni-controller-system",
            "pod-security.kubernetes.io/enforce=privileged",
        ],
        None,
    );
    // helm install: every object created for real.
    let created = kubectl_ok(
        &cluster,
        &["create", "-n", "eni-controller-system", "-f", "-"],
        Some(&text),
    );
    assert!(
        created.contains("daemonset.apps/aws-multi-eni-controller-agent created"),
        "{created}"
    );
    assert!(created.contains("validatingadmissionpolicy.admissionregistration.k8s.io/aws-multi-eni-controller-agent-own-node created"), "{created}");

    // The RBAC: what each ServiceAccount may do, and nothing beyond.
    let can = |user: &str, args: &[&str]| {
        let out = cluster
            .kubectl()
            .args(["auth", "can-i", "--as", user])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "yes"
    };
    let controller_sa = "system:serviceaccount:eni-controller-system:aws-multi-eni-controller";
    let agent_sa = "system:serviceaccount:eni-controller-system:aws-multi-eni-controller-agent";
    for (user, args, allowed) in [
        (controller_sa, &["watch", "nodes"][..], true),
        (
            controller_sa,
            &["patch", "nodeenis.networking.k8s.aws/status"][..],
            true,
        ),
        (
            controller_sa,
            &["create", "events.events.k8s.io", "-n", "default"][..],
            true,
        ),
        (
            controller_sa,
            &[
                "update",
                "lease/aws-multi-eni-controller-leader",
                "-n",
                "eni-controller-system",
            ][..],
            true,
        ),
        (
            controller_sa,
            &[
                "update",
                "lease/someone-elses",
                "-n",
                "eni-controller-system",
            ][..],
            false,
        ),
        // Nodes: the startup taint's removal and the ENIsReady condition (patches),
        // and nothing else.
        (controller_sa, &["patch", "nodes"][..], true),
        (
            controller_sa,
            &["patch", "nodes", "--subresource=status"][..],
            true,
        ),
        (controller_sa, &["update", "nodes"][..], false),
        (
            controller_sa,
            &["update", "nodes", "--subresource=status"][..],
            false,
        ),
        (controller_sa, &["create", "nodes"][..], false),
        (controller_sa, &["delete", "nodes"][..], false),
        (controller_sa, &["deletecollection", "nodes"][..], false),
        (
            controller_sa,
            &["get", "nodes", "--subresource=proxy"][..],
            false,
        ),
        (controller_sa, &["create", "pods/eviction", "-A"][..], false),
        (controller_sa, &["get", "secrets", "-A"][..], false),
        (
            controller_sa,
            &["create", "pods", "-n", "eni-controller-system"][..],
            false,
        ),
        (
            controller_sa,
            &["delete", "nodeenis.networking.k8s.aws"][..],
            false,
        ),
        (
            controller_sa,
            &["patch", "eninodes.networking.k8s.aws"][..],
            true,
        ),
        (
            agent_sa,
            &["watch", "eninodes.networking.k8s.aws"][..],
            true,
        ),
        (
            agent_sa,
            &[
                "patch",
                "eninodes.networking.k8s.aws",
                "--subresource=status",
            ][..],
            true,
        ),
        (
            agent_sa,
            &["patch", "eninodes.networking.k8s.aws"][..],
            false,
        ),
        (
            agent_sa,
            &["watch", "nodeenis.networking.k8s.aws"][..],
            false,
        ),
        (agent_sa, &["patch", "nodes"][..], false),
        (
            agent_sa,
            &["patch", "nodeenis.networking.k8s.aws/status"][..],
            false,
        ),
        (agent_sa, &["get", "pods", "-A"][..], false),
        (
            agent_sa,
            &["create", "pods/exec", "-n", "eni-controller-system"][..],
            false,
        ),
        (agent_sa, &["get", "secrets", "-A"][..], false),
    ] {
        assert_eq!(can(user, args), allowed, "{user} {args:?}");
    }

    the_controllers_node_writes_are_only_its_taint_and_condition(&cluster, controller_sa);

    let objects = objects(&rendered);
    let controller = one(&objects, "Deployment");
    let agent = one(&objects, "DaemonSet");
    for (level, ns) in [
        ("restricted", "pss-restricted"),
        ("baseline", "pss-baseline"),
    ] {
        kubectl_ok(&cluster, &["create", "namespace", ns], None);
        kubectl_ok(
            &cluster,
            &[
                "label",
                "namespace",
                ns,
                &format!("pod-security.kubernetes.io/enforce={level}"),
            ],
            None,
        );
        for name in ["aws-multi-eni-controller", "aws-multi-eni-controller-agent"] {
            kubectl_ok(
                &cluster,
                &["create", "serviceaccount", "-n", ns, name],
                None,
            );
        }
    }
    kubectl_ok(
        &cluster,
        &["create", "--dry-run=server", "-f", "-"],
        Some(&pod_from(controller, "controller", "pss-restricted")),
    );
    let out = cluster
        .run_kubectl(
            &["create", "--dry-run=server", "-f", "-"],
            Some(&pod_from(agent, "agent", "pss-baseline")),
        )
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("violates PodSecurity"),
        "the agent needs the privileged level: {stderr}"
    );
    kubectl_ok(
        &cluster,
        &["create", "--dry-run=server", "-f", "-"],
        Some(&pod_from(agent, "agent", "eni-controller-system")),
    );
}

/// Leaf paths of values.yaml (free-form maps such as labels or resources count as one).
fn leaves(prefix: &str, v: &Value, out: &mut Vec<String>) {
    const FREE: [&str; 9] = [
        "Labels",
        "Annotations",
        "annotations",
        "nodeSelector",
        "resources",
        "securityContext",
        "SecurityContext",
        "affinity",
        "updateStrategy",
    ];
    match v.as_object() {
        Some(map)
            if !map.is_empty()
                && !FREE.iter().any(|f| prefix.ends_with(f))
                && prefix != "additionalLabels" =>
        {
            for (k, x) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, x, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

#[test]
fn the_readme_lists_every_value() {
    let chart = repo("charts/aws-multi-eni-controller");
    let values: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart.join("values.yaml")).unwrap())
            .unwrap();
    let readme = std::fs::read_to_string(chart.join("README.md")).unwrap();
    let mut keys = Vec::new();
    leaves("", &values, &mut keys);
    assert!(keys.len() > 50, "{} values", keys.len());
    for key in keys {
        assert!(
            readme.contains(&format!("| `{key}` |")),
            "README.md lists `{key}`"
        );
    }
}

/// The agent's environment as the kubelet gives it on a node whose IP is `host_ip`
/// (`$(VAR)` references expanded), read by the agent's own options.
fn agent_listens_at(host_ip: &str) -> (String, String) {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: aws_multi_eni_controller::config::AgentArgs,
    }
    let objects = objects_of(base());
    let ds = one(&objects, "DaemonSet");
    let env = ds["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .clone();
    let mut argv = vec!["eni-agent".to_string(), "--node-name=n".to_string()];
    for (name, flag) in [
        ("BIND_HOST", "--bind-host"),
        ("METRICS_ADDR", "--metrics-addr"),
        ("HEALTH_ADDR", "--health-addr"),
    ] {
        let v = env
            .iter()
            .find(|e| e["name"] == name)
            .and_then(|e| e["value"].as_str())
            .unwrap_or_else(|| panic!("{name} is set"));
        argv.push(format!("{flag}={}", v.replace("$(HOST_IP)", host_ip)));
    }
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let (m, h) = cli.args.listen_addrs();
    (m.to_string(), h.to_string())
}

#[test]
fn the_agent_listens_on_an_ipv4_or_ipv6_node_ip() {
    // `$(HOST_IP):61780` was no socket address for an IPv6 host IP: the agent never started.
    assert_eq!(
        agent_listens_at("fd00:ec2::5"),
        ("[fd00:ec2::5]:61780".into(), "[fd00:ec2::5]:61781".into())
    );
    assert_eq!(
        agent_listens_at("10.0.3.7"),
        ("10.0.3.7:61780".into(), "10.0.3.7:61781".into())
    );
}

/// (image, imagePullPolicy) of the controller's and the agent's containers for `values`.
fn images(values: Value) -> [(String, String); 2] {
    let objects = objects_of(values);
    ["Deployment", "DaemonSet"].map(|kind| {
        let c = &one(&objects, kind)["spec"]["template"]["spec"]["containers"][0];
        (
            c["image"].as_str().unwrap().to_string(),
            c["imagePullPolicy"].as_str().unwrap().to_string(),
        )
    })
}

#[test]
fn one_top_level_image_serves_both_components_and_each_may_override_it() {
    let digest = format!("sha256:{}", "b".repeat(64));
    let mine = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/eni";
    // One value moves both (an own registry, as the README's build-and-push steps make).
    let both = images(with(json!({"image": {
        "repository": mine, "tag": "0.2.0", "digest": digest, "pullPolicy": "Always"
    }})));
    let pinned = format!("{mine}:0.2.0@{digest}");
    assert_eq!(both[0], (pinned.clone(), "Always".into()));
    assert_eq!(both[1], (pinned, "Always".into()));
    // A component's own repository does not take the top-level digest (another image).
    let split = images(with(json!({
        "image": {"repository": mine, "tag": "0.2.0", "digest": digest},
        "agent": {"image": {"repository": "registry.local/agent", "pullPolicy": "Never"}}
    })));
    assert_eq!(split[0].0, format!("{mine}:0.2.0@{digest}"));
    assert_eq!(
        split[1],
        ("registry.local/agent:0.2.0".into(), "Never".into())
    );
    // Defaults: the published image at the appVersion, for both.
    let defaults = images(base());
    for (image, policy) in defaults {
        assert_eq!(
            image,
            "ghcr.io/aws-multi-eni-controller/aws-multi-eni-controller:0.1.0"
        );
        assert_eq!(policy, "IfNotPresent");
    }
}

/// DPDK on: the agent runs privileged with the device plugin's directory mounted and its
/// settings in the environment, and may delete the plugin's pods (on its own node: the
/// admission policy, shown on the real server in tests/agent/dpdk.rs). Off (the
/// default): none of it.
#[test]
fn dpdk_makes_the_agent_privileged_with_the_plugins_directory_and_only_then() {
    let off = objects_of(base());
    let ds = one(&off, "DaemonSet");
    let container = &ds["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["securityContext"]["privileged"], false);
    assert!(ds["spec"]["template"]["spec"]["volumes"].is_null());
    assert!(!off.iter().any(|o| {
        o["kind"] == "Role"
            && o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("-device-plugin"))
    }));

    let on = objects_of(with(json!({"agent": {"dpdk": {"enabled": true}}})));
    let ds = one(&on, "DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let sc = &container["securityContext"];
    assert_eq!(sc["privileged"], true);
    assert_eq!(
        sc["allowPrivilegeEscalation"], true,
        "the API server refuses privileged without it"
    );
    assert_eq!(sc["readOnlyRootFilesystem"], true, "the rest is kept");
    assert_eq!(pod["volumes"][0]["hostPath"]["path"], "/etc/pcidp");
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/etc/pcidp");
    let env: BTreeMap<String, String> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?.into(), e["value"].as_str()?.into())))
        .collect();
    assert_eq!(env["DPDK"], "true");
    assert_eq!(env["DEVICE_PLUGIN_CONFIG"], "/etc/pcidp/config.json");
    assert_eq!(env["DEVICE_PLUGIN_NAMESPACE"], "kube-system");
    assert_eq!(env["DEVICE_PLUGIN_SELECTOR"], "app=sriovdp");
    let role = on
        .iter()
        .find(|o| o["kind"] == "Role")
        .expect("the device plugin Role");
    assert_eq!(role["metadata"]["namespace"], "kube-system");
    assert_eq!(role["rules"][0]["verbs"], json!(["list", "delete"]));

    // A configuration file at the root would mount the node's / read-write: refused.
    let refused = render(with(json!({"agent": {"dpdk": {"enabled": true,
        "devicePlugin": {"configPath": "/config.json"}}}})));
    assert!(refused.is_err(), "a file in / is refused");
}
