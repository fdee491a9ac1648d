#!/usr/bin/env bash
# Builds the Go tools the tests run (not the Kubernetes parts: scripts/kube-bins.sh):
#   actionlint (github.com/rhysd/actionlint), which lints .github/workflows.
# From the Go module proxy, checked against the checksum database; cached under
# ~/.cache/aws-multi-eni-controller/go-tools/<tool>-<version> and reused while it exists.
# Prints the folder holding the binaries on its last line of standard output.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_VERSION="v1.7.12"
CACHE="${ENI_CACHE_DIR:-$HOME/.cache/aws-multi-eni-controller}"
export GOMODCACHE="${GOMODCACHE:-$CACHE/go/mod}"
export GOCACHE="${GOCACHE:-$CACHE/go/build}"
export GOFLAGS="-modcacherw"
export GOTOOLCHAIN=local
export CGO_ENABLED=0

out="$CACHE/go-tools/actionlint-$ACTIONLINT_VERSION"
if [ -x "$out/actionlint" ]; then
  echo "go-tools: reusing $out" >&2
else
  echo "go-tools: building actionlint $ACTIONLINT_VERSION into $out (about 20 s)" >&2
  GOBIN="$out.partial" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  rm -rf "$out"
  mv "$out.partial" "$out"
fi
echo "$out"
