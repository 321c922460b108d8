#!/usr/bin/env python3
"""Drives Kubewarden's real policy-server for tests/policy-server.bats.

Subcommands (each prints what the bats test asserts on; exit 1 on failure):

  policies MODULE OUT    write a policies file loading MODULE once per policy
                         id: the named policies below, the settings of each
                         examples/*.yaml resource, and every distinct settings
                         object of tests/cases.json (ids from table_policy_id)
  examples               print the policies-file entries of the examples (JSON)
  patched REVIEW RESPONSE print REVIEW with the response's base64 JSON patch
                         applied to request.object (the patch must be one)
  table URL              run every fixture case of tests/cases.json through
                         the server: verdict, message fragments, warnings, the
                         exact patch; a patch is applied and the result must be
                         accepted unchanged (same settings, and validate-only)
  load URL ...           the bounded load smoke (see `load --help`)

Only the standard library plus PyYAML (the examples are YAML) and jsonpatch
(RFC 6902, to apply the server's patches), both installed by
scripts/install-deps.sh.
"""

import argparse
import base64
import hashlib
import http.client
import json
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import jsonpatch
import yaml

ROOT = Path(__file__).resolve().parents[2]

# Policies every test can name. Settings in force for each are part of the
# test's meaning, so they are spelled out here, not derived.
NAMED_POLICIES = {
    "validate": {"settings": {}},
    "validate-tmp": {"settings": {"requiredWritablePaths": ["/tmp"]}},
    "mutate-tmp": {
        "allowedToMutate": True,
        "settings": {
            "mutate": True,
            "requiredWritablePaths": ["/tmp"],
            "writableVolume": {"sizeLimit": "64Mi"},
        },
    },
    # The same settings, but the server forbids mutation: what a
    # ClusterAdmissionPolicy with `mutating: false` and `mutate: true` gets.
    "mutate-tmp-not-allowed": {
        "allowedToMutate": False,
        "settings": {"mutate": True, "requiredWritablePaths": ["/tmp"]},
    },
    "exemptions": {
        "settings": {
            "exemptContainers": [
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:*"},
                {"image": "registry.example.com/debug/*"},
            ],
        },
    },
}


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def table_policy_id(settings):
    """The policy id serving a fixture case's settings (None: no settings)."""
    return "table-" + hashlib.sha256(canonical(settings).encode()).hexdigest()[:16]


def validate_only(settings):
    """The settings with `mutate: false`: a mutated object must pass them."""
    return {**(settings or {}), "mutate": False}


def load_cases():
    return json.loads((ROOT / "tests/cases.json").read_text())


def example_policies():
    """policy id -> policies-file entry for each examples/*.yaml resource,
    translated as the Kubewarden controller does (mode -> policyMode,
    mutating -> allowedToMutate)."""
    policies = {}
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for resource in yaml.safe_load_all(path.read_text()):
            if not resource or resource.get("kind") not in (
                "ClusterAdmissionPolicy",
                "AdmissionPolicy",
            ):
                continue
            spec = resource["spec"]
            policies["example-" + path.stem] = {
                "policyMode": spec.get("mode", "protect"),
                "allowedToMutate": bool(spec.get("mutating", False)),
                "settings": spec.get("settings") or {},
            }
    if not policies:
        sys.exit("examples/*.yaml holds no policy resource")
    return policies


def invalid_settings(cases):
    """The settings objects the table itself marks invalid."""
    return {canonical(c.get("settings")) for c in cases if c["expect"] == "invalid-settings"}


def served_by_server(case, invalid):
    """policy-server refuses to start with invalid settings (the bats test
    checks that), so a fixture case with such settings can never reach the
    policy through it; the wasm-host fixture table covers those."""
    return not case.get("settingsOnly") and canonical(case.get("settings")) not in invalid


def table_policies(cases):
    """One policy per distinct settings object of the fixture cases the server
    can serve, plus its validate-only variant for mutate cases."""
    invalid = invalid_settings(cases)
    policies = {}
    for case in cases:
        if not served_by_server(case, invalid) and case["expect"] != "valid-settings":
            continue
        settings = case.get("settings") or {}
        policies[table_policy_id(settings)] = {"allowedToMutate": True, "settings": settings}
        if case["expect"] == "mutate":
            only = validate_only(settings)
            policies[table_policy_id(only)] = {"allowedToMutate": False, "settings": only}
    return policies


def cmd_policies(args):
    module = "file://" + str(Path(args.module).resolve())
    entries = {}
    entries.update(NAMED_POLICIES)
    entries.update(example_policies())
    entries.update(table_policies(load_cases()))
    if args.extra:
        entries.update(json.loads(args.extra))
    policies = {pid: {"module": module, **entry} for pid, entry in entries.items()}
    Path(args.out).write_text(yaml.safe_dump(policies, sort_keys=True))
    print(f"{len(policies)} policies written to {args.out}")


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


class HttpError(RuntimeError):
    """The server answered with an HTTP error instead of an AdmissionReview."""

    def __init__(self, path, status, body):
        super().__init__(f"POST {path}: HTTP {status}: {body}")
        self.status = status
        self.body = body


class Client:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, url):
        parsed = urllib.parse.urlsplit(url)
        self.connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)

    def post(self, path, body):
        """(HTTP status, parsed JSON body)."""
        self.connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        reply = self.connection.getresponse()
        data = reply.read()
        return reply.status, json.loads(data)

    def review(self, policy, review):
        """The AdmissionResponse for `review` (a dict); raises on HTTP errors."""
        path = f"/validate/{policy}"
        status, body = self.post(path, json.dumps(review).encode())
        if status != 200 or "response" not in body:
            raise HttpError(path, status, body)
        return body["response"]

    def close(self):
        self.connection.close()


def decoded_patch(response):
    """The response's JSON patch as a list, or None when it has none."""
    if response.get("patch") is None:
        return None
    if response.get("patchType") != "JSONPatch":
        raise RuntimeError(f"patch without patchType JSONPatch: {response}")
    return json.loads(base64.b64decode(response["patch"]))


def with_object(review, obj):
    again = json.loads(json.dumps(review))
    again["request"]["object"] = obj
    return again


def patched_review(review, response):
    patch = decoded_patch(response)
    if patch is None:
        raise RuntimeError("the response has no patch")
    return with_object(review, jsonpatch.apply_patch(review["request"]["object"], patch))


def cmd_examples(_args):
    print(json.dumps(example_policies()))


def cmd_patched(args):
    review = json.loads(Path(args.review).read_text())
    response = json.loads(Path(args.response).read_text())
    print(json.dumps(patched_review(review, response)))


# ---------------------------------------------------------------------------
# The fixture table
# ---------------------------------------------------------------------------


def warnings_problem(response, fragments):
    """None when the warnings match the case: all fragments present, or none
    at all when the case gives no fragments."""
    warnings = response.get("warnings") or []
    if fragments is None:
        return None if not warnings else f"expected no warnings, got {warnings}"
    text = "\n".join(warnings)
    missing = [f for f in fragments if f not in text]
    if missing or not warnings:
        return f"expected warnings containing {missing or fragments}, got {warnings}"
    return None


def check_case(client, case, notes):
    """The problems of one fixture case run through the server."""
    review = json.loads((ROOT / "test_data" / case["fixture"]).read_text())
    settings = case.get("settings") or {}
    policy = table_policy_id(settings)
    try:
        response = client.review(policy, review)
    except HttpError as error:
        # policy-server reads the request into its typed AdmissionRequest
        # first; one it cannot read (no `kind`, no `operation`) is answered
        # 422 without calling the policy. The API server never sends such a
        # request, and a webhook error is not an admission: for a case the
        # policy rejects, that is the same outcome, reached earlier.
        if error.status == 422 and case["expect"] == "reject":
            notes.append(f"rejected by policy-server itself, HTTP 422: {case['name']!r}: {error.body.get('message')}")
            return []
        raise
    problems = []
    if response.get("uid") != review["request"]["uid"]:
        problems.append(f"uid {response.get('uid')!r} is not the request's")
    warning = warnings_problem(response, case.get("warnings"))
    if warning:
        problems.append(warning)
    allowed = response.get("allowed")
    message = (response.get("status") or {}).get("message", "")
    patch = decoded_patch(response)
    expect = case["expect"]
    if expect == "accept":
        if allowed is not True or patch is not None:
            problems.append(f"expected accept, got allowed={allowed} message={message!r} patch={patch}")
    elif expect == "reject":
        if allowed is not False:
            problems.append(f"expected reject, got allowed={allowed} patch={patch}")
        missing = [f for f in case["message"] if f not in message]
        if missing:
            problems.append(f"message lacks {missing}; message:\n{message}")
    elif expect == "mutate":
        if allowed is not True or patch is None:
            problems.append(f"expected a mutation, got allowed={allowed} message={message!r}")
            return problems
        if "patch" in case and patch != case["patch"]:
            problems.append(f"patch differs:\n  expected {case['patch']}\n  actual   {patch}")
        mutated = patched_review(review, response)
        for again_policy, label in ((policy, "again"), (table_policy_id(validate_only(settings)), "validate-only")):
            again = client.review(again_policy, mutated)
            if again.get("allowed") is not True or again.get("patch") is not None:
                problems.append(f"the patched object is not accepted unchanged ({label}): {again}")
    else:
        problems.append(f"unknown expect {expect!r}")
    return problems


def cmd_table(args):
    all_cases = load_cases()
    invalid = invalid_settings(all_cases)
    cases = [c for c in all_cases if served_by_server(c, invalid)]
    for case in all_cases:
        if not case.get("settingsOnly") and case not in cases:
            print(f"not through the server (its settings are invalid, the server refuses them): {case['name']!r}")
    client = Client(args.url)
    failures = []
    notes = []
    counts = {}
    for case in cases:
        try:
            problems = check_case(client, case, notes)
        except Exception as error:  # a failed request is a failed case
            problems = [f"{type(error).__name__}: {error}"]
            client.close()
            client = Client(args.url)
        if problems:
            failures.append(f"case {case['name']!r} ({case['fixture']}):\n  " + "\n  ".join(problems))
        else:
            counts[case["expect"]] = counts.get(case["expect"], 0) + 1
    client.close()
    for note in notes:
        print(note)
    for failure in failures:
        print(failure)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    print(f"{len(cases) - len(failures)} of {len(cases)} fixture cases passed through policy-server ({summary})")
    return 1 if failures else 0


# ---------------------------------------------------------------------------
# Load smoke
# ---------------------------------------------------------------------------


def cmd_load(args):
    """`args.requests` POSTs over `args.connections` keep-alive connections,
    cycling through the given POLICY=FIXTURE pairs. Every answer must be HTTP
    200 and identical (uid aside, which is the fixture's anyway) for identical
    requests. Prints counts and the wall time; asserts no throughput."""
    targets = []
    for pair in args.targets:
        policy, _, fixture = pair.partition("=")
        targets.append((policy, Path(fixture).read_bytes()))
    answers = [set() for _ in targets]
    errors = []
    lock = threading.Lock()
    per_connection = [args.requests // args.connections] * args.connections
    per_connection[0] += args.requests - sum(per_connection)

    def worker(index, count):
        client = Client(args.url)
        try:
            for n in range(count):
                which = (index + n) % len(targets)
                policy, body = targets[which]
                try:
                    status, reply = client.post(f"/validate/{policy}", body)
                except Exception as error:
                    with lock:
                        errors.append(f"{type(error).__name__}: {error}")
                    client.close()
                    client = Client(args.url)
                    continue
                with lock:
                    if status != 200:
                        errors.append(f"HTTP {status}: {reply}")
                    answers[which].add(canonical(reply))
        finally:
            client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i, n)) for i, n in enumerate(per_connection)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    failed = False
    if errors:
        failed = True
        print(f"{len(errors)} errors, first: {errors[0]}")
    for (policy, _), seen in zip(targets, answers):
        if len(seen) != 1:
            failed = True
            print(f"{policy}: {len(seen)} different answers to the same request")
    print(
        f"{args.requests} requests over {args.connections} connections, {len(targets)} distinct, "
        f"{len(errors)} errors, {elapsed:.2f} s"
    )
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("policies")
    p.add_argument("module")
    p.add_argument("out")
    p.add_argument("--extra", help="JSON object of more policy entries (id -> entry without module)")
    p.set_defaults(run=cmd_policies)

    p = sub.add_parser("examples")
    p.set_defaults(run=cmd_examples)

    p = sub.add_parser("patched")
    p.add_argument("review")
    p.add_argument("response")
    p.set_defaults(run=cmd_patched)

    p = sub.add_parser("table")
    p.add_argument("url")
    p.set_defaults(run=cmd_table)

    p = sub.add_parser("load")
    p.add_argument("url")
    p.add_argument("targets", nargs="+", metavar="POLICY=FIXTURE")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--connections", type=int, default=8)
    p.set_defaults(run=cmd_load)

    args = parser.parse_args()
    sys.exit(args.run(args) or 0)


if __name__ == "__main__":
    main()
