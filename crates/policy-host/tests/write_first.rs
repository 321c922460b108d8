//! The policy's first write (`crates/write-first`), checked in the
//! shipped `policy.wasm`: the first memory access of `wapc_init` is a store,
//! and it lands on the last page of the module's data image, the page that
//! holds the writable statics (`.data`, the start of `.bss`). policy-server
//! maps that image copy-on-write into every fresh instance; a read there
//! before any write would cost a TLB flush per request (docs/performance.md;
//! `make bench-server BENCH_SERVER_ARGS=--perf` counts those faults).

#[allow(dead_code)]
mod support;

use wasmparser::{ConstExpr, DataKind, ExternalKind, MemArg, Operator, Parser, Payload, TypeRef};

const PAGE: u64 = 4096;

fn const_i32(expr: &ConstExpr) -> Option<u64> {
    match expr.get_operators_reader().read().ok()? {
        Operator::I32Const { value } => Some(value as u32 as u64),
        _ => None,
    }
}

/// What the test needs from the module: the end of its data image and the
/// operators of `wapc_init`.
struct Module<'a> {
    image_end: u64,
    wapc_init: Vec<Operator<'a>>,
}

fn read_module(bytes: &[u8]) -> Module<'_> {
    let mut imported_functions = 0u32;
    let mut wapc_init_index = None;
    let mut image_end = 0u64;
    let mut bodies = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.expect("policy.wasm parses") {
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    if matches!(import.expect("import").ty, TypeRef::Func(_)) {
                        imported_functions += 1;
                    }
                }
            }
            Payload::ExportSection(exports) => {
                for export in exports {
                    let export = export.expect("export");
                    if export.name == "wapc_init" && export.kind == ExternalKind::Func {
                        wapc_init_index = Some(export.index);
                    }
                }
            }
            Payload::DataSection(data) => {
                for segment in data {
                    let segment = segment.expect("data segment");
                    if let DataKind::Active { offset_expr, .. } = segment.kind {
                        let offset = const_i32(&offset_expr).expect("constant segment offset");
                        image_end = image_end.max(offset + segment.data.len() as u64);
                    }
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body),
            _ => {}
        }
    }
    let index = wapc_init_index.expect("policy.wasm exports wapc_init") - imported_functions;
    let body = &bodies[index as usize];
    let wapc_init = body
        .get_operators_reader()
        .expect("wapc_init's code")
        .into_iter()
        .map(|op| op.expect("operator"))
        .collect();
    Module {
        image_end,
        wapc_init,
    }
}

/// The memory argument of a load or store (the module uses no SIMD or
/// atomics), and whether it is a store.
fn load_or_store(op: &Operator) -> Option<(MemArg, bool)> {
    use Operator::*;
    match *op {
        I32Load { memarg }
        | I64Load { memarg }
        | F32Load { memarg }
        | F64Load { memarg }
        | I32Load8S { memarg }
        | I32Load8U { memarg }
        | I32Load16S { memarg }
        | I32Load16U { memarg }
        | I64Load8S { memarg }
        | I64Load8U { memarg }
        | I64Load16S { memarg }
        | I64Load16U { memarg }
        | I64Load32S { memarg }
        | I64Load32U { memarg } => Some((memarg, false)),
        I32Store { memarg }
        | I64Store { memarg }
        | F32Store { memarg }
        | F64Store { memarg }
        | I32Store8 { memarg }
        | I32Store16 { memarg }
        | I64Store8 { memarg }
        | I64Store16 { memarg }
        | I64Store32 { memarg } => Some((memarg, true)),
        _ => None,
    }
}

/// Whether `op` reads or writes linear memory, or may (a call).
fn touches_memory(op: &Operator) -> bool {
    load_or_store(op).is_some()
        || matches!(
            op,
            Operator::Call { .. }
                | Operator::CallIndirect { .. }
                | Operator::MemoryCopy { .. }
                | Operator::MemoryFill { .. }
                | Operator::MemoryInit { .. }
                | Operator::MemoryGrow { .. }
        )
}

/// `Ok` when `wapc_init`'s first memory access is a store at a constant
/// address on the data image's last page; otherwise why not.
fn check_write_first(bytes: &[u8]) -> Result<(), String> {
    let module = read_module(bytes);
    if module.image_end == 0 {
        return Err("the module has no data image".into());
    }
    let ops = &module.wapc_init;
    let first = ops
        .iter()
        .position(touches_memory)
        .ok_or("wapc_init does not touch memory")?;
    let op = &ops[first];
    let Some((memarg, true)) = load_or_store(op) else {
        return Err(format!(
            "wapc_init's first memory access is {op:?}, not a store"
        ));
    };
    // `i32.const ADDRESS, i32.const VALUE, store`.
    let Some(Operator::I32Const { value: address }) = first.checked_sub(2).map(|k| &ops[k]) else {
        return Err("the first store's address is not a constant".into());
    };
    let address = *address as u32 as u64 + memarg.offset;
    if address / PAGE != (module.image_end - 1) / PAGE {
        return Err(format!(
            "the first store (at {address:#x}) is not on the data image's last page \
             (the image ends at {:#x})",
            module.image_end
        ));
    }
    Ok(())
}

#[test]
fn policy_wapc_init_writes_the_page_of_writable_statics_before_anything_reads_it() {
    assert_eq!(check_write_first(&support::policy_bytes()), Ok(()));
}

/// A module like the policy's: 17 pages, a data image ending at 0x10c614,
/// and `wapc_init` with the given body.
fn module_with_wapc_init(body: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
             (func $register)
             (memory (export "memory") 17)
             (data (i32.const 0x100000) "read-only data")
             (data (i32.const 0x10c600) "writable statics")
             (func (export "wapc_init") {body}))"#
    ))
    .expect("test module")
}

#[test]
fn the_check_accepts_a_first_store_on_the_last_page() {
    let store = "i32.const 0x10c5c8 i32.const 1 i32.store8 call $register";
    assert_eq!(check_write_first(&module_with_wapc_init(store)), Ok(()));
}

#[test]
fn the_check_rejects_a_module_that_reads_or_calls_first() {
    for body in [
        // wapc-guest's lazy registry: a call that reads before it writes.
        "call $register i32.const 0x10c5c8 i32.const 1 i32.store8",
        "i32.const 0x10c5c8 i32.load8_u drop",
    ] {
        let error = check_write_first(&module_with_wapc_init(body)).unwrap_err();
        assert!(error.contains("not a store"), "{body}: {error}");
    }
}

#[test]
fn the_check_rejects_a_first_store_on_another_page() {
    let body = "i32.const 0x100000 i32.const 1 i32.store8";
    let error = check_write_first(&module_with_wapc_init(body)).unwrap_err();
    assert!(
        error.contains("not on the data image's last page"),
        "{error}"
    );
}
