# pmsslreseller — developer entry points. `make test` is the CI test command.
CARGO ?= cargo

.PHONY: test check build lint fmt package package-test
build:
	$(CARGO) build --workspace --bins

# The CI test command: every cargo test, then the packages built and checked
# (the package test catches a dependency that raises the glibc floor).
test: check package-test

# Cargo tests only, for quick iteration. Builds both binaries first: module
# tests run billmgr-sim as the upstream and as mgrctl.
check:
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# The module end to end on this machine (README "Demo"): simulated upstream,
# scratch MGR5_ROOT, a fresh MariaDB database (MariaDB started or installed
# when missing, as root). DEMO_ARGS=--keep keeps the simulator, scratch root and
# database until Ctrl-C and prints commands to try against them.
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
DEMO_ARGS ?=
.PHONY: demo
demo:
	$(CARGO) build --workspace --bins
	$(TARGET_DIR)/debug/billmgr-sim demo $(DEMO_ARGS)

# Benchmarks (never part of `make test`): release binaries first, since the
# process benchmarks run target/release/pmsslreseller and billmgr-sim. Each
# benchmark records its performance-goal figures; `table` prints them as one table
# (figure, ours, reference, ratio, goal, met) at the end.
BENCHES ?= startup catalog lifecycle sync books
.PHONY: bench
bench:
	$(CARGO) build --release --workspace --bins
	rm -f $(TARGET_DIR)/release/bench-figures.jsonl
	$(CARGO) bench -p pmsslreseller $(foreach b,$(BENCHES),--bench $(b))
	$(CARGO) bench -p pmsslreseller --bench table

# Kill-and-rerun money trials (never part of `make test`): MONEY_TRIALS per
# operation (default 1000) under each simulator profile of MONEY_PROFILES
# (comma-separated; default: today's answers and the gcore and Zomro panels',
# whose cart the trials pay as an admin would) against the simulator and
# MariaDB; prints doubles, lost, stuck, manual and admin counts per profile,
# and first the meeting trials (BILLmanager's renewal and the module's own
# automatic renewal or reissue on one item), with paid terms shortened or
# doubled, and trials whose ledger does not show one posted row per paid call
# (docs/money-safety.md).
MONEY_TRIALS ?= 1000
MONEY_PROFILES ?= default,bm6-gcore,bm6-zomro
# The meeting trials' count (default MONEY_TRIALS; 0 leaves them out).
MEETING_TRIALS ?= $(MONEY_TRIALS)
# Only these rows of each profile (comma-separated open, open-fault, prolong,
# prolong-fault, reopen, close; default all), to run rows side by side.
MONEY_ROWS ?=
.PHONY: money-trials
money-trials:
	$(CARGO) build --workspace --bins
	$(if $(MONEY_ROWS),PMSS_MONEY_ROWS=$(MONEY_ROWS)) PMSS_MONEY_TRIALS=$(MONEY_TRIALS) PMSS_MEETING_TRIALS=$(MEETING_TRIALS) PMSS_MONEY_PROFILES=$(MONEY_PROFILES) $(CARGO) test --test money money_trials_report -- --ignored --nocapture

# DEB and RPM into target/package/ (release binary via cargo-zigbuild, glibc 2.28
# floor); installs its own tools when missing. See docs/testing.md "Packaging checks".
package:
	bash packaging/build.sh

# Builds the packages, then installs the DEB into a scratch root and checks it
# and the RPM (layout, modes, conffiles, scripts, glibc floor, features).
package-test: package
	bash packaging/test.sh

# The DEB installed and run in Debian 11 and 13 roots made with debootstrap
# (features, check_connection against billmgr-sim), the RPM's scriptlets run by
# rpm in a real userland. Needs root and deb.debian.org; not part of `make test`
# (docs/testing.md "Packaging checks").
.PHONY: package-matrix
package-matrix:
	bash packaging/matrix.sh
