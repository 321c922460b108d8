//! The `readonly-rootfs` command line: argument parsing only; the work is in
//! the library (`readonly_rootfs_cli::run_check`).

use clap::{Parser, Subcommand, ValueEnum};
use readonly_rootfs_cli::config::SettingsSource;
use readonly_rootfs_cli::{CheckOptions, EXIT_ERROR, OutputFormat, profiles, run_check};
use std::path::PathBuf;
use std::process::ExitCode;

/// The readonly-rootfs Kubewarden policy, run natively on Kubernetes
/// manifests: containers must run with a read-only root filesystem and
/// explicit writable volumes.
#[derive(Parser)]
#[command(name = "readonly-rootfs", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check manifests with the policy, as the cluster would on CREATE.
    ///
    /// Reads YAML or JSON manifests (multi-document YAML, `kind: List`),
    /// evaluates every Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet,
    /// Job, CronJob and ReplicationController as a CREATE with the same code
    /// as the policy's wasm module, and reports any other object as not
    /// checked, saying why: not a kind the policy checks, or a kind of that
    /// name in another API group (kinds are matched on API group and kind).
    /// Documents are numbered from 1, List items from 0.
    ///
    /// A workload whose apiVersion Kubernetes no longer serves
    /// (extensions/v1beta1, apps/v1beta1 and apps/v1beta2 since 1.16,
    /// batch/v1beta1 CronJob since 1.25) is checked as the version that
    /// replaced it (apps/v1, batch/v1) and reported as not served, with the
    /// apiVersion to use: the API server would refuse it. --fix does not
    /// change apiVersion.
    ///
    /// Exit status: 0 when every checked object is accepted (or fixed) and
    /// every apiVersion is served, 1 when any object is rejected (or cannot
    /// be fixed) or has an apiVersion that is no longer served, 2 for usage
    /// errors, invalid settings or unreadable input.
    #[command(after_help = "Examples:\n  \
        readonly-rootfs check --policy policy.yaml k8s/\n  \
        helm template my-chart | readonly-rootfs check --settings settings.yaml -\n  \
        readonly-rootfs check --settings settings.yaml --fix deploy.yaml > deploy.fixed.yaml")]
    Check(CheckArgs),

    /// Print the built-in application profiles (`applicationProfiles`).
    ///
    /// For each profile: the repositories it selects (any tag or digest,
    /// any spelling of the image), each path the image must write with a
    /// read-only root, why, and the public source that shows it, then the
    /// same profile as `containerWritablePaths` rules to copy for a mirror
    /// registry. Exit status 2 for an unknown profile name.
    #[command(after_help = "Examples:
          readonly-rootfs profiles
          readonly-rootfs profiles nginx postgres
          readonly-rootfs profiles --output json grafana")]
    Profiles(ProfilesArgs),
}

#[derive(clap::Args)]
struct ProfilesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,

    /// Profiles to print (all when none is given).
    #[arg(value_name = "NAME")]
    names: Vec<String>,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// YAML or JSON file with the policy's settings object.
    #[arg(long, value_name = "FILE", conflicts_with = "policy")]
    settings: Option<PathBuf>,

    /// A Kubewarden ClusterAdmissionPolicy or AdmissionPolicy manifest
    /// whose spec.settings are used (its rules and selectors are not:
    /// every object of a checked kind is evaluated).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,

    /// Fix what the policy can fix: evaluate with `mutate: true` and print
    /// every input document as YAML on stdout, in input order and key
    /// order, fixed where possible; what cannot be fixed is printed
    /// unchanged and reported on stderr. Comments and formatting are not
    /// kept.
    #[arg(long, conflicts_with = "output")]
    fix: bool,

    /// Report format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,

    /// Files or directories (searched recursively for *.yaml, *.yml,
    /// *.json), or - for standard input.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    /// Readable text (check: a line per object, the policy's message and
    /// warnings, a summary).
    Text,
    /// A JSON array with one record per object (or profile).
    Json,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check(args) => check(args),
        Command::Profiles(args) => print_profiles(&args),
    }
}

fn print_profiles(args: &ProfilesArgs) -> ExitCode {
    match profiles::select(&args.names) {
        Ok(selected) => {
            let out = match args.output {
                Output::Text => profiles::text(&selected),
                Output::Json => profiles::json(&selected),
            };
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("readonly-rootfs: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn check(args: CheckArgs) -> ExitCode {
    let settings = match (&args.settings, &args.policy) {
        (Some(file), _) => SettingsSource::File(file),
        (None, Some(policy)) => SettingsSource::Policy(policy),
        (None, None) => SettingsSource::Defaults,
    };
    let options = CheckOptions {
        settings,
        fix: args.fix,
        output: match args.output {
            Output::Text => OutputFormat::Text,
            Output::Json => OutputFormat::Json,
        },
        paths: args.paths,
    };
    let status = run_check(
        &options,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(status)
}
