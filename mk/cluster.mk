# Local Kubernetes cluster for e2e tests and `make run`: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and a node (containerd + runc, CNI,
# kubelet, kube-proxy, kube-router enforcing NetworkPolicy, CoreDNS), plus
# kubectl and helm, all built from Go modules (runc from Debian). See the
# README's "Local cluster" section. kube-router's firewall (iptables + ipset),
# not kube-network-policies: this kernel has no CONFIG_NFT_QUEUE, so the
# latter's nftables `queue` rules were refused ("netlink receive: no such
# file or directory") and nothing was enforced.
# Included from the top-level Makefile; also usable as `make -f mk/cluster.mk <target>`.
# Variables are prefixed K8S_/CLUSTER_ to stay out of the way of the includer.

CLUSTER_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
CLUSTER_ROOT   := $(abspath $(CLUSTER_MK_DIR)/..)
CLUSTER_E2E    := $(CLUSTER_ROOT)/e2e/local
K8S_BUILD      ?= $(CLUSTER_E2E)/build.sh
CLUSTER_SH     ?= $(CLUSTER_E2E)/cluster.sh
CLUSTER_HARNESS_TEST ?= $(CLUSTER_E2E)/test_harness.sh
NODE_CYCLES    ?= 20

# what the node needs from Debian (runc, iptables, catatonit for the pause
# image, socat to reach the registry from the node's namespace, busybox-static
# for the harness's test image, envsubst for the config templates, ipset for
# kube-router, which runs it as it runs iptables)
DEB_PKGS += runc iptables catatonit socat busybox-static gettext-base iproute2 ipset

.PHONY: k8s-bins cluster-up cluster-down cluster-status test-e2e-harness test-node-cycles

k8s-bins: ## Build/cache the cluster's binaries: Kubernetes, etcd, helm, containerd, CNI, CoreDNS, crane, kube-router
	$(K8S_BUILD)

cluster-up: k8s-bins ## Start the local cluster with its node (prints the kubeconfig path)
	$(CLUSTER_SH) up

cluster-down: ## Stop the local cluster and remove everything it made
	$(CLUSTER_SH) down

cluster-status: ## Show the local cluster status
	$(CLUSTER_SH) status

test-node-cycles: k8s-bins ## Up/down the cluster $(NODE_CYCLES) times; the machine must be left as it was
	$(CLUSTER_E2E)/test_node_cycles.sh $(NODE_CYCLES)

test-e2e-harness: k8s-bins ## Self-test the local control plane (brings it up, tests, always brings it down)
	@$(CLUSTER_SH) up || { $(CLUSTER_SH) down; exit 1; }; \
	eval "$$($(CLUSTER_SH) env)" && $(CLUSTER_HARNESS_TEST); rc=$$?; \
	$(CLUSTER_SH) down; exit $$rc
