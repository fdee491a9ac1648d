#!/usr/bin/env bash
# Builds the real Kubernetes parts the tests run against, from the Go module proxy:
#   kube-apiserver, kube-controller-manager (its garbage collector deletes what a deleted
#   owner owned) and kubectl (k8s.io/kubernetes, the version k8s-openapi's `latest` feature
#   speaks) and etcd (go.etcd.io/etcd/server/v3, a 3.6 release).
# The wrapper modules in tests/kube-bins/ pin every module (go.mod + go.sum); the binaries go
# to a cache folder keyed by those files and the Go version, and are reused while it exists.
# Prints the folder holding the binaries on its last line of standard output.
#
#   scripts/kube-bins.sh            build when missing, print the folder
#   ENI_CACHE_DIR=... scripts/kube-bins.sh
set -euo pipefail
cd "$(dirname "$0")/.."

KUBE_VERSION="v1.37.2"
CACHE="${ENI_CACHE_DIR:-$HOME/.cache/aws-multi-eni-controller}"
export GOMODCACHE="${GOMODCACHE:-$CACHE/go/mod}"
export GOCACHE="${GOCACHE:-$CACHE/go/build}"
export GOFLAGS="-modcacherw"
export GOTOOLCHAIN=local
export CGO_ENABLED=0

key=$( (go version; cat tests/kube-bins/*/go.mod tests/kube-bins/*/go.sum scripts/kube-bins.sh) \
  | sha256sum | cut -c1-16)
out="$CACHE/kube-bins/$KUBE_VERSION-$key"
bins=(kube-apiserver kube-controller-manager kubectl etcd)

have_all() { for b in "${bins[@]}"; do [ -x "$out/$b" ] || return 1; done; }

if have_all; then
  echo "kube-bins: reusing $out" >&2
else
  echo "kube-bins: building into $out (cold: about 7 minutes on 2 cores, and 1 GB of modules)" >&2
  tmp="$out.partial"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  start=$(date +%s)
  minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  vpkg="k8s.io/component-base/version"
  ldflags="-s -w"
  for pkg in "$vpkg" "k8s.io/client-go/pkg/version"; do
    ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  build() { # dir, output, package, ldflags
    local dir=$1 name=$2 pkg=$3 flags=$4
    ( cd "tests/kube-bins/$dir" && /usr/bin/time -f "kube-bins: $name: %e s wall, %M KiB peak RSS" \
        go build -p 2 -trimpath -ldflags "$flags" -o "$tmp/$name" "$pkg" )
  }
  build etcd etcd go.etcd.io/etcd/server/v3 "-s -w"
  build kubernetes kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
  build kubernetes kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$ldflags"
  build kubernetes kubectl k8s.io/kubernetes/cmd/kubectl "$ldflags"
  rm -rf "$out"
  mv "$tmp" "$out"
  echo "kube-bins: built in $(( $(date +%s) - start )) s; sizes:" >&2
  du -h "$out"/* >&2
fi
ln -sfn "$out" "$CACHE/kube-bins/current"
"$out/kube-apiserver" --version >&2
echo "$out"
