//! The shipping subcommands of `policy-host`: `annotate`, `inspect`, `push`,
//! `pull` (what `kwctl annotate`, `kwctl inspect`, `kwctl push` and
//! `kwctl pull` do for a waPC policy).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;

use policy_host::metadata::{self, Metadata};
use policy_host::oci;

use crate::Failure;

/// Flags of one subcommand: `(short, long, takes_value)`.
type FlagSpec = &'static [(&'static str, &'static str, bool)];

/// Parsed flags (by long name, boolean flags get "true") and positionals.
struct Parsed {
    flags: BTreeMap<&'static str, String>,
    positional: Vec<String>,
}

fn parse(args: &[String], spec: FlagSpec) -> Result<Parsed, Failure> {
    let mut flags = BTreeMap::new();
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            positional.extend(args[i + 1..].iter().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            positional.push(arg.clone());
            i += 1;
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let Some(&(_, long, takes_value)) = spec
            .iter()
            .find(|(short, long, _)| name == *short || name.strip_prefix("--") == Some(*long))
        else {
            return Err(Failure::Usage(format!("unknown option {name}")));
        };
        let value = if takes_value {
            match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| Failure::Usage(format!("--{long} needs a value")))?
                }
            }
        } else if inline.is_some() {
            return Err(Failure::Usage(format!("--{long} takes no value")));
        } else {
            "true".to_owned()
        };
        flags.insert(long, value);
        i += 1;
    }
    Ok(Parsed { flags, positional })
}

fn required<'a>(parsed: &'a Parsed, long: &str) -> Result<&'a str, Failure> {
    parsed
        .flags
        .get(long)
        .map(String::as_str)
        .ok_or_else(|| Failure::Usage(format!("missing --{long}")))
}

fn positionals<const N: usize>(parsed: &Parsed, what: &str) -> Result<[String; N], Failure> {
    <[String; N]>::try_from(parsed.positional.clone()).map_err(|got| {
        Failure::Usage(format!(
            "expected {what}, got {} argument(s): {}",
            got.len(),
            got.join(" ")
        ))
    })
}

fn read(path: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::Error(format!("cannot read {path}: {e}")))
}

fn read_text(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::Error(format!("cannot read {path}: {e}")))
}

fn write(path: &str, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).map_err(|e| Failure::Error(format!("cannot write {path}: {e}")))
}

fn error(e: impl std::fmt::Display) -> Failure {
    Failure::Error(e.to_string())
}

/// `policy-host annotate -m metadata.yml [-u README.md] -o OUT.wasm IN.wasm`
pub fn annotate(args: &[String]) -> Result<ExitCode, Failure> {
    let parsed = parse(
        args,
        &[
            ("-m", "metadata-path", true),
            ("-u", "usage-path", true),
            ("-o", "output-path", true),
        ],
    )?;
    let [input] = positionals::<1>(&parsed, "one POLICY.wasm")?;
    let metadata_path = required(&parsed, "metadata-path")?;
    let output = required(&parsed, "output-path")?;
    let wasm = read(&input)?;
    let metadata_yaml = read_text(metadata_path)?;
    let usage = match parsed.flags.get("usage-path") {
        Some(path) => Some(read_text(path)?),
        None => None,
    };
    let (annotated, _) = metadata::annotate(
        &wasm,
        &metadata_yaml,
        usage.as_deref(),
        &metadata::tool_version(),
    )
    .map_err(error)?;
    write(output, &annotated)?;
    Ok(ExitCode::SUCCESS)
}

/// `policy-host inspect [-o json|yaml] POLICY.wasm`
pub fn inspect(args: &[String]) -> Result<ExitCode, Failure> {
    let parsed = parse(args, &[("-o", "output", true)])?;
    let [input] = positionals::<1>(&parsed, "one POLICY.wasm")?;
    let wasm = read(&input)?;
    let Some(metadata) = Metadata::from_wasm(&wasm).map_err(error)? else {
        return Err(Failure::Error(format!(
            "No Kubewarden metadata found inside of {input}: it has no {} custom section",
            metadata::METADATA_SECTION
        )));
    };
    let text = match parsed.flags.get("output").map(String::as_str) {
        None | Some("json") => serde_json::to_string_pretty(&metadata).map_err(error)?,
        Some("yaml") => serde_yaml::to_string(&metadata).map_err(error)?,
        Some(other) => {
            return Err(Failure::Usage(format!(
                "unknown output format {other} (json or yaml)"
            )));
        }
    };
    // `inspect ... | head` must not panic on a closed pipe.
    let _ = writeln!(std::io::stdout(), "{}", text.trim_end());
    Ok(ExitCode::SUCCESS)
}

/// `policy-host push [-f] [-o text|json] POLICY.wasm REF`
pub fn push(args: &[String]) -> Result<ExitCode, Failure> {
    let parsed = parse(args, &[("-f", "force", false), ("-o", "output", true)])?;
    let [input, reference] = positionals::<2>(&parsed, "POLICY.wasm and REF")?;
    let json = match parsed.flags.get("output").map(String::as_str) {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            return Err(Failure::Usage(format!(
                "unknown output format {other} (text or json)"
            )));
        }
    };
    let wasm = read(&input)?;
    let pushed = oci::push(&wasm, &reference, parsed.flags.contains_key("force")).map_err(error)?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "immutable_ref": pushed.immutable_ref,
                "manifest_digest": pushed.manifest_digest,
                "layer_digest": pushed.layer_digest,
            })
        );
    } else {
        eprintln!("Policy successfully pushed: {}", pushed.immutable_ref);
        println!("{}", pushed.immutable_ref);
    }
    Ok(ExitCode::SUCCESS)
}

/// `policy-host pull REF -o FILE.wasm`
pub fn pull(args: &[String]) -> Result<ExitCode, Failure> {
    let parsed = parse(args, &[("-o", "output-path", true)])?;
    let [reference] = positionals::<1>(&parsed, "one REF")?;
    let output = required(&parsed, "output-path")?;
    let pulled = oci::pull(&reference).map_err(error)?;
    write(output, &pulled.wasm)?;
    eprintln!(
        "Pulled {} (layer {}, {} bytes) into {output}",
        pulled.immutable_ref,
        pulled.layer_digest,
        pulled.wasm.len()
    );
    println!("{}", pulled.immutable_ref);
    Ok(ExitCode::SUCCESS)
}
