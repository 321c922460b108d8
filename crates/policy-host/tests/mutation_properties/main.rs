//! Property tests of mutation (`mutate: true`, POLICY-SPEC.md "Mutation")
//! and of Pod UPDATEs that change images, over generated admission
//! requests, on the native core and on the built `policy.wasm` in the waPC
//! host. The oracle is the contract model (`crates/contract-model`, shared
//! with the `pod_structure` fuzz target): each case is described in its
//! types and the model gives the verdict, the violation count, the warnings
//! and the edits mutation may make.
//!
//! Layout: `generators.rs` (alphabets, strategies, the requests and their
//! model description), `properties.rs` (the invariants below on one case,
//! the runs and their coverage counts), this file (the tests, and the
//! mutants the properties must catch).
//!
//! Generated: the 8 checked kinds (pod spec at `spec`, `spec.template.spec`,
//! `spec.jobTemplate.spec.template.spec`); CREATE, workload UPDATE with a
//! changed (and sometimes unchanged) template, Pod UPDATE with new debug
//! containers and containers whose image changed (plain and
//! `pods/ephemeralcontainers`); containers, initContainers (some native
//! sidecars) and ephemeralContainers with names unique within the pod, from
//! a small alphabet plus 63-character names; images; `securityContext`
//! absent / null / `{}` / `readOnlyRootFilesystem` true, null or (rarely)
//! false, sometimes privileged or adding capabilities; volumeMounts at
//! overlapping paths, read-only or not, some with `subPath`, of existing or
//! missing volumes; volumes of many types, some named like the volumes the
//! policy injects; unknown fields and nulls at pod, pod spec, container and
//! securityContext level; `os` absent, linux or windows. Settings: `mutate:
//! true` with subsets of requiredWritablePaths, `containerWritablePaths`
//! rules (selectors from the exemptions' name and image alphabets, paths
//! from the required-path alphabet, so rules overlap each other and the
//! global list), every form of exemption, exemptEphemeralContainers,
//! writableVolume variants and warnSubPathMounts.
//!
//! Invariants, for every input:
//! - I1 the verdict is accept, mutate or reject: never a host error (trap,
//!   guest error) or a panic;
//! - when mutated, `check_mutation_invariants` (the fixture table's checks):
//!   I2 the engine's patch (`json_patch::diff(object, mutated)`) has no
//!   `remove`, only touches the pod spec and loses no value; I3 idempotent;
//!   I4 the mutated object is accepted with `mutate: false`; I5 volume names
//!   are unique DNS-1123 labels of at most 63 characters, no container has two
//!   mounts at one path, the pod spec parses as a Kubernetes `PodSpec`;
//! - I6 accepted in mutate mode <=> accepted in validate-only mode (mutation
//!   never hides a violation it did not fix, and never edits a compliant pod);
//! - I7 Windows pods are accepted with a warning and never mutated;
//! - I8 an explicit `readOnlyRootFilesystem: false` on a checked container is
//!   rejected, naming the container and, where mutation applies, saying to
//!   remove the field or exempt it;
//! - I9 the edits are the ones the spec lists (`contract_model::check_edits`):
//!   containers not to be edited
//!   (exempt, unchanged on a Pod UPDATE, image changed on a Pod UPDATE) are
//!   untouched; every injected volume is an `emptyDir` shaped by
//!   `writableVolume`, mounted exactly once in the whole pod (counting the
//!   request's own mounts), at a path its container requires (the global
//!   paths plus those of every rule it matches), at most once per container
//!   and path, never at or under a mount the container already had;
//!   ephemeral containers and the ephemeralcontainers subresource get no
//!   volume; a plain Pod UPDATE and a workload UPDATE with an unchanged
//!   template are never mutated;
//! - I10 (wasm test) `policy.wasm` gives the same verdict as the native core;
//! - I11 the verdicts are the model's: in validate-only mode rejected exactly
//!   when a checked container has no read-only root or cannot write a path
//!   it requires (deepest covering mount, writable volume), with the model's
//!   exact violation count in the header; in mutate mode accept, mutate or
//!   reject as the model says;
//! - I12 a rejection message lists at most 20 violations, then one line
//!   saying how many more;
//! - I13 a Pod UPDATE whose changed-image container violates is rejected
//!   in mutate mode too, saying that the image changed;
//! - I14 the warnings are the model's: one per checked container that can
//!   remount its root and per `subPath` mount of a configMap, secret,
//!   projected or downwardAPI volume (none with `warnSubPathMounts: false`),
//!   at most 20 then one more line; a Windows pod gets only its own warning.
//!
//! The image-change property (`image_changing_updates_*` tests), for any
//! pod and any exemption settings: P1 a Pod UPDATE in validate-only mode is
//! rejected exactly when one of the containers it changes (new image, or
//! new name) would be rejected on CREATE, i.e. in a pod holding only that
//! container (same volumes, exemptions seeing the new image), and its
//! header counts the sum of their violations; P2 with `mutate: true` a
//! plain UPDATE gets the same verdict and is never mutated, and on the
//! ephemeralcontainers subresource a container whose image changed is never
//! edited, and its violation always rejects.
//!
//! Case counts: `PROPTEST_CASES` (default 2000) for the native core;
//! `PROPTEST_WASM_CASES`, else 15% of `PROPTEST_CASES`, else 300 for the wasm
//! module; the image-change tests run a quarter as many (each evaluates
//! the UPDATE twice and a CREATE per checked container). `PROPTEST_RNG_SEED`
//! fixes the seed. A failure is shrunk and printed as the minimal request
//! and settings with the violated invariants.

#[path = "../support/mod.rs"]
mod support;

mod generators;
mod properties;

use generators::{CONTAINER_NAMES, LONG_NAME_A, LONG_NAME_B, volume_name_pool};
use policy_host::fixture_table::{Evaluator, Outcome};
use properties::{DISAGREEMENT, describe, harness_error, run_properties};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use support::{NativeCore, WasmModule};

fn env_cases(var: &str) -> Option<u32> {
    std::env::var(var).ok().and_then(|v| v.trim().parse().ok())
}

/// `pod_updates`: only Pod UPDATEs, for the image-change property.
fn run(label: &str, evaluator: &dyn Evaluator, cases: u32, pod_updates: bool) {
    match run_properties(label, evaluator, cases, pod_updates) {
        Ok(summary) => println!("{summary}"),
        Err(failure) => panic!("{failure}"),
    }
}

#[test]
fn mutation_properties_native_core() {
    run("native core", &NativeCore, native_cases(), false);
}

/// I10: the module and the native core agree on every request.
struct Differential<'a>(&'a WasmModule);

impl Evaluator for Differential<'_> {
    fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
        let wasm = self.0.evaluate(request, settings);
        let native = NativeCore.evaluate(request, settings);
        if wasm == native || harness_error(&wasm) {
            wasm
        } else {
            Outcome::Reject {
                message: format!(
                    "{DISAGREEMENT}: policy.wasm and the native core disagree>\n    wasm:   {}\n    native: {}",
                    describe(&wasm),
                    describe(&native)
                ),
                warnings: Vec::new(),
            }
        }
    }

    fn validate_settings(&self, settings: &Value) -> Result<(), String> {
        self.0.validate_settings(settings)
    }
}

fn native_cases() -> u32 {
    env_cases("PROPTEST_CASES").unwrap_or(2000)
}

fn wasm_cases() -> u32 {
    env_cases("PROPTEST_WASM_CASES")
        .or_else(|| env_cases("PROPTEST_CASES").map(|n| (n * 3 / 20).max(1)))
        .unwrap_or(300)
}

#[test]
fn mutation_properties_wasm_module() {
    let wasm = WasmModule(RefCell::new(support::load_policy()));
    run("policy.wasm", &Differential(&wasm), wasm_cases(), false);
}

#[test]
fn image_changing_updates_native_core() {
    run(
        "native core",
        &NativeCore,
        (native_cases() / 4).max(1),
        true,
    );
}

#[test]
fn image_changing_updates_wasm_module() {
    let wasm = WasmModule(RefCell::new(support::load_policy()));
    run(
        "policy.wasm",
        &Differential(&wasm),
        (wasm_cases() / 4).max(1),
        true,
    );
}

/// The containers of a pod spec, to edit (a list that is missing stays so).
fn containers_mut(spec: &mut Value) -> impl Iterator<Item = &mut Value> {
    let lists = ["initContainers", "containers", "ephemeralContainers"];
    let fields = spec.as_object_mut().into_iter().flat_map(|s| s.iter_mut());
    let lists = fields.filter(move |(key, _)| lists.contains(&key.as_str()));
    lists.flat_map(|(_, list)| list.as_array_mut().into_iter().flatten())
}

/// The properties catch a policy that forgets the issue-9 rules: each of
/// these wrappers of the native core must fail them, on the property named.
#[test]
fn properties_catch_a_policy_without_rules_or_image_checks() {
    /// Ignores `containerWritablePaths`.
    struct WithoutRules;

    impl Evaluator for WithoutRules {
        fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
            let mut settings = settings.clone();
            if let Some(map) = settings.as_object_mut() {
                map.remove("containerWritablePaths");
            }
            NativeCore.evaluate(request, &settings)
        }

        fn validate_settings(&self, settings: &Value) -> Result<(), String> {
            NativeCore.validate_settings(settings)
        }
    }

    /// Checks only new containers on a Pod UPDATE, as before issue 9: the
    /// old Pod is shown the new images.
    struct ImageSwapBypass;

    impl Evaluator for ImageSwapBypass {
        fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
            let mut request = request.clone();
            let new_images: HashMap<String, Value> =
                ["initContainers", "containers", "ephemeralContainers"]
                    .iter()
                    .filter_map(|list| request["object"]["spec"][list].as_array().cloned())
                    .flatten()
                    .filter_map(|c| {
                        Some((c["name"].as_str()?.to_string(), c.get("image").cloned()?))
                    })
                    .collect();
            if request["operation"] == "UPDATE" {
                for c in containers_mut(&mut request["oldObject"]["spec"]) {
                    let name = c["name"].as_str().unwrap_or("").to_string();
                    match (new_images.get(&name), c.as_object_mut()) {
                        (Some(image), Some(c)) => {
                            c.insert("image".into(), image.clone());
                        }
                        (None, Some(c)) => {
                            c.remove("image");
                        }
                        _ => {}
                    }
                }
            }
            NativeCore.evaluate(&request, settings)
        }

        fn validate_settings(&self, settings: &Value) -> Result<(), String> {
            NativeCore.validate_settings(settings)
        }
    }

    match run_properties("without rules", &WithoutRules, 300, false) {
        Ok(summary) => panic!("a policy ignoring rules passed the properties: {summary}"),
        Err(failure) => assert!(failure.contains("I11"), "expected I11 to fail:\n{failure}"),
    }
    match run_properties("image-swap bypass", &ImageSwapBypass, 300, true) {
        Ok(summary) => panic!("the image-swap bypass passed the property: {summary}"),
        Err(failure) => assert!(failure.contains("P1"), "expected P1 to fail:\n{failure}"),
    }
    // The bypass misses the changed containers' violations (I11) and their
    // warnings (I14): shrinking may end on a compliant container whose only
    // finding is a remount warning (about 1 run in 40).
    match run_properties("image-swap bypass", &ImageSwapBypass, 300, false) {
        Ok(summary) => panic!("the image-swap bypass passed the properties: {summary}"),
        Err(failure) => assert!(
            failure.contains("I11") || failure.contains("I14"),
            "expected I11 or I14 to fail:\n{failure}"
        ),
    }
}

#[test]
fn generated_names_are_kubernetes_names() {
    for name in CONTAINER_NAMES {
        assert!(
            !name.is_empty()
                && name.len() <= 63
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name}"
        );
    }
    assert_eq!(LONG_NAME_A.len(), 63);
    assert_eq!(LONG_NAME_B.len(), 63);
    let pool = volume_name_pool();
    assert_eq!(
        pool.iter().collect::<HashSet<_>>().len(),
        pool.len(),
        "volume names are distinct: {pool:?}"
    );
}

/// The properties catch broken mutations: each mutant of the native core
/// must fail them, on the invariant named.
#[test]
fn properties_catch_broken_mutations() {
    /// The native core with a bug planted in its mutations.
    struct Mutant(fn(&Value, &mut Value));

    impl Evaluator for Mutant {
        fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
            match NativeCore.evaluate(request, settings) {
                Outcome::Mutate {
                    mut object,
                    warnings,
                    ..
                } => {
                    (self.0)(request, &mut object);
                    Outcome::mutation(request, object, warnings)
                }
                other => other,
            }
        }

        fn validate_settings(&self, settings: &Value) -> Result<(), String> {
            NativeCore.validate_settings(settings)
        }
    }

    fn drop_creation_timestamp(_: &Value, object: &mut Value) {
        if let Some(metadata) = object["metadata"].as_object_mut() {
            metadata.remove("creationTimestamp");
        }
    }

    fn pod_spec_mut<'v>(request: &Value, object: &'v mut Value) -> Option<&'v mut Value> {
        let pointer = match request["kind"]["kind"].as_str()? {
            "Pod" => "/spec",
            "CronJob" => "/spec/jobTemplate/spec/template/spec",
            _ => "/spec/template/spec",
        };
        object.pointer_mut(pointer)
    }

    /// Also sets readOnlyRootFilesystem on exempt and old containers.
    fn lock_every_container(request: &Value, object: &mut Value) {
        let Some(spec) = pod_spec_mut(request, object) else {
            return;
        };
        for c in containers_mut(spec) {
            if !c["securityContext"].is_object() {
                c["securityContext"] = json!({});
            }
            c["securityContext"]["readOnlyRootFilesystem"] = json!(true);
        }
    }

    /// One injected volume for the whole pod, mounted by every container.
    fn share_injected_volume(request: &Value, object: &mut Value) {
        let Some(spec) = pod_spec_mut(request, object) else {
            return;
        };
        let Some(first) = spec["volumes"]
            .as_array()
            .and_then(|v| v.last())
            .and_then(|v| v["name"].as_str())
            .map(str::to_string)
        else {
            return;
        };
        for c in spec
            .get_mut("containers")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let mounts = c["volumeMounts"].as_array().cloned().unwrap_or_default();
            if !mounts.iter().any(|m| m["mountPath"] == "/shared") {
                let mut mounts = mounts;
                mounts.push(json!({"name": first, "mountPath": "/shared"}));
                c["volumeMounts"] = Value::Array(mounts);
            }
        }
    }

    /// Forgets required paths: never adds a volume.
    fn no_volumes(request: &Value, object: &mut Value) {
        let mut request_object = request["object"].clone();
        let original = pod_spec_mut(request, &mut request_object).cloned();
        let (Some(spec), Some(original)) = (pod_spec_mut(request, object), original) else {
            return;
        };
        for key in ["volumes"] {
            match original.get(key) {
                Some(v) => spec[key] = v.clone(),
                None => {
                    spec.as_object_mut().map(|s| s.remove(key));
                }
            }
        }
        for list in ["initContainers", "containers"] {
            for (i, c) in spec
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
                .enumerate()
            {
                match original[list][i].get("volumeMounts") {
                    Some(v) => c["volumeMounts"] = v.clone(),
                    None => {
                        c.as_object_mut().map(|c| c.remove("volumeMounts"));
                    }
                }
            }
        }
    }

    for (mutant, expected) in [
        (drop_creation_timestamp as fn(&Value, &mut Value), "I2-I5"),
        (lock_every_container, "I9"),
        (share_injected_volume, "I9"),
        (no_volumes, "I2-I5"),
    ] {
        match run_properties("mutant", &Mutant(mutant), 300, false) {
            Ok(summary) => panic!("a broken mutation passed the properties: {summary}"),
            Err(failure) => assert!(
                failure.contains(expected),
                "expected a failure of {expected}, got:\n{failure}"
            ),
        }
    }
}
