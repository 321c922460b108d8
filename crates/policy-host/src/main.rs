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
    /// settings: `Error: Provided settings are not valid: MESSAGE` on stderr
    /// and nothing on stdout, exit 1 (as kwctl 1.35). A guest trap or error: an `internal server error`
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

    // As kwctl 1.35: nothing on stdout, `Error: Provided settings are not
    // valid: MESSAGE` on stderr.
    let validation = settings_validation(&policy, &settings)?;
    if !validation.valid {
        return Err(Failure(match validation.message {
            Some(message) => format!("Provided settings are not valid: {message}"),
            None => "Provided settings are not valid".to_owned(),
        }));
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
