//! The fixture table (`tests/cases.json` + `test_data/`) run three times:
//! on the policy core natively, on it again with the request's `kind` after
//! its objects (the raw reading instead of the one-pass reading), and on the
//! built `policy.wasm` through the waPC host the way Kubewarden's engine
//! runs it (the JSON patch is the engine's diff of request object vs mutated
//! object).

mod support;

use policy_host::fixture_table::run_table;
use policy_host::fixture_table::{Evaluator, Outcome};
use serde_json::Value;
use std::cell::RefCell;
use support::{NativeCore, WasmModule, load_policy, native_outcome, repo_root};

#[test]
fn fixture_table_native_core() {
    match run_table(&repo_root(), &NativeCore) {
        Ok(summary) => println!("native core: {summary:?}"),
        Err(failures) => panic!("{failures}"),
    }
}

#[test]
fn fixture_table_native_core_kind_last() {
    match run_table(&repo_root(), &NativeCoreKindLast) {
        Ok(summary) => println!("native core, kind last: {summary:?}"),
        Err(failures) => panic!("{failures}"),
    }
}

#[test]
fn fixture_table_wasm_module() {
    match run_table(&repo_root(), &WasmModule(RefCell::new(load_policy()))) {
        Ok(summary) => println!("policy.wasm: {summary:?}"),
        Err(failures) => panic!("{failures}"),
    }
}

/// The pure core, with the request's `kind` written after its objects
/// (keys are otherwise in serde_json's sorted order, `kind` first): the
/// objects are then read as raw text, not in the payload's one pass
/// (`readonly_rootfs_policy::request`). Every verdict must be the same.
pub struct NativeCoreKindLast;

impl Evaluator for NativeCoreKindLast {
    fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
        let mut fields = request.as_object().cloned().unwrap_or_default();
        let kind = fields.remove("kind");
        let mut text = serde_json::to_string(&fields).expect("request serialises");
        if let Some(kind) = kind {
            text.pop(); // the closing brace
            if !fields.is_empty() {
                text.push(',');
            }
            text.push_str(&format!(r#""kind":{kind}}}"#));
        }
        let payload = format!(r#"{{"request":{text},"settings":{settings}}}"#);
        native_outcome(request, payload.as_bytes())
    }

    fn validate_settings(&self, settings: &Value) -> Result<(), String> {
        NativeCore.validate_settings(settings)
    }
}
