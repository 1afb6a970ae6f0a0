# Benchmarks against their peers (DESIGN.md section 8): the proxy bench, the
# smoke run of every bench that `make test` does, and the summary.
# bench-webhook is in mk/webhook.mk, bench-controller in mk/controller.mk.
# Peers are built from Go modules / installed from PyPI into
# ~/.cache/mcp-operator/peers the first time (bench/peers/build.sh).
# Included by the top Makefile; uses its BUILD, CC, LDFLAGS, obj.

# the proxy bench's load without a proxy: what the MCP server alone gives
PX_STDIO_LOAD := $(BUILD)/bench/stdio-load
$(PX_STDIO_LOAD): $(call obj,bench/proxy/stdio_load.c)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^


.PHONY: bench-proxy bench-proxy-abuse bench-proxy-node bench-smoke bench-peers
bench-proxy: $(PX_STDIO_LOAD) ## Proxy: mcp-proxy --exec vs the Python mcp-proxy and the server alone, 16 MCP sessions calling tools/call
	$(if $(wildcard proxy/main.c),$(MAKE) $(BUILD)/mcp-proxy)
	bench/proxy/run.sh $(BUILD)

bench-proxy-abuse: ## Proxy: peak RSS with 64 clients that never read 3.5 MB answers, against --max-queued-bytes
	$(MAKE) $(BUILD)/mcp-proxy
	bench/proxy/abuse.sh $(BUILD)

bench-proxy-node: ## Proxy on the cluster's node: mcp-proxy attached vs ToolHive's thv-proxyrunner, same server image and load (nulls when no node)
	$(MAKE) $(BUILD)/mcp-proxy
	bench/proxy/node.sh $(BUILD)

bench-peers: ## Build/install every benchmark peer into the cache (first time: many minutes)
	@for p in webhook-go thv-operator thv-proxyrunner thv-crds rawwrite mcp-proxy-py mcp-server-time; do \
	    bench/peers/build.sh $$p || exit 1; done

bench-smoke: ## A seconds-long run of every bench and its peers (part of make test)
	$(MAKE) $(BUILD)/mcp-webhook $(BUILD)/bench/webhook-echo $(BUILD)/mcp-controller \
	    $(PX_STDIO_LOAD) $(if $(wildcard proxy/main.c),$(BUILD)/mcp-proxy)
	bench/smoke.sh $(BUILD)
