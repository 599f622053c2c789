# vmcp-operator Makefile (kubebuilder v4 layout).

# One image holds both binaries: the operator (/manager) and the aggregator (/vmcp, the entrypoint).
IMG ?= ghcr.io/vmcp-dev/vmcp-operator:latest
# Default image of the aggregator pods the operator runs.
VMCP_IMG ?= $(IMG)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p $(LOCALBIN)

## Tool versions (built from the Go module proxy into ./bin; nothing else is downloaded)
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v3.22.0
K8S_VERSION ?= v1.37.2
ETCD_VERSION ?= v3.7.3

CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
HELM ?= $(LOCALBIN)/helm
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s
KUBECTL ?= $(ENVTEST_ASSETS)/kubectl
CONTAINER_TOOL ?= docker

GO_LDFLAGS := -X github.com/vmcp-dev/vmcp-operator/internal/version.Version=$(VERSION)
# Packages whose tests run with the race detector (the aggregator is highly concurrent).
RACE_PKGS := ./internal/vmcp/... ./cmd/vmcp/...
E2E_TIMEOUT ?= 30m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD, RBAC ClusterRole and the chart's copy of the CRD.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	@if [ -d charts/vmcp-operator ]; then mkdir -p charts/vmcp-operator/crds && cp config/crd/bases/*.yaml charts/vmcp-operator/crds/; fi

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify
verify: ## Regenerate CRDs, RBAC and deepcopy and fail if anything differs from what is checked in.
	hack/verify-generated.sh "$(MAKE)"

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (with depguard enforcing the import boundaries).
	$(GOLANGCI_LINT) run --timeout 10m ./...

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and fix what it can.
	$(GOLANGCI_LINT) run --fix ./...

##@ Test

.PHONY: test
test: verify vet lint test-chart test-unit test-fuzz test-e2e test-conformance ## Run every check CI runs.

.PHONY: test-unit
test-unit: envtest ## Unit tests (aggregator with -race) and envtest controller suites.
	go test -race -count=1 $(RACE_PKGS)
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -count=1 $$(go list ./... | grep -v -e /test/e2e -e /test/chart -e /internal/vmcp/ -e /cmd/vmcp)

.PHONY: test-chart
test-chart: envtest helm helm-lint ## Render the Helm chart and config/default, dry-run them on an envtest API server, check RBAC and Pod Security.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" HELM="$(HELM)" KUBECTL="$(KUBECTL)" \
		go test -count=1 -timeout 10m ./test/chart/

.PHONY: test-fuzz
test-fuzz: ## Run each fuzz target briefly (FUZZTIME=10s by default).
	hack/fuzz.sh $${FUZZTIME:-10s}

.PHONY: test-e2e
test-e2e: envtest build ## End-to-end suite: envtest API server, manager, real aggregators and backends.
	@if [ -n "$$(find test/e2e -name '*_test.go' 2>/dev/null)" ]; then \
		KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" KUBECTL="$(KUBECTL)" BIN_DIR="$(LOCALBIN)" \
		go test -count=1 -timeout $(E2E_TIMEOUT) ./test/e2e/ -v -ginkgo.v; \
	else echo "test-e2e: no e2e specs yet"; fi

.PHONY: demo
demo: envtest build ## Run the no-cluster demo: control plane, operator, 3 backends, aggregator; a backend fails and recovers.
	go build -o $(LOCALBIN)/vmcp-demo ./hack/demo
	$(LOCALBIN)/vmcp-demo --repo .

.PHONY: test-conformance
test-conformance: build ## Run the official MCP conformance suite directly and through the aggregator.
	BIN_DIR="$(LOCALBIN)" test/conformance/run.sh

.PHONY: bench
bench: ## Run the benchmarks: in-process Go benchmarks, then the three-process load run whose tables docs/benchmarks.md records.
	go test -run '^$$' -bench . -benchmem ./internal/vmcp/...
	go build -ldflags "$(GO_LDFLAGS)" -o $(LOCALBIN)/vmcp ./cmd/vmcp
	go run ./test/fixtures/cmd/vmcp-bench --vmcp $(LOCALBIN)/vmcp

##@ Build

.PHONY: build
build: ## Build the manager, the aggregator (vmcp) and the test backend into ./bin.
	go build -ldflags "$(GO_LDFLAGS)" -o $(LOCALBIN)/manager ./cmd/manager
	@for c in vmcp mcp-echo; do if [ -d cmd/$$c ]; then go build -ldflags "$(GO_LDFLAGS)" -o $(LOCALBIN)/$$c ./cmd/$$c; fi; done

.PHONY: run
run: manifests generate ## Run the operator against the cluster in ~/.kube/config.
	go run ./cmd/manager --vmcp-image=$(VMCP_IMG)

.PHONY: docker-build
docker-build: ## Build the image holding /manager and /vmcp (needs a Docker engine; IMG=..., VERSION=...).
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the container image.
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: build-installer
build-installer: manifests envtest deploy-overlay ## Render config/default with IMG into dist/install.yaml (one file to kubectl apply).
	@mkdir -p $(dir $(INSTALLER))
	$(KUBECTL) kustomize $(DEPLOY_OVERLAY) > $(INSTALLER)
	@echo "wrote $(INSTALLER) (image $(IMG))"

##@ Helm chart

.PHONY: helm-lint
helm-lint: helm ## Lint the Helm chart with its default values and with ci/all-on-values.yaml.
	$(HELM) lint --strict charts/vmcp-operator
	$(HELM) lint --strict charts/vmcp-operator --values charts/vmcp-operator/ci/all-on-values.yaml

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

# make deploy and build-installer render config/default through a throwaway overlay that sets IMG,
# so the tree stays clean. The overlay renames the image that config/manager/kustomization.yaml sets;
# the images transformer also rewrites the manager's VMCP_IMAGE (config/manager/kustomizeconfig.yaml),
# so the default aggregator image is the same image.
DEPLOY_OVERLAY := bin/deploy-overlay
INSTALLER ?= dist/install.yaml
KUSTOMIZE_BASE_IMAGE := ghcr.io/vmcp-dev/vmcp-operator

.PHONY: deploy-overlay
deploy-overlay: ## Write the kustomize overlay that deploys config/default with IMG (used by deploy and build-installer).
	@set -e; img='$(IMG)'; name="$$img"; tag=""; digest=""; \
	case "$$img" in *@*) name="$${img%@*}"; digest="$${img#*@}";; \
	  *) last="$${img##*/}"; case "$$last" in *:*) name="$${img%:*}"; tag="$${img##*:}";; esac;; esac; \
	mkdir -p $(DEPLOY_OVERLAY); \
	{ echo "# Generated by make deploy-overlay; do not edit."; \
	  echo "resources:"; echo "- ../../config/default"; \
	  echo "images:"; echo "- name: $(KUSTOMIZE_BASE_IMAGE)"; echo "  newName: $$name"; \
	  if [ -n "$$tag" ]; then echo "  newTag: \"$$tag\""; fi; \
	  if [ -n "$$digest" ]; then echo "  digest: $$digest"; fi; \
	} > $(DEPLOY_OVERLAY)/kustomization.yaml

.PHONY: install
install: manifests ## Install the CRD into the cluster in ~/.kube/config.
	kubectl apply --server-side -f config/crd/bases

.PHONY: uninstall
uninstall: manifests ## Uninstall the CRD. Call with ignore-not-found=true to ignore missing objects.
	kubectl delete --ignore-not-found=$(ignore-not-found) -f config/crd/bases

.PHONY: deploy
deploy: manifests deploy-overlay ## Deploy the operator (config/default, image IMG) to the cluster in ~/.kube/config.
	kubectl kustomize $(DEPLOY_OVERLAY) | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator, its CRD and every VirtualMCPServer. Call with ignore-not-found=true to ignore missing objects.
	kubectl kustomize config/default | kubectl delete --ignore-not-found=$(ignore-not-found) -f -

##@ Tools

.PHONY: helm
helm: $(HELM) ## Build helm into ./bin.
# Built like helm's own release: the version, and the Kubernetes version `helm template` assumes
# without a cluster (else v1.20, which the chart's kubeVersion constraint rejects).
HELM_K8S_MINOR := $(word 2,$(subst ., ,$(K8S_VERSION)))
HELM_LDFLAGS := -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(HELM_K8S_MINOR) \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(HELM_K8S_MINOR)
$(HELM): $(LOCALBIN)
	@[ -f "$(HELM)-$(HELM_VERSION)" ] && [ "$$(readlink -- "$(HELM)" 2>/dev/null)" = "helm-$(HELM_VERSION)" ] || { \
	set -e; echo "Building helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)"; rm -f $(HELM); \
	GOBIN=$(LOCALBIN) go install -ldflags "$(HELM_LDFLAGS)" helm.sh/helm/v3/cmd/helm@$(HELM_VERSION); \
	mv $(HELM) $(HELM)-$(HELM_VERSION); }; \
	ln -sf helm-$(HELM_VERSION) $(HELM)

.PHONY: envtest
envtest: ## Build kube-apiserver, etcd and kubectl for envtest from the Go module proxy into bin/k8s.
	K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/envtest.sh $(ENVTEST_ASSETS)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Build controller-gen into ./bin.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint into ./bin.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

# go-install-tool installs package $2 at version $3 as $1-$3 and links $1 to it, so that a
# version bump rebuilds and an unchanged version is never rebuilt.
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$$(basename $(1))-$(3)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Building $${package}" ;\
rm -f $(1) ;\
GOBIN=$(LOCALBIN) go install $${package} ;\
mv $(1) $(1)-$(3) ;\
} ;\
ln -sf $$(basename $(1))-$(3) $(1)
endef
