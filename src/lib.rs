//! waPC entry points only: decode, call the pure core, encode.
//! The policy logic lives in `evaluate` (no waPC in it) and is unit-tested
//! natively. The encoding and the entry points need Kubewarden's SDK and
//! are behind the `wapc` feature (on by default); native users of the core
//! alone, such as the `readonly-rootfs` CLI, turn it off.

pub mod escape;
pub mod evaluate;
pub mod image;
pub mod mutate;
pub mod podspec;
pub mod profiles;
pub mod request;
pub mod selector;
pub mod settings;
pub mod validate;

pub use evaluate::{MutatedObject, Verdict, evaluate, evaluate_payload};

#[cfg(feature = "wapc")]
use kubewarden_policy_sdk::settings::SettingsValidationResponse;

/// Kubewarden's ValidationResponse (the SDK's `ValidationResponse`, field
/// for field) with the mutated object as JSON text: the object the mutation
/// spliced its edits into goes out without being parsed into a tree and
/// printed again. A test checks that the SDK's type reads it back.
#[cfg(feature = "wapc")]
#[derive(serde::Serialize)]
struct ValidationResponse<'a> {
    accepted: bool,
    message: Option<String>,
    code: Option<u16>,
    mutated_object: Option<&'a serde_json::value::RawValue>,
    audit_annotations: Option<std::collections::HashMap<String, String>>,
    warnings: Option<Vec<String>>,
}

/// Encodes a verdict as Kubewarden's ValidationResponse.
#[cfg(feature = "wapc")]
pub fn encode_verdict(verdict: Verdict) -> Vec<u8> {
    let (mut accepted, mut message, object, warnings) = match verdict {
        Verdict::Accept { warnings } => (true, None, None, warnings),
        Verdict::Mutate { object, warnings } => (true, None, Some(object), warnings),
        Verdict::Reject { message, warnings } => (false, Some(message), None, warnings),
    };
    // Reading the object's text as a raw value checks that it is JSON.
    let mutated_object = match object.as_ref().map(|o| serde_json::from_str(o.json())) {
        Some(Ok(raw)) => Some(raw),
        // A bug in the splicing: never fail open.
        Some(Err(e)) => {
            accepted = false;
            message = Some(format!(
                "the policy could not encode the mutated object: {e}"
            ));
            None
        }
        None => None,
    };
    let response = ValidationResponse {
        accepted,
        message,
        code: None,
        mutated_object,
        audit_annotations: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
    };
    // Serialising these plain types cannot fail; if it ever did, reject
    // rather than return a guest error (never fail open, never trap).
    serde_json::to_vec(&response).unwrap_or_else(|_| {
        br#"{"accepted":false,"message":"the policy could not encode its response"}"#.to_vec()
    })
}

/// `validate_settings`: the payload is the settings object itself.
#[cfg(feature = "wapc")]
pub fn settings_validation(payload: &[u8]) -> Vec<u8> {
    let response = match settings::Settings::from_slice(payload) {
        Ok(_) => SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(message) => SettingsValidationResponse {
            valid: false,
            message: Some(message),
        },
    };
    serde_json::to_vec(&response).unwrap_or_else(|_| {
        br#"{"valid":false,"message":"the policy could not encode its response"}"#.to_vec()
    })
}

#[cfg(all(target_arch = "wasm32", feature = "wapc"))]
mod wapc_entry_points {
    use wapc_guest::{CallResult, register_function};

    #[unsafe(no_mangle)]
    pub extern "C" fn wapc_init() {
        // Before anything reads memory: spares policy-server a TLB flush
        // per request (crates/write-first).
        write_first::write_first();
        register_function("validate", validate);
        register_function("validate_settings", validate_settings);
        register_function("protocol_version", protocol_version);
    }

    fn validate(payload: &[u8]) -> CallResult {
        Ok(super::encode_verdict(super::evaluate_payload(payload)))
    }

    fn validate_settings(payload: &[u8]) -> CallResult {
        Ok(super::settings_validation(payload))
    }

    fn protocol_version(payload: &[u8]) -> CallResult {
        kubewarden_policy_sdk::protocol_version_guest(payload)
    }
}

#[cfg(all(test, feature = "wapc"))]
mod tests {
    use super::*;
    use kubewarden_policy_sdk::response::ValidationResponse as SdkResponse;

    fn sdk_bytes(accepted: bool, message: Option<&str>, warnings: Option<Vec<String>>) -> Vec<u8> {
        serde_json::to_vec(&SdkResponse {
            accepted,
            message: message.map(str::to_string),
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings,
        })
        .unwrap()
    }

    #[test]
    fn accept_and_reject_are_encoded_as_the_sdk_encodes_them() {
        let warned = vec!["w".to_string()];
        let cases = [
            (
                Verdict::Accept {
                    warnings: Vec::new(),
                },
                sdk_bytes(true, None, None),
            ),
            (
                Verdict::Accept {
                    warnings: warned.clone(),
                },
                sdk_bytes(true, None, Some(warned.clone())),
            ),
            (
                Verdict::Reject {
                    message: "no".into(),
                    warnings: warned.clone(),
                },
                sdk_bytes(false, Some("no"), Some(warned)),
            ),
        ];
        for (verdict, expected) in cases {
            assert_eq!(encode_verdict(verdict), expected);
        }
    }

    #[test]
    fn the_sdk_reads_the_mutated_object_as_it_was_spliced() {
        let text = r#"{"spec":{"containers":[{"name":"a","x":1.10}]},"z":null}"#;
        let encoded = encode_verdict(Verdict::Mutate {
            object: MutatedObject(text.into()),
            warnings: vec!["w".into()],
        });
        let response: SdkResponse = serde_json::from_slice(&encoded).unwrap();
        assert!(response.accepted);
        assert_eq!(
            response.mutated_object,
            Some(serde_json::from_str(text).unwrap())
        );
        assert_eq!(response.warnings, Some(vec!["w".to_string()]));
        let raw = String::from_utf8(encoded).unwrap();
        assert!(
            raw.contains(&format!(r#""mutated_object":{text}"#)),
            "{raw}"
        );
    }

    #[test]
    fn a_mutated_object_that_is_not_json_is_a_rejection() {
        let encoded = encode_verdict(Verdict::Mutate {
            object: MutatedObject(r#"{"spec":"#.into()),
            warnings: Vec::new(),
        });
        let response: SdkResponse = serde_json::from_slice(&encoded).unwrap();
        assert!(!response.accepted);
        assert!(response.mutated_object.is_none());
        let message = response.message.unwrap_or_default();
        assert!(
            message.starts_with("the policy could not encode the mutated object"),
            "{message}"
        );
    }
}
