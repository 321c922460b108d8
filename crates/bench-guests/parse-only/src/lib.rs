//! Benchmark baseline guest: `validate` parses the whole payload into a
//! `serde_json::Value` (what a policy that reads the request generically
//! pays at least) and answers "accepted"; a payload that is not JSON is
//! rejected, so the parse cannot be optimised away.
//! Built for `wasm32-wasip1` only; the native build is empty.

#[cfg(target_arch = "wasm32")]
mod guest {
    use wapc_guest::{CallResult, register_function};

    #[unsafe(no_mangle)]
    pub extern "C" fn wapc_init() {
        register_function("validate", validate);
        register_function("validate_settings", validate_settings);
        register_function("protocol_version", protocol_version);
    }

    fn validate(payload: &[u8]) -> CallResult {
        match serde_json::from_slice::<serde_json::Value>(payload) {
            Ok(value) => {
                // Keep the parsed document alive until here, as a policy would.
                std::hint::black_box(&value);
                Ok(br#"{"accepted":true}"#.to_vec())
            }
            Err(_) => Ok(br#"{"accepted":false,"message":"not JSON"}"#.to_vec()),
        }
    }

    fn validate_settings(payload: &[u8]) -> CallResult {
        match serde_json::from_slice::<serde_json::Value>(payload) {
            Ok(_) => Ok(br#"{"valid":true}"#.to_vec()),
            Err(_) => Ok(br#"{"valid":false,"message":"not JSON"}"#.to_vec()),
        }
    }

    fn protocol_version(_payload: &[u8]) -> CallResult {
        Ok(br#""v1""#.to_vec())
    }
}
