//! The fixture table (`tests/cases.json` + `test_data/`) run twice: on the
//! policy core natively, and on the built `policy.wasm` through the waPC
//! host the way Kubewarden's engine runs it (the JSON patch is the engine's
//! diff of request object vs mutated object).

mod support;

use policy_host::fixture_table::run_table;
use std::cell::RefCell;
use support::{NativeCore, WasmModule, load_policy, repo_root};

#[test]
fn fixture_table_native_core() {
    match run_table(&repo_root(), &NativeCore) {
        Ok(summary) => println!("native core: {summary:?}"),
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
