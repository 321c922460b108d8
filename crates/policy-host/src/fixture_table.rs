//! The fixture table: every case of `tests/cases.json` (at the repository
//! root), run by an [`Evaluator`]: the policy core natively, or the built
//! `policy.wasm` in this host, as Kubewarden would call `validate` /
//! `validate_settings`. One table, two runners, the same assertions.
//!
//! A case is `{"name", "fixture", "settings", "expect", "message"?,
//! "warnings"?, "patch"?, "settingsOnly"?, "comment"?}`:
//! - `expect` is `accept`, `reject`, `mutate` (fixture cases) or
//!   `valid-settings`, `invalid-settings` (settings-only cases);
//! - `message` fragments must all appear in the rejection message (or the
//!   settings error);
//! - `warnings` lists one fragment per expected warning, in order (exactly
//!   that many warnings, the i-th containing the i-th fragment); a case
//!   without `warnings` expects none;
//! - `patch` is the exact JSON patch `json_patch::diff(object, mutated)`.
//!
//! Mutate cases are also checked for: no removal (only add/replace, every
//! value of the request object kept unless a `null` was replaced), edits only
//! inside the pod spec, idempotency, acceptance of the mutated object in
//! validate-only mode, and validity of the mutated pod spec.
//!
//! All failures are collected and reported together.

use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// What a runner answered for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Accept {
        warnings: Vec<String>,
    },
    /// `patch` is the JSON patch the engine would send to the API server.
    Mutate {
        object: Value,
        patch: Vec<Value>,
        warnings: Vec<String>,
    },
    Reject {
        message: String,
        warnings: Vec<String>,
    },
}

impl Outcome {
    /// A mutation of `request`'s object, with the patch the engine computes:
    /// `json_patch::diff` of the request object against the mutated one.
    pub fn mutation(request: &Value, object: Value, warnings: Vec<String>) -> Outcome {
        let patch = serde_json::to_value(json_patch::diff(&request["object"], &object))
            .ok()
            .and_then(|patch| patch.as_array().cloned())
            .unwrap_or_default();
        Outcome::Mutate {
            object,
            patch,
            warnings,
        }
    }
}

/// Something that evaluates admission requests and settings like the policy.
pub trait Evaluator {
    /// `request` is the AdmissionRequest (not the review).
    fn evaluate(&self, request: &Value, settings: &Value) -> Outcome;
    /// `Err(message)` when the settings are invalid.
    fn validate_settings(&self, settings: &Value) -> Result<(), String>;
}

/// Counts of a table run that passed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TableSummary {
    pub cases: usize,
    pub accept: usize,
    pub reject: usize,
    pub mutate: usize,
    pub settings: usize,
    pub fixtures: usize,
}

const CASE_KEYS: [&str; 9] = [
    "name",
    "fixture",
    "settings",
    "expect",
    "message",
    "warnings",
    "patch",
    "settingsOnly",
    "comment",
];

/// The `policy.wasm` that `make policy.wasm` builds at the repository root
/// `root`, in this host. For tests: panics, saying how to build it, when it is
/// missing or does not load.
pub fn built_policy(root: &Path) -> crate::Policy {
    let wasm = root.join("policy.wasm");
    assert!(
        wasm.exists(),
        "{} is missing: run `make policy.wasm` (make test does) before cargo test",
        wasm.display()
    );
    crate::Policy::from_file(&wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()))
}

/// Runs every case of `<root>/tests/cases.json` with `evaluator`, and checks
/// that every file of `<root>/test_data/` is used. `Err` lists every failure.
pub fn run_table(root: &Path, evaluator: &dyn Evaluator) -> Result<TableSummary, String> {
    let text = fs::read_to_string(root.join("tests/cases.json"))
        .map_err(|e| format!("tests/cases.json: {e}"))?;
    let cases: Vec<Value> =
        serde_json::from_str(&text).map_err(|e| format!("tests/cases.json: {e}"))?;
    if cases.is_empty() {
        return Err("tests/cases.json has no cases".into());
    }

    let mut failures: Vec<String> = Vec::new();
    let mut used_fixtures: BTreeSet<String> = BTreeSet::new();
    let mut names: HashSet<String> = HashSet::new();
    let mut counts = [0usize; 5];

    for (i, case) in cases.iter().enumerate() {
        let name = case
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("<case #{i} without a name>"), str::to_string);
        if !names.insert(name.clone()) {
            failures.push(format!("case {name:?}: the case name is not unique"));
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            run_case(root, case, &mut used_fixtures, evaluator)
        }));
        let result = match outcome {
            Ok(result) => result,
            Err(panic) => Err(format!("panicked: {}", panic_text(&*panic))),
        };
        match result {
            Ok(kind) => counts[kind] += 1,
            Err(why) => failures.push(format!("case {name:?}:\n{why}")),
        }
    }

    // No fixture proves nothing: every file in test_data/ is used.
    let mut fixture_files: Vec<String> = fs::read_dir(root.join("test_data"))
        .map_err(|e| format!("test_data/: {e}"))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    fixture_files.sort();
    for file in &fixture_files {
        if !used_fixtures.contains(file) {
            failures.push(format!("fixture test_data/{file} is not used by any case"));
        }
    }

    if !failures.is_empty() {
        return Err(format!(
            "{} of {} fixture-table checks failed:\n\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n\n")
        ));
    }
    Ok(TableSummary {
        cases: cases.len(),
        accept: counts[0],
        reject: counts[1],
        mutate: counts[2],
        settings: counts[3] + counts[4],
        fixtures: fixture_files.len(),
    })
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".to_string()
    }
}

/// Runs one case; `Ok(index)` counts it as accept/reject/mutate/valid/invalid.
fn run_case(
    root: &Path,
    case: &Value,
    used: &mut BTreeSet<String>,
    evaluator: &dyn Evaluator,
) -> Result<usize, String> {
    let case = case.as_object().ok_or("the case is not a JSON object")?;
    if let Some(key) = case.keys().find(|k| !CASE_KEYS.contains(&k.as_str())) {
        return Err(format!("unknown case key {key:?} (typo?)"));
    }
    let expect = case
        .get("expect")
        .and_then(Value::as_str)
        .ok_or("the case has no \"expect\" string")?;
    let settings = case.get("settings").cloned().unwrap_or(Value::Null);
    let fragments = string_list(case, "message")?;
    let warning_fragments = case
        .get("warnings")
        .map(|_| string_list(case, "warnings"))
        .transpose()?;
    let settings_only = case
        .get("settingsOnly")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    if settings_only {
        if !case.get("fixture").is_none_or(Value::is_null) {
            return Err("a settingsOnly case must have \"fixture\": null".into());
        }
        return run_settings_case(expect, &settings, &fragments, evaluator);
    }

    let fixture = case
        .get("fixture")
        .and_then(Value::as_str)
        .ok_or("the case has no \"fixture\" file name")?;
    used.insert(fixture.to_string());
    let review = load_fixture(root, fixture)?;
    let request = &review["request"];
    let verdict = evaluator.evaluate(request, &settings);

    match expect {
        "accept" => {
            if !fragments.is_empty() || case.contains_key("patch") {
                return Err("an accept case takes no \"message\" or \"patch\"".into());
            }
            match &verdict {
                Outcome::Accept { warnings } => {
                    check_warnings(warnings, warning_fragments.as_deref())?;
                    Ok(0)
                }
                other => Err(mismatch("accept", other)),
            }
        }
        "reject" => {
            if fragments.is_empty() {
                return Err("a reject case must give \"message\" fragments".into());
            }
            match &verdict {
                Outcome::Reject { message, warnings } => {
                    check_warnings(warnings, warning_fragments.as_deref())?;
                    let missing: Vec<&String> = fragments
                        .iter()
                        .filter(|f| !message.contains(f.as_str()))
                        .collect();
                    if missing.is_empty() {
                        Ok(1)
                    } else {
                        Err(format!(
                            "  expected: reject with message containing {missing:#?}\n  actual:   reject with message:\n{}",
                            indent(message)
                        ))
                    }
                }
                other => Err(mismatch("reject", other)),
            }
        }
        "mutate" => {
            if !fragments.is_empty() {
                return Err("a mutate case takes no \"message\"".into());
            }
            match &verdict {
                Outcome::Mutate {
                    object,
                    patch,
                    warnings,
                } => {
                    check_warnings(warnings, warning_fragments.as_deref())?;
                    check_mutation(case, request, object, patch, &settings, evaluator)?;
                    Ok(2)
                }
                other => Err(mismatch("mutate", other)),
            }
        }
        other => Err(format!(
            "unknown expect {other:?} for a fixture case (accept, reject, mutate)"
        )),
    }
}

fn run_settings_case(
    expect: &str,
    settings: &Value,
    fragments: &[String],
    evaluator: &dyn Evaluator,
) -> Result<usize, String> {
    let result = evaluator.validate_settings(settings);
    match (expect, result) {
        ("valid-settings", Ok(_)) => Ok(3),
        ("valid-settings", Err(message)) => Err(format!(
            "  expected: valid settings\n  actual:   invalid: {message}\n  settings: {settings}"
        )),
        ("invalid-settings", Ok(())) => Err(format!(
            "  expected: invalid settings\n  actual:   accepted\n  settings: {settings}"
        )),
        ("invalid-settings", Err(message)) => {
            if fragments.is_empty() {
                return Err("an invalid-settings case must give \"message\" fragments".into());
            }
            let missing: Vec<&String> = fragments
                .iter()
                .filter(|f| !message.contains(f.as_str()))
                .collect();
            if missing.is_empty() {
                Ok(4)
            } else {
                Err(format!(
                    "  expected: settings error containing {missing:?}\n  actual:   {message}\n  settings: {settings}"
                ))
            }
        }
        (other, _) => Err(format!(
            "unknown expect {other:?} for a settingsOnly case (valid-settings, invalid-settings)"
        )),
    }
}

fn string_list(case: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    match case.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or(format!("\"{key}\" must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(format!("\"{key}\" must be a list of strings")),
    }
}

fn load_fixture(root: &Path, file: &str) -> Result<Value, String> {
    let path = root.join("test_data").join(file);
    let text = fs::read_to_string(&path).map_err(|e| format!("fixture test_data/{file}: {e}"))?;
    let review: Value = serde_json::from_str(&text)
        .map_err(|e| format!("fixture test_data/{file}: not JSON: {e}"))?;
    if review["apiVersion"] != "admission.k8s.io/v1" || review["kind"] != "AdmissionReview" {
        return Err(format!(
            "fixture test_data/{file} is not an admission.k8s.io/v1 AdmissionReview"
        ));
    }
    if !review["request"].is_object() || !review["request"]["uid"].is_string() {
        return Err(format!(
            "fixture test_data/{file} has no request with a uid"
        ));
    }
    Ok(review)
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Accept { warnings } => format!("accept, warnings {warnings:?}"),
        Outcome::Reject { message, .. } => format!("reject with message:\n{}", indent(message)),
        Outcome::Mutate {
            patch, warnings, ..
        } => format!(
            "mutate, warnings {warnings:?}, patch:\n{}",
            indent(&serde_json::to_string_pretty(patch).unwrap_or_default())
        ),
    }
}

fn mismatch(expected: &str, actual: &Outcome) -> String {
    format!("  expected: {expected}\n  actual:   {}", describe(actual))
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `fragments` lists one fragment per expected warning, in order: there
/// must be exactly that many warnings, the i-th containing the i-th
/// fragment. `None` expects no warnings.
fn check_warnings(warnings: &[String], fragments: Option<&[String]>) -> Result<(), String> {
    let expected = fragments.unwrap_or_default();
    let matches = warnings.len() == expected.len()
        && warnings
            .iter()
            .zip(expected)
            .all(|(w, f)| w.contains(f.as_str()));
    if matches {
        Ok(())
    } else {
        Err(format!(
            "  expected: {} warning(s), in order containing {expected:?}\n  actual:   warnings {warnings:?}",
            expected.len()
        ))
    }
}

/// JSON pointer of the pod spec for the request's kind.
fn pod_spec_pointer(request: &Value) -> Option<&'static str> {
    match request["kind"]["kind"].as_str()? {
        "Pod" => Some("/spec"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => Some("/spec/template/spec"),
        _ => None,
    }
}

fn check_mutation(
    case: &Map<String, Value>,
    request: &Value,
    mutated: &Value,
    ops: &[Value],
    settings: &Value,
    evaluator: &dyn Evaluator,
) -> Result<(), String> {
    let problems = mutation_problems(
        request,
        mutated,
        ops,
        settings,
        evaluator,
        case.get("patch"),
    )?;
    if problems.is_empty() {
        Ok(())
    } else {
        let mut out = String::from("  mutation checks failed:");
        for p in problems {
            let _ = write!(out, "\n  - {p}");
        }
        let _ = write!(
            out,
            "\n  actual patch:\n{}",
            indent(&serde_json::to_string_pretty(ops).unwrap_or_default())
        );
        Err(out)
    }
}

/// The invariants every mutation must keep, as checked for the fixture
/// table's mutate cases (without comparing with an expected patch): `ops` is
/// `json_patch::diff(request object, mutated)`, has only add/replace ops,
/// only inside the pod spec, and loses no value (only nulls may be replaced);
/// the policy accepts `mutated` again unchanged (idempotency) and in
/// validate-only mode (`mutate: false`, otherwise the same settings); the
/// mutated pod spec has unique DNS-1123 volume names, at most one mount per
/// path in each container, mounts of existing volumes only, and parses as a
/// Kubernetes `PodSpec`. `request` is the AdmissionRequest whose object was
/// mutated. Returns every problem found; empty when all hold.
pub fn check_mutation_invariants(
    request: &Value,
    mutated: &Value,
    ops: &[Value],
    settings: &Value,
    evaluator: &dyn Evaluator,
) -> Vec<String> {
    mutation_problems(request, mutated, ops, settings, evaluator, None)
        .unwrap_or_else(|fatal| vec![fatal])
}

/// `Err` when the checks cannot run at all; `expected_patch` is a case's
/// exact `"patch"`, if it gives one.
fn mutation_problems(
    request: &Value,
    mutated: &Value,
    ops: &[Value],
    settings: &Value,
    evaluator: &dyn Evaluator,
    expected_patch: Option<&Value>,
) -> Result<Vec<String>, String> {
    let original = &request["object"];
    let mut problems: Vec<String> = Vec::new();

    // (a) no removal, only add/replace, and only inside the pod spec. The
    // patch is also the diff of the request object against the mutated one.
    let diff = serde_json::to_value(json_patch::diff(original, mutated))
        .map_err(|e| format!("patch does not serialise: {e}"))?;
    if diff.as_array().map(Vec::as_slice) != Some(ops) {
        problems.push("the patch is not json_patch::diff(request object, mutated object)".into());
    }
    let spec_ptr =
        pod_spec_pointer(request).ok_or("a mutate case must be one of the 8 checked kinds")?;
    let mut replaced: Vec<String> = Vec::new();
    for op in ops {
        let kind = op["op"].as_str().unwrap_or("?");
        let path = op["path"].as_str().unwrap_or("?");
        if kind != "add" && kind != "replace" {
            problems.push(format!(
                "patch has a {kind:?} op at {path} (only add/replace are allowed)"
            ));
        }
        if !path.starts_with(&format!("{spec_ptr}/")) {
            problems.push(format!(
                "patch edits {path}, outside the pod spec {spec_ptr}"
            ));
        }
        if kind == "replace" {
            match original.pointer(path) {
                Some(Value::Null) => replaced.push(path.to_string()),
                Some(old) => problems.push(format!(
                    "patch replaces {path}, which was {old} (only nulls may be replaced)"
                )),
                None => problems.push(format!("patch replaces {path}, which did not exist")),
            }
        }
    }
    let mut lost = Vec::new();
    preserved(original, mutated, "", &replaced, &mut lost);
    problems.extend(
        lost.into_iter()
            .map(|p| format!("value lost or changed at {p}")),
    );

    if let Some(expected) = expected_patch
        && expected.as_array().map(Vec::as_slice) != Some(ops)
    {
        problems.push(format!(
            "patch differs from the case's \"patch\"; expected:\n{}",
            indent(&serde_json::to_string_pretty(expected).unwrap_or_default())
        ));
    }

    // (b) idempotency: the policy accepts its own output unchanged.
    let mut again = request.clone();
    again["object"] = mutated.clone();
    match evaluator.evaluate(&again, settings) {
        Outcome::Accept { .. } => {}
        other => problems.push(format!(
            "not idempotent: evaluating the mutated object again gave {}",
            describe(&other)
        )),
    }

    // (c) validate-only mode accepts the mutated object.
    let mut validate_only = settings.clone();
    match validate_only.as_object_mut() {
        Some(map) => {
            map.insert("mutate".into(), Value::Bool(false));
        }
        None => validate_only = json!({"mutate": false}),
    }
    match evaluator.evaluate(&again, &validate_only) {
        Outcome::Accept { .. } => {}
        other => problems.push(format!(
            "the mutated object is not accepted in validate-only mode: {}",
            describe(&other)
        )),
    }

    // (d) the mutated pod spec is valid.
    match mutated.pointer(spec_ptr) {
        None => problems.push(format!("the mutated object has no pod spec at {spec_ptr}")),
        Some(spec) => {
            let original_spec = original.pointer(spec_ptr).unwrap_or(&Value::Null);
            check_pod_spec(spec, original_spec, &mut problems);
            if let Err(e) =
                serde_json::from_value::<k8s_openapi::api::core::v1::PodSpec>(spec.clone())
            {
                problems.push(format!("the mutated pod spec is not a valid PodSpec: {e}"));
            }
        }
    }

    Ok(problems)
}

/// Every value of `original` is in `mutated` unchanged, except nulls that a
/// replace op (paths in `replaced`) filled in. Arrays may grow, objects may
/// gain keys.
fn preserved(
    original: &Value,
    mutated: &Value,
    path: &str,
    replaced: &[String],
    lost: &mut Vec<String>,
) {
    if replaced.iter().any(|r| r == path) {
        return;
    }
    match (original, mutated) {
        (Value::Object(o), Value::Object(m)) => {
            for (key, value) in o {
                let child = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
                match m.get(key) {
                    Some(mv) => preserved(value, mv, &child, replaced, lost),
                    None => lost.push(child),
                }
            }
        }
        (Value::Array(o), Value::Array(m)) => {
            for (i, value) in o.iter().enumerate() {
                let child = format!("{path}/{i}");
                match m.get(i) {
                    Some(mv) => preserved(value, mv, &child, replaced, lost),
                    None => lost.push(child),
                }
            }
        }
        (o, m) if o == m => {}
        _ => lost.push(if path.is_empty() {
            "/".into()
        } else {
            path.to_string()
        }),
    }
}

fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Volume names unique DNS-1123 labels; at most one mount per mountPath in
/// each container; every mount the mutation added names a pod volume.
fn check_pod_spec(spec: &Value, original_spec: &Value, problems: &mut Vec<String>) {
    let mut volume_names: HashSet<&str> = HashSet::new();
    for volume in spec["volumes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let name = volume["name"].as_str().unwrap_or("");
        if !is_dns1123_label(name) {
            problems.push(format!(
                "volume name {name:?} is not a DNS-1123 label of at most 63 characters"
            ));
        }
        if !volume_names.insert(name) {
            problems.push(format!("volume name {name:?} is not unique"));
        }
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, container) in spec[list]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let mut paths: HashSet<String> = HashSet::new();
            for mount in container["volumeMounts"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let path = mount["mountPath"].as_str().unwrap_or("");
                let normalised = path.trim_end_matches('/').to_string();
                if !paths.insert(normalised) {
                    problems.push(format!("{list}[{i}] has more than one mount at {path}"));
                }
                let name = mount["name"].as_str().unwrap_or("");
                let was_there = original_spec[list][i]["volumeMounts"]
                    .as_array()
                    .is_some_and(|mounts| mounts.contains(mount));
                if !was_there && !volume_names.contains(name) {
                    problems.push(format!(
                        "{list}[{i}] got a mount of volume {name:?}, which the pod does not have"
                    ));
                }
            }
        }
    }
}
