#!/usr/bin/env bash
# Runs every check and test of aws-multi-eni-controller on a fresh machine.
# Installs what the tests need first (idempotent, so later runs are quick):
#   - a Python venv with moto[server] (the EC2 API server the adapter tests talk to) and
#     helm-python-sdk (Helm v4's own engine, which renders the chart in the tests);
#   - Debian packages the tests use, when missing (iproute2, prometheus for promtool,
#     buildah for the image, shellcheck for the workflow scripts actionlint checks);
#   - kube-apiserver, etcd and kubectl built from the Go modules (scripts/kube-bins.sh),
#     cached under ~/.cache/aws-multi-eni-controller/kube-bins, and actionlint and helm
#     (scripts/go-tools.sh): actionlint lints the release workflow, the real helm CLI
#     installs, upgrades and uninstalls the chart and runs the migration guide.
# Then: cargo fmt --check, cargo clippy -D warnings, the whole test suite with doc tests.
# Go and cargo builds never run at the same time (2 cores, and aws-sdk-ec2 needs 8 GB).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${ENI_CACHE_DIR:-$HOME/.cache/aws-multi-eni-controller}"
# One target directory per checkout: cargo does not rebuild a path crate whose sources
# are older than its artifact, so a target shared by two checkouts of this repository
# could hand one of them test binaries built from the other's files (and paths).
CHECKOUT="$(printf %s "$PWD" | sha256sum | cut -c1-12)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target-$CHECKOUT}"
VENV="$CACHE/venv"
MOTO_VERSION="5.2.5"
HELM_SDK_VERSION="0.2.2"
mkdir -p "$CACHE"

step() { printf '\n==> %s\n' "$*"; }

step "Python venv with moto[server]==$MOTO_VERSION and helm-python-sdk==$HELM_SDK_VERSION ($VENV)"
if ! "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null \
    || [ ! -x "$VENV/bin/moto_server" ] \
    || ! "$VENV/bin/python" -c "import helm_python" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "helm-python-sdk==$HELM_SDK_VERSION"
fi
export MOTO_SERVER="$VENV/bin/moto_server"
export HELM_PYTHON="$VENV/bin/python"

step "Debian packages"
missing=()
for pkg in iproute2 prometheus buildah shellcheck; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

step "kube-apiserver, etcd and kubectl (scripts/kube-bins.sh)"
ENI_KUBE_BINS="$(./scripts/kube-bins.sh | tail -n 1)"
export ENI_KUBE_BINS

step "actionlint and helm (scripts/go-tools.sh)"
GO_TOOLS="$(./scripts/go-tools.sh | tail -n 1)"
export ENI_ACTIONLINT="$GO_TOOLS/actionlint" ENI_HELM="$GO_TOOLS/helm"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the node agent builds alone: no aws-sdk-ec2, no controller modules"
cargo clippy --locked --no-default-features --bin eni-agent -- -D warnings
if cargo tree --locked -p aws-multi-eni-controller --no-default-features --edges normal --prefix none \
    | grep -E '^(aws-sdk-ec2|aws-config) '; then
  echo "the agent-only build depends on controller crates (above)" >&2
  exit 1
fi

step "tests"
# cargo test, not nextest: the tests of one binary share one real API server, which needs
# them in one process. A hung test fails the run here rather than eating CI's time.
# Doc tests run here too.
timeout --signal=KILL 50m cargo test --workspace --locked

step "all checks passed"
