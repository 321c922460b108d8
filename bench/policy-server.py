#!/usr/bin/env python3
"""The benchmark through Kubewarden's real policy-server: the number users feel.

Loads the policy and the two baseline guests (noop: accepts without reading;
parse-only: parses the payload into serde_json::Value and accepts) in one
policy-server on 127.0.0.1, each under the settings of each selected case, and
sends every (case, module) pair a fixed number of AdmissionReviews with `hey`
over several keep-alive connections. Prints a Markdown table: requests per
second and p50/p99 latency per module, and the policy's ratios to the noop
guest in the same server (throughput ratio, and p50 latency ratio); and
policy-server's own CPU time and minor page faults per request (from
/proc/PID/stat around each load run: what a request costs the server,
much less sensitive to other load on the machine than throughput), with
hey's CPU time per request and both processes' share of the cores, which
shows whether the server or the load generator was the bottleneck.

The requests are the in-process benchmark's (`bench --dump-only DIR` writes
them with index.json), wrapped in an AdmissionReview envelope; each case's
settings become the settings of its policies. Every module's answer to every
case is checked once before timing (verdict; extra modules must answer
exactly as the policy does).

Modules are annotated here with `kwctl annotate -m metadata.yml`, all the
same way (policy-server refuses a module without Kubewarden metadata).

`--mutation-floor WASM` adds the mutation floor guest (crates/bench-guests/
mutation-floor: the cheapest guest that returns the policy's mutated object)
to the mutation cases, where it must answer exactly as the policy does; the
policy's ratio to it is what mutating costs beyond what the engine itself
costs for that answer. `--noop-write-first` and `--mutation-floor-write-first`
add the same two baselines built with the policy's first write in wapc_init
(which spares a fresh instance a TLB flush per request): the policy's ratios
to them, reported beside the targets, are what its own work costs apart from
that saving. Within each run the order of the modules rotates, so that none
is always measured first or last.

`--perf` samples the server with Linux perf during every burst and reports
each module's guest code CPU per request (the share of the samples in that
module's compiled code, times the server's CPU per request): the part of a
request that differs between modules, steadier than throughput, which the
server's own work (90-95% of a small request) dominates; and the server's
write-protect page faults per request (each one flushes the TLB of every
core running the server).

  bench/policy-server.py --requests DIR --policy policy.wasm \\
      --noop noop.wasm --parse-only parse_only.wasm [--mutation-floor floor.wasm] \\
      [--noop-write-first noop_write_first.wasm] [--mutation-floor-write-first floor_write_first.wasm] \\
      [--module NAME=WASM ...] [--only TEXT ...] [--runs 3] [--connections 8] [--scale 1.0] [--perf]

Needs policy-server and kwctl (from the PATH, else unpacked from
../shared/engine into target/engine by scripts/engine.sh), hey (Debian's package; `make bench`
installs it) and python3's standard library; `--perf` needs perf (Debian's linux-perf).
"""

import argparse
import importlib.util
import json
import os
import resource
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

    def usage(self):
        """(CPU seconds, minor page faults) of the server so far, all threads."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # After the command: state(0) ... minflt(7) ... utime(11) stime(12).
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks, int(fields[7])

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


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Sampler:
    """`--perf`: Linux perf samples the server (cpu-clock, all its threads)
    during each burst, one file per burst. Afterwards, while the server still
    runs, each burst's samples are split between the guests' compiled code
    (wasmtime's anonymous executable mappings in the server, one per loaded
    policy) and everything else; a burst exercises one policy, so its guest
    share is the busiest such mapping's share of the burst's samples. That
    share times the server's CPU per request is the guest code's own CPU per
    request: the one part of a request that differs between modules, and far
    steadier than throughput (the server's own work moves much more)."""

    def __init__(self, work, pid):
        self.work, self.pid, self.count = work, pid, 0

    def start(self):
        self.count += 1
        path = self.work / f"burst-{self.count}.perf"
        process = subprocess.Popen(
            # Every page fault is recorded; cpu-clock is sampled at 4,000 Hz.
            ["perf", "record", "-q", "-e", "cpu-clock/freq=4000/", "-e", "exceptions:page_fault_user",
             "-p", str(self.pid), "-o", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)  # attached before the first request
        return process, path

    @staticmethod
    def stop(handle):
        process, path = handle
        process.send_signal(signal.SIGINT)
        process.wait(30)
        return path

    def guest_shares(self, results):
        """Replaces each burst's perf file by its guest share and its count
        of write-protect faults (a write to a page mapped read-only, such as
        the data image's page of writable statics after a read: the kernel
        copies the page and flushes the TLB of every core running the server)."""
        code = [(lo, hi) for lo, hi, perms, anon in PERFMAP.regions(self.pid) if perms == "r-xp" and anon]
        for bursts in results:
            for burst in bursts:
                lines = subprocess.run(["perf", "script", "-F", "event,ip,trace", "-i", str(burst.pop("perf"))],
                                       capture_output=True, text=True).stdout.splitlines()
                ips = [line.split()[-1] for line in lines if line.strip().startswith("cpu-clock")]
                counts = [0] * len(code)
                for ip in ips:
                    value = int(ip, 16)
                    for k, (lo, hi) in enumerate(code):
                        if lo <= value < hi:
                            counts[k] += 1
                burst["guest_share"] = max(counts, default=0) / max(len(ips), 1)
                # error_code 0x7: a user-mode write to a present (read-only) page.
                burst["write_protect_faults"] = sum("error_code=0x7 " in line for line in lines)


def load_perfmap():
    """bench/server-perfmap.py as a module (its /proc/PID/maps reader)."""
    spec = importlib.util.spec_from_file_location("server_perfmap", ROOT / "bench/server-perfmap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PERFMAP = load_perfmap()


def load(url, body_file, requests, connections, server=None, sampler=None):
    """One hey run: a dict with requests per second, p50 ms, p99 ms (from
    hey's per-request CSV), elapsed seconds, and, given the server, the
    server's CPU seconds and minor faults and hey's CPU seconds during the
    run (and, given the sampler, the perf file of the run). hey gives each
    connection requests // connections requests, so the count is a multiple
    of the connections."""
    requests -= requests % connections
    sampling = sampler.start() if sampler else None
    before = server.usage() if server else None
    hey_before = children_cpu()
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
    result = {"rps": requests / elapsed, "p50": percentile(0.50), "p99": percentile(0.99),
              "elapsed": elapsed, "requests": requests, "hey_cpu": children_cpu() - hey_before,
              "load": os.getloadavg()[0], "latencies": latencies}
    if server:
        cpu, faults = server.usage()
        result["server_cpu"] = cpu - before[0]
        result["server_faults"] = faults - before[1]
    if sampling:
        result["perf"] = sampler.stop(sampling)
    return result


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
    parser.add_argument("--mutation-floor", type=Path,
                        help="the mutation floor guest, a baseline for the mutation cases")
    parser.add_argument("--noop-write-first", type=Path,
                        help="noop built with the policy's first write in wapc_init, a baseline")
    parser.add_argument("--mutation-floor-write-first", type=Path,
                        help="the mutation floor built with the policy's first write in wapc_init, a baseline")
    parser.add_argument("--module", action="append", default=[], metavar="NAME=WASM",
                        help="another build of the policy to compare (must answer exactly as the policy)")
    parser.add_argument("--only", action="append", help="case name substring (repeatable); default: a standard set")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--bursts", type=int, default=4,
                        help="bursts per module and run, the modules taking turns (paired ratios)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the request counts")
    parser.add_argument("--json", type=Path, help="also write every run's figures to this file")
    parser.add_argument("--no-baselines", action="store_true", help="leave out parse-only (noop stays: it is the unit)")
    parser.add_argument("--perf", action="store_true",
                        help="sample the server with Linux perf during every burst and report the guest code's "
                             "CPU per request (needs perf: Debian's linux-perf; perf slows the server, so "
                             "throughput figures of such a run are not comparable with others)")
    args = parser.parse_args()

    find_engine()
    for tool in ("policy-server", "kwctl", "hey") + (("perf",) if args.perf else ()):
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
    if args.noop_write_first:
        modules.append(("noop-write-first", args.noop_write_first))
    if not args.no_baselines:
        modules.append(("parse-only", args.parse_only))
    if args.mutation_floor:
        modules.append(("mutation-floor", args.mutation_floor))
    if args.mutation_floor_write_first:
        modules.append(("mutation-floor-write-first", args.mutation_floor_write_first))

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
            for name, _ in case_modules(c, modules):
                policies[f"{name}-{c['file'][:-5]}"] = {
                    "module": f"file://{annotated[name]}",
                    "allowedToMutate": True,
                    "settings": payload["settings"],
                }
        (work / "policies.yml").write_text(json.dumps(policies, indent=1))

        server = Server(work / "policies.yml", work)
        try:
            sampler = Sampler(work, server.process.pid) if args.perf else None
            results = measure(server, cases, modules, args, sampler)
        finally:
            server.stop()
    conditions = (f"{version}, {os.cpu_count()} CPUs, load average {load_before:.1f} before "
                  f"and {os.getloadavg()[0]:.1f} after")
    report(cases, modules, results, args, conditions)


def merge(bursts):
    """One run's figures from its bursts; `burst_rps` keeps each burst's rate."""
    latencies = sorted(x for b in bursts for x in b["latencies"])
    requests = sum(b["requests"] for b in bursts)
    elapsed = sum(b["elapsed"] for b in bursts)
    percentile = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3
    merged = {"rps": requests / elapsed, "p50": percentile(0.50), "p99": percentile(0.99),
              "elapsed": elapsed, "requests": requests, "load": bursts[-1]["load"],
              "burst_rps": [b["rps"] for b in bursts]}
    for key in ("hey_cpu", "server_cpu", "server_faults"):
        merged[key] = sum(b[key] for b in bursts)
    if all("guest_share" in b for b in bursts):
        merged["guest_cpu"] = sum(b["guest_share"] * b["server_cpu"] for b in bursts)
        merged["write_protect_faults"] = sum(b["write_protect_faults"] for b in bursts)
    return merged


def paired(runs, base):
    """Per run, the median over bursts of module rate ÷ base rate in the same burst."""
    return [statistics.median(m / b for m, b in zip(r["burst_rps"], n["burst_rps"]))
            for r, n in zip(runs, base)]


def case_modules(case, modules):
    """The modules measured on a case: the mutation floors only on mutation cases."""
    return [(n, p) for n, p in modules if not n.startswith("mutation-floor") or case["expect"] == "mutate"]


def measure(server, cases, modules, args, sampler=None):
    # Check every answer once, then warm up, before any timing.
    for c in cases:
        expected = post(server.url(f"policy-{c['file'][:-5]}"), c["body"].read_bytes())
        if verdict(expected) != c["expect"]:
            raise SystemExit(f"{c['name']}: the policy answered {verdict(expected)}, expected {c['expect']}")
        for name, _ in case_modules(c, modules):
            answer = post(server.url(f"{name}-{c['file'][:-5]}"), c["body"].read_bytes())
            if name in ("noop", "noop-write-first", "parse-only"):
                if verdict(answer) != "accept":
                    raise SystemExit(f"{c['name']}: {name} did not accept")
            elif answer != expected:
                raise SystemExit(f"{c['name']}: {name} answers differently from the policy:\n{answer}\n{expected}")
            load(server.url(f"{name}-{c['file'][:-5]}"), c["body"], 100, args.connections)

    # Interleaved: each run measures every module on a case before the next
    # case, so load from elsewhere on the machine hits all modules alike; the
    # order of the modules rotates from run to run. Within a run, each
    # module's requests are sent in --bursts bursts, the modules taking turns,
    # so that a module and noop are measured close together in time: the
    # paired ratio (the median over bursts of module ÷ noop in the same
    # burst) is much less moved by other load than the ratio of two runs.
    results = {}
    for run in range(args.runs):
        print(f"run {run + 1}/{args.runs} (load average {os.getloadavg()[0]:.1f})", file=sys.stderr)
        for c in cases:
            count = request_count(c["size"], args.scale)
            names = case_modules(c, modules)
            bursts = {}
            for burst in range(args.bursts):
                shift = (run + burst) % len(names)
                for name, _ in names[shift:] + names[:shift]:
                    r = load(server.url(f"{name}-{c['file'][:-5]}"), c["body"],
                             max(args.connections, count // args.bursts), args.connections, server, sampler)
                    bursts.setdefault(name, []).append(r)
            if sampler:
                sampler.guest_shares(bursts.values())
            for name, rs in bursts.items():
                results.setdefault((c["file"], name), []).append(merge(rs))
    return results


# The targets (#19), each (case substring, module, baseline, limit on
# the median throughput ratio module ÷ baseline); limit None: reported beside
# them, the policy against the baselines built with its first write (what
# its own work costs apart from that saving).
TARGETS = [
    ("Pod, 1 container, compliant", "policy", "noop", 0.95),
    ("Pod, 1 container, compliant", "policy", "parse-only", 1.00),
    ("Pod, 100 containers, compliant", "policy", "noop", 0.85),
    ("Mutation", "policy", "mutation-floor", 0.97),
    ("Pod, 1 container, compliant", "policy", "noop-write-first", None),
    ("Pod, 100 containers, compliant", "policy", "noop-write-first", None),
    ("Mutation", "policy", "mutation-floor-write-first", None),
]


def table_rows(cases, names, results):
    """(case, first row of the case?, module name, its runs, noop's runs) for
    every measured (case, module), in report order."""
    for c in cases:
        noop = results[(c["file"], "noop")]
        first = True
        for name in names:
            if (c["file"], name) in results:
                yield c, first, name, results[(c["file"], name)], noop
                first = False


def report(cases, modules, results, args, conditions):
    names = [name for name, _ in modules]
    print(f"\n{conditions}. {args.runs} runs; per run and module {args.connections} connections, "
          f"the requests in {args.bursts} bursts, the modules taking turns; median of the runs (min–max). "
          "Ratios are to the noop guest in the same server, per run: throughput ÷ noop from the runs' "
          "totals, paired ÷ noop the median over bursts of the ratio of the module's and noop's "
          "bursts of the same turn (the steadier figure on a loaded machine).\n")
    print("| case | request | requests | module | requests/s | p50 ms | p99 ms | throughput ÷ noop "
          "| paired ÷ noop | p50 ÷ noop |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for c, first, name, runs, noop in table_rows(cases, names, results):
        ratio_rps = [r["rps"] / n["rps"] for r, n in zip(runs, noop)]
        ratio_p50 = [r["p50"] / n["p50"] for r, n in zip(runs, noop)]
        not_noop = name != "noop"
        print(
            f"| {c['name'] if first else ''} | {c['size'] / 1000:.1f} KB | {noop[0]['requests']} "
            f"| {name} | {spread([r['rps'] for r in runs], 0)} | {spread([r['p50'] for r in runs], 2)} "
            f"| {spread([r['p99'] for r in runs], 2)} "
            f"| {spread(ratio_rps, 2) if not_noop else ''} | {spread(paired(runs, noop), 2) if not_noop else ''} "
            f"| {spread(ratio_p50, 2) if not_noop else ''} |"
        )

    cores = os.cpu_count()
    print("\npolicy-server's CPU time per request (all its threads, /proc/PID/stat, 10 ms ticks) and "
          "minor page faults per request; noop's CPU time over the module's (1.00 = as cheap as noop); "
          "hey's CPU time per request; each process's share of the "
          f"{cores} cores during the run (server + hey well under {cores * 100}% means something else "
          "was running too). Load average: at the end of each run.\n")
    print("| case | module | server CPU µs/request | noop ÷ module (CPU) | page faults/request "
          "| hey CPU µs/request | server cores % | hey cores % | load average |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for c, first, name, runs, noop in table_rows(cases, names, results):
        cpu = [r["server_cpu"] / r["requests"] * 1e6 for r in runs]
        ratio = [(n["server_cpu"] / n["requests"]) / (r["server_cpu"] / r["requests"]) for r, n in zip(runs, noop)]
        faults = [r["server_faults"] / r["requests"] for r in runs]
        hey = [r["hey_cpu"] / r["requests"] * 1e6 for r in runs]
        server_share = [r["server_cpu"] / r["elapsed"] * 100 for r in runs]
        hey_share = [r["hey_cpu"] / r["elapsed"] * 100 for r in runs]
        print(
            f"| {c['name'] if first else ''} | {name} | {spread(cpu, 0)} "
            f"| {'' if name == 'noop' else spread(ratio, 2)} | {spread(faults, 1)} | {spread(hey, 0)} "
            f"| {spread(server_share, 0)} | {spread(hey_share, 0)} | {spread([r['load'] for r in runs], 1)} |"
        )

    rows = []
    for text, module, base, limit in TARGETS:
        for c in cases:
            if text not in c["name"] or (c["file"], module) not in results or (c["file"], base) not in results:
                continue
            mine, theirs = results[(c["file"], module)], results[(c["file"], base)]
            rps = paired(mine, theirs)
            cpu = [(t["server_cpu"] / t["requests"]) / (m["server_cpu"] / m["requests"]) for m, t in zip(mine, theirs)]
            if limit is None:
                verdict_text, limit_text = "reported", ""
            else:
                verdict_text = "met" if statistics.median(rps) >= limit else "NOT MET"
                limit_text = f"≥ {limit:.2f}"
            rows.append(f"| {c['name']}: {module} ÷ {base} | {limit_text} | {spread(rps, 2)} | {spread(cpu, 2)} "
                        f"| {verdict_text} |")
    if rows:
        print("\nTargets (issue #19): the median over runs of the paired throughput ratio; the ratio of "
              "server CPU per request (baseline ÷ module) beside it.\n")
        print("| target | limit | paired throughput ratio | server CPU ratio | |")
        print("|---|---:|---:|---:|---|")
        print("\n".join(rows))

    if args.perf:
        print("\nThe guest code's own CPU per request (`--perf`): the share of perf's samples of the server "
              "that fell in the module's compiled code, times the server's CPU per request; and the same "
              "minus noop's (what reading and deciding cost over the waPC call itself); and the server's "
              "write-protect page faults per request (writes to pages mapped read-only: each one copies a "
              "page and flushes the TLB of every core running the server).\n")
        print("| case | module | guest code µs/request | − noop's µs/request | write-protect faults/request |")
        print("|---|---|---:|---:|---:|")
        for c, first, name, runs, noop in table_rows(cases, names, results):
            guest = [r["guest_cpu"] / r["requests"] * 1e6 for r in runs]
            extra = [g - n["guest_cpu"] / n["requests"] * 1e6 for g, n in zip(guest, noop)]
            flushes = [r["write_protect_faults"] / r["requests"] for r in runs]
            print(f"| {c['name'] if first else ''} | {name} | {spread(guest, 1)} "
                  f"| {'' if name == 'noop' else spread(extra, 1)} | {spread(flushes, 2)} |")

    if args.json:
        raw = {f"{c['name']} | {name}": results[(c["file"], name)]
               for c in cases for name in names if (c["file"], name) in results}
        args.json.write_text(json.dumps({"conditions": conditions, "runs": raw}, indent=1))


if __name__ == "__main__":
    main()
