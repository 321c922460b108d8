#!/usr/bin/env bash
# Brings up the test cluster of tests/cluster.bats on 127.0.0.1 only, in a new
# temporary directory, and prints that directory:
#   etcd -> kube-apiserver (TLS, an admin client certificate in system:masters,
#   the admission webhook plugins on) -> policy-server (TLS) holding
#   annotated-policy.wasm once per policy entry (tests/cluster/generate.py),
#   with the webhook configurations routing each test namespace to its entry.
#
# Usage: up.sh [--owner PID] MODULE
#   MODULE       the annotated policy module (annotated-policy.wasm)
#   --owner PID  stop everything (down.sh) as soon as process PID is gone,
#                however it ended (a failed test run, Ctrl-C, kill -9)
#
# The directory holds: kubeconfig, env (shell variables for the tests),
# pids (one "PID NAME" line per process started, in start order), logs/,
# entries.json, and unloaded/<policy> when policy-server refused an entry's
# settings (the reason inside; its namespace's requests then fail closed).
# Ports are picked free by the kernel, so parallel runs do not collide.
# On any failure everything started so far is stopped and the directory removed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
owner=
if [ "${1:-}" = --owner ]; then owner=$2; shift 2; fi
module=$(realpath "${1:?usage: up.sh [--owner PID] MODULE}")

dir=$(mktemp -d "${TMPDIR:-/tmp}/readonly-rootfs-cluster.XXXXXX")
mkdir -p "$dir/logs" "$dir/tls" "$dir/unloaded"
: >"$dir/pids"
trap 'status=$?; [ $status -eq 0 ] || { echo "up.sh failed; logs follow" >&2; tail -n 5 "$dir"/logs/*.log | cut -c 1-400 >&2 || true; "$here/down.sh" "$dir"; }' EXIT

log() { echo "up.sh: [${SECONDS}s] $*" >&2; }

if [ -n "$owner" ]; then
  # Watchdog, from the start: immune to the Ctrl-C that stops the test run,
  # it stops the cluster when the owner is gone and down.sh has not run yet.
  (
    trap '' INT HUP
    while kill -0 "$owner" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
    [ ! -d "$dir" ] || "$here/down.sh" "$dir"
  ) </dev/null >/dev/null 2>&1 3>&- &
  echo "$! watchdog" >>"$dir/pids"
fi

# Starts a long-running process in the background with its output in
# logs/NAME.log, and records its PID. Its stdin and bats' fd 3 are closed so
# that nothing waits on it.
start() {
  local name=$1
  shift
  "$@" </dev/null >"$dir/logs/$name.log" 2>&1 3>&- &
  echo "$! $name" >>"$dir/pids"
}

running() { kill -0 "$(awk -v n="$1" '$2 == n {print $1}' "$dir/pids")" 2>/dev/null; }

# Polls CHECK (a command) every 0.2 s until it succeeds, for at most SECONDS;
# fails early when the process NAME has exited.
wait_for() {
  local name=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    running "$name" || { log "$name exited during start-up"; return 1; }
    [ $SECONDS -lt $deadline ] || { log "$name not ready after ${seconds}s"; return 1; }
    sleep 0.2
  done
}

free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
# Bound together, so the kernel hands out distinct ports; closed right away.
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
EOF
}

# --- certificates: one CA for the API server, its admin and policy-server ---
tls=$dir/tls
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# sign NAME SUBJECT EXTENSIONS: NAME.key and NAME.crt signed by the CA
sign() {
  new_key "$tls/$1.key"
  openssl req -new -key "$tls/$1.key" -subj "$2" -out "$tls/$1.csr"
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "$3" >"$tls/$1.ext"
  openssl x509 -req -in "$tls/$1.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
    -days 2 -extfile "$tls/$1.ext" -out "$tls/$1.crt" 2>/dev/null
}
new_key "$tls/ca.key"
openssl req -x509 -new -key "$tls/ca.key" -subj "/CN=readonly-rootfs test CA" -days 2 -out "$tls/ca.crt"
server_san="subjectAltName=IP:127.0.0.1,DNS:localhost"
sign apiserver "/CN=kube-apiserver" "extendedKeyUsage=serverAuth
$server_san"
sign policy-server "/CN=policy-server" "extendedKeyUsage=serverAuth
$server_san"
sign admin "/O=system:masters/CN=admin" "extendedKeyUsage=clientAuth"
new_key "$tls/service-account.key"
openssl pkey -in "$tls/service-account.key" -pubout -out "$tls/service-account.pub"

read -r etcd_port etcd_peer_port api_port ps_port ps_ready_port < <(free_ports 5)

# --- etcd ---
start etcd etcd --name test --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "test=http://127.0.0.1:$etcd_peer_port" \
  --listen-metrics-urls "" --log-level error
wait_for etcd 30 curl -sf "http://127.0.0.1:$etcd_port/health"
log "etcd ready on 127.0.0.1:$etcd_port"

# --- policy-server: its configuration needs only its own port and CA ---
ps_url=https://127.0.0.1:$ps_port
generate() { python3 "$here/generate.py" config --module "$module" --policy-server-url "$ps_url" --ca-bundle "$tls/ca.crt" "$@" "$dir"; }
start_policy_server() {
  start policy-server env -u KUBECONFIG HOME="$dir" NO_COLOR=1 policy-server \
    --addr 127.0.0.1 --port "$ps_port" --readiness-probe-port "$ps_ready_port" \
    --cert-file "$tls/policy-server.crt" --key-file "$tls/policy-server.key" \
    --policies "$dir/policies.yml" --policies-download-dir "$dir/policies" \
    --sigstore-cache-dir "$dir/sigstore" --ignore-kubernetes-connection-failure \
    --log-no-color --workers 2
  wait_for policy-server 120 curl -sf "http://127.0.0.1:$ps_ready_port/readiness" &&
    log "policy-server ready on $ps_url"
}
mkdir -p "$dir/policies" "$dir/sigstore"
generate
if ! start_policy_server; then
  # policy-server refuses to start when one entry's settings are invalid (for
  # instance settings of a newer policy version). Find those entries with
  # kwctl, leave them out and record why, so only their tests fail.
  grep -q "Policy settings are invalid" "$dir/logs/policy-server.log" || exit 1
  sed -i '/ policy-server$/d' "$dir/pids"
  leave_out=()
  for policy in $(jq -r '.[].policy' "$dir/entries.json"); do
    settings=$(jq -c --arg p "$policy" '.[] | select(.policy == $p) | .settings' "$dir/entries.json")
    if ! HOME=$dir kwctl --no-color run --settings-json "$settings" \
      --request-path "$here/manifests/probe-review.json" "$module" >/dev/null 2>"$dir/logs/kwctl.log"; then
      grep '^Error: ' "$dir/logs/kwctl.log" >"$dir/unloaded/$policy" || cp "$dir/logs/kwctl.log" "$dir/unloaded/$policy"
      leave_out+=(--leave-out "$policy")
      log "policy entry $policy left out: $(head -n 1 "$dir/unloaded/$policy")"
    fi
  done
  generate "${leave_out[@]}"
  start_policy_server
fi

# --- kube-apiserver ---
# --allow-privileged=true as kubeadm sets it: without it the API server
# refuses privileged containers itself, before any webhook sees them.
start kube-apiserver kube-apiserver \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --tls-cert-file "$tls/apiserver.crt" --tls-private-key-file "$tls/apiserver.key" \
  --client-ca-file "$tls/ca.crt" --authorization-mode AlwaysAllow \
  --service-account-issuer https://kubernetes.default.svc \
  --service-account-key-file "$tls/service-account.pub" \
  --service-account-signing-key-file "$tls/service-account.key" \
  --service-cluster-ip-range 10.96.0.0/24 \
  --enable-admission-plugins MutatingAdmissionWebhook,ValidatingAdmissionWebhook \
  --disable-admission-plugins ServiceAccount --allow-privileged=true \
  --endpoint-reconciler-type none --profiling=false \
  --cert-dir "$dir/apiserver"
api=(curl -sf --cacert "$tls/ca.crt" --cert "$tls/admin.crt" --key "$tls/admin.key")
wait_for kube-apiserver 120 "${api[@]}" "https://127.0.0.1:$api_port/readyz"
log "kube-apiserver ready on 127.0.0.1:$api_port"

cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $tls/ca.crt
users:
- name: admin
  user:
    client-certificate: $tls/admin.crt
    client-key: $tls/admin.key
contexts:
- name: test
  context: {cluster: test, user: admin, namespace: default}
current-context: test
EOF
kubectl=(kubectl --kubeconfig "$dir/kubeconfig" --cache-dir "$dir/kube-cache")
"${kubectl[@]}" create --validate=false -f "$dir/namespaces.json" >/dev/null
"${kubectl[@]}" create --validate=false -f "$dir/webhooks.json" >/dev/null

# The API server loads webhook configurations asynchronously: wait until a
# server-side dry run of a Pod the policy rejects is refused in `validate`
# (validating webhooks) and mutated in `mutate` (mutating webhooks).
probe() { "${kubectl[@]}" create --validate=false --dry-run=server -n "$1" -f "$here/manifests/probe-pod.yaml" -o json 2>&1; }
validating_active() { [[ $(probe validate) == *"read-only root filesystem policy"* ]]; }
mutating_active() { probe mutate | jq -e '.spec.containers[0].securityContext.readOnlyRootFilesystem == true'; }
wait_for kube-apiserver 60 validating_active
wait_for kube-apiserver 60 mutating_active
log "webhooks active"

cat >"$dir/env" <<EOF
export KUBECONFIG=$dir/kubeconfig
export KUBECACHEDIR=$dir/kube-cache
export CLUSTER_API_PORT=$api_port
export CLUSTER_POLICY_SERVER_URL=$ps_url
EOF

echo "$dir"
