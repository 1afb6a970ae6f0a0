# Install artefacts: the chart's CRD copy, raw manifests rendered from the
# chart, chart lint (container images: mk/images.mk). Included by the top Makefile.

INSTALL_ROOT  := $(abspath $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/..)
INSTALL_CHART := $(INSTALL_ROOT)/charts/mcp-operator
INSTALL_CRD   := $(INSTALL_ROOT)/config/crd/bases/toolhive.stacklok.dev_mcpservers.yaml
INSTALL_HELM  ?= $(shell command -v helm 2>/dev/null || \
                   echo "$$($(INSTALL_ROOT)/e2e/local/build.sh paths | sed -n 's/^HELM_BIN_DIR=//p')/helm")

.PHONY: manifests helm-lint

manifests: ## Copy the CRD into the chart and render config/default/ from the chart
	$(Q)cp $(INSTALL_CRD) $(INSTALL_CHART)/crds/
	$(Q)HELM=$(INSTALL_HELM) $(INSTALL_ROOT)/config/default/render.sh > $(INSTALL_ROOT)/config/default/mcp-operator.yaml.tmp
	$(Q)mv -f $(INSTALL_ROOT)/config/default/mcp-operator.yaml.tmp $(INSTALL_ROOT)/config/default/mcp-operator.yaml
	@echo "wrote charts/mcp-operator/crds/ and config/default/mcp-operator.yaml"

helm-lint: ## helm lint --strict the chart (default values and each option)
	$(Q)$(INSTALL_HELM) lint --strict $(INSTALL_CHART)
	$(Q)$(INSTALL_HELM) lint --strict $(INSTALL_CHART) --set certManager.enabled=true,webhook.replicas=2
	$(Q)$(INSTALL_HELM) lint --strict $(INSTALL_CHART) --set 'watchNamespaces={a,b}',leaderElection.enabled=false
