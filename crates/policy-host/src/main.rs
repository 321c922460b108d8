//! `policy-host`: run the policy .wasm the way `kwctl` does, without kwctl.
//!
//! See `policy-host --help`.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use policy_host::{AdmissionResponse, HostError, Policy, SettingsValidation};
use serde_json::Value;

mod ship;

const USAGE: &str = "\
policy-host: run a Kubewarden waPC policy (.wasm) like `kwctl run`, locally

USAGE:
    policy-host run [SETTINGS] -r|--request-path FILE POLICY.wasm
        Validate the settings, then evaluate the request (an AdmissionReview or
        a bare AdmissionRequest, JSON; FILE may be `-` for stdin) and print the
        AdmissionResponse on one line, as kwctl does. Exit 0 when the request
        was evaluated, whatever the verdict. Invalid settings: the settings
        validation response on stdout, the error on stderr, exit 1. A guest
        trap or error: an `internal server error` AdmissionResponse with code
        500 on stdout, the error on stderr, exit 1.

    policy-host validate-settings [SETTINGS] POLICY.wasm
        Print {\"valid\":...,\"message\":...}. Exit 0 if valid, 1 if not.

    policy-host samples DIR POLICY.wasm
        Evaluate every DIR/*.json case, sorted by name. A case is
        {\"description\": \"...\", \"settings\": {...}, \"request\": <AdmissionReview or request>}.
        Print a readable block per case: ALLOWED / REJECTED / MUTATED (with
        the decoded JSON patch) / SETTINGS INVALID. Exit 1 only on host errors.

    policy-host protocol-version POLICY.wasm
        Print the protocol version the policy reports.

    policy-host annotate -m|--metadata-path metadata.yml [-u|--usage-path README.md]
                         -o|--output-path OUT.wasm POLICY.wasm
        Like `kwctl annotate`: read metadata.yml, ask the module for its
        protocol version, validate the metadata as kwctl does, set the
        io.kubewarden.policy.usage (README) and io.kubewarden.kwctl
        annotations and write OUT.wasm: POLICY.wasm plus the metadata, as JSON,
        in the `io.kubewarden.metadata` custom section.

    policy-host inspect [-o|--output json|yaml] POLICY.wasm
        Print the metadata embedded by `annotate` (JSON by default). Exit 1
        when the module is not annotated.

    policy-host push [-f|--force] [-o|--output text|json] POLICY.wasm REF
        Like `kwctl push`: push the module to an OCI registry (REF such as
        registry.example.com/policies/name:v1.0.0, `registry://` optional) as a
        Kubewarden policy artifact, and print `REF@sha256:<manifest digest>`.
        Refuses a module without metadata unless --force. Registries on
        localhost/127.0.0.0/8/[::1] are spoken to over plain HTTP, others over
        HTTPS; anonymous access only.

    policy-host pull REF -o|--output-path FILE.wasm
        Like `kwctl pull` to a file: fetch the artifact, check that its single
        wasm layer matches the digest in the manifest and is a wasm module,
        write it to FILE.wasm and print `REF@sha256:<manifest digest>`.

SETTINGS (default: {}):
    -s, --settings-path FILE    JSON file holding the settings object
        --settings-json JSON    the settings object inline

ENVIRONMENT:
    POLICY_HOST_LOG=1           print the policy's log calls on stderr
";

/// A failure that ends the program with a message on stderr.
pub(crate) enum Failure {
    /// Bad command line: usage hint, exit 2 (like clap in kwctl).
    Usage(String),
    /// Anything else: `Error: ...`, exit 1 (like kwctl's anyhow main).
    Error(String),
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Self {
        Failure::Error(e.to_string())
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run_cli(args) {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Error(msg)) => {
            eprintln!("Error: {msg}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Default)]
struct Args {
    settings_path: Option<PathBuf>,
    settings_json: Option<String>,
    request_path: Option<String>,
    positional: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Args, Failure> {
    let mut out = Args::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, Failure> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| Failure::Usage(format!("{name} needs a value")))
        };
        match flag.as_str() {
            "-s" | "--settings-path" => {
                out.settings_path = Some(PathBuf::from(value("--settings-path")?))
            }
            "--settings-json" => out.settings_json = Some(value("--settings-json")?),
            "-r" | "--request-path" => out.request_path = Some(value("--request-path")?),
            "--" => {
                out.positional.extend(args[i + 1..].iter().cloned());
                break;
            }
            f if f.starts_with('-') && f != "-" => {
                return Err(Failure::Usage(format!("unknown option {f}")));
            }
            _ => out.positional.push(arg.clone()),
        }
        i += 1;
    }
    if out.settings_path.is_some() && out.settings_json.is_some() {
        return Err(Failure::Usage(
            "'settings-path' and 'settings-json' cannot be used at the same time".into(),
        ));
    }
    Ok(out)
}

fn run_cli(args: Vec<OsString>) -> Result<ExitCode, Failure> {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|a| Failure::Usage(format!("argument is not UTF-8: {a:?}")))
        })
        .collect::<Result<_, _>>()?;
    let Some((command, rest)) = args.split_first() else {
        return Err(Failure::Usage("missing command".into()));
    };
    match command.as_str() {
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        "run" => cmd_run(parse_args(rest)?),
        "validate-settings" => cmd_validate_settings(parse_args(rest)?),
        "samples" => cmd_samples(parse_args(rest)?),
        "protocol-version" => {
            let args = parse_args(rest)?;
            let policy = load_policy(one_policy(&args.positional)?)?;
            println!("{}", policy.protocol_version()?);
            Ok(ExitCode::SUCCESS)
        }
        "annotate" => ship::annotate(rest),
        "inspect" => ship::inspect(rest),
        "push" => ship::push(rest),
        "pull" => ship::pull(rest),
        other => Err(Failure::Usage(format!("unknown command {other}"))),
    }
}

fn one_policy(positional: &[String]) -> Result<&str, Failure> {
    match positional {
        [policy] => Ok(policy),
        [] => Err(Failure::Usage("missing POLICY.wasm".into())),
        _ => Err(Failure::Usage(format!(
            "unexpected arguments: {}",
            positional[1..].join(" ")
        ))),
    }
}

fn load_policy(path: &str) -> Result<Policy, Failure> {
    Ok(Policy::from_file(path)?)
}

/// Settings as kwctl reads them: `--settings-path` (kwctl reads YAML; here JSON,
/// which is a subset), `--settings-json`, or `{}`.
fn read_settings(args: &Args) -> Result<Value, Failure> {
    let value = if let Some(path) = &args.settings_path {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::Error(format!("Cannot open settings file {}: {e}", path.display()))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            Failure::Error(format!(
                "Cannot parse settings file {} (policy-host reads JSON settings only): {e}",
                path.display()
            ))
        })?
    } else if let Some(json) = &args.settings_json {
        serde_json::from_str(json)
            .map_err(|e| Failure::Error(format!("Cannot parse settings JSON: {e}")))?
    } else {
        Value::Object(Default::default())
    };
    match value {
        Value::Object(_) | Value::Null => Ok(value),
        _ => Err(Failure::Error(
            "policy settings must be a JSON object or null".into(),
        )),
    }
}

fn read_request(path: &str) -> Result<Value, Failure> {
    let text = if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Failure::Error(format!("cannot read the request from stdin: {e}")))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Failure::Error(format!("cannot read request file {path}: {e}")))?
    };
    serde_json::from_str(&text)
        .map_err(|e| Failure::Error(format!("cannot parse request file {path} as JSON: {e}")))
}

/// Settings validation as kwctl reports it: a guest failure becomes an invalid
/// response with policy-evaluator's message.
fn settings_validation(policy: &Policy, settings: &Value) -> Result<SettingsValidation, Failure> {
    match policy.validate_settings(settings) {
        Ok(v) => Ok(v),
        Err(e @ HostError::InvalidSettings(_)) => Err(e.into()),
        Err(HostError::InvalidResponse { message, .. }) => Ok(SettingsValidation {
            valid: false,
            message: Some(format!("error: {message}")),
        }),
        Err(e) => Ok(SettingsValidation {
            valid: false,
            message: Some(format!(
                "Error invoking settings validation callback: {}",
                e.engine_message()
            )),
        }),
    }
}

fn print_settings_validation(v: &SettingsValidation) {
    println!(
        "{}",
        serde_json::to_string(v).expect("SettingsValidation always serialises")
    );
}

fn cmd_run(args: Args) -> Result<ExitCode, Failure> {
    let policy_path = one_policy(&args.positional)?;
    let Some(request_path) = &args.request_path else {
        return Err(Failure::Usage("missing --request-path FILE".into()));
    };
    let settings = read_settings(&args)?;
    let request = read_request(request_path)?;
    let policy = load_policy(policy_path)?;

    let validation = settings_validation(&policy, &settings)?;
    if !validation.valid {
        print_settings_validation(&validation);
        return Err(Failure::Error(format!(
            "Provided settings are not valid: {:?}",
            validation.message
        )));
    }

    match policy.evaluate(&request, &settings) {
        Ok(response) => {
            println!("{}", response.to_json_line());
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ HostError::InvalidRequest(_)) => Err(e.into()),
        Err(e) => {
            let response = AdmissionResponse::internal_server_error(
                request_uid(&request),
                &e.engine_message(),
            );
            println!("{}", response.to_json_line());
            eprintln!("Error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn request_uid(request: &Value) -> String {
    policy_host::normalize_request(request)
        .ok()
        .and_then(|r| r.get("uid").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

fn cmd_validate_settings(args: Args) -> Result<ExitCode, Failure> {
    let policy_path = one_policy(&args.positional)?;
    let settings = read_settings(&args)?;
    let policy = load_policy(policy_path)?;
    let validation = settings_validation(&policy, &settings)?;
    print_settings_validation(&validation);
    Ok(if validation.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

// ---------------------------------------------------------------------------
// samples
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    allowed: usize,
    rejected: usize,
    mutated: usize,
    settings_invalid: usize,
    errors: usize,
}

fn cmd_samples(args: Args) -> Result<ExitCode, Failure> {
    let (dir, policy_path) = match args.positional.as_slice() {
        [dir, policy] => (Path::new(dir), policy.as_str()),
        _ => {
            return Err(Failure::Usage(
                "usage: policy-host samples DIR POLICY.wasm".into(),
            ));
        }
    };
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            Failure::Error(format!(
                "cannot read samples directory {}: {e}",
                dir.display()
            ))
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    cases.sort();
    if cases.is_empty() {
        return Err(Failure::Error(format!(
            "no *.json sample in {}",
            dir.display()
        )));
    }

    let policy = load_policy(policy_path)?;
    println!(
        "policy: {policy_path}  (protocol {})",
        policy.protocol_version()?
    );
    let mut tally = Tally::default();
    for case in &cases {
        println!();
        run_sample(&policy, case, &mut tally);
    }
    println!();
    println!(
        "{} samples: {} allowed, {} mutated, {} rejected, {} with invalid settings, {} host errors",
        cases.len(),
        tally.allowed,
        tally.mutated,
        tally.rejected,
        tally.settings_invalid,
        tally.errors
    );
    Ok(if tally.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_sample(policy: &Policy, path: &Path, tally: &mut Tally) {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    println!("━━ {name} ━━");
    let case: Value = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            tally.errors += 1;
            println!("  HOST ERROR: cannot read {}: {e}", path.display());
            return;
        }
    };
    if let Some(description) = case.get("description").and_then(Value::as_str) {
        for line in description.lines() {
            println!("  {line}");
        }
    }
    let settings = case
        .get("settings")
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let Some(request) = case.get("request") else {
        tally.errors += 1;
        println!("  HOST ERROR: the sample has no `request`");
        return;
    };
    println!("  settings: {}", compact(&settings));
    if let Ok(norm) = policy_host::normalize_request(request) {
        let s = |p: &str| {
            norm.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let mut target = s("/name");
        if target.is_empty() {
            target = s("/object/metadata/name");
        }
        let ns = s("/namespace");
        let sub = s("/subResource");
        println!(
            "  request:  {} {}{}{}",
            s("/operation"),
            s("/kind/kind"),
            if sub.is_empty() {
                String::new()
            } else {
                format!(" ({sub})")
            },
            match (ns.is_empty(), target.is_empty()) {
                (_, true) => String::new(),
                (true, false) => format!(" {target}"),
                (false, false) => format!(" {ns}/{target}"),
            }
        );
    }

    match policy.validate_settings(&settings) {
        Ok(v) if v.valid => {}
        Ok(v) => {
            tally.settings_invalid += 1;
            println!("  result:   SETTINGS INVALID");
            print_field("message", v.message.as_deref().unwrap_or(""));
            return;
        }
        Err(e) => {
            tally.errors += 1;
            println!("  HOST ERROR: {e}");
            return;
        }
    }

    let response = match policy.evaluate(request, &settings) {
        Ok(r) => r,
        Err(e) => {
            tally.errors += 1;
            println!("  HOST ERROR: {e}");
            return;
        }
    };
    let verdict = if !response.allowed {
        tally.rejected += 1;
        "REJECTED"
    } else if response.is_mutated() {
        tally.mutated += 1;
        "MUTATED"
    } else {
        tally.allowed += 1;
        "ALLOWED"
    };
    match response.code() {
        Some(code) => println!("  result:   {verdict} (code {code})"),
        None => println!("  result:   {verdict}"),
    }
    if let Some(message) = response.message() {
        print_field("message", message);
    }
    for warning in response.warnings.iter().flatten() {
        print_field("warning", warning);
    }
    if let Some(annotations) = &response.audit_annotations {
        for (k, v) in annotations {
            print_field("audit", &format!("{k}={v}"));
        }
    }
    // A sample may say what it demonstrates; a different outcome is an error
    // so that `make evaluate` cannot quietly show the wrong thing.
    if let Some(expected) = case.get("expect").and_then(Value::as_str)
        && !expected.eq_ignore_ascii_case(verdict)
    {
        tally.errors += 1;
        println!("  UNEXPECTED: the sample expects {expected}");
    }
    if response.is_mutated() {
        println!("  patch:");
        let ops = Value::Array(response.patch_operations());
        let pretty = serde_json::to_string_pretty(&ops).unwrap_or_default();
        for line in pretty.lines() {
            println!("    {line}");
        }
    }
}

/// `  label:    text`, continuation lines indented under the text.
fn print_field(label: &str, text: &str) {
    let mut lines = text.lines();
    println!(
        "  {:<9} {}",
        format!("{label}:"),
        lines.next().unwrap_or("")
    );
    for line in lines {
        println!("  {:<9} {line}", "");
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
