//! The policy decision, pure Rust with no waPC in it:
//! `evaluate(request, &settings) -> Verdict`.

use crate::mutate;
use crate::podspec::PodSpecView;
use crate::request::{AdmissionRequest, CheckedKind, Reading, ValidationPayload, Which};
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
        object: MutatedObject,
        warnings: Vec<String>,
    },
    /// Reject with this message. Warnings (subPath, remount) ride along:
    /// the API server shows a webhook's warnings whatever its verdict.
    Reject {
        message: String,
        warnings: Vec<String>,
    },
}

/// The object a mutation returns: the request's object as JSON text with
/// the policy's edits spliced in (see `mutate::apply`). The waPC shell
/// checks that it is JSON as it encodes it; tools read it with `to_value`.
#[derive(Debug, Clone, PartialEq)]
pub struct MutatedObject(pub(crate) String);

impl MutatedObject {
    /// The object's JSON text.
    pub fn json(&self) -> &str {
        &self.0
    }

    /// The object as a `serde_json::Value`.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

impl Verdict {
    fn accept() -> Verdict {
        Verdict::Accept {
            warnings: Vec::new(),
        }
    }

    /// A rejection for a request that cannot be read or is not allowed. The
    /// message may embed text of the request (a parser's error quoting a
    /// key): it is made line-safe, so it cannot forge lines.
    fn reject(message: impl Into<String>) -> Verdict {
        let message = message.into();
        Verdict::Reject {
            message: crate::escape::line_safe(&message),
            warnings: Vec::new(),
        }
    }
}

pub const WINDOWS_WARNING: &str = "the read-only root filesystem policy did not check this Windows pod: Kubernetes does not allow securityContext.readOnlyRootFilesystem on Windows containers";

/// Decodes a raw waPC `validate` payload and evaluates it. Any payload gets a
/// verdict; one that cannot be read is rejected with the reason. Only what
/// the decision needs is read from the request's objects.
pub fn evaluate_payload(payload: &[u8]) -> Verdict {
    let text = match std::str::from_utf8(payload) {
        Ok(text) => text,
        Err(e) => {
            return Verdict::reject(format!("the validation payload is not valid UTF-8: {e}"));
        }
    };
    // Any failure of the one-pass reading is decided by the raw reading,
    // whose errors name the field (see `request`).
    let payload = match ValidationPayload::read(text, Reading::OnePass) {
        Ok(payload) => payload,
        Err(_) => match ValidationPayload::read(text, Reading::Raw) {
            Ok(payload) => payload,
            Err(_) => return Verdict::reject(payload_error(text)),
        },
    };
    let settings = match read_settings(payload.settings) {
        Ok(settings) => settings,
        Err(verdict) => return verdict,
    };
    match payload.request {
        None => Verdict::reject("the validation payload has no request"),
        Some(request) => evaluate(request, &settings),
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
    match ValidationPayload::read_error(text) {
        None => "the validation payload could not be read".to_string(),
        Some((path, e)) if path == "." => {
            format!("the validation payload could not be read: {e}")
        }
        Some((path, e)) => format!("the validation payload could not be read: {path}: {e}"),
    }
}

pub fn evaluate(mut request: AdmissionRequest, settings: &Settings) -> Verdict {
    match request.operation.as_deref() {
        Some("DELETE") | Some("CONNECT") => return Verdict::accept(),
        Some("CREATE") | Some("UPDATE") => {}
        Some(other) => {
            return Verdict::reject(format!(
                "unknown admission operation {}",
                crate::escape::quoted(other)
            ));
        }
        None => return Verdict::reject("the admission request has no operation"),
    }
    let Some(gvk) = &request.kind else {
        return Verdict::reject("the admission request has no kind");
    };
    let Some(kind) = CheckedKind::from_group_kind(&gvk.group, &gvk.kind) else {
        return Verdict::accept();
    };
    if request.object.is_none() {
        return Verdict::reject(format!(
            "the {} admission request has no object",
            kind.kind_name()
        ));
    }
    let spec = match request.take_pod_spec(Which::Object, kind) {
        Ok(spec) => spec,
        Err(e) => {
            return Verdict::reject(format!("the {} could not be read: {e}", kind.kind_name()));
        }
    };
    let Some(spec) = &spec else {
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
    let has_old_object = request.old_object.is_some();
    let (scope, mutation) = match (is_update, kind, has_old_object) {
        (false, _, _) => (Scope::AllContainers, Mutation::Full),
        (true, CheckedKind::Pod, _) => {
            old_spec = match request.take_pod_spec(Which::OldObject, kind) {
                Ok(old_spec) => old_spec,
                Err(e) => {
                    return Verdict::reject(format!("the old Pod could not be read: {e}"));
                }
            };
            let mut old_images: HashMap<&str, Vec<Option<&str>>> = HashMap::new();
            for (name, image) in old_spec.iter().flat_map(PodSpecView::container_images) {
                old_images.entry(name).or_default().push(image);
            }
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
        (true, _, true) => match template_unchanged(&request, kind) {
            Ok(true) => return Verdict::accept(),
            Ok(false) => (Scope::AllContainers, Mutation::Full),
            Err(e) => return Verdict::reject(e),
        },
        // No old object to compare with: check as on CREATE (fail closed).
        (true, _, false) => (Scope::AllContainers, Mutation::Full),
    };
    check(&request, kind, spec, settings, scope, mutation)
}

/// What mutation may do for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    None,
    /// Set readOnlyRootFilesystem only: the pod's volumes cannot change.
    RootFilesystemOnly,
    Full,
}

/// The verdict on `spec`, the pod spec of the request's object (whose JSON
/// text is parsed only to mutate it).
fn check(
    request: &AdmissionRequest,
    kind: CheckedKind,
    spec: &PodSpecView,
    settings: &Settings,
    scope: Scope,
    mutation: Mutation,
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
    let object = match request.text_of(Which::Object) {
        Ok(Some(object)) => object,
        // (It was read above; cannot happen, but never fail open.)
        Ok(None) => {
            return Verdict::reject(format!(
                "the {} admission request has no object",
                kind.kind_name()
            ));
        }
        Err(e) => {
            return Verdict::reject(format!("the {} could not be read: {e}", kind.kind_name()));
        }
    };
    match mutate::apply(
        object,
        kind.pod_spec_path(),
        &plan.fixes,
        &settings.writable_volume,
    ) {
        Ok(object) => Verdict::Mutate {
            object: MutatedObject(object),
            warnings,
        },
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
fn template_unchanged(request: &AdmissionRequest, kind: CheckedKind) -> Result<bool, String> {
    let Some(path) = kind.pod_template_path() else {
        return Ok(false);
    };
    let new_template = request
        .value_at(Which::Object, path)
        .map_err(|e| format!("the {} could not be read: {e}", kind.kind_name()))?;
    let old_template = request
        .value_at(Which::OldObject, path)
        .map_err(|e| format!("the old {} could not be read: {e}", kind.kind_name()))?;
    Ok(new_template == old_template)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Payloads are written as text, in the field order policy-evaluator
    // serialises (serde_json::Value would sort the keys).

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

    fn rejection(text: &str) -> String {
        match evaluate_payload(text.as_bytes()) {
            Verdict::Reject { message, .. } => message,
            other => panic!("expected a rejection of {text}, got {other:?}"),
        }
    }

    #[test]
    fn malformed_payloads_are_rejected_saying_what_could_not_be_read() {
        let object = r#"{"spec":{"containers":[{"name":"a"}]}}"#;
        let duplicate_object = format!(
            r#"{{"request":{{"kind":{{"kind":"Pod"}},"operation":"CREATE","object":{object},"object":{object}}}}}"#
        );
        assert!(
            rejection(&duplicate_object).starts_with(
                "the validation payload could not be read: request: duplicate field `object`"
            ),
            "{}",
            rejection(&duplicate_object)
        );
        let duplicate_name = r#"{"request":{"kind":{"kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":[{"name":"a","name":"b"}]}}}}"#;
        assert!(
            rejection(duplicate_name).starts_with(
                "the Pod could not be read: spec.containers[0]: duplicate field `name`"
            ),
            "{}",
            rejection(duplicate_name)
        );
        let trailing = format!(
            r#"{{"request":{{"kind":{{"kind":"Pod"}},"operation":"CREATE","object":{object}}}}} x"#
        );
        assert!(
            rejection(&trailing)
                .starts_with("the validation payload could not be read: trailing characters"),
            "{}",
            rejection(&trailing)
        );
        let invalid = r#"{"request":{"kind":{"kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":[{"name":tru}]}}}}"#;
        assert!(
            rejection(invalid).starts_with("the validation payload could not be read: "),
            "{}",
            rejection(invalid)
        );
        assert_eq!(
            rejection(&json!({"settings": {}}).to_string()),
            "the validation payload has no request"
        );
        // Field order does not matter: the object may come first.
        let object_first = r#"{"request":{"object":{"spec":{"containers":[{"name":"a"}]}},"operation":"CREATE","kind":{"kind":"Pod"}}}"#;
        assert!(rejection(object_first).contains("- container \"a\" (spec.containers[0])"));
    }

    #[test]
    fn workload_updates_check_only_a_changed_template() {
        let violating = json!([{"name": "a", "image": "i"}]);
        let compliant = json!([{"name": "a", "image": "i", "securityContext": {"readOnlyRootFilesystem": true}}]);
        let deployment = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
        let template = |containers: &Value, replicas: u32| json!({"spec": {"replicas": replicas, "template": {"spec": {"containers": containers}}}});
        let scale = request(
            &deployment,
            "UPDATE",
            &template(&violating, 3),
            Some(&template(&violating, 1)),
        );
        assert_eq!(
            evaluate_payload(payload(&scale, json!({})).as_bytes()),
            Verdict::accept()
        );
        let change = request(
            &deployment,
            "UPDATE",
            &template(&violating, 1),
            Some(&template(&compliant, 1)),
        );
        assert!(rejection(&payload(&change, json!({}))).starts_with("Deployment rejected"));
    }

    /// Found by fuzzing: an old pod repeating a container name (which the
    /// API server never admits) made an unchanged container look changed.
    #[test]
    fn an_unchanged_pod_repeating_a_name_has_no_image_change() {
        let spec = json!({"spec": {
            "initContainers": [{"name": "sidecar", "securityContext": {"readOnlyRootFilesystem": true}}],
            "containers": [{"name": "sidecar", "image": "nginx:1.27"}]
        }});
        let update = request(&pod_kind(), "UPDATE", &spec, Some(&spec));
        assert_eq!(
            evaluate_payload(payload(&update, json!({})).as_bytes()),
            Verdict::accept()
        );
        let mut swapped = spec.clone();
        swapped["spec"]["containers"][0]["image"] = json!("evil:1");
        let update = request(&pod_kind(), "UPDATE", &swapped, Some(&spec));
        assert!(
            rejection(&payload(&update, json!({})))
                .contains("its image changed from no image to \"evil:1\""),
            "{}",
            rejection(&payload(&update, json!({})))
        );
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
