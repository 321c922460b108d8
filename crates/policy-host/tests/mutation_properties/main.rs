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
//! containers, containers whose image changed (to another image, or to
//! another tag or digest of the same repository: a digest pinned or
//! unpinned) and containers whose image is only spelled otherwise (plain and
//! `pods/ephemeralcontainers`); containers, initContainers (some native
//! sidecars) and ephemeralContainers with names unique within the pod, from
//! a small alphabet plus 63-character names; images in several spellings
//! of one image (`nginx:1.27`, `library/nginx:1.27`,
//! `index.docker.io/library/nginx:1.27`, registry case), with tags,
//! digests or both, of the application profiles' repositories, and not
//! valid references (`Nginx:1.27`, one with a newline); `securityContext`
//! absent / null / `{}` / `readOnlyRootFilesystem` true, null or (rarely)
//! false, sometimes privileged or adding capabilities; volumeMounts at
//! overlapping paths, read-only or not, some with `subPath`, of existing or
//! missing volumes; volumes of many types, some named like the volumes the
//! policy injects; unknown fields and nulls at pod, pod spec, container and
//! securityContext level; `os` absent, linux or windows. Settings: `mutate:
//! true` with subsets of requiredWritablePaths, `containerWritablePaths`
//! rules (selectors from the exemptions' name and image alphabets, paths
//! from the required-path alphabet, so rules overlap each other and the
//! global list), every form of exemption (image patterns of every form of
//! the contract's table, in several spellings), exemptEphemeralContainers,
//! writableVolume variants, warnSubPathMounts and `applicationProfiles`
//! (absent, null, empty or a few profiles in any order, whose paths overlap
//! the global list's and the rules').
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
//!   at most 20 then one more line; a Windows pod gets only its own warning;
//! - I15 in a validate-only rejection that lists every violation, the line
//!   of each path a container cannot write names what requires the path,
//!   the first of `requiredWritablePaths`, the `containerWritablePaths`
//!   rules and the application profiles that lists it
//!   (`contract_model::check_attribution`): a profile's line ends with
//!   `(the policy's NAME application profile requires this path)`.
//!
//! The model compares images as the runtime resolves them
//! (`contract_model::image_matches`, `same_image`); whether a generated
//! Pod UPDATE changes an image is the generator's own knowledge (its image
//! alphabet is written as groups of spellings of one image), and
//! `image_groups_are_the_models_images` checks that the model agrees.
//!
//! The image-change property (`image_changing_updates_*` tests), for any
//! pod and any exemption settings: P1 a Pod UPDATE in validate-only mode is
//! rejected exactly when one of the containers it changes (new image, or
//! new name; an image spelled otherwise is not a new image) would be
//! rejected on CREATE, i.e. in a pod holding only that
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

use generators::{
    CONTAINER_NAMES, IMAGE_GROUPS, LONG_NAME_A, LONG_NAME_B, NGINX_GROUPS, image_group, images,
    volume_name_pool,
};
use policy_host::fixture_table::{Evaluator, Outcome};
use properties::{DISAGREEMENT, describe, harness_error, run_properties};
use readonly_rootfs_policy::profiles::APPLICATION_PROFILES;
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

/// The JSON pointer of the pod spec in an object of the request's kind.
fn spec_pointer(request: &Value) -> &'static str {
    match request["kind"]["kind"].as_str() {
        Some("Pod") => "/spec",
        Some("CronJob") => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    }
}

/// The native core with the settings' `applicationProfiles` ignored.
struct WithoutProfiles;

impl Evaluator for WithoutProfiles {
    fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
        let mut settings = settings.clone();
        if let Some(map) = settings.as_object_mut() {
            map.remove("applicationProfiles");
        }
        NativeCore.evaluate(request, &settings)
    }

    fn validate_settings(&self, settings: &Value) -> Result<(), String> {
        NativeCore.validate_settings(settings)
    }
}

/// The native core comparing images as strings, as the contract did before
/// images were read as references: a pattern matches an image equal to it,
/// or one that starts with what precedes its final `*`; a Pod UPDATE
/// changes an image whenever the string changes. Emulated by rewriting the
/// settings and the request: every exemption, rule and application profile
/// that selects by image becomes one that selects by name the containers
/// (their names are unique in a generated pod) whose image it matches as a
/// string, and an old Pod's image that is spelled otherwise than the new
/// one becomes another image altogether.
struct ImagesAsStrings;

impl ImagesAsStrings {
    fn matches(pattern: &str, image: Option<&str>) -> bool {
        image.is_some_and(|image| match pattern.strip_suffix('*') {
            Some(prefix) => image.starts_with(prefix),
            None => image == pattern,
        })
    }

    /// `(name, image)` of every container of a pod spec.
    fn containers(spec: &Value) -> Vec<(String, Option<String>)> {
        ["initContainers", "containers", "ephemeralContainers"]
            .iter()
            .filter_map(|list| spec[list].as_array())
            .flatten()
            .map(|c| {
                let name = c["name"].as_str().unwrap_or("").to_string();
                (name, c["image"].as_str().map(str::to_string))
            })
            .collect()
    }

    /// The names of the containers a selector `{name?, image}` matches
    /// with images compared as strings.
    fn names<'c>(
        selector: &Value,
        containers: &'c [(String, Option<String>)],
    ) -> impl Iterator<Item = &'c str> {
        let name = selector["name"].as_str().map(str::to_string);
        let image = selector["image"].as_str().unwrap_or("").to_string();
        containers
            .iter()
            .filter(move |(n, i)| {
                name.as_ref().is_none_or(|name| name == n) && Self::matches(&image, i.as_deref())
            })
            .map(|(n, _)| n.as_str())
    }

    fn settings(settings: &Value, containers: &[(String, Option<String>)]) -> Value {
        let mut settings = settings.clone();
        let Some(map) = settings.as_object_mut() else {
            return settings;
        };
        if let Some(Value::Array(entries)) = map.get("exemptContainers") {
            let mut out = Vec::new();
            for entry in entries {
                match entry.get("image").and_then(Value::as_str) {
                    None => out.push(entry.clone()),
                    Some(_) => out.extend(Self::names(entry, containers).map(|n| json!(n))),
                }
            }
            map.insert("exemptContainers".into(), Value::Array(out));
        }
        let mut rules = Vec::new();
        if let Some(Value::Array(entries)) = map.get("containerWritablePaths") {
            for rule in entries {
                match rule.get("image").and_then(Value::as_str) {
                    None => rules.push(rule.clone()),
                    Some(_) => rules.extend(
                        Self::names(rule, containers)
                            .map(|n| json!({"name": n, "paths": rule["paths"]})),
                    ),
                }
            }
        }
        if let Some(Value::Array(names)) = map.remove("applicationProfiles") {
            for name in names.iter().filter_map(Value::as_str) {
                let Some(profile) = APPLICATION_PROFILES.iter().find(|p| p.name == name) else {
                    continue;
                };
                for repository in profile.repositories {
                    let selector = json!({"image": repository});
                    rules.extend(
                        Self::names(&selector, containers)
                            .map(|n| json!({"name": n, "paths": profile.paths})),
                    );
                }
            }
        }
        if map.contains_key("containerWritablePaths") || !rules.is_empty() {
            map.insert("containerWritablePaths".into(), Value::Array(rules));
        }
        settings
    }
}

impl Evaluator for ImagesAsStrings {
    fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
        let pointer = spec_pointer(request);
        let spec = request["object"]
            .pointer(pointer)
            .cloned()
            .unwrap_or_default();
        let containers = Self::containers(&spec);
        let settings = Self::settings(settings, &containers);
        let mut request = request.clone();
        if request["kind"]["kind"] == "Pod" && request["operation"] == "UPDATE" {
            let new: HashMap<String, Option<String>> = containers.into_iter().collect();
            for c in containers_mut(&mut request["oldObject"]["spec"]) {
                let name = c["name"].as_str().unwrap_or("");
                let respelled = match (new.get(name), c["image"].as_str()) {
                    (Some(Some(new)), Some(old)) => new != old,
                    _ => false,
                };
                if respelled {
                    c["image"] = json!("images-as-strings.example/another-image:1");
                }
            }
        }
        NativeCore.evaluate(&request, &settings)
    }

    fn validate_settings(&self, settings: &Value) -> Result<(), String> {
        NativeCore.validate_settings(settings)
    }
}

/// The properties catch a policy that ignores application profiles, or
/// compares images as strings (a respelled image then escapes a pattern
/// and an unchanged one is checked again): each must fail them.
#[test]
fn properties_catch_a_policy_without_profiles_or_reading_images_as_strings() {
    match run_properties("without profiles", &WithoutProfiles, 300, false) {
        Ok(summary) => panic!("a policy ignoring profiles passed the properties: {summary}"),
        Err(failure) => assert!(failure.contains("I11"), "expected I11 to fail:\n{failure}"),
    }
    // A selector that matches a spelling only as a reference: the verdict
    // or count (I11), the warnings of a container no longer exempt (I14),
    // or the rule a path is attributed to (I15) differ, whichever the
    // shrinking ends on.
    match run_properties("images as strings", &ImagesAsStrings, 300, false) {
        Ok(summary) => {
            panic!("a policy comparing images as strings passed the properties: {summary}")
        }
        Err(failure) => assert!(
            ["I11", "I14", "I15"].iter().any(|i| failure.contains(i)),
            "expected I11, I14 or I15 to fail:\n{failure}"
        ),
    }
    // A respelled image on a Pod UPDATE is checked as a new one.
    match run_properties("images as strings", &ImagesAsStrings, 300, true) {
        Ok(summary) => {
            panic!("a policy comparing images as strings passed the property: {summary}")
        }
        Err(failure) => assert!(failure.contains("P1"), "expected P1 to fail:\n{failure}"),
    }
}

/// The image alphabet's groups are what the model reads: two images are
/// the same image exactly when they are in one group.
#[test]
fn image_groups_are_the_models_images() {
    let all: Vec<Option<&str>> = images().into_iter().map(Some).chain([None]).collect();
    for a in &all {
        for b in &all {
            assert_eq!(
                contract_model::same_image(*a, *b),
                image_group(*a) == image_group(*b),
                "{a:?} {b:?}"
            );
        }
    }
    for group in NGINX_GROUPS {
        for image in IMAGE_GROUPS[group] {
            assert!(contract_model::image_matches(
                "docker.io/library/nginx",
                Some(image)
            ));
        }
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
