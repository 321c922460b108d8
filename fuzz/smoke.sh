#!/usr/bin/env bash
# Fuzz smoke test, for CI: builds the fuzz targets and runs each one for a
# bounded time, starting from the committed corpus (and, for
# validate_payload, the crash regressions in fuzz/regressions/). Fails if any
# target crashes, panics, times out on an input or runs out of memory.
#
#   bash fuzz/smoke.sh                 # every target, 20 s each
#   FUZZ_SECONDS=60 bash fuzz/smoke.sh settings
#
# Environment: FUZZ_SECONDS (per target, default 20), FUZZ_TOOLCHAIN
# (default nightly), FUZZ_SANITIZER (default address; "none" runs ~7x faster).
# The committed corpus is read, never written: new entries go to a temporary
# directory. A crashing input is left in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"

CARGO_FUZZ_VERSION=0.13.2
TOOLCHAIN=${FUZZ_TOOLCHAIN:-nightly}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-20}
SANITIZER=${FUZZ_SANITIZER:-address}
ALL_TARGETS=(validate_payload settings pod_structure image_reference)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
  echo "fuzz/smoke.sh: the $TOOLCHAIN toolchain is missing (cargo fuzz needs nightly): rustup toolchain install $TOOLCHAIN" >&2
  exit 1
fi
# cargo-fuzz needs no extra rustup component for build and run (rust-src
# only for --build-std, llvm-tools only for `cargo fuzz coverage`).
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  cargo install cargo-fuzz --version "=$CARGO_FUZZ_VERSION" --locked
fi

# cargo fuzz has no --locked: check that fuzz/Cargo.lock is up to date first.
cargo "+$TOOLCHAIN" metadata --locked --format-version 1 --manifest-path Cargo.toml >/dev/null

for target in "${TARGETS[@]}"; do
  cargo "+$TOOLCHAIN" fuzz build -s "$SANITIZER" "$target"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for target in "${TARGETS[@]}"; do
  new_corpus="$work/$target"
  mkdir -p "$new_corpus" "artifacts/$target"
  inputs=()
  [ -d "corpus/$target" ] && inputs+=("corpus/$target")
  if [ "$target" = validate_payload ] && compgen -G 'regressions/*.json' >/dev/null; then
    mkdir -p "$work/regressions"
    cp regressions/*.json "$work/regressions/"
    inputs+=("$work/regressions")
  fi
  dict=()
  case "$target" in
    pod_structure) ;;
    image_reference) dict=(-dict=dicts/image_reference.dict) ;;
    *) dict=(-dict=dicts/admission.dict) ;;
  esac
  echo "=== fuzz smoke: $target for ${SECONDS_PER_TARGET}s (sanitizer: $SANITIZER)"
  if cargo "+$TOOLCHAIN" fuzz run -s "$SANITIZER" "$target" "$new_corpus" "${inputs[@]}" -- \
      -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 "${dict[@]}" >"$work/$target.log" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units' "$work/$target.log" || true
  else
    failed+=("$target")
    tail -n 60 "$work/$target.log"
    echo "=== fuzz smoke: $target FAILED; crashing input in fuzz/artifacts/$target/" >&2
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz smoke failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz smoke passed: ${TARGETS[*]}"
