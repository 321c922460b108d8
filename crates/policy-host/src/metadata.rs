//! Kubewarden policy metadata: what `kwctl annotate` embeds in a policy module
//! and `kwctl inspect` reads back.
//!
//! * [`Metadata`] mirrors policy-evaluator's `policy_metadata::Metadata`: same
//!   camelCase field names, same defaults (`backgroundAudit: true`,
//!   `executionMode: kubewarden-wapc`, `policyType: kubernetes`), same omission
//!   rules (`annotations` and `minimumKubewardenVersion` left out when absent),
//!   so the JSON this crate writes is what kwctl and policy-server read.
//! * [`Metadata::validate`] applies the checks kwctl makes before annotating
//!   (policy-evaluator's `validator` rules), plus the ones a waPC policy for
//!   Kubernetes needs: at least one rule, `executionMode: kubewarden-wapc`,
//!   protocol `v1`.
//! * [`annotate`] asks the module for its `protocol_version`, sets the
//!   `io.kubewarden.policy.usage` (README) and `io.kubewarden.kwctl` annotations
//!   and appends the metadata, as JSON, in a custom section named
//!   [`METADATA_SECTION`]. The module's code is not touched: the custom section is
//!   hand-encoded and appended (an older metadata section is dropped first).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{HostError, Policy, ProtocolVersion};

/// Name of the wasm custom section holding the metadata JSON.
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";
/// Annotation holding the policy's README.
pub const ANNOTATION_USAGE: &str = "io.kubewarden.policy.usage";
/// Annotation naming the tool that annotated the module.
pub const ANNOTATION_KWCTL: &str = "io.kubewarden.kwctl";
/// Annotation holding the policy's source repository.
pub const ANNOTATION_SOURCE: &str = "io.kubewarden.policy.source";
/// Annotation holding the policy's version.
pub const ANNOTATION_VERSION: &str = "io.kubewarden.policy.version";
/// OCI annotation that `kwctl push` derives from [`ANNOTATION_SOURCE`].
pub const OCI_ANNOTATION_SOURCE: &str = "org.opencontainers.image.source";

/// What this crate writes into [`ANNOTATION_KWCTL`] (kwctl writes its own version).
pub fn tool_version() -> String {
    format!("policy-host {}", env!("CARGO_PKG_VERSION"))
}

/// Admission operations, as Kubernetes and policy-evaluator spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Operation {
    #[serde(rename = "CREATE")]
    Create,
    #[serde(rename = "UPDATE")]
    Update,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "CONNECT")]
    Connect,
    #[serde(rename = "*")]
    All,
}

/// One admission rule (`rules[]` of metadata.yml, and of the policy resource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    pub operations: Vec<Operation>,
}

/// A resource a context-aware policy may read from the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextAwareResource {
    pub api_version: String,
    pub kind: String,
}

/// policy-evaluator's `PolicyExecutionMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ExecutionMode {
    #[default]
    #[serde(rename = "kubewarden-wapc")]
    KubewardenWapc,
    #[serde(rename = "opa")]
    Opa,
    #[serde(rename = "gatekeeper")]
    OpaGatekeeper,
    #[serde(rename = "wasi")]
    Wasi,
}

impl fmt::Display for ExecutionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExecutionMode::KubewardenWapc => "kubewarden-wapc",
            ExecutionMode::Opa => "opa",
            ExecutionMode::OpaGatekeeper => "gatekeeper",
            ExecutionMode::Wasi => "wasi",
        })
    }
}

/// policy-evaluator's `PolicyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PolicyType {
    #[default]
    #[serde(rename = "kubernetes")]
    Kubernetes,
    #[serde(rename = "raw")]
    Raw,
}

fn default_true() -> bool {
    true
}

/// policy-evaluator's `Metadata`: the content of metadata.yml, and (with
/// `protocolVersion` set) of the [`METADATA_SECTION`] custom section.
///
/// `rules` and `mutating` are required, as in policy-evaluator; unknown keys
/// are ignored, as kwctl does. Annotations are kept in a sorted map, so the JSON
/// is the same on every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub protocol_version: Option<ProtocolVersion>,
    pub rules: Vec<Rule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    pub mutating: bool,
    #[serde(default = "default_true")]
    pub background_audit: bool,
    #[serde(default)]
    pub execution_mode: ExecutionMode,
    #[serde(default)]
    pub policy_type: PolicyType,
    #[serde(default)]
    pub context_aware_resources: BTreeSet<ContextAwareResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_kubewarden_version: Option<String>,
}

/// Why metadata could not be read, validated or embedded.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// metadata.yml is not valid YAML, or does not have the expected shape.
    #[error("cannot parse the metadata: {0}")]
    Parse(String),
    /// The metadata breaks one of kwctl's rules (one message per problem).
    #[error("Metadata is invalid: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The module could not be loaded, or its `protocol_version` failed.
    #[error("Cannot compute ProtocolVersion used by the policy: {0}")]
    Protocol(HostError),
    /// The bytes are not a binary wasm module (or are truncated).
    #[error("not a wasm module: {0}")]
    Wasm(String),
    /// The custom section holds something that is not metadata JSON.
    #[error("cannot deserialize the {METADATA_SECTION} custom section: {0}")]
    Section(String),
}

impl Metadata {
    /// Parse metadata.yml.
    pub fn from_yaml(text: &str) -> Result<Self, MetadataError> {
        serde_yaml::from_str(text).map_err(|e| MetadataError::Parse(e.to_string()))
    }

    /// Read the metadata embedded in a module: `Ok(None)` when the module has
    /// no [`METADATA_SECTION`] section (it was not annotated).
    pub fn from_wasm(wasm: &[u8]) -> Result<Option<Self>, MetadataError> {
        let sections = custom_sections(wasm)?;
        match sections.iter().find(|s| s.name == METADATA_SECTION) {
            None => Ok(None),
            Some(section) => serde_json::from_slice(section.data(wasm))
                .map(Some)
                .map_err(|e| MetadataError::Section(e.to_string())),
        }
    }

    /// The annotation `key`, if set.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }

    /// The checks kwctl makes before annotating (policy-evaluator's
    /// `Metadata::validate`), plus: at least one rule, and a waPC Kubernetes
    /// policy speaking protocol `v1`. Every problem is reported.
    pub fn validate(&self) -> Result<(), MetadataError> {
        let mut problems = Vec::new();
        match self.protocol_version {
            None => problems.push("protocolVersion: must be set".to_owned()),
            Some(ProtocolVersion::V1) => {}
            Some(other) => problems.push(format!(
                "protocolVersion: must be v1 for a kubewarden-wapc policy, got {other}"
            )),
        }
        if self.execution_mode != ExecutionMode::KubewardenWapc {
            problems.push(format!(
                "executionMode: this tool only annotates kubewarden-wapc policies, got {}",
                self.execution_mode
            ));
        }
        if self.policy_type != PolicyType::Kubernetes {
            problems.push("policyType: must be kubernetes for an admission policy".to_owned());
        }
        if self.rules.is_empty() {
            problems.push("rules: at least one rule is needed".to_owned());
        }
        for (i, rule) in self.rules.iter().enumerate() {
            for problem in rule_problems(rule) {
                problems.push(format!("rules[{i}].{problem}"));
            }
        }
        for resource in &self.context_aware_resources {
            if resource.api_version.is_empty() || resource.kind.is_empty() {
                problems.push(format!(
                    "contextAwareResources: apiVersion and kind must not be empty ({resource:?})"
                ));
            }
        }
        if let Some(version) = &self.minimum_kubewarden_version
            && !is_semver(version)
        {
            problems.push(format!(
                "minimumKubewardenVersion: {version:?} is not a semantic version"
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(MetadataError::Invalid(problems))
        }
    }

    /// The metadata as the JSON of the custom section.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("Metadata always serialises")
    }
}

fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// policy-evaluator's `Rule` validation: every list non-empty, `*` alone, and
/// Kubernetes' rules for wildcard resources and subresources.
fn rule_problems(rule: &Rule) -> Vec<String> {
    let mut problems = Vec::new();
    for (field, list) in [
        ("apiGroups", &rule.api_groups),
        ("apiVersions", &rule.api_versions),
        ("resources", &rule.resources),
    ] {
        if list.is_empty() {
            problems.push(format!("{field}: must not be empty"));
        }
        if field != "resources" && list.iter().any(|s| s == "*") && list.len() > 1 {
            problems.push(format!(
                "{field}: no other elements can be defined when '*' is used"
            ));
        }
    }
    if rule.operations.is_empty() {
        problems.push("operations: must not be empty".to_owned());
    }
    if rule.operations.contains(&Operation::All) && rule.operations.len() > 1 {
        problems.push("operations: no other elements can be defined when '*' is used".to_owned());
    }
    if let Err(problem) = resources_problem(&rule.resources) {
        problems.push(format!("resources: {problem}"));
    }
    problems
}

/// Kubernetes' `validateResources` (admissionregistration validation), as
/// transposed by policy-evaluator.
fn resources_problem(resources: &[String]) -> Result<(), String> {
    let mut with_wildcard_subresource: HashSet<&str> = HashSet::new();
    let mut subresource_with_wildcard_resource: HashSet<&str> = HashSet::new();
    let mut has_double_wildcard = false;
    let mut has_single_wildcard = false;
    let mut has_resource_without_subresource = false;
    for resource in resources {
        if resource.is_empty() {
            return Err("empty resource is not allowed".into());
        }
        match resource.as_str() {
            "*/*" => has_double_wildcard = true,
            "*" => has_single_wildcard = true,
            _ => {}
        }
        let Some((res, sub)) = resource.split_once('/') else {
            has_resource_without_subresource = resource != "*";
            continue;
        };
        if with_wildcard_subresource.contains(res) {
            return Err(format!(
                "if '{res}/*' is present, must not specify {resource}"
            ));
        }
        if subresource_with_wildcard_resource.contains(sub) {
            return Err(format!(
                "if '*/{sub}' is present, must not specify {resource}"
            ));
        }
        if sub == "*" {
            with_wildcard_subresource.insert(res);
        }
        if res == "*" {
            subresource_with_wildcard_resource.insert(sub);
        }
    }
    if resources.len() > 1 && has_double_wildcard {
        return Err("if '*/*' is present, must not specify other resources".into());
    }
    if has_single_wildcard && has_resource_without_subresource {
        return Err(
            "if '*' is present, must not specify other resources without subresources".into(),
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Annotate
// ---------------------------------------------------------------------------

/// `kwctl annotate`: load `wasm`, ask it for its protocol version, complete
/// and validate the metadata parsed from `metadata_yaml`, and return the
/// annotated module with the metadata that went into it.
///
/// `usage` (the README) becomes `io.kubewarden.policy.usage`;
/// `io.kubewarden.kwctl` is set to `tool` (overriding any value in the file,
/// as kwctl does). A metadata section already in `wasm` is replaced.
pub fn annotate(
    wasm: &[u8],
    metadata_yaml: &str,
    usage: Option<&str>,
    tool: &str,
) -> Result<(Vec<u8>, Metadata), MetadataError> {
    // Reject what is not a binary module before spending time compiling it.
    custom_sections(wasm)?;
    let mut metadata = Metadata::from_yaml(metadata_yaml)?;
    let policy = Policy::from_bytes(wasm).map_err(MetadataError::Protocol)?;
    let protocol = policy.protocol_version().map_err(MetadataError::Protocol)?;
    metadata.protocol_version = Some(protocol);
    let annotations = metadata.annotations.get_or_insert_with(BTreeMap::new);
    if let Some(usage) = usage {
        annotations.insert(ANNOTATION_USAGE.to_owned(), usage.to_owned());
    }
    annotations.insert(ANNOTATION_KWCTL.to_owned(), tool.to_owned());
    metadata.validate()?;
    let annotated = with_custom_section(wasm, METADATA_SECTION, &metadata.to_json())?;
    Ok((annotated, metadata))
}

// ---------------------------------------------------------------------------
// Wasm sections
// ---------------------------------------------------------------------------

const WASM_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/// True when `bytes` start like a binary wasm module (`\0asm`, version 1).
pub fn is_wasm_module(bytes: &[u8]) -> bool {
    bytes.starts_with(&WASM_HEADER)
}

/// One custom section of a module: its name and where its payload lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomSection {
    pub name: String,
    /// Byte range of the whole section (id, size, name, payload) in the module.
    pub section: std::ops::Range<usize>,
    /// Byte range of the payload (after the name).
    pub payload: std::ops::Range<usize>,
}

impl CustomSection {
    /// The payload bytes, from the module the section was found in.
    pub fn data<'a>(&self, wasm: &'a [u8]) -> &'a [u8] {
        &wasm[self.payload.clone()]
    }
}

/// Unsigned LEB128 as used by the wasm binary format (u32 range).
fn read_u32_leb(bytes: &[u8], pos: &mut usize) -> Result<u32, MetadataError> {
    let mut result: u64 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes
            .get(*pos)
            .ok_or_else(|| MetadataError::Wasm("truncated LEB128 integer".into()))?;
        *pos += 1;
        result |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return u32::try_from(result)
                .map_err(|_| MetadataError::Wasm("LEB128 integer out of range".into()));
        }
    }
    Err(MetadataError::Wasm("LEB128 integer too long".into()))
}

fn write_u32_leb(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Walk the module's sections (checking the header and every section's
/// bounds) and return its custom sections.
pub fn custom_sections(wasm: &[u8]) -> Result<Vec<CustomSection>, MetadataError> {
    if !is_wasm_module(wasm) {
        return Err(MetadataError::Wasm(
            "missing the \\0asm magic and version 1 header".into(),
        ));
    }
    let mut sections = Vec::new();
    let mut pos = WASM_HEADER.len();
    while pos < wasm.len() {
        let start = pos;
        let id = wasm[pos];
        pos += 1;
        let size = read_u32_leb(wasm, &mut pos)? as usize;
        let end = pos
            .checked_add(size)
            .filter(|&end| end <= wasm.len())
            .ok_or_else(|| {
                MetadataError::Wasm(format!("section {id} at offset {start} is truncated"))
            })?;
        if id == 0 {
            let name_len = read_u32_leb(wasm, &mut pos)? as usize;
            let name_end = pos
                .checked_add(name_len)
                .filter(|&e| e <= end)
                .ok_or_else(|| {
                    MetadataError::Wasm(format!("custom section at offset {start}: bad name"))
                })?;
            let name = std::str::from_utf8(&wasm[pos..name_end])
                .map_err(|_| {
                    MetadataError::Wasm(format!(
                        "custom section at offset {start}: name is not UTF-8"
                    ))
                })?
                .to_owned();
            sections.push(CustomSection {
                name,
                section: start..end,
                payload: name_end..end,
            });
        }
        pos = end;
    }
    Ok(sections)
}

/// Encode a custom section: id 0, LEB128 size, LEB128 name length, name, payload.
pub fn encode_custom_section(name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(name.len() + payload.len() + 5);
    write_u32_leb(&mut body, name.len() as u32);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = Vec::with_capacity(body.len() + 6);
    out.push(0);
    write_u32_leb(&mut out, body.len() as u32);
    out.extend_from_slice(&body);
    out
}

/// `wasm` with every custom section called `name` removed and one new custom
/// section `name` holding `payload` appended at the end.
pub fn with_custom_section(
    wasm: &[u8],
    name: &str,
    payload: &[u8],
) -> Result<Vec<u8>, MetadataError> {
    let sections = custom_sections(wasm)?;
    let mut out = Vec::with_capacity(wasm.len() + payload.len() + name.len() + 16);
    let mut copied = 0;
    for section in sections.iter().filter(|s| s.name == name) {
        out.extend_from_slice(&wasm[copied..section.section.start]);
        copied = section.section.end;
    }
    out.extend_from_slice(&wasm[copied..]);
    out.extend_from_slice(&encode_custom_section(name, payload));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const METADATA: &str = r#"
rules:
  - apiGroups: [""]
    apiVersions: [v1]
    resources: [pods, pods/ephemeralcontainers]
    operations: [CREATE, UPDATE]
mutating: true
contextAwareResources: []
executionMode: kubewarden-wapc
annotations:
  io.kubewarden.policy.title: test
  io.kubewarden.kwctl: overridden
"#;

    #[test]
    fn serialises_like_policy_evaluator() {
        let mut m = Metadata::from_yaml(METADATA).unwrap();
        m.protocol_version = Some(ProtocolVersion::V1);
        let v: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
        assert_eq!(
            v,
            json!({
                "protocolVersion": "v1",
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["pods", "pods/ephemeralcontainers"],
                           "operations": ["CREATE", "UPDATE"]}],
                "annotations": {"io.kubewarden.policy.title": "test", "io.kubewarden.kwctl": "overridden"},
                "mutating": true,
                "backgroundAudit": true,
                "executionMode": "kubewarden-wapc",
                "policyType": "kubernetes",
                "contextAwareResources": []
            })
        );
        m.validate().unwrap();
    }

    #[test]
    fn validation_like_kwctl() {
        let base = Metadata::from_yaml(METADATA).unwrap();
        // protocol version unset
        assert!(base.validate().is_err());
        let mut ok = base.clone();
        ok.protocol_version = Some(ProtocolVersion::V1);
        ok.validate().unwrap();

        let invalid = |m: &Metadata| match m.validate() {
            Err(MetadataError::Invalid(p)) => p.join("; "),
            other => panic!("expected invalid, got {other:?}"),
        };
        let mut m = ok.clone();
        m.protocol_version = Some(ProtocolVersion::Unknown);
        assert!(invalid(&m).contains("protocolVersion"));
        let mut m = ok.clone();
        m.rules.clear();
        assert!(invalid(&m).contains("at least one rule"));
        let mut m = ok.clone();
        m.execution_mode = ExecutionMode::Opa;
        assert!(invalid(&m).contains("executionMode"));
        let mut m = ok.clone();
        m.rules[0].api_groups = vec!["".into(), "*".into()];
        assert!(invalid(&m).contains("rules[0].apiGroups"));
        let mut m = ok.clone();
        m.rules[0].operations = vec![Operation::All, Operation::Create];
        assert!(invalid(&m).contains("rules[0].operations"));
        let mut m = ok.clone();
        m.rules[0].resources = vec!["*".into(), "pods".into()];
        assert!(invalid(&m).contains("without subresources"));
        let mut m = ok.clone();
        m.rules[0].resources = vec!["pods/*".into(), "pods/log".into()];
        assert!(invalid(&m).contains("pods/*"));
        let mut m = ok.clone();
        m.rules[0].resources = vec!["*".into(), "pods/log".into(), "*/exec".into()];
        m.validate().unwrap();
        let mut m = ok.clone();
        m.rules[0].resources = vec![];
        assert!(invalid(&m).contains("resources: must not be empty"));
        let mut m = ok.clone();
        m.minimum_kubewarden_version = Some("1.x".into());
        assert!(invalid(&m).contains("minimumKubewardenVersion"));
        m.minimum_kubewarden_version = Some("1.17.0".into());
        m.validate().unwrap();
    }

    #[test]
    fn required_fields_and_unknown_values() {
        let err = Metadata::from_yaml("rules: []\n").unwrap_err().to_string();
        assert!(err.contains("mutating"), "{err}");
        let err = Metadata::from_yaml("mutating: false\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("rules"), "{err}");
        let err = Metadata::from_yaml("rules: []\nmutating: false\nexecutionMode: nope\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("executionMode") || err.contains("unknown variant"),
            "{err}"
        );
        let m = Metadata::from_yaml("rules: []\nmutating: false\n").unwrap();
        assert!(m.background_audit);
        assert_eq!(m.execution_mode, ExecutionMode::KubewardenWapc);
        assert!(m.annotations.is_none());
    }

    #[test]
    fn custom_section_roundtrip() {
        let module = wat_module();
        assert!(custom_sections(&module).unwrap().is_empty());
        // a payload long enough for a multi-byte LEB128 size
        let payload = vec![b'x'; 300];
        let once = with_custom_section(&module, "a.b", &payload).unwrap();
        let sections = custom_sections(&once).unwrap();
        assert_eq!(sections.len(), 1);
        assert_eq!(sections[0].name, "a.b");
        assert_eq!(sections[0].data(&once), &payload[..]);
        assert_eq!(&once[..module.len()], &module[..]);
        // replacing keeps a single section, other sections stay
        let other = with_custom_section(&once, "other", b"o").unwrap();
        let twice = with_custom_section(&other, "a.b", b"new").unwrap();
        let names: Vec<_> = custom_sections(&twice)
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["other", "a.b"]);
        // the result is still a valid module
        crate::CompiledPolicy::from_bytes(&twice).unwrap();
    }

    #[test]
    fn rejects_non_wasm() {
        assert!(matches!(
            custom_sections(b"hello"),
            Err(MetadataError::Wasm(_))
        ));
        let mut truncated = wat_module();
        truncated.truncate(truncated.len() - 1);
        assert!(matches!(
            custom_sections(&truncated),
            Err(MetadataError::Wasm(_))
        ));
        assert!(Metadata::from_wasm(&wat_module()).unwrap().is_none());
    }

    #[test]
    fn leb128() {
        for v in [0u32, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut buf = Vec::new();
            write_u32_leb(&mut buf, v);
            let mut pos = 0;
            assert_eq!(read_u32_leb(&buf, &mut pos).unwrap(), v);
            assert_eq!(pos, buf.len());
        }
    }

    /// A tiny binary module with a few sections: `(module (func) (memory 1))`.
    fn wat_module() -> Vec<u8> {
        vec![
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
            0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
            0x03, 0x02, 0x01, 0x00, // function section
            0x05, 0x03, 0x01, 0x00, 0x01, // memory section
            0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code section
        ]
    }
}
