#!/usr/bin/env bash
# Finds Kubewarden's engine tools (kwctl, policy-server) for the targets that
# use them when they can (make evaluate, make bench-server):
#   usage: scripts/engine.sh TOOL...
# Prints the directory to put first on the PATH so that every TOOL is found:
# nothing when they all are on the PATH already, else target/engine, where
# the engine beside the repository ($SHARED_ENGINE, default ../shared/engine)
# is unpacked and checksummed by its unpack.sh, as .ci/run does.
# Exit status: 0 found; 1 not found (a message on stderr says where it
# looked); 2 usage error or a failed unpack.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -eq 0 ]; then
  echo "usage: scripts/engine.sh TOOL..." >&2
  exit 2
fi
missing=()
for tool in "$@"; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ ${#missing[@]} -gt 0 ] || exit 0

engine=${SHARED_ENGINE:-../shared/engine}
if [ ! -x "$engine/unpack.sh" ]; then
  echo "scripts/engine.sh: ${missing[*]} is not on the PATH and $engine/unpack.sh does not exist" >&2
  exit 1
fi
dir=$("$engine/unpack.sh" "$PWD/target/engine") || exit 2
for tool in "${missing[@]}"; do
  if [ ! -x "$dir/$tool" ]; then
    echo "scripts/engine.sh: $engine/unpack.sh did not unpack $tool into $dir" >&2
    exit 1
  fi
done
echo "$dir"
