//! The first write of a waPC guest's `wapc_init`, shared by the policy and
//! the benchmark's write-first baselines.
//!
//! policy-server runs every request in a fresh instance whose linear memory
//! maps the module's data copy-on-write. If the first access to the page of
//! writable statics is a read (wapc-guest's lazy function registry checks
//! its state before writing it), the kernel maps the page read-only, and the
//! write that follows must replace that mapping, which flushes the TLB of
//! every core running the server: an inter-processor interrupt on every
//! request (13–16 µs of server CPU, 3–4% of a 1-container Pod's request;
//! docs/performance.md, "The first write"). Writing first makes the first
//! fault a write fault, which copies the page once and maps it writable.
//!
//! `crates/policy-host/tests/write_first.rs` checks, in the built
//! `policy.wasm`, that `wapc_init`'s first memory access is this store and
//! that it lands on that page.

#![no_std]

/// A writable static with a known value: it lives in `.data`, on the page
/// that holds the module's other writable statics (the data image's last
/// page: `.data`, then the start of `.bss`).
static mut WRITE_FIRST: u8 = 1;

/// Stores into `WRITE_FIRST` the value it already holds. Call it first in
/// `wapc_init`, before anything reads memory.
pub fn write_first() {
    // SAFETY: a byte store to a static nothing else accesses, in a
    // single-threaded guest.
    unsafe { core::ptr::write_volatile(&raw mut WRITE_FIRST, 1) };
    // Keep every later access after the store.
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}
