# pmsslreseller — developer entry points. `make test` is the CI test command.
CARGO ?= cargo

.PHONY: test build lint fmt
build:
	$(CARGO) build --workspace --bins

# Builds both binaries first: module tests run billmgr-sim as the upstream and as mgrctl.
test:
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# The module end to end on this machine (README "Demo"): simulated upstream,
# scratch MGR5_ROOT, a fresh MariaDB database (MariaDB started or installed
# when missing, as root). DEMO_ARGS=--keep keeps the scratch root and database.
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
DEMO_ARGS ?=
.PHONY: demo
demo:
	$(CARGO) build --workspace --bins
	$(TARGET_DIR)/debug/billmgr-sim demo $(DEMO_ARGS)

# Benchmarks (never part of `make test`): release binaries first, since the
# process benchmarks run target/release/pmsslreseller and billmgr-sim.
.PHONY: bench
bench:
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench -p pmsslreseller --bench '*'
