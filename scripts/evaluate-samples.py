#!/usr/bin/env python3
"""Evaluate the sample requests of samples/ and print a readable block per sample.

    usage: evaluate-samples.py TOOL POLICY.wasm [DIR]

TOOL evaluates one request the way `kwctl run` does: `kwctl` (on
annotated-policy.wasm) or the project's waPC host, `target/debug/policy-host`
(on policy.wasm). Both take `run --request-path FILE --settings-json JSON
POLICY.wasm`, print the AdmissionResponse on one line and, for invalid
settings, exit 1 with `Provided settings are not valid: MESSAGE` on stderr.
This script is the only printer of `make evaluate`, whichever tool runs the
policy.

A sample is DIR/*.json (sorted by name): {"description": "...", "settings":
{...}, "request": <AdmissionReview or AdmissionRequest>, "expect":
"ALLOWED|MUTATED|REJECTED"}. Exit status 1 when a sample cannot be evaluated
(HOST ERROR) or its outcome is not the one it expects (UNEXPECTED), so that
`make evaluate` cannot quietly show the wrong thing; 2 on usage errors.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SETTINGS_INVALID = "Provided settings are not valid: "


def lines(text):
    """Rust's str::lines(): split on \\n, drop a trailing \\r and a final empty line."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return [p[:-1] if p.endswith("\r") else p for p in parts]


def compact(value):
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def print_field(label, text):
    """`  label:    text`, continuation lines indented under the text."""
    rest = lines(text)
    first = rest.pop(0) if rest else ""
    print(f"  {label + ':':<9} {first}")
    for line in rest:
        print(f"  {'':<9} {line}")


def request_line(request):
    """`OPERATION Kind (subResource) namespace/name` of an AdmissionReview or request."""
    if isinstance(request, dict) and request.get("kind") == "AdmissionReview":
        request = request.get("request")
    if not isinstance(request, dict):
        return None

    def text(*path):
        value = request
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value if isinstance(value, str) else ""

    target = text("name") or text("object", "metadata", "name")
    namespace, sub = text("namespace"), text("subResource")
    line = f"{text('operation')} {text('kind', 'kind')}"
    if sub:
        line += f" ({sub})"
    if target:
        line += f" {namespace}/{target}" if namespace else f" {target}"
    return line


def tool_version(tool):
    """The first line of `TOOL --version` (kwctl prints more after it)."""
    try:
        done = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    except OSError as e:
        raise SystemExit(f"evaluate-samples.py: cannot run {tool}: {e.strerror}")
    first = done.stdout.strip().splitlines()[:1]
    return first[0] if first else Path(tool).name


def evaluate(tool, policy, request, settings):
    """Run the tool on one request: (response or None, exit status, stderr)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="sample-request-") as f:
        json.dump(request, f)
        f.flush()
        # kwctl prints a backtrace after its error when RUST_BACKTRACE is set.
        env = dict(os.environ, RUST_BACKTRACE="0", RUST_LIB_BACKTRACE="0")
        done = subprocess.run(
            [tool, "run", "--request-path", f.name, "--settings-json", compact(settings), policy],
            capture_output=True, text=True, env=env, check=False,
        )
    response = None
    for line in done.stdout.splitlines():
        if line.startswith("{") and '"allowed"' in line:
            try:
                response = json.loads(line)
            except ValueError:
                pass
            break
    return response, done.returncode, done.stderr


def settings_error(stderr):
    """The message of `Error: Provided settings are not valid: MESSAGE`, or None."""
    at = stderr.rfind(SETTINGS_INVALID)
    if at < 0:
        return None
    message = stderr[at + len(SETTINGS_INVALID):]
    for end in ("\n\nCaused by:", "\n\nStack backtrace:"):
        message = message.split(end)[0]
    return message.rstrip("\n")


def tool_error(stderr, status):
    """The tool's `Error: ...` line (kwctl logs other lines first), else its last line."""
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    if errors:
        return errors[-1][len("Error: "):]
    last = [line for line in stderr.splitlines() if line.strip()][-1:]
    return last[0] if last else f"exit status {status}, nothing on stderr"


class Tally:
    def __init__(self):
        self.allowed = self.mutated = self.rejected = self.settings_invalid = self.errors = 0


def run_sample(tool, policy, path, tally):
    print(f"━━ {path.stem} ━━")
    try:
        case = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        tally.errors += 1
        print(f"  HOST ERROR: cannot read {path}: {e}")
        return
    if not isinstance(case, dict):
        tally.errors += 1
        print(f"  HOST ERROR: {path} is not a JSON object with description, settings, request and expect")
        return
    description = case.get("description")
    if isinstance(description, str):
        for line in lines(description):
            print(f"  {line}")
    settings = case.get("settings")
    if settings is None:
        settings = {}
    if "request" not in case:
        tally.errors += 1
        print("  HOST ERROR: the sample has no `request`")
        return
    request = case["request"]
    print(f"  settings: {compact(settings)}")
    line = request_line(request)
    if line is not None:
        print(f"  request:  {line}")

    response, status, stderr = evaluate(tool, policy, request, settings)
    if response is None or status != 0:
        message = settings_error(stderr) if status != 0 else None
        if message is None:
            tally.errors += 1
            print(f"  HOST ERROR: {tool_error(stderr, status)}")
            return
        tally.settings_invalid += 1
        verdict = "SETTINGS INVALID"
        print(f"  result:   {verdict}")
        print_field("message", message)
    else:
        status_field = response.get("status") or {}
        patch = response.get("patch")
        if not response.get("allowed"):
            tally.rejected += 1
            verdict = "REJECTED"
        elif patch:
            tally.mutated += 1
            verdict = "MUTATED"
        else:
            tally.allowed += 1
            verdict = "ALLOWED"
        code = status_field.get("code")
        print(f"  result:   {verdict}" + (f" (code {code})" if code is not None else ""))
        if status_field.get("message") is not None:
            print_field("message", status_field["message"])
        for warning in response.get("warnings") or []:
            print_field("warning", warning)
        for key, value in sorted((response.get("auditAnnotations") or {}).items()):
            print_field("audit", f"{key}={value}")
    # A sample says what it demonstrates; any other outcome is an error.
    expected = case.get("expect")
    if isinstance(expected, str) and expected.upper() != verdict:
        tally.errors += 1
        print(f"  UNEXPECTED: the sample expects {expected}")
    if verdict == "MUTATED":
        print("  patch:")
        operations = json.loads(base64.b64decode(patch))
        for line in json.dumps(operations, indent=2, sort_keys=True, ensure_ascii=False).splitlines():
            print(f"    {line}")


def main(argv):
    if len(argv) not in (2, 3) or argv[0].startswith("-"):
        print("usage: evaluate-samples.py TOOL POLICY.wasm [DIR]   (TOOL: kwctl or target/debug/policy-host)",
              file=sys.stderr)
        return 2
    tool, policy = argv[0], argv[1]
    directory = Path(argv[2] if len(argv) == 3 else "samples")
    if not Path(policy).is_file():
        print(f"evaluate-samples.py: {policy} does not exist", file=sys.stderr)
        return 2
    try:
        cases = sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())
    except OSError as e:
        print(f"evaluate-samples.py: cannot read samples directory {directory}: {e.strerror}", file=sys.stderr)
        return 2
    if not cases:
        print(f"evaluate-samples.py: no *.json sample in {directory}", file=sys.stderr)
        return 2

    print(f"policy: {policy}  (evaluated by {tool_version(tool)})")
    tally = Tally()
    for path in cases:
        print()
        run_sample(tool, policy, path, tally)
    print()
    print(
        f"{len(cases)} samples: {tally.allowed} allowed, {tally.mutated} mutated, {tally.rejected} rejected, "
        f"{tally.settings_invalid} with invalid settings, {tally.errors} host errors"
    )
    return 0 if tally.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
