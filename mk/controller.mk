# mcp-controller extras: the benchmark against the local control plane, and
# the fuzz target over what the controller reads from the apiserver.
# Included by the top Makefile; uses its BUILD and CTL_BIN.

.PHONY: bench-controller bench-controller-scale
bench-controller: $(CTL_BIN) ## Controller vs ToolHive's operator, N = 100/300/1,000: time, writes/reads per MCPServer, no-op resync, RSS, raw write limit, plot
	bench/controller/run.sh $(BUILD)

bench-controller-scale: $(CTL_BIN) ## Controller alone, 1,000 and 10,000 MCPServers in 1 and in 100 namespaces: time, no-op resync, RSS, growth per MCPServer
	SCALE=1 bench/controller/run.sh $(BUILD)

# libFuzzer target over the watch-event decoder, list items and the JSON
# measuring pass in front of jansson (common/src/json.c, kube_*.c).
FUZZ_BUILD   ?= build/fuzz
FUZZ_CC      ?= clang
CTL_FUZZ_BIN := $(FUZZ_BUILD)/fuzz-watch
CTL_FUZZ_SRC  = $(COMMON_SRC) bench/controller/fuzz_watch.c

$(CTL_FUZZ_BIN): $(CTL_FUZZ_SRC) $(wildcard common/include/mcp/*.h)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(CPPFLAGS) -std=gnu11 -O1 -g -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ $(CTL_FUZZ_SRC) $(LIBS)

.PHONY: fuzz-watch
fuzz-watch: $(CTL_FUZZ_BIN) ## Fuzz the watch-event decoder for FUZZ_SECONDS (default 60), seeded from fixtures
	@mkdir -p $(FUZZ_BUILD)/corpus-watch $(FUZZ_BUILD)/artifacts-watch
	@cp test/fixtures/fuzz/watch/* $(FUZZ_BUILD)/corpus-watch/
	$(CTL_FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts-watch/ \
	    -print_final_stats=1 $(FUZZ_BUILD)/corpus-watch
