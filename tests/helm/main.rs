//! The chart with the real `helm` CLI (v4, built by scripts/go-tools.sh) against the real
//! kube-apiserver: `helm lint --strict`, the README's install, upgrades with a changed
//! value and a changed CRD, uninstall keeping the CRDs and NodeENIs, and
//! docs/migrating-from-go.md run block by block over a Go controller installed with Helm
//! and one installed with `kubectl apply`. Each test has a cluster of its own (no kubelet:
//! workloads are created, never run).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use eni_testkit::cluster::{TestCluster, bin_dir};

const RELEASE: &str = "aws-multi-eni-controller";
const NAMESPACE: &str = "eni-controller-system";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn helm_bin() -> PathBuf {
    let bin = std::env::var_os("ENI_HELM").map_or_else(
        || {
            let home = std::env::var_os("HOME").expect("HOME");
            PathBuf::from(home).join(".cache/aws-multi-eni-controller/go-tools/bin/helm")
        },
        PathBuf::from,
    );
    assert!(
        bin.is_file(),
        "{} is missing: run scripts/go-tools.sh (the README's test command does), or set ENI_HELM",
        bin.display()
    );
    bin
}

/// A shell, a `helm` and a `kubectl` for one cluster, run from the repository's root
/// with a Helm home of their own.
struct Tools<'a> {
    cluster: &'a TestCluster,
    home: PathBuf,
}

impl<'a> Tools<'a> {
    fn new(cluster: &'a TestCluster) -> Self {
        let home = cluster.dir().join("helm-home");
        std::fs::create_dir_all(&home).unwrap();
        Tools { cluster, home }
    }

    fn command(&self, program: &Path) -> Command {
        let helm_dir = helm_bin().parent().unwrap().to_path_buf();
        let path = std::env::join_paths(
            [bin_dir().unwrap(), helm_dir]
                .into_iter()
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
        )
        .unwrap();
        let mut cmd = Command::new(program);
        cmd.current_dir(repo(""))
            .env("PATH", path)
            .env("KUBECONFIG", self.cluster.kubeconfig())
            .env("KUBECACHEDIR", self.home.join("kube-cache"))
            .env("HOME", &self.home)
            .env("HELM_CACHE_HOME", self.home.join("cache"))
            .env("HELM_CONFIG_HOME", self.home.join("config"))
            .env("HELM_DATA_HOME", self.home.join("data"));
        cmd
    }

    /// Runs `helm args`; answers its output, whatever its exit status.
    fn helm(&self, args: &[&str]) -> Output {
        let out = self.command(&helm_bin()).args(args).output().unwrap();
        eprintln!(
            "$ helm {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn helm_ok(&self, args: &[&str]) -> String {
        let out = self.helm(args);
        assert!(out.status.success(), "helm {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl_input(args, None)
    }

    fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> String {
        self.kubectl_input(args, Some(stdin))
    }

    fn kubectl_input(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.cluster.run_kubectl(args, stdin).unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `helm install` of the chart in the repository with `--take-ownership`; its output,
    /// whatever its exit status.
    fn install_taking_ownership(&self) -> Output {
        self.helm(&[
            "install",
            RELEASE,
            "charts/aws-multi-eni-controller",
            "-n",
            NAMESPACE,
            "--create-namespace",
            "--take-ownership",
            "--set",
            "clusterName=test",
        ])
    }

    /// `helm upgrade` of the release to `chart`, keeping its values and setting `set`.
    fn upgrade(&self, chart: &str, set: Option<&str>) -> String {
        let mut args = vec!["upgrade", RELEASE, chart, "-n", NAMESPACE, "--reuse-values"];
        args.extend(set.iter().flat_map(|s| ["--set", *s]));
        self.helm_ok(&args)
    }

    /// Runs `script` with bash (`set -euo pipefail`), printing what it printed.
    fn sh(&self, script: &str) -> String {
        let out = self
            .command(Path::new("bash"))
            .args(["-euo", "pipefail", "-c", script])
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        eprintln!("$ {}\n{stdout}{stderr}", script.trim());
        assert!(out.status.success(), "the script failed:\n{script}");
        stdout
    }
}

fn start() -> TestCluster {
    TestCluster::start().expect("test cluster")
}

/// The `sh` blocks of a Markdown file under the heading `heading` (to the next heading
/// of the same level or higher), each with the HTML comment just before it, if any.
fn sh_blocks(markdown: &str, heading: Option<&str>) -> Vec<(Option<String>, String)> {
    let mut blocks = Vec::new();
    let (mut inside, mut level) = (heading.is_none(), 0);
    let (mut comment, mut block): (Option<String>, Option<String>) = (None, None);
    for line in markdown.lines() {
        if let Some(b) = block.as_mut() {
            if line.starts_with("```") {
                blocks.push((comment.take(), block.take().unwrap()));
            } else {
                b.push_str(line);
                b.push('\n');
            }
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes > 0 && line[hashes..].starts_with(' ') {
            if heading.is_some_and(|h| line == h) {
                (inside, level) = (true, hashes);
            } else if inside && heading.is_some() && hashes <= level {
                inside = false;
            }
            comment = None;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(c) = line
            .strip_prefix("<!--")
            .and_then(|c| c.strip_suffix("-->"))
        {
            comment = Some(c.trim().to_string());
        } else if line == "```sh" {
            block = Some(String::new());
        } else if !line.trim().is_empty() {
            comment = None;
        }
    }
    blocks
}

#[test]
fn the_chart_passes_helm_lint_strict() {
    let cluster = start();
    let tools = Tools::new(&cluster);
    let out = tools.helm_ok(&[
        "lint",
        "--strict",
        "charts/aws-multi-eni-controller",
        "--set",
        "clusterName=lint",
    ]);
    assert!(
        out.contains("1 chart(s) linted, 0 chart(s) failed"),
        "{out}"
    );
}

#[test]
fn the_readmes_install_upgrades_and_uninstall_keeps_the_crds_and_nodeenis() {
    let cluster = start();
    let tools = Tools::new(&cluster);
    tools.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1\n",
    );
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let install = sh_blocks(&readme, Some("### Helm"));
    assert_eq!(install.len(), 1, "one block under ### Helm");
    tools.sh(&install[0].1.replace("<node>", "node-1"));
    let status = tools.helm_ok(&["status", RELEASE, "-n", NAMESPACE]);
    assert!(status.contains("STATUS: deployed"), "{status}");
    assert!(
        tools
            .kubectl(&["get", "nodeenis", "-o", "name"])
            .contains("nodeeni"),
        "the sample applied"
    );

    // A changed value reaches the Deployment.
    tools.upgrade(
        "charts/aws-multi-eni-controller",
        Some("controller.logLevel=debug"),
    );
    let env = tools.kubectl(&[
        "-n",
        NAMESPACE,
        "get",
        "deployment",
        RELEASE,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[?(@.name==\"LOG_LEVEL\")].value}",
    ]);
    assert_eq!(env, "debug");

    // A changed CRD (the next chart version adds a short name) is upgraded.
    let next = cluster.dir().join("chart-next");
    copy_dir(&repo("charts/aws-multi-eni-controller"), &next);
    let crd = next.join("files/crds/networking.k8s.aws_nodeenis.yaml");
    let text = std::fs::read_to_string(&crd).unwrap();
    let changed = text.replace("    - neni\n", "    - neni\n    - nenis\n");
    assert_ne!(changed, text, "the CRD lists its short names");
    std::fs::write(&crd, changed).unwrap();
    tools.upgrade(next.to_str().unwrap(), None);
    let short = tools.kubectl(&[
        "get",
        "crd",
        "nodeenis.networking.k8s.aws",
        "-o",
        "jsonpath={.spec.names.shortNames}",
    ]);
    assert!(short.contains("nenis"), "{short}");

    // Uninstalled with crds.keep (the default): the CRDs and the NodeENIs stay.
    let out = tools.helm_ok(&["uninstall", RELEASE, "-n", NAMESPACE]);
    assert!(
        out.contains("These resources were kept due to the resource policy"),
        "{out}"
    );
    for crd in ["nodeenis.networking.k8s.aws", "eninodes.networking.k8s.aws"] {
        tools.kubectl(&["get", "crd", crd]);
    }
    assert!(
        tools
            .kubectl(&["get", "nodeenis", "-o", "name"])
            .contains("nodeeni"),
        "the NodeENI stays"
    );
    assert!(
        tools
            .kubectl(&["-n", NAMESPACE, "get", "deployments", "-o", "name"])
            .is_empty(),
        "the workloads went"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn plain_take_ownership_works_over_the_projects_own_crds_applied_by_kubectl() {
    let cluster = start();
    let tools = Tools::new(&cluster);
    for kind in ["nodeenis", "eninodes"] {
        tools.kubectl(&[
            "apply",
            "-f",
            repo(&format!("deploy/crds/networking.k8s.aws_{kind}.yaml"))
                .to_str()
                .unwrap(),
        ]);
    }
    let out = tools.install_taking_ownership();
    assert!(out.status.success(), "the install took the CRDs over");
}

#[test]
fn plain_take_ownership_over_the_go_crd_applied_by_kubectl_conflicts() {
    // Why the migration guide applies the CRDs server-side first.
    let cluster = start();
    let tools = Tools::new(&cluster);
    tools.kubectl(&[
        "apply",
        "-f",
        repo("tests/fixtures/go-controller/nodeenis-crd.yaml")
            .to_str()
            .unwrap(),
    ]);
    let out = tools.install_taking_ownership();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("conflict with \"kubectl-client-side-apply\"")
            && stderr.contains(".spec.versions"),
        "{stderr}"
    );
}

mod migration;
