//! `readonly-rootfs check` on files: the built binary, its output and exit
//! status, on the manifests in tests/data.

mod support;

use readonly_rootfs_cli::yaml::{read_documents, to_json};
use readonly_rootfs_policy::settings::Settings;
use serde_json::{Value, json};
use support::{repo_root, run, run_in, scratch_dir};

/// The core's message for the one violation of the `legacy` Pod.
const LEGACY_POD_REJECTED: &str = "    Pod rejected by the read-only root filesystem policy (1 violation):\n    - container \"app\" (spec.containers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true\n";

#[test]
fn multi_document_yaml_gives_a_line_per_object_and_a_summary() {
    let out = run(&["check", "multi.yaml"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "multi.yaml document 1: Deployment shop/web: accepted\n\
             multi.yaml document 2: ConfigMap shop/web-config: not checked (not a kind the policy checks)\n\
             multi.yaml document 4: Pod shop/legacy: rejected\n\
             {LEGACY_POD_REJECTED}\
             3 objects: 1 accepted, 1 rejected, 1 not checked\n"
        )
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn standard_input_is_read_for_dash() {
    let manifests = std::fs::read_to_string(support::data_dir().join("multi.yaml")).unwrap();
    let out = run_in(&support::data_dir(), &["check", "-"], &manifests);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        run(&["check", "multi.yaml"])
            .stdout
            .replace("multi.yaml", "<stdin>")
    );
}

#[test]
fn list_items_are_checked_and_json_output_has_every_field() {
    let out = run(&["check", "--output", "json", "list.yaml"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    let records = out.records();
    assert_eq!(records.len(), 3, "{records:#?}");
    assert_eq!(
        records[0],
        json!({"file": "list.yaml", "document": 1, "item": 0, "apiVersion": "v1", "kind": "Pod",
               "namespace": null, "name": "ok", "checked": true, "notCheckedReason": null,
               "notServed": null, "allowed": true, "message": null, "warnings": [],
               "patch": null})
    );
    assert_eq!(records[1]["kind"], "Service");
    assert_eq!(records[1]["item"], 1);
    assert_eq!(records[1]["checked"], false);
    assert_eq!(
        records[1]["notCheckedReason"],
        "not a kind the policy checks"
    );
    assert_eq!(records[1]["allowed"], true);
    let cronjob = &records[2];
    assert_eq!(
        (
            &cronjob["kind"],
            &cronjob["namespace"],
            &cronjob["name"],
            &cronjob["item"]
        ),
        (
            &json!("CronJob"),
            &json!("ops"),
            &json!("nightly"),
            &json!(2)
        )
    );
    assert_eq!(cronjob["allowed"], false);
    assert_eq!(
        cronjob["message"],
        "CronJob rejected by the read-only root filesystem policy (1 violation):\n- container \"backup\" (spec.jobTemplate.spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is false; set it to true"
    );
}

#[test]
fn directories_are_searched_for_manifests_in_path_order() {
    let out = run(&["check", "--output", "json", "tree"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    let files: Vec<(String, String)> = out
        .records()
        .iter()
        .map(|r| (r["file"].to_string(), r["kind"].to_string()))
        .collect();
    // NOTES.txt, .hidden/ and .skipped.yaml are not read.
    let expected = [
        ("tree/apps/web.yaml", "Pod"),
        ("tree/apps/worker.yml", "StatefulSet"),
        ("tree/platform/job.json", "Job"),
    ]
    .map(|(file, kind)| (json!(file).to_string(), json!(kind).to_string()));
    assert_eq!(files, expected);
    let text = run(&["check", "tree"]);
    assert!(
        text.stdout.contains(
            "tree/apps/worker.yml document 1: StatefulSet worker: rejected\n    StatefulSet rejected by the read-only root filesystem policy (1 violation):\n    - init container \"migrate\" (spec.template.spec.initContainers[0])"
        ),
        "{}",
        text.stdout
    );
    assert!(text.stdout.ends_with("3 objects: 2 accepted, 1 rejected\n"));
}

#[test]
fn objects_of_other_kinds_are_not_checked_say_why_and_pass() {
    let out = run(&["check", "not-checked.yaml"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "not-checked.yaml document 1: Service web: not checked (not a kind the policy checks)\n\
         not-checked.yaml document 2: Deployment lookalike: not checked (the policy checks Deployment in API group apps, not API group example.com)\n\
         not-checked.yaml document 3: Namespace shop: not checked (not a kind the policy checks)\n\
         3 objects: 0 accepted, 3 not checked\n"
    );
    assert_eq!(out.stderr, "");

    let out = run(&["check", "--output", "json", "not-checked.yaml"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let why: Vec<(Value, Value, Value, Value)> = out
        .records()
        .iter()
        .map(|r| {
            (
                r["kind"].clone(),
                r["checked"].clone(),
                r["notCheckedReason"].clone(),
                r["notServed"].clone(),
            )
        })
        .collect();
    let not_a_checked_kind = json!("not a kind the policy checks");
    assert_eq!(
        why,
        [
            (
                json!("Service"),
                json!(false),
                not_a_checked_kind.clone(),
                Value::Null
            ),
            (
                json!("Deployment"),
                json!(false),
                json!("the policy checks Deployment in API group apps, not API group example.com"),
                Value::Null
            ),
            (
                json!("Namespace"),
                json!(false),
                not_a_checked_kind,
                Value::Null
            ),
        ]
    );
}

/// What `check` says of the apiVersion of each document of not-served.yaml.
const NOT_SERVED_DAEMONSET: &str = "Kubernetes 1.16 and later do not serve extensions/v1beta1 DaemonSet, so the API server refuses this object; change apiVersion to apps/v1 (the policy checked it as apps/v1)";
const NOT_SERVED_DEPLOYMENT: &str = "Kubernetes 1.16 and later do not serve apps/v1beta2 Deployment, so the API server refuses this object; change apiVersion to apps/v1 (the policy checked it as apps/v1)";
const NOT_SERVED_CRONJOB: &str = "Kubernetes 1.25 and later do not serve batch/v1beta1 CronJob, so the API server refuses this object; change apiVersion to batch/v1 (the policy checked it as batch/v1)";

#[test]
fn an_api_version_no_longer_served_is_checked_as_its_replacement_and_reported() {
    let out = run(&["check", "not-served.yaml"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "not-served.yaml document 1: DaemonSet kube-system/fluentd-elasticsearch: rejected\n    \
             not served: {NOT_SERVED_DAEMONSET}\n    \
             DaemonSet rejected by the read-only root filesystem policy (1 violation):\n    \
             - container \"fluentd-elasticsearch\" (spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true\n\
             not-served.yaml document 2: Deployment web: accepted\n    \
             not served: {NOT_SERVED_DEPLOYMENT}\n\
             not-served.yaml document 3: CronJob ops/nightly: accepted\n    \
             not served: {NOT_SERVED_CRONJOB}\n\
             not-served.yaml document 4: Deployment current: accepted\n\
             4 objects: 3 accepted, 1 rejected; 3 with an apiVersion no longer served\n"
        )
    );
    assert_eq!(out.stderr, "");

    let out = run(&["check", "--output", "json", "not-served.yaml"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    let records = out.records();
    let not_served = |removed_in: &str, replacement: &str, message: &str| json!({"removedIn": removed_in, "replacement": replacement, "message": message});
    let verdicts: Vec<(Value, Value, Value, Value)> = records
        .iter()
        .map(|r| {
            (
                r["apiVersion"].clone(),
                r["checked"].clone(),
                r["allowed"].clone(),
                r["notServed"].clone(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (
                json!("extensions/v1beta1"),
                json!(true),
                json!(false),
                not_served("1.16", "apps/v1", NOT_SERVED_DAEMONSET)
            ),
            (
                json!("apps/v1beta2"),
                json!(true),
                json!(true),
                not_served("1.16", "apps/v1", NOT_SERVED_DEPLOYMENT)
            ),
            (
                json!("batch/v1beta1"),
                json!(true),
                json!(true),
                not_served("1.25", "batch/v1", NOT_SERVED_CRONJOB)
            ),
            (json!("apps/v1"), json!(true), json!(true), Value::Null),
        ]
    );
    assert_eq!(records[0]["notCheckedReason"], Value::Null);
}

#[test]
fn an_api_version_no_longer_served_exits_1_even_when_the_policy_accepts() {
    let cronjob = "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n          - {name: backup, image: backup:2, securityContext: {readOnlyRootFilesystem: true}}\n";
    let out = run_in(&support::data_dir(), &["check", "-"], cronjob);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "<stdin> document 1: CronJob nightly: accepted\n    not served: {NOT_SERVED_CRONJOB}\n\
             1 object: 1 accepted; 1 with an apiVersion no longer served\n"
        )
    );
    let json = run_in(
        &support::data_dir(),
        &["check", "--output", "json", "-"],
        cronjob,
    );
    assert_eq!(json.status, 1, "{}", json.stderr);
    assert_eq!(json.records()[0]["allowed"], true);

    // --fix: the DaemonSet is fixed and the others are accepted, but every
    // document keeps its apiVersion (apps/v1 asks for more than a new
    // version, such as spec.selector), so the output cannot be deployed.
    let fix = run(&["check", "--fix", "not-served.yaml"]);
    assert_eq!(fix.status, 1, "{}", fix.stderr);
    assert_eq!(
        fix.stderr,
        format!(
            "not-served.yaml document 1: DaemonSet kube-system/fluentd-elasticsearch: fixed\n    \
             not served: {NOT_SERVED_DAEMONSET}\n\
             not-served.yaml document 2: Deployment web: accepted\n    \
             not served: {NOT_SERVED_DEPLOYMENT}\n\
             not-served.yaml document 3: CronJob ops/nightly: accepted\n    \
             not served: {NOT_SERVED_CRONJOB}\n\
             4 objects: 3 accepted, 1 fixed; 3 with an apiVersion no longer served\n"
        )
    );
    let (fixed, error) = read_documents(&fix.stdout);
    assert_eq!(error, None);
    let fixed: Vec<Value> = fixed.iter().map(|d| to_json(d).unwrap()).collect();
    assert_eq!(
        fixed
            .iter()
            .map(|d| d["apiVersion"].clone())
            .collect::<Vec<_>>(),
        [
            "extensions/v1beta1",
            "apps/v1beta2",
            "batch/v1beta1",
            "apps/v1"
        ]
    );
    assert_eq!(
        fixed[0]["spec"]["template"]["spec"]["containers"][0]["securityContext"],
        json!({"readOnlyRootFilesystem": true})
    );
}

#[test]
fn a_yaml_syntax_error_names_file_document_and_position() {
    let out = run(&["check", "syntax-error.yaml"]);
    assert_eq!(out.status, 2);
    let error = out.stderr.lines().next().unwrap_or_default();
    assert!(
        error.starts_with("readonly-rootfs: syntax-error.yaml: document 2: ")
            && error.contains("line 13 column"),
        "{}",
        out.stderr
    );
    // The document before the error is still reported.
    assert!(
        out.stdout
            .starts_with("syntax-error.yaml document 1: ConfigMap fine: not checked (not a kind the policy checks)\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.ends_with("1 input error\n"), "{}", out.stdout);
}

#[test]
fn a_document_that_is_not_a_kubernetes_object_is_an_input_error() {
    let out = run(&["check", "no-kind.yaml", "tree/apps/web.yaml"]);
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        "readonly-rootfs: no-kind.yaml: document 1: not a Kubernetes object: it has no kind\n"
    );
}

#[test]
fn invalid_settings_are_rejected_with_validate_settings_message() {
    let expected = Settings::from_json(&json!({"requiredWriteablePaths": ["/tmp"]})).unwrap_err();
    let out = run(&["check", "--settings", "settings-typo.json", "multi.yaml"]);
    assert_eq!(out.status, 2);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!("readonly-rootfs: settings-typo.json: invalid settings: {expected}\n")
    );

    let dir = scratch_dir("invalid-policy-settings");
    std::fs::write(
        dir.join("policy.yaml"),
        "apiVersion: policies.kubewarden.io/v1\nkind: AdmissionPolicy\nmetadata: {name: p}\nspec:\n  settings:\n    requiredWritablePaths: [tmp]\n",
    )
    .unwrap();
    let expected = Settings::from_json(&json!({"requiredWritablePaths": ["tmp"]})).unwrap_err();
    let policy = dir.join("policy.yaml");
    let out = run(&["check", "--policy", policy.to_str().unwrap(), "multi.yaml"]);
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        format!(
            "readonly-rootfs: {}: invalid settings: {expected}\n",
            policy.display()
        )
    );
}

#[test]
fn settings_from_a_file_are_used() {
    let out = run(&[
        "check",
        "--settings",
        "settings-tmp.yaml",
        "tree/apps/web.yaml",
    ]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stdout.contains("no writable volume is mounted at /tmp"),
        "{}",
        out.stdout
    );
}

/// Each example policy as `--policy`: the same report as its
/// `spec.settings` given with `--settings`, and what its settings mean.
#[test]
fn every_example_policy_gives_its_settings() {
    let examples = repo_root().join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    let dir = scratch_dir("examples");
    for name in &names {
        let policy = examples.join(name);
        let settings = spec_settings(&policy);
        let settings_file = dir.join(format!("{name}.settings.json"));
        std::fs::write(&settings_file, settings.to_string()).unwrap();
        let check = |option: &str, file: &std::path::Path| {
            let file = file.to_str().unwrap();
            run(&[
                "check",
                option,
                file,
                "--output",
                "json",
                "multi.yaml",
                "tree",
            ])
        };
        let with_policy = check("--policy", &policy);
        let with_settings = check("--settings", &settings_file);
        assert_eq!(with_policy.stderr, "", "{name}");
        assert_eq!(with_policy.stdout, with_settings.stdout, "{name}");
        let records = with_policy.records();
        let legacy = records
            .iter()
            .find(|r| r["name"] == "legacy")
            .expect("the legacy Pod is reported");
        if settings["mutate"] == true {
            // Everything in these manifests can be fixed: accepted with changes.
            assert_eq!(with_policy.status, 0, "{name}");
            assert_eq!(legacy["allowed"], true, "{name}");
            assert!(
                legacy["patch"].as_array().is_some_and(|p| !p.is_empty()),
                "{name}: {legacy}"
            );
        } else {
            assert_eq!(with_policy.status, 1, "{name}");
            assert_eq!(legacy["allowed"], false, "{name}");
            assert!(
                legacy["message"]
                    .as_str()
                    .unwrap()
                    .contains("no writable volume is mounted at /tmp"),
                "{name}: requiredWritablePaths has /tmp: {legacy}"
            );
        }
    }
}

fn spec_settings(policy: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(policy).unwrap();
    let (documents, error) = read_documents(&text);
    assert_eq!(error, None);
    to_json(&documents[0]).unwrap()["spec"]["settings"].clone()
}

#[test]
fn a_policy_file_must_be_a_kubewarden_policy() {
    let out = run(&["check", "--policy", "multi.yaml", "tree"]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr
            .starts_with("readonly-rootfs: multi.yaml: has 3 documents; give a file with one"),
        "{}",
        out.stderr
    );
    let out = run(&["check", "--policy", "tree/apps/web.yaml", "tree"]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr
            .contains("not a Kubewarden ClusterAdmissionPolicy or AdmissionPolicy"),
        "{}",
        out.stderr
    );
}

#[test]
fn exit_status_0_when_all_pass_1_when_rejected_2_for_usage_and_input_errors() {
    assert_eq!(run(&["check", "tree/apps/web.yaml"]).status, 0);
    assert_eq!(
        run(&["check", "tree/platform/job.json", "not-checked.yaml"]).status,
        0
    );
    assert_eq!(run(&["check", "tree/apps/worker.yml"]).status, 1);
    for usage in [
        &[][..],
        &["check"],
        &["check", "--output", "xml", "tree"],
        &[
            "check",
            "--settings",
            "settings-tmp.yaml",
            "--policy",
            "p.yaml",
            "tree",
        ],
        &["check", "--fix", "--output", "json", "tree"],
        &["lint", "tree"],
    ] {
        let out = run(usage);
        assert_eq!(out.status, 2, "{usage:?}: {}", out.stderr);
        assert!(!out.stderr.is_empty(), "{usage:?}");
    }
    let missing = run(&["check", "tree", "missing.yaml"]);
    assert_eq!(missing.status, 2);
    assert!(
        missing
            .stderr
            .starts_with("readonly-rootfs: missing.yaml: No such file"),
        "{}",
        missing.stderr
    );
    // The other inputs are still reported.
    assert!(
        missing.stdout.contains("tree/apps/web.yaml"),
        "{}",
        missing.stdout
    );
}

#[test]
fn fix_prints_every_document_fixed_in_input_order_and_key_order() {
    let out = run(&[
        "check",
        "--fix",
        "--settings",
        "settings-tmp.yaml",
        "fixable.yaml",
    ]);
    // The Pod with an explicit readOnlyRootFilesystem: false cannot be fixed.
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  labels:
    tier: backend
spec:
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      serviceAccountName: api
      containers:
      - name: api
        image: registry.example.com/api:3.2
        ports:
        - containerPort: 8080
        securityContext:
          runAsNonRoot: true
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
        volumeMounts:
        - name: rw-api-tmp
          mountPath: /tmp
      - name: log-shipper
        image: fluent/fluent-bit:3.0
        securityContext:
          readOnlyRootFilesystem: true
        volumeMounts:
        - name: rw-log-shipper-tmp
          mountPath: /tmp
      volumes:
      - name: rw-api-tmp
        emptyDir: {}
      - name: rw-log-shipper-tmp
        emptyDir: {}
---
apiVersion: v1
kind: Pod
metadata:
  name: explicit
spec:
  containers:
  - name: app
    image: app:1
    securityContext:
      readOnlyRootFilesystem: false
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: untouched
data:
  z: last
  a: first
"
    );
    assert_eq!(
        out.stderr,
        "fixable.yaml document 1: Deployment shop/api: fixed\n\
         fixable.yaml document 2: Pod explicit: cannot be fixed\n    \
         Pod rejected by the read-only root filesystem policy (1 violation):\n    \
         - container \"app\" (spec.containers[0]): securityContext.readOnlyRootFilesystem is explicitly false and the policy does not override an explicit choice; remove the field to let the policy set it to true, or exempt the container in the policy settings\n\
         3 objects: 0 accepted, 1 fixed, 1 cannot be fixed, 1 not checked\n"
    );

    // A second check of the fixed output accepts what was fixed.
    let again = run_in(
        &support::data_dir(),
        &[
            "check",
            "--settings",
            "settings-tmp.yaml",
            "--output",
            "json",
            "-",
        ],
        &out.stdout,
    );
    assert_eq!(again.status, 1, "{}", again.stderr);
    let verdicts: Vec<(Value, Value)> = again
        .records()
        .iter()
        .map(|r| (r["name"].clone(), r["allowed"].clone()))
        .collect();
    assert_eq!(
        verdicts,
        [
            (json!("api"), json!(true)),
            (json!("explicit"), json!(false)),
            (json!("untouched"), json!(true))
        ]
    );
}

#[test]
fn fix_of_compliant_input_changes_nothing_and_exits_0() {
    let out = run(&[
        "check",
        "--fix",
        "tree/apps/web.yaml",
        "tree/platform/job.json",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "2 objects: 2 accepted\n");
    let (fixed, error) = read_documents(&out.stdout);
    assert_eq!(error, None);
    let inputs = ["tree/apps/web.yaml", "tree/platform/job.json"].map(|f| {
        let text = std::fs::read_to_string(support::data_dir().join(f)).unwrap();
        to_json(&read_documents(&text).0[0]).unwrap()
    });
    let fixed: Vec<Value> = fixed.iter().map(|d| to_json(d).unwrap()).collect();
    assert_eq!(fixed, inputs);
}

#[test]
fn help_says_that_fix_does_not_keep_comments_and_what_not_checked_and_not_served_mean() {
    let out = run(&["check", "--help"]);
    assert_eq!(out.status, 0);
    assert!(
        out.stdout.contains("Comments and formatting are not kept"),
        "{}",
        out.stdout
    );
    for flag in ["--settings", "--policy", "--fix", "--output"] {
        assert!(out.stdout.contains(flag), "{flag}");
    }
    for words in ["not checked, saying why", "reported as not served"] {
        assert!(
            out.stdout.replace('\n', " ").contains(words),
            "{words}: {}",
            out.stdout
        );
    }
}

#[test]
fn fix_warns_about_values_that_kubectl_may_read_otherwise() {
    let out = run(&["check", "--fix", "yaml-1.1.yaml"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "readonly-rootfs: yaml-1.1.yaml: document 1: warning: metadata.annotations.example.com/enabled: \"on\" is read as a string here; if it was not quoted, kubectl reads it as a boolean (YAML 1.1): check it in the output\n\
         readonly-rootfs: yaml-1.1.yaml: document 1: warning: spec.volumes[0].configMap.defaultMode: \"0644\" is read as a string here; if it was not quoted, kubectl reads it as an octal number (YAML 1.1): check it in the output\n\
         1 object: 1 accepted\n"
    );
    assert!(
        out.stdout.contains("defaultMode: '0644'\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_policy_s_warnings_are_printed_when_checking_and_when_fixing() {
    let warning = format!(
        "windows.yaml document 1: Pod win: accepted\n    warning: {}\n",
        readonly_rootfs_policy::evaluate::WINDOWS_WARNING
    );
    let check = run(&["check", "windows.yaml"]);
    assert_eq!(check.status, 0, "{}", check.stderr);
    assert_eq!(check.stdout, format!("{warning}1 object: 1 accepted\n"));
    let fix = run(&["check", "--fix", "windows.yaml"]);
    assert_eq!(fix.status, 0, "{}", fix.stderr);
    assert_eq!(fix.stderr, format!("{warning}1 object: 1 accepted\n"));
}

#[test]
fn a_list_whose_items_are_not_a_list_is_an_input_error() {
    let out = run_in(
        &support::data_dir(),
        &["check", "-"],
        "apiVersion: v1\nkind: List\nitems: {a: 1}\n",
    );
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        "readonly-rootfs: <stdin>: document 1: the List's items are not a list\n"
    );
}

#[test]
fn profiles_prints_every_profile_with_its_paths_and_sources() {
    let out = run(&["profiles"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    for profile in readonly_rootfs_policy::profiles::APPLICATION_PROFILES {
        assert!(
            out.stdout.lines().any(|line| line == profile.name),
            "{} has no heading:\n{}",
            profile.name,
            out.stdout
        );
        for source in profile.sources() {
            assert!(out.stdout.contains(source.source), "{}", source.path);
        }
    }
    let json = run(&["profiles", "--output", "json", "postgres"]);
    assert_eq!(json.status, 0, "{}", json.stderr);
    let records: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 1);
    assert_eq!(records[0]["name"], "postgres");
    assert_eq!(
        records[0]["repositories"],
        json!(["docker.io/library/postgres"])
    );
    assert_eq!(records[0]["paths"][0]["path"], "/var/run/postgresql");
    assert!(
        records[0]["paths"][1]["source"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
}

#[test]
fn profiles_rejects_an_unknown_name_listing_the_known_ones() {
    let out = run(&["profiles", "nginx", "ngnix"]);
    assert_eq!(out.status, 2);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.starts_with(
            "readonly-rootfs: \"ngnix\" is not a known application profile; the known profiles are: nginx, "
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn a_manifest_name_with_a_line_break_cannot_forge_a_report_line() {
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"web\\nevil.yaml document 9: Pod shop/fine: accepted\"\nspec:\n  containers:\n    - name: app\n      image: \"evil:1\\n- everything is fine\"\n";
    let out = run_in(&support::data_dir(), &["check", "-"], manifest);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(
            "<stdin> document 1: Pod web\\nevil.yaml document 9: Pod shop/fine: accepted: rejected\n"
        ),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout
            .lines()
            .any(|line| line.starts_with("evil.yaml")
                || line.trim_start().starts_with("- everything")),
        "{}",
        out.stdout
    );
}
