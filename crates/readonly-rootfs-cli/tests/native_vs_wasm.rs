//! The CLI's verdicts equal the wasm module's. For every `CREATE` of the
//! fixture table (`tests/cases.json` + `test_data/`) and of `samples/`, the
//! request's object is written to a file and checked by the built binary
//! with the case's settings; the built `policy.wasm`, run in the project's
//! waPC host as Kubewarden runs it, evaluates the request itself. Verdict,
//! message, warnings and JSON patch must be equal. Then `--fix` (the module
//! with `mutate: true`): a fixable object's fixed YAML must be the input
//! with the module's patch applied, and a second `check` must accept it; an
//! unfixable one must come out unchanged with exit status 1.

mod support;

use policy_host::AdmissionResponse;
use policy_host::fixture_table::built_policy;
use readonly_rootfs_cli::yaml::{from_json, read_documents, to_json};
use readonly_rootfs_policy::settings::Settings;
use serde_json::{Value, json};
use std::path::Path;
use support::{Output, repo_root, run_in, scratch_dir};

/// A `CREATE` request of the fixture table or the samples, with settings.
struct Case {
    name: String,
    request: Value,
    settings: Value,
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the CLI sees: a CREATE with no subresource of an object whose
/// apiVersion and kind are the request's.
fn is_create_of_its_object(request: &Value) -> bool {
    let object = &request["object"];
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, _) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    request["operation"] == "CREATE"
        && request["subResource"].is_null()
        && object.is_object()
        && request["kind"]["group"] == group
        && request["kind"]["kind"] == object["kind"]
}

fn cases() -> Vec<Case> {
    let root = repo_root();
    let mut cases = Vec::new();
    let table = read_json(&root.join("tests/cases.json"));
    for case in table.as_array().expect("cases.json is an array") {
        let Some(fixture) = case["fixture"].as_str() else {
            continue; // settings-only case
        };
        let review = read_json(&root.join("test_data").join(fixture));
        cases.push(Case {
            name: format!("case {:?}", case["name"].as_str().unwrap_or_default()),
            request: review["request"].clone(),
            settings: case["settings"].clone(),
        });
    }
    let mut samples: Vec<_> = std::fs::read_dir(root.join("samples"))
        .expect("samples/")
        .map(|e| e.expect("samples/ entry").path())
        .collect();
    samples.sort();
    for sample in samples {
        let sample_json = read_json(&sample);
        cases.push(Case {
            name: format!("sample {}", sample.display()),
            request: sample_json["request"]["request"].clone(),
            settings: sample_json["settings"].clone(),
        });
    }
    cases.retain(|case| is_create_of_its_object(&case.request));
    cases
}

/// `readonly-rootfs check --settings settings.json EXTRA FILES...` with the
/// object written as JSON (`object.json`) and as block YAML (`object.yaml`).
fn cli_check(
    dir: &Path,
    object: &Value,
    settings: &Value,
    extra: &[&str],
    files: &[&str],
) -> Output {
    std::fs::write(dir.join("object.json"), object.to_string()).unwrap();
    let yaml = serde_norway::to_string(&from_json(object)).unwrap();
    std::fs::write(dir.join("object.yaml"), yaml).unwrap();
    std::fs::write(dir.join("settings.json"), settings.to_string()).unwrap();
    let args = [&["check", "--settings", "settings.json"], extra, files].concat();
    run_in(dir, &args, "")
}

/// A verdict in the module's terms: (allowed, message, warnings, patch).
type Verdict = (bool, Option<String>, Vec<String>, Vec<Value>);

/// The CLI's `--output json` record as a [`Verdict`].
fn cli_verdict(record: &Value) -> Verdict {
    (
        record["allowed"].as_bool().expect("allowed is a bool"),
        record["message"].as_str().map(str::to_string),
        serde_json::from_value(record["warnings"].clone()).expect("warnings are strings"),
        match &record["patch"] {
            Value::Null => Vec::new(),
            patch => patch.as_array().expect("patch is an array").clone(),
        },
    )
}

fn module_verdict(response: &AdmissionResponse) -> Verdict {
    (
        response.allowed,
        response.message().map(str::to_string),
        response.warnings.clone().unwrap_or_default(),
        response.patch_operations(),
    )
}

#[test]
fn cli_verdicts_equal_the_wasm_module_on_every_create_fixture_and_sample() {
    let policy = built_policy(&repo_root());
    let dir = scratch_dir("native-vs-wasm");
    let cases = cases();
    let mut compared = 0;
    let mut invalid_settings = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let json_and_yaml = ["object.json", "object.yaml"];
        let out = cli_check(
            &dir,
            &case.request["object"],
            &case.settings,
            &["--output", "json"],
            &json_and_yaml,
        );
        if let Err(message) = Settings::from_json(&case.settings) {
            let module = policy
                .validate_settings(&case.settings)
                .expect("validate_settings");
            if out.status != 2
                || module.message.as_deref() != Some(message.as_str())
                || !out
                    .stderr
                    .contains(&format!("invalid settings: {message}\n"))
            {
                failures.push(format!("{}: invalid settings: {}", case.name, out.stderr));
            }
            invalid_settings += 1;
            continue;
        }
        let response = policy
            .evaluate(&case.request, &case.settings)
            .unwrap_or_else(|e| panic!("{}: the module failed: {e}", case.name));
        let expected = module_verdict(&response);
        let actual: Vec<_> = out.records().iter().map(cli_verdict).collect();
        let expected_status = if expected.0 { 0 } else { 1 };
        if actual != [expected.clone(), expected.clone()] || out.status != expected_status {
            failures.push(format!(
                "{}:\n  module: {expected:?}\n  cli:    {actual:?} (exit {}, stderr {})",
                case.name, out.status, out.stderr
            ));
        }
        compared += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!(
        "{compared} CREATE requests compared, {invalid_settings} with invalid settings, of {} cases",
        cases.len()
    );
    assert!(compared >= 150, "only {compared} requests compared");
}

#[test]
fn fix_output_of_every_fixable_fixture_is_the_module_s_fix_and_passes_a_second_check() {
    let policy = built_policy(&repo_root());
    let dir = scratch_dir("fix-vs-wasm");
    let mut fixed = 0;
    let mut unfixable = 0;
    let mut failures = Vec::new();
    for case in cases() {
        if Settings::from_json(&case.settings).is_err() {
            continue;
        }
        let mut mutating = match &case.settings {
            Value::Object(_) => case.settings.clone(),
            _ => json!({}),
        };
        mutating["mutate"] = json!(true);
        let response = policy
            .evaluate(&case.request, &mutating)
            .unwrap_or_else(|e| panic!("{}: the module failed: {e}", case.name));
        let object = &case.request["object"];
        let out = cli_check(&dir, object, &case.settings, &["--fix"], &["object.json"]);
        // The input as the CLI reads it (YAML numbers), to compare with.
        let input = to_json(&read_documents(&object.to_string()).0[0]).unwrap();
        let (documents, error) = read_documents(&out.stdout);
        let output = match (error, documents.as_slice()) {
            (None, [document]) => to_json(document).unwrap(),
            _ => {
                failures.push(format!("{}: --fix printed\n{}", case.name, out.stdout));
                continue;
            }
        };
        if !response.allowed {
            if out.status != 1 || output != input {
                failures.push(format!("{}: unfixable but exit {}", case.name, out.status));
            }
            unfixable += 1;
            continue;
        }
        let patch: json_patch::Patch =
            serde_json::from_value(Value::Array(response.patch_operations())).unwrap();
        let mut expected = input.clone();
        json_patch::patch(&mut expected, &patch).unwrap();
        if out.status != 0 || output != expected {
            failures.push(format!(
                "{}: --fix exit {}, output is not the module's fix:\n{}",
                case.name, out.status, out.stdout
            ));
            continue;
        }
        if !response.is_mutated() {
            continue;
        }
        fixed += 1;
        std::fs::write(dir.join("fixed.yaml"), &out.stdout).unwrap();
        let args = [
            "check",
            "--settings",
            "settings.json",
            "--output",
            "json",
            "fixed.yaml",
        ];
        let again = run_in(&dir, &args, "");
        let verdict = again.records().first().map(cli_verdict);
        // Accepted without changes (warnings, e.g. for a subPath mount, may come).
        let unchanged = matches!(&verdict, Some((true, None, _, patch)) if patch.is_empty());
        if again.status != 0 || !unchanged {
            failures.push(format!(
                "{}: the fixed object is not accepted unchanged: {verdict:?}\n{}",
                case.name, out.stdout
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("{fixed} fixtures fixed and accepted by a second check, {unfixable} unfixable");
    assert!(
        fixed >= 20 && unfixable >= 10,
        "{fixed} fixed, {unfixable} unfixable"
    );
}
