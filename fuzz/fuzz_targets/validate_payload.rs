//! Arbitrary bytes as the waPC `validate` payload.
//!
//! Invariants: `evaluate_payload` and `encode_verdict` never panic; a
//! rejection has a message; invalid UTF-8 is rejected; and whenever the
//! verdict is Mutate, the contract's mutation invariants hold (only
//! add/replace patch operations, idempotent, accepted in validate-only mode,
//! valid unique injected volume names, no duplicate mount paths); and the
//! request's `kind` written before or after its objects (the one-pass
//! reading or the raw reading, `src/request.rs`) gives the same verdict.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use readonly_rootfs_policy::request::{Reading, ValidationPayload};
use readonly_rootfs_policy::{Verdict, evaluate_payload};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let verdict = evaluate_payload(data);
    common::check_verdict(&verdict);
    if std::str::from_utf8(data).is_err() {
        assert!(
            matches!(verdict, Verdict::Reject { .. }),
            "invalid UTF-8 not rejected"
        );
        return;
    }
    if let Ok(payload) = serde_json::from_slice::<Value>(data) {
        check_kind_order(&payload);
    }
    if let Verdict::Mutate { object, .. } = &verdict {
        // Numbers beyond f64 range are valid JSON text for the policy's raw
        // views but not for a serde_json::Value: then skip the deep checks.
        let Ok(payload) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        assert_eq!(evaluate_payload(data), verdict, "non-deterministic verdict");
        let object = object.to_value().expect("the mutated object is JSON");
        common::check_mutation(&payload, &object);
    }
});

/// The payload with its keys sorted (the request's `kind` before `object`
/// and `oldObject`) and with `kind` moved to the end of the request must get
/// the same verdict, when the payload itself can be read (otherwise which
/// field an error names depends on the order).
fn check_kind_order(payload: &Value) {
    let Some(request) = payload.get("request").and_then(Value::as_object) else {
        return;
    };
    let Some(kind) = request.get("kind") else {
        return;
    };
    let sorted = serde_json::to_string(payload).expect("a value serialises");
    if ValidationPayload::read(&sorted, Reading::Raw).is_err() {
        return;
    }
    let mut rest = request.clone();
    rest.remove("kind");
    let mut request_text = serde_json::to_string(&rest).expect("a map serialises");
    request_text.pop(); // the closing brace
    if !rest.is_empty() {
        request_text.push(',');
    }
    request_text.push_str(&format!(r#""kind":{kind}}}"#));
    let mut others = payload.as_object().cloned().unwrap_or_default();
    others.remove("request");
    let mut kind_last = serde_json::to_string(&others).expect("a map serialises");
    kind_last.pop();
    if !others.is_empty() {
        kind_last.push(',');
    }
    kind_last.push_str(&format!(r#""request":{request_text}}}"#));
    assert_eq!(
        evaluate_payload(sorted.as_bytes()),
        evaluate_payload(kind_last.as_bytes()),
        "kind first and kind last disagree on {kind_last}"
    );
}
