# Cedar authorization: the official engine (the cedar-policy crate) behind a
# C ABI (common/include/mcp/cedar.h), built by cargo from proxy/auth/cedar/
# into $(BUILD)/cargo, and its table-driven unit test. Included by the top
# Makefile; uses its BUILD, CC, CPPFLAGS, CFLAGS, LDFLAGS, obj and TEST_BINS.
#
# Crates: `make deps` runs `cargo fetch --locked` (the one step that needs
# crates.io, quick once ~/.cargo has them); every build after it is
# `cargo build --offline --locked`. When proxy/auth/cedar/vendor/ exists
# (`make cedar-vendor`, run by `make images` so that the Docker build stage,
# which has Debian's rustc-web but no crates.io, gets the crates in its
# context) cargo reads the crates from there instead of ~/.cargo.
#
# What a daemon linking the library adds to its link line: $(CEDAR_LIB)
# $(CEDAR_LIBS), after its own objects.

CEDAR_DIR    := proxy/auth/cedar
CEDAR_SRC    := $(CEDAR_DIR)/Cargo.toml $(CEDAR_DIR)/Cargo.lock $(wildcard $(CEDAR_DIR)/src/*.rs)
CEDAR_TARGET := $(BUILD)/cargo
CEDAR_LIB    := $(CEDAR_TARGET)/release/libcedar_mcp.a
# cargo's `--print native-static-libs` for the library: -lgcc_s -lutil -lrt
# -lpthread -lm -ldl -lc (cc links libgcc_s and libc itself); -z noexecstack
# keeps the stack non-executable should a dependency's assembly lack its
# .note.GNU-stack (psm before 0.1.30 did); --gc-sections drops what the
# three C functions do not reach (a linked program grows by 6 MB stripped
# instead of 16)
CEDAR_LIBS   := -lpthread -ldl -lm -lrt -lutil -Wl,-z,noexecstack -Wl,--gc-sections
CARGO        ?= $(or $(shell command -v cargo 2>/dev/null),$(wildcard $(HOME)/.cargo/bin/cargo),cargo)
CEDAR_VENDOR := $(CEDAR_DIR)/vendor
# the vendored crates are used when they are those of Cargo.lock: the stamp
# holds the lock's checksum (mtimes do not survive every copy)
CEDAR_LOCKSUM = $(firstword $(shell sha256sum $(CEDAR_DIR)/Cargo.lock 2>/dev/null))
CEDAR_VENDORED = $(and $(wildcard $(CEDAR_VENDOR)/.stamp),$(filter $(CEDAR_LOCKSUM),$(shell cat $(CEDAR_VENDOR)/.stamp 2>/dev/null)))
CEDAR_CARGO_FLAGS = --release --offline --locked --manifest-path $(CEDAR_DIR)/Cargo.toml \
    --target-dir $(CEDAR_TARGET) \
    $(if $(CEDAR_VENDORED),--config 'source.crates-io.replace-with="vendored"' \
        --config 'source.vendored.directory="$(abspath $(CEDAR_VENDOR))"')
TEST_CEDAR   := $(BUILD)/test/proxy/auth/test_cedar

TEST_BINS += $(TEST_CEDAR)
test-unit test-valgrind: $(TEST_CEDAR)
deps: cedar-fetch
images: cedar-vendor

.PHONY: cedar cedar-fetch cedar-vendor cedar-test bench-cedar
cedar: $(CEDAR_LIB) ## Build the Cedar library (libcedar_mcp.a) with cargo, offline

$(CEDAR_LIB): $(CEDAR_SRC)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CARGO   $@")
	$(Q)$(CARGO) build $(if $(Q),--quiet) $(CEDAR_CARGO_FLAGS) || { \
	    echo "cedar: cargo build failed; crates missing? run 'make cedar-fetch' (needs crates.io) once" >&2; \
	    exit 1; }
	$(Q)touch $@

cedar-fetch: ## Download the Cedar library's crates (Cargo.lock) into ~/.cargo
	@command -v $(CARGO) >/dev/null || { echo "cedar-fetch: no cargo: installing Debian's rustc-web cargo-web"; \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq rustc-web cargo-web >/dev/null; }
	$(Q)$(CARGO) fetch --locked --quiet --manifest-path $(CEDAR_DIR)/Cargo.toml

cedar-vendor: ## Copy the crates into proxy/auth/cedar/vendor/ (for the Docker build)
	$(Q)sum=$$(sha256sum < $(CEDAR_DIR)/Cargo.lock | cut -d' ' -f1); \
	if [ "$$(cat $(CEDAR_VENDOR)/.stamp 2>/dev/null)" != "$$sum" ]; then \
	    echo "  VENDOR  $(CEDAR_VENDOR)"; rm -rf $(CEDAR_VENDOR) && \
	    (cd $(CEDAR_DIR) && $(CARGO) vendor --offline --locked --quiet --versioned-dirs vendor >/dev/null) && \
	    echo "$$sum" > $(CEDAR_VENDOR)/.stamp; fi

$(TEST_CEDAR): $(call obj,test/proxy/auth/test_cedar.c) $(call obj,test/testutil.c) $(CEDAR_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -ljansson $(CEDAR_LIBS)

cedar-test: $(TEST_CEDAR) ## The Cedar unit test alone (fixtures in test/fixtures/cedar/)
	@test/run-unit.sh $(TEST_CEDAR)

BENCH_CEDAR_N ?= 100000
bench-cedar: $(TEST_CEDAR) ## ns per Cedar decision (5 policies), BENCH_CEDAR_N decisions a row
	@$(TEST_CEDAR) --bench $(BENCH_CEDAR_N)
