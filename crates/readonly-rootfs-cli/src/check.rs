//! One object through the policy: the AdmissionRequest of its `CREATE`, the
//! waPC payload the engine would send, the core's verdict, and the JSON
//! patch the engine would compute from it.

use readonly_rootfs_policy::request::CheckedKind;
use readonly_rootfs_policy::{Verdict, evaluate_payload};
use serde_json::{Value, json};

/// What the policy decided for one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Not one of the kinds the policy checks: the policy would accept it
    /// unchanged (when the engine sends it at all).
    NotChecked,
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
            Decision::NotChecked => &[],
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
/// text, already validated).
pub fn evaluate_object(object: &Value, settings: &str) -> Decision {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let (group, version) = group_version(api_version);
    let Some(checked) = CheckedKind::from_group_kind(group, kind) else {
        return Decision::NotChecked;
    };
    let payload = payload(object, settings, group, version, kind, checked.resource());
    match evaluate_payload(payload.as_bytes()) {
        Verdict::Accept { warnings } => Decision::Accepted { warnings },
        Verdict::Reject { message, warnings } => Decision::Rejected { message, warnings },
        Verdict::Mutate {
            object: mutated,
            warnings,
        } => {
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

    #[test]
    fn kinds_are_matched_on_group_and_kind() {
        let mut not_apps = pod(json!({"name": "a"}));
        not_apps["apiVersion"] = json!("example.com/v1");
        assert_eq!(evaluate_object(&not_apps, "{}"), Decision::NotChecked);
        let mut config = pod(json!({"name": "a"}));
        config["kind"] = json!("ConfigMap");
        assert_eq!(evaluate_object(&config, "{}"), Decision::NotChecked);
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
