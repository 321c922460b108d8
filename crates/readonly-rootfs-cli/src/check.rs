//! One object through the policy: the AdmissionRequest of its `CREATE`, the
//! waPC payload the engine would send, the core's verdict, and the JSON
//! patch the engine would compute from it.

use crate::served::NotServed;
use readonly_rootfs_policy::request::CheckedKind;
use readonly_rootfs_policy::{Verdict, evaluate_payload};
use serde_json::{Value, json};

/// What the policy decided for one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Not one of the kinds the policy checks: the policy would accept it
    /// unchanged (when the engine sends it at all). `reason` says why, for
    /// the report: `not a kind the policy checks`, or the API group the
    /// policy checks a kind of that name in.
    NotChecked {
        reason: String,
    },
    Accepted {
        warnings: Vec<String>,
    },
    /// Accepted with changes: `object` is the policy's mutated object and
    /// `patch` the JSON patch the engine sends
    /// (`json_patch::diff(request.object, object)`).
    Mutated {
        object: Value,
        patch: Vec<Value>,
        warnings: Vec<String>,
    },
    Rejected {
        message: String,
        warnings: Vec<String>,
    },
}

impl Decision {
    pub fn allowed(&self) -> bool {
        !matches!(self, Decision::Rejected { .. })
    }

    pub fn warnings(&self) -> &[String] {
        match self {
            Decision::NotChecked { .. } => &[],
            Decision::Accepted { warnings }
            | Decision::Mutated { warnings, .. }
            | Decision::Rejected { warnings, .. } => warnings,
        }
    }
}

/// `apiVersion` split as Kubernetes does: `apps/v1` is group `apps`,
/// version `v1`; `v1` is the core group `""`.
pub fn group_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// Evaluates `object` as a `CREATE` with `settings` (the settings JSON
/// text, already validated). An object whose apiVersion Kubernetes no longer
/// serves for its kind ([`NotServed`]) is evaluated as the version that
/// replaced it (`extensions/v1beta1` DaemonSet as `apps/v1`): the pod
/// template is the same.
pub fn evaluate_object(object: &Value, settings: &str) -> Decision {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let (group, version) = match NotServed::find(api_version, kind) {
        Some(not_served) => not_served.checked_as(),
        None => group_version(api_version),
    };
    let Some(checked) = CheckedKind::from_group_kind(group, kind) else {
        return Decision::NotChecked {
            reason: not_checked_reason(group, kind),
        };
    };
    let payload = payload(object, settings, group, version, kind, checked.resource());
    match evaluate_payload(payload.as_bytes()) {
        Verdict::Accept { warnings } => Decision::Accepted { warnings },
        Verdict::Reject { message, warnings } => Decision::Rejected { message, warnings },
        Verdict::Mutate {
            object: mutated,
            warnings,
        } => match mutated.to_value() {
            Ok(mutated) => {
                let patch = json_patch::diff(object, &mutated);
                let patch = match serde_json::to_value(patch) {
                    Ok(Value::Array(operations)) => operations,
                    _ => Vec::new(),
                };
                Decision::Mutated {
                    object: mutated,
                    patch,
                    warnings,
                }
            }
            // The policy checked that the object is JSON; never hide it.
            Err(e) => Decision::Rejected {
                message: format!("the policy's mutated object could not be read: {e}"),
                warnings,
            },
        },
    }
}

/// Why an object of `group` and `kind` is not checked: the policy matches
/// kinds on API group and kind (any version), so a custom resource called
/// `Deployment` in another group is not an apps Deployment.
fn not_checked_reason(group: &str, kind: &str) -> String {
    let api_group = |group: &str| match group {
        "" => "the core API group".to_string(),
        group => format!("API group {group}"),
    };
    match CheckedKind::ALL.iter().find(|k| k.kind_name() == kind) {
        Some(checked) => format!(
            "the policy checks {kind} in {}, not {}",
            api_group(checked.group_kind().0),
            api_group(group)
        ),
        None => "not a kind the policy checks".to_string(),
    }
}

/// The `validate` payload, with the request's fields in the order
/// Kubewarden's policy-evaluator writes them (the core reads a CREATE in one
/// pass when `kind` and `operation` come before `object`).
fn payload(
    object: &Value,
    settings: &str,
    group: &str,
    version: &str,
    kind: &str,
    resource: &str,
) -> String {
    let metadata = &object["metadata"];
    let name = Value::from(metadata["name"].as_str().unwrap_or_default());
    let namespace = metadata["namespace"]
        .as_str()
        .map(|ns| format!(r#","namespace":{}"#, Value::from(ns)))
        .unwrap_or_default();
    let kind = json!({"group": group, "version": version, "kind": kind});
    let resource = json!({"group": group, "version": version, "resource": resource});
    format!(
        r#"{{"request":{{"uid":"readonly-rootfs-check","kind":{kind},"resource":{resource},"name":{name}{namespace},"operation":"CREATE","userInfo":{{}},"object":{object},"dryRun":false}},"settings":{settings}}}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(container: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
               "spec": {"containers": [container]}})
    }

    #[test]
    fn the_payload_is_the_engine_s_request() {
        let text = payload(&pod(json!({"name": "a"})), "{}", "", "v1", "Pod", "pods");
        let payload: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(payload["request"]["operation"], "CREATE");
        assert_eq!(
            payload["request"]["kind"],
            json!({"group": "", "version": "v1", "kind": "Pod"})
        );
        assert_eq!(payload["request"]["resource"]["resource"], "pods");
        assert_eq!(payload["request"]["namespace"], "ns");
        assert_eq!(payload["request"]["name"], "p");
        assert_eq!(payload["request"]["object"], pod(json!({"name": "a"})));
        assert_eq!(payload["settings"], json!({}));
    }

    fn not_checked(reason: &str) -> Decision {
        Decision::NotChecked {
            reason: reason.to_string(),
        }
    }

    #[test]
    fn kinds_are_matched_on_group_and_kind() {
        let mut not_core = pod(json!({"name": "a"}));
        not_core["apiVersion"] = json!("example.com/v1");
        assert_eq!(
            evaluate_object(&not_core, "{}"),
            not_checked("the policy checks Pod in the core API group, not API group example.com")
        );
        let mut core_deployment = pod(json!({"name": "a"}));
        core_deployment["kind"] = json!("Deployment");
        assert_eq!(
            evaluate_object(&core_deployment, "{}"),
            not_checked("the policy checks Deployment in API group apps, not the core API group")
        );
        let mut config = pod(json!({"name": "a"}));
        config["kind"] = json!("ConfigMap");
        assert_eq!(
            evaluate_object(&config, "{}"),
            not_checked("not a kind the policy checks")
        );
    }

    #[test]
    fn a_version_no_longer_served_is_evaluated_as_its_replacement() {
        let template = json!({"spec": {"containers": [{"name": "a"}]}});
        for (api_version, kind) in [
            ("extensions/v1beta1", "DaemonSet"),
            ("apps/v1beta2", "Deployment"),
        ] {
            let object = json!({"apiVersion": api_version, "kind": kind,
                                "metadata": {"name": "d"}, "spec": {"template": template}});
            let Decision::Rejected { message, .. } = evaluate_object(&object, "{}") else {
                panic!("{api_version} {kind} not rejected");
            };
            assert!(
                message.contains("(spec.template.spec.containers[0])"),
                "{message}"
            );
        }
        // Never served in extensions: not checked, and the report says where.
        let statefulset = json!({"apiVersion": "extensions/v1beta1", "kind": "StatefulSet",
                                 "metadata": {"name": "s"}, "spec": {"template": template}});
        assert_eq!(
            evaluate_object(&statefulset, "{}"),
            not_checked(
                "the policy checks StatefulSet in API group apps, not API group extensions"
            )
        );
    }

    #[test]
    fn verdicts_come_from_the_core() {
        let compliant =
            pod(json!({"name": "a", "securityContext": {"readOnlyRootFilesystem": true}}));
        assert_eq!(
            evaluate_object(&compliant, "{}"),
            Decision::Accepted { warnings: vec![] }
        );
        let writable = pod(json!({"name": "a"}));
        let Decision::Rejected { message, .. } = evaluate_object(&writable, "{}") else {
            panic!("not rejected");
        };
        assert!(message.contains("securityContext.readOnlyRootFilesystem is not set"));
        let Decision::Mutated { object, patch, .. } =
            evaluate_object(&writable, r#"{"mutate":true}"#)
        else {
            panic!("not mutated");
        };
        assert_eq!(
            object["spec"]["containers"][0]["securityContext"],
            json!({"readOnlyRootFilesystem": true})
        );
        assert_eq!(
            patch,
            vec![
                json!({"op": "add", "path": "/spec/containers/0/securityContext",
                        "value": {"readOnlyRootFilesystem": true}})
            ]
        );
    }
}
