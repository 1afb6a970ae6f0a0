# Container images without Docker (images/local.sh, pushed to the local
# registry of e2e/local/registry.sh), their tests, and the Docker path's
# comparison test. Included by the top Makefile; uses its BUILD and BINS.

IMAGES_ROOT := $(abspath $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/..)
IMAGES_NODE_BIN = $(shell $(IMAGES_ROOT)/e2e/local/build.sh paths | sed -n 's/^NODE_BIN_DIR=//p')
# dex: the e2e tests' OpenID provider (image ghcr.io/mcp-operator/dex, e2e/lib/dex.sh)
IMAGES_DEX_BIN = $(shell $(IMAGES_ROOT)/e2e/local/build.sh paths | sed -n 's/^DEX_BIN_DIR=//p')
# github-mcp-server: image ghcr.io/github/github-mcp-server (ToolHive's examples)
IMAGES_GITHUB_MCP_BIN = $(shell $(IMAGES_ROOT)/e2e/local/build.sh paths | sed -n 's/^GITHUB_MCP_BIN_DIR=//p')

IMAGE_REPO ?= ghcr.io/mcp-operator
IMAGE_TAG  ?= $(shell awk '/^appVersion:/ {gsub(/"/, "", $$2); print $$2}' $(IMAGES_ROOT)/charts/mcp-operator/Chart.yaml)
DOCKER     ?= docker
# extra `docker build` flags (the comparison test passes --network=host)
DOCKER_BUILD_FLAGS ?=
IMAGES_DOCKER_TARGETS = webhook controller chart-test $(if $(wildcard $(IMAGES_ROOT)/proxy/main.c),proxy)

# mmdebstrap builds the root file systems, catatonit is the pause image,
# setcap (libcap2-bin) gives /coredns its capability; test-images uses ip and ss
DEB_PKGS += mmdebstrap catatonit libcap2-bin iproute2

.PHONY: images images-local images-deps registry-up registry-down test-images test-images-docker

images: ## Build the project's images with Docker (Dockerfile; IMAGE_REPO, IMAGE_TAG, DOCKER)
	@$(DOCKER) info >/dev/null 2>&1 || { \
	    echo "images: needs a running Docker engine ('$(DOCKER) info' failed); nothing built" >&2; exit 1; }
	@set -e; . $(IMAGES_ROOT)/images/versions.env; for t in $(IMAGES_DOCKER_TARGETS); do \
	    echo "images: docker build --target $$t -t $(IMAGE_REPO)/mcp-$$t:$(IMAGE_TAG)"; \
	    $(DOCKER) build $(DOCKER_BUILD_FLAGS) --build-arg DEBIAN_SUITE=$$DEBIAN_SUITE \
	        --target $$t -t $(IMAGE_REPO)/mcp-$$t:$(IMAGE_TAG) $(IMAGES_ROOT); done

images-deps: deps
	@command -v npm >/dev/null || { echo "images: installing npm"; \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; }
	@python3 -m pip --version >/dev/null 2>&1 || { echo "images: installing python3-pip"; \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3-pip >/dev/null; }
	@[ -x "$(IMAGES_NODE_BIN)/crane" ] && [ -x "$(IMAGES_NODE_BIN)/coredns" ] || \
	    $(IMAGES_ROOT)/e2e/local/build.sh node
	@[ -x "$(IMAGES_DEX_BIN)/dex" ] || $(IMAGES_ROOT)/e2e/local/build.sh dex
	@[ -x "$(IMAGES_GITHUB_MCP_BIN)/github-mcp-server" ] || $(IMAGES_ROOT)/e2e/local/build.sh github-mcp-server

registry-up: images-deps ## Start the local registry (127.0.0.1:5000, or MCP_REGISTRY_PORT)
	@$(IMAGES_ROOT)/e2e/local/registry.sh up

registry-down: ## Stop the local registry (its blobs stay in ~/.cache/mcp-operator/registry)
	@$(IMAGES_ROOT)/e2e/local/registry.sh down

images-local: all registry-up ## Build every image without Docker and push it to the local registry
	@BUILD=$(BUILD) $(IMAGES_ROOT)/images/local.sh build

test-images: images-local ## The pushed images: names, configs, and each one runs (MCP servers answer initialize)
	@$(IMAGES_ROOT)/test/images/test_images.sh

test-images-docker: images-local ## Slow: Debian's dockerd, `make images`, file lists compared with images-local
	@$(IMAGES_ROOT)/test/images/docker_compare.sh
