//! `policy-host`: run the policy .wasm the way `kwctl run` does, without kwctl.
//!
//! The fallback that lets `make evaluate` and `e2e.bats` work on a machine
//! without kwctl. Annotating, inspecting and distributing the policy is
//! kwctl's job (`make annotated-policy.wasm`, `kwctl push`/`pull`). See
//! `policy-host --help`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use policy_host::{AdmissionResponse, HostError, Policy, SettingsValidation};
use serde_json::Value;

/// Run a Kubewarden waPC policy (.wasm) like `kwctl run`, locally.
#[derive(Parser)]
#[command(name = "policy-host", version)]
#[command(
    after_help = "ENVIRONMENT:\n    POLICY_HOST_LOG=1    print the policy's log calls on stderr"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the settings, then evaluate the request and print the
    /// AdmissionResponse on one line, as kwctl does.
    ///
    /// The request is an AdmissionReview or a bare AdmissionRequest (JSON).
    /// Exit 0 when the request was evaluated, whatever the verdict. Invalid
    /// settings: the settings validation response on stdout, the error on
    /// stderr, exit 1. A guest trap or error: an `internal server error`
    /// AdmissionResponse with code 500 on stdout, the error on stderr, exit 1.
    Run {
        #[command(flatten)]
        settings: SettingsArgs,
        /// File holding the request; `-` for stdin.
        #[arg(short = 'r', long, value_name = "FILE")]
        request_path: String,
        /// The policy module.
        #[arg(value_name = "POLICY.wasm")]
        policy: PathBuf,
    },
    /// Print {"valid":...,"message":...}; exit 0 if valid, 1 if not.
    ValidateSettings {
        #[command(flatten)]
        settings: SettingsArgs,
        #[arg(value_name = "POLICY.wasm")]
        policy: PathBuf,
    },
    /// Evaluate every DIR/*.json sample, sorted by name, and print a readable
    /// block per sample (what `make evaluate` shows).
    ///
    /// A sample is {"description": "...", "settings": {...}, "request":
    /// <AdmissionReview or request>, "expect": "ALLOWED|MUTATED|REJECTED"}.
    /// Exit 1 on host errors and on a sample whose outcome is not the one it
    /// expects.
    Samples {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        #[arg(value_name = "POLICY.wasm")]
        policy: PathBuf,
    },
    /// Print the protocol version the policy reports.
    ProtocolVersion {
        #[arg(value_name = "POLICY.wasm")]
        policy: PathBuf,
    },
}

/// The policy settings, as kwctl takes them (default: `{}`).
#[derive(Args)]
struct SettingsArgs {
    /// JSON file holding the settings object.
    #[arg(
        short = 's',
        long,
        value_name = "FILE",
        conflicts_with = "settings_json"
    )]
    settings_path: Option<PathBuf>,
    /// The settings object inline.
    #[arg(long, value_name = "JSON")]
    settings_json: Option<String>,
}

/// A failure that ends the program with `Error: ...` on stderr and exit 1
/// (like kwctl's anyhow main).
struct Failure(String);

impl From<HostError> for Failure {
    fn from(e: HostError) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            settings,
            request_path,
            policy,
        } => cmd_run(&settings, &request_path, &policy),
        Command::ValidateSettings { settings, policy } => cmd_validate_settings(&settings, &policy),
        Command::Samples { dir, policy } => cmd_samples(&dir, &policy),
        Command::ProtocolVersion { policy } => cmd_protocol_version(&policy),
    };
    result.unwrap_or_else(|Failure(message)| {
        eprintln!("Error: {message}");
        ExitCode::FAILURE
    })
}

fn load_policy(path: &Path) -> Result<Policy, Failure> {
    Ok(Policy::from_file(path)?)
}

/// Settings as kwctl reads them: `--settings-path` (kwctl reads YAML; here JSON,
/// which is a subset), `--settings-json`, or `{}`.
fn read_settings(args: &SettingsArgs) -> Result<Value, Failure> {
    let value = if let Some(path) = &args.settings_path {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure(format!("Cannot open settings file {}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| {
            Failure(format!(
                "Cannot parse settings file {} (policy-host reads JSON settings only): {e}",
                path.display()
            ))
        })?
    } else if let Some(json) = &args.settings_json {
        serde_json::from_str(json)
            .map_err(|e| Failure(format!("Cannot parse settings JSON: {e}")))?
    } else {
        Value::Object(Default::default())
    };
    match value {
        Value::Object(_) | Value::Null => Ok(value),
        _ => Err(Failure(
            "policy settings must be a JSON object or null".into(),
        )),
    }
}

fn read_request(path: &str) -> Result<Value, Failure> {
    let text = if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Failure(format!("cannot read the request from stdin: {e}")))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Failure(format!("cannot read request file {path}: {e}")))?
    };
    serde_json::from_str(&text)
        .map_err(|e| Failure(format!("cannot parse request file {path} as JSON: {e}")))
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

fn cmd_run(
    settings: &SettingsArgs,
    request_path: &str,
    policy_path: &Path,
) -> Result<ExitCode, Failure> {
    let settings = read_settings(settings)?;
    let request = read_request(request_path)?;
    let policy = load_policy(policy_path)?;

    let validation = settings_validation(&policy, &settings)?;
    if !validation.valid {
        print_settings_validation(&validation);
        return Err(Failure(format!(
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

fn cmd_validate_settings(settings: &SettingsArgs, policy_path: &Path) -> Result<ExitCode, Failure> {
    let settings = read_settings(settings)?;
    let policy = load_policy(policy_path)?;
    let validation = settings_validation(&policy, &settings)?;
    print_settings_validation(&validation);
    Ok(if validation.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn cmd_protocol_version(policy_path: &Path) -> Result<ExitCode, Failure> {
    let policy = load_policy(policy_path)?;
    println!("{}", policy.protocol_version()?);
    Ok(ExitCode::SUCCESS)
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

fn cmd_samples(dir: &Path, policy_path: &Path) -> Result<ExitCode, Failure> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            Failure(format!(
                "cannot read samples directory {}: {e}",
                dir.display()
            ))
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    cases.sort();
    if cases.is_empty() {
        return Err(Failure(format!("no *.json sample in {}", dir.display())));
    }

    let policy = load_policy(policy_path)?;
    println!(
        "policy: {}  (protocol {})",
        policy_path.display(),
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
