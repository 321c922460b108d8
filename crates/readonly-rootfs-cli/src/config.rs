//! The policy settings: from a settings file, from a policy manifest's
//! `spec.settings`, or none; validated exactly as `validate_settings` does.

use crate::yaml::{read_documents, to_json};
use readonly_rootfs_policy::settings::Settings;
use serde_json::{Value, json};
use std::path::Path;

/// Where the settings come from.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingsSource<'p> {
    /// No settings: `{}` (the policy's defaults).
    Defaults,
    /// A YAML or JSON file holding the settings object.
    File(&'p Path),
    /// A `ClusterAdmissionPolicy` or `AdmissionPolicy` manifest.
    Policy(&'p Path),
}

/// The policy kinds whose `spec.settings` can be used.
const POLICY_KINDS: [&str; 2] = ["ClusterAdmissionPolicy", "AdmissionPolicy"];

/// The settings object, checked with the policy's own validation. Errors
/// name the file; an invalid setting gets `validate_settings`'s message.
pub fn load(source: &SettingsSource) -> Result<Value, String> {
    let (path, settings) = match source {
        SettingsSource::Defaults => return Ok(json!({})),
        SettingsSource::File(path) => (path, read_single_document(path)?),
        SettingsSource::Policy(path) => (path, policy_settings(path, read_single_document(path)?)?),
    };
    Settings::from_json(&settings)
        .map_err(|message| format!("{}: invalid settings: {message}", path.display()))?;
    // `null` (an empty file, a policy without settings) means no settings.
    Ok(if settings.is_null() {
        json!({})
    } else {
        settings
    })
}

/// The settings with `mutate: true`, for `--fix`.
pub fn with_mutate(settings: &Value) -> Value {
    let mut settings = match settings {
        Value::Object(_) => settings.clone(),
        _ => json!({}),
    };
    settings["mutate"] = Value::Bool(true);
    settings
}

/// The one document of `path` as JSON (`null` for an empty file).
fn read_single_document(path: &Path) -> Result<Value, String> {
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
    let (documents, error) = read_documents(&text);
    if let Some(error) = error {
        return Err(format!(
            "{file}: document {}: {}",
            error.document, error.message
        ));
    }
    let documents: Vec<_> = documents.into_iter().filter(|d| !d.is_null()).collect();
    match documents.as_slice() {
        [] => Ok(Value::Null),
        [document] => to_json(document).map_err(|e| format!("{file}: {e}")),
        more => Err(format!(
            "{file}: has {} documents; give a file with one",
            more.len()
        )),
    }
}

fn policy_settings(path: &Path, policy: Value) -> Result<Value, String> {
    let kind = policy["kind"].as_str().unwrap_or_default();
    let api_version = policy["apiVersion"].as_str().unwrap_or_default();
    if !POLICY_KINDS.contains(&kind) || !api_version.starts_with("policies.kubewarden.io/") {
        return Err(format!(
            "{}: not a Kubewarden ClusterAdmissionPolicy or AdmissionPolicy (apiVersion {api_version:?}, kind {kind:?})",
            path.display()
        ));
    }
    Ok(policy["spec"]["settings"].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutate_is_forced_on_whatever_the_settings() {
        assert_eq!(with_mutate(&Value::Null), json!({"mutate": true}));
        assert_eq!(
            with_mutate(&json!({"mutate": false, "requiredWritablePaths": ["/tmp"]})),
            json!({"mutate": true, "requiredWritablePaths": ["/tmp"]})
        );
    }

    #[test]
    fn only_kubewarden_policies_give_settings() {
        let policy = json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "AdmissionPolicy",
                            "spec": {"settings": {"mutate": true}}});
        assert_eq!(
            policy_settings(Path::new("p.yaml"), policy).unwrap(),
            json!({"mutate": true})
        );
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment"});
        let error = policy_settings(Path::new("p.yaml"), deployment).unwrap_err();
        assert!(error.starts_with("p.yaml: not a Kubewarden"), "{error}");
    }
}
