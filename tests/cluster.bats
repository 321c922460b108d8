#!/usr/bin/env bats
# The policy behind a real Kubernetes API server, driven with kubectl:
#   kubectl -> kube-apiserver -> policy-server (TLS) -> annotated-policy.wasm
# Each test asserts what a user sees: kubectl's exit status, the denial on
# stderr, the warnings kubectl prints, and the object read back from the API
# server.
#
# tests/cluster/up.sh starts etcd, kube-apiserver and policy-server on
# 127.0.0.1 once for this file (setup_file) and down.sh stops them
# (teardown_file; a watchdog stops them if the run dies). Each test namespace
# is routed to one policy-server entry (tests/cluster/generate.py): the named
# entries of tests/cluster/policies.yaml, one per examples/*.yaml and one per
# CREATE sample of samples/. Webhook `<namespace>.readonly-rootfs.test`
# answers for namespace <namespace>.
#
# Needs kube-apiserver, etcd, kubectl, policy-server, kwctl, openssl, curl,
# jq and python3 with PyYAML on PATH (`make cluster-tests` builds the module;
# .ci/run unpacks ../shared/cluster and ../shared/engine onto PATH). Without
# them the tests skip saying what is missing, except with CI=true, where they
# fail. KEEP_CLUSTER_DIR=1 keeps the cluster's directory (logs) afterwards.

bats_require_minimum_version 1.5.0

REPO=$BATS_TEST_DIRNAME/..
CLUSTER=$BATS_TEST_DIRNAME/cluster
# CLUSTER_POLICY_MODULE runs the suite on another annotated module.
MODULE=${CLUSTER_POLICY_MODULE:-$REPO/annotated-policy.wasm}
NEEDED_TOOLS=(kube-apiserver etcd kubectl policy-server kwctl openssl curl jq python3)

missing_requirements() {
  local tool missing=()
  for tool in "${NEEDED_TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  python3 -c 'import yaml' 2>/dev/null || missing+=("PyYAML")
  [ -f "$MODULE" ] || missing+=("annotated-policy.wasm (make annotated-policy.wasm)")
  [ ${#missing[@]} -eq 0 ] || echo "${missing[*]}"
}

setup_file() {
  local missing
  missing=$(missing_requirements)
  if [ -n "$missing" ]; then
    local why="missing: $missing (see docs/development.md, API server tests)"
    # bats 1.8 cannot skip from setup_file: each test skips in setup.
    [ "${CI:-}" != true ] || { echo "CI=true: $why" >&2; return 1; }
    export CLUSTER_SKIP=$why
    return 0
  fi
  local started=$SECONDS
  CLUSTER_DIR=$("$CLUSTER/up.sh" --owner "$$" "$MODULE")
  export CLUSTER_DIR
  # shellcheck disable=SC1091
  source "$CLUSTER_DIR/env"
  echo "# cluster up in $((SECONDS - started)) s: $(kube-apiserver --version), etcd $(etcd --version | awk 'NR==1 {print $3}'), kubectl $(kubectl version --client -o json | jq -r .clientVersion.gitVersion), $(policy-server --version | head -n 1)" >&3
  local refused
  for refused in "$CLUSTER_DIR"/unloaded/*; do
    [ -e "$refused" ] || continue
    echo "# policy-server refused entry $(basename "$refused"), its tests fail: $(cat "$refused")" >&3
  done
}

teardown_file() {
  [ -z "${CLUSTER_DIR:-}" ] || "$CLUSTER/down.sh" "$CLUSTER_DIR"
}

setup() {
  [ -z "${CLUSTER_SKIP:-}" ] || skip "$CLUSTER_SKIP"
}

# --- helpers -----------------------------------------------------------------

# A policy entry that policy-server refused at start-up (settings this module
# does not know) fails its tests with policy-server's reason.
require_entry() {
  local policy
  policy=$(jq -r --arg ns "$1" '.[$ns].policy' "$CLUSTER_DIR/entries.json")
  if [ -f "$CLUSTER_DIR/unloaded/$policy" ]; then
    echo "policy entry $policy (namespace $1) is not loaded: $(cat "$CLUSTER_DIR/unloaded/$policy")" >&2
    return 1
  fi
}

# The namespace of the entry made from FILE (examples/... or samples/...).
namespace_of() {
  jq -r --arg source "$1" 'to_entries[] | select(.value.source == $source) | .key' "$CLUSTER_DIR/entries.json"
}

# Creates the manifest on stdin in NAMESPACE, as `kubectl create -f -` does;
# sets $status, $output and $stderr. This API server cannot serve the
# protobuf OpenAPI document kubectl's client-side validation asks for, so
# validation is left to the server (--validate=false).
create() {
  local namespace=$1
  shift
  run --separate-stderr kubectl create --validate=false -n "$namespace" -f - "$@"
}

stored() { kubectl get -n "$1" "$2" -o json; }

# (Leaves $status, $output and $stderr of the last `run` alone.)
not_stored() {
  local answer
  if answer=$(kubectl get -n "$1" "$2" 2>&1) || [[ $answer != *NotFound* ]]; then
    echo "expected no $2 in namespace $1, kubectl get said: $answer" >&2
    return 1
  fi
}

has_text() {
  [[ $stderr == *"$1"* ]] || { printf 'stderr lacks: %s\nstderr was:\n%s\n' "$1" "$stderr" >&2; return 1; }
}

# A line of stderr is exactly TEXT (a violation line of the denial).
has_line() {
  grep -Fxq -- "$1" <<<"$stderr" || { printf 'stderr has no line: %s\nstderr was:\n%s\n' "$1" "$stderr" >&2; return 1; }
}

denied_by() {
  [ "$status" -eq 1 ] || { echo "kubectl exited with $status, expected 1 (denied); stderr: $stderr" >&2; return 1; }
  has_text "admission webhook \"$1.readonly-rootfs.test\" denied the request: $2"
}

# A "Warning: " line of stderr holds every FRAGMENT.
has_warning() {
  local warnings fragment
  warnings=$(grep '^Warning: ' <<<"$stderr")
  for fragment in "$@"; do
    warnings=$(grep -F -- "$fragment" <<<"$warnings")
  done
  [ -n "$warnings" ] || { printf 'no warning with all of: %s\nstderr was:\n%s\n' "$*" "$stderr" >&2; return 1; }
}

admitted() {
  [ "$status" -eq 0 ] || { echo "kubectl exited with $status, expected 0; stderr: $stderr" >&2; return 1; }
}

# Every string, number and boolean of ORIGINAL (JSON) is in STORED at the
# same path: the policy and the API server kept every field the user wrote.
# (A null in a manifest means "unset"; the API server fills some in, such as
# metadata.creationTimestamp.)
keeps_every_field() {
  local lost
  lost=$(jq -n --argjson original "$1" --argjson stored "$2" '
    [$original | paths(type == "string" or type == "number" or type == "boolean")]
    | map(. as $path | select(($original | getpath($path)) != ($stored | getpath($path))))')
  [ "$lost" = "[]" ] || { echo "fields changed or lost: $lost" >&2; return 1; }
}

yaml_to_json() { python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'; }

NON_COMPLIANT_SPEC='{"containers": [{"name": "app", "image": "registry.example.com/app:1.0"}]}'
COMPLIANT_SPEC='{"containers": [{"name": "app", "image": "registry.example.com/app:1.0",
  "securityContext": {"readOnlyRootFilesystem": true},
  "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}],
  "volumes": [{"name": "tmp", "emptyDir": {}}]}'
WORKLOAD_KINDS=(Deployment ReplicaSet StatefulSet DaemonSet Job CronJob ReplicationController)

# workload KIND NAME POD_SPEC: a KIND object whose pod template has POD_SPEC.
workload() {
  jq -n --arg kind "$1" --arg name "$2" --argjson spec "$3" '
    {name: $name, labels: {app: $name}} as $meta
    | {metadata: {labels: {app: $name}}, spec: $spec} as $template
    | ($template | .spec.restartPolicy = "Never") as $job_template
    | if $kind == "Job" then
        {apiVersion: "batch/v1", kind: $kind, metadata: $meta, spec: {template: $job_template}}
      elif $kind == "CronJob" then
        {apiVersion: "batch/v1", kind: $kind, metadata: $meta,
         spec: {schedule: "*/5 * * * *", jobTemplate: {spec: {template: $job_template}}}}
      elif $kind == "ReplicationController" then
        {apiVersion: "v1", kind: $kind, metadata: $meta, spec: {selector: {app: $name}, template: $template}}
      elif $kind == "StatefulSet" then
        {apiVersion: "apps/v1", kind: $kind, metadata: $meta,
         spec: {serviceName: $name, selector: {matchLabels: {app: $name}}, template: $template}}
      else
        {apiVersion: "apps/v1", kind: $kind, metadata: $meta,
         spec: {selector: {matchLabels: {app: $name}}, template: $template}}
      end'
}

template_path() {
  if [ "$1" = CronJob ]; then echo spec.jobTemplate.spec.template.spec; else echo spec.template.spec; fi
}

template_of() {
  if [ "$1" = CronJob ]; then echo .spec.jobTemplate.spec.template.spec; else echo .spec.template.spec; fi
}

lower() { tr '[:upper:]' '[:lower:]' <<<"$1"; }

# The resource name kubectl prints for KIND ("deployment.apps").
resource_of() {
  case $1 in
    Deployment | ReplicaSet | StatefulSet | DaemonSet) echo "$(lower "$1").apps" ;;
    Job | CronJob) echo "$(lower "$1").batch" ;;
    *) lower "$1" ;;
  esac
}

# --- Pods, validate-only (namespace validate: requiredWritablePaths [/tmp]) ---

@test "a non-compliant Pod is denied with every violation and its field path, and not stored" {
  create validate <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: writable-root
spec:
  initContainers:
    - name: migrate
      image: registry.example.com/app:2.1
      securityContext:
        readOnlyRootFilesystem: false
  containers:
    - name: app
      image: registry.example.com/app:2.1
EOF
  denied_by validate "Pod rejected by the read-only root filesystem policy (4 violations):"
  has_line '- init container "migrate" (spec.initContainers[0]): securityContext.readOnlyRootFilesystem is false; set it to true'
  has_line '- init container "migrate" (spec.initContainers[0]): no writable volume is mounted at /tmp; mount a writable volume such as an emptyDir at /tmp or a parent directory'
  has_line '- container "app" (spec.containers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true'
  has_line '- container "app" (spec.containers[0]): no writable volume is mounted at /tmp; mount a writable volume such as an emptyDir at /tmp or a parent directory'
  not_stored validate pod/writable-root
}

@test "a compliant Pod is created and stored as written" {
  local manifest
  manifest=$(jq -n --argjson spec "$COMPLIANT_SPEC" '{apiVersion: "v1", kind: "Pod", metadata: {name: "compliant"}, spec: $spec}')
  create validate <<<"$manifest"
  admitted
  [ "$output" = "pod/compliant created" ]
  [ -z "$stderr" ]
  keeps_every_field "$manifest" "$(stored validate pod/compliant)"
}

@test "a configMap at /tmp is not writable: denied naming the volume" {
  create validate <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: configmap-tmp
spec:
  containers:
    - name: app
      image: registry.example.com/app:1.0
      securityContext:
        readOnlyRootFilesystem: true
      volumeMounts:
        - name: config
          mountPath: /tmp
  volumes:
    - name: config
      configMap:
        name: app-config
EOF
  denied_by validate "Pod rejected by the read-only root filesystem policy (1 violation):"
  has_line '- container "app" (spec.containers[0]): /tmp must be writable but resolves to the mount at "/tmp" of volume "config", and configMap volumes are always read-only; mount a writable volume such as an emptyDir at /tmp'
}

@test "every workload kind with a non-compliant pod template is denied with the template's field path" {
  local kind name path
  for kind in "${WORKLOAD_KINDS[@]}"; do
    name="bad-$(lower "$kind")"
    path=$(template_path "$kind")
    create validate <<<"$(workload "$kind" "$name" "$NON_COMPLIANT_SPEC")"
    denied_by validate "$kind rejected by the read-only root filesystem policy (2 violations):"
    has_line "- container \"app\" ($path.containers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true"
    has_line "- container \"app\" ($path.containers[0]): no writable volume is mounted at /tmp; mount a writable volume such as an emptyDir at /tmp or a parent directory"
    not_stored validate "$(lower "$kind")/$name"
  done
}

@test "every workload kind with a compliant pod template is created" {
  local kind name manifest
  for kind in "${WORKLOAD_KINDS[@]}"; do
    name="good-$(lower "$kind")"
    manifest=$(workload "$kind" "$name" "$COMPLIANT_SPEC")
    create validate <<<"$manifest"
    admitted
    [ "$output" = "$(resource_of "$kind")/$name created" ]
    keeps_every_field "$manifest" "$(stored validate "$(lower "$kind")/$name")"
  done
}

@test "kubectl create --dry-run=server: the denial of a real create, and nothing stored either way" {
  create validate --dry-run=server <<<"$(jq -n --argjson spec "$NON_COMPLIANT_SPEC" '{apiVersion: "v1", kind: "Pod", metadata: {name: "dry-bad"}, spec: $spec}')"
  denied_by validate "Pod rejected by the read-only root filesystem policy (2 violations):"
  has_line '- container "app" (spec.containers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true'

  create validate --dry-run=server <<<"$(jq -n --argjson spec "$COMPLIANT_SPEC" '{apiVersion: "v1", kind: "Pod", metadata: {name: "dry-good"}, spec: $spec}')"
  admitted
  [ "$output" = "pod/dry-good created (server dry run)" ]
  not_stored validate pod/dry-good
}

@test "a label change, a finalizer removal and the deletion of a legacy Pod that predates the policy are allowed" {
  # Created while the webhook skipped it (see generate.py, PRE_EXISTING_LABEL).
  create validate <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: legacy
  labels:
    readonly-rootfs.test/pre-existing: "true"
  finalizers:
    - example.com/keep
spec:
  containers:
    - name: app
      image: registry.example.com/legacy:1.0
EOF
  admitted
  # From here on every update goes through the policy.
  run --separate-stderr kubectl label -n validate pod legacy readonly-rootfs.test/pre-existing- tier=frontend
  admitted
  stored validate pod/legacy | jq -e '.metadata.labels == {tier: "frontend"}'

  # The proof the policy sees this Pod: a new debug container is denied.
  run --separate-stderr kubectl debug -n validate legacy --image=busybox:1.36 -c shell --profile=general
  denied_by validate "Pod rejected by the read-only root filesystem policy (1 violation):"

  run --separate-stderr kubectl delete -n validate pod legacy --wait=false
  admitted
  run --separate-stderr kubectl patch -n validate pod legacy --type json -p '[{"op": "remove", "path": "/metadata/finalizers"}]'
  admitted
  not_stored validate pod/legacy
}

@test "kubectl debug: a debug container without a read-only root is denied, a read-only one is added" {
  create validate <<<"$(jq -n --argjson spec "$COMPLIANT_SPEC" '{apiVersion: "v1", kind: "Pod", metadata: {name: "debug-target"}, spec: $spec}')"
  admitted

  run --separate-stderr kubectl debug -n validate debug-target --image=busybox:1.36 -c shell --profile=general
  denied_by validate "Pod rejected by the read-only root filesystem policy (1 violation):"
  has_line '- ephemeral container "shell" (spec.ephemeralContainers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true'
  [ "$(stored validate pod/debug-target | jq '.spec.ephemeralContainers // [] | length')" -eq 0 ]

  echo '{"securityContext": {"readOnlyRootFilesystem": true}}' >"$BATS_TEST_TMPDIR/read-only.json"
  run --separate-stderr kubectl debug -n validate debug-target --image=busybox:1.36 -c ro-shell \
    --profile=general --custom="$BATS_TEST_TMPDIR/read-only.json"
  admitted
  stored validate pod/debug-target |
    jq -e '.spec.ephemeralContainers == [.spec.ephemeralContainers[] | select(.name == "ro-shell" and .securityContext.readOnlyRootFilesystem == true)] and (.spec.ephemeralContainers | length) == 1'
}

WINDOWS_POD='apiVersion: v1
kind: Pod
metadata:
  name: windows
spec:
  os:
    name: windows
  containers:
    - name: app
      image: mcr.microsoft.com/windows/nanoserver:ltsc2022
'
WINDOWS_WARNING="Warning: the read-only root filesystem policy did not check this Windows pod: Kubernetes does not allow securityContext.readOnlyRootFilesystem on Windows containers"

@test "a Windows Pod is admitted unchanged with the policy's warning" {
  create validate <<<"$WINDOWS_POD"
  admitted
  has_line "$WINDOWS_WARNING"
  stored validate pod/windows | jq -e '.spec.containers[0].securityContext == null'
}

# --- mutation (namespace mutate: mutate, /tmp, sizeLimit 64Mi) ---------------

MUTATE_POD='apiVersion: v1
kind: Pod
metadata:
  name: NAME
  labels:
    app: payments
  annotations:
    example.com/owner: team-payments
spec:
  containers:
    - name: app
      image: registry.example.com/app:2.1
      args: ["--port", "8080"]
      env:
        - name: MODE
          value: production
      ports:
        - containerPort: 8080
      securityContext:
        runAsNonRoot: true
      volumeMounts:
        - name: config
          mountPath: /etc/app
    - name: log-shipper
      image: fluent/fluent-bit:3.0
  volumes:
    - name: config
      configMap:
        name: app-config'

# A container's own emptyDir at MOUNT_PATH, 64Mi, as the mutation adds it.
has_injected_volume() { # STORED_POD_SPEC CONTAINER MOUNT_PATH VOLUME_NAME
  jq -e --arg c "$2" --arg path "$3" --arg volume "$4" '
    (.containers + (.initContainers // []))[] | select(.name == $c)
    | ([.volumeMounts[] | select(.mountPath == $path) | .name] == [$volume])' <<<"$1" >/dev/null &&
    jq -e --arg volume "$4" '[.volumes[] | select(.name == $volume)] == [{name: $volume, emptyDir: {sizeLimit: "64Mi"}}]' <<<"$1" >/dev/null ||
    { echo "no 64Mi emptyDir $4 at $3 for container $2 in: $1" >&2; return 1; }
}

# CONTAINER of POD_SPEC has a read-only root, and its mounts of emptyDir
# volumes are exactly at PATH..., in this order, each of its own volume,
# whose emptyDir is EMPTY_DIR (JSON).
has_emptydirs_at() { # POD_SPEC CONTAINER EMPTY_DIR PATH...
  local spec=$1 container=$2 empty_dir=$3
  shift 3
  jq -e --arg c "$container" --argjson empty_dir "$empty_dir" '
    (.volumes // [] | map({key: .name, value: .}) | from_entries) as $volumes
    | [(.containers + (.initContainers // []))[] | select(.name == $c)] as [$container]
    | [$container.volumeMounts // [] | .[] | select($volumes[.name].emptyDir != null)] as $mounts
    | $container.securityContext.readOnlyRootFilesystem == true
      and ($mounts | map(.mountPath)) == $ARGS.positional
      and ($mounts | map(.name) | unique | length) == ($mounts | length)
      and all($mounts[]; $volumes[.name] == {name: .name, emptyDir: $empty_dir})' --args "$@" <<<"$spec" >/dev/null ||
    { echo "container $container: expected a read-only root and its own emptyDir $empty_dir at exactly $*, got: $spec" >&2; return 1; }
}

@test "mutate: a Pod is stored with a read-only root, its own /tmp emptyDirs and every original field" {
  local manifest spec
  create mutate <<<"${MUTATE_POD/NAME/mutated}"
  admitted
  [ "$output" = "pod/mutated created" ]
  spec=$(stored mutate pod/mutated | jq .spec)
  jq -e '[.containers[].securityContext.readOnlyRootFilesystem] == [true, true]' <<<"$spec"
  has_injected_volume "$spec" app /tmp rw-app-tmp
  has_injected_volume "$spec" log-shipper /tmp rw-log-shipper-tmp
  manifest=$(yaml_to_json <<<"${MUTATE_POD/NAME/mutated}")
  keeps_every_field "$manifest" "$(stored mutate pod/mutated)"
}

@test "mutate: kubectl create --dry-run=server -o json prints the mutated Pod and stores nothing" {
  create mutate --dry-run=server -o json <<<"${MUTATE_POD/NAME/dry-mutated}"
  admitted
  jq -e '[.spec.containers[].securityContext.readOnlyRootFilesystem] == [true, true]' <<<"$output"
  has_injected_volume "$(jq .spec <<<"$output")" app /tmp rw-app-tmp
  not_stored mutate pod/dry-mutated
}

@test "mutate: kubectl apply --server-side stores the mutated Pod" {
  run --separate-stderr kubectl apply --server-side --validate=false -n mutate -f - <<<"${MUTATE_POD/NAME/server-side}"
  admitted
  [ "$output" = "pod/server-side serverside-applied" ]
  has_injected_volume "$(stored mutate pod/server-side | jq .spec)" app /tmp rw-app-tmp
}

@test "mutate: an explicit readOnlyRootFilesystem: false is still denied" {
  create mutate <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: explicit-false
spec:
  containers:
    - name: app
      image: registry.example.com/app:1.0
      securityContext:
        readOnlyRootFilesystem: false
EOF
  denied_by mutate "Pod rejected by the read-only root filesystem policy (1 violation):"
  has_line '- container "app" (spec.containers[0]): securityContext.readOnlyRootFilesystem is explicitly false and the policy does not override an explicit choice; remove the field to let the policy set it to true, or exempt the container in the policy settings'
  not_stored mutate pod/explicit-false
}

@test "mutate: every workload kind is stored with its pod template fixed and every original field" {
  local kind name manifest object spec
  for kind in "${WORKLOAD_KINDS[@]}"; do
    name="fixed-$(lower "$kind")"
    manifest=$(workload "$kind" "$name" "$NON_COMPLIANT_SPEC")
    create mutate <<<"$manifest"
    admitted
    object=$(stored mutate "$(lower "$kind")/$name")
    spec=$(jq "$(template_of "$kind")" <<<"$object")
    jq -e '.containers[0].securityContext.readOnlyRootFilesystem == true' <<<"$spec"
    has_injected_volume "$spec" app /tmp rw-app-tmp
    keeps_every_field "$manifest" "$object"
  done
}

@test "mutate: re-applying a mutated Deployment with a new image (kubectl apply, helm upgrade) keeps the injected volume once" {
  local manifest
  manifest=$(workload Deployment upgraded "$NON_COMPLIANT_SPEC")
  run --separate-stderr kubectl apply --validate=false -n mutate -f - <<<"$manifest"
  admitted
  [ "$output" = "deployment.apps/upgraded created" ]
  # kubectl's three-way merge sends only the image change; the template the
  # policy fixed keeps its injected mount and volume, and is accepted as is.
  run --separate-stderr kubectl apply --validate=false -n mutate -f - <<<"$(jq '.spec.template.spec.containers[0].image = "registry.example.com/app:2.0"' <<<"$manifest")"
  admitted
  [ "$output" = "deployment.apps/upgraded configured" ]
  stored mutate deployment/upgraded | jq -e '.spec.template.spec
    | .containers[0].image == "registry.example.com/app:2.0"
      and .containers[0].securityContext.readOnlyRootFilesystem == true
      and .containers[0].volumeMounts == [{name: "rw-app-tmp", mountPath: "/tmp"}]
      and .volumes == [{name: "rw-app-tmp", emptyDir: {sizeLimit: "64Mi"}}]'
}

@test "mutate: kubectl debug adds the debug container with a read-only root and no volume" {
  create mutate <<<"${MUTATE_POD/NAME/debug-mutated}"
  admitted
  local volumes_before
  volumes_before=$(stored mutate pod/debug-mutated | jq -c .spec.volumes)
  run --separate-stderr kubectl debug -n mutate debug-mutated --image=busybox:1.36 -c shell --profile=general
  admitted
  stored mutate pod/debug-mutated | jq -e '.spec.ephemeralContainers[0] | .name == "shell" and .securityContext.readOnlyRootFilesystem == true and .volumeMounts == null'
  [ "$(stored mutate pod/debug-mutated | jq -c .spec.volumes)" = "$volumes_before" ]
}

@test "mutate: a Windows Pod is admitted unchanged with the warning" {
  create mutate <<<"$WINDOWS_POD"
  admitted
  has_line "$WINDOWS_WARNING"
  stored mutate pod/windows | jq -e '.spec.containers[0].securityContext == null and .spec.volumes == null'
}

# --- exemptions (namespace exempt: legacy-app; istio-proxy + docker.io/istio/proxyv2) ---

SIDECAR_POD='apiVersion: v1
kind: Pod
metadata:
  name: NAME
spec:
  containers:
    - name: app
      image: registry.example.com/app:1.0
      securityContext:
        readOnlyRootFilesystem: true
      volumeMounts:
        - name: tmp
          mountPath: /tmp
    - name: istio-proxy
      image: docker.io/istio/proxyv2:1.22.0
  volumes:
    - name: tmp
      emptyDir: {}'

@test "exempt: the istio-proxy sidecar running the mesh image is exempt; the same name with another image is not" {
  create exempt <<<"${SIDECAR_POD/NAME/meshed}"
  admitted
  create exempt <<<"$(sed 's|docker.io/istio/proxyv2:1.22.0|evil.example.com/istio/proxyv2:1.22.0|' <<<"${SIDECAR_POD/NAME/spoofed}")"
  denied_by exempt "Pod rejected by the read-only root filesystem policy (2 violations):"
  has_line '- container "istio-proxy" (spec.containers[1]): securityContext.readOnlyRootFilesystem is not set; set it to true'
}

# The Pod of SIDECAR_POD with the istio-proxy container running IMAGE.
sidecar_pod() { # NAME IMAGE
  local pod=${SIDECAR_POD/NAME/$1}
  echo "${pod/docker.io\/istio\/proxyv2:1.22.0/$2}"
}

@test "exempt (issue 16): the exemption docker.io/istio/proxyv2 covers the sidecar however its image is written, and no look-alike" {
  # (not `i`: bats 1.8 `run` sets a global i)
  local image n=0
  # One repository, every tag and digest, every spelling the runtime
  # resolves to docker.io/istio/proxyv2.
  for image in istio/proxyv2:1.22.0 docker.io/istio/proxyv2:1.22.0 index.docker.io/istio/proxyv2:1.22.0 \
    "istio/proxyv2@sha256:$(printf 'ab%.0s' {1..32})" istio/proxyv2; do
    n=$((n + 1))
    create exempt <<<"$(sidecar_pod "spelled-$n" "$image")"
    admitted || { echo "image $image" >&2; return 1; }
  done
  # What a string prefix "docker.io/istio/proxyv2*" let through, and other
  # registries: none is the mesh's image.
  for image in docker.io/istio/proxyv2-debug:1.22.0 istio/proxyv2/shell:1 ghcr.io/istio/proxyv2:1.22.0 localhost/istio/proxyv2:1.22.0; do
    n=$((n + 1))
    create exempt <<<"$(sidecar_pod "look-alike-$n" "$image")"
    denied_by exempt "Pod rejected by the read-only root filesystem policy (2 violations):" || { echo "image $image" >&2; return 1; }
    has_line '- container "istio-proxy" (spec.containers[1]): securityContext.readOnlyRootFilesystem is not set; set it to true'
  done
}

@test "exempt: kubectl set image on the exempt sidecar to a mesh image, however written, is allowed" {
  create exempt <<<"${SIDECAR_POD/NAME/upgrade-mesh}"
  admitted
  run --separate-stderr kubectl set image -n exempt pod/upgrade-mesh istio-proxy=istio/proxyv2:1.23.1
  admitted
  [ "$(stored exempt pod/upgrade-mesh | jq -r '.spec.containers[1].image')" = istio/proxyv2:1.23.1 ]
}

@test "exempt: kubectl set image on the exempt sidecar to a foreign image is denied (issue 9)" {
  create exempt <<<"${SIDECAR_POD/NAME/hijack}"
  admitted
  run --separate-stderr kubectl set image -n exempt pod/hijack istio-proxy=evil.example.com/shell:1
  denied_by exempt "Pod rejected by the read-only root filesystem policy"
  has_text 'istio-proxy'
  has_text 'spec.containers[1]'
  has_text 'image changed'
  [ "$(stored exempt pod/hijack | jq -r '.spec.containers[1].image')" = docker.io/istio/proxyv2:1.22.0 ]
}

@test "exempt (issue 16): kubectl set image to an image holding a newline is denied, the image escaped on its own line" {
  create exempt <<<"${SIDECAR_POD/NAME/forged}"
  admitted
  # The API server refuses only leading and trailing whitespace in an image:
  # this one is stored as written where no policy stops it.
  run --separate-stderr kubectl set image -n exempt pod/forged istio-proxy=$'evil:1\n- everything is fine'
  denied_by exempt "Pod rejected by the read-only root filesystem policy (2 violations):"
  # The image is quoted with a literal backslash-n, on its violation's line.
  has_line '- container "istio-proxy" (spec.containers[1]): its image changed from "docker.io/istio/proxyv2:1.22.0" to "evil:1\n- everything is fine" on this running Pod, so it is checked as a new container: securityContext.readOnlyRootFilesystem is not set. A running container'"'"'s securityContext and volumes cannot change: keep the old image, or recreate the Pod (through its Deployment or other owner) with the fix: set it to true'
  # No line of kubectl's output is the forged one; every line is kubectl's
  # error line or a violation.
  if grep -q -- '^- everything is fine' <<<"$output"$'\n'"$stderr"; then
    printf 'a forged line in kubectl output:\n%s\n%s\n' "$output" "$stderr" >&2
    return 1
  fi
  [ "$(grep -c -v -e '^error: failed to patch image update to pod template: admission webhook "exempt.readonly-rootfs.test" denied the request: ' \
    -e '^- container "istio-proxy" (spec.containers\[1\]): its image changed from ' <<<"$stderr")" -eq 0 ]
  [ "$(stored exempt pod/forged | jq -r '.spec.containers[1].image')" = docker.io/istio/proxyv2:1.22.0 ]
}

# A Pod whose one container, "app", runs IMAGE without a read-only root.
single_container_pod() { # NAME IMAGE
  jq -n --arg name "$1" --arg image "$2" \
    '{apiVersion: "v1", kind: "Pod", metadata: {name: $name}, spec: {containers: [{name: "app", image: $image}]}}'
}

# The contract's image-pattern table through the API server, each pattern
# alone in its namespace (tests/cluster/policies.yaml, pattern-*): NAMESPACE,
# then the images it must exempt, `--`, then the images it must not. A
# non-matching image is denied for its container's root filesystem; an
# image that is not a valid reference (upper case in the path) matches no
# pattern but "*".
pattern_exempts() {
  local namespace=$1 image expect=admitted n=0
  shift
  require_entry "$namespace"
  for image in "$@"; do
    if [ "$image" = -- ]; then
      expect=denied
      continue
    fi
    n=$((n + 1))
    create "$namespace" --dry-run=server <<<"$(single_container_pod "p$n" "$image")"
    if [ "$expect" = admitted ]; then
      admitted || { echo "$namespace: $image should be exempt" >&2; return 1; }
    else
      denied_by "$namespace" "Pod rejected by the read-only root filesystem policy (1 violation):" ||
        { echo "$namespace: $image should not be exempt" >&2; return 1; }
      has_line '- container "app" (spec.containers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true'
    fi
  done
}

@test "image patterns (issue 16): every form of the contract's table, alone, exempts exactly the images the runtime resolves to it" {
  pattern_exempts pattern-any nginx:1.27 registry.example.com/team/app:1 registry.example.com/Team/app:1
  pattern_exempts pattern-repository nginx docker.io/library/nginx:1.27 index.docker.io/library/nginx:1.26 \
    library/nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa -- nginx-debug:1.27 registry.example.com/nginx:1.27 library/nginx/shell:1 Nginx:1.27
  pattern_exempts pattern-repository-any-tag nginx:1.27 library/nginx docker.io/library/nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \
    -- nginx-debug:1.27 ghcr.io/library/nginx:1.27
  pattern_exempts pattern-tag nginx:1.27 docker.io/library/nginx:1.27 index.docker.io/library/nginx:1.27 \
    nginx:1.27@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa -- nginx nginx:latest nginx:1.27.1 nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
  pattern_exempts pattern-digest nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa nginx:1.27@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa docker.io/library/nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \
    -- nginx:1.27 nginx@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb registry.example.com/nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
  pattern_exempts pattern-tag-digest nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa nginx:1.28@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \
    -- nginx:1.27 nginx:1.27@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
  pattern_exempts pattern-path registry.example.com/team/app:1 REGISTRY.example.com/team/app:1 \
    registry.example.com/team/sub/app@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \
    -- registry.example.com/teammate/app:1 other.example.com/team/app:1 registry.example.com/Team/app:1
}

@test "validate: kubectl set image on a legacy Pod's container is checked like a new container (issue 9)" {
  create validate <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: legacy-image
  labels:
    readonly-rootfs.test/pre-existing: "true"
spec:
  containers:
    - name: app
      image: registry.example.com/legacy:1.0
EOF
  admitted
  run --separate-stderr kubectl label -n validate pod legacy-image readonly-rootfs.test/pre-existing-
  admitted
  run --separate-stderr kubectl set image -n validate pod/legacy-image app=registry.example.com/legacy:2.0
  denied_by validate "Pod rejected by the read-only root filesystem policy"
  has_text '"app"'
  has_text 'spec.containers[0]'
  has_text 'image changed'
}

# --- workload updates ----------------------------------------------------------

@test "a legacy Deployment: relabelling is allowed, a pod template change is checked" {
  local manifest
  manifest=$(workload Deployment legacy-api "$NON_COMPLIANT_SPEC" | jq '.metadata.labels["readonly-rootfs.test/pre-existing"] = "true"')
  create validate <<<"$manifest"
  admitted
  run --separate-stderr kubectl label -n validate deployment legacy-api readonly-rootfs.test/pre-existing- tier=backend
  admitted
  run --separate-stderr kubectl set image -n validate deployment/legacy-api app=registry.example.com/app:2.0
  denied_by validate "Deployment rejected by the read-only root filesystem policy (2 violations):"
  has_line '- container "app" (spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true'
  [ "$(stored validate deployment/legacy-api | jq -r '.spec.template.spec.containers[0].image')" = registry.example.com/app:1.0 ]
}

# --- containerWritablePaths (issue 9) -------------------------------------------

NGINX_POD='apiVersion: v1
kind: Pod
metadata:
  name: NAME
spec:
  containers:
    - name: web
      image: IMAGE
      securityContext:
        readOnlyRootFilesystem: true
      volumeMounts:
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: tmp
      emptyDir: {}'

@test "containerWritablePaths: an nginx container without its cache directory is denied naming the rule (issue 9)" {
  require_entry rules-validate
  local pod=${NGINX_POD/NAME/nginx-no-cache} image n=0
  create rules-validate <<<"${pod/IMAGE/nginx:1.27}"
  denied_by rules-validate "Pod rejected by the read-only root filesystem policy (2 violations):"
  has_line '- container "web" (spec.containers[0]): no writable volume is mounted at /var/cache/nginx; mount a writable volume such as an emptyDir at /var/cache/nginx or a parent directory (the policy'"'"'s containerWritablePaths[0] requires this path for containers with image "nginx")'
  has_line '- container "web" (spec.containers[0]): no writable volume is mounted at /var/run; mount a writable volume such as an emptyDir at /var/run or a parent directory (the policy'"'"'s containerWritablePaths[0] requires this path for containers with image "nginx")'
  # The rule's `nginx` is the repository docker.io/library/nginx (issue 16):
  # other repositories whose names start with nginx are not selected, as the
  # string prefix "nginx*" of 0.1 selected them.
  for image in registry.example.com/app:1.0 nginx/nginx-prometheus-exporter:1.3.0 nginxinc/nginx-unprivileged:1.27 nginx-ingress:3.6; do
    n=$((n + 1))
    pod=${NGINX_POD/NAME/other-image-$n}
    create rules-validate <<<"${pod/IMAGE/$image}"
    admitted || { echo "image $image" >&2; return 1; }
  done
}

@test "containerWritablePaths with mutate: the rule's paths get their own emptyDirs (issue 9)" {
  require_entry rules
  local pod=${NGINX_POD/NAME/nginx} spec
  create rules <<<"${pod/IMAGE/docker.io/library/nginx:1.27@sha256:$(printf 'cd%.0s' {1..32})}"
  admitted
  spec=$(stored rules pod/nginx | jq .spec)
  jq -e '[.containers[0].volumeMounts[].mountPath] == ["/tmp", "/var/cache/nginx", "/var/run"]' <<<"$spec"
  jq -e '[.volumes[] | select(.emptyDir != null) | .name] == ["tmp", "rw-web-var-cache-nginx", "rw-web-var-run"]' <<<"$spec"
  pod=${NGINX_POD/NAME/not-nginx}
  create rules <<<"${pod/IMAGE/registry.example.com/app:1.0}"
  admitted
  stored rules pod/not-nginx | jq -e '[.spec.containers[0].volumeMounts[].mountPath] == ["/tmp"]'
}

@test "containerWritablePaths with mutate (issue 16): kubectl create deployment --image=nginx:1.27 is stored with the rule's paths" {
  require_entry rules
  run --separate-stderr kubectl create deployment web -n rules --image=nginx:1.27 --port=80
  admitted
  [ "$output" = "deployment.apps/web created" ]
  has_emptydirs_at "$(stored rules deployment/web | jq .spec.template.spec)" nginx '{}' /tmp /var/cache/nginx /var/run
}

# --- warnings and long messages (issue 9) -----------------------------------------

@test "warnings: a subPath mount of a configMap and a privileged container are admitted with warnings (issue 9)" {
  create validate <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: warned
spec:
  containers:
    - name: privileged-agent
      image: registry.example.com/agent:1.0
      securityContext:
        readOnlyRootFilesystem: true
        privileged: true
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        - name: agent-settings
          mountPath: /etc/agent/settings.yaml
          subPath: settings.yaml
  volumes:
    - name: tmp
      emptyDir: {}
    - name: agent-settings
      configMap:
        name: agent-settings
EOF
  admitted
  has_warning subPath agent-settings /etc/agent/settings.yaml
  has_warning remount privileged-agent
}

@test "warnings come with a denial too: kubectl prints them above the error (issue 9)" {
  create validate <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: warned-and-denied
spec:
  containers:
    - name: agent
      image: registry.example.com/agent:1.0
      securityContext:
        privileged: true
EOF
  denied_by validate "Pod rejected by the read-only root filesystem policy (2 violations):"
  has_warning remount agent
}

@test "a Pod with 30 non-compliant containers: the exact count, 20 lines and the rest summed up (issue 9)" {
  create validate <<<"$(jq -n '{apiVersion: "v1", kind: "Pod", metadata: {name: "crowd"},
    spec: {containers: [range(30) | {name: "c\(.)", image: "registry.example.com/app:1.0"}]}}')"
  denied_by validate "Pod rejected by the read-only root filesystem policy (60 violations):"
  [ "$(grep -c '^- container "c[0-9]*" (spec.containers\[[0-9]*\]): ' <<<"$stderr")" -eq 20 ]
  has_text '40 more violation'
}

# --- the examples, as the Kubewarden controller would wire them -----------------

@test "examples/cluster-policy-validate-pods.yaml: Pods and debug containers are checked, workloads are not" {
  local ns
  ns=$(namespace_of examples/cluster-policy-validate-pods.yaml)
  create "$ns" <<<"$(jq -n --argjson spec "$NON_COMPLIANT_SPEC" '{apiVersion: "v1", kind: "Pod", metadata: {name: "bad"}, spec: $spec}')"
  denied_by "$ns" "Pod rejected by the read-only root filesystem policy (2 violations):"
  create "$ns" <<<"${SIDECAR_POD/NAME/meshed}"
  admitted
  run --separate-stderr kubectl debug -n "$ns" meshed --image=busybox:1.36 -c shell --profile=general
  denied_by "$ns" "Pod rejected by the read-only root filesystem policy (1 violation):"
  # Its rules are Pods only: the workloads policy is its companion.
  create "$ns" <<<"$(workload Deployment unchecked "$NON_COMPLIANT_SPEC")"
  admitted
}

@test "examples/cluster-policy-validate-workloads.yaml: workloads are checked at apply time, bare Pods are not" {
  local ns kind
  ns=$(namespace_of examples/cluster-policy-validate-workloads.yaml)
  for kind in "${WORKLOAD_KINDS[@]}"; do
    create "$ns" <<<"$(workload "$kind" "bad-$(lower "$kind")" "$NON_COMPLIANT_SPEC")"
    denied_by "$ns" "$kind rejected by the read-only root filesystem policy (2 violations):"
  done
  create "$ns" <<<"$(jq -n --argjson spec "$NON_COMPLIANT_SPEC" '{apiVersion: "v1", kind: "Pod", metadata: {name: "bare"}, spec: $spec}')"
  admitted
}

@test "examples/cluster-policy-mutate-tmp.yaml: Pods and workloads are fixed with a 64Mi emptyDir at /tmp" {
  local ns
  ns=$(namespace_of examples/cluster-policy-mutate-tmp.yaml)
  create "$ns" <<<"${MUTATE_POD/NAME/fixed}"
  admitted
  has_injected_volume "$(stored "$ns" pod/fixed | jq .spec)" app /tmp rw-app-tmp
  create "$ns" <<<"$(workload Deployment fixed "$NON_COMPLIANT_SPEC")"
  admitted
  has_injected_volume "$(stored "$ns" deployment/fixed | jq .spec.template.spec)" app /tmp rw-app-tmp
}

@test "examples/cluster-policy-mutate-profiles.yaml (issue 17): nginx, postgres and grafana Deployments are stored with their profiles' paths, another image with /tmp only" {
  local ns spec manifest size='{"sizeLimit": "256Mi"}'
  ns=$(namespace_of examples/cluster-policy-mutate-profiles.yaml)
  # As users create them; kubectl names the container after the image.
  run --separate-stderr kubectl create deployment web -n "$ns" --image=nginx:1.27 --port=80
  admitted
  run --separate-stderr kubectl create deployment db -n "$ns" --image=postgres:16
  admitted
  run --separate-stderr kubectl create deployment dashboards -n "$ns" --image=grafana/grafana:11.1.0 --port=3000
  admitted
  spec=$(stored "$ns" deployment/web | jq .spec.template.spec)
  has_emptydirs_at "$spec" nginx "$size" /tmp /var/cache/nginx /var/run
  jq -e '[.volumes[].name] == ["rw-nginx-tmp", "rw-nginx-var-cache-nginx", "rw-nginx-var-run"]' <<<"$spec"
  spec=$(stored "$ns" deployment/db | jq .spec.template.spec)
  has_emptydirs_at "$spec" postgres "$size" /tmp /var/run/postgresql
  jq -e '[.volumes[].name] == ["rw-postgres-tmp", "rw-postgres-var-run-postgresql"]' <<<"$spec"
  spec=$(stored "$ns" deployment/dashboards | jq .spec.template.spec)
  has_emptydirs_at "$spec" grafana "$size" /tmp /var/lib/grafana
  jq -e '[.volumes[].name] == ["rw-grafana-tmp", "rw-grafana-var-lib-grafana"]' <<<"$spec"

  # As a manifest: postgres, written in full, with its data on a claim (the
  # image's VOLUME, not a profile path), beside an in-house API.
  manifest=$(yaml_to_json <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      containers:
        - name: api
          image: registry.example.com/shop/api:2.1
          ports:
            - containerPort: 8080
        - name: db
          image: docker.io/library/postgres:16.4-alpine
          env:
            - name: POSTGRES_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: shop-db
                  key: password
          volumeMounts:
            - name: data
              mountPath: /var/lib/postgresql/data
      volumes:
        - name: data
          persistentVolumeClaim:
            claimName: shop-db
EOF
  )
  create "$ns" <<<"$manifest"
  admitted
  spec=$(stored "$ns" deployment/shop | jq .spec.template.spec)
  has_emptydirs_at "$spec" api "$size" /tmp
  has_emptydirs_at "$spec" db "$size" /tmp /var/run/postgresql
  jq -e '[.volumes[].name] == ["data", "rw-api-tmp", "rw-db-tmp", "rw-db-var-run-postgresql"]' <<<"$spec"
  keeps_every_field "$manifest" "$(stored "$ns" deployment/shop)"
}

@test "applicationProfiles, validate-only (issue 17): nginx, postgres, grafana and mongo Deployments without their paths are denied, each missing path naming its profile" {
  require_entry profiles-validate
  local ns=profiles-validate case app image container profile paths path example_ns
  # deployment=image=profile=its paths
  for case in web=nginx:1.27=nginx=/var/cache/nginx,/var/run \
    db=postgres:16=postgres=/var/run/postgresql,/tmp \
    dashboards=grafana/grafana:11.1.0=grafana=/var/lib/grafana,/tmp \
    cache=mongo:7.0=mongo=/tmp; do
    IFS== read -r app image profile paths <<<"$case"
    container=${image%%:*}
    container=${container##*/}
    run --separate-stderr kubectl create deployment "$app" -n "$ns" --image="$image"
    denied_by "$ns" "Deployment rejected by the read-only root filesystem policy ($(($(tr , '\n' <<<"$paths" | wc -l) + 1)) violations):"
    has_line "- container \"$container\" (spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true"
    for path in ${paths//,/ }; do
      has_line "- container \"$container\" (spec.template.spec.containers[0]): no writable volume is mounted at $path; mount a writable volume such as an emptyDir at $path or a parent directory (the policy's $profile application profile requires this path)"
    done
    not_stored "$ns" "deployment/$app"
  done
  # An image no profile names needs only its read-only root here.
  create "$ns" <<<"$(workload Deployment api '{"containers": [{"name": "api", "image": "registry.example.com/api:1.0", "securityContext": {"readOnlyRootFilesystem": true}}]}')"
  admitted
  # What the mutating example stores for the same command passes this policy.
  example_ns=$(namespace_of examples/cluster-policy-mutate-profiles.yaml)
  run --separate-stderr kubectl create deployment db-fixed -n "$example_ns" --image=postgres:16 --dry-run=server -o json
  admitted
  create "$ns" <<<"$(jq '.metadata |= {name, labels} | del(.status)' <<<"$output")"
  admitted
  [ "$output" = "deployment.apps/db-fixed created" ]
}

# The image a user would deploy for each profile, as `kubectl create
# deployment --image` takes it. A profile missing here fails the test below,
# so every profile is tested through the API server.
profile_image() {
  case $1 in
    nginx) echo nginx:1.27 ;;
    nginx-unprivileged) echo nginxinc/nginx-unprivileged:1.27 ;;
    postgres) echo postgres:16 ;;
    mysql) echo mysql:8.4 ;;
    mariadb) echo mariadb:11.4 ;;
    mongo) echo mongo:7.0 ;;
    httpd) echo httpd:2.4 ;;
    tomcat) echo tomcat:10.1-jdk17 ;;
    grafana) echo grafana/grafana:11.1.0 ;;
    traefik) echo traefik:v3.1 ;;
    jenkins) echo jenkins/jenkins:2.462.3-lts-jdk17 ;;
    wordpress) echo wordpress:6.6-apache ;;
    *) echo "no image for profile $1 in tests/cluster.bats profile_image" >&2; return 1 ;;
  esac
}

# Every profile with its paths, from the policy's own data
# (`readonly-rootfs profiles --output json`; make test has built the CLI).
profiles_json() {
  local cli=$REPO/target/debug/readonly-rootfs
  [ -x "$cli" ] || (cd "$REPO" && cargo build --locked --quiet -p readonly-rootfs-cli) >&2
  "$cli" profiles --output json
}

@test "applicationProfiles (issue 17): a Deployment of each profile's image is stored with an emptyDir at each of its paths under mutate, and denied naming the profile on each path without" {
  require_entry profiles-all
  require_entry profiles-all-validate
  local profiles name image container paths path spec deployment
  profiles=$(profiles_json)
  [ "$(jq length <<<"$profiles")" -ge 12 ]
  for name in $(jq -r '.[].name' <<<"$profiles"); do
    image=$(profile_image "$name")
    container=${image%%:*}
    container=${container##*/}
    mapfile -t paths < <(jq -r --arg n "$name" '.[] | select(.name == $n) | .paths[].path' <<<"$profiles")
    deployment=p-$name
    run --separate-stderr kubectl create deployment "$deployment" -n profiles-all --image="$image"
    admitted
    spec=$(stored profiles-all "deployment/$deployment" | jq .spec.template.spec)
    has_emptydirs_at "$spec" "$container" '{}' "${paths[@]}"
    run --separate-stderr kubectl create deployment "$deployment" -n profiles-all-validate --image="$image"
    denied_by profiles-all-validate "Deployment rejected by the read-only root filesystem policy ($((${#paths[@]} + 1)) violations):"
    for path in "${paths[@]}"; do
      has_line "- container \"$container\" (spec.template.spec.containers[0]): no writable volume is mounted at $path; mount a writable volume such as an emptyDir at $path or a parent directory (the policy's $name application profile requires this path)"
    done
    not_stored profiles-all-validate "deployment/$deployment"
    # What the mutating policy stored passes the validating one.
    create profiles-all-validate <<<"$(stored profiles-all "deployment/$deployment" | jq '.metadata |= {name, labels} | del(.status)')"
    admitted
  done
}

@test "examples/cluster-policy-audit-mode.yaml: monitor mode admits a non-compliant Pod" {
  local ns
  ns=$(namespace_of examples/cluster-policy-audit-mode.yaml)
  create "$ns" <<<"$(jq -n --argjson spec "$NON_COMPLIANT_SPEC" '{apiVersion: "v1", kind: "Pod", metadata: {name: "observed"}, spec: $spec}')"
  admitted
  stored "$ns" pod/observed | jq -e '.spec.containers[0].securityContext == null'
}

@test "examples/namespaced-admission-policy.yaml: team-a needs /tmp and /var/cache/app, and its debug image is exempt" {
  local ns
  ns=$(namespace_of examples/namespaced-admission-policy.yaml)
  [ "$ns" = team-a ]
  create "$ns" <<<"$(jq -n --argjson spec "$COMPLIANT_SPEC" '{apiVersion: "v1", kind: "Pod", metadata: {name: "app"}, spec: $spec}')"
  denied_by "$ns" "Pod rejected by the read-only root filesystem policy (1 violation):"
  has_line '- container "app" (spec.containers[0]): no writable volume is mounted at /var/cache/app; mount a writable volume such as an emptyDir at /var/cache/app or a parent directory'
  create "$ns" <<<"$(jq -n --argjson spec "$COMPLIANT_SPEC" '{apiVersion: "v1", kind: "Pod", metadata: {name: "app"},
    spec: ($spec | .containers[0].volumeMounts += [{name: "cache", mountPath: "/var/cache/app"}] | .volumes += [{name: "cache", emptyDir: {}}])}')"
  admitted
  run --separate-stderr kubectl debug -n "$ns" app --image=busybox:1.36 -c shell --profile=general
  denied_by "$ns" "Pod rejected by the read-only root filesystem policy (1 violation):"
  run --separate-stderr kubectl debug -n "$ns" app --image=registry.example.com/team-a/debug/tools:1.0 -c team-shell --profile=general
  admitted
}

# --- the samples, applied the way `helm template | kubectl apply -f -` does -------

@test "kubectl apply -f of every CREATE sample as one multi-document stream: each verdict as samples/ expects" {
  local manifest=$BATS_TEST_TMPDIR/samples.yaml ns source expect kind name object
  python3 "$CLUSTER/generate.py" samples-manifest "$CLUSTER_DIR/entries.json" >"$manifest"
  [ "$(grep -c '^# Source: samples/' "$manifest")" -ge 7 ]
  run --separate-stderr kubectl apply --validate=false -f "$manifest"
  [ "$status" -eq 1 ] # some samples are rejected; kubectl applies the others
  for ns in $(jq -r 'to_entries[] | select(.value.source | startswith("samples/")) | .key' "$CLUSTER_DIR/entries.json"); do
    source=$(jq -r --arg ns "$ns" '.[$ns].source' "$CLUSTER_DIR/entries.json")
    expect=$(jq -r .expect "$REPO/$source")
    kind=$(jq -r '.request.request.object.kind | ascii_downcase' "$REPO/$source")
    name=$(jq -r '.request.request.object.metadata.name' "$REPO/$source")
    case $expect in
      REJECTED)
        has_text "admission webhook \"$ns.readonly-rootfs.test\" denied the request: "
        not_stored "$ns" "$kind/$name"
        ;;
      ALLOWED)
        object=$(stored "$ns" "$kind/$name")
        keeps_every_field "$(jq '.request.request.object | del(.metadata.namespace)' "$REPO/$source")" "$object"
        ;;
      MUTATED)
        object=$(stored "$ns" "$kind/$name")
        jq -e '.spec.template.spec // .spec | [.containers[].securityContext.readOnlyRootFilesystem] | all' <<<"$object"
        keeps_every_field "$(jq '.request.request.object | del(.metadata.namespace)' "$REPO/$source")" "$object"
        ;;
      *) echo "$source: unknown expect $expect" >&2; return 1 ;;
    esac
  done
  has_line "Warning: the read-only root filesystem policy did not check this Windows pod: Kubernetes does not allow securityContext.readOnlyRootFilesystem on Windows containers"
}
