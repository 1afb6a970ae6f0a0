# mcp-proxy: the binary, its unit tests, the --exec end-to-end test with real
# MCP servers and clients, and the libFuzzer target over its parsers.
# Included by the top Makefile; uses its BUILD, CC, CPPFLAGS, CFLAGS,
# LDFLAGS, LIBS, obj, BINS and TEST_BINS.

# proxy/auth/ (token verification over cjose) and the Cedar library
# (mk/cedar.mk) are linked into mcp-proxy: front/authn.c verifies bearer
# tokens, bridge/authz.c asks Cedar.
PX_AUTH_SRC    := $(sort $(wildcard proxy/auth/*.c))
PX_AUTH_OBJ    := $(call obj,$(PX_AUTH_SRC))
PX_AUTH_CFLAGS := $(shell pkg-config --cflags cjose 2>/dev/null)
PX_AUTH_LIBS   := $(shell pkg-config --libs cjose 2>/dev/null || echo -lcjose -ljansson -lcrypto)
$(PX_AUTH_OBJ): CPPFLAGS += $(PX_AUTH_CFLAGS)
PX_SRC     := $(filter-out $(PX_AUTH_SRC),$(sort $(wildcard proxy/*.c proxy/*/*.c)))
PX_BIN     := $(BUILD)/mcp-proxy
PX_LIBOBJ  := $(call obj,$(filter-out proxy/main.c,$(PX_SRC)))
PX_LIBS    := -lwslay
TEST_PX    := $(patsubst test/%.c,$(BUILD)/test/%,$(sort $(wildcard test/proxy/test_*.c)))
PX_FUZZ_DIR := build/fuzz
PX_FUZZ_BIN := $(PX_FUZZ_DIR)/fuzz-proxy
FUZZ_CC     ?= clang
FUZZ_SECONDS ?= 60
PX_FUZZ_SRC = $(COMMON_SRC) proxy/jsonrpc.c proxy/bridge/era.c proxy/bridge/bridge.c proxy/bridge/client.c proxy/bridge/session.c \
              proxy/bridge/authz.c proxy/caller.c proxy/config.c proxy/bridge/toolfilter.c proxy/budget.c \
              proxy/upstream/wsch.c proxy/egress/request.c $(PX_AUTH_SRC) \
              bench/proxy/fuzz_proxy.c bench/proxy/fuzz_auth.c

# Rules read before this file expanded BINS and TEST_BINS already: add the
# proxy's as extra prerequisites (recipes expand TEST_BINS late, so += works).
BINS      += $(PX_BIN)
TEST_BINS += $(TEST_PX)
all: $(PX_BIN)
test-unit test-valgrind: $(PX_BIN) $(TEST_PX)

# not linked with libcurl: proxy/upstream/curl_dl.c opens it when the Kubernetes client needs it
$(PX_BIN): $(call obj,$(PX_SRC)) $(PX_AUTH_OBJ) $(COMMON_LIB) $(CEDAR_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PX_LIBS) $(PX_AUTH_LIBS) $(filter-out -lcurl,$(LIBS))

$(BUILD)/test/proxy/%: $(call obj,test/proxy/%.c) $(call obj,test/testutil.c) $(PX_LIBOBJ) $(PX_AUTH_OBJ) $(COMMON_LIB) $(CEDAR_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(PX_LIBS) $(PX_AUTH_LIBS) $(LIBS)

.PHONY: test-proxy-e2e fuzz-proxy
PX_E2E_BIN ?= $(PX_BIN)
test-proxy-e2e: $(PX_BIN) $(WH_BIN) ## mcp-proxy with real MCP servers and clients of both eras, its listeners (PX_E2E_BIN=other build)
	test/proxy/e2e_listeners.sh $(PX_E2E_BIN)
	test/proxy/e2e_framing.sh $(PX_E2E_BIN) $(WH_BIN)
	test/proxy/e2e_exec.sh $(PX_E2E_BIN)
	test/proxy/e2e_budget.sh $(PX_E2E_BIN)
	test/proxy/e2e_hosts.sh $(PX_E2E_BIN)
	test/proxy/e2e_drain.sh $(PX_E2E_BIN)
	test/proxy/e2e_egress.sh $(PX_E2E_BIN)
	test/proxy/e2e_auth.sh $(PX_E2E_BIN)

$(PX_FUZZ_BIN): $(PX_FUZZ_SRC) $(CEDAR_LIB) $(wildcard common/include/mcp/*.h proxy/*.h proxy/*/*.h)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(CPPFLAGS) -std=gnu11 -O1 -g -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ $(PX_FUZZ_SRC) $(PX_LIBS) $(PX_AUTH_LIBS) $(LIBS)

fuzz-proxy: $(PX_FUZZ_BIN) ## Fuzz the proxy's JSON-RPC, framing, bridge, egress request heads and auth (tokens, JWKS, DPoP) for FUZZ_SECONDS
	@mkdir -p $(PX_FUZZ_DIR)/proxy-corpus $(PX_FUZZ_DIR)/proxy-artifacts
	@cp test/fixtures/proxy/fuzz-seeds/* $(PX_FUZZ_DIR)/proxy-corpus/ 2>/dev/null || true
	$(PX_FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix=$(PX_FUZZ_DIR)/proxy-artifacts/ -print_final_stats=1 \
	    $(PX_FUZZ_DIR)/proxy-corpus

# the cost of one verification with a parsed key set (bench/proxy/auth_bench.c)
PX_AUTH_BENCH := $(BUILD)/bench/bench-auth
$(PX_AUTH_BENCH): $(call obj,bench/proxy/auth_bench.c) $(PX_AUTH_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PX_AUTH_LIBS)

.PHONY: bench-auth
bench-auth: $(PX_AUTH_BENCH) ## proxy/auth: ns per token verification (RS256, PS256, ES256, ES384), DPoP proof, JWKS parse; AUTH_BENCH_ARGS="N RUNS"
	$(PX_AUTH_BENCH) $(AUTH_BENCH_ARGS)
