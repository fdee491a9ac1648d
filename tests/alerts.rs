//! The alert rules (charts/aws-multi-eni-controller/files/alerts.yaml) with Prometheus's
//! own `promtool`: they parse, and every alert stays quiet on a healthy controller and
//! agent, fires on a broken one with its labels and annotations, waits out its `for`, and
//! resolves after a failover (tests/alerts/alerts_test.yaml). Every alert has a severity,
//! a summary, a description and a runbook that exists. The dashboard
//! (files/dashboard.json) is what scripts/dashboard.py writes, uses only what Grafana 10,
//! 11 and 12 all import, and filters every query on its variables. Which metrics the rules
//! and the dashboard name, and what their queries return, is checked against the real
//! binaries and a real Prometheus in tests/e2e.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn promtool(args: &[&str], dir: &Path) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool is installed (scripts/test.sh installs Debian's prometheus)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

fn rules() -> Vec<Value> {
    let text =
        std::fs::read_to_string(repo("charts/aws-multi-eni-controller/files/alerts.yaml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .collect()
}

#[test]
fn promtool_checks_and_tests_every_rule() {
    let checked = promtool(
        &[
            "check",
            "rules",
            "charts/aws-multi-eni-controller/files/alerts.yaml",
        ],
        &repo(""),
    );
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = promtool(
        &["test", "rules", "alerts_test.yaml"],
        &repo("tests/alerts"),
    );
    assert!(tested.contains("SUCCESS"), "{tested}");

    let test: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repo("tests/alerts/alerts_test.yaml")).unwrap(),
    )
    .unwrap();
    let cases: Vec<&Value> = test["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().unwrap())
        .collect();
    for rule in rules() {
        let name = rule["alert"].as_str().unwrap();
        let of = |firing: bool| {
            cases.iter().any(|c| {
                c["alertname"] == name
                    && c["exp_alerts"]
                        .as_array()
                        .is_some_and(|a| a.is_empty() != firing)
            })
        };
        assert!(of(true), "{name} is tested firing");
        assert!(of(false), "{name} is tested quiet");
    }
}

/// The runbooks' commands paste as they are: shell variables set once at the top
/// (`$NS`, `$DEPLOY`, the alert's label), never a `<placeholder>` to edit by hand.
#[test]
fn runbook_commands_paste_as_they_are() {
    let runbooks = std::fs::read_to_string(repo("docs/runbooks.md")).unwrap();
    let mut commands = 0;
    for (i, span) in runbooks.split('`').enumerate().filter(|(i, _)| i % 2 == 1) {
        if span.starts_with("kubectl ") || span.starts_with("aws ") {
            commands += 1;
            assert!(
                !span.contains('<') && !span.contains("eni-controller-system"),
                "span {i} of docs/runbooks.md needs editing before it runs: {span}"
            );
        }
    }
    assert!(commands >= 15, "{commands} commands");
    assert!(runbooks.contains("NS=eni-controller-system\nDEPLOY=aws-multi-eni-controller"));
}

#[test]
fn every_alert_is_labelled_annotated_and_has_a_runbook() {
    let runbooks = std::fs::read_to_string(repo("docs/runbooks.md")).unwrap();
    let sections: BTreeSet<String> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().to_lowercase())
        .collect();
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let rules = rules();
    assert!(rules.len() >= 10, "{} alerts", rules.len());
    for rule in rules {
        let name = rule["alert"].as_str().unwrap();
        assert!(name.starts_with("AwsMultiEni"), "{name}: one shared prefix");
        let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{name}: severity {severity:?}"
        );
        for key in ["summary", "description", "runbook_url"] {
            assert!(
                rule["annotations"][key]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{name}: {key}"
            );
        }
        let url = rule["annotations"]["runbook_url"].as_str().unwrap();
        let anchor = url.rsplit_once("docs/runbooks.md#").map(|(_, a)| a);
        assert_eq!(anchor, Some(name.to_lowercase().as_str()), "{name}: {url}");
        assert!(
            sections.contains(&name.to_lowercase()),
            "docs/runbooks.md has a section for {name}"
        );
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "README.md's alert table lists {name}"
        );
    }
}

fn dashboard() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(repo("charts/aws-multi-eni-controller/files/dashboard.json"))
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn the_dashboard_is_what_its_script_writes() {
    let out = Command::new("python3")
        .arg(repo("scripts/dashboard.py"))
        .output()
        .expect("python3 runs scripts/dashboard.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written =
        std::fs::read_to_string(repo("charts/aws-multi-eni-controller/files/dashboard.json"))
            .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == written,
        "files/dashboard.json drifted from scripts/dashboard.py: run\n  \
         python3 scripts/dashboard.py > charts/aws-multi-eni-controller/files/dashboard.json"
    );
}

#[test]
fn the_dashboard_imports_into_grafana_10_11_and_12_and_filters_on_its_variables() {
    let d = dashboard();
    // Schema 39: Grafana 10.3 and later write it, 11 and 12 migrate it up on load, and
    // 10.0 to 10.2 (schema 38) load it as is; no Angular panel (removed in Grafana 12).
    assert_eq!(d["schemaVersion"], 39);
    let vars: Vec<&str> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        vars,
        [
            "datasource",
            "cluster",
            "job",
            "namespace",
            "nodeeni",
            "node"
        ]
    );
    let mut ids = BTreeSet::new();
    let mut cells = BTreeSet::new();
    let mut titles = BTreeSet::new();
    for p in d["panels"].as_array().unwrap() {
        let kind = p["type"].as_str().unwrap();
        assert!(
            ["row", "timeseries", "stat"].contains(&kind),
            "core panel types only: {kind}"
        );
        assert!(ids.insert(p["id"].as_u64().unwrap()), "unique panel ids");
        let g = &p["gridPos"];
        let (x, y, w, h) = (
            g["x"].as_u64().unwrap(),
            g["y"].as_u64().unwrap(),
            g["w"].as_u64().unwrap(),
            g["h"].as_u64().unwrap(),
        );
        assert!(x + w <= 24, "{}: inside the grid", p["title"]);
        for cell in (x..x + w).flat_map(|cx| (y..y + h).map(move |cy| (cx, cy))) {
            assert!(cells.insert(cell), "{}: overlaps another panel", p["title"]);
        }
        titles.insert(p["title"].as_str().unwrap().to_string());
        if kind == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}");
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            for var in ["cluster", "job", "namespace"] {
                assert!(
                    expr.contains(&format!("{var}=~\"${var}\"")),
                    "{}: `{expr}` filters on ${var}",
                    p["title"]
                );
            }
            if expr.contains("by (nodeeni)") {
                assert!(expr.contains("nodeeni=~\"$nodeeni\""), "{expr}");
            }
            if expr.contains("aws_multi_eni_agent_") {
                assert!(expr.contains("node=~\"$node\""), "{expr}");
            }
            // One series per node does not scale to a fleet: per-node panels are top-N.
            if expr.contains("by (node)") {
                assert!(expr.starts_with("topk("), "{expr}");
            }
        }
    }
    for needed in [
        "Panics",
        "EC2 calls refused, by action and outcome",
        "ENIs left alone",
        "Cleanup duration",
        "Fence: EC2 calls refused unsent",
        "Running versions",
        "Nodes with unconfigured links (top 10)",
    ] {
        assert!(titles.contains(needed), "a panel {needed:?}");
    }
}
