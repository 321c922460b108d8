#!/usr/bin/env python3
"""(Re)builds the seed inputs of the fuzz corpora from the project's fixtures.

  fuzz/corpus/validate_payload/seed-*   {"request": <fixture .request>, "settings": ...}
  fuzz/corpus/settings/seed-*           valid and invalid settings objects
  fuzz/corpus/image_reference/seed-*    the image-reference vectors and the
                                        image patterns of tests/cases.json

Sources: test_data/*.json (AdmissionReview fixtures), tests/cases.json (the
fixture table: fixture + settings pairs) when present, and a fixed list of
settings below. Only files named seed-* are written or removed, so entries
that fuzzing and `cargo fuzz cmin` produced stay. The pod_structure target
takes `arbitrary` bytes, not JSON, so it has no seeds here (its corpus is
what fuzzing kept; see docs/fuzzing.md).

Usage: python3 fuzz/make-seed-corpus.py [--check]
  --check  exit 1 if the seeds on disk differ from what would be written.
Standard library only.
"""

import glob
import hashlib
import json
import os
import sys

FUZZ_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ_DIR)

# Settings every fixture is paired with (validate_payload seeds).
FIXTURE_SETTINGS = [
    {},
    {"mutate": True, "requiredWritablePaths": ["/tmp"]},
    {
        "requiredWritablePaths": ["/tmp", "/var/cache/"],
        "exemptContainers": [
            "debugger",
            {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:*"},
            {"image": "registry.example.com/debug/*"},
        ],
        "exemptEphemeralContainers": True,
        "mutate": True,
        "writableVolume": {"medium": "Memory", "sizeLimit": "64Mi"},
    },
]

# Settings seeds beyond those of tests/cases.json: one per rule of
# validate_settings (POLICY-SPEC.md), valid and invalid.
SETTINGS_SEEDS = [
    {},
    None,
    {"requiredWritablePaths": ["/tmp", "/var/cache/nginx/", "/run"]},
    {"requiredWritablePaths": ["tmp"]},
    {"requiredWritablePaths": ["/"]},
    {"requiredWritablePaths": ["/a/../b"]},
    {"requiredWritablePaths": ["/a/./b"]},
    {"requiredWritablePaths": ["/a//b"]},
    {"requiredWritablePaths": ["/tmp", "/tmp/"]},
    {"requiredWritablePaths": [5]},
    {"requiredWritablePaths": "/tmp"},
    {"requiredWriteablePaths": ["/tmp"]},
    {"exemptContainers": ["debugger", {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:*"}, {"image": "*"}]},
    {"exemptContainers": [{}]},
    {"exemptContainers": [""]},
    {"exemptContainers": [{"name": "a", "image": ""}]},
    {"exemptContainers": [{"image": "reg/*/x"}]},
    {"exemptContainers": [{"image": "**"}]},
    {"exemptContainers": ["a*"]},
    {"exemptContainers": [7]},
    {"exemptContainers": [{"nmae": "x"}]},
    {"exemptContainers": [{"name": None, "image": None}]},
    {"exemptEphemeralContainers": True, "mutate": False},
    {"exemptEphemeralContainers": 1},
    {"mutate": "yes"},
    {"mutate": None},
    {"writableVolume": {"medium": "Memory", "sizeLimit": "1.5Gi"}},
    {"writableVolume": {"medium": "", "sizeLimit": 100}},
    {"writableVolume": {"medium": "HugePages"}},
    {"writableVolume": {"sizeLimit": "64MB"}},
    {"writableVolume": {"sizeLimit": "-1Gi"}},
    {"writableVolume": {"sizeLimit": "0"}},
    {"writableVolume": {"sizeLimit": "1e3"}},
    {"writableVolume": {"sizeLimit": "+.5E-2"}},
    {"writableVolume": {"size": "1Gi"}},
    {"writableVolume": []},
    {"containerWritablePaths": [{"image": "nginx", "paths": ["/var/cache/nginx", "/var/run/"]}]},
    {
        "requiredWritablePaths": ["/tmp"],
        "containerWritablePaths": [
            {"name": "web", "image": "registry.example.com/web:*", "paths": ["/tmp", "/app/uploads"]},
            {"name": "web", "paths": ["/app/uploads", "/var/log/app"]},
        ],
        "warnSubPathMounts": False,
        "mutate": True,
    },
    {"containerWritablePaths": [{"paths": ["/tmp"]}]},
    {"containerWritablePaths": [{"name": "", "image": "", "paths": ["/tmp"]}]},
    {"containerWritablePaths": [{"name": None, "image": "nginx", "paths": ["/tmp"]}]},
    {"containerWritablePaths": [{"image": "nginx", "paths": []}]},
    {"containerWritablePaths": [{"image": "nginx"}]},
    {"containerWritablePaths": [{"image": "nginx", "paths": ["/a", "/a/"]}]},
    {"containerWritablePaths": [{"image": "nginx", "paths": ["relative", "/"]}]},
    {"containerWritablePaths": [{"image": "nginx", "paths": ["", None]}]},
    {"containerWritablePaths": [{"image": "ng*nx", "paths": ["/tmp"]}]},
    {"containerWritablePaths": [{"image": "nginx", "path": ["/tmp"]}]},
    {"containerWritablePaths": [None]},
    {"containerWritablePaths": ["nginx"]},
    {"containerWritablePaths": {"image": "nginx", "paths": ["/tmp"]}},
    # Image patterns (POLICY-SPEC.md "Image references and image patterns"):
    # every form of the table, valid, and the forms validate_settings rejects.
    {
        "exemptContainers": [
            {"image": "*"},
            {"image": "nginx"},
            {"image": "docker.io/library/nginx:*"},
            {"image": "index.docker.io/library/nginx:1.27"},
            {"image": "nginx@sha256:" + "ab" * 32},
            {"image": "nginx:1.27@sha256:" + "ab" * 32},
            {"image": "registry.example.com/*"},
            {"image": "localhost:5000/team/*"},
            {"image": "[::1]:5000/app:v1"},
        ]
    },
    {"exemptContainers": [{"image": "nginx*"}]},
    {"exemptContainers": [{"image": "registry.example.com/debug*"}]},
    {"exemptContainers": [{"image": "nginx:1.2*"}]},
    {"exemptContainers": [{"image": "Nginx"}]},
    {"exemptContainers": [{"image": "nginx@sha256:abc"}]},
    {"exemptContainers": [{"image": "nginx@md5:" + "0" * 32}]},
    {"exemptContainers": [{"image": "registry.example.com//x"}]},
    {"exemptContainers": [{"image": "nginx:1.27:*"}]},
    {"exemptContainers": [{"image": "/*"}]},
    {"containerWritablePaths": [{"image": "nginx:" + "1" * 129, "paths": ["/tmp"]}]},
    # Application profiles.
    {"applicationProfiles": ["nginx", "nginx-unprivileged", "postgres", "mysql", "mariadb", "mongo",
                             "httpd", "tomcat", "grafana", "traefik", "jenkins", "wordpress"]},
    {"applicationProfiles": ["ngnix"]},
    {"applicationProfiles": ["nginx", "nginx"]},
    {"applicationProfiles": ["", None]},
    {"applicationProfiles": [1]},
    {"applicationProfiles": "nginx"},
    {"warnSubPathMounts": True},
    {"warnSubPathMounts": "false"},
    {"exemptContainers": [None, {"name": "", "image": "*"}]},
    {"writableVolume": {"sizeLimit": ""}},
    [],
    "settings",
]

RAW_SETTINGS_SEEDS = [b"", b"{", b"null", b'{"mutate":true,"mutate":false}', b"\xff\xfe"]
RAW_PAYLOAD_SEEDS = [
    b"",
    b"{}",
    b'{"request":null}',
    b'{"settings":{}}',
    b'{"request":{"operation":"CREATE","kind":{"kind":"Pod"},"object":{"spec":{"containers":[{"name":"a"}]}}},"settings":{"mutate":true}}',
    b"\xff",
]


def dumps(value):
    return (json.dumps(value, sort_keys=True, separators=(",", ":")) + "\n").encode()


def short_hash(data):
    return hashlib.sha1(data).hexdigest()[:10]


def fixtures():
    out = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "test_data", "*.json"))):
        try:
            with open(path, encoding="utf-8") as f:
                review = json.load(f)
        except (OSError, ValueError) as e:
            print(f"skipping {path}: {e}", file=sys.stderr)
            continue
        if isinstance(review, dict) and "request" in review:
            out[os.path.basename(path)] = review["request"]
    return out


def cases():
    path = os.path.join(ROOT, "tests", "cases.json")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        table = json.load(f)
    return [c for c in table if isinstance(c, dict)]


def image_texts(table):
    """The inputs of tests/image-reference-vectors.json and every image and
    image pattern the table's settings and fixtures use."""
    texts = []
    with open(os.path.join(ROOT, "tests", "image-reference-vectors.json"), encoding="utf-8") as f:
        texts += [v["input"] for v in json.load(f)]

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "image" and isinstance(item, str):
                    texts.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for case in table:
        walk(case.get("settings"))
    for request in fixtures().values():
        walk(request)
    return sorted(set(texts))


def build():
    """{target: {file name: bytes}}"""
    seeds = {"validate_payload": {}, "settings": {}, "image_reference": {}}
    requests = fixtures()
    table = cases()

    def add(target, stem, data):
        seeds[target][f"seed-{stem}-{short_hash(data)}"] = data

    for name, request in requests.items():
        stem = name[: -len(".json")]
        for settings in FIXTURE_SETTINGS:
            add("validate_payload", stem, dumps({"request": request, "settings": settings}))
    for case in table:
        fixture = case.get("fixture")
        if fixture in requests and "settings" in case:
            stem = fixture[: -len(".json")]
            add("validate_payload", stem, dumps({"request": requests[fixture], "settings": case["settings"]}))
    for data in RAW_PAYLOAD_SEEDS:
        add("validate_payload", "raw", data)

    for settings in SETTINGS_SEEDS:
        add("settings", "spec", dumps(settings))
    for case in table:
        if "settings" in case:
            add("settings", "cases", dumps(case["settings"]))
    for settings in FIXTURE_SETTINGS:
        add("settings", "fixture", dumps(settings))
    for data in RAW_SETTINGS_SEEDS:
        add("settings", "raw", data)
    for text in image_texts(table):
        add("image_reference", "image", text.encode())
    return seeds


def main():
    check = "--check" in sys.argv[1:]
    seeds = build()
    stale = False
    for target, files in seeds.items():
        directory = os.path.join(FUZZ_DIR, "corpus", target)
        os.makedirs(directory, exist_ok=True)
        existing = {n for n in os.listdir(directory) if n.startswith("seed-")}
        # libFuzzer names corpus entries by the SHA-1 of their content: drop
        # such copies of a seed (cmin and fuzzing re-add seeds that way).
        seed_hashes = {hashlib.sha1(d).hexdigest() for d in files.values()}
        for name in sorted(set(os.listdir(directory)) & seed_hashes):
            stale = True
            if not check:
                os.remove(os.path.join(directory, name))
        for name in sorted(existing - files.keys()):
            stale = True
            if not check:
                os.remove(os.path.join(directory, name))
        for name, data in sorted(files.items()):
            path = os.path.join(directory, name)
            if name in existing:
                continue
            stale = True
            if not check:
                with open(path, "wb") as f:
                    f.write(data)
        print(f"{target}: {len(files)} seeds in {os.path.relpath(directory, ROOT)}")
    if check and stale:
        print("seed corpus is out of date: run python3 fuzz/make-seed-corpus.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
