//! `readonly-rootfs check`: the policy's decisions on Kubernetes manifests,
//! with the pure policy core called natively (the same code as policy.wasm,
//! no wasm runtime). A thin shell: manifests in, the `validate` payload the
//! engine would send for a `CREATE`, the core's verdict out.

pub mod check;
pub mod config;
pub mod inputs;
pub mod patch;
pub mod profiles;
pub mod report;
pub mod served;
pub mod yaml;

use check::{Decision, evaluate_object};
use config::SettingsSource;
use inputs::Input;
use report::{Mode, ObjectReport};
use serde_json::Value;
use serde_norway::Value as Yaml;
use served::NotServed;
use std::io::{Read, Write};
use std::path::PathBuf;

/// Every checked object is accepted (or fixed), and no object has an
/// apiVersion Kubernetes no longer serves.
pub const EXIT_ACCEPTED: u8 = 0;
/// Some object is rejected (with `--fix`: cannot be fixed), or has an
/// apiVersion Kubernetes no longer serves: the API server would refuse it.
pub const EXIT_REJECTED: u8 = 1;
/// Usage error, invalid settings, unreadable input.
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct CheckOptions<'a> {
    pub settings: SettingsSource<'a>,
    /// Evaluate with `mutate: true` and print the fixed documents as YAML.
    pub fix: bool,
    pub output: OutputFormat,
    pub paths: Vec<PathBuf>,
}

/// Runs `check` and returns the exit status.
pub fn run_check(
    options: &CheckOptions,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> u8 {
    let settings = match config::load(&options.settings) {
        Ok(settings) if options.fix => config::with_mutate(&settings),
        Ok(settings) => settings,
        Err(e) => {
            let _ = writeln!(stderr, "readonly-rootfs: {e}");
            return EXIT_ERROR;
        }
    };
    let mode = if options.fix { Mode::Fix } else { Mode::Check };
    let mut run = Run {
        settings: settings.to_string(),
        mode,
        reports: Vec::new(),
        errors: Vec::new(),
        notes: Vec::new(),
        fixed_yaml: String::new(),
    };
    for input in inputs::expand(&options.paths) {
        match input.and_then(|input| read_input(&input, stdin).map(|text| (input, text))) {
            Ok((input, text)) => run.file(&input.name(), &text),
            Err(e) => run.errors.push(e),
        }
    }
    for error in run.notes.iter().chain(&run.errors) {
        let _ = writeln!(stderr, "readonly-rootfs: {error}");
    }
    if let Err(e) = run.print(options.output, stdout, stderr) {
        let _ = writeln!(stderr, "readonly-rootfs: cannot write the output: {e}");
        return EXIT_ERROR;
    }
    run.exit_status()
}

fn read_input(input: &Input, stdin: &mut dyn Read) -> Result<String, String> {
    let mut bytes = Vec::new();
    let read = match input {
        Input::Stdin => stdin.read_to_end(&mut bytes).map(|_| ()),
        Input::File(path) => std::fs::read(path).map(|b| bytes = b),
    };
    read.map_err(|e| format!("{}: {e}", input.name()))?;
    String::from_utf8(bytes).map_err(|e| format!("{}: not UTF-8 text: {e}", input.name()))
}

/// The state of one `check` run.
struct Run {
    /// The settings JSON text given to the core with every object.
    settings: String,
    mode: Mode,
    reports: Vec<ObjectReport>,
    /// Input errors, each naming the file and document.
    errors: Vec<String>,
    /// `--fix`: values whose meaning for kubectl the output may change.
    notes: Vec<String>,
    /// `--fix`: every document read, fixed where the policy could.
    fixed_yaml: String,
}

impl Run {
    fn file(&mut self, file: &str, text: &str) {
        let (documents, syntax_error) = yaml::read_documents(text);
        for (index, mut document) in documents.into_iter().enumerate() {
            // Empty documents (`---` twice, comments only) hold no object.
            if document.is_null() {
                continue;
            }
            let at = Location {
                file,
                document: index + 1,
                item: None,
            };
            self.document(at, &mut document);
            if self.mode == Mode::Fix {
                self.write_fixed(at, &document);
            }
        }
        if let Some(e) = syntax_error {
            self.errors.push(format!(
                "{file}: document {}: invalid YAML: {}",
                e.document, e.message
            ));
        }
    }

    fn document(&mut self, at: Location, document: &mut Yaml) {
        let json = match yaml::to_json(document) {
            Ok(json) => json,
            Err(e) => return self.errors.push(at.error(&e)),
        };
        if !is_list(&json) {
            return self.object(at, json, document);
        }
        let items = match json["items"].clone() {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            _ => {
                return self
                    .errors
                    .push(at.error("the List's items are not a list"));
            }
        };
        for (i, item) in items.into_iter().enumerate() {
            let at = Location {
                item: Some(i),
                ..at
            };
            match document.get_mut("items").and_then(|items| items.get_mut(i)) {
                Some(node) => self.object(at, item, node),
                None => self.errors.push(at.error("the List item disappeared")),
            }
        }
    }

    /// Evaluates one object; with `--fix`, applies its patch to `node`.
    fn object(&mut self, at: Location, object: Value, node: &mut Yaml) {
        let field = |key: &str| object[key].as_str().filter(|s| !s.is_empty());
        let (Some(api_version), Some(kind)) = (field("apiVersion"), field("kind")) else {
            let missing = if field("kind").is_none() {
                "kind"
            } else {
                "apiVersion"
            };
            return self
                .errors
                .push(at.error(&format!("not a Kubernetes object: it has no {missing}")));
        };
        let decision = evaluate_object(&object, &self.settings);
        if self.mode == Mode::Fix
            && let Decision::Mutated {
                object: fixed,
                patch,
                ..
            } = &decision
            && let Err(e) = apply_fix(node, patch, fixed)
        {
            return self.errors.push(at.error(&e));
        }
        let metadata = |key: &str| object["metadata"][key].as_str().map(str::to_string);
        self.reports.push(ObjectReport {
            file: at.file.to_string(),
            document: at.document,
            item: at.item,
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: metadata("namespace"),
            name: metadata("name"),
            decision,
            not_served: NotServed::find(api_version, kind),
        });
    }

    fn write_fixed(&mut self, at: Location, document: &Yaml) {
        for (path, value, reading) in yaml::yaml_1_1_ambiguities(document) {
            self.notes.push(at.error(&format!(
                "warning: {path}: {value:?} is read as a string here; if it was not quoted, kubectl reads it as {reading} (YAML 1.1): check it in the output"
            )));
        }
        match serde_norway::to_string(document) {
            Ok(text) => {
                if !self.fixed_yaml.is_empty() {
                    self.fixed_yaml.push_str("---\n");
                }
                self.fixed_yaml.push_str(&text);
            }
            Err(e) => self
                .errors
                .push(at.error(&format!("cannot write as YAML: {e}"))),
        }
    }

    fn print(
        &self,
        output: OutputFormat,
        stdout: &mut dyn Write,
        stderr: &mut dyn Write,
    ) -> std::io::Result<()> {
        let summary = report::summary(&self.reports, self.mode, self.errors.len());
        match (self.mode, output) {
            (Mode::Fix, _) => {
                stdout.write_all(self.fixed_yaml.as_bytes())?;
                // The fixed, the unfixable, any warnings and apiVersions no
                // longer served, on stderr (stdout is YAML).
                for report in &self.reports {
                    if matches!(
                        report.decision,
                        Decision::Mutated { .. } | Decision::Rejected { .. }
                    ) || !report.decision.warnings().is_empty()
                        || report.not_served.is_some()
                    {
                        stderr.write_all(report.text(Mode::Fix).as_bytes())?;
                    }
                }
                stderr.write_all(summary.as_bytes())?;
            }
            (Mode::Check, OutputFormat::Json) => {
                stdout.write_all(report::json(&self.reports).as_bytes())?
            }
            (Mode::Check, OutputFormat::Text) => {
                for report in &self.reports {
                    stdout.write_all(report.text(Mode::Check).as_bytes())?;
                }
                stdout.write_all(summary.as_bytes())?;
            }
        }
        stdout.flush()
    }

    fn exit_status(&self) -> u8 {
        if !self.errors.is_empty() {
            EXIT_ERROR
        } else if self
            .reports
            .iter()
            .any(|r| !r.decision.allowed() || r.not_served.is_some())
        {
            EXIT_REJECTED
        } else {
            EXIT_ACCEPTED
        }
    }
}

/// Where an object is: file, 1-based document, 0-based `List` item.
#[derive(Debug, Clone, Copy)]
struct Location<'f> {
    file: &'f str,
    document: usize,
    item: Option<usize>,
}

impl Location<'_> {
    fn error(&self, message: &str) -> String {
        let item = self
            .item
            .map(|i| format!(" items[{i}]"))
            .unwrap_or_default();
        format!("{}: document {}{item}: {message}", self.file, self.document)
    }
}

/// `kind: List`, and typed lists such as `PodList` (`kubectl get -o yaml`).
fn is_list(object: &Value) -> bool {
    let kind = object["kind"].as_str().unwrap_or_default();
    kind == "List" || (kind.ends_with("List") && object["items"].is_array())
}

/// Applies the policy's patch to the document's YAML tree and checks that
/// the result is exactly the policy's object.
fn apply_fix(node: &mut Yaml, patch: &[Value], fixed: &Value) -> Result<(), String> {
    let mut patched = node.clone();
    patch::apply(&mut patched, patch)
        .map_err(|e| format!("the policy's fix could not be applied to the YAML: {e}"))?;
    if yaml::to_json(&patched).as_ref() != Ok(fixed) {
        return Err(
            "the policy's fix applied to the YAML does not give the policy's object".into(),
        );
    }
    *node = patched;
    Ok(())
}
