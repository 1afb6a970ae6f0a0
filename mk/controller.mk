# mcp-controller extras: the benchmark against the local control plane.
# Included by the top Makefile; uses its BUILD and CTL_BIN.

.PHONY: bench-controller
bench-controller: $(CTL_BIN) ## Controller: 1,000 MCPServers on the local control plane (time, writes, RSS)
	bench/controller/run.sh $(BUILD)
