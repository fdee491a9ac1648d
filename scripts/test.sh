#!/usr/bin/env bash
# Runs every check and test of aws-multi-eni-controller on a fresh machine.
# Installs what the tests need first (idempotent, so later runs are quick):
#   - a Python venv with moto[server] (the EC2 API server the adapter tests talk to);
#   - Debian packages the tests use, when missing.
# Then: cargo fmt --check, cargo clippy -D warnings, the whole test suite, doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${ENI_CACHE_DIR:-$HOME/.cache/aws-multi-eni-controller}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
VENV="$CACHE/venv"
MOTO_VERSION="5.2.5"
mkdir -p "$CACHE"

step() { printf '\n==> %s\n' "$*"; }

step "Python venv with moto[server]==$MOTO_VERSION ($VENV)"
if ! "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null \
    || [ ! -x "$VENV/bin/moto_server" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
export MOTO_SERVER="$VENV/bin/moto_server"

step "Debian packages"
missing=()
for pkg in iproute2 prometheus; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked
else
  cargo test --workspace --locked
fi

step "doc tests"
cargo test --workspace --locked --doc

step "all checks passed"
