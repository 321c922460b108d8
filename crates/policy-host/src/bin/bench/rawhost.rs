//! A minimal waPC host written directly on the `wasmtime` crate (the version
//! wasmtime-provider 2.25.0 uses), for what wasmtime-provider does not expose:
//! the guest's linear memory size after a call.
//!
//! It implements the waPC imports a guest may use (`__guest_request`,
//! `__guest_response`, `__guest_error`, `__host_call`, `__host_response`,
//! `__host_response_len`, `__host_error`, `__host_error_len`,
//! `__console_log`) and WASI preview 1 through wasmtime-wasi, as
//! wasmtime-provider does, and initialises the guest the same way
//! (`_start`, then `wapc_init`, when exported). Host calls behave like
//! policy-host's: `kubewarden/tracing/log` succeeds with an empty answer,
//! anything else fails.
//!
//! Its engine counts fuel, so each call also reports how many wasm
//! instructions it executed: a measure of the guest's work that, unlike
//! time, does not depend on what else the machine is doing.

use wasmtime::{Caller, Engine, Extern, Instance, Linker, Memory, Module, Store, TypedFunc};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

const NAMESPACE: &str = "wapc";

struct State {
    wasi: WasiP1Ctx,
    operation: Vec<u8>,
    request: Vec<u8>,
    response: Option<Vec<u8>>,
    guest_error: Option<String>,
    host_response: Vec<u8>,
    host_error: Option<String>,
}

/// A compiled module and the linker that provides its imports.
pub struct RawModule {
    engine: Engine,
    module: Module,
    linker: Linker<State>,
}

/// One instance: its own store and linear memory.
pub struct RawInstance {
    store: Store<State>,
    memory: Memory,
    guest_call: TypedFunc<(i32, i32), i32>,
    /// Wasm instructions of the guest's initialisation (`_start`,
    /// `wapc_init`), when the engine counts fuel.
    init_fuel: u64,
}

fn memory_of(caller: &mut Caller<'_, State>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(wasmtime::format_err!("the guest exports no memory")),
    }
}

fn read(caller: &mut Caller<'_, State>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let memory = memory_of(caller)?;
    let start = ptr as u32 as usize;
    let end = start + len as u32 as usize;
    memory
        .data(&caller)
        .get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| wasmtime::format_err!("guest pointer out of bounds"))
}

fn write(caller: &mut Caller<'_, State>, ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let memory = memory_of(caller)?;
    memory
        .write(caller, ptr as u32 as usize, bytes)
        .map_err(|e| wasmtime::format_err!("{e}"))
}

fn host_call(binding: &[u8], namespace: &[u8], operation: &[u8]) -> Result<Vec<u8>, String> {
    match (binding, namespace, operation) {
        (b"kubewarden", b"tracing", b"log") => Ok(Vec::new()),
        _ => Err(format!(
            "unknown binding/namespace/operation: {}/{}/{}",
            String::from_utf8_lossy(binding),
            String::from_utf8_lossy(namespace),
            String::from_utf8_lossy(operation)
        )),
    }
}

fn add_wapc(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.func_wrap(
        NAMESPACE,
        "__guest_request",
        |mut caller: Caller<'_, State>, op_ptr: i32, ptr: i32| -> wasmtime::Result<()> {
            let request = std::mem::take(&mut caller.data_mut().request);
            let operation = std::mem::take(&mut caller.data_mut().operation);
            write(&mut caller, ptr, &request)?;
            write(&mut caller, op_ptr, &operation)?;
            caller.data_mut().request = request;
            caller.data_mut().operation = operation;
            Ok(())
        },
    )?;
    linker.func_wrap(
        NAMESPACE,
        "__guest_response",
        |mut caller: Caller<'_, State>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let bytes = read(&mut caller, ptr, len)?;
            caller.data_mut().response = Some(bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        NAMESPACE,
        "__guest_error",
        |mut caller: Caller<'_, State>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let bytes = read(&mut caller, ptr, len)?;
            caller.data_mut().guest_error = Some(String::from_utf8_lossy(&bytes).into_owned());
            Ok(())
        },
    )?;
    linker.func_wrap(
        NAMESPACE,
        "__host_call",
        |mut caller: Caller<'_, State>,
         bd_ptr: i32,
         bd_len: i32,
         ns_ptr: i32,
         ns_len: i32,
         op_ptr: i32,
         op_len: i32,
         _ptr: i32,
         _len: i32|
         -> wasmtime::Result<i32> {
            let binding = read(&mut caller, bd_ptr, bd_len)?;
            let namespace = read(&mut caller, ns_ptr, ns_len)?;
            let operation = read(&mut caller, op_ptr, op_len)?;
            let state = caller.data_mut();
            match host_call(&binding, &namespace, &operation) {
                Ok(response) => {
                    state.host_response = response;
                    state.host_error = None;
                    Ok(1)
                }
                Err(error) => {
                    state.host_response.clear();
                    state.host_error = Some(error);
                    Ok(0)
                }
            }
        },
    )?;
    linker.func_wrap(
        NAMESPACE,
        "__host_response",
        |mut caller: Caller<'_, State>, ptr: i32| -> wasmtime::Result<()> {
            let response = std::mem::take(&mut caller.data_mut().host_response);
            write(&mut caller, ptr, &response)?;
            caller.data_mut().host_response = response;
            Ok(())
        },
    )?;
    linker.func_wrap(
        NAMESPACE,
        "__host_response_len",
        |caller: Caller<'_, State>| -> i32 { caller.data().host_response.len() as i32 },
    )?;
    linker.func_wrap(
        NAMESPACE,
        "__host_error",
        |mut caller: Caller<'_, State>, ptr: i32| -> wasmtime::Result<()> {
            if let Some(error) = caller.data().host_error.clone() {
                write(&mut caller, ptr, error.as_bytes())?;
            }
            Ok(())
        },
    )?;
    linker.func_wrap(
        NAMESPACE,
        "__host_error_len",
        |caller: Caller<'_, State>| -> i32 {
            caller.data().host_error.as_ref().map_or(0, String::len) as i32
        },
    )?;
    linker.func_wrap(
        NAMESPACE,
        "__console_log",
        |mut caller: Caller<'_, State>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let bytes = read(&mut caller, ptr, len)?;
            if std::env::var_os("POLICY_HOST_LOG").is_some() {
                eprintln!("[guest console] {}", String::from_utf8_lossy(&bytes));
            }
            Ok(())
        },
    )?;
    Ok(())
}

/// An engine for [`RawModule`]: default configuration plus fuel metering.
pub fn engine() -> wasmtime::Result<Engine> {
    let mut config = wasmtime::Config::default();
    config.consume_fuel(true);
    Engine::new(&config)
}

/// An engine without fuel metering that writes `/tmp/perf-PID.map`, so that
/// `perf record` can name the guest's functions. With epoch interruption,
/// as policy-server compiles its policies (the epoch is never incremented
/// here, so no call is interrupted).
pub fn perf_engine() -> wasmtime::Result<Engine> {
    let mut config = wasmtime::Config::default();
    config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    config.epoch_interruption(true);
    Engine::new(&config)
}

impl RawModule {
    /// Compiles `bytes` for `engine` (from [`engine`]).
    pub fn new(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<RawModule> {
        let module = Module::new(engine, bytes)?;
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut State| &mut s.wasi)?;
        add_wapc(&mut linker)?;
        Ok(RawModule {
            engine: engine.clone(),
            module,
            linker,
        })
    }

    /// A fresh instance, initialised like wasmtime-provider does.
    pub fn instantiate(&self) -> wasmtime::Result<RawInstance> {
        let state = State {
            wasi: WasiCtxBuilder::new().inherit_stdio().build_p1(),
            operation: Vec::new(),
            request: Vec::new(),
            response: None,
            guest_error: None,
            host_response: Vec::new(),
            host_error: None,
        };
        let mut store = Store::new(&self.engine, state);
        // Fails (and is not needed) on an engine without fuel metering.
        let _ = store.set_fuel(u64::MAX);
        // Without effect on an engine without epoch interruption.
        store.set_epoch_deadline(u64::MAX / 2);
        let instance: Instance = self.linker.instantiate(&mut store, &self.module)?;
        let before = store.get_fuel().unwrap_or(0);
        for start in ["_start", "wapc_init"] {
            if let Ok(func) = instance.get_typed_func::<(), ()>(&mut store, start) {
                func.call(&mut store, ())?;
            }
        }
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| wasmtime::format_err!("the guest exports no memory"))?;
        let guest_call = instance.get_typed_func::<(i32, i32), i32>(&mut store, "__guest_call")?;
        let init_fuel = before - store.get_fuel().unwrap_or(0);
        Ok(RawInstance {
            store,
            memory,
            guest_call,
            init_fuel,
        })
    }
}

impl RawInstance {
    /// Calls a guest function; `Err` for a trap or a guest error. Returns
    /// the response and the fuel (wasm instructions) the call consumed.
    pub fn call(&mut self, operation: &str, payload: &[u8]) -> wasmtime::Result<(Vec<u8>, u64)> {
        let before = self.store.get_fuel().unwrap_or(0);
        let state = self.store.data_mut();
        state.operation = operation.as_bytes().to_vec();
        state.request = payload.to_vec();
        state.response = None;
        state.guest_error = None;
        let ok = self.guest_call.call(
            &mut self.store,
            (operation.len() as i32, payload.len() as i32),
        )?;
        let fuel = before - self.store.get_fuel().unwrap_or(0);
        let state = self.store.data_mut();
        match (ok, state.response.take(), state.guest_error.take()) {
            (1, Some(response), _) => Ok((response, fuel)),
            (_, _, Some(error)) => Err(wasmtime::format_err!("guest error: {error}")),
            (status, _, None) => Err(wasmtime::format_err!(
                "guest returned {status} without a response"
            )),
        }
    }

    /// Current size of the guest's linear memory, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    /// Where the guest's linear memory is in this process: start and length.
    pub fn memory_range(&self) -> (*const u8, usize) {
        (
            self.memory.data_ptr(&self.store).cast_const(),
            self.memory.data_size(&self.store),
        )
    }

    /// Wasm instructions the guest's initialisation executed.
    pub fn init_fuel(&self) -> u64 {
        self.init_fuel
    }
}
