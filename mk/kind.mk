# The kind e2e (e2e/kind/, docs/kind.md): kind, its node image and everything
# the cluster runs built on this machine, a Docker daemon of its own started
# and removed by each target. Included by the top Makefile; uses images.mk's
# targets. test-kind-smoke is part of `make test` (about 1.5 min warm, about
# 6 min more on a fresh machine: docs/kind.md, "The kind tests");
# test-kind (the whole set, with the operator's images built by Docker) is not.

KIND_ROOT := $(abspath $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/..)

.PHONY: kind-bins kind-node-image test-kind test-kind-smoke

kind-bins: ## kind, kubeadm, crictl from their Go modules (e2e/kind/build.sh bins)
	@$(KIND_ROOT)/e2e/kind/build.sh bins

# the node image takes pause and CoreDNS from the local registry
kind-node-image: registry-up ## The kind node image, built here and cached as a tarball (needs root; starts its own dockerd)
	@$(KIND_ROOT)/images/local.sh build pause coredns
	@$(KIND_ROOT)/e2e/kind/build.sh node-image

test-kind: images-local kind-bins ## kind e2e: docs/kind.md as written, every sample Running and called by both MCP eras, walkthrough, catalogue (prints N passed, N failed)
	@$(KIND_ROOT)/e2e/kind/run.sh

test-kind-smoke: images-local kind-bins ## kind smoke: docs/kind.md as written (cluster up, images loaded, helm install, one sample Running and called), nothing left
	@KIND_SMOKE=1 $(KIND_ROOT)/e2e/kind/run.sh
