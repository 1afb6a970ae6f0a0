# Container images without Docker (images/local.sh, pushed to the local
# registry of e2e/local/registry.sh), their tests, and the Docker path's
# comparison test. Included by the top Makefile; uses its BUILD and BINS.

IMAGES_ROOT := $(abspath $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/..)
IMAGES_NODE_BIN = $(shell $(IMAGES_ROOT)/e2e/local/build.sh paths | sed -n 's/^NODE_BIN_DIR=//p')

# mmdebstrap builds the root file systems, catatonit is the pause image
DEB_PKGS += mmdebstrap catatonit

.PHONY: images-local images-deps registry-up registry-down test-images test-images-docker

images-deps: deps
	@command -v npm >/dev/null || { echo "images: installing npm"; \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; }
	@python3 -m pip --version >/dev/null 2>&1 || { echo "images: installing python3-pip"; \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3-pip >/dev/null; }
	@[ -x "$(IMAGES_NODE_BIN)/crane" ] && [ -x "$(IMAGES_NODE_BIN)/coredns" ] || \
	    $(IMAGES_ROOT)/e2e/local/build.sh node

registry-up: images-deps ## Start the local registry (127.0.0.1:$${MCP_REGISTRY_PORT:-5000})
	@$(IMAGES_ROOT)/e2e/local/registry.sh up

registry-down: ## Stop the local registry (its blobs stay in ~/.cache/mcp-operator/registry)
	@$(IMAGES_ROOT)/e2e/local/registry.sh down

images-local: all registry-up ## Build every image without Docker and push it to the local registry
	@BUILD=$(BUILD) $(IMAGES_ROOT)/images/local.sh build

test-images: images-local ## The pushed images: names, configs, and each one runs (MCP servers answer initialize)
	@$(IMAGES_ROOT)/test/images/test_images.sh

test-images-docker: images-local ## Slow: Debian's dockerd, `make images`, file lists compared with images-local
	@$(IMAGES_ROOT)/test/images/docker_compare.sh
