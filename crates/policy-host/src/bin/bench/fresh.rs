//! `--fresh`: what one request costs where every request gets a fresh
//! instance, as in policy-server.
//!
//! policy-server (through policy-evaluator) keeps one `InstancePre` per
//! module (wasmtime-provider's `build_pre`) and, for every request,
//! rehydrates it into a new store, instantiates the module (new linear
//! memory), runs the guest's initialisation (`_start`, `wapc_init`), calls
//! `validate` once and drops the whole store. Its engine is wasmtime's
//! default configuration (on-demand allocator, copy-on-write memory images)
//! plus epoch interruption for the policy timeout (2 s by default); this mode
//! does the same through [`policy_host::CompiledPolicy`] with a timeout, so
//! on the same engine configuration (`--fresh-engines plain` adds the engine
//! without epoch interruption, for comparison).
//!
//! Two measurements per case and guest:
//!
//! * **Time**, in CPU time of the calling thread, in batches of 20 requests
//!   interleaved across the guests: full requests (instantiate, initialise,
//!   call, drop) and instance-only ones (instantiate, initialise, drop); the
//!   call is the difference. Also minor page faults per request (getrusage),
//!   and the same on several threads at once (`--fresh-threads 1,2`), as
//!   policy-server's workers run.
//! * **Work**, on the raw host with fuel: wasm instructions of the guest's
//!   initialisation and of its first call on a fresh instance (what
//!   policy-server runs) against a second call on the same instance (what an
//!   instance reused across requests would run: the first call also pays for
//!   lazy initialisation); linear memory after the call; and how many 4 KiB
//!   pages of it are mapped in this process after initialisation and after
//!   the call (/proc/self/pagemap: a page the guest touched is mapped, and
//!   for pages of the module's data image the kernel may map a few untouched
//!   neighbours with it).

use crate::payloads::{Case, Expect};
use crate::rawhost;
use policy_host::{CompiledPolicy, PolicyOptions};
use std::fmt::Write as _;
use std::time::Duration;

/// One module in the fresh-instance benchmark.
pub struct FreshGuest {
    pub name: String,
    pub bytes: Vec<u8>,
    /// A baseline for the mutation cases only (the mutation floor).
    pub mutation_only: bool,
}

/// The engines to run the guests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// Epoch interruption on: policy-server's default (`--policy-timeout`).
    Epoch,
    /// wasmtime's default configuration.
    Plain,
}

impl EngineKind {
    pub fn parse(text: &str) -> Result<EngineKind, String> {
        match text {
            "epoch" => Ok(EngineKind::Epoch),
            "plain" => Ok(EngineKind::Plain),
            other => Err(format!("unknown engine {other} (epoch, plain)")),
        }
    }

    fn label(self) -> &'static str {
        match self {
            EngineKind::Epoch => "epoch",
            EngineKind::Plain => "plain",
        }
    }
}

pub struct FreshOptions {
    pub runs: usize,
    /// Batches of [`BATCH`] requests per guest, thread and run.
    pub batches: usize,
    pub threads: Vec<usize>,
    pub engines: Vec<EngineKind>,
}

const BATCH: usize = 20;

/// CPU time of the calling thread, and its minor page faults so far.
#[derive(Debug, Clone, Copy)]
struct Usage {
    cpu: Duration,
    minflt: u64,
}

fn usage() -> Usage {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given, nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    // SAFETY: getrusage fills the struct it is given; all-zero is a valid rusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_THREAD is the calling thread.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_THREAD) failed");
    Usage {
        cpu: Duration::new(now.tv_sec as u64, now.tv_nsec as u32),
        minflt: ru.ru_minflt as u64,
    }
}

/// How many 4 KiB pages of `[start, start + len)` are mapped in this
/// process (present in its page table), from /proc/self/pagemap.
fn mapped_pages(start: *const u8, len: usize) -> Result<usize, String> {
    use std::os::unix::fs::FileExt as _;
    const PAGE: usize = 4096;
    let first = start as usize / PAGE;
    let last = (start as usize + len).div_ceil(PAGE);
    let mut entries = vec![0u8; (last - first) * 8];
    let file = std::fs::File::open("/proc/self/pagemap").map_err(|e| format!("pagemap: {e}"))?;
    file.read_exact_at(&mut entries, first as u64 * 8)
        .map_err(|e| format!("pagemap: {e}"))?;
    Ok(entries
        .chunks_exact(8)
        .filter(|e| u64::from_le_bytes((*e).try_into().expect("8 bytes")) >> 63 == 1)
        .count())
}

/// What one request does on a fresh instance of the raw host (fuel engine).
struct Work {
    init_fuel: u64,
    first_call_fuel: u64,
    second_call_fuel: u64,
    memory_after_call: usize,
    mapped_after_init: usize,
    mapped_after_call: usize,
    faults_init: u64,
    faults_call: u64,
}

fn work(module: &rawhost::RawModule, payload: &[u8]) -> Result<Work, String> {
    let before = usage();
    let mut instance = module.instantiate().map_err(|e| format!("{e:#}"))?;
    let after_init = usage();
    let (start, len) = instance.memory_range();
    let mapped_after_init = mapped_pages(start, len)?;
    let (_, first_call_fuel) = instance
        .call("validate", payload)
        .map_err(|e| format!("{e:#}"))?;
    let after_call = usage();
    let (start, len) = instance.memory_range();
    let mapped_after_call = mapped_pages(start, len)?;
    let (_, second_call_fuel) = instance
        .call("validate", payload)
        .map_err(|e| format!("{e:#}"))?;
    Ok(Work {
        init_fuel: instance.init_fuel(),
        first_call_fuel,
        second_call_fuel,
        memory_after_call: len,
        mapped_after_init,
        mapped_after_call,
        faults_init: after_init.minflt - before.minflt,
        faults_call: after_call.minflt - after_init.minflt,
    })
}

/// One guest on one engine.
struct Variant<'a> {
    label: String,
    guest: &'a FreshGuest,
    engine: EngineKind,
    compiled: CompiledPolicy,
}

/// Per-request means of one batch: full request, instance only, faults.
#[derive(Debug, Clone, Copy, Default)]
struct BatchMean {
    full_us: f64,
    instance_us: f64,
    full_faults: f64,
}

fn time_batch(
    compiled: &CompiledPolicy,
    payload: &[u8],
    with_call: bool,
) -> Result<(f64, f64), String> {
    let start = usage();
    for _ in 0..BATCH {
        let policy = compiled.instantiate().map_err(|e| e.to_string())?;
        if with_call {
            std::hint::black_box(
                policy
                    .call_validate_raw(payload)
                    .map_err(|e| e.to_string())?,
            );
        }
        drop(policy);
    }
    let end = usage();
    Ok((
        (end.cpu - start.cpu).as_secs_f64() * 1e6 / BATCH as f64,
        (end.minflt - start.minflt) as f64 / BATCH as f64,
    ))
}

/// One thread's share of a run: `batches` rounds over the variants, each a
/// batch of full requests then a batch of instance-only ones.
fn thread_run(
    variants: &[Variant<'_>],
    payload: &[u8],
    batches: usize,
) -> Result<Vec<Vec<BatchMean>>, String> {
    let mut means = vec![Vec::with_capacity(batches); variants.len()];
    // Warm-up: one batch of each.
    for v in variants {
        time_batch(&v.compiled, payload, true)?;
    }
    for _ in 0..batches {
        for (i, v) in variants.iter().enumerate() {
            let (full_us, full_faults) = time_batch(&v.compiled, payload, true)?;
            let (instance_us, _) = time_batch(&v.compiled, payload, false)?;
            means[i].push(BatchMean {
                full_us,
                instance_us,
                full_faults,
            });
        }
    }
    Ok(means)
}

/// Drops this CPU's TLB entries for the process: unmapping more than a few
/// dozen pages makes Linux flush the whole TLB (as dropping a store's linear
/// memory does), rather than page by page.
fn flush_tlb() {
    const LEN: usize = 256 * 4096;
    // SAFETY: a private anonymous mapping of our own, written then unmapped;
    // nothing else refers to it.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            LEN,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED, "mmap failed");
        for page in (0..LEN).step_by(4096) {
            *p.cast::<u8>().add(page) = 1;
        }
        libc::munmap(p, LEN);
    }
}

/// Evicts the CPU caches (as far as 64 MiB of writes do) without touching
/// the TLB of the guest's pages.
fn pollute_caches(buffer: &mut [u8]) {
    for (i, byte) in buffer.iter_mut().enumerate().step_by(64) {
        *byte = byte.wrapping_add(i as u8);
    }
    std::hint::black_box(buffer);
}

/// CPU µs of one call on an instance that already answered one: as it is,
/// after a TLB flush, after evicting the caches.
fn second_call_us(
    compiled: &CompiledPolicy,
    payload: &[u8],
    rounds: usize,
) -> Result<[f64; 4], String> {
    let mut buffer = vec![0u8; 64 << 20];
    let mut times: [Vec<f64>; 4] = Default::default();
    for _ in 0..rounds {
        let policy = compiled.instantiate().map_err(|e| e.to_string())?;
        for (kind, samples) in times.iter_mut().enumerate() {
            match kind {
                2 => flush_tlb(),
                3 => pollute_caches(&mut buffer),
                _ => {}
            }
            let start = usage();
            std::hint::black_box(
                policy
                    .call_validate_raw(payload)
                    .map_err(|e| e.to_string())?,
            );
            samples.push((usage().cpu - start.cpu).as_secs_f64() * 1e6);
        }
    }
    Ok(times.map(|mut t| median(&mut t)))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn spread(values: &[f64], digits: usize) -> String {
    let mut sorted = values.to_vec();
    let mid = median(&mut sorted);
    if values.len() == 1 {
        return format!("{mid:.digits$}");
    }
    let lo = sorted.first().copied().unwrap_or(f64::NAN);
    let hi = sorted.last().copied().unwrap_or(f64::NAN);
    format!("{mid:.digits$} ({lo:.digits$}–{hi:.digits$})")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Runs the fresh-instance benchmark and returns its Markdown report.
pub fn report(
    guests: &[FreshGuest],
    cases: &[Case],
    options: &FreshOptions,
) -> Result<String, String> {
    let raw_engine = rawhost::engine().map_err(|e| e.to_string())?;
    let mut out = String::new();
    let load_start = load_average();
    let _ = writeln!(
        out,
        "### Fresh instance per request (policy-server's path)\n\n\
         Each request: rehydrate the module's pre-instantiated `InstancePre` (wasmtime-provider \
         `build_pre` + `rehydrate`), instantiate and initialise it (`wapc_init`), call `validate` \
         once, drop the store; engine: wasmtime's default configuration{}. CPU time of the calling \
         thread per request, median over {} runs of the median of {} interleaved batches of {BATCH} \
         (min–max over runs); \"instance\" is instantiate + initialise + drop without a call, \
         \"call\" the difference. \"÷ noop\" is noop's time over the guest's (as a throughput \
         ratio: 1.00 = as cheap as noop): per run, the median over rounds of the ratio of the two \
         batches of the same round.\n",
        if options.engines.contains(&EngineKind::Epoch) {
            " with epoch interruption (policy-server's default 2 s policy timeout) unless \"plain\""
        } else {
            ""
        },
        options.runs,
        options.batches,
    );

    // Work per request, on the fuel engine.
    let _ = writeln!(
        out,
        "| case | guest | init instructions | call instructions, fresh instance | second call, same instance | linear memory after call | pages mapped after init / after call | page faults: instance / call |\n|---|---|---:|---:|---:|---:|---:|---:|"
    );
    let raw_modules = guests
        .iter()
        .map(|g| {
            rawhost::RawModule::new(&raw_engine, &g.bytes)
                .map_err(|e| format!("{} (raw host): {e:#}", g.name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for case in cases {
        for (guest, module) in guests.iter().zip(&raw_modules) {
            if guest.mutation_only && case.expect != Expect::Mutate {
                continue;
            }
            let w = work(module, &case.payload)
                .map_err(|e| format!("{} on \"{}\": {e}", guest.name, case.name))?;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.2} MiB | {} / {} | {} / {} |",
                case.name,
                guest.name,
                w.init_fuel,
                w.first_call_fuel,
                w.second_call_fuel,
                w.memory_after_call as f64 / (1024.0 * 1024.0),
                w.mapped_after_init,
                w.mapped_after_call,
                w.faults_init,
                w.faults_call,
            );
        }
    }

    // Why a call on a fresh instance costs more than on a used one.
    let _ = writeln!(
        out,
        "\nCPU µs of `validate` on one instance (median of 200 instances): its first call, a second \
         call, a third after flushing the TLB (as dropping any store's memory does), a fourth after \
         evicting the caches.\n\n\
         | case | guest | first call | second | after TLB flush | after cache eviction |\n|---|---|---:|---:|---:|---:|"
    );
    for case in cases {
        for guest in guests {
            if guest.mutation_only && case.expect != Expect::Mutate {
                continue;
            }
            let compiled = CompiledPolicy::from_bytes_with_options(
                &guest.bytes,
                PolicyOptions {
                    timeout: Some(Duration::from_secs(2)),
                },
            )
            .map_err(|e| format!("{}: {e}", guest.name))?;
            let [first, second, tlb, cache] = second_call_us(&compiled, &case.payload, 200)?;
            let _ = writeln!(
                out,
                "| {} | {} | {first:.1} | {second:.1} | {tlb:.1} | {cache:.1} |",
                case.name, guest.name
            );
        }
    }

    // Time per request.
    let mut variants = Vec::new();
    for engine in &options.engines {
        for guest in guests {
            let timeout = match engine {
                EngineKind::Epoch => Some(Duration::from_secs(2)),
                EngineKind::Plain => None,
            };
            let compiled =
                CompiledPolicy::from_bytes_with_options(&guest.bytes, PolicyOptions { timeout })
                    .map_err(|e| format!("{}: {e}", guest.name))?;
            let label = if options.engines.len() > 1 {
                format!("{} ({})", guest.name, engine.label())
            } else {
                guest.name.clone()
            };
            variants.push(Variant {
                label,
                guest,
                engine: *engine,
                compiled,
            });
        }
    }
    let _ = writeln!(
        out,
        "\n| case | threads | guest | µs per request | instance µs | call µs | page faults per request | ÷ noop |\n|---|---:|---|---:|---:|---:|---:|---:|"
    );
    for case in cases {
        let selected: Vec<Variant<'_>> = variants
            .iter()
            .filter(|v| !v.guest.mutation_only || case.expect == Expect::Mutate)
            .map(|v| Variant {
                label: v.label.clone(),
                guest: v.guest,
                engine: v.engine,
                compiled: v.compiled.clone(),
            })
            .collect();
        for &threads in &options.threads {
            // [variant][run] -> median of batch means
            let mut full = vec![Vec::new(); selected.len()];
            let mut instance = vec![Vec::new(); selected.len()];
            let mut faults = vec![Vec::new(); selected.len()];
            let mut round_ratios = vec![Vec::new(); selected.len()];
            for run in 0..options.runs {
                eprintln!(
                    "fresh: {} , {threads} thread(s), run {}/{} (load {})",
                    case.name,
                    run + 1,
                    options.runs,
                    load_average()
                );
                let per_thread: Vec<Result<Vec<Vec<BatchMean>>, String>> =
                    std::thread::scope(|scope| {
                        let handles: Vec<_> = (0..threads)
                            .map(|_| {
                                scope
                                    .spawn(|| thread_run(&selected, &case.payload, options.batches))
                            })
                            .collect();
                        handles
                            .into_iter()
                            .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
                            .collect()
                    });
                let mut merged = vec![Vec::new(); selected.len()];
                for result in per_thread {
                    for (i, means) in result?.into_iter().enumerate() {
                        merged[i].extend(means);
                    }
                }
                // Per round, noop's batch over each guest's batch of the
                // same round (batches next to each other in time): the median
                // of these is much steadier on a loaded machine than the
                // ratio of two medians.
                for (i, v) in selected.iter().enumerate() {
                    if let Some(n) = selected
                        .iter()
                        .position(|n| n.guest.name == "noop" && n.engine == v.engine)
                    {
                        round_ratios[i].push(median(
                            &mut merged[n]
                                .iter()
                                .zip(&merged[i])
                                .map(|(n, g)| n.full_us / g.full_us)
                                .collect::<Vec<_>>(),
                        ));
                    }
                }
                for (i, means) in merged.iter().enumerate() {
                    full[i].push(median(
                        &mut means.iter().map(|m| m.full_us).collect::<Vec<_>>(),
                    ));
                    instance[i].push(median(
                        &mut means.iter().map(|m| m.instance_us).collect::<Vec<_>>(),
                    ));
                    faults[i].push(median(
                        &mut means.iter().map(|m| m.full_faults).collect::<Vec<_>>(),
                    ));
                }
            }
            for (i, v) in selected.iter().enumerate() {
                let noop = selected
                    .iter()
                    .position(|n| n.guest.name == "noop" && n.engine == v.engine);
                let call: Vec<f64> = full[i]
                    .iter()
                    .zip(&instance[i])
                    .map(|(f, s)| f - s)
                    .collect();
                let ratio = match noop {
                    Some(n) if n != i => spread(&round_ratios[i], 2),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "| {} | {threads} | {} | {} | {} | {} | {} | {ratio} |",
                    case.name,
                    v.label,
                    spread(&full[i], 1),
                    spread(&instance[i], 1),
                    spread(&call, 1),
                    spread(&faults[i], 1),
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\nLoad average (1 min): {load_start} at the start, {} at the end; {} CPUs.",
        load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    Ok(out)
}
