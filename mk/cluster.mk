# Local Kubernetes control plane for e2e tests (etcd + kube-apiserver +
# kube-controller-manager + kubectl + helm, all built from Go modules).
# Included from the top-level Makefile; also usable as `make -f mk/cluster.mk <target>`.
# Variables are prefixed K8S_/CLUSTER_ to stay out of the way of the includer.

CLUSTER_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
CLUSTER_ROOT   := $(abspath $(CLUSTER_MK_DIR)/..)
CLUSTER_E2E    := $(CLUSTER_ROOT)/e2e/local
K8S_BUILD      ?= $(CLUSTER_E2E)/build.sh
CLUSTER_SH     ?= $(CLUSTER_E2E)/cluster.sh
CLUSTER_HARNESS_TEST ?= $(CLUSTER_E2E)/test_harness.sh

.PHONY: k8s-bins cluster-up cluster-down cluster-status test-e2e-harness

k8s-bins: ## Build/cache kube-apiserver, kube-controller-manager, kubectl, etcd, helm (Go modules)
	$(K8S_BUILD)

cluster-up: k8s-bins ## Start the local control plane (then: eval the output of e2e/local/cluster.sh env)
	$(CLUSTER_SH) up

cluster-down: ## Stop the local control plane and remove its state
	$(CLUSTER_SH) down

cluster-status: ## Show the local control plane status
	$(CLUSTER_SH) status

test-e2e-harness: k8s-bins ## Self-test the local control plane (brings it up, tests, always brings it down)
	@$(CLUSTER_SH) up || { $(CLUSTER_SH) down; exit 1; }; \
	eval "$$($(CLUSTER_SH) env)" && $(CLUSTER_HARNESS_TEST); rc=$$?; \
	$(CLUSTER_SH) down; exit $$rc
