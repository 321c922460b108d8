//! Shared by the wasm-host tests: the two runners of the policy, the pure
//! core natively and the built module in the waPC host.

use policy_host::fixture_table::{Evaluator, Outcome};
use policy_host::{AdmissionResponse, Policy};
use readonly_rootfs_policy::Verdict;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::path::PathBuf;

/// Marks a host error (trap, guest error, invalid response) turned into a
/// rejection that no test expects.
pub const HOST_ERROR: &str = "<HOST ERROR";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bytes of the built `policy.wasm`; fails clearly if it is missing.
#[allow(dead_code)] // for the tests that read the module itself
pub fn policy_bytes() -> Vec<u8> {
    let wasm = repo_root().join("policy.wasm");
    std::fs::read(&wasm).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `make policy.wasm` (make test does) before cargo test",
            wasm.display()
        )
    })
}

/// The built `policy.wasm` in the waPC host; fails clearly if it is missing.
pub fn load_policy() -> Policy {
    policy_host::fixture_table::built_policy(&repo_root())
}

/// The pure core, called with the exact waPC payload.
pub struct NativeCore;

impl Evaluator for NativeCore {
    fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
        let payload = json!({"request": request, "settings": settings});
        let bytes = serde_json::to_vec(&payload).expect("payload serialises");
        native_outcome(request, &bytes)
    }

    fn validate_settings(&self, settings: &Value) -> Result<(), String> {
        readonly_rootfs_policy::settings::Settings::from_json(settings).map(|_| ())
    }
}

/// The pure core's verdict on the waPC `payload` carrying `request`, as an
/// outcome of the fixture table.
pub fn native_outcome(request: &Value, payload: &[u8]) -> Outcome {
    match readonly_rootfs_policy::evaluate_payload(payload) {
        Verdict::Accept { warnings } => Outcome::Accept { warnings },
        Verdict::Reject { message, warnings } => Outcome::Reject { message, warnings },
        Verdict::Mutate { object, warnings } => match object.to_value() {
            Ok(object) => Outcome::mutation(request, object, warnings),
            // No case expects this message: it fails the case.
            Err(e) => Outcome::Reject {
                message: format!("<the mutated object is not JSON: {e}>"),
                warnings,
            },
        },
    }
}

/// The built module in the waPC host. A host error (trap, guest error) is
/// turned into a rejection no case expects, so it fails the case.
pub struct WasmModule(pub RefCell<Policy>);

impl WasmModule {
    fn host_error(&self, e: policy_host::HostError) -> String {
        // A trap poisons the instance; start fresh for the next case.
        let _ = self.0.borrow_mut().reset();
        format!("{HOST_ERROR}, the module trapped or failed: {e}>")
    }
}

impl Evaluator for WasmModule {
    fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
        let response = self.0.borrow().evaluate(request, settings);
        match response {
            Err(e) => Outcome::Reject {
                message: self.host_error(e),
                warnings: Vec::new(),
            },
            Ok(response) => outcome_of(response),
        }
    }

    fn validate_settings(&self, settings: &Value) -> Result<(), String> {
        let validation = self.0.borrow().validate_settings(settings);
        match validation {
            Ok(v) if v.valid => Ok(()),
            Ok(v) => Err(v.message.unwrap_or_default()),
            Err(e) => Err(self.host_error(e)),
        }
    }
}

pub fn outcome_of(response: AdmissionResponse) -> Outcome {
    let warnings = response.warnings.clone().unwrap_or_default();
    if !response.allowed {
        return Outcome::Reject {
            message: response.message().unwrap_or_default().to_string(),
            warnings,
        };
    }
    if response.is_mutated() {
        return Outcome::Mutate {
            patch: response.patch_operations(),
            object: response.mutated_object.clone().unwrap_or(Value::Null),
            warnings,
        };
    }
    Outcome::Accept { warnings }
}
