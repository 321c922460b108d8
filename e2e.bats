#!/usr/bin/env bats
# End-to-end tests of the policy, run the way Kubewarden runs it.
#
# With `kwctl` on the PATH (`.ci/run` puts Kubewarden's own kwctl there from
# ../shared/engine): every request goes through `kwctl run` on
# annotated-policy.wasm, the examples/*.yaml policy resources are run as they
# are by `kwctl run`, the module is inspected and pushed to / pulled from a
# local registry with kwctl, and `kwctl scaffold artifacthub` must reproduce
# artifacthub-pkg.yml.
#
# Without kwctl (a user's machine): the request tests run policy.wasm through
# the project's host (target/debug/policy-host run, same flags, same one-line
# AdmissionResponse) and the kwctl tests are skipped, each saying why. With
# CI=true nothing is skipped: a missing kwctl or docker-registry fails.
#
# `make e2e-tests` builds policy.wasm, the host and, with kwctl,
# annotated-policy.wasm first; the one test that runs make (`make evaluate`,
# which picks kwctl or the host) then finds them up to date. Needs bats >=
# 1.5, jq, base64 (coreutils) and python3; the registry test also needs
# /usr/bin/docker-registry (Debian's docker-registry package).

bats_require_minimum_version 1.5.0

HOST="target/debug/policy-host"

setup() {
  cd "$BATS_TEST_DIRNAME"
  REGISTRY_PID=""
  WORK="$(mktemp -d)"
  if command -v kwctl >/dev/null 2>&1; then
    TOOL="kwctl"
    POLICY="annotated-policy.wasm"
  elif [ "${CI:-}" = true ]; then
    fail_now "kwctl is not on the PATH; with CI=true the tests run under the real kwctl (.ci/run unpacks it from ../shared/engine)"
  else
    TOOL="$HOST"
    POLICY="policy.wasm"
  fi
  [ -f "$POLICY" ] || fail_now "$POLICY is missing: run \`make e2e-tests\`"
  [ "$TOOL" = kwctl ] || [ -x "$HOST" ] ||
    fail_now "$HOST is missing: run \`make e2e-tests\` (or install kwctl)"
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

# require_kwctl: skip the test when kwctl is not the tool (never in CI,
# where setup already failed).
require_kwctl() {
  [ "$TOOL" = kwctl ] ||
    skip "kwctl is not on the PATH: this test needs the real kwctl (.ci/run unpacks it from ../shared/engine)"
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

@test "invalid settings: a string-prefix image pattern and an unknown profile are refused, saying what to write" {
  run_policy test_data/pod_readonly_root_with_tmp_emptydir_accepted.json \
    '{"containerWritablePaths": [{"image": "nginx*", "paths": ["/var/cache/nginx"]}]}'
  [ "$status" -ne 0 ] || { show; fail_now "expected a non-zero exit"; }
  [[ "$output$stderr" == *'containerWritablePaths[0].image: "nginx*": '*'for every tag of nginx write "nginx"'* ]] ||
    { show; fail_now "the pattern and its replacement are not named"; }
  run_policy test_data/pod_readonly_root_with_tmp_emptydir_accepted.json '{"applicationProfiles": ["ngnix"]}'
  [ "$status" -ne 0 ] || { show; fail_now "expected a non-zero exit"; }
  [[ "$output$stderr" == *'applicationProfiles[0]: "ngnix" is not a known application profile; the known profiles are: nginx, '* ]] ||
    { show; fail_now "the unknown profile and the known ones are not named"; }
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
# Writable paths per image (containerWritablePaths)
# ---------------------------------------------------------------------------

NGINX_RULE='{"image": "docker.io/library/nginx:*", "paths": ["/var/cache/nginx", "/var/run"]}'

@test "containerWritablePaths: an nginx Pod without its cache and run dirs is rejected, naming the rule" {
  run_policy test_data/pod_nginx_without_cache_and_run_volumes.json \
    "{\"containerWritablePaths\": [$NGINX_RULE]}"
  assert_rejected 'Pod rejected by the read-only root filesystem policy (2 violations):' \
    '- container "web" (spec.containers[0]): no writable volume is mounted at /var/cache/nginx' \
    "(the policy's containerWritablePaths[0] requires this path for containers with image \"docker.io/library/nginx:*\")"
}

@test "containerWritablePaths: mutation gives the nginx container an emptyDir at each path" {
  run_policy test_data/pod_nginx_without_cache_and_run_volumes.json \
    "{\"mutate\": true, \"containerWritablePaths\": [$NGINX_RULE]}"
  assert_patch '[
    {"op": "add", "path": "/spec/containers/0/volumeMounts/1", "value": {"mountPath": "/var/cache/nginx", "name": "rw-web-var-cache-nginx"}},
    {"op": "add", "path": "/spec/containers/0/volumeMounts/2", "value": {"mountPath": "/var/run", "name": "rw-web-var-run"}},
    {"op": "add", "path": "/spec/volumes/1", "value": {"emptyDir": {}, "name": "rw-web-var-cache-nginx"}},
    {"op": "add", "path": "/spec/volumes/2", "value": {"emptyDir": {}, "name": "rw-web-var-run"}}
  ]'
}

@test "image swap on a running Pod: an exempt sidecar set to a foreign image is rejected" {
  run_policy test_data/pod_update_exempt_sidecar_image_set_to_foreign_image_rejected.json \
    '{"exemptContainers": [{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:*"}], "mutate": true}'
  assert_rejected '- container "istio-proxy" (spec.containers[1]): its image changed from "docker.io/istio/proxyv2:1.22.3" to "ghcr.io/mallory/toolbox:latest"'
}

@test "warnings: subPath mounts and a privileged container are warned about" {
  run_policy test_data/pod_subpath_mounts_of_each_volume_kind_warned.json
  assert_accepted
  assert_warning 'secret volume "db-credentials" is mounted at "/etc/api/db-password" with subPath'
  run_policy test_data/pod_privileged_and_sys_admin_containers_remount_warned.json
  assert_accepted
  assert_warning 'container "privileged-agent" (spec.containers[0]) is privileged and can remount its root filesystem read-write'
}

# ---------------------------------------------------------------------------
# make evaluate: scripts/evaluate-samples.py, its one printer, whichever tool
# runs the policy (kwctl run, or the host's run without kwctl)
# ---------------------------------------------------------------------------

# evaluate_samples [DIR]: the printer on DIR (default samples/) with this
# run's tool and module; sets $status, $output and $stderr.
evaluate_samples() {
  run --separate-stderr python3 scripts/evaluate-samples.py "$TOOL" "$POLICY" "${1:-samples}"
}

# sample_block NAME [OUTPUT]: the printer's block for sample NAME (its
# ━━ NAME ━━ line to the next blank line) in OUTPUT (default: $output).
sample_block() {
  printf '%s\n' "${2-$output}" | sed -n "/^━━ $1 ━━\$/,/^\$/p"
}

@test "make evaluate: each sample of samples/ gets the verdict it expects, a patch is printed decoded, and the documented example is the output" {
  local printed sample name expected block printed_patch patch count readme_example
  evaluate_samples
  [ "$status" -eq 0 ] || { show; fail_now "the samples printer failed"; }
  [[ "${lines[0]}" == "policy: $POLICY  (evaluated by "* ]] || { show; fail_now "no policy line"; }
  printed="$output"
  for sample in samples/*.json; do
    name="$(basename "$sample" .json)"
    expected="$(jq -r .expect "$sample")"
    block="$(sample_block "$name" "$printed")"
    [ -n "$block" ] || { echo "$printed"; fail_now "no block for $name"; }
    grep -Eq "^  result:   $expected( \(code [0-9]+\))?\$" <<<"$block" ||
      { echo "$block"; fail_now "$name: the block does not show $expected"; }
    if [ "$expected" = MUTATED ]; then
      # The printed patch is the response's base64 patch, decoded.
      printed_patch="$(sed -n '/^  patch:$/,$p' <<<"$block" | sed '1d' | jq -S -c .)"
      jq .request "$sample" >"$WORK/request.json"
      run_policy "$WORK/request.json" "$(jq -c .settings "$sample")"
      patch="$(field .patch | base64 -d | jq -S -c .)"
      [ -n "$patch" ] && [ "$printed_patch" = "$patch" ] ||
        { show; fail_now "$name: printed patch $printed_patch, the response's is $patch"; }
    fi
  done
  count="$(find samples -maxdepth 1 -name '*.json' | wc -l)"
  [[ "$printed" == *$'\n'"$count samples: "*", 0 with invalid settings, 0 host errors" ]] ||
    { echo "$printed"; fail_now "no summary of $count samples without errors"; }
  # The example block of docs/development.md, as it is, is part of the output.
  readme_example="$(sed -n '/^`make evaluate` prints/,/^## /p' docs/development.md | sed -n '/^```text$/,/^```$/p' | sed '1d;$d')"
  [ -n "$readme_example" ] || fail_now "no example block after \`make evaluate\` prints in docs/development.md"
  [[ "$printed" == *"$readme_example"* ]] ||
    { echo "$printed"; fail_now "the example block of docs/development.md is not what make evaluate prints"; }
}

@test "make evaluate: a sample whose outcome is not the one it expects, invalid settings and unreadable samples fail it, each saying why" {
  local dir="$WORK/samples"
  mkdir "$dir"
  jq '.expect = "REJECTED"' samples/01-compliant-pod.json >"$dir/a-unexpected.json"
  jq '.settings = {"requiredWritablePaths": ["tmp"]}' samples/02-writable-root-pod.json >"$dir/b-invalid-settings.json"
  printf '{"description": "not JSON' >"$dir/c-not-json.json"
  jq 'del(.request)' samples/01-compliant-pod.json >"$dir/d-no-request.json"
  cp samples/02-writable-root-pod.json "$dir/e-as-expected.json"
  evaluate_samples "$dir"
  [ "$status" -eq 1 ] || { show; fail_now "expected exit status 1"; }
  grep -qx '  result:   ALLOWED' <<<"$(sample_block a-unexpected)" || { show; fail_now "a: not ALLOWED"; }
  grep -qx '  UNEXPECTED: the sample expects REJECTED' <<<"$(sample_block a-unexpected)" ||
    { show; fail_now "a: no UNEXPECTED line"; }
  grep -qx '  result:   SETTINGS INVALID' <<<"$(sample_block b-invalid-settings)" || { show; fail_now "b: not SETTINGS INVALID"; }
  grep -qxF '  message:  requiredWritablePaths[0]: "tmp" is not an absolute path' <<<"$(sample_block b-invalid-settings)" ||
    { show; fail_now "b: not the settings message"; }
  grep -qx '  UNEXPECTED: the sample expects REJECTED' <<<"$(sample_block b-invalid-settings)" ||
    { show; fail_now "b: no UNEXPECTED line"; }
  grep -q "^  HOST ERROR: cannot read $dir/c-not-json.json: " <<<"$(sample_block c-not-json)" || { show; fail_now "c: no read error"; }
  grep -qx '  HOST ERROR: the sample has no `request`' <<<"$(sample_block d-no-request)" || { show; fail_now "d: no missing-request error"; }
  grep -qx '  result:   REJECTED' <<<"$(sample_block e-as-expected)" || { show; fail_now "e: not REJECTED"; }
  ! grep -q 'UNEXPECTED\|ERROR' <<<"$(sample_block e-as-expected)" || { show; fail_now "e: an error for a sample as expected"; }
  [ "${lines[-1]}" = "5 samples: 1 allowed, 0 mutated, 1 rejected, 1 with invalid settings, 4 host errors" ] ||
    { show; fail_now "wrong summary"; }

  # Usage errors: exit 2 and what is wrong.
  mkdir "$WORK/empty"
  evaluate_samples "$WORK/empty"
  [ "$status" -eq 2 ] && [[ "$stderr" == *"no *.json sample in $WORK/empty"* ]] || { show; fail_now "empty directory"; }
  evaluate_samples "$WORK/missing"
  [ "$status" -eq 2 ] && [[ "$stderr" == *"cannot read samples directory $WORK/missing"* ]] || { show; fail_now "missing directory"; }
  run --separate-stderr python3 scripts/evaluate-samples.py "$TOOL" "$WORK/missing.wasm"
  [ "$status" -eq 2 ] && [[ "$stderr" == *"$WORK/missing.wasm does not exist"* ]] || { show; fail_now "missing module"; }
}

# path_without_kwctl: $PATH without the directories that hold a kwctl.
path_without_kwctl() {
  local dir kept=()
  IFS=: read -ra dirs <<<"$PATH"
  for dir in "${dirs[@]}"; do
    [ -x "$dir/kwctl" ] || kept+=("$dir")
  done
  (IFS=:; echo "${kept[*]}")
}

@test "make evaluate: kwctl run when kwctl is there, else the waPC host" {
  if [ "$TOOL" = kwctl ]; then
    run --separate-stderr make --no-print-directory evaluate
    [ "$status" -eq 0 ] || { show; fail_now "make evaluate failed"; }
    [[ "$output" == *"policy: annotated-policy.wasm  (evaluated by kwctl "* ]] || { show; fail_now "not evaluated by kwctl"; }
  fi
  # No kwctl on the PATH and no engine beside the repository: the host.
  [ -x "$HOST" ] || skip "$HOST is not built (make e2e-tests builds it)"
  PATH="$(path_without_kwctl)" SHARED_ENGINE="$WORK/no-engine" run --separate-stderr make --no-print-directory evaluate
  [ "$status" -eq 0 ] || { show; fail_now "make evaluate failed without kwctl"; }
  [[ "$stderr" == *"kwctl is not on the PATH and $WORK/no-engine/unpack.sh does not exist"* ]] ||
    { show; fail_now "no word of the missing kwctl"; }
  [[ "$output" == *"policy: policy.wasm  (evaluated by policy-host "* ]] || { show; fail_now "not evaluated by the host"; }
  [[ "$output" == *", 0 host errors" ]] || { show; fail_now "errors with the host"; }
}

# ---------------------------------------------------------------------------
# The examples, as kwctl runs a policy resource: its module and its settings
# ---------------------------------------------------------------------------

# use_examples_store: a kwctl store (under $WORK) holding annotated-policy.wasm
# as the module every example names (registry://ghcr.io/...:vX), so `kwctl run`
# finds it there instead of fetching it; the example files run unchanged.
use_examples_store() {
  local module
  export XDG_CACHE_HOME="$WORK/cache"
  for module in $(sed -n 's/^ *module: *registry:\/\///p' examples/*.yaml | sort -u); do
    mkdir -p "$XDG_CACHE_HOME/kubewarden/store/registry/$(dirname "$module")"
    cp "$POLICY" "$XDG_CACHE_HOME/kubewarden/store/registry/$module"
  done
}

# run_example EXAMPLE.yaml REQUEST.json: `kwctl run` on the example resource
# (kwctl takes the settings from the file and ignores --settings-*).
run_example() {
  local example="examples/$1" request="$2"
  [ -f "$example" ] || fail_now "$example does not exist"
  [ -f "$request" ] || fail_now "request fixture $request does not exist"
  run --separate-stderr kwctl run --request-path "$request" "$example"
  response="$(printf '%s\n' "$output" | grep -m1 '^{.*"allowed"' || true)"
}

# with_jq FILTER REQUEST.json: prints the path of a copy of the fixture edited
# by FILTER, in $WORK.
with_jq() {
  local out
  out="$WORK/$(basename "$2" .json)-$RANDOM.json"
  jq "$1" "$2" >"$out" || fail_now "jq $1 $2 failed"
  echo "$out"
}

@test "examples: each runs this version of the policy and has its test here" {
  require_kwctl
  local version example
  version="$(sed -n 's/^ *io.kubewarden.policy.version: *//p' metadata.yml)"
  run grep -L "module: registry://.*:v$version\$" examples/*.yaml
  [ -z "$output" ] || fail_now "examples naming another module: $output"
  for example in examples/*.yaml; do
    grep -q "^  run_example $(basename "$example") " "$BATS_TEST_FILENAME" ||
      fail_now "$example is not run by any test in e2e.bats: add one checking what its comments say"
  done
}

@test "example cluster-policy-validate-pods.yaml: rejects, exempts the mesh sidecar by name and image, rejects debug containers" {
  require_kwctl
  use_examples_store
  run_example cluster-policy-validate-pods.yaml test_data/pod_readonly_root_with_tmp_emptydir_accepted.json
  assert_accepted
  run_example cluster-policy-validate-pods.yaml test_data/pod_without_readonly_root_rejected.json
  assert_rejected '- container "app" (spec.containers[0]): securityContext.readOnlyRootFilesystem is not set' \
    'no writable volume is mounted at /tmp'
  run_example cluster-policy-validate-pods.yaml test_data/pod_istio_proxy_sidecar_exempt.json
  assert_accepted
  run_example cluster-policy-validate-pods.yaml test_data/pod_spoofed_istio_proxy_name_rejected.json
  assert_rejected '- container "istio-proxy" (spec.containers[1])'
  run_example cluster-policy-validate-pods.yaml test_data/pod_ephemeralcontainers_add_debug_without_readonly.json
  assert_rejected '- ephemeral container "debugger-x7k2p" (spec.ephemeralContainers[0])'
}

@test "example cluster-policy-validate-workloads.yaml: checks pod templates, never blocks scaling" {
  require_kwctl
  use_examples_store
  run_example cluster-policy-validate-workloads.yaml test_data/deployment_readonly_root_accepted.json
  assert_accepted
  run_example cluster-policy-validate-workloads.yaml test_data/deployment_without_readonly_rejected.json
  assert_rejected 'Deployment rejected' \
    '- container "app" (spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is not set'
  run_example cluster-policy-validate-workloads.yaml test_data/cronjob_without_readonly_rejected.json
  assert_rejected 'CronJob rejected' '(spec.jobTemplate.spec.template.spec.containers[0])'
  run_example cluster-policy-validate-workloads.yaml test_data/deployment_update_scale_replicas_only_accepted.json
  assert_accepted
}

@test "example cluster-policy-mutate-tmp.yaml: sets the flag, adds a 64Mi emptyDir at /tmp, still rejects an explicit false" {
  require_kwctl
  use_examples_store
  run_example cluster-policy-mutate-tmp.yaml test_data/pod_without_readonly_root_rejected.json
  assert_patch '[
    {"op": "add", "path": "/spec/containers/0/securityContext/readOnlyRootFilesystem", "value": true},
    {"op": "add", "path": "/spec/containers/0/volumeMounts/1", "value": {"mountPath": "/tmp", "name": "rw-app-tmp"}},
    {"op": "add", "path": "/spec/volumes/1", "value": {"emptyDir": {"sizeLimit": "64Mi"}, "name": "rw-app-tmp"}}
  ]'
  # a workload's pod template is fixed at apply time
  run_example cluster-policy-mutate-tmp.yaml test_data/deployment_without_readonly_rejected.json
  assert_allowed
  local patched_paths
  patched_paths="$(field .patch | base64 -d | jq -r '.[].path' | tr '\n' ' ')"
  [[ "$patched_paths" == *"/spec/template/spec/containers/0/securityContext/readOnlyRootFilesystem"* ]] ||
    { show; fail_now "the Deployment's pod template is not fixed: $patched_paths"; }
  run_example cluster-policy-mutate-tmp.yaml test_data/pod_readonly_root_false_rejected.json
  assert_rejected 'securityContext.readOnlyRootFilesystem is explicitly false'
  # a debug container gets the flag but no volume
  run_example cluster-policy-mutate-tmp.yaml test_data/pod_ephemeralcontainers_add_debug_without_readonly.json
  assert_patch '[
    {"op": "add", "path": "/spec/ephemeralContainers/0/securityContext", "value": {"readOnlyRootFilesystem": true}}
  ]'
  run_example cluster-policy-mutate-tmp.yaml test_data/pod_readonly_root_with_tmp_emptydir_accepted.json
  assert_accepted
}

@test "example cluster-policy-mutate-profiles.yaml: nginx, postgres and grafana containers get their profile's paths, other containers only /tmp" {
  require_kwctl
  use_examples_store
  local apps nginx_patch short_image
  # One Pod, images written as users write them (nginx:1.27 is
  # docker.io/library/nginx), beside an in-house app: each profile's paths
  # plus /tmp for its container, /tmp only for the app, 256Mi each.
  apps="$(with_jq '.request.object.spec.containers = [
      {"name": "web", "image": "nginx:1.27"},
      {"name": "db", "image": "postgres:16"},
      {"name": "dashboards", "image": "grafana/grafana:11.1.0"}
    ] + .request.object.spec.containers' test_data/pod_without_readonly_root_rejected.json)"
  run_example cluster-policy-mutate-profiles.yaml "$apps"
  assert_patch '[
    {"op": "add", "path": "/spec/containers/0/securityContext", "value": {"readOnlyRootFilesystem": true}},
    {"op": "add", "path": "/spec/containers/0/volumeMounts", "value": [
      {"mountPath": "/tmp", "name": "rw-web-tmp"},
      {"mountPath": "/var/cache/nginx", "name": "rw-web-var-cache-nginx"},
      {"mountPath": "/var/run", "name": "rw-web-var-run"}]},
    {"op": "add", "path": "/spec/containers/1/securityContext", "value": {"readOnlyRootFilesystem": true}},
    {"op": "add", "path": "/spec/containers/1/volumeMounts", "value": [
      {"mountPath": "/tmp", "name": "rw-db-tmp"},
      {"mountPath": "/var/run/postgresql", "name": "rw-db-var-run-postgresql"}]},
    {"op": "add", "path": "/spec/containers/2/securityContext", "value": {"readOnlyRootFilesystem": true}},
    {"op": "add", "path": "/spec/containers/2/volumeMounts", "value": [
      {"mountPath": "/tmp", "name": "rw-dashboards-tmp"},
      {"mountPath": "/var/lib/grafana", "name": "rw-dashboards-var-lib-grafana"}]},
    {"op": "add", "path": "/spec/containers/3/securityContext/readOnlyRootFilesystem", "value": true},
    {"op": "add", "path": "/spec/containers/3/volumeMounts/1", "value": {"mountPath": "/tmp", "name": "rw-app-tmp"}},
    {"op": "add", "path": "/spec/volumes/1", "value": {"emptyDir": {"sizeLimit": "256Mi"}, "name": "rw-web-tmp"}},
    {"op": "add", "path": "/spec/volumes/2", "value": {"emptyDir": {"sizeLimit": "256Mi"}, "name": "rw-web-var-cache-nginx"}},
    {"op": "add", "path": "/spec/volumes/3", "value": {"emptyDir": {"sizeLimit": "256Mi"}, "name": "rw-web-var-run"}},
    {"op": "add", "path": "/spec/volumes/4", "value": {"emptyDir": {"sizeLimit": "256Mi"}, "name": "rw-db-tmp"}},
    {"op": "add", "path": "/spec/volumes/5", "value": {"emptyDir": {"sizeLimit": "256Mi"}, "name": "rw-db-var-run-postgresql"}},
    {"op": "add", "path": "/spec/volumes/6", "value": {"emptyDir": {"sizeLimit": "256Mi"}, "name": "rw-dashboards-tmp"}},
    {"op": "add", "path": "/spec/volumes/7", "value": {"emptyDir": {"sizeLimit": "256Mi"}, "name": "rw-dashboards-var-lib-grafana"}},
    {"op": "add", "path": "/spec/volumes/8", "value": {"emptyDir": {"sizeLimit": "256Mi"}, "name": "rw-app-tmp"}}
  ]'
  # An nginx container that already has /tmp gets only its profile's paths,
  # with the image written in full or short.
  nginx_patch='[
    {"op": "add", "path": "/spec/containers/0/volumeMounts/1", "value": {"mountPath": "/var/cache/nginx", "name": "rw-web-var-cache-nginx"}},
    {"op": "add", "path": "/spec/containers/0/volumeMounts/2", "value": {"mountPath": "/var/run", "name": "rw-web-var-run"}},
    {"op": "add", "path": "/spec/volumes/1", "value": {"emptyDir": {"sizeLimit": "256Mi"}, "name": "rw-web-var-cache-nginx"}},
    {"op": "add", "path": "/spec/volumes/2", "value": {"emptyDir": {"sizeLimit": "256Mi"}, "name": "rw-web-var-run"}}
  ]'
  run_example cluster-policy-mutate-profiles.yaml test_data/pod_nginx_without_cache_and_run_volumes.json
  assert_patch "$nginx_patch"
  short_image="$(with_jq '.request.object.spec.containers[0].image = "nginx:1.27.3"' \
    test_data/pod_nginx_without_cache_and_run_volumes.json)"
  run_example cluster-policy-mutate-profiles.yaml "$short_image"
  assert_patch "$nginx_patch"
  # look-alike repositories (another registry's library/nginx,
  # library/nginx-unprivileged) and the name "nginx" are not the nginx image
  run_example cluster-policy-mutate-profiles.yaml test_data/pod_nginx_name_and_lookalike_images_not_selected_by_rule.json
  assert_accepted
  # an emptyDir at /var already covers both paths
  run_example cluster-policy-mutate-profiles.yaml test_data/pod_nginx_emptydir_at_var_covers_rule_paths_accepted.json
  assert_accepted
  # a read-only mount at a required path is never shadowed
  run_example cluster-policy-mutate-profiles.yaml test_data/pod_nginx_configmap_at_var_cache_nginx_shadows_rule_path_rejected.json
  assert_rejected '- container "web" (spec.containers[0]): /var/cache/nginx must be writable' \
    'configMap volumes are always read-only' "(the policy's nginx application profile requires this path)"
  # any other container: the flag and a 256Mi /tmp only
  run_example cluster-policy-mutate-profiles.yaml test_data/pod_without_readonly_root_rejected.json
  assert_patch '[
    {"op": "add", "path": "/spec/containers/0/securityContext/readOnlyRootFilesystem", "value": true},
    {"op": "add", "path": "/spec/containers/0/volumeMounts/1", "value": {"mountPath": "/tmp", "name": "rw-app-tmp"}},
    {"op": "add", "path": "/spec/volumes/1", "value": {"emptyDir": {"sizeLimit": "256Mi"}, "name": "rw-app-tmp"}}
  ]'
  run_example cluster-policy-mutate-profiles.yaml test_data/pod_readonly_root_false_rejected.json
  assert_rejected 'securityContext.readOnlyRootFilesystem is explicitly false'
}

@test "example cluster-policy-audit-mode.yaml: admits, logging what protect mode would reject" {
  require_kwctl
  use_examples_store
  # `mode: monitor`: admitted, the would-be rejection only logged
  run_example cluster-policy-audit-mode.yaml test_data/pod_without_readonly_root_rejected.json
  assert_accepted
  [[ "$stderr" == *"policy evaluation (monitor mode)"* ]] || { show; fail_now "no monitor-mode evaluation logged"; }
  [[ "$stderr" == *"allowed: false"* ]] || { show; fail_now "the would-be rejection is not logged"; }
  [[ "$stderr" == *'securityContext.readOnlyRootFilesystem is not set'* ]] ||
    { show; fail_now "the logged rejection does not name the problem"; }
  run_example cluster-policy-audit-mode.yaml test_data/pod_istio_proxy_sidecar_exempt.json
  assert_accepted
}

@test "example namespaced-admission-policy.yaml: /tmp and /var/cache/app required, the team's debug image exempt" {
  require_kwctl
  use_examples_store
  local pod both debug_team debug_other
  pod=test_data/pod_readonly_root_with_tmp_emptydir_accepted.json
  run_example namespaced-admission-policy.yaml "$pod"
  assert_rejected 'no writable volume is mounted at /var/cache/app'
  both="$(with_jq '.request.object.spec.volumes += [{"name": "app-cache", "emptyDir": {}}]
    | .request.object.spec.containers[0].volumeMounts += [{"name": "app-cache", "mountPath": "/var/cache/app"}]' "$pod")"
  run_example namespaced-admission-policy.yaml "$both"
  assert_accepted
  debug_team="$(with_jq '.request.object.spec.ephemeralContainers[0].image = "registry.example.com/team-a/debug/shell:1.0"' \
    test_data/pod_ephemeralcontainers_add_debug_without_readonly.json)"
  run_example namespaced-admission-policy.yaml "$debug_team"
  assert_accepted
  debug_other="$(with_jq '.request.object.spec.ephemeralContainers[0].image = "registry.example.com/team-b/debug/shell:1.0"' \
    test_data/pod_ephemeralcontainers_add_debug_without_readonly.json)"
  run_example namespaced-admission-policy.yaml "$debug_other"
  assert_rejected '- ephemeral container "debugger-x7k2p" (spec.ephemeralContainers[0])'
}

# ---------------------------------------------------------------------------
# The annotated module and its Artifact Hub package
# ---------------------------------------------------------------------------

@test "kwctl annotate: the module carries metadata.yml, the README and kwctl's version" {
  require_kwctl
  if command -v wasm-objdump >/dev/null 2>&1; then
    run wasm-objdump -h "$POLICY"
    [ "$status" -eq 0 ]
    [[ "$output" == *'"io.kubewarden.metadata"'* ]] || { echo "$output"; fail_now "no metadata section"; }
  fi
  run --separate-stderr kwctl inspect -o yaml "$POLICY"
  [ "$status" -eq 0 ] || { show; fail_now "inspect failed"; }
  local inspected="$output" version kwctl_version usage
  [[ "$inspected" == *"protocolVersion: v1"* ]] || fail_now "no protocolVersion v1"
  [[ "$inspected" == *"mutating: true"* ]] || fail_now "not mutating"
  [[ "$inspected" == *"executionMode: kubewarden-wapc"* ]] || fail_now "not a waPC policy"
  [[ "$inspected" == *"pods/ephemeralcontainers"* ]] || fail_now "no pods/ephemeralcontainers rule"
  version="$(sed -n 's/^ *io.kubewarden.policy.version: *//p' metadata.yml)"
  [[ "$inspected" == *"io.kubewarden.policy.version: $version"* ]] || fail_now "not version $version"
  kwctl_version="$(kwctl --version 2>/dev/null | sed -n 's/^kwctl //p' | head -n1)"
  [[ "$inspected" == *"io.kubewarden.kwctl: $kwctl_version"* ]] || fail_now "not annotated by kwctl $kwctl_version"
  # The usage annotation (Artifact Hub's page) is README.md: the YAML block
  # scalar, unindented, equals the file up to trailing blank lines.
  usage="$(printf '%s\n' "$inspected" | awk '
    /^  io.kubewarden.policy.usage: \|/ { inside = 1; next }
    inside && /^    / { print substr($0, 5); next }
    inside && /^$/ { print ""; next }
    inside { exit }')"
  [ "$usage" = "$(cat README.md)" ] || {
    diff <(printf '%s\n' "$usage") README.md | head -20
    fail_now "io.kubewarden.policy.usage differs from README.md"
  }
}

@test "kwctl scaffold artifacthub reproduces artifacthub-pkg.yml (apart from createdAt and the changes)" {
  require_kwctl
  run --separate-stderr kwctl scaffold artifacthub --metadata-path metadata.yml \
    --questions-path questions-ui.yml --output "$WORK/artifacthub-pkg.yml"
  [ "$status" -eq 0 ] || { show; fail_now "kwctl scaffold artifacthub failed"; }
  grep -q '^createdAt: ' "$WORK/artifacthub-pkg.yml" || fail_now "no createdAt in the generated file"
  # kwctl does not write the release's `changes` (kept at the end of the
  # committed file by `make artifacthub-pkg.yml`).
  grep -q '^changes:' artifacthub-pkg.yml || fail_now "artifacthub-pkg.yml has no changes for this release"
  run diff <(grep -v '^createdAt: ' artifacthub-pkg.yml | sed '/^changes:/,$d') <(grep -v '^createdAt: ' "$WORK/artifacthub-pkg.yml")
  [ "$status" -eq 0 ] || {
    echo "$output"
    fail_now "artifacthub-pkg.yml is stale: run \`make artifacthub-pkg.yml\` and commit it"
  }
}

# ---------------------------------------------------------------------------
# OCI distribution against a real registry
# ---------------------------------------------------------------------------

# http_request METHOD PORT PATH [ACCEPT]: the response (head, blank line,
# body) of a plain HTTP/1.0 request to 127.0.0.1:PORT, CRs removed (bash
# /dev/tcp, no curl needed).
http_request() {
  local method="$1" port="$2" path="$3" accept="${4:-*/*}"
  (
    exec 9<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nAccept: %s\r\n\r\n' "$method" "$path" "$port" "$accept" >&9
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
      if http_request HEAD "$port" /v2/ | head -n1 | grep -q ' 200'; then
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

@test "kwctl push/pull: a real registry serves the pushed digest, the pulled module is identical and evaluates" {
  require_kwctl
  if [ ! -x /usr/bin/docker-registry ]; then
    [ "${CI:-}" != true ] ||
      fail_now "docker-registry is not installed; with CI=true the registry test runs (make deps-test installs it)"
    skip "docker-registry is not installed (apt-get install docker-registry; make deps-test installs it)"
  fi
  start_registry
  local version repository ref pushed digest manifest layer_digest
  version="$(sed -n 's/^ *io.kubewarden.policy.version: *//p' metadata.yml)"
  repository="127.0.0.1:$REGISTRY_PORT/policies/readonly-rootfs"
  ref="$repository:v$version"
  # kwctl speaks plain HTTP only to registries listed as insecure.
  printf 'insecure_sources:\n  - "127.0.0.1:%s"\n' "$REGISTRY_PORT" >"$WORK/sources.yaml"

  run --separate-stderr kwctl push --sources-path "$WORK/sources.yaml" -o json "$POLICY" "registry://$ref"
  [ "$status" -eq 0 ] || { show; fail_now "push failed"; }
  # kwctl prints the repository and the manifest digest, without the tag.
  pushed="$(printf '%s\n' "$output" | grep -m1 '^{' | jq -r .immutable_ref)"
  [[ "$pushed" =~ ^"$repository"@sha256:[0-9a-f]{64}$ ]] || { show; fail_now "unexpected immutable ref: $pushed"; }
  digest="${pushed##*@}"

  # The registry serves the tag with that digest; the manifest's one layer is
  # the module's bytes, and its annotations identify the policy.
  manifest="$(http_request GET "$REGISTRY_PORT" "/v2/policies/readonly-rootfs/manifests/v$version" \
    'application/vnd.oci.image.manifest.v1+json')"
  [ "$(printf '%s\n' "$manifest" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p')" = "$digest" ] ||
    { echo "$manifest"; fail_now "the registry serves another digest for v$version than $digest"; }
  manifest="$(printf '%s\n' "$manifest" | sed '1,/^$/d')"
  layer_digest="sha256:$(sha256sum "$POLICY" | cut -d' ' -f1)"
  [ "$(jq -r '[.layers[].digest] | join(" ")' <<<"$manifest")" = "$layer_digest" ] ||
    { echo "$manifest"; fail_now "the manifest's layer is not $POLICY ($layer_digest)"; }
  [ "$(jq -r '.annotations["io.kubewarden.policy.version"]' <<<"$manifest")" = "$version" ] ||
    { echo "$manifest"; fail_now "the manifest does not carry io.kubewarden.policy.version $version"; }
  [ "$(jq -r '.annotations["io.kubewarden.policy.title"]' <<<"$manifest")" = readonly-rootfs ] ||
    { echo "$manifest"; fail_now "the manifest does not carry io.kubewarden.policy.title"; }
  [ "$(jq -r '.annotations["org.opencontainers.image.source"]' <<<"$manifest")" = \
    "$(sed -n 's/^ *io.kubewarden.policy.source: *//p' metadata.yml)" ] ||
    { echo "$manifest"; fail_now "the manifest's org.opencontainers.image.source is not io.kubewarden.policy.source"; }

  # Pull by tag and by digest into files: identical bytes.
  run --separate-stderr kwctl pull --sources-path "$WORK/sources.yaml" -o "$WORK/by-tag.wasm" "registry://$ref"
  [ "$status" -eq 0 ] || { show; fail_now "pull by tag failed"; }
  cmp "$POLICY" "$WORK/by-tag.wasm" || fail_now "the module pulled by tag differs from the pushed one"
  run --separate-stderr kwctl pull --sources-path "$WORK/sources.yaml" -o "$WORK/by-digest.wasm" "registry://$pushed"
  [ "$status" -eq 0 ] || { show; fail_now "pull by digest failed"; }
  cmp "$POLICY" "$WORK/by-digest.wasm" || fail_now "the module pulled by digest differs from the pushed one"

  # The pulled module is the policy.
  run_policy test_data/pod_without_readonly_root_rejected.json '{}' "$WORK/by-digest.wasm"
  assert_rejected '- container "app" (spec.containers[0]): securityContext.readOnlyRootFilesystem is not set'
}
