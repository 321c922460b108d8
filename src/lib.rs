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

pub use evaluate::{Verdict, evaluate, evaluate_payload};

#[cfg(feature = "wapc")]
use kubewarden_policy_sdk::response::ValidationResponse;
#[cfg(feature = "wapc")]
use kubewarden_policy_sdk::settings::SettingsValidationResponse;

/// Encodes a verdict as Kubewarden's ValidationResponse.
#[cfg(feature = "wapc")]
pub fn encode_verdict(verdict: Verdict) -> Vec<u8> {
    let (accepted, message, mutated_object, warnings) = match verdict {
        Verdict::Accept { warnings } => (true, None, None, warnings),
        Verdict::Mutate { object, warnings } => (true, None, Some(object), warnings),
        Verdict::Reject { message, warnings } => (false, Some(message), None, warnings),
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
