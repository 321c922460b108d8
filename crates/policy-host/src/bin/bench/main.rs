//! `make bench`: runs the built policy through the waPC host (wapc +
//! wasmtime-provider, as policy-server does) on generated requests, next to
//! two baseline guests built with the same release profile: `parse-only`
//! (parses the payload into `serde_json::Value`) and `noop` (does nothing).
//! Prints a Markdown report: per case, request size, mean µs of each guest,
//! the policy's ratio to parse-only on the same request, and linear memory
//! after one call on a fresh instance; then module sizes, compile times and
//! the targets.
//!
//! Usage: `bench --help`. `--dump-only DIR` writes the generated requests
//! (and `index.json` describing them) for `bench/policy-server.py`, the
//! benchmark through the real policy-server, and exits.
//! (`BENCH_FUEL=1` also prints each guest's instruction count per case).

mod fresh;
mod payloads;
mod rawhost;

use clap::Parser;
use payloads::{Case, Expect};
use policy_host::{CompiledPolicy, Policy, ValidationResponse};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Benchmark of policy.wasm against the parse-only and noop guests in the
/// waPC host; prints a Markdown report.
#[derive(Parser)]
#[command(name = "bench")]
struct Options {
    /// The policy module (policy.wasm).
    #[arg(long, required_unless_present = "dump_only")]
    policy: Option<PathBuf>,
    /// The parse-only baseline guest.
    #[arg(long, required_unless_present = "dump_only")]
    parse_only: Option<PathBuf>,
    /// The noop baseline guest.
    #[arg(long, required_unless_present = "dump_only")]
    noop: Option<PathBuf>,
    /// The policy as cargo built it, before wasm-opt (size report only).
    #[arg(long)]
    unoptimized: Option<PathBuf>,
    /// Timed calls per guest and case in each run.
    #[arg(long, default_value_t = 2000, value_parser = positive)]
    iterations: usize,
    /// Untimed calls per guest and case before timing.
    #[arg(long, default_value_t = 200, value_parser = positive)]
    warmup: usize,
    /// Repetitions of the whole measurement.
    #[arg(long, default_value_t = 3, value_parser = positive)]
    runs: usize,
    /// Compiles per module for the compile-time figure.
    #[arg(long, default_value_t = 5, value_parser = positive)]
    compiles: usize,
    /// Also write each case's payload to this directory (for profiling).
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
    /// Only write each case's payload and `index.json` to this directory,
    /// then exit (the requests of bench/policy-server.py).
    #[arg(long, value_name = "DIR", conflicts_with = "dump")]
    dump_only: Option<PathBuf>,
    /// Run only the cases whose name contains this.
    #[arg(long, value_name = "TEXT")]
    only: Option<String>,
    /// Instead of the benchmark, call this guest (policy, parse-only, noop)
    /// `perf_calls` times on each selected case, on a raw-host engine that
    /// writes a perf map: `perf record -g target/release/bench ... --perf policy`.
    #[arg(long, value_name = "GUEST", value_parser = clap::builder::PossibleValuesParser::new(GUESTS))]
    perf: Option<String>,
    /// Calls per case with --perf.
    #[arg(long, default_value_t = 20000, value_parser = positive)]
    perf_calls: usize,
    /// With --perf: a fresh instance for every call (instantiate,
    /// initialise, call, drop), as policy-server does.
    #[arg(long, requires = "perf")]
    perf_fresh: bool,
    /// Instead of the benchmark, measure what policy-server does per
    /// request: a fresh instance for every call (see fresh.rs).
    #[arg(long)]
    fresh: bool,
    /// The mutation floor guest: the cheapest guest that returns the policy's
    /// mutated object for the mutation case (a baseline for that case only).
    #[arg(long)]
    mutation_floor: Option<PathBuf>,
    /// With --fresh: another build of the policy to measure beside it
    /// (NAME=WASM, repeatable).
    #[arg(long = "module", value_name = "NAME=WASM", requires = "fresh")]
    modules: Vec<String>,
    /// With --fresh: thread counts to measure, comma-separated.
    #[arg(long, default_value = "1,2", value_delimiter = ',', value_parser = positive)]
    fresh_threads: Vec<usize>,
    /// With --fresh: batches of 20 requests per guest, thread and run.
    #[arg(long, default_value_t = 50, value_parser = positive)]
    fresh_batches: usize,
    /// With --fresh: engines, comma-separated: epoch (policy-server's
    /// default, with its policy timeout), plain (wasmtime's default).
    #[arg(long, default_value = "epoch", value_delimiter = ',', value_parser = fresh::EngineKind::parse)]
    fresh_engines: Vec<fresh::EngineKind>,
}

fn positive(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("not a positive number: {text}"))
}

/// Writes each case's payload as `NN.json` into `dir`, and `index.json`: one
/// entry per case with its file, name, expected verdict, container count and
/// request size.
fn dump(dir: &Path, cases: &[Case], with_index: bool) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut index = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let file = format!("{i:02}.json");
        let path = dir.join(&file);
        std::fs::write(&path, &case.payload).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("{}: {}", path.display(), case.name);
        index.push(serde_json::json!({
            "file": file,
            "name": case.name,
            "expect": match case.expect {
                Expect::Accept => "accept",
                Expect::Reject => "reject",
                Expect::Mutate => "mutate",
            },
            "containers": case.containers,
            "compliant": case.compliant,
        }));
    }
    if with_index {
        let path = dir.join("index.json");
        let text = serde_json::to_string_pretty(&index).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The three guests, in table order.
const GUESTS: [&str; 3] = ["policy", "parse-only", "noop"];

struct Guest {
    name: &'static str,
    bytes: Vec<u8>,
    compiled: CompiledPolicy,
    raw: rawhost::RawModule,
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        })
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn kib(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

fn size(bytes: usize) -> String {
    if bytes >= 1000 {
        format!("{:.1} KB", bytes as f64 / 1000.0)
    } else {
        format!("{bytes} B")
    }
}

/// Checks one guest's answer to a case.
fn check_response(guest: &str, case: &Case, raw: &[u8]) -> Result<(), String> {
    let response: ValidationResponse = serde_json::from_slice(raw)
        .map_err(|e| format!("{guest} on \"{}\": unparsable response: {e}", case.name))?;
    let expect = if guest == "policy" {
        case.expect
    } else {
        Expect::Accept
    };
    let got = match (response.accepted, response.mutated_object.is_some()) {
        (true, false) => Expect::Accept,
        (true, true) => Expect::Mutate,
        (false, _) => Expect::Reject,
    };
    if got != expect {
        return Err(format!(
            "{guest} on \"{}\": expected {expect:?}, got {got:?} (message: {:?})",
            case.name, response.message
        ));
    }
    Ok(())
}

/// Mean call time of each guest on one case.
struct Sample {
    mean_us: [f64; 3],
}

/// CPU time consumed so far by the calling thread. Calls into wasm run on
/// this thread, and unlike wall-clock time this does not count the time the
/// thread waits for a core on a machine shared with other work.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given, nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Times `iterations` calls of each guest after `warmup` calls. The calls
/// run in interleaved batches (20 calls of the policy, 20 of parse-only, 20
/// of noop, and again), so that whatever else the machine does affects every
/// guest alike, and each batch is timed in CPU time of this thread. The
/// figure for a guest is the median of its batch means: a mean over calls,
/// as the issue asks, that the odd disturbed batch does not skew.
fn measure(instances: &[Policy], case: &Case, options: &Options) -> Result<Sample, String> {
    let call = |policy: &Policy| {
        policy
            .call_validate_raw(&case.payload)
            .map_err(|e| format!("\"{}\": {e}", case.name))
    };
    for policy in instances {
        for _ in 0..options.warmup {
            call(policy)?;
        }
    }
    const BATCH: usize = 20;
    let batches = options.iterations.div_ceil(BATCH);
    let mut batch_means: Vec<Vec<f64>> = vec![Vec::with_capacity(batches); instances.len()];
    for _ in 0..batches {
        for (g, policy) in instances.iter().enumerate() {
            let start = thread_cpu_time();
            for _ in 0..BATCH {
                std::hint::black_box(call(policy)?);
            }
            batch_means[g].push(micros(thread_cpu_time() - start) / BATCH as f64);
        }
    }
    let mut sample = Sample { mean_us: [0.0; 3] };
    for (g, means) in batch_means.iter_mut().enumerate() {
        sample.mean_us[g] = median(means);
    }
    Ok(sample)
}

struct CaseReport {
    samples: Vec<Sample>,
    /// Linear memory of a fresh instance after one call, per guest.
    memory: [usize; 3],
    /// Wasm instructions executed by one call, per guest.
    fuel: [u64; 3],
}

impl CaseReport {
    fn per_run(&self, f: impl Fn(&Sample) -> f64) -> Vec<f64> {
        self.samples.iter().map(f).collect()
    }
    fn median_of(&self, f: impl Fn(&Sample) -> f64) -> f64 {
        median(&mut self.per_run(f))
    }
    fn ratios(&self) -> Vec<f64> {
        self.per_run(|s| s.mean_us[0] / s.mean_us[1])
    }
}

fn spread(values: &[f64], digits: usize) -> String {
    let (lo, hi) = min_max(values);
    let mut sorted = values.to_vec();
    let mid = median(&mut sorted);
    if values.len() == 1 {
        format!("{mid:.digits$}")
    } else {
        format!("{mid:.digits$} ({lo:.digits$}–{hi:.digits$})")
    }
}

fn run() -> Result<bool, String> {
    let options = Options::parse();
    if let Some(dir) = &options.dump_only {
        dump(dir, &selected_cases(&options), true)?;
        return Ok(true);
    }
    let (Some(policy), Some(parse_only), Some(noop)) =
        (&options.policy, &options.parse_only, &options.noop)
    else {
        unreachable!("clap requires the three guests without --dump-only");
    };
    let paths = [policy, parse_only, noop];
    if options.fresh {
        let mut fresh_guests = Vec::new();
        for module in &options.modules {
            let (name, path) = module
                .split_once('=')
                .ok_or_else(|| format!("--module {module}: expected NAME=WASM"))?;
            fresh_guests.push(fresh::FreshGuest {
                name: name.to_string(),
                bytes: read(&PathBuf::from(path))?,
                mutation_only: false,
            });
        }
        for (name, path) in GUESTS.iter().zip(paths) {
            fresh_guests.push(fresh::FreshGuest {
                name: (*name).to_string(),
                bytes: read(path)?,
                mutation_only: false,
            });
        }
        if let Some(path) = &options.mutation_floor {
            fresh_guests.push(fresh::FreshGuest {
                name: "mutation-floor".to_string(),
                bytes: read(path)?,
                mutation_only: true,
            });
        }
        let report = fresh::report(
            &fresh_guests,
            &selected_cases(&options),
            &fresh::FreshOptions {
                runs: options.runs,
                batches: options.fresh_batches,
                threads: options.fresh_threads.clone(),
                engines: options.fresh_engines.clone(),
            },
        )?;
        print!("{report}");
        return Ok(true);
    }

    // Compile each module once for the benchmark, and time compiles.
    let engine = rawhost::engine().map_err(|e| e.to_string())?;
    let mut guests = Vec::new();
    let mut compile_ms: Vec<Vec<f64>> = Vec::new();
    for (name, path) in GUESTS.iter().zip(paths) {
        let bytes = read(path)?;
        let mut times = Vec::new();
        let mut compiled = None;
        for _ in 0..options.compiles {
            let start = Instant::now();
            let c = CompiledPolicy::from_bytes(&bytes)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
            compiled = Some(c);
        }
        let raw = rawhost::RawModule::new(&engine, &bytes)
            .map_err(|e| format!("{} (raw host): {e:#}", path.display()))?;
        compile_ms.push(times);
        guests.push(Guest {
            name,
            bytes,
            compiled: compiled.expect("at least one compile"),
            raw,
        });
    }

    let cases = selected_cases(&options);
    if let Some(dir) = &options.dump {
        dump(dir, &cases, false)?;
    }
    if let Some(name) = &options.perf {
        return perf_loop(&options, &cases, name, paths);
    }
    let mut reports = Vec::new();
    for case in &cases {
        // Verdicts through wapc, the same through the raw host, memory and
        // fuel (of the second call: the first one also pays for lazy
        // initialisation in the guest).
        let mut memory = [0usize; 3];
        let mut fuel = [0u64; 3];
        for (g, guest) in guests.iter().enumerate() {
            let policy = guest.compiled.instantiate().map_err(|e| e.to_string())?;
            let via_wapc = policy
                .call_validate_raw(&case.payload)
                .map_err(|e| format!("{} on \"{}\": {e}", guest.name, case.name))?;
            check_response(guest.name, case, &via_wapc)?;
            let mut raw = guest.raw.instantiate().map_err(|e| format!("{e:#}"))?;
            let raw_call = |raw: &mut rawhost::RawInstance| {
                raw.call("validate", &case.payload)
                    .map_err(|e| format!("{} on \"{}\" (raw host): {e:#}", guest.name, case.name))
            };
            let (via_raw, _) = raw_call(&mut raw)?;
            if via_raw != via_wapc {
                return Err(format!(
                    "{} on \"{}\": the raw host's response differs from wapc's",
                    guest.name, case.name
                ));
            }
            memory[g] = raw.memory_bytes();
            let (again, second_fuel) = raw_call(&mut raw)?;
            if again != via_raw {
                return Err(format!(
                    "{} on \"{}\": a second call answered differently",
                    guest.name, case.name
                ));
            }
            fuel[g] = second_fuel;
            if std::env::var_os("BENCH_FUEL").is_some() {
                eprintln!("fuel {} {}: {second_fuel}", guest.name, case.name);
            }
        }
        reports.push(CaseReport {
            samples: Vec::new(),
            memory,
            fuel,
        });
    }
    for run in 0..options.runs {
        eprintln!("run {}/{}", run + 1, options.runs);
        for (case, report) in cases.iter().zip(reports.iter_mut()) {
            let instances = guests
                .iter()
                .map(|g| g.compiled.instantiate().map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            report.samples.push(measure(&instances, case, &options)?);
        }
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Validate calls\n\nMean µs of {} `validate` calls after {} warm-up calls, in CPU time of the \
         calling thread (median of the means of batches of 20 calls, interleaved across the three \
         guests), through the waPC host \
         (wapc 2 + wasmtime-provider 2.25.0, wasmtime 48); median of {} runs, with the spread \
         (min–max over runs) of the ratio. Instructions: wasm instructions one call executes \
         (wasmtime fuel), policy / parse-only, a measure of work immune to machine load. \
         Peak linear memory: a fresh instance's memory after one call (policy / parse-only / noop).\n",
        options.iterations, options.warmup, options.runs
    );
    let _ = writeln!(
        out,
        "| case | request size | policy µs | parse-only µs | noop µs | ratio to parse-only | instructions ratio | peak linear memory |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|");
    for (case, report) in cases.iter().zip(&reports) {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {} | {:.2} | {} / {} / {} |",
            case.name,
            size(case.payload.len()),
            report.median_of(|s| s.mean_us[0]),
            report.median_of(|s| s.mean_us[1]),
            report.median_of(|s| s.mean_us[2]),
            spread(&report.ratios(), 2),
            report.fuel[0] as f64 / report.fuel[1] as f64,
            kib(report.memory[0]),
            kib(report.memory[1]),
            kib(report.memory[2]),
        );
    }

    let _ = writeln!(
        out,
        "\n### Modules\n\n| module | size | compile (CompiledPolicy::from_bytes), ms: median (min–max) of {} |\n|---|---:|---:|",
        options.compiles
    );
    for (guest, times) in guests.iter().zip(&compile_ms) {
        let _ = writeln!(
            out,
            "| {} | {} bytes ({}) | {} |",
            guest.name,
            guest.bytes.len(),
            kib(guest.bytes.len()),
            spread(times, 1)
        );
    }
    if let Some(path) = &options.unoptimized {
        let bytes = read(path)?;
        let _ = writeln!(
            out,
            "| policy before wasm-opt | {} bytes ({}) | |",
            bytes.len(),
            kib(bytes.len())
        );
    }

    // Targets.
    let mut all_met = true;
    let mut targets = String::new();
    let mut target = |name: String, values: Vec<f64>, limit: f64| {
        let worst = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let met = worst <= limit;
        all_met &= met;
        let _ = writeln!(
            targets,
            "| {name} | ≤ {limit} | {} | {} |",
            spread(&values, 2),
            if met { "met" } else { "NOT MET" }
        );
    };
    let find = |count: usize, compliant: bool| {
        cases
            .iter()
            .position(|c| c.plain_pod && c.containers == count && c.compliant == compliant)
    };
    for count in [1usize, 100, 1000] {
        for compliant in [true, false] {
            let Some(i) = find(count, compliant) else {
                continue;
            };
            target(
                format!("validate ratio: {}", cases[i].name),
                reports[i].ratios(),
                0.6,
            );
        }
    }
    for (i, case) in cases.iter().enumerate() {
        if case.expect == Expect::Mutate {
            target(
                format!("mutation ratio: {}", case.name),
                reports[i].ratios(),
                2.0,
            );
        }
    }
    for compliant in [true, false] {
        let (Some(big), Some(small)) = (find(1000, compliant), find(100, compliant)) else {
            continue;
        };
        let growth = reports[big]
            .samples
            .iter()
            .zip(&reports[small].samples)
            .map(|(b, s)| b.mean_us[0] / s.mean_us[0])
            .collect();
        target(
            format!(
                "linear growth, policy µs 1000 / 100 containers ({})",
                if compliant { "compliant" } else { "violating" }
            ),
            growth,
            12.0,
        );
    }
    let policy_kb = guests[0].bytes.len() as f64 / 1000.0;
    target("policy.wasm size, KB".to_string(), vec![policy_kb], 350.0);

    let _ = writeln!(
        out,
        "\n### Targets\n\nMedian (min–max) over the {} runs; a target is met when the worst run meets it.\n\n\
         | target | limit | measured | |\n|---|---:|---:|---|\n{targets}",
        options.runs
    );
    print!("{out}");
    Ok(all_met)
}

/// The generated cases, restricted by `--only`.
fn selected_cases(options: &Options) -> Vec<Case> {
    let mut cases = payloads::cases();
    if let Some(only) = &options.only {
        cases.retain(|case| case.name.contains(only.as_str()));
    }
    cases
}

/// `--perf`: calls one guest in a loop on a perf-map engine.
fn perf_loop(
    options: &Options,
    cases: &[Case],
    guest: &str,
    paths: [&PathBuf; 3],
) -> Result<bool, String> {
    let g = GUESTS
        .iter()
        .position(|name| *name == guest)
        .ok_or_else(|| format!("--perf: no guest {guest}; one of {GUESTS:?}"))?;
    let engine = rawhost::perf_engine().map_err(|e| e.to_string())?;
    let module =
        rawhost::RawModule::new(&engine, &read(paths[g])?).map_err(|e| format!("{e:#}"))?;
    for case in cases {
        let mut instance = module.instantiate().map_err(|e| format!("{e:#}"))?;
        let start = Instant::now();
        for _ in 0..options.perf_calls {
            if options.perf_fresh {
                instance = module.instantiate().map_err(|e| format!("{e:#}"))?;
            }
            instance
                .call("validate", &case.payload)
                .map_err(|e| format!("{e:#}"))?;
        }
        eprintln!(
            "{guest} on \"{}\": {:.1} µs per call",
            case.name,
            micros(start.elapsed()) / options.perf_calls as f64
        );
    }
    Ok(true)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("bench: some targets are not met");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}
