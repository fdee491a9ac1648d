//! The container image: the repository's Dockerfile, built with buildah (no daemon,
//! offline) from the binaries this test run built, on a local base holding the same
//! libraries a distroless/cc base has (no base image can be pulled here). Both binaries
//! start inside it as the image's non-root user.
//!
//! Needs root and Debian's buildah (the README's test command installs it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `buildah --storage-driver vfs ARGS`, expected to succeed; answers stdout.
fn buildah(storage: &Path, args: &[&str]) -> String {
    let out = Command::new("buildah")
        .arg("--storage-driver")
        .arg("vfs")
        .arg("--root")
        .arg(storage.join("root"))
        .arg("--runroot")
        .arg(storage.join("runroot"))
        .args(args)
        .output()
        .expect("buildah runs (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "buildah {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `buildah bud` of `file` in `context` as image `tag`, with `build_args` (`NAME=value`).
fn bud(storage: &Path, tag: &str, file: &Path, context: &Path, build_args: &[&str]) {
    let mut args = vec!["bud", "--isolation", "chroot", "-q", "-t", tag];
    for a in build_args {
        args.extend(["--build-arg", a]);
    }
    args.extend(["-f", file.to_str().unwrap(), context.to_str().unwrap()]);
    buildah(storage, &args);
}

/// A folder with the libraries `binaries` load (as `ldd` names them) and the users of a
/// distroless base.
fn base_rootfs(dir: &Path, binaries: &[&str]) {
    let out = Command::new("ldd").args(binaries).output().expect("ldd");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut libs: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.starts_with('/') && !w.ends_with(':'))
        .collect();
    libs.sort();
    libs.dedup();
    assert!(
        libs.iter().any(|l| l.contains("libc.so")),
        "ldd found glibc: {text}"
    );
    for lib in libs {
        let target = dir.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(lib, &target).unwrap();
    }
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::create_dir_all(dir.join("home/nonroot")).unwrap();
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nnonroot:x:65532:\n").unwrap();
}

#[test]
fn the_dockerfile_builds_an_image_in_which_both_binaries_run_as_non_root() {
    let work = tempfile::tempdir().unwrap();
    let storage = work.path().join("storage");
    let controller = env!("CARGO_BIN_EXE_eni-controller");
    let agent = env!("CARGO_BIN_EXE_eni-agent");

    let base = work.path().join("base");
    base_rootfs(&base, &[controller, agent]);
    let base_file = work.path().join("base.Containerfile");
    std::fs::write(&base_file, "FROM scratch\nCOPY . /\n").unwrap();
    bud(
        &storage,
        "localhost/eni-test-base:1",
        &base_file,
        &base,
        &[],
    );

    // The build context: the repository's Dockerfile and the binaries under out/.
    let context = work.path().join("context");
    std::fs::create_dir_all(context.join("out")).unwrap();
    std::fs::copy(repo("Dockerfile"), context.join("Dockerfile")).unwrap();
    std::fs::copy(controller, context.join("out/eni-controller")).unwrap();
    std::fs::copy(agent, context.join("out/eni-agent")).unwrap();
    bud(
        &storage,
        "localhost/aws-multi-eni-controller:test",
        &context.join("Dockerfile"),
        &context,
        &[
            "BINARIES=prebuilt",
            "RUNTIME_IMAGE=localhost/eni-test-base:1",
        ],
    );
    let user = buildah(
        &storage,
        &[
            "inspect",
            "--format",
            "{{.OCIv1.Config.User}}",
            "localhost/aws-multi-eni-controller:test",
        ],
    );
    assert_eq!(user.trim(), "65532:65532", "the image runs as non-root");

    let container = buildah(
        &storage,
        &["from", "-q", "localhost/aws-multi-eni-controller:test"],
    );
    let container = container.trim();
    let run = |args: &[&str]| {
        let mut all = vec!["run", "--isolation", "chroot", container, "--"];
        all.extend_from_slice(args);
        buildah(&storage, &all)
    };
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        run(&["/eni-controller", "--version"]).trim(),
        format!("eni-controller {version}")
    );
    assert_eq!(
        run(&["/eni-agent", "--version"]).trim(),
        format!("eni-agent {version}")
    );
    let crd = run(&["/eni-controller", "crd"]);
    assert_eq!(
        crd,
        aws_multi_eni_controller::k8s::crd::all_crds_yaml().unwrap(),
        "the controller in the image prints the CRDs"
    );
    buildah(&storage, &["rm", container]);
}
