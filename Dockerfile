# The image of both binaries: /eni-controller (the Deployment) and /eni-agent (the
# DaemonSet), on a distroless base with glibc, as a non-root user.
#
#   docker build -t aws-multi-eni-controller .
#
# The tests build this same file offline with buildah from binaries built outside:
#   --build-arg BINARIES=prebuilt (binaries in out/ of the context)
#   --build-arg RUNTIME_IMAGE=<a local base with the same libraries>
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
ARG BINARIES=build

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin eni-controller --bin eni-agent \
 && mkdir -p /out \
 && cp target/release/eni-controller target/release/eni-agent /out/

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
