#!/usr/bin/env bash
# Installs what `make evaluate` (argument: evaluate) or `make test`
# (argument: test) needs on a fresh Debian machine with rustup, and nothing
# that is already there. Called by the Makefile, so the README's two
# commands work with no other set-up.
set -euo pipefail
need=${1:-test}

rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
[ "$need" = evaluate ] && exit 0

rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
# cargo fuzz (make fuzz-smoke) needs a nightly toolchain; fuzz/smoke.sh
# installs cargo-fuzz itself.
rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal

missing=()
command -v bats >/dev/null || missing+=(bats)
command -v wasm-objdump >/dev/null || missing+=(wabt)
command -v wasm-opt >/dev/null || missing+=(binaryen)
# e2e.bats parses kwctl/policy-host output and compares JSON patches with jq.
command -v jq >/dev/null || missing+=(jq)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
fi
