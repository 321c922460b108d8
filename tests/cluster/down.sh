#!/usr/bin/env bash
# Stops the test cluster that up.sh started in DIR, by the PIDs it recorded
# (newest first: kube-apiserver, policy-server, etcd, the watchdog), then removes
# DIR. Safe to run twice and on a half-started cluster. KEEP_CLUSTER_DIR=1
# keeps DIR (logs, kubeconfig, certificates) for a post-mortem.
set -uo pipefail
dir=${1:?usage: down.sh DIR}
[ -f "$dir/pids" ] || { [ -n "${KEEP_CLUSTER_DIR:-}" ] || rm -rf "$dir"; exit 0; }

alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}

# PID NAME: TERM, then KILL after 5 s. A PID whose program is no longer
# NAME was reused by another process and is left alone.
stop() {
  local pid=$1 name=$2
  [ "$pid" = "$PPID" ] && return 0 # the watchdog running this script
  alive "$pid" || return 0
  if [ "$name" != watchdog ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$name" ]; then
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 25); do
    alive "$pid" || return 0
    sleep 0.2
  done
  echo "down.sh: $name ($pid) ignored SIGTERM for 5 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null
}

tac "$dir/pids" | while read -r pid name; do stop "$pid" "$name"; done
[ -n "${KEEP_CLUSTER_DIR:-}" ] || rm -rf "$dir"
