#!/usr/bin/env bats
# The policy in Kubewarden's real policy-server, as a cluster runs it.
#
# One policy-server is started on 127.0.0.1 (free ports) for the whole file.
# Its policies file loads annotated-policy.wasm once per policy id
# (tests/policy-server/harness.py writes it): named policies (validate-only,
# mutate with /tmp, exemptions, mutation not allowed), the settings of each
# examples/*.yaml resource, and every settings object of the fixture table
# (tests/cases.json). The tests POST AdmissionReviews to
# /validate/<policy-id> and check what the API server would get back.
# The server is stopped in teardown_file, and by a watchdog if bats dies.
#
# Needs policy-server on the PATH (.ci/run puts the unpacked engine there),
# curl, python3 with PyYAML and jsonpatch (scripts/install-deps.sh test), and
# annotated-policy.wasm (`make policy-server-tests` builds it). Without
# policy-server the tests are skipped, saying so; in CI (CI=true) they fail.

bats_require_minimum_version 1.5.0

HARNESS="tests/policy-server/harness.py"
MODULE="annotated-policy.wasm"

setup_file() {
  cd "$BATS_TEST_DIRNAME/.."
  export SKIP_REASON=""
  local missing=()
  command -v policy-server >/dev/null || missing+=("policy-server (Kubewarden's; ../shared/engine/unpack.sh DIR unpacks it)")
  command -v curl >/dev/null || missing+=(curl)
  python3 -c 'import yaml, jsonpatch' 2>/dev/null || missing+=("python3 with PyYAML and jsonpatch")
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "${CI:-}" = true ]; then
      echo "policy-server tests cannot run in CI, missing: ${missing[*]}" >&2
      return 1
    fi
    export SKIP_REASON="missing: ${missing[*]}"
    echo "# policy-server tests skipped, $SKIP_REASON" >&3
    return 0
  fi
  [ -f "$MODULE" ] || { echo "$MODULE is missing: run \`make policy-server-tests\`" >&2; return 1; }
  echo "# $(command -v policy-server): $(policy-server --version 2>/dev/null | head -n1)" >&3

  export WORK="$BATS_FILE_TMPDIR"
  python3 "$HARNESS" policies "$MODULE" "$WORK/policies.yml" >"$WORK/policies.out" || return 1
  sed 's/^/# /' "$WORK/policies.out" >&3
  python3 "$HARNESS" examples >"$WORK/examples.json"
  start_server "$WORK/policies.yml"
}

teardown_file() {
  stop_server
}

setup() {
  [ -z "$SKIP_REASON" ] || skip "$SKIP_REASON"
  cd "$BATS_TEST_DIRNAME/.."
}

# Two free loopback ports, "PORT PROBE_PORT".
free_ports() {
  python3 -c 'import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))'
}

# start_server POLICIES_FILE: starts policy-server, waits for its readiness
# probe, exports SERVER_PID and URL. Retries with other ports when the chosen
# ones were taken in between.
start_server() {
  local policies="$1" attempt port probe
  for attempt in 1 2 3; do
    read -r port probe < <(free_ports)
    policy-server --addr 127.0.0.1 --port "$port" --readiness-probe-port "$probe" \
      --ignore-kubernetes-connection-failure --policies "$policies" \
      --policies-download-dir "$WORK" --sigstore-cache-dir "$WORK/sigstore" \
      --log-level warn --log-no-color >"$WORK/server.log" 2>&1 3>&- &
    export SERVER_PID=$!
    export URL="http://127.0.0.1:$port"
    # Stops the server if bats itself dies without running teardown_file.
    (while kill -0 "$SERVER_PID" 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 1; done
      kill "$SERVER_PID" 2>/dev/null) >/dev/null 2>&1 3>&- &
    local tries
    for tries in $(seq 1 600); do
      curl -sf "http://127.0.0.1:$probe/readiness" >/dev/null && return 0
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    stop_server
    grep -q 'Address already in use' "$WORK/server.log" || break
  done
  echo "policy-server did not become ready; its log:" >&2
  cat "$WORK/server.log" >&2
  return 1
}

stop_server() {
  if [ -n "${SERVER_PID:-}" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

# review POLICY FILE: POSTs the AdmissionReview FILE; $response is the
# server's AdmissionResponse.
review() {
  local code
  code="$(curl -s -o "$WORK/review.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$2" "$URL/validate/$1")" || fail "POST /validate/$1 $2: curl failed"
  [ "$code" = 200 ] || fail "POST /validate/$1 $2: HTTP $code: $(cat "$WORK/review.json")"
  response="$(jq -c .response "$WORK/review.json")"
}

field() {
  jq -r "$1" <<<"$response"
}

fail() {
  echo "response: ${response:-}" >&2
  echo "$*" >&2
  return 1
}

assert_uid_of() {
  [ "$(field .uid)" = "$(jq -r .request.uid "$1")" ] || fail "the uid is not the request's"
}

assert_no_warnings() {
  [ "$(field '.warnings // [] | length')" = 0 ] || fail "expected no warnings"
}

# assert_accepted: allowed, no patch
assert_accepted() {
  [ "$(field .allowed)" = true ] || fail "expected allowed"
  [ "$(field '.patch // empty')" = "" ] || fail "expected no patch"
}

# assert_rejected LINE...: not allowed, the message contains every LINE
assert_rejected() {
  [ "$(field .allowed)" = false ] || fail "expected a rejection"
  local message line
  message="$(field '.status.message // ""')"
  for line in "$@"; do
    [[ "$message" == *"$line"* ]] || fail "the message does not contain: $line"
  done
}

# The decoded JSON patch of $response, compact with sorted keys.
patch_json() {
  [ "$(field .patchType)" = JSONPatch ] || fail "expected patchType JSONPatch"
  field .patch | base64 -d | jq -S -c .
}

# apply_patch REVIEW: the review with $response's patch applied to its object,
# written to $WORK/patched.json.
apply_patch() {
  jq . <<<"$response" >"$WORK/response.json"
  python3 "$HARNESS" patched "$1" "$WORK/response.json" >"$WORK/patched.json" ||
    fail "the patch does not apply to the request object"
}

# assert_values_kept REVIEW: every non-null leaf of REVIEW's object is in
# $WORK/patched.json's object unchanged (arrays only grow at the end, objects
# only gain keys; a patch may fill in a null).
assert_values_kept() {
  jq -e --slurpfile patched "$WORK/patched.json" '.request.object as $o | $o
    | [paths(type != "object" and type != "array") as $p
       | select(($o | getpath($p)) != null)
       | select(($patched[0].request.object | getpath($p)) != ($o | getpath($p)))]
    | length == 0' "$1" >/dev/null || fail "$1: the patch lost or changed a value of the request object"
}

# ---------------------------------------------------------------------------
# Pods
# ---------------------------------------------------------------------------

@test "a compliant Pod is accepted: no patch, no warnings, the request's uid" {
  review validate-tmp test_data/pod_readonly_root_with_tmp_emptydir_accepted.json
  assert_accepted
  assert_no_warnings
  assert_uid_of test_data/pod_readonly_root_with_tmp_emptydir_accepted.json
}

@test "a Pod without a read-only root is rejected with every violation and its fix" {
  review validate-tmp test_data/pod_without_readonly_root_rejected.json
  [ "$(field .status.message)" = 'Pod rejected by the read-only root filesystem policy (2 violations):
- container "app" (spec.containers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true
- container "app" (spec.containers[0]): no writable volume is mounted at /tmp; mount a writable volume such as an emptyDir at /tmp or a parent directory' ] ||
    fail "unexpected message"
  assert_rejected
  assert_no_warnings
  assert_uid_of test_data/pod_without_readonly_root_rejected.json
}

@test "every workload kind: the pod template is checked and its path named" {
  local kind fixture template
  while read -r kind fixture template; do
    review validate "test_data/$fixture"
    assert_rejected "$kind rejected by the read-only root filesystem policy" "($template."
  done <<'EOF'
Deployment deployment_without_readonly_rejected.json spec.template.spec
Deployment deployment_init_container_without_readonly_rejected.json spec.template.spec
ReplicaSet replicaset_without_readonly_rejected.json spec.template.spec
StatefulSet statefulset_readonly_false_rejected.json spec.template.spec
DaemonSet daemonset_security_context_null_rejected.json spec.template.spec
Job job_init_container_without_readonly_rejected.json spec.template.spec
CronJob cronjob_without_readonly_rejected.json spec.jobTemplate.spec.template.spec
ReplicationController replicationcontroller_without_readonly_rejected.json spec.template.spec
EOF
  for fixture in deployment replicaset statefulset daemonset job cronjob replicationcontroller; do
    review validate "test_data/${fixture}_readonly_root_accepted.json"
    assert_accepted
    assert_no_warnings
  done
}

@test "pods/ephemeralcontainers UPDATE: only the new debug container is checked" {
  review validate-tmp test_data/pod_ephemeralcontainers_second_debug_container_rejected.json
  assert_rejected 'Pod rejected by the read-only root filesystem policy (1 violation):
- ephemeral container "debugger-bbbbb" (spec.ephemeralContainers[1]): securityContext.readOnlyRootFilesystem is not set; set it to true'
  [[ "$(field .status.message)" != *debugger-aaaaa* ]] || fail "the existing debug container was checked"

  review validate-tmp test_data/pod_ephemeralcontainers_add_readonly_debug_accepted.json
  assert_accepted

  # Mutation sets the flag on the new container, and adds no volume.
  review mutate-tmp test_data/pod_ephemeralcontainers_second_debug_container_rejected.json
  [ "$(patch_json)" = '[{"op":"add","path":"/spec/ephemeralContainers/1/securityContext","value":{"readOnlyRootFilesystem":true}}]' ] ||
    fail "unexpected patch $(patch_json)"
}

@test "a Windows pod is accepted with a warning and never mutated" {
  local warning='the read-only root filesystem policy did not check this Windows pod: Kubernetes does not allow securityContext.readOnlyRootFilesystem on Windows containers'
  for policy in validate mutate-tmp; do
    for fixture in pod_windows_os_accepted_with_warning.json deployment_windows_os_accepted_with_warning.json; do
      review "$policy" "test_data/$fixture"
      assert_accepted
      [ "$(field '.warnings | length')" = 1 ] && [ "$(field '.warnings[0]')" = "$warning" ] ||
        fail "expected exactly the Windows warning"
    done
  done
}

@test "malformed objects are rejected with what could not be read, never admitted" {
  local fixture policy fragment
  while IFS='|' read -r policy fixture fragment; do
    review "$policy" "test_data/$fixture"
    assert_rejected "$fragment"
  done <<'EOF'
validate|pod_containers_not_a_list_rejected.json|the Pod could not be read: spec.containers: invalid type
validate|pod_security_context_not_an_object_rejected.json|spec.containers[0].securityContext
validate-tmp|pod_volume_mounts_not_a_list_rejected.json|spec.containers[0].volumeMounts
mutate-tmp|pod_volume_mounts_not_a_list_rejected.json|spec.containers[0].volumeMounts
validate|deployment_without_pod_template_spec_rejected.json|the Deployment has no pod spec at spec.template.spec
EOF
}

@test "requests policy-server cannot read get an HTTP error, not an admission" {
  # No `kind`: policy-server's typed AdmissionRequest refuses it before the
  # policy runs (HTTP 422); the API server treats that as a webhook failure.
  run curl -s -o "$WORK/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data @test_data/request_missing_kind_rejected.json "$URL/validate/validate"
  [ "$output" = 422 ] || fail "expected HTTP 422, got $output: $(cat "$WORK/body")"
  grep -q 'missing field `kind`' "$WORK/body" || fail "unexpected body $(cat "$WORK/body")"

  run curl -s -o "$WORK/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data 'not json' "$URL/validate/validate"
  [ "$output" = 400 ] || fail "expected HTTP 400, got $output: $(cat "$WORK/body")"

  run curl -s -o "$WORK/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data @test_data/pod_without_readonly_root_rejected.json "$URL/validate/no-such-policy"
  [ "$output" = 404 ] || fail "expected HTTP 404, got $output"
}

# ---------------------------------------------------------------------------
# Exemptions
# ---------------------------------------------------------------------------

@test "exemptions: the istio sidecar by name and image, debug images by prefix; a spoofed name is not exempt" {
  review exemptions test_data/pod_istio_proxy_sidecar_exempt.json
  assert_accepted
  review exemptions test_data/pod_with_debug_registry_toolbox_container.json
  assert_accepted
  review exemptions test_data/pod_spoofed_istio_proxy_name_rejected.json
  assert_rejected 'Pod rejected by the read-only root filesystem policy (1 violation):
- container "istio-proxy" (spec.containers[1]): securityContext.readOnlyRootFilesystem is not set; set it to true'
  # Without the exemptions the same sidecar is rejected.
  review validate test_data/pod_istio_proxy_sidecar_exempt.json
  assert_rejected '- container "istio-proxy" (spec.containers[1])'
}

# ---------------------------------------------------------------------------
# Mutation
# ---------------------------------------------------------------------------

@test "mutation: the patch, applied to the request, gives a read-only root and a /tmp emptyDir per container" {
  local fixture=test_data/pod_several_containers_need_tmp_mutated.json
  review mutate-tmp "$fixture"
  [ "$(field .allowed)" = true ] || fail "expected allowed"
  assert_no_warnings
  patch_json | jq -e 'all(.[]; .op == "add")' >/dev/null || fail "the patch does not only add: $(patch_json)"
  apply_patch "$fixture"

  # Every init and regular container: read-only root, and /tmp from its own
  # emptyDir of the configured size.
  jq -e '.request.object.spec as $spec
    | ($spec.volumes | map({key: .name, value: .}) | from_entries) as $volumes
    | [($spec.initContainers // [])[], $spec.containers[]]
    | length > 1 and all(.[];
        .securityContext.readOnlyRootFilesystem == true
        and ([.volumeMounts[] | select(.mountPath == "/tmp") | $volumes[.name].emptyDir.sizeLimit] == ["64Mi"]))' \
    "$WORK/patched.json" >/dev/null || fail "the patched object is not as expected: $(jq -c .request.object.spec "$WORK/patched.json")"
  jq -e '[.request.object.spec.volumes[].name] | length == (unique | length)' "$WORK/patched.json" >/dev/null ||
    fail "volume names are not unique"
  assert_values_kept "$fixture"

  # The fixed object is accepted unchanged, by the mutating and by a
  # validate-only policy.
  review mutate-tmp "$WORK/patched.json"
  assert_accepted
  review validate-tmp "$WORK/patched.json"
  assert_accepted
}

@test "mutation: unknown and null fields survive the real server's patch" {
  local fixture
  for fixture in pod_with_unknown_fields_mutated.json pod_with_null_fields_mutated.json; do
    review mutate-tmp "test_data/$fixture"
    apply_patch "test_data/$fixture"
    assert_values_kept "test_data/$fixture"
    review mutate-tmp "$WORK/patched.json"
    assert_accepted
  done
  # A null the policy has no reason to touch stays a null (the API server
  # sends `creationTimestamp: null` on CREATE).
  jq -e '.request.object.metadata | has("creationTimestamp") and .creationTimestamp == null' \
    "$WORK/patched.json" >/dev/null || fail "metadata.creationTimestamp: null was not kept"
}

@test "mutation refused by the server when the policy is not allowed to mutate" {
  review mutate-tmp-not-allowed test_data/pod_without_readonly_root_rejected.json
  assert_rejected 'The policy attempted to mutate the request, but it is currently configured to not allow mutations.'
  # A compliant object needs no mutation and passes.
  review mutate-tmp-not-allowed test_data/pod_readonly_root_with_tmp_emptydir_accepted.json
  assert_accepted
}

# ---------------------------------------------------------------------------
# The examples users copy, with the settings from the files
# ---------------------------------------------------------------------------

# example_entry NAME: the settings, policyMode and allowedToMutate of
# examples/NAME.yaml, as loaded into the server.
example_entry() {
  jq -e --arg id "example-$1" '.[$id]' "$WORK/examples.json" || fail "no policy resource in examples/$1.yaml"
}

@test "examples: validate-only policies reject a non-compliant Pod, naming each required path" {
  local example entry path count=0
  for example in examples/*.yaml; do
    example="$(basename "$example" .yaml)"
    entry="$(example_entry "$example")"
    [ "$(jq -r '.policyMode' <<<"$entry")" = protect ] && [ "$(jq -r '.allowedToMutate' <<<"$entry")" = false ] || continue
    review "example-$example" test_data/pod_without_readonly_root_rejected.json
    assert_rejected '- container "app" (spec.containers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true'
    for path in $(jq -r '.settings.requiredWritablePaths // [] | .[]' <<<"$entry"); do
      assert_rejected "- container \"app\" (spec.containers[0]): no writable volume is mounted at $path;"
    done
    count=$((count + 1))
  done
  [ "$count" -ge 3 ] || fail "expected at least 3 validate-only examples, found $count"
}

@test "examples: the mutating policy fixes a Pod, and the validating Pods policy accepts the result" {
  local fixture=test_data/pod_several_containers_need_tmp_mutated.json entry
  entry="$(example_entry cluster-policy-mutate-tmp)"
  [ "$(jq -r .allowedToMutate <<<"$entry")" = true ] || fail "the mutate example does not set mutating: true"
  review example-cluster-policy-mutate-tmp "$fixture"
  apply_patch "$fixture"
  # Each required path of the example is an emptyDir shaped by its
  # writableVolume, in every container.
  jq -e --argjson settings "$(jq .settings <<<"$entry")" '.request.object.spec as $spec
    | ($spec.volumes | map({key: .name, value: .}) | from_entries) as $volumes
    | all([($spec.initContainers // [])[], $spec.containers[]][]; . as $c
        | .securityContext.readOnlyRootFilesystem == true
        and all($settings.requiredWritablePaths[]; . as $p
          | [$c.volumeMounts[] | select(.mountPath == $p) | $volumes[.name].emptyDir] as $dirs
          | ($dirs | length) == 1
          and ($dirs[0].sizeLimit // "") == ($settings.writableVolume.sizeLimit // "")
          and ($dirs[0].medium // "") == ($settings.writableVolume.medium // "")))' \
    "$WORK/patched.json" >/dev/null || fail "the mutated Pod lacks what the example promises: $(jq -c .request.object.spec "$WORK/patched.json")"
  review example-cluster-policy-mutate-tmp "$WORK/patched.json"
  assert_accepted
  review example-cluster-policy-validate-pods "$WORK/patched.json"
  assert_accepted
}

@test "examples: the audit-mode policy (monitor) admits a non-compliant Pod" {
  [ "$(example_entry cluster-policy-audit-mode | jq -r .policyMode)" = monitor ] || fail "the audit example is not in monitor mode"
  review example-cluster-policy-audit-mode test_data/pod_without_readonly_root_rejected.json
  assert_accepted
}

# ---------------------------------------------------------------------------
# The whole fixture table, settings loading, load
# ---------------------------------------------------------------------------

@test "the fixture table (tests/cases.json) through policy-server: verdicts, messages, warnings, patches applied" {
  run python3 "$HARNESS" table "$URL"
  echo "$output"
  [ "$status" -eq 0 ]
  echo "# ${lines[-1]}" >&3
  [[ "${lines[-1]}" =~ ^([0-9]+)\ of\ ([0-9]+)\ fixture\ cases\ passed ]]
  [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && [ "${BASH_REMATCH[1]}" -ge 200 ]
}

@test "invalid settings: policy-server refuses to start, with the policy's message" {
  local port probe
  read -r port probe < <(free_ports)
  cat >"$WORK/invalid.yml" <<EOF
typo:
  module: file://$PWD/$MODULE
  settings:
    requiredWriteablePaths: ["/tmp"]
EOF
  run timeout 60 policy-server --addr 127.0.0.1 --port "$port" --readiness-probe-port "$probe" \
    --ignore-kubernetes-connection-failure --policies "$WORK/invalid.yml" \
    --policies-download-dir "$WORK" --sigstore-cache-dir "$WORK/sigstore" --log-no-color
  [ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "status $status: $output"
  [[ "$output" == *'Policy settings are invalid: unknown setting "requiredWriteablePaths"; valid settings are: '* ]] ||
    fail "unexpected output: $output"
}

@test "load smoke: 2,000 requests on 8 connections, no errors, identical answers to identical requests" {
  run python3 "$HARNESS" load "$URL" --requests 2000 --connections 8 \
    validate-tmp=test_data/pod_readonly_root_with_tmp_emptydir_accepted.json \
    validate-tmp=test_data/pod_without_readonly_root_rejected.json \
    mutate-tmp=test_data/pod_several_containers_need_tmp_mutated.json \
    validate=test_data/pod_windows_os_accepted_with_warning.json \
    validate=test_data/cronjob_without_readonly_rejected.json
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"2000 requests over 8 connections, 5 distinct, 0 errors"* ]]
  echo "# ${lines[-1]}" >&3
}
