#!/usr/bin/env bash
# Benchmark of `readonly-rootfs check`: objects checked per second on a
# directory of generated manifests (default 1,000 files, one object each:
# Deployments, Pods, StatefulSets, Jobs and CronJobs with 1-3 containers,
# half of them compliant, a tenth of other kinds that are not checked).
# Usage: bench.sh BINARY [FILES]. Not part of `make test`; `make cli-bench`.
set -euo pipefail
bin=$1
files=${2:-1000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

container() { # name, compliant (1/0)
  printf '        - name: %s\n          image: registry.example.com/%s:1.%s\n' "$1" "$1" "$RANDOM"
  printf '          ports:\n            - containerPort: 8080\n'
  if [ "$2" = 1 ]; then
    printf '          securityContext:\n            readOnlyRootFilesystem: true\n'
    printf '          volumeMounts:\n            - name: tmp\n              mountPath: /tmp\n'
  else
    printf '          securityContext:\n            runAsNonRoot: true\n'
  fi
}

# A pod spec at the depth of a workload's template spec (6 spaces).
pod_spec() { # containers, compliant
  printf '      containers:\n'
  for c in $(seq 1 "$1"); do container "c$c" "$2"; done
  printf '      volumes:\n        - name: tmp\n          emptyDir: {}\n'
}

manifest() { # index
  local i=$1 compliant=$(( $1 % 2 )) containers=$(( $1 % 3 + 1 ))
  case $(( i % 10 )) in
    0|1|2|3)
      printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%s\n  namespace: team-%s\n' "$i" $(( i % 7 ))
      printf 'spec:\n  replicas: 2\n  selector:\n    matchLabels: {app: app-%s}\n  template:\n    metadata:\n      labels: {app: app-%s}\n    spec:\n' "$i" "$i"
      pod_spec "$containers" "$compliant" ;;
    4|5)
      printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-%s\nspec:\n' "$i"
      pod_spec "$containers" "$compliant" | sed 's/^    //' ;;
    6)
      printf 'apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db-%s\nspec:\n  serviceName: db\n  selector:\n    matchLabels: {app: db}\n  template:\n    spec:\n' "$i"
      pod_spec "$containers" "$compliant" ;;
    7)
      printf 'apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: cron-%s\nspec:\n  schedule: "0 3 * * *"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n' "$i"
      pod_spec "$containers" "$compliant" | sed 's/^/    /' ;;
    8)
      printf 'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: job-%s\nspec:\n  template:\n    spec:\n' "$i"
      pod_spec "$containers" "$compliant" ;;
    9)
      printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-%s\ndata:\n  key: value-%s\n' "$i" "$i" ;;
  esac
}

mkdir "$dir/manifests"
for i in $(seq 1 "$files"); do manifest "$i" > "$dir/manifests/manifest-$i.yaml"; done
printf 'requiredWritablePaths: ["/tmp"]\n' > "$dir/settings.yaml"

# Every manifest must be read and checked: count from the JSON report.
"$bin" check --settings "$dir/settings.yaml" --output json "$dir/manifests" > "$dir/report.json" || [ $? = 1 ]
checked=$(jq '[.[] | select(.checked)] | length' "$dir/report.json")
rejected=$(jq '[.[] | select(.allowed | not)] | length' "$dir/report.json")
echo "$files files, $checked objects checked ($rejected rejected), $(cat "$dir"/manifests/* | wc -c) bytes of YAML"

if command -v hyperfine >/dev/null; then
  hyperfine --warmup 2 --runs 10 -i --export-json "$dir/times.json" \
    -n check "$bin check --settings $dir/settings.yaml $dir/manifests" \
    -n fix "$bin check --fix --settings $dir/settings.yaml $dir/manifests"
  jq -r --argjson n "$checked" '.results[] |
    "\(.command): mean \(.mean * 1000 | floor) ms ± \(.stddev * 1000 | floor) ms wall, \((.user + .system) * 1000 | floor) ms CPU; \($n / .mean | floor) objects checked per second (\($n / (.user + .system) | floor) per CPU second)"' \
    "$dir/times.json"
else
  start=$(date +%s%N)
  for _ in 1 2 3 4 5; do "$bin" check --settings "$dir/settings.yaml" "$dir/manifests" > /dev/null || true; done
  end=$(date +%s%N)
  echo "check: mean $(( (end - start) / 5000000 )) ms, $(( checked * 5 * 1000000000 / (end - start) )) objects checked per second"
fi
