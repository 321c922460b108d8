//! Arbitrary bytes as the waPC `validate` payload.
//!
//! Invariants: `evaluate_payload` and `encode_verdict` never panic; a
//! rejection has a message; invalid UTF-8 is rejected; and whenever the
//! verdict is Mutate, the contract's mutation invariants hold (only
//! add/replace patch operations, idempotent, accepted in validate-only mode,
//! valid unique injected volume names, no duplicate mount paths).

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use readonly_rootfs_policy::{Verdict, evaluate_payload};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let verdict = evaluate_payload(data);
    common::check_verdict(&verdict);
    if std::str::from_utf8(data).is_err() {
        assert!(matches!(verdict, Verdict::Reject { .. }), "invalid UTF-8 not rejected");
        return;
    }
    if let Verdict::Mutate { object, .. } = &verdict {
        // Numbers beyond f64 range are valid JSON text for the policy's raw
        // views but not for a serde_json::Value: then skip the deep checks.
        let Ok(payload) = serde_json::from_slice::<Value>(data) else { return };
        assert_eq!(evaluate_payload(data), verdict, "non-deterministic verdict");
        common::check_mutation(&payload, object);
    }
});
