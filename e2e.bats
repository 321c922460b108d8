#!/usr/bin/env bats
# End-to-end tests of the annotated policy, run the way Kubewarden runs it.
#
# Written for kwctl: with `kwctl` on the PATH every request goes through
# `kwctl run`, the registry test through `kwctl push` / `kwctl pull`. Without
# kwctl the project's host (target/debug/policy-host, built by
# `make e2e-tests`) is used with the same flags; it prints the same one-line
# AdmissionResponse (uid, allowed, status.message, patchType/patch, warnings).
#
# Nothing is built here: `make e2e-tests` builds annotated-policy.wasm and the
# host first. Needs bats >= 1.5, jq and base64 (coreutils); the registry test
# also needs /usr/bin/docker-registry (Debian's docker-registry package) and
# skips without it.

bats_require_minimum_version 1.5.0

POLICY="annotated-policy.wasm"
HOST="target/debug/policy-host"

setup() {
  cd "$BATS_TEST_DIRNAME"
  if command -v kwctl >/dev/null 2>&1; then
    TOOL="kwctl"
  else
    TOOL="$HOST"
  fi
  [ -f "$POLICY" ] || fail_now "$POLICY is missing: run \`make e2e-tests\`"
  [ -n "$TOOL" ] && { [ "$TOOL" = kwctl ] || [ -x "$HOST" ]; } ||
    fail_now "$HOST is missing: run \`make e2e-tests\` (or install kwctl)"
  REGISTRY_PID=""
  WORK="$(mktemp -d)"
}

teardown() {
  if [ -n "$REGISTRY_PID" ]; then
    kill "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}

fail_now() {
  echo "$*" >&2
  return 1
}

# run_policy REQUEST.json [SETTINGS_JSON] [MODULE.wasm]
# Evaluates the request; sets $status, $output (stdout), $stderr and
# $response (the AdmissionResponse JSON line, empty when there is none).
run_policy() {
  local request="$1"
  local settings="${2:-}"
  local module="${3:-$POLICY}"
  [ -n "$settings" ] || settings='{}'
  [ -f "$request" ] || fail_now "request fixture $request does not exist"
  run --separate-stderr "$TOOL" run --request-path "$request" --settings-json "$settings" "$module"
  response="$(printf '%s\n' "$output" | grep -m1 '^{.*"allowed"' || true)"
}

# The field of the response, as jq prints it raw ("null" when absent).
field() {
  jq -r "$1" <<<"$response"
}

show() {
  echo "status=$status"
  echo "stdout: $output"
  echo "stderr: $stderr"
}

assert_evaluated() {
  [ "$status" -eq 0 ] || { show; fail_now "the evaluation failed"; }
  [ -n "$response" ] || { show; fail_now "no AdmissionResponse printed"; }
}

assert_allowed() {
  assert_evaluated
  [ "$(field .allowed)" = true ] || { show; fail_now "expected allowed"; }
}

# assert_accepted: allowed and not mutated
assert_accepted() {
  assert_allowed
  [ "$(field '.patch // empty')" = "" ] || { show; fail_now "expected no patch"; }
}

# assert_rejected FRAGMENT...: rejected, the message contains every fragment
assert_rejected() {
  assert_evaluated
  [ "$(field .allowed)" = false ] || { show; fail_now "expected a rejection"; }
  local message fragment
  message="$(field '.status.message // ""')"
  for fragment in "$@"; do
    [[ "$message" == *"$fragment"* ]] || {
      show
      fail_now "message does not contain: $fragment"
    }
  done
}

# assert_warning FRAGMENT: one of the warnings contains FRAGMENT
assert_warning() {
  local warnings
  warnings="$(field '.warnings // [] | .[]')"
  [[ "$warnings" == *"$1"* ]] || { show; fail_now "no warning contains: $1"; }
}

# assert_patch EXPECTED_JSON_PATCH: allowed, patchType JSONPatch, and the
# base64 `patch` decodes to EXPECTED (compared as JSON, key order ignored).
assert_patch() {
  assert_allowed
  [ "$(field .patchType)" = JSONPatch ] || { show; fail_now "expected patchType JSONPatch"; }
  local actual expected
  actual="$(field .patch | base64 -d | jq -S -c .)"
  expected="$(jq -S -c . <<<"$1")"
  [ "$actual" = "$expected" ] || {
    show
    echo "expected patch: $expected"
    echo "actual patch:   $actual"
    fail_now "patch differs"
  }
}

# ---------------------------------------------------------------------------
# Pods
# ---------------------------------------------------------------------------

@test "accept a compliant Pod" {
  run_policy test_data/pod_readonly_root_with_tmp_emptydir_accepted.json \
    '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  [ "$(field .uid)" != "" ]
}

@test "reject a Pod without readOnlyRootFilesystem, naming container and field path" {
  run_policy test_data/pod_without_readonly_root_rejected.json
  assert_rejected \
    'Pod rejected by the read-only root filesystem policy (1 violation):' \
    '- container "app" (spec.containers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true'
}

@test "reject readOnlyRootFilesystem: false" {
  run_policy test_data/pod_readonly_root_false_rejected.json
  assert_rejected 'securityContext.readOnlyRootFilesystem is false; set it to true'
}

# ---------------------------------------------------------------------------
# Workload kinds: the pod template is checked, the message names its path
# ---------------------------------------------------------------------------

@test "Deployment: compliant accepted, non-compliant rejected" {
  run_policy test_data/deployment_readonly_root_accepted.json '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  run_policy test_data/deployment_without_readonly_rejected.json
  assert_rejected 'Deployment rejected' \
    '- container "app" (spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is not set'
}

@test "ReplicaSet: compliant accepted, non-compliant rejected" {
  run_policy test_data/replicaset_readonly_root_accepted.json '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  run_policy test_data/replicaset_without_readonly_rejected.json
  assert_rejected 'ReplicaSet rejected' \
    '- container "app" (spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is not set'
}

@test "StatefulSet: compliant accepted, non-compliant rejected" {
  run_policy test_data/statefulset_readonly_root_accepted.json '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  run_policy test_data/statefulset_readonly_false_rejected.json
  assert_rejected 'StatefulSet rejected' \
    '- container "postgres" (spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is false'
}

@test "DaemonSet: compliant accepted, non-compliant rejected" {
  run_policy test_data/daemonset_readonly_root_accepted.json '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  run_policy test_data/daemonset_security_context_null_rejected.json
  assert_rejected 'DaemonSet rejected' \
    '- container "node-exporter" (spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is not set'
}

@test "Job: compliant accepted, init container rejected" {
  run_policy test_data/job_readonly_root_accepted.json '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  run_policy test_data/job_init_container_without_readonly_rejected.json
  assert_rejected 'Job rejected' \
    '- init container "wait-for-db" (spec.template.spec.initContainers[0]): securityContext.readOnlyRootFilesystem is not set'
}

@test "CronJob: compliant accepted, non-compliant rejected with the jobTemplate path" {
  run_policy test_data/cronjob_readonly_root_accepted.json '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  run_policy test_data/cronjob_without_readonly_rejected.json
  assert_rejected 'CronJob rejected' \
    '- container "report" (spec.jobTemplate.spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is not set'
}

@test "ReplicationController: compliant accepted, non-compliant rejected" {
  run_policy test_data/replicationcontroller_readonly_root_accepted.json '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  run_policy test_data/replicationcontroller_without_readonly_rejected.json
  assert_rejected 'ReplicationController rejected' \
    '- container "frontend" (spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is not set'
}

# ---------------------------------------------------------------------------
# Exemptions
# ---------------------------------------------------------------------------

@test "exemption by container name" {
  run_policy test_data/pod_with_busybox_debug_shell_container.json
  assert_rejected '- container "debug-shell" (spec.containers[1])'
  run_policy test_data/pod_with_busybox_debug_shell_container.json \
    '{"exemptContainers": ["debug-shell"], "requiredWritablePaths": ["/tmp"]}'
  assert_accepted
}

@test "exemption by name and image" {
  run_policy test_data/pod_istio_proxy_sidecar_exempt.json
  assert_rejected '- container "istio-proxy" (spec.containers[1])'
  run_policy test_data/pod_istio_proxy_sidecar_exempt.json \
    '{"exemptContainers": [{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:*"}]}'
  assert_accepted
}

@test "a container spoofing an exempt name with another image is rejected" {
  run_policy test_data/pod_spoofed_istio_proxy_name_rejected.json \
    '{"exemptContainers": [{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:*"}]}'
  assert_rejected '- container "istio-proxy" (spec.containers[1]): securityContext.readOnlyRootFilesystem is not set'
}

# ---------------------------------------------------------------------------
# Writable paths
# ---------------------------------------------------------------------------

@test "writable path covered by a parent mount" {
  run_policy test_data/pod_app_emptydir_covers_app_cache_accepted.json \
    '{"requiredWritablePaths": ["/app/cache"]}'
  assert_accepted
  run_policy test_data/pod_app_emptydir_covers_app_cache_accepted.json \
    '{"requiredWritablePaths": ["/application"]}'
  assert_rejected 'no writable volume is mounted at /application'
}

@test "missing writable path rejected" {
  run_policy test_data/pod_readonly_root_with_tmp_emptydir_accepted.json \
    '{"requiredWritablePaths": ["/tmp", "/var/cache"]}'
  assert_rejected \
    '- container "app" (spec.containers[0]): no writable volume is mounted at /var/cache; mount a writable volume such as an emptyDir at /var/cache or a parent directory'
}

@test "a configMap at a required path does not count (read-only)" {
  run_policy test_data/pod_configmap_mounted_at_tmp_rejected.json '{"requiredWritablePaths": ["/tmp"]}'
  assert_rejected 'configMap volumes are always read-only'
  # mutation cannot fix it either: it never shadows the user's mount
  run_policy test_data/pod_configmap_mounted_at_tmp_rejected.json \
    '{"requiredWritablePaths": ["/tmp"], "mutate": true}'
  assert_rejected 'configMap volumes are always read-only'
}

# ---------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------

@test "Windows pod accepted with a warning, never mutated" {
  run_policy test_data/pod_windows_os_accepted_with_warning.json
  assert_accepted
  assert_warning 'Windows'
  assert_warning 'readOnlyRootFilesystem'
  run_policy test_data/pod_windows_os_accepted_with_warning.json \
    '{"mutate": true, "requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  assert_warning 'Windows'
}

@test "Windows Deployment accepted with a warning" {
  run_policy test_data/deployment_windows_os_accepted_with_warning.json
  assert_accepted
  assert_warning 'Windows'
}

# ---------------------------------------------------------------------------
# UPDATE
# ---------------------------------------------------------------------------

@test "UPDATE: label change on a legacy pod accepted" {
  run_policy test_data/pod_update_label_change_on_legacy_pod_accepted.json \
    '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  run_policy test_data/pod_update_finalizer_removal_accepted.json \
    '{"mutate": true, "requiredWritablePaths": ["/tmp"]}'
  assert_accepted
}

@test "UPDATE: scaling a non-compliant workload accepted" {
  run_policy test_data/deployment_update_scale_replicas_only_accepted.json \
    '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  run_policy test_data/cronjob_update_schedule_change_accepted.json \
    '{"mutate": true, "requiredWritablePaths": ["/tmp"]}'
  assert_accepted
}

@test "UPDATE: a pod template change is checked" {
  run_policy test_data/deployment_update_template_to_noncompliant_rejected.json \
    '{"requiredWritablePaths": ["/tmp"]}'
  assert_rejected 'Deployment rejected' \
    '- container "app" (spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is not set'
}

# ---------------------------------------------------------------------------
# Debug (ephemeral) containers
# ---------------------------------------------------------------------------

@test "kubectl debug: ephemeral container without read-only root rejected" {
  run_policy test_data/pod_ephemeralcontainers_add_debug_without_readonly.json
  assert_rejected \
    '- ephemeral container "debugger-x7k2p" (spec.ephemeralContainers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true'
}

@test "kubectl debug: accepted with exemptEphemeralContainers" {
  run_policy test_data/pod_ephemeralcontainers_add_debug_without_readonly.json \
    '{"exemptEphemeralContainers": true, "requiredWritablePaths": ["/tmp"]}'
  assert_accepted
}

@test "kubectl debug: compliant debug container accepted, legacy app not rechecked" {
  run_policy test_data/pod_ephemeralcontainers_add_readonly_debug_accepted.json \
    '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
}

# ---------------------------------------------------------------------------
# Mutation
# ---------------------------------------------------------------------------

@test "mutation: flag, mount and emptyDir added to a Pod" {
  run_policy test_data/pod_without_readonly_root_rejected.json \
    '{"mutate": true, "requiredWritablePaths": ["/tmp"]}'
  assert_patch '[
    {"op": "add", "path": "/spec/containers/0/securityContext/readOnlyRootFilesystem", "value": true},
    {"op": "add", "path": "/spec/containers/0/volumeMounts/1", "value": {"mountPath": "/tmp", "name": "rw-app-tmp"}},
    {"op": "add", "path": "/spec/volumes/1", "value": {"emptyDir": {}, "name": "rw-app-tmp"}}
  ]'
}

@test "mutation: Deployment pod template gets the flag and a /var/cache volume" {
  run_policy test_data/deployment_without_readonly_rejected.json \
    '{"mutate": true, "requiredWritablePaths": ["/tmp", "/var/cache"]}'
  assert_patch '[
    {"op": "add", "path": "/spec/template/spec/containers/0/securityContext/readOnlyRootFilesystem", "value": true},
    {"op": "add", "path": "/spec/template/spec/containers/0/volumeMounts/1", "value": {"mountPath": "/var/cache", "name": "rw-app-var-cache"}},
    {"op": "add", "path": "/spec/template/spec/volumes/1", "value": {"emptyDir": {}, "name": "rw-app-var-cache"}}
  ]'
}

@test "mutation: debug container gets the flag but no volume" {
  run_policy test_data/pod_ephemeralcontainers_add_debug_without_readonly.json \
    '{"mutate": true, "requiredWritablePaths": ["/tmp"]}'
  assert_patch '[
    {"op": "add", "path": "/spec/ephemeralContainers/0/securityContext", "value": {"readOnlyRootFilesystem": true}}
  ]'
}

@test "mutation: an explicit readOnlyRootFilesystem false is still rejected" {
  run_policy test_data/pod_readonly_root_false_rejected.json \
    '{"mutate": true, "requiredWritablePaths": ["/tmp"]}'
  assert_rejected 'securityContext.readOnlyRootFilesystem is explicitly false' \
    'remove the field' 'exempt the container'
}

@test "mutation: an already compliant Pod is not patched" {
  run_policy test_data/pod_readonly_root_with_tmp_emptydir_accepted.json \
    '{"mutate": true, "requiredWritablePaths": ["/tmp"]}'
  assert_accepted
}

# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------

@test "invalid settings: typo in a key is refused" {
  run_policy test_data/pod_readonly_root_with_tmp_emptydir_accepted.json \
    '{"requiredWriteablePaths": ["/tmp"]}'
  [ "$status" -ne 0 ] || { show; fail_now "expected a non-zero exit"; }
  [[ "$output$stderr" == *"Provided settings are not valid"* ]] || { show; fail_now "no settings error"; }
  [[ "$output$stderr" == *"requiredWriteablePaths"* ]] || { show; fail_now "the key is not named"; }
}

@test "invalid settings: relative path and misplaced wildcard are refused" {
  run_policy test_data/pod_readonly_root_with_tmp_emptydir_accepted.json \
    '{"requiredWritablePaths": ["tmp"]}'
  [ "$status" -ne 0 ]
  [[ "$output$stderr" == *"Provided settings are not valid"* ]]
  [[ "$output$stderr" == *"is not an absolute path"* ]]
  run_policy test_data/pod_readonly_root_with_tmp_emptydir_accepted.json \
    '{"exemptContainers": [{"image": "reg/*/x"}]}'
  [ "$status" -ne 0 ]
  [[ "$output$stderr" == *"Provided settings are not valid"* ]]
}

# ---------------------------------------------------------------------------
# Operations and kinds the policy leaves alone
# ---------------------------------------------------------------------------

@test "DELETE accepted" {
  run_policy test_data/pod_delete_accepted.json '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  run_policy test_data/deployment_delete_accepted.json '{"mutate": true, "requiredWritablePaths": ["/tmp"]}'
  assert_accepted
}

@test "CONNECT accepted" {
  run_policy test_data/pod_exec_connect_accepted.json '{"requiredWritablePaths": ["/tmp"]}'
  assert_accepted
}

@test "other kinds accepted unchanged" {
  run_policy test_data/configmap_create_accepted.json '{"mutate": true, "requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  run_policy test_data/crd_named_deployment_in_example_group_accepted.json \
    '{"mutate": true, "requiredWritablePaths": ["/tmp"]}'
  assert_accepted
  run_policy test_data/deployment_scale_subresource_accepted.json \
    '{"mutate": true, "requiredWritablePaths": ["/tmp"]}'
  assert_accepted
}

@test "an unreadable pod spec is rejected, not accepted" {
  run_policy test_data/deployment_without_pod_template_spec_rejected.json
  assert_evaluated
  [ "$(field .allowed)" = false ] || { show; fail_now "expected a rejection"; }
}

# ---------------------------------------------------------------------------
# The annotated module
# ---------------------------------------------------------------------------

@test "annotated module carries the Kubewarden metadata" {
  if command -v wasm-objdump >/dev/null 2>&1; then
    run wasm-objdump -h "$POLICY"
    [ "$status" -eq 0 ]
    [[ "$output" == *'"io.kubewarden.metadata"'* ]] || { echo "$output"; fail_now "no metadata section"; }
  fi
  run --separate-stderr "$TOOL" inspect -o yaml "$POLICY"
  [ "$status" -eq 0 ] || { show; fail_now "inspect failed"; }
  [[ "$output" == *"protocolVersion: v1"* ]]
  [[ "$output" == *"mutating: true"* ]]
  [[ "$output" == *"pods/ephemeralcontainers"* ]]
  [[ "$output" == *"io.kubewarden.policy.usage"* ]]
  local version
  version="$(sed -n 's/^ *io.kubewarden.policy.version: *//p' metadata.yml)"
  [[ "$output" == *"io.kubewarden.policy.version: $version"* ]]
}

# ---------------------------------------------------------------------------
# OCI distribution against a real registry
# ---------------------------------------------------------------------------

# http_head PORT PATH [ACCEPT]: the response head of a plain HTTP request to
# 127.0.0.1:PORT (bash /dev/tcp, no curl needed).
http_head() {
  local port="$1" path="$2" accept="${3:-*/*}"
  (
    exec 9<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'HEAD %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nAccept: %s\r\n\r\n' "$path" "$port" "$accept" >&9
    timeout 5 cat <&9
  ) 2>/dev/null | tr -d '\r'
}

# start_registry: the CNCF distribution registry on 127.0.0.1 with a free
# port and a storage directory under $WORK; sets REGISTRY_PORT/REGISTRY_PID
# (teardown stops it).
start_registry() {
  local attempt port
  for attempt in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    # something answers there already: try another port
    if (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    mkdir -p "$WORK/registry"
    cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry/storage
http:
  addr: 127.0.0.1:$port
  secret: e2e-bats
EOF
    /usr/bin/docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
    REGISTRY_PID=$!
    local i
    for i in $(seq 1 100); do
      if ! kill -0 "$REGISTRY_PID" 2>/dev/null; then break; fi
      if http_head "$port" /v2/ | head -n1 | grep -q ' 200'; then
        REGISTRY_PORT="$port"
        return 0
      fi
      sleep 0.1
    done
    kill "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
    REGISTRY_PID=""
  done
  cat "$WORK/registry/log" >&2
  fail_now "docker-registry did not start"
}

@test "OCI: push to a real registry, pull back, identical bytes and digest, pulled module evaluates" {
  [ -x /usr/bin/docker-registry ] ||
    skip "docker-registry is not installed (apt-get install docker-registry); .ci/run installs it"
  start_registry
  local version ref pushed digest registry_digest
  version="$(sed -n 's/^ *io.kubewarden.policy.version: *//p' metadata.yml)"
  ref="127.0.0.1:$REGISTRY_PORT/policies/readonly-rootfs:v$version"

  if [ "$TOOL" = kwctl ]; then
    # kwctl speaks plain HTTP only to registries listed as insecure.
    printf 'insecure_sources:\n  - "127.0.0.1:%s"\n' "$REGISTRY_PORT" >"$WORK/sources.yaml"
    run --separate-stderr kwctl push --sources-path "$WORK/sources.yaml" -o json "$POLICY" "registry://$ref"
  else
    run --separate-stderr "$HOST" push -o json "$POLICY" "registry://$ref"
  fi
  [ "$status" -eq 0 ] || { show; fail_now "push failed"; }
  pushed="$(printf '%s\n' "$output" | grep -m1 '^{' | jq -r .immutable_ref)"
  pushed="${pushed#registry://}"
  [[ "$pushed" == "$ref@sha256:"* ]] || { show; fail_now "unexpected immutable ref: $pushed"; }
  digest="${pushed##*@}"

  # The registry serves the tag with the digest that push printed.
  registry_digest="$(http_head "$REGISTRY_PORT" "/v2/policies/readonly-rootfs/manifests/v$version" \
    'application/vnd.oci.image.manifest.v1+json' |
    sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p')"
  [ "$registry_digest" = "$digest" ] || fail_now "registry digest $registry_digest != pushed $digest"

  # Pull by tag into a file: identical bytes.
  if [ "$TOOL" = kwctl ]; then
    run --separate-stderr kwctl pull --sources-path "$WORK/sources.yaml" -o "$WORK/pulled.wasm" "registry://$ref"
  else
    run --separate-stderr "$HOST" pull "registry://$ref" -o "$WORK/pulled.wasm"
    [[ "$output" == *"$ref@$digest"* ]] || { show; fail_now "pull reports another digest"; }
  fi
  [ "$status" -eq 0 ] || { show; fail_now "pull failed"; }
  cmp "$POLICY" "$WORK/pulled.wasm" || fail_now "pulled module differs from the pushed one"

  # The pulled module is the policy.
  run_policy test_data/pod_without_readonly_root_rejected.json '{}' "$WORK/pulled.wasm"
  assert_rejected '- container "app" (spec.containers[0]): securityContext.readOnlyRootFilesystem is not set'
}
