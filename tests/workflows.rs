//! The GitHub workflows: `actionlint` (built by scripts/go-tools.sh, `ENI_ACTIONLINT`)
//! finds nothing wrong in them, and the release workflow publishes the image where the
//! chart looks for it by default.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `$ENI_ACTIONLINT`, else where scripts/go-tools.sh puts it.
fn actionlint() -> PathBuf {
    if let Some(p) = std::env::var_os("ENI_ACTIONLINT") {
        return PathBuf::from(p);
    }
    let out = Command::new(repo("scripts/go-tools.sh"))
        .output()
        .expect("scripts/go-tools.sh runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(dir.lines().last().unwrap().trim()).join("actionlint")
}

#[test]
fn actionlint_finds_nothing_wrong() {
    let out = Command::new(actionlint())
        .current_dir(repo(""))
        .arg("-no-color")
        .output()
        .expect("actionlint runs");
    assert!(
        out.status.success(),
        "actionlint: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        repo(".github/workflows/release.yml").exists(),
        "the release workflow is linted"
    );
}

#[test]
fn the_release_pushes_the_image_the_chart_pulls_by_default() {
    let workflow: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repo(".github/workflows/release.yml")).unwrap(),
    )
    .unwrap();
    let values: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repo("charts/aws-multi-eni-controller/values.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(workflow["env"]["IMAGE"], values["image"]["repository"]);
}
