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

# Set-up on a fresh machine: the wasm target and binaryen (wasm-opt) for
# building, and for testing also clippy, rustfmt, nightly (fuzzing), bats, jq,
# wabt and docker-registry. Each is installed only if missing.
.PHONY: deps-evaluate deps-test
deps-evaluate:
	@bash scripts/install-deps.sh evaluate
deps-test:
	@bash scripts/install-deps.sh test

# One artifact: every path (make evaluate, make test, the release) ships
# cargo's module through wasm-opt -Oz, so one commit gives one policy.wasm
# (without wasm-opt the module is over the 350 KB size target).
policy.wasm: $(SOURCE_FILES) | deps-evaluate
	$(CARGO) build --locked --target $(WASM_TARGET) --release -p readonly-rootfs-policy
	@command -v wasm-opt >/dev/null || { \
	  echo "wasm-opt (binaryen) is missing: run scripts/install-deps.sh evaluate or apt-get install binaryen" >&2; exit 1; }
	wasm-opt $(WASM_OPT_FLAGS) target/$(WASM_TARGET)/release/readonly_rootfs_policy.wasm -o policy.wasm
	@echo "policy.wasm: $$(stat -c %s policy.wasm) bytes, sha256 $$(sha256sum policy.wasm | cut -d' ' -f1)"

# The waPC host (target/debug/policy-host). Only its binary is built, but with
# the features cargo resolves for the whole workspace (--workspace), as
# `cargo test --workspace` does, so the two share one build of wasmtime and
# `make test` compiles it once: `-p policy-host` alone resolves some of
# wasmtime's dependencies (indexmap, serde_json) with other features, which
# rebuilt wasmtime and everything above it a second time.
.PHONY: host
host:
	$(CARGO) build --locked --workspace --bin policy-host

# The `readonly-rootfs check` CLI (crates/readonly-rootfs-cli): the policy
# core run natively on manifests; target/release/readonly-rootfs. Its tests
# run in `make unit-tests`. `make cli-bench`: objects checked per second on
# 1,000 generated manifests (CLI_BENCH_FILES=N for another count).
.PHONY: cli cli-bench
cli:
	$(CARGO) build --locked --release -p readonly-rootfs-cli
cli-bench: cli
	bash crates/readonly-rootfs-cli/bench/bench.sh target/release/readonly-rootfs $(CLI_BENCH_FILES)

# Annotating, inspecting and publishing are kwctl's (`.ci/run` puts the
# engine from ../shared/engine on the PATH).
.PHONY: need-kwctl
need-kwctl:
	@[ -n "$(KWCTL)" ] || { echo "kwctl is needed for this target and is not on the PATH (https://github.com/kubewarden/kwctl/releases)" >&2; exit 1; }

# The annotated module carries metadata.yml and the README, as Kubewarden
# expects of a published policy; kwctl validates the metadata.
annotated-policy.wasm: policy.wasm metadata.yml README.md | need-kwctl
	kwctl annotate -m metadata.yml -u README.md -o annotated-policy.wasm policy.wasm

.PHONY: inspect
inspect: annotated-policy.wasm
	kwctl inspect annotated-policy.wasm

# make push OCI_REF=registry.example.com/policies/readonly-rootfs:v0.2.0
# prints the immutable reference (pin its digest, not the tag).
.PHONY: push
push: annotated-policy.wasm
	@[ -n "$(OCI_REF)" ] || { echo "usage: make push OCI_REF=HOST/REPOSITORY:TAG" >&2; exit 1; }
	kwctl push -o json annotated-policy.wasm "registry://$(OCI_REF)"

# Artifact Hub package file, derived from metadata.yml and questions-ui.yml by
# kwctl; e2e.bats fails when the committed file differs from what kwctl
# generates (apart from createdAt and the release's `changes`, which kwctl
# does not write: the block at the end of the committed file is kept).
artifacthub-pkg.yml: metadata.yml questions-ui.yml Cargo.toml | need-kwctl
	kwctl scaffold artifacthub --metadata-path metadata.yml --questions-path questions-ui.yml --output $@.new
	sed -n '/^changes:/,$$p' $@ >> $@.new
	mv $@.new $@

# Build the policy and evaluate the sample requests in samples/ with it:
# `kwctl run` on annotated-policy.wasm when kwctl is on the PATH or in the
# engine beside the repository (../shared/engine; scripts/engine.sh unpacks it
# into target/engine), else the waPC host's `run` on policy.wasm, which builds
# wasmtime first. scripts/evaluate-samples.py prints the samples either way.
# `make evaluate-kwctl` and `make evaluate-host` choose the tool.
.PHONY: evaluate evaluate-kwctl evaluate-host
evaluate: policy.wasm
	@engine=$$(bash scripts/engine.sh kwctl) && status=0 || status=$$?; \
	case $$status in \
	  0) PATH="$${engine:+$$engine:}$$PATH" $(MAKE) --no-print-directory evaluate-kwctl ;; \
	  1) echo "make evaluate: no kwctl, so the samples run in the waPC host (policy-host), built with wasmtime first" >&2; \
	     $(MAKE) --no-print-directory evaluate-host ;; \
	  *) exit $$status ;; \
	esac
evaluate-kwctl: annotated-policy.wasm
	python3 scripts/evaluate-samples.py kwctl annotated-policy.wasm samples
evaluate-host: policy.wasm host
	python3 scripts/evaluate-samples.py $(HOST) policy.wasm samples

.PHONY: fmt
fmt:
	$(CARGO) fmt --all
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml

.PHONY: lint
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked --target $(WASM_TARGET) -p readonly-rootfs-policy -- -D warnings
	# The core as the CLI builds it: without the waPC shell (Kubewarden's SDK).
	$(CARGO) clippy --locked -p readonly-rootfs-policy --no-default-features -- -D warnings
	# The fuzz crate: its own workspace and lock (cargo fuzz builds it with
	# nightly and sanitizers; stable checks its code).
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml -- --check
	$(CARGO) clippy --locked --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings

# Unit tests of the pure core, then the fixture table and every other
# wasm-host test against the built policy.wasm.
.PHONY: unit-tests
unit-tests: policy.wasm
	$(CARGO) test --locked --workspace

# bats suite: with kwctl, `kwctl run` on annotated-policy.wasm and on the
# examples, kwctl annotate/inspect/push/pull against a local docker-registry
# and kwctl scaffold artifacthub; without kwctl, the host's `run` on
# policy.wasm, the kwctl tests skipped (failed with CI=true).
.PHONY: e2e-tests
e2e-tests: policy.wasm host $(if $(KWCTL),annotated-policy.wasm)
	bats e2e.bats

# The annotated policy in Kubewarden's real policy-server (on the PATH; .ci/run
# puts the engine from ../shared/engine there): AdmissionReviews over HTTP for
# the fixtures, the examples' settings and the whole fixture table, then a
# bounded load smoke. Skipped without policy-server, except in CI (CI=true).
.PHONY: policy-server-tests
policy-server-tests: $(if $(KWCTL),annotated-policy.wasm)
	bats tests/policy-server.bats

# kubectl against a real kube-apiserver (on the PATH; .ci/run unpacks
# ../shared/cluster there) whose admission webhooks call policy-server with
# annotated-policy.wasm (tests/cluster/). Skipped, saying what is missing,
# without them, except in CI (CI=true).
.PHONY: cluster-tests
cluster-tests: $(if $(KWCTL),annotated-policy.wasm)
	bats tests/cluster.bats

# A bounded fuzzing smoke run of each cargo-fuzz target (20 s each, from the
# committed corpus and regressions); long runs: see fuzz/smoke.sh. First, the
# corpus seeds must be those of the current fixtures and table (a changed
# case fails here until `python3 fuzz/make-seed-corpus.py` is run).
.PHONY: fuzz-smoke
fuzz-smoke:
	python3 fuzz/make-seed-corpus.py --check
	bash fuzz/smoke.sh

.PHONY: test
test: deps-test lint unit-tests e2e-tests policy-server-tests cluster-tests fuzz-smoke

# wasm-opt (binaryen) for policy.wasm and the benchmark's guests: -Oz, with the
# wasm features rustc 1.95 emits for wasm32-wasip1 (wasm-opt 108 cannot read
# them from the module; bulk-memory and sign-ext are in use, all six are
# supported by wasmtime 48).
WASM_OPT_FLAGS := -Oz --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
	--enable-mutable-globals --enable-reference-types --enable-multivalue
BENCH_GUESTS := target/bench-guests

# The baseline guests of the benchmarks, built like policy.wasm: parse-only,
# noop, and the mutation floor (the cheapest guest returning the policy's
# mutated object for the mutation case); then noop and the mutation floor
# again with the policy's first write in wapc_init (`write-first`, see
# docs/performance.md), as noop_write_first and mutation_floor_write_first.
.PHONY: bench-guests
bench-guests: policy.wasm
	$(CARGO) build --locked --target $(WASM_TARGET) --release -p bench-guest-parse-only -p bench-guest-noop \
	  -p bench-guest-mutation-floor
	mkdir -p $(BENCH_GUESTS)
	for guest in parse_only noop mutation_floor; do \
	  wasm-opt $(WASM_OPT_FLAGS) target/$(WASM_TARGET)/release/bench_guest_$$guest.wasm -o $(BENCH_GUESTS)/$$guest.wasm; \
	done
	$(CARGO) build --locked --target $(WASM_TARGET) --release -p bench-guest-noop -p bench-guest-mutation-floor \
	  --features bench-guest-noop/write-first,bench-guest-mutation-floor/write-first
	for guest in noop mutation_floor; do \
	  wasm-opt $(WASM_OPT_FLAGS) target/$(WASM_TARGET)/release/bench_guest_$$guest.wasm \
	    -o $(BENCH_GUESTS)/$${guest}_write_first.wasm; \
	done

# Benchmark, not part of `make test`: policy.wasm in the waPC host against two
# baseline guests built the same way (crates/bench-guests: parse-only, noop);
# prints a Markdown report. Options: make bench BENCH_ARGS="--runs 5 --iterations 2000".
.PHONY: bench
bench: bench-guests
	$(CARGO) run --locked --profile bench -p policy-host --bin bench -- \
	  --policy policy.wasm --unoptimized target/$(WASM_TARGET)/release/readonly_rootfs_policy.wasm \
	  --parse-only $(BENCH_GUESTS)/parse_only.wasm --noop $(BENCH_GUESTS)/noop.wasm $(BENCH_ARGS)
	$(MAKE) bench-server

# The system-level half of `make bench`: the same requests through
# Kubewarden's real policy-server on loopback (bench/policy-server.py: hey,
# fixed request counts, 8 connections), requests per second and p50/p99 per
# module, as ratios to the noop guest in the same server. policy-server and
# kwctl come from the PATH, else from ../shared/engine (scripts/engine.sh). Options:
# make bench-server BENCH_SERVER_ARGS="--runs 5 --only Mutation".
.PHONY: bench-server
bench-server: bench-guests
	@bash scripts/install-deps.sh bench
	$(CARGO) run --locked --profile bench -p policy-host --bin bench -- --dump-only target/bench-requests
	python3 bench/policy-server.py --requests target/bench-requests --policy policy.wasm \
	  --parse-only $(BENCH_GUESTS)/parse_only.wasm --noop $(BENCH_GUESTS)/noop.wasm \
	  --mutation-floor $(BENCH_GUESTS)/mutation_floor.wasm \
	  --noop-write-first $(BENCH_GUESTS)/noop_write_first.wasm \
	  --mutation-floor-write-first $(BENCH_GUESTS)/mutation_floor_write_first.wasm $(BENCH_SERVER_ARGS)

# In-process, what policy-server does per request: a fresh instance for every
# call (instantiate from the pre-instantiated module, wapc_init, one call,
# drop), on 1 and 2 threads, with instruction counts, memory and page faults
# per request (bench --fresh; see docs/performance.md). Options:
# make bench-fresh BENCH_FRESH_ARGS="--only 'Pod, 1 container' --fresh-engines epoch,plain".
.PHONY: bench-fresh
bench-fresh: bench-guests
	$(CARGO) run --locked --profile bench -p policy-host --bin bench -- --fresh \
	  --policy policy.wasm --parse-only $(BENCH_GUESTS)/parse_only.wasm --noop $(BENCH_GUESTS)/noop.wasm \
	  --mutation-floor $(BENCH_GUESTS)/mutation_floor.wasm $(BENCH_FRESH_ARGS)

.PHONY: clean
clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
