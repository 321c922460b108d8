#!/usr/bin/env python3
"""Writes the configuration of the test cluster of tests/cluster.bats.

  generate.py config --module WASM --policy-server-url URL --ca-bundle PEM OUT
      OUT/policies.yml   policy-server's policies file: every policy entry
      OUT/namespaces.json  one Namespace per entry
      OUT/webhooks.json  one Validating- and one MutatingWebhookConfiguration
                         routing each namespace to its entry
      OUT/entries.json   namespace -> {policy, mutating, mode, settings, source}

  generate.py samples-manifest ENTRIES_JSON
      prints the objects of the CREATE samples in samples/ as one
      multi-document YAML stream, each in its sample's namespace, the way
      `helm template` prints a chart.

The entries are tests/cluster/policies.yaml, each examples/*.yaml (its
settings, rules, mode, failurePolicy, mutating flag and namespaceSelector, as
the Kubewarden controller would turn the resource into a webhook) and each
CREATE sample of samples/. Rules of the non-example entries come from
metadata.yml, so a rule missing there is a request the policy never sees and a
failing test.
"""

import argparse
import base64
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
NAME_LABEL = "kubernetes.io/metadata.name"
# Objects labelled with this key skip the webhooks, which is how a test makes
# an object that "predates the policy" (a legacy Pod or Deployment). The API
# server calls a webhook when the old OR the new object matches its
# objectSelector, so every update that removes the label, and every later
# update, goes through the policy again.
PRE_EXISTING_LABEL = "readonly-rootfs.test/pre-existing"


def load_yaml(path):
    with open(path, encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def entry(policy, namespace, *, mutating, settings, source, rules,
          mode="protect", failure_policy="Fail", selector=None):
    return {
        "policy": policy,
        "namespace": namespace,
        "mutating": bool(mutating),
        "mode": mode,
        "failurePolicy": failure_policy,
        "settings": settings or {},
        "source": source,
        "rules": rules,
        "namespaceSelector": selector or {},
    }


def named_entries(metadata_rules):
    table = load_yaml(ROOT / "tests/cluster/policies.yaml")
    return [
        entry(name, name, mutating=spec["mutating"], settings=spec["settings"],
              source="tests/cluster/policies.yaml", rules=metadata_rules)
        for name, spec in table.items()
    ]


def example_entry(path):
    """The webhook the Kubewarden controller makes of one policy resource."""
    resource = load_yaml(path)
    spec = resource["spec"]
    source = str(path.relative_to(ROOT))
    if resource["kind"] == "AdmissionPolicy":
        namespace = resource["metadata"]["namespace"]
        policy = f"namespaced-{namespace}-{resource['metadata']['name']}"
    elif resource["kind"] == "ClusterAdmissionPolicy":
        namespace = path.stem
        policy = f"clusterwide-{resource['metadata']['name']}"
    else:
        sys.exit(f"{source}: kind {resource['kind']} is not a Kubewarden policy")
    return entry(policy, namespace, mutating=spec.get("mutating", False),
                 settings=spec.get("settings"), source=source,
                 rules=spec["rules"], mode=spec.get("mode", "protect"),
                 failure_policy=spec.get("failurePolicy", "Fail"),
                 selector=spec.get("namespaceSelector"))


def sample_entries(metadata_rules):
    entries = []
    for path in sorted((ROOT / "samples").glob("*.json")):
        sample = json.loads(path.read_text(encoding="utf-8"))
        if sample["request"]["request"].get("operation") != "CREATE":
            continue
        settings = sample.get("settings") or {}
        namespace = f"sample-{path.stem}"[:63].rstrip("-")
        entries.append(entry(namespace, namespace,
                             mutating=settings.get("mutate", False),
                             settings=settings,
                             source=str(path.relative_to(ROOT)),
                             rules=metadata_rules))
    return entries


def all_entries():
    metadata_rules = load_yaml(ROOT / "metadata.yml")["rules"]
    entries = named_entries(metadata_rules)
    entries += [example_entry(p) for p in sorted((ROOT / "examples").glob("*.yaml"))]
    entries += sample_entries(metadata_rules)
    namespaces = [e["namespace"] for e in entries]
    duplicates = {n for n in namespaces if namespaces.count(n) > 1}
    if duplicates:
        sys.exit(f"two policy entries share a namespace: {sorted(duplicates)}")
    return entries


def policy_server_entry(e, module):
    return {
        "module": Path(module).resolve().as_uri(),
        "policyMode": e["mode"],
        "allowedToMutate": e["mutating"],
        "settings": e["settings"],
    }


def namespace_selector(e):
    """The entry's own selector, narrowed to its test namespace."""
    selector = json.loads(json.dumps(e["namespaceSelector"]))
    expressions = selector.setdefault("matchExpressions", [])
    expressions.append({"key": NAME_LABEL, "operator": "In", "values": [e["namespace"]]})
    return selector


def webhook(e, url, ca_bundle):
    hook = {
        "name": f"{e['namespace']}.readonly-rootfs.test",
        "clientConfig": {"url": f"{url}/validate/{e['policy']}", "caBundle": ca_bundle},
        "rules": e["rules"],
        "failurePolicy": e["failurePolicy"],
        "matchPolicy": "Equivalent",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 10,
        "namespaceSelector": namespace_selector(e),
        "objectSelector": {"matchExpressions": [
            {"key": PRE_EXISTING_LABEL, "operator": "DoesNotExist"}]},
    }
    if e["mutating"]:
        hook["reinvocationPolicy"] = "Never"
    return hook


def webhook_configurations(entries, url, ca_bundle):
    def configuration(kind, hooks):
        return {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": kind,
            "metadata": {"name": "readonly-rootfs-test"},
            "webhooks": hooks,
        }

    mutating = [webhook(e, url, ca_bundle) for e in entries if e["mutating"]]
    validating = [webhook(e, url, ca_bundle) for e in entries if not e["mutating"]]
    return {"apiVersion": "v1", "kind": "List", "items": [
        configuration("MutatingWebhookConfiguration", mutating),
        configuration("ValidatingWebhookConfiguration", validating),
    ]}


def namespace_list(entries):
    return {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": e["namespace"]}}
        for e in entries
    ]}


def write_json(path, value):
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def config(args):
    out = Path(args.out)
    entries = all_entries()
    ca_bundle = base64.b64encode(Path(args.ca_bundle).read_bytes()).decode()
    policies = {e["policy"]: policy_server_entry(e, args.module)
                for e in entries if e["policy"] not in args.leave_out}
    # JSON is YAML: policy-server reads this file as YAML.
    write_json(out / "policies.yml", policies)
    write_json(out / "namespaces.json", namespace_list(entries))
    write_json(out / "webhooks.json",
               webhook_configurations(entries, args.policy_server_url, ca_bundle))
    write_json(out / "entries.json", {e["namespace"]: e for e in entries})


def samples_manifest(args):
    entries = json.loads(Path(args.entries).read_text(encoding="utf-8"))
    documents = []
    for namespace, e in entries.items():
        if not e["source"].startswith("samples/"):
            continue
        sample = json.loads((ROOT / e["source"]).read_text(encoding="utf-8"))
        obj = sample["request"]["request"]["object"]
        obj.setdefault("metadata", {})["namespace"] = namespace
        documents.append(f"# Source: {e['source']}\n"
                         + yaml.safe_dump(obj, sort_keys=False))
    sys.stdout.write("---\n".join(documents))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    cfg = commands.add_parser("config", help="write the cluster's configuration into OUT")
    cfg.add_argument("--module", required=True, help="the annotated policy module")
    cfg.add_argument("--policy-server-url", required=True, help="https://127.0.0.1:PORT")
    cfg.add_argument("--ca-bundle", required=True, help="PEM of the CA of policy-server's certificate")
    cfg.add_argument("--leave-out", action="append", default=[], metavar="POLICY",
                     help="leave this policy out of policies.yml (its webhook stays, failing closed)")
    cfg.add_argument("out")
    cfg.set_defaults(run=config)
    smp = commands.add_parser("samples-manifest", help="print the samples as multi-document YAML")
    smp.add_argument("entries", help="entries.json written by config")
    smp.set_defaults(run=samples_manifest)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
