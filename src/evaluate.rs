//! The policy decision, pure Rust with no waPC in it:
//! `evaluate(request, &settings) -> Verdict`.

use crate::mutate;
use crate::podspec::PodSpecView;
use crate::request::{
    AdmissionRequest, CheckedKind, OnePassPayload, OnePassRequest, ValidationPayload, read_at,
    read_pod_spec,
};
use crate::settings::Settings;
use crate::validate::{self, Scope};
use serde_json::Value;
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Accept {
        warnings: Vec<String>,
    },
    /// Accept the request with this object in place of the request's.
    Mutate {
        object: Value,
        warnings: Vec<String>,
    },
    /// Reject with this message. Warnings (subPath, remount) ride along:
    /// the API server shows a webhook's warnings whatever its verdict.
    Reject {
        message: String,
        warnings: Vec<String>,
    },
}

impl Verdict {
    fn accept() -> Verdict {
        Verdict::Accept {
            warnings: Vec::new(),
        }
    }

    fn reject(message: impl Into<String>) -> Verdict {
        Verdict::Reject {
            message: message.into(),
            warnings: Vec::new(),
        }
    }
}

pub const WINDOWS_WARNING: &str = "the read-only root filesystem policy did not check this Windows pod: Kubernetes does not allow securityContext.readOnlyRootFilesystem on Windows containers";

/// Decodes a raw waPC `validate` payload and evaluates it. Any payload gets a
/// verdict; one that cannot be read is rejected with the reason.
pub fn evaluate_payload(payload: &[u8]) -> Verdict {
    let text = match std::str::from_utf8(payload) {
        Ok(text) => text,
        Err(e) => {
            return Verdict::reject(format!("the validation payload is not valid UTF-8: {e}"));
        }
    };
    // Fast path: one pass over the payload, reading the pod spec of a CREATE
    // on the way. Anything it refuses (malformed input, duplicate fields)
    // goes to the reference path, which reads the same fields with objects
    // kept raw and says what could not be read; where both succeed they
    // reach the same verdict.
    let payload: OnePassPayload = match serde_json::from_str(text) {
        Ok(payload) => payload,
        Err(_) => return evaluate_reference(text),
    };
    let settings = match read_settings(payload.settings) {
        Ok(settings) => settings,
        Err(verdict) => return verdict,
    };
    match payload.request {
        None => Verdict::reject("the validation payload has no request"),
        Some(OnePassRequest {
            request,
            pod_spec: None,
        }) => evaluate(&request, &settings),
        Some(OnePassRequest {
            request,
            pod_spec: Some(spec),
        }) => evaluate_source(
            &request,
            &settings,
            Source::ReadInPayload {
                spec: &spec,
                payload: text,
            },
        ),
    }
}

/// The reference path: the payload read with its objects kept as raw text,
/// each read afterwards, every error named.
fn evaluate_reference(text: &str) -> Verdict {
    let payload: ValidationPayload = match serde_json::from_str(text) {
        Ok(payload) => payload,
        Err(_) => return Verdict::reject(payload_error(text)),
    };
    let settings = match read_settings(payload.settings) {
        Ok(settings) => settings,
        Err(verdict) => return verdict,
    };
    match payload.request {
        None => Verdict::reject("the validation payload has no request"),
        Some(request) => evaluate(&request, &settings),
    }
}

thread_local! {
    /// The last valid settings read, keyed by their JSON text: a policy
    /// instance gets the same settings with every request, so their
    /// validation (settings may hold many exemptions) runs once, not per
    /// request. One entry; any other text is read afresh.
    static SETTINGS: RefCell<Option<(Box<str>, Rc<Settings>)>> = const { RefCell::new(None) };
}

fn read_settings(raw: Option<&RawValue>) -> Result<Rc<Settings>, Verdict> {
    let Some(raw) = raw else {
        return Ok(Rc::new(Settings::default()));
    };
    let text = raw.get();
    let cached = SETTINGS.with_borrow(|cache| match cache {
        Some((key, settings)) if **key == *text => Some(Rc::clone(settings)),
        _ => None,
    });
    if let Some(settings) = cached {
        return Ok(settings);
    }
    match Settings::from_slice(text.as_bytes()) {
        Ok(settings) => {
            let settings = Rc::new(settings);
            SETTINGS.set(Some((text.into(), Rc::clone(&settings))));
            Ok(settings)
        }
        Err(e) => Err(Verdict::reject(format!("invalid policy settings: {e}"))),
    }
}

/// Error path only: re-reads the payload tracking where it failed.
fn payload_error(text: &str) -> String {
    let mut de = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, ValidationPayload>(&mut de) {
        Ok(_) => "the validation payload could not be read".to_string(),
        Err(e) if e.path().to_string() == "." => {
            format!("the validation payload could not be read: {}", e.inner())
        }
        Err(e) => format!(
            "the validation payload could not be read: {}: {}",
            e.path(),
            e.inner()
        ),
    }
}

pub fn evaluate(request: &AdmissionRequest, settings: &Settings) -> Verdict {
    evaluate_source(request, settings, Source::Raw)
}

/// Where the request's object is read from.
#[derive(Clone, Copy)]
enum Source<'s, 'a> {
    /// `request.object`, kept as raw JSON text.
    Raw,
    /// A CREATE whose pod spec was read in the payload pass
    /// ([`OnePassRequest`]); the object itself, needed only to mutate it, is
    /// `request.object` of `payload`.
    ReadInPayload {
        spec: &'s Option<PodSpecView<'a>>,
        payload: &'a str,
    },
}

fn evaluate_source(request: &AdmissionRequest, settings: &Settings, source: Source) -> Verdict {
    match request.operation.as_deref() {
        Some("DELETE") | Some("CONNECT") => return Verdict::accept(),
        Some("CREATE") | Some("UPDATE") => {}
        Some(other) => return Verdict::reject(format!("unknown admission operation \"{other}\"")),
        None => return Verdict::reject("the admission request has no operation"),
    }
    let Some(gvk) = &request.kind else {
        return Verdict::reject("the admission request has no kind");
    };
    let Some(kind) = CheckedKind::from_group_kind(&gvk.group, &gvk.kind) else {
        return Verdict::accept();
    };
    let raw_spec;
    let spec = match source {
        Source::ReadInPayload { spec, .. } => spec.as_ref(),
        Source::Raw => {
            let Some(object) = request.object else {
                return Verdict::reject(format!(
                    "the {} admission request has no object",
                    kind.kind_name()
                ));
            };
            match read_pod_spec(object.get(), kind) {
                Ok(spec) => {
                    raw_spec = spec;
                    raw_spec.as_ref()
                }
                Err(e) => {
                    return Verdict::reject(format!(
                        "the {} could not be read: {e}",
                        kind.kind_name()
                    ));
                }
            }
        }
    };
    let Some(spec) = spec else {
        return Verdict::reject(format!(
            "the {} has no pod spec at {}",
            kind.kind_name(),
            kind.pod_spec_field()
        ));
    };
    if spec.is_windows() {
        return Verdict::Accept {
            warnings: vec![WINDOWS_WARNING.to_string()],
        };
    }
    let is_update = request.operation.as_deref() == Some("UPDATE");
    // Outlives the match: the scope borrows the old pod's container names.
    let old_spec: Option<PodSpecView>;
    let (scope, mutation) = match (is_update, kind, request.old_object) {
        (false, _, _) => (Scope::AllContainers, Mutation::Full),
        (true, CheckedKind::Pod, old) => {
            old_spec = match old.map(|o| read_pod_spec(o.get(), kind)) {
                Some(Ok(old_spec)) => old_spec,
                Some(Err(e)) => {
                    return Verdict::reject(format!("the old Pod could not be read: {e}"));
                }
                None => None,
            };
            let old_images: HashMap<&str, Option<&str>> = old_spec
                .as_ref()
                .map(|s| s.container_images().collect())
                .unwrap_or_default();
            // New debug containers may only be edited through this
            // subresource; a container whose image changed never (its
            // securityContext cannot change on a running pod).
            let mutation = if request.sub_resource.as_deref() == Some("ephemeralcontainers") {
                Mutation::RootFilesystemOnly
            } else {
                Mutation::None
            };
            (Scope::PodUpdate { old_images }, mutation)
        }
        (true, _, Some(old)) => match request
            .object
            .map(|new| template_unchanged(new.get(), old.get(), kind))
        {
            Some(Ok(true)) => return Verdict::accept(),
            // (No new object cannot happen here: it was read above.)
            Some(Ok(false)) | None => (Scope::AllContainers, Mutation::Full),
            Some(Err(e)) => return Verdict::reject(e),
        },
        // No old object to compare with: check as on CREATE (fail closed).
        (true, _, None) => (Scope::AllContainers, Mutation::Full),
    };
    check(request, kind, spec, settings, scope, mutation, source)
}

/// What mutation may do for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    None,
    /// Set readOnlyRootFilesystem only: the pod's volumes cannot change.
    RootFilesystemOnly,
    Full,
}

fn check(
    request: &AdmissionRequest,
    kind: CheckedKind,
    spec: &PodSpecView,
    settings: &Settings,
    scope: Scope,
    mutation: Mutation,
    source: Source,
) -> Verdict {
    // Most requests comply: say so without collecting findings.
    let validate::Scan {
        all_compliant,
        warnings,
    } = validate::scan(spec, settings, &scope, kind.pod_spec_field());
    if all_compliant {
        return Verdict::Accept { warnings };
    }
    let findings = validate::inspect(spec, settings, &scope);
    if findings.iter().all(validate::Finding::is_compliant) {
        return Verdict::Accept { warnings };
    }
    if !settings.mutate || mutation == Mutation::None {
        let violations = validate::violations(&findings);
        return reject_violations(kind, &violations, warnings);
    }
    let plan = mutate::plan(&findings, spec, mutation == Mutation::Full);
    if !plan.unfixable.is_empty() {
        return reject_violations(kind, &plan.unfixable, warnings);
    }
    let mut object: Value = match source {
        Source::Raw => {
            let Some(raw) = request.object else {
                return Verdict::reject("the admission request has no object");
            };
            match serde_json::from_str(raw.get()) {
                Ok(object) => object,
                Err(e) => {
                    return Verdict::reject(format!(
                        "the {} could not be read: {e}",
                        kind.kind_name()
                    ));
                }
            }
        }
        // Straight from the payload into a Value, skipping the rest. Should
        // that fail (a number out of f64 range, say), the reference path
        // gives the verdict and the message it always gives.
        Source::ReadInPayload { payload, .. } => {
            match read_at::<Value>(payload, &["request", "object"]) {
                Ok(Some(object)) => object,
                _ => return evaluate_reference(payload),
            }
        }
    };
    match mutate::apply(
        &mut object,
        kind.pod_spec_path(),
        &plan.fixes,
        &settings.writable_volume,
    ) {
        Ok(()) => Verdict::Mutate { object, warnings },
        Err(e) => Verdict::reject(e),
    }
}

fn reject_violations(
    kind: CheckedKind,
    violations: &[validate::Violation],
    warnings: Vec<String>,
) -> Verdict {
    Verdict::Reject {
        message: validate::rejection_message(kind.kind_name(), kind.pod_spec_field(), violations),
        warnings,
    }
}

/// Whether a workload UPDATE leaves the pod template as it was.
fn template_unchanged(new: &str, old: &str, kind: CheckedKind) -> Result<bool, String> {
    let Some(path) = kind.pod_template_path() else {
        return Ok(false);
    };
    let new_template = read_at::<Value>(new, path)
        .map_err(|e| format!("the {} could not be read: {e}", kind.kind_name()))?;
    let old_template = read_at::<Value>(old, path)
        .map_err(|e| format!("the old {} could not be read: {e}", kind.kind_name()))?;
    Ok(new_template == old_template)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Payloads are written as text: the field order matters to the one-pass
    // read, and serde_json::Value would sort the keys.

    fn payload(request: &str, settings: Value) -> String {
        format!(r#"{{"request":{request},"settings":{settings}}}"#)
    }

    /// A request in the field order policy-evaluator serialises.
    fn request(kind: &Value, operation: &str, object: &Value, old: Option<&Value>) -> String {
        let old = old
            .map(|o| format!(r#","oldObject":{o}"#))
            .unwrap_or_default();
        format!(
            r#"{{"uid":"u","kind":{kind},"resource":{{}},"operation":"{operation}","userInfo":{{}},"object":{object}{old},"dryRun":false}}"#
        )
    }

    fn create(kind: &Value, object: &Value) -> String {
        request(kind, "CREATE", object, None)
    }

    fn pod(containers: &Value) -> Value {
        json!({"metadata": {"name": "p", "creationTimestamp": null}, "spec": {"containers": containers}})
    }

    fn pod_kind() -> Value {
        json!({"group": "", "version": "v1", "kind": "Pod"})
    }

    /// The one-pass path must reach the verdict of the reference path,
    /// messages included, on every input.
    fn same_as_reference(text: &str) -> Verdict {
        let verdict = evaluate_payload(text.as_bytes());
        assert_eq!(verdict, evaluate_reference(text), "payload: {text}");
        verdict
    }

    fn read_on_the_way(text: &str) -> bool {
        let payload: OnePassPayload = serde_json::from_str(text).unwrap();
        let request = payload.request.unwrap();
        assert!(request.pod_spec.is_none() || request.request.object.is_none());
        request.pod_spec.is_some()
    }

    #[test]
    fn one_pass_agrees_with_the_reference_path() {
        let compliant = json!([{"name": "a", "securityContext": {"readOnlyRootFilesystem": true}}]);
        let violating = json!([{"name": "a", "image": "i", "ports": [{"containerPort": 80}]}]);
        let tmp = json!({"requiredWritablePaths": ["/tmp"]});
        let mutate = json!({"mutate": true, "requiredWritablePaths": ["/tmp"]});
        let deployment = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
        let cronjob = json!({"group": "batch", "version": "v1", "kind": "CronJob"});
        let template = |containers: &Value| json!({"spec": {"template": {"spec": {"containers": containers}}}});
        // CREATEs of checked kinds: read in one pass.
        let one_pass = [
            (create(&pod_kind(), &pod(&compliant)), json!({})),
            (create(&pod_kind(), &pod(&violating)), json!({})),
            (create(&pod_kind(), &pod(&violating)), tmp.clone()),
            (create(&pod_kind(), &pod(&violating)), mutate.clone()),
            (create(&pod_kind(), &pod(&compliant)), mutate.clone()),
            (create(&deployment, &template(&violating)), mutate.clone()),
            (
                create(
                    &cronjob,
                    &json!({"spec": {"jobTemplate": template(&violating)}}),
                ),
                json!({}),
            ),
            // objects without a pod spec, or a spec that cannot be read
            (create(&pod_kind(), &json!({"metadata": {}})), json!({})),
            (create(&pod_kind(), &json!({"spec": null})), json!({})),
            (
                create(&pod_kind(), &json!({"spec": {"containers": "x"}})),
                json!({}),
            ),
            (
                create(
                    &pod_kind(),
                    &pod(&json!([{"name": "a", "securityContext": 5}])),
                ),
                json!({}),
            ),
            (create(&pod_kind(), &json!(5)), json!({})),
            (
                create(&deployment, &json!({"spec": {"template": 7}})),
                json!({}),
            ),
            (
                create(
                    &pod_kind(),
                    &json!({"spec": {"os": {"name": "windows"}, "containers": violating}}),
                ),
                json!({}),
            ),
            // invalid settings
            (create(&pod_kind(), &pod(&compliant)), json!({"mutate": 1})),
        ];
        for (request, settings) in &one_pass {
            let text = payload(request, settings.clone());
            same_as_reference(&text);
            if serde_json::from_str::<OnePassPayload>(&text).is_ok() {
                assert!(read_on_the_way(&text), "{text}");
            }
        }
        // Everything else keeps its objects raw, as the reference path does.
        let raw = [
            (create(&pod_kind(), &json!(null)), json!({})),
            (
                request(&pod_kind(), "UPDATE", &pod(&violating), Some(&pod(&compliant))),
                json!({}),
            ),
            (
                request(
                    &deployment,
                    "UPDATE",
                    &template(&violating),
                    Some(&template(&compliant)),
                ),
                mutate.clone(),
            ),
            (
                create(&json!({"kind": "ConfigMap"}), &json!({"data": {}})),
                json!({}),
            ),
            (request(&pod_kind(), "DELETE", &json!(null), None), json!({})),
            // object before kind or operation
            (
                r#"{"object":{"spec":{"containers":[{"name":"a"}]}},"operation":"CREATE","kind":{"kind":"Pod"}}"#.to_string(),
                json!({}),
            ),
            (
                r#"{"kind":{"kind":"Pod"},"object":{"spec":{"containers":[{"name":"a"}]}},"operation":"CREATE"}"#.to_string(),
                mutate.clone(),
            ),
        ];
        for (request, settings) in &raw {
            let text = payload(request, settings.clone());
            same_as_reference(&text);
            assert!(!read_on_the_way(&text), "{text}");
        }
        let no_request = json!({"settings": {}}).to_string();
        assert_eq!(
            same_as_reference(&no_request),
            Verdict::reject("the validation payload has no request")
        );
    }

    #[test]
    fn what_one_pass_refuses_the_reference_path_names() {
        let object = r#"{"spec":{"containers":[{"name":"a"}]}}"#;
        let texts = [
            // duplicate fields
            format!(
                r#"{{"request":{{"kind":{{"kind":"Pod"}},"operation":"CREATE","object":{object},"object":{object}}}}}"#
            ),
            format!(
                r#"{{"request":{{"kind":{{"kind":"Pod"}},"operation":"CREATE","operation":"DELETE","object":{object}}}}}"#
            ),
            // a request given as an array of field values
            format!(r#"{{"request":[{{"kind":"Pod"}},null,"CREATE",{object}]}}"#),
            // duplicate container fields, trailing garbage, invalid JSON
            r#"{"request":{"kind":{"kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":[{"name":"a","name":"b"}]}}}}"#.to_string(),
            format!(
                r#"{{"request":{{"kind":{{"kind":"Pod"}},"operation":"CREATE","object":{object}}}}} x"#
            ),
            r#"{"request":{"kind":{"kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":[{"name":tru}]}}}}"#.to_string(),
            // a number a serde_json::Value cannot hold, in an object to mutate
            r#"{"request":{"kind":{"kind":"Pod"},"operation":"CREATE","object":{"metadata":{"x":1e400},"spec":{"containers":[{"name":"a"}]}}},"settings":{"mutate":true}}"#.to_string(),
        ];
        for text in &texts {
            same_as_reference(text);
        }
    }

    #[test]
    fn settings_are_reused_only_for_the_same_text() {
        let request = create(
            &pod_kind(),
            &pod(&json!([{"name": "a", "securityContext": {"readOnlyRootFilesystem": true}}])),
        );
        let exempt = json!({"exemptContainers": ["a"], "requiredWritablePaths": ["/tmp"]});
        let strict = json!({"requiredWritablePaths": ["/tmp"]});
        for _ in 0..2 {
            let accepted = evaluate_payload(payload(&request, exempt.clone()).as_bytes());
            assert_eq!(accepted, Verdict::accept());
            let rejected = evaluate_payload(payload(&request, strict.clone()).as_bytes());
            assert!(matches!(rejected, Verdict::Reject { .. }), "{rejected:?}");
            let invalid = evaluate_payload(payload(&request, json!({"mutate": "yes"})).as_bytes());
            assert!(
                matches!(&invalid, Verdict::Reject { message, .. } if message.starts_with("invalid policy settings")),
                "{invalid:?}"
            );
        }
    }
}
