# Build, test and ship the readonly-rootfs Kubewarden policy.
# `make evaluate` builds the policy and runs the sample requests through it;
# `make test` runs every test (what CI runs).

SOURCE_FILES := $(shell find src -type f -name '*.rs') Cargo.toml Cargo.lock
WASM_TARGET := wasm32-wasip1
CARGO := cargo
HOST := target/debug/policy-host
KWCTL := $(shell command -v kwctl 2>/dev/null)

.PHONY: all
all: policy.wasm

policy.wasm: $(SOURCE_FILES)
	$(CARGO) build --locked --target $(WASM_TARGET) --release -p readonly-rootfs-policy
	cp target/$(WASM_TARGET)/release/readonly_rootfs_policy.wasm policy.wasm

.PHONY: host
host:
	$(CARGO) build --locked -p policy-host

# The annotated module carries metadata.yml and the README, as Kubewarden
# expects of a published policy. Without kwctl the project's host writes the
# same custom sections.
annotated-policy.wasm: policy.wasm metadata.yml README.md
ifneq ($(KWCTL),)
	kwctl annotate -m metadata.yml -u README.md -o annotated-policy.wasm policy.wasm
else
	$(CARGO) run --locked -q -p policy-host --bin policy-host -- annotate -m metadata.yml -u README.md -o annotated-policy.wasm policy.wasm
endif

# Artifact Hub package file, derived from metadata.yml and questions-ui.yml by
# kwctl. Without kwctl the committed file stays as it is (the consistency test,
# crates/policy-host/tests/consistency.rs, checks that it agrees with both).
artifacthub-pkg.yml: metadata.yml questions-ui.yml Cargo.toml
ifneq ($(KWCTL),)
	kwctl scaffold artifacthub --metadata-path metadata.yml --questions-path questions-ui.yml --output artifacthub-pkg.yml
else
	@echo "kwctl is needed to regenerate artifacthub-pkg.yml (kwctl scaffold artifacthub); keeping the committed file"
endif

# Build the policy and evaluate the sample requests in samples/ with it.
.PHONY: evaluate
evaluate: policy.wasm host
	$(HOST) samples samples policy.wasm

.PHONY: fmt
fmt:
	$(CARGO) fmt --all

.PHONY: lint
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked --target $(WASM_TARGET) -p readonly-rootfs-policy -- -D warnings

# Unit tests of the pure core, then the fixture table and every other
# wasm-host test against the built policy.wasm.
.PHONY: unit-tests
unit-tests: policy.wasm
	$(CARGO) test --locked --workspace

# bats suite against annotated-policy.wasm: `kwctl run` when kwctl is
# installed, else the project's host with the same flags; includes the OCI
# push/pull round trip against a local docker-registry (skipped when absent).
.PHONY: e2e-tests
e2e-tests: annotated-policy.wasm host
	bats e2e.bats

.PHONY: test
test: lint unit-tests e2e-tests

.PHONY: clean
clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
