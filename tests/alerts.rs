//! The alert rules (charts/aws-multi-eni-controller/files/alerts.yaml) with Prometheus's
//! own `promtool`: they parse, and every alert stays quiet on a healthy controller and
//! agent, fires on a broken one with its labels and annotations, and waits out its `for`
//! (tests/alerts/alerts_test.yaml). Every alert has a severity, a summary, a description
//! and a runbook that exists. Which metrics the rules and the dashboard may name is checked
//! against a real scrape in tests/e2e.rs.

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

#[test]
fn every_alert_is_labelled_annotated_and_has_a_runbook() {
    let runbooks = std::fs::read_to_string(repo("docs/runbooks.md")).unwrap();
    let sections: BTreeSet<String> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().to_lowercase())
        .collect();
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
    }
}
