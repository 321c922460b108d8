#!/usr/bin/env python3
"""The benchmark through Kubewarden's real policy-server: the number users feel.

Loads the policy and the two baseline guests (noop: accepts without reading;
parse-only: parses the payload into serde_json::Value and accepts) in one
policy-server on 127.0.0.1, each under the settings of each selected case, and
sends every (case, module) pair a fixed number of AdmissionReviews with `hey`
over several keep-alive connections. Prints a Markdown table: requests per
second and p50/p99 latency per module, and the policy's ratios to the noop
guest in the same server (throughput ratio, and p50 latency ratio).

The requests are the in-process benchmark's (`bench --dump-only DIR` writes
them with index.json), wrapped in an AdmissionReview envelope; each case's
settings become the settings of its policies. Every module's answer to every
case is checked once before timing (verdict; extra modules must answer
exactly as the policy does).

Modules are annotated here with `kwctl annotate -m metadata.yml`, all the
same way (policy-server refuses a module without Kubewarden metadata).

  bench/policy-server.py --requests DIR --policy policy.wasm \\
      --noop noop.wasm --parse-only parse_only.wasm [--module NAME=WASM ...] \\
      [--only TEXT ...] [--runs 3] [--connections 8] [--scale 1.0]

Needs policy-server and kwctl (from the PATH, else unpacked from
../shared/engine into target/engine by scripts/engine.sh), hey (Debian's package; `make bench`
installs it) and python3's standard library.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Default cases (substrings of the in-process benchmark's case names):
# validate compliant and violating at two request sizes, and mutation.
DEFAULT_CASES = [
    "Pod, 1 container, compliant",
    "Pod, 1 container, violating",
    "Pod, 100 containers, compliant",
    "Pod, 100 containers, violating",
    "Mutation: /tmp injected into 10 containers",
]

# Requests per (case, module) and run, by request size: enough for a stable
# p99 (at least a few hundred answers) without minutes per large case.
def request_count(size_bytes, scale):
    if size_bytes < 10_000:
        base = 4000
    elif size_bytes < 100_000:
        base = 1000
    else:
        base = 300
    return max(100, int(base * scale))


def find_engine():
    """policy-server and kwctl from the PATH, else from ../shared/engine (scripts/engine.sh)."""
    found = subprocess.run(["bash", str(ROOT / "scripts/engine.sh"), "policy-server", "kwctl"],
                           stdout=subprocess.PIPE, text=True)
    if found.returncode != 0:
        raise SystemExit(found.returncode)  # engine.sh said why on stderr
    engine = found.stdout.strip()
    if engine:
        os.environ["PATH"] = engine + os.pathsep + os.environ["PATH"]


def annotate(source, target):
    subprocess.run(
        ["kwctl", "annotate", "-m", str(ROOT / "metadata.yml"), "-o", str(target), str(source)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Server:
    """A policy-server child process; stopped on exit, however it happens."""

    def __init__(self, policies_file, work):
        self.port, probe = free_ports(2)
        self.log = open(work / "server.log", "wb")
        self.process = subprocess.Popen(
            [
                "policy-server", "--addr", "127.0.0.1", "--port", str(self.port),
                "--readiness-probe-port", str(probe), "--ignore-kubernetes-connection-failure",
                "--policies", str(policies_file), "--policies-download-dir", str(work),
                "--sigstore-cache-dir", str(work / "sigstore"), "--log-level", "warn", "--log-no-color",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"policy-server exited; its log:\n{(work / 'server.log').read_text()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{probe}/readiness", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("policy-server did not become ready in 120 s")

    def url(self, policy):
        return f"http://127.0.0.1:{self.port}/validate/{policy}"

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def post(url, body):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())["response"]


def verdict(response):
    if not response.get("allowed"):
        return "reject"
    return "mutate" if response.get("patch") else "accept"


def load(url, body_file, requests, connections):
    """One hey run: (requests per second, p50 ms, p99 ms), from its per-request
    CSV. hey gives each connection requests // connections requests, so the
    count is a multiple of the connections."""
    requests -= requests % connections
    out = subprocess.run(
        ["hey", "-n", str(requests), "-c", str(connections), "-m", "POST", "-T", "application/json",
         "-D", str(body_file), "-o", "csv", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    header = out[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in out[1:] if line]
    bad = [r for r in rows if r["status-code"] != "200"]
    if len(rows) != requests or bad:
        raise SystemExit(f"{url}: {len(rows)} answers of {requests}, {len(bad)} not HTTP 200")
    latencies = sorted(float(r["response-time"]) for r in rows)
    elapsed = max(float(r["offset"]) + float(r["response-time"]) for r in rows)
    percentile = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3
    return requests / elapsed, percentile(0.50), percentile(0.99)


def spread(values, digits):
    mid = statistics.median(values)
    if len(values) == 1:
        return f"{mid:.{digits}f}"
    return f"{mid:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main():
    # A SIGTERM unwinds like an exception, so the server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=Path, required=True, help="directory written by bench --dump-only")
    parser.add_argument("--policy", type=Path, required=True)
    parser.add_argument("--noop", type=Path, required=True)
    parser.add_argument("--parse-only", type=Path, required=True)
    parser.add_argument("--module", action="append", default=[], metavar="NAME=WASM",
                        help="another build of the policy to compare (must answer exactly as the policy)")
    parser.add_argument("--only", action="append", help="case name substring (repeatable); default: a standard set")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the request counts")
    parser.add_argument("--no-baselines", action="store_true", help="leave out parse-only (noop stays: it is the unit)")
    args = parser.parse_args()

    find_engine()
    for tool in ("policy-server", "kwctl", "hey"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not on the PATH")
    version = subprocess.run(["policy-server", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    load_before = os.getloadavg()[0]
    index = json.loads((args.requests / "index.json").read_text())
    wanted = args.only or DEFAULT_CASES
    cases = [c for c in index if any(w in c["name"] for w in wanted)]
    if not cases:
        raise SystemExit(f"no case matches {wanted}")

    modules = [("policy", args.policy)]
    modules += [tuple(m.split("=", 1)) for m in args.module]
    modules.append(("noop", args.noop))
    if not args.no_baselines:
        modules.append(("parse-only", args.parse_only))

    with tempfile.TemporaryDirectory(prefix="bench-policy-server.") as tmp:
        work = Path(tmp)
        annotated = {}
        for name, path in modules:
            annotated[name] = work / f"{name}.wasm"
            annotate(path, annotated[name])

        # One policy per (module, case): the case's settings, mutation allowed.
        policies = {}
        for c in cases:
            payload = json.loads((args.requests / c["file"]).read_text())
            c["body"] = work / f"review-{c['file']}"
            c["body"].write_text(json.dumps(
                {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": payload["request"]}))
            c["size"] = c["body"].stat().st_size
            for name, _ in modules:
                policies[f"{name}-{c['file'][:-5]}"] = {
                    "module": f"file://{annotated[name]}",
                    "allowedToMutate": True,
                    "settings": payload["settings"],
                }
        (work / "policies.yml").write_text(json.dumps(policies, indent=1))

        server = Server(work / "policies.yml", work)
        try:
            results = measure(server, cases, modules, args)
        finally:
            server.stop()
    conditions = (f"{version}, {os.cpu_count()} CPUs, load average {load_before:.1f} before "
                  f"and {os.getloadavg()[0]:.1f} after")
    report(cases, modules, results, args, conditions)


def measure(server, cases, modules, args):
    # Check every answer once, then warm up, before any timing.
    for c in cases:
        expected = post(server.url(f"policy-{c['file'][:-5]}"), c["body"].read_bytes())
        if verdict(expected) != c["expect"]:
            raise SystemExit(f"{c['name']}: the policy answered {verdict(expected)}, expected {c['expect']}")
        for name, _ in modules:
            answer = post(server.url(f"{name}-{c['file'][:-5]}"), c["body"].read_bytes())
            if name in ("noop", "parse-only"):
                if verdict(answer) != "accept":
                    raise SystemExit(f"{c['name']}: {name} did not accept")
            elif answer != expected:
                raise SystemExit(f"{c['name']}: {name} answers differently from the policy:\n{answer}\n{expected}")
            load(server.url(f"{name}-{c['file'][:-5]}"), c["body"], 100, args.connections)

    # Interleaved: each run measures every module on a case before the next
    # case, so load from elsewhere on the machine hits all modules alike.
    results = {}
    for run in range(args.runs):
        print(f"run {run + 1}/{args.runs}", file=sys.stderr)
        for c in cases:
            count = request_count(c["size"], args.scale)
            for name, _ in modules:
                rps, p50, p99 = load(server.url(f"{name}-{c['file'][:-5]}"), c["body"], count, args.connections)
                results.setdefault((c["file"], name), []).append((rps, p50, p99))
    return results


def report(cases, modules, results, args, conditions):
    names = [name for name, _ in modules]
    print(f"\n{conditions}. {args.runs} runs; per run and module {args.connections} connections; "
          "median of the runs (min–max). Ratios are to the noop guest in the same server, per run.\n")
    print("| case | request | requests | module | requests/s | p50 ms | p99 ms | throughput ÷ noop | p50 ÷ noop |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for c in cases:
        count = request_count(c["size"], args.scale)
        count -= count % args.connections
        noop = results[(c["file"], "noop")]
        for name in names:
            runs = results[(c["file"], name)]
            rps = [r[0] for r in runs]
            p50 = [r[1] for r in runs]
            p99 = [r[2] for r in runs]
            ratio_rps = [r[0] / n[0] for r, n in zip(runs, noop)]
            ratio_p50 = [r[1] / n[1] for r, n in zip(runs, noop)]
            first = name == names[0]
            print(
                f"| {c['name'] if first else ''} | {c['size'] / 1000:.1f} KB | {count} "
                f"| {name} | {spread(rps, 0)} | {spread(p50, 2)} | {spread(p99, 2)} "
                f"| {'' if name == 'noop' else spread(ratio_rps, 2)} | {'' if name == 'noop' else spread(ratio_p50, 2)} |"
            )


if __name__ == "__main__":
    main()
