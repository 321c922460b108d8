//! Benchmark baseline guest: registers the three functions a Kubewarden
//! policy exports, and `validate` answers "accepted" without reading its
//! payload. What it costs is the waPC call itself: the host copying the
//! payload in, the guest's request buffer, and copying the response out.
//! Built for `wasm32-wasip1` only; the native build is empty.

#[cfg(target_arch = "wasm32")]
mod guest {
    use wapc_guest::{CallResult, register_function};

    #[unsafe(no_mangle)]
    pub extern "C" fn wapc_init() {
        // With the `write-first` feature, the policy's first write
        // (crates/write-first): the baseline without the TLB flush that a
        // plain wapc-guest module pays per request in policy-server.
        #[cfg(feature = "write-first")]
        write_first::write_first();
        register_function("validate", validate);
        register_function("validate_settings", validate_settings);
        register_function("protocol_version", protocol_version);
    }

    fn validate(_payload: &[u8]) -> CallResult {
        Ok(br#"{"accepted":true}"#.to_vec())
    }

    fn validate_settings(_payload: &[u8]) -> CallResult {
        Ok(br#"{"valid":true}"#.to_vec())
    }

    fn protocol_version(_payload: &[u8]) -> CallResult {
        Ok(br#""v1""#.to_vec())
    }
}
