# syntax=docker/dockerfile:1
# One image, two binaries: /manager (the operator) and /vmcp (the aggregator). The entrypoint is the
# aggregator, because the aggregator pods the operator creates set only `args: [serve, --config, ...]`;
# the operator's own Deployment sets `command: [/manager]`.
#
#   docker build --build-arg VERSION=v0.1.0 -t ghcr.io/vmcp-dev/vmcp-operator:v0.1.0 .   (make docker-build)

FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /workspace

# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/

# Static binaries (no cgo) without local paths, cross-compiled for the target platform.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/vmcp-dev/vmcp-operator/internal/version.Version=${VERSION}" \
      -o /out/ ./cmd/manager ./cmd/vmcp

FROM gcr.io/distroless/static:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="vmcp-operator" \
      org.opencontainers.image.description="Kubernetes operator and aggregator for virtual MCP servers" \
      org.opencontainers.image.source="https://github.com/vmcp-dev/vmcp-operator" \
      org.opencontainers.image.version="${VERSION}"
WORKDIR /
COPY --from=builder /out/manager /out/vmcp /
# distroless "nonroot": a numeric user, so that runAsNonRoot can be verified by the kubelet.
USER 65532:65532
ENTRYPOINT ["/vmcp"]
