# mcp-operator: top-level build. `make help` lists the targets.
#
# Layout: common/ -> build/libmcpcommon.a; webhook/ -> build/mcp-webhook;
# controller/ -> build/mcp-controller; test/<area>/test_*.c -> one cmocka
# binary each, linked with the area's objects (minus main.c).

.DELETE_ON_ERROR:
.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD   ?= build
CC      ?= cc
SAN     ?=
OPT     ?= -O2
ifeq ($(V),1)
Q :=
else
Q := @
endif

PKGS     := libh2o-evloop jansson libcurl yaml-0.1 openssl cjose
CPPFLAGS := -Icommon/include -Itest -D_GNU_SOURCE -DH2O_USE_LIBUV=0
CFLAGS   := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers -Wno-format-truncation \
            -MMD -MP -fno-omit-frame-pointer $(SAN)
LDFLAGS  := $(SAN)
# libmcpcommon's schema checks Cedar policies with the official engine
# (mk/cedar.mk's libcedar_mcp.a): everything linking it links that too.
LIBS     = $(CEDAR_LIB) -ljansson -lyaml -lcurl -lh2o-evloop -lssl -lcrypto -lz $(CEDAR_LIBS) -lpthread -lm

COMMON_SRC := $(sort $(wildcard common/src/*.c))
WH_SRC     := $(sort $(wildcard webhook/*.c))
CTL_SRC    := $(sort $(wildcard controller/*.c))
obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_LIB := $(BUILD)/libmcpcommon.a
WH_BIN     := $(BUILD)/mcp-webhook
CTL_BIN    := $(BUILD)/mcp-controller
WH_LIBOBJ  := $(call obj,$(filter-out webhook/main.c,$(WH_SRC)))
CTL_LIBOBJ := $(call obj,$(filter-out controller/main.c,$(CTL_SRC)))
TOOLS      := $(BUILD)/mcp-crdgen

TEST_COMMON := $(patsubst test/%.c,$(BUILD)/test/%,$(sort $(wildcard test/common/test_*.c)))
TEST_WH     := $(patsubst test/%.c,$(BUILD)/test/%,$(sort $(wildcard test/webhook/test_*.c)))
TEST_CTL    := $(patsubst test/%.c,$(BUILD)/test/%,$(sort $(wildcard test/controller/test_*.c)))
TEST_BINS   := $(TEST_COMMON) $(TEST_WH) $(TEST_CTL)

BINS := $(COMMON_LIB) $(if $(WH_SRC),$(WH_BIN)) $(if $(CTL_SRC),$(CTL_BIN)) $(TOOLS)

CRD := config/crd/bases/toolhive.stacklok.dev_mcpservers.yaml

.PHONY: all
all: $(BINS) ## Build the library, both daemons and the CRD generator

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(COMMON_LIB): $(call obj,$(COMMON_SRC)) | $(BUILD)/cargo/release/libcedar_mcp.a
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(WH_BIN): $(call obj,$(WH_SRC)) $(COMMON_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(CTL_BIN): $(call obj,$(CTL_SRC)) $(COMMON_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/mcp-crdgen: $(call obj,tools/crdgen.c) $(COMMON_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/test/common/%: $(call obj,test/common/%.c) $(call obj,test/testutil.c) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS)

$(BUILD)/test/webhook/%: $(call obj,test/webhook/%.c) $(call obj,test/testutil.c) $(WH_LIBOBJ) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS)

$(BUILD)/test/controller/%: $(call obj,test/controller/%.c) $(call obj,test/testutil.c) $(CTL_LIBOBJ) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS)

# ---- set-up -----------------------------------------------------------------
DEB_PKGS := build-essential pkg-config libh2o-evloop-dev libjansson-dev libcmocka-dev \
            libcurl4-openssl-dev libssl-dev libyaml-dev zlib1g-dev clang clang-format cppcheck \
            valgrind openssl curl jq wrk nghttp2-client procps util-linux libwslay-dev \
            gnuplot-nox libcjose-dev python3-cryptography python3-yaml
.PHONY: deps
deps: ## Install missing Debian packages (quick when all are present)
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(DEB_PKGS) 2>/dev/null \
	    | awk '$$NF=="installed"{print $$1}' | sort | comm -13 - <(tr ' ' '\n' <<<"$(DEB_PKGS)" | sed '/^$$/d' | sort -u)); \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing:" $$missing; \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# ---- tests ------------------------------------------------------------------
.PHONY: test test-unit test-asan test-valgrind test-e2e
test: deps ## Everything: unit tests, the proxy with real MCP servers, images (no Docker), end-to-end tests, a kind smoke (docs/kind.md), a smoke of every benchmark
	$(MAKE) test-unit
	$(MAKE) test-proxy-e2e
	$(MAKE) test-images
	$(MAKE) test-e2e
	$(MAKE) test-kind-smoke
	$(MAKE) bench-smoke

test-unit: $(BINS) $(TEST_BINS) ## cmocka unit tests (prints "N passed, N failed"), then docs-check
	@test/run-unit.sh $(TEST_BINS)
	@$(MAKE) --no-print-directory docs-check

test-asan: ## Unit tests built with ASan+UBSan
	$(MAKE) BUILD=build/asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" test-unit

test-valgrind: $(BINS) $(TEST_BINS) ## Unit tests under valgrind (leaks are errors)
	@MCP_VALGRIND=1 test/run-unit.sh $(TEST_BINS)

test-e2e: all ## End-to-end tests against a local kube-apiserver (builds it the first time)
	@if [ -x e2e/run.sh ]; then e2e/run.sh; else echo "test-e2e: e2e/run.sh missing" >&2; exit 1; fi

.PHONY: run bench
run: deps all ## Local control plane + operator + samples, until Ctrl-C
	@e2e/run-local.sh

bench: ## All benchmarks against their peers; writes build/bench/summary.json
	@rm -f $(BUILD)/bench/summary.json; rc=0; \
	for b in bench-webhook bench-controller bench-proxy bench-proxy-abuse bench-proxy-node; do \
	    $(MAKE) --no-print-directory $$b || { rc=1; echo "$$b FAILED" >&2; }; done; \
	echo "== $(BUILD)/bench/summary.json"; python3 bench/summary.py $(BUILD)/bench/summary.json --show; exit $$rc

# ---- generated files ---------------------------------------------------------
.PHONY: crd crd-check
crd: $(BUILD)/mcp-crdgen ## Regenerate the CRD from the schema table
	$(Q)$(BUILD)/mcp-crdgen > $(CRD)
	@echo "wrote $(CRD)"

crd-check: $(BUILD)/mcp-crdgen ## Fail when the committed CRD differs from the table
	$(Q)$(BUILD)/mcp-crdgen | diff -u $(CRD) - && echo "crd-check: $(CRD) is up to date"

# The API reference and the chart's values table, generated like the CRD.
REFERENCE   := docs/reference/mcpserver.md
VALUES_DOC  := docs/reference/helm-values.md
.PHONY: docs docs-check
docs: $(BUILD)/mcp-crdgen ## Regenerate docs/reference/ (MCPServer fields, chart values)
	$(Q)$(BUILD)/mcp-crdgen --reference > $(REFERENCE)
	$(Q)python3 tools/values-doc.py > $(VALUES_DOC)
	@echo "wrote $(REFERENCE) $(VALUES_DOC)"

docs-check: $(BUILD)/mcp-crdgen ## Fail when docs/reference/ differs from its sources
	$(Q)$(BUILD)/mcp-crdgen --reference | diff -u $(REFERENCE) - >&2 || \
	    { echo "docs-check: $(REFERENCE) is out of date: run \`make docs\`" >&2; exit 1; }
	$(Q)python3 tools/values-doc.py | diff -u $(VALUES_DOC) - >&2 || \
	    { echo "docs-check: $(VALUES_DOC) is out of date: run \`make docs\`" >&2; exit 1; }
	$(Q)python3 tools/check-docs.py
	@echo "docs-check: docs/reference/ is up to date"

# ---- quality -------------------------------------------------------------------
LINT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
.PHONY: lint format
# varFuncNullUB is off: mcp_log's NULL sentinel is checked by the compiler's
# sentinel attribute, and glibc defines NULL as ((void *)0).
lint: deps ## clang-format check + cppcheck
	$(Q)clang-format --dry-run --Werror $(LINT_SRC)
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	    --suppress=missingIncludeSystem --suppress=varFuncNullUB -Icommon/include -D__GNUC__ -DH2O_USE_LIBUV=0 \
	    common/src webhook controller proxy tools
	$(Q)tools/check-rooms.sh
	@echo "lint: clean"

format: ## Reformat all C sources in place
	$(Q)clang-format -i $(LINT_SRC)

.PHONY: clean help
clean: ## Remove build outputs
	rm -rf $(BUILD) build

help: ## Show this help
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	    awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

-include mk/*.mk
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
