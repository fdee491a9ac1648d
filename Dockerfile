# The image of both binaries: /eni-controller (the Deployment) and /eni-agent (the
# DaemonSet), on a distroless base with glibc, as a non-root user.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/aws-multi-eni-controller:<tag> --push .
#   buildah bud --platform linux/amd64 -t aws-multi-eni-controller .
#
# The build stage runs on the build machine's platform and cross-compiles for the target
# (TARGETARCH amd64 or arm64: Graviton nodes); the cargo registry and target folder are
# cache mounts, so a rebuild compiles only what changed.
#
# The tests build this same file offline with buildah from binaries built outside:
#   --build-arg BINARIES=prebuilt (binaries in out/ of the context)
#   --build-arg RUNTIME_IMAGE=<a local base with the same libraries>
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
ARG BINARIES=build

FROM --platform=$BUILDPLATFORM ${RUST_IMAGE} AS build
ARG TARGETARCH
WORKDIR /src
# The cross toolchain only when the target is not the build machine's own architecture.
RUN arch="${TARGETARCH:-$(dpkg --print-architecture)}" \
 && case "$arch" in \
      amd64) echo x86_64-unknown-linux-gnu > /triple; gcc=gcc-x86-64-linux-gnu ;; \
      arm64) echo aarch64-unknown-linux-gnu > /triple; gcc=gcc-aarch64-linux-gnu ;; \
      *) echo "unsupported TARGETARCH $arch" >&2; exit 1 ;; \
    esac \
 && if [ "$arch" != "$(dpkg --print-architecture)" ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends "$gcc" "libc6-dev-$arch-cross" \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && rustup target add "$(cat /triple)"
ENV CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc \
    CC_x86_64_unknown_linux_gnu=x86_64-linux-gnu-gcc
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target "$(cat /triple)" --bin eni-controller --bin eni-agent \
 && mkdir -p /out \
 && cp "target/$(cat /triple)/release/eni-controller" "target/$(cat /triple)/release/eni-agent" /out/

FROM scratch AS prebuilt
COPY out/ /out/

FROM ${BINARIES} AS binaries

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="aws-multi-eni-controller" \
      org.opencontainers.image.description="Extra AWS ENIs for Kubernetes nodes: controller and node agent" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=binaries /out/eni-controller /out/eni-agent /
# The controller runs as this user; the agent's DaemonSet sets UID 0 with NET_ADMIN only.
USER 65532:65532
ENTRYPOINT ["/eni-controller"]
