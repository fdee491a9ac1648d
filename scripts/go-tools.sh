#!/usr/bin/env bash
# Builds the Go tools the tests run (not the Kubernetes parts: scripts/kube-bins.sh):
#   actionlint (github.com/rhysd/actionlint), which lints .github/workflows;
#   helm (helm.sh/helm/v4), the CLI users install the chart with, which the tests run
#   against the real kube-apiserver.
# From the Go module proxy, checked against the checksum database; cached under
# ~/.cache/aws-multi-eni-controller/go-tools/<tool>-<version> and reused while it exists.
# Prints the folder holding the binaries on its last line of standard output.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_VERSION="v1.7.12"
HELM_VERSION="v4.3.2"
CACHE="${ENI_CACHE_DIR:-$HOME/.cache/aws-multi-eni-controller}"
export GOMODCACHE="${GOMODCACHE:-$CACHE/go/mod}"
export GOCACHE="${GOCACHE:-$CACHE/go/build}"
export GOFLAGS="-modcacherw"
export GOTOOLCHAIN=local
export CGO_ENABLED=0

# build NAME VERSION PACKAGE MINUTES: go install PACKAGE@VERSION into its own cached folder,
# then link the binary into the folder printed last.
bin="$CACHE/go-tools/bin"
mkdir -p "$bin"
build() {
  local name="$1" version="$2" package="$3" takes="$4"
  local out="$CACHE/go-tools/$name-$version"
  if [ -x "$out/$name" ]; then
    echo "go-tools: reusing $out" >&2
  else
    echo "go-tools: building $name $version into $out ($takes)" >&2
    rm -rf "$out.partial"
    GOBIN="$out.partial" go install "$package@$version"
    rm -rf "$out"
    mv "$out.partial" "$out"
  fi
  ln -sf "$out/$name" "$bin/$name"
}
build actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint "about 20 s"
build helm "$HELM_VERSION" helm.sh/helm/v4/cmd/helm "about 3 min"
echo "$bin"
