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
