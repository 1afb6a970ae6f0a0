# mcp-webhook extras: the bench (webhook vs a bare h2o TLS echo server) and
# the libFuzzer target over the admission handler. Included by the top
# Makefile; uses its BUILD, CC, CPPFLAGS, CFLAGS, LDFLAGS, LIBS, obj.

WH_ECHO       := $(BUILD)/bench/webhook-echo
FUZZ_SECONDS  ?= 60
FUZZ_BUILD    := build/fuzz
FUZZ_CC       ?= clang
WH_FUZZ_BIN   := $(FUZZ_BUILD)/fuzz-admission
WH_FUZZ_SRC    = $(COMMON_SRC) webhook/admission.c webhook/convert.c webhook/json.c webhook/jpool.c \
                 bench/webhook/fuzz_admission.c

$(WH_ECHO): $(call obj,bench/webhook/echo.c) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

.PHONY: bench-webhook bench-webhook-cost fuzz-webhook
bench-webhook: $(WH_BIN) $(WH_ECHO) ## Webhook vs a bare h2o echo and a controller-runtime peer: throughput, p99 at 2,000 rps, peak RSS, cost of one review
	bench/webhook/run.sh $(BUILD)
	bench/webhook/cost.sh $(BUILD)

bench-webhook-cost: $(WH_BIN) ## Time and peak RSS of the largest legal and hostile 3 MiB reviews (< 50 ms, < 16 MiB)
	bench/webhook/cost.sh $(BUILD)

$(WH_FUZZ_BIN): $(WH_FUZZ_SRC) $(wildcard common/include/mcp/*.h webhook/*.h)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(CPPFLAGS) -std=gnu11 -O1 -g -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ $(WH_FUZZ_SRC) $(LIBS)

fuzz-webhook: $(WH_FUZZ_BIN) ## Fuzz the admission handler for FUZZ_SECONDS (default 60), seeded from fixtures and past crashes
	@mkdir -p $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/artifacts
	@for d in test/fixtures/admission/*/; do \
	    cp "$$d/review.json" "$(FUZZ_BUILD)/corpus/seed-$$(basename $$d).json"; done
	@cp test/fixtures/fuzz/admission/* $(FUZZ_BUILD)/corpus/
	$(WH_FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
	    -dict=bench/webhook/fuzz.dict -artifact_prefix=$(FUZZ_BUILD)/artifacts/ \
	    -print_final_stats=1 $(FUZZ_BUILD)/corpus
