//! Benchmark baseline guest: registers the three functions a Kubewarden
//! policy exports, and `validate` answers "accepted" without reading its
//! payload. What it costs is the waPC call itself: the host copying the
//! payload in, the guest's request buffer, and copying the response out.
//! Built for `wasm32-wasip1` only; the native build is empty.

#[cfg(target_arch = "wasm32")]
mod guest {
    use wapc_guest::{CallResult, register_function};

    /// With the `write-first` feature, the policy's first write in
    /// `wapc_init` (src/lib.rs `write_first`): the page of writable statics
    /// is first touched by a write, so a fresh instance in policy-server
    /// does not pay a TLB flush on every request. The baseline built with
    /// it shows what the policy's own work costs apart from that saving.
    #[cfg(feature = "write-first")]
    static mut WRITE_FIRST: u8 = 1;

    #[cfg(feature = "write-first")]
    fn write_first() {
        // SAFETY: a byte store to a static nothing else accesses.
        unsafe { core::ptr::write_volatile(&raw mut WRITE_FIRST, 1) };
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    }

    #[unsafe(no_mangle)]
    pub extern "C" fn wapc_init() {
        #[cfg(feature = "write-first")]
        write_first();
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
